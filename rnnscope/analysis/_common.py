"""Shared plumbing of the analyses: argument checks, reading a run block by block, class and layer bookkeeping.

Every analysis reads the run through :func:`iter_blocks`, which yields the *valid* frames (``time < length``) of one
record at a time, in blocks of at most one time chunk. In-memory runs are sliced directly; dask-backed runs
(:func:`rnnscope.open_run`) compute one block at a time, so memory stays bounded by one block whatever the run's
size, and nothing past ``length`` is ever read.

This module imports no torch.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .._validation import check_choice
from ..errors import EmptyClassWarning

__all__ = ["EmptyClassWarning"]

STATE_DIMS = ("event", "time", "unit", "layer")
#: Variables bounded by their equation in every cell: the sigmoid gates in [0, 1] ...
SIGMOID_VARIABLES = ("input_gate", "forget_gate", "output_gate", "update_gate", "reset_gate")
#: ... and the tanh candidates in [-1, 1]. ``h`` lies in [-1, 1] for tanh cells only (not for a ReLU RNN or an LSTM
#: with ``proj_size``), ``c`` has no bound: their ranges are read from the run (:func:`display_limits`).
TANH_VARIABLES = ("cell_input", "candidate")
_DEFAULT_BLOCK = 4096
_LSTM_FAMILY = ("lstm", "lazy_lstm")



# --------------------------------------------------------------------------------------------- checks


def as_run(run, func: str, *, needs_length: bool = True) -> xr.Dataset:
    """``run`` as the analyses read it, or a clear error: any selection a user makes with xarray analyses like a
    run of exactly the frames it holds.

    - records indexed by id (``run.swap_dims(event="event_id")``) get their ``event`` dimension back;
    - a run in the previous layout (schema 1, positional ``segment_event``) is refused, naming
      :func:`rnnscope.schema.upgrade`;
    - the time axis must increase (:func:`rnnscope.schema.selection_problem`);
    - ``length`` counts the valid frames left by a time selection and capture-time summaries of other records or
      frames are dropped (:func:`rnnscope.schema.fit_to_frames`).

    The input is never modified (the changes are made on a shallow copy).
    """
    from ..schema import SchemaError, fit_to_frames, selection_problem

    if not isinstance(run, xr.Dataset):
        raise TypeError(
            f"The 'run' parameter of {func} must be an xarray.Dataset (a run from rnnscope.capture or "
            f"rnnscope.open_run). Got {type(run).__name__} instead."
        )
    if "event" not in run.dims and "event_id" in run.dims:  # run.swap_dims(event="event_id")
        run = run.swap_dims(event_id="event")
    version = str(run.attrs.get("schema_version", ""))
    if version.split(".")[0] == "1" or ("segment_event" in run.variables and "segment_event_id" not in run.variables):
        raise SchemaError(
            f"{func}: the run is in the previous layout (schema_version {version or '1'}: its segments refer to "
            "records by position in 'segment_event', which selections of records make wrong). Convert it with "
            "run = rnnscope.schema.upgrade(run) (rnnscope.open_run upgrades stores on reading)."
        )
    if needs_length and "length" not in run.coords:
        raise ValueError(
            f"{func}: the run has no 'length' coordinate (valid frames per event). Runs made by rnnscope.capture "
            "have it; for a hand-made Dataset add run.coords['length'] = ('event', lengths)."
        )
    problem = selection_problem(run)
    if problem is not None:
        raise SchemaError(f"{func}: {problem}.")
    return fit_to_frames(run)  # a time selection: its own lengths; never summaries of other frames


def state_variables(run) -> list[str]:
    """Names of the run's state variables (dims event, time, unit, layer)."""
    return [name for name, v in run.data_vars.items() if tuple(v.dims) == STATE_DIMS]


def check_var(run, var, func: str) -> str:
    """Return ``var`` if it is a state variable of ``run``, else raise naming the valid ones."""
    valid = state_variables(run)
    if var not in valid:
        raise ValueError(f"The 'var' parameter of {func} must be one of {valid}. Got {var!r} instead.")
    return var


def check_layers(run, layer, func: str) -> np.ndarray:
    """Positions of the selected layers: all for None, else an int or a list of layer ids (``run.layer`` values)."""
    ids = (
        [int(v) for v in np.asarray(run["layer"].values)] if "layer" in run.coords else list(range(run.sizes["layer"]))
    )
    if layer is None:
        return np.arange(len(ids))
    wanted = [layer] if np.ndim(layer) == 0 else list(layer)
    try:
        positions = [ids.index(int(v)) for v in wanted if not isinstance(v, bool)]
    except (TypeError, ValueError):
        positions = []
    if not wanted or len(positions) != len(wanted):
        raise ValueError(
            f"The 'layer' parameter of {func} must be None (all layers), one of {ids} or a list of them. "
            f"Got {layer!r} instead."
        )
    return np.asarray(positions, dtype=np.int64)


def check_fraction(value, *, name: str, func: str) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not (0 < float(value) <= 1):
        raise ValueError(f"The {name!r} parameter of {func} must be a number in (0, 1]. Got {value!r} instead.")
    return float(value)


def check_int(value, *, name: str, func: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"The {name!r} parameter of {func} must be an integer >= {minimum}. Got {value!r} instead.")
    return int(value)


def event_position(run, event, func: str) -> int:
    """Position of ``event``: an int position or an ``event_id`` value."""
    n = run.sizes["event"]
    if isinstance(event, (int, np.integer)) and not isinstance(event, bool):
        if -n <= event < n:
            return int(event) % n
    elif "event_id" in run.coords:
        ids = [str(v) for v in np.asarray(run["event_id"].values)]
        if str(event) in ids:
            return ids.index(str(event))
    ids = [str(v) for v in np.asarray(run["event_id"].values)][:5] if "event_id" in run.coords else []
    raise ValueError(
        f"The 'event' parameter of {func} must be a record position in [0, {n - 1}] or an event_id "
        f"(e.g. {ids}). Got {event!r} instead."
    )


# --------------------------------------------------------------------------------------------- run facts


def class_names(run) -> list[str]:
    if "class_name" in run.coords:
        return [str(c) for c in np.asarray(run["class_name"].values)]
    return [str(c) for c in run.attrs.get("class_names", [])]


def require_labels(run, func: str) -> list[str]:
    """The run's class names; a clear error when it has none (a run of a model captured without ``labels=``)."""
    names = class_names(run)
    if not names:
        where = " (captured from a model without labels)" if "module" in run.coords else ""
        raise ValueError(f"{func} needs labels: the run has no classes and no 'label' variable{where}. Capture it "
                         "with labels (rnnscope.capture(model, data, labels=..., class_names=...)) or use an "
                         "analysis that needs none (unit_activity, unit_traces, linear_cka, gate_saturation, ...).")
    return names


def drop_padded_units(x: np.ndarray) -> np.ndarray:
    """``x`` (frames, unit) without the units that are NaN at every frame: the padding of a narrower layer in runs
    of any ``nn.Module`` (``layer_units``), which would make distances, SVDs and probes NaN."""
    return x[:, ~np.isnan(x).all(axis=0)] if x.size else x


def lengths(run) -> np.ndarray:
    """The frames of every record the analyses read: ``length``, cut before the states a missing input left
    undefined. A NaN input frame makes a recurrent layer NaN from there on (as in PyTorch): a classifier's run marks
    those frames with ``pred`` -1 inside the length; in a run without ``pred`` they are the frames at the end of the
    record where a layer's ``h`` is NaN in every unit. NaN frames followed by defined ones (an edited run) are kept
    (and said by the analyses that meet them)."""
    n = np.asarray(run["length"].values, dtype=np.int64)
    if not n.size:
        return n
    if "pred" in run.data_vars and set(run["pred"].dims) == {"event", "time"}:
        pred = run["pred"].transpose("event", "time")
        rows = np.flatnonzero(n > 0)  # one frame read per record; a record itself only when its last pred is -1
        last = pred.isel(event=xr.DataArray(rows, dims="_point"), time=xr.DataArray(n[rows] - 1, dims="_point"))
        out = n.copy()
        for e in rows[np.asarray(last.values) < 0]:
            out[e] = int(np.argmax(np.asarray(pred.isel(event=int(e), time=slice(0, int(n[e]))).values) < 0))
        return out
    if "h" in run.data_vars and set(run["h"].dims) == set(STATE_DIMS):
        return _defined_lengths(run["h"].transpose(*STATE_DIMS), n)
    return n


def _defined_lengths(h, n: np.ndarray) -> np.ndarray:
    """``n`` cut before each record's trailing frames where a layer of ``h`` (event, time, unit, layer) is NaN in
    every unit: one frame read per record, the record itself only when its last frame is undefined."""
    from ..io._summaries import missing_frames  # the one definition of a frame whose states are undefined

    rows = np.flatnonzero(n > 0)
    point = {"event": xr.DataArray(rows, dims="_point"), "time": xr.DataArray(n[rows] - 1, dims="_point")}
    ended = missing_frames(np.asarray(h.isel(point).values)[:, None])
    out = n.copy()
    for e in ([] if ended is None else rows[ended[:, 0]]):
        undefined = missing_frames(np.asarray(h.isel(event=[int(e)], time=slice(0, int(n[e]))).values))
        defined = np.flatnonzero(~undefined[0]) if undefined is not None else np.arange(n[e])
        out[e] = int(defined[-1]) + 1 if defined.size else 0
    return out


def layer_ids(run, positions) -> np.ndarray:
    ids = np.asarray(run["layer"].values) if "layer" in run.coords else np.arange(run.sizes["layer"])
    return ids[np.asarray(positions)]


def unit_ids(run) -> np.ndarray:
    return np.asarray(run["unit"].values) if "unit" in run.coords else np.arange(run.sizes["unit"])


def model_cells(run) -> list[str] | None:
    """Cell kind of every layer from ``attrs["model_config"]`` (a JSON string or dict), or None when unknown."""
    config = run.attrs.get("model_config")
    if config is None:
        return None
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except json.JSONDecodeError:
            return None
    cells = config.get("cells") if isinstance(config, dict) else None
    if cells is None:
        return None
    cells = [str(c) for c in cells]
    n_layers = run.sizes.get("layer", len(cells))
    return cells * n_layers if len(cells) == 1 and n_layers > 1 else cells


def cell_variables(run, var, positions, func: str) -> list[str]:
    """The variable to read for each selected layer.

    ``var="cell"`` picks Tang et al.'s "cell": ``c`` for LSTM-family layers (``lstm``, ``lazy_lstm``), ``h`` for
    the others (GRU, vanilla), by the cell kinds in ``attrs["model_config"]``; without a model config, ``c`` when
    the run has it, else ``h``.
    """
    if not (isinstance(var, str) and var == "cell"):
        return [check_var(run, var, func)] * len(positions)
    cells = model_cells(run)
    if cells is None or len(cells) != run.sizes["layer"]:
        chosen = "c" if "c" in state_variables(run) else "h"
        return [check_var(run, chosen, func)] * len(positions)
    out = []
    available = state_variables(run)
    for p in positions:
        chosen = "c" if cells[p] in _LSTM_FAMILY else "h"
        if chosen not in available:
            raise ValueError(
                f"{func}: var='cell' picks the cell of each layer, {chosen!r} for layer {p} ({cells[p]}), but the run "
                f"has only {available}. Capture it (rnnscope.capture(..., var='all')) or pass var= one of "
                f"{available}."
            )
        out.append(chosen)
    return out


def display_limits(var: str, lo: float, hi: float) -> tuple[float, float]:
    """The range a variable is binned and coloured on, from its smallest and largest value ``lo``, ``hi`` (the
    run's stored value range): the one rule of the analyses, plots and widgets.

    [0, 1] for the sigmoid gates and [-1, 1] for the tanh candidates (bounded by their equations); [-1, 1] for ``h``
    when it stays inside (tanh cells); otherwise (``c``, ``h`` of a ReLU RNN or of an LSTM with ``proj_size``, any
    other variable) ``[-m, m]`` with ``m`` the largest magnitude (1 when nothing is finite).

    Examples
    --------
    >>> display_limits("forget_gate", 0.1, 0.7), display_limits("h", -0.9, 0.99), display_limits("h", 0.0, 7.5)
    ((0.0, 1.0), (-1.0, 1.0), (-7.5, 7.5))
    >>> display_limits("c", -0.5, 0.25)
    (-0.5, 0.5)
    """
    if var in SIGMOID_VARIABLES:
        return 0.0, 1.0
    if var in TANH_VARIABLES:
        return -1.0, 1.0
    lo, hi = float(lo), float(hi)
    if var == "h" and np.isfinite(lo) and np.isfinite(hi) and -1.0 <= lo and hi <= 1.0:
        return -1.0, 1.0
    m = max((abs(v) for v in (lo, hi) if np.isfinite(v)), default=1.0)
    m = m if m > 0 else 1.0
    return -m, m


def display_range(run, var: str, positions=None) -> tuple[float, float]:
    """:func:`display_limits` of ``var`` over the selected layers (positions; None: every layer), from the run's
    stored value ranges (``summary_min`` / ``summary_max``) or, when they do not describe the run, its data."""
    positions = np.arange(run.sizes["layer"]) if positions is None else np.atleast_1d(positions)
    lo, hi = value_range(run, var, positions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every layer empty: NaN
        return display_limits(var, np.nanmin(np.where(np.isfinite(lo), lo, np.nan)),
                              np.nanmax(np.where(np.isfinite(hi), hi, np.nan)))


def segment_table(run):
    """:func:`rnnscope.schema.segment_frames` (the segments of the run's records, by event_id) plus arrival frames
    (first frame centred at or after P / S; -1 for none)."""
    from ..schema import segment_frames

    table = segment_frames(run)
    if len(table):
        times = np.asarray(run["time"].values, dtype=np.float64)
        for name in ("p", "s"):
            values = table[name].to_numpy(np.float64)
            frame = np.searchsorted(times, np.where(np.isfinite(values), values, np.inf), side="left")
            table[f"frame_{name}"] = np.where(np.isfinite(values), frame, -1)
    return table


def summaries_usable(run) -> bool:
    """Whether the run's capture-time summaries describe exactly its records (:func:`rnnscope.schema.summaries_cover`);
    otherwise analyses read the data."""
    from ..schema import summaries_cover

    return summaries_cover(run)


def warn_empty(func: str, what: str, names: Sequence[object]) -> None:
    if len(names):
        warnings.warn(
            f"{func}: {what} {list(names)} ha{'s' if len(names) == 1 else 've'} no frames in this run; "
            "the corresponding values are NaN.",
            EmptyClassWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------------------------- reading


@dataclass
class Block:
    """Valid frames ``t0 .. t0 + n`` of one record: ``values`` (n, unit, layer) float32 per variable."""

    event: int
    t0: int
    values: np.ndarray
    labels: np.ndarray | None


def _ordered(run, name):
    data = run[name]
    if tuple(data.dims) != STATE_DIMS:
        data = data.transpose(*STATE_DIMS)
    return data.data


def _block_size(run, name) -> int:
    chunks = getattr(run[name].data, "chunks", None)
    if chunks is None:
        return _DEFAULT_BLOCK
    axis = run[name].dims.index("time")
    return max(int(chunks[axis][0]), 1)


def _read(data, event, t0, t1):
    block = data[event, t0:t1]
    if not isinstance(block, np.ndarray):
        block = block.compute() if hasattr(block, "compute") else np.asarray(block)
    return np.asarray(block)


def iter_blocks(run, variables, positions, *, events=None, labels: bool = True) -> Iterator[Block]:
    """Yield :class:`Block` s of the valid frames of every record (or of ``events``), record by record.

    ``variables`` is one name, or one name per selected layer (``positions``); the block's ``values`` stack the
    selected layers along the last axis. Nothing past ``length`` is read, nor past a missing input frame
    (:func:`lengths`).
    """
    positions = np.asarray(positions, dtype=np.int64)
    if isinstance(variables, str):
        variables = [variables] * len(positions)
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(variables):
        groups.setdefault(name, []).append(i)
    arrays = {name: _ordered(run, name) for name in groups}
    size = min(_block_size(run, name) for name in groups)
    n_frames = lengths(run)
    label_data = run["label"].data if labels and "label" in run else None
    if label_data is not None and tuple(run["label"].dims) != ("event", "time"):
        label_data = run["label"].transpose("event", "time").data
    for event in (range(run.sizes["event"]) if events is None else events):
        n = int(n_frames[event])
        for t0 in range(0, n, size):
            t1 = min(t0 + size, n)
            out = np.empty((t1 - t0, run.sizes["unit"], len(positions)), dtype=np.float32)
            for name, cols in groups.items():
                block = _read(arrays[name], event, t0, t1)
                out[..., cols] = block[..., positions[cols]]
            lab = None if label_data is None else _read(label_data, event, t0, t1).astype(np.int64)
            yield Block(event, t0, out, lab)


def event_values(run, variables, positions, event) -> tuple[np.ndarray, np.ndarray | None]:
    """All valid frames of one record: values (length, unit, layer) and labels (length,)."""
    blocks = list(iter_blocks(run, variables, positions, events=[event]))
    if not blocks:
        return np.zeros((0, run.sizes["unit"], len(positions)), dtype=np.float32), np.zeros(0, dtype=np.int64)
    values = np.concatenate([b.values for b in blocks])
    labels = None if blocks[0].labels is None else np.concatenate([b.labels for b in blocks])
    return values, labels


def value_range(run, variables, positions) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest value per selected layer (from ``summary_min``/``summary_max`` when they describe the
    run's records)."""
    if isinstance(variables, str):
        variables = [variables] * len(positions)
    lo = np.full(len(positions), np.inf)
    hi = np.full(len(positions), -np.inf)
    missing = []
    stored = summaries_usable(run) and "summary_min" in run and "variable" in run.coords
    for i, (name, p) in enumerate(zip(variables, positions, strict=True)):
        if stored and name in [str(v) for v in run["variable"].values]:
            lo[i] = float(run["summary_min"].sel(variable=name).isel(layer=int(p)).values)
            hi[i] = float(run["summary_max"].sel(variable=name).isel(layer=int(p)).values)
            if not (np.isfinite(lo[i]) and np.isfinite(hi[i])):
                missing.append(i)
        else:
            missing.append(i)
    if missing:
        cols = np.asarray(missing)
        for block in iter_blocks(run, [variables[i] for i in cols], positions[cols], labels=False):
            if block.values.size:
                lo[cols] = np.minimum(lo[cols], np.nanmin(block.values, axis=(0, 1)))
                hi[cols] = np.maximum(hi[cols], np.nanmax(block.values, axis=(0, 1)))
    return lo, hi


def choose(value, choices, *, name: str, func: str):
    return check_choice(value, choices, name=name, func=func)
