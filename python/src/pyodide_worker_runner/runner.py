"""Run user source code and report what happens as callback events.

`Runner` compiles and runs a piece of source in a `__main__` namespace of its own. While
the code runs it redirects `sys.stdout` / `sys.stderr` into an `OutputBuffer`, replaces
`sys.stdin` and `builtins.input` with versions that ask the host for a line, and replaces
`time.sleep` with one that asks the host to sleep. Everything is undone when the run
ends, because other code shares the interpreter. Uncaught exceptions, including
`KeyboardInterrupt` and `SystemExit`, become `traceback` output parts; syntax errors
become `syntax_error` parts.

Events go to a callback `cb(event_type, data)`:

- `"output"`, `{"parts": [{"type": ..., "text": ..., **extra}, ...]}`; reply ignored.
- `"input"`, `{"prompt": str}`; the reply is the line that was typed.
- `"sleep"`, `{"seconds": int | float}`; reply ignored.
- anything user code passes to `Runner.callback` directly.

`run_code` is the entry point the worker calls: it JSON-encodes each event for a
`send(event_type, json_text)` function.

This is a fresh implementation of the behaviour of python_runner's `Runner`,
`PatchedStdinRunner` and `PatchedSleepRunner`, without their known bugs.

`ast`, `inspect` and `traceback` are imported where they are used: importing this module is
on the path to the first output in the browser, and those three are its slowest imports.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import linecache
import operator
import os
import sys
import time
import types
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .output import OutputBuffer, OutputPart, SysStream

if TYPE_CHECKING:
    import traceback

__all__ = ["INPUT_UNAVAILABLE", "Callback", "FakeStdin", "Runner", "run_code"]

Callback = Callable[[str, dict[str, Any]], Any]
"""`cb(event_type, data) -> reply`."""

INPUT_UNAVAILABLE = (
    "input() is not available on this page: nothing answered the request for a line of input"
)
"""Message of the RuntimeError raised when the input callback returns None."""

_PACKAGE_DIR = os.path.normcase(os.path.dirname(os.path.abspath(__file__)))

# About 2**63 nanoseconds: CPython's time.sleep refuses anything longer.
_MAX_SLEEP_SECONDS = 9_223_372_036

# The real `time.sleep`, for hosts that cannot block on their side (see `run_code`).
_real_sleep = time.sleep


class FakeStdin:
    """Replaces `sys.stdin` during a run; every read asks the runner for input.

    There is no end of file: iteration never stops, and `read()` / `readlines()` return
    a single line rather than waiting for input that cannot end. `close()` does nothing.
    Any attribute not defined here is looked up on `sys.__stdin__`.
    """

    encoding = "utf-8"
    errors = "strict"
    newlines = None
    closed = False
    name = "<stdin>"

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def readline(self, size: int | None = -1) -> str:
        """Return the next line (at most `size` characters), asking for one if needed."""
        return self._runner.readline(size)

    def read(self, size: int | None = -1) -> str:
        """Like `readline`: the input has no end, so this returns at most one line."""
        return self._runner.readline(size)

    def readlines(self, hint: int = -1) -> list[str]:
        """Return a list holding one line: the input has no end to read up to."""
        return [self._runner.readline()]

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return self._runner.readline()

    def close(self) -> None:
        """Do nothing: the host's input cannot be closed from Python."""

    def isatty(self) -> bool:
        """Always False."""
        return False

    def readable(self) -> bool:
        """Always True."""
        return True

    def writable(self) -> bool:
        """Always False."""
        return False

    def seekable(self) -> bool:
        """Always False."""
        return False

    def __getattr__(self, name: str) -> Any:
        target = sys.__stdin__
        if target is None:
            raise AttributeError(name)
        return getattr(target, name)


class Runner:
    """Runs source code and reports output, input and sleep requests to a callback.

    Subclasses may override `serialize_traceback`, `serialize_syntax_error`,
    `non_str_input` and `execute`, swap `OutputBufferClass`, or switch off the stdin
    and sleep patches with `patch_stdin` / `patch_sleep`.
    """

    OutputBufferClass: type[OutputBuffer] = OutputBuffer
    patch_stdin: bool = True
    """Replace `sys.stdin` and `builtins.input` while code runs."""
    patch_sleep: bool = True
    """Replace `time.sleep` while code runs."""

    def __init__(
        self,
        *,
        callback: Callback | None = None,
        source_code: str = "",
        filename: str = "main.py",
    ) -> None:
        """Create a runner; `filename` is made absolute against the working directory.

        The source file is only written when there is source: a non-empty
        `source_code` here, or a run.
        """
        self._callback: Callback | None = callback
        self.filename = ""
        self.set_filename(filename)
        self.source_code = ""
        self.line = ""
        """Input received but not read yet."""
        self.output_buffer = self.OutputBufferClass(self._flush_output)
        self.main_module = types.ModuleType("__main__")
        self.namespace: dict[str, Any] = self.main_module.__dict__
        self.reset()
        if source_code:
            self.set_source_code(source_code)

    # -- configuration -------------------------------------------------------------

    def set_callback(self, callback: Callback | None) -> None:
        """Set the function that receives events: `callback(event_type, data)`."""
        self._callback = callback

    def set_filename(self, filename: str) -> None:
        """Set the file name that user code runs as; stored absolute and normalised."""
        self.filename = os.path.normcase(os.path.abspath(filename))

    def set_source_code(self, source_code: str) -> None:
        """Record the source being run, so tracebacks and `inspect` can show its lines.

        The source is written to `filename` (errors are ignored: the disk may be
        read-only) and put into `linecache`, where it stays valid whatever the disk holds.
        """
        self.source_code = source_code
        with (
            contextlib.suppress(OSError, ValueError),
            open(self.filename, "w", encoding="utf-8") as f,
        ):
            f.write(source_code)
        # An mtime of None tells linecache.checkcache not to compare with the disk.
        linecache.cache[self.filename] = (
            len(source_code),
            None,
            _source_lines(source_code),
            self.filename,
        )

    # -- events --------------------------------------------------------------------

    def callback(self, event_type: str, **data: Any) -> Any:
        """Send an event to the callback and return its reply.

        Pending output is flushed first (except for "output" events themselves), so the
        host sees everything in the order it happened.
        """
        if event_type != "output":
            self.output_buffer.flush()
        if self._callback is None:
            raise RuntimeError("Runner has no callback: call set_callback() first")
        return self._callback(event_type, data)

    def output(self, output_type: str, text: str | bytes, **extra: Any) -> None:
        """Add an output part; it is sent when the buffer flushes."""
        self.output_buffer.put(output_type, text, **extra)

    def _flush_output(self, parts: list[OutputPart]) -> None:
        self.callback("output", parts=parts)

    # -- running -------------------------------------------------------------------

    def reset(self) -> None:
        """Start over with a fresh `__main__` module, no pending output and no input."""
        self.main_module = types.ModuleType("__main__")
        self.main_module.__file__ = self.filename
        self.namespace = self.main_module.__dict__
        self.output_buffer.reset()
        self.line = ""

    def pre_run(self, source: str, mode: str = "exec", top_level_await: bool = False) -> Any:
        """Prepare to run `source` and return its code object (may raise SyntaxError).

        "single" (one REPL entry, expression values printed) and "eval" (one
        expression, value returned) keep the current namespace. Every other mode
        compiles as "exec" in a fresh namespace; subclasses may give such modes a
        meaning of their own in `execute`.
        """
        if mode in ("single", "eval"):
            compile_mode = mode
            self.output_buffer.reset()
        else:
            compile_mode = "exec"
            self.reset()
        self.set_source_code(source)
        if mode == "single":
            # Lets a one-line compound statement such as `for i in x: print(i)` compile.
            source += "\n"
        flags = 0
        if top_level_await:
            import ast

            flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        return compile(source, self.filename, compile_mode, flags, dont_inherit=True)

    def execute(self, code: Any, mode: str) -> Any:
        """Evaluate a compiled code object in the namespace; return the value in eval mode."""
        return eval(code, self.namespace)

    def post_run(self) -> None:
        """Send whatever output is still pending."""
        self.output_buffer.flush()

    def run(self, source: str, mode: str = "exec") -> Any:
        """Run `source`; return the value in "eval" mode, otherwise None.

        Exceptions raised by the code are reported as output parts, never raised.
        All output has been sent when this returns.
        """
        self._require_callback()
        try:
            code = self._compile(source, mode, top_level_await=False)
            if code is None:
                return None
            with self._patched():
                try:
                    return self.execute(code, mode)
                except BaseException as e:
                    self._report(e)
                    return None
        finally:
            self.post_run()

    async def run_async(self, source: str, mode: str = "exec", top_level_await: bool = True) -> Any:
        """Like `run`, but top-level `await` is allowed and awaited.

        If the task running this is cancelled, the cancellation propagates instead of
        being reported as a traceback.
        """
        self._require_callback()
        try:
            code = self._compile(source, mode, top_level_await=top_level_await)
            if code is None:
                return None
            with self._patched():
                try:
                    result = self.execute(code, mode)
                    import inspect

                    if code.co_flags & inspect.CO_COROUTINE:
                        result = await result
                    return result
                except BaseException as e:
                    if _task_is_cancelling(e):
                        raise
                    self._report(e)
                    return None
        finally:
            self.post_run()

    def _require_callback(self) -> None:
        if self._callback is None:
            raise RuntimeError("Runner has no callback: call set_callback() before running code")

    def _compile(self, source: str, mode: str, top_level_await: bool) -> Any:
        """Compile via `pre_run`; report failures and return None for them."""
        try:
            return self.pre_run(source, mode, top_level_await)
        except SyntaxError as e:
            if _is_blank(source):
                # "" or only comments: fine in exec mode, a SyntaxError in single and
                # eval mode. Either way there is nothing to run and nothing to say.
                return None
            e.__traceback__ = None
            self._fill_syntax_error_text(e, source)
            self.output("syntax_error", **self.serialize_syntax_error(e))
        except BaseException as e:
            self._report(e)
        return None

    def _fill_syntax_error_text(self, e: SyntaxError, source: str) -> None:
        """Supply the offending line when the compiler could not read it back from disk.

        Errors found after parsing (such as "'await' outside function") take their
        `text` from the file, which may not have been writable.
        """
        if e.text is not None or e.filename != self.filename or not e.lineno:
            return
        lines = _source_lines(source)
        if 0 < e.lineno <= len(lines):
            e.text = lines[e.lineno - 1]

    def _report(self, e: BaseException) -> None:
        self.output("traceback", **self.serialize_traceback(e))

    @contextlib.contextmanager
    def _patched(self) -> Iterator[None]:
        """Install the stream, stdin, sleep and `__main__` replacements; undo them on exit."""
        saved_stdout, saved_stderr, saved_stdin = sys.stdout, sys.stderr, sys.stdin
        saved_input, saved_sleep = builtins.input, time.sleep
        saved_main = sys.modules.get("__main__")
        try:
            sys.stdout = SysStream("stdout", self.output_buffer)
            sys.stderr = SysStream("stderr", self.output_buffer)
            if self.patch_stdin:
                sys.stdin = FakeStdin(self)
                builtins.input = self.input
            if self.patch_sleep:
                time.sleep = self.sleep
            sys.modules["__main__"] = self.main_module
            yield
        finally:
            sys.stdout, sys.stderr, sys.stdin = saved_stdout, saved_stderr, saved_stdin
            builtins.input, time.sleep = saved_input, saved_sleep
            if saved_main is None:
                sys.modules.pop("__main__", None)
            else:
                sys.modules["__main__"] = saved_main

    # -- tracebacks ----------------------------------------------------------------

    def serialize_traceback(self, e: BaseException) -> dict[str, Any]:
        """Describe an uncaught exception as `{"text": ..., **extra}` for a part.

        The text is what `traceback.format_exception` prints, except that frames before
        the first one in the user's file are skipped, and frames inside this package
        (for example the stream that rejected a non-str write) are left out.
        """
        return {"text": self.format_exception(e)}

    def serialize_syntax_error(self, e: SyntaxError) -> dict[str, Any]:
        """Describe a SyntaxError found while compiling; defaults to `serialize_traceback`."""
        return self.serialize_traceback(e)

    def format_exception(self, e: BaseException) -> str:
        """Format `e` and its chained exceptions with internal frames removed."""
        import traceback

        te = traceback.TracebackException(type(e), e, e.__traceback__, compact=True)
        seen: set[int] = set()
        todo = [te]
        while todo:
            current = todo.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            current.stack[:] = self._user_frames(list(current.stack))
            todo.extend(t for t in (current.__cause__, current.__context__) if t is not None)
            todo.extend(getattr(current, "exceptions", None) or ())
        return "".join(te.format())

    def _user_frames(self, frames: list[traceback.FrameSummary]) -> list[traceback.FrameSummary]:
        for i, frame in enumerate(frames):
            if frame.filename == self.filename:
                frames = frames[i:]
                break
        return [frame for frame in frames if not _is_internal(frame.filename)]

    # -- stdin and sleep -----------------------------------------------------------

    def readline(self, n: int | None = -1, prompt: str = "") -> str:
        """Return the next line of input (at most `n` characters), asking if none is left.

        Asking sends an "input" event with `prompt`. A newline is added to the reply if it
        lacks one. A reply holding several lines is handed out one line per call.
        Whatever is returned is also echoed as an "input" output part.
        """
        n = -1 if n is None else operator.index(n)
        if n == 0:
            return ""
        if not self.line:
            reply = self.callback("input", prompt=prompt)
            if not isinstance(reply, str):
                reply = str(self.non_str_input(reply) or "")
            if not reply.endswith("\n"):
                reply += "\n"
            self.line = reply
        end = self.line.find("\n") + 1 or len(self.line)
        if 0 < n < end:
            end = n
        text, self.line = self.line[:end], self.line[end:]
        self.output("input", text)
        return text

    def input(self, prompt: object = "") -> str:
        """Replacement for `builtins.input`: emit an "input_prompt" part, read a line."""
        prompt = str(prompt)
        self.output("input_prompt", prompt)
        return self.readline(prompt=prompt)[:-1]

    def non_str_input(self, reply: object) -> str | None:
        """Handle an input reply that is not a str; return a str (or None for "").

        None means nothing on the page can answer, which is a RuntimeError with a
        message for the reader; any other type is a TypeError.
        """
        if reply is None:
            raise RuntimeError(INPUT_UNAVAILABLE)
        raise TypeError(f"Callback for input should return str, not {type(reply).__name__}")

    def sleep(self, seconds: float) -> None:
        """Replacement for `time.sleep`: validate like CPython, then send a "sleep" event."""
        if not isinstance(seconds, int | float):
            raise TypeError(f"an integer is required (got type {type(seconds).__name__})")
        if not seconds >= 0:
            raise ValueError("sleep length must be non-negative")
        if seconds > _MAX_SLEEP_SECONDS:
            raise OverflowError("sleep length is too large")
        if isinstance(seconds, bool):
            # Send a number, not true/false, to hosts that parse the data strictly.
            seconds = int(seconds)
        self.callback("sleep", seconds=seconds)


def _source_lines(source: str) -> list[str]:
    """Split into lines the way the compiler counts them (LF, CRLF and CR only)."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line + "\n" for line in lines]


def _is_blank(source: str) -> bool:
    """Whether `source` holds no statements at all (only whitespace and comments)."""
    import ast

    try:
        return not ast.parse(source).body
    except Exception:
        return False


def _is_internal(filename: str) -> bool:
    return os.path.normcase(os.path.dirname(os.path.abspath(filename))) == _PACKAGE_DIR


def _task_is_cancelling(e: BaseException) -> bool:
    """Whether `e` is the cancellation of the current asyncio task (not user code's own)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or not isinstance(e, asyncio.CancelledError):
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return False
    return task is not None and task.cancelling() > 0


# -- worker entry point ------------------------------------------------------------

_shared_runner: Runner | None = None
_shared_runner_busy = False


def run_code(source: str, send: Callable[[str, str], object], filename: str = "main.py") -> None:
    """Run `source` as a fresh `__main__` program, reporting events through `send`.

    Each event becomes `send(event_type, json_text)`, where `json_text` is the event
    data as JSON (non-ASCII characters kept as they are). A str reply is parsed as
    JSON and handed back to the code that raised the event (for "input", the line that
    was typed); any other reply is handed back unchanged, so None means "no answer".

    Exceptions in the user's code are reported as output, not raised. All output has
    been sent when this returns.
    """
    global _shared_runner, _shared_runner_busy

    def callback(event_type: str, data: dict[str, Any]) -> Any:
        reply = send(event_type, json.dumps(data, ensure_ascii=False))
        if event_type == "sleep" and reply is None:
            # The host did not sleep for us (it has no way to block): sleep here.
            _real_sleep(data["seconds"])
            return None
        if isinstance(reply, str):
            return json.loads(reply)
        return reply

    if _shared_runner_busy:
        # Called from inside a run (user code calling back in): don't clobber it.
        Runner(callback=callback, filename=filename).run(source, "exec")
        return

    if _shared_runner is None:
        _shared_runner = Runner(filename=filename)
    runner = _shared_runner
    runner.set_filename(filename)
    runner.set_callback(callback)
    _shared_runner_busy = True
    try:
        runner.run(source, "exec")
    finally:
        _shared_runner_busy = False
        # Drop the reference to `send` (a JS proxy under Pyodide) and the old namespace.
        runner.set_callback(None)
        runner.reset()
