"""``monitor(..., capture_store=...)``: the hidden states of a monitored range, as runs the Explorer opens.

One zarr run per UTC day and contiguous piece of data, in ``capture_store``, named
``<SEED id>_<UTC start>.zarr`` (e.g. ``XX.SYN..HHZ_20240301T000000.zarr``). Each run is one record
(``event`` of size 1) whose ``time`` coordinate counts from the record start as everywhere in rnnscope (the first
frame is at 2.0 s with the paper's features); ``starttime`` holds the record start in UTC and ``trace_id`` the SEED
id. It holds:

- ``h`` (event, time, unit, layer): the unit outputs of every layer, as the model computed them during monitoring
  (state carried across days, reset after gaps) — the other internal variables (``c``, gates) are not captured;
  run :func:`rnnscope.capture` on a stretch of interest for those;
- ``features``, ``spectrogram`` (log power per frame), ``prob``, ``pred``; ``label`` is -1 (unknown) everywhere;
- the **detections as the segment table** (``segment_event_id``, ``segment_class``, ``segment_start``,
  ``segment_end`` in seconds from the record start, clipped to the run), so the Explorer can jump from detection
  to detection; ``attrs["segments"] = "detections"`` says the segments are the model's, not ground truth;
- ``attrs["waveform_source"]`` (a dict): the archive the monitor read, ``{"kind": "sds", "root": ...}`` or
  ``{"kind": "files", "paths": [...]}`` with absolute paths (None for an in-memory Stream): the runs hold no
  waveform, and the Explorer reads the window it shows from there;
- the summaries :func:`rnnscope.capture` stores, computed the same way (:func:`rnnscope.io.compute_summaries`):
  segment-weighted heat over the detections; frame-weighted heat is NaN (no frame has a known label).

Runs are written by :class:`rnnscope.io.RunWriter` (the writer of every run store), grown along ``time`` while
monitoring (memory: one chunk) as ``NAME.partial`` and renamed when the monitoring completes;
:func:`rnnscope.open_run` refuses a partial run. The runs open and analyse like any captured run.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import _version, io
from ..features import filter_bank
from ..schema import SCHEMA_VERSION, plain, segment_variables

__all__ = ["CaptureWriter"]

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_TIME_CHUNK = 4096


class CaptureWriter:
    """Streams ``h``, features, spectrogram and probabilities into one zarr run per day and contiguous piece."""

    def __init__(self, root, model, cfg, rate, seed_id, background=None, source=None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.model = model
        self.cfg = cfg
        self.rate = float(rate)
        self.seed_id = seed_id
        self.runs: list[dict] = []
        self.current = None
        self.piece = None
        _, self.freqs = filter_bank(cfg, self.rate)
        hop = int(round(cfg.hop_s * self.rate))
        win = int(round(cfg.window_s * self.rate))
        self.first_offset_ns = int(round(win / 2 * _NS / self.rate))
        self.attrs = {
            "schema_version": SCHEMA_VERSION,
            "class_names": list(model.class_names),
            "sampling_rate": self.rate,
            "frame_rate": self.rate / hop,
            "feature_config": plain(dataclasses.asdict(cfg)),
            "model_config": plain(model.config),
            "training_summary": plain(model.info.get("training", {})),
            "capture_config": plain({"source": "rnnscope.monitor", "variables": ["h"]}),
            "segments": "detections",
            # where the waveforms were read (None for an in-memory Stream): the Explorer reads the shown window
            # from there, since the runs hold no waveform
            "waveform_source": plain(source),
            **_version.provenance(),
        }
        if background is not None:
            self.attrs["background"] = background

    # -- called by the monitor's engine --------------------------------------------------------------------
    def start_piece(self, start_ns, first_frame_ns, period_ns):
        self.piece = {"first": int(first_frame_ns), "period": int(period_ns), "k": 0}
        self.current = None

    def end_piece(self):
        self.piece = None
        self.current = None

    def write(self, feats, spec, prob, hidden):
        n = feats.shape[0]
        times = self.piece["first"] + (self.piece["k"] + np.arange(n, dtype=np.int64)) * self.piece["period"]
        self.piece["k"] += n
        i = 0
        while i < n:
            if self.current is None or times[i] >= self.current["day_end"]:
                self._open(int(times[i]))
            j = int(np.searchsorted(times, self.current["day_end"], side="left"))
            j = max(j, i + 1)
            self._append(times[i:j], feats[i:j], spec[i:j], prob[i:j], [h[i:j] for h in hidden])
            i = j

    # -- runs ----------------------------------------------------------------------------------------------
    def _open(self, first_frame_ns):
        from obspy import UTCDateTime

        record_start = first_frame_ns - self.first_offset_ns
        stamp = UTCDateTime(ns=record_start).strftime("%Y%m%dT%H%M%S")
        final = self.root / f"{self.seed_id}_{stamp}.zarr"
        self.current = {"final": final, "writer": None, "record_start": record_start, "n": 0,
                        "day_end": (first_frame_ns // _DAY_NS + 1) * _DAY_NS}
        self.runs.append(self.current)

    def _append(self, times, feats, spec, prob, hidden):
        run = self.current
        h = np.stack([np.asarray(x, dtype=np.float32) for x in hidden], axis=-1)[None]
        ds = xr.Dataset(
            {
                "h": (("event", "time", "unit", "layer"), h),
                "features": (("event", "time", "feature"), np.asarray(feats, dtype=np.float32)[None]),
                "spectrogram": (("event", "time", "freq"), np.asarray(spec, dtype=np.float32)[None]),
                "prob": (("event", "time", "class_name"), np.asarray(prob, dtype=np.float32)[None]),
                "pred": (("event", "time"), np.asarray(prob).argmax(-1).astype(np.int16)[None]),
                "label": (("event", "time"), np.full((1, len(times)), -1, dtype=np.int16)),
            },
            coords={"time": ("time", (times - run["record_start"]) / _NS)},
        )
        if run["writer"] is None:
            ds = ds.assign_coords(
                unit=np.arange(h.shape[2]), layer=np.arange(h.shape[3]),
                class_name=np.array(self.model.class_names, dtype=str), freq=self.freqs,
                feature=np.array(self.cfg.feature_names(), dtype=str),
            )
            ds.attrs = self.attrs
            run["writer"] = io.RunWriter.create(run["final"], ds, chunks={"time": _TIME_CHUNK}, grow="time")
        else:
            run["writer"].append(ds, dim="time")
        run["n"] += len(times)

    # -- completion ----------------------------------------------------------------------------------------
    def _record(self, run, starts, ends, classes) -> xr.Dataset:
        """The run's record coordinates and its detections as the segment table (clipped to the run)."""
        from obspy import UTCDateTime

        names = list(self.model.class_names)
        period = int(round(self.cfg.hop_s * _NS))
        t0 = run["record_start"]
        t1 = t0 + self.first_offset_ns + (run["n"] - 1) * period + period // 2  # end of the last frame's hop
        inside = np.flatnonzero((starts < t1) & (ends > t0))
        event_id = run["final"].stem
        seg = pd.DataFrame({
            "event_id": np.full(inside.size, event_id, dtype=object),
            "class": np.array([names.index(c) for c in classes[inside]], dtype=np.int64),
            "start": (np.maximum(starts[inside], t0) - t0) / _NS,
            "end": (np.minimum(ends[inside], t1) - t0) / _NS,
        })
        return xr.Dataset(segment_variables(seg), coords={
            "event_id": ("event", np.array([event_id])),
            "length": ("event", np.array([run["n"]], dtype=np.int64)),
            "starttime": ("event", np.array([str(UTCDateTime(ns=t0))])),
            "trace_id": ("event", np.array([self.seed_id])),
        })

    def finish(self, detections: pd.DataFrame) -> list[Path]:
        """Add the detections (as segment tables), the summaries and attrs to every run, mark them complete,
        rename them."""
        if len(detections):  # pandas may hold another resolution than ns
            starts = pd.DatetimeIndex(detections["start"]).as_unit("ns").asi8
            ends = pd.DatetimeIndex(detections["end"]).as_unit("ns").asi8
            classes = detections["class_name"].to_numpy()
        else:
            starts = ends = np.zeros(0, dtype=np.int64)
            classes = np.zeros(0, dtype=object)
        out = []
        for run in self.runs:
            writer = run["writer"]
            extra = self._record(run, starts, ends, classes)
            summary = io.compute_summaries(xr.merge([writer.dataset(), extra], compat="override", join="override"))
            out.append(writer.finish(xr.merge([extra, summary], compat="override"), attrs=self.attrs))
        return out
