"""How units react to changes of the input: susceptibility at segment boundaries, onset and S-arrival detectors
(Titos & Garcia 2022, Section IV: "susceptibility"; onset behaviour).

Boundaries and the features' reach
----------------------------------
A frame's features come from a window centred on it (4 s with the paper's settings) and the deltas reach further,
so a change in the signal at a labelled boundary ``b`` (the first frame of a segment, the frame after its end, the
first frame at or after an S arrival) already changes the features of frames before ``b``, and keeps changing them
for frames after it (:func:`rnnscope.features.feature_reach`: up to 8 frames before and 7 after with the paper's
settings at 100 Hz). A causal model can therefore react *before* the labelled onset without seeing its input's
future. The windows around a boundary account for this reach, read from the run's ``attrs["feature_config"]`` and
``attrs["sampling_rate"]`` (``reach=None``): the window of ``b`` is

``b - max(k_before, before) <= t <= b + max(k, after)``

with ``(before, after)`` the reach of the whole feature vector (0 when the run does not say how its features were
made: then the window is the one of the older definitions) and ``k_before = k`` for :func:`susceptibility`, 0 for
:func:`detector_units`.
"""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .._validation import FROM_DATA, no_background_message, resolve_background
from . import _common as C
from ..features import feature_reach

__all__ = ["susceptibility", "detector_units"]

#: Default half-width (frames) of the window around a boundary: +-2 frames = +-1 s at the papers' 2 frames/s.
BOUNDARY_HALF_WIDTH = 2
#: Default distance (frames) from any boundary beyond which a frame is "stationary": 10 frames = 5 s.
STATIONARY_DISTANCE = 10


def _background(run, background, func):
    """``background`` (a class of the run or None), else (``"auto"``) the run's ``attrs["background"]``; a warning
    when nothing says which class it is (every segment is then an event)."""
    names = C.class_names(run)
    resolved = resolve_background(background, names, run.attrs, func=func)
    if resolved is None and isinstance(background, str) and background == FROM_DATA:
        message = no_background_message(func, "the run has no attrs['background']", names,
                                        "every segment counts as an event (its start is an onset)")
        warnings.warn(message, UserWarning, stacklevel=3)
    return resolved


def _boundaries(run, background):
    """Per record: onsets, ends (event segments) and every segment boundary, as frame indices inside (0, length)."""
    table = C.segment_table(run)
    names = C.require_labels(run, "the boundary analyses (susceptibility, detector_units)")
    bg = names.index(background) if background is not None and background in names else -1
    n_frames = C.lengths(run)
    onsets = {e: set() for e in range(run.sizes["event"])}
    ends = {e: set() for e in range(run.sizes["event"])}
    every = {e: set() for e in range(run.sizes["event"])}
    s_frames = {e: set() for e in range(run.sizes["event"])}
    if len(table):
        frame_s = table["frame_s"].to_numpy() if "frame_s" in table else np.full(len(table), -1)
        for e, cls, start, stop, fs in zip(table["event"].to_numpy(), table["class"].to_numpy(),
                                           table["frame_start"].to_numpy(), table["frame_stop"].to_numpy(), frame_s):
            e, start, stop, fs = int(e), int(start), int(stop), int(fs)
            n = int(n_frames[e])
            if stop <= start:
                continue
            for b in (start, stop):
                if 0 < b < n:
                    every[e].add(b)
            if int(cls) == bg:
                continue
            if 0 < start < n:
                onsets[e].add(start)
            if 0 < stop < n:
                ends[e].add(stop)
            if 0 < fs < n:
                s_frames[e].add(fs)
    return onsets, ends, every, s_frames


def _reach(run, reach, func) -> tuple[int, int]:
    """(before, after) frames: given, or from the run's feature configuration (0, 0 when it has none)."""
    if reach is None:
        config, rate = run.attrs.get("feature_config"), run.attrs.get("sampling_rate")
        if config is None or rate is None:
            return 0, 0
        return tuple(feature_reach(config, float(rate)))
    pair = (reach, reach) if isinstance(reach, (int, np.integer)) and not isinstance(reach, bool) else reach
    try:
        before, after = (int(v) for v in pair)
        ok = before >= 0 and after >= 0 and all(float(v) == int(v) for v in pair)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"The 'reach' parameter of {func} must be None (from the run's feature configuration), a "
                         f"number of frames >= 0 or a pair (before, after). Got {reach!r} instead.")
    return before, after


def _near(n, points, lo, hi):
    """Bool (n,) marking frames t with p + lo <= t <= p + hi for some p in points."""
    mask = np.zeros(n, dtype=bool)
    for p in points:
        mask[max(p + lo, 0) : max(min(p + hi + 1, n), 0)] = True
    return mask


def _deltas(run, var, positions, events):
    """Yield (event, t_index (m,), |dv| (m, unit, layer)) for frames 1..length-1, block by block."""
    previous, prev_event = None, None
    for block in C.iter_blocks(run, var, positions, events=events, labels=False):
        values = block.values.astype(np.float64)
        if block.t0 == 0 or prev_event != block.event:
            diff = np.abs(np.diff(values, axis=0))
            t = np.arange(1, values.shape[0]) + block.t0
        else:
            diff = np.abs(np.diff(np.concatenate([previous[None], values]), axis=0))
            t = np.arange(values.shape[0]) + block.t0
        previous, prev_event = values[-1], block.event
        yield block.event, t, diff


def susceptibility(
    run: xr.Dataset,
    var: str = "h",
    layer=None,
    *,
    k: int = BOUNDARY_HALF_WIDTH,
    far: int = STATIONARY_DISTANCE,
    background: str | None = "auto",
    reach=None,
) -> xr.Dataset:
    """How strongly units react at segment onsets and ends compared with stationary stretches.

    Definitions (valid frames only; ``dv[t] = |v[t] - v[t-1]|`` for ``t >= 1``, per unit; ``(before, after)`` the
    features' reach, see the module docstring):

    - boundaries: the first frame (onset) and the frame after the last one (end) of every labelled segment that is
      not of the ``background`` class (default: the run's ``attrs["background"]``; None: every segment), strictly
      inside the record
      (frame 0 and ``length`` are record edges, not boundaries);
    - the window of a boundary ``b``: ``b - max(k, before) <= t <= b + max(k, after)`` (``+-k`` without reach);
    - ``delta_onset`` / ``delta_end``: mean ``dv`` over frames in the window of an onset / end;
    - ``delta_stationary``: mean ``dv`` over frames outside ``[b - max(far, before), b + max(far, after)]`` for
      every segment boundary ``b`` (of any class);
    - ``unit_susceptibility = delta_boundary / delta_stationary`` with ``delta_boundary`` the mean ``dv`` in the
      window of any onset or end (also ``unit_susceptibility_onset``, ``unit_susceptibility_end``);
    - per layer, ``susceptibility = mean_u delta_boundary / mean_u delta_stationary`` (a ratio of unit averages,
      robust to units that never move).

    Parameters
    ----------
    run : xarray.Dataset
    var : str
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.
    k : int
        Half-width of the boundary window, frames (default 2 = +-1 s at 2 frames/s), widened to the reach.
    far : int
        Minimum distance to any boundary of a stationary frame, frames (default 10 = 5 s), widened to the reach.
    background : str or None
        Class whose segments are background rather than events. ``"auto"`` (default): the run's
        ``attrs["background"]`` (set by the readers, carried by features, models and capture), with a warning when
        the run does not say.
    reach : None, int or (int, int)
        Frames before / after a boundary whose features can show it. None: from the run's
        ``attrs["feature_config"]`` and ``attrs["sampling_rate"]`` (:func:`rnnscope.features.feature_reach`; 0 when
        absent); 0: the plain ``+-k`` window.

    Returns
    -------
    xarray.Dataset
        ``delta_onset``, ``delta_end``, ``delta_stationary``, ``unit_susceptibility``,
        ``unit_susceptibility_onset``, ``unit_susceptibility_end`` (unit, layer); ``susceptibility`` (layer);
        ``n_onset_frames``, ``n_end_frames``, ``n_stationary_frames``; ``attrs["reach"]`` (before, after). No
        boundary or no stationary frame gives NaN with an :class:`EmptyClassWarning`.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()  # short records: a narrow reach leaves stationary frames
    >>> sus = analysis.susceptibility(run, k=1, far=2, reach=1)
    >>> run.attrs["background"], sus.attrs["background"]  # the run says which class is background
    ('SIL', 'SIL')
    >>> sus["unit_susceptibility"].dims, sus["susceptibility"].dims
    (('unit', 'layer'), ('layer',))
    """
    func = "susceptibility"
    run = C.as_run(run, func)
    C.check_var(run, var, func)
    positions = C.check_layers(run, layer, func)
    k = C.check_int(k, name="k", func=func)
    far = C.check_int(far, name="far", func=func)
    background = _background(run, background, func)
    before, after = _reach(run, reach, func)
    onsets, ends, every, _ = _boundaries(run, background)
    n_frames = C.lengths(run)
    shape = (run.sizes["unit"], len(positions))
    sums = {name: np.zeros(shape) for name in ("onset", "end", "boundary", "stationary")}
    counts = {name: 0 for name in sums}
    masks = {}
    for event, t, diff in _deltas(run, var, positions, None):
        if event not in masks:
            n = int(n_frames[event])
            lo, hi = -max(k, before), max(k, after)
            on, en = _near(n, onsets[event], lo, hi), _near(n, ends[event], lo, hi)
            stationary = ~_near(n, every[event], -max(far, before), max(far, after))
            masks = {event: {"onset": on, "end": en, "boundary": on | en, "stationary": stationary}}
        for name, mask in masks[event].items():
            rows = mask[t]
            if rows.any():
                sums[name] += diff[rows].sum(0)
                counts[name] += int(rows.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        means = {name: sums[name] / counts[name] if counts[name] else np.full(shape, np.nan) for name in sums}
        unit_ratio = means["boundary"] / means["stationary"]
        onset_ratio = means["onset"] / means["stationary"]
        end_ratio = means["end"] / means["stationary"]
        per_layer = means["boundary"].mean(0) / means["stationary"].mean(0)
    empty = [name for name in ("onset", "end", "stationary") if counts[name] == 0]
    if empty:
        warnings.warn(f"{func}: no {' / '.join(empty)} frames in this run (k={k}, far={far}); the corresponding "
                      "values are NaN.", C.EmptyClassWarning, stacklevel=2)
    dims = ("unit", "layer")
    out = xr.Dataset(
        {
            "delta_onset": (dims, means["onset"]),
            "delta_end": (dims, means["end"]),
            "delta_stationary": (dims, means["stationary"]),
            "unit_susceptibility": (dims, unit_ratio),
            "unit_susceptibility_onset": (dims, onset_ratio),
            "unit_susceptibility_end": (dims, end_ratio),
            "susceptibility": (("layer",), per_layer),
            "n_onset_frames": counts["onset"],
            "n_end_frames": counts["end"],
            "n_stationary_frames": counts["stationary"],
        },
        coords={"unit": C.unit_ids(run), "layer": C.layer_ids(run, positions)},
    )
    out.attrs.update(variable=var, k=k, far=far, background=str(background), reach=[before, after],
                     definition="mean |dv| in [b - max(k, before), b + max(k, after)] of segment onsets/ends b "
                                "divided by mean |dv| farther than max(far, reach) frames from any boundary")
    return out


def _auc_counts(pos_sorted, neg):
    """Sum over negatives of (#positives > neg + 0.5 #positives == neg), per column (unit)."""
    n_pos = pos_sorted.shape[0]
    total = np.zeros(neg.shape[1])
    for j in range(neg.shape[1]):
        left = np.searchsorted(pos_sorted[:, j], neg[:, j], side="left")
        right = np.searchsorted(pos_sorted[:, j], neg[:, j], side="right")
        total[j] = (n_pos - right).sum() + 0.5 * (right - left).sum()
    return total


def detector_units(
    run: xr.Dataset,
    var: str = "h",
    layer=None,
    *,
    k: int = BOUNDARY_HALF_WIDTH,
    background: str | None = "auto",
    reach=None,
) -> xr.Dataset:
    """How well each unit's activity change detects segment onsets and S arrivals (ROC AUC per unit).

    Definition: the score of frame ``t >= 1`` is ``|v[t] - v[t-1]|`` of the unit. Positive frames for
    ``auc_onset``: ``onset - before <= t <= onset + max(k, after)`` for every onset of a non-``background``
    segment strictly inside its record, with ``(before, after)`` the features' reach (module docstring): the model
    is causal, so it reacts after its *input* changes, and its input changes up to ``before`` frames before the
    labelled onset (without reach: ``onset <= t <= onset + k``); for ``auc_s`` the same window around ``s``, the
    first frame whose centre is at or after the segment's S arrival (``segment_s``). Negatives: every other valid
    frame ``t >= 1``. The AUC is the Mann-Whitney statistic ``P(score_pos > score_neg) + 0.5 P(=)``, equal to
    :func:`sklearn.metrics.roc_auc_score`, computed in two streaming passes (positives kept, negatives counted
    block by block), so larger-than-memory runs work. 0.5: no better than chance.

    Parameters
    ----------
    run : xarray.Dataset
    var : str
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.
    k : int
        Frames after the onset / arrival counted as positive (default 2 = 1 s at 2 frames/s), widened to the reach.
    background : str or None
        Class whose segments are not events (their starts are not onsets). ``"auto"`` (default): the run's
        ``attrs["background"]``, with a warning when the run does not say; None: every segment is an event.
    reach : None, int or (int, int)
        Frames before / after a boundary whose features can show it. None: from the run's
        ``attrs["feature_config"]`` and ``attrs["sampling_rate"]`` (:func:`rnnscope.features.feature_reach`; 0 when
        absent); 0: the plain ``[b, b + k]`` window.

    Returns
    -------
    xarray.Dataset
        ``auc_onset``, ``auc_s`` (unit, layer); ``n_onset_frames``, ``n_s_frames``; ``attrs["reach"]``. Without
        any S arrival (or onset), the AUC is NaN with an :class:`EmptyClassWarning`.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> analysis.detector_units(examples.toy_run()).attrs["background"]
    'SIL'
    >>> det = analysis.detector_units(examples.toy_run(), k=1)
    >>> det["auc_onset"].dims
    ('unit', 'layer')
    >>> bool(((det["auc_onset"] >= 0) & (det["auc_onset"] <= 1)).all())
    True
    """
    func = "detector_units"
    run = C.as_run(run, func)
    C.check_var(run, var, func)
    positions = C.check_layers(run, layer, func)
    k = C.check_int(k, name="k", func=func)
    background = _background(run, background, func)
    before, after = _reach(run, reach, func)
    onsets, _, _, s_frames = _boundaries(run, background)
    n_frames = C.lengths(run)
    n_units, n_layers = run.sizes["unit"], len(positions)
    kinds = {"onset": onsets, "s": s_frames}
    masks = {kind: {e: _near(int(n_frames[e]), points[e], -before, max(k, after)) for e in points}
             for kind, points in kinds.items()}
    # pass 1: positive scores
    positives = {kind: [] for kind in kinds}
    events_with = sorted({e for kind in kinds for e in kinds[kind] if kinds[kind][e]})
    for event, t, diff in _deltas(run, var, positions, events_with):
        for kind in kinds:
            rows = masks[kind][event][t]
            if rows.any():
                positives[kind].append(diff[rows].reshape(-1, n_units * n_layers))
    auc = {}
    n_pos = {}
    for kind in kinds:
        pos = np.concatenate(positives[kind]) if positives[kind] else np.zeros((0, n_units * n_layers))
        n_pos[kind] = pos.shape[0]
        auc[kind] = (np.sort(pos, axis=0), np.zeros(n_units * n_layers), [0])
    # pass 2: negatives
    if any(n_pos.values()):
        for event, t, diff in _deltas(run, var, positions, None):
            flat = diff.reshape(diff.shape[0], -1)
            for kind in kinds:
                if not n_pos[kind]:
                    continue
                neg = flat[~masks[kind][event][t]]
                if neg.shape[0]:
                    pos_sorted, total, n_neg = auc[kind]
                    total += _auc_counts(pos_sorted, neg)
                    n_neg[0] += neg.shape[0]
    result = {}
    for kind in kinds:
        _, total, n_neg = auc[kind]
        if n_pos[kind] and n_neg[0]:
            result[kind] = (total / (n_pos[kind] * n_neg[0])).reshape(n_units, n_layers)
        else:
            result[kind] = np.full((n_units, n_layers), np.nan)
    empty = [kind for kind in kinds if not n_pos[kind]]
    if empty:
        warnings.warn(f"{func}: the run has no {' / '.join('onset' if e == 'onset' else 'S-arrival' for e in empty)} "
                      "frames; the corresponding AUC is NaN.", C.EmptyClassWarning, stacklevel=2)
    out = xr.Dataset(
        {
            "auc_onset": (("unit", "layer"), result["onset"]),
            "auc_s": (("unit", "layer"), result["s"]),
            "n_onset_frames": n_pos["onset"],
            "n_s_frames": n_pos["s"],
        },
        coords={"unit": C.unit_ids(run), "layer": C.layer_ids(run, positions)},
    )
    out.attrs.update(variable=var, k=k, background=str(background), reach=[before, after],
                     definition="ROC AUC of |v[t] - v[t-1]| for frames [b - before, b + max(k, after)] around "
                                "onsets (resp. S arrivals) b against every other valid frame")
    return out
