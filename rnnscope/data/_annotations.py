"""Annotation formats -> the catalogue DataFrame that :func:`rnnscope.data.from_obspy` takes.

- :func:`read_transcriber` — Transcriber ``.trs`` files: ``<Sync time="..."/>`` marks, each followed by its label;
- :func:`~rnnscope.data.read_quakeml_catalog` — QuakeML (any catalogue :func:`obspy.read_events` reads, including
  the ones :func:`rnnscope.monitoring.to_catalog` writes), in :mod:`rnnscope.data._quakeml` with the writer;
- :func:`read_relative_csv` — CSV tables whose times are seconds from the start of a waveform file.

Each returns one row per labelled segment with columns ``trace_id``, ``start``, ``end`` (UTC
:class:`pandas.Timestamp`), ``class_name``, ``p``, ``s`` (UTC, ``NaT`` when unknown) and ``source`` (file and line
or event the row comes from; :func:`from_obspy` names it in its messages). ``class_name`` is the column name every
catalog of rnnscope uses (the monitor's detections, :func:`rnnscope.monitoring.score_detections`, the Explorer,
the review page); catalogs given to rnnscope may name it ``class`` too. Classes are returned as written (after the
reader's mapping); :func:`from_obspy` checks them against its ``class_names``. Several files' rows are joined with
:func:`pandas.concat`.

**Time 0 of relative times** (Transcriber marks, CSV times) is given by a ``reference``: the absolute time itself
(ISO 8601 string, :class:`obspy.UTCDateTime`, pandas Timestamp, datetime; then ``trace_id`` is required), an
ObsPy Trace or Stream, or the path of a waveform file (only its headers are read). For a Stream or file, time 0
is the first sample of the traces of ``trace_id`` (or of its only SEED id).

ObsPy is imported only when a reader needs it (a QuakeML file, a Trace, a waveform file).
"""
from __future__ import annotations

import glob
import os
import warnings
import xml.parsers.expat
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._validation import check_positive
from ..errors import InputWarning
from ._catalog_io import _TimeError, catalogue_table, import_obspy, to_ns

__all__ = ["read_transcriber", "read_relative_csv"]

_NS = 1_000_000_000


# --------------------------------------------------------------------------------------------------------------
# Transcriber
# --------------------------------------------------------------------------------------------------------------
def read_transcriber(
    path,
    reference,
    *,
    trace_id: str | None = None,
    time_scale: float = 1.0,
    class_map: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """Transcriber ``.trs`` labels -> catalogue DataFrame for :func:`rnnscope.data.from_obspy`.

    Each ``<Sync time="t"/>`` mark opens a segment labelled with the text that follows it; the segment ends at
    the next mark or, for the last mark of a ``<Turn>``, at the turn's ``endTime`` (else its section's).

    Parameters
    ----------
    path : str or path-like
        The ``.trs`` file (XML; any encoding its declaration names).
    reference : time, obspy Trace or Stream, or path of a waveform file
        Time 0 of the file's times (see the module notes), usually the waveform file the labels were made on.
    trace_id : str, optional
        SEED id of the labelled trace; required when ``reference`` is a time or holds several ids.
    time_scale : float
        Seconds of signal per unit of the file's times: a time ``t`` is ``t * time_scale`` s after time 0 (e.g. 100
        when the signal was played 100 times faster than real time while labelling).
    class_map : mapping, optional
        Label text -> class name; a label mapped to None is dropped. Labels not in it are kept as they are.

    Returns
    -------
    pandas.DataFrame
        Columns ``trace_id``, ``start``, ``end``, ``class_name``, ``p``, ``s``, ``source`` (``'<file> line N'``,
        the line of the mark). Marks followed by no text (unlabelled stretches) and segments of zero length give no
        row.

    Raises
    ------
    ValueError
        If the file is not well-formed XML, a mark has no number as its time, times go backwards, or the last
        segment has no end (no ``endTime`` on its turn or section). Messages name the file and line.

    Warns
    -----
    UserWarning
        When ``reference`` holds the labelled record and the file's times (scaled by ``time_scale``) end before a
        tenth of it: the signal was likely played faster while labelling; the message suggests a ``time_scale``.

    Examples
    --------
    >>> import os, tempfile
    >>> from rnnscope.data import read_transcriber
    >>> path = os.path.join(tempfile.mkdtemp(), "day1.trs")
    >>> with open(path, "w") as f:
    ...     _ = f.write('<?xml version="1.0"?><Trans><Episode><Section type="report" startTime="0" endTime="6">'
    ...                 '<Turn startTime="0" endTime="6">\\n<Sync time="0"/>\\n<Sync time="1.5"/>LP\\n'
    ...                 '<Sync time="2.5"/>\\n<Sync time="4"/>tremor\\n</Turn></Section></Episode></Trans>')
    >>> table = read_transcriber(path, "2017-08-03T00:00:00Z", trace_id="KC.BEZ..EHZ", time_scale=10.0,
    ...                          class_map={"tremor": "TR"})
    >>> table[["class_name", "start", "end"]]
      class_name                     start                       end
    0         LP 2017-08-03 00:00:15+00:00 2017-08-03 00:00:25+00:00
    1         TR 2017-08-03 00:00:40+00:00 2017-08-03 00:01:00+00:00
    >>> table["source"].tolist()
    ['day1.trs line 3', 'day1.trs line 5']
    """
    func = "read_transcriber"
    check_positive(time_scale, name="time_scale", func=func)
    mapping = _check_class_map(class_map, func)
    path = _existing_file(path, "Transcriber (.trs)", func)
    tid, origin, data_end = _resolve_reference(reference, trace_id, func, with_end=True)
    name = os.path.basename(path)
    rows = []
    marks = _transcriber_marks(path, func)
    for start, end, text, line in marks:
        label = mapping.get(text, text) if text else None
        if label is None or not end > start:
            continue
        a, b = origin + round(start * time_scale * _NS), origin + round(end * time_scale * _NS)
        rows.append((tid, a, b, str(label), None, None, f"{name} line {line}"))
    if marks and data_end is not None:
        _check_time_scale(name, max(m[1] for m in marks), time_scale, (data_end - origin) / _NS, tid, func)
    return catalogue_table(rows)


#: labels whose file covers less than this share of the referenced record get a warning (time_scale forgotten?)
_MIN_COVERAGE = 0.1


def _check_time_scale(name, file_end, time_scale, record_s, trace_id, func) -> None:
    """Warn when the file's times, scaled, cover a small part of the record they label: the signal was most likely
    played faster while labelling and ``time_scale`` is missing (or too small)."""
    covered = file_end * time_scale
    if record_s <= 0 or covered >= _MIN_COVERAGE * record_s:
        return
    guess = record_s / file_end
    hint = float(f"{guess:.2g}")
    warnings.warn(
        f"{func}: the labels of {name} end at {covered:g} s (file time {file_end:g} x time_scale {time_scale:g}), "
        f"{100 * covered / record_s:.1f} % of the {record_s:g} s record of {trace_id!r} they label. If the signal "
        f"was played faster while labelling, the file's times are in another unit: pass time_scale= (the seconds of "
        f"signal per unit of the file's times; time_scale={hint:g} would make the labels end with the record).",
        InputWarning, stacklevel=3,
    )


def _transcriber_marks(path, func) -> list[tuple[float, float, str, int]]:
    """(start, end, label text, line) of every Sync mark, in file order; times in the file's unit."""
    parser = xml.parsers.expat.ParserCreate()
    marks: list[list] = []  # [start, end or None, text parts, line]
    ends = {"Section": None, "Turn": None}

    def problem(message):
        return ValueError(f"{func}: {os.path.basename(path)} line {parser.CurrentLineNumber}: {message}")

    def number(attrs, key, element):
        try:
            value = float(attrs[key])
        except (KeyError, ValueError):
            raise problem(
                f"<{element}> has {key}={attrs.get(key)!r}, not a number of seconds; fix the file."
            ) from None
        if not np.isfinite(value):
            raise problem(f"<{element}> has {key}={attrs[key]!r}, not a finite number; fix the file.")
        return value

    def close(time):
        if marks and marks[-1][1] is None:
            if time < marks[-1][0]:
                raise problem(f"time {time:g} lies before the mark of line {marks[-1][3]} ({marks[-1][0]:g}); "
                              "marks must be in time order.")
            marks[-1][1] = time

    def start_element(element, attrs):
        if element in ends:
            ends[element] = number(attrs, "endTime", element) if "endTime" in attrs else None
        elif element == "Sync":
            time = number(attrs, "time", "Sync")
            close(time)
            marks.append([time, None, [], parser.CurrentLineNumber])

    def end_element(element):
        if element in ends and marks and marks[-1][1] is None:
            end = ends["Turn"] if ends["Turn"] is not None else ends["Section"]
            if end is not None:
                close(end)

    def text(data):
        if marks and marks[-1][1] is None:
            marks[-1][2].append(data)

    parser.StartElementHandler = start_element
    parser.EndElementHandler = end_element
    parser.CharacterDataHandler = text
    try:
        with open(path, "rb") as f:
            parser.ParseFile(f)
    except xml.parsers.expat.ExpatError as err:
        raise ValueError(
            f"{func}: {os.path.basename(path)} is not a well-formed Transcriber file ({err}); check that it is the "
            ".trs XML file."
        ) from None
    if marks and marks[-1][1] is None:
        raise ValueError(
            f"{func}: {os.path.basename(path)} line {marks[-1][3]}: the last mark has no end (no endTime on its "
            "<Turn> or <Section>); add endTime to the turn."
        )
    return [(m[0], m[1], " ".join("".join(m[2]).split()), m[3]) for m in marks]


# --------------------------------------------------------------------------------------------------------------
# CSV with relative times
# --------------------------------------------------------------------------------------------------------------
def read_relative_csv(
    path,
    reference,
    *,
    trace_id: str | None = None,
    time_scale: float = 1.0,
    class_map: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """CSV of segments timed in seconds from a waveform file's start -> catalogue DataFrame.

    Parameters
    ----------
    path : str or path-like
        CSV with a header line and columns ``start``, ``end`` (numbers), ``class`` (or ``class_name`` or
        ``label``), optionally ``p``, ``s`` (numbers, empty when unknown), ``trace_id`` (or ``seed_id``) and
        ``file``. Column names are matched without regard to case; other columns are ignored.
    reference : time, obspy Trace or Stream, path of a waveform file; or, with a ``file`` column, a dict, glob
        pattern, directory or list of waveform files
        Time 0 of the times (see the module notes). When the CSV has a ``file`` column, each row is timed from the
        file it names: ``reference`` maps names to references (a dict) or lists the waveform files, matched by
        name with or without extension.
    trace_id : str, optional
        SEED id of the rows without a ``trace_id`` column value; required when the reference is a time or holds
        several ids.
    time_scale : float
        Seconds of signal per unit of the CSV's times.
    class_map : mapping, optional
        Label -> class name; a label mapped to None is dropped. Labels not in it are kept as they are.

    Returns
    -------
    pandas.DataFrame
        Columns ``trace_id``, ``start``, ``end``, ``class_name``, ``p``, ``s``, ``source`` (``'<file> line N'``,
        the header being line 1).

    Examples
    --------
    >>> import os, tempfile
    >>> from rnnscope.data import read_relative_csv
    >>> path = os.path.join(tempfile.mkdtemp(), "labels.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("start,end,label\\n12.0,30.5,VT\\n31,40,noise\\n")
    >>> table = read_relative_csv(path, "2017-08-03T00:00:00Z", trace_id="KC.BEZ..EHZ", class_map={"noise": None})
    >>> table[["class_name", "start", "end"]]
      class_name                     start                           end
    0         VT 2017-08-03 00:00:12+00:00 2017-08-03 00:00:30.500+00:00
    >>> table.trace_id.tolist(), table.source.tolist()
    (['KC.BEZ..EHZ'], ['labels.csv line 2'])
    """
    func = "read_relative_csv"
    check_positive(time_scale, name="time_scale", func=func)
    mapping = _check_class_map(class_map, func)
    path = _existing_file(path, "CSV", func)
    name = os.path.basename(path)
    try:
        table = pd.read_csv(path, dtype=str, skip_blank_lines=False, skipinitialspace=True, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{func}: cannot read {name} as CSV ({err}); expected a header line.") from None
    columns = {str(c).strip().lower(): c for c in table.columns}

    def pick(*options):
        return next((columns[o] for o in options if o in columns), None)

    c_start, c_end, c_class = pick("start"), pick("end"), pick("class", "class_name", "label")
    if c_start is None or c_end is None or c_class is None:
        raise ValueError(
            f"{func}: {name} needs columns start, end and class (or class_name or label); found "
            f"{[str(c) for c in table.columns]}. Rename yours to match."
        )
    c_p, c_s, c_trace, c_file = pick("p"), pick("s"), pick("trace_id", "seed_id"), pick("file")
    files = _file_references(reference, func) if c_file is not None else None
    origins: dict = {}
    rows = []
    for k, record in enumerate(table.to_dict("records")):
        where = f"{name} line {k + 2}"
        if not any(str(v).strip() for v in record.values()):
            continue  # blank line
        label = str(record[c_class]).strip()
        label = mapping.get(label, label)
        if label is None:
            continue
        tid = str(record[c_trace]).strip() if c_trace is not None and str(record[c_trace]).strip() else trace_id
        ref = reference
        if files is not None:
            ref = _lookup_file(files, str(record[c_file]).strip(), where, func)
        key = (id(ref) if not isinstance(ref, (str, os.PathLike)) else os.fspath(ref), tid)
        if key not in origins:
            origins[key] = _resolve_reference(ref, tid, func, where=where)
        tid, origin = origins[key]
        times: dict[str, float | None] = {}
        for field, col in (("start", c_start), ("end", c_end), ("p", c_p), ("s", c_s)):
            value = "" if col is None else str(record[col]).strip()
            if not value and field in ("p", "s"):
                times[field] = None
                continue
            try:
                seconds = float(value)
            except ValueError:
                seconds = np.nan
            if not np.isfinite(seconds):
                raise ValueError(
                    f"{func}: {where}: the {field} time {value!r} is not a number of seconds from the file start; "
                    "fix the value."
                )
            times[field] = origin + round(seconds * time_scale * _NS)
        rows.append((tid, times["start"], times["end"], str(label), times["p"], times["s"], where))
    return catalogue_table(rows)


def _file_references(reference, func) -> dict:
    """The waveform files rows may name: a dict name -> reference, or paths found by glob / directory / list."""
    if isinstance(reference, Mapping):
        return {str(k): v for k, v in reference.items()}
    if isinstance(reference, (str, os.PathLike)):
        path = os.fspath(reference)
        paths = sorted(glob.glob(os.path.join(path, "*"))) if os.path.isdir(path) else sorted(glob.glob(path))
    elif isinstance(reference, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in reference):
        paths = [os.fspath(p) for p in reference]
    else:
        paths = []
    paths = [p for p in paths if os.path.isfile(p)]
    if not paths:
        raise ValueError(
            f"The 'reference' parameter of {func} must, for a CSV with a 'file' column, be a dict of file name -> "
            f"reference or a glob pattern, directory or list of existing waveform files. Got {reference!r} instead."
        )
    return {os.path.basename(p): p for p in paths}


def _lookup_file(files: dict, value: str, where: str, func: str):
    base = os.path.basename(value)
    for key in (value, base):
        if key in files:
            return files[key]
    stems = {os.path.splitext(k)[0]: v for k, v in files.items()}
    for key in (base, os.path.splitext(base)[0]):
        if key in stems:
            return stems[key]
    raise ValueError(
        f"{func}: {where}: the file {value!r} is not among the reference files {sorted(files)}; add it to "
        "reference or fix the name."
    )


# --------------------------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------------------------
def _existing_file(path, kind: str, func: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"The 'path' parameter of {func} must be the path of a {kind} file. Got "
                        f"{type(path).__name__} instead.")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{func}: the {kind} file {path!r} does not exist; check the path.")
    return path


def _check_class_map(class_map, func) -> dict:
    if class_map is None:
        return {}
    if not isinstance(class_map, Mapping):
        raise ValueError(
            f"The 'class_map' parameter of {func} must be a dict of label -> class name (None drops the label), "
            f"e.g. {{'tremor': 'TR', 'noise': None}}. Got {type(class_map).__name__} instead."
        )
    return {str(k): (None if v is None else str(v)) for k, v in class_map.items()}


def _resolve_reference(reference, trace_id, func, *, where: str = "", with_end: bool = False) -> tuple:
    """A reference (see the module notes) -> (trace id, time 0 in ns since 1970 UTC); with ``with_end`` also the
    end of the referenced trace's data in ns (None when the reference is a time)."""
    prefix = f"{func}: {where}: " if where else f"{func}: "
    kind = type(reference).__name__
    traces = None
    if kind in ("Trace", "Stream") and type(reference).__module__.startswith("obspy"):
        traces = [reference] if kind == "Trace" else list(reference)
        what = f"the {kind}"
    elif isinstance(reference, (str, os.PathLike)) and os.path.isfile(os.fspath(reference)):
        obspy = import_obspy(func)
        try:
            traces = list(obspy.read(os.fspath(reference), headonly=True))
        except Exception as err:  # ObsPy raises TypeError/Exception for unknown formats
            raise ValueError(f"{prefix}ObsPy cannot read the reference file {os.fspath(reference)!r}: {err}") from err
        what = f"the file {os.path.basename(os.fspath(reference))!r}"
    if traces is None:
        try:
            origin = to_ns(reference)
        except _TimeError:
            origin = None
        if origin is None:
            raise ValueError(
                f"The 'reference' parameter of {func} must be the absolute time of time 0 (ISO 8601 string, "
                "obspy UTCDateTime, pandas Timestamp, datetime), an ObsPy Trace or Stream, or the path of an existing "
                f"waveform file. Got {reference!r} instead."
            )
        if not trace_id:
            raise ValueError(f"{prefix}the reference is a time, which names no trace; pass trace_id='NET.STA.LOC.CHA'.")
        return (str(trace_id), origin, None) if with_end else (str(trace_id), origin)
    ids = sorted({tr.id for tr in traces})
    if trace_id:
        traces = [tr for tr in traces if tr.id == trace_id]
        if not traces:
            raise ValueError(f"{prefix}{what} holds no trace {trace_id!r}; its ids are {ids}. Fix trace_id.")
    elif len(ids) != 1:
        raise ValueError(f"{prefix}{what} holds the ids {ids}; pass trace_id=... to choose the labelled one.")
    origin = min(int(tr.stats.starttime.ns) for tr in traces)
    if not with_end:
        return traces[0].id, origin
    return traces[0].id, origin, max(int((tr.stats.endtime + tr.stats.delta).ns) for tr in traces)
