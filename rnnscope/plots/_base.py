"""What the figure makers share: blank figures, stacked panels, colour ranges of activation images."""
from __future__ import annotations

import numpy as np

__all__ = ["activation_limits"]


def _figure(nrows, height_ratios, width=11.0, height=7.5):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, 1, sharex=True, gridspec_kw={"height_ratios": height_ratios})
    return fig, axes


def _blank_figure(width=11.0, height=7.5):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def activation_limits(var: str, values) -> tuple[float, float]:
    """Colour range of an activation image: [-1, 1] for the gates and for the variables
    :func:`rnnscope.analysis._common.display_limits` puts on [-1, 1] (candidates, ``h`` of tanh cells), otherwise
    symmetric robust (+- the 99th percentile of ``abs(values)``: ``c``, ``h`` of a ReLU RNN or a projected LSTM).

    Parameters
    ----------
    var : str
        The variable drawn (``"h"``, ``"c"``, a gate...).
    values : array of float
        Its values (NaN ignored).

    Returns
    -------
    tuple of float
        ``(vmin, vmax)``, symmetric around 0.

    Examples
    --------
    >>> activation_limits("h", np.array([0.2, -0.3]))
    (-1.0, 1.0)
    >>> activation_limits("c", np.array([-4.0, 2.0]))[1] > 3.9
    True
    >>> activation_limits("h", np.array([0.0, 3.0, 6.0]))[1] > 5.9  # a ReLU RNN's h
    True
    """
    from ..analysis._common import SIGMOID_VARIABLES, display_limits

    values = np.asarray(values, dtype=np.float64)
    seen = values[np.isfinite(values)]
    lo, hi = (float(seen.min()), float(seen.max())) if seen.size else (np.nan, np.nan)
    if var in SIGMOID_VARIABLES or display_limits(var, lo, hi) == (-1.0, 1.0):
        return -1.0, 1.0  # the gates too: the figures show every activation on one scale
    finite = np.abs(values)
    finite = finite[np.isfinite(finite)]
    m = float(np.percentile(finite, 99)) if finite.size else 1.0
    m = m if m > 0 else 1.0
    return -m, m


def _as_mapping(obj, kind):
    if isinstance(obj, dict):
        if not obj:
            raise ValueError(f"Expected a {kind} or a non-empty dict name -> {kind}. Got an empty dict instead.")
        return dict(obj)
    return {"": obj}
