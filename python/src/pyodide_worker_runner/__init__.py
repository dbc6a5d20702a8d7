"""Python side of the `<python-runner>` web component.

The worker loads this package into Pyodide and calls `run_code(source, send)` for each
program. `Runner` does the work: it runs the code in a `__main__` namespace (one per
session, kept between runs until `reset_session`), batches what it prints
(`OutputBuffer`), and turns `input()` and `time.sleep()` into events for the host.
The package uses the standard library only, so it also imports and tests in CPython.
"""

from .output import OutputBuffer
from .runner import Runner, reset_session, run_code

# Planned: `install_imports(source)` (find the imports that are missing and install
# them with micropip before running) will live in its own module, `install.py`, and be
# exported here. It needs Pyodide, so it must be imported lazily to keep this package
# importable in plain CPython.

__all__ = ["OutputBuffer", "Runner", "__version__", "reset_session", "run_code"]

__version__ = "0.1.0"
