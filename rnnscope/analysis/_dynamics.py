"""How units react to changes of the input: susceptibility at segment boundaries (Titos & Garcia 2022, Section IV:
"susceptibility"), and the boundaries, windows and reach that :mod:`rnnscope.analysis._detectors` shares.

Boundaries and the features' reach
----------------------------------
A frame's features come from a window centred on it (4 s with the paper's settings) and the deltas reach further,
so a change in the signal at a labelled boundary ``b`` (the first frame of a segment, the frame after its end, the
first frame at or after an S arrival) already changes the features of frames before ``b``, and keeps changing them
for frames after it (:func:`rnnscope.features.feature_reach`: up to 8 frames before and 7 after with the paper's
settings at 100 Hz). A causal model can therefore react *before* the labelled onset without seeing its input's
future. The windows around a boundary account for this reach, read from the run's ``attrs["feature_config"]`` and
``attrs["sampling_rate"]`` (``reach=None``): the window of ``b`` is

``b - max(w_before, before) <= t <= b + max(half_width, after)``

with ``(before, after)`` the reach of the whole feature vector and ``w_before = half_width`` for
:func:`susceptibility`, 0 for :func:`~rnnscope.analysis.detector_units`. A run that does not say how its features
were made (no feature configuration, or features from :func:`rnnscope.data.from_features`) gets reach 0 with a
warning: pass ``reach=(before, after)``.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import xarray as xr

from .._validation import FROM_DATA, no_background_message, resolve_background
from ..errors import NoBackgroundWarning, RnnscopeWarning
from ..features import feature_reach
from . import _common as C

__all__ = ["susceptibility"]

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
        warnings.warn(message, NoBackgroundWarning, stacklevel=3)
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
        for e, cls, start, stop, fs in zip(
            table["event"].to_numpy(),
            table["class"].to_numpy(),
            table["frame_start"].to_numpy(),
            table["frame_stop"].to_numpy(),
            frame_s,
            strict=True,
        ):
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
    """(before, after) frames: given, or from the run's feature configuration; (0, 0) with a warning when the run
    does not say how its features were made (no configuration, or features computed elsewhere)."""
    if reach is None:
        config, rate = run.attrs.get("feature_config"), run.attrs.get("sampling_rate")
        parsed = config
        if isinstance(config, str):
            try:
                parsed = json.loads(config)
            except json.JSONDecodeError:
                parsed = None
        if config is None:
            why = "it has no attrs['feature_config']"
        elif not isinstance(parsed, dict) or parsed.get("preset") == "external" or "window_s" not in parsed:
            why = "its features were computed elsewhere (rnnscope.data.from_features), with an unknown window"
        elif rate is None:
            why = "it has no attrs['sampling_rate']"
        else:
            before, after = feature_reach(config, sampling_rate=float(rate))
            return before, after
        warnings.warn(f"{func}: the run does not say how far its features reach around a boundary ({why}), so the "
                      "windows assume they reach no frame before or after it (reach=0). Pass reach=(before, after) "
                      "in frames to say how far they reach (rnnscope.features.feature_reach(feature_config, "
                      "sampling_rate=...) computes it for a window and deltas: (8, 7) for the paper's features at 100 "
                      "Hz), or reach=0 to confirm none.", RnnscopeWarning, stacklevel=3)
        return 0, 0
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
    *,
    var: str = "h",
    layer=None,
    half_width: int = BOUNDARY_HALF_WIDTH,
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
    - the window of a boundary ``b``: ``b - max(half_width, before) <= t <= b + max(half_width, after)``
      (``+-half_width`` without reach);
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
    half_width : int
        Half-width of the boundary window, frames (default 2 = +-1 s at 2 frames/s), widened to the reach.
    far : int
        Minimum distance to any boundary of a stationary frame, frames (default 10 = 5 s), widened to the reach.
    background : str or None
        Class whose segments are background rather than events. ``"auto"`` (default): the run's
        ``attrs["background"]`` (set by the readers, carried by features, models and capture), with a warning when
        the run does not say.
    reach : None, int or (int, int)
        Frames before / after a boundary whose features can show it. None: from the run's
        ``attrs["feature_config"]`` and ``attrs["sampling_rate"]`` (:func:`rnnscope.features.feature_reach`; 0 with
        a warning when the run does not say how its features were made); 0: the plain ``+-half_width`` window.

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
    >>> sus = analysis.susceptibility(run, half_width=1, far=2, reach=1)
    >>> run.attrs["background"], sus.attrs["background"]  # the run says which class is background
    ('SIL', 'SIL')
    >>> sus["unit_susceptibility"].dims, sus["susceptibility"].dims
    (('unit', 'layer'), ('layer',))
    """
    func = "susceptibility"
    run = C.as_run(run, func)
    C.check_var(run, var, func)
    positions = C.check_layers(run, layer, func)
    half_width = C.check_int(half_width, name="half_width", func=func)
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
            lo, hi = -max(half_width, before), max(half_width, after)
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
        warnings.warn(f"{func}: no {' / '.join(empty)} frames in this run (half_width={half_width}, far={far}); the "
                      "corresponding values are NaN.", C.EmptyClassWarning, stacklevel=2)
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
    out.attrs.update(variable=var, half_width=half_width, far=far, background=str(background),
                     reach=[before, after],
                     definition="mean |dv| in [b - max(half_width, before), b + max(half_width, after)] of segment "
                                "onsets/ends b "
                                "divided by mean |dv| farther than max(far, reach) frames from any boundary")
    return out


