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
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import pyodide_worker_runner
from pyodide_worker_runner import OutputBuffer, Runner, reset_session, run_code
from pyodide_worker_runner.output import OutputPart
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


@pytest.fixture(autouse=True)
def buffer_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock of every output buffer that runners make during the test.

    It stands still unless the test moves it, so which writes flush (the first line of a
    run at once, later lines within `line_flush_time` batched) never depends on how fast
    the machine runs the test.
    """
    fake = FakeClock()

    class FakeClockBuffer(OutputBuffer):
        def __init__(
            self, flush_fn: Callable[[list[OutputPart]], object], *, clock: Any = fake
        ) -> None:
            super().__init__(flush_fn, clock=clock)

    monkeypatch.setattr(Runner, "OutputBufferClass", FakeClockBuffer)
    # `run_code` keeps one runner between calls: let it make a new one with this clock.
    monkeypatch.setattr(pyodide_worker_runner.runner, "_shared_runner", None)
    return fake


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


def tb(runner: Runner | str, *frames: tuple[int, str, str], error: str) -> str:
    """The expected traceback text: frames are `(line, function, source and carets)`.

    The frames are in `runner`'s file, or in the file named by `runner` if it is a str.
    """
    filename = runner if isinstance(runner, str) else runner.filename
    text = "Traceback (most recent call last):\n"
    for lineno, name, code in frames:
        text += f'  File "{filename}", line {lineno}, in {name}\n{code}'
    return text + error + "\n"


# -- output ----------------------------------------------------------------------


def test_simple_print(runner: Runner) -> None:
    # The first line of a run is sent at once; the next, written right after, waits.
    check(runner, "print(1); print(2)", [out(("stdout", "1\n")), out(("stdout", "2\n"))])


def test_stdout_bytes(runner: Runner) -> None:
    source = "import sys\nsys.stdout.write(b'abc')\nsys.stdout.write('☃'.encode())"
    check(runner, source, [out(("stdout", "abc☃"))])


def test_stdout_buffer_bytes(runner: Runner) -> None:
    source = "import sys\nsys.stdout.buffer.write(b'raw\\n')\nprint('text')"
    check(runner, source, [out(("stdout", "raw\n")), out(("stdout", "text\n"))])


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
    check(runner, source, [out(("stderr", "oops\n")), out(("stderr", "more\n"))])


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
            out(("stdout", "1\n")),
            out(("stdout", "2\n"), ("stderr", "3")),
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
    # After the explicit flush, "3\n" is within `line_flush_time` of it and waits.
    check(
        runner,
        source,
        [out(("stdout", "1\n")), out(("stdout", "2\n")), out(("stdout", "3\n4\n"))],
    )


def test_flush_time(
    runner: Runner, buffer_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # User code moves the fake clock through an importable module.
    monkeypatch.setitem(sys.modules, "fake_clock", buffer_clock)
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
    # "1\n" is the first line; "3" is the first write over a second after that flush.
    check(
        runner,
        source,
        [out(("stdout", "1\n")), out(("stdout", "2\n3")), out(("stdout", "\n4\n"))],
    )


def test_flush_time_after_sleep(runner: Runner, buffer_clock: FakeClock) -> None:
    recorder = runner._callback
    assert isinstance(recorder, Recorder)

    def callback(event_type: str, data: dict[str, Any]) -> Any:
        if event_type == "sleep":
            buffer_clock.advance(data["seconds"])
        return recorder(event_type, data)

    runner.set_callback(callback)
    recorder.events.clear()
    runner.run("import time\nprint(1)\ntime.sleep(1.5)\nprint(2)\nprint(3)")
    # "1\n" is the first line; the first write after the sleep is over a second late.
    assert recorder.events == [
        out(("stdout", "1\n")),
        ("sleep", {"seconds": 1.5}),
        out(("stdout", "2")),
        out(("stdout", "\n3\n")),
    ]


def test_first_line_is_sent_before_a_long_computation(
    runner: Runner, recorder: Recorder, buffer_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fake_clock", buffer_clock)
    monkeypatch.setitem(sys.modules, "recorder", recorder)
    source = textwrap.dedent(
        """\
        import fake_clock, recorder
        print("Training...")
        sent_before_loop = list(recorder.events)
        fake_clock.advance(30)  # the long loop: it writes nothing
        print("Epoch 1")
        sent_after_loop = list(recorder.events)
        print("done")
        """
    )
    training = out(("stdout", "Training...\n"))
    # "Epoch 1" is the first write over a second after the last flush (the old rule).
    check(runner, source, [training, out(("stdout", "Epoch 1")), out(("stdout", "\ndone\n"))])
    assert runner.namespace["sent_before_loop"] == [training]
    assert runner.namespace["sent_after_loop"] == [training, out(("stdout", "Epoch 1"))]


def test_flush_big_output(runner: Runner) -> None:
    # The first line goes at once, then every 1000 characters, then the rest at the end.
    check(
        runner,
        "for _ in range(3000): print(9)",
        [out(("stdout", "9\n")), *[out(("stdout", "9\n" * 500))] * 5, out(("stdout", "9\n" * 499))],
    )


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
    check(
        runner,
        "for i in range(2): print(i)",
        [out(("stdout", "0\n")), out(("stdout", "1\n"))],
        mode="single",
    )


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
            out(("input", "input: 2\n")),
            out(("stdout", "after\n")),
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
            out(("input", "already has newline\n")),
            out(("input_prompt", "42")),
            ("input", {"prompt": "42"}),
            out(("input", "Zoë\n")),
            out(("stdout", "'already has newline' 'Zoë'\n")),
        ],
    )


def test_iter_stdin(runner: Runner) -> None:
    check(
        runner,
        "import sys\nprint(next(iter(sys.stdin)))\nprint(sys.stdin.close.__name__)",
        [
            ("input", {"prompt": ""}),
            out(("input", "input: 1\n")),
            out(("stdout", "input: 1\n\nclose\n")),
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
            out(("input", "inp")),
            out(("input", "ut: 1\n")),
            out(("stdout", "'inp' 'ut: 1\\n' ''\n")),
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
            out(("input", "first\n")),
            out(("input_prompt", "again? "), ("input", "second\n")),
            out(("stdout", "first second\n")),
        ],
    )


def test_input_unavailable(runner: Runner, recorder: Recorder) -> None:
    recorder.replies = [None]
    expected = tb(
        runner, (1, "<module>", "    input('name? ')\n"), error=f"RuntimeError: {INPUT_UNAVAILABLE}"
    )
    assert expected.endswith(
        "RuntimeError: input() is not available on this page: it needs cross-origin "
        "isolation (the headers Cross-Origin-Opener-Policy: same-origin and "
        "Cross-Origin-Embedder-Policy: require-corp) or a browser with JavaScript "
        "Promise Integration\n"
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


def test_echo_is_flushed_at_once(runner: Runner, recorder: Recorder) -> None:
    recorder.replies = ["Bob"]
    check(
        runner,
        'print("a"); x = input("Name? "); print(x)',
        [
            out(("stdout", "a\n")),
            out(("input_prompt", "Name? ")),
            ("input", {"prompt": "Name? "}),
            out(("input", "Bob\n")),
            out(("stdout", "Bob\n")),
        ],
    )


def test_interrupted_input_leaves_no_line(runner: Runner, recorder: Recorder) -> None:
    recorder.replies = ["a\nb"]
    runner.run("x = input()")
    assert runner.line == "b\n"

    def callback(event_type: str, data: dict[str, Any]) -> Any:
        recorder(event_type, data)
        if event_type == "input":
            raise KeyboardInterrupt
        return None

    runner.set_callback(callback)
    recorder.events.clear()
    runner.run("print(1)\ninput('? ')", fresh_namespace=False)
    assert recorder.events[:3] == [
        out(("stdout", "1\n")),
        out(("input_prompt", "? ")),
        ("input", {"prompt": "? "}),
    ]
    # This test's callback is not internal, so its frame shows too.
    [(_, data)] = recorder.events[3:]
    [part] = data["parts"]
    assert part["type"] == "traceback"
    assert part["text"].startswith(
        f'Traceback (most recent call last):\n  File "{runner.filename}", line 2, in <module>\n'
        "    input('? ')\n"
    )
    assert part["text"].endswith("\n    raise KeyboardInterrupt\nKeyboardInterrupt\n")
    assert runner.line == ""


# -- namespaces ------------------------------------------------------------------


def test_run_in_current_namespace(runner: Runner, recorder: Recorder) -> None:
    runner.run("x = 1")
    module = runner.main_module
    check(runner, "print('x' in globals(), __name__)", [out(("stdout", "False __main__\n"))])
    assert runner.main_module is not module
    runner.run("x = 1")
    module = runner.main_module
    recorder.events.clear()
    runner.run("x += 1", fresh_namespace=False)
    runner.run("print(x, __name__)", fresh_namespace=False)
    assert recorder.events == [out(("stdout", "2 __main__\n"))]
    assert runner.main_module is module


def test_run_in_current_namespace_drops_pending_input(runner: Runner, recorder: Recorder) -> None:
    recorder.replies = ["a\nb", "c"]
    runner.run("x = input()")
    assert runner.line == "b\n"
    recorder.events.clear()
    runner.run("print(x, input())", fresh_namespace=False)
    assert recorder.events == [
        out(("input_prompt", "")),
        ("input", {"prompt": ""}),
        out(("input", "c\n")),
        out(("stdout", "a c\n")),
    ]


def test_set_main_module(runner: Runner, recorder: Recorder) -> None:
    module = types.ModuleType("__main__")
    module.y = 41  # type: ignore[attr-defined]
    runner.set_main_module(module)
    assert runner.namespace is module.__dict__
    # A plain run starts afresh, whatever module was set.
    check(runner, "print('y' in globals())", [out(("stdout", "False\n"))])
    assert module.y == 41  # type: ignore[attr-defined]
    runner.set_main_module(module)
    runner.run("y += 1\nimport sys\nm = sys.modules['__main__']", fresh_namespace=False)
    assert module.y == 42  # type: ignore[attr-defined]
    assert module.m is module  # type: ignore[attr-defined]
    assert runner.main_module is module


def test_async_in_current_namespace(runner: Runner, recorder: Recorder) -> None:
    runner.run("import asyncio\nx = 1")
    asyncio.run(runner.run_async("await asyncio.sleep(0)\nprint(x)", fresh_namespace=False))
    assert recorder.events == [out(("stdout", "1\n"))]


# -- sleep -----------------------------------------------------------------------


def test_sleep(runner: Runner) -> None:
    check(runner, "import time\ntime.sleep(123)", [("sleep", {"seconds": 123})])


def test_sleep_flushes_first(runner: Runner) -> None:
    check(
        runner,
        "import time\nprint('a', end='')\ntime.sleep(0.25)\nprint('b')",
        [out(("stdout", "a")), ("sleep", {"seconds": 0.25}), out(("stdout", "b\n"))],
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


@pytest.fixture(autouse=True)
def _no_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every test starts without session namespaces left over from other tests.
    monkeypatch.setattr(pyodide_worker_runner.runner, "_sessions", {})


def msg(value: object) -> str:
    """The host's JSON reply `{"message": value}`."""
    return json.dumps({"message": value}, ensure_ascii=False)


INTERRUPTED = '{"interrupted": true}'


def sent_json(event_type: str, data: object) -> tuple[str, str]:
    """An event as `send` receives it: `(event_type, json_text)`."""
    return (event_type, json.dumps(data, ensure_ascii=False))


def sent_out(*parts: tuple[str, str]) -> tuple[str, str]:
    """An "output" event holding plain `(type, text)` parts, as `send` receives it."""
    return sent_json("output", out(*parts)[1])


def assert_sent(host: "Host", expected: list[tuple[str, str]]) -> None:
    """Check what `host` was sent: the exact JSON text where carets are compared exactly."""
    if EXACT_CARETS:
        assert host.sent == expected
    parsed = [(t, json.loads(j)) for t, j in expected]
    assert comparable(host.events()) == comparable(parsed)


class Host:
    """Plays the worker: records `(event_type, json_text)`, answers input and sleep.

    Input and sleep events are answered with the next of `replies`.
    """

    def __init__(self, replies: Iterable[object] = ()) -> None:
        self.sent: list[tuple[str, str]] = []
        self.replies = list(replies)

    def __call__(self, event_type: str, json_text: str) -> object:
        assert isinstance(json_text, str)
        self.sent.append((event_type, json_text))
        if event_type in ("input", "sleep"):
            return self.replies.pop(0)
        return None

    def events(self) -> list[Event]:
        """What was sent, with the JSON parsed."""
        return [(t, json.loads(j)) for t, j in self.sent]


def test_run_code_events(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[msg("Zoë"), msg(None)])
    source = "import time\nname = input('Name: ')\ntime.sleep(0.5)\nprint(f'héllo {name} ☃')\n"
    assert run_code(source, host, filename=filename) is None
    assert_sent(
        host,
        [
            ("output", '{"parts": [{"type": "input_prompt", "text": "Name: "}]}'),
            ("input", '{"prompt": "Name: "}'),
            ("output", '{"parts": [{"type": "input", "text": "Zoë\\n"}]}'),
            ("sleep", '{"seconds": 0.5}'),
            ("output", '{"parts": [{"type": "stdout", "text": "héllo Zoë ☃\\n"}]}'),
        ],
    )
    assert host.replies == []


def test_run_code_echo_is_sent_at_once(tmp_path: Path) -> None:
    host = Host(replies=[msg("Bob")])
    run_code('print("a"); x = input("Name? "); print(x)', host, filename=str(tmp_path / "m.py"))
    assert_sent(
        host,
        [
            sent_out(("stdout", "a\n")),
            sent_out(("input_prompt", "Name? ")),
            sent_json("input", {"prompt": "Name? "}),
            sent_out(("input", "Bob\n")),
            sent_out(("stdout", "Bob\n")),
        ],
    )


def test_run_code_flushes_before_returning(tmp_path: Path) -> None:
    host = Host()
    run_code("print('last words', end='')", host, filename=str(tmp_path / "main.py"))
    assert_sent(host, [("output", '{"parts": [{"type": "stdout", "text": "last words"}]}')])


def test_run_code_sends_a_long_line_in_pieces(tmp_path: Path) -> None:
    host = Host()
    run_code(
        "import sys\nprint('a' * 2_500_000)\nprint('b', file=sys.stderr)",
        host,
        filename=str(tmp_path / "main.py"),
    )
    sizes = [
        [(part["type"], len(part["text"])) for part in json.loads(data)["parts"]]
        for event, data in host.sent
        if event == "output"
    ]
    # At most 1 Mi characters an event, in order (print writes the line and its newline apart).
    mi = 1 << 20
    assert sizes == [
        [("stdout", mi)],
        [("stdout", mi)],
        [("stdout", 2_500_000 - 2 * mi)],
        [("stdout", 1), ("stderr", 2)],
    ]
    text = "".join(part["text"] for _, data in host.sent for part in json.loads(data)["parts"])
    assert text == "a" * 2_500_000 + "\n" + "b\n"


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
        ("output", {"parts": [{"type": "stdout", "text": "before\n"}]}),
        ("output", {"parts": [{"type": "traceback", "text": text}]}),
    ]
    assert Path(filename).read_text(encoding="utf-8") == "print('before')\nraise ValueError('bad')"


@pytest.mark.parametrize(
    ("source", "ended_by"),
    [
        ("x = 1", None),
        ("raise ValueError('bad')", {"type": "ValueError", "message": "bad"}),
        ("raise KeyboardInterrupt", {"type": "KeyboardInterrupt", "message": ""}),
        (
            "import json\njson.loads('{')",
            {
                "type": "json.decoder.JSONDecodeError",
                "message": "Expecting property name enclosed in double quotes: "
                "line 1 column 2 (char 1)",
            },
        ),
        ("class Mine(Exception):\n    pass\nraise Mine('x')", {"type": "Mine", "message": "x"}),
        ("a b", {"type": "SyntaxError", "message": "invalid syntax"}),
        ("raise SystemExit(3)", {"type": "SystemExit", "message": "3"}),
        (
            "e = ValueError('noted')\ne.add_note('a note')\nraise e",
            {"type": "ValueError", "message": "noted"},
        ),
    ],
)
def test_run_code_returns_the_exception_that_ended_the_program(
    tmp_path: Path, source: str, ended_by: dict[str, str] | None
) -> None:
    host = Host()
    result = run_code(source, host, filename=str(tmp_path / "main.py"))
    described = None if result is None else json.loads(result)
    assert described == ended_by
    if described is None:
        return
    # The same words as the traceback's last line (notes come after it).
    parts = [part for _, data in host.sent for part in json.loads(data)["parts"]]
    text = "".join(part["text"] for part in parts if part["type"] in ("traceback", "syntax_error"))
    line = described["type"] + (": " + described["message"] if described["message"] else "")
    assert line + "\n" in text


def test_run_code_returns_the_missing_entry_module(tmp_path: Path) -> None:
    host = Host()
    result = run_code("", host, filename=str(tmp_path / "main.py"), entry="no_such_module_here")
    assert json.loads(result or "null") == {
        "type": "ModuleNotFoundError",
        "message": "No module named 'no_such_module_here'",
    }


# -- run_code: replies to input and sleep ----------------------------------------------


def test_run_code_input_unavailable(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[None])
    run_code("print('a')\ninput('name? ')", host, filename=filename)
    expected = tb(
        filename,
        (2, "<module>", "    input('name? ')\n"),
        error=f"RuntimeError: {INPUT_UNAVAILABLE}",
    )
    assert_sent(
        host,
        [
            sent_out(("stdout", "a\n")),
            sent_out(("input_prompt", "name? ")),
            sent_json("input", {"prompt": "name? "}),
            sent_out(("traceback", expected)),
        ],
    )
    assert INPUT_UNAVAILABLE == (
        "input() is not available on this page: it needs cross-origin isolation (the headers "
        "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: "
        "require-corp) or a browser with JavaScript Promise Integration"
    )


def test_run_code_input_error(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    sentence = "Die Seite braucht Cross-Origin-Isolation ☃."
    host = Host(replies=[json.dumps({"error": sentence})])
    run_code("x = 1\ninput()\nprint('not reached')", host, filename=filename)
    expected = tb(filename, (2, "<module>", "    input()\n"), error=f"RuntimeError: {sentence}")
    assert_sent(
        host,
        [
            sent_out(("input_prompt", "")),
            sent_json("input", {"prompt": ""}),
            sent_out(("traceback", expected)),
        ],
    )


def test_run_code_input_interrupted(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[INTERRUPTED])
    run_code("print('a')\ninput()\nprint('not reached')", host, filename=filename)
    expected = (
        "Traceback (most recent call last):\n"
        f'  File "{filename}", line 2, in <module>\n'
        "    input()\n"
        "KeyboardInterrupt\n"
    )
    assert_sent(
        host,
        [
            sent_out(("stdout", "a\n")),
            sent_out(("input_prompt", "")),
            sent_json("input", {"prompt": ""}),
            sent_out(("traceback", expected)),
        ],
    )


def test_run_code_input_interrupted_in_a_function(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[INTERRUPTED])
    run_code("def ask():\n    return input('? ')\n\nname = ask()\n", host, filename=filename)
    expected = tb(
        filename,
        (4, "<module>", "    name = ask()\n           ^^^^^\n"),
        (2, "ask", "    return input('? ')\n           ^^^^^^^^^^^\n"),
        error="KeyboardInterrupt",
    )
    assert comparable(host.events()) == comparable(
        [out(("input_prompt", "? ")), ("input", {"prompt": "? "}), out(("traceback", expected))]
    )


def test_run_code_stdin_readline_interrupted(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[INTERRUPTED])
    run_code("import sys\nsys.stdin.readline()\n", host, filename=filename)
    expected = tb(
        filename, (2, "<module>", "    sys.stdin.readline()\n"), error="KeyboardInterrupt"
    )
    assert_sent(host, [sent_json("input", {"prompt": ""}), sent_out(("traceback", expected))])


def test_run_code_stdin_loop_interrupted(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[msg("one"), msg("two\nthree"), INTERRUPTED])
    source = "import sys\nfor line in sys.stdin:\n    print(line.upper(), end='')\n"
    run_code(source, host, filename=filename)
    expected = tb(
        filename, (2, "<module>", "    for line in sys.stdin:\n"), error="KeyboardInterrupt"
    )
    assert_sent(
        host,
        [
            sent_json("input", {"prompt": ""}),
            sent_out(("input", "one\n")),
            sent_out(("stdout", "ONE\n")),
            sent_json("input", {"prompt": ""}),
            sent_out(("input", "two\n")),
            sent_out(("stdout", "TWO\n"), ("input", "three\n")),
            sent_out(("stdout", "THREE\n")),
            sent_json("input", {"prompt": ""}),
            sent_out(("traceback", expected)),
        ],
    )


def test_run_code_interrupted_input_leaves_no_line(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[msg("a\nb"), INTERRUPTED, msg("fresh")])
    run_code("print(input())\nprint(input())\nprint(input())", host, filename=filename)
    shared = pyodide_worker_runner.runner._shared_runner
    assert shared is not None
    assert shared.line == ""
    host.sent.clear()
    run_code("print(input())", host, filename=filename)
    assert_sent(
        host,
        [
            sent_out(("input_prompt", "")),
            sent_json("input", {"prompt": ""}),
            sent_out(("input", "fresh\n")),
            sent_out(("stdout", "fresh\n")),
        ],
    )
    assert host.replies == []


def test_run_code_unread_lines_are_dropped_between_runs(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[msg("a\nb"), msg("c")])
    run_code("x = input()", host, filename=filename)
    host.sent.clear()
    run_code("print(x, input())", host, filename=filename)
    assert_sent(
        host,
        [
            sent_out(("input_prompt", "")),
            sent_json("input", {"prompt": ""}),
            sent_out(("input", "c\n")),
            sent_out(("stdout", "a c\n")),
        ],
    )


def test_run_code_sleep_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(pyodide_worker_runner.runner, "_real_sleep", slept.append)
    host = Host(replies=[msg(None), msg("ignored")])
    run_code("import time\ntime.sleep(2)\ntime.sleep(0.5)\nprint('done')", host)
    assert_sent(
        host,
        [
            sent_json("sleep", {"seconds": 2}),
            sent_json("sleep", {"seconds": 0.5}),
            sent_out(("stdout", "done\n")),
        ],
    )
    assert slept == []


def test_run_code_sleep_without_host(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(pyodide_worker_runner.runner, "_real_sleep", slept.append)
    host = Host(replies=[None])
    run_code("import time\ntime.sleep(3)\nprint('done')", host)
    assert_sent(host, [sent_json("sleep", {"seconds": 3}), sent_out(("stdout", "done\n"))])
    assert slept == [3]


def test_run_code_sleep_interrupted(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[INTERRUPTED])
    run_code("import time\nprint('a')\ntime.sleep(10)\nprint('b')", host, filename=filename)
    expected = tb(filename, (3, "<module>", "    time.sleep(10)\n"), error="KeyboardInterrupt")
    assert_sent(
        host,
        [
            sent_out(("stdout", "a\n")),
            sent_json("sleep", {"seconds": 10}),
            sent_out(("traceback", expected)),
        ],
    )


def test_run_code_sleep_error(tmp_path: Path) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[json.dumps({"error": "The page cannot sleep."})])
    run_code("import time\ntime.sleep(1)", host, filename=filename)
    expected = tb(
        filename,
        (2, "<module>", "    time.sleep(1)\n"),
        error="RuntimeError: The page cannot sleep.",
    )
    assert_sent(host, [sent_json("sleep", {"seconds": 1}), sent_out(("traceback", expected))])


def test_run_code_interrupt_can_be_caught(tmp_path: Path) -> None:
    host = Host(replies=[INTERRUPTED, INTERRUPTED])
    source = textwrap.dedent(
        """\
        import time
        try:
            input()
        except KeyboardInterrupt as e:
            print('input', repr(e))
        try:
            time.sleep(1)
        except KeyboardInterrupt as e:
            print('sleep', repr(e))
        """
    )
    run_code(source, host, filename=str(tmp_path / "main.py"))
    assert_sent(
        host,
        [
            sent_out(("input_prompt", "")),
            sent_json("input", {"prompt": ""}),
            sent_out(("stdout", "input KeyboardInterrupt()\n")),
            sent_json("sleep", {"seconds": 1}),
            sent_out(("stdout", "sleep KeyboardInterrupt()\n")),
        ],
    )


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            {"not": "a str"},
            "TypeError: reply to the 'input' event should be JSON text, None or "
            "a Promise, not dict",
        ),
        (
            7,
            "TypeError: reply to the 'input' event should be JSON text, None or a Promise, not int",
        ),
        ('"Zoë"', "ValueError: unexpected reply to the 'input' event: \"Zoë\""),
        ("Zoë", "ValueError: unexpected reply to the 'input' event: Zoë"),
        ("", "ValueError: unexpected reply to the 'input' event: "),
        ("{}", "ValueError: unexpected reply to the 'input' event: {}"),
        ('{"message": 1}', "ValueError: unexpected reply to the 'input' event: {\"message\": 1}"),
        (
            '{"message": null}',
            "ValueError: unexpected reply to the 'input' event: {\"message\": null}",
        ),
        (
            '{"interrupted": false}',
            "ValueError: unexpected reply to the 'input' event: {\"interrupted\": false}",
        ),
        ('{"error": 3}', "ValueError: unexpected reply to the 'input' event: {\"error\": 3}"),
        (
            '{"message": "a", "error": "b"}',
            'ValueError: unexpected reply to the \'input\' event: {"message": "a", "error": "b"}',
        ),
    ],
)
def test_run_code_bad_input_reply(tmp_path: Path, reply: object, error: str) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[reply])
    run_code("input()", host, filename=filename)
    expected = tb(filename, (1, "<module>", "    input()\n"), error=error)
    assert_sent(
        host,
        [
            sent_out(("input_prompt", "")),
            sent_json("input", {"prompt": ""}),
            sent_out(("traceback", expected)),
        ],
    )


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("[]", "ValueError: unexpected reply to the 'sleep' event: []"),
        ("true", "ValueError: unexpected reply to the 'sleep' event: true"),
        (
            b"{}",
            "TypeError: reply to the 'sleep' event should be JSON text, None or a Promise, "
            "not bytes",
        ),
    ],
)
def test_run_code_bad_sleep_reply(tmp_path: Path, reply: object, error: str) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[reply])
    run_code("import time\ntime.sleep(1)", host, filename=filename)
    expected = tb(filename, (2, "<module>", "    time.sleep(1)\n"), error=error)
    assert_sent(host, [sent_json("sleep", {"seconds": 1}), sent_out(("traceback", expected))])


def test_run_code_custom_event_replies_are_unchanged(tmp_path: Path) -> None:
    replies: list[object] = ['{"a": [1, "é"]}', None, 42, INTERRUPTED]

    def send(event_type: str, json_text: str) -> object:
        return replies.pop(0) if event_type == "custom" else None

    source = textwrap.dedent(
        """\
        import sys
        runner = sys.stdin._runner
        print([runner.callback("custom", n=n) for n in range(4)])
        """
    )
    host = Host()

    def both(event_type: str, json_text: str) -> object:
        host(event_type, json_text)
        return send(event_type, json_text)

    run_code(source, both, filename=str(tmp_path / "main.py"))
    assert_sent(
        host,
        [
            sent_json("custom", {"n": 0}),
            sent_json("custom", {"n": 1}),
            sent_json("custom", {"n": 2}),
            sent_json("custom", {"n": 3}),
            sent_out(("stdout", "[{'a': [1, 'é']}, None, 42, {'interrupted': True}]\n")),
        ],
    )


class FakeJsNull:
    """Stands in for `pyodide.ffi.jsnull`, what JavaScript's null becomes in Python."""


JSNULL = FakeJsNull()


class FakePromise:
    """Looks like a Pyodide `JsProxy` of a JavaScript Promise: it has a callable `then`."""

    def __init__(self, value: object) -> None:
        self.value = value

    def then(self, *callbacks: object) -> None:
        raise AssertionError("the runner must wait with run_sync, not call then()")


@pytest.fixture
def fake_run_sync(monkeypatch: pytest.MonkeyPatch) -> list[FakePromise]:
    """Installs a fake `pyodide.ffi.run_sync`; returns the promises it waited for."""
    waited: list[FakePromise] = []

    def run_sync(promise: FakePromise) -> object:
        waited.append(promise)
        return promise.value

    pyodide = types.ModuleType("pyodide")
    ffi = types.ModuleType("pyodide.ffi")
    ffi.run_sync = run_sync  # type: ignore[attr-defined]
    ffi.jsnull = JSNULL  # type: ignore[attr-defined]
    pyodide.ffi = ffi  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyodide", pyodide)
    monkeypatch.setitem(sys.modules, "pyodide.ffi", ffi)
    return waited


def test_run_code_promise_replies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_run_sync: list[FakePromise]
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(pyodide_worker_runner.runner, "_real_sleep", slept.append)
    promises = [FakePromise(msg("Zoë")), FakePromise(msg(None)), FakePromise(None)]
    host = Host(replies=promises)
    source = "import time\nname = input('? ')\ntime.sleep(1)\ntime.sleep(2)\nprint(name)"
    run_code(source, host, filename=str(tmp_path / "main.py"))
    assert_sent(
        host,
        [
            sent_out(("input_prompt", "? ")),
            sent_json("input", {"prompt": "? "}),
            sent_out(("input", "Zoë\n")),
            sent_json("sleep", {"seconds": 1}),
            sent_json("sleep", {"seconds": 2}),
            sent_out(("stdout", "Zoë\n")),
        ],
    )
    assert fake_run_sync == promises
    # A promise of None means the host could not sleep after all: sleep here.
    assert slept == [2]


@pytest.mark.parametrize(
    ("source", "value", "error"),
    [
        ("input()", INTERRUPTED, "KeyboardInterrupt"),
        ("input()", None, f"RuntimeError: {INPUT_UNAVAILABLE}"),
        ("input()", '{"error": "No."}', "RuntimeError: No."),
        ("__import__('time').sleep(1)", INTERRUPTED, "KeyboardInterrupt"),
        ("__import__('time').sleep(1)", '{"error": "No."}', "RuntimeError: No."),
    ],
)
def test_run_code_promise_failures(
    tmp_path: Path, fake_run_sync: list[FakePromise], source: str, value: object, error: str
) -> None:
    filename = str(tmp_path / "main.py")
    host = Host(replies=[FakePromise(value)])
    run_code(source, host, filename=filename)
    expected = tb(filename, (1, "<module>", f"    {source}\n"), error=error)
    if source == "input()":
        asked = [sent_out(("input_prompt", "")), sent_json("input", {"prompt": ""})]
    else:
        asked = [sent_json("sleep", {"seconds": 1})]
    assert_sent(host, [*asked, sent_out(("traceback", expected))])
    assert len(fake_run_sync) == 1


def test_run_code_jsnull_means_no_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_run_sync: list[FakePromise]
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(pyodide_worker_runner.runner, "_real_sleep", slept.append)
    filename = str(tmp_path / "main.py")
    host = Host(replies=[JSNULL, FakePromise(JSNULL), JSNULL])
    run_code("import time\ntime.sleep(1)\ntime.sleep(2)\ninput()", host, filename=filename)
    expected = tb(
        filename, (4, "<module>", "    input()\n"), error=f"RuntimeError: {INPUT_UNAVAILABLE}"
    )
    assert_sent(
        host,
        [
            sent_json("sleep", {"seconds": 1}),
            sent_json("sleep", {"seconds": 2}),
            sent_out(("input_prompt", "")),
            sent_json("input", {"prompt": ""}),
            sent_out(("traceback", expected)),
        ],
    )
    assert slept == [1, 2]


def test_run_code_does_not_need_pyodide(tmp_path: Path) -> None:
    host = Host(replies=[msg("x"), msg(None)])
    run_code("input()\nimport time\ntime.sleep(1)", host, filename=str(tmp_path / "main.py"))
    assert "pyodide" not in sys.modules


def test_run_code_big_non_ascii_line(tmp_path: Path) -> None:
    line = ("é☃🐍日本\u200b\\\"'\t" * 125_000)[:1_000_000]
    assert len(line) == 1_000_000
    host = Host(replies=[msg(line)])
    run_code("x = input()\nprint(x)\nprint(len(x))", host, filename=str(tmp_path / "main.py"))
    assert_sent(
        host,
        [
            sent_out(("input_prompt", "")),
            sent_json("input", {"prompt": ""}),
            sent_out(("input", line + "\n")),
            sent_out(("stdout", line)),
            sent_out(("stdout", "\n1000000\n")),
        ],
    )
    assert json.loads(host.sent[2][1])["parts"][0]["text"] == line + "\n"


def test_run_code_many_inputs(tmp_path: Path) -> None:
    host = Host(replies=[msg(str(i)) for i in range(100)])
    source = "total = 0\nfor _ in range(100):\n    total += int(input())\nprint(total)"
    run_code(source, host, filename=str(tmp_path / "main.py"))
    expected: list[tuple[str, str]] = []
    for i in range(100):
        expected += [
            sent_out(("input_prompt", "")),
            sent_json("input", {"prompt": ""}),
            sent_out(("input", f"{i}\n")),
        ]
    expected.append(sent_out(("stdout", "4950\n")))
    assert_sent(host, expected)
    assert host.replies == []


# -- run_code: sessions ----------------------------------------------------------------


def test_run_code_namespace_persists(tmp_path: Path) -> None:
    host = Host()
    filename = str(tmp_path / "main.py")
    run_code("x = 1\ndef double():\n    return 2 * x", host, filename=filename)
    run_code("x += 1\nprint(x, double(), __name__)", host, filename=filename)
    assert_sent(host, [sent_out(("stdout", "2 4 __main__\n"))])


def test_run_code_sessions_are_isolated(tmp_path: Path) -> None:
    host = Host()
    filename = str(tmp_path / "main.py")
    run_code("x = 'a'", host, filename=filename, session="a")
    run_code("print('x' in globals())", host, filename=filename, session="b")
    run_code("print('x' in globals())", host, filename=filename)
    run_code("x = 'b'", host, filename=filename, session="b")
    run_code("print(x)", host, filename=filename, session="a")
    run_code("print(x)", host, filename=filename, session="b")
    assert host.events() == [
        out(("stdout", "False\n")),
        out(("stdout", "False\n")),
        out(("stdout", "a\n")),
        out(("stdout", "b\n")),
    ]


def test_reset_session(tmp_path: Path) -> None:
    host = Host()
    filename = str(tmp_path / "main.py")
    run_code("x = 1", host, filename=filename)
    run_code("x = 2", host, filename=filename, session="other")
    reset_session()
    reset_session("never used")
    run_code("print('x' in globals(), __name__)", host, filename=filename)
    run_code("print(x)", host, filename=filename, session="other")
    reset_session("other")
    run_code("print('x' in globals())", host, filename=filename, session="other")
    assert host.events() == [
        out(("stdout", "False __main__\n")),
        out(("stdout", "2\n")),
        out(("stdout", "False\n")),
    ]


def test_run_code_session_module_is_main(tmp_path: Path) -> None:
    host = Host()
    before = sys.modules.get("__main__")
    first = str(tmp_path / "first.py")
    second = str(tmp_path / "second.py")
    run_code(
        "import sys\nclass Point:\n    pass\nm = sys.modules['__main__']", host, filename=first
    )
    source = textwrap.dedent(
        """\
        import __main__, pickle
        print(__main__ is m, __main__.__dict__ is globals(), __name__, __file__ == {!r})
        print(pickle.loads(pickle.dumps(Point())).__class__ is Point)
        """
    ).format(second)
    run_code(source, host, filename=second)
    assert host.events() == [
        out(("stdout", "True True __main__ True\n")),
        out(("stdout", "True\n")),
    ]
    assert sys.modules.get("__main__") is before
    shared = pyodide_worker_runner.runner._shared_runner
    assert shared is not None
    assert shared.main_module is not pyodide_worker_runner.runner._sessions[""]


def test_run_code_session_keeps_namespace_after_errors(tmp_path: Path) -> None:
    host = Host()
    filename = str(tmp_path / "main.py")
    run_code("x = 1\n1/0", host, filename=filename)
    run_code("y = (", host, filename=filename)
    host.sent.clear()
    run_code("print(x, 'y' in globals())", host, filename=filename)
    assert_sent(host, [sent_out(("stdout", "1 False\n"))])


def test_run_code_restores_globals_and_drops_send(tmp_path: Path) -> None:
    before = _globals_now()
    run_code(
        "import time\ntime.sleep(1)\ninput()",
        Host(replies=[msg(None), msg("x")]),
        filename=str(tmp_path / "main.py"),
    )
    assert all(a is b for a, b in zip(before, _globals_now(), strict=True))
    shared = pyodide_worker_runner.runner._shared_runner
    assert shared is not None
    assert shared._callback is None
    assert not pyodide_worker_runner.runner._shared_runner_busy


def test_run_code_nested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inner = Host()
    monkeypatch.setitem(sys.modules, "inner_host", inner)
    host = Host()
    source = textwrap.dedent(
        """\
        import inner_host
        from pyodide_worker_runner import run_code
        x = 'outer'
        run_code("print('inner', x)", inner_host, filename=__file__)
        run_code("print('x' in globals())\\nx = 'other'", inner_host, __file__, "other")
        run_code("x = 'changed by inner'", inner_host, filename=__file__)
        print(x)
        """
    )
    run_code(source, host, filename=str(tmp_path / "main.py"))
    run_code("print(x)", host, filename=str(tmp_path / "main.py"), session="other")
    assert inner.events() == [
        out(("stdout", "inner outer\n")),
        out(("stdout", "False\n")),
    ]
    assert host.events() == [out(("stdout", "changed by inner\n")), out(("stdout", "other\n"))]
    assert not pyodide_worker_runner.runner._shared_runner_busy


def test_package_api() -> None:
    assert pyodide_worker_runner.__version__ == "0.1.0"
    assert set(pyodide_worker_runner.__all__) == {
        "OutputBuffer",
        "PyodideRunner",
        "Runner",
        "__version__",
        "display",
        "find_imports_to_install",
        "install_imports",
        "reset_session",
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


class FakeJsException(Exception):
    """What Pyodide raises for an error thrown by a JS callback; `js_error` is the JS error."""

    def __init__(self, error_type: str) -> None:
        super().__init__(f"{error_type}: from JS")
        self.js_error = types.SimpleNamespace(type=error_type)


def pyodide_runner_output(source: str, error_type: str) -> list[tuple[str, str]]:
    """Run `source` in a `PyodideRunner` whose callback throws a JS error when Python waits.

    The error has type `error_type`; the output parts are returned merged by type.
    """
    parts: list[tuple[str, str]] = []

    def callback(event_type: str, data: dict[str, Any]) -> Any:
        if event_type == "output":
            for part in data["parts"]:
                if parts and parts[-1][0] == part["type"]:
                    parts[-1] = (part["type"], parts[-1][1] + part["text"])
                else:
                    parts.append((part["type"], part["text"]))
            return None
        raise FakeJsException(error_type)

    runner = pyodide_worker_runner.PyodideRunner(callback=callback)
    runner.run(source)
    return parts


def test_pyodide_runner_turns_an_interrupt_into_keyboard_interrupt() -> None:
    source = textwrap.dedent("""\
        import time
        for wait in (lambda: input("hi"), lambda: time.sleep(1)):
            try:
                wait()
            except KeyboardInterrupt:
                print("KeyboardInterrupt")
        """)
    assert pyodide_runner_output(source, "InterruptError") == [
        ("input_prompt", "hi"),
        ("stdout", "KeyboardInterrupt\nKeyboardInterrupt\n"),
    ]


def test_pyodide_runner_explains_a_missing_channel_but_sleep_just_returns() -> None:
    source = textwrap.dedent("""\
        import time
        time.sleep(1)
        print("slept")
        try:
            input("no channel")
        except RuntimeError as e:
            print(e)
        """)
    for error_type, message in [
        ("NoChannelError", pyodide_worker_runner.PyodideRunner.NoChannelError),
        ("ServiceWorkerError", pyodide_worker_runner.PyodideRunner.ServiceWorkerError),
    ]:
        assert pyodide_runner_output(source, error_type) == [
            ("stdout", "slept\n"),
            ("input_prompt", "no channel"),
            ("stdout", f"{message}\n"),
        ]


def test_pyodide_runner_lets_other_errors_through() -> None:
    source = "input()"
    parts = pyodide_runner_output(source, "TypeError")
    assert parts[-1][0] == "traceback"
    assert parts[-1][1].endswith("FakeJsException: TypeError: from JS\n")
