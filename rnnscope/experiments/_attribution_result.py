"""The attribution result: its coordinates, and where its rows go (memory, or a zarr store written batch by batch).

The layout is the schema's (``rnnscope.schema``: ``attribution`` with dims ``(target, lag, feature)``, per-target
coordinates, ``band_hz`` and ``feature_part`` on ``feature``), so a result merges into its run and the torch-free
side (:mod:`rnnscope.analysis`, the widgets) reads it from disk without torch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import xarray as xr

from ..errors import AttributionError
from ..features import feature_reach
from ..schema import ATTRIBUTION_PER_TARGET

__all__ = ["ResultSink", "feature_coords", "feature_parts", "module_layout", "reach_attrs", "MEMORY_LIMIT"]

#: Largest in-memory result (bytes) before ``store=`` is required.
MEMORY_LIMIT = 2 * 2 ** 30
#: Targets per zarr chunk of a stored result.
_CHUNK = 256


def feature_parts(names) -> np.ndarray:
    """``static``, ``delta`` or ``delta_delta`` for rnnscope's feature names (``lfb_03``, ``d_lfb_03``,
    ``dd_lfb_03``), ``input`` for others.

    Examples
    --------
    >>> feature_parts(["lfb_00", "d_lfb_00", "dd_lfb_00", "x"]).tolist()
    ['static', 'delta', 'delta_delta', 'input']
    """
    out = []
    for name in (str(n) for n in names):
        out.append("delta_delta" if name.startswith("dd_") else "delta" if name.startswith("d_") else
                   "static" if name.startswith("lfb_") else "input")
    return np.array(out, dtype=str)


def feature_coords(ds: xr.Dataset) -> dict:
    """``feature`` (names), ``band_hz`` (the filter's peak, NaN when unknown) and ``feature_part`` of a features
    Dataset."""
    names = np.asarray(ds["feature"].values).astype(str) if "feature" in ds.coords else \
        np.array([f"feature{i}" for i in range(ds.sizes["feature"])])
    band = np.asarray(ds["feature_peak_hz"].values, dtype=np.float64) if "feature_peak_hz" in ds.coords else \
        np.full(names.size, np.nan)
    return {"feature": names, "band_hz": band, "feature_part": feature_parts(names)}


def reach_attrs(ds: xr.Dataset) -> dict:
    """``reach_before`` / ``reach_after`` (frames) of the data's features (:func:`rnnscope.features.feature_reach`),
    or nothing when the data do not say how they were computed."""
    try:
        reach = feature_reach(ds.attrs["feature_config"], sampling_rate=float(ds.attrs["sampling_rate"]))
    except (KeyError, TypeError, ValueError):
        return {}
    return {"reach_before": int(reach.before), "reach_after": int(reach.after)}


class module_layout:
    """Any module's input ``(rows, ...)`` as ``(rows, time, features)`` and back: the time axis moved second and
    the other axes flattened into ``feature`` (named ``input<index>``)."""

    def __init__(self, x: torch.Tensor, time_axis):
        self.axis = 1 if time_axis is None else int(time_axis) % x.dim()
        self.shape = tuple(x.shape[1:])
        moved = x[:1].movedim(self.axis, 1)
        self.other = tuple(moved.shape[2:])
        self.n_features = int(np.prod(self.other)) if self.other else 1

    def to_sf(self, x: torch.Tensor) -> torch.Tensor:
        return x.movedim(self.axis, 1).reshape(x.shape[0], x.shape[self.axis], self.n_features)

    def from_sf(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], *self.other).movedim(1, self.axis)

    def feature_coords(self) -> dict:
        names = np.array([f"input{i}" for i in range(self.n_features)])
        return {"feature": names, "band_hz": np.full(self.n_features, np.nan),
                "feature_part": np.full(self.n_features, "input")}


class ResultSink:
    """Collects the rows of a result (in memory, or written into ``store`` batch by batch) and builds it."""

    def __init__(self, n_targets, lags, period_s, features, coords, attrs, o):
        self.n, self.lags, self.features, self.coords, self.attrs = n_targets, np.asarray(lags), features, coords, attrs
        self.period = float(period_s)
        self.dtypes = {name: np.int64 if name == "ig_steps" else np.float64 for name in ATTRIBUTION_PER_TARGET}
        self.store = None if o["store"] is None else Path(o["store"])
        shape = (n_targets, self.lags.size, features["feature"].size)
        if self.store is None:
            if 4 * np.prod(shape, dtype=np.float64) > MEMORY_LIMIT:
                raise AttributionError(f"{o['func']}: the result would hold {shape[0]} targets x {shape[1]} lags x "
                                       f"{shape[2]} features ({4 * np.prod(shape, dtype=np.float64) / 2 ** 30:.1f} "
                                       "GB); pass store= (written batch by batch) or a smaller max_lag= or fewer "
                                       "frames.")
            self.values = np.full(shape, np.nan, np.float32)
            self.scalars = {name: np.zeros(n_targets, np.int64) if self.dtypes[name] is np.int64
                            else np.full(n_targets, np.nan) for name in ATTRIBUTION_PER_TARGET}
        else:
            if self.store.exists() and not o["overwrite"]:
                raise FileExistsError(f"{o['func']}: {self.store} exists; pass overwrite=True to replace it or choose "
                                      "another store.")
            self.writer = self._create(shape)

    def _dataset(self, attribution, scalars) -> xr.Dataset:
        coords = {"lag": self.lags, "lag_s": ("lag", self.lags * self.period),
                  "feature": self.features["feature"], "band_hz": ("feature", self.features["band_hz"]),
                  "feature_part": ("feature", self.features["feature_part"])}
        coords.update({name: ("target", values) for name, values in self.coords.items()})
        data = {"attribution": (("target", "lag", "feature"), attribution)}
        data.update({name: ("target", values) for name, values in scalars.items()})
        ds = xr.Dataset(data, coords=coords, attrs=dict(self.attrs))
        ds["lag_s"].attrs["units"] = "s"
        ds["band_hz"].attrs.update(units="Hz", long_name="centre (peak) of the feature's band")
        ds["attribution"].attrs["long_name"] = "input attribution of the target"
        return ds

    def _create(self, shape):
        import dask.array as da

        from ..io import RunWriter

        chunks = (min(_CHUNK, shape[0]), shape[1], shape[2])
        empty = da.full(shape, np.nan, dtype=np.float32, chunks=chunks)
        scalars = {name: da.full(shape[0], 0 if self.dtypes[name] is np.int64 else np.nan, dtype=self.dtypes[name],
                                 chunks=chunks[0]) for name in ATTRIBUTION_PER_TARGET}
        template = self._dataset(empty, scalars)
        writer = RunWriter.create(self.store, template, empty=["attribution", *ATTRIBUTION_PER_TARGET],
                                  chunks={"target": chunks[0]})
        for name, coord in template.coords.items():  # laid out only, like the empty variables
            if name not in template.dims:
                writer.write_rows(name, 0, np.asarray(coord.values))
        return writer

    def write(self, start: int, block: np.ndarray, fx, fb, completeness, steps) -> None:
        """Rows ``start .. start + len(block)``: attributions (rows, lag, feature) and per-target values."""
        stop = start + block.shape[0]
        scalars = {"target_value": fx, "baseline_value": fb, "completeness_error": completeness, "ig_steps": steps}
        if self.store is None:
            self.values[start:stop] = block
            for name, values in scalars.items():
                self.scalars[name][start:stop] = values
            return
        self.writer.write_rows("attribution", start, block)
        for name, values in scalars.items():
            self.writer.write_rows(name, start, np.asarray(values, dtype=self.dtypes[name]))

    def finish(self) -> xr.Dataset:
        if self.store is None:
            return self._dataset(self.values, self.scalars)
        from ..io import open_run

        self.writer.finish(attrs=self.attrs)
        return open_run(self.store)
