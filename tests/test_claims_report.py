"""benchmarks/claims_report.py: verdict rules on hand-made intervals, and a quick end-to-end run of the script."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import rnnscope

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "claims_report.py"
T_975_2 = 4.302652729911275  # Student t quantile 0.975, 2 degrees of freedom


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("claims_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interval(mean, low, high, n=5):
    return pd.Series({"mean": mean, "ci_low": low, "ci_high": high, "n": n})


def test_verdict_follows_the_interval(report):
    assert report.verdict(interval(0.2, 0.1, 0.3), {}) == "supported"
    assert report.verdict(interval(-0.2, -0.3, -0.1), {}) == "not supported"
    assert report.verdict(interval(0.1, -0.1, 0.3), {}) == "inconclusive"
    # a claim with a threshold and a "lower is the claim" direction
    assert report.verdict(interval(0.95, 0.92, 0.97), {}, threshold=0.9) == "supported"
    assert report.verdict(interval(0.8, 0.78, 0.83), {}, threshold=0.9) == "not supported"
    assert report.verdict(interval(-3.0, -4.0, -2.0), {}, greater=False) == "supported"


def test_share_is_the_part_of_the_trained_effect_a_control_reproduces_seed_by_seed(report):
    trained = pd.Series({0: 0.30, 1: 0.20, 2: 0.40})
    control = pd.Series({0: 0.15, 1: 0.10, 2: 0.20})  # half of the effect in every seed
    half = report.share(trained, control)
    assert half["mean"] == pytest.approx(0.5) and half["ci_low"] == pytest.approx(0.5) and half["n"] == 3
    # with a threshold the effect is measured from it: (0.8 - 0.5) / (0.9 - 0.5) = 0.75 in every seed
    above = report.share(pd.Series({0: 0.9, 1: 0.9}), pd.Series({0: 0.8, 1: 0.8}), threshold=0.5)
    assert above["mean"] == pytest.approx(0.75)
    # the numbers: polarization 0.015 untrained vs 0.280 trained is about 5 %, not "the architecture"
    tiny = report.share(pd.Series({0: 0.28, 1: 0.27, 2: 0.29}), pd.Series({0: 0.015, 1: 0.012, 2: 0.017}))
    assert tiny["ci_high"] < 0.1 and report.share_level(tiny) == "little"


def test_origin_follows_the_shares(report):
    most, little, unclear = interval(0.9, 0.7, 1.1), interval(0.1, 0.0, 0.2), interval(0.5, 0.3, 0.7)
    assert [report.share_level(s) for s in (most, little, unclear)] == ["most", "little", "unclear"]
    assert report.origin({"untrained": most, "shuffled_labels": most}) == "architecture"
    assert report.origin({"untrained": little, "shuffled_labels": most}) == "mostly input structure"
    assert report.origin({"untrained": little, "shuffled_labels": little}) == "mostly learning"
    assert report.origin({"untrained": little}) == "not the architecture"
    assert report.origin({"untrained": little, "shuffled_labels": unclear}) == "mixed"
    assert report.origin({}) == ""


def test_verdict_names_the_origin_of_a_supported_effect(report):
    ours = interval(0.3, 0.25, 0.35)
    # smoothness in the issue: shuffled-label models reproduce 0.114 of 0.118
    shares = {"untrained": interval(0.06, 0.03, 0.10), "shuffled_labels": interval(0.97, 0.61, 1.3)}
    assert report.verdict(ours, shares).startswith("supported; mostly input structure:")
    learned = report.verdict(ours, {"untrained": interval(0.0, -0.1, 0.1), "shuffled_labels": interval(0.1, 0, 0.2)})
    assert learned.startswith("supported; mostly learning:")
    # a claim that is not supported gets no origin, whatever the controls
    assert report.verdict(interval(-0.2, -0.3, -0.1), shares) == "not supported"


def test_verdict_needs_the_interval_over_splits_too(report):
    ours = interval(0.2, 0.1, 0.3)
    assert report.verdict(ours, {}, splits=interval(0.2, 0.05, 0.35)) == "supported"
    across = report.verdict(ours, {}, splits=interval(0.2, -0.1, 0.5))
    assert across == "inconclusive; supported over seeds on one split, not over splits"


def test_interval_over_splits_averages_seeds_within_each_split_and_is_corrected(report):
    rows = [{"cell": "a", "control": "trained", "seed": seed, "split": split, "metric": "m", "value": value}
            for split, values in ((0, [1.0, 3.0]), (1, [2.0, 2.0]), (2, [4.0, 6.0])) for seed, value in
            enumerate(values)]
    numbers = report.Numbers(pd.DataFrame(rows))
    over = numbers.split_stats("a", "trained", "m")
    # split means 2, 2, 5 -> mean 3, n = 3 splits
    assert over["mean"] == pytest.approx(3.0) and over["n"] == 3
    assert numbers.stats("a", "trained", "m")["mean"] == pytest.approx(2.0)  # the main split only
    # the splits' training sets overlap: variance factor 1/3 + n_test/n_train (4 equal folds: 1/3), not 1/3 alone
    sd = np.std([2.0, 2.0, 5.0], ddof=1)
    half = T_975_2 * sd * np.sqrt(1 / 3 + 1 / 3)
    assert over["ci_low"] == pytest.approx(3.0 - half) and over["ci_high"] == pytest.approx(3.0 + half)
    sized = report.Numbers(pd.DataFrame(rows), fold_records=[(90, 30), (90, 30), (92, 28)])
    expected = rnnscope.train.corrected_interval([2.0, 2.0, 5.0], n_train=[90, 90, 92], n_test=[30, 30, 28])
    assert sized.split_stats("a", "trained", "m")["ci_low"] == pytest.approx(expected["ci_low"])


def test_paired_differences_are_taken_seed_by_seed(report):
    rows = [{"cell": c, "control": "trained", "seed": s, "metric": "m", "value": v}
            for c, values in (("a", [1.0, 2.0, 3.0]), ("b", [0.5, 1.5, 2.5])) for s, v in enumerate(values)]
    numbers = report.Numbers(pd.DataFrame(rows))
    diff = numbers.stats("a", "trained", "m", minus=("b", "m"))
    # the per-seed differences are all 0.5: zero spread, so the interval collapses onto the mean
    assert diff["mean"] == pytest.approx(0.5) and diff["ci_low"] == pytest.approx(0.5) and diff["n"] == 3
    unpaired = numbers.stats("a", "trained", "m")
    assert unpaired["ci_low"] < 1.0 < 3.0 < unpaired["ci_high"]


def _tidy(values: dict) -> pd.DataFrame:
    """Per-seed rows from {(cell, control, metric): [value per seed]} (main split)."""
    return pd.DataFrame([{"cell": cell, "control": control, "seed": seed, "split": 0, "metric": metric, "value": v}
                         for (cell, control, metric), vs in values.items() for seed, v in enumerate(vs)])


def test_shares_are_printed_only_for_supported_claims(report):
    claim = report.Claim("src", "a claim", "m: lstm - rnn", "lstm", "m", "rnn")
    controls = {("lstm", "untrained", "m"): [0.1, 0.3, 0.2], ("rnn", "untrained", "m"): [0.1, 0.2, 0.2],
                ("lstm", "shuffled_labels", "m"): [0.1, 0.1, 0.1], ("rnn", "shuffled_labels", "m"): [0.0, 0.1, 0.1]}
    shown = report.evaluate(report.Numbers(_tidy({("lstm", "trained", "m"): [0.5, 0.6, 0.55],
                                                  ("rnn", "trained", "m"): [0.1, 0.2, 0.15], **controls})), claim)
    assert shown["verdict"].startswith("supported") and "(share " in shown["control"]
    assert np.isfinite(shown["share_untrained"])
    noise = report.evaluate(report.Numbers(_tidy({("lstm", "trained", "m"): [0.5, 0.1, 0.3],
                                                  ("rnn", "trained", "m"): [0.2, 0.4, 0.3], **controls})), claim)
    assert noise["verdict"] == "inconclusive"
    assert "share" not in noise["control"] and noise["control"].startswith("untrained: ")
    assert np.isnan(noise["share_untrained"]) and np.isnan(noise["share_shuffled_labels"])


def test_a_score_is_read_against_its_null_where_the_analysis_gives_one(report):
    spec = xr.Dataset({"specialisation_gap": ("layer", [0.3]), "specialisation_gap_null_mean": ("layer", [0.2]),
                       "specialisation_gap_null_q95": ("layer", [0.25]), "specialisation_gap_p": ("layer", [0.01])})
    picked = report.null_numbers(spec, "specialisation_gap", "specialisation_gap", lambda v: v.isel(layer=0))
    assert picked == {"specialisation_gap_null_mean": 0.2, "specialisation_gap_null_q95": 0.25,
                      "specialisation_gap_p": 0.01}
    assert report.null_numbers(spec.drop_vars("specialisation_gap_p"), "specialisation_gap", "x") == {}
    probe = pd.Series({"target": "class", "score": 0.6, "score_null_mean": 0.2, "score_null_q95": 0.3, "score_p": 0.0})
    assert report.null_numbers(probe, "score", "probe_class")["probe_class_null_q95"] == 0.3

    def with_null(run, *, null=0, seed=0):
        return run

    def without(run, *, var="h"):
        return run

    assert report.null_kwargs(with_null, 50, 3) == {"null": 50, "seed": 3}
    assert report.null_kwargs(with_null, 0, 3) == {} and report.null_kwargs(without, 50, 3) == {}


def test_run_numbers_ask_for_the_nulls_where_the_analyses_offer_them(report, monkeypatch):
    """The per-seed numbers carry each score's permutation null (specialisation and the probes take null=): asked
    with the report's null sizes and seed, absent without them, and the scores themselves do not change."""
    import functools
    import warnings

    run = rnnscope.examples.trained_run()
    run = run.assign_attrs(background=run.attrs.get("background") or "SIL")  # the report's runs carry it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        without = report._run_numbers(run, 0, null=0, probe_null=0)
    real_spec, real_probes = report.analysis.specialisation, report.analysis.linear_probes
    calls = {}

    @functools.wraps(real_spec)  # the report reads the signature to know which analyses take null=
    def specialisation(run, *args, **kwargs):
        calls["specialisation"] = (kwargs.get("null"), kwargs.get("seed"))
        return real_spec(run, *args, **kwargs)

    @functools.wraps(real_probes)
    def linear_probes(run, *args, **kwargs):
        calls["linear_probes"] = (kwargs.get("null"), kwargs.get("seed"))
        return real_probes(run, *args, **kwargs)

    monkeypatch.setattr(report.analysis, "specialisation", specialisation)
    monkeypatch.setattr(report.analysis, "linear_probes", linear_probes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with_null = report._run_numbers(run, 0, null=10, probe_null=2)
    assert calls == {"specialisation": (10, 0), "linear_probes": (2, 0)}
    added = sorted(set(with_null) - set(without))
    assert "specialisation_gap_null_q95" in added and "specialisation_p" in added
    assert "probe_class_null_mean" in added and "probe_class_p" in added
    assert all(0 <= with_null[k] <= 1 for k in ("specialisation_p", "specialisation_gap_p", "probe_class_p"))
    # band energies are not segment labels: permuting labels gives them no null (their chance is the probe's own)
    assert all(0 <= with_null[k] <= 1 or k.startswith("probe_band_energy") for k in added if k.endswith("_p"))
    assert not any(k.endswith(("_null_mean", "_null_q95", "_p")) for k in without)
    assert {k: v for k, v in with_null.items() if k in without} == pytest.approx(without, nan_ok=True)


def test_the_report_shows_scores_against_their_null_and_says_how_models_were_trained(report):
    values = {}
    for cell, gap, q95 in (("lstm", [0.30, 0.28, 0.33], [0.20, 0.21, 0.19]), ("rnn", [0.10, 0.09, 0.11],
                                                                                 [0.10, 0.11, 0.10])):
        for control in ("trained", "untrained", "shuffled_labels"):
            values[(cell, control, "specialisation_gap")] = gap
            values[(cell, control, "specialisation_gap_null_mean")] = [q - 0.03 for q in q95]
            values[(cell, control, "specialisation_gap_null_q95")] = q95
            values[(cell, control, "specialisation_gap_p")] = [0.001, 0.01, 0.002] if cell == "lstm" else [0.06, 0.5,
                                                                                                          0.03]
    numbers = report.Numbers(_tidy(values))
    verdicts = {r["quantity"]: r["verdict"] for r in map(lambda c: report.evaluate(numbers, c),
                                                         report.null_claims(numbers))}
    assert verdicts["specialisation gap - null 95 % quantile, LSTM"].startswith("supported")
    assert verdicts["specialisation gap - null 95 % quantile, vanilla RNN"] == "inconclusive"
    chance = report.chance_table(numbers)
    row = chance[(chance.cell == "rnn") & (chance.model == "trained")].iloc[0]
    assert row["p < 0.05"] == "1 of 3" and row["null 95 %"] == "0.103"
    meta = {"records": 40, "epochs": 2, "hidden": 8, "seeds": 3, "seed_list": [0, 1, 2], "workers": 1,
            "seconds": 60.0, "null": 100, "probe_null": 5,
            "provenance": {"machine": "m", "date": "d", "rnnscope": "v", "torch": "t"}}
    text = report.report(numbers, report.summary_table(numbers), meta)
    assert "## Scores against chance" in text and "100 permutations" in text
    assert "balanced class weights" in text and "no validation split" in text
    assert "--null 100 --probe-null 5" in text
    assert "claims, each judged on its own 95 % intervals, not adjusted for their number" in text
    # Bonferroni over the claims: wider intervals, said in the report
    k = len(report.claim_list(numbers))
    strict = report.Numbers(_tidy(values), confidence=1 - 0.05 / k)
    wide = report.evaluate(strict, report.null_claims(strict)[0])
    narrow = report.evaluate(numbers, report.null_claims(numbers)[0])
    assert wide["ci_low"] < narrow["ci_low"] and wide["mean"] == pytest.approx(narrow["mean"])
    assert f"= 1 - 0.05 / {k} (Bonferroni over the claims)" in report.report(strict, report.summary_table(strict), meta)
    without = report.Numbers(_tidy({("lstm", "trained", "specialisation_gap"): [0.3, 0.2]}))
    assert report.chance_table(without) is None and report.null_claims(without) == []
    assert "carry no chance level" in report.report(without, report.summary_table(without), meta)


@pytest.mark.slow
def test_quick_run_writes_the_report(tmp_path):
    out = tmp_path / "claims.md"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--workers", "1", "--out", str(out),
                           "--results", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert "| source | claim | quantity | ours (seeds, one split) | over splits |" in text
    assert "## How to read the verdicts" in text
    assert "no validation split" in text and "balanced class weights" in text and "## Scores against chance" in text
    table = pd.read_csv(tmp_path / "claims.csv")
    assert len(table) >= 15 and set(table.n_seeds) <= {1, 2}  # across-seed rows compare seed 1 with seed 0: n = 1
    assert set(table.verdict.str.split(";").str[0]) <= {"supported", "not supported", "inconclusive"}
    seeds = pd.read_csv(tmp_path / "claims_seeds.csv")
    assert set(seeds.control) == {"trained", "untrained", "shuffled_labels"}
    assert set(seeds.seed) == {0, 1} and set(seeds.split) == {0, 1}
    # the report can be rewritten from the per-seed numbers alone
    again = subprocess.run([sys.executable, str(SCRIPT), "--from-csv", "--out", str(tmp_path / "again.md"),
                            "--results", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (tmp_path / "again.md").read_text().split("## Definitions")[0] == text.split("## Definitions")[0]
