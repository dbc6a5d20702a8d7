"""Run user source code and report what happens as callback events.

`Runner` compiles and runs a piece of source in a `__main__` namespace of its own. While
the code runs it redirects `sys.stdout` / `sys.stderr` into an `OutputBuffer`, replaces
`sys.stdin` and `builtins.input` with versions that ask the host for a line, replaces
`time.sleep` with one that asks the host to sleep, and adds a `display` builtin that
sends pictures (`Runner.image`; see `pictures.py`, and `matplotlib_backend.py` for plots).
Everything is undone when the run ends, because other code shares the interpreter.
Uncaught exceptions, including `KeyboardInterrupt` and `SystemExit`, become `traceback`
output parts; syntax errors become `syntax_error` parts.

Events go to a callback `cb(event_type, data)`:

- `"output"`, `{"parts": [{"type": ..., "text": ..., **extra}, ...]}`; reply ignored. A
  picture comes alone: `[{"type": "image", "text": alt, "mime": ..., "bytes": ...}]`.
- `"input"`, `{"prompt": str}`; the reply is the line that was typed.
- `"sleep"`, `{"seconds": int | float}`; reply ignored.
- anything user code passes to `Runner.callback` directly.

`run_code` is the entry point the worker calls: it JSON-encodes each event for a
`send(event_type, json_text)` function (a picture's bytes go as a third argument), and
runs each program in the persistent `__main__` namespace of a session (`reset_session`
forgets one). What `send` may return for the blocking events "input" and "sleep" (JSON
text such as `{"message": ...}`, `{"interrupted": true}` or `{"error": ...}`, None, or a
JavaScript Promise of those) and for "output" is the worker contract, handled in one
place, `_reply`, and described with the events and `run_code`'s parameters in
`tests/contract.json`, which the worker's and the library's tests read too.

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

from .output import MixedOutputBuffer, OutputBuffer, OutputPart, SysStream
from .pictures import _runners, display

if TYPE_CHECKING:
    import traceback

__all__ = [
    "INPUT_UNAVAILABLE",
    "Callback",
    "FakeStdin",
    "Runner",
    "add_to_path",
    "reset_session",
    "run_code",
]

Callback = Callable[[str, dict[str, Any]], Any]
"""`cb(event_type, data) -> reply`."""

INPUT_UNAVAILABLE = (
    "input() is not available on this page: it needs cross-origin isolation (the headers "
    "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp) "
    "or a browser with JavaScript Promise Integration"
)
"""Message of the RuntimeError raised when the input callback returns None."""

_PACKAGE_DIR = os.path.normcase(os.path.dirname(os.path.abspath(__file__)))

# About 2**63 nanoseconds: CPython's time.sleep refuses anything longer.
_MAX_SLEEP_SECONDS = 9_223_372_036

# The real `time.sleep`, for hosts that cannot block on their side (see `run_code`).
_real_sleep = time.sleep

MATPLOTLIB_BACKEND = "module://pyodide_worker_runner.matplotlib_backend"
"""The backend `run_code` gives matplotlib unless `MPLBACKEND` names another."""


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
    max_image_bytes: int = 32 << 20
    """A larger picture is not sent: a line on stderr says so instead."""

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
        self.exception: BaseException | None = None
        """The exception that ended the last run (reported as output), or None."""
        self.image_count = 0
        """Pictures shown in the current run, for their "Figure N" alt text."""
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

    def set_main_module(self, module: types.ModuleType) -> None:
        """Use `module` as `__main__`: code run with `fresh_namespace=False` runs in it.

        The module is kept until the next `reset()`, which a fresh-namespace run does.
        """
        self.main_module = module
        self.namespace = module.__dict__

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

    def image(
        self, mime: str, data: bytes, alt: str | None = None, title: str | None = None
    ) -> None:
        """Send a picture, after the pending output, as the one part of an "output" event.

        The part is `{"type": "image", "text": alt, "mime": mime, "bytes": data}`; `alt`
        defaults to "Figure N" or "Figure N: title", N counting this run's pictures.
        """
        self.image_count += 1
        if alt is None:
            alt = f"Figure {self.image_count}" + (f": {title}" if title else "")
        if len(data) > self.max_image_bytes:
            limit = self.max_image_bytes >> 20
            self.output(
                "stderr", f"{alt} is too large to show: {len(data):,} bytes ({limit} MiB max)\n"
            )
            return
        self.output_buffer.flush()
        part = {"type": "image", "text": alt, "mime": mime, "bytes": bytes(data)}
        self.callback("output", parts=[part])

    # -- running -------------------------------------------------------------------

    def reset(self) -> None:
        """Start over with a fresh `__main__` module, no pending output and no input."""
        module = types.ModuleType("__main__")
        module.__file__ = self.filename
        self.set_main_module(module)
        self.output_buffer.reset()
        self.line = ""

    def pre_run(
        self,
        source: str,
        mode: str = "exec",
        top_level_await: bool = False,
        *,
        fresh_namespace: bool = True,
    ) -> Any:
        """Prepare to run `source` and return its code object (may raise SyntaxError).

        "single" (one REPL entry, expression values printed) and "eval" (one
        expression, value returned) keep the current namespace. Every other mode
        compiles as "exec" in a fresh namespace, or, with `fresh_namespace=False`, in
        the current one (see `set_main_module`), dropping only pending output and input;
        subclasses may give such modes a meaning of their own in `execute`.
        """
        if mode in ("single", "eval"):
            compile_mode = mode
            self.output_buffer.reset()
        else:
            compile_mode = "exec"
            if fresh_namespace:
                self.reset()
            else:
                self.output_buffer.reset()
                self.line = ""
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

    def run(self, source: str, mode: str = "exec", *, fresh_namespace: bool = True) -> Any:
        """Run `source`; return the value in "eval" mode, otherwise None.

        "exec" starts from a fresh `__main__` unless `fresh_namespace` is False (see
        `pre_run`). Exceptions raised by the code are reported as output parts, never
        raised. All output has been sent when this returns.
        """
        self._require_callback()
        self.exception = None
        try:
            code = self._compile(source, mode, False, fresh_namespace)
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

    def run_module(self, module: str) -> None:
        """Run the module named `module` as `__main__`, like `python -m module`.

        Tracebacks start at the module's own file. A module that cannot be found is
        reported as a one-line `ModuleNotFoundError` traceback part. All output has been
        sent when this returns.
        """
        self._require_callback()
        self.exception = None
        import importlib.util
        import runpy

        self.output_buffer.reset()
        self.line = ""
        saved_filename = self.filename
        try:
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                spec = None
            if spec is None or not spec.origin or not os.path.isfile(spec.origin):
                self.exception = ModuleNotFoundError(f"No module named {module!r}")
                self.output("traceback", f"ModuleNotFoundError: No module named {module!r}\n")
                return
            # Tracebacks start at the module's own frame, and leave runpy's out.
            self.filename = os.path.normcase(os.path.abspath(spec.origin))
            with self._patched():
                try:
                    runpy.run_module(module, run_name="__main__", alter_sys=True)
                except BaseException as e:
                    self._report(e)
        finally:
            self.filename = saved_filename
            self.post_run()

    async def run_async(
        self,
        source: str,
        mode: str = "exec",
        top_level_await: bool = True,
        *,
        fresh_namespace: bool = True,
    ) -> Any:
        """Like `run`, but top-level `await` is allowed and awaited.

        If the task running this is cancelled, the cancellation propagates instead of
        being reported as a traceback.
        """
        self._require_callback()
        self.exception = None
        try:
            code = self._compile(source, mode, top_level_await, fresh_namespace)
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

    def _compile(self, source: str, mode: str, top_level_await: bool, fresh_namespace: bool) -> Any:
        """Compile via `pre_run`; report failures and return None for them."""
        try:
            return self.pre_run(source, mode, top_level_await, fresh_namespace=fresh_namespace)
        except SyntaxError as e:
            if _is_blank(source):
                # "" or only comments: fine in exec mode, a SyntaxError in single and
                # eval mode. Either way there is nothing to run and nothing to say.
                return None
            e.__traceback__ = None
            self._fill_syntax_error_text(e, source)
            self.exception = e
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
        self.exception = e
        self.output("traceback", **self.serialize_traceback(e))

    @contextlib.contextmanager
    def _patched(self) -> Iterator[None]:
        """Install the stream, stdin, sleep, `display` and `__main__` replacements; undo them.

        The runner is on `pictures._runners` meanwhile. When the code has run, matplotlib
        figures still open are shown, as in Jupyter (even after an exception).
        """
        saved_stdout, saved_stderr, saved_stdin = sys.stdout, sys.stderr, sys.stdin
        saved_input, saved_sleep = builtins.input, time.sleep
        saved_display = getattr(builtins, "display", None)
        saved_main = sys.modules.get("__main__")
        self.image_count = 0
        _runners.append(self)
        try:
            sys.stdout = SysStream("stdout", self.output_buffer)
            sys.stderr = SysStream("stderr", self.output_buffer)
            if self.patch_stdin:
                sys.stdin = FakeStdin(self)
                builtins.input = self.input
            if self.patch_sleep:
                time.sleep = self.sleep
            builtins.display = display  # type: ignore[attr-defined]
            sys.modules["__main__"] = self.main_module
            yield
            try:
                _show_open_figures()
            except BaseException as e:
                ended_by = self.exception
                self._report(e)
                self.exception = ended_by or e
        finally:
            _runners.remove(self)
            sys.stdout, sys.stderr, sys.stdin = saved_stdout, saved_stderr, saved_stdin
            builtins.input, time.sleep = saved_input, saved_sleep
            if saved_display is None:
                vars(builtins).pop("display", None)
            else:
                builtins.display = saved_display  # type: ignore[attr-defined]
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
        Whatever is returned is also echoed as an "input" output part, sent at once so
        the page shows the echo without waiting for more output.
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
        self.output_buffer.flush()
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


class PyodideRunner(Runner):
    """A `Runner` for the library API (`makeRunnerCallback` of python-runner.mjs).

    The JS errors its callback throws while Python waits become what python_runner's
    `PyodideRunner` makes of them, found by the error's `type`: `InterruptError` (the page
    interrupted) raises `KeyboardInterrupt`; `NoChannelError` and `ServiceWorkerError` raise
    a `RuntimeError` that says what is wrong, except in `time.sleep`, which then returns at
    once. Unlike python_runner 0.6.1 it formats tracebacks itself.
    """

    InterruptError: type[BaseException] | BaseException = KeyboardInterrupt
    NoChannelError: type[BaseException] | BaseException = RuntimeError(
        "This browser doesn't support reading input. Try upgrading to the most recent "
        "version or switching to a different browser, e.g. Chrome or Firefox."
    )
    ServiceWorkerError: type[BaseException] | BaseException = RuntimeError(
        "The service worker for reading input isn't working. Try closing all this site's "
        "tabs, then reopening. If that doesn't work, try using a different browser."
    )

    def pyodide_error(self, e: Exception) -> BaseException:
        """The exception to raise for `e`, a JS error thrown by the callback (or `e` itself)."""
        error_type = getattr(getattr(e, "js_error", None), "type", None)
        if isinstance(error_type, str) and error_type in _JS_ERROR_TYPES:
            mapped = getattr(self, error_type)
            return mapped() if isinstance(mapped, type) else mapped
        return e

    def readline(self, n: int | None = -1, prompt: str = "") -> str:
        try:
            return super().readline(n, prompt)
        except Exception as e:
            raise self.pyodide_error(e) from None

    def sleep(self, seconds: float) -> None:
        try:
            super().sleep(seconds)
        except Exception as e:
            error = self.pyodide_error(e)
            if error is e:
                raise
            if not isinstance(error, RuntimeError):
                raise error from None
            # No way to wait for the page: return at once, as python_runner does.


_JS_ERROR_TYPES = ("InterruptError", "NoChannelError", "ServiceWorkerError")


def _source_lines(source: str) -> list[str]:
    """Split into lines the way the compiler counts them (LF, CRLF and CR only)."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line + "\n" for line in lines]


def _show_open_figures() -> None:
    """Show the figures left open, if matplotlib is in use with this package's backend."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and pyplot.get_backend() == MATPLOTLIB_BACKEND:
        pyplot.show()


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


def add_to_path(folder: str) -> None:
    """Make the modules in `folder` (where the worker unpacked the author's archive) importable.

    The folder goes first on `sys.path` (once), and import caches are invalidated so that
    modules written after Python started are found.
    """
    import importlib

    if folder not in sys.path:
        sys.path.insert(0, folder)
    importlib.invalidate_caches()


_shared_runner: Runner | None = None
_shared_runner_busy = False
_sessions: dict[str, types.ModuleType] = {}
"""The `__main__` module of each session key that `run_code` has run code for."""


def _blocking_reply(event_type: str, data: dict[str, Any], reply: object) -> str | None:
    """Act on the worker's reply to an "input" or "sleep" event: the worker contract.

    `reply` is what `send(event_type, json_text)` returned:

    - None (or Pyodide's `jsnull`, JavaScript's null): the host cannot block. For
      "sleep", sleep here with the real `time.sleep`; for "input", raise
      `RuntimeError(INPUT_UNAVAILABLE)`.
    - JSON text of an object with exactly one of these keys:
      - `{"message": value}`: for "input", the line that was typed (a str); for
        "sleep", the sleep is over (the value is ignored).
      - `{"interrupted": true}`: the user pressed Stop while Python was waiting: raise
        `KeyboardInterrupt`, which surfaces from the user's `input()`, `sys.stdin`
        read or `time.sleep()` call.
      - `{"error": "<sentence>"}`: the host cannot answer: raise `RuntimeError(sentence)`.
    - A JavaScript Promise (under Pyodide, a `JsProxy` with a callable `then`) that
      resolves to one of the above: wait for it with `pyodide.ffi.run_sync`.

    Anything else raises TypeError (not JSON text) or ValueError (JSON of another
    shape). Returns the line for "input" and None for "sleep".
    """
    if callable(getattr(reply, "then", None)):
        # Only the worker hands out Promises, and the worker runs in Pyodide.
        from pyodide.ffi import run_sync

        reply = run_sync(reply)
    if _is_null(reply):
        if event_type == "input":
            raise RuntimeError(INPUT_UNAVAILABLE)
        _real_sleep(data["seconds"])
        return None
    if not isinstance(reply, str):
        raise TypeError(
            f"reply to the {event_type!r} event should be JSON text, None or a Promise, "
            f"not {type(reply).__name__}"
        )
    try:
        answer = json.loads(reply)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and len(answer) == 1:
        [(key, value)] = answer.items()
        if key == "interrupted" and value is True:
            raise KeyboardInterrupt
        if key == "error" and isinstance(value, str):
            raise RuntimeError(value)
        if key == "message" and event_type == "sleep":
            return None
        if key == "message" and isinstance(value, str):
            return value
    raise ValueError(f"unexpected reply to the {event_type!r} event: {reply}")


def _output_reply(reply: object) -> None:
    """Act on the worker's reply to an "output" event.

    None (or `jsnull`) means the page is keeping up. Otherwise the page has fallen behind, and
    the reply is JSON text or a Promise of it, as for "sleep" (see `_blocking_reply`):
    `{"message": null}` once the page has taken the output sent so far, or
    `{"interrupted": true}` when the user pressed Stop meanwhile (KeyboardInterrupt). A
    Promise that Python cannot suspend on here (output written from a callback that
    JavaScript called) is not waited for: a print never fails for want of backpressure.
    """
    if _is_null(reply):
        return None
    if callable(getattr(reply, "then", None)):
        from pyodide.ffi import can_run_sync

        if not can_run_sync():
            return None
    _blocking_reply("sleep", {"seconds": 0}, reply)
    return None


def _reply(event_type: str, data: dict[str, Any], reply: object) -> Any:
    """What `send` returned for an event means: the worker contract (`tests/contract.json`).

    Replies to "input" and "sleep" follow `_blocking_reply`, replies to "output" (a wait when
    the page is behind: backpressure) `_output_reply`. For any other event, a str reply is
    parsed as JSON and any other reply is handed back unchanged, to the code that raised it.
    """
    if event_type in ("input", "sleep"):
        return _blocking_reply(event_type, data, reply)
    if event_type == "output":
        return _output_reply(reply)
    if isinstance(reply, str):
        return json.loads(reply)
    return reply


def _is_null(value: object) -> bool:
    """Whether `value` is None or, under Pyodide, `pyodide.ffi.jsnull` (JavaScript's null)."""
    if value is None:
        return True
    ffi = sys.modules.get("pyodide.ffi")
    return ffi is not None and value is getattr(ffi, "jsnull", None)


def _session_module(session: str, filename: str) -> types.ModuleType:
    """The `__main__` module of `session`, created on first use; its `__file__` is `filename`."""
    module = _sessions.get(session)
    if module is None:
        module = _sessions[session] = types.ModuleType("__main__")
    module.__file__ = filename
    return module


def reset_session(session: str = "") -> None:
    """Forget the namespace of `session`: its next `run_code` starts from a fresh `__main__`.

    Does nothing if the session has no namespace yet.
    """
    _sessions.pop(session, None)


def describe_exception(e: BaseException) -> dict[str, str]:
    """`{"type": ..., "message": ...}` of `e`, as the last line of its traceback names them.

    The type is qualified by its module unless that is `builtins` or `__main__`
    (`json.decoder.JSONDecodeError`, `ZeroDivisionError`); the message is `str(e)`, or a
    SyntaxError's `msg`. The traceback's last line is `type` or `type: message`.
    """
    cls = type(e)
    name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        name = f"{cls.__module__}.{name}"
    if isinstance(e, SyntaxError) and isinstance(e.msg, str):
        message = e.msg
    else:
        try:
            message = str(e)
        except Exception:
            message = "<exception str() failed>"
    return {"type": name, "message": message}


def _picture_bytes(data: dict[str, Any]) -> bytes | None:
    """Remove a picture's bytes from the parts of an "output" event and return them."""
    for part in data.get("parts", ()):
        if "bytes" in part:
            return part.pop("bytes")
    return None


def _js_bytes(data: bytes) -> Any:
    """`data` for `send`: a JavaScript Uint8Array under Pyodide, else the bytes themselves."""
    if sys.platform != "emscripten":
        return data
    from pyodide.ffi import to_js

    return to_js(data)


class _PageRunner(Runner):
    """The runner of `run_code`, whose output batches may mix stdout and stderr.

    See `MixedOutputBuffer`: the page renders parts in order whatever the batches.
    Pictures never pass through `_flush_output`: `Runner.image` sends each in its own
    event, so an image part is never split or batched.
    """

    OutputBufferClass = MixedOutputBuffer

    max_message_chars: int = 1 << 20
    """The most text one "output" event carries: a longer part is sent in pieces."""

    def _flush_output(self, parts: list[OutputPart]) -> None:
        """Send `parts` in events of at most `max_message_chars` characters of text.

        A 10 MB line becomes ten events, so the page never spends one long task on one
        message, and backpressure can act between them. Order is kept; pieces keep
        their part's type and extra keys.
        """
        batch: list[OutputPart] = []
        room = self.max_message_chars
        for part in parts:
            text = part["text"]
            while True:
                if room == 0:
                    self.callback("output", parts=batch)
                    batch, room = [], self.max_message_chars
                piece, text = text[:room], text[room:]
                batch.append(part if len(piece) == len(part["text"]) else {**part, "text": piece})
                room -= len(piece)
                if not text:
                    break
        if batch:
            self.callback("output", parts=batch)


def run_code(
    source: str,
    send: Callable[..., object],
    filename: str = "main.py",
    session: str = "",
    entry: str | None = None,
) -> str | None:
    """Run `source` as the `__main__` program of `session`, reporting events through `send`.

    With `entry` (a dotted module name, e.g. from the author's archive) that module runs as
    `__main__` instead, like `python -m entry`, and `source` is ignored.

    Each session key owns one `__main__` namespace that persists across calls with
    that key (until `reset_session`), so a variable set by one program is seen by the
    next; different keys never see each other's variables. Pending output and input
    start empty on every call.

    Each event becomes `send(event_type, json_text)`, where `json_text` is the event
    data as JSON (non-ASCII characters kept as they are). An "output" event with a
    picture (`Runner.image`) has one part `{"type": "image", "text": alt, "mime": mime}`
    and a third argument, the picture's bytes (a Uint8Array under Pyodide). For the
    blocking events "input" and "sleep", the reply follows the contract in
    `_blocking_reply`: None, JSON text of `{"message": ...}`, `{"interrupted": true}` or
    `{"error": "..."}`, or a Promise of those. For any other event, a str reply is parsed
    as JSON and handed back to the code that raised the event; any other reply is handed
    back unchanged.

    Exceptions in the user's code (including the KeyboardInterrupt of an interrupted
    input or sleep) are reported as output, not raised. All output has been sent when
    this returns. Returns the exception that ended the program as JSON text of
    `describe_exception`'s dict, or None when it ran to the end.
    """
    global _shared_runner, _shared_runner_busy
    os.environ.setdefault("MPLBACKEND", MATPLOTLIB_BACKEND)

    def callback(event_type: str, data: dict[str, Any]) -> Any:
        picture = _picture_bytes(data) if event_type == "output" else None
        text = json.dumps(data, ensure_ascii=False)
        if picture is None:
            return _reply(event_type, data, send(event_type, text))
        return _reply(event_type, data, send(event_type, text, _js_bytes(picture)))

    nested = _shared_runner_busy
    if nested:
        # Called from inside a run (user code calling back in): don't clobber it.
        runner = _PageRunner(filename=filename)
    else:
        if _shared_runner is None:
            _shared_runner = _PageRunner(filename=filename)
        runner = _shared_runner
        runner.set_filename(filename)
        _shared_runner_busy = True
    try:
        runner.set_callback(callback)
        runner.set_main_module(_session_module(session, runner.filename))
        try:
            if entry:
                runner.run_module(entry)
            else:
                runner.run(source, "exec", fresh_namespace=False)
            ended_by = runner.exception
        except KeyboardInterrupt as e:
            # Stop landed while the runner itself was busy (sending output, formatting a
            # traceback) rather than in user code: the program has ended all the same.
            send(
                "output",
                json.dumps({"parts": [{"type": "traceback", "text": "KeyboardInterrupt\n"}]}),
            )
            ended_by = e
        return None if ended_by is None else json.dumps(describe_exception(ended_by))
    finally:
        if not nested:
            _shared_runner_busy = False
        # Drop the references to `send` (a JS proxy under Pyodide) and to the session's
        # module, which lives on in `_sessions`.
        runner.set_callback(None)
        # The exception's traceback holds the program's frames and their objects.
        runner.exception = None
        runner.reset()
