"""Place the rows of a detection catalog on a run's records (for the Explorer's detection list).

A catalog row is placed by record and seconds from the record start, either given directly (columns ``event``
or ``event_id``, and numeric ``start`` / ``end`` in s) or from UTC times (``start`` / ``end`` as timestamps or
ISO strings, as :func:`rnnscope.monitor` writes them), matched against the run's ``starttime`` coordinate (and
``trace_id`` when the catalog has ``seed_id`` or ``trace_id``). The class is read from ``class_name`` (the
package's column name), else ``class`` (what annotation and QuakeML readers once returned): the same result.
"""
from __future__ import annotations

import warnings

import pandas as pd

from ..errors import CatalogColumnWarning

__all__ = ["place_detections", "CLASS_COLUMNS"]

#: columns a catalog's class is read from, first found
CLASS_COLUMNS = ("class_name", "class")


#: catalog columns carried to the placed rows as text when present (the review page's decision and detection id)
_CARRIED = ("review", "key")


def place_detections(catalog: pd.DataFrame, reader, *, unplaced: str = "drop") -> pd.DataFrame:
    """Rows of ``catalog`` that fall on a record of the run, with ``event``, ``t0`` and ``t1`` (s) and what the
    detection table shows: ``class_name``, ``station``, ``start_text`` (UTC when the record's start is known, then
    ``utc`` is True and ``when`` the start in s since 1970, else NaN),
    ``duration_s``, ``probability`` (``p_mean``, else ``p_peak``, else ``probability``; NaN when absent) and a
    ``label``; ``review`` and ``key`` when the catalog has them. With ``unplaced="list"`` the rows on no record
    of the run are kept too, with ``event`` -1 and NaN times (their start as the catalog gives it).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> reader = SimpleNamespace(event_ids=["a", "b"], lengths=np.array([10, 10]), dt=0.5, times=np.arange(10) / 2 + 2,
    ...                          starttimes=None, trace_ids=None, record_span=lambda event: (1.75, 6.75))
    >>> place_detections(pd.DataFrame({"event_id": ["b"], "start": [3.0], "end": [4.5], "class_name": ["LP"]}),
    ...                  reader)[["event", "t0", "t1", "start_text", "label"]]
       event   t0   t1 start_text              label
    0      1  3.0  4.5     3.00 s  0: LP b 3.00 s 1.5 s
    """
    from ._timeaxis import format_time

    if not isinstance(catalog, pd.DataFrame):
        raise TypeError(f"Explorer: 'catalog' must be a pandas DataFrame of detections. Got {type(catalog).__name__}.")
    missing = [c for c in ("start", "end") if c not in catalog.columns]
    if missing:
        raise ValueError(f"Explorer: the detection catalog lacks columns {missing}; it needs start, end and either "
                         "event / event_id with times in s, or UTC times matched to the run's 'starttime'.")
    if unplaced not in ("drop", "list"):
        raise ValueError(f"The 'unplaced' of place_detections must be 'drop' or 'list'. Got {unplaced!r} instead.")
    names = class_column(catalog)
    prob_col = next((c for c in ("p_mean", "p_peak", "probability") if c in catalog.columns), None)
    rows = []
    numeric = pd.api.types.is_numeric_dtype(catalog["start"])
    for i, row in enumerate(catalog.to_dict("records")):
        if numeric:
            event = _event_by_id(row, reader)
            t0, t1 = float(row["start"]), float(row["end"])
            if event is not None and not _overlaps_record(reader, event, t0, t1):
                event = None  # outside its record's frames (e.g. a catalog of a longer record): on no record
        else:
            event, t0, t1 = _event_by_time(row, reader)
        if event is None:
            if unplaced == "list":
                rows.append(_unplaced_row(i, row, str(names.iloc[i]), prob_col, numeric))
            continue
        start = reader.starttimes[event] if reader.starttimes is not None else None
        seed = row.get("seed_id", row.get("trace_id")) or (reader.trace_ids[event] if reader.trace_ids else "")
        station = str(seed).split(".")[1] if str(seed).count(".") == 3 else str(seed or reader.event_ids[event])
        text = format_time(t0, start, digits=2 if start is None else 1)
        rows.append({"row": i, "event": event, "t0": t0, "t1": t1, "class_name": str(names.iloc[i]),
                     "station": station, "start_text": text, "utc": start is not None,
                     "when": pd.Timestamp(start).value / 1e9 + t0 if start is not None else float("nan"),
                     "duration_s": t1 - t0,
                     "probability": float(row[prob_col]) if prob_col else float("nan"),
                     "label": f"{i}: {names.iloc[i]} {reader.event_ids[event]} {text} {t1 - t0:.1f} s"})
        for extra in _CARRIED:
            if extra in row:
                rows[-1][extra] = str(row[extra])
    columns = ["row", "event", "t0", "t1", "class_name", "station", "start_text", "utc", "when", "duration_s",
               "probability", "label"] + [c for c in _CARRIED if c in catalog.columns]
    return pd.DataFrame(rows, columns=columns)


def class_column(catalog: pd.DataFrame) -> pd.Series:
    """The class of each catalog row as text: ``class_name``, else ``class``, else "" with a warning."""
    column = next((c for c in CLASS_COLUMNS if c in catalog.columns), None)
    if column is None:
        if len(catalog):
            warnings.warn(f"Explorer: the detection catalog has no class column (columns {list(catalog.columns)}); "
                          f"its rows are listed without a class. Name it 'class_name' (or 'class', as read by "
                          f"rnnscope.data.read_quakeml_catalog).", CatalogColumnWarning, stacklevel=4)
        return pd.Series([""] * len(catalog))
    return catalog[column].fillna("").astype(str).reset_index(drop=True)


def _unplaced_row(i: int, row: dict, name: str, prob_col, seconds: bool) -> dict:
    """A catalog row on no record of the run (``unplaced="list"``): listed with its catalog start, no times."""
    start, end = row["start"], row["end"]
    when = float("nan")
    if seconds:
        text, duration = f"{float(start):.2f} s", float(end) - float(start)
    else:
        t0, t1 = (pd.Timestamp(t).tz_localize(None) if pd.Timestamp(t).tzinfo else pd.Timestamp(t)
                  for t in (start, end))
        text, duration = t0.strftime("%Y-%m-%d %H:%M:%S.%f")[:21], (t1 - t0).total_seconds()
        when = t0.value / 1e9
    seed = str(row.get("seed_id", row.get("trace_id")) or "")
    station = seed.split(".")[1] if seed.count(".") == 3 else seed
    return {"row": i, "event": -1, "t0": float("nan"), "t1": float("nan"), "class_name": name, "station": station,
            "start_text": text, "utc": not seconds, "when": when, "duration_s": duration,
            "probability": float(row[prob_col]) if prob_col else float("nan"),
            "label": f"{i}: {name} {seed} {text} (on no record of this run)",
            **{extra: str(row[extra]) for extra in _CARRIED if extra in row}}


def _overlaps_record(reader, event: int, t0: float, t1: float) -> bool:
    """Whether ``[t0, t1]`` (s) meets record ``event``'s frames (the reader's ``record_span``: from the start of its
    first frame to the end of its last valid one)."""
    first, last = reader.record_span(event)
    return t1 >= first and t0 <= last


def _event_by_id(row, reader):
    if "event" in row and row["event"] is not None and not pd.isna(row["event"]):
        event = int(row["event"])
        return event if 0 <= event < len(reader.lengths) else None
    if "event_id" in row:
        ids = list(reader.event_ids)
        return ids.index(str(row["event_id"])) if str(row["event_id"]) in ids else None
    return 0 if len(reader.lengths) == 1 else None


def _event_by_time(row, reader):
    if reader.starttimes is None:
        return None, 0.0, 0.0
    start, end = (pd.Timestamp(t).tz_localize(None) if pd.Timestamp(t).tzinfo else pd.Timestamp(t)
                  for t in (row["start"], row["end"]))
    seed = row.get("seed_id", row.get("trace_id"))
    for event, t_start in enumerate(reader.starttimes):
        if t_start is None:
            continue
        if seed is not None and reader.trace_ids is not None and reader.trace_ids[event] not in ("", seed):
            continue
        duration = float(reader.times[max(int(reader.lengths[event]) - 1, 0)]) + reader.dt
        t0 = (start - t_start).total_seconds()
        if 0 <= t0 < duration:
            return event, t0, min((end - t_start).total_seconds(), duration)
    return None, 0.0, 0.0
