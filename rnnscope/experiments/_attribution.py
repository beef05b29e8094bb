"""Input attribution of recurrent models: why a unit (or a class output) takes its value at a frame.

:func:`attribution` explains a target (:mod:`._attribution_targets`) at chosen frames (:mod:`._attribution_frames`)
by the model's input, frame by frame and feature by feature, with Captum's algorithms over a forward function
rnnscope supplies (the methods belong to Captum, the recurrent path and the bookkeeping to rnnscope):

- ``"integrated_gradients"`` (Sundararajan et al. 2017): the path integral of the gradient from the baseline to
  the input, its ``steps`` Gauss-Legendre points evaluated as one batch (split into chunks only to bound memory).
  For an :class:`~rnnscope.models.RNNClassifier` on the CPU (every layer kind), the input's gradient along the
  path is computed by hand, without autograd (:func:`rnnscope.models._input_gradient.path_input_gradient`: the
  first layer's input projection once per record, the points summed before the input's gradient GEMM; the same
  numbers as Captum's IntegratedGradients to float rounding); elsewhere Captum's IntegratedGradients over
  autograd. Completeness (the attributions sum to ``f(x) - f(baseline)``) is checked for every target and reported
  (``completeness_error``); a :class:`~rnnscope.errors.CompletenessWarning` names the targets missing it by more
  than ``tolerance``;
- ``"gradient_x_input"``: ``(x - baseline) * df/dx`` at the input (Captum's InputXGradient; with
  ``baseline="zeros"`` the classic gradient x input);
- ``"occlusion"``: the drop of the target when a patch of ``patch = (frames, bands)`` is replaced by the
  baseline (Captum's Occlusion), shared equally among the patch's elements (so a patch's elements sum to its drop);
  for rnnscope features a patch covers the same bands in the static, delta and delta-delta parts. No gradient.

The input is given to Captum as its deviation from the baseline, so every method works in the baseline's frame.
Gradients need autograd through the recurrent layers in eval mode: on CUDA (where cuDNN refuses an RNN's backward
outside training) every recurrent layer runs its exact step loop (:func:`rnnscope.models.unrolled`, same numbers).

An :class:`~rnnscope.models.RNNClassifier` is causal: frame ``t`` is explained by the window of frames
``[t - max_lag, t]`` (from the record start when ``max_lag`` is None), the recurrent state at the window's start
held as the record left it; a day-long record is walked window by window, never held as a whole in autograd.
Any ``nn.Module`` is explained over its whole input (bidirectional layers read frames after the target: negative
lags).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
import xarray as xr

from .._device import resolve_device
from .._validation import check_choice, check_positive
from ..errors import AttributionError, CompletenessWarning
from ..models._unrolled import unrolled
from ..schema import SCHEMA_VERSION, event_ids, plain
from ._attribution_frames import StateCursor, frame_rows, target_series
from ._attribution_result import ResultSink, feature_coords, module_layout, reach_attrs
from ._attribution_targets import ClassifierForward, ModuleForward, resolve_targets

__all__ = ["attribution", "attributor", "METHODS"]

#: The attribution methods (Captum's IntegratedGradients, InputXGradient, Occlusion).
METHODS = ("integrated_gradients", "gradient_x_input", "occlusion")
#: Elements of activations one chunk of integrated-gradient steps may hold (about 1 GB of float32).
_BUDGET = 2 ** 28


def _check_args(method, steps, max_steps, baseline, max_lag, batch_size, tolerance, patch, func):
    check_choice(method, METHODS, name="method", func=func)
    check_positive(steps, name="steps", func=func, integer=True)
    check_positive(max_steps, name="max_steps", func=func, integer=True)
    check_positive(batch_size, name="batch_size", func=func, integer=True)
    check_positive(tolerance, name="tolerance", func=func)
    if max_lag is not None:
        check_positive(max_lag, name="max_lag", func=func, integer=True, allow_zero=True)
    if not (isinstance(baseline, str) and baseline in ("zeros", "mean")) and not isinstance(
            baseline, (np.ndarray, torch.Tensor, list, tuple, int, float)):
        raise AttributionError(f"The 'baseline' parameter of {func} must be 'zeros', 'mean' or an array of one "
                               f"value per feature. Got {baseline!r} instead.")
    if len(tuple(patch)) != 2 or any(isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1
                                     for p in patch):
        raise AttributionError(f"The 'patch' parameter of {func} must be (frames, bands), two positive integers. "
                               f"Got {patch!r} instead.")


def attribution(model, data, *, target, frames="peak", method: str = "integrated_gradients", steps: int = 32,
                max_steps: int = 256, baseline="mean", layer=None, var: str = "h", direction: str | None = None,
                class_output: str = "logit",
                max_lag: int | None = None, shift: int = 0, classes=None, patch=(4, 1), batch_size: int = 32,
                store=None, overwrite: bool = False, device="auto", unroll: bool | None = None,
                progress: bool = True, tolerance: float = 0.01, sampling_rate: float | None = None,
                time_axis: int | None = None, class_names: Sequence[str] | None = None,
                output_fn: Callable | None = None) -> xr.Dataset:
    """Attribute a unit's (or a class's) value at chosen frames to the input, frame by frame and feature by feature.

    See the module documentation for the methods and the windows.

    Parameters
    ----------
    model : RNNClassifier or torch.nn.Module
        An rnnscope classifier (on a features Dataset), or any module with recurrent layers (on what its forward
        takes, as for :func:`rnnscope.capture`: a tensor or array with batch first, or a tuple whose first element
        is attributed and the others passed along).
    data : xarray.Dataset, tensor, array or tuple
        Features (or a run) for a classifier; the model's input otherwise.
    target : int, list of int, str or dict
        A unit id (or several, of one layer) with ``layer=``, ``var=``, ``direction=``; a class name with
        ``class_output=``; or a dict ``{"unit": 37, "layer": 0, "var": "c"}`` /
        ``{"class": "LP", "class_output": "prob"}``.
    frames : "peak", "onset", "all", float or (float, float)
        Each non-background segment's (``classes=`` to choose) frame where the target is largest (``|value|`` for
        a unit) or its labelled onset frame (moved by ``shift`` frames; the features reach frames around it:
        ``attrs["reach_before"]`` frames before an input frame already see it), every valid frame, the frame at a
        time (s) of every record, or every frame in ``[start, stop)`` s. For any ``nn.Module``: its recurrent
        module's steps (an int step, a list of steps, ``"peak"``, ``"all"``; times need ``sampling_rate``).
    method : {"integrated_gradients", "gradient_x_input", "occlusion"}
    steps : int
        Points of the integrated-gradient path (Gauss-Legendre), evaluated as one batch.
    max_steps : int
        Targets whose integrated gradients miss completeness by more than ``tolerance`` are computed again with
        twice the steps, up to ``max_steps`` (the steps each target took: ``ig_steps``; trained models with sharp
        gates can need a few hundred).
    baseline : "mean", "zeros" or array
        What the input is compared with: the per-feature mean over the valid frames of ``data`` (default), zeros
        (for log filter-bank energies a very loud input, not silence), or one value per feature.
    layer : int or str, optional
        The unit's layer: an id (a position along a run's ``layer`` for any ``nn.Module``) or a layer label
        (``"rnn[0] backward"``); optional for one-layer models.
    var : str
        The unit's variable (``"h"``, ``"c"``, a gate...).
    direction : str, optional
        ``"forward"``/``"backward"`` when ``layer`` names a bidirectional module.
    class_output : {"logit", "prob"}
        A class target's output: its logit or its softmax probability.
    max_lag : int, optional
        Frames before the target in the window (a classifier); None: back to the record start.
    shift : int
        Frames added to each onset or peak frame.
    classes : str or list of str, optional
        The segments' classes for ``"onset"``/``"peak"`` (default every class but the background).
    patch : (int, int)
        Occlusion patch: frames x bands.
    batch_size : int
        Targets explained together (each integrated-gradient batch runs ``batch_size x steps`` rows).
    store : path, optional
        Write the result to this zarr store batch by batch (atomic; memory bounded by one batch) and return it
        opened lazily (:func:`rnnscope.open_run` opens it again without torch).
    overwrite : bool
    device : str
    unroll : bool, optional
        Run recurrent layers as their exact step loop (default: on CUDA only; elsewhere the same numbers, slower).
    progress : bool
    tolerance : float
        Completeness tolerance, relative to ``|f(x) - f(baseline)|``.
    sampling_rate, time_axis, class_names, output_fn
        Any ``nn.Module``: the input's sampling rate (Hz) and time axis (as for :func:`rnnscope.capture`), the class
        names and ``output_fn(model output) -> (rows, frames, classes)`` of a class target.

    Returns
    -------
    xarray.Dataset
        ``attribution`` (target, lag, feature): ``lag`` counts frames (input steps) before the target frame (0:
        the target frame; negative: after it), coordinate ``lag_s``; ``feature`` carries ``band_hz`` (the band's
        centre, the filter's peak; NaN when unknown) and ``feature_part`` (``static``, ``delta``, ``delta_delta``;
        ``input`` for another model's input); one entry of ``target`` per (record, frame, unit) with coordinates
        ``target_event_id``, ``target_frame``, ``target_time``, ``target_segment``, ``target_segment_class``,
        ``target_kind``, ``target_var``, ``target_layer``, ``target_layer_label``, ``target_unit``,
        ``target_class``; ``target_value`` f(x), ``baseline_value`` f(baseline) and ``completeness_error``
        ``|sum - (f(x) - f(baseline))| / |f(x) - f(baseline)|`` (NaN for methods without completeness),
        ``ig_steps`` the integrated-gradient steps each target took (0 for the other methods). NaN where
        a lag reaches before the record start. Merge it into its run (``run.merge(result)``) and save it with
        :func:`rnnscope.save_run`, or keep the ``store``.

    Raises
    ------
    AttributionError
        An unknown target, frames outside the records, or a result too large for memory without ``store``.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=8, num_classes=5)
    >>> model = model.fit_normalizer(frames)
    >>> attr = attribution(model, frames, target=3, frames="onset", steps=16, max_lag=20, progress=False)
    >>> attr.attribution.dims, attr.sizes["lag"]
    (('target', 'lag', 'feature'), 21)
    >>> bool((attr.completeness_error < 0.01).all())
    True
    >>> total = attr.attribution.sum(("lag", "feature"))
    >>> bool(np.allclose(total, attr.target_value - attr.baseline_value, rtol=0.01, atol=1e-5))
    True

    With its defaults: every LP, VTE... segment's peak of unit 3, explained back to the record start:

    >>> peaks = attribution(model, frames, target=3, progress=False)
    >>> peaks.sizes["lag"] == int(peaks.target_frame.max()) + 1, sorted(set(peaks.target_segment_class.values.tolist()))
    (True, ['LP'])
    """
    func = "attribution"
    _check_args(method, steps, max_steps, baseline, max_lag, batch_size, tolerance, patch, func)
    device = resolve_device(device, func=func)
    unroll = device.type == "cuda" if unroll is None else bool(unroll)
    targets = resolve_targets(model, target, layer=layer, var=var, direction=direction, class_output=class_output,
                              class_names=class_names, func=func)
    options = dict(
        method=method,
        steps=int(steps),
        max_steps=max(int(steps), int(max_steps)),
        max_lag=max_lag,
        batch_size=int(batch_size),
        patch=tuple(patch),
        tolerance=float(tolerance),
        progress=progress,
        store=store,
        overwrite=overwrite,
        func=func,
    )
    model = model.to(device)
    modes = {m: m.training for m in model.modules()}
    grads = {p: p.requires_grad for p in model.parameters()}
    model.eval()
    for p in grads:
        p.requires_grad_(False)  # gradients of the input only
    try:
        with unrolled(model) if unroll else _nothing():
            if hasattr(model, "trace_layers"):
                return _classifier(model, data, targets, frames, baseline, shift, classes, device, options)
            return _module(model, data, targets, frames, baseline, device, options, sampling_rate, time_axis,
                           class_names, output_fn)
    finally:
        for m, training in modes.items():
            m.train(training)
        for p, flag in grads.items():
            p.requires_grad_(flag)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------------------------- Captum


def _attribute(method, forward, d, args, steps, per_row, patch_shape, crop):
    """``(attributions like d, whether completeness applies)`` of one batch by Captum's method."""
    from captum.attr import InputXGradient, IntegratedGradients, Occlusion

    rows = d.shape[0]
    if method == "integrated_gradients":
        by_hand = getattr(forward, "integrated_gradients", None)  # a classifier's recurrent layers, on the CPU
        attr = by_hand(d, args, steps, _BUDGET) if by_hand is not None else None
        if attr is not None:
            return attr, True
        chunk = max(1, min(steps, _BUDGET // max(1, rows * per_row)))
        attr = IntegratedGradients(forward).attribute(
            d, baselines=torch.zeros_like(d), additional_forward_args=args, n_steps=steps,
            internal_batch_size=rows * chunk)
        return attr, True  # completeness: measured against f(x) - f(b) of _values (no second pair of forwards)
    if method == "gradient_x_input":
        return InputXGradient(forward).attribute(d.clone().requires_grad_(True), additional_forward_args=args), False
    padded, window, unpad = crop(d, patch_shape)
    per_eval = max(1, min(64, _BUDGET // max(1, rows * per_row)))
    attr = Occlusion(lambda p, *a: forward(unpad(p), *a)).attribute(
        padded, sliding_window_shapes=window, strides=window, baselines=0.0, additional_forward_args=args,
        perturbations_per_eval=per_eval)
    return unpad(attr) / float(np.prod(window)), False


def _explain(o, forward, d, args, per_row, crop):
    """One batch: ``(attributions (numpy, like d), f(x), f(b), completeness errors, steps used)``. Integrated
    gradients of the rows missing completeness are computed again with twice the steps, up to ``max_steps``."""
    attr, complete = _attribute(o["method"], forward, d, args, o["steps"], per_row, o["patch"], crop)
    fx, fb = _values(forward, d, args)
    attr = attr.detach().cpu().numpy()
    errors = _completeness(attr, fx, fb, complete)
    used = np.full(fx.shape, o["steps"] if complete else 0, dtype=np.int64)
    steps = o["steps"]
    while complete and steps < o["max_steps"]:
        bad = np.flatnonzero((errors > o["tolerance"]) | np.isinf(errors))  # NaN: a NaN target, nothing to redo
        if not bad.size:
            break
        steps = min(2 * steps, o["max_steps"])
        rows = torch.as_tensor(bad, device=d.device)
        again = tuple(a[rows] if isinstance(a, torch.Tensor) and a.dim() and a.shape[0] == len(fx) else a
                      for a in args)
        redone = _attribute(o["method"], forward, d[rows], again, steps, per_row, o["patch"], crop)[0]
        attr[bad] = redone.detach().cpu().numpy()
        errors[bad] = _completeness(attr[bad], fx[bad], fb[bad], True)
        used[bad] = steps
    return attr, fx, fb, errors, used


def _values(forward, d, args):
    with torch.no_grad():
        fx = forward(d, *args)
        fb = forward(torch.zeros_like(d), *args)
    return fx.detach().cpu().numpy().astype(np.float64), fb.detach().cpu().numpy().astype(np.float64)


def _completeness(attr, fx, fb, complete):
    """``|sum of the attributions - (f(x) - f(b))| / |f(x) - f(b)|`` per row (NaN for methods without
    completeness and for targets whose value is NaN, e.g. after NaN input; 0 when the target does not move from the
    baseline and the sum is below 1e-6)."""
    if not complete:
        return np.full(fx.shape, np.nan)
    sums = np.nansum(attr.reshape(attr.shape[0], -1).astype(np.float64), axis=1)
    diff = np.abs(fx - fb)
    error = np.abs(sums - (fx - fb))
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.where(diff > 1e-7, error / diff, np.where(error <= 1e-6, 0.0, np.inf))
    return np.where(np.isnan(fx) | np.isnan(fb), np.nan, error)


def _warn_completeness(errors, tolerance, steps, func):
    bad = np.isfinite(errors) & (errors > tolerance) | np.isinf(errors)
    if bad.any():
        warnings.warn(f"{func}: the integrated gradients of {int(bad.sum())} of {errors.size} targets miss "
                      f"f(x) - f(baseline) by more than {tolerance:.0%} (largest {np.nanmax(errors):.2%}) after up to "
                      f"{steps} steps; pass max_steps={2 * steps} (or more) to make them complete.",
                      CompletenessWarning, stacklevel=3)


def _bar(total, progress):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="target", desc="attribution", leave=False, disable=not progress)


# --------------------------------------------------------------------------------------------- classifier


def _classifier_data(model, data, func):
    if not isinstance(data, xr.Dataset) or "features" not in data.variables or "length" not in data.coords:
        raise AttributionError(f"The 'data' parameter of {func} must be a features Dataset (or a run) for an rnnscope "
                               f"classifier (rnnscope.features.compute). Got {type(data).__name__} instead.")
    if data.sizes.get("feature") != model.input_size:
        raise AttributionError(f"{func}: the model expects {model.input_size} features per frame but the data have "
                               f"{data.sizes.get('feature')}; compute the features with the model's settings.")
    if hasattr(model, "check_input"):
        model.check_input(data, func)


def _baseline_vector(baseline, data_mean, n_features, func) -> np.ndarray:
    if isinstance(baseline, str):
        return np.zeros(n_features) if baseline == "zeros" else data_mean()
    value = np.asarray(baseline.detach().cpu() if isinstance(baseline, torch.Tensor) else baseline, dtype=np.float64)
    try:
        return np.broadcast_to(value, (n_features,)).copy()
    except ValueError:
        raise AttributionError(f"The 'baseline' parameter of {func} must hold one value per feature ({n_features}). "
                               f"Got shape {value.shape} instead.") from None


def _record(data, event, device):
    """One record's valid frames on ``device``, as the model sees them: NaN inside them (gaps) stays NaN, so targets
    from a NaN frame on are NaN (their values and attributions), as PyTorch's own gradients give; frames before it
    are explained as usual (the models are causal)."""
    n = int(data["length"].values[event])
    x = np.asarray(data["features"].isel(event=event, time=slice(0, n)).values, dtype=np.float32)
    return torch.from_numpy(x).to(device)


def _classifier(model, data, targets, frames, baseline, shift, classes, device, o):  # long: one documented pass
    func = o["func"]
    _classifier_data(model, data, func)
    forward = ClassifierForward(model, targets)
    n_feat = model.input_size

    def mean():
        return np.asarray(data["features"].mean(("event", "time"), skipna=True).values, dtype=np.float64)

    base_vec = _baseline_vector(baseline, mean, n_feat, func)
    peak = None
    if isinstance(frames, str) and frames == "peak":
        cache: dict = {}

        def peak(event, start, stop):
            if event not in cache:
                cache.clear()
                cache[event] = target_series(model, forward, _record(data, event, device))
            values = cache[event][start:stop, int(forward.index[0])]  # one target (_with_targets checks)
            return start + np.argmax(np.abs(values) if forward.kind == "unit" else values, axis=0)
    rows = frame_rows(data, frames, shift=shift, classes=classes, peak=peak if peak else None, func=func)
    rows = _with_targets(rows, len(targets), peak is not None)
    starts = np.zeros(len(rows), np.int64) if o["max_lag"] is None else np.maximum(rows.frame - o["max_lag"], 0)
    rows = rows.assign(start=starts).sort_values(["event", "start", "frame", "which"], kind="stable")
    rows = rows.reset_index(drop=True)
    n_lags = int((rows.frame - rows.start).max()) + 1
    times = np.asarray(data["time"].values, dtype=np.float64)
    hop = float(times[1] - times[0]) if times.size > 1 else 1.0 / float(data.attrs.get("frame_rate", 1.0))
    ids = event_ids(data)
    coords = _target_coords(rows, targets, ids[rows.event.to_numpy()], times[rows.frame.to_numpy()])
    features = feature_coords(data)
    attrs = _attrs(model, data, o, baseline, targets)
    attrs.update(reach_attrs(data))
    sink = ResultSink(len(rows), np.arange(n_lags), hop, features, coords, attrs, o)
    per_row = sum(layer.hidden_size * 12 for layer in model.layers) + n_feat
    cursors: dict[int, StateCursor] = {}
    bar = _bar(len(rows), o["progress"])
    base_t = torch.as_tensor(base_vec, dtype=torch.float32, device=device)
    for a in range(0, len(rows), o["batch_size"]):
        part = rows.iloc[a: a + o["batch_size"]]
        width = int((part.frame - part.start).max()) + 1
        d = torch.zeros(len(part), width, n_feat, device=device)
        states = []
        for event, group in part.groupby("event", sort=False):  # rows sorted by record: groups in row order
            for old in [e for e in cursors if e < event]:
                del cursors[old]
            if int(event) not in cursors:
                cursors[int(event)] = StateCursor(model, _record(data, int(event), device))
            cursor = cursors[int(event)]
            offset = len(states)
            states += cursor.states(group.start.to_numpy())
            for r, s in enumerate(group.start.to_numpy()):
                block = cursor.x[s: min(s + width, cursor.x.shape[0])]
                d[offset + r, : block.shape[0]] = block - base_t
        flat = forward.flatten_states([[torch.stack([st[l][k] for st in states]) for k in range(len(names))]
                                       for l, names in enumerate(forward.names)])
        pos = torch.tensor((part.frame - part.start).to_numpy(), device=device)
        which = torch.tensor(part.which.to_numpy(), device=device)
        args = (pos, which, base_t.expand(len(part), width, n_feat).contiguous(), *flat)
        attr, *values = _explain(o, forward, d, args, width * per_row, _band_crop(features))
        lags = np.full((len(part), n_lags, n_feat), np.nan, np.float32)
        for r, reach in enumerate((part.frame - part.start).to_numpy()):
            lags[r, : reach + 1] = attr[r, reach::-1]
        sink.write(a, lags, *values)
        bar.update(len(part))
    bar.close()
    return _finish(sink, o)


def _with_targets(rows, n_targets, per_target_peak):
    """Rows repeated for every target (``which``); a peak found per target keeps its own target only."""
    if per_target_peak and n_targets > 1:
        raise AttributionError("attribution: frames='peak' finds each target's own peak; attribute one unit at a time "
                               "with frames='peak', or pass frames='onset' or times for several units.")
    repeated = rows.loc[rows.index.repeat(n_targets)].reset_index(drop=True)
    return repeated.assign(which=np.tile(np.arange(n_targets), len(rows)))


def _band_crop(features):
    """Occlusion's view of a window: features as (parts, bands) when the three parts hold the same bands, frames
    padded at the start (cropped again in the forward) so the patches end on the target frame."""
    parts = features["feature_part"]
    n_parts = len(dict.fromkeys(parts.tolist()))

    def crop(d, patch):
        rows, width, n_feat = d.shape
        grouped = n_parts > 1 and n_feat % n_parts == 0
        shape = (n_parts, n_feat // n_parts) if grouped else (1, n_feat)
        pt, pb = min(patch[0], width), min(patch[1], shape[1])
        pad_t, pad_b = (-width) % pt, (-shape[1]) % pb
        x = d.reshape(rows, width, *shape)
        x = torch.nn.functional.pad(x, (0, pad_b, 0, 0, pad_t, 0))

        def unpad(p):
            return p[:, pad_t:, :, : shape[1]].reshape(p.shape[0], width, n_feat)
        return x, (pt, shape[0], pb), unpad
    return crop


def _target_coords(rows, targets, ids, times) -> dict:
    chosen = [targets[i] for i in rows.which.to_numpy()]
    return {
        "target_event_id": np.asarray(ids).astype(str),
        "target_frame": rows.frame.to_numpy(np.int64),
        "target_time": np.asarray(times, dtype=np.float64),
        "target_segment": rows.segment.to_numpy(np.int64),
        "target_segment_class": rows.segment_class.to_numpy().astype(str),
        "target_kind": np.array([t.kind for t in chosen], dtype=str),
        "target_var": np.array([t.var for t in chosen], dtype=str),
        "target_layer": np.array([t.layer for t in chosen], dtype=np.int64),
        "target_layer_label": np.array([t.label for t in chosen], dtype=str),
        "target_unit": np.array([t.unit for t in chosen], dtype=np.int64),
        "target_class": np.array([t.class_name for t in chosen], dtype=str),
    }


def _attrs(model, data, o, baseline, targets) -> dict:
    names = list(getattr(model, "class_names", None) or [])
    base = baseline if isinstance(baseline, str) else "array"
    attrs = {"schema_version": SCHEMA_VERSION, "class_names": names, "attribution_method": o["method"],
             "attribution_config": plain({"method": o["method"], "steps": o["steps"],
                                              "max_steps": o["max_steps"], "baseline": base,
                                              "max_lag": o["max_lag"], "patch": list(o["patch"]),
                                              "model": type(model).__name__}),
             "completeness_tolerance": o["tolerance"]}
    if isinstance(data, xr.Dataset):
        for key in ("sampling_rate", "feature_config", "background", "frame_rate"):
            if key in data.attrs:
                attrs[key] = data.attrs[key]
    return attrs


def _finish(sink, o):
    result = sink.finish()
    errors = np.asarray(result["completeness_error"].values, dtype=np.float64)
    if o["method"] == "integrated_gradients":
        _warn_completeness(errors, o["tolerance"], o["max_steps"], o["func"])
    return result


# --------------------------------------------------------------------------------------------- any nn.Module


def _module(model, data, targets, frames, baseline, device, o, sampling_rate, time_axis, class_names, output_fn):
    from ..capturing._modules import _check_data, _input_length

    func = o["func"]
    args, kwargs, n_events = _check_data(data, func)
    if kwargs or not isinstance(args[0], torch.Tensor):
        raise AttributionError(f"The 'data' parameter of {func} must be a tensor or array with batch first, or a "
                               "tuple whose first element is one (the attributed input), for a model that is not an "
                               f"rnnscope classifier. Got {type(data).__name__} instead.")
    n_input = _input_length(args, kwargs, time_axis, func)
    x_all = args[0].to(device=device, dtype=torch.float32)
    extra_all = args[1:]
    layout = module_layout(x_all, time_axis)
    forward = ModuleForward(model, targets, output_fn, func)
    base_row = _module_baseline(baseline, x_all, layout, func)
    with torch.no_grad():
        first = forward.series(x_all[:1], tuple(e[:1].to(device) if isinstance(e, torch.Tensor) else e
                                                for e in extra_all))
    n_steps = int(first.shape[1])
    rows = _module_rows(model, forward, x_all, extra_all, frames, n_events, n_steps, sampling_rate, n_input,
                        len(targets), device, func)
    centre = np.minimum(((rows.frame.to_numpy() + 0.5) * n_input / n_steps).astype(np.int64), n_input - 1)
    lags = np.arange(int(centre.min()) - (n_input - 1), int(centre.max()) + 1)[::-1]
    step_s = (n_input / n_steps / sampling_rate) if sampling_rate else np.nan
    ids = [str(v) for v in np.arange(n_events)]
    coords = _target_coords(rows, targets, np.asarray(ids)[rows.event.to_numpy()],
                            (rows.frame.to_numpy() + 0.5) * step_s)
    attrs = _attrs(model, data, o, baseline, targets)
    attrs.update({"class_names": list(class_names or []), "input_length": int(n_input), "module_steps": n_steps})
    if sampling_rate:
        attrs["sampling_rate"] = float(sampling_rate)
    sink = ResultSink(len(rows), lags, (1.0 / sampling_rate) if sampling_rate else np.nan,
                      layout.feature_coords(), coords, attrs, o)
    bar = _bar(len(rows), o["progress"])
    per_row = n_input * layout.n_features * 8
    for a in range(0, len(rows), o["batch_size"]):
        part = rows.iloc[a: a + o["batch_size"]]
        events = torch.tensor(part.event.to_numpy(), device=device)
        x = layout.to_sf(x_all[events])
        base = base_row.expand_as(x).contiguous()
        extra = tuple(e[events.cpu()].to(device) if isinstance(e, torch.Tensor) else e for e in extra_all)
        call = _ModuleCall(forward, layout)
        args_ = (torch.tensor(part.frame.to_numpy(), device=device),
                 torch.tensor(part.which.to_numpy(), device=device), base, *extra)
        attr, *values = _explain(o, call, x - base, args_, per_row, _plain_crop)
        out = np.full((len(part), lags.size, layout.n_features), np.nan, np.float32)
        for r, c in enumerate(centre[a: a + len(part)]):
            index = c - lags  # the input position of every lag
            inside = (index >= 0) & (index < n_input)
            out[r, inside] = attr[r, index[inside]]
        sink.write(a, out, *values)
        bar.update(len(part))
    bar.close()
    return _finish(sink, o)


class _ModuleCall:
    """A :class:`ModuleForward` taking the input as (rows, time, features)."""

    def __init__(self, forward, layout):
        self.forward, self.layout = forward, layout

    def __call__(self, d, pos, which, base, *extra):
        return self.forward(self.layout.from_sf(d), pos, which, self.layout.from_sf(base), *extra)


def _plain_crop(d, patch):
    rows, width, n_feat = d.shape
    pt, pf = min(patch[0], width), min(patch[1], n_feat)
    pad_t, pad_f = (-width) % pt, (-n_feat) % pf
    x = torch.nn.functional.pad(d, (0, pad_f, pad_t, 0))

    def unpad(p):
        return p[:, pad_t:, :n_feat]
    return x, (pt, pf), unpad


def _module_baseline(baseline, x_all, layout, func):
    if isinstance(baseline, str):
        value = torch.zeros(layout.n_features, device=x_all.device) if baseline == "zeros" else \
            layout.to_sf(x_all).mean((0, 1))
    else:
        value = torch.as_tensor(np.asarray(baseline, dtype=np.float32), device=x_all.device).reshape(-1)
        if value.numel() not in (1, layout.n_features):
            raise AttributionError(f"The 'baseline' parameter of {func} must hold one value per input feature "
                                   f"({layout.n_features}). Got {value.numel()} values instead.")
        value = value.expand(layout.n_features)
    return value[None, None, :]


def _module_rows(model, forward, x_all, extra_all, frames, n_events, n_steps, sampling_rate, n_input, n_targets,
                 device, func):
    import pandas as pd

    if isinstance(frames, str) and frames == "peak":
        if n_targets > 1:
            raise AttributionError(f"{func}: frames='peak' finds each target's own peak; attribute one unit at a time.")
        peaks = []
        for e in range(n_events):
            with torch.no_grad():
                extra = tuple(v[e: e + 1].to(device) if isinstance(v, torch.Tensor) else v for v in extra_all)
                values = forward.series(x_all[e: e + 1], extra)[0, :, forward.index[0]].cpu().numpy()
            peaks.append(int(np.argmax(np.abs(values) if forward.kind == "unit" else values)))
        steps = {e: [p] for e, p in enumerate(peaks)}
    elif isinstance(frames, str) and frames == "all":
        steps = {e: list(range(n_steps)) for e in range(n_events)}
    elif isinstance(frames, (tuple, list)) and len(frames) == 2 and all(isinstance(v, float) for v in frames):
        if not sampling_rate:
            raise AttributionError(f"{func}: frames given in seconds need sampling_rate= (Hz of the input).")
        step_s = n_input / n_steps / sampling_rate
        centres = (np.arange(n_steps) + 0.5) * step_s
        steps = {e: list(np.flatnonzero((centres >= frames[0]) & (centres < frames[1]))) for e in range(n_events)}
    else:
        chosen = [frames] if isinstance(frames, (int, np.integer)) else frames
        if isinstance(chosen, str) or not all(isinstance(k, (int, np.integer)) and 0 <= k < n_steps
                                              for k in np.ravel(chosen)):
            raise AttributionError(f"The 'frames' parameter of {func} must be 'peak', 'all', a step (0..{n_steps - 1}) "
                                   f"of the recurrent module, a list of steps or a (start, stop) range in s. Got "
                                   f"{frames!r} instead.")
        steps = {e: [int(k) for k in np.ravel(chosen)] for e in range(n_events)}
    pairs = [(e, k) for e in range(n_events) for k in steps[e]]
    if not pairs:
        raise AttributionError(f"{func}: frames={frames!r} selects no step of the module's {n_steps} steps.")
    rows = pd.DataFrame(pairs, columns=["event", "frame"]).assign(segment=-1, segment_class="")
    rows = rows.loc[rows.index.repeat(n_targets)].reset_index(drop=True)
    return rows.assign(which=np.tile(np.arange(n_targets), len(pairs)))


# --------------------------------------------------------------------------------------------- the Explorer's


def attributor(model, data: xr.Dataset, **options) -> Callable:
    """A function that explains one unit at one time of one record: what :class:`rnnscope.widgets.Explorer` calls
    on a click (``Explorer(run, attribute=attributor(model, run))``), so the widgets never import torch.

    Parameters
    ----------
    model : RNNClassifier
    data : xarray.Dataset
        The features (or the run) whose records are explored.
    **options
        Keywords of :func:`attribution` (default ``steps=32``, ``max_lag=240`` frames, no progress bar).

    Returns
    -------
    callable
        ``attribute(event_id, time, unit, layer, var="h") -> xarray.Dataset``: :func:`attribution` of ``unit``'s
        ``var`` in ``layer`` at the frame nearest ``time`` (s) of the record ``event_id`` (one target).

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=8, num_classes=5).fit_normalizer(frames)
    >>> attribute = attributor(model, frames)
    >>> one = attribute("syn00001", 30.2, 3, 0, "h")
    >>> one.sizes["target"], float(one.target_time[0]), one.target_event_id.values.tolist()
    (1, 30.0, ['syn00001'])
    """
    settings = {"steps": 32, "max_lag": 240, "progress": False, **options}
    ids = [str(v) for v in event_ids(data)]

    def attribute(event_id, time: float, unit: int, layer: int = 0, var: str = "h") -> xr.Dataset:
        if str(event_id) not in ids:
            raise AttributionError(f"attributor: the record {event_id!r} is not in the data ({ids[:4]}...).")
        record = data.isel(event=[ids.index(str(event_id))])
        return attribution(model, record, target=int(unit), layer=int(layer), var=var, frames=float(time), **settings)
    return attribute
