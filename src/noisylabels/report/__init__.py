"""Figures for a finished run: loss histograms per class and selection curves over epochs."""
from .plots import plot_image_grid, plot_loss_histograms, plot_selection_curves

__all__ = ["plot_image_grid", "plot_loss_histograms", "plot_selection_curves"]
