"""Explorer on long records: Python time and bytes sent per update.

Builds (once; reused when present) a synthetic run directly as an xarray Dataset saved with
``rnnscope.save_run``: 256 units x 100,000 frames (a second record of 60,000 frames), random tanh values,
a 257-bin spectrogram and a 100 Hz waveform; no model. Then opens it lazily with ``rnnscope.open_run``, builds an
:class:`rnnscope.widgets.Explorer` and times each update (switch record, zoom in, pan, zoom out, whole record, a
click on a unit row): the Python work (reading the slice, folding it to screen columns, encoding the images,
setting the traits) and the bytes the widgets send to the browser (every comm message: JSON state plus binary
buffers, counted by wrapping ``ipywidgets.Widget._send``). The goal: at most 1 MB and 100 ms per update.

Run: ``.venv/bin/python benchmarks/bench_widgets.py [--path /tmp/rnnscope_bench_widgets.zarr] [--repeats 3]``.
Timings are the median over repeats (each repeat replays the same sequence on a fresh Explorer).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from _timing import Stopwatch  # noqa: E402  (benchmarks/_timing.py, the one timing helper)

LENGTHS = (100_000, 60_000)
N_UNITS = 256
N_FREQ = 257
SR, HOP, WIN = 100.0, 50, 400  # Hz, samples: 2 frames per second, 4 s windows (the paper's framing)
CLASSES = ["SIL", "TRE", "LP", "VTE", "HYB"]


def make_run(path, lengths=LENGTHS, n_units: int = N_UNITS, n_freq: int = N_FREQ, seed: int = 0) -> Path:
    """Write a synthetic run (random tanh states, no model) with the given record lengths (frames)."""
    import rnnscope

    rng = np.random.default_rng(seed)
    n_ev, n_t = len(lengths), max(lengths)
    times = (np.arange(n_t) * HOP + WIN / 2) / SR
    n_samples = np.array([(n - 1) * HOP + WIN for n in lengths])
    h = np.full((n_ev, n_t, n_units, 1), np.nan, np.float32)
    spec = np.full((n_ev, n_t, n_freq), np.nan, np.float32)
    wave = np.full((n_ev, int(n_samples.max())), np.nan, np.float32)
    label = np.full((n_ev, n_t), -1, np.int16)
    segments = []
    for e, n in enumerate(lengths):
        for a in range(0, n, 10_000):
            b = min(n, a + 10_000)
            h[e, a:b, :, 0] = np.tanh(1.5 * rng.standard_normal((b - a, n_units), dtype=np.float32))
            spec[e, a:b] = rng.standard_normal((b - a, n_freq), dtype=np.float32)
        wave[e, : n_samples[e]] = rng.standard_normal(n_samples[e], dtype=np.float32)
        label[e, :n] = 0
        for k, start in enumerate(np.linspace(0.1, 0.8, 4) * n):
            a, b, c = int(start), int(start) + 60 + 100 * k, 1 + k % 4
            label[e, a:b] = c
            segments.append((e, c, times[a] - 0.25, times[b] - 0.25, times[a] + 3.0, times[a] + 9.0))
    seg = np.array(segments)
    valid = label >= 0
    prob = np.where(valid[..., None], np.eye(5, dtype=np.float32)[np.maximum(label, 0)], np.nan).astype(np.float32)
    feats = np.where(valid[..., None], 0.0, np.nan).astype(np.float32) + np.zeros((1, 1, 4), np.float32)
    heat = rng.random((5, n_units, 1), dtype=np.float32)
    ds = xr.Dataset(
        {"h": (("event", "time", "unit", "layer"), h),
         "features": (("event", "time", "feature"), feats),
         "spectrogram": (("event", "time", "freq"), spec),
         "waveform": (("event", "sample"), wave),
         "label": (("event", "time"), label), "pred": (("event", "time"), label.copy()),
         "prob": (("event", "time", "class_name"), prob),
         "segment_event_id": ("segment", np.array([f"long{int(e):03d}" for e in seg[:, 0]])),
         "segment_class": ("segment", seg[:, 1].astype(np.int64)),
         "segment_start": ("segment", seg[:, 2]), "segment_end": ("segment", seg[:, 3]),
         "segment_p": ("segment", seg[:, 4]), "segment_s": ("segment", seg[:, 5]),
         "summary_heat": (("class_name", "unit", "layer"), heat),
         "summary_heat_frame": (("class_name", "unit", "layer"), heat),
         "summary_activity": (("unit", "layer"), heat.mean(0)),
         "summary_min": (("variable", "layer"), np.array([[-1.0]], np.float32)),
         "summary_max": (("variable", "layer"), np.array([[1.0]], np.float32)),
         "summary_event_id": ("summary_event", [f"long{e:03d}" for e in range(n_ev)])},
        coords={"time": times, "unit": np.arange(n_units), "layer": [0], "class_name": CLASSES, "variable": ["h"],
                "freq": np.linspace(0.0, SR / 2, n_freq), "sample_time": ("sample", np.arange(wave.shape[1]) / SR),
                "length": ("event", np.array(lengths)), "n_samples": ("event", n_samples),
                "event_id": ("event", [f"long{e:03d}" for e in range(n_ev)]),
                "feature": [f"f{i}" for i in range(4)]},
        attrs={"schema_version": "2.0", "class_names": CLASSES, "sampling_rate": SR, "frame_rate": SR / HOP,
               "bench": json.dumps({"lengths": list(lengths), "units": n_units, "seed": seed})})
    return rnnscope.save_run(ds, path)


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
        ("switch record 0 -> 1 (60,000 frames)", set_event(1)),
        ("switch record 1 -> 0 (100,000 frames)", set_event(0)),
        ("zoom in x4", zoom(0.25)),
        ("zoom in x4 again", zoom(0.25)),
        ("pan by half a view", pan(0.5)),
        ("zoom out x4", zoom(4.0)),
        ("zoom out x16 (from the overview)", zoom(16.0)),
        ("whole record (100,000 frames, from the overview)", whole),
        ("pan whole-record view by 10 %", pan(0.1)),
        ("click a unit row (adds a line)", click),
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                       "rnnscope_bench_widgets.zarr"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="write the synthetic run again")
    args = parser.parse_args(argv)
    import rnnscope

    path = Path(args.path)
    if args.rebuild or not path.exists():
        with Stopwatch() as sw:
            make_run(path)
        print(f"wrote {path} in {sw.seconds:.1f} s")
    import rnnscope.widgets as rw

    assert "torch" not in sys.modules
    results: dict[str, list] = {}
    builds: list[dict] = []
    for _ in range(args.repeats):
        run = rnnscope.open_run(path)  # lazy: dask-backed
        with SentBytes() as sent:
            with Stopwatch() as sw:
                ex = rw.Explorer(run, width=1000)
            t_open = sw.seconds
        ex.reader.wait()
        n_state = sum(len(json.dumps(w.get_state(), default=str)) for w in _tree(ex))
        results.setdefault("open Explorer (record 0, window around main segment)", []).append(
            (t_open, n_state, 0, 0))
        for name, fn in scenario(ex):
            results.setdefault(name, []).append(measure(fn))
            ex.reader.wait()  # the user's think time: background overview builds finish between updates
        builds.append(dict(ex.reader.build_seconds))
        ex.close_all() if hasattr(ex, "close_all") else None
    print(f"run: {len(LENGTHS)} records {LENGTHS} frames, {N_UNITS} units, spectrogram {N_FREQ} bins; Explorer "
          f"width 1000 px -> {ex.n_cols} image columns; median of {args.repeats}")
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
    for key in builds[-1]:
        secs = statistics.median(b[key] for b in builds if key in b)
        print(f"  background overview build {key}: {secs * 1e3:.0f} ms (once per record, off the update path)")
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


if __name__ == "__main__":
    main()
