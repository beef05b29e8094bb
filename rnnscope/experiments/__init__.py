"""Experiments on models (the torch side): silencing units, noise insertion, controls.

These functions run models and produce runs or tables; the analyses of the results live in
:mod:`rnnscope.analysis` (torch-free).

- :func:`silence` — a copy of a model whose chosen units are silenced (``"zero"``) or held at a constant value
  (``"mean"``) at every step; :func:`silenced` — the same for any PyTorch model's recurrent modules, inside a
  ``with`` block; :func:`ablation_curve` — accuracy when only the most active (or random) units are kept (Titos &
  Garcia 2022, Fig. 10): a fixed share of the units, or the units above an activity threshold (``selection=``);
  :func:`keep_count`, :func:`kept_counts`.
- :func:`noise_robustness` — the clean and the perturbed run of one record, aligned in time (Tang, Shi & Wang
  Fig. 8).
- :func:`attribution` — why a unit (or a class output) takes its value at a frame: integrated gradients,
  gradient x input or occlusion (Captum's) over the input frames and bands, for an rnnscope classifier or any
  ``nn.Module`` with recurrent layers, in eval mode on CPU and CUDA; :func:`impulse_response` — how long each unit
  remembers a short input impulse (to compare with :func:`rnnscope.analysis.timescales`); :func:`class_silencing`
  — silencing the units flagged for each class against activity-matched random units (a class x class table of
  recall and logit drops); :func:`patch_activations` — chosen units' states copied from one record into another.
- :func:`untrained_like`, :func:`shuffle_labels`, :func:`compare_controls` — the controls every claim about a
  trained network is checked against.
"""
from ._attribution import METHODS, attribution, attributor
from ._class_tests import class_silencing, patch_activations
from ._controls import CONTROLS, compare_controls, shuffle_labels, untrained_like
from ._impulse import impulse_response
from ._noise import noise_robustness
from ._silence import ablation_curve, keep_count, kept_counts, silence, silenced

__all__ = [
    # why a unit fires
    "attribution",
    "attributor",
    "METHODS",
    "impulse_response",
    "class_silencing",
    "patch_activations",
    # units
    "silence",
    "silenced",
    "keep_count",
    "kept_counts",
    "ablation_curve",
    # memory
    "noise_robustness",
    # controls
    "untrained_like",
    "shuffle_labels",
    "compare_controls",
    "CONTROLS",
]
