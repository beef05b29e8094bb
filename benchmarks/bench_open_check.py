"""What do the chunk checks of ``rnnscope.open_run`` cost on a day-long store, next to opening without them?

The store: one record of a day at the paper's frame rate (172,800 frames), laid out as the monitor's capture runs
(``h`` of an LSTM(210), 48 features, a 257-bin spectrogram, 5 class probabilities, ``pred``, ``label``; chunks of
4096 frames), random values (they compress badly: the most bytes to checksum), written by ``rnnscope.io.RunWriter``
grown along ``time`` as the monitor writes it. Side by side, in turns (``--rounds`` rounds after a warm-up):

- ``open, no check``: ``open_run`` with the chunk checks switched off (what opening cost before them);
- ``open (sizes)``: ``open_run(path)``: one ``stat`` per chunk listed in the manifest;
- ``open, verify=True``: every chunk's CRC-32 (reads every byte);
- ``read h, no check`` / ``read h (checksums)``: ``run.h.values`` without / with the checksum of every chunk read.

Also the writer's extra cost: the chunk table (sizes and CRC-32 of every chunk) computed when the store completes.

Run: ``.venv/bin/python benchmarks/bench_open_check.py [--frames N] [--units N] [--rounds N]``; record the output
in docs/performance.md. ``--frames 8192 --units 8 --rounds 1`` checks that it runs.
"""
from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr
from _timing import Stopwatch, interleaved, ratio  # noqa: E402  (benchmarks/_timing.py, the one timing helper)

import rnnscope
from rnnscope.io import _check, _open

CHUNK = 4096


def write_store(path: Path, frames: int, units: int) -> Path:
    """A monitor-like run store of one record of ``frames`` frames, grown chunk by chunk."""
    rng = np.random.default_rng(0)
    writer = None
    for t0 in range(0, frames, CHUNK):
        n = min(CHUNK, frames - t0)
        prob = rng.dirichlet(np.ones(5), size=n).astype(np.float32)
        ds = xr.Dataset(
            {
                "h": (("event", "time", "unit", "layer"), rng.uniform(-1, 1, (1, n, units, 1)).astype(np.float32)),
                "features": (("event", "time", "feature"), rng.normal(size=(1, n, 48)).astype(np.float32)),
                "spectrogram": (("event", "time", "freq"), rng.normal(size=(1, n, 257)).astype(np.float32)),
                "prob": (("event", "time", "class_name"), prob[None]),
                "pred": (("event", "time"), prob.argmax(-1).astype(np.int16)[None]),
                "label": (("event", "time"), np.full((1, n), -1, np.int16)),
            },
            coords={"time": 2.0 + 0.5 * np.arange(t0, t0 + n)},
        )
        if writer is None:
            ds = ds.assign_coords(unit=np.arange(units), layer=[0], feature=[f"f{i}" for i in range(48)],
                                  freq=np.linspace(0, 50, 257), class_name=["SIL", "TRE", "LP", "VTE", "HYB"])
            ds.attrs = {"schema_version": "2.0", "class_names": ["SIL", "TRE", "LP", "VTE", "HYB"],
                        "sampling_rate": 100.0}
            writer = rnnscope.io.RunWriter.create(path, ds, chunks={"time": CHUNK}, grow="time")
        else:
            writer.append(ds, dim="time")
    extra = xr.Dataset(coords={"event_id": ("event", ["day"]), "length": ("event", [frames])})
    return writer.finish(extra)


@contextlib.contextmanager
def unchecked():
    """``open_run`` as it was before the chunk checks: no table, the plain zarr store."""
    before = _open.check_chunks
    _open.check_chunks = lambda *args, **kwargs: None
    try:
        yield
    finally:
        _open.check_chunks = before


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=172_800, help="frames of the record (default: a day)")
    parser.add_argument("--units", type=int, default=210, help="hidden units (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the side-by-side timing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        with Stopwatch() as sw:
            path = write_store(Path(tmp) / "day.zarr", args.frames, args.units)
        files = sum(len(v) for v in _check.chunk_table(path).values())
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        with Stopwatch() as table:
            _check.chunk_table(path)
        print(f"store: {args.frames} frames, LSTM({args.units}): {size:.0f} MB in {files} chunk files, written in "
              f"{sw.seconds:.1f} s; the chunk table (sizes + CRC-32, at completion) took {table.seconds:.2f} s")

        def open_plain():
            with unchecked():
                rnnscope.open_run(path)

        def read_plain():
            with unchecked():
                return rnnscope.open_run(path).h.values

        variants = {
            "open, no check": open_plain,
            "open (sizes)": lambda: rnnscope.open_run(path),
            "open, verify=True": lambda: rnnscope.open_run(path, verify=True),
            "read h, no check": read_plain,
            "read h (checksums)": lambda: rnnscope.open_run(path).h.values,
        }
        times = interleaved(variants, rounds=args.rounds)
        for name, t in times.items():
            print(f"  {name:<20} median {np.median(t) * 1e3:8.1f} ms")
        print(f"  open (sizes) / open, no check:          {ratio(times, 'open (sizes)', 'open, no check'):.2f}x")
        print(f"  open, verify=True / open, no check:     {ratio(times, 'open, verify=True', 'open, no check'):.2f}x")
        print(f"  read h (checksums) / read h, no check:  "
              f"{ratio(times, 'read h (checksums)', 'read h, no check'):.2f}x")


if __name__ == "__main__":
    main()
