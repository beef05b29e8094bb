"""The layout of a run's multiscale overview: names, levels and block keys (numpy only; no zarr, no widgets).

A long record's overview holds, per level ``k``, one value per block of ``2**k`` consecutive frames (waveform:
samples): the smallest and largest value of every unit (``overview_h_min`` / ``overview_h_max``, ...), the largest
of the spectrogram and of the probabilities, and the number of frames of each class for ``label`` and ``pred``. A
view ``n`` frames wide on ``P`` pixels reads the level whose blocks hold about ``n / P`` frames: at most two values
per pixel, whatever the record's length, instead of the record.

Every level of every record lies along one dimension, ``overview`` (``overview_sample`` for the waveform), level
after level, each level starting at a multiple of :data:`CHUNK` (so a view reads whole chunks of one level). The
index coordinate holds each block's *key*, ``k * 10**12 + first frame``: concatenating runs along ``event``
aligns the blocks by key, and the key says which frames a block holds. Levels are stored from
``2**FRAME_LEVEL`` frames (``2**SAMPLE_LEVEL`` samples) up to the coarsest level of which the record holds
:data:`MIN_BLOCKS` whole blocks: a record shorter than ``MIN_BLOCKS * 2**FRAME_LEVEL`` frames (4,096: one stored
chunk) has none, its views read the frames. ``overview_length`` (``overview_n_samples``) says how many frames
(samples) of each record its overview describes (0: none).

Examples
--------
>>> levels(172_800, FRAME_LEVEL)  # a day at 0.5 s per frame: blocks of 8 to 256 frames
[3, 4, 5, 6, 7, 8]
>>> keys = block_keys(10_000, FRAME_LEVEL)
>>> int(keys[0]), int(keys[1]), int(keys[level_start(keys, 3) + 1]) == 3 * KEY + 8
(3000000000000, 3000000000008, True)
>>> level_start(keys, 4) % CHUNK, level_start(keys, 9) is None
(0, True)
"""
from __future__ import annotations

import numpy as np

__all__ = ["FRAME_LEVEL", "SAMPLE_LEVEL", "MIN_BLOCKS", "CHUNK", "KEY", "STATES", "SOURCES", "DIMS", "COVERED",
           "overview_name", "overview_names", "levels", "block_keys", "level_start", "source_of", "schema_entries",
           "covers", "OVERVIEW_VARIABLES"]

#: finest level along ``time``: blocks of 2**3 = 8 frames (a view of fewer than 4 frames per image column reads
#: the frames themselves)
FRAME_LEVEL = 3
#: finest level along ``sample``: blocks of 64 samples
SAMPLE_LEVEL = 6
#: a level is stored for a record when the record holds at least this many whole blocks of it
MIN_BLOCKS = 512
#: blocks per stored chunk along ``overview``; every level starts at a multiple of it
CHUNK = 1024
#: a block's key: ``k * KEY + first frame``
KEY = 10**12

#: state variables, in the schema's order
STATES = ("h", "c", "input_gate", "forget_gate", "output_gate", "cell_input", "update_gate", "reset_gate",
          "candidate")
#: the variables with an overview and what is kept per block: min and max of the states and the waveform, the
#: largest spectrogram and probability (what the views draw), frames per class of the labels
SOURCES: dict[str, tuple[str, ...]] = {**{s: ("min", "max") for s in STATES}, "spectrogram": ("max",),
                                       "prob": ("max",), "label": ("count",), "pred": ("count",),
                                       "waveform": ("min", "max")}
#: the overview dimension of each dimension reduced
DIMS = {"time": "overview", "sample": "overview_sample"}
#: per record, the frames (samples) its overview describes
COVERED = {"time": "overview_length", "sample": "overview_n_samples"}


def overview_name(source: str, reduction: str) -> str:
    """``overview_<source>_<reduction>``, e.g. ``overview_h_max``."""
    return f"overview_{source}_{reduction}"


def overview_names() -> list[str]:
    """Every overview variable name, in the order of :data:`SOURCES`."""
    return [overview_name(s, r) for s, reductions in SOURCES.items() for r in reductions]


def source_of(name: str) -> tuple[str, str] | None:
    """``(source, reduction)`` of an overview variable name, None for any other name.

    >>> source_of("overview_forget_gate_min"), source_of("h")
    (('forget_gate', 'min'), None)
    """
    for source, reductions in SOURCES.items():
        for reduction in reductions:
            if name == overview_name(source, reduction):
                return source, reduction
    return None


def levels(n: int, finest: int) -> list[int]:
    """The levels ``k`` stored for ``n`` frames (samples): from ``finest`` while ``n`` holds at least
    :data:`MIN_BLOCKS` whole blocks of ``2**k``."""
    out, k = [], int(finest)
    while int(n) // 2**k >= MIN_BLOCKS:
        out.append(k)
        k += 1
    return out


def block_keys(n: int, finest: int) -> np.ndarray:
    """The keys along the overview dimension of an axis of ``n`` frames: every level of :func:`levels`, each
    starting at a multiple of :data:`CHUNK` (its last chunk filled with the keys of blocks past the axis)."""
    parts = []
    for k in levels(n, finest):
        count = -(-int(n) // 2**k)
        padded = -(-count // CHUNK) * CHUNK
        parts.append(k * KEY + np.arange(padded, dtype=np.int64) * 2**k)
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def level_start(keys: np.ndarray, k: int) -> int | None:
    """Position of level ``k``'s first block in ``keys`` (sorted), None when the level is absent."""
    keys = np.asarray(keys)
    pos = int(np.searchsorted(keys, k * KEY))
    return pos if pos < keys.size and int(keys[pos]) == k * KEY else None


def schema_entries() -> list[tuple[str, tuple[str, ...], str, str]]:
    """``(name, dims, dtype kind, meaning)`` of every overview variable and coordinate, for :mod:`rnnscope.schema`."""
    out = []
    for source, reductions in SOURCES.items():
        rest = {"spectrogram": ("freq",), "prob": ("class_name",), "label": ("class_name",),
                "pred": ("class_name",), "waveform": ()}.get(source, ("unit", "layer"))
        unit = "samples" if source == "waveform" else "frames"
        dim = DIMS["sample" if source == "waveform" else "time"]
        for r in reductions:
            what = {"min": "smallest value", "max": "largest value", "count": "frames of each class"}[r]
            out.append((overview_name(source, r), ("event", dim, *rest), "i" if r == "count" else "f",
                        f"overview: {what} of {source!r} per block of 2**k {unit} (rnnscope._overview)"))
    return out + [
        ("overview", ("overview",), "i", "key of an overview block: k * 10**12 + its first frame (2**k frames)"),
        ("overview_sample", ("overview_sample",), "i", "key of a waveform overview block: k * 10**12 + first sample"),
        ("overview_length", ("event",), "i", "frames of the record its overview describes (0: none)"),
        ("overview_n_samples", ("event",), "i", "samples of the record its waveform overview describes (0: none)")]


def covers(ds, dim: str, variables: dict, valid_lengths) -> np.ndarray:
    """Per record, whether the overview of ``ds`` along ``dim`` (``"time"``, or ``"sample"`` for the waveform's)
    describes exactly its valid frames (samples): bool (event,). ``variables``: the schema's specs;
    ``valid_lengths``: :func:`rnnscope.schema.valid_lengths` (or the lengths when known).

    Selections of records and concatenations along ``event`` keep a record's overview; a time selection that drops
    valid frames of a record (its valid length is no longer ``overview_length``) leaves it describing other frames.
    """
    n_event = ds.sizes.get("event", 0)
    none = np.zeros(n_event, dtype=bool)
    ov, covered = DIMS[dim], COVERED[dim]
    names = [n for n in ds.data_vars if n in variables and variables[n].dims[1:2] == (ov,)]
    if (not names or ov not in ds.indexes or covered not in ds.coords or ds[covered].dims != ("event",)
            or any(tuple(ds[n].dims) != variables[n].dims for n in names)):
        return none
    counts = np.asarray(ds[covered].values, np.int64)
    if dim == "time":
        if "length" not in ds.coords or "time" not in ds.dims:
            return none
        target = valid_lengths(ds)
    else:
        target = (np.asarray(ds["n_samples"].values, np.int64) if "n_samples" in ds.coords
                  else np.full(n_event, ds.sizes.get("sample", 0), np.int64))
        if "sample" not in ds.dims or (target.size and target.max() > ds.sizes["sample"]):
            return none
    return (counts > 0) & (counts == target)


#: every overview variable and coordinate name (dropped together with the states they describe)
OVERVIEW_VARIABLES = tuple(name for name, *_ in schema_entries())
