"""Noise insertion (memory robustness, Tang, Shi & Wang Fig. 8): :func:`noise_robustness`.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from .. import analysis, features
from .._validation import check_choice
from ..capturing import capture
from ..data import from_arrays, select_records
from ..schema import event_ids, plain, segment_rows, segment_variables
from ._common import _strip_run, _threads

__all__ = ["noise_robustness"]


def _segments(ds: xr.Dataset, e: int) -> pd.DataFrame:
    """The segments of record ``e`` (position) as a one-record table for the readers (``event`` 0)."""
    rows = segment_rows(ds)
    rows = rows[rows["event_id"] == event_ids(ds)[e]].drop(columns="event_id").reset_index(drop=True)
    rows.insert(0, "event", np.zeros(len(rows), dtype=np.int64))
    return rows


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
    *,
    event=0,
    start: float = 10.0,
    duration: float = 5.0,
    noise_level: float = 1.0,
    how: str = "overwrite",
    where: str = "waveform",
    seed: int = 0,
    var="all",
    device: str = "auto",
    threads: int | None = 1,
) -> tuple[xr.Dataset, xr.Dataset]:
    """Run one record clean and with a noise segment, and return both runs aligned in time (Tang et al., Fig. 8).

    The noise is Gaussian white noise of standard deviation ``noise_level`` x the standard deviation of the record
    (``where="waveform"``: of its valid samples; ``where="features"``: of each feature over its valid frames, noise
    centred on the feature's mean), drawn with ``seed``.

    - ``how="overwrite"``: samples (frames) ``[start, start + duration)`` are replaced by noise; both runs have
      the same frames.
    - ``how="insert"``: the noise is inserted at ``start``; the perturbed record is longer. With
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
    noise_level : float
        Noise standard deviation relative to the record's.
    how : {"overwrite", "insert"}
        Noise written over the record's samples (frames), or inserted into it.
    where : {"waveform", "features"}
    seed : int
    var : "all" or list of str
        The state variables captured (:func:`rnnscope.capture`).
    device : str
    threads : int or None
        PyTorch CPU threads for this call (default 1; restored afterwards); None leaves the current setting.

    Returns
    -------
    (clean, perturbed) : tuple of xarray.Dataset
        Two one-record runs.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=1, seed=0))
    >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5)
    >>> clean, noisy = noise_robustness(model, frames, event=0, start=20.0, duration=5.0, how="insert")
    >>> int(noisy.length[0]) - int(clean.length[0])
    10
    """
    func = "noise_robustness"
    check_choice(how, ["overwrite", "insert"], name="how", func=func)
    check_choice(where, ["waveform", "features"], name="where", func=func)
    for name, value in (("start", start), ("duration", duration), ("noise_level", noise_level)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value < 0 or \
                (name == "duration" and value <= 0):
            raise ValueError(
                f"The {name!r} parameter of {func} must be a {'positive' if name == 'duration' else 'non-negative'} "
                f"number (seconds for start/duration). Got {value!r} instead."
            )
    e = analysis._common.event_position(dataset, event, func)
    one = _strip_run(select_records(dataset, [e]))
    rng = np.random.default_rng(seed)
    if where == "waveform":
        clean_frames, pert_frames, mapping, info = _perturb_waveform(one, start, duration, noise_level, how, rng, func)
    else:
        clean_frames, pert_frames, mapping, info = _perturb_features(one, start, duration, noise_level, how, rng, func)
    n_clean, n_pert = int(clean_frames["length"][0]), int(pert_frames["length"][0])
    if n_pert == 0 or n_clean == 0:
        raise ValueError(f"{func}: the record has no frame; choose a longer record.")
    x_clean = np.asarray(clean_frames["features"].values[0, :n_clean], dtype=np.float64)
    x_pert = np.asarray(pert_frames["features"].values[0, :n_pert], dtype=np.float64)
    mapped = mapping[:n_pert]
    differs = mapped < 0
    ok = ~differs
    differs[ok] = ~np.all(np.isclose(x_pert[ok], x_clean[mapped[ok]], rtol=1e-5, atol=1e-6, equal_nan=True), axis=1)
    touched = np.flatnonzero(differs)
    info["noise_start_frame"] = int(touched[0]) if touched.size else n_pert
    info["noise_stop_frame"] = int(touched[-1] + 1) if touched.size else n_pert
    with _threads(threads):
        clean = capture(model, clean_frames, var=var, device=device, progress=False)
        perturbed = capture(model, pert_frames, var=var, device=device, progress=False)
    full = np.full(perturbed.sizes["time"], -1, dtype=np.int64)
    full[:n_pert] = mapped
    perturbed = perturbed.assign_coords(clean_frame=("time", full))
    perturbed["clean_frame"].attrs["long_name"] = "clean frame this frame corresponds to (-1: none)"
    perturbed.attrs["noise"] = plain(info)
    return clean, perturbed


def _perturb_waveform(one, start, duration, level, how, rng, func):
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
    if how == "insert":
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
    seg_pert = _shift_segments(segs, s0 / fs, n_ins / fs) if how == "insert" else segs
    rec_clean = from_arrays([x], [y], sampling_rate=fs, class_names=names, segments=segs if len(segs) else None,
                            event_ids=ids)
    rec_pert = from_arrays([xp], [yp], sampling_rate=fs, class_names=names,
                           segments=seg_pert if len(seg_pert) else None, event_ids=ids)
    for rec in (rec_clean, rec_pert):
        rec.attrs.update({k: v for k, v in one.attrs.items() if k not in rec.attrs})
    clean = features.compute(rec_clean, feature_config=cfg)
    pert = features.compute(rec_pert, feature_config=cfg)
    n_pert = int(pert["length"][0])
    j = np.arange(n_pert)
    if how == "insert":
        mapping = np.where(j * hop + win <= s0, j, np.where(j * hop >= s0 + n_ins, j - n_hops, -1))
    else:
        mapping = j.copy()
    info = {"how": how, "where": "waveform", "start_s": s0 / fs, "duration_s": n_ins / fs, "noise_level": float(level),
            "noise_std": scale, "inserted_frames": int(n_hops)}
    return clean, pert, mapping, info


def _perturb_features(one, start, duration, level, how, rng, func):
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
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature NaN in every frame: its noise is NaN too
        mu, sd = np.nanmean(x, 0), np.nanstd(x, 0)  # missing frames (NaN) of the record left out
    clean = one.drop_vars([v for v in ("waveform", "sample_label", "spectrogram") if v in one])
    clean = clean.drop_vars([c for c in ("sample", "sample_time", "n_samples", "freq") if c in clean.coords])
    if how == "overwrite":
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
            shifted = _shift_segments(segs, at, n_f * step).drop(columns="event")
            shifted.insert(0, "event_id", np.full(len(shifted), event_ids(one)[0], dtype=object))
            pert = pert.assign(segment_variables(shifted))
        j = np.arange(m)
        mapping = np.where(j < f0, j, np.where(j >= f0 + n_f, j - n_f, -1))
        inserted = n_f
    info = {"how": how, "where": "features", "start_s": float(times[f0]), "duration_s": n_f * step,
            "noise_level": float(level), "inserted_frames": int(inserted)}
    return clean, pert, mapping, info
