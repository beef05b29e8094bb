"""Fine-tuning a model on a reviewed detection catalog: the loop monitor -> review -> retrain.

:func:`retrain` takes the catalog an analyst reviewed (``reviewed.csv`` or ``reviewed.xml`` of the review page, or
any table with ``seed_id``, ``class_name``, ``start``, ``end`` in UTC), cuts the waveforms around every reviewed
event (``context_s`` seconds each side, windows closer than a minute merged), labels them (the reviewed class
inside each event, the model's background class in the context around it) and fine-tunes a copy of the model on
these records together with the original training data, which keeps it from forgetting the rest. The steps:

1. **read** the reviewed catalog and the rejections: the review page's ``rejected.csv`` beside its
   ``reviewed.csv`` (or ``rejected=``), and rows whose ``review`` column says ``rejected``; these false alarms are
   background where no kept event of their channel is (a model without a background class refuses them);
2. **records**: the waveforms of every window (at most 10 minutes; see :func:`windows`), one record per window
   and gap-free stretch (:func:`rnnscope.data.from_obspy` with the model's sampling rate, detrend and band-pass,
   its classes and background), features as the model's (``model.feature_config``);
3. **split**: ``holdout`` of the reviewed windows are held out (seeded), and ``validation`` of the original
   records, to score the model before and after on data it was not tuned on;
4. **fine-tune** a copy of the model (its input normaliser kept: the weights were trained on that scale) for
   ``epochs`` passes over the reviewed training windows, ``replay`` times as many original records drawn afresh
   each epoch, class weights balanced over both, Adam with a small learning rate;
5. **scores** before and after on the held-out reviewed windows, the reviewed windows tuned on and the held-out
   original records: event accuracy (the class most of an event's frames get is the reviewed class), frame
   accuracy and macro F1 over labelled frames.

The context around a reviewed event is labelled background: review every detection in a window (or pass a smaller
``context_s``) so that no unreviewed event hides there.
"""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
import xarray as xr

from .._device import resolve_device
from .._seed import seeded
from .._tasks import _progress
from .._validation import check_positive
from ..schema import segment_frames
from ._evaluate import evaluate
from ._fit import _class_weights, _score, _train_epoch, predict
from ._records import _Records, _records

if TYPE_CHECKING:
    from ..models._base import ModelBase

__all__ = ["retrain", "Retraining"]

_NS = 1_000_000_000
#: windows of one channel closer than this (s) become one record
MERGE_S = 60.0
#: longest window (s) cut around reviewed events that follow each other closely (longer ones are cut between events)
MAX_WINDOW_S = 600.0


@dataclass
class Retraining:
    """What :func:`retrain` returns: the fine-tuned model and its scores before and after.

    Attributes
    ----------
    model : RNNClassifier or TCNClassifier
        The fine-tuned copy (the model passed in is left as it was).
    before, after : pandas.DataFrame
        Scores of the model before and after, one row per set (``reviewed held out``, ``reviewed tuned on``,
        ``original held out``): ``events`` (reviewed events scored), ``event_accuracy``, ``frame_accuracy``,
        ``macro_f1``.
    history : pandas.DataFrame
        Per epoch: ``loss``, ``accuracy`` (training frames) and the held-out sets' ``loss_reviewed``,
        ``loss_original``.
    records : xarray.Dataset
        Features of the reviewed windows (``split`` says which were held out).
    split : dict
        ``{"holdout": [event ids], "tuned": [event ids]}`` of the reviewed windows.

    Parameters
    ----------
    model, before, after, history, records, split
        The attributes above, in that order.

    Examples
    --------
    :func:`retrain` builds it (its example runs one); ``summary`` puts the scores side by side:

    >>> import pandas as pd
    >>> from rnnscope.train import Retraining
    >>> def scores(acc):
    ...     return pd.DataFrame({"events": [6], "event_accuracy": [acc], "frame_accuracy": [acc], "macro_f1": [acc]},
    ...                         index=["reviewed held out"])
    >>> out = Retraining(model=None, before=scores(0.5), after=scores(0.83), history=pd.DataFrame({"loss": [0.9, 0.6]}),
    ...                  records=xr.Dataset(), split={"holdout": ["a"], "tuned": ["b"]})
    >>> out.summary()["event_accuracy"]
                       before  after
    reviewed held out     0.5   0.83
    """

    model: ModelBase
    before: pd.DataFrame
    after: pd.DataFrame
    history: pd.DataFrame
    records: xr.Dataset
    split: dict

    def summary(self) -> pd.DataFrame:
        """``before`` and ``after`` side by side (columns ``(score, "before" | "after")``)."""
        return pd.concat({"before": self.before, "after": self.after}, axis=1).swaplevel(axis=1).sort_index(
            axis=1, level=0, sort_remaining=False)

    def __repr__(self) -> str:
        # every score shown whatever pandas' display width (`rnnscope retrain` prints this in an 80-column terminal)
        return f"Retraining({len(self.history)} epochs)\n{self.summary().round(3).to_string()}"


# ------------------------------------------------------------------------------------------------ the catalog


#: the review page's file of rejected detections, beside its ``reviewed.csv`` / ``reviewed.xml``
REJECTED_FILE = "rejected.csv"
_REVIEW_FILES = ("reviewed.csv", "reviewed.xml")


def rejected_beside(reviewed) -> str | None:
    """The review page's ``rejected.csv`` beside ``reviewed`` when that is the page's ``reviewed.csv`` or
    ``reviewed.xml`` and the file exists (else None): what ``rejected="auto"`` reads."""
    if not isinstance(reviewed, (str, os.PathLike)) or os.path.basename(os.fspath(reviewed)) not in _REVIEW_FILES:
        return None
    path = os.path.join(os.path.dirname(os.fspath(reviewed)), REJECTED_FILE)
    return path if os.path.exists(path) else None


_WHAT = {"reviewed": ("reviewed catalog", "reviewed.csv"), "rejected": ("table of rejected detections",
                                                                      REJECTED_FILE)}


def _load_table(table, class_names, func: str, name: str) -> pd.DataFrame:
    """The ``name`` argument (``reviewed`` or ``rejected``: a CSV or QuakeML path, or a DataFrame) as a DataFrame."""
    from ..data import read_quakeml_catalog

    what, example = _WHAT[name]
    if isinstance(table, (str, os.PathLike)):
        path = os.fspath(table)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{func}: the {what} {path!r} does not exist.")
        if path.lower().endswith((".xml", ".quakeml", ".qml")):
            return read_quakeml_catalog(path, class_names=class_names)
        return pd.read_csv(path)
    if isinstance(table, pd.DataFrame):
        return table
    raise TypeError(
        f"The {name!r} parameter of {func} must be the path of a {what} (CSV or QuakeML, e.g. the review page's "
        f"{example}) or a DataFrame. Got {type(table).__name__} instead."
    )


def _catalog_rows(table: pd.DataFrame, func: str, what: str, *, rejected: bool) -> pd.DataFrame:
    """``trace_id``, ``start``, ``end`` (ns), ``class``, ``rejected`` of a table: every row ``rejected`` when
    asked (a table of rejections needs no class column), else the rows whose ``review`` says ``rejected``."""
    columns = {str(c).strip().lower(): c for c in table.columns}

    def column(*names):
        return next((columns[n] for n in names if n in columns), None)

    c_id, c_class = column("seed_id", "trace_id"), column("class_name", "class")
    c_start, c_end, c_review = column("start"), column("end"), column("review")
    needed = (("seed_id", c_id), ("start", c_start), ("end", c_end)) + (() if rejected else (("class_name", c_class),))
    missing = [n for n, c in needed if c is None]
    if missing:
        raise ValueError(
            f"{func}: the {what} lacks the column(s) {missing}; it needs seed_id (or trace_id), "
            f"{'' if rejected else 'class_name (or class), '}start and end (UTC). "
            f"Got columns {[str(c) for c in table.columns]}."
        )
    if rejected:
        flags = np.ones(len(table), dtype=bool)
    elif c_review is not None:
        flags = (table[c_review].astype(str).str.lower() == "rejected").to_numpy()
    else:
        flags = np.zeros(len(table), dtype=bool)
    return pd.DataFrame({
        "trace_id": table[c_id].astype(str).to_numpy(),
        "start": pd.DatetimeIndex(pd.to_datetime(table[c_start], utc=True, format="ISO8601")).as_unit("ns").asi8,
        "end": pd.DatetimeIndex(pd.to_datetime(table[c_end], utc=True, format="ISO8601")).as_unit("ns").asi8,
        "class": table[c_class].astype(str).to_numpy() if c_class is not None else np.full(len(table), ""),
        "rejected": flags,
    })


def read_reviewed(reviewed, class_names, func: str = "retrain", *, rejected="auto") -> pd.DataFrame:
    """The reviewed catalog and the rejections as ``trace_id``, ``start``, ``end`` (ns), ``class``, ``rejected``,
    ``source``: the rows of ``reviewed`` (``rejected`` where its ``review`` column says so), then those of
    ``rejected`` (all rejected; ``"auto"``: the review page's ``rejected.csv`` beside ``reviewed``, see
    :func:`rejected_beside`; None: none)."""
    rows = _catalog_rows(_load_table(reviewed, class_names, func, "reviewed"), func, "reviewed catalog",
                         rejected=False)
    rows["source"] = [f"reviewed row {i}" for i in range(len(rows))]
    if isinstance(rejected, str) and rejected == "auto":
        rejected = rejected_beside(reviewed)
    if rejected is not None:
        where = (f"table of rejected detections {os.fspath(rejected)!r}" if isinstance(rejected, (str, os.PathLike))
                 else "table of rejected detections")
        extra = _catalog_rows(_load_table(rejected, class_names, func, "rejected"), func, where, rejected=True)
        extra["source"] = [f"rejected row {i}" for i in range(len(extra))]
        rows = pd.concat([rows, extra], ignore_index=True)
    unknown = sorted(set(rows.loc[~rows["rejected"], "class"]) - set(class_names))
    if unknown:
        raise ValueError(f"{func}: the reviewed catalog holds classes {unknown} the model does not have (its classes: "
                         f"{list(class_names)}). Relabel those rows or train a model with these classes.")
    if len(rows) == 0:
        raise ValueError(f"{func}: the reviewed catalog holds no event and no rejection; review some detections "
                         "first.")
    return rows


def _background_rejected(rows: pd.DataFrame, background) -> pd.DataFrame:
    """Rejected rows become background where no kept row (accepted, relabelled, added) of their channel is: a
    false alarm that overlaps a kept event is cut around it."""
    kept = rows[~rows["rejected"]]
    out = [kept]
    for row in rows[rows["rejected"]].itertuples(index=False):
        others = kept[(kept["trace_id"] == row.trace_id) & (kept["start"] < row.end) & (kept["end"] > row.start)]
        pieces = [(row.start, row.end)]
        for a, b in zip(others["start"], others["end"], strict=True):
            pieces = [q for p0, p1 in pieces for q in ((p0, min(p1, a)), (max(p0, b), p1)) if q[1] > q[0]]
        out.append(pd.DataFrame([{**row._asdict(), "start": p0, "end": p1, "class": background}
                                 for p0, p1 in pieces], columns=rows.columns))
    return pd.concat(out, ignore_index=True).sort_values(["trace_id", "start"], kind="stable").reset_index(drop=True)


def windows(rows: pd.DataFrame, context_s: float, max_s: float | None = None) -> pd.DataFrame:
    """Windows of signal around the reviewed events of each channel: the events +- ``context_s``, joined when
    they come closer than :data:`MERGE_S`, and cut between two events (half way, with a one-second gap, so they
    stay separate records) where a window would grow past ``max_s`` (:data:`MAX_WINDOW_S`). Columns ``trace_id``,
    ``start``, ``end`` (ns).

    Examples
    --------
    >>> s = 10**9
    >>> rows = pd.DataFrame({"trace_id": ["A"] * 4, "start": [0, 100 * s, 150 * s, 5000 * s],
    ...                      "end": [10 * s, 110 * s, 160 * s, 5010 * s]})
    >>> (windows(rows, 30.0, max_s=150.0)[["start", "end"]] // s).values.tolist()
    [[-30, 40], [70, 190], [4970, 5040]]
    """
    max_s = MAX_WINDOW_S if max_s is None else max_s
    out = []
    pad, gap, longest = (int(round(v * _NS)) for v in (context_s, MERGE_S, max_s))
    for tid, group in rows.groupby("trace_id", sort=True):
        events = sorted(zip(group["start"], group["end"], strict=True))
        a0, b0 = events[0][0] - pad, events[0][1]  # the open window: its start, the end of its last event
        for a, b in events[1:]:
            if a - pad > b0 + pad + gap:  # far apart: close the window
                out.append((tid, a0, b0 + pad))
                a0, b0 = a - pad, b
            elif max(b, b0) + pad - a0 > longest and a - b0 >= _NS:  # too long: cut half way between two events
                cut = (b0 + a) // 2
                out.append((tid, a0, min(b0 + pad, cut - _NS // 2)))
                a0, b0 = max(a - pad, cut + _NS // 2), b
            else:
                b0 = max(b0, b)
        out.append((tid, a0, b0 + pad))
    return pd.DataFrame(out, columns=["trace_id", "start", "end"])


def read_windows(waveforms, spans: pd.DataFrame, func: str = "retrain"):
    """The samples of every window from ``waveforms`` (an SDS root, a file, a glob or list of files, a Stream)."""
    import glob

    import obspy
    from obspy import UTCDateTime

    out = obspy.Stream()
    rows = spans.to_dict("records")  # trace_id, start and end (ns) of each span
    if isinstance(waveforms, (str, os.PathLike)) and os.path.isdir(os.fspath(waveforms)):
        from obspy.clients.filesystem.sds import Client

        client = Client(os.fspath(waveforms))
        for row in rows:
            net, sta, loc, cha = row["trace_id"].split(".")
            out += client.get_waveforms(
                net, sta, loc, cha, UTCDateTime(ns=int(row["start"])), UTCDateTime(ns=int(row["end"]))
            )
        return out
    if isinstance(waveforms, (obspy.Stream, obspy.Trace)):
        stream = obspy.Stream([waveforms]) if isinstance(waveforms, obspy.Trace) else waveforms
        for row in rows:
            t0, t1 = UTCDateTime(ns=int(row["start"])), UTCDateTime(ns=int(row["end"]))
            out += stream.select(id=row["trace_id"]).slice(t0, t1)
        return out.copy()
    paths = [waveforms] if isinstance(waveforms, (str, os.PathLike)) else list(waveforms)
    files = sorted({f for p in paths for f in (glob.glob(os.fspath(p)) or [os.fspath(p)])})
    if not files or not all(os.path.exists(f) for f in files):
        raise FileNotFoundError(f"{func}: no waveform file matches {waveforms!r}; pass the SDS root the monitor read, "
                                "its files (a glob pattern) or an obspy Stream.")
    for path in files:
        for row in rows:
            t0, t1 = UTCDateTime(ns=int(row["start"])), UTCDateTime(ns=int(row["end"]))
            st = obspy.read(path, starttime=t0, endtime=t1)
            out += st.select(id=row["trace_id"])
    return out


def reviewed_records(model, reviewed, waveforms, *, context_s: float = 30.0, rejected="auto",
                     func: str = "retrain") -> xr.Dataset:
    """Features of the waveforms around every reviewed event and rejection, labelled by the review (see the module
    docstring); ``attrs["rejected_detections"]`` counts the rejections read."""
    from ..data import from_obspy
    from ..features import compute

    names = list(model.class_names)
    background = getattr(model, "background", None)
    if isinstance(rejected, str) and rejected == "auto":
        rejected = rejected_beside(reviewed)
    rows = read_reviewed(reviewed, names, func, rejected=rejected)
    n_rejected = int(rows["rejected"].sum())
    if n_rejected and background is None:
        where = (f"in {os.fspath(rejected)}" if isinstance(rejected, (str, os.PathLike)) else "in the rejected table"
                 if rejected is not None else "rows whose review column says rejected")
        raise ValueError(
            f"{func}: the review rejected {n_rejected} detection(s) (false alarms, {where}), which retraining "
            f"teaches as the background class, but the model names no background class (model.background is None; "
            f"its classes: {names}). Set the class that means 'no event' (model.background = NAME, then save the "
            f"model) or leave the rejections out (rejected=None; on the command line --rejected none).")
    rows = _background_rejected(rows, background)
    stream = read_windows(waveforms, windows(rows, context_s), func)
    if len(stream) == 0:
        raise ValueError(f"{func}: the waveforms hold no sample around the reviewed events ({rows['trace_id'].iloc[0]} "
                         f"...); pass the archive the monitor read.")
    pre = dict(getattr(model, "preprocessing", None) or {})
    records = from_obspy(stream, rows[["trace_id", "start", "end", "class", "source"]].assign(
        start=lambda t: pd.to_datetime(t["start"], utc=True), end=lambda t: pd.to_datetime(t["end"], utc=True)),
        sampling_rate=getattr(model, "sampling_rate", None) or 100.0, class_names=names, background=background,
        detrend=pre.get("detrend", True) or False, bandpass=pre.get("bandpass"), merge_gaps=False)
    frames = compute(records, feature_config=model.feature_config or "paper", on_short="drop")
    frames.attrs["rejected_detections"] = n_rejected
    return frames


# ------------------------------------------------------------------------------------------------ scores


def _scores(model, frames: xr.Dataset | None, device) -> dict:
    """``events``, ``event_accuracy``, ``frame_accuracy``, ``macro_f1`` of ``model`` on ``frames``."""
    nan = {"events": 0, "event_accuracy": np.nan, "frame_accuracy": np.nan, "macro_f1": np.nan}
    if frames is None or frames.sizes.get("event", 0) == 0:
        return nan
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # an empty class in a small held-out set
        scores = evaluate(model, frames, device=device)
    probs = predict(model, frames, device=device)
    background = getattr(model, "background", None)
    data_names = list(frames.attrs.get("class_names", model.class_names))
    table = segment_frames(frames)
    hits, n = 0, 0
    for e, c, a, b in zip(table["event"], table["class"], table["frame_start"], table["frame_stop"], strict=True):
        name = data_names[int(c)]
        if name == background or b <= a:
            continue
        pred = probs[int(e)][int(a) : int(b)].argmax(-1)
        hits += int(np.bincount(pred, minlength=len(model.class_names)).argmax() == model.class_names.index(name))
        n += 1
    return {"events": n, "event_accuracy": hits / n if n else np.nan, "frame_accuracy": scores.accuracy,
            "macro_f1": scores.macro_f1}


def _table(model, sets: dict, device) -> pd.DataFrame:
    return pd.DataFrame({name: _scores(model, ds, device) for name, ds in sets.items()}).T.astype(
        {"events": int, "event_accuracy": float, "frame_accuracy": float, "macro_f1": float})


def _split(n: int, fraction: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """``(held out, kept)`` record positions: ``fraction`` of ``n`` (at least one of each when n >= 2)."""
    if n < 2 or fraction <= 0:
        return np.zeros(0, int), np.arange(n)
    order = rng.permutation(n)
    k = min(max(1, int(round(fraction * n))), n - 1)
    return np.sort(order[:k]), np.sort(order[k:])


# ------------------------------------------------------------------------------------------------ retrain


def retrain(
    model,
    reviewed,
    *,
    waveforms,
    original: xr.Dataset | None,
    rejected="auto",
    context_s: float = 30.0,
    holdout: float = 0.25,
    validation: float = 0.15,
    epochs: int = 10,
    lr: float = 1e-3,
    replay: float = 1.0,
    batch_size: int = 16,
    grad_clip: float | None = 1.0,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = 1,
    progress: bool = True,
) -> Retraining:
    """Fine-tune a copy of ``model`` on a reviewed detection catalog plus its original training data.

    Parameters
    ----------
    model : RNNClassifier, TCNClassifier or path
        The model that produced the detections (a model file is loaded). It is not changed.
    reviewed : path or pandas.DataFrame
        The reviewed catalog: ``reviewed.csv`` / ``reviewed.xml`` (QuakeML) of the review page, or any table with
        ``seed_id`` (or ``trace_id``), ``class_name`` (or ``class``), ``start``, ``end`` (UTC); a ``review`` column
        whose value is ``rejected`` marks false alarms (labelled background).
    waveforms : path, list of paths or obspy.Stream
        The archive the monitor read: an SDS root, waveform files (a glob pattern) or a Stream.
    original : xarray.Dataset or None
        The original training features (:func:`rnnscope.features.compute` of the training records, or a run);
        None fine-tunes on the reviewed events only (the model may then forget the rest).
    rejected : "auto", path, pandas.DataFrame or None
        The detections the analyst rejected (false alarms), taught as the model's background class where no kept
        event of their channel is: a table with ``seed_id`` (or ``trace_id``), ``start``, ``end`` (UTC), every row
        a rejection. ``"auto"``: the review page's ``rejected.csv`` beside ``reviewed`` when ``reviewed`` is its
        ``reviewed.csv`` or ``reviewed.xml`` (none otherwise); None: no rejections besides rows of ``reviewed``
        whose ``review`` says ``rejected``.
    context_s : float
        Seconds of signal kept before and after each reviewed event, labelled background.
    holdout : float
        Fraction of the reviewed windows held out to score the model before and after (not tuned on).
    validation : float
        Fraction of the original records held out to score the model before and after.
    epochs, lr, batch_size, grad_clip : int, float, int, float
        Passes over the reviewed training windows, Adam learning rate (smaller than for training from scratch),
        records per batch, gradient norm clip.
    replay : float
        Original records drawn (afresh each epoch) per reviewed training window.
    seed : int
        Seeds the splits, the replay draws, batch order and dropout (this call only).
    device, threads, progress
        As in :func:`rnnscope.train.fit`.

    Returns
    -------
    Retraining
        ``.model`` (the fine-tuned copy; ``.model.save(path)``), ``.before`` and ``.after`` scores,
        ``.summary()``, ``.history``, ``.records``, ``.split``.

    Raises
    ------
    ValueError
        The catalog names classes the model does not have, lacks a column, holds nothing, or holds rejections
        while the model names no background class (set ``model.background`` or pass ``rejected=None``); the
        waveforms hold no sample around the reviewed events.
    FileNotFoundError
        The reviewed catalog (or ``rejected`` file) does not exist.

    Examples
    --------
    >>> import rnnscope, tempfile
    >>> from rnnscope.data._synthetic_archive import write_sds_archive
    >>> root = tempfile.mkdtemp()
    >>> truth, _ = write_sds_archive(root, "2024-03-01T00:00:00", 900.0, seed=4)   # 15 min, true events
    >>> records = rnnscope.data.synthetic(n_records=8, seed=1)
    >>> original = rnnscope.features.compute(records)
    >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=8, num_classes=5)
    >>> _ = rnnscope.train.fit(model, original, epochs=2, progress=False)
    >>> out = rnnscope.train.retrain(model, truth, waveforms=root, original=original, epochs=2, progress=False)
    >>> list(out.before.index), list(out.before.columns)
    (['reviewed held out', 'reviewed tuned on', 'original held out'], ['events', 'event_accuracy', 'frame_accuracy',
    'macro_f1'])
    >>> out.model is not model, len(out.history)
    (True, 2)
    """
    func = "retrain"
    if isinstance(model, (str, os.PathLike)):
        from ..models import load

        model = load(model, device="cpu")  # retrain moves its copy to device=
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        check_positive(value, name=name, func=func, integer=True)
    check_positive(lr, name="lr", func=func)
    check_positive(context_s, name="context_s", func=func, allow_zero=True)
    check_positive(replay, name="replay", func=func, allow_zero=True)
    for name, fraction in (("holdout", holdout), ("validation", validation)):
        if not (isinstance(fraction, (int, float)) and 0 <= fraction < 1):
            raise ValueError(f"The {name!r} parameter of {func} must be a fraction in [0, 1). "
                             f"Got {fraction!r} instead.")
    frames = reviewed_records(model, reviewed, waveforms, context_s=context_s, rejected=rejected, func=func)
    with seeded(seed, threads) as rng:
        dev = resolve_device(device, func=func)
        held, tuned = _split(frames.sizes["event"], holdout, rng)
        reviewed_held = frames.isel(event=held) if held.size else None
        reviewed_tuned = frames.isel(event=tuned)
        original_held = original_tuned = None
        if original is not None:
            o_held, o_tuned = _split(original.sizes["event"], validation, rng)
            original_held = original.isel(event=o_held) if o_held.size else None
            original_tuned = original.isel(event=o_tuned)
        sets = {"reviewed held out": reviewed_held, "reviewed tuned on": reviewed_tuned,
                "original held out": original_held}
        tuned_model = copy.deepcopy(model).to(dev)
        before = _table(tuned_model, sets, dev)
        history = _fine_tune(tuned_model, reviewed_tuned, original_tuned, reviewed_held, original_held, epochs=epochs,
                             lr=lr, replay=replay, batch_size=batch_size, grad_clip=grad_clip, rng=rng, device=dev,
                             progress=progress, func=func)
        after = _table(tuned_model, sets, dev)
    tuned_model.info["retraining"] = {
        "reviewed_windows": int(frames.sizes["event"]), "holdout": [str(e) for e in frames.event_id.values[held]],
        "rejected_detections": int(frames.attrs.get("rejected_detections", 0)),
        "epochs": int(epochs), "lr": float(lr), "replay": float(replay), "seed": int(seed),
        "before": before.round(6).to_dict(orient="index"), "after": after.round(6).to_dict(orient="index"),
    }
    ids = [str(e) for e in frames["event_id"].values]
    return Retraining(model=tuned_model, before=before, after=after, history=history, records=frames,
                      split={"holdout": [ids[i] for i in held], "tuned": [ids[i] for i in tuned]})


def _fine_tune(model, reviewed, original, reviewed_held, original_held, *, epochs, lr, replay, batch_size, grad_clip,
               rng, device, progress, func) -> pd.DataFrame:
    """Adam on the reviewed windows plus ``replay`` x as many original records per epoch (normaliser kept)."""
    mine = _records(model, reviewed, func)
    old = _records(model, original, func) if original is not None else None
    held = {name: _records(model, ds, func) for name, ds in (("reviewed", reviewed_held), ("original", original_held))
            if ds is not None}
    pool = mine if old is None else _Records(mine.x + old.x, mine.y + old.y, mine.class_names,
                                             mine.event_ids + old.event_ids)
    weights = _class_weights(pool, "balanced", len(model.class_names))
    weights = weights.to(device) if weights is not None else None
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    n_replay = 0 if old is None else min(len(old), int(math.ceil(replay * len(mine))))
    rows = []
    for epoch in _progress(range(1, epochs + 1), progress, desc="retrain"):
        t0 = time.perf_counter()
        # n_replay is 0 without original records
        picked = rng.choice(len(old), size=n_replay, replace=False) if old is not None and n_replay else []
        batch = mine if old is None or not n_replay else _Records(mine.x + [old.x[i] for i in picked],
                                                                  mine.y + [old.y[i] for i in picked],
                                                                  mine.class_names)
        loss, accuracy = _train_epoch(model, batch, optimiser, weights, batch_size=batch_size, grad_clip=grad_clip,
                                      rng=rng, device=device)
        model.eval()
        row = {"epoch": epoch, "loss": loss, "accuracy": accuracy}
        for name, records in held.items():
            row[f"loss_{name}"] = _score(model, records, weights, batch_size, device)[0]
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return pd.DataFrame(rows)
