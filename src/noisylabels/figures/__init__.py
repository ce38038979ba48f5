"""Pure plotting: PNG figures from arrays and per-epoch metric dicts, drawn off-screen.

Below the engine: this package imports only numpy, torch, matplotlib and low-level noisylabels
modules (io, noise.summary, errors), so training, detection and the HTML report can all use it.
"""
from .canvas import class_title, new_figure, save_png, to_numpy
from .panels import Series, dominance_verdict, plot_curve_panels, plot_transition_matrices
from .plots import curve, plot_image_grid, plot_loss_histograms, plot_selection_curves
from .randomization import plot_randomization

__all__ = ["Series", "class_title", "curve", "dominance_verdict", "new_figure", "plot_curve_panels",
           "plot_image_grid", "plot_loss_histograms", "plot_randomization", "plot_selection_curves",
           "plot_transition_matrices", "save_png", "to_numpy"]
