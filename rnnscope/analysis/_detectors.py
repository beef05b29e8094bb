"""Units that detect event onsets and S arrivals: one score per window, ROC AUC against windows away from any
onset, with a chance level by permutation (Titos & Garcia 2022: "LSTMs detect emergent onsets early").

A unit that detects an onset changes once, somewhere in the frames its input can show the onset (the features'
reach, :mod:`rnnscope.analysis._dynamics`), and then stays where it went. Scoring every frame of that window would
count the one frame where it changes as a hit and every other frame of the window as a miss; a window scores
instead by the largest change inside it, and is compared with windows of the same length that contain no onset.
"""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from . import _common as C
from ._dynamics import BOUNDARY_HALF_WIDTH, _background, _boundaries, _deltas, _near, _reach
from ._null import check_null, null_attrs, null_variables, permuted_labels

__all__ = ["detector_units"]

_ONSET, _S, _NEGATIVE = 0, 1, 2


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in ``mask`` (stop exclusive)."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _windows(n: int, onsets, arrivals, before: int, after: int) -> tuple[np.ndarray, np.ndarray]:
    """First frame and kind of every scored window of one record of ``n`` frames.

    Onset window of ``b``: frames ``b - before .. b + after``, kept when it lies inside frames ``1 .. n - 1``
    (frame 0 has no change). S window: the same around an S arrival, kept when it also overlaps no onset window.
    Negative windows: consecutive windows of the same length tiling the frames ``>= 1`` that are in no onset or
    S window (the remainder of each stretch is left out).
    """
    size = before + after + 1
    near_onset = _near(n, onsets, -before, after)
    near_s = _near(n, arrivals, -before, after)
    starts, kinds = [], []
    for b in sorted(onsets):
        if b - before >= 1 and b + after <= n - 1:
            starts.append(b - before)
            kinds.append(_ONSET)
    for b in sorted(arrivals):
        if b - before >= 1 and b + after <= n - 1 and not near_onset[b - before : b + after + 1].any():
            starts.append(b - before)
            kinds.append(_S)
    free = ~(near_onset | near_s)
    free[:1] = False
    for a, z in _runs(free):
        for t0 in range(int(a), int(z) - size + 1, size):
            starts.append(t0)
            kinds.append(_NEGATIVE)
    return np.asarray(starts, dtype=np.int64), np.asarray(kinds, dtype=np.int64)


def _window_maxima(run, var, positions, windows: dict, size: int) -> np.ndarray:
    """The largest ``|v[t] - v[t-1]|`` inside every window (window, unit x layer), reading records block by block."""
    offsets, total = {}, 0
    for e in sorted(windows):
        offsets[e] = total
        total += windows[e][0].size
    out = np.full((total, run.sizes["unit"] * len(positions)), -np.inf)
    events = [e for e in sorted(windows) if windows[e][0].size]
    for event, t, diff in _deltas(run, var, positions, events):
        if not t.size:
            continue
        starts = windows[event][0]
        lo, hi = int(t[0]), int(t[-1])
        flat = diff.reshape(diff.shape[0], -1)
        for i in np.flatnonzero((starts <= hi) & (starts + size - 1 >= lo)):
            a, b = max(int(starts[i]), lo) - lo, min(int(starts[i]) + size - 1, hi) - lo + 1
            row = offsets[event] + i
            out[row] = np.maximum(out[row], flat[a:b].max(0))
    return out


def _auc(ranks: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC per column from the ranks of positives and negatives (ties: half): (..., column) for
    ``positive`` (..., window) boolean rows."""
    n_pos = positive.sum(-1, keepdims=True).astype(np.float64)
    n_neg = positive.shape[-1] - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return (positive.astype(np.float64) @ ranks - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def detector_units(
    run: xr.Dataset,
    *,
    var: str = "h",
    layer=None,
    half_width: int = BOUNDARY_HALF_WIDTH,
    background: str | None = "auto",
    reach=None,
    null: int | None = None,
    seed: int = 0,
    null_within: str = "record",
) -> xr.Dataset:
    """How well each unit detects segment onsets and S arrivals: ROC AUC of one score per window.

    Definitions (valid frames; ``dv[t] = |v[t] - v[t-1]|`` for ``t >= 1``; ``(before, after)`` the features'
    reach, :mod:`rnnscope.analysis._dynamics`; ``a = max(half_width, after)``; every window has
    ``L = before + a + 1`` frames):

    - onset windows: frames ``b - before .. b + a`` around the onset ``b`` of every segment that is not of the
      ``background`` class, strictly inside its record; the model is causal, so it reacts after its *input*
      changes, and its input changes up to ``before`` frames before the labelled onset. A window that would reach
      frame 0 or past the record is left out (``n_onset_windows`` of ``n_onsets`` are scored);
    - S windows: the same around ``s``, the first frame whose centre is at or after a segment's S arrival
      (``segment_s``), scored only when the window overlaps no onset window (an S arrival 1-6 frames after the P
      arrival is inside the onset window, where an onset unit fires too): ``n_s_windows`` of ``n_s_arrivals`` were
      usable;
    - negative windows: consecutive windows of ``L`` frames tiling the frames that are in no onset or S window
      (``n_negative_windows``; event ends count as negatives: a unit that reacts to every change scores lower than
      an onset detector);
    - the score of a window is the largest ``dv`` inside it; ``auc_onset`` (``auc_s``) is the probability that
      an onset (S) window scores higher than a negative window, ties counting half (Mann-Whitney, equal to
      :func:`sklearn.metrics.roc_auc_score` on the window scores).

    An ideal onset unit, which steps once when its input's energy rises and stays there, scores 1; a unit of
    noise scores 0.5 (its largest change in a window has the same distribution in every window), the chance
    level. ``null=N`` permutes which windows of each record are onset (S) windows ``N`` times (seeded) and gives
    ``auc_onset_null_mean``, ``auc_onset_null_q95`` and ``auc_onset_p`` (likewise for ``auc_s``).

    Records are read block by block (window maxima kept), so larger-than-memory runs work.

    Parameters
    ----------
    run : xarray.Dataset
    var : str
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.
    half_width : int
        Frames after the onset / arrival inside its window (default 2 = 1 s at 2 frames/s), widened to the reach.
    background : str or None
        Class whose segments are not events (their starts are not onsets). ``"auto"`` (default): the run's
        ``attrs["background"]``, with a warning when the run does not say; None: every segment is an event.
    reach : None, int or (int, int)
        Frames before / after a boundary whose features can show it. None: from the run's
        ``attrs["feature_config"]`` and ``attrs["sampling_rate"]`` (:func:`rnnscope.features.feature_reach`); a run
        that does not say how its features were made (features from :func:`rnnscope.data.from_features`) gets 0
        with a warning. 0: the plain ``[b, b + half_width]`` window.
    null : int, optional
        Number of permutations of the window labels (None: no chance level).
    seed : int
        Seed of the permutations.
    null_within : {"record", "run"}
        Permute the labels among the windows of each record (default) or among all windows.

    Returns
    -------
    xarray.Dataset
        ``auc_onset``, ``auc_s`` (unit, layer); ``n_onsets``, ``n_onset_windows``, ``n_s_arrivals``,
        ``n_s_windows``, ``n_negative_windows``; ``attrs["reach"]`` and ``attrs["window"]`` (``L``). Without a
        scored onset (S) window or a negative window, the AUC is NaN with an :class:`EmptyClassWarning`.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()  # records of 11 to 18 frames: too short for the paper's 16-frame windows
    >>> analysis.detector_units(run).attrs["window"], analysis.detector_units(run).attrs["reach"]
    (16, [8, 7])
    >>> det = analysis.detector_units(run, half_width=1, reach=0)
    >>> det["auc_onset"].dims, det.attrs["background"], det.attrs["window"]
    (('unit', 'layer'), 'SIL', 2)
    >>> bool(((det["auc_onset"] >= 0) & (det["auc_onset"] <= 1)).all())
    True
    >>> int(det["n_onsets"]) >= int(det["n_onset_windows"]) > 0
    True
    """
    func = "detector_units"
    run = C.as_run(run, func)
    C.check_var(run, var, func)
    positions = C.check_layers(run, layer, func)
    half_width = C.check_int(half_width, name="half_width", func=func)
    null = check_null(null, null_within, seed, func)
    background = _background(run, background, func)
    before, reach_after = _reach(run, reach, func)
    after = max(half_width, reach_after)
    size = before + after + 1
    onsets, _, _, s_frames = _boundaries(run, background)
    n_frames = C.lengths(run)
    windows = {e: _windows(int(n_frames[e]), onsets[e], s_frames[e], before, after) for e in range(run.sizes["event"])}
    kinds = np.concatenate([windows[e][1] for e in sorted(windows)]) if windows else np.zeros(0, np.int64)
    groups = np.concatenate([np.full(windows[e][1].size, e) for e in sorted(windows)]) if windows else kinds
    scores = _window_maxima(run, var, positions, windows, size)
    n_units, n_layers = run.sizes["unit"], len(positions)
    counts = {"n_onsets": sum(len(v) for v in onsets.values()), "n_onset_windows": int((kinds == _ONSET).sum()),
              "n_s_arrivals": sum(len(v) for v in s_frames.values()), "n_s_windows": int((kinds == _S).sum()),
              "n_negative_windows": int((kinds == _NEGATIVE).sum())}
    out = xr.Dataset(coords={"unit": C.unit_ids(run), "layer": C.layer_ids(run, positions)})
    rng = np.random.default_rng(seed)
    empty = []
    for name, kind in (("auc_onset", _ONSET), ("auc_s", _S)):
        rows = (kinds == kind) | (kinds == _NEGATIVE)
        positive = kinds[rows] == kind
        if not positive.any() or positive.all():
            empty.append(name)
            auc, ranks = np.full(n_units * n_layers, np.nan), None
        else:
            from scipy.stats import rankdata

            ranks = rankdata(scores[rows], axis=0)  # ties share their mean rank; NaN (padded units) propagates
            auc = _auc(ranks, positive)
        out[name] = (("unit", "layer"), auc.reshape(n_units, n_layers))
        if null is not None:
            if ranks is None:
                null_auc = np.full((null, n_units * n_layers), np.nan)
            else:
                labels = permuted_labels(positive.astype(np.int64), groups[rows], null, rng, within=null_within,
                                         func=func)
                null_auc = _auc(ranks, labels == 1)
            for key, (d, v, attrs) in null_variables(name, ("unit", "layer"), auc.reshape(n_units, n_layers),
                                                     null_auc.reshape(null, n_units, n_layers)).items():
                out[key] = (d, v, attrs)
    for key, value in counts.items():
        out[key] = value
    if empty:
        what = {"auc_onset": "onset" if not counts["n_onsets"] else
                f"scored onset window ({counts['n_onset_windows']} of {counts['n_onsets']} onsets; a window must lie "
                "inside its record)",
                "auc_s": "S arrival" if not counts["n_s_arrivals"] else
                f"usable S-arrival window ({counts['n_s_windows']} of {counts['n_s_arrivals']} S arrivals; an S "
                "window must lie inside its record and overlap no onset window)"}
        message = " / ".join(what[name] for name in empty)
        if not counts["n_negative_windows"]:
            message = f"negative window (every frame is within {size} frames of an onset or S arrival)"
        warnings.warn(f"{func}: the run has no {message}; the corresponding AUC is NaN.", C.EmptyClassWarning,
                      stacklevel=2)
    out.attrs.update(variable=var, half_width=half_width, background=str(background), reach=[before, reach_after],
                     window=int(size),
                     definition="ROC AUC of the largest |v[t] - v[t-1]| inside windows "
                                "[b - before, b + max(half_width, after)] "
                                "around onsets (resp. S arrivals overlapping no onset window) b, against windows of "
                                "the same length away from any onset or S arrival")
    if null is not None:
        out.attrs.update(null_attrs(null, null_within, seed, "window labels (onset, S or negative)"))
    return out
