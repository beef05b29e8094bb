"""Torch side of the experiments: silencing units (test-time pruning, Titos & Garcia 2022 Fig. 10) and noise
insertion (memory robustness, Tang, Shi & Wang Fig. 8). These functions run models and produce runs or tables;
the analyses of the results live in :mod:`rnnscope.analysis` (torch-free).

- :func:`silence` — a copy of a model whose chosen units are silenced (``"zero"``) or held at a constant value
  (``"mean"``) at every step.
- :func:`ablation_curve` — accuracy when only the most active (or random) units are kept.
- :func:`noise_robustness` — the clean and the perturbed run of one record, aligned in time.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import xarray as xr

from . import analysis, features
from ._capture import capture
from ._validation import check_choice
from .data import from_arrays, select_records
from .schema import SEGMENT_VARIABLES, STATE_VARIABLES, SUMMARY_VARIABLES, json_attr

__all__ = ["silence", "keep_count", "ablation_curve", "noise_robustness"]


@contextlib.contextmanager
def _threads(threads):
    """Run with ``threads`` PyTorch CPU threads (None: leave as is), restoring the previous count afterwards."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)

_RUN_ONLY = set(v for vs in STATE_VARIABLES.values() for v in vs) | set(SUMMARY_VARIABLES) | {"prob", "pred"}


# --------------------------------------------------------------------------------------------- silencing units


def _keep_list(model, keep_masks, func):
    from .models._checks import layer_masks

    return layer_masks(keep_masks, model.num_layers, model.hidden_size, name="keep_masks", func=func)


def silence(model, keep_masks, mode: str = "zero", values=None):
    """Return a copy of ``model`` whose units outside ``keep_masks`` are silenced at every step.

    Definitions (unit ``j`` of layer ``l`` not kept):

    - ``mode="zero"``: :meth:`RNNClassifier.masked`: the unit's output ``h`` is 0 at every step inside the
      recurrence (it feeds nothing to the next step, the next layer, a shortcut or the head);
    - ``mode="mean"``: the unit's output is held at the constant ``values[l][j]`` (e.g. its mean activity) at every
      step, the initial state included: whatever reads it (recurrent weights of its layer, the next layer, the
      head, through shortcuts too) sees that constant. Implemented exactly as the masked copy plus biases: the
      held values times the outgoing weights are added to the recurrent biases of the layer (for the GRU this
      bias sits inside the reset gate's product, where ``W_hn h`` is), to the input biases of the next layer and
      to the head's bias. A run captured from the returned model shows ``h = 0`` for the held units (their
      constant enters through the biases).

    Parameters
    ----------
    model : RNNClassifier
    keep_masks : list of (bool array (hidden,) or None)
        One per layer (True = keep); a single mask for a one-layer model.
    mode : {"zero", "mean"}
    values : list of arrays (hidden,), optional
        For ``mode="mean"``: the value of every unit per layer (only the silenced ones are used).

    Returns
    -------
    RNNClassifier
        A deep copy; ``model`` is not modified.

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import RNNClassifier
    >>> model = RNNClassifier("gru", 3, 4, 5)
    >>> held = silence(model, [np.array([True, False, True, True])], "mean", values=[np.full(4, 0.3)])
    >>> held.masked_units
    [[1]]
    """
    func = "silence"
    check_choice(mode, ["zero", "mean"], name="mode", func=func)
    masks = _keep_list(model, keep_masks, func)
    out = model.masked(masks)
    if mode == "zero":
        return out
    if not (model.bias and model.head_bias):
        raise ValueError(f"{func}: mode='mean' adds the held values through the biases; this model was built with "
                         "bias=False or head_bias=False. Use mode='zero' or a model with biases.")
    if values is None or len(values) != model.num_layers:
        raise ValueError(f"The 'values' parameter of {func} must give one array of {model.hidden_size} values per "
                         f"layer ({model.num_layers}) for mode='mean'. Got {values!r} instead.")
    ref = out.head.weight
    deficit = None  # what the silenced units should add to the output a layer passes on
    with torch.no_grad():
        for l, layer in enumerate(out.layers):
            if deficit is not None:
                layer.bias_ih.add_(layer.weight_ih @ deficit)
            held = torch.zeros(model.hidden_size, dtype=ref.dtype, device=ref.device)
            if masks[l] is not None:
                v = torch.as_tensor(np.asarray(values[l], dtype=np.float64), dtype=ref.dtype, device=ref.device)
                if tuple(v.shape) != (model.hidden_size,):
                    raise ValueError(f"The 'values' parameter of {func} must hold {model.hidden_size} values per layer. "
                                     f"Got shape {tuple(v.shape)} for layer {l} instead.")
                drop = ~masks[l].to(ref.device)
                held[drop] = v[drop]
                layer.bias_hh.add_(layer.weight_hh @ held)
            deficit = held + deficit if (out.shortcuts[l] and deficit is not None) else held
        out.head.bias.add_(out.head.weight @ deficit)
    out.info = {**out.info, "silenced": {"mode": mode, "units": out.masked_units}}
    return out


def keep_count(fraction: float, hidden: int) -> int:
    """Units kept for a fraction: ``max(1, round(fraction x hidden))`` (halves round up).

    Examples
    --------
    >>> keep_count(0.1, 210), keep_count(0.25, 10), keep_count(0.01, 16)
    (21, 3, 1)
    """
    return max(1, int(np.floor(float(fraction) * int(hidden) + 0.5)))


# --------------------------------------------------------------------------------------------- ablation curve


def ablation_curve(
    model,
    dataset: xr.Dataset,
    fractions: Sequence[float] = (1, 0.8, 0.5, 0.3, 0.2, 0.1),
    ranking: str | Sequence[str] = "activity",
    rank_on: xr.Dataset | None = None,
    mode: str = "zero",
    repeats: int = 5,
    seed: int = 0,
    *,
    batch_size: int = 32,
    device: str = "auto",
    threads: int | None = None,
    fit_kwargs: dict | None = None,
) -> pd.DataFrame:
    """Frame accuracy when only a fraction of the units is kept (test-time pruning, Titos & Garcia 2022, Fig. 10).

    For each fraction ``p``, ``n = max(1, round(p x hidden))`` units of every layer are kept and the others
    silenced (:func:`silence`: ``mode="zero"`` -> output 0; ``mode="mean"`` -> held at their mean output); the
    model is scored with :func:`rnnscope.train.evaluate` on ``dataset`` (frame accuracy over valid, labelled
    frames). Nothing is retrained.

    - ``ranking="activity"``: keep the ``n`` units of highest activity, the frame-weighted mean ``|h|`` over every
      valid frame of ``rank_on`` (:func:`rnnscope.analysis.unit_activity` of a capture; per layer).
    - ``ranking="random"``: keep ``n`` units drawn at random, ``repeats`` times (seeded); mean and std reported.
    - ``ranking="small_model"`` (the paper's red points): a fresh model of the same cells with ``n`` units per
      layer, trained on ``rank_on`` (required: the training data) with :func:`rnnscope.train.fit`
      (``fit_kwargs``, default ``{"epochs": 10}``; seeded with ``seed``) and scored on ``dataset``. For
      ``n == hidden`` the given model itself is scored. ``mode`` is reported as ``"retrained"``.

    ``rank_on`` defaults to ``dataset`` itself, as the paper appears to do; pass the training data to avoid
    ranking units on the test set. The mean values of ``mode="mean"`` also come from ``rank_on``.

    Parameters
    ----------
    model : RNNClassifier
    dataset : xarray.Dataset
        Features Dataset to score on.
    fractions : sequence of float in (0, 1]
    ranking : "activity", "random", "small_model" or a list of them
    rank_on : xarray.Dataset, optional
    mode : {"zero", "mean"}
    repeats : int
        Random draws per fraction (``ranking="random"``).
    seed : int
    batch_size : int
    device : str
        ``"auto"`` picks CUDA, then MPS, then CPU.
    threads : int, optional
        PyTorch CPU threads for this call (restored afterwards); None leaves the setting alone.
    fit_kwargs : dict, optional
        Keywords of :func:`rnnscope.train.fit` for ``ranking="small_model"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``fraction``, ``n_units`` (kept per layer), ``ranking``, ``mode``, ``accuracy`` (mean over draws)
        and ``accuracy_std`` (std over draws for random, NaN for activity), one row per (ranking, fraction).

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> model = rnnscope.models.RNNClassifier("lstm", 48, 8, 5)
    >>> table = ablation_curve(model, frames, fractions=(1, 0.5), ranking=["activity", "random"], repeats=2,
    ...                       threads=1)
    >>> table[["fraction", "n_units", "ranking"]].values.tolist()
    [[1.0, 8, 'activity'], [0.5, 4, 'activity'], [1.0, 8, 'random'], [0.5, 4, 'random']]
    """
    with _threads(threads):
        return _ablation_curve(model, dataset, fractions, ranking, rank_on, mode, repeats, seed, batch_size, device,
                               fit_kwargs)


def _ablation_curve(model, dataset, fractions, ranking, rank_on, mode, repeats, seed, batch_size, device,
                    fit_kwargs):
    from .models import RNNClassifier
    from .train import evaluate, fit

    func = "ablation_curve"
    rankings = [ranking] if isinstance(ranking, str) else list(ranking)
    for r in rankings:
        check_choice(r, ["activity", "random", "small_model"], name="ranking", func=func)
    if "small_model" in rankings and rank_on is None:
        raise ValueError(f"{func}: ranking='small_model' trains new models on 'rank_on'; pass rank_on=<the training "
                         "data> (never the data set it is scored on).")
    check_choice(mode, ["zero", "mean"], name="mode", func=func)
    fractions = [float(f) for f in fractions]
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad or not fractions:
        raise ValueError(f"The 'fractions' parameter of {func} must hold numbers in (0, 1]. Got {fractions!r} instead.")
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ValueError(f"The 'repeats' parameter of {func} must be a positive integer. Got {repeats!r} instead.")
    hidden, n_layers = model.hidden_size, model.num_layers
    rank_on = dataset if rank_on is None else rank_on
    stats = None
    if "activity" in rankings or mode == "mean":
        ranked_run = capture(model, _strip_run(rank_on), variables=["h"], device=device, progress=False)
        stats = analysis.unit_activity(ranked_run)
        activity = np.asarray(stats["mean_abs"].values)  # (unit, layer)
        means = [np.asarray(stats["mean"].values)[:, l] for l in range(n_layers)]
    else:
        means = None
    baseline = None
    rng = np.random.default_rng(seed)
    rows = []

    def accuracy(m):
        with warnings.catch_warnings():  # macro F1 of classes never predicted: not used here
            warnings.simplefilter("ignore", RuntimeWarning)
            return evaluate(m, dataset, batch_size=batch_size, device=device).accuracy

    def score(masks):
        return accuracy(silence(model, masks, mode, means))

    for r in rankings:
        for f in fractions:
            n = keep_count(f, hidden)
            if n >= hidden:
                if baseline is None:
                    baseline = accuracy(model)
                accs = [baseline]
            elif r == "small_model":
                torch.manual_seed(seed)
                small = RNNClassifier(list(model.cells), model.input_size, n, model.num_classes,
                                      num_layers=model.num_layers, residual=model.residual,
                                      class_names=model.class_names)
                fit(small, rank_on, **{"epochs": 10, "progress": False, "seed": seed, **(fit_kwargs or {})})
                accs = [accuracy(small)]
            elif r == "activity":
                masks = []
                for l in range(n_layers):
                    order = np.argsort(-activity[:, l], kind="stable")
                    keep = np.zeros(hidden, dtype=bool)
                    keep[order[:n]] = True
                    masks.append(keep)
                accs = [score(masks)]
            else:
                accs = []
                for _ in range(repeats):
                    masks = []
                    for _l in range(n_layers):
                        keep = np.zeros(hidden, dtype=bool)
                        keep[rng.choice(hidden, size=n, replace=False)] = True
                        masks.append(keep)
                    accs.append(score(masks))
            rows.append({"fraction": f, "n_units": n, "ranking": r,
                         "mode": "retrained" if r == "small_model" else mode, "accuracy": float(np.mean(accs)),
                         "accuracy_std": float(np.std(accs)) if r == "random" else np.nan})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- noise


def _strip_run(ds: xr.Dataset) -> xr.Dataset:
    """The data part of a run (states, outputs and summaries dropped) so it can be captured again."""
    drop = [name for name in ds.data_vars if name in _RUN_ONLY]
    out = ds.drop_vars(drop)
    extra = [c for c in ("unit", "layer", "class_name", "variable", "clean_frame") if c in out.coords]
    return out.drop_vars(extra)


def _segments(ds: xr.Dataset, e: int) -> pd.DataFrame:
    if "segment_event" not in ds:
        return pd.DataFrame(columns=["event", "class", "start", "end", "p", "s"])
    sel = np.asarray(ds["segment_event"].values) == e
    table = pd.DataFrame({col: np.asarray(ds[var].values)[sel]
                          for col, var in zip(["event", "class", "start", "end", "p", "s"], SEGMENT_VARIABLES)})
    table["event"] = 0
    return table


def _shift_segments(table: pd.DataFrame, at: float, by: float) -> pd.DataFrame:
    """Segments after an insertion of ``by`` seconds at ``at``: later ones shifted, one holding ``at`` split."""
    rows = []
    for row in table.to_dict("records"):
        shift = lambda t: t + by if np.isfinite(t) and t >= at else t  # noqa: E731
        if row["start"] < at < row["end"]:
            rows.append({**row, "end": at, "p": row["p"] if not (row["p"] >= at) else np.nan,
                         "s": row["s"] if not (row["s"] >= at) else np.nan})
            rows.append({**row, "start": at + by, "end": row["end"] + by,
                         "p": shift(row["p"]) if row["p"] >= at else np.nan,
                         "s": shift(row["s"]) if row["s"] >= at else np.nan})
        else:
            rows.append({**row, "start": shift(row["start"]), "end": shift(row["end"]), "p": shift(row["p"]),
                         "s": shift(row["s"])})
    return pd.DataFrame(rows, columns=table.columns)


def noise_robustness(
    model,
    dataset: xr.Dataset,
    event=0,
    start: float = 10.0,
    duration: float = 5.0,
    level: float = 1.0,
    mode: str = "overwrite",
    where: str = "waveform",
    seed: int = 0,
    *,
    variables="all",
    device: str = "auto",
    threads: int | None = None,
) -> tuple[xr.Dataset, xr.Dataset]:
    """Run one record clean and with a noise segment, and return both runs aligned in time (Tang et al., Fig. 8).

    The noise is Gaussian white noise of standard deviation ``level`` x the standard deviation of the record
    (``where="waveform"``: of its valid samples; ``where="features"``: of each feature over its valid frames, noise
    centred on the feature's mean), drawn with ``seed``.

    - ``mode="overwrite"``: samples (frames) ``[start, start + duration)`` are replaced by noise; both runs have
      the same frames.
    - ``mode="insert"``: the noise is inserted at ``start``; the perturbed record is longer. With
      ``where="waveform"`` the duration is rounded to a whole number of hops (>= 1) so that framing stays aligned.
      Inserted samples are labelled -1 (unknown) and later segments are shifted.

    ``where="waveform"`` needs the waveform; features of both records are recomputed with the dataset's
    ``attrs["feature_config"]`` (:func:`rnnscope.features.compute`). ``where="features"`` perturbs the feature
    frames directly (``start`` in s is rounded to the first frame centred at or after it).

    Alignment: the perturbed run gets a coordinate ``clean_frame`` (time): the clean frame each perturbed frame
    corresponds to. Overwrite: the same frame. Insert: frames whose analysis window lies entirely before the
    inserted samples keep their index; frames entirely after map to ``index - inserted frames``; frames whose window
    touches the inserted noise get -1 (no counterpart; :func:`rnnscope.analysis.perturbation` compares them with
    the clean state at the insertion point). ``attrs["noise"]`` (JSON) records the settings and
    ``noise_start_frame`` / ``noise_stop_frame``: the first and one past the last perturbed frame whose features
    differ from the clean frame they map to (deltas spread the noise a few frames beyond the window), or that
    have no counterpart. Frames before ``noise_start_frame`` are identical in both runs.

    Parameters
    ----------
    model : RNNClassifier
    dataset : xarray.Dataset
        Features Dataset (or run) holding the record.
    event : int or str
        Record position or ``event_id``.
    start, duration : float
        Seconds from the record start.
    level : float
        Noise standard deviation relative to the record's.
    mode : {"overwrite", "insert"}
    where : {"waveform", "features"}
    seed : int
    variables : "all" or list of str
        Passed to :func:`rnnscope.capture`.
    device : str
    threads : int, optional
        PyTorch CPU threads for this call (restored afterwards).

    Returns
    -------
    (clean, perturbed) : tuple of xarray.Dataset
        Two one-record runs.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=1, seed=0))
    >>> model = rnnscope.models.RNNClassifier("gru", 48, 4, 5)
    >>> clean, noisy = noise_robustness(model, frames, 0, start=20.0, duration=5.0, mode="insert",
    ...                                  threads=1)
    >>> int(noisy.length[0]) - int(clean.length[0])
    10
    """
    func = "noise_robustness"
    check_choice(mode, ["overwrite", "insert"], name="mode", func=func)
    check_choice(where, ["waveform", "features"], name="where", func=func)
    for name, value in (("start", start), ("duration", duration), ("level", level)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value < 0 or \
                (name == "duration" and value <= 0):
            raise ValueError(f"The {name!r} parameter of {func} must be a {'positive' if name == 'duration' else 'non-negative'} "
                             f"number (seconds for start/duration). Got {value!r} instead.")
    e = analysis._common.event_position(dataset, event, func)
    one = _strip_run(select_records(dataset, [e]))
    rng = np.random.default_rng(seed)
    if where == "waveform":
        clean_frames, pert_frames, mapping, info = _perturb_waveform(one, start, duration, level, mode, rng, func)
    else:
        clean_frames, pert_frames, mapping, info = _perturb_features(one, start, duration, level, mode, rng, func)
    n_clean, n_pert = int(clean_frames["length"][0]), int(pert_frames["length"][0])
    if n_pert == 0 or n_clean == 0:
        raise ValueError(f"{func}: the record has no frame; choose a longer record.")
    x_clean = np.asarray(clean_frames["features"].values[0, :n_clean], dtype=np.float64)
    x_pert = np.asarray(pert_frames["features"].values[0, :n_pert], dtype=np.float64)
    mapped = mapping[:n_pert]
    differs = mapped < 0
    ok = ~differs
    differs[ok] = ~np.all(np.isclose(x_pert[ok], x_clean[mapped[ok]], rtol=1e-5, atol=1e-6), axis=1)
    touched = np.flatnonzero(differs)
    info["noise_start_frame"] = int(touched[0]) if touched.size else n_pert
    info["noise_stop_frame"] = int(touched[-1] + 1) if touched.size else n_pert
    with _threads(threads):
        clean = capture(model, clean_frames, variables=variables, device=device, progress=False)
        perturbed = capture(model, pert_frames, variables=variables, device=device, progress=False)
    full = np.full(perturbed.sizes["time"], -1, dtype=np.int64)
    full[:n_pert] = mapped
    perturbed = perturbed.assign_coords(clean_frame=("time", full))
    perturbed["clean_frame"].attrs["long_name"] = "clean frame this frame corresponds to (-1: none)"
    perturbed.attrs["noise"] = json_attr(info)
    return clean, perturbed


def _perturb_waveform(one, start, duration, level, mode, rng, func):
    for name in ("waveform", "sample_label"):
        if name not in one:
            raise ValueError(f"{func}: where='waveform' needs the record's {name!r}; the Dataset has none (features "
                             "computed elsewhere). Use where='features'.")
    if "feature_config" not in one.attrs:
        raise ValueError(f"{func}: where='waveform' recomputes features with attrs['feature_config'], which the "
                         "Dataset lacks. Compute features with rnnscope.features.compute or use where='features'.")
    cfg = features.FeatureConfig.from_json(one.attrs["feature_config"])
    fs = float(one.attrs["sampling_rate"])
    n = int(one["n_samples"][0]) if "n_samples" in one.coords else int(one["waveform"][0].notnull().sum())
    x = np.asarray(one["waveform"].values[0, :n], dtype=np.float64)
    y = np.asarray(one["sample_label"].values[0, :n], dtype=np.int64)
    hop, win = int(round(cfg.hop_s * fs)), int(round(cfg.window_s * fs))
    s0 = int(round(start * fs))
    if s0 >= n:
        raise ValueError(f"The 'start' parameter of {func} must lie inside the record (0-{n / fs:g} s). "
                         f"Got {start!r} instead.")
    scale = float(np.std(x)) * float(level)
    if mode == "insert":
        n_hops = max(1, int(round(duration * fs / hop)))
        n_ins = n_hops * hop
        noise = scale * rng.standard_normal(n_ins)
        xp = np.concatenate([x[:s0], noise, x[s0:]])
        yp = np.concatenate([y[:s0], np.full(n_ins, -1), y[s0:]])
    else:
        n_ins = min(int(round(duration * fs)), n - s0)
        n_hops = 0
        xp, yp = x.copy(), y.copy()
        xp[s0 : s0 + n_ins] = scale * rng.standard_normal(n_ins)
    names = list(one.attrs["class_names"])
    segs = _segments(one, 0)
    ids = [str(one["event_id"].values[0])] if "event_id" in one.coords else None
    seg_pert = _shift_segments(segs, s0 / fs, n_ins / fs) if mode == "insert" else segs
    rec_clean = from_arrays([x], [y], fs, names, segments=segs if len(segs) else None, event_ids=ids)
    rec_pert = from_arrays([xp], [yp], fs, names, segments=seg_pert if len(seg_pert) else None, event_ids=ids)
    for rec in (rec_clean, rec_pert):
        rec.attrs.update({k: v for k, v in one.attrs.items() if k not in rec.attrs})
    clean = features.compute(rec_clean, cfg)
    pert = features.compute(rec_pert, cfg)
    n_pert = int(pert["length"][0])
    j = np.arange(n_pert)
    if mode == "insert":
        mapping = np.where(j * hop + win <= s0, j, np.where(j * hop >= s0 + n_ins, j - n_hops, -1))
    else:
        mapping = j.copy()
    info = {"mode": mode, "where": "waveform", "start_s": s0 / fs, "duration_s": n_ins / fs, "level": float(level),
            "noise_std": scale, "inserted_frames": int(n_hops)}
    return clean, pert, mapping, info


def _perturb_features(one, start, duration, level, mode, rng, func):
    n = int(one["length"][0])
    times = np.asarray(one["time"].values, dtype=np.float64)
    step = float(times[1] - times[0]) if times.size > 1 else 1.0 / float(one.attrs.get("frame_rate", 2.0))
    f0 = int(np.searchsorted(times[:n], start, side="left"))
    if f0 >= n:
        raise ValueError(f"The 'start' parameter of {func} must lie inside the record's frames (up to "
                         f"{times[n - 1]:g} s). Got {start!r} instead.")
    n_f = max(1, int(round(duration / step)))
    x = np.asarray(one["features"].values[0, :n], dtype=np.float64)
    y = np.asarray(one["label"].values[0, :n], dtype=np.int64)
    mu, sd = x.mean(0), x.std(0)
    clean = one.drop_vars([v for v in ("waveform", "sample_label", "spectrogram") if v in one])
    clean = clean.drop_vars([c for c in ("sample", "sample_time", "n_samples", "freq") if c in clean.coords])
    if mode == "overwrite":
        n_f = min(n_f, n - f0)
        xp = x.copy()
        xp[f0 : f0 + n_f] = mu + float(level) * sd * rng.standard_normal((n_f, x.shape[1]))
        pert = clean.copy(deep=True)
        pert["features"][0, :n] = xp.astype(np.float32)
        mapping = np.arange(n)
        inserted = 0
    else:
        noise = mu + float(level) * sd * rng.standard_normal((n_f, x.shape[1]))
        xp = np.concatenate([x[:f0], noise, x[f0:]]).astype(np.float32)
        yp = np.concatenate([y[:f0], np.full(n_f, -1), y[f0:]]).astype(np.int16)
        m = xp.shape[0]
        new_times = times[0] + step * np.arange(m)
        pert = xr.Dataset(
            {"features": (("event", "time", "feature"), xp[None]), "label": (("event", "time"), yp[None])},
            coords={"time": new_times, "feature": one["feature"].values, "length": ("event", [m])},
            attrs=dict(one.attrs),
        )
        for c in ("event_id", "starttime", "trace_id"):
            if c in one.coords:
                pert = pert.assign_coords({c: ("event", one[c].values)})
        segs = _segments(one, 0)
        if len(segs):
            at = times[f0] - step / 2
            shifted = _shift_segments(segs, at, n_f * step)
            for col, var in zip(["event", "class", "start", "end", "p", "s"], SEGMENT_VARIABLES):
                pert[var] = ("segment", shifted[col].to_numpy().astype(one[var].dtype))
        j = np.arange(m)
        mapping = np.where(j < f0, j, np.where(j >= f0 + n_f, j - n_f, -1))
        inserted = n_f
    info = {"mode": mode, "where": "features", "start_s": float(times[f0]), "duration_s": n_f * step,
            "level": float(level), "inserted_frames": int(inserted)}
    return clean, pert, mapping, info


