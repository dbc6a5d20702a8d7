"""Pictures in the output: `display(obj)` shows rich reprs and matplotlib figures.

An object is a picture when it has an IPython-style `_repr_png_`, `_repr_jpeg_` or
`_repr_svg_` method that returns data, or is a matplotlib `Figure` (saved as PNG). While
a `Runner` runs code, `display` sends pictures through its `image` method; with no run
going on (plain CPython use) it prints a line such as `<Figure (image/png, 1234 bytes)>`.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

__all__ = ["display", "image_of"]

_runners: list[Any] = []
"""The runners whose code is running, innermost last (`Runner._patched` keeps it)."""

_SVG = "image/svg+xml"
_REPRS = (("_repr_png_", "image/png"), ("_repr_jpeg_", "image/jpeg"), ("_repr_svg_", _SVG))


def image_of(obj: object) -> tuple[str, bytes, str | None] | None:
    """`(mime, data, title)` of the picture `obj` shows, or None if it is no picture.

    A repr may return None (the next is tried), bytes, base64 text (PNG, JPEG), SVG text,
    or a `(data, metadata)` tuple. A figure's title is its suptitle, else its axes' titles.
    """
    module = type(obj).__module__
    if module.startswith("matplotlib") and hasattr(obj, "savefig") and hasattr(obj, "canvas"):
        buffer = BytesIO()
        obj.savefig(buffer, format="png")  # type: ignore[attr-defined]
        return "image/png", buffer.getvalue(), _figure_title(obj)
    if isinstance(obj, type):
        return None
    for name, mime in _REPRS:
        method = getattr(obj, name, None)
        data = method() if callable(method) else None
        if isinstance(data, tuple):
            data = data[0]
        if isinstance(data, str):
            import base64

            data = data.encode() if mime == _SVG else base64.b64decode(data)
        if isinstance(data, bytes | bytearray | memoryview):
            return mime, bytes(data), None
    return None


def _figure_title(figure: Any) -> str | None:
    titles = (ax.get_title() for ax in figure.axes)
    return figure.get_suptitle() or ", ".join(t for t in titles if t) or None


def display(*objs: object, alt: str | None = None) -> None:
    """Show each object: a picture as an image (`alt` is its text), anything else as text.

    Text is a str as it is, else `repr(obj)`, printed with a newline. With no runner
    running, a picture is described as `<alt or title or "Figure" (mime, N bytes)>`.
    """
    for obj in objs:
        picture = image_of(obj)
        if picture is None:
            print(obj if isinstance(obj, str) else repr(obj))
            continue
        mime, data, title = picture
        if _runners:
            _runners[-1].image(mime, data, alt=alt, title=title)
        else:
            print(f"<{alt or title or 'Figure'} ({mime}, {len(data)} bytes)>")
