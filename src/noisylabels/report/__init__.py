"""Figures for a finished run (loss histograms per class, selection curves over epochs) and the
self-contained HTML report of a run or bench folder (``write_report``)."""
from .html import write_report
from .plots import plot_image_grid, plot_loss_histograms, plot_selection_curves

__all__ = ["plot_image_grid", "plot_loss_histograms", "plot_selection_curves", "write_report"]
