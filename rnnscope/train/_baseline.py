"""Baselines without recurrence: classifiers that see one frame, or a fixed window of past frames, at a time.

They are the floor a sequence model must beat before anyone says that *temporal context* (memory) matters. Two
floors, because they answer different questions:

- a **one-frame** classifier (``context=0``): what a frame's own features say. ``model="logistic"`` is linear;
  ``model="boosting"`` (scikit-learn's ``HistGradientBoostingClassifier``) is nonlinear. The gap between a
  sequence model and the *linear* floor mixes two things (nonlinearity and memory); the gap to the *nonlinear*
  floor is what memory adds.
- a **context-window** classifier (``context=k``): the same model on the current frame stacked with the ``k``
  frames before it (a fixed, finite memory of ``k x hop`` seconds).

Every frame already looks a little into the past *and the future* of its centre: its features come from a window
centred on it, and the deltas reach further (:func:`rnnscope.features.feature_reach`). So "one frame" means one
feature vector, not one instant.
"""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .._validation import check_choice
from ._scores import frame_scores

__all__ = ["frame_baseline"]

BASELINE_MODELS = ("logistic", "boosting")
#: The baselines of the paper's tables (``benchmarks/paper_tables.py``, ``docs/results.md``): name -> the keywords
#: of :func:`frame_baseline`. ``baselines=True`` of :func:`rnnscope.train.cross_validate` and ``sweep`` runs them.
PAPER_BASELINES = {
    "one-frame logistic": {"estimator": "logistic", "context": 0},
    "one-frame boosting": {"estimator": "boosting", "context": 0},
    "context boosting": {"estimator": "boosting", "context": 4},
}
_BASELINE_KEYS = ("estimator", "context", "class_weights")


def _stack_past(x: np.ndarray, context: int) -> np.ndarray:
    """(n, f) -> (n, (context + 1) f): the frame, then the frame before it, ...; before frame 0, frame 0 repeated.

    >>> _stack_past(np.array([[1.0], [2.0], [3.0]]), 1).tolist()
    [[1.0, 1.0], [2.0, 1.0], [3.0, 2.0]]
    """
    if context == 0:
        return x
    padded = np.concatenate([np.repeat(x[:1], context, axis=0), x])
    n = x.shape[0]
    return np.concatenate([padded[context - j : context - j + n] for j in range(context + 1)], axis=1)


def _frames(dataset, idx, context):
    xs, ys = [], []
    for i in idx:
        n = int(dataset["length"][i])
        y = np.asarray(dataset["label"][i, :n].values)
        x = _stack_past(np.asarray(dataset["features"][i, :n].values, dtype=np.float64), context)
        keep = y >= 0  # past frames of a kept frame may be unlabelled: they are input, never targets
        xs.append(x[keep])
        ys.append(y[keep])
    return np.concatenate(xs), np.concatenate(ys)


def _classifier(estimator, class_weights, seed):
    if estimator == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, class_weight=class_weights,
                                                                  random_state=seed))
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(class_weight=class_weights, random_state=seed)


def frame_baseline(
    dataset: xr.Dataset,
    *,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    estimator: str = "logistic",
    context: int = 0,
    class_weights: str | None = "balanced",
    seed: int = 0,
) -> dict:
    """Scores of a classifier without recurrence, trained on some records and tested on others.

    Each labelled frame is one sample: its feature vector (``context=0``) or the vector stacked with those of the
    ``context`` frames before it (past frames only, the first frame repeated before the record starts; unlabelled
    frames may serve as past input but are never targets). Records are never split: ``train_idx`` and ``test_idx``
    index whole records.

    Parameters
    ----------
    dataset : xarray.Dataset
        Features Dataset (``features``, ``label``, ``length``).
    train_idx, test_idx : array of int
        Record positions of the training and the test records.
    estimator : {"logistic", "boosting"}
        ``"logistic"``: multinomial logistic regression on standardised features (linear);
        ``"boosting"``: scikit-learn's ``HistGradientBoostingClassifier`` with its defaults (nonlinear; 100
        boosting rounds, early stopping on a seeded 10 % of the training frames when there are more than 10,000).
    context : int
        Past frames stacked with the current one (0: one frame; ``k``: a window of ``k + 1`` frames).
    class_weights : "balanced" or None
        ``"balanced"`` weighs frames by ``n / (n_classes x count_c)`` (as :func:`rnnscope.train.fit` does by
        default: recall on rare classes at the cost of frame accuracy); None: every frame counts once.
    seed : int
        Seed of the classifier (``random_state``).

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` (:func:`frame_scores` on the test frames),
        ``n_train_frames``, ``n_test_frames``.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=8, seed=0))
    >>> scores = frame_baseline(frames, train_idx=np.arange(6), test_idx=np.array([6, 7]),
    ...                         estimator="logistic", context=2)
    >>> sorted(scores)
    ['accuracy', 'balanced_accuracy', 'macro_f1', 'n_test_frames', 'n_train_frames']
    >>> 0 <= scores["balanced_accuracy"] <= 1
    True
    """
    func = "frame_baseline"
    check_choice(estimator, BASELINE_MODELS, name="estimator", func=func)
    check_choice(class_weights, ("balanced", None), name="class_weights", func=func)
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 0:
        raise ValueError(f"The 'context' parameter of {func} must be an integer >= 0 (past frames stacked with "
                         f"the current one). Got {context!r} instead.")
    x_train, y_train = _frames(dataset, np.asarray(train_idx), int(context))
    x_test, y_test = _frames(dataset, np.asarray(test_idx), int(context))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the logistic regression
        clf = _classifier(estimator, class_weights, seed)
        clf.fit(x_train, y_train)
        predicted = clf.predict(x_test)
    return {**frame_scores(y_test, predicted), "n_train_frames": int(y_train.size), "n_test_frames": int(y_test.size)}


def baseline_specs(baselines, class_weights, func: str) -> dict[str, dict]:
    """``baselines`` of cross_validate / sweep as name -> :func:`frame_baseline` keywords.

    ``None`` / ``False``: none; ``True``: :data:`PAPER_BASELINES`; a list of their names; or a mapping name ->
    keywords (``estimator``, ``context``, ``class_weights``). The class weighting follows the sequence models'
    ``class_weights`` ("balanced" or None) unless a baseline sets its own.
    """
    if baselines is None or baselines is False:
        return {}
    if baselines is True:
        baselines = dict(PAPER_BASELINES)
    elif isinstance(baselines, str) or not hasattr(baselines, "__iter__"):
        raise TypeError(f"The 'baselines' parameter of {func} must be True (the paper's three), a list of names out "
                        f"of {list(PAPER_BASELINES)}, or a mapping name -> frame_baseline keywords. Got "
                        f"{baselines!r} instead.")
    elif not hasattr(baselines, "items"):
        unknown = [b for b in baselines if b not in PAPER_BASELINES]
        if unknown:
            raise ValueError(f"The 'baselines' parameter of {func} names {unknown}; the named baselines are "
                             f"{list(PAPER_BASELINES)} (or pass a mapping name -> frame_baseline keywords).")
        baselines = {b: PAPER_BASELINES[b] for b in baselines}
    specs = {}
    for name, spec in baselines.items():
        spec = dict(spec)
        wrong = sorted(set(spec) - set(_BASELINE_KEYS))
        if wrong:
            raise ValueError(f"{func}: baseline {name!r} has keywords {wrong}; a baseline takes {list(_BASELINE_KEYS)} "
                             "(those of rnnscope.train.frame_baseline).")
        if "class_weights" not in spec:
            if not (class_weights is None or (isinstance(class_weights, str) and class_weights == "balanced")):
                raise ValueError(f"{func}: the models' class_weights are a list of weights, which the baselines do "
                                 f"not take; give baseline {name!r} its own class_weights ('balanced' or None).")
            spec["class_weights"] = class_weights
        spec.setdefault("context", 0)
        spec.setdefault("estimator", "logistic")
        check_choice(spec["estimator"], BASELINE_MODELS, name="estimator", func=func)
        specs[str(name)] = spec
    return specs
