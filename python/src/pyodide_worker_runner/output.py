"""Output batching: collect what user code writes and hand it on in parts.

Every write becomes an output *part* `{"type": ..., "text": ..., **extra}`. Parts are
held in an `OutputBuffer` and passed to a flush function as a list. After each write the
buffer flushes when

- a second part is pending (a change of type),
- the pending text reaches `flush_length` characters,
- more than `flush_time` seconds have passed since the last flush (or since `reset()`,
  the start of a run, if nothing was flushed since), or
- the pending text ends with a newline and more than `line_flush_time` seconds have passed
  since the last flush of this run; before the first flush of a run this always holds.

Time is only checked when something is written: there is no timer, because user code
blocks the Web Worker's thread. The last rule is what makes a completed line show at
once when a long silent computation follows it (`print("Training...")` before a loop):
the first line of a run is always sent immediately, and later lines are sent as soon as
they complete unless another flush happened less than `line_flush_time` ago, in which
case they wait in the batch. So a tight print loop still sends at most about
`1 / line_flush_time` batches a second, plus those the length rule sends.

`SysStream` is the file-like object that replaces `sys.stdout` / `sys.stderr` while
user code runs.
"""

import math
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["BinaryStream", "MixedOutputBuffer", "OutputBuffer", "OutputPart", "SysStream"]

OutputPart = dict[str, Any]
"""One part: `{"type": str, "text": str, **extra}`."""


class OutputBuffer:
    """Batches output parts and passes them to `flush_fn` as a list.

    `clock` returns the current time in seconds; it is `time.monotonic` unless a test
    injects a fake one. Two timestamps drive the time rules (see the module docstring):
    `last_time` is when the current batch began, i.e. the last flush or `reset()`, for
    `flush_time`; `last_flush_time` is when the last flush of this run happened, or
    `-math.inf` if none has since `reset()`, for `line_flush_time`. They differ only in
    what `reset()` does to them, so that the first completed line of a run is sent at
    once while `flush_time` keeps counting from the start of the run.
    """

    flush_length: int = 1000
    """Flush when the pending text is at least this many characters long."""

    flush_time: float = 1
    """Flush on the next write once more than this many seconds passed since the last flush
    (or since `reset()` if nothing was flushed since)."""

    line_flush_time: float = 0.05
    """Flush a write that leaves the pending text ending with a newline once more than this
    many seconds passed since the last flush of the run; always before a run's first flush."""

    def __init__(
        self,
        flush_fn: Callable[[list[OutputPart]], object],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.flush_fn = flush_fn
        self.clock = clock
        # Closed parts, then the open run: consecutive plain text of `_run_type`, kept as a
        # list of pieces joined only when read (`parts`) or flushed, so that a print loop
        # appends instead of copying the batch on every write.
        self._parts: list[OutputPart] = []
        self._run_type: str | None = None
        self._run: list[str] = []
        self._count = 0
        self._length = 0
        self._ends_with_newline = False
        self.last_time = clock()
        self.last_flush_time = -math.inf

    @property
    def parts(self) -> list[OutputPart]:
        """The pending parts, in order (the open run's pieces joined into one part)."""
        self._close_run()
        return self._parts

    @parts.setter
    def parts(self, parts: list[OutputPart]) -> None:
        self._run_type = None
        self._run = []
        self._parts = parts
        self._count = len(parts)
        self._length = sum(len(part["text"]) for part in parts)
        self._ends_with_newline = bool(parts) and parts[-1]["text"].endswith("\n")

    def _close_run(self) -> None:
        if self._run_type is not None:
            self._parts.append({"type": self._run_type, "text": "".join(self._run)})
            self._run_type = None
            self._run = []

    def reset(self) -> None:
        """Drop pending parts and start a run: restart `flush_time`, forget the last flush.

        `last_time` becomes now and `last_flush_time` becomes `-math.inf`, so the first
        completed line written afterwards is flushed at once.
        """
        self.parts = []
        self.last_time = self.clock()
        self.last_flush_time = -math.inf

    def put(self, output_type: str, text: str | bytes, **extra: Any) -> None:
        """Add `text` as output of type `output_type`, flushing if `should_flush()`.

        Bytes are decoded as UTF-8 with replacement characters. Anything else that is
        not a str raises `TypeError("Can only write str, not <type>")`. Consecutive
        parts of the same type are merged, but only when neither carries extra keys.
        """
        if type(text) is not str:
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            elif not isinstance(text, str):
                raise TypeError(f"Can only write str, not {type(text).__name__}")
        if output_type == self._run_type and not extra:
            # The hot path of a print loop: no dict, no copy of the pending text.
            self._run.append(text)
        else:
            assert isinstance(output_type, str), "output type must be a str"
            last = self._parts[-1] if self._parts and self._run_type is None else None
            if last is not None and not extra and last["type"] == output_type and len(last) == 2:
                # A part that was read back through `parts`: reopen it as the run.
                self._parts.pop()
                self._run_type = output_type
                self._run = [last["text"], text]
            else:
                self._close_run()
                self._count += 1
                if extra:
                    self._parts.append({"type": output_type, "text": text, **extra})
                else:
                    self._run_type = output_type
                    self._run = [text]
        if text:
            self._length += len(text)
            self._ends_with_newline = text[-1] == "\n"
        if self.should_flush():
            self.flush()

    def should_flush(self) -> bool:
        """Whether the pending parts should be sent now (the rules of the module docstring).

        The rules that need no clock are checked first, so a write that flushes by length
        or by a change of type reads the clock once (in `flush`), not twice.
        """
        if self._count > 1 or self._length >= self.flush_length:
            return True
        now = self.clock()
        return now - self.last_time > self.flush_time or (
            self._count == 1
            and self._ends_with_newline
            and now - self.last_flush_time > self.line_flush_time
        )

    def flush(self) -> None:
        """Send the pending parts, if any; set `last_time` and `last_flush_time` to now.

        With nothing pending this does nothing, and in particular leaves both timestamps
        alone. The timestamps are set even if `flush_fn` raises.
        """
        if not self._count:
            return
        parts = self.parts
        # Take the parts before calling out, so that output produced while flushing
        # starts a new batch instead of being sent twice.
        self.parts = []
        try:
            self.flush_fn(parts)
        finally:
            self.last_time = self.last_flush_time = self.clock()


class MixedOutputBuffer(OutputBuffer):
    """An `OutputBuffer` whose batches may mix types: a change of type flushes nothing.

    The rules of `OutputBuffer` hold, except the first: instead of flushing when a second
    part is pending, it flushes when `max_parts` parts are pending, and the line rule
    applies whatever the number of parts. Order is kept, since parts stay in a list. For
    code that interleaves stdout and stderr line by line (a loop that prints to both),
    this sends a batch per `line_flush_time` rather than one per line. The element's
    worker uses it (`run_code`); the library's `Runner` keeps upstream's rules.
    """

    max_parts: int = 256
    """Flush when this many parts are pending."""

    def should_flush(self) -> bool:
        """Whether the pending parts should be sent now (see the class docstring)."""
        if self._count >= self.max_parts or self._length >= self.flush_length:
            return True
        now = self.clock()
        return now - self.last_time > self.flush_time or (
            self._ends_with_newline and now - self.last_flush_time > self.line_flush_time
        )


class SysStream:
    """A write-only text stream that puts everything written into an `OutputBuffer`.

    `encoding` is always "utf-8" and `isatty()` is False, whatever the real streams say:
    the text ends up in a web page, not a terminal. Any other attribute is looked up on
    `sys.__stdout__` (for stderr too), so code that pokes at less common attributes
    still finds something.
    """

    encoding = "utf-8"
    errors = "strict"
    newlines = None
    closed = False

    def __init__(self, output_type: str, buffer: OutputBuffer) -> None:
        self.type = output_type
        self._output = buffer

    @property
    def name(self) -> str:
        """The conventional name of the stream, e.g. `<stdout>`."""
        return f"<{self.type}>"

    @property
    def buffer(self) -> "BinaryStream":
        """A binary view, so `sys.stdout.buffer.write(b"...")` is captured too."""
        return BinaryStream(self)

    def write(self, s: str) -> int:
        """Put `s` into the output buffer; return its length.

        Writing "" puts nothing, so `print(line, end="")` adds no empty part after a
        flushed line.
        """
        output = self._output
        if type(s) is str and s and output._run_type == self.type:
            # The hot path of a print loop, `put` inlined.
            output._run.append(s)
            output._length += len(s)
            output._ends_with_newline = s[-1] == "\n"
            if output.should_flush():
                output.flush()
            return len(s)
        if s == "":
            return 0
        output.put(self.type, s)
        return len(s)

    def writelines(self, lines: Any) -> None:
        """Write each string of `lines`."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Send all pending output now."""
        self._output.flush()

    def isatty(self) -> bool:
        """Always False: the output goes to a web page."""
        return False

    def writable(self) -> bool:
        """Always True."""
        return True

    def readable(self) -> bool:
        """Always False."""
        return False

    def seekable(self) -> bool:
        """Always False."""
        return False

    def __getattr__(self, name: str) -> Any:
        target = sys.__stdout__
        if target is None:
            raise AttributeError(name)
        return getattr(target, name)


class BinaryStream:
    """The `.buffer` of a `SysStream`: bytes written here are decoded as UTF-8 and put."""

    def __init__(self, text_stream: SysStream) -> None:
        self._text_stream = text_stream

    def write(self, b: bytes | bytearray | memoryview) -> int:
        """Put `b` (decoded as UTF-8 with replacement characters); return its length.

        Like `SysStream.write`, writing no bytes puts nothing.
        """
        if isinstance(b, bytearray | memoryview):
            b = bytes(b)
        if b == b"":
            return 0
        self._text_stream._output.put(self._text_stream.type, b)
        return len(b)

    def flush(self) -> None:
        """Send all pending output now."""
        self._text_stream.flush()

    def writable(self) -> bool:
        """Always True."""
        return True
