"""Analyses of runs (Titos & Garcia 2022; Tang, Shi & Wang): pure xarray / numpy, no torch, no widgets.

Every function reads a run (in memory, or dask-backed from :func:`rnnscope.open_run`: records are read one block
at a time, so runs larger than memory work), uses only valid frames (``time < length``; labels -1 are unknown and
left out of class statistics), never modifies its input and returns labelled xarray (or pandas) objects.

Conventions
-----------
- ``var=`` picks the state variable (default ``"h"``; the Tang analyses default to the "cell": ``c`` for LSTM
  layers, ``h`` for GRU and vanilla layers).
- ``layer=`` picks layers by id: None (default) for all, an int or a list. Results always keep a ``layer``
  dimension (of size 1 when one layer is picked), so one- and multi-layer runs read the same way.
- Classes are a ``class_name`` dimension; unit ids are 0-based (the papers' neuron numbers are 1-based).
- A class without frames gives NaN with an :class:`EmptyClassWarning`, never an error.
- Any selection of a run (``isel``/``sel`` on ``event`` or ``time``, reordering, ``swap_dims``/``set_xindex`` on
  ``event_id``, concatenation along ``event`` or ``time``) analyses like a run of exactly the frames it holds, or
  the error says what to do (``docs/definitions.md``, "Frames of a run").
- ``null=N`` (with ``seed=`` and ``null_within=``) on :func:`specialisation`, :func:`top_units`,
  :func:`top_fraction`, :func:`class_correlation`, :func:`detector_units` and :func:`linear_probes` adds the chance
  level of every score: ``<score>_null_mean``, ``<score>_null_q95`` and ``<score>_p`` from ``N`` permutations of
  the segment labels within records (``docs/definitions.md``, "Chance levels by permutation").

Titos & Garcia (2022)
---------------------
:func:`activation_histogram` (Fig. 5), :func:`heat_map` (Fig. 6), :func:`top_fraction` (the 100/50/30 % rule),
:func:`class_correlation` (Fig. 7), :func:`top_units` (Table II), :func:`unit_traces` (Figs. 8-9),
:func:`specialisation`, :func:`susceptibility`, :func:`detector_units`, :func:`unit_activity` (the ranking of
the ablation curves, Fig. 10).

Tang, Shi & Wang
----------------
:func:`cell_distribution` (Figs. 1-3), :func:`responsibility` and :func:`responsible_units` (Figs. 4-6),
:func:`temporal_trace` and :func:`smoothness` (Fig. 7), :func:`perturbation` and :func:`recovery_time` (Fig. 8).

Both
----
:func:`compare` puts several runs side by side; :func:`frame_accuracy`. Example runs to try these on:
:mod:`rnnscope.examples` (``toy_run``, built with numpy; ``trained_run``, a shipped capture).

Rigor across runs
-----------------
:func:`across_seeds` (mean and t confidence interval of any number over seeds), :func:`linear_cka` (similarity of
two runs' state spaces), :func:`match_units` (Hungarian matching of units across seeds; :func:`unit_correlation`
the matrix it reads), :func:`linear_probes` (what each layer's states encode: class, inside an event, time since
onset, band energies) and
:func:`gate_saturation`. Controls (untrained and shuffled-label models) live on the torch side:
:func:`rnnscope.experiments.untrained_like`, :func:`rnnscope.experiments.shuffle_labels`,
:func:`rnnscope.experiments.compare_controls`.

Why a unit fires
----------------
From the input attributions of :func:`rnnscope.experiments.attribution`: :func:`band_profile` (which bands a unit
listens to, its peak band), :func:`lag_profile` (how far back: the memory length), each against a permutation null,
and :func:`attribution_over_time` (an attribution on its record's time axis); :func:`timescales` (each gated unit's
time constant from its forget or update gate, to compare with :func:`rnnscope.experiments.impulse_response`).

Examples
--------
>>> from rnnscope import analysis, examples
>>> run = examples.toy_run()
>>> analysis.heat_map(run).sizes
Frozen({'class_name': 5, 'unit': 6, 'layer': 1})
"""
from ._activity import heat_map, unit_activity, unit_traces
from ._attribution import MEMORY_FRACTION, attribution_over_time, band_profile, lag_profile
from ._common import EmptyClassWarning
from ._compare import compare, frame_accuracy
from ._detectors import detector_units
from ._dynamics import susceptibility
from ._histograms import activation_histogram
from ._probes import GATE_VARIABLES, PROBE_TARGETS, gate_saturation, linear_probes
from ._ranking import TopFraction, class_correlation, top_fraction, top_units
from ._robustness import perturbation, recovery_time
from ._seeds import across_seeds
from ._similarity import linear_cka, match_units, unit_correlation
from ._specialisation import specialisation
from ._tang import (
    cell_distribution,
    responsibility,
    responsible_units,
    smoothness,
    temporal_trace,
)
from ._timescales import KEEP_GATES, timescales

__all__ = [
    # Titos & Garcia (2022)
    "activation_histogram",
    "heat_map",
    "top_fraction",
    "TopFraction",
    "class_correlation",
    "top_units",
    "unit_traces",
    "unit_activity",
    "specialisation",
    "susceptibility",
    "detector_units",
    # Tang, Shi & Wang
    "cell_distribution",
    "responsibility",
    "responsible_units",
    "temporal_trace",
    "smoothness",
    "perturbation",
    "recovery_time",
    # both
    "compare",
    "frame_accuracy",
    # rigor: seeds, similarity across runs, probes
    "across_seeds",
    "linear_cka",
    "match_units",
    "unit_correlation",
    "linear_probes",
    "gate_saturation",
    "GATE_VARIABLES",
    "PROBE_TARGETS",
    # why a unit fires (from rnnscope.experiments.attribution)
    "band_profile",
    "lag_profile",
    "attribution_over_time",
    "MEMORY_FRACTION",
    "timescales",
    "KEEP_GATES",
    "EmptyClassWarning",
]
