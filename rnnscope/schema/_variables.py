"""The schema's vocabulary: every variable's name, dimensions, dtype and meaning, the variables of each cell family
and the named groups of variables and coordinates (re-exported by :mod:`rnnscope.schema`).

Examples
--------
>>> VARIABLES["attribution"].dims
('target', 'lag', 'feature')
"""
from __future__ import annotations

from dataclasses import dataclass

from .._overview import schema_entries as _overview_entries

__all__ = ["STATE_DIMS", "VariableSpec", "VARIABLES", "STATE_VARIABLES", "SUMMARY_VARIABLES", "ATTRIBUTION_PER_TARGET",
           "ATTRIBUTION_COORDS", "SEGMENT_VARIABLES", "SEGMENT_ROW_COLUMNS", "LAYER_COORDS"]

STATE_DIMS = ("event", "time", "unit", "layer")


@dataclass(frozen=True)
class VariableSpec:
    """One variable of the schema.

    Parameters
    ----------
    name : str
        The variable's name in a Dataset (``"h"``, ``"label"``...).
    dims : tuple of str
        Its dimensions, in order.
    dtype : {"f", "i", "U"}
        Its numpy kind: float, signed integer or text (str or object arrays).
    meaning : str
        What it holds, in a few words.
    padded : bool
        Whether its values past ``length`` (or ``n_samples``) are padding: NaN for floats, -1 for labels.

    Examples
    --------
    >>> from rnnscope.schema import VARIABLES
    >>> spec = VARIABLES["label"]
    >>> spec.dims, spec.dtype, spec.padded
    (('event', 'time'), 'i', True)
    >>> spec.meaning
    'ground-truth class index; -1 unknown or padded'
    """

    name: str
    dims: tuple[str, ...]
    dtype: str  # numpy kind: "f" float, "i" signed integer, "U" text (str or object arrays)
    meaning: str
    padded: bool = False  # NaN (floats) or -1 (labels) past ``length`` / ``n_samples``


def _spec(name, dims, dtype, meaning, padded=False):
    return VariableSpec(name, tuple(dims), dtype, meaning, padded)


VARIABLES: dict[str, VariableSpec] = {
    s.name: s
    for s in [
        # records
        _spec("waveform", ("event", "sample"), "f", "raw signal, NaN past n_samples", True),
        _spec("sample_label", ("event", "sample"), "i", "class index per sample; -1 unknown or padded", True),
        # features
        _spec("features", ("event", "time", "feature"), "f", "model input, raw (the model normalises)", True),
        _spec("spectrogram", ("event", "time", "freq"), "f", "log power per frame (same framing)", True),
        _spec("label", ("event", "time"), "i", "ground-truth class index; -1 unknown or padded", True),
        # run: states
        _spec("h", STATE_DIMS, "f", "unit output (LSTM m_t, GRU h_t; before any residual shortcut)", True),
        _spec("c", STATE_DIMS, "f", "LSTM cell state", True),
        _spec("input_gate", STATE_DIMS, "f", "LSTM input gate i", True),
        _spec("forget_gate", STATE_DIMS, "f", "LSTM forget gate f", True),
        _spec("output_gate", STATE_DIMS, "f", "LSTM output gate o", True),
        _spec("cell_input", STATE_DIMS, "f", "LSTM candidate g", True),
        _spec("update_gate", STATE_DIMS, "f", "GRU update gate z (h = (1-z) n + z h_prev)", True),
        _spec("reset_gate", STATE_DIMS, "f", "GRU reset gate r", True),
        _spec("candidate", STATE_DIMS, "f", "GRU candidate n", True),
        _spec("prob", ("event", "time", "class_name"), "f", "softmax output", True),
        _spec("pred", ("event", "time"), "i", "argmax class; -1 where padded or prob is NaN", True),
        # summaries stored at capture time (small; widgets and analyses read them without a full pass)
        _spec("summary_heat", ("class_name", "unit", "layer"), "f",
              "segment-weighted heat: mean over the class's segments of the segment's mean |h|"),
        _spec("summary_heat_frame", ("class_name", "unit", "layer"), "f", "mean |h| over all frames of the class"),
        _spec("summary_activity", ("unit", "layer"), "f", "mean |h| over all valid frames"),
        _spec("summary_min", ("variable", "layer"), "f", "smallest value of each captured variable"),
        _spec("summary_max", ("variable", "layer"), "f", "largest value of each captured variable"),
        _spec("summary_event_id", ("summary_event",), "U",
              "event_id of every record the summaries describe (they are used for exactly these records only)"),
        # attributions (rnnscope.experiments.attribution): one entry of ``target`` per explained value
        _spec("attribution", ("target", "lag", "feature"), "f",
              "input attribution of the target (a unit's variable or a class output at one frame) to each input "
              "frame (lag: frames before the target frame, 0 = the target frame) and feature; NaN before the "
              "record start"),
        _spec("target_value", ("target",), "f", "the target's value f(x)"),
        _spec("baseline_value", ("target",), "f", "the target's value at the baseline f(baseline)"),
        _spec("completeness_error", ("target",), "f",
              "|sum of the attributions - (f(x) - f(baseline))| / |f(x) - f(baseline)| (integrated gradients)"),
        _spec("ig_steps", ("target",), "i", "integrated-gradient steps the target took (0: another method)"),
        # per-unit numbers of the attribution and memory analyses (rnnscope.analysis)
        _spec("timescale_s", ("unit", "layer"), "f",
              "gate time constant: LSTM -dt / ln(mean forget gate), GRU -dt / ln(mean update gate)"),
        _spec("memory_s", ("unit", "layer"), "f", "lag (s) holding 90 % of the unit's attribution mass"),
        _spec("band_peak_hz", ("unit", "layer"), "f", "centre of the band holding most of the unit's attribution"),
        # segment table
        _spec("segment_event_id", ("segment",), "U",
              "event_id of the segment's record (never its position: isel/sel/concat of records keep it right)"),
        _spec("segment_class", ("segment",), "i", "class index of the segment"),
        _spec("segment_start", ("segment",), "f", "start time, s from the record start"),
        _spec("segment_end", ("segment",), "f", "end time, s from the record start"),
        _spec("segment_p", ("segment",), "f", "P arrival, s from the record start (NaN if none)"),
        _spec("segment_s", ("segment",), "f", "S arrival, s from the record start (NaN if none)"),
        *[_spec(*entry) for entry in _overview_entries()],  # the multiscale overview of long records (optional)
    ]
}

#: The internal variables each cell family exposes, in capture order.
STATE_VARIABLES: dict[str, tuple[str, ...]] = {
    "rnn": ("h",),
    "lstm": ("h", "c", "input_gate", "forget_gate", "output_gate", "cell_input"),
    "lazy_lstm": ("h", "c", "input_gate", "forget_gate", "output_gate", "cell_input"),
    "gru": ("h", "update_gate", "reset_gate", "candidate"),
}

#: The capture-time summaries and the record ids they describe (drop all of them together).
SUMMARY_VARIABLES = ("summary_heat", "summary_heat_frame", "summary_activity", "summary_min", "summary_max",
                     "summary_event_id")

#: The per-target values stored next to ``attribution``.
ATTRIBUTION_PER_TARGET = ("target_value", "baseline_value", "completeness_error", "ig_steps")
#: Coordinates on ``target`` of an attribution (:func:`rnnscope.experiments.attribution`): the record, frame, time
#: (s) and segment explained, and what was explained (a unit's variable in a layer, or a class output).
ATTRIBUTION_COORDS = ("target_event_id", "target_frame", "target_time", "target_segment", "target_segment_class",
                      "target_kind", "target_var", "target_layer", "target_layer_label", "target_unit",
                      "target_class")

SEGMENT_VARIABLES = ("segment_event_id", "segment_class", "segment_start", "segment_end", "segment_p", "segment_s")
#: Columns of :func:`segment_rows`, one per segment variable (times in s from the record start).
SEGMENT_ROW_COLUMNS = ("event_id", "class", "start", "end", "p", "s")

#: Coordinates on ``layer`` of runs captured from any ``nn.Module``: the module's name in ``named_modules()``, the
#: layer index inside it, the direction (``"forward"``/``"backward"``) and the valid units of the entry (modules of
#: different widths share the ``unit`` dimension, padded with NaN). ``layer_h_units`` counts the units of ``h``
#: when they differ (an LSTM with ``proj_size > 0``: ``h`` has ``proj_size`` units, ``c`` and the gates
#: ``layer_units``).
LAYER_COORDS = ("module", "module_layer", "direction", "layer_units", "layer_h_units")
