"""Bring your own data: ObsPy streams or files, plain arrays, or features computed elsewhere.

- :func:`from_obspy` — seismic traces (any format ObsPy reads) plus an optional catalogue of labelled segments
  -> records Dataset (one record per trace id and stretch without long gaps).
- :func:`from_arrays` — waveforms and per-sample labels as numpy arrays -> records Dataset.
- :func:`from_features` — per-record ``(T, F)`` frames and ``(T,)`` labels -> features Dataset (no waveform).

Records go through :func:`rnnscope.data._records.build_records` and features through
:func:`rnnscope.data._frames.assemble_frames`, so their layout is the one every other reader produces. ObsPy is
an optional dependency (``pip install rnnscope[seismic]``), imported only when :func:`from_obspy` runs.
"""
from __future__ import annotations

import glob
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .. import _version
from .._validation import (
    DEFAULT_CLASS_NAMES,
    check_class_names,
    check_features,
    check_labels,
    check_positive,
    check_range,
    declared_background,
)
from ..schema import SCHEMA_VERSION, plain
from . import _catalog_io
from ._frames import assemble_frames
from ._pieces import MAX_RESAMPLE_FACTOR, RATE_RTOL, merge_pieces, split_pieces  # noqa: F401 (monitoring uses both)
from ._pieces import process_piece as _process_piece  # used by rnnscope.monitoring's preprocessing
from ._records import SEGMENT_COLUMNS, build_records, segment_variables, segments_from_labels

__all__ = ["from_obspy", "from_arrays", "from_features"]

#: detrend choices (ObsPy ``Trace.detrend`` types that need no further option)
DETREND_TYPES = ("linear", "constant", "demean", "simple")
#: what a gap sample becomes in the waveform (its label is always -1)
GAP_FILL = 0.0
#: default longest gap (s) filled inside one record; a longer gap between traces of one id starts a new record
MAX_GAP_S = 60.0


# --------------------------------------------------------------------------------------------------------------
# from_obspy
# --------------------------------------------------------------------------------------------------------------
def from_obspy(
    stream,
    catalog=None,
    *,
    sampling_rate: float = 100.0,
    class_names: Sequence[str] | None = None,
    background: str | None = "auto",
    detrend: bool | str = "auto",
    bandpass: tuple[float, float] | str | None = "auto",
    merge_gaps: bool = True,
    max_gap_s: float | None = MAX_GAP_S,
) -> xr.Dataset:
    """Seismic traces (+ an optional catalogue of labelled segments) -> records Dataset.

    Each trace is converted to float, optionally detrended and band-passed, resampled to ``sampling_rate``, and
    the traces of one SEED id are merged into one record per stretch without gaps longer than ``max_gap_s``;
    samples are labelled from the catalogue.

    Parameters
    ----------
    stream : obspy.Stream, obspy.Trace, path, glob pattern, list of paths or list of Traces
        Anything :func:`obspy.read` reads (MiniSEED, SAC, ...). The caller's stream is not modified.
    catalog : None, pandas.DataFrame or path of a CSV file
        One row per labelled segment with columns ``trace_id`` (or ``seed_id``), ``start``, ``end``, ``class``
        (or ``class_name``) and optionally ``p`` and ``s`` (arrival times) and ``source`` (named in messages).
        Times are absolute: ISO 8601 strings, pandas Timestamps, datetimes or :class:`obspy.UTCDateTime`. The
        annotation readers (Transcriber, QuakeML, CSV with relative times) return such a DataFrame.
    sampling_rate : float
        Target rate in Hz of every record.
    class_names : sequence of str, optional
        Class names; catalogue classes must be among them. None: the default task's ``SIL``, ``TRE``, ``LP``,
        ``VTE``, ``HYB``.
    background : str or None
        The background class (e.g. ``"BG"``): given to every sample outside the catalogued segments (gaps
        excepted), those stretches also become segments of that class, and it is stored as
        ``attrs["background"]``, which features, models trained on them and runs carry (analyses and the monitor
        read it). ``"auto"`` (default): the class the catalogue declares (``catalog.attrs["background"]``), else
        none; ``None``: no class is background, samples outside the segments are unknown (-1).
    detrend : bool or {"auto", "linear", "constant", "demean", "simple"}
        ObsPy detrend applied to each contiguous piece before filtering (``True`` means ``"linear"``). ``"auto"``
        (default): what the inputs declare, here nothing, so linear (as :func:`rnnscope.monitor` with a model
        that does not say).
    bandpass : (float, float), "auto" or None
        Corner frequencies in Hz of a zero-phase 4-corner Butterworth band-pass (ObsPy
        ``Trace.filter("bandpass", zerophase=True)``) applied before resampling. The upper corner must lie below
        the Nyquist frequency of every input trace. ``"auto"`` (default): what the inputs declare, here nothing,
        so none.
    merge_gaps : bool
        ``True`` (default): traces of one id separated by gaps of at most ``max_gap_s`` become one record, gaps
        filled (see Notes). ``False``: no gap is filled; each gap-free stretch becomes its own record
        (overlapping and adjacent traces are still merged).
    max_gap_s : float or None
        Longest gap in seconds (default 60) filled inside one record when ``merge_gaps`` is on; traces of one id
        further apart become separate records, so files cut around events weeks apart cost the memory of their
        samples, never of the time between them. ``None``: no limit (all traces of an id in one record, which
        allocates the whole time span). When an id gives several records, their ``event_id`` is
        ``'<trace id>_<k>'`` (k = 0, 1, ... in time order); a catalogued segment goes to the record it overlaps
        most and is clipped to it (with a warning) if it sticks out.

    Returns
    -------
    xarray.Dataset
        Records Dataset (``waveform``, ``sample_label``, segment table) with coordinates ``event_id`` (the trace
        id), ``trace_id`` (SEED id), ``starttime`` (UTC ISO string of the first sample) and attrs
        ``sampling_rate``, ``processing`` (JSON: detrend, band-pass, resampling, input rates per trace id) and
        ``background`` (when given).

    Notes
    -----
    Order of operations, per contiguous piece of trace: convert to float64, detrend, band-pass, resample; then the
    pieces of one id are merged. Processing each piece on its own keeps filters from ringing across gaps and
    lets pieces of one id recorded at different rates be merged on one grid (never mixed).

    **Resampling** uses :func:`scipy.signal.resample_poly` (polyphase, delay-compensated, so the first output
    sample keeps the trace's start time) whenever the rate ratio is a fraction ``up/down`` with both at most
    1000 — every usual seismic rate (1, 20, 40, 50, 100, 125, 200, 250, 500 Hz ...); ``ceil(n * up / down)``
    samples come out. Its anti-alias (and anti-imaging) filter is a Kaiser-window FIR designed here, flat
    (ripple 1e-4) up to 0.8 times the lower of the two Nyquist frequencies and at least 80 dB down from that
    Nyquist frequency on, so nothing above the new Nyquist frequency aliases (SciPy's default filter is centred
    on the Nyquist frequency and lets the band just above it alias). Other ratios are low-passed (zero-phase
    Chebyshev II, 80 dB stop band from the new Nyquist frequency) when downsampling, then Lanczos-interpolated
    (ObsPy ``Trace.interpolate(method="lanczos", a=20)``). Rates within ``1e-7`` (relative) of the target are
    not resampled.

    **Gaps** up to ``max_gap_s`` (and NaN samples, and masked samples of an input trace) are filled with 0 — the
    mean level when ``detrend`` is on, so no step appears; with ``detrend=False`` a step to 0 appears — and
    labelled unknown (-1), even inside a catalogued segment and even with ``background``. Longer gaps end the
    record: the next trace of that id starts another one.

    **Overlaps** of traces with one id are merged with ObsPy's ``Stream.merge(method=1)``: where two pieces
    overlap the later piece's samples are kept (identical overlaps merge silently). Pieces whose start times are
    not on the same sample grid are placed on the nearest sample (at most half a sample off, ObsPy's rule).

    **Catalogue times** with a time zone or UTC offset are converted to UTC; naive times are taken as UTC. A
    sample ``k`` (time ``k / sampling_rate`` from the record start) gets a segment's class when ``start <= t <
    end`` with both ends rounded to the nearest sample. A segment that sticks out of its record is clipped to
    the record with a warning; one entirely outside is an error. P and S arrivals become seconds from the record
    start (NaN when absent). Overlapping segments of one class on one trace are merged into one, with a warning.
    Catalogue errors (unknown class, end before start, unreadable time, overlapping segments of different classes
    on one trace, unknown trace id) name the CSV line (``catalog line N``) or DataFrame row (``catalog row
    LABEL``, followed by the row's ``source`` when the table has that column) and the trace id. Catalogues in
    other formats: :func:`read_transcriber`, :func:`read_quakeml_catalog`, :func:`read_relative_csv`.

    No taper is applied before filtering: the first and last ``~1 / bandpass[0]`` seconds of each piece may show
    filter transients; taper or cut in ObsPy beforehand if that matters.

    Examples
    --------
    >>> import obspy, pandas as pd
    >>> from rnnscope.data import catalog, from_obspy
    >>> st = obspy.read()  # ObsPy's example: 3 traces of 30 s at 100 Hz
    >>> records = from_obspy(st, sampling_rate=50.0, bandpass=(1.0, 20.0))
    >>> records.sizes["event"], records.sizes["sample"], records.attrs["sampling_rate"]
    (3, 1500, 50.0)
    >>> list(records.trace_id.values), str(records.starttime.values[0])
    (['BW.RJOB..EHZ', 'BW.RJOB..EHN', 'BW.RJOB..EHE'], '2009-08-24T00:20:03.000000Z')
    >>> events = pd.DataFrame({"trace_id": ["BW.RJOB..EHZ"], "start": ["2009-08-24T00:20:06Z"],
    ...                        "end": ["2009-08-24T00:20:20Z"], "class": ["VTE"]})
    >>> records = from_obspy(st.select(channel="EHZ"), events, background="SIL")
    >>> catalog(records)[["event_id", "class_name", "start", "end"]]
            event_id class_name  start   end
    0  BW.RJOB..EHZ        SIL    0.0   3.0
    1  BW.RJOB..EHZ        VTE    3.0  17.0
    2  BW.RJOB..EHZ        SIL   17.0  30.0
    >>> records.attrs["background"]
    'SIL'

    With defaults only (100 Hz, no catalogue: every sample unknown, no background):

    >>> records = from_obspy(st)
    >>> records.attrs["sampling_rate"], "background" in records.attrs, int(records.sample_label.max())
    (100.0, False, -1)
    """
    func = "from_obspy"
    obspy = _catalog_io.import_obspy(func)
    check_positive(sampling_rate, name="sampling_rate", func=func)
    sampling_rate = float(sampling_rate)
    names = check_class_names(DEFAULT_CLASS_NAMES if class_names is None else class_names, func=func)
    background = declared_background(background, names, [catalog], func=func)
    detrend_type = _detrend_type(detrend, func)
    band = _bandpass(bandpass, func)
    if not isinstance(merge_gaps, (bool, np.bool_)):
        raise ValueError(f"The 'merge_gaps' parameter of {func} must be True or False. Got {merge_gaps!r} instead.")
    if max_gap_s is not None:
        check_positive(max_gap_s, name="max_gap_s", func=func, allow_zero=True)
    # read the catalogue first: its errors are cheaper to find than the stream's processing
    rows = None
    if catalog is not None:
        rows = _catalog_io.read_catalog(catalog, names, func=func)
        rows = _catalog_io.merge_overlaps(rows, func=func, stacklevel=2)

    st = _read_stream(stream, obspy, func)
    pieces = split_pieces(st, obspy, func)
    if not pieces:
        raise ValueError(f"{func}: the stream holds no samples; check the files or the stream selection.")

    input_rates: dict[str, set] = {}
    methods: set[str] = set()
    for tr in pieces:
        input_rates.setdefault(tr.id, set()).add(float(tr.stats.sampling_rate))
        methods.add(_process_piece(tr, detrend_type, band, sampling_rate, func))
    traces = merge_pieces(pieces, max_gap_s, merge_gaps, obspy, func)  # (trace id, trace with masked gaps)

    waveforms, gaps, spans, starttimes, trace_ids = [], [], [], [], []
    for tid, tr in traces:
        data = tr.data
        gap = np.ma.getmaskarray(data).copy()
        waveforms.append(np.ma.filled(data.astype(np.float64), GAP_FILL) if np.ma.isMaskedArray(data) else data)
        gaps.append(gap)
        spans.append(_catalog_io.RecordSpan(tid, int(tr.stats.starttime.ns), len(gap)))
        starttimes.append(str(tr.stats.starttime))
        trace_ids.append(tid)
    event_ids = _unique_ids(trace_ids)

    labels, segments = _label_records(rows, spans, gaps, sampling_rate, names, background, func)
    processing = {
        "reader": func,
        "detrend": detrend_type,
        "bandpass": list(band) if band else None,
        "resampling": sorted(methods),
        "sampling_rate": sampling_rate,
        "input_sampling_rates": {tid: sorted(r) for tid, r in input_rates.items()},
        "gap_fill": GAP_FILL,
        "overlaps": "obspy Stream.merge(method=1): the later trace's samples are kept",
        "background": background,
        "merge_gaps": bool(merge_gaps),
        "max_gap_s": None if max_gap_s is None else float(max_gap_s),
    }
    return build_records(
        waveforms,
        labels,
        sampling_rate=sampling_rate,
        class_names=names,
        segments=segments,
        event_ids=event_ids,
        starttimes=starttimes,
        trace_ids=trace_ids,
        attrs={"processing": plain(processing)},
        background=background,
        func=func,
    )


def _detrend_type(detrend, func):
    """The ObsPy detrend type of ``detrend`` (``"auto"`` that nothing declared: linear), or None."""
    if detrend is None or detrend is False:
        return None
    if detrend is True or (isinstance(detrend, str) and detrend == "auto"):
        return "linear"
    if not isinstance(detrend, str) or detrend not in DETREND_TYPES:
        raise ValueError(
            f"The 'detrend' parameter of {func} must be True, False or one of {list(DETREND_TYPES)}. "
            f"Got {detrend!r} instead."
        )
    return detrend


def _bandpass(bandpass, func):
    """``(low, high)`` in Hz, or None (also for ``"auto"`` that nothing declared)."""
    if bandpass is None or (isinstance(bandpass, str) and bandpass == "auto"):
        return None
    low, high = check_range(bandpass, name="bandpass", func=func, low=0.0)
    if not 0 < low < high:
        raise ValueError(
            f"The 'bandpass' parameter of {func} must be (low, high) corner frequencies in Hz with "
            f"0 < low < high. Got {bandpass!r} instead."
        )
    return low, high


def _read_stream(stream, obspy, func):
    """Return a new Stream holding the caller's traces (or the files' traces)."""
    if isinstance(stream, obspy.Stream):
        return obspy.Stream(list(stream.traces))
    if isinstance(stream, obspy.Trace):
        return obspy.Stream([stream])
    if isinstance(stream, (str, os.PathLike)):
        paths = [stream]
    elif isinstance(stream, (list, tuple)) and not len(stream):
        raise ValueError(
            f"The 'stream' parameter of {func} is an empty {type(stream).__name__}: there is nothing to read. Give at "
            "least one file path or glob pattern (e.g. ['day1.mseed', 'day2.mseed'] or 'data/*.mseed'), an obspy "
            "Stream or Trace, or a list of Traces."
        )
    elif isinstance(stream, (list, tuple)) and all(isinstance(p, obspy.Trace) for p in stream):
        return obspy.Stream(list(stream))
    elif isinstance(stream, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in stream):
        paths = list(stream)
    else:
        what = type(stream).__name__
        if isinstance(stream, (list, tuple)):
            kinds = sorted({type(p).__name__ for p in stream})
            what = f"a {what} of {', '.join(kinds)}"
        raise TypeError(
            f"The 'stream' parameter of {func} must be an obspy Stream or Trace, a file path, a glob pattern, a "
            f"list of paths or a list of Traces. Got {what} instead."
        )
    out = obspy.Stream()
    for path in paths:
        path = os.fspath(path)
        if not os.path.exists(path) and not glob.glob(path):
            raise FileNotFoundError(f"{func}: no file matches {path!r}; check the path or glob pattern.")
        try:
            out += obspy.read(path)
        except Exception as err:  # ObsPy raises TypeError/Exception for unknown formats
            raise ValueError(f"{func}: ObsPy cannot read {path!r}: {err}") from err
    return out


def _unique_ids(ids: Sequence[str]) -> list[str]:
    """Trace ids -> unique event ids: an id seen several times becomes '<id>_0', '<id>_1', ..."""
    counts = pd.Series(ids).value_counts()
    seen: dict[str, int] = {}
    out = []
    taken = set(i for i in ids if counts[i] == 1)
    for i in ids:
        if counts[i] == 1:
            out.append(i)
            continue
        k = seen.get(i, 0)
        candidate = f"{i}_{k}"
        while candidate in taken:
            k += 1
            candidate = f"{i}_{k}"
        seen[i] = k + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def _label_records(rows, spans, gaps, sampling_rate, names, background, func):
    """Per-sample labels and the segment table from catalogue rows, gap masks and the background class.

    A segment labels the samples ``[a, b)`` nearest to its start and end (``a = round(start x rate)``), and the
    table says exactly that: ``start = a / rate``, ``end = b / rate``, so segments that meet in the catalogue meet in
    the table, and the background stretches between them (half-open too) never overlap them. A segment shorter
    than half a sample labels nothing and is left out. P and S arrivals keep their times."""
    labels = [np.full(len(g), -1, dtype=np.int16) for g in gaps]
    covered = [np.zeros(len(g), dtype=bool) for g in gaps]
    table = []
    if rows:
        for seg in _catalog_io.place_segments(rows, spans, sampling_rate, func=func, stacklevel=3):
            e = seg["event"]
            n = len(gaps[e])
            a = int(np.clip(np.rint(seg["start"] * sampling_rate), 0, n))
            b = int(np.clip(np.rint(seg["end"] * sampling_rate), 0, n))
            if b <= a:
                continue
            covered[e][a:b] = True
            keep = ~gaps[e][a:b]
            labels[e][a:b][keep] = seg["class"]
            table.append((e, seg["class"], a / sampling_rate, b / sampling_rate, seg["p"], seg["s"]))
    if background is not None:
        bg = names.index(background)
        for e, (gap, cov) in enumerate(zip(gaps, covered, strict=True)):
            free = ~gap & ~cov
            labels[e][free] = bg
            edges = np.flatnonzero(np.diff(np.r_[0, free.astype(np.int8), 0]))
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                table.append((e, bg, a / sampling_rate, b / sampling_rate, np.nan, np.nan))
    segments = pd.DataFrame(table, columns=list(SEGMENT_COLUMNS)).astype(
        {"event": np.int64, "class": np.int64, "start": float, "end": float, "p": float, "s": float}
    )
    return labels, segments


# --------------------------------------------------------------------------------------------------------------
# from_arrays
# --------------------------------------------------------------------------------------------------------------
def from_arrays(
    waveforms,
    sample_labels,
    sampling_rate: float,
    class_names: Sequence[str],
    *,
    segments: pd.DataFrame | None = None,
    event_ids: Sequence[str] | None = None,
    background: str | None = "auto",
) -> xr.Dataset:
    """Waveforms and per-sample labels as numpy arrays -> records Dataset.

    Parameters
    ----------
    waveforms : list of 1-D arrays, or a 2-D array (record, sample)
        One array per record; lengths may differ. Integer samples (raw counts) are accepted and converted to
        float. A single 1-D numpy array is one record.
    sample_labels : list of 1-D int arrays, or a 2-D array
        Class index per sample (-1 unknown), same shapes as ``waveforms``.
    sampling_rate : float
        Hz, shared by all records.
    class_names : sequence of str
        Name of each class index.
    segments : pandas.DataFrame, optional
        Segment table with columns ``event`` (record index), ``class`` (index or class name), ``start``, ``end``
        (s from the record start) and optionally ``p``, ``s``. Derived from runs of equal labels (>= 0) when
        omitted.
    event_ids : sequence of str, optional
        Unique identifier per record (default ``rec00000``, ``rec00001``, ...).
    background : str or None
        The class that is not an event (e.g. ``"BG"``), stored as ``attrs["background"]``; features, models
        trained on them and runs carry it, and analyses and the monitor read it. ``"auto"`` (default): the class
        the segment table declares (``segments.attrs["background"]``), else none; None: no class is declared
        background (functions that need one then ask for it).

    Returns
    -------
    xarray.Dataset
        Records Dataset: ``waveform`` (float32, NaN padded), ``sample_label`` (int16, -1 padded), segment table;
        attrs ``sampling_rate``, ``class_names`` and ``background`` (when given).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnscope.data import catalog, from_arrays
    >>> x = [np.arange(6, dtype=np.int32), np.arange(4.0)]
    >>> y = [np.array([0, 0, 2, 2, 2, -1]), np.array([1, 1, 1, 1])]
    >>> records = from_arrays(x, y, sampling_rate=2.0, class_names=["BG", "TR", "LP"])
    >>> records.waveform.shape, str(records.waveform.dtype), list(records.event_id.values)
    ((2, 6), 'float32', ['rec00000', 'rec00001'])
    >>> records = from_arrays(x, y, sampling_rate=2.0, class_names=["BG", "TR", "LP"], event_ids=["a", "b"],
    ...                       background="BG")
    >>> catalog(records)[["event_id", "class_name", "start", "end"]]
      event_id class_name  start  end
    0        a         BG    0.0  1.0
    1        a         LP    1.0  2.5
    2        b         TR    0.0  2.0
    >>> records.attrs["background"]
    'BG'
    """
    func = "from_arrays"
    names = check_class_names(class_names, func=func)
    xs = _as_records(waveforms, "waveforms", func)
    ys = _as_records(sample_labels, "sample_labels", func)
    background = declared_background(background, names, [segments], func=func)
    if segments is not None:
        segments = _segment_classes(segments, names, func)
    return build_records(
        xs,
        ys,
        sampling_rate=sampling_rate,
        class_names=names,
        segments=segments,
        event_ids=event_ids,
        attrs={"processing": plain({"reader": func})},
        background=background,
        func=func,
    )


def _as_records(values, name, func) -> list:
    if isinstance(values, np.ndarray):
        if values.ndim == 1:
            return [values]
        if values.ndim == 2:
            return list(values)
        raise ValueError(
            f"The {name!r} parameter of {func} must be a list of 1-D arrays or a 2-D array (record, sample). "
            f"Got an array of shape {values.shape} instead."
        )
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(
            f"The {name!r} parameter of {func} must be a list of 1-D arrays or a 2-D array (record, sample). "
            f"Got {type(values).__name__} instead."
        )
    return list(values)


def _segment_classes(segments, names, func) -> pd.DataFrame:
    """Accept class names (column ``class`` or ``class_name``) in a segment table; return class indices."""
    segments = pd.DataFrame(segments).copy()
    if "class" not in segments.columns and "class_name" in segments.columns:
        segments["class"] = segments["class_name"]
    if "class" not in segments.columns:
        return segments  # build_records names the missing column
    values = segments["class"].to_numpy()
    if any(isinstance(v, str) for v in values):
        unknown = sorted({str(v) for v in values if str(v) not in names})
        if unknown:
            raise ValueError(
                f"{func}: the segment table has classes {unknown} that are not in class_names {names}; fix the "
                "classes or pass class_names=[...] listing them."
            )
        segments["class"] = [names.index(str(v)) for v in values]
    return segments


# --------------------------------------------------------------------------------------------------------------
# from_features
# --------------------------------------------------------------------------------------------------------------
def from_features(
    features,
    labels,
    *,
    class_names: Sequence[str],
    frame_rate: float = 2.0,
    feature_names: Sequence[str] | None = None,
    event_ids: Sequence[str] | None = None,
    time_offset: float = 0.0,
    background: str | None = "auto",
) -> xr.Dataset:
    """Features computed elsewhere -> features Dataset (like :func:`rnnscope.features.compute`, without waveform).

    Parameters
    ----------
    features : list of (T, F) arrays, or a 3-D array (record, time, feature)
        Raw frame features per record; ``T`` may differ between records, ``F`` may not. Values must be finite.
    labels : list of (T,) int arrays, or a 2-D array (record, time)
        Class index per frame (-1 unknown), one per record, as long as its features.
    class_names : sequence of str
        Name of each class index.
    frame_rate : float
        Frames per second (2.0 for the paper's 0.5 s hop).
    feature_names : sequence of str, optional
        One unique name per feature column (default ``f0``, ``f1``, ...).
    event_ids : sequence of str, optional
        Unique identifier per record (default ``rec00000``, ...).
    time_offset : float
        Time (s from the record start, >= 0) of frame 0: frame ``k`` is at ``time_offset + k / frame_rate`` (for
        windows of length ``W`` centred on their times, ``time_offset = W / 2``).
    background : str or None
        The class that is not an event, stored as ``attrs["background"]`` (see :func:`from_arrays`); ``"auto"``
        (default): none, as the arrays cannot declare one.

    Returns
    -------
    xarray.Dataset
        ``features`` (event, time, feature; float32, NaN past ``length``), ``label`` (int16, -1 past ``length``),
        coordinates ``time`` (s), ``feature``, ``length``, ``event_id``, the segment table, and attrs
        ``schema_version``, ``class_names``, ``frame_rate``, ``feature_config`` (JSON: preset ``"external"``,
        ``frame_rate``, ``n_features``, ``time_offset``, ``feature_names``) and ``background`` (when given).

    Notes
    -----
    The segment table comes from runs of equal labels (>= 0): frames ``a .. b-1`` of one class make a segment
    from ``time_offset + a / frame_rate`` (the time of frame ``a``) to ``time_offset + b / frame_rate`` (one hop
    after the time of frame ``b - 1``), in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnscope.data import catalog, from_features
    >>> feats = [np.zeros((4, 3)), np.ones((2, 3))]
    >>> labs = [np.array([0, 0, 2, 2]), np.array([-1, 1])]
    >>> ds = from_features(feats, labs, class_names=["BG", "TR", "LP"])
    >>> ds.time.values.tolist(), ds.attrs["frame_rate"]
    ([0.0, 0.5, 1.0, 1.5], 2.0)
    >>> ds = from_features(feats, labs, class_names=["BG", "TR", "LP"], frame_rate=2.0, time_offset=2.0,
    ...                    background="BG")
    >>> ds.features.shape, ds.time.values.tolist(), ds.length.values.tolist()
    ((2, 4, 3), [2.0, 2.5, 3.0, 3.5], [4, 2])
    >>> catalog(ds)[["event_id", "class_name", "start", "end"]]
      event_id class_name  start  end
    0 rec00000         BG    2.0  3.0
    1 rec00000         LP    3.0  4.0
    2 rec00001         TR    2.5  3.0
    """
    func = "from_features"
    names = check_class_names(class_names, func=func)
    background = declared_background(background, names, [], func=func)
    check_positive(frame_rate, name="frame_rate", func=func)
    check_positive(time_offset, name="time_offset", func=func, allow_zero=True)
    frame_rate, time_offset = float(frame_rate), float(time_offset)
    feats = _as_frames(features, "features", 3, func)
    labs = _as_frames(labels, "labels", 2, func)
    if len(feats) != len(labs):
        raise ValueError(f"{func}: got {len(feats)} feature arrays but {len(labs)} label arrays; give one per record.")
    if not feats:
        raise ValueError(f"{func}: no records given; pass at least one (T, F) feature array.")
    n_events = len(feats)
    if event_ids is None:
        event_ids = [f"rec{i:05d}" for i in range(n_events)]
    event_ids = [str(e) for e in event_ids]
    if len(event_ids) != n_events or len(set(event_ids)) != n_events:
        raise ValueError(
            f"The 'event_ids' parameter of {func} must hold {n_events} unique identifiers, one per record. "
            f"Got {len(event_ids)} ({len(set(event_ids))} unique) instead."
        )
    xs, ys, n_features = [], [], None
    for i, (f, y) in enumerate(zip(feats, labs, strict=True)):
        where = f"record {event_ids[i]!r}"
        x = check_features(f, where=where, func=func, n_features=n_features)
        n_features = x.shape[1]
        xs.append(x)
        ys.append(check_labels(y, len(x), len(names), where=where, func=func))
    if feature_names is None:
        feature_names = [f"f{j}" for j in range(xs[0].shape[1])]  # every record has the first one's features
    feature_names = [str(n) for n in feature_names]
    if len(feature_names) != n_features or len(set(feature_names)) != n_features:
        raise ValueError(
            f"The 'feature_names' parameter of {func} must hold {n_features} unique names, one per feature "
            f"column. Got {len(feature_names)} ({len(set(feature_names))} unique) instead."
        )

    n_time = max(len(x) for x in xs)
    frame_times = time_offset + np.arange(n_time) / frame_rate
    ds = assemble_frames(xs, ys, frame_times=frame_times, feature_names=feature_names)
    ds = ds.assign_coords(event_id=("event", np.array(event_ids, dtype=object)))
    segments = segments_from_labels(ys, frame_rate)
    segments["start"] += time_offset
    segments["end"] += time_offset
    ds = ds.assign(segment_variables(segments, event_ids))
    config = {
        "preset": "external",
        "frame_rate": frame_rate,
        "n_features": n_features,
        "time_offset": time_offset,
        "feature_names": feature_names,
    }
    ds.attrs.update(
        {
            "schema_version": SCHEMA_VERSION,
            "class_names": list(names),
            "frame_rate": frame_rate,
            "feature_config": plain(config),
            **_version.provenance(),
        }
    )
    if background is not None:
        ds.attrs["background"] = background
    return ds


def _as_frames(values, name, ndim, func) -> list:
    """A list of per-record arrays, or one array with a leading record axis (``ndim`` dims)."""
    if isinstance(values, np.ndarray):
        if values.ndim == ndim:
            return list(values)
        raise ValueError(
            f"The {name!r} parameter of {func} must be a list of per-record arrays or one {ndim}-D array "
            f"(record first). Got an array of shape {values.shape} instead."
        )
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(
            f"The {name!r} parameter of {func} must be a list of per-record arrays. Got {type(values).__name__} "
            "instead."
        )
    return list(values)
