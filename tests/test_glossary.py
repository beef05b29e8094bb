"""One name and one default per idea across the public interface (docs/glossary.md), checked over every signature.

Every callable in every public ``__all__`` (and the lazy top-level functions ``rnnscope.capture``, ...) is read:

- everything after the first one or two data arguments is keyword-only (as scikit-learn does after ``X, y``);
- no parameter is named by a synonym of a glossary name (:data:`SYNONYMS`: ``variable`` for ``var``, ``heat``
  for ``weighting``, ``random_state`` for ``seed``, ...);
- a name used by two or more public callables is in the glossary (:data:`GLOSSARY`), where it has one meaning;
- every parameter of a glossary name has one of that name's defaults, or none (the function needs it);
- docs/glossary.md has a row for every glossary name giving its defaults.

A name with more than one default lists each with its one meaning (``layer``: None = every layer, 0 = the first,
where a view shows one). Result classes (:data:`RESULTS`) are outputs, never called by users: they are not read.
"""
from __future__ import annotations

import importlib
import inspect
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

import rnnscope

DOCS = Path(__file__).resolve().parent.parent / "docs" / "glossary.md"
PACKAGE = DOCS.parent.parent / "rnnscope"


def public_modules() -> list[str]:
    """Every public module of the package (no part of its dotted name starts with ``_``) that has an ``__all__``:
    found on disk, so that a module added later is read without editing this test."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if parts and not any(part.startswith("_") for part in parts) and "__all__" in path.read_text():
            found.append(".".join(parts))
    return found


MODULES = public_modules()
REQUIRED = inspect.Parameter.empty
#: the default of a quantity whose size depends on the job (each function documents its own)
PER_FUNCTION = object()


@dataclass(frozen=True)
class Name:
    meaning: str
    defaults: tuple = (REQUIRED,)  # allowed defaults; REQUIRED: no default (a data argument)


#: parameter name -> meaning and allowed defaults (docs/glossary.md says the same, row by row)
GLOSSARY = {
    # data arguments (positional, required)
    "run": Name("a run: the Dataset of captured states, dims (event, time, unit, layer)"),
    "run_a": Name("the first of two runs compared"),
    "run_b": Name("the second of two runs compared"),
    "run_or_heat": Name("a run, or the heat map of one (analysis.heat_map)"),
    "runs": Name("several runs (a mapping name -> run, or a sequence)"),
    "ds": Name("any rnnscope Dataset: records, features or a run"),
    "records": Name("a records Dataset (waveforms, sample labels, segment table)"),
    "dataset": Name("a features Dataset a model is trained, scored or captured on (a run works too)"),
    "data": Name("what a model's forward takes: a features Dataset for an rnnscope classifier, tensors otherwise "
                 "(None: the model's normaliser, experiments.impulse_response)", (REQUIRED, None)),
    "model": Name("a model: an rnnscope classifier, any torch.nn.Module where said, or a model file (None: "
                  "rnnscope's own layers, models.unrolled)", (REQUIRED, None)),
    "attr": Name("an attribution Dataset (experiments.attribution's result)"),
    "make_model": Name("a function returning a fresh model"),
    "fn": Name("a function of a run (run -> number or labelled result)"),
    "path": Name("a file or folder"),
    "source": Name("where waveforms or a catalog are read from"),
    "stream": Name("an ObsPy Stream, or files ObsPy reads"),
    "waveforms": Name("raw samples of each record, or where the monitor read them"),
    "labels": Name("class index per frame or sample, -1 unknown", (REQUIRED, None)),
    "detections": Name("a detection table (rnnscope.monitor(...).detections; None: the folder's detections.csv)",
                       (REQUIRED, None)),
    "folder": Name("a monitor output folder (rnnscope monitor --out: detections.csv, monitor.json)"),
    "truth": Name("the true events a detection table is scored against (start, end, class_name)"),
    "prob": Name("class probabilities, (frames, classes)"),
    "pieces": Name("contiguous pieces of probabilities: (first_time_ns, frame_period_ns, prob)"),
    "table": Name("a result table"),
    "resp": Name("analysis.responsibility's result"),
    "diff": Name("analysis.perturbation's result"),
    "values": Name("the numbers a function reads"),
    "attrs": Name("a Dataset's attrs"),
    "reference": Name("the time (or trace) relative times of an annotation file count from"),
    "win": Name("window length in samples"),
    "hop": Name("hop between frames in samples"),
    # what is read
    "var": Name('state variable(s) read: a name ("h", "c", "forget_gate", ...) or a list; "h" the unit output; '
                '"cell" Tang\'s cell (c for LSTM-family layers, h otherwise), the default of Tang\'s analyses; '
                '"gates" every gate the run holds; "all" every state variable (capture\'s default)',
                ("h", "cell", "gates", "all", REQUIRED)),
    "layer": Name("the run's layer: an int (its `layer` coordinate), a list, or None for every layer; a view "
                  "showing one layer at a time starts at 0", (None, 0, REQUIRED)),
    "event": Name("a record: its position (int) or event_id (str); 0 the first where one record is read, None "
                  "every record where several are", (0, None, REQUIRED)),
    "units": Name("unit ids (None: every unit)", (None, REQUIRED)),
    "sampled_units": Name("how many units are drawn at random (seeded; None: all)", (50,)),
    "classes": Name("class names a function works on (None: every class)", (None,)),
    "class_names": Name("the name of each class index (None: the model's or the data's; where neither says, the "
                        "default task's SIL, TRE, LP, VTE, HYB)", (None, REQUIRED)),
    "background": Name('the class that is not an event: a class name, None (no class is), or "auto": the class '
                       "the inputs declare (attrs['background'] of the records, features, run, model or table; a "
                       "model of the default task's five classes declares SIL until fit takes its training "
                       "data's)", ("auto", REQUIRED)),
    "k": Name("how many top units", (5,)),
    "fraction": Name("share of units kept, in (0, 1]", (1.0, REQUIRED)),
    "fractions": Name("several shares of units", PER_FUNCTION),
    "rule": Name('which units a share keeps: "every" (top for every class), "any", "all", "class"', ("every",)),
    "weighting": Name('how the heat of a class is averaged: "segment" (every segment once, the paper\'s) or '
                      '"frame"', ("segment",)),
    "null": Name("permutations (or random draws) of a null distribution (None: none; 100 where the null is the "
                 "point of the call: experiments.class_silencing)", (None, 100)),
    "null_within": Name('what a permutation keeps together: "record"', ("record",)),
    "half_width": Name("half-width of the window around a segment boundary, in frames", (2,)),
    "far": Name("distance from any boundary of a stationary frame, in frames", (10,)),
    "reach": Name("frames before / after a boundary the features reach (None: from the run's feature config)",
                  (None,)),
    "bins": Name("histogram bins: a count or edges (None: 40 equal bins over the variable's range)", (None,)),
    "threshold": Name("level of a difference between two runs that counts as recovered", (0.1,)),
    "max_frames": Name("frames read at most (a seeded sample; a cost limit)", PER_FUNCTION),
    "width": Name("width of a view in pixels", PER_FUNCTION),
    "var_b": Name("run_b's variable (None: var)", (None,)),
    "target": Name("what an attribution explains: a unit or a class (experiments.attribution); one of its targets "
                   "by position (analysis.attribution_over_time)", (REQUIRED, 0)),
    "frames": Name('the frames a call reads: "peak", "onset", "all", a time (s) or a [start, stop) window (s)',
                   ("peak", REQUIRED)),
    "n_frames": Name("a number of frames", PER_FUNCTION),
    "frame_rate": Name("frames per second (None: the data's or the model's feature settings; from_features: 2.0, "
                       "the paper's hop)", (2.0, None)),
    "direction": Name('"forward" or "backward" of a bidirectional module (None: the layer\'s only one; '
                      'layer_label: "forward")', ("forward", None)),
    "method": Name("how a result is computed (each function lists its methods)", PER_FUNCTION),
    "layer_b": Name("run_b's layers (None: layer)", (None,)),
    # how it runs
    "device": Name('torch device: "auto" (CUDA, then MPS, then the CPU), "cpu", "cuda", ...', ("auto",)),
    "threads": Name("CPU threads the call (each of its parallel tasks) uses, restored afterwards; None leaves "
                    "the current setting (seed_everything changes it only when asked)", (1, None)),
    "progress": Name("show a progress bar", (True,)),
    "executor": Name("a concurrent.futures.Executor running tasks in parallel (None: serially)", (None,)),
    "batch_size": Name("records per batch: 16 in training (fit, retrain), 32 in forward passes", (16, 32)),
    "seed": Name("seeds every random draw of the call (this call only)", (0, REQUIRED)),
    "seeds": Name("one run per seed", PER_FUNCTION),
    "time_chunk": Name("frames per piece along time (windows of a capture, chunks of a store)", (4096,)),
    "chunks": Name("dask / zarr chunks (None: by record, and time_chunk frames)", (None,)),
    # models and training
    "cell": Name('recurrent cell: "rnn", "lstm", "gru", "lazy_lstm" (or a list, one per layer)', ("lstm", REQUIRED)),
    "input_size": Name("features per frame"),
    "hidden_size": Name("units per layer", PER_FUNCTION),
    "num_layers": Name("recurrent layers", (1,)),
    "num_classes": Name("classes (outputs per frame)"),
    "bias": Name("layers with biases", (True,)),
    "dropout": Name("dropout between layers, in training", (0.0,)),
    "class_weights": Name('loss weight of each class: "balanced" (inverse frequency), None or a list',
                          ("balanced",)),
    "epochs": Name("passes over the training data (retrain fine-tunes: fewer)", PER_FUNCTION),
    "lr": Name("Adam's learning rate (retrain fine-tunes: smaller)", PER_FUNCTION),
    "validation": Name("share (or Dataset) of records held out for validation", PER_FUNCTION),
    "grad_clip": Name("gradient norm clip (None: off)", (1.0,)),
    "folds": Name("record folds of a cross-validation", (4, REQUIRED)),
    "groups": Name("records that stay on one side of every split (None: none)", (None,)),
    "baselines": Name("classifiers without recurrence scored on the same folds (None: none)", (None,)),
    "scores": Name("score columns summarised (None: all)", (None,)),
    "confidence": Name("level of the intervals", (0.95,)),
    "by": Name("columns to group a table by (None: none)", (None,)),
    "model_name": Name("the model's name in tables and catalogs (None: its cell and size)", (None,)),
    "model_config": Name("a model's config (None: the one stored in its file)", (None,)),
    "mode": Name('how a silenced unit is held: "zero" or "mean"', ("zero",)),
    "selection": Name('how a share turns into kept units: "fraction" or "threshold"', ("fraction",)),
    "silence": Name("{layer: units} silenced: the run's layer index, the unit ids or a boolean mask (True = "
                    "silenced)", (None, REQUIRED)),
    "capture_kwargs": Name("more keywords of rnnscope.capture", (None,)),
    "rank_on": Name("data the units are ranked or flagged on (None: the data scored)", (None,)),
    "store": Name("a zarr store the result is written to as it is computed, then opened lazily from it (None: "
                  "memory)", (None,)),
    "overwrite": Name("replace a complete store at store", (False,)),
    "unshuffled": Name("classes left out of a label permutation", (None,)),
    # features, time, data
    "feature_config": Name('feature settings: a FeatureConfig, a preset name ("paper", "authors_code") or its '
                           'dict; "auto": the model\'s (else "paper")', ("paper", "auto", REQUIRED)),
    "sampling_rate": Name("samples per second (Hz); None: the data's or the model's; records made or resampled "
                          "by rnnscope default to 100 Hz", (None, 100.0, REQUIRED)),
    "delta_width": Name("frames each side of a delta regression", (2,)),
    "detrend": Name('detrend of each piece: True / "linear", "constant", "demean", "simple", False; "auto": the '
                    "training records' (the model's), else linear", ("auto",)),
    "bandpass": Name('band-pass corners (Hz) or None; "auto": the training records\' (the model\'s), else none',
                     ("auto",)),
    "starttime": Name("UTC start (None: the data's first; the synthetic archive starts on 2024-03-01)",
                      (None, "2024-03-01T00:00:00", REQUIRED)),
    "endtime": Name("UTC end, excluded (None: the data's last)", (None, REQUIRED)),
    "trace_id": Name("SEED id NET.STA.LOC.CHA of a trace (None: the only one)", (None,)),
    "seed_id": Name("SEED id of a monitored channel (None: the only one)", (None, REQUIRED)),
    "event_ids": Name("an id per record (None: rec00000, ... or positions)", (None,)),
    "event_types": Name("QuakeML event type of each class (None: rnnscope.data.QUAKEML_EVENT_TYPES)", (None,)),
    "event_duration_s": Name("duration of events (s) where the data give none", (None,)),
    "class_map": Name("annotation label -> class name (None: the labels themselves)", (None,)),
    "time_scale": Name("seconds per time unit of an annotation file", (1.0,)),
    "catalog": Name("a table of labelled or detected events (None: none)", (None,)),
    "smoothing": Name("moving mean over this many frames (or (\"median\", n), or None)", (5, REQUIRED)),
    "min_duration": Name("minimum detection length in frames per class (None: the authors')", (None, REQUIRED)),
    "min_overlap_s": Name("overlap (s) a detection and a true event need to match (0: any overlap)", (0.0,)),
    "capture_store": Name("folder the monitor writes its runs to (None: none; the review page: where monitor.json "
                          "says, else folder/capture)", (None,)),
    "output": Name("folder the monitor writes its results to (None: memory)", (None,)),
    "modules": Name("recurrent modules captured, by name in model.named_modules() (None: all)", (None,)),
    "time_axis": Name("the input's time axis (an int) of any module", (None,)),
    "label_rate": Name("samples per second of labels (None: per input sample)", (None,)),
    "module_batch": Name("how a module's rows hold the events (None: one row each)", (None,)),
}

#: names refused anywhere: the glossary's name for the same idea
SYNONYMS = {
    "variable": "var", "variables": "var", "state": "var",
    "heat": "weighting",
    "random_state": "seed", "rng_seed": "seed",
    "record": "event", "record_id": "event",
    "event_id": "event_ids",
    "n_jobs": "threads", "n_threads": "threads", "num_threads": "threads", "workers": "threads",
    "show_progress": "progress", "progress_bar": "progress",
    "dev": "device",
    "cfg": "feature_config", "config": "feature_config or model_config", "preset": "feature_config",
    "n_units": "hidden_size", "units_per_layer": "hidden_size", "n_layers": "num_layers",
    "keep": "silence", "silenced": "silence",
    "class_weight": "class_weights",
    "n_folds": "folds", "cv": "folds",
    "window": "time_chunk",
    "kind": "cell",
    "time_format": None,  # its own name (the Explorer's labels): listed so that no other idea takes it
}
#: a few names are legitimately another idea in one place: (callable, name) -> why
OWN_MEANING = {
    ("rnnscope.features.FeatureConfig", "window"): "the analysis window's taper, a stored feature setting",
    ("rnnscope.schema.validate", "kind"): "what kind of Dataset is validated (records, features, run)",
    ("rnnscope.features.FeatureConfig", "preset"): "the name of the preset a FeatureConfig's settings start from",
    ("rnnscope.widgets.Explorer", "time_format"): "how the Explorer labels time",
}
#: result and record classes: users get them from other callables and never build them
RESULTS = {
    "rnnscope.monitoring.MonitorResult", "rnnscope.monitoring.NetworkResult", "rnnscope.analysis.TopFraction",
    "rnnscope.features.FeatureReach", "rnnscope.train.Evaluation",
    "rnnscope.train.Retraining", "rnnscope.schema.VariableSpec", "rnnscope.io.RunWriter", "rnnscope.models.ModelBase",
}
#: numerical kernels whose every argument is a tensor (data)
ALL_DATA = {"rnnscope.models.lstm_cell_scan", "rnnscope.models.lazy_lstm_recurrence"}


def public_signatures() -> dict[str, inspect.Signature]:
    out, seen = {}, set()
    found = [(f"rnnscope.{name}", getattr(rnnscope, name)) for name in rnnscope._FUNCTIONS]
    for module_name in MODULES:
        module = importlib.import_module(f"rnnscope.{module_name}")
        found += [(f"rnnscope.{module_name}.{attr}", getattr(module, attr)) for attr in module.__all__]
    for name, obj in found:
        if not callable(obj) or name in RESULTS or name in ALL_DATA or id(obj) in seen:
            continue
        if isinstance(obj, type) and issubclass(obj, BaseException):
            continue
        seen.add(id(obj))
        try:
            out[name] = inspect.signature(obj)
        except (TypeError, ValueError):
            continue
    return out


SIGNATURES = public_signatures()


def _params(sig):
    return [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and p.name not in ("self", "cls")]


def _same(a, b) -> bool:
    if a is REQUIRED or b is REQUIRED:
        return a is b
    return type(a) is type(b) and a == b


def test_the_public_interface_is_read():
    assert len(SIGNATURES) > 120 and "rnnscope.capture" in SIGNATURES and "rnnscope.widgets.Explorer" in SIGNATURES
    # every public module with an __all__, and every name of rnnscope.__all__ that is a module, is read
    assert {"data", "features", "models", "train", "capturing", "experiments", "analysis", "monitoring", "io", "schema",
            "plots", "widgets", "examples", "errors", "review", "cli"} <= set(MODULES)
    assert {n for n in rnnscope.__all__ if inspect.ismodule(getattr(rnnscope, n))} <= set(MODULES)
    assert "rnnscope.review.ReviewPage" in SIGNATURES and "rnnscope.experiments.silence" in SIGNATURES


#: functions whose defining values are positional as in the libraries their users come from: name -> why
DEFINING_POSITIONALS = {
    "rnnscope.models.RNNClassifier": "the cell and its sizes, as torch.nn.LSTM(input_size, hidden_size)",
    "rnnscope.data.from_arrays": "the samples' rate and class names belong to the arrays, as an ObsPy Trace's stats",
    "rnnscope.data.synthetic_archive": "where, from when and how long: the archive itself",
}


def test_everything_after_the_data_is_keyword_only():
    """At most two positional parameters: the data (a run, a model and its data, two runs, ...); the few
    constructors whose defining values users pass positionally name why (at most four, the rest keyword-only)."""
    offenders = {}
    for name, sig in SIGNATURES.items():
        positional = [p.name for p in _params(sig) if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) > (4 if name in DEFINING_POSITIONALS else 2):
            offenders[name] = positional
    assert not offenders, f"more than two positional parameters (make the rest keyword-only): {offenders}"


#: public methods whose positional parameters are a protocol of their own: method -> why
METHOD_PROTOCOLS = {
    "rnnscope.io.RunWriter.write": "the writer's block protocol (name, rows, t0, n_valid, block), called by capture "
                                   "and the monitor for every block they write",
    "rnnscope.io.RunWriter.write_rows": "the writer's block protocol (name, start, block), as write",
    "rnnscope.io.RunWriter.resize": "the writer's protocol (dim, size, coords): a store grown along a dimension",
}


def public_methods() -> dict[str, inspect.Signature]:
    """The methods rnnscope defines on its public classes (not on torch modules: their forward, step, trace...
    follow PyTorch's positional protocol; not what a class inherits from ipywidgets or pandas)."""
    import torch

    out, seen = {}, set()
    for module_name in MODULES:
        module = importlib.import_module(f"rnnscope.{module_name}")
        for attr in module.__all__:
            cls = getattr(module, attr)
            if not isinstance(cls, type) or issubclass(cls, (BaseException, torch.nn.Module)) or cls in seen:
                continue
            seen.add(cls)
            for klass in cls.__mro__:
                if not klass.__module__.startswith("rnnscope"):
                    continue
                for name, member in vars(klass).items():
                    member = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
                    if name.startswith("_") or not inspect.isfunction(member):
                        continue
                    out.setdefault(f"rnnscope.{module_name}.{attr}.{name}", inspect.signature(member))
    return out


def test_public_methods_take_keywords_after_their_data():
    methods = public_methods()
    assert "rnnscope.widgets.Explorer.show_unit" in methods and "rnnscope.review.ReviewPage.add" in methods
    offenders = {}
    for name, sig in methods.items():
        positional = [p.name for p in _params(sig) if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) > 2 and name not in METHOD_PROTOCOLS:
            offenders[name] = positional
    assert not offenders, f"more than two positional parameters (make the rest keyword-only): {offenders}"
    bad = sorted(f"{name}({p.name}=): say {SYNONYMS[p.name]!r}" for name, sig in methods.items() for p in _params(sig)
                 if p.name in SYNONYMS)
    assert not bad, "synonyms of glossary names:\n" + "\n".join(bad)


def test_no_synonyms():
    used = {(name, p.name) for name, sig in SIGNATURES.items() for p in _params(sig)}
    bad = sorted(f"{name}({param}=): say {SYNONYMS[param]!r}" for name, param in used
                 if param in SYNONYMS and (name, param) not in OWN_MEANING)
    assert not bad, "synonyms of glossary names:\n" + "\n".join(bad)


def test_every_shared_name_is_in_the_glossary_with_one_of_its_defaults():
    users = defaultdict(list)
    for name, sig in SIGNATURES.items():
        for p in _params(sig):
            if (name, p.name) not in OWN_MEANING:
                users[p.name].append((name, p.default))
    missing = sorted(n for n, u in users.items() if len(u) >= 2 and n not in GLOSSARY)
    assert not missing, f"names used by several public callables but not in the glossary: {missing}"
    wrong = []
    for param, uses in users.items():
        entry = GLOSSARY.get(param)
        if entry is None or entry.defaults is PER_FUNCTION:
            continue
        for name, default in uses:
            if default is not REQUIRED and not any(_same(default, d) for d in entry.defaults):
                wrong.append(f"{name}({param}={default!r}): the glossary's defaults are "
                             f"{[d for d in entry.defaults if d is not REQUIRED]}")
    assert not wrong, "defaults the glossary does not give:\n" + "\n".join(sorted(wrong))


def test_every_glossary_name_is_used_by_a_public_callable():
    used = {p.name for sig in SIGNATURES.values() for p in _params(sig)}
    assert not sorted(set(GLOSSARY) - used)


def _rows() -> dict[str, str]:
    rows = {}
    for line in DOCS.read_text().splitlines():
        m = re.match(r"\|\s*`([a-z_0-9]+)`\s*\|", line)
        if m:
            rows[m.group(1)] = line
    return rows


def test_the_glossary_page_gives_every_name_and_its_defaults():
    rows = _rows()
    assert not sorted(set(GLOSSARY) - set(rows)), "glossary names without a row in docs/glossary.md"
    assert not sorted(set(rows) - set(GLOSSARY)), "rows of docs/glossary.md not in the test's glossary"
    for name, entry in GLOSSARY.items():
        defaults = rows[name].split("|")[2]
        if entry.defaults is PER_FUNCTION:
            assert "per function" in defaults, name
            continue
        for d in entry.defaults:
            shown = "required" if d is REQUIRED else repr(d).replace("'", '"')
            assert f"`{shown}`" in defaults or (d is REQUIRED and "required" in defaults), (name, shown, defaults)


@pytest.mark.parametrize("param", ["variable", "heat", "random_state", "keep"])
def test_the_names_the_issue_found_are_gone(param):
    """var/variable/variables, weighting/heat, seed/random_state, keep/silence (issue 26)."""
    assert not [name for name, sig in SIGNATURES.items() if param in sig.parameters]
