"""Every public function and class is called the way a user calls it: with its defaults (issue 15 item 5).

The public surface is every name in the ``__all__`` of ``rnnscope.data``, ``features``, ``models``, ``train``,
``experiments``, ``analysis``, ``monitoring``, ``io``, ``schema``, ``plots``, ``widgets`` and the lazy top-level
functions (``rnnscope.capture``, ``rnnscope.monitor``, ...). A callable counts as exercised with its defaults when

- a doctest example in its own docstring (the suite runs ``--doctest-modules``) calls it passing its required
  parameters only (plus keywords that change the cost or the display of a call, never what it computes:
  :data:`COST_ONLY`), or
- a test named in :data:`NAMED_TESTS` does (the test's source is read and checked the same way).

Exceptions and warnings count when a named test mentions them; classes users never build themselves (results,
base classes) count through the public callable that returns or subclasses them (:data:`COVERED_THROUGH`).
The tests at the end of this file are the named tests of the callables too slow or too bulky for a doctest; they
run on data that are not the default five classes (``BG``, ``TR``, ``LP``, ``VT``, ``AV``; background ``BG``).
"""
from __future__ import annotations

import ast
import doctest
import importlib
import inspect
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import rnnscope

TESTS = Path(__file__).resolve().parent
PACKAGES = ("data", "features", "models", "train", "experiments", "analysis", "monitoring", "io", "schema", "plots",
            "widgets")
#: keywords that change the cost or the display of a call, never what it computes
COST_ONLY = {"progress", "device", "threads", "epochs", "n_records", "seed", "batch_size"}
#: public callable -> "tests/<file>.py::<test>" that calls it with its defaults
NAMED_TESTS = {
    "rnnscope.data.read_transcriber":
        "tests/test_annotations.py::test_transcriber_reference_may_be_a_time_trace_or_stream",
    "rnnscope.data.read_quakeml_catalog":
        "tests/test_annotations.py::test_a_monitor_catalog_reads_back_to_the_same_classes_and_times",
    "rnnscope.data.synthetic_archive": "tests/test_archives.py::test_synthetic_archive_with_defaults",
    "rnnscope.data.read_relative_csv":
        "tests/test_annotations.py::test_relative_csv_rows_timed_from_the_file_they_name",
    "rnnscope.models.lazy_lstm_recurrence": "tests/test_cells.py::test_scan_helpers",
    "rnnscope.models.native_status": "tests/test_native.py::test_native_build_is_cached_and_reports_its_status",
    "rnnscope.models.build_native": "tests/test_public_api.py::test_build_native_with_defaults",
    "rnnscope.models.ModelFileError": "tests/test_models.py::test_mismatched_config_names_the_mismatch",
    "rnnscope.models.UnsafeModelFileError": "tests/test_models.py::test_malicious_pickle_is_refused_and_not_executed",
    "rnnscope.models.ClassMismatchError": "tests/test_models.py::test_class_names_default_and_remapping",
    "rnnscope.train.cross_validate": "tests/test_public_api.py::test_cross_validate_and_sweep_with_defaults",
    "rnnscope.train.sweep": "tests/test_public_api.py::test_cross_validate_and_sweep_with_defaults",
    "rnnscope.train.fit_many": "tests/test_public_api.py::test_fit_many_with_defaults",
    "rnnscope.train.frame_baseline": "tests/test_public_api.py::test_frame_baseline_with_defaults",
    "rnnscope.experiments.silence": "tests/test_public_api.py::test_silence_and_ablation_curve_with_defaults",
    "rnnscope.experiments.silenced": "tests/test_any_model.py::test_silencing_units_of_one_direction",
    "rnnscope.experiments.ablation_curve": "tests/test_public_api.py::test_silence_and_ablation_curve_with_defaults",
    "rnnscope.experiments.noise_robustness": "tests/test_public_api.py::test_noise_robustness_with_defaults",
    "rnnscope.analysis.EmptyClassWarning":
        "tests/test_analysis.py::test_heat_map_segment_weighting_is_the_mean_of_segment_means",
    "rnnscope.monitoring.write_probabilities": "tests/test_class_names.py::test_long_class_names_write_and_read_back",
    "rnnscope.monitoring.read_probabilities": "tests/test_class_names.py::test_long_class_names_write_and_read_back",
    "rnnscope.io.open_run": "tests/test_io.py::test_round_trip_keeps_values_dtypes_and_attrs",
    "rnnscope.open_run": "tests/test_io.py::test_round_trip_keeps_values_dtypes_and_attrs",
    "rnnscope.io.RunFileError": "tests/test_io.py::test_a_corrupt_zarr_store_gives_a_clear_error",
    "rnnscope.io.default_chunks": "tests/test_public_api.py::test_schema_and_io_helpers_with_defaults",
    "rnnscope.schema.VariableSpec": "tests/test_public_api.py::test_schema_and_io_helpers_with_defaults",
    "rnnscope.schema.plain": "tests/test_public_api.py::test_schema_and_io_helpers_with_defaults",
    "rnnscope.schema.SchemaError": "tests/test_io.py::test_a_missing_variable_is_named",
    "rnnscope.analysis.susceptibility": "tests/test_real_world.py::test_background_onsets_are_not_counted",
    "rnnscope.widgets.Explorer": "tests/test_real_world.py::test_the_explorer_shows_these_classes",
}
#: callables whose call names one of several optional arguments (none since ``silence`` took one way to name units)
ONE_OF: dict[str, list[str]] = {}
#: classes built through a classmethod rather than their constructor: class -> that classmethod's name
CONSTRUCTED_BY = {"rnnscope.io.RunWriter": "create"}
#: classes users get from another public callable (its return value, or a subclass of theirs)
COVERED_THROUGH = {
    "rnnscope.features.FeatureReach": "rnnscope.features.feature_reach",
    "rnnscope.analysis.TopFraction": "rnnscope.analysis.top_fraction",
    "rnnscope.train.Evaluation": "rnnscope.train.evaluate",
    "rnnscope.train.Retraining": "rnnscope.train.retrain",
    "rnnscope.monitoring.MonitorResult": "rnnscope.monitor",
    "rnnscope.monitoring.NetworkResult": "rnnscope.monitor",
    "rnnscope.models.ModelBase": "rnnscope.models.RNNClassifier",
    "rnnscope.models.RecurrentLayer": "rnnscope.models.LSTMLayer",
}


def public_callables() -> dict[str, object]:
    out = {}
    for name in PACKAGES:
        module = importlib.import_module(f"rnnscope.{name}")
        for attr in module.__all__:
            obj = getattr(module, attr)
            if callable(obj):
                out[f"rnnscope.{name}.{attr}"] = obj
    for attr in rnnscope._FUNCTIONS:
        out[f"rnnscope.{attr}"] = getattr(rnnscope, attr)
    return out


def required(obj) -> list[str]:
    params = inspect.signature(obj).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.default is inspect.Parameter.empty and p.kind in kinds]


def calls_with_defaults(source: str, name: str, needed: list[str]) -> bool:
    """Whether ``source`` calls ``name`` (or ``x.name``) with its required arguments only (and COST_ONLY keywords)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if called != name or any(isinstance(a, ast.Starred) for a in node.args):
            continue
        keywords = [k.arg for k in node.keywords]
        if None in keywords or len(node.args) > len(needed):
            continue
        if all(k in needed or k in COST_ONLY for k in keywords):
            return True
    return False


def doctest_source(obj) -> str:
    parser = doctest.DocTestParser()
    return "\n".join(example.source for example in parser.get_examples(inspect.getdoc(obj) or ""))


def named_test_source(reference: str) -> str | None:
    path, _, test = reference.partition("::")
    file = TESTS.parent / path
    if not file.is_file():
        return None
    text = file.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == test:
            return ast.get_source_segment(text, node)
    return None


def is_exception(obj) -> bool:
    return inspect.isclass(obj) and issubclass(obj, BaseException)


def covered(full: str, obj, everything: dict) -> bool:
    short = full.rsplit(".", 1)[1]
    if full in COVERED_THROUGH:
        other = everything[COVERED_THROUGH[full]]
        returns = "" if inspect.isclass(other) else str(inspect.signature(other).return_annotation)
        documented = (inspect.getdoc(other) or "").partition("Returns\n-------")[2].partition("Examples\n")[0]
        linked = (inspect.isclass(other) and issubclass(other, obj)) or short in returns or short in documented
        return linked and covered(COVERED_THROUGH[full], other, everything)
    sources = [] if is_exception(obj) else [doctest_source(obj)]
    if full in NAMED_TESTS:
        sources.append(named_test_source(NAMED_TESTS[full]) or "")
    if is_exception(obj):
        return any(short in s for s in sources)
    if full in CONSTRUCTED_BY:
        short = CONSTRUCTED_BY[full]
        obj = getattr(obj, short)
    needed = required(obj)
    if full in ONE_OF:
        needed = needed[:1] + ONE_OF[full]  # the model, then one of the alternatives (positional: the first)
        return any(calls_with_defaults(s, short, needed) and _one_of(s, short, ONE_OF[full]) for s in sources)
    return any(calls_with_defaults(s, short, needed) for s in sources)


def _one_of(source: str, name: str, choices: list[str]) -> bool:
    """Whether a call of ``name`` in ``source`` gives exactly one of ``choices`` (the first may be positional)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == name:
            given = [k.arg for k in node.keywords if k.arg in choices] + (choices[:1] if len(node.args) > 1 else [])
            if len(given) == 1:
                return True
    return False


def test_every_public_callable_is_called_with_its_defaults():
    everything = public_callables()
    nobody = [full for full, obj in everything.items() if not covered(full, obj, everything)]
    assert not nobody, (
        f"{len(nobody)} public callables are never called with their defaults (only required arguments) in a "
        "doctest of their docstring or a named test; add an example or list a test in NAMED_TESTS:\n  "
        + "\n  ".join(nobody)
    )


def test_named_tests_and_links_exist():
    everything = public_callables()
    missing = [f"{name} -> {ref}" for name, ref in NAMED_TESTS.items() if named_test_source(ref) is None]
    assert not missing, "NAMED_TESTS lists tests that do not exist:\n  " + "\n  ".join(missing)
    unknown = [n for n in [*NAMED_TESTS, *COVERED_THROUGH, *COVERED_THROUGH.values()] if n not in everything]
    assert not unknown, f"not public callables: {unknown}"


def test_the_checker_tells_default_calls_from_others():
    params = ["run_or_heat", "fraction"]
    assert calls_with_defaults("rs.analysis.top_fraction(run, fraction=0.5)", "top_fraction", params)
    assert not calls_with_defaults("top_fraction(run, fraction=0.5, layer=0)", "top_fraction", params)
    assert calls_with_defaults("fit(model, frames, epochs=1, progress=False)", "fit", ["model", "dataset"])
    assert not calls_with_defaults("fit(model, frames, lr=0.1)", "fit", ["model", "dataset"])
    assert not calls_with_defaults("heat_map(run, var='h')", "heat_map", ["run"])
    assert not calls_with_defaults("heat_map(**kwargs)", "heat_map", ["run"])


# ------------------------------------------------------------------------------------------ the named tests

CHILE = ["BG", "TR", "LP", "VT", "AV"]


@pytest.fixture(scope="module")
def frames():
    rec = rnnscope.data.synthetic(n_records=8, seed=2, sampling_rate=50.0, record_duration_s=(40.0, 60.0))
    n = rec["n_samples"].values
    waves = [rec.waveform.values[i, : n[i]] for i in range(len(n))]
    labels = [rec.sample_label.values[i, : n[i]] for i in range(len(n))]
    records = rnnscope.data.from_arrays(waves, labels, sampling_rate=50.0, class_names=CHILE, background="BG")
    return rnnscope.features.compute(records)


@pytest.fixture(scope="module")
def model(frames):
    import torch

    torch.manual_seed(0)
    m = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=6, num_classes=5, class_names=CHILE)
    rnnscope.train.fit(m, frames, epochs=1, progress=False)
    return m


def test_build_native_with_defaults():
    ops = rnnscope.models.build_native()
    assert hasattr(ops, "vectorized")


def test_cross_validate_and_sweep_with_defaults(frames):
    make = partial(rnnscope.models.RNNClassifier, "gru", input_size=48, hidden_size=4, num_classes=5, class_names=CHILE)
    table = rnnscope.train.cross_validate(make, frames, epochs=1, progress=False)
    assert list(table.index) == [1, 2, 3, 4, "average", "ci_low", "ci_high"]  # 4 folds by default
    assert table.loc[[1, 2, 3, 4, "average"], ["accuracy", "balanced_accuracy", "macro_f1"]].stack().between(0, 1).all()
    grid = {"cell": ["gru"], "hidden_size": [4]}
    swept = rnnscope.train.sweep(grid, frames, epochs=1, progress=False)
    assert len(swept) == 4 and set(swept["hidden_size"]) == {4}
    assert swept["detection_rate"].between(0, 1).all()


def test_fit_many_with_defaults(frames):
    make = partial(rnnscope.models.RNNClassifier, "gru", input_size=48, hidden_size=4, num_classes=5, class_names=CHILE)
    models = rnnscope.train.fit_many(make, frames, epochs=1, progress=False)
    assert [m.info["training"]["seed"] for m in models] == [0, 1, 2, 3, 4]
    assert {m.background for m in models} == {"BG"} and {m.sampling_rate for m in models} == {50.0}


def test_frame_baseline_with_defaults(frames):
    scores = rnnscope.train.frame_baseline(frames, train_idx=np.arange(6), test_idx=np.arange(6, 8))
    assert all(0.0 <= scores[k] <= 1.0 for k in ("accuracy", "balanced_accuracy", "macro_f1"))


def test_silence_and_ablation_curve_with_defaults(model, frames):
    held = rnnscope.experiments.silence(model, {0: [1]})
    assert held.masked_units == [[1]] and held.background == "BG"
    table = rnnscope.experiments.ablation_curve(model, frames)
    assert table["fraction"].tolist()[0] == 1 and set(table["ranking"]) == {"activity"}
    full = table[table["fraction"] == 1]["accuracy"].iloc[0]
    assert full == pytest.approx(rnnscope.train.evaluate(model, frames).accuracy)


def test_noise_robustness_with_defaults(model, frames):
    clean, noisy = rnnscope.experiments.noise_robustness(model, frames)
    assert clean.attrs["background"] == noisy.attrs["background"] == "BG"
    assert clean.sizes["event"] == noisy.sizes["event"] == 1
    window = (noisy.time >= 10.0 + 2.0) & (noisy.time < 15.0)
    assert not np.allclose(clean.h.where(window, drop=True), noisy.h.where(window, drop=True))


def test_schema_and_io_helpers_with_defaults(frames):
    spec = rnnscope.schema.VariableSpec("h", ("event", "time", "unit", "layer"), "f", "unit output")
    assert spec.padded is False and spec.dims[-1] == "layer"
    assert rnnscope.schema.plain({"b": np.int64(2), "a": (1.5,)}) == {"a": [1.5], "b": 2}
    chunks = rnnscope.io.default_chunks(frames)
    assert chunks["event"] == 1 and chunks["time"] == frames.sizes["time"] and chunks["feature"] == 48
