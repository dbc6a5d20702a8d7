"""A matplotlib backend that puts figures in the output, like Jupyter's inline backend.

`run_code` selects it (`MPLBACKEND=module://pyodide_worker_runner.matplotlib_backend`)
unless the environment names another. `plt.show()` displays the open figures in number
order and closes them; `Runner` shows the figures still open when a run ends the same way.
"""

from __future__ import annotations

from typing import Any

from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from .pictures import display


class FigureManager(FigureManagerBase):
    """Shows its figure in the output (`fig.show()`)."""

    def show(self) -> None:
        """Display the figure."""
        display(self.canvas.figure)


class FigureCanvas(FigureCanvasAgg):
    """Agg's canvas, with figures managed by `FigureManager`."""

    manager_class = FigureManager  # type: ignore[assignment]


def show(*args: Any, **kwargs: Any) -> None:
    """Display every open figure in number order, then close them all (`plt.show()`)."""
    try:
        for manager in sorted(Gcf.get_all_fig_managers(), key=lambda m: m.num):
            display(manager.canvas.figure)
    finally:
        Gcf.destroy_all()  # plt.close("all")
