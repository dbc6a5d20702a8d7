"""Tests for output batching: `OutputBuffer` flushing rules and the `SysStream` file object."""

import math
import sys
import types

import pytest

from pyodide_worker_runner import OutputBuffer
from pyodide_worker_runner.output import MixedOutputBuffer, SysStream


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
    # The first completed line of a run is sent at once ...
    assert flushed == [[{"type": "stdout", "text": "1\n"}]]
    # ... and later writes within `line_flush_time` of that flush are merged and held.
    buf.put("stdout", "2")
    buf.put("stdout", "\n")
    assert flushed == [[{"type": "stdout", "text": "1\n"}]]
    assert buf.parts == [{"type": "stdout", "text": "2\n"}]


def test_line_flush_time_default() -> None:
    assert OutputBuffer.line_flush_time == 0.05
    assert OutputBuffer.flush_time == 1
    assert OutputBuffer.flush_length == 1000


def test_first_line_of_a_run_flushes_at_once(
    buf: OutputBuffer, flushed: list, clock: FakeClock
) -> None:
    buf.put("stdout", "Training...")
    assert flushed == []
    buf.put("stdout", "\n")
    assert flushed == [[{"type": "stdout", "text": "Training...\n"}]]
    # A new run: the clock has not moved since that flush, yet its first line goes at once.
    buf.put("stdout", "held\n")
    buf.reset()
    assert buf.last_flush_time == -math.inf
    buf.put("stdout", "again\n")
    assert flushed == [
        [{"type": "stdout", "text": "Training...\n"}],
        [{"type": "stdout", "text": "again\n"}],
    ]


def test_burst_of_lines_is_batched(buf: OutputBuffer, flushed: list, clock: FakeClock) -> None:
    buf.put("stdout", "first\n")
    for i in range(6):
        clock.now += 1 / 128  # exact in binary: the last line is 6/128 = 0.047 s after the flush
        buf.put("stdout", f"{i}\n")
    assert flushed == [[{"type": "stdout", "text": "first\n"}]]
    assert buf.parts == [{"type": "stdout", "text": "0\n1\n2\n3\n4\n5\n"}]


def test_line_after_a_quiet_gap_flushes_at_once(
    buf: OutputBuffer, flushed: list, clock: FakeClock
) -> None:
    buf.put("stdout", "first\n")
    clock.now += 0.03
    buf.put("stdout", "a\n")
    # The gap counts from the last flush, not from the last write.
    clock.now += 0.03
    buf.put("stdout", "b\n")
    clock.now += 10
    buf.put("stdout", "done\n")
    assert flushed == [
        [{"type": "stdout", "text": "first\n"}],
        [{"type": "stdout", "text": "a\nb\n"}],
        [{"type": "stdout", "text": "done\n"}],
    ]


def test_tight_print_loop_sends_about_one_batch_per_line_flush_time(
    buf: OutputBuffer, flushed: list, clock: FakeClock
) -> None:
    # One line every 1/64 s (exact in binary): 3/64 s is not more than 0.05, 4/64 s is.
    for i in range(64):
        buf.put("stdout", f"{i}\n")
        clock.now += 1 / 64
    buf.flush()
    assert flushed == [
        [{"type": "stdout", "text": "0\n"}],
        *[
            [{"type": "stdout", "text": "".join(f"{i}\n" for i in range(k - 3, k + 1))}]
            for k in range(4, 64, 4)
        ],
        [{"type": "stdout", "text": "61\n62\n63\n"}],
    ]


def test_explicit_flush_counts_as_last_flush(
    buf: OutputBuffer, flushed: list, clock: FakeClock
) -> None:
    buf.put("stdout", "a")
    buf.flush()
    buf.put("stdout", "b\n")
    assert flushed == [[{"type": "stdout", "text": "a"}]]
    clock.now += 0.06
    buf.put("stdout", "c\n")
    assert flushed == [[{"type": "stdout", "text": "a"}], [{"type": "stdout", "text": "b\nc\n"}]]


def test_text_without_newline_is_not_flushed_by_the_line_rule(
    buf: OutputBuffer, flushed: list, clock: FakeClock
) -> None:
    buf.put("stdout", "Loading")
    clock.now += 0.5
    buf.put("stdout", "...")
    buf.put("stdout", " a\nb")  # a newline inside, but the text does not end with one
    buf.put("stdout", "\r")
    assert flushed == []
    assert buf.parts == [{"type": "stdout", "text": "Loading... a\nb\r"}]
    # Only the old one-second rule sends it.
    clock.now += 0.6
    buf.put("stdout", "!")
    assert flushed == [[{"type": "stdout", "text": "Loading... a\nb\r!"}]]


def test_type_change_and_length_still_flush_right_after_a_flush(
    buf: OutputBuffer, flushed: list
) -> None:
    buf.put("stdout", "first\n")
    buf.put("stdout", "x\n")
    buf.put("stderr", "e")
    buf.put("stdout", "y" * 1000)
    assert flushed == [
        [{"type": "stdout", "text": "first\n"}],
        [{"type": "stdout", "text": "x\n"}, {"type": "stderr", "text": "e"}],
        [{"type": "stdout", "text": "y" * 1000}],
    ]


def test_line_rule_applies_to_every_type(buf: OutputBuffer, flushed: list) -> None:
    buf.put("stderr", "warning\n")
    assert flushed == [[{"type": "stderr", "text": "warning\n"}]]


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
    assert buf.last_flush_time == -math.inf
    clock.now += 0.6
    buf.put("stdout", "late")
    assert flushed == [[{"type": "stdout", "text": "late"}]]
    assert buf.last_time == buf.last_flush_time == clock.now


def test_empty_flush_keeps_first_line_immediate(buf: OutputBuffer, flushed: list) -> None:
    buf.flush()
    buf.put("stdout", "line\n")
    assert flushed == [[{"type": "stdout", "text": "line\n"}]]


def test_reset_drops_parts_and_restarts_clock(buf: OutputBuffer, clock: FakeClock) -> None:
    buf.put("stdout", "dropped")
    clock.now += 3
    buf.reset()
    assert buf.parts == []
    assert buf.last_time == clock.now
    assert buf.last_flush_time == -math.inf


def test_flush_time_counts_from_reset(buf: OutputBuffer, flushed: list, clock: FakeClock) -> None:
    buf.put("stdout", "x\n")
    clock.now += 5
    buf.reset()
    clock.now += 0.9
    buf.put("stdout", "a")
    assert flushed == [[{"type": "stdout", "text": "x\n"}]]
    clock.now += 0.2
    buf.put("stdout", "b")
    assert flushed == [[{"type": "stdout", "text": "x\n"}], [{"type": "stdout", "text": "ab"}]]


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
    assert buf.last_time == buf.last_flush_time == clock.now


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


def test_sys_stream_ignores_empty_writes(buf: OutputBuffer, flushed: list) -> None:
    stream = SysStream("stdout", buf)
    stream.write("line\n")
    assert stream.write("") == 0
    assert stream.buffer.write(b"") == 0
    assert stream.buffer.write(bytearray()) == 0
    stream.flush()
    assert flushed == [[{"type": "stdout", "text": "line\n"}]]
    assert buf.parts == []
    with pytest.raises(TypeError, match=r"^Can only write str, not int$"):
        stream.write(0)  # type: ignore[arg-type]


def test_sys_stream_delegates_to_real_stdout(
    buf: OutputBuffer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "__stdout__", types.SimpleNamespace(mode="w", line_buffering=True))
    stream = SysStream("stderr", buf)
    assert stream.mode == "w"
    assert stream.line_buffering is True
    with pytest.raises(AttributeError):
        stream.no_such_attribute  # noqa: B018


# -- MixedOutputBuffer (run_code's batches) --------------------------------------------


@pytest.fixture
def mixed(clock: FakeClock, flushed: list) -> MixedOutputBuffer:
    return MixedOutputBuffer(flushed.append, clock=clock)


def test_mixed_buffer_batches_interleaved_types_in_order(
    mixed: MixedOutputBuffer, flushed: list, clock: FakeClock
) -> None:
    mixed.put("stdout", "a\n")  # the run's first line: sent at once
    for text in ("b\n", "c\n", "d\n"):
        mixed.put("stdout", text)
        mixed.put("stderr", text)
    assert flushed == [[{"type": "stdout", "text": "a\n"}]]
    clock.now += 0.051
    mixed.put("stdout", "e\n")
    assert flushed[1] == [
        {"type": "stdout", "text": "b\n"},
        {"type": "stderr", "text": "b\n"},
        {"type": "stdout", "text": "c\n"},
        {"type": "stderr", "text": "c\n"},
        {"type": "stdout", "text": "d\n"},
        {"type": "stderr", "text": "d\n"},
        {"type": "stdout", "text": "e\n"},
    ]


def test_mixed_buffer_flushes_at_max_parts_and_length(
    mixed: MixedOutputBuffer, flushed: list
) -> None:
    mixed.put("stdout", "x\n")
    flushed.clear()
    types_ = ["stdout", "stderr"]
    for i in range(MixedOutputBuffer.max_parts):
        mixed.put(types_[i % 2], "y")
    assert [len(batch) for batch in flushed] == [MixedOutputBuffer.max_parts]
    flushed.clear()
    mixed.put("stderr", "z" * MixedOutputBuffer.flush_length)
    assert flushed == [[{"type": "stderr", "text": "z" * MixedOutputBuffer.flush_length}]]


def test_plain_buffer_still_flushes_on_a_change_of_type(buf: OutputBuffer, flushed: list) -> None:
    buf.put("stdout", "a")
    buf.put("stderr", "b")
    assert flushed == [[{"type": "stdout", "text": "a"}, {"type": "stderr", "text": "b"}]]
