"""Tests for `Runner` and `run_code`: the exact callback events produced by running code.

Many cases follow python_runner's own test suite, with tracebacks in the Python 3.11
format (see `comparable` for other versions).
"""

import asyncio
import builtins
import inspect
import json
import math
import re
import sys
import textwrap
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import pyodide_worker_runner
from pyodide_worker_runner import Runner, run_code
from pyodide_worker_runner.runner import INPUT_UNAVAILABLE

Event = tuple[str, dict[str, Any]]

# Which expressions get a caret line under them differs between Python versions (3.13
# also marks calls, for example). The expectations are written for 3.11 and compared
# exactly there; on other versions caret lines are ignored on both sides.
EXACT_CARETS = sys.version_info[:2] == (3, 11)
_CARET_LINE = re.compile(r"^ *[~^]+ *\n", re.MULTILINE)


def comparable(events: list[Event]) -> list[Event]:
    """`events` as they should compare on this Python version."""
    if EXACT_CARETS:
        return events
    return [
        (
            event_type,
            {
                **data,
                "parts": [
                    {**part, "text": _CARET_LINE.sub("", part["text"])} for part in data["parts"]
                ],
            }
            if event_type == "output"
            else data,
        )
        for event_type, data in events
    ]


def out(*parts: tuple[str, str]) -> Event:
    """An "output" event holding plain `(type, text)` parts."""
    return ("output", {"parts": [{"type": t, "text": text} for t, text in parts]})


class Recorder:
    """Records events; answers input with the next of `replies`, else "input: <n>"."""

    def __init__(self, replies: Iterable[object] = ()) -> None:
        self.events: list[Event] = []
        self.replies = list(replies)

    def __call__(self, event_type: str, data: dict[str, Any]) -> Any:
        # Copy the parts: the runner must not change them after sending, but check that
        # by comparing what was sent, not what the list holds later.
        self.events.append((event_type, json.loads(json.dumps(data))))
        if event_type == "input":
            if self.replies:
                return self.replies.pop(0)
            return f"input: {len(self.events)}"
        return None


class FakeClock:
    """A clock for the output buffer that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def runner(recorder: Recorder, tmp_path: Path) -> Runner:
    return Runner(callback=recorder, filename=str(tmp_path / "main.py"))


def check(runner: Runner, source: str, expected: list[Event], mode: str = "exec") -> None:
    recorder = runner._callback
    assert isinstance(recorder, Recorder)
    recorder.events.clear()
    result = runner.run(source, mode)
    assert comparable(recorder.events) == comparable(expected)
    assert result is None
    assert runner.output_buffer.parts == []


def tb(runner: Runner, *frames: tuple[int, str, str], error: str) -> str:
    """The expected traceback text: frames are `(line, function, source and carets)`."""
    text = "Traceback (most recent call last):\n"
    for lineno, name, code in frames:
        text += f'  File "{runner.filename}", line {lineno}, in {name}\n{code}'
    return text + error + "\n"


# -- output ----------------------------------------------------------------------


def test_simple_print(runner: Runner) -> None:
    check(runner, "print(1); print(2)", [out(("stdout", "1\n2\n"))])


def test_stdout_bytes(runner: Runner) -> None:
    source = "import sys\nsys.stdout.write(b'abc')\nsys.stdout.write('☃'.encode())"
    check(runner, source, [out(("stdout", "abc☃"))])


def test_stdout_buffer_bytes(runner: Runner) -> None:
    source = "import sys\nsys.stdout.buffer.write(b'raw\\n')\nprint('text')"
    check(runner, source, [out(("stdout", "raw\ntext\n"))])


def test_stdout_write_non_str(runner: Runner) -> None:
    # The frames of the stream that rejected the value are internal and left out.
    expected = tb(
        runner,
        (2, "<module>", "    sys.stdout.write(123)\n"),
        error="TypeError: Can only write str, not int",
    )
    check(runner, "import sys\nsys.stdout.write(123)", [out(("traceback", expected))])


def test_stdout_attrs(runner: Runner) -> None:
    source = "import sys\nprint(sys.stdout.encoding, callable(sys.stdout.isatty))"
    check(runner, source, [out(("stdout", "utf-8 True\n"))])


def test_stderr(runner: Runner) -> None:
    source = "import sys\nprint('oops', file=sys.stderr)\nsys.stderr.write('more\\n')"
    check(runner, source, [out(("stderr", "oops\nmore\n"))])


def test_non_ascii(runner: Runner) -> None:
    check(runner, "print('héllo ☃ 🐍 日本')", [out(("stdout", "héllo ☃ 🐍 日本\n"))])


def test_mixed_output(runner: Runner) -> None:
    source = textwrap.dedent(
        """\
        import sys

        print(1)
        print(2)
        print(3, file=sys.stderr)
        print(4, file=sys.stderr)
        print(5)
        print(6)
        print(7, file=sys.stderr)
        print(8, file=sys.stderr)

        1/0
        """
    )
    check(
        runner,
        source,
        [
            out(("stdout", "1\n2\n"), ("stderr", "3")),
            out(("stderr", "\n4\n"), ("stdout", "5")),
            out(("stdout", "\n6\n"), ("stderr", "7")),
            out(
                ("stderr", "\n8\n"),
                (
                    "traceback",
                    tb(
                        runner,
                        (12, "<module>", "    1/0\n    ~^~\n"),
                        error="ZeroDivisionError: division by zero",
                    ),
                ),
            ),
        ],
    )


def test_flush_direct(runner: Runner) -> None:
    source = textwrap.dedent(
        """\
        import sys
        print(1)
        print(2)
        sys.stdout.flush()
        sys.stdout.flush()
        print(3)
        print(4)
        """
    )
    check(runner, source, [out(("stdout", "1\n2\n")), out(("stdout", "3\n4\n"))])


def test_flush_time(runner: Runner, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    runner.output_buffer.clock = clock
    # User code moves the fake clock through an importable module.
    monkeypatch.setitem(sys.modules, "fake_clock", clock)
    source = textwrap.dedent(
        """\
        import fake_clock
        print(1)
        print(2)
        fake_clock.advance(1.01)
        print(3)
        print(4)
        """
    )
    check(runner, source, [out(("stdout", "1\n2\n3")), out(("stdout", "\n4\n"))])


def test_flush_time_after_sleep(runner: Runner) -> None:
    clock = FakeClock()
    runner.output_buffer.clock = clock
    recorder = runner._callback
    assert isinstance(recorder, Recorder)

    def callback(event_type: str, data: dict[str, Any]) -> Any:
        if event_type == "sleep":
            clock.advance(data["seconds"])
        return recorder(event_type, data)

    runner.set_callback(callback)
    recorder.events.clear()
    runner.run("import time\nprint(1)\ntime.sleep(1.5)\nprint(2)\nprint(3)")
    # The sleep flushes first; the first write after it is over a second late.
    assert recorder.events == [
        out(("stdout", "1\n")),
        ("sleep", {"seconds": 1.5}),
        out(("stdout", "2")),
        out(("stdout", "\n3\n")),
    ]


def test_flush_big_output(runner: Runner) -> None:
    check(runner, "for _ in range(3000): print(9)", [out(("stdout", "9\n" * 500))] * 6)


# -- errors ----------------------------------------------------------------------


def test_syntax_error(runner: Runner) -> None:
    expected = (
        f'  File "{runner.filename}", line 1\n    a b\n      ^\nSyntaxError: invalid syntax\n'
    )
    check(runner, "a b", [out(("syntax_error", expected))])


def test_runtime_error(runner: Runner) -> None:
    expected = tb(
        runner,
        (1, "<module>", "    nonexistent\n"),
        error="NameError: name 'nonexistent' is not defined",
    )
    check(runner, "nonexistent", [out(("traceback", expected))])


def test_traceback_through_user_functions(runner: Runner) -> None:
    source = "def f():\n    g()\n\ndef g():\n    raise ValueError('x')\n\nf()\n"
    expected = tb(
        runner,
        (7, "<module>", "    f()\n"),
        (2, "f", "    g()\n"),
        (5, "g", "    raise ValueError('x')\n"),
        error="ValueError: x",
    )
    check(runner, source, [out(("traceback", expected))])


def test_traceback_chained(runner: Runner) -> None:
    source = "try:\n    {}['k']\nexcept KeyError as e:\n    raise ValueError('y') from e\n"
    first = tb(runner, (2, "<module>", "    {}['k']\n    ~~^^^^^\n"), error="KeyError: 'k'")
    second = tb(
        runner, (4, "<module>", "    raise ValueError('y') from e\n"), error="ValueError: y"
    )
    expected = (
        first
        + "\nThe above exception was the direct cause of the following exception:\n\n"
        + second
    )
    check(runner, source, [out(("traceback", expected))])


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("raise KeyboardInterrupt", "KeyboardInterrupt"),
        ("raise SystemExit(3)", "SystemExit: 3"),
        ("raise GeneratorExit", "GeneratorExit"),
    ],
)
def test_base_exceptions_are_caught(runner: Runner, source: str, error: str) -> None:
    expected = tb(runner, (1, "<module>", f"    {source}\n"), error=error)
    check(runner, source, [out(("traceback", expected))])


def test_sys_exit(runner: Runner) -> None:
    expected = tb(runner, (2, "<module>", "    sys.exit('bye')\n"), error="SystemExit: bye")
    check(runner, "import sys\nsys.exit('bye')", [out(("traceback", expected))])


def test_await_syntax_error(runner: Runner) -> None:
    expected = (
        f'  File "{runner.filename}", line 1\n'
        "    await b\n"
        "    ^^^^^^^\n"
        "SyntaxError: 'await' outside function\n"
    )
    check(runner, "await b", [out(("syntax_error", expected))])


def test_syntax_error_line_without_file(recorder: Recorder, tmp_path: Path) -> None:
    # The file cannot be written, yet the source line still shows.
    runner = Runner(callback=recorder, filename=str(tmp_path / "missing" / "main.py"))
    runner.run("x = 1\nawait b\n")
    [(_, data)] = recorder.events
    assert data["parts"][0]["text"].splitlines()[:2] == [
        f'  File "{runner.filename}", line 2',
        "    await b",
    ]


def test_traceback_without_file_on_disk(recorder: Recorder, tmp_path: Path) -> None:
    runner = Runner(callback=recorder, filename=str(tmp_path / "missing" / "main.py"))
    runner.run("x = 1\nraise ValueError(x)")
    expected = tb(runner, (2, "<module>", "    raise ValueError(x)\n"), error="ValueError: 1")
    assert recorder.events == [out(("traceback", expected))]


def test_custom_serialize_hooks(recorder: Recorder, tmp_path: Path) -> None:
    class MyRunner(Runner):
        def serialize_traceback(self, e: BaseException) -> dict[str, Any]:
            user_frame = traceback.extract_tb(e.__traceback__)[-1]
            return {"text": type(e).__name__, "lineno": user_frame.lineno}

        def serialize_syntax_error(self, e: SyntaxError) -> dict[str, Any]:
            assert e.__traceback__ is None
            return {"text": e.msg, "lineno": e.lineno}

    runner = MyRunner(callback=recorder, filename=str(tmp_path / "main.py"))
    runner.run("\n1/0")
    runner.run("\n\n(")
    assert recorder.events == [
        ("output", {"parts": [{"type": "traceback", "text": "ZeroDivisionError", "lineno": 2}]}),
        (
            "output",
            {"parts": [{"type": "syntax_error", "text": "'(' was never closed", "lineno": 3}]},
        ),
    ]


# -- modes -----------------------------------------------------------------------


def test_single(runner: Runner) -> None:
    check(runner, "1 + 2", [out(("stdout", "3\n"))], mode="single")
    check(runner, "for i in range(2): print(i)", [out(("stdout", "0\n1\n"))], mode="single")


def test_eval(runner: Runner, recorder: Recorder) -> None:
    assert runner.run("1 + 2", "eval") == 3
    assert recorder.events == []


@pytest.mark.parametrize("mode", ["single", "eval", "exec"])
@pytest.mark.parametrize("source", ["", "#", "#foo", "#foo\n#bar\n", "\n", " "])
def test_empty(runner: Runner, source: str, mode: str) -> None:
    check(runner, source, [], mode=mode)


def test_namespace(runner: Runner) -> None:
    base = {"__name__", "__doc__", "__package__", "__loader__", "__spec__", "__file__"}
    runner.run("x = 1")
    assert set(runner.namespace) == base | {"__builtins__", "x"}
    assert runner.namespace["__name__"] == "__main__"
    assert runner.namespace["__file__"] == runner.filename
    for key in ("__doc__", "__package__", "__loader__", "__spec__"):
        assert runner.namespace[key] is None
    runner.run("y = 2")
    assert "x" not in runner.namespace
    runner.run("z = 3", "single")
    assert {"y", "z"} <= set(runner.namespace)
    assert runner.run("y + z", "eval") == 5


def test_main_module_during_run(runner: Runner, recorder: Recorder) -> None:
    source = textwrap.dedent(
        """\
        import __main__, pickle
        class Point:
            pass
        print(__main__.__file__ == __file__, pickle.loads(pickle.dumps(Point())).__class__ is Point)
        """
    )
    check(runner, source, [out(("stdout", "True True\n"))])


def test_source_is_written_and_inspectable(runner: Runner) -> None:
    source = "import inspect\n\ndef f():\n    return 1\n\nprint(inspect.getsource(f), end='')\n"
    check(runner, source, [out(("stdout", "def f():\n    return 1\n"))])
    assert Path(runner.filename).read_text(encoding="utf-8") == source


# -- input -----------------------------------------------------------------------


def test_simple_input(runner: Runner) -> None:
    check(
        runner,
        "input('some_prompt'); print('after')",
        [
            out(("input_prompt", "some_prompt")),
            ("input", {"prompt": "some_prompt"}),
            out(("input", "input: 2\n"), ("stdout", "after")),
            out(("stdout", "\n")),
        ],
    )


def test_input_value(runner: Runner, recorder: Recorder) -> None:
    recorder.replies = ["already has newline\n", "Zoë"]
    check(
        runner,
        "a = input()\nb = input(42)\nprint(repr(a), repr(b))",
        [
            out(("input_prompt", "")),
            ("input", {"prompt": ""}),
            out(("input", "already has newline\n"), ("input_prompt", "42")),
            ("input", {"prompt": "42"}),
            out(("input", "Zoë\n"), ("stdout", "'already has newline'")),
            out(("stdout", " 'Zoë'\n")),
        ],
    )


def test_iter_stdin(runner: Runner) -> None:
    check(
        runner,
        "import sys\nprint(next(iter(sys.stdin)))\nprint(sys.stdin.close.__name__)",
        [
            ("input", {"prompt": ""}),
            out(("input", "input: 1\n"), ("stdout", "input: 1\n")),
            out(("stdout", "\nclose\n")),
        ],
    )


def test_readline_partial(runner: Runner) -> None:
    source = textwrap.dedent(
        """\
        import sys
        a = sys.stdin.readline(3)
        b = sys.stdin.readline()
        c = sys.stdin.readline(0)
        print(repr(a), repr(b), repr(c))
        """
    )
    check(
        runner,
        source,
        [
            ("input", {"prompt": ""}),
            out(("input", "input: 1\n"), ("stdout", "'inp'")),
            out(("stdout", " 'ut: 1\\n' ''\n")),
        ],
    )
    assert runner.line == ""


def test_readline_zero_does_not_ask(runner: Runner) -> None:
    check(runner, "import sys\nprint(repr(sys.stdin.readline(0)))", [out(("stdout", "''\n"))])


def test_multiline_reply_is_read_line_by_line(runner: Runner, recorder: Recorder) -> None:
    recorder.replies = ["first\nsecond"]
    check(
        runner,
        "a = input()\nb = input('again? ')\nprint(a, b)",
        [
            out(("input_prompt", "")),
            ("input", {"prompt": ""}),
            out(("input", "first\n"), ("input_prompt", "again? ")),
            out(("input", "second\n"), ("stdout", "first")),
            out(("stdout", " second\n")),
        ],
    )


def test_input_unavailable(runner: Runner, recorder: Recorder) -> None:
    recorder.replies = [None]
    expected = tb(
        runner, (1, "<module>", "    input('name? ')\n"), error=f"RuntimeError: {INPUT_UNAVAILABLE}"
    )
    assert expected.endswith(
        "RuntimeError: input() is not available on this page: "
        "nothing answered the request for a line of input\n"
    )
    check(
        runner,
        "input('name? ')",
        [
            out(("input_prompt", "name? ")),
            ("input", {"prompt": "name? "}),
            out(("traceback", expected)),
        ],
    )


def test_non_str_input(runner: Runner, recorder: Recorder) -> None:
    recorder.replies = [123]
    expected = tb(
        runner,
        (1, "<module>", "    input()\n"),
        error="TypeError: Callback for input should return str, not int",
    )
    check(
        runner,
        "input()",
        [out(("input_prompt", "")), ("input", {"prompt": ""}), out(("traceback", expected))],
    )


def test_custom_non_str_input(recorder: Recorder, tmp_path: Path) -> None:
    class MyRunner(Runner):
        def non_str_input(self, reply: object) -> str | None:
            print(repr(reply))
            return None

    runner = MyRunner(callback=recorder, filename=str(tmp_path / "main.py"))
    recorder.replies = [123]
    assert runner.line == ""
    check(
        runner,
        "input()",
        [
            out(("input_prompt", "")),
            ("input", {"prompt": ""}),
            out(("stdout", "123\n"), ("input", "\n")),
        ],
    )
    assert runner.line == ""


# -- sleep -----------------------------------------------------------------------


def test_sleep(runner: Runner) -> None:
    check(runner, "import time\ntime.sleep(123)", [("sleep", {"seconds": 123})])


def test_sleep_flushes_first(runner: Runner) -> None:
    check(
        runner,
        "import time\nprint('a')\ntime.sleep(0.25)\nprint('b')",
        [out(("stdout", "a\n")), ("sleep", {"seconds": 0.25}), out(("stdout", "b\n"))],
    )


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-1, ValueError, "sleep length must be non-negative"),
        (math.nan, ValueError, "sleep length must be non-negative"),
        ("", TypeError, "an integer is required (got type str)"),
        (1 + 2j, TypeError, "an integer is required (got type complex)"),
        (None, TypeError, "an integer is required (got type NoneType)"),
        (math.inf, OverflowError, "sleep length is too large"),
    ],
)
def test_invalid_sleep(
    runner: Runner, recorder: Recorder, value: object, error: type, message: str
) -> None:
    with pytest.raises(BaseException) as real:
        time.sleep(value)  # type: ignore[arg-type]
    with pytest.raises(error) as ours:
        runner.sleep(value)  # type: ignore[arg-type]
    assert type(ours.value) is type(real.value)
    assert str(ours.value) == message
    assert recorder.events == []


def test_sleep_accepts_bool(runner: Runner) -> None:
    runner.run("import time\ntime.sleep(True)")
    [(event_type, data)] = runner._callback.events
    assert (event_type, data) == ("sleep", {"seconds": 1})
    assert type(data["seconds"]) is int


# -- patches -----------------------------------------------------------------------


def _globals_now() -> tuple:
    return (
        sys.stdout,
        sys.stderr,
        sys.stdin,
        builtins.input,
        time.sleep,
        sys.modules.get("__main__"),
    )


@pytest.mark.parametrize("source", ["x = 1", "1/0", "a b", "raise KeyboardInterrupt", "input()"])
def test_patches_are_restored(runner: Runner, source: str) -> None:
    before = _globals_now()
    runner.run(source)
    after = _globals_now()
    assert all(a is b for a, b in zip(before, after, strict=True))


def test_patches_are_active_during_run(runner: Runner) -> None:
    runner.run(
        "import sys, time, builtins, __main__\n"
        "seen = (sys.stdout, sys.stderr, sys.stdin, builtins.input, time.sleep, __main__)"
    )
    stdout, stderr, stdin, input_, sleep, main = runner.namespace["seen"]
    assert (stdout.type, stderr.type) == ("stdout", "stderr")
    assert stdin.readline.__self__ is not None
    assert input_ == runner.input
    assert sleep == runner.sleep
    assert main is runner.main_module


def test_patches_are_restored_when_the_host_fails(runner: Runner) -> None:
    def callback(event_type: str, data: dict[str, Any]) -> Any:
        raise OSError("host is gone")

    runner.set_callback(callback)
    before = _globals_now()
    with pytest.raises(OSError, match="host is gone"):
        runner.run("print('x')")
    assert all(a is b for a, b in zip(before, _globals_now(), strict=True))


def test_patches_can_be_switched_off(recorder: Recorder, tmp_path: Path) -> None:
    class PlainRunner(Runner):
        patch_stdin = False
        patch_sleep = False

    runner = PlainRunner(callback=recorder, filename=str(tmp_path / "main.py"))
    runner.run("import sys, time\nseen = (sys.stdin, time.sleep)")
    assert runner.namespace["seen"] == (sys.stdin, time.sleep)


def test_run_without_callback(tmp_path: Path) -> None:
    runner = Runner(filename=str(tmp_path / "main.py"))
    with pytest.raises(RuntimeError, match="set_callback"):
        runner.run("print(1)")


def test_custom_event(runner: Runner, recorder: Recorder) -> None:
    runner.output("stdout", "pending")
    assert runner.callback("foo", bar="spam") is None
    assert recorder.events == [out(("stdout", "pending")), ("foo", {"bar": "spam"})]


def test_filename_is_absolute(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = Runner(callback=recorder)
    assert runner.filename == str(tmp_path / "main.py")


# -- async ---------------------------------------------------------------------------


def test_await(runner: Runner, recorder: Recorder) -> None:
    coroutine = runner.run_async("import asyncio\nawait asyncio.sleep(0)\nprint('hi')")
    assert inspect.iscoroutine(coroutine)
    assert recorder.events == []
    assert asyncio.run(coroutine) is None
    assert recorder.events == [out(("stdout", "hi\n"))]


def test_async_without_await(runner: Runner, recorder: Recorder) -> None:
    coroutine = runner.run_async("print('hi')")
    assert recorder.events == []
    asyncio.run(coroutine)
    assert recorder.events == [out(("stdout", "hi\n"))]


def test_async_eval(runner: Runner) -> None:
    source = "await asyncio.sleep(0, result=7)"
    runner.run("import asyncio")
    assert asyncio.run(runner.run_async(source, "eval")) == 7


def test_async_cancellation_propagates(runner: Runner) -> None:
    async def main() -> None:
        before = _globals_now()
        task = asyncio.ensure_future(runner.run_async("import asyncio\nawait asyncio.sleep(60)"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert all(a is b for a, b in zip(before, _globals_now(), strict=True))

    asyncio.run(main())


def test_async_user_cancelled_error_is_reported(runner: Runner, recorder: Recorder) -> None:
    asyncio.run(runner.run_async("import asyncio\nraise asyncio.CancelledError"))
    [(_, data)] = recorder.events
    assert data["parts"][0]["text"].endswith("\nasyncio.exceptions.CancelledError\n")


# -- run_code ------------------------------------------------------------------------


class Host:
    """Plays the worker: records `(event_type, json_text)` and answers input."""

    def __init__(self, replies: Iterable[object] = ()) -> None:
        self.sent: list[tuple[str, str]] = []
        self.replies = list(replies)

    def __call__(self, event_type: str, json_text: str) -> object:
        assert isinstance(json_text, str)
        self.sent.append((event_type, json_text))
        if event_type == "input":
            return self.replies.pop(0)
        return None


def test_run_code_events(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[json.dumps("Zoë")])
    source = "import time\nname = input('Name: ')\ntime.sleep(0.5)\nprint(f'héllo {name} ☃')\n"
    assert run_code(source, host, filename=filename) is None
    assert host.sent == [
        ("output", '{"parts": [{"type": "input_prompt", "text": "Name: "}]}'),
        ("input", '{"prompt": "Name: "}'),
        ("output", '{"parts": [{"type": "input", "text": "Zoë\\n"}]}'),
        ("sleep", '{"seconds": 0.5}'),
        ("output", '{"parts": [{"type": "stdout", "text": "héllo Zoë ☃\\n"}]}'),
    ]


def test_run_code_flushes_before_returning(tmp_path: Path) -> None:
    host = Host()
    run_code("print('last words', end='')", host, filename=str(tmp_path / "main.py"))
    assert host.sent == [("output", '{"parts": [{"type": "stdout", "text": "last words"}]}')]


def test_run_code_traceback(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host()
    run_code("print('before')\nraise ValueError('bad')", host, filename=filename)
    text = (
        "Traceback (most recent call last):\n"
        f'  File "{filename}", line 2, in <module>\n'
        "    raise ValueError('bad')\n"
        "ValueError: bad\n"
    )
    assert [(t, json.loads(j)) for t, j in host.sent] == [
        (
            "output",
            {
                "parts": [
                    {"type": "stdout", "text": "before\n"},
                    {"type": "traceback", "text": text},
                ]
            },
        )
    ]
    assert Path(filename).read_text(encoding="utf-8") == "print('before')\nraise ValueError('bad')"


def test_run_code_fresh_namespace(tmp_path: Path) -> None:
    host = Host()
    filename = str(tmp_path / "main.py")
    run_code("x = 1", host, filename=filename)
    run_code("print('x' in globals(), __name__)", host, filename=filename)
    assert host.sent == [("output", '{"parts": [{"type": "stdout", "text": "False __main__\\n"}]}')]


def test_run_code_input_unavailable(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[None])
    run_code("input()", host, filename=filename)
    assert json.loads(host.sent[-1][1])["parts"][0]["text"].endswith(
        f"RuntimeError: {INPUT_UNAVAILABLE}\n"
    )


def test_run_code_non_str_reply_is_passed_through(tmp_path: Path) -> None:
    host = Host(replies=[{"not": "a str"}])
    run_code("input()", host, filename=str(tmp_path / "main.py"))
    assert json.loads(host.sent[-1][1])["parts"][0]["text"].endswith(
        "TypeError: Callback for input should return str, not dict\n"
    )


def test_run_code_restores_globals_and_drops_send(tmp_path: Path) -> None:
    before = _globals_now()
    run_code(
        "import time\ntime.sleep(1)\ninput()",
        Host(replies=['"x"']),
        filename=str(tmp_path / "main.py"),
    )
    assert all(a is b for a, b in zip(before, _globals_now(), strict=True))
    shared = pyodide_worker_runner.runner._shared_runner
    assert shared is not None
    assert shared._callback is None


def test_run_code_nested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inner = Host()
    monkeypatch.setitem(sys.modules, "inner_host", inner)
    monkeypatch.setattr(inner, "send", inner, raising=False)
    host = Host()
    source = textwrap.dedent(
        """\
        import inner_host
        from pyodide_worker_runner import run_code
        x = 'outer'
        run_code("print('inner')", inner_host.send, filename=__file__)
        print(x)
        """
    )
    run_code(source, host, filename=str(tmp_path / "main.py"))
    assert inner.sent == [("output", '{"parts": [{"type": "stdout", "text": "inner\\n"}]}')]
    assert host.sent == [("output", '{"parts": [{"type": "stdout", "text": "outer\\n"}]}')]


def test_package_api() -> None:
    assert pyodide_worker_runner.__version__ == "0.1.0"
    assert set(pyodide_worker_runner.__all__) == {
        "OutputBuffer",
        "Runner",
        "__version__",
        "run_code",
    }


def test_run_code_sleeps_itself_when_the_host_does_not():
    events = []

    def send(event_type, data):
        events.append((event_type, json.loads(data)))
        return None

    run_code(
        "import time\nstart = time.monotonic()\ntime.sleep(0.05)\n"
        "print(time.monotonic() - start >= 0.05)",
        send,
    )
    assert events == [
        ("sleep", {"seconds": 0.05}),
        ("output", {"parts": [{"type": "stdout", "text": "True\n"}]}),
    ]
