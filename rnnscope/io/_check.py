"""Damaged run stores: every chunk the writer stored is listed in the manifest with its size and checksum.

:class:`rnnscope.io.RunWriter` records, when it completes a zarr store, the size in bytes and the CRC-32 of every
chunk file it wrote (``manifest["chunks"] = {variable: {chunk key: [bytes, crc32]}}``; chunks entirely of padding
are never written and are not listed). :func:`rnnscope.open_run` then checks

- at opening, cheaply: every listed chunk exists and has its size (one ``stat`` per chunk);
- with ``verify=True``, fully: the checksum of every listed chunk (every byte is read);
- at every later read (the run is lazy: dask reads chunks when values are needed), the checksum of the chunk read,
  through :class:`CheckedStore`, the zarr store the run is opened with: a chunk deleted, truncated or altered after
  opening is found too.

A damaged or missing chunk is a :class:`~rnnscope.errors.RunFileError` naming the variable, the record(s) and the
frames the chunk holds, never a codec traceback and never NaN read in place of the data. Stores written before
these checks (no ``chunks`` in their manifest) open as before, unchecked.
"""
from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from ..errors import RunFileError

__all__ = []

#: manifest entry: ``{variable: {chunk key: [bytes, crc32]}}``
CHUNKS = "chunks"
_SKIP = {"rnnscope_manifest.json", "rnnscope_checkpoint.npz"}


def crc32_of(path) -> int:
    """CRC-32 of a file's bytes (read in blocks)."""
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            crc = zlib.crc32(block, crc)
    return crc


def chunk_table(root: Path) -> dict:
    """``{variable: {chunk key: [bytes, crc32]}}`` of every chunk file of a zarr (format 2) store."""
    table: dict = {}
    root = Path(root)
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        chunks = {}
        for dirpath, _, files in os.walk(folder):
            for name in files:
                if name.startswith(".") or name in _SKIP:
                    continue  # .zarray / .zattrs: metadata, checked by the zarr reader itself
                file = Path(dirpath) / name
                chunks[file.relative_to(folder).as_posix()] = [file.stat().st_size, crc32_of(file)]
        if chunks:
            table[folder.name] = dict(sorted(chunks.items()))
    return table


def check_chunks(path: Path, manifest: dict, *, verify: bool, func: str = "open_run") -> dict | None:
    """Check every chunk the manifest lists (size; with ``verify`` the checksum too); return the table (None for
    stores written without one) or raise :class:`RunFileError` naming the damaged chunks."""
    table = manifest.get(CHUNKS)
    if table is None:
        return None
    problems = []
    for variable, chunks in table.items():
        for key, (size, crc) in chunks.items():
            file = path / variable / key
            try:
                actual = file.stat().st_size
            except FileNotFoundError:
                problems.append((variable, key, _missing(size)))
                continue
            if actual != size:
                problems.append((variable, key, _resized(actual, size)))
            elif verify and crc32_of(file) != crc:
                problems.append((variable, key, _altered(crc)))
    if problems:
        raise damaged(path, problems, func)
    return table


def _missing(size) -> str:
    return f"is missing (the writer stored {size} bytes there)"


def _resized(actual, size) -> str:
    return f"holds {actual} bytes where the writer stored {size} (truncated or overwritten)"


def _altered(crc) -> str:
    return f"does not match the checksum the writer recorded (CRC-32 {crc:08x}): its bytes were altered"


def damaged(path: Path, problems: list, func: str, event_ids=None) -> RunFileError:
    """The error for damaged chunks ``[(variable, key, what), ...]``: each named with its records (their event_id,
    read by ``event_ids(first, last)``; default: from the store) and frames."""
    lines = [f"chunk {v}/{k} of variable {v!r} ({where(path, v, k, event_ids)}) {what}" for v, k, what in problems[:5]]
    more = f"; and {len(problems) - 5} more damaged chunk(s)" if len(problems) > 5 else ""
    return RunFileError(
        f"{func}: the run {os.fspath(path)} is damaged: " + "; ".join(lines) + more + ". Re-create the run from its "
        "source (rnnscope.save_run or rnnscope.capture(..., store=...); a monitor's capture run: run the monitor "
        "again), or select the other records (run.isel(event=...)) to go on without these."
    )


def where(path: Path, variable: str, key: str, event_ids=None) -> str:
    """The records (with their event_id), frames and other index ranges a chunk holds, from the store's metadata."""
    try:
        dims, array = _layout(path, variable)
        index = [int(i) for i in key.replace("/", ".").split(".")]
        parts = []
        for dim, i, size, n in zip(dims, index, array["chunks"], array["shape"], strict=True):
            a, b = i * size, min((i + 1) * size, n) - 1
            if dim == "event":
                ids = (event_ids or _event_ids)(path, a, b)
                label = f"record {a}" if a == b else f"records {a}-{b}"
                parts.append(label + (f", event_id {ids}" if ids else ""))
            elif dim == "time":
                parts.append(f"frames {a}-{b}")
            elif dim in ("segment", "sample"):
                parts.append(f"{dim}s {a}-{b}")
        return "; ".join(parts) or "its only chunk"
    except Exception:  # noqa: BLE001 - the message must never fail: fall back to the key
        return f"chunk key {key!r}"


def _layout(path: Path, variable: str):
    """The dimensions and the ``.zarray`` metadata of ``variable``, from the store's consolidated metadata."""
    meta = json.loads((path / ".zmetadata").read_text())["metadata"]
    return meta[f"{variable}/.zattrs"]["_ARRAY_DIMENSIONS"], meta[f"{variable}/.zarray"]


def _format_ids(ids) -> str:
    ids = [str(i) for i in ids]
    return ", ".join(repr(i) for i in ids[:5]) + (" ..." if len(ids) > 5 else "")


def _event_ids(path: Path, a: int, b: int) -> str:
    try:
        import zarr

        return _format_ids(zarr.open_array(str(path / "event_id"), mode="r", zarr_format=2)[a : b + 1])
    except Exception:  # noqa: BLE001 - event_id itself may be the damaged variable
        return ""


async def _event_ids_async(path: Path, a: int, b: int) -> str:
    """:func:`_event_ids` from inside zarr's event loop (a chunk read), where zarr's blocking API cannot run."""
    try:
        import zarr.api.asynchronous as za
        from zarr.storage import LocalStore

        array = await za.open_array(store=LocalStore(str(path / "event_id"), read_only=True), zarr_format=2)
        return _format_ids(await array.getitem(slice(a, b + 1)))
    except Exception:  # noqa: BLE001 - event_id itself may be the damaged variable
        return ""


def checked_store(path: Path, table: dict):
    """The zarr store of ``path`` that checks every listed chunk it reads against ``table`` (see
    :class:`CheckedStore`)."""
    from zarr.storage import LocalStore

    return _checked_class()(LocalStore(str(path), read_only=True), str(path), table)


_CLASS = None


def _checked_class():
    """:class:`CheckedStore`, defined on first use (zarr is imported only when a run is opened)."""
    global _CLASS
    if _CLASS is None:
        from zarr.storage import WrapperStore

        class CheckedStore(WrapperStore):
            """A zarr store that checks the size and CRC-32 of every chunk it reads against the manifest's table
            and raises :class:`RunFileError` for a missing or damaged chunk (a chunk of padding, never written,
            is not in the table and reads as its fill value)."""

            def __init__(self, store, path: str, table: dict):
                super().__init__(store)
                self.path, self.table = path, table

            def _with_store(self, store):
                return type(self)(store, self.path, self.table)

            def __reduce__(self):  # sent to dask workers with the graph
                return (checked_store, (Path(self.path), self.table))

            async def get(self, key, prototype, byte_range=None):
                buffer = await self._store.get(key, prototype, byte_range)
                variable, _, chunk = key.partition("/")
                entry = self.table.get(variable, {}).get(chunk) if byte_range is None else None
                if entry is None:
                    return buffer
                size, crc = entry
                data = None if buffer is None else buffer.as_numpy_array()
                problem = (_missing(size) if data is None else _resized(data.nbytes, size) if data.nbytes != size
                           else _altered(crc) if zlib.crc32(data) != crc else None)
                if problem is None:
                    return buffer
                path = Path(self.path)
                try:  # the records' event_id, read here (zarr's blocking API cannot run inside its event loop)
                    dims, array = _layout(path, variable)
                    i = dims.index("event")
                    first = int(chunk.replace("/", ".").split(".")[i]) * array["chunks"][i]
                    last = min(first + array["chunks"][i], array["shape"][i]) - 1
                    ids = await _event_ids_async(path, first, last)
                except Exception:  # noqa: BLE001 - no event dimension, or no metadata: the message goes without
                    ids = ""
                raise damaged(path, [(variable, chunk, problem)], "reading a run", event_ids=lambda *_: ids)

            async def get_partial_values(self, prototype, key_ranges):
                return [await self.get(key, prototype, byte_range) for key, byte_range in key_ranges]

            async def _get_many(self, requests):
                for key, prototype, byte_range in requests:
                    yield key, await self.get(key, prototype, byte_range)

        _CLASS = CheckedStore
    return _CLASS
