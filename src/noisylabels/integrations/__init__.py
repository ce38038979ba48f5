"""noisylabels inside the training loops people already have.

``lightning.LabelNoiseCallback`` (PyTorch Lightning) and ``huggingface.LabelNoiseCallback``
(``transformers.Trainer``) record every training sample's loss, margin and p(label) per epoch
through a ``Recorder`` and answer the label-issue questions after the fit; ``WithIndex`` makes any
map-style dataset yield the sample index the records are keyed by. Each framework module imports
its framework, which is an optional extra (``pip install 'noisylabels[lightning]'`` or
``'noisylabels[huggingface]'``); this package imports none of them.
"""
from .dynamics import TrainingDynamics, WithIndex

__all__ = ["TrainingDynamics", "WithIndex"]
