"""Assemble a records Dataset (waveforms + sample labels + segment table) from per-record arrays.

Every reader (synthetic generator, ObsPy, plain arrays) ends here, so the layout is written once.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .. import _version, schema
from .._validation import check_background, check_class_names, check_labels, check_positive, check_waveform
from ..errors import NumericalWarning
from ..schema import SCHEMA_VERSION, SUMMARY_VARIABLES

#: columns of a segment table given to the readers (``event`` the record's position; times in s from the record
#: start); the records Dataset names the record of each segment by its event_id (``segment_event_id``)
SEGMENT_COLUMNS = ("event", "class", "start", "end", "p", "s")


def build_records(
    waveforms: Sequence[np.ndarray],
    sample_labels: Sequence[np.ndarray],
    *,
    sampling_rate: float,
    class_names: Sequence[str],
    segments: pd.DataFrame | None = None,
    event_ids: Sequence[str] | None = None,
    starttimes: Sequence[str | None] | None = None,
    trace_ids: Sequence[str | None] | None = None,
    attrs: dict | None = None,
    background: str | None = None,
    func: str = "build_records",
) -> xr.Dataset:
    """Return a records Dataset.

    Parameters
    ----------
    waveforms, sample_labels : sequences of 1-D arrays
        One array of samples and one of class indices (-1 unknown) per record; lengths may differ.
    sampling_rate : float
        Hz, shared by all records.
    class_names : list of str
    segments : DataFrame, optional
        Columns ``event`` (record index), ``class`` (index), ``start``, ``end``, ``p``, ``s`` (s from the record
        start). Derived from runs of equal labels when omitted.
    event_ids, starttimes, trace_ids : sequences, optional
        Per-record identifier, UTC start (ISO string) and SEED id.
    attrs : dict, optional
        More attrs of the Dataset.
    background : str, optional
        The background class (one of ``class_names``), stored as ``attrs["background"]``.
    """
    check_positive(sampling_rate, name="sampling_rate", func=func)
    class_names = check_class_names(class_names, func=func)
    background = check_background(background, class_names, func=func)
    if len(waveforms) != len(sample_labels):
        raise ValueError(
            f"{func}: got {len(waveforms)} waveforms but {len(sample_labels)} label arrays; give one per record."
        )
    if len(waveforms) == 0:
        raise ValueError(f"{func}: no records given; pass at least one waveform.")
    n_events = len(waveforms)
    if event_ids is None:
        event_ids = [f"rec{i:05d}" for i in range(n_events)]
    event_ids = [str(e) for e in event_ids]
    if len(event_ids) != n_events or len(set(event_ids)) != n_events:
        raise ValueError(f"{func}: event_ids must be {n_events} unique identifiers.")

    xs = [check_waveform(w, where=f"record {event_ids[i]!r}", func=func) for i, w in enumerate(waveforms)]
    ys = [
        check_labels(y, len(xs[i]), len(class_names), where=f"record {event_ids[i]!r}", func=func)
        for i, y in enumerate(sample_labels)
    ]
    for i, x in enumerate(xs):
        if x.size > 1 and np.ptp(x) == 0:
            warnings.warn(
                f"{func}: record {event_ids[i]!r} is constant ({x[0]:g} in all {x.size} samples): a dead or clipped "
                "channel? Its features will sit at the log floor; drop it unless that is intended.",
                NumericalWarning, stacklevel=3,
            )
    n_samples = np.array([len(x) for x in xs], dtype=np.int64)
    width = int(n_samples.max())
    wave = np.full((n_events, width), np.nan, dtype=np.float32)
    lab = np.full((n_events, width), -1, dtype=np.int16)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        wave[i, : len(x)] = x
        lab[i, : len(y)] = y

    if segments is None:
        segments = segments_from_labels(ys, sampling_rate)
    segments = _check_segments(segments, n_samples / sampling_rate, len(class_names), event_ids, func)

    coords = {
        "event_id": ("event", np.array(event_ids, dtype=object)),
        "n_samples": ("event", n_samples),
        "sample_time": ("sample", np.arange(width) / float(sampling_rate)),
    }
    if starttimes is not None:
        coords["starttime"] = ("event", np.array([s if s is not None else "" for s in starttimes], dtype=object))
    if trace_ids is not None:
        coords["trace_id"] = ("event", np.array([s if s is not None else "" for s in trace_ids], dtype=object))
    data_vars = {
        "waveform": (("event", "sample"), wave),
        "sample_label": (("event", "sample"), lab),
    }
    data_vars.update(segment_variables(segments, event_ids))
    ds = xr.Dataset(data_vars, coords=coords)
    ds["waveform"].attrs.update(long_name="waveform", units="counts")
    ds["sample_label"].attrs.update(long_name="class index per sample (-1 unknown)")
    base_attrs = {
        "schema_version": SCHEMA_VERSION,
        "class_names": list(class_names),
        "sampling_rate": float(sampling_rate),
        **_version.provenance(),
    }
    if background is not None:
        base_attrs["background"] = background
    base_attrs.update(attrs or {})
    ds.attrs.update(base_attrs)
    return ds


def segment_variables(segments: pd.DataFrame, event_ids) -> dict:
    """Segment table (DataFrame with SEGMENT_COLUMNS, ``event`` the record's position in ``event_ids``) -> the
    schema's ``segment_*`` variables, which name each segment's record by its event_id.

    >>> table = pd.DataFrame({"event": [1], "class": [2], "start": [0.5], "end": [3.0]})
    >>> segment_variables(table, ["a", "b"])["segment_event_id"][1].tolist()
    ['b']
    """
    ids = np.asarray(event_ids).astype(str)
    rows = pd.DataFrame({col: segments[col].to_numpy() if col in segments else np.full(len(segments), np.nan)
                         for col in SEGMENT_COLUMNS[1:]})
    rows.insert(0, "event_id", ids[segments["event"].to_numpy(np.int64)] if len(segments) else np.zeros(0, str))
    return schema.segment_variables(rows)


def segments_from_labels(labels: Sequence[np.ndarray], sampling_rate: float) -> pd.DataFrame:
    """Runs of one class index (>= 0) in per-sample labels -> segment table (no P/S arrivals).

    >>> segments_from_labels([np.array([0, 0, 2, 2, 2, -1])], 1.0)[["event", "class", "start", "end"]]
       event  class  start  end
    0      0      0    0.0  2.0
    1      0      2    2.0  5.0
    """
    rows = []
    for event, y in enumerate(labels):
        y = np.asarray(y)
        if y.size == 0:
            continue
        change = np.flatnonzero(np.diff(y)) + 1
        starts = np.r_[0, change]
        ends = np.r_[change, y.size]
        for a, b in zip(starts, ends, strict=True):
            if y[a] >= 0:
                rows.append((event, int(y[a]), a / sampling_rate, b / sampling_rate, np.nan, np.nan))
    return pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS)).astype(
        {"event": np.int64, "class": np.int64, "start": float, "end": float, "p": float, "s": float}
    )


def _check_segments(segments, durations, n_classes, event_ids, func) -> pd.DataFrame:
    segments = pd.DataFrame(segments)
    missing = [c for c in SEGMENT_COLUMNS if c not in segments.columns and c not in ("p", "s")]
    if missing:
        raise ValueError(f"{func}: the segment table lacks columns {missing}; expected {list(SEGMENT_COLUMNS)}.")
    segments = segments.copy()
    for col in ("p", "s"):
        if col not in segments.columns:
            segments[col] = np.nan
    segments = segments[list(SEGMENT_COLUMNS)].reset_index(drop=True)
    event = segments["event"].to_numpy()
    cls = segments["class"].to_numpy()
    start, end = segments["start"].to_numpy(float), segments["end"].to_numpy(float)
    bad_event = (event < 0) | (event >= len(durations))
    if bad_event.any():
        i = int(np.flatnonzero(bad_event)[0])
        raise ValueError(f"{func}: segment {i} refers to record {event[i]}, but there are {len(durations)} records.")
    where = lambda i: f"segment {i} of record {event_ids[event[i]]!r}"  # noqa: E731
    checks = [
        ((cls < 0) | (cls >= n_classes), lambda i: f"has class index {cls[i]}, outside [0, {n_classes - 1}]."),
        (~(end > start), lambda i: f"ends ({end[i]} s) before it starts ({start[i]} s)."),
        ((start < -1e-6) | (end > np.asarray(durations)[event] + 1e-6),
         lambda i: f"({start[i]}-{end[i]} s) lies outside the record (0-{durations[event[i]]} s)."),
    ]
    for bad, message in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{func}: {where(i)} {message(i)}")
    return segments.sort_values(["event", "start"], kind="stable").reset_index(drop=True)


def catalog(ds: xr.Dataset) -> pd.DataFrame:
    """The segment table of a records, features or run Dataset as a DataFrame (segments of its records only).

    Columns: ``event`` (the record's position), ``event_id``, ``class_name``, ``class``, ``start``, ``end``, ``p``,
    ``s`` (s from the record start), ``duration`` (s), and ``starttime`` / ``trace_id`` when the records know them
    (``starttime`` then gives the segment's UTC start as a pandas Timestamp). Rows follow the records' order.

    Parameters
    ----------
    ds : xarray.Dataset
        A records Dataset, a features Dataset or a run, with a segment table.

    Returns
    -------
    pandas.DataFrame
        One row per segment of a record of ``ds``, with the columns above.

    Raises
    ------
    ValueError
        When ``ds`` has no segment table.

    Examples
    --------
    >>> import rnnscope
    >>> cat = rnnscope.data.catalog(rnnscope.data.synthetic(n_records=3, seed=1))
    >>> list(cat.columns[:4])
    ['event', 'event_id', 'class_name', 'class']
    >>> cat.loc[:2, ["event_id", "class_name", "start", "end", "duration"]]
       event_id class_name  start     end  duration
    0  syn00000        SIL   0.00    5.21      5.21
    1  syn00000        TRE   5.21   46.00     40.79
    2  syn00000        SIL  46.00  113.28     67.28
    """
    missing = [v for v in schema.SEGMENT_VARIABLES[:4] if v not in ds.variables]
    if missing:
        raise ValueError(f"catalog: the Dataset has no segment table (missing {missing}).")
    names = list(ds.attrs["class_names"])
    rows = schema.segment_rows(ds)
    records = pd.DataFrame({"event_id": schema.event_ids(ds), "event": np.arange(ds.sizes["event"])})
    table = rows.merge(records, on="event_id", how="inner").sort_values(["event", "start"], kind="stable")
    table = table.reset_index(drop=True)[["event", "event_id", "class", "start", "end", "p", "s"]]
    table.insert(2, "class_name", [names[c] for c in table["class"]])
    table["duration"] = table["end"] - table["start"]
    for coord in ("trace_id", "starttime"):
        if coord in ds.coords and len(table):
            values = np.asarray(ds[coord].values)[table["event"].to_numpy()]
            if coord == "starttime":
                base = pd.to_datetime(values, utc=True, errors="coerce")
                table[coord] = base + pd.to_timedelta(table["start"].to_numpy(), unit="s")
            else:
                table[coord] = values
    return table


def select_records(ds: xr.Dataset, idx) -> xr.Dataset:
    """Records ``idx`` (positions) of a records, features or run Dataset, with only their segments.

    ``ds.isel(event=idx)`` keeps the whole segment table (rows of other records are ignored, as every reader of
    the table does); this also drops the other records' segments and orders the table by record, then start. The
    capture-time summaries of a run (``summary_*``) describe other records and are dropped.

    Parameters
    ----------
    ds : xarray.Dataset
        A records Dataset, a features Dataset or a run.
    idx : int or sequence of int
        Positions of the records to keep, in the order wanted.

    Returns
    -------
    xarray.Dataset
        The records ``idx`` with their segments only (and no ``summary_*`` variables).

    Examples
    --------
    >>> import rnnscope
    >>> ds = rnnscope.data.synthetic(n_records=4, seed=0)
    >>> sub = select_records(ds, [3, 1])
    >>> sub.event_id.values.tolist(), sorted(set(sub.segment_event_id.values.tolist()))
    (['syn00003', 'syn00001'], ['syn00001', 'syn00003'])
    """
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    stale = [name for name in SUMMARY_VARIABLES if name in ds.variables]
    out = ds.drop_vars(stale).isel(event=idx)
    if stale and "variable" in out.coords and not any("variable" in out[v].dims for v in out.data_vars):
        out = out.drop_vars("variable")
    if "segment_event_id" in ds.variables:
        rows = schema.segment_rows(ds)
        records = pd.DataFrame({"event_id": schema.event_ids(out), "event": np.arange(idx.size)})
        table = rows.merge(records, on="event_id", how="inner").sort_values(["event", "start"], kind="stable")
        segment_vars = [v for v in schema.SEGMENT_VARIABLES if v in out.variables]
        out = out.drop_vars(segment_vars).assign(schema.segment_variables(table.reset_index(drop=True)))
    return out
