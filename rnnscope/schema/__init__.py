"""The run schema as data: names, dimensions, dtypes and meaning of every variable.

A records Dataset (waveforms), a features Dataset (frames) and a run (frames plus every internal state of a
model) share one vocabulary. This module is the single place it is written down; validation, documentation and
test fixtures read it. It imports neither torch nor any widget library.

Examples
--------
>>> from rnnscope import schema
>>> schema.VARIABLES["h"].dims
('event', 'time', 'unit', 'layer')
>>> schema.STATE_VARIABLES["gru"]
('h', 'update_gate', 'reset_gate', 'candidate')
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .._validation import plain  # noqa: F401  (public here: schema.plain)
from ..errors import SchemaError
from ._padding import _padding_problems
from ._variables import (  # the vocabulary, as data
    ATTRIBUTION_COORDS,
    ATTRIBUTION_PER_TARGET,
    LAYER_COORDS,
    SEGMENT_ROW_COLUMNS,
    SEGMENT_VARIABLES,
    STATE_VARIABLES,
    SUMMARY_VARIABLES,
    VARIABLES,
    VariableSpec,
)

__all__ = [
    # the layout
    "SCHEMA_VERSION", "VariableSpec", "VARIABLES", "STATE_VARIABLES", "SUMMARY_VARIABLES", "SEGMENT_VARIABLES",
    "LAYER_COORDS",
    "ATTRIBUTION_PER_TARGET", "ATTRIBUTION_COORDS",
    # checks and upgrades
    "SchemaError", "validate", "upgrade", "plain",
    # records, segments, summaries and the frames a Dataset holds
    "event_ids", "segment_rows", "segment_frames", "summaries_cover", "valid_lengths", "selection_problem",
    "fit_to_frames", "layer_label", "layer_labels",
]

#: Version of the layout (the variables in ``_variables.py``); bumped when a name, dim or dtype changes meaning.
#: Version 2 refers to records by ``event_id`` in the segment table (``segment_event_id``; version 1 stored positions in
#: ``segment_event``) and records which records the summaries describe (``summary_event_id``); :func:`upgrade` turns
#: a version-1 Dataset into version 2.
SCHEMA_VERSION = "2.0"


def layer_label(module: str, module_layer: int, *, direction: str = "forward", bidirectional: bool = False) -> str:
    """How a layer of a module is named in selectors and errors: ``"module[layer]"``, with the direction when the
    module is bidirectional.

    Parameters
    ----------
    module : str
        The module's dotted name in the model (``""`` for the model itself, named ``"model"``).
    module_layer : int
        The layer's index within that module.
    direction : {"forward", "backward"}
        The direction of a bidirectional module's layer.
    bidirectional : bool
        Whether the module is bidirectional (then the direction is part of the label).

    Returns
    -------
    str
        ``"module[layer]"``, followed by the direction for a bidirectional module.

    Examples
    --------
    >>> layer_label("encoder.lstm", 0, direction="backward", bidirectional=True)
    'encoder.lstm[0] backward'
    >>> layer_label("decoder", 1)
    'decoder[1]'
    """
    label = f"{module or 'model'}[{int(module_layer)}]"
    return f"{label} {direction}" if bidirectional else label


def layer_labels(ds) -> list[str]:
    """One label per entry of ``ds``'s ``layer`` dimension: :func:`layer_label` for runs captured from any
    ``nn.Module`` (coordinates ``module``, ``module_layer``, ``direction``), else ``"layer <id>"``.

    Parameters
    ----------
    ds : xarray.Dataset
        A run (or any Dataset with a ``layer`` dimension).

    Returns
    -------
    list of str
        One label per layer, in the order of ``ds.layer``.

    Examples
    --------
    >>> import xarray as xr
    >>> run = xr.Dataset(coords={"layer": [0, 1, 2], "module": ("layer", ["rnn", "rnn", "head.cell"]),
    ...                          "module_layer": ("layer", [0, 0, 0]),
    ...                          "direction": ("layer", ["forward", "backward", "forward"])})
    >>> layer_labels(run)
    ['rnn[0] forward', 'rnn[0] backward', 'head.cell[0]']
    """
    n = ds.sizes.get("layer", 0)
    ids = [int(v) for v in np.asarray(ds["layer"].values)] if "layer" in ds.coords else list(range(n))
    if "module" not in ds.coords:
        return [f"layer {i}" for i in ids]
    modules = [str(m) for m in np.asarray(ds["module"].values)]
    layers = np.asarray(ds["module_layer"].values) if "module_layer" in ds.coords else np.zeros(n, int)
    directions = ([str(d) for d in np.asarray(ds["direction"].values)] if "direction" in ds.coords
                  else ["forward"] * n)
    both = {m for m, d in zip(modules, directions, strict=True) if d == "backward"}
    return [layer_label(m, int(l_), direction=d, bidirectional=m in both)
            for m, l_, d in zip(modules, layers, directions, strict=True)]


def validate(ds, *, kind: str = "auto", check_padding: bool = True) -> None:
    """Check that ``ds`` follows the schema; raise :class:`SchemaError` listing every problem.

    Parameters
    ----------
    ds : xarray.Dataset
        A records Dataset, a features Dataset or a run.
    kind : {"auto", "records", "features", "run", "attribution"}
        What ``ds`` should be. ``"auto"`` infers it from the variables present.
    check_padding : bool
        Also check that padded values (NaN / -1) sit exactly past ``length`` (reads the data; dask arrays are
        computed).

    Raises
    ------
    rnnscope.errors.SchemaError
        When ``ds`` does not follow the schema; the message lists every problem found.

    Examples
    --------
    >>> import rnnscope
    >>> records = rnnscope.data.synthetic(n_records=2, seed=0)
    >>> rnnscope.schema.validate(records)  # valid: returns None, prints nothing
    >>> rnnscope.schema.validate(records.drop_vars("sample_label"))
    Traceback (most recent call last):
    ...
    rnnscope.errors.SchemaError: The Dataset does not follow the rnnscope schema:
      - missing variable 'sample_label' (a records Dataset needs ['waveform', 'sample_label'])
    """
    problems = _problems(ds, kind, check_padding)
    if problems:
        raise SchemaError("The Dataset does not follow the rnnscope schema:\n  - " + "\n  - ".join(problems))


def _infer_kind(ds) -> str:
    if "h" in ds.data_vars:
        return "run"
    if "attribution" in ds.data_vars and "features" not in ds.data_vars:
        return "attribution"
    if "features" in ds.data_vars:
        return "features"
    return "records"


def _problems(ds, kind, check_padding) -> list[str]:
    problems: list[str] = []
    kind = _infer_kind(ds) if kind == "auto" else kind
    required = {
        "records": ["waveform", "sample_label"],
        "features": ["features", "label"],
        "run": ["features", "label", "h", "prob", "pred"],
        "attribution": ["attribution"],
    }[kind]
    if kind == "run" and "module" in ds.coords:
        required = ["h"]  # captured from any nn.Module: no features, labels or class outputs needed
    for name in required:
        if name not in ds.data_vars:
            problems.append(f"missing variable {name!r} (a {kind} Dataset needs {required})")
    problems += _version_problems(ds)
    if "class_names" not in ds.attrs:
        problems.append("missing attribute 'class_names'")
    for name, var in ds.variables.items():
        spec = VARIABLES.get(name)
        if spec is None:
            continue
        if tuple(var.dims) != spec.dims:
            problems.append(f"variable {name!r} has dims {tuple(var.dims)}; expected {spec.dims}")
        kind_ok = (var.dtype.kind == spec.dtype or (spec.dtype == "i" and var.dtype.kind in "iu")
                   or (spec.dtype == "U" and var.dtype.kind in "USO"))
        if not kind_ok:
            problems.append(f"variable {name!r} has dtype {var.dtype}; expected kind {spec.dtype!r}")
    if "segment_event_id" in ds.variables and "event" in ds.dims and "event_id" not in ds.coords:
        problems.append("the segment table refers to records by event_id, but the Dataset has no 'event_id' "
                        "coordinate; add run.coords['event_id'] = ('event', ids)")
    if kind in ("features", "run"):
        if "length" not in ds.coords:
            problems.append("missing coordinate 'length' (valid frames per event)")
        elif check_padding and not problems:
            problems += _padding_problems(ds)
    if kind == "records" and "sampling_rate" not in ds.attrs:
        problems.append("missing attribute 'sampling_rate' (Hz)")
    return problems


def _version_problems(ds) -> list[str]:
    version = ds.attrs.get("schema_version")
    if version is None:
        return ["missing attribute 'schema_version'"]
    major = str(version).split(".")[0]
    if major == "1":
        return [f"schema_version {version!r} is the previous layout (segments refer to records by position in "
                "'segment_event'); upgrade it with rnnscope.schema.upgrade(ds) (rnnscope.open_run upgrades stores "
                "on reading)"]
    if major != SCHEMA_VERSION.split(".")[0]:
        return [f"schema_version {version!r} is not compatible with this rnnscope (schema {SCHEMA_VERSION}); "
                "re-create the run with this version or install the rnnscope version that wrote it"]
    if "segment_event" in ds.variables:
        return ["variable 'segment_event' (record positions) belongs to schema 1; version 2 names the record of "
                "each segment by its event_id in 'segment_event_id' (rnnscope.schema.upgrade converts it)"]
    return []


# --------------------------------------------------------------------------------------------- records and segments
# The segment table refers to records by ``event_id``: selecting, reordering or concatenating records never
# changes it; a segment whose record is not in the Dataset is ignored. A frame belongs to a segment when its centre
# time lies in ``[segment_start, segment_end)``; only frames inside the record's ``length`` count.


def _default_ids(n: int) -> np.ndarray:
    return np.array([f"rec{i:05d}" for i in range(n)], dtype=str)


def event_ids(ds) -> np.ndarray:
    """The records' ``event_id`` values as a str array (``rec00000``, ... when the Dataset has none).

    Parameters
    ----------
    ds : xarray.Dataset
        A records Dataset, a features Dataset or a run.

    Returns
    -------
    numpy.ndarray
        One str per record, in the order of the ``event`` dimension.

    Examples
    --------
    >>> import rnnscope
    >>> event_ids(rnnscope.data.synthetic(n_records=2, seed=0)).tolist()
    ['syn00000', 'syn00001']
    """
    if "event_id" in ds.variables:
        return np.asarray(ds["event_id"].values).astype(str)
    return _default_ids(ds.sizes.get("event", 0))


def segment_rows(ds) -> pd.DataFrame:
    """Every row of the segment table, whichever records the Dataset holds: ``event_id``, ``class``, ``start``,
    ``end``, ``p``, ``s`` (s from the record start; NaN for no arrival).

    A table that ``xr.concat(..., dim="event")`` stacked along ``event`` (one copy per record, with xarray's
    ``data_vars="all"``) is flattened and its repeated rows dropped, so concatenated runs keep one table.

    Parameters
    ----------
    ds : xarray.Dataset
        A records Dataset, a features Dataset or a run.

    Returns
    -------
    pandas.DataFrame
        One row per segment of the table (columns ``event_id``, ``class``, ``start``, ``end``, ``p``, ``s``); no
        row when the Dataset has no segment table.

    Examples
    --------
    >>> import rnnscope
    >>> records = rnnscope.data.synthetic(n_records=3, seed=1)
    >>> rows = segment_rows(records.isel(event=[2]))  # the table is not cut by isel
    >>> len(rows) == records.sizes["segment"]
    True
    """
    if "segment_event_id" not in ds.variables:
        return pd.DataFrame({c: np.zeros(0, dtype=float if c in ("start", "end", "p", "s") else
                                         (str if c == "event_id" else np.int64)) for c in SEGMENT_ROW_COLUMNS})
    stacked = ds["segment_event_id"].ndim > 1
    columns = {}
    for col, name in zip(SEGMENT_ROW_COLUMNS, SEGMENT_VARIABLES, strict=True):
        if name not in ds.variables:
            columns[col] = np.full(ds["segment_event_id"].size, np.nan)
            continue
        var = ds[name]
        values = np.asarray(var.transpose(..., "segment").values) if stacked else np.asarray(var.values)
        columns[col] = values.reshape(-1)
    table = pd.DataFrame(columns)
    table["event_id"] = table["event_id"].astype(str)
    table["class"] = table["class"].astype(np.int64)
    if stacked:
        table = table.drop_duplicates().reset_index(drop=True)
    return table


def segment_variables(rows: pd.DataFrame) -> dict:
    """A segment table (columns of :func:`segment_rows`) -> the schema's ``segment_*`` variables."""
    dtypes = (str, np.int16, np.float64, np.float64, np.float64, np.float64)
    out = {}
    for name, col, dt in zip(SEGMENT_VARIABLES, SEGMENT_ROW_COLUMNS, dtypes, strict=True):
        values = rows[col].to_numpy() if col in rows else np.full(len(rows), np.nan)
        out[name] = (("segment",), np.asarray(values).astype(dt))
    return out


def segment_frames(ds: xr.Dataset) -> pd.DataFrame:
    """The segments of the Dataset's records, one row each, in record order (then start time).

    Columns: ``segment`` (row of :func:`segment_rows`, the position along ``segment``), ``event`` (the record's
    position in ``ds``), ``event_id``, ``class``, ``start``, ``end``, ``p``, ``s`` (s), ``frame_start`` and
    ``frame_stop`` (exclusive; equal for a segment that covers no valid frame). Segments of records not in ``ds``
    are left out, so ``ds.isel(event=...)``, ``ds.sel(...)`` and concatenation keep the table right.

    Parameters
    ----------
    ds : xarray.Dataset
        A features Dataset or a run (it needs ``time`` and ``length``).

    Returns
    -------
    pandas.DataFrame
        One row per segment of a record of ``ds``, with the columns above.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=3, seed=0))
    >>> table = segment_frames(frames)
    >>> bool((table.frame_stop >= table.frame_start).all())
    True
    >>> sub = segment_frames(frames.isel(event=[2, 0]))  # the records' own segments, at their new positions
    >>> sorted(set(sub.event)), set(sub.event_id) == {"syn00000", "syn00002"}
    ([0, 1], True)
    """
    if "segment_event_id" not in ds.variables or "event" not in ds.dims:  # no table (e.g. a run without labels)
        return _EMPTY_SEGMENT_FRAMES.copy()
    ids = event_ids(ds)
    columns = _segment_columns_of_records(ds, ids)  # the usual case in numpy (pandas steps cost about 2 ms)
    if columns is None:
        rows = segment_rows(ds)
        if not len(rows):
            return _EMPTY_SEGMENT_FRAMES.copy()
        table = _rows_of_records(rows, ids)
        columns = {c: table[c].to_numpy() for c in ("segment", "event", *SEGMENT_ROW_COLUMNS)}
    event = np.asarray(columns["event"], dtype=np.int64)
    times = np.asarray(ds["time"].values, dtype=np.float64)
    lengths = np.asarray(ds["length"].values, dtype=np.int64)[event]
    start = np.minimum(np.searchsorted(times, np.asarray(columns["start"], np.float64), side="left"), lengths)
    stop = np.minimum(np.searchsorted(times, np.asarray(columns["end"], np.float64), side="left"), lengths)
    columns["segment"] = np.asarray(columns["segment"], dtype=np.int64)
    columns["event"] = event
    columns["frame_start"] = start.astype(np.int64)
    columns["frame_stop"] = np.maximum(stop, start).astype(np.int64)
    return pd.DataFrame({c: columns[c] for c in _EMPTY_SEGMENT_FRAMES.columns})


def _segment_columns_of_records(ds: xr.Dataset, ids: np.ndarray) -> dict | None:
    """What :func:`_rows_of_records` gives for a one-dimensional table and distinct record ids, as numpy columns
    (plus ``segment`` and ``event``); None otherwise (the pandas path handles those)."""
    if ds["segment_event_id"].ndim != 1 or not len(ids):
        return None
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    if not np.all(sorted_ids[1:] != sorted_ids[:-1]):
        return None
    seg_ids = np.asarray(ds["segment_event_id"].values).astype(str)
    pos = np.minimum(np.searchsorted(sorted_ids, seg_ids), len(ids) - 1)
    found = np.flatnonzero(sorted_ids[pos] == seg_ids)
    columns = {"segment": found, "event": order[pos[found]].astype(np.int64)}
    for col, name in zip(SEGMENT_ROW_COLUMNS, SEGMENT_VARIABLES, strict=True):
        values = np.asarray(ds[name].values) if name in ds.variables else np.full(seg_ids.size, np.nan)
        columns[col] = values[found]
    columns["event_id"] = seg_ids[found].astype(object)
    columns["class"] = columns["class"].astype(np.int64)
    keys = np.lexsort((np.asarray(columns["start"], np.float64), columns["event"]))  # stable: event, then start
    return {c: v[keys] for c, v in columns.items()}


#: segment_frames of a Dataset without segments (built once: pandas constructors cost about 1 ms)
_EMPTY_SEGMENT_FRAMES = pd.DataFrame({
    "segment": np.zeros(0, np.int64), "event": np.zeros(0, np.int64), "event_id": np.zeros(0, dtype=str),
    "class": np.zeros(0, np.int64), **{c: np.zeros(0) for c in ("start", "end", "p", "s")},
    "frame_start": np.zeros(0, np.int64), "frame_stop": np.zeros(0, np.int64)})


def _rows_of_records(rows: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    """The rows of the segment table whose record is among ``ids``, with ``segment`` (the row's position) and
    ``event`` (the record's position in ``ids``; a record present twice gets its segments twice), sorted by event
    then start."""
    seg_ids = rows["event_id"].to_numpy().astype(str)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    if len(ids) and np.all(sorted_ids[1:] != sorted_ids[:-1]):  # unique ids (the usual case): one lookup each
        pos = np.minimum(np.searchsorted(sorted_ids, seg_ids), len(ids) - 1)
        found = np.flatnonzero(sorted_ids[pos] == seg_ids)
        table = rows.iloc[found].assign(segment=found, event=order[pos[found]].astype(np.int64))
    else:
        records = pd.DataFrame({"event_id": ids, "event": np.arange(len(ids), dtype=np.int64)})
        table = rows.rename_axis("segment").reset_index().merge(records, on="event_id", how="inner")
    keys = np.lexsort((table["start"].to_numpy(np.float64), table["event"].to_numpy(np.int64)))  # stable
    return table.iloc[keys].reset_index(drop=True)


# --------------------------------------------------------------------------------------------- summaries


def summaries_cover(ds) -> bool:
    """Whether the capture-time summaries (``summary_*``) describe exactly the frames of ``ds``.

    The summaries describe every valid frame of the records named in ``summary_event_id``. They cover ``ds``
    when they are stored with their usual dims, ``summary_event_id`` holds the same records as ``ds`` (in any
    order) and ``ds``'s time axis still holds every valid frame of them (:func:`valid_lengths` equals
    ``length``), or when ``ds`` is only summaries (no ``event`` dimension, as the widgets keep them). After
    ``ds.isel(event=...)``, ``sel``, a concatenation with other records, or a time selection that drops valid
    frames (``ds.isel(time=slice(0, 40))``), they describe other frames: analyses then read the data instead.

    Parameters
    ----------
    ds : xarray.Dataset
        A run, or a selection or concatenation of runs.

    Returns
    -------
    bool
        True when the stored summaries describe exactly the valid frames of ``ds``.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()
    >>> summaries_cover(run), summaries_cover(run.isel(event=[2, 0, 1])), summaries_cover(run.isel(event=[1]))
    (True, True, False)
    >>> summaries_cover(run.isel(time=slice(0, 5))), summaries_cover(run.isel(time=slice(0, 18)))  # 18 frames at most
    (False, True)
    """
    return _summaries_cover(ds, valid_lengths)


def _summaries_cover(ds, lengths) -> bool:
    """:func:`summaries_cover` with ``lengths(ds)`` giving the valid lengths (:func:`valid_lengths`, or known ones)."""
    names = [n for n in SUMMARY_VARIABLES if n in ds.data_vars and n != "summary_event_id"]
    if not names or any(tuple(ds[n].dims) != VARIABLES[n].dims for n in names):
        return False
    if "event" not in ds.dims:
        return True
    if "summary_event_id" not in ds.data_vars or ds["summary_event_id"].dims != ("summary_event",):
        return False
    covered = np.sort(np.asarray(ds["summary_event_id"].values).astype(str))
    if not np.array_equal(covered, np.sort(event_ids(ds))):
        return False
    if "length" not in ds.coords or "time" not in ds.dims or selection_problem(ds) is not None:
        return "length" not in ds.coords
    return bool(np.array_equal(lengths(ds), np.asarray(ds["length"].values, dtype=np.int64)))


# --------------------------------------------------------------------------------------------- selections of frames
# ``length`` counts the valid frames of a record from the first frame of the time axis the record was captured
# with. A time selection (``isel(time=...)``, ``sel(time=...)``, a concatenation of pieces along ``time``) keeps
# ``length`` as it was, so the valid frames left are found from the padding itself: past ``length`` a run holds
# ``pred == -1`` and NaN features and states, never inside it (:func:`validate`).

#: Variables whose padding marks the frames past ``length``, cheapest to read first.
PADDING_MARKERS = ("pred", "features", "spectrogram", "prob", "h")


def _padding_marker(ds):
    for name in PADDING_MARKERS:
        if name in ds.data_vars and {"event", "time"} <= set(ds[name].dims):
            return ds[name]
    names = [n for n, v in ds.data_vars.items() if {"event", "time"} <= set(v.dims) and v.dtype.kind == "f"]
    return ds[names[0]] if names else None


def _marks_valid(ds, marker, where):
    """:func:`_is_valid` of ``marker`` at ``where`` (isel indexers); ``pred`` is -1 past ``length`` and also where the
    input was missing (NaN ``prob``), so a frame with ``pred == -1`` whose ``features`` are defined is valid too."""
    valid = _is_valid(marker.isel(where))
    if marker.name == "pred" and "features" in ds.data_vars and {"event", "time"} <= set(ds["features"].dims):
        valid = valid | _is_valid(ds["features"].isel(where))
    return valid


def _is_valid(marker):
    """Per (event, time) position of ``marker`` (a DataArray): True where it holds a valid frame (lazy with dask)."""
    if marker.name == "pred" or marker.dtype.kind in "iu":
        return marker >= 0
    other = [d for d in marker.dims if d not in ("event", "time", "_point")]
    return marker.notnull().any(other) if other else marker.notnull()


def _on_one_frame_grid(ds) -> bool:
    """Whether every step of ``ds``'s time axis is a whole number of frames (``frame_rate`` or ``step_seconds`` in
    its attributes): frames of one record's grid, possibly with frames selected away. A concatenation along
    ``event`` of runs on other grids interleaves their times (steps of a fraction of a frame): False, as when the
    frame rate is unknown."""
    rate = ds.attrs.get("frame_rate")
    if not rate and ds.attrs.get("step_seconds"):
        rate = 1.0 / float(ds.attrs["step_seconds"])
    if not rate or ds.sizes.get("time", 0) < 2:
        return bool(rate)
    steps = np.diff(np.asarray(ds["time"].values, dtype=np.float64)) * float(rate)
    whole = np.round(steps)
    return bool(np.all(whole >= 1) and np.all(np.abs(steps - whole) <= 1e-6 * np.maximum(1.0, whole)))


def selection_problem(ds) -> str | None:
    """What keeps ``ds``'s frames from being read record by record in time order, or None.

    A run's analyses read every record frame after frame, so the ``time`` coordinate must increase strictly
    (``isel``/``sel`` with increasing positions or times, concatenations of consecutive pieces along ``time``).

    Parameters
    ----------
    ds : xarray.Dataset
        A run, a features Dataset or any selection of one.

    Returns
    -------
    str or None
        None when the frames can be read in order; else what is wrong and how to fix it (analyses raise it as a
        :class:`SchemaError`).

    Examples
    --------
    >>> from rnnscope import examples
    >>> run = examples.toy_run()
    >>> selection_problem(run.isel(time=slice(2, 9))) is None
    True
    >>> print(selection_problem(run.isel(time=[3, 1, 2])))  # doctest: +ELLIPSIS
    the run's time axis is not in increasing order (time 3.5 s at position 0 is followed by 2.5 s); ...
    """
    if "time" not in ds.coords or ds.sizes.get("time", 0) < 2:
        return None
    times = np.asarray(ds["time"].values, dtype=np.float64)
    step = np.diff(times)
    bad = np.flatnonzero(~(step > 0))
    if not bad.size:
        return None
    i = int(bad[0])
    return (f"the run's time axis is not in increasing order (time {times[i]:g} s at position {i} is followed by "
            f"{times[i + 1]:g} s); analyses read each record frame after frame. Sort it with run.sortby('time') and "
            "drop repeated frames (run.drop_duplicates('time'))")


def valid_lengths(ds) -> np.ndarray:
    """The number of valid frames of every record on ``ds``'s own time axis.

    ``length`` says how many frames a record has from the first frame of the time axis it was captured with; a
    selection along ``time`` keeps it unchanged. The valid frames left by a selection are the first ones of the
    axis (times increase), up to the first padding frame (``pred == -1``, else NaN ``features``, ``spectrogram``,
    ``prob`` or ``h``). A record's missing input (a gap: NaN frames followed by valid ones on the run's frame grid,
    ``frame_rate``) is not padding: its valid frames run to the last valid one. Whole time axes cost one frame read
    per record.

    Parameters
    ----------
    ds : xarray.Dataset
        A run or a features Dataset (``length`` coordinate), any selection of one.

    Returns
    -------
    numpy.ndarray
        int64 (event,): ``length`` itself when the time axis holds every valid frame.

    Raises
    ------
    SchemaError
        When the time axis is not in increasing order (:func:`selection_problem`), or a record holds valid frames
        after padding.

    Examples
    --------
    >>> from rnnscope import examples
    >>> run = examples.toy_run()
    >>> run.length.values.tolist(), valid_lengths(run).tolist()
    ([18, 16, 11], [18, 16, 11])
    >>> valid_lengths(run.isel(time=slice(10, 20))).tolist()  # frames 10..17 of the first record, ...
    [8, 6, 1]
    """
    length = np.asarray(ds["length"].values, dtype=np.int64)
    problem = selection_problem(ds)
    if problem is not None:
        raise SchemaError(problem)
    n_time = ds.sizes.get("time", 0)
    candidate = np.clip(length, 0, n_time)
    marker = _padding_marker(ds)
    rows = np.flatnonzero(candidate > 0)
    if marker is None or not rows.size:
        return candidate
    point = {"event": xr.DataArray(rows, dims="_point"), "time": xr.DataArray(candidate[rows] - 1, dims="_point")}
    last_valid = np.asarray(_marks_valid(ds, marker, point).values, dtype=bool)
    cut = rows[~last_valid]
    if not cut.size:
        return candidate
    valid = np.asarray(_marks_valid(ds, marker, {"event": cut, "time": slice(0, int(candidate[cut].max()))})
                       .transpose("event", "time").values, dtype=bool)
    out = candidate.copy()
    ids = event_ids(ds)
    grid: bool | None = None
    for row, e in zip(valid, cut, strict=True):
        row = row[: candidate[e]]
        n = int(np.argmin(row)) if not row.all() else int(candidate[e])
        if row[n:].any():
            grid = _on_one_frame_grid(ds) if grid is None else grid
            if n > 0 and grid:  # missing input inside the record (a gap: NaN features, NaN states from there on)
                out[e] = int(np.flatnonzero(row)[-1]) + 1
                continue
            raise SchemaError(f"record {ids[e]!r} holds valid frames after padding (position {n} is padding, "
                              f"{n + int(np.argmax(row[n:]))} is not): a record's valid frames come first on its time "
                              "axis. Select frames with increasing positions or times, and concatenate runs along "
                              "'event' only when they share one frame grid (xarray interleaves other time axes).")
        out[e] = n
    return out


def fit_to_frames(ds):
    """``ds`` made to describe exactly the frames it holds: ``length`` counts the valid frames of its own time axis
    (:func:`valid_lengths`) and capture-time summaries that describe other records or frames are dropped
    (:func:`summaries_cover`). Unchanged (the same object) when nothing needs fixing; never modified in place.

    Parameters
    ----------
    ds : xarray.Dataset
        A run or features Dataset, possibly a selection (``isel``/``sel`` along ``event`` or ``time``).

    Returns
    -------
    xarray.Dataset
        ``ds`` with ``length`` counting its own valid frames and without summaries that describe other frames.

    Examples
    --------
    >>> from rnnscope import examples
    >>> part = fit_to_frames(examples.toy_run().isel(time=slice(10, 20)))
    >>> part.length.values.tolist(), "summary_heat" in part
    ([8, 6, 1], False)
    """
    valid = valid_lengths(ds) if "length" in ds.coords and {"event", "time"} <= set(ds.dims) else None
    stored = [n for n in SUMMARY_VARIABLES if n in ds.variables]
    if stored and "event" in ds.dims and not _summaries_cover(ds, lambda _: valid):  # one read of the padding
        ds = ds.drop_vars(stored)
    if valid is not None and not np.array_equal(valid, np.asarray(ds["length"].values, dtype=np.int64)):
        ds = ds.assign_coords(length=("event", valid))
    return ds


def upgrade(ds: xr.Dataset) -> xr.Dataset:
    """A version-1 Dataset in the current layout (schema 2); other versions are returned unchanged.

    The positional ``segment_event`` becomes ``segment_event_id`` (records without an ``event_id`` get
    ``rec00000``, ...), and the summaries are marked as describing every record of ``ds``, so they are used only
    while all of them are selected.

    Parameters
    ----------
    ds : xarray.Dataset
        A records Dataset, a features Dataset or a run, of any schema version.

    Returns
    -------
    xarray.Dataset
        ``ds`` in the layout of schema 2 (a copy; ``ds`` itself when it is not version 1).

    Examples
    --------
    >>> old = xr.Dataset({"segment_event": ("segment", [1, 0])}, coords={"event_id": ("event", ["a", "b"])},
    ...                  attrs={"schema_version": "1.0"})
    >>> new = upgrade(old)
    >>> new.segment_event_id.values.tolist(), new.attrs["schema_version"]
    (['b', 'a'], '2.0')
    """
    if str(ds.attrs.get("schema_version", "")).split(".")[0] != "1":
        return ds
    out = ds.copy()
    if "event" in out.dims and "event_id" not in out.variables:
        out = out.assign_coords(event_id=("event", _default_ids(out.sizes["event"])))
    ids = event_ids(out)
    if "segment_event" in out.variables:
        position = np.asarray(out["segment_event"].values, dtype=np.int64)
        known = (position >= 0) & (position < ids.size)
        named = np.where(known, ids[np.clip(position, 0, max(ids.size - 1, 0))] if ids.size else "", "")
        attrs = dict(out["segment_event"].attrs)
        out = out.drop_vars("segment_event").assign(segment_event_id=(("segment",), named.astype(str)))
        out["segment_event_id"].attrs = attrs
    if any(n in out.data_vars for n in SUMMARY_VARIABLES) and "summary_event_id" not in out.variables:
        out["summary_event_id"] = (("summary_event",), ids)
    out.attrs["schema_version"] = SCHEMA_VERSION
    return out
