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
- the **detections as the segment table** (``segment_class``, ``segment_start``, ``segment_end`` in seconds from
  the record start, clipped to the run), so the Explorer can jump from detection to detection;
  ``attrs["segments"] = "detections"`` says the segments are the model's, not ground truth.

Runs are written chunk by chunk while monitoring (memory: one chunk) as ``NAME.partial`` and renamed when the
monitoring completes; :func:`rnnscope.open_run` refuses a partial run.
"""
from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import _version, io
from ..features import filter_bank
from ..schema import SCHEMA_VERSION, json_attr

__all__ = ["CaptureWriter"]

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_TIME_CHUNK = 4096


class CaptureWriter:
    """Streams ``h``, features, spectrogram and probabilities into one zarr run per day and contiguous piece."""

    def __init__(self, root, model, cfg, rate, seed_id, background=None):
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
            "feature_config": cfg.to_json(),
            "model_config": json_attr(model.config),
            "training_summary": json_attr(model.info.get("training", {})),
            "capture_config": json_attr({"source": "rnnscope.monitor", "variables": ["h"]}),
            "segments": "detections",
            "rnnscope_version": _version.__version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
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
        partial = final.with_name(final.name + io.PARTIAL_SUFFIX)
        if partial.exists():
            shutil.rmtree(partial)
        self.current = {"final": final, "partial": partial, "record_start": record_start, "n": 0,
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
        with io._quiet_zarr():
            if run["n"] == 0:
                ds = ds.assign_coords(
                    unit=np.arange(h.shape[2]), layer=np.arange(h.shape[3]),
                    class_name=np.array(self.model.class_names, dtype=str), freq=self.freqs,
                    feature=np.array(self.cfg.feature_names(), dtype=str),
                )
                encoding = {name: {"chunks": (1, _TIME_CHUNK) + ds[name].shape[2:]} for name in ds.data_vars}
                encoding["time"] = {"chunks": (_TIME_CHUNK,)}
                ds.to_zarr(run["partial"], mode="w-", consolidated=False, zarr_format=io.ZARR_FORMAT,
                           encoding=encoding)
            else:
                ds.to_zarr(run["partial"], append_dim="time", consolidated=False, zarr_format=io.ZARR_FORMAT)
        run["n"] += len(times)

    # -- completion ----------------------------------------------------------------------------------------
    def _summaries(self, run, seg: pd.DataFrame) -> xr.Dataset:
        """The summaries rnnscope.capture stores (heat per class, activity, ranges), read back chunk by chunk.

        Classes come from the model: segment-weighted heat over the detections, frame-weighted heat over ``pred``.
        """
        import torch
        import zarr

        from ..capturing._summaries import _Summaries

        group = zarr.open_group(str(run["partial"]), mode="r", zarr_format=io.ZARR_FORMAT)
        h_arr, pred_arr = group["h"], group["pred"]
        n, hidden, n_layers = run["n"], h_arr.shape[2], h_arr.shape[3]
        offset, hop = self.first_offset_ns / _NS, self.cfg.hop_s
        frames = [(i, int(np.ceil((a - offset) / hop - 1e-9)), int(np.ceil((b - offset) / hop - 1e-9)))
                  for i, (a, b) in enumerate(zip(seg["start"], seg["end"]))]
        summaries = _Summaries(len(self.model.class_names), len(seg), hidden, n_layers, ["h"])
        for t0 in range(0, n, _TIME_CHUNK):
            t1 = min(n, t0 + _TIME_CHUNK)
            h = torch.from_numpy(np.asarray(h_arr[0, t0:t1], dtype=np.float32))
            labels = np.asarray(pred_arr[0, t0:t1]).astype(np.int64)  # every frame of a continuous record is valid
            inside = [(i, max(a, t0) - t0, min(b, t1) - t0) for i, a, b in frames if min(b, t1) > max(a, t0)]
            ids, lo, hi = (np.array([x[k] for x in inside], dtype=np.int64) for k in range(3))
            layers = [{"h": h[None, :, :, k]} for k in range(n_layers)]
            summaries.update(layers, labels, (np.zeros_like(ids), lo, hi, ids), np.array([t1 - t0]))
        out = summaries.dataset(seg["class"].to_numpy(np.int64), self.model.class_names, n_layers, hidden)
        out = out.drop_vars("variable").assign_coords(variable=np.array(["h"], dtype=str))
        return out.drop_vars([c for c in ("class_name",) if c in out.coords])

    def finish(self, detections: pd.DataFrame) -> list[Path]:
        """Add the detections (as segment tables) and attrs to every run, mark them complete, rename them."""
        import zarr
        from obspy import UTCDateTime

        names = list(self.model.class_names)
        out = []
        if len(detections):  # pandas may hold another resolution than ns
            starts = pd.DatetimeIndex(detections["start"]).as_unit("ns").asi8
            ends = pd.DatetimeIndex(detections["end"]).as_unit("ns").asi8
        else:
            starts = ends = np.zeros(0, dtype=np.int64)
        period = int(round(self.cfg.hop_s * _NS))
        for run in self.runs:
            t0 = run["record_start"]
            t1 = t0 + self.first_offset_ns + (run["n"] - 1) * period + period // 2  # end of the last frame's hop
            inside = np.flatnonzero((starts < t1) & (ends > t0))
            seg = pd.DataFrame({
                "event": np.zeros(inside.size, dtype=np.int32),
                "class": [names.index(c) for c in detections["class_name"].to_numpy()[inside]],
                "start": (np.maximum(starts[inside], t0) - t0) / _NS,
                "end": (np.minimum(ends[inside], t1) - t0) / _NS,
            })
            extra = xr.Dataset(
                {
                    "segment_event": (("segment",), seg["event"].to_numpy(np.int32)),
                    "segment_class": (("segment",), seg["class"].to_numpy(np.int16) if len(seg) else np.zeros(0, np.int16)),
                    "segment_start": (("segment",), seg["start"].to_numpy(np.float64)),
                    "segment_end": (("segment",), seg["end"].to_numpy(np.float64)),
                    "segment_p": (("segment",), np.full(len(seg), np.nan)),
                    "segment_s": (("segment",), np.full(len(seg), np.nan)),
                },
                coords={
                    "event_id": ("event", np.array([run["final"].stem])),
                    "length": ("event", np.array([run["n"]], dtype=np.int64)),
                    "starttime": ("event", np.array([str(UTCDateTime(ns=t0))])),
                    "trace_id": ("event", np.array([self.seed_id])),
                },
            )
            summary = self._summaries(run, seg)
            with io._quiet_zarr():
                xr.merge([extra, summary]).to_zarr(run["partial"], mode="a", consolidated=False,
                                                   zarr_format=io.ZARR_FORMAT)
                group = zarr.open_group(str(run["partial"]), mode="r+", zarr_format=io.ZARR_FORMAT)
                group.attrs.update(io.encode_attrs(self.attrs))
                zarr.consolidate_metadata(str(run["partial"]), zarr_format=io.ZARR_FORMAT)
            sizes = {"event": 1, "time": run["n"], "unit": self.model.hidden_size, "segment": len(seg)}
            manifest = xr.Dataset(attrs={"schema_version": SCHEMA_VERSION})
            io._write_manifest(run["partial"], manifest, "complete",
                               {"variables": ["features", "h", "label", "pred", "prob", "spectrogram"], "sizes": sizes})
            io._replace(run["partial"], run["final"])
            out.append(run["final"])
        return out
