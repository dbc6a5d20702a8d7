"""Tests for output batching: `OutputBuffer` flushing rules and the `SysStream` file object."""

import sys
import types

import pytest

from pyodide_worker_runner import OutputBuffer
from pyodide_worker_runner.output import SysStream


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def flushed() -> list:
    return []


@pytest.fixture
def buf(clock: FakeClock, flushed: list) -> OutputBuffer:
    return OutputBuffer(flushed.append, clock=clock)


def test_same_type_is_merged_and_held(buf: OutputBuffer, flushed: list) -> None:
    buf.put("stdout", "1")
    buf.put("stdout", "\n")
    assert flushed == []
    assert buf.parts == [{"type": "stdout", "text": "1\n"}]


def test_type_change_flushes_both_parts(buf: OutputBuffer, flushed: list) -> None:
    buf.put("stdout", "a")
    buf.put("stderr", "b")
    assert flushed == [[{"type": "stdout", "text": "a"}, {"type": "stderr", "text": "b"}]]
    assert buf.parts == []


def test_flush_by_length(buf: OutputBuffer, flushed: list) -> None:
    buf.put("stdout", "x" * 998)
    buf.put("stdout", "y")
    assert flushed == []
    buf.put("stdout", "z")
    assert flushed == [[{"type": "stdout", "text": "x" * 998 + "yz"}]]


def test_single_long_write_flushes(buf: OutputBuffer, flushed: list) -> None:
    buf.put("stdout", "é" * 1000)  # characters, not bytes
    assert flushed == [[{"type": "stdout", "text": "é" * 1000}]]


def test_flush_by_time(buf: OutputBuffer, flushed: list, clock: FakeClock) -> None:
    buf.put("stdout", "1")
    clock.now += 1.0  # not *more* than flush_time yet
    buf.put("stdout", "2")
    assert flushed == []
    clock.now += 0.01
    buf.put("stdout", "3")
    assert flushed == [[{"type": "stdout", "text": "123"}]]
    # The clock restarts at the flush.
    buf.put("stdout", "4")
    assert len(flushed) == 1


def test_time_is_only_checked_on_put(buf: OutputBuffer, flushed: list, clock: FakeClock) -> None:
    buf.put("stdout", "1")
    clock.now += 5
    assert flushed == []
    assert buf.should_flush()


def test_empty_flush_keeps_clock(buf: OutputBuffer, flushed: list, clock: FakeClock) -> None:
    start = buf.last_time
    clock.now += 0.6
    buf.flush()
    assert flushed == []
    assert buf.last_time == start
    clock.now += 0.6
    buf.put("stdout", "late")
    assert flushed == [[{"type": "stdout", "text": "late"}]]


def test_reset_drops_parts_and_restarts_clock(buf: OutputBuffer, clock: FakeClock) -> None:
    buf.put("stdout", "dropped")
    clock.now += 3
    buf.reset()
    assert buf.parts == []
    assert buf.last_time == clock.now


def test_extras_are_never_merged(buf: OutputBuffer, flushed: list) -> None:
    buf.flush_length = 10**9
    buf.put("traceback", "a", color="red")
    assert flushed == []
    buf.put("traceback", "b")
    buf.put("traceback", "c", color="blue")
    assert buf.parts == [{"type": "traceback", "text": "c", "color": "blue"}]
    buf.flush()
    assert flushed == [
        [{"type": "traceback", "text": "a", "color": "red"}, {"type": "traceback", "text": "b"}],
        [{"type": "traceback", "text": "c", "color": "blue"}],
    ]


def test_bytes_are_decoded(buf: OutputBuffer) -> None:
    buf.put("stdout", b"abc" + "☃".encode() + b"\xff")
    assert buf.parts == [{"type": "stdout", "text": "abc☃\ufffd"}]


@pytest.mark.parametrize(("value", "name"), [(123, "int"), (None, "NoneType"), ([], "list")])
def test_non_str_is_rejected(buf: OutputBuffer, value: object, name: str) -> None:
    with pytest.raises(TypeError, match=rf"^Can only write str, not {name}$"):
        buf.put("stdout", value)  # type: ignore[arg-type]
    assert buf.parts == []


def test_flush_fn_error_still_clears(clock: FakeClock) -> None:
    def boom(parts: list) -> None:
        raise OSError("host went away")

    buf = OutputBuffer(boom, clock=clock)
    buf.put("stdout", "x")
    clock.now += 1
    with pytest.raises(OSError):
        buf.flush()
    assert buf.parts == []
    assert buf.last_time == clock.now


def test_sys_stream(buf: OutputBuffer, flushed: list) -> None:
    stream = SysStream("stderr", buf)
    assert stream.write("héllo") == 5
    assert stream.encoding == "utf-8"
    assert stream.isatty() is False
    assert stream.name == "<stderr>"
    stream.writelines(["a", "b"])
    assert stream.buffer.write(b"\xe2\x98\x83") == 3
    stream.flush()
    assert flushed == [[{"type": "stderr", "text": "hélloab☃"}]]
    stream.flush()
    assert len(flushed) == 1


def test_sys_stream_delegates_to_real_stdout(
    buf: OutputBuffer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "__stdout__", types.SimpleNamespace(mode="w", line_buffering=True))
    stream = SysStream("stderr", buf)
    assert stream.mode == "w"
    assert stream.line_buffering is True
    with pytest.raises(AttributeError):
        stream.no_such_attribute  # noqa: B018
