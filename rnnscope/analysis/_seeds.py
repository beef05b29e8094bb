"""One number over several seeds: mean, spread and a Student-t confidence interval (rigor for claims).

A claim about what a network learned ("the LSTM is more specialised than the vanilla RNN") is a claim about the
training procedure, not about one trained network: train several seeds (:func:`rnnscope.train.fit_many`), compute
the number on each, and report its mean with a confidence interval. This module imports no torch.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["across_seeds", "STATISTICS"]

#: Columns (pandas) or ``statistic`` labels (xarray) of :func:`across_seeds`' result, in order.
STATISTICS = ("mean", "std", "sem", "n", "ci_low", "ci_high")


def _t_quantile(confidence: float, dof: np.ndarray) -> np.ndarray:
    from scipy import stats

    dof = np.asarray(dof, dtype=np.float64)
    out = np.full(dof.shape, np.nan)
    ok = dof >= 1
    out[ok] = stats.t.ppf(0.5 + confidence / 2.0, dof[ok])
    return out


def _summarise(values: np.ndarray, confidence: float) -> dict[str, np.ndarray]:
    """Statistics over the last axis of ``values`` (NaN = missing for that seed)."""
    values = np.asarray(values, dtype=np.float64)
    n = np.sum(np.isfinite(values), axis=-1)
    total = np.where(np.isfinite(values), values, 0.0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        squares = np.where(np.isfinite(values), (values - mean[..., None]) ** 2, 0.0).sum(-1)
        std = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)), np.nan)
        sem = std / np.sqrt(n)
    half = _t_quantile(confidence, n - 1) * sem
    return {"mean": mean, "std": std, "sem": sem, "n": n.astype(np.int64), "ci_low": mean - half,
            "ci_high": mean + half}


def _check_result(result, seed, func: str):
    if isinstance(result, (bool, np.bool_, numbers.Real)) and not isinstance(result, (str, bytes)):
        return "number"
    if isinstance(result, np.ndarray) and result.ndim == 0:
        return "number"
    if isinstance(result, pd.Series):
        return "series"
    if isinstance(result, pd.DataFrame):
        return "frame"
    if isinstance(result, xr.DataArray):
        return "dataarray"
    if isinstance(result, xr.Dataset):
        return "dataset"
    raise TypeError(
        f"{func}: fn must return a number, a pandas Series or DataFrame, or an xarray DataArray or Dataset; for seed "
        f"{seed!r} it returned {type(result).__name__}. Reduce it to one of those (e.g. float(result.mean()))."
    )


def _numeric_frame(frame: pd.DataFrame, by, func: str) -> pd.DataFrame:
    if by is not None:
        by = [by] if isinstance(by, str) else list(by)
        missing = [c for c in by if c not in frame.columns]
        if missing:
            raise ValueError(f"The 'by' parameter of {func} must name columns of fn's DataFrame "
                             f"{list(frame.columns)}. Got {missing} instead.")
        frame = frame.set_index(by)
    return frame.select_dtypes(include=["number", "bool"]).astype(np.float64)


def across_seeds(
    fn: Callable | None,
    runs: Sequence | Mapping,
    *,
    confidence: float = 0.95,
    by: str | Sequence[str] | None = None,
):
    """Mean, standard deviation and Student-t confidence interval of ``fn(run)`` over runs of several seeds.

    Definitions, for the ``n`` finite values ``x_1 .. x_n`` of one number (NaN results are left out and ``n``
    counts the others):

    - ``mean = sum(x) / n``; ``std`` the sample standard deviation (``ddof=1``; NaN for ``n < 2``);
    - ``sem = std / sqrt(n)``;
    - ``ci_low, ci_high = mean -+ t_{(1 + confidence) / 2, n - 1} * sem``, with ``t`` the Student-t quantile
      (the interval of the mean of ``n`` independent seeds, assuming roughly normal values; NaN for ``n < 2``).

    Parameters
    ----------
    fn : callable or None
        Called once per item of ``runs``; returns a number, a pandas Series or DataFrame, or an xarray DataArray or
        Dataset. Labelled results are summarised element by element (aligned by label; an element missing for a
        seed is NaN there). None: the items of ``runs`` are already the results.
    runs : sequence or mapping
        One item per seed: runs (``across_seeds(analysis.frame_accuracy, runs)``), or anything ``fn`` takes
        (models, (model, run) pairs...). A mapping's keys (e.g. seeds) are kept in ``attrs["seeds"]``.
    confidence : float
        Confidence level of the interval, in (0, 1).
    by : str or list of str, optional
        For DataFrame results: the columns that label the rows (e.g. ``["ranking", "fraction"]`` of
        :func:`rnnscope.experiments.ablation_curve`); every other numeric column is summarised. Without it, the
        DataFrame's index labels the rows.

    Returns
    -------
    pandas.Series, pandas.DataFrame, xarray.DataArray or xarray.Dataset
        - a number: a Series indexed by ``mean, std, sem, n, ci_low, ci_high``;
        - a Series: a DataFrame, one row per element, those columns;
        - a DataFrame: a DataFrame indexed by the row labels plus a ``column`` level (the summarised column),
          those columns;
        - an xarray object: the same object with a new ``statistic`` dimension (those labels) in front.
          Non-numeric variables of a Dataset are dropped.

        ``attrs["confidence"]`` holds the level (``attrs["seeds"]`` the mapping keys).

    Raises
    ------
    TypeError
        When ``fn`` returns something else, or results of different kinds.
    ValueError
        For an empty ``runs`` or a ``confidence`` outside (0, 1).

    Examples
    --------
    >>> stats = across_seeds(None, [1.0, 2.0, 3.0])
    >>> float(stats["mean"]), float(stats["std"]), int(stats["n"])
    (2.0, 1.0, 3)
    >>> round(float(stats["ci_low"]), 3), round(float(stats["ci_high"]), 3)  # 2 -+ 4.303 / sqrt(3)
    (-0.484, 4.484)
    >>> from rnnscope import analysis, examples
    >>> runs = [examples.toy_run(seed=s) for s in range(3)]
    >>> spec = across_seeds(lambda r: analysis.specialisation(r)["specialisation"], runs)
    >>> spec.dims
    ('statistic', 'layer')
    """
    func = "across_seeds"
    ok = isinstance(confidence, (float, int, np.floating)) and not isinstance(confidence, bool)
    if not ok or not 0 < float(confidence) < 1:
        raise ValueError(f"The 'confidence' parameter of {func} must be a number in (0, 1), e.g. 0.95. "
                         f"Got {confidence!r} instead.")
    if fn is not None and not callable(fn):
        raise TypeError(f"The 'fn' parameter of {func} must be a callable (run -> result) or None. "
                        f"Got {type(fn).__name__} instead.")
    if isinstance(runs, Mapping):
        seeds, items = list(runs.keys()), list(runs.values())
    elif isinstance(runs, (str, bytes)) or not isinstance(runs, Sequence):
        raise TypeError(f"The 'runs' parameter of {func} must be a list (one item per seed) or a mapping "
                        f"seed -> item. Got {type(runs).__name__} instead.")
    else:
        seeds, items = None, list(runs)
    if not items:
        raise ValueError(f"The 'runs' parameter of {func} must hold at least one item (one per seed). Got none.")
    confidence = float(confidence)
    labels = seeds if seeds is not None else list(range(len(items)))
    results = [item if fn is None else fn(item) for item in items]
    kinds = {_check_result(r, s, func) for r, s in zip(results, labels, strict=True)}
    if len(kinds) > 1:
        raise TypeError(f"{func}: fn returned results of different kinds over the seeds ({sorted(kinds)}); make it "
                        "return the same kind for every run.")
    kind = kinds.pop()
    attrs: dict[str, object] = {"confidence": confidence}
    if seeds is not None:
        attrs["seeds"] = [s if isinstance(s, (int, float, str)) else str(s) for s in seeds]

    if kind == "number":
        stats = _summarise(np.asarray([float(r) for r in results])[None, :], confidence)
        out = pd.Series({name: float(stats[name][0]) for name in STATISTICS}, name="across_seeds")
        out.attrs.update(attrs)
        return out
    if kind in ("series", "frame"):
        if kind == "series":
            columns = [r.astype(np.float64) for r in results]
        else:
            columns = []
            for r in results:
                frame = _numeric_frame(r, by, func)
                stacked = frame.stack(future_stack=True)
                stacked.index = stacked.index.set_names([*frame.index.names, "column"])
                columns.append(stacked)
        table = pd.concat(columns, axis=1, join="outer", sort=False)
        stats = _summarise(table.to_numpy(dtype=np.float64), confidence)
        out = pd.DataFrame({name: stats[name] for name in STATISTICS}, index=table.index)
        out.attrs.update(attrs)
        return out

    def numeric(obj):
        if isinstance(obj, xr.Dataset):
            keep = [n for n, v in obj.data_vars.items() if v.dtype.kind in "biuf"]
            obj = obj[keep]
        return obj.astype(np.float64).compute()

    stacked = xr.concat([numeric(r) for r in results], dim="_seed", join="outer", coords="minimal",
                        compat="override")

    def reduce(da: xr.DataArray) -> xr.DataArray:
        da = da.transpose(..., "_seed")
        stats = _summarise(np.asarray(da.values), confidence)
        values = np.stack([np.asarray(stats[name], dtype=np.float64) for name in STATISTICS])
        dims = ("statistic", *da.dims[:-1])
        coords = {name: c for name, c in da.coords.items() if "_seed" not in c.dims}
        return xr.DataArray(values, dims=dims, coords={**coords, "statistic": list(STATISTICS)}, name=da.name,
                            attrs=dict(da.attrs))

    if isinstance(stacked, xr.DataArray):
        out = reduce(stacked)
    else:
        out = xr.Dataset({name: reduce(v) for name, v in stacked.data_vars.items()},
                         attrs=dict(stacked.attrs))
    out.attrs.update(attrs)
    return out
