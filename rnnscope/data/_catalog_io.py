"""Catalogues of labelled segments (for :func:`rnnscope.data.from_obspy`): read, check, place on records.

A catalogue is a table with one row per labelled segment:

- the trace id, column ``trace_id`` (or ``seed_id``): a SEED id such as ``'BW.RJOB..EHZ'``;
- ``start`` and ``end``: absolute times;
- the class name, column ``class`` (or ``class_name``);
- optional ``p`` and ``s``: absolute P and S arrival times (empty when unknown);
- optional ``source``: where the row comes from (e.g. ``'day1.trs line 12'``), added to every message about it.

Column names are matched without regard to case or surrounding spaces; other columns are ignored. The
annotation readers (:mod:`rnnscope.data._annotations`) return such tables.

Times are ISO 8601 strings (``'2009-08-24T00:20:05.5Z'``, ``'2009-08-24 00:20:05+02:00'``), pandas
Timestamps, :class:`datetime.datetime`, :class:`numpy.datetime64` or :class:`obspy.UTCDateTime`. Times with a
time zone or UTC offset are converted to UTC; times without one (naive) are taken as UTC. Plain numbers are
refused (a number of seconds is ambiguous: from the record start, or from 1970?).

Rows are named in messages as ``catalog line N`` for a CSV file (N is the line in the file, the header being line
1) and ``catalog row LABEL`` for a DataFrame (LABEL is the index label). This module imports neither ObsPy nor
torch: times are held as integer nanoseconds since 1970-01-01 UTC.
"""
from __future__ import annotations

import datetime as _dt
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import require
from ..errors import InputWarning

#: accepted names (first found wins) of each catalogue column
TRACE_COLUMNS = ("trace_id", "seed_id")
CLASS_COLUMNS = ("class", "class_name")
TIME_COLUMNS = ("start", "end")
PHASE_COLUMNS = ("p", "s")

#: how far (s) a segment may stick out of its record before it is reported as clipped
CLIP_TOLERANCE = 1e-6

_EXPECTED = "trace_id (or seed_id), start, end, class (or class_name), and optional p, s"
_TIME_HINT = (
    "give an ISO 8601 time such as '2009-08-24T00:20:05.5Z' (times without a time zone are taken as UTC) "
    "or an obspy UTCDateTime"
)


@dataclass(frozen=True)
class CatalogRow:
    """One catalogue row, checked; times in ns since 1970-01-01 UTC."""

    where: str  # "catalog line 3" or "catalog row 2"
    trace_id: str
    class_index: int
    start: int
    end: int
    p: int | None = None
    s: int | None = None

    @property
    def label(self) -> str:
        return f"{self.where} (trace {self.trace_id!r})"


@dataclass(frozen=True)
class RecordSpan:
    """Where a record sits in time: its trace id, UTC start (ns) and number of samples."""

    trace_id: str
    start: int
    n_samples: int


class _TimeError(ValueError):
    pass


def iso(ns: int) -> str:
    """Nanoseconds since 1970 UTC -> ISO 8601 string ending in Z."""
    return pd.Timestamp(int(ns), unit="ns").isoformat() + "Z"


def to_ns(value) -> int | None:
    """An absolute time -> ns since 1970-01-01 UTC; None for a missing value; raise ValueError if unreadable.

    >>> to_ns("1970-01-01T00:00:01+01:00")
    -3599000000000
    >>> to_ns("1970-01-01 00:00:01") == to_ns("1970-01-01T00:00:01Z") == 1_000_000_000
    True
    """
    if value is None:
        return None
    if type(value).__name__ == "UTCDateTime" and hasattr(value, "ns"):  # obspy.UTCDateTime, without importing obspy
        return int(value.ns)
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() in ("nan", "nat", "none", "null"):
            return None
        try:
            ts = pd.to_datetime(text, format="ISO8601")
        except (ValueError, TypeError, OverflowError) as err:
            raise _TimeError("not an ISO 8601 time") from err
    elif isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date, np.datetime64)):
        ts = pd.Timestamp(value)
    elif isinstance(value, (bool, int, float, np.number)):
        if isinstance(value, (float, np.floating)) and np.isnan(value):
            return None
        raise _TimeError("a plain number is not an absolute time")
    else:
        raise _TimeError(f"a {type(value).__name__} is not a time")
    if pd.isna(ts):
        return None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    try:
        return int(ts.as_unit("ns").value)
    except (ValueError, OverflowError) as err:
        raise _TimeError("out of the supported range (years 1678-2261)") from err


def read_catalog(catalog, class_names: Sequence[str], *, func: str) -> list[CatalogRow]:
    """Read and check a catalogue (DataFrame or CSV path); return its rows.

    Checks every row: trace id present, class one of ``class_names``, times readable, end after start. Overlaps
    between rows are handled by :func:`merge_overlaps`.
    """
    table, where = _load_table(catalog, func)
    columns = {str(c).strip().lower(): c for c in table.columns}

    def column(options, what):
        for name in options:
            if name in columns:
                return columns[name]
        if what is None:
            return None
        raise ValueError(
            f"{func}: the catalog has no {what} column; expected columns {_EXPECTED}. "
            f"Found columns {[str(c) for c in table.columns]}; rename yours to match."
        )

    c_trace = column(TRACE_COLUMNS, "trace id ('trace_id' or 'seed_id')")
    c_class = column(CLASS_COLUMNS, "class ('class' or 'class_name')")
    c_start = column(("start",), "'start'")
    c_end = column(("end",), "'end'")
    c_p, c_s = column(("p",), None), column(("s",), None)
    c_source = column(("source",), None)
    names = list(class_names)

    rows = []
    for position, (label, record) in enumerate(table.iterrows()):
        here = where(position, label)
        if c_source is not None and not _missing(record[c_source]):
            here = f"{here} ({str(record[c_source]).strip()})"
        tid = record[c_trace]
        if _missing(tid) or not str(tid).strip():
            raise ValueError(
                f"{func}: {here}: the trace id is missing; give the SEED id of the trace (NET.STA.LOC.CHA, "
                "e.g. 'BW.RJOB..EHZ') or drop the row."
            )
        tid = str(tid).strip()
        prefix = f"{func}: {here} (trace {tid!r})"
        cls = record[c_class]
        cls = "" if _missing(cls) else str(cls).strip()
        if cls not in names:
            raise ValueError(
                f"{prefix}: class {cls!r} is not one of {names}; fix the class or pass class_names=[...] "
                "listing every class of the catalog."
            )
        times: dict[str, int | None] = {}
        for name, col in (("start", c_start), ("end", c_end), ("p", c_p), ("s", c_s)):
            if col is None:
                times[name] = None
                continue
            value = record[col]
            try:
                times[name] = to_ns(value)
            except _TimeError as err:
                raise ValueError(f"{prefix}: cannot read the {name} time {value!r} ({err}); {_TIME_HINT}.") from None
            if times[name] is None and name in TIME_COLUMNS:
                raise ValueError(f"{prefix}: the {name} time is missing; {_TIME_HINT}.")
        start, end = times["start"], times["end"]
        assert start is not None and end is not None  # TIME_COLUMNS: checked above
        if not end > start:
            raise ValueError(
                f"{prefix}: the segment does not end after it starts (start {iso(start)}, "
                f"end {iso(end)}); fix the times or swap start and end."
            )
        rows.append(CatalogRow(here, tid, names.index(cls), start, end, times["p"], times["s"]))
    return rows


def merge_overlaps(rows: Sequence[CatalogRow], *, func: str, stacklevel: int = 2) -> list[CatalogRow]:
    """Merge overlapping rows of one class and trace (with a warning); refuse overlaps of different classes.

    Segments that only touch are kept apart. A merged row spans its rows (earliest start, latest end), keeps the
    P and S arrivals of its earliest row that has them, and is named ``'<where> + <where>'`` in later messages.
    Returns the rows in catalogue order (a merged row where its earliest-starting row was); ``stacklevel`` as in
    :func:`warnings.warn`, counted from the caller.
    """
    by_trace: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_trace.setdefault(row.trace_id, []).append(i)
    kept: dict[int, CatalogRow] = {}  # position of the first row -> (merged) row
    merged = []
    for tid, positions in by_trace.items():
        positions = sorted(positions, key=lambda i: (rows[i].start, rows[i].end))
        last = positions[0]  # kept rows of one trace never overlap, so the last one reaches furthest
        kept[last] = rows[last]
        for i in positions[1:]:
            row, latest = rows[i], kept[last]
            if row.start >= latest.end:
                kept[i], last = row, i
                continue
            if row.class_index != latest.class_index:
                raise ValueError(
                    f"{func}: {latest.where} and {row.where} (trace {tid!r}) overlap with different classes: "
                    f"{iso(latest.start)} - {iso(latest.end)} and {iso(row.start)} - {iso(row.end)}; a sample has "
                    "one class only, so shorten, split or merge these segments."
                )
            merged.append(f"{latest.where} and {row.where} (trace {tid!r})")
            kept[last] = CatalogRow(
                f"{latest.where} + {row.where}", tid, latest.class_index, latest.start, max(latest.end, row.end),
                latest.p if latest.p is not None else row.p, latest.s if latest.s is not None else row.s,
            )
    if merged:
        shown = "; ".join(merged[:3]) + ("; ..." if len(merged) > 3 else "")
        warnings.warn(
            f"{func}: {len(merged)} catalog row(s) overlapping a segment of the same class on the same trace were "
            f"merged into it: {shown}. Merge them in the catalog to silence this warning.",
            InputWarning,
            stacklevel=stacklevel + 1,
        )
    return [kept[i] for i in sorted(kept)]


def place_segments(
    rows: Sequence[CatalogRow],
    records: Sequence[RecordSpan],
    sampling_rate: float,
    *,
    func: str,
    stacklevel: int = 2,
) -> list[dict]:
    """Put each catalogue row on its record; times become seconds from the record start.

    A row goes to the record of its trace id that it overlaps most (there is one per id unless gaps split
    them). A segment entirely outside its records is an error; one that sticks out of its record is clipped to
    it with a warning (``stacklevel`` as in :func:`warnings.warn`, counted from the caller). Returns dicts with
    keys ``event``, ``class``, ``start``, ``end``, ``p``, ``s``, ``row``.
    """
    by_id: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        by_id.setdefault(rec.trace_id, []).append(i)
    placed = []
    for row in rows:
        candidates = by_id.get(row.trace_id)
        if not candidates:
            raise ValueError(
                f"{func}: {row.label}: no trace with this id in the stream; available trace ids are "
                f"{sorted(by_id)}. Fix the id (NET.STA.LOC.CHA) or drop the row."
            )
        best, best_overlap = candidates[0], -np.inf
        for i in candidates:
            rec = records[i]
            duration = rec.n_samples / sampling_rate
            start, end = (row.start - rec.start) / 1e9, (row.end - rec.start) / 1e9
            overlap = min(end, duration) - max(start, 0.0)
            if overlap > best_overlap:
                best, best_overlap = i, overlap
        rec = records[best]
        duration = rec.n_samples / sampling_rate
        extent = f"{iso(rec.start)} - {iso(rec.start + round(duration * 1e9))}"
        if best_overlap <= 0:
            raise ValueError(
                f"{func}: {row.label}: the segment {iso(row.start)} - {iso(row.end)} lies entirely outside the "
                f"record ({extent}); check its date and time zone (naive times are UTC), or drop the row."
            )
        start, end = (row.start - rec.start) / 1e9, (row.end - rec.start) / 1e9
        if start < -CLIP_TOLERANCE or end > duration + CLIP_TOLERANCE:
            warnings.warn(
                f"{func}: {row.label}: the segment {iso(row.start)} - {iso(row.end)} extends past the record "
                f"({extent}); it was clipped to the record. Trim the catalog to silence this warning.",
                InputWarning,
                stacklevel=stacklevel + 1,
            )
        start, end = max(start, 0.0), min(end, duration)
        placed.append(
            {
                "event": best,
                "class": row.class_index,
                "start": start,
                "end": end,
                "p": np.nan if row.p is None else (row.p - rec.start) / 1e9,
                "s": np.nan if row.s is None else (row.s - rec.start) / 1e9,
                "row": row,
            }
        )
    return placed


def _plain(label):
    """numpy scalars -> Python scalars, so messages read ``row 3``, not ``row np.int64(3)``."""
    return label.item() if isinstance(label, np.generic) else label


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _load_table(catalog, func):
    """Return (DataFrame, where) with ``where(position, label)`` naming a row in messages."""
    if isinstance(catalog, pd.DataFrame):
        return catalog, lambda position, label: f"catalog row {_plain(label)!r}"
    if isinstance(catalog, (str, os.PathLike)):
        path = os.fspath(catalog)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{func}: the catalog file {path!r} does not exist; pass a CSV path or a pandas DataFrame."
            )
        try:
            # blank lines are kept (and dropped below) so that row positions map to file lines
            table = pd.read_csv(path, dtype=str, skip_blank_lines=False, skipinitialspace=True)
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
            raise ValueError(
                f"{func}: cannot read the catalog file {path!r} as CSV ({err}); expected a header line with "
                f"columns {_EXPECTED}."
            ) from None
        lines = np.arange(len(table)) + 2  # the header is line 1
        keep = ~table.isna().all(axis=1).to_numpy()
        table, lines = table[keep], lines[keep]
        return table, lambda position, label: f"catalog line {int(lines[position])}"
    raise TypeError(
        f"The 'catalog' parameter of {func} must be None, a pandas DataFrame or the path of a CSV file with "
        f"columns {_EXPECTED}. Got {type(catalog).__name__} instead."
    )


#: columns of the catalogue table every annotation reader returns (:func:`catalogue_table`)
CATALOGUE_COLUMNS = ("trace_id", "start", "end", "class_name", "p", "s", "source")


def catalogue_table(rows) -> pd.DataFrame:
    """Rows (trace id, start ns, end ns, class, p ns or None, s ns or None, source) -> the catalogue DataFrame the
    annotation readers return (UTC times, ``NaT`` for unknown arrivals).

    >>> catalogue_table([("XX.A..HHZ", 0, 10**9, "LP", None, None, "f event 0")])[["class_name", "end"]]
      class_name                              end
    0         LP 1970-01-01 00:00:01+00:00
    """
    def times(values):
        return pd.to_datetime([pd.NaT if v is None else v for v in values], unit="ns", utc=True)

    columns: list[Sequence] = list(zip(*rows, strict=True)) if rows else [[] for _ in CATALOGUE_COLUMNS]
    return pd.DataFrame({
        "trace_id": pd.Series(columns[0], dtype=object),
        "start": times(columns[1]),
        "end": times(columns[2]),
        "class_name": pd.Series(columns[3], dtype=object),
        "p": times(columns[4]),
        "s": times(columns[5]),
        "source": pd.Series(columns[6], dtype=object),
    })


def import_obspy(func: str):
    """ObsPy, or a :class:`~rnnscope.errors.MissingExtraError` naming the extra that installs it
    (``rnnscope[seismic]``)."""
    return require("obspy", extra="seismic", what=func)
