"""The verdict rules of ``benchmarks/claims_report.py``: per-seed numbers and their intervals (over seeds, and over
data splits corrected for their overlap), the share of an effect a control reproduces, where a supported effect
comes from, and the verdict of one claim. No training here: the rules are tested on hand-made intervals
(``tests/test_claims_report.py``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

import rnnscope
from rnnscope import analysis

#: A control reproduces "most" of an effect when the lower end of its share's interval is at least this, "little"
#: when the upper end is below it.
SHARE_MOST = 0.5


class Numbers:
    """Per-seed numbers (tidy table: cell, control, seed, split, metric, value) and their summaries."""

    def __init__(self, table: pd.DataFrame, fold_records: Sequence | None = None, confidence: float = 0.95):
        """``fold_records``: (training, test) records of each split, for the corrected interval over splits; None:
        equal folds of a 4-fold split (``n_test / n_train = 1/3``). ``confidence``: the level of every interval
        (``1 - 0.05 / k`` for Bonferroni over k claims)."""
        if "split" not in table:  # reports written before splits existed
            table = table.assign(split=0)
        self.table = table
        self.fold_records = {i: tuple(c) for i, c in enumerate(fold_records)} if fold_records else {}
        self.confidence = float(confidence)

    def has(self, metric) -> bool:
        return bool((self.table.metric == metric).any())

    def values(self, cell, control, metric, split=0) -> pd.Series:
        t = self.table
        sel = t[(t.cell == cell) & (t.control == control) & (t.metric == metric) & (t.split == split)]
        return sel.set_index("seed")["value"].astype(float)

    def series(self, cell, control, metric, minus=None, split=0) -> pd.Series:
        """Per-seed values of a metric, or of the paired (same seed) difference with ``minus=(cell, metric)`` or
        ``minus=(cell, metric, control)`` (without a control, the same control as the first term)."""
        x = self.values(cell, control, metric, split)
        if minus is not None:
            other_cell, other_metric, *other_control = minus
            x = x - self.values(other_cell, other_control[0] if other_control else control, other_metric, split)
        return x

    def stats(self, cell, control, metric, minus=None) -> pd.Series:
        """across_seeds of :meth:`series` on the main split."""
        return self.summarise(self.series(cell, control, metric, minus), self.confidence)

    def splits(self) -> list[int]:
        return sorted(int(s) for s in self.table["split"].unique())

    def split_stats(self, cell, control, metric, minus=None) -> pd.Series | None:
        """Interval over splits: each split's mean over its seeds, then the corrected resampled t interval over
        splits (:func:`rnnscope.train.corrected_interval`: the splits' training sets overlap); None for one split."""
        means = {s: self.series(cell, control, metric, minus, split=s).dropna().mean() for s in self.splits()}
        means = pd.Series({s: m for s, m in means.items() if np.isfinite(m)}, dtype=float)
        if len(means) < 2:
            return None
        counts = np.array([self.fold_records.get(int(s), (3, 1)) for s in means.index], dtype=float)
        return rnnscope.train.corrected_interval(means.to_numpy(), n_train=counts[:, 0], n_test=counts[:, 1],
                                                 confidence=self.confidence)

    @staticmethod
    def summarise(values: pd.Series, confidence: float = 0.95) -> pd.Series:
        """across_seeds of per-seed values (indexed by seed; NaN left out): seeds are independent repetitions."""
        values = values.dropna()
        if values.empty:
            return pd.Series({"mean": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": 0})
        return analysis.across_seeds(None, {int(s): float(v) for s, v in values.items()}, confidence=confidence)


def share(trained: pd.Series, control: pd.Series, threshold=0.0, confidence: float = 0.95) -> pd.Series:
    """Share of the trained effect a control reproduces, seed by seed, summarised over seeds.

    ``share_s = (control_s - threshold) / (trained_s - threshold)``: 1 when the control shows the whole effect, 0
    when it shows none (the effect is measured from the claim's threshold: 0 for a difference). Seeds where the
    trained effect is exactly at the threshold are left out.
    """
    effect = trained - threshold
    ratio = (control - threshold) / effect.where(effect != 0)
    return Numbers.summarise(ratio.dropna(), confidence)


def fmt(stats, digits=3) -> str:
    if stats is None or not np.isfinite(stats["mean"]):
        return "n/a"
    if not np.isfinite(stats["ci_low"]):
        return f"{stats['mean']:.{digits}f} (n={int(stats['n'])})"
    return f"{stats['mean']:.{digits}f} [{stats['ci_low']:.{digits}f}, {stats['ci_high']:.{digits}f}]"


def fmt_share(stats) -> str:
    if stats is None or not np.isfinite(stats["mean"]):
        return "n/a"
    if not np.isfinite(stats["ci_low"]):
        return f"{100 * stats['mean']:.0f} %"
    return f"{100 * stats['mean']:.0f} % [{100 * stats['ci_low']:.0f}, {100 * stats['ci_high']:.0f}]"


def side(stats, threshold, greater=True) -> str:
    """'claimed', 'opposite' or 'straddles': where the interval lies relative to the threshold."""
    if stats is None:
        return "unknown"
    lo, hi = float(stats["ci_low"]), float(stats["ci_high"])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "unknown"
    if lo > threshold:
        return "claimed" if greater else "opposite"
    if hi < threshold:
        return "opposite" if greater else "claimed"
    return "straddles"


def share_level(stats) -> str:
    """'most' (interval at or above SHARE_MOST), 'little' (below it), 'unclear' (across it) or 'unknown'."""
    if stats is None or not (np.isfinite(stats["ci_low"]) and np.isfinite(stats["ci_high"])):
        return "unknown"
    if stats["ci_low"] >= SHARE_MOST:
        return "most"
    if stats["ci_high"] < SHARE_MOST:
        return "little"
    return "unclear"


ORIGINS = {
    "architecture": "the untrained twin already shows most of it",
    "mostly input structure": "models trained on shuffled labels reproduce most of it: it comes from the segment "
                              "structure of the input, not from learning the classes",
    "mostly learning": "each control reproduces less than half of it",
    "not the architecture": "the untrained twin shows less than half of it (no shuffled-label control)",
    "mixed": "a control's share straddles 50 %",
}


def origin(shares: dict) -> str:
    """Where a supported effect comes from, read from the controls' shares (one of :data:`ORIGINS`, or '').

    In this order: the untrained twin reproduces most of it -> "architecture"; else the shuffled-label models do ->
    "mostly input structure"; else every control reproduces little -> "mostly learning" ("not the architecture"
    when only the untrained control exists); else "mixed".
    """
    levels = {name: share_level(stats) for name, stats in shares.items()}
    levels = {name: level for name, level in levels.items() if level != "unknown"}
    if not levels:
        return ""
    if levels.get("untrained") == "most":
        return "architecture"
    if levels.get("shuffled_labels") == "most":
        return "mostly input structure"
    if all(level == "little" for level in levels.values()):
        return "mostly learning" if "shuffled_labels" in levels else "not the architecture"
    return "mixed"


def verdict(ours, shares: dict, threshold=0.0, greater=True, splits=None) -> str:
    """The verdict of one claim.

    ``ours``: the interval over seeds on the main split; ``splits``: the interval over splits (headline claims;
    None otherwise); ``shares``: control name -> interval of its share (:func:`share`). Supported / not supported
    when ``ours`` (and ``splits``, when given) lie on the claimed / the other side of ``threshold``; inconclusive
    otherwise. A supported claim is followed by its :func:`origin`.
    """
    where = side(ours, threshold, greater)
    text = {"claimed": "supported", "opposite": "not supported"}.get(where, "inconclusive")
    if splits is not None and where in ("claimed", "opposite") and side(splits, threshold, greater) != where:
        return f"inconclusive; {text} over seeds on one split, not over splits"
    if where != "claimed":
        return text
    found = origin(shares)
    return f"{text}; {found}: {ORIGINS[found]}" if found else text


class Claim(NamedTuple):
    """One claim: the quantity is ``a_metric(a) - b_metric(b)`` (or ``a_metric(a)`` alone), paired by seed."""

    source: str
    claim: str
    quantity: str
    a: str
    metric: str
    b: str | None = None
    metric_b: str | None = None
    b_control: str | None = None  # None: the same control as the first term
    threshold: float = 0.0
    greater: bool = True
    controls: tuple = ("untrained", "shuffled_labels")
    headline: bool = False
    note: str | None = None  # replaces the control column


def evaluate(n: Numbers, c: Claim) -> dict:
    minus = None if c.b is None else (c.b, c.metric_b or c.metric, *([c.b_control] if c.b_control else []))
    trained = n.series(c.a, "trained", c.metric, minus)
    ours = n.summarise(trained, n.confidence)
    controls, shares = {}, {}
    for name in c.controls:
        ctl = n.series(c.a, name, c.metric, minus)
        if ctl.dropna().empty:
            continue
        controls[name] = n.summarise(ctl, n.confidence)
        shares[name] = share(trained, ctl, c.threshold, n.confidence)
    splits = n.split_stats(c.a, "trained", c.metric, minus) if c.headline else None
    found = verdict(ours, shares, c.threshold, c.greater, splits)
    if not found.startswith("supported"):
        shares = {}  # the share of an effect that is not shown means nothing: neither printed nor written
    label = {"untrained": "untrained", "shuffled_labels": "shuffled"}
    control = c.note or "; ".join(f"{label[k]}: {fmt(v)}" + (f" (share {fmt_share(shares[k])})" if k in shares else "")
                                  for k, v in controls.items())
    row = {"source": c.source, "claim": c.claim, "quantity": c.quantity, "ours": fmt(ours),
           "over splits": fmt(splits) if c.headline else "", "control": control or "n/a", "verdict": found,
           "mean": ours["mean"], "ci_low": ours["ci_low"], "ci_high": ours["ci_high"], "n_seeds": int(ours["n"])}
    row.update({"split_mean": np.nan if splits is None else splits["mean"],
                "split_ci_low": np.nan if splits is None else splits["ci_low"],
                "split_ci_high": np.nan if splits is None else splits["ci_high"],
                "n_splits": 0 if splits is None else int(splits["n"])})
    for name in ("untrained", "shuffled_labels"):
        st = shares.get(name)
        row.update({f"share_{name}": np.nan if st is None else st["mean"],
                    f"share_{name}_low": np.nan if st is None else st["ci_low"],
                    f"share_{name}_high": np.nan if st is None else st["ci_high"]})
    return row
