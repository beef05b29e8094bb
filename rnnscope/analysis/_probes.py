"""What the states encode, read out linearly: cross-validated linear probes per layer and variable, gate saturation.

A probe is a linear model fitted from the states of one layer (one frame = one sample) to a target known for that
frame; its cross-validated score, next to the score of a predictor that ignores the states (the chance level), says
how much of the target is *linearly decodable* from the layer. Records are never split between training and test
folds (frames of one record are strongly correlated), so the folds are grouped by record.

This module imports no torch (scikit-learn is imported when a probe is fitted).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .._validation import FROM_DATA, no_background_message, resolve_background
from ..errors import NoBackgroundWarning
from ..schema import STATE_VARIABLES
from . import _common as C
from ._null import check_null, null_attrs, permuted_labels, summarise

__all__ = ["linear_probes", "gate_saturation", "PROBE_TARGETS", "GATE_VARIABLES"]

#: Targets every run can be probed for (``band_energy`` needs ``features``; ``time_since_onset`` a segment table).
PROBE_TARGETS = ("class", "event", "time_since_onset", "band_energy")
_CLASSIFICATION = ("class", "event")
#: Sigmoid gates (values in [0, 1]) of the LSTM and GRU cells.
GATE_VARIABLES = ("input_gate", "forget_gate", "output_gate", "update_gate", "reset_gate")
_METRICS = ("balanced_accuracy", "accuracy")


# --------------------------------------------------------------------------------------------- checks


def _check_vars(run, var, func: str) -> list[str]:
    available = C.state_variables(run)
    if isinstance(var, str) and var == "all":  # in capture order, whatever the order of the run's variables
        canonical = list(dict.fromkeys(v for family in STATE_VARIABLES.values() for v in family))
        return sorted(available, key=lambda v: (canonical.index(v) if v in canonical else len(canonical), v))
    names = [var] if isinstance(var, str) else list(var) if isinstance(var, Sequence) else [var]
    if not names:
        raise ValueError(f"The 'var' parameter of {func} must be 'all', one of {available} or a list of them. "
                         "Got an empty list instead.")
    return [C.check_var(run, name, func) for name in names]


def _feature_names(run) -> list[str]:
    if "feature" in run.coords:
        return [str(f) for f in np.asarray(run["feature"].values)]
    return [str(i) for i in range(run.sizes.get("feature", 0))]


def _default_bands(names: list[str]) -> list[str]:
    """The log filter-bank energies (``lfb_*``), else every feature that is not a delta (``d_*``, ``dd_*``)."""
    bands = [n for n in names if n.startswith("lfb")]
    if bands:
        return bands
    plain = [n for n in names if not n.startswith(("d_", "dd_"))]
    return plain or names


def _check_targets(run, targets, bands, func: str):
    names = _feature_names(run) if "features" in run else []
    has_segments = "segment_start" in run and run.sizes.get("segment", 0) > 0
    if targets is None:
        targets = [t for t in PROBE_TARGETS
                   if (t != "band_energy" or names) and (t != "time_since_onset" or has_segments)]
    elif isinstance(targets, str):
        targets = [targets]
    targets = list(targets)
    valid = list(PROBE_TARGETS) + names
    bad = [t for t in targets if t not in valid]
    if bad or not targets:
        raise ValueError(f"The 'targets' parameter of {func} must be a list drawn from {list(PROBE_TARGETS)} or "
                         f"feature names of the run ({names[:4]}...). Got {targets!r} instead.")
    if "band_energy" in targets and not names:
        raise ValueError(f"{func}: the 'band_energy' target needs the run's 'features'; this run has none. Drop it "
                         "from 'targets' or capture the run from a features Dataset.")
    if "time_since_onset" in targets and not has_segments:
        raise ValueError(f"{func}: the 'time_since_onset' target needs a segment table (segment_start, ...); this "
                         "run has none. Drop it from 'targets'.")
    if bands is None:
        bands = _default_bands(names)
    else:
        bands = [bands] if isinstance(bands, str) else [str(b) for b in bands]
        unknown = [b for b in bands if b not in names]
        if unknown or not bands:
            raise ValueError(f"The 'bands' parameter of {func} must name features of the run (e.g. {names[:3]}). "
                             f"Got {bands!r} instead.")
    return targets, bands


#: targets that need the background class (what is "inside an event")
_EVENT_TARGETS = ("event", "time_since_onset")


def _background_index(run, background, targets, explicit: bool, func: str) -> tuple[int, list]:
    """Index of the background class (``background``, else the run's ``attrs["background"]``) and the targets.

    Without one the event targets cannot be defined: chosen by default they are left out with a warning; asked
    for, they are an error. Returns -1 when no target needs it.
    """
    names = C.class_names(run)
    if background is not None and not (isinstance(background, str) and background == FROM_DATA) \
            and background not in names:
        raise ValueError(f"The 'background' parameter of {func} must be one of the run's classes {names} (or "
                         f"'auto': the run's attrs['background']). Got {background!r} instead.")
    resolved = resolve_background(background, names, run.attrs, func=func)
    needs = [t for t in targets if t in _EVENT_TARGETS]
    if resolved is not None or not needs:
        return (names.index(resolved) if resolved is not None else -1), targets
    message = no_background_message(func, "the run has no attrs['background']", names,
                                    f"the targets {needs} (inside an event) are undefined", none_ok=False)
    if explicit:
        raise ValueError(message + f" Or leave {needs} out of 'targets'.")
    warnings.warn(message + " They are left out of the default targets.", NoBackgroundWarning, stacklevel=3)
    return -1, [t for t in targets if t not in _EVENT_TARGETS]


# --------------------------------------------------------------------------------------------- frames


def _sample_frames(run, max_frames, seed):
    """Per record, the sorted frame indices of a seeded uniform sample of ``max_frames`` valid frames (all if None)."""
    n_frames = C.lengths(run)
    total = int(n_frames.sum())
    if max_frames is None or max_frames >= total:
        return [np.arange(n) for n in n_frames]
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=max_frames, replace=False))
    starts = np.r_[0, np.cumsum(n_frames)[:-1]]
    event = np.searchsorted(starts, chosen, side="right") - 1
    return [chosen[event == e] - starts[e] for e in range(n_frames.size)]


def _fancy(data, event, idx):
    block = data[event][idx]
    if not isinstance(block, np.ndarray):
        block = block.compute() if hasattr(block, "compute") else np.asarray(block)
    return block


def _frame_segments(run, table) -> dict[int, np.ndarray]:
    """Per record (length,), the row of ``table`` (:func:`~rnnscope.analysis._common.segment_table`) of the segment
    holding each frame, -1 outside any segment."""
    out = {e: np.full(int(n), -1, dtype=np.int64) for e, n in enumerate(C.lengths(run))}
    for row, (e, a, b) in enumerate(
        zip(*(table[c].to_numpy() for c in ("event", "frame_start", "frame_stop")), strict=True)
    ):
        out[int(e)][int(a):int(b)] = row
    return out


def _since_onset(seg_of, frame_time, seg_start, seg_class, bg) -> np.ndarray:
    """Time since the start of the enclosing segment (s) for frames inside a segment of a class other than ``bg``,
    NaN elsewhere; ``seg_class`` gives each segment's class (the run's, or permuted ones)."""
    row = np.maximum(seg_of, 0)
    inside = (seg_of >= 0) & (seg_class[row] != bg) if seg_class.size else np.zeros(seg_of.size, dtype=bool)
    return np.where(inside, frame_time - (seg_start[row] if seg_start.size else 0.0), np.nan)


# --------------------------------------------------------------------------------------------- fitting


def _cross_validate(x, y, groups, kind, metric, folds):
    """Pooled out-of-fold score of the probe and of the state-blind baseline; (nan, nan) when not possible."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, r2_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_groups = np.unique(groups).size
    if n_groups < 2 or (kind == "classification" and np.unique(y).size < 2):
        return np.nan, np.nan
    splitter = GroupKFold(n_splits=min(folds, n_groups))
    pred = np.zeros_like(y, dtype=np.float64 if kind == "regression" else y.dtype)
    base = np.zeros_like(pred)
    for train, test in splitter.split(x, y, groups):
        if kind == "classification":
            baseline = DummyClassifier(strategy="most_frequent")
            if np.unique(y[train]).size < 2:
                model = DummyClassifier(strategy="most_frequent")
            else:
                weight = "balanced" if metric == "balanced_accuracy" else None
                model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight=weight))
        else:
            baseline = DummyRegressor(strategy="mean")
            model = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            model.fit(x[train], y[train])
            pred[test] = model.predict(x[test])
        base[test] = baseline.fit(x[train], y[train]).predict(x[test])
    if kind == "regression":
        score = {"multioutput": "uniform_average"}
        return float(r2_score(y, pred, **score)), float(r2_score(y, base, **score))
    scorer = balanced_accuracy_score if metric == "balanced_accuracy" else accuracy_score
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true"
        return float(scorer(y, pred)), float(scorer(y, base))


def linear_probes(
    run: xr.Dataset,
    *,
    targets: str | Sequence[str] | None = None,
    var: str | Sequence[str] = "h",
    layer=None,
    folds: int = 4,
    max_frames: int | None = 5000,
    seed: int = 0,
    background: str | None = "auto",
    bands: Sequence[str] | None = None,
    metric: str = "balanced_accuracy",
    threads: int | None = 1,
    null: int | None = None,
    null_within: str = "record",
    progress: bool = True,
) -> pd.DataFrame:
    """Cross-validated linear probes from each layer's states to what the network should know, per variable.

    Targets (per valid frame):

    - ``"class"``: the frame's class (frames with a known label, ``label >= 0``);
    - ``"event"``: inside an event, i.e. the label is not the ``background`` class (known labels only);
    - ``"time_since_onset"``: seconds since the start of the enclosing labelled segment (frame centre time minus
      ``segment_start``), for frames inside segments of a class other than ``background``;
    - ``"band_energy"``: the log filter-bank energies of the frame's input (``bands``; by default the features named
      ``lfb_*``, the paper preset's 16 log filter-bank energies, else every non-delta feature), R² averaged over
      bands;
    - any feature name of the run (e.g. ``"lfb_03"``): that input feature.

    Probes: classification with a standardised multinomial logistic regression (scikit-learn
    ``LogisticRegression``, L2, ``C=1``; ``class_weight="balanced"`` for ``metric="balanced_accuracy"``), regression
    with a standardised ridge regression (``Ridge``, ``alpha=1``). Cross-validation: ``GroupKFold`` with the record
    as group (``min(folds, records)`` folds), so no record is in both the training and the test fold; the
    out-of-fold predictions of all folds are pooled and scored once. ``chance`` is the same cross-validated score
    of a predictor that ignores the states (the training fold's majority class, or its mean: about the
    majority-class share for accuracy, ``1 / classes`` for balanced accuracy, 0 (slightly below) for R²).

    Frames: a seeded uniform sample of at most ``max_frames`` valid frames of the whole run (``seed``), shared by
    every target (each target then uses the sampled frames where it is defined; ``n_frames`` says how many), so
    the cost does not grow with the run. Records are read one at a time.

    Chance level (``null=N``): ``chance`` is what a predictor that ignores the states scores; whether the probe's
    score is more than a linear read-out of anything fits by chance is answered by refitting it on ``N``
    permutations of the segments' classes within records (seeded by ``seed``): frames inside a segment take their
    segment's permuted class, so ``class``, ``event`` and ``time_since_onset`` become targets the states cannot
    know. Each row then gets ``score_null_mean``, ``score_null_q95`` and ``score_p`` (one-sided). The input
    features (``band_energy``, a feature name) are not segment labels: their null columns are NaN (their
    ``chance`` is the state-blind R² of about 0). Every permutation refits every probe: ``N + 1`` times the cost,
    with a progress bar.

    Parameters
    ----------
    run : xarray.Dataset
    targets : str or list of str, optional
        Default: every target of :data:`PROBE_TARGETS` the run supports.
    var : str, list of str or "all"
        State variables to probe (default ``"h"``; ``"all"``: ``h``, ``c`` and every gate the run holds).
    layer : int, list of int or None
        Layers (None: all); one probe per layer.
    folds : int
        Number of record folds (default 4, as :func:`rnnscope.train.cross_validate`; at least 2; fewer when the
        run has fewer records).
    max_frames : int or None
        Frames sampled (None: all valid frames).
    seed : int
        Seed of the frame sample (and of the permutations).
    background : str, optional
        The class that is not an event, for the ``"event"`` and ``"time_since_onset"`` targets. ``"auto"``
        (default): the run's ``attrs["background"]``. When nothing says which class it is, those targets are left
        out of the default targets with a warning, and asking for them is an error.
    bands : list of str, optional
        Feature names of the ``band_energy`` target.
    metric : {"balanced_accuracy", "accuracy"}
        Score of the classification probes (R² for regression).
    threads : int or None
        BLAS / OpenMP threads while fitting (``threadpoolctl``, restored afterwards; default 1: the probes are small
        and extra threads mostly wait on a busy machine). None leaves the thread pools as they are.
    null : int, optional
        Number of permutations of the segment labels (None: no permutation null).
    null_within : {"record", "run"}
        Permute the classes among the segments of each record (default) or among all segments.
    progress : bool
        Show a progress bar over the fits when ``null`` is given.

    Returns
    -------
    pandas.DataFrame
        One row per (target, variable, layer): ``target``, ``var``, ``layer``, ``metric`` (``balanced_accuracy``,
        ``accuracy`` or ``r2``), ``score``, ``chance``, ``n_frames``, ``n_records`` (and ``score_null_mean``,
        ``score_null_q95``, ``score_p`` with ``null``). NaN scores, with an :class:`EmptyClassWarning`, when a
        target has fewer than two classes or two records among the sampled frames.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> analysis.linear_probes(examples.toy_run())["target"].tolist()  # every target the run supports
    ['class', 'event', 'time_since_onset', 'band_energy']
    >>> table = analysis.linear_probes(examples.toy_run(), targets=["class", "event"], folds=3)
    >>> table[["target", "var", "layer", "metric"]].values.tolist()
    [['class', 'h', 0, 'balanced_accuracy'], ['event', 'h', 0, 'balanced_accuracy']]
    >>> bool(table.set_index("target").loc["event", "score"] > table.set_index("target").loc["event", "chance"])
    True
    >>> with_null = analysis.linear_probes(examples.toy_run(), targets=["event"], folds=3, null=9, progress=False)
    >>> with_null.columns.tolist()[-3:], bool(0 < with_null["score_p"][0] <= 1)
    (['score_null_mean', 'score_null_q95', 'score_p'], True)
    """
    func = "linear_probes"
    run = C.as_run(run, func)
    variables = _check_vars(run, var, func)
    positions = C.check_layers(run, layer, func)
    explicit = targets is not None
    targets, bands = _check_targets(run, targets, bands, func)
    folds = C.check_int(folds, name="folds", func=func, minimum=2)
    if max_frames is not None:
        max_frames = C.check_int(max_frames, name="max_frames", func=func, minimum=1)
    C.choose(metric, _METRICS, name="metric", func=func)
    if threads is not None:
        threads = C.check_int(threads, name="threads", func=func, minimum=1)
    seed = C.check_int(seed, name="seed", func=func)
    bg, targets = _background_index(run, background, targets, explicit, func)
    names = _feature_names(run) if "features" in run else []
    feature_cols = sorted({names.index(b) for b in bands} | {names.index(t) for t in targets if t in names}) \
        if any(t == "band_energy" or t in names for t in targets) else []

    null = check_null(null, null_within, seed, func)
    null_targets = [t for t in targets if t in _NULL_TARGETS] if null else []
    picks = _sample_frames(run, max_frames, seed)
    segments = C.segment_table(run) if ("time_since_onset" in targets or null_targets) else None
    seg_map = _frame_segments(run, segments) if segments is not None else None
    times = np.asarray(run["time"].values, dtype=np.float64)
    lab = None
    if "label" in run:
        lab = run["label"] if tuple(run["label"].dims) == ("event", "time") else run["label"].transpose("event", "time")
    feat = None
    if feature_cols:
        feat = run["features"]
        if tuple(feat.dims) != ("event", "time", "feature"):
            feat = feat.transpose("event", "time", "feature")
    label_parts: list[np.ndarray] = []
    feat_parts: list[np.ndarray] = []
    seg_of: list[np.ndarray] = []
    frame_time: list[np.ndarray] = []
    group_parts: list[np.ndarray] = []
    for event, idx in enumerate(picks):
        if idx.size == 0:
            continue
        label_parts.append(np.full(idx.size, -1, dtype=np.int64) if lab is None
                           else _fancy(lab.data, event, idx).astype(np.int64))
        if feat is not None:
            feat_parts.append(_fancy(feat.data, event, idx)[:, feature_cols].astype(np.float64))
        if seg_map is not None:
            seg_of.append(seg_map[event][idx])
            frame_time.append(times[idx])
        group_parts.append(np.full(idx.size, event))
    if not group_parts:
        raise ValueError(f"{func}: the run has no valid frame (every length is 0).")
    labels, groups = np.concatenate(label_parts), np.concatenate(group_parts)
    feats = np.concatenate(feat_parts) if feature_cols else None
    segs = None
    if seg_map is not None and segments is not None:
        segs = (np.concatenate(seg_of), np.concatenate(frame_time), segments["start"].to_numpy(np.float64),
                segments["class"].to_numpy(np.int64), segments["event"].to_numpy(np.int64))
    since = _since_onset(*segs[:4], bg) if segs is not None and "time_since_onset" in targets else None

    def problems_of(labels, since):
        return [(target, *_target(target, labels, since, feats, bg, bands, names, feature_cols))
                for target in targets]

    problems = problems_of(labels, since)
    null_problems = _null_problems(segs, labels, bg, null, seed, null_within, problems_of, func) if null_targets \
        else []

    from threadpoolctl import threadpool_limits

    rows = []
    layer_ids = C.layer_ids(run, positions)
    n_fits = len(variables) * len(layer_ids) * (len(targets) + (null or 0) * len(null_targets))
    bar = _bar(n_fits, bool(null) and progress)
    with threadpool_limits(limits=threads):
        for v in variables:  # one variable in memory at a time: (sampled frames, unit, selected layers)
            data = C._ordered(run, v)
            states = np.concatenate([_fancy(data, e, idx)[..., positions] for e, idx in enumerate(picks) if idx.size])
            for i, (target, kind, mask, y) in enumerate(problems):
                for j, lay in enumerate(layer_ids):
                    x = C.drop_padded_units(states[mask][:, :, j].astype(np.float64))
                    score, chance = _cross_validate(x, y[mask], groups[mask], kind, metric, folds)
                    row = {"target": target, "var": v, "layer": lay,
                           "metric": metric if kind == "classification" else "r2", "score": score,
                           "chance": chance, "n_frames": int(mask.sum()),
                           "n_records": int(np.unique(groups[mask]).size)}
                    bar.update(1)
                    if null:
                        scores = np.full(null, np.nan)
                        for n, perm in enumerate(null_problems if target in null_targets else []):
                            _, _, mask_n, y_n = perm[i]
                            x_n = C.drop_padded_units(states[mask_n][:, :, j].astype(np.float64))
                            scores[n] = _cross_validate(x_n, y_n[mask_n], groups[mask_n], kind, metric, folds)[0]
                            bar.update(1)
                        row.update(
                            {
                                f"score_{key}": float(value)
                                for key, value in zip(
                                    ("null_mean", "null_q95", "p"), summarise(np.float64(score), scores), strict=True
                                )
                            }
                        )
                    rows.append(row)
    bar.close()
    order = {(t, v): (i, k) for i, t in enumerate(targets) for k, v in enumerate(variables)}
    rows.sort(key=lambda r: order[(r["target"], r["var"])])  # stable: layers stay in order
    columns = ["target", "var", "layer", "metric", "score", "chance", "n_frames", "n_records"]
    table = pd.DataFrame(rows, columns=columns + (["score_null_mean", "score_null_q95", "score_p"] if null else []))
    empty = list(dict.fromkeys(table.loc[table["score"].isna(), "target"]))
    if empty:
        warnings.warn(f"{func}: target(s) {empty} have fewer than two classes or two records among the sampled "
                      "frames; their scores are NaN (raise max_frames or probe a run with more records).",
                      C.EmptyClassWarning, stacklevel=2)
    table.attrs.update(max_frames=max_frames, seed=seed, folds=folds,
                       background=C.class_names(run)[bg] if bg >= 0 else None, bands=list(bands),
                       **(null_attrs(null, null_within, seed) if null else {}))
    return table


#: Targets made from the segment labels, whose chance level a permutation of those labels gives.
_NULL_TARGETS = ("class", "event", "time_since_onset")


def _null_problems(segs, labels, bg, null, seed, within, problems_of, func) -> list:
    """The targets of ``null`` permutations of the segments' classes within records: frames inside a segment with a
    known label take their segment's permuted class (and ``time_since_onset`` follows the permuted classes)."""
    seg_of, frame_time, seg_start, seg_class, seg_record = segs
    perms = permuted_labels(seg_class, seg_record, null, np.random.default_rng(seed), within=within, func=func)
    inside = (seg_of >= 0) & (labels >= 0)
    row = np.maximum(seg_of, 0)
    out = []
    for classes in perms:
        permuted = np.where(inside, classes[row] if classes.size else labels, labels)
        out.append(problems_of(permuted, _since_onset(seg_of, frame_time, seg_start, classes, bg)))
    return out


def _bar(total: int, enabled):
    """A progress bar over the probe fits (only with a null: N + 1 fits per probe), or a stand-in."""
    if not enabled:
        class _Silent:
            def update(self, n):
                pass

            def close(self):
                pass

        return _Silent()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="fit", desc="linear_probes", leave=False)


def _target(target, labels, since, feats, bg, bands, names, feature_cols):
    """(kind, frames where the target is defined, values) of one target over the sampled frames."""
    if target == "class":
        return "classification", labels >= 0, labels
    if target == "event":
        return "classification", labels >= 0, (labels != bg).astype(np.int64)
    if target == "time_since_onset":
        return "regression", np.isfinite(since), since
    cols = [feature_cols.index(names.index(b)) for b in (bands if target == "band_energy" else [target])]
    y = feats[:, cols]
    return "regression", np.all(np.isfinite(y), axis=1), (y if target == "band_energy" else y[:, 0])


# --------------------------------------------------------------------------------------------- gates


def gate_saturation(run: xr.Dataset, *, var: str | Sequence[str] = "gates", layer=None, low: float = 0.05,
                    high: float = 0.95) -> xr.Dataset:
    """Share of gate values that are saturated: below ``low`` (closed) or above ``high`` (open).

    Definition: over the valid frames of every record and every unit of a layer, ``saturation`` = share of values
    ``< low`` or ``> high`` (``below`` and ``above`` separately; ``unit_saturation`` per unit). A saturated gate acts
    like a switch (0 or 1) rather than a graded multiplier; e.g. forget gates near 1 hold memory, update gates near
    1 keep a GRU's state.

    Parameters
    ----------
    run : xarray.Dataset
    var : str or list of str
        ``"gates"`` (default): every sigmoid gate the run holds (:data:`GATE_VARIABLES`: ``input_gate``,
        ``forget_gate``, ``output_gate`` for LSTMs, ``update_gate``, ``reset_gate`` for GRUs). Any state variable
        may be named, with thresholds suited to its range (e.g. ``var="h", low=-0.95, high=0.95`` for tanh saturation).
    layer : int, list of int or None
    low, high : float
        Thresholds, ``low < high``.

    Returns
    -------
    xarray.Dataset
        ``saturation``, ``below``, ``above`` (variable, layer); ``unit_saturation`` (variable, unit, layer);
        ``n_frames``.

    Raises
    ------
    ValueError
        When the run holds no gate (capture with ``var="all"``) or for an unknown variable.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()
    >>> run["forget_gate"] = 1 / (1 + np.exp(-4 * run["c"]))  # a stand-in gate for the example
    >>> sat = analysis.gate_saturation(run)
    >>> sat["saturation"].dims, bool(0 <= float(sat["saturation"].max()) <= 1)
    (('variable', 'layer'), True)
    """
    func = "gate_saturation"
    run = C.as_run(run, func)
    if isinstance(var, str) and var == "gates":
        variables = [v for v in GATE_VARIABLES if v in C.state_variables(run)]
        if not variables:
            raise ValueError(
                f"{func}: the run holds no gate variable ({list(GATE_VARIABLES)}); it has {C.state_variables(run)}. "
                "Capture the gates with rnnscope.capture(model, frames, var='all') or name a variable with var=."
            )
    else:
        variables = _check_vars(run, var, func)
    positions = C.check_layers(run, layer, func)
    ok = all(isinstance(t, (int, float, np.integer, np.floating)) and not isinstance(t, bool) for t in (low, high))
    if not ok or not low < high:
        raise ValueError(f"The 'low' and 'high' parameters of {func} must be numbers with low < high. "
                         f"Got low={low!r}, high={high!r} instead.")
    shape = (len(variables), run.sizes["unit"], positions.size)
    below, above = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    frames = 0
    for i, v in enumerate(variables):
        count = 0
        for block in C.iter_blocks(run, v, positions, labels=False):
            below[i] += (block.values < low).sum(0)
            above[i] += (block.values > high).sum(0)
            count += block.values.shape[0]
        frames = count
    with np.errstate(invalid="ignore", divide="ignore"):
        unit_low, unit_high = below / frames, above / frames
    dims = ("variable", "layer")
    out = xr.Dataset(
        {
            "saturation": (dims, (unit_low + unit_high).mean(1)),
            "below": (dims, unit_low.mean(1)),
            "above": (dims, unit_high.mean(1)),
            "unit_saturation": (("variable", "unit", "layer"), unit_low + unit_high),
            "n_frames": frames,
        },
        coords={"variable": variables, "unit": C.unit_ids(run), "layer": C.layer_ids(run, positions)},
    )
    out["saturation"].attrs["definition"] = f"share of values < {low} or > {high} over valid frames and units"
    out.attrs.update(low=float(low), high=float(high))
    return out
