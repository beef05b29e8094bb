"""Save and open runs (and records / features Datasets): zarr by default, netCDF supported; lazy with dask.

Writes are atomic: a store is written as ``NAME.partial`` with a manifest (``rnnscope_manifest.json`` inside a
zarr store) and renamed to ``NAME`` when complete, so an interrupted write leaves the previous store intact or
no store, never a half store that opens as valid. :func:`open_run` refuses a ``.partial`` store.

Every run store is written by one component, :class:`RunWriter` (used by :func:`save_run`, by
:func:`rnnscope.capture` with ``store=`` and by the monitor's capture stores), with one summary accumulator
(:func:`compute_summaries`). Attributes holding lists or dicts (``class_names``,
configs) are stored as JSON strings, so netCDF can hold them, and decoded on opening. This package imports no
torch.

Modules: ``_files.py`` (paths, manifests, atomic renames), ``_attrs.py`` (attributes and encodings),
``_writer.py`` (:class:`RunWriter`, :func:`save_run`), ``_open.py`` (:func:`open_run`), ``_summaries.py`` (the
summaries), ``_overview.py`` (the multiscale overview of long records, :func:`compute_overview`).
"""
from ._attrs import decode_attrs, default_chunks, encode_attrs
from ._files import MANIFEST, PARTIAL_SUFFIX, ZARR_FORMAT, RunFileError
from ._open import open_run
from ._overview import compute_overview
from ._summaries import (  # noqa: F401  (writers' plumbing)
    STATE_ORDER,
    FrameIndex,
    SummaryAccumulator,
    compute_summaries,
    frame_groups,
    window_values,
)
from ._writer import RunWriter, save_run

__all__ = [
    # saving and opening
    "save_run",
    "open_run",
    "RunFileError",
    # the writer of run stores
    "RunWriter",
    "MANIFEST",
    "PARTIAL_SUFFIX",
    "ZARR_FORMAT",
    "default_chunks",
    "encode_attrs",
    "decode_attrs",
    # summaries (SummaryAccumulator, FrameIndex and STATE_ORDER are the writers' plumbing, importable but not API)
    "compute_summaries",
    # the multiscale overview of long records (the writer stores it; this computes it in memory)
    "compute_overview",
]
