"""Python side of the `<python-runner>` web component.

The worker loads this package into Pyodide and calls `run_code(source, send)` for each
program. `Runner` does the work: it runs the code in a `__main__` namespace (one per
session, kept between runs until `reset_session`), batches what it prints
(`OutputBuffer`), and turns `input()` and `time.sleep()` into events for the host.
Before a run the worker may await `install_imports(source, callback)`, which installs
with micropip the packages the program imports but are missing.
The package uses the standard library only (micropip and `pyodide_js` are imported only
when `install_imports` needs them), so it also imports and tests in CPython.
"""

from .imports import find_imports_to_install, install_imports
from .output import OutputBuffer
from .runner import PyodideRunner, Runner, reset_session, run_code

__all__ = [
    "OutputBuffer",
    "PyodideRunner",
    "Runner",
    "__version__",
    "find_imports_to_install",
    "install_imports",
    "reset_session",
    "run_code",
]

__version__ = "0.1.0"
