"""Python side of the `<python-runner>` web component.

The worker loads this package into Pyodide and calls `run_code(source, send)` for each
program. `Runner` does the work: it runs the code in a `__main__` namespace (one per
session, kept between runs until `reset_session`), batches what it prints
(`OutputBuffer`), and turns `input()` and `time.sleep()` into events for the host.
`display(obj)` (a builtin while code runs) sends pictures: rich reprs such as `_repr_png_`
and matplotlib figures, whose backend (`matplotlib_backend`) shows them like Jupyter's.
Before a run the worker may await `install_imports(source, callback)`, which installs
with micropip the packages the program imports but are missing.
The package uses the standard library only (micropip, matplotlib and `pyodide_js` are
imported only where they are used), so it also imports and tests in CPython.
"""

from __future__ import annotations

from typing import Any

# Each name's module, imported on first use (PEP 562): importing the package is then cheap, and a
# worker compiles only the modules it uses (Python compiles them from source on every start).
_EXPORTS = {
    "OutputBuffer": "output",
    "PyodideRunner": "runner",
    "Runner": "runner",
    "display": "pictures",
    "find_imports_to_install": "imports",
    "install_imports": "imports",
    "reset_session": "runner",
    "run_code": "runner",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
