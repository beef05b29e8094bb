"""Intervals over cross-validation partitions (Nadeau & Bengio 2003) and tables of them.

The ``k`` partitions of a cross-validation share most of their training data (with 4 folds, two partitions share
2/3 of their training records), so their scores are correlated and the plain Student-t interval over partitions is
too narrow. Nadeau & Bengio's *corrected resampled t* replaces the variance of the mean, ``s^2 / k``, by
``s^2 (1/k + n_test/n_train)``. :func:`corrected_interval` is that interval (the one helper every table of rnnscope
uses: :func:`rnnscope.train.cross_validate`, :func:`fold_summary`, :func:`fold_differences`,
``benchmarks/paper_tables.py``, ``benchmarks/claims_report.py``); :func:`fold_summary` and
:func:`fold_differences` turn a table of :func:`rnnscope.train.sweep` or :func:`rnnscope.train.cross_validate`
into per-model intervals and paired differences with a multiple-comparison correction (Holm by default).

Reference: C. Nadeau and Y. Bengio, "Inference for the generalization error", Machine Learning 52 (2003),
pp. 239-281 (the corrected resampled t-test, their eq. for ``sigma^2 (1/J + n_2/n_1)``).
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["corrected_interval", "fold_summary", "fold_differences"]

#: Scores of a fold table, in the order tables show them (those present are summarised).
FOLD_SCORES = ("accuracy", "balanced_accuracy", "macro_f1", "detection_rate", "onset_error_s")
#: Columns of a fold table that describe a row's task or its cost, never the configuration it belongs to.
BOOKKEEPING = ("partition", "seed", "n_parameters", "train_time_s", "n_train_records", "n_test_records",
               "n_train_frames", "n_test_frames", "model")
CORRECTIONS = ("holm", "bonferroni", None)


def _check_confidence(confidence, func):
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"The 'confidence' parameter of {func} must be a number in (0, 1), e.g. 0.95. "
                         f"Got {confidence!r} instead.")


def corrected_interval(values, *, n_train, n_test, confidence: float = 0.95) -> pd.Series:
    """Mean and corrected resampled Student-t interval of a number measured on ``k`` overlapping partitions.

    For the ``k`` finite values ``x_1 .. x_k`` (one per test partition; NaN left out) with ``s`` their sample
    standard deviation (``ddof=1``):

    - ``sem = s * sqrt(1/k + n_test/n_train)`` (Nadeau & Bengio 2003; the plain ``s / sqrt(k)`` when
      ``n_test = 0``, i.e. for independent repetitions such as seeds on one split);
    - ``ci_low, ci_high = mean -+ t_{(1 + confidence)/2, k - 1} * sem``;
    - ``p``: two-sided p-value of ``mean = 0`` (``t = mean / sem`` with ``k - 1`` degrees of freedom): the test of
      a paired difference.

    With 4 folds (``n_test/n_train = 1/3``) the interval is ``sqrt(1 + 4/3) = 1.53`` times the plain one.

    Parameters
    ----------
    values : sequence of float
        One value per partition (a score, or a paired difference of two models on the same partitions).
    n_train, n_test : int, float or sequence
        Training and test records per partition (one number, or one per value; the ratio of their means is used).
        ``n_test=0`` gives the plain Student-t interval.
    confidence : float
        Level of the interval, in (0, 1).

    Returns
    -------
    pandas.Series
        ``mean``, ``std``, ``sem`` (corrected), ``n``, ``ci_low``, ``ci_high``, ``p``; NaN interval and p for
        fewer than 2 values. ``attrs``: ``confidence``, ``variance_factor`` (``1/k + n_test/n_train``).

    Raises
    ------
    ValueError
        For a ``confidence`` outside (0, 1), negative or zero training counts, or counts of another length.

    Examples
    --------
    >>> stats = corrected_interval([0.02, 0.05, 0.08, 0.05], n_train=180, n_test=60)
    >>> round(float(stats["mean"]), 3), round(float(stats["ci_low"]), 4), round(float(stats["ci_high"]), 4)
    (0.05, -0.0095, 0.1095)
    >>> plain = corrected_interval([0.02, 0.05, 0.08, 0.05], n_train=180, n_test=0)
    >>> round(float(plain["ci_low"]), 4), round(float(plain["ci_high"]), 4)  # too narrow for overlapping folds
    (0.011, 0.089)
    """
    func = "corrected_interval"
    _check_confidence(confidence, func)
    x = np.asarray(values, dtype=float).ravel()
    counts = []
    for name, count in (("n_train", n_train), ("n_test", n_test)):
        c = np.asarray(count, dtype=float).ravel()
        if c.size not in (1, x.size):
            raise ValueError(f"The {name!r} parameter of {func} must be one number or one per value ({x.size}). "
                             f"Got {c.size} numbers instead.")
        counts.append(np.broadcast_to(c, x.shape))
    keep = np.isfinite(x)
    x, train_n, test_n = x[keep], counts[0][keep], counts[1][keep]
    if np.any(train_n <= 0) or np.any(test_n < 0) or not (np.all(np.isfinite(train_n)) and np.all(np.isfinite(test_n))):
        raise ValueError(f"{func}: n_train must be positive and n_test >= 0 (records per partition). "
                         f"Got n_train={n_train!r}, n_test={n_test!r}.")
    k = x.size
    nan = float("nan")
    ratio = float(test_n.mean() / train_n.mean()) if k else nan
    factor = 1.0 / k + ratio if k else nan
    out = {"mean": float(x.mean()) if k else nan, "std": nan, "sem": nan, "n": k, "ci_low": nan, "ci_high": nan,
           "p": nan}
    if k >= 2:
        std = float(x.std(ddof=1))
        sem = std * np.sqrt(factor)
        half = float(stats.t.ppf((1 + confidence) / 2, k - 1)) * sem
        if sem > 0:
            p = float(2 * stats.t.sf(abs(out["mean"]) / sem, k - 1))
        else:
            p = 1.0 if out["mean"] == 0 else 0.0
        out.update(std=std, sem=sem, ci_low=out["mean"] - half, ci_high=out["mean"] + half, p=p)
    series = pd.Series(out)
    series.attrs.update(confidence=float(confidence), variance_factor=factor)
    return series


# ------------------------------------------------------------------------------------------------ fold tables


def _fold_rows(table: pd.DataFrame, func: str) -> pd.DataFrame:
    """The per-partition rows of a fold table (a sweep's long table or cross_validate's, summary rows dropped)."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{func}: expected the DataFrame of rnnscope.train.sweep or cross_validate; got "
                        f"{type(table).__name__}.")
    if "partition" not in table.columns:
        if "partition" not in (table.index.names or []):
            raise ValueError(f"{func}: the table has no 'partition' column or index level; pass the table of "
                             "rnnscope.train.sweep or cross_validate (one row per test partition).")
        table = table.reset_index()
    part = pd.to_numeric(table["partition"], errors="coerce")  # cross_validate's 'average', 'ci_low' rows: NaN
    table = table[part.notna()].assign(partition=part[part.notna()].astype(int))
    if "seed" not in table.columns:
        table = table.assign(seed=0)
    return table


def _configuration(table: pd.DataFrame, by, scores, func: str) -> list[str]:
    """The columns naming a row's configuration: ``by``, or every column that is not a score or bookkeeping."""
    if by is not None:
        by = [by] if isinstance(by, str) else list(by)
        missing = [c for c in by if c not in table.columns]
        if missing:
            raise ValueError(f"The 'by' parameter of {func} names columns {missing} the table does not have; its "
                             f"columns: {list(table.columns)}.")
        return by
    if "name" in table.columns:  # the configuration's name (sweep, cross_validate with baselines)
        return ["name"]

    def plain(column) -> bool:
        return all(v is None or isinstance(v, (str, int, float, bool, np.generic)) for v in table[column])

    return [c for c in table.columns if c not in BOOKKEEPING and c not in FOLD_SCORES and c not in scores
            and plain(c)]


def _scores(table: pd.DataFrame, scores, func) -> list[str]:
    if scores is None:
        found = [s for s in FOLD_SCORES if s in table.columns]
        if not found:
            raise ValueError(f"{func}: the table holds none of the scores {list(FOLD_SCORES)}; name them with "
                             "scores=[...].")
        return found
    scores = [scores] if isinstance(scores, str) else list(scores)
    missing = [s for s in scores if s not in table.columns]
    if missing:
        raise ValueError(f"{func}: the table has no column {missing}; its columns: {list(table.columns)}.")
    return scores


def _counts(rows: pd.DataFrame, table: pd.DataFrame, partitions) -> tuple[np.ndarray, np.ndarray]:
    """Training and test records of each partition; without those columns, equal folds (``1/(k-1)``)."""
    if {"n_train_records", "n_test_records"} <= set(rows.columns):
        per = rows.groupby("partition")[["n_train_records", "n_test_records"]].first().reindex(partitions)
        if per.notna().all().all():
            return per["n_train_records"].to_numpy(float), per["n_test_records"].to_numpy(float)
    k = int(table["partition"].max())
    return np.full(len(partitions), float(max(k - 1, 1))), np.ones(len(partitions))


def _groups(table: pd.DataFrame, by: list[str]):
    if not by:
        return [((), table)]
    return [(key if isinstance(key, tuple) else (key,), rows)
            for key, rows in table.groupby(by, sort=False, dropna=False)]


def _label(key: tuple):
    return key[0] if len(key) == 1 else key


def fold_summary(table: pd.DataFrame, *, by: str | Sequence[str] | None = None,
                 scores: str | Sequence[str] | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Per configuration and score: the mean over test partitions and its corrected interval.

    For each configuration (the rows sharing the values of ``by``) and score: the mean over seeds of each
    partition, then their mean and :func:`corrected_interval` over partitions (``n_train_records`` /
    ``n_test_records`` of the table; equal folds, ``n_test/n_train = 1/(k-1)``, when the table lacks them), and
    the spread over seeds (standard deviation of the per-seed means over partitions). The intervals are each at
    ``confidence`` and not adjusted for their number (that is a summary, not a test: compare configurations with
    :func:`fold_differences`).

    Parameters
    ----------
    table : pandas.DataFrame
        The table of :func:`rnnscope.train.sweep` or :func:`rnnscope.train.cross_validate` (or any table with a
        ``partition`` column or index level, optionally ``seed``, and score columns).
    by : str or list of str, optional
        The columns naming a configuration. Default: ``name`` (of :func:`rnnscope.train.sweep` and
        ``cross_validate`` with baselines) when the table has it, else every column that is neither a score nor
        bookkeeping (``partition``, ``seed``, ``n_parameters``, ``train_time_s``, record and frame counts).
    scores : str or list of str, optional
        Default: those of ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``detection_rate``,
        ``onset_error_s`` the table has.
    confidence : float
        Level of every interval.

    Returns
    -------
    pandas.DataFrame
        One row per configuration and score: the ``by`` columns, ``score``, ``mean``, ``ci_low``, ``ci_high``,
        ``n_partitions``, ``n_seeds``, ``seed_sd``. ``attrs``: ``confidence``, ``interval`` (the method),
        ``n_intervals``.

    Examples
    --------
    >>> table = pd.DataFrame({"cell": ["lstm"] * 4, "partition": [1, 2, 3, 4],
    ...                       "accuracy": [0.70, 0.75, 0.80, 0.75], "n_train_records": 180, "n_test_records": 60})
    >>> summary = fold_summary(table)
    >>> summary[["cell", "score", "mean", "n_partitions"]].values.tolist()
    [['lstm', 'accuracy', 0.75, 4]]
    >>> round(float(summary["ci_low"].iloc[0]), 3), round(float(summary["ci_high"].iloc[0]), 3)
    (0.651, 0.849)
    """
    func = "fold_summary"
    _check_confidence(confidence, func)
    table = _fold_rows(table, func)
    scores = _scores(table, scores, func)
    by = _configuration(table, by, scores, func)
    out = []
    for key, rows in _groups(table, by):
        for score in scores:
            by_part = rows.groupby("partition")[score].mean().dropna()
            n_train, n_test = _counts(rows, table, by_part.index)
            st = corrected_interval(by_part.to_numpy(), n_train=n_train, n_test=n_test, confidence=confidence)
            by_seed = rows.groupby("seed")[score].mean().dropna()
            out.append({**dict(zip(by, key, strict=True)), "score": score, "mean": st["mean"], "ci_low": st["ci_low"],
                        "ci_high": st["ci_high"], "n_partitions": int(st["n"]), "n_seeds": int(by_seed.size),
                        "seed_sd": float(by_seed.std(ddof=1)) if by_seed.size > 1 else np.nan})
    summary = pd.DataFrame(out)
    summary.attrs.update(confidence=float(confidence), n_intervals=len(summary),
                         interval="Nadeau-Bengio corrected resampled t over partitions (not adjusted for the "
                                  "number of intervals)")
    return summary


def _paired(rows_a: pd.DataFrame, rows_b: pd.DataFrame, score: str) -> pd.DataFrame:
    """Differences a - b per (seed, partition): paired by seed and partition; a configuration trained with one
    seed (a baseline) pairs with every seed of the other on the same partition."""
    a = rows_a.groupby(["seed", "partition"])[score].mean().dropna()
    b = rows_b.groupby(["seed", "partition"])[score].mean().dropna()
    seeds_a, seeds_b = a.index.unique("seed"), b.index.unique("seed")
    if len(seeds_b) == 1:
        b_part = b.groupby("partition").mean()
        d = a - a.index.get_level_values("partition").map(b_part)  # type: ignore[arg-type]  # pandas-stubs omit Series from Index.map.to_numpy(float)
    elif len(seeds_a) == 1:
        a_part = a.groupby("partition").mean()
        d = b.index.get_level_values("partition").map(a_part)  # type: ignore[arg-type]  # pandas-stubs omit Series from Index.map.to_numpy(float) - b
    else:
        d = (a - b).dropna()
    return d.dropna().rename("d").reset_index()


def _adjust(p: np.ndarray, correction) -> np.ndarray:
    """Holm's step-down or Bonferroni adjusted p-values (NaN kept; ``m`` = the finite ones)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if correction is None or m == 0:
        out[ok] = p[ok]
        return out
    if correction == "bonferroni":
        out[ok] = np.minimum(p[ok] * m, 1.0)
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(np.maximum.accumulate(p[order] * (m - np.arange(m))), 1.0)
    out[order] = adjusted
    return out


def fold_differences(table: pd.DataFrame, *, pairs: Sequence | None = None, by: str | Sequence[str] | None = None,
                     scores: str | Sequence[str] | None = None, confidence: float = 0.95,
                     correction: str | None = "holm") -> pd.DataFrame:
    """Paired differences between configurations on the same partitions, with a multiple-comparison correction.

    For each pair ``(a, b)`` and score: the differences ``a - b`` of the same seed and partition (a configuration
    with one seed, such as a baseline, pairs with every seed of the other on the same partition), then two
    intervals:

    - **over partitions**: the seed-averaged difference of each partition, :func:`corrected_interval` (how much
      the data split moves it; the partitions overlap, hence the correction), with its p-value;
    - **over seeds** (when both have several seeds, or one has): the partition-averaged difference of each seed,
      plain Student-t (how much training randomness moves it), with its p-value.

    ``p`` is the larger of the two p-values (the difference must hold over partitions *and* over seeds: an
    intersection-union test); ``p_adjusted`` corrects it for the number of comparisons, ``n_comparisons`` (the
    pairs, within each score: each score is its own family), with Holm's step-down method (default; or
    Bonferroni); ``shown`` is ``p_adjusted < 1 - confidence``. The intervals are each at ``confidence``, not
    adjusted: a difference whose interval excludes 0 may not be shown after the correction.

    Parameters
    ----------
    table : pandas.DataFrame
        The table of :func:`rnnscope.train.sweep` or :func:`rnnscope.train.cross_validate`.
    pairs : list of (a, b), optional
        Configurations to compare, each named by its ``by`` value (a tuple for several ``by`` columns). Default:
        every pair, in the table's order.
    by, scores, confidence
        As in :func:`fold_summary`.
    correction : {"holm", "bonferroni", None}
        Multiple-comparison correction of ``p`` within each score (None: none).

    Returns
    -------
    pandas.DataFrame
        One row per pair and score: ``a``, ``b``, ``score``, ``difference``, ``ci_low_partitions``,
        ``ci_high_partitions``, ``p_partitions``, ``n_partitions``, ``ci_low_seeds``, ``ci_high_seeds``,
        ``p_seeds``, ``n_seeds``, ``p``, ``p_adjusted``, ``n_comparisons``, ``shown``. ``attrs``: ``confidence``,
        ``correction``.

    Examples
    --------
    >>> table = pd.DataFrame({"cell": ["lstm"] * 4 + ["rnn"] * 4, "partition": [1, 2, 3, 4] * 2,
    ...                       "accuracy": [0.80, 0.82, 0.84, 0.82, 0.70, 0.71, 0.70, 0.69]})
    >>> row = fold_differences(table).iloc[0]
    >>> row["a"], row["b"], round(float(row["difference"]), 3), int(row["n_comparisons"]), bool(row["shown"])
    ('lstm', 'rnn', 0.12, 1, True)
    """
    func = "fold_differences"
    _check_confidence(confidence, func)
    if correction not in CORRECTIONS:
        raise ValueError(f"The 'correction' parameter of {func} must be one of {list(CORRECTIONS)}. "
                         f"Got {correction!r} instead.")
    table = _fold_rows(table, func)
    scores = _scores(table, scores, func)
    by = _configuration(table, by, scores, func)
    groups = {_label(key): rows for key, rows in _groups(table, by)}
    if pairs is None:
        pairs = list(combinations(groups, 2))
    unknown = sorted({str(x) for pair in pairs for x in pair if x not in groups})
    if unknown:
        raise ValueError(f"{func}: pairs name configurations {unknown} the table does not have (by {by}); it has "
                         f"{[str(g) for g in groups]}.")
    out = []
    for score in scores:
        rows = []
        for a, b in pairs:
            d = _paired(groups[a], groups[b], score)
            by_part = d.groupby("partition")["d"].mean()
            n_train, n_test = _counts(groups[a], table, by_part.index)
            part = corrected_interval(by_part.to_numpy(), n_train=n_train, n_test=n_test, confidence=confidence)
            by_seed = d.groupby("seed")["d"].mean()
            seed = corrected_interval(by_seed.to_numpy(), n_train=1, n_test=0, confidence=confidence)
            p = np.nanmax([part["p"], seed["p"]]) if np.isfinite([part["p"], seed["p"]]).any() else np.nan
            rows.append({"a": a, "b": b, "score": score, "difference": part["mean"],
                         "ci_low_partitions": part["ci_low"], "ci_high_partitions": part["ci_high"],
                         "p_partitions": part["p"], "n_partitions": int(part["n"]),
                         "ci_low_seeds": seed["ci_low"], "ci_high_seeds": seed["ci_high"], "p_seeds": seed["p"],
                         "n_seeds": int(seed["n"]), "p": p})
        adjusted = _adjust(np.array([r["p"] for r in rows]), correction)
        m = int(np.isfinite(adjusted).sum())
        for row, q in zip(rows, adjusted, strict=True):
            row.update(p_adjusted=q, n_comparisons=m, shown=bool(np.isfinite(q) and q < 1 - confidence))
        out += rows
    result = pd.DataFrame(out)
    result.attrs.update(confidence=float(confidence), correction=correction or "none")
    return result
