"""Scores of a trained model on a features Dataset: frame accuracy, per-class F1, confusion and event-level
detection (Titos & Garcia 2022, Tables I and III).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .._validation import (
    FROM_DATA,
    check_background,
    no_background_message,
    resolve_background,
)
from ..errors import NoBackgroundWarning
from ..models._base import ModelBase
from ..schema import segment_frames
from ._fit import predict
from ._records import _records
from ._scores import confusion_matrix, confusion_scores

__all__ = ["Evaluation", "evaluate"]


@dataclass
class Evaluation:
    """Scores of a model on a data set (frame level and event level).

    ``accuracy``, ``balanced_accuracy`` and ``macro_f1`` are the frame scores of :func:`rnnscope.train.frame_scores`
    (one definition); :meth:`summary` adds the event scores. :func:`rnnscope.train.evaluate` builds it.

    Parameters
    ----------
    accuracy : float
        Share of the labelled valid frames predicted right.
    macro_f1 : float
        Mean F1 over the classes.
    per_class : pandas.DataFrame
        Index ``class_name``; ``precision``, ``recall``, ``f1``, ``support`` (frames).
    confusion : pandas.DataFrame
        Frame counts, rows the true class, columns the predicted class (class names).
    events : pandas.DataFrame
        One row per true event segment: ``event``, ``class_name``, ``start``, ``end``, ``detected``,
        ``onset_error_s``.
    event_scores : pandas.DataFrame
        Per class: ``segments``, ``detected``, ``detection_rate``, ``mean_abs_onset_error_s``.
    balanced_accuracy : float
        Mean recall over the classes with frames.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5)
    >>> scores = rnnscope.train.evaluate(model, frames)  # an untrained model: low scores, same layout
    >>> list(scores.per_class.columns), list(scores.confusion.index)
    (['precision', 'recall', 'f1', 'support'], ['SIL', 'TRE', 'LP', 'VTE', 'HYB'])
    >>> int(scores.confusion.values.sum()) == int((frames.label >= 0).sum()), 0 <= scores.accuracy <= 1
    (True, True)
    >>> sorted(scores.summary())
    ['accuracy', 'balanced_accuracy', 'detection_rate', 'macro_f1', 'onset_error_s']
    """

    accuracy: float
    macro_f1: float
    per_class: pd.DataFrame  # index class_name; precision, recall, f1, support (frames)
    confusion: pd.DataFrame  # rows true class_name, columns predicted class_name (frame counts)
    events: pd.DataFrame  # one row per true segment: detected, onset_error_s
    event_scores: pd.DataFrame  # per class: segments, detected, detection_rate, mean |onset error| (s)
    balanced_accuracy: float = float("nan")  # mean recall over the classes with frames

    def summary(self) -> dict:
        """The scores of one row of a table: ``accuracy``, ``balanced_accuracy``, ``macro_f1`` (frames),
        ``detection_rate`` (share of true event segments detected) and ``onset_error_s`` (mean |onset error| of
        the detected ones, s); NaN where there is nothing to score."""
        nan = float("nan")
        detected: pd.Series = self.events["detected"].astype(bool) if len(self.events) else pd.Series([], dtype=bool)
        errors = self.events.loc[detected, "onset_error_s"].abs() if len(self.events) else pd.Series([], dtype=float)
        return {"accuracy": self.accuracy, "balanced_accuracy": self.balanced_accuracy, "macro_f1": self.macro_f1,
                "detection_rate": float(detected.mean()) if len(detected) else nan,
                "onset_error_s": float(errors.mean()) if len(errors) else nan}

    def __repr__(self) -> str:
        return (f"Evaluation(accuracy={self.accuracy:.4f}, balanced_accuracy={self.balanced_accuracy:.4f}, "
                f"macro_f1={self.macro_f1:.4f}, segments={len(self.events)})\n{self.per_class.round(3)}")


def evaluate(model: ModelBase, dataset: xr.Dataset, *, batch_size: int = 32, device: str = "auto",
             background: str | None = "auto") -> Evaluation:
    """Frame-level and event-level scores of ``model`` on ``dataset``.

    Frame level (valid frames with a known label): ``accuracy``, ``balanced_accuracy`` (mean recall over the
    classes with frames), per-class precision / recall / F1 and their macro average (``macro_f1``), confusion matrix
    labelled by class names (the definitions of :func:`rnnscope.train.frame_scores`).

    Event level (the segment table, background segments left out): a true segment is *detected* when a predicted
    segment (a run of frames with one predicted class) of the same class overlaps it in time; its onset error is
    the start of the first such predicted segment minus the true start, in seconds (frame centre times).

    Parameters
    ----------
    model : RNNClassifier or TCNClassifier
    dataset : xarray.Dataset
        Features Dataset; refused when computed at another sampling rate or with other feature settings than the
        model's training features (see :func:`fit`).
    batch_size : int
    device : str
    background : str or None
        The class whose segments are not events. ``"auto"`` (default): the data's ``attrs["background"]``, else
        ``model.background``, with a warning when neither says; None: every segment is an event.

    Returns
    -------
    Evaluation
        ``summary()`` gives one table row: the three frame scores, ``detection_rate`` and ``onset_error_s``.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=4, seed=0))
    >>> model = rnnscope.examples.trained_model()  # the shipped LSTM(64)
    >>> scores = rnnscope.train.evaluate(model, frames)
    >>> list(scores.per_class.index), "SIL" in set(scores.events["class_name"])  # SIL: the background
    (['SIL', 'TRE', 'LP', 'VTE', 'HYB'], False)
    """
    records = _records(model, dataset, "evaluate")  # checks first, so that errors name evaluate
    probs = predict(model, dataset, batch_size=batch_size, device=device)
    names = list(model.class_names)
    background = _event_background(model, dataset, background)
    pred = np.concatenate([p.argmax(-1) for p in probs]) if probs else np.zeros(0, int)
    confusion = confusion_matrix(np.concatenate(records.y), pred, len(names))
    scores = confusion_scores(confusion)
    per_class = pd.DataFrame({k: scores[k] for k in ("precision", "recall", "f1", "support")},
                             index=pd.Index(names, name="class_name"))
    events = _event_table(dataset, probs, names, background)
    grouped = events.groupby("class_name", sort=False)
    event_scores = pd.DataFrame({
        "segments": grouped.size(),
        "detected": grouped["detected"].sum(),
        "detection_rate": grouped["detected"].mean(),
        "mean_abs_onset_error_s": grouped["onset_error_s"].apply(lambda s: s.abs().mean()),
    }).reindex([n for n in names if n in set(events["class_name"])]) if len(events) else pd.DataFrame()
    return Evaluation(
        accuracy=scores["accuracy"],
        macro_f1=scores["macro_f1"],
        per_class=per_class,
        confusion=pd.DataFrame(
            confusion, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted")
        ),
        events=events,
        event_scores=event_scores,
        balanced_accuracy=scores["balanced_accuracy"],
    )


def predicted_segments(pred: np.ndarray, times: np.ndarray, frame_step: float) -> pd.DataFrame:
    """Runs of one predicted class -> segments with start/end times (s; a frame spans its centre +- step/2)."""
    if pred.size == 0:
        return pd.DataFrame(columns=["class", "start", "end"])
    change = np.flatnonzero(np.diff(pred)) + 1
    starts, ends = np.r_[0, change], np.r_[change, pred.size]
    return pd.DataFrame({"class": pred[starts], "start": times[starts] - frame_step / 2,
                         "end": times[ends - 1] + frame_step / 2})


def _event_background(model, dataset, background, func="evaluate") -> str | None:
    """``background``, else the data's, else the model's; a warning when nothing says which class it is."""
    names = list(model.class_names)
    if isinstance(background, str) and background == FROM_DATA and FROM_DATA not in names:
        resolved = resolve_background(background, names, dataset.attrs, func=func)
        resolved = resolved if resolved is not None else getattr(model, "background", None)
        if resolved is None:
            warnings.warn(no_background_message(func, "neither the data's attrs nor the model name one", names,
                                                "segments of every class are scored as events"),
                          NoBackgroundWarning, stacklevel=3)
        return resolved
    return check_background(background, names, func=func)


def _event_table(dataset: xr.Dataset, probs: list[np.ndarray], names: list[str], background=None) -> pd.DataFrame:
    columns = ["event", "class_name", "start", "end", "detected", "onset_error_s"]
    if "segment_event_id" not in dataset:
        return pd.DataFrame(columns=columns)
    data_names = list(dataset.attrs.get("class_names", names))
    times = np.asarray(dataset["time"].values)
    step = float(times[1] - times[0]) if times.size > 1 else 0.5
    table = segment_frames(dataset)  # the segments of these records (named by event_id), by record position
    seg_event, seg_class = table["event"].to_numpy(), table["class"].to_numpy()
    seg_start, seg_end = table["start"].to_numpy(), table["end"].to_numpy()
    rows = []
    cache: dict[int, pd.DataFrame] = {}
    for e, c, a, b in zip(seg_event, seg_class, seg_start, seg_end, strict=True):
        e = int(e)
        if e not in cache:
            p = probs[e]
            cache[e] = predicted_segments(p.argmax(-1), times[: len(p)], step)
        segs = cache[e]
        name = data_names[int(c)]
        if name not in names or name == background:
            continue
        hit = segs[(segs["class"] == names.index(name)) & (segs["start"] < b) & (segs["end"] > a)]
        rows.append({"event": e, "class_name": name, "start": float(a), "end": float(b), "detected": len(hit) > 0,
                     "onset_error_s": float(hit["start"].iloc[0] - a) if len(hit) else np.nan})
    return pd.DataFrame(rows, columns=columns)  # no rows (background segments only): the columns all the same
