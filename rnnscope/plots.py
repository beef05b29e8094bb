"""Static figures (matplotlib, headless) drawn as the papers draw them.

Every function returns a :class:`matplotlib.figure.Figure` and never calls ``plt.show``; save with
``fig.savefig(path)``. This module imports no torch.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["CLASS_COLORS", "class_color", "record_overview"]

#: Colour-blind-safe colours (Okabe & Ito) keyed by class name; other names cycle through the rest.
CLASS_COLORS = {
    "SIL": "#BBBBBB",
    "TRE": "#E69F00",
    "LP": "#56B4E9",
    "VTE": "#D55E00",
    "HYB": "#009E73",
}
_EXTRA_COLORS = ["#CC79A7", "#0072B2", "#F0E442", "#000000"]


def class_color(name: str, class_names=None) -> str:
    """Colour of a class, stable across figures and widgets."""
    if name in CLASS_COLORS:
        return CLASS_COLORS[name]
    others = [c for c in (class_names or [name]) if c not in CLASS_COLORS]
    return _EXTRA_COLORS[others.index(name) % len(_EXTRA_COLORS)] if name in others else _EXTRA_COLORS[0]


def _figure(nrows, height_ratios, width=11.0, height=7.5):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, 1, sharex=True, gridspec_kw={"height_ratios": height_ratios})
    return fig, axes


def _label_bands(ax, times, labels, class_names, y0, y1, alpha=0.35):
    """Coloured bands where each class holds (runs of equal labels, -1 left blank)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return
    change = np.flatnonzero(np.diff(labels)) + 1
    starts, ends = np.r_[0, change], np.r_[change, labels.size]
    step = times[1] - times[0] if times.size > 1 else 1.0
    for a, b in zip(starts, ends):
        if labels[a] < 0:
            continue
        name = class_names[labels[a]]
        ax.axvspan(times[a] - step / 2, times[b - 1] + step / 2, ymin=y0, ymax=y1,
                   color=class_color(name, class_names), alpha=alpha, lw=0)


def record_overview(ds: xr.Dataset, event: int = 0) -> "matplotlib.figure.Figure":  # noqa: F821
    """Waveform with labelled segments and P/S arrivals, spectrogram, features and frame labels of one record.

    Parameters
    ----------
    ds : xarray.Dataset
        A features Dataset with its waveform (from :func:`rnnscope.features.compute`).
    event : int
        Position of the record.

    Examples
    --------
    >>> import rnnscope
    >>> ds = rnnscope.features.compute(rnnscope.data.synthetic(n_records=1, seed=0))
    >>> fig = rnnscope.plots.record_overview(ds, 0)
    >>> len(fig.axes) >= 4
    True
    """
    from matplotlib.patches import Patch

    names = list(ds.attrs["class_names"])
    rec = ds.isel(event=event)
    n_frames = int(rec["length"])
    times = rec["time"].values[:n_frames]
    panels = [p for p in ("waveform", "spectrogram", "features") if p in rec] + ["label"]
    ratios = {"waveform": 1.2, "spectrogram": 1.2, "features": 1.2, "label": 0.35}
    fig, axes = _figure(len(panels), [ratios[p] for p in panels])
    axes = np.atleast_1d(axes)
    title = f"record {rec['event_id'].item() if 'event_id' in rec.coords else event}"
    if "trace_id" in rec.coords and rec["trace_id"].item():
        title += f"  {rec['trace_id'].item()}"
    if "starttime" in rec.coords and rec["starttime"].item():
        title += f"  {rec['starttime'].item()}"
    fig.suptitle(title)
    for ax, panel in zip(axes, panels):
        if panel == "waveform":
            n = int(rec["n_samples"]) if "n_samples" in rec.coords else int(rec["waveform"].notnull().sum())
            t = rec["sample_time"].values[:n]
            ax.plot(t, rec["waveform"].values[:n], lw=0.4, color="k")
            _segment_marks(ax, ds, event, names)
            ax.set_ylabel("amplitude")
        elif panel == "spectrogram":
            spec = rec["spectrogram"].values[:n_frames]
            freq = rec["freq"].values
            keep = freq <= 25.0
            vmin, vmax = np.nanpercentile(spec[:, keep], [5, 99.5]) if n_frames else (0, 1)
            ax.pcolormesh(times, freq[keep], spec[:, keep].T, shading="nearest", cmap="magma", vmin=vmin, vmax=vmax)
            ax.set_ylabel("frequency (Hz)")
        elif panel == "features":
            feats = rec["features"].values[:n_frames, :16]
            ax.pcolormesh(times, np.arange(feats.shape[1]), feats.T, shading="nearest", cmap="viridis")
            ax.set_ylabel("log filter bank")
        else:
            _label_bands(ax, times, rec["label"].values[:n_frames], names, 0, 1, alpha=0.9)
            ax.set_yticks([])
            ax.set_ylabel("label")
    axes[-1].set_xlabel("time (s)")
    handles = [Patch(color=class_color(n, names), label=n) for n in names]
    axes[0].legend(handles=handles, loc="upper right", ncols=len(names), fontsize="small", framealpha=0.8)
    return fig


def _segment_marks(ax, ds, event, names):
    """Shade the record's segments by class and mark P (solid) and S (dashed) arrivals."""
    if "segment_event" not in ds:
        return
    sel = np.asarray(ds["segment_event"].values) == event
    for cls, start, end, p, s in zip(
        ds["segment_class"].values[sel], ds["segment_start"].values[sel], ds["segment_end"].values[sel],
        ds["segment_p"].values[sel], ds["segment_s"].values[sel],
    ):
        name = names[int(cls)]
        if name != "SIL":
            ax.axvspan(start, end, color=class_color(name, names), alpha=0.25, lw=0)
        if np.isfinite(p):
            ax.axvline(p, color="#0072B2", lw=0.8)
        if np.isfinite(s):
            ax.axvline(s, color="#0072B2", lw=0.8, ls="--")
