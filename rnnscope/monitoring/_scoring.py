"""Event-level scores of a detection catalog against a reference catalog.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._sources import _NS

__all__ = ["match_detections", "score_detections"]


# --------------------------------------------------------------------------------------------- scores


def _times_ns(values, name: str, func: str) -> np.ndarray:
    """Absolute times (UTCDateTime, Timestamp, datetime, ISO string) -> int ns; numbers are seconds."""
    values = pd.Series(values)
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return np.rint(values.to_numpy(dtype=np.float64) * _NS).astype(np.int64)
    if values.map(lambda v: type(v).__name__ == "UTCDateTime").any():
        values = values.map(lambda v: str(v) if type(v).__name__ == "UTCDateTime" else v)
    try:
        stamps = (
            pd.to_datetime(values, utc=True, format="mixed")
            if values.dtype == object
            else pd.to_datetime(values, utc=True)
        )
    except (ValueError, TypeError) as err:
        raise ValueError(f"{func}: cannot read the {name!r} times as UTC times ({err}).") from None
    return pd.DatetimeIndex(stamps).as_unit("ns").asi8.copy()  # pandas may hold us or s resolution


def _table(df, what: str, func: str) -> pd.DataFrame:
    df = pd.DataFrame(df).reset_index(drop=True)
    if "class_name" not in df.columns and "class" in df.columns:
        df = df.rename(columns={"class": "class_name"})
    missing = [c for c in ("start", "end", "class_name") if c not in df.columns]
    if missing:
        raise ValueError(
            f"{func}: the {what} table lacks the column(s) {missing}; it needs 'start', 'end' (UTC times, or seconds) "
            f"and 'class_name' (or 'class'). Got columns {list(df.columns)}."
        )
    out = pd.DataFrame({
        "start": _times_ns(df["start"], f"{what}.start", func),
        "end": _times_ns(df["end"], f"{what}.end", func),
        "class_name": df["class_name"].astype(str).to_numpy(),
    })
    sid = next((c for c in ("seed_id", "trace_id") if c in df.columns), None)
    out["seed_id"] = df[sid].astype(str).to_numpy() if sid else ""
    bad = np.flatnonzero(out["end"].to_numpy() < out["start"].to_numpy())
    if bad.size:
        raise ValueError(f"{func}: {what} row {int(bad[0])} ends before it starts; fix its start/end.")
    return out


def _match(det: pd.DataFrame, true: pd.DataFrame, min_overlap_ns: int) -> list[tuple[int, int, int]]:
    """One-to-one matches (det row, true row, overlap ns) of overlapping intervals, largest overlaps first."""
    pairs = []
    t_order = np.argsort(true["start"].to_numpy(), kind="stable")
    t_start = true["start"].to_numpy()[t_order]
    t_end_max = np.maximum.accumulate(true["end"].to_numpy()[t_order]) if len(t_order) else t_start
    for i, (a, b) in enumerate(zip(det["start"].to_numpy(), det["end"].to_numpy(), strict=True)):
        hi = np.searchsorted(t_start, b, side="left")  # true events starting before the detection ends
        lo = np.searchsorted(t_end_max, a, side="right")  # ... and (possibly) ending after it starts
        for k in range(lo, hi):
            j = t_order[k]
            overlap = min(b, true["end"].iat[j]) - max(a, true["start"].iat[j])
            if overlap > min_overlap_ns or (overlap == min_overlap_ns == 0 and a == b == true["start"].iat[j]):
                pairs.append((int(overlap), int(det.index[i]), int(true.index[j])))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    used_d, used_t, out = set(), set(), []
    for overlap, i, j in pairs:
        if i in used_d or j in used_t:
            continue
        used_d.add(i)
        used_t.add(j)
        out.append((i, j, overlap))
    return out


def match_detections(
    detections: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    classes: Sequence[str] | None = None,
    background: str | None = "auto",
    min_overlap_s: float = 0.0,
) -> pd.DataFrame:
    """The detections matched to true events, one row per pair (the pairs :func:`score_detections` counts).

    A detection matches a true event of the same class (and the same SEED id, when both tables have a
    ``seed_id`` or ``trace_id`` column) when their intervals overlap by more than ``min_overlap_s``; matching is
    one-to-one, largest overlaps first. Onset error = detection start - true start (s; negative = early).

    Parameters
    ----------
    detections, truth, classes, background, min_overlap_s
        As in :func:`score_detections`.

    Returns
    -------
    pandas.DataFrame
        Columns ``detection`` and ``true`` (row positions in ``detections`` and ``truth``), ``class_name``,
        ``onset_error_s``, ``overlap_s``; one row per matched pair.

    Examples
    --------
    >>> truth = pd.DataFrame({"start": [10.0, 50.0], "end": [30.0, 70.0], "class_name": ["LP", "LP"]})
    >>> det = pd.DataFrame({"start": [11.0, 80.0], "end": [29.0, 85.0], "class_name": ["LP", "LP"]})
    >>> match_detections(det, truth)
       detection  true class_name  onset_error_s  overlap_s
    0          0     0         LP            1.0       18.0
    """
    return _matched(detections, truth, classes, background, min_overlap_s, "match_detections")[3]


def _matched(detections, truth, classes, background, min_overlap_s, func):
    """(detections, truth, classes scored, matches) of :func:`match_detections` and :func:`score_detections`."""
    if isinstance(background, str) and background == "auto":
        background = next((str(t.attrs["background"]) for t in (detections, truth)
                           if isinstance(getattr(t, "attrs", None), dict) and t.attrs.get("background")), None)
    det = _table(detections, "detections", func)
    true = _table(truth, "truth", func)
    if classes is None:
        classes = list(dict.fromkeys([*true["class_name"], *det["class_name"]]))
        classes = [c for c in classes if c != background]
    classes = [str(c) for c in classes]
    use_ids = (det["seed_id"] != "").any() and (true["seed_id"] != "").any()
    min_overlap_ns = int(round(float(min_overlap_s) * _NS))
    matches = []
    for cls in classes:
        d = det[det["class_name"] == cls]
        t = true[true["class_name"] == cls]
        groups = sorted(set(d["seed_id"]) | set(t["seed_id"])) if use_ids else [None]
        for sid in groups:
            dd = d if sid is None else d[d["seed_id"] == sid]
            tt = t if sid is None else t[t["seed_id"] == sid]
            for i, j, overlap in _match(dd, tt, min_overlap_ns):
                matches.append({"detection": i, "true": j, "class_name": cls,
                                "onset_error_s": (det["start"].iat[i] - true["start"].iat[j]) / _NS,
                                "overlap_s": overlap / _NS})
    matches = pd.DataFrame(matches, columns=["detection", "true", "class_name", "onset_error_s", "overlap_s"])
    return det, true, classes, matches


def score_detections(
    detections: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    classes: Sequence[str] | None = None,
    background: str | None = "auto",
    min_overlap_s: float = 0.0,
) -> pd.DataFrame:
    """Event-level precision, recall and onset error of a detection table against a true catalog, per class.

    A detection matches a true event of the same class (and the same SEED id, when both tables have a
    ``seed_id`` or ``trace_id`` column) when their intervals overlap by more than ``min_overlap_s``; matching is
    one-to-one, largest overlaps first (:func:`match_detections` lists the pairs). Onset error = detection start -
    true start (s; negative = early).

    Parameters
    ----------
    detections : pandas.DataFrame
        E.g. ``rnnscope.monitor(...).detections``: columns ``start``, ``end``, ``class_name``.
    truth : pandas.DataFrame
        The true events: ``start``, ``end`` and ``class_name`` (or ``class``), as UTC times (Timestamps,
        UTCDateTime, ISO strings) or as seconds (then the detections' times must be seconds too).
    classes : sequence of str, optional
        Classes to score (default: every class in either table except ``background``).
    background : str or None
        The background class, left out of the default ``classes`` (its "events" are the gaps between events).
        ``"auto"`` (default): the ``attrs["background"]`` of ``detections`` (set by :func:`rnnscope.monitor`),
        else of ``truth``, else none. None: every class is scored.
    min_overlap_s : float
        Overlap (s) needed for a match; 0: any overlap.

    Returns
    -------
    pandas.DataFrame
        Index ``class_name`` (plus ``"all"``, every scored class pooled); columns ``n_true``, ``n_detected``,
        ``n_matched``, ``precision``, ``recall``, ``f1``, ``onset_error_median_s``, ``onset_error_mean_s``,
        ``onset_abs_error_median_s`` (NaN where undefined).

    Examples
    --------
    >>> truth = pd.DataFrame({"start": [10.0, 50.0, 90.0], "end": [30.0, 70.0, 95.0],
    ...                       "class_name": ["LP", "LP", "VTE"]})
    >>> det = pd.DataFrame({"start": [11.0, 80.0, 89.5], "end": [29.0, 85.0, 96.0], "class_name": ["LP", "LP", "VTE"]})
    >>> scores = score_detections(det, truth)
    >>> scores[["n_true", "n_detected", "n_matched"]]
                n_true  n_detected  n_matched
    class_name
    LP               2           2          1
    VTE              1           1          1
    all              3           3          2
    >>> scores[["precision", "recall", "onset_error_median_s"]].round(2)
                precision  recall  onset_error_median_s
    class_name
    LP               0.50    0.50                  1.00
    VTE              1.00    1.00                 -0.50
    all              0.67    0.67                  0.25
    """
    det, true, classes, matches = _matched(detections, truth, classes, background, min_overlap_s, "score_detections")
    rows = []
    for cls in [*classes, "all"]:
        m = matches if cls == "all" else matches[matches["class_name"] == cls]
        n_true = int(true["class_name"].isin(classes).sum()) if cls == "all" else int((true["class_name"] == cls).sum())
        n_det = int(det["class_name"].isin(classes).sum()) if cls == "all" else int((det["class_name"] == cls).sum())
        k = len(m)
        precision = k / n_det if n_det else np.nan
        recall = k / n_true if n_true else np.nan
        f1 = 2 * precision * recall / (precision + recall) if k else (0.0 if n_det and n_true else np.nan)
        err = m["onset_error_s"].to_numpy(dtype=float)
        rows.append({
            "class_name": cls, "n_true": n_true, "n_detected": n_det, "n_matched": k,
            "precision": precision, "recall": recall, "f1": f1,
            "onset_error_median_s": float(np.median(err)) if k else np.nan,
            "onset_error_mean_s": float(np.mean(err)) if k else np.nan,
            "onset_abs_error_median_s": float(np.median(np.abs(err))) if k else np.nan,
        })
    return pd.DataFrame(rows).set_index("class_name")
