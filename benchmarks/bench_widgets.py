"""Explorer on long records: the first visit of a record, cold from disk, and the Python time and bytes of updates.

Builds (once; reused when present) a synthetic run store written record by record through the run writer
(``rnnscope.io.RunWriter``, as a capture into a store writes it): records of 100,000 and 172,800 frames (a day at
0.5 s per frame) and a short one of 6,000, 256 units, random tanh states (no model), a 257-bin spectrogram and a
100 Hz waveform. The writer adds the multiscale overview of the long records when it completes the store
(``rnnscope._overview``); the script prints its size next to the states' and the writer's peak memory while
computing it.

Then, each in a **fresh process with the store's pages dropped from the OS page cache** (``posix_fadvise``
``DONTNEED`` on every file: cold from disk), for the 100,000- and the 172,800-frame record:

- *open the Explorer on it*: ``rnnscope.widgets.Explorer(run, event=e)`` (the whole record shown), after
  ``rnnscope.open_run`` (timed apart);
- *first visit*: the Explorer opened on the short record, the pages dropped again, then ``ex.event = e``;

with the chunks and bytes read from the store (counted at the store) and the dask computations started. Goal
(issue 28): a first visit within 150 ms and an opening within 500 ms, at any record length up to 172,800 frames x
256 units.

Then, each pair in a fresh process, the *first zoom to frames* after opening (100 frames of the 100,000-frame record,
read frame by frame where the opening showed the overview: what the first press after the page opens costs the
kernel) and a second such zoom elsewhere, for the Explorer as opened (its frames' arrays warmed in the background
right after opening) and with ``prefetch=False`` (nothing warmed): their ratio shows what the first read of the
arrays costs and that the warm-up takes it off the first press.

Then, warm, in this process: Python time and bytes sent per update (switch record, zoom in, pan, zoom out, whole
record, a click on a unit row; median over ``--repeats`` fresh Explorers). The goal: at most 1 MB and 100 ms per
update. Bytes are counted by wrapping ``ipywidgets.Widget._send`` (JSON state plus binary buffers).

Run: ``.venv/bin/python benchmarks/bench_widgets.py [--path DIR/run.zarr] [--repeats 3] [--cold-repeats 3]``
(``--quick``: a small store, one repeat, only to check that it runs).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import xarray as xr
from _timing import Stopwatch  # noqa: E402  (benchmarks/_timing.py, the one timing helper)

LENGTHS = (100_000, 172_800, 6_000)
SHORT = 2  # the record the first visits start from
N_UNITS = 256
N_FREQ = 257
SR, HOP, WIN = 100.0, 50, 400  # Hz, samples: 2 frames per second, 4 s windows (the paper's framing)
CLASSES = ["SIL", "TRE", "LP", "VTE", "HYB"]
WIDTH = 1000
_BIG = ("h", "features", "spectrogram", "label", "pred", "prob", "waveform")


def _segments(lengths, times):
    rows = []
    for e, n in enumerate(lengths):
        for k, start in enumerate(np.linspace(0.1, 0.8, 4) * n):
            a, b, c = int(start), int(start) + 60 + 100 * k, 1 + k % 4
            rows.append((e, c, a, b, times[a] - 0.25, times[b] - 0.25, times[a] + 3.0, times[a] + 9.0))
    return rows


def make_run(path, lengths=LENGTHS, n_units: int = N_UNITS, n_freq: int = N_FREQ, seed: int = 0) -> dict:
    """Write a synthetic run store record by record through the run writer; returns what its overview cost."""
    import dask.array as da

    import rnnscope

    rng = np.random.default_rng(seed)
    n_ev, n_t = len(lengths), max(lengths)
    times = (np.arange(n_t) * HOP + WIN / 2) / SR
    n_samples = np.array([(n - 1) * HOP + WIN for n in lengths])
    seg = _segments(lengths, times)
    heat = rng.random((5, n_units, 1), dtype=np.float32)

    def lazy(shape, fill, dtype, chunks):
        return da.full(shape, fill, dtype=dtype, chunks=chunks)

    template = xr.Dataset(
        {"h": (("event", "time", "unit", "layer"), lazy((n_ev, n_t, n_units, 1), np.nan, np.float32,
                                                        (1, 4096, n_units, 1))),
         "features": (("event", "time", "feature"), lazy((n_ev, n_t, 4), np.nan, np.float32, (1, 4096, 4))),
         "spectrogram": (("event", "time", "freq"), lazy((n_ev, n_t, n_freq), np.nan, np.float32, (1, 4096, n_freq))),
         "waveform": (("event", "sample"), lazy((n_ev, int(n_samples.max())), np.nan, np.float32, (1, 204_800))),
         "label": (("event", "time"), lazy((n_ev, n_t), -1, np.int16, (1, 4096))),
         "pred": (("event", "time"), lazy((n_ev, n_t), -1, np.int16, (1, 4096))),
         "prob": (("event", "time", "class_name"), lazy((n_ev, n_t, 5), np.nan, np.float32, (1, 4096, 5))),
         "segment_event_id": ("segment", np.array([f"long{int(r[0]):03d}" for r in seg])),
         "segment_class": ("segment", np.array([r[1] for r in seg], np.int64)),
         "segment_start": ("segment", np.array([r[4] for r in seg])),
         "segment_end": ("segment", np.array([r[5] for r in seg])),
         "segment_p": ("segment", np.array([r[6] for r in seg])),
         "segment_s": ("segment", np.array([r[7] for r in seg])),
         "summary_heat": (("class_name", "unit", "layer"), heat),
         "summary_heat_frame": (("class_name", "unit", "layer"), heat),
         "summary_activity": (("unit", "layer"), heat.mean(0)),
         "summary_min": (("variable", "layer"), np.array([[-1.0]], np.float32)),
         "summary_max": (("variable", "layer"), np.array([[1.0]], np.float32)),
         "summary_event_id": ("summary_event", [f"long{e:03d}" for e in range(n_ev)])},
        coords={"time": times, "unit": np.arange(n_units), "layer": [0], "class_name": CLASSES, "variable": ["h"],
                "freq": np.linspace(0.0, SR / 2, n_freq), "sample_time": ("sample", np.arange(n_samples.max()) / SR),
                "length": ("event", np.array(lengths)), "n_samples": ("event", n_samples),
                "event_id": ("event", [f"long{e:03d}" for e in range(n_ev)]),
                "feature": [f"f{i}" for i in range(4)]},
        attrs={"schema_version": "2.0", "class_names": CLASSES, "background": "SIL", "sampling_rate": SR,
               "frame_rate": SR / HOP, "bench": json.dumps({"lengths": list(lengths), "units": n_units,
                                                            "seed": seed})})
    writer = rnnscope.io.RunWriter.create(path, template, empty=_BIG)
    step = 8192
    for e, n in enumerate(lengths):
        label_of = np.zeros(n, np.int16)
        for r in seg:
            if r[0] == e:
                label_of[r[2]: r[3]] = r[1]
        for a in range(0, n, step):
            b = min(n, a + step)
            rows, valid = [e], [b - a]
            writer.write("h", rows, a, valid, np.tanh(1.5 * rng.standard_normal((1, b - a, n_units, 1),
                                                                                 dtype=np.float32)))
            writer.write("spectrogram", rows, a, valid, rng.standard_normal((1, b - a, n_freq), dtype=np.float32))
            writer.write("features", rows, a, valid, np.zeros((1, b - a, 4), np.float32))
            writer.write("label", rows, a, valid, label_of[None, a:b])
            writer.write("pred", rows, a, valid, label_of[None, a:b])
            writer.write("prob", rows, a, valid, np.eye(5, dtype=np.float32)[label_of[a:b]][None])
        for a in range(0, int(n_samples[e]), 1_638_400):
            b = min(int(n_samples[e]), a + 1_638_400)
            writer.write("waveform", [e], a, [b - a], rng.standard_normal((1, b - a), dtype=np.float32))
    tracemalloc.start()
    with Stopwatch() as sw:
        writer.finish()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"finish_s": sw.seconds, "peak_bytes": peak}


def store_sizes(path: Path) -> dict[str, int]:
    """Bytes on disk per variable folder."""
    return {p.name: sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) for p in path.iterdir() if p.is_dir()}


def drop_from_page_cache(path: Path) -> None:
    """Evict the store's files from the OS page cache (clean pages; no privileges needed)."""
    for f in path.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


class SentBytes:
    """Counts what widgets send to the browser: JSON of each comm message plus its binary buffers."""

    def __init__(self):
        self.bytes = 0
        self.messages = 0

    def __enter__(self):
        from ipywidgets import Widget

        self._orig = Widget._send
        counter = self

        def _send(widget, msg, buffers=None):
            counter.messages += 1
            counter.bytes += len(json.dumps(msg, default=str)) + sum(memoryview(b).nbytes for b in buffers or [])
            return counter._orig(widget, msg, buffers=buffers)

        Widget._send = _send
        return self

    def __exit__(self, *exc):
        from ipywidgets import Widget

        Widget._send = self._orig


class StoreReads:
    """Chunks and bytes a run opened with ``rnnscope.open_run`` reads from its store."""

    def __enter__(self):
        from rnnscope.io._check import _checked_class

        self.chunks, self.bytes = 0, 0
        self._cls = _checked_class()
        self._orig = self._cls.get
        counter, original = self, self._orig

        async def get(store, key, prototype, byte_range=None):
            buffer = await original(store, key, prototype, byte_range)
            counter.chunks += 1
            counter.bytes += 0 if buffer is None else buffer.as_numpy_array().nbytes
            return buffer

        self._cls.get = get
        return self

    def __exit__(self, *exc):
        self._cls.get = self._orig


# ----------------------------------------------------------------------------------------------- cold, fresh process
def child(path: Path, event: int, mode: str) -> dict:
    """One cold measurement (in a fresh process): ``mode`` "open" (the Explorer opened on ``event``) or "visit"
    (opened on the short record, then switched to ``event``)."""
    from dask.callbacks import Callback

    import rnnscope
    import rnnscope.widgets as rw

    if mode.startswith("zoom"):
        return first_zooms(rnnscope.open_run(path), event, warmed=mode == "zoom")
    drop_from_page_cache(path)
    with Stopwatch() as sw:
        run = rnnscope.open_run(path)
    out = {"open_run_s": sw.seconds}
    computations = []  # one entry per dask computation started (a graph each)
    if mode == "visit":
        ex = rw.Explorer(run, event=SHORT, width=WIDTH, prefetch=False)
        drop_from_page_cache(path)
        with StoreReads() as reads, Callback(start=computations.append), Stopwatch() as sw:
            ex.event = event
    else:
        with StoreReads() as reads, Callback(start=computations.append), Stopwatch() as sw:
            ex = rw.Explorer(run, event=event, width=WIDTH)
    out.update(seconds=sw.seconds, chunks=reads.chunks, bytes=reads.bytes, step=int(ex._cols.step),
               columns=int(ex._cols.n), computations=len(computations))
    return out


def cold(path: Path, repeats: int, extra: list[str]) -> None:
    print(f"cold, each in a fresh process with the store's pages dropped from the OS cache (median of {repeats}; "
          f"Explorer {WIDTH} px wide):")
    print(f"{'record':>16s} {'measure':38s} {'ms':>8s} {'chunks read':>12s} {'MB read':>8s} {'frames/column':>14s} "
          f"{'dask computations':>18s}")
    for event in (0, 1):
        for mode, what in (("open", "open the Explorer on it (whole record)"), ("visit", "first visit (switch to it)")):
            rows = []
            for _ in range(repeats):
                done = subprocess.run([sys.executable, __file__, "--path", str(path), "--child", mode, "--event",
                                       str(event), *extra], capture_output=True, text=True, check=True)
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            ms = statistics.median(r["seconds"] for r in rows) * 1e3
            print(f"{LENGTHS[event]:>9,d} frames {what:38s} {ms:8.1f} {rows[0]['chunks']:12d} "
                  f"{rows[0]['bytes'] / 1e6:8.2f} {rows[0]['step']:14d} {rows[0]['computations']:18d}")
    print(f"  (open_run before it, apart: {statistics.median(r['open_run_s'] for r in rows) * 1e3:.0f} ms)")


def first_zooms(run, event: int, *, warmed: bool) -> dict:
    """Seconds of the first and of the second zoom into ``event`` to 100 frames (read frame by frame, the overview
    shown before), in a process that has read no frame yet: the first press after the page opens. ``warmed``: the
    Explorer as opened by default (``prefetch=True``: the frames' arrays warmed right after opening, issue 28);
    else ``prefetch=False`` (nothing read in the background)."""
    import rnnscope.widgets as rw

    ex = rw.Explorer(run, event=event, width=WIDTH, prefetch=warmed)
    ex.reader.wait()
    n, dt = int(ex.reader.lengths[event]), ex.reader.dt
    seconds = []
    for start in (n // 4, n // 2 + n // 8):  # other chunks than the warm-up's (the middle): only the first read differs
        with Stopwatch() as sw:
            ex.time_range = (float(ex.reader.frame_time(start)), float(ex.reader.frame_time(start)) + 100 * dt)
            ex.render_now()
        seconds.append(sw.seconds)
    return {"first": seconds[0], "second": seconds[1]}


def zooms(path: Path, repeats: int, extra: list[str]) -> None:
    print(f"\nthe first zoom to frames after opening vs the second (each pair in a fresh process, median of {repeats}; "
          f"record of {LENGTHS[0]:,} frames):")
    print(f"{'Explorer':52s} {'first ms':>9s} {'second ms':>10s} {'first / second':>15s}")
    for mode, what in (("zoom", "as opened (frames' arrays warmed after opening)"),
                       ("zoom-unwarmed", "prefetch=False (nothing warmed)")):
        rows = []
        for _ in range(repeats):
            done = subprocess.run([sys.executable, __file__, "--path", str(path), "--child", mode, "--event", "0",
                                   *extra], capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        first, second = (statistics.median(r[k] for r in rows) * 1e3 for k in ("first", "second"))
        ratio = statistics.median(r["first"] / r["second"] for r in rows)
        print(f"{what:52s} {first:9.1f} {second:10.1f} {ratio:15.2f}")


# ----------------------------------------------------------------------------------------------- warm updates
def measure(fn):
    """(seconds, bytes sent, messages, widgets created) of one update."""
    n_widgets = _widget_count()
    with SentBytes() as sent:
        with Stopwatch() as sw:
            fn()
    return sw.seconds, sent.bytes, sent.messages, _widget_count() - n_widgets


def _widget_count() -> int:
    """Widgets alive (creating widgets during an update would send their whole state)."""
    from ipywidgets.widgets import widget

    return len(widget._instances)


def scenario(ex):
    """The updates timed, in order: (name, function)."""
    def zoom(factor, centre=None):
        def run():
            t0, t1 = ex.time_range
            c = (t0 + t1) / 2 if centre is None else centre
            half = (t1 - t0) / 2 * factor
            ex.time_range = (c - half, c + half)
            ex.render_now()
        return run

    def pan(fraction):
        def run():
            t0, t1 = ex.time_range
            d = (t1 - t0) * fraction
            ex.time_range = (t0 + d, t1 + d)
            ex.render_now()
        return run

    def set_event(e):
        return lambda: setattr(ex, "event", e)

    def whole():
        ex.show_whole_record()
        ex.render_now()

    def click():
        ex.heat_image._handle_custom_msgs(None, {"event": "element_click",
                                                 "data": {"click_x": sum(ex.time_range) / 2, "click_y": 3.5}})

    return [
        (f"switch record 0 -> 1 ({LENGTHS[1]:,} frames)", set_event(1)),
        (f"switch record 1 -> 0 ({LENGTHS[0]:,} frames)", set_event(0)),
        ("zoom in x4", zoom(0.25)),
        ("zoom in x4 again", zoom(0.25)),
        ("zoom in x4 again (frames read)", zoom(0.25)),
        ("pan by half a view", pan(0.5)),
        ("zoom out x4", zoom(4.0)),
        ("zoom out x16", zoom(16.0)),
        (f"whole record ({LENGTHS[0]:,} frames)", whole),
        ("pan whole-record view by 10 %", pan(0.1)),
        ("click a unit row (adds a line)", click),
    ]


def warm(path: Path, repeats: int) -> None:
    import rnnscope
    import rnnscope.widgets as rw

    assert "torch" not in sys.modules
    results: dict[str, list] = {}
    ex = None
    for _ in range(repeats):
        run = rnnscope.open_run(path)  # lazy: dask-backed
        with SentBytes():
            with Stopwatch() as sw:
                ex = rw.Explorer(run, width=WIDTH)
            t_open = sw.seconds
        ex.reader.wait()
        n_state = sum(len(json.dumps(w.get_state(), default=str)) for w in _tree(ex))
        results.setdefault("open Explorer (record 0, the whole record)", []).append((t_open, n_state, 0, 0))
        for name, fn in scenario(ex):
            results.setdefault(name, []).append(measure(fn))
            ex.reader.wait()  # the user's think time: background work finishes between updates
    print(f"\nwarm: records {LENGTHS} frames, {N_UNITS} units, spectrogram {N_FREQ} bins; Explorer width {WIDTH} px "
          f"-> {ex.n_cols} image columns; median of {repeats}")
    print(f"{'update':58s} {'ms':>8s} {'kB sent':>9s} {'msgs':>5s} {'new widgets':>11s}")
    worst_ms = worst_kb = 0.0
    for name, rows in results.items():
        ms = statistics.median(r[0] for r in rows) * 1e3
        kb = statistics.median(r[1] for r in rows) / 1e3
        msgs = statistics.median(r[2] for r in rows)
        new = max(r[3] for r in rows)
        print(f"{name:58s} {ms:8.1f} {kb:9.1f} {msgs:5.0f} {new:11d}")
        if not name.startswith("open"):
            worst_ms, worst_kb = max(worst_ms, ms), max(worst_kb, kb)
    print(f"worst update: {worst_ms:.1f} ms, {worst_kb:.1f} kB")


def _tree(widget):
    """Every widget reachable from ``widget`` (what displaying it sends)."""
    from ipywidgets import Widget

    seen, stack = {}, [widget]
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen[id(w)] = w
        for name in w.keys:
            value = getattr(w, name, None)
            items = value if isinstance(value, (list, tuple)) else list(value.values()) if isinstance(value, dict) \
                else [value]
            for item in items:
                if isinstance(item, Widget):
                    stack.append(item)
                elif isinstance(item, (list, tuple)):
                    stack.extend(x for x in item if isinstance(x, Widget))
    return list(seen.values())


def main(argv=None) -> None:
    global LENGTHS, N_UNITS, N_FREQ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", help="the store (default $TMPDIR/rnnscope_bench_widgets_day.zarr)")
    parser.add_argument("--repeats", type=int, default=3, help="warm repeats (fresh Explorers)")
    parser.add_argument("--cold-repeats", type=int, default=3, help="fresh processes per cold measurement")
    parser.add_argument("--rebuild", action="store_true", help="write the synthetic run again")
    parser.add_argument("--quick", action="store_true", help="a small store, one repeat: only checks that it runs")
    parser.add_argument("--child", choices=["open", "visit", "zoom", "zoom-unwarmed"], help=argparse.SUPPRESS)
    parser.add_argument("--event", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    name = "rnnscope_bench_widgets_quick.zarr" if args.quick else "rnnscope_bench_widgets_day.zarr"
    path = Path(args.path or os.path.join(os.environ.get("TMPDIR", "/tmp"), name))
    if args.quick:
        LENGTHS, N_UNITS, N_FREQ = (9_000, 17_000, 600), 16, 33
        args.repeats = args.cold_repeats = 1
    if args.child:
        print(json.dumps(child(path, args.event, args.child)))
        return
    if args.rebuild or not path.exists():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        with Stopwatch() as sw:
            cost = make_run(path, LENGTHS, N_UNITS, N_FREQ)
        print(f"wrote {path} in {sw.seconds:.1f} s; the writer's completion (overview included) took "
              f"{cost['finish_s']:.1f} s, peak memory {cost['peak_bytes'] / 1e6:.1f} MB (tracemalloc)")
    sizes = store_sizes(path)
    overview = sum(v for k, v in sizes.items() if k.startswith("overview"))
    states, spec = sizes.get("h", 0), sizes.get("spectrogram", 0)
    print(f"store: {sum(sizes.values()) / 1e6:.0f} MB; overview {overview / 1e6:.1f} MB = "
          f"{overview / max(sum(sizes.values()) - overview, 1):.0%} of the rest (h {states / 1e6:.0f} MB, its "
          f"overview {(sizes.get('overview_h_min', 0) + sizes.get('overview_h_max', 0)) / 1e6:.0f} MB; spectrogram "
          f"{spec / 1e6:.0f} MB, its overview {sizes.get('overview_spectrogram_max', 0) / 1e6:.0f} MB)")
    cold(path, args.cold_repeats, ["--quick"] if args.quick else [])
    zooms(path, max(3, args.cold_repeats), ["--quick"] if args.quick else [])
    warm(path, args.repeats)


if __name__ == "__main__":
    main()
