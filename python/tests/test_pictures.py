"""Tests for pictures: `display`, `Runner.image`, `send`'s third argument, matplotlib.

The matplotlib tests are skipped when matplotlib is not installed.
"""

import base64
import builtins
import json
import os
import struct
import subprocess
import sys
import textwrap
import types
import zlib
from pathlib import Path
from typing import Any

import pytest

import pyodide_worker_runner
from pyodide_worker_runner import Runner, display, run_code
from pyodide_worker_runner.pictures import _runners, image_of
from pyodide_worker_runner.runner import MATPLOTLIB_BACKEND, _js_bytes, _PageRunner

Sent = tuple[str, Any, bytes | None]


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG file of one colour, made with zlib and struct."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


PNG = png(2, 2, (255, 0, 0))
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><title>é</title></svg>'

# The program's own classes for pictures; `run` prepends them.
CLASSES = f"""
class Png:
    def __init__(self, data={PNG!r}):
        self.data = data

    def _repr_png_(self):
        return self.data


class Svg:
    def _repr_png_(self):
        return None

    def _repr_svg_(self):
        return {SVG!r}
"""


def run(program: str, **kwargs: Any) -> list[Sent]:
    """Run `program` (after `CLASSES`) with `run_code`; return `(event, data, picture)` sent."""
    sent: list[Sent] = []

    def send(event_type: str, json_text: str, *picture: bytes) -> None:
        assert len(picture) <= 1
        sent.append((event_type, json.loads(json_text), picture[0] if picture else None))

    run_code(CLASSES + textwrap.dedent(program), send, **kwargs)
    return sent


def parts(sent: list[Sent]) -> list[dict[str, Any]]:
    """Every part sent, in order, with the picture (if any) as "bytes"."""
    return [
        {**part, "bytes": picture} if picture is not None else part
        for _, data, picture in sent
        for part in data["parts"]
    ]


def image(alt: str, data: bytes = PNG, mime: str = "image/png") -> Sent:
    return ("output", {"parts": [{"type": "image", "text": alt, "mime": mime}]}, data)


# -- image_of --------------------------------------------------------------------------


class Reprs:
    """An object whose reprs return what the test gives."""

    def __init__(self, **reprs: object) -> None:
        for name, value in reprs.items():
            setattr(self, f"_repr_{name}_", lambda value=value: value)


def test_image_of_takes_png_bytes_as_they_are() -> None:
    assert image_of(Reprs(png=PNG)) == ("image/png", PNG, None)


def test_image_of_decodes_base64_text_for_png_and_jpeg() -> None:
    jpeg = b"\xff\xd8\xff\xe0 not really a jpeg"
    assert image_of(Reprs(png=base64.b64encode(PNG).decode())) == ("image/png", PNG, None)
    assert image_of(Reprs(jpeg=base64.b64encode(jpeg).decode())) == ("image/jpeg", jpeg, None)


def test_image_of_encodes_svg_text_as_utf8() -> None:
    assert image_of(Reprs(svg=SVG)) == ("image/svg+xml", SVG.encode(), None)


def test_image_of_takes_the_data_of_a_data_metadata_tuple() -> None:
    assert image_of(Reprs(png=(PNG, {"width": 2}))) == ("image/png", PNG, None)


def test_image_of_tries_png_then_jpeg_then_svg_skipping_none() -> None:
    assert image_of(Reprs(png=None, jpeg=b"J", svg=SVG)) == ("image/jpeg", b"J", None)
    assert image_of(Reprs(png=None, jpeg=None, svg=SVG))[0] == "image/svg+xml"  # type: ignore[index]
    assert image_of(Reprs(png=PNG, svg=SVG))[0] == "image/png"  # type: ignore[index]


def test_image_of_finds_no_picture_in_plain_values_none_reprs_or_classes() -> None:
    assert image_of(42) is None
    assert image_of("text") is None
    assert image_of(Reprs(png=None, svg=None)) is None
    assert image_of(Reprs) is None
    assert image_of(type("WithRepr", (), {"_repr_png_": lambda self: PNG})) is None


# -- display and run_code --------------------------------------------------------------


def test_a_png_repr_reaches_sends_third_argument_unchanged() -> None:
    sent = run("display(Png())")
    assert sent == [image("Figure 1")]
    assert sent[0][2] is not None and sent[0][2].startswith(b"\x89PNG")


def test_an_svg_repr_is_sent_as_svg() -> None:
    assert run("display(Svg())") == [image("Figure 1", SVG.encode(), "image/svg+xml")]


def test_display_writes_plain_values_and_objects_without_pictures_as_text() -> None:
    sent = run("""
        class Nothing:
            def _repr_png_(self):
                return None
            def __repr__(self):
                return "<nothing>"
        display("text", 42, [1, "a"], Nothing())
    """)
    assert {part["type"] for part in parts(sent)} == {"stdout"}
    assert "".join(part["text"] for part in parts(sent)) == "text\n42\n[1, 'a']\n<nothing>\n"


def test_pictures_are_numbered_per_run_and_alt_replaces_the_text() -> None:
    sent = run("display(Png(), Svg())\ndisplay(Png(), alt='A red square')\ndisplay(Png())")
    assert [part["text"] for part in parts(sent)] == [
        "Figure 1",
        "Figure 2",
        "A red square",
        "Figure 4",
    ]
    # The count starts again with the next run.
    assert [part["text"] for part in parts(run("display(Png())"))] == ["Figure 1"]


def test_a_title_follows_the_number() -> None:
    events: list[tuple[str, Any]] = []
    runner = Runner(callback=lambda event_type, data: events.append((event_type, data)))
    runner.image("image/png", PNG, title="Sales")
    runner.image("image/png", PNG, alt="Given", title="Sales")
    assert [data["parts"][0]["text"] for _, data in events] == ["Figure 1: Sales", "Given"]


def test_text_and_pictures_keep_their_order() -> None:
    sent = run("print('a')\ndisplay(Png())\nprint('b', end='')\ndisplay(Svg())\nprint('c')")
    assert [(part["type"], part["text"]) for part in parts(sent)] == [
        ("stdout", "a\n"),
        ("image", "Figure 1"),
        ("stdout", "b"),
        ("image", "Figure 2"),
        ("stdout", "c\n"),
    ]
    assert [picture for _, _, picture in sent] == [None, PNG, None, SVG.encode(), None]


def test_a_picture_over_32_mib_is_not_sent_and_stderr_says_so() -> None:
    sent = run("display(Png(bytes(32 << 20)), Png(bytes((32 << 20) + 1)), Png())")
    assert [(part["type"], part["text"]) for part in parts(sent)] == [
        ("image", "Figure 1"),
        ("stderr", "Figure 2 is too large to show: 33,554,433 bytes (32 MiB max)\n"),
        ("image", "Figure 3"),
    ]


def test_an_image_part_is_never_split_or_batched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_PageRunner, "max_message_chars", 10)
    alt = "a long description " * 5
    sent = run(f"print('x' * 15, end='')\ndisplay(Png(), alt={alt!r})")
    assert sent[-1] == image(alt)
    assert [part["text"] for part in parts(sent[:-1])] == ["x" * 10, "x" * 5]


def test_display_is_a_builtin_only_while_code_runs() -> None:
    assert not hasattr(builtins, "display")
    sent = run("import builtins\nprint(builtins.display is display, display.__module__)")
    assert parts(sent) == [{"type": "stdout", "text": "True pyodide_worker_runner.pictures\n"}]
    assert not hasattr(builtins, "display")
    assert _runners == []


def test_a_display_builtin_defined_before_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    own = object()
    monkeypatch.setattr(builtins, "display", own, raising=False)
    run("display(1)")
    assert builtins.display is own  # type: ignore[attr-defined]


def test_display_imports_from_the_package() -> None:
    assert pyodide_worker_runner.display is display
    assert run("from pyodide_worker_runner import display as show\nshow(Png())") == [
        image("Figure 1")
    ]


def test_the_runner_leaves_the_stack_after_an_exception() -> None:
    sent = run("display(Png())\nraise ValueError('bad')")
    assert [part["type"] for part in parts(sent)] == ["image", "traceback"]
    assert _runners == []


def test_a_nested_run_gets_its_own_pictures(monkeypatch: pytest.MonkeyPatch) -> None:
    inner: list[Sent] = []
    helper = types.ModuleType("picture_test_helper")
    helper.inner_send = lambda t, j, *p: inner.append((t, json.loads(j), *p))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, helper.__name__, helper)
    inner_program = CLASSES + "display(Svg())"
    sent = run(
        f"""
        from picture_test_helper import inner_send
        from pyodide_worker_runner import run_code
        display(Png())
        run_code({inner_program!r}, inner_send, session="inner")
        display(Svg())
        """,
        session="outer",
    )
    assert sent == [image("Figure 1"), image("Figure 2", SVG.encode(), "image/svg+xml")]
    assert inner == [image("Figure 1", SVG.encode(), "image/svg+xml")]


def test_outside_a_run_display_describes_pictures_in_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    display(Reprs(png=PNG), "text", Reprs(svg=SVG), alt=None)
    display(Reprs(png=PNG), alt="Red")
    assert capsys.readouterr().out == (
        f"<Figure (image/png, {len(PNG)} bytes)>\ntext\n"
        f"<Figure (image/svg+xml, {len(SVG.encode())} bytes)>\n"
        f"<Red (image/png, {len(PNG)} bytes)>\n"
    )


def test_under_pyodide_the_bytes_become_a_javascript_array(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ffi = types.ModuleType("pyodide.ffi")
    ffi.to_js = lambda data: ("Uint8Array", data)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyodide", types.ModuleType("pyodide"))
    monkeypatch.setitem(sys.modules, "pyodide.ffi", ffi)
    assert _js_bytes(PNG) is PNG
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert _js_bytes(PNG) == ("Uint8Array", PNG)


# -- matplotlib ------------------------------------------------------------------------


@pytest.fixture
def plt() -> Any:
    """matplotlib.pyplot with this package's backend, all figures closed afterwards."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as pyplot

    pyplot.switch_backend(MATPLOTLIB_BACKEND)
    yield pyplot
    pyplot.close("all")


def pngs(sent: list[Sent]) -> list[str]:
    """The alt texts of the PNG pictures sent, checking that each is a PNG file."""
    alts = []
    for part in parts(sent):
        if part["type"] == "image":
            assert part["mime"] == "image/png" and part["bytes"].startswith(b"\x89PNG")
            alts.append(part["text"])
    return alts


def test_plt_show_sends_one_png_titled_by_the_axes(plt: Any) -> None:
    sent = run(
        "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('Sales')\nplt.show()"
    )
    assert len(sent) == 1
    assert pngs(sent) == ["Figure 1: Sales"]
    assert plt.get_fignums() == []


def test_plt_show_sends_the_figures_in_number_order(plt: Any) -> None:
    sent = run("""
        import matplotlib.pyplot as plt
        plt.figure(2); plt.plot([1]); plt.title("two")
        plt.figure(1); plt.plot([2]); plt.suptitle("one")
        fig, (a, b) = plt.subplots(1, 2)
        a.set_title("left"); b.set_title("right")
        plt.show()
    """)
    assert pngs(sent) == ["Figure 1: one", "Figure 2: two", "Figure 3: left, right"]


def test_a_figure_never_shown_appears_after_the_run(plt: Any) -> None:
    sent = run("""
        import matplotlib.pyplot as plt
        plt.plot([1, 2]); plt.title("shown")
        plt.show()
        plt.figure(); plt.plot([2, 1])
        print("end")
    """)
    assert [(part["type"], part["text"]) for part in parts(sent)] == [
        ("image", "Figure 1: shown"),
        ("stdout", "end\n"),
        ("image", "Figure 2"),
    ]
    assert plt.get_fignums() == []


def test_open_figures_appear_after_the_traceback(plt: Any) -> None:
    sent = run("import matplotlib.pyplot as plt\nplt.plot([1])\n1 / 0")
    assert [part["type"] for part in parts(sent)] == ["traceback", "image"]


def test_text_before_and_after_show_keeps_its_order(plt: Any) -> None:
    sent = run("""
        import matplotlib.pyplot as plt
        print("before")
        plt.plot([1]); plt.show()
        print("after")
    """)
    assert [(part["type"], part["text"]) for part in parts(sent)] == [
        ("stdout", "before\n"),
        ("image", "Figure 1"),
        ("stdout", "after\n"),
    ]


def test_fig_show_and_display_show_one_figure(plt: Any) -> None:
    sent = run("""
        import matplotlib.pyplot as plt
        fig = plt.figure(); plt.plot([1]); fig.suptitle("mine")
        fig.show()
        display(fig, alt="again")
        plt.close(fig)
    """)
    assert pngs(sent) == ["Figure 1: mine", "again"]


def test_another_backend_chosen_by_the_program_shows_nothing_after_the_run(plt: Any) -> None:
    sent = run("import matplotlib.pyplot as plt\nplt.switch_backend('agg')\nplt.plot([1])")
    assert sent == []


def test_a_figure_that_fails_to_draw_is_a_traceback(plt: Any) -> None:
    # Mathtext is parsed when drawing: at the end of the run here.
    sent = run("import matplotlib.pyplot as plt\nplt.title(r'$\\frac{$')")
    assert [part["type"] for part in parts(sent)] == ["traceback"]
    assert plt.get_fignums() == []


def test_run_code_sets_mplbackend_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPLBACKEND", raising=False)
    program = "import os\nprint(os.environ['MPLBACKEND'])"
    assert parts(run(program))[0]["text"] == MATPLOTLIB_BACKEND + "\n"
    monkeypatch.setenv("MPLBACKEND", "agg")
    assert parts(run(program))[0]["text"] == "agg\n"


def test_in_a_fresh_interpreter_matplotlib_gets_the_backend() -> None:
    pytest.importorskip("matplotlib")
    script = """
        import json, sys
        from pyodide_worker_runner import run_code
        def send(event_type, json_text, *picture):
            sizes = [len(p) for p in picture]
            print(json.dumps([json.loads(json_text), sizes]), file=sys.__stdout__)
        run_code("x = 1", send)
        print(json.dumps("matplotlib" in sys.modules))
        run_code("import matplotlib.pyplot as plt\\nprint(plt.get_backend())\\nplt.plot([1])", send)
    """
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    env["PYTHONPATH"] = str(Path(pyodide_worker_runner.__file__).parent.parent)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    [imported, *events] = [json.loads(line) for line in result.stdout.splitlines()]
    assert imported is False
    text = [
        part["text"] for data, _ in events for part in data["parts"] if part["type"] == "stdout"
    ]
    assert "".join(text) == MATPLOTLIB_BACKEND + "\n"
    [data, [size]] = events[-1]
    assert data == {"parts": [{"type": "image", "text": "Figure 1", "mime": "image/png"}]}
    assert size > 1000
