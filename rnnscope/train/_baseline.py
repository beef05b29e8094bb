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

__all__ = ["frame_baseline", "frame_scores"]

BASELINE_MODELS = ("logistic", "boosting")


def frame_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Frame accuracy, balanced accuracy and macro F1 of predicted class indices (the classes of ``y_true`` only).

    Definitions (frames with ``y_true >= 0``; classes *present* = classes that occur in ``y_true``):

    - ``accuracy``: share of frames predicted right (dominated by the frequent classes);
    - ``balanced_accuracy``: mean over present classes of the recall (every class weighs the same, so rare classes
      count as much as the background);
    - ``macro_f1``: mean over present classes of F1 = 2 precision recall / (precision + recall), 0 when undefined.

    These are the definitions of :func:`rnnscope.train.evaluate` (``accuracy``, ``macro_f1``; the balanced
    accuracy is the mean of its ``per_class.recall`` over classes with support), so baselines and models compare.

    Examples
    --------
    >>> scores = frame_scores(np.array([0, 0, 0, 0, 1, 1]), np.array([0, 0, 0, 0, 0, 1]))
    >>> {k: round(v, 3) for k, v in scores.items()}
    {'accuracy': 0.833, 'balanced_accuracy': 0.75, 'macro_f1': 0.778}
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    keep = y_true >= 0
    y_true, y_pred = y_true[keep], y_pred[keep]
    present = np.unique(y_true)
    recall, f1 = [], []
    for c in present:
        tp = float(np.sum((y_true == c) & (y_pred == c)))
        support, predicted = float(np.sum(y_true == c)), float(np.sum(y_pred == c))
        r = tp / support
        p = tp / predicted if predicted else 0.0
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r > 0 else 0.0)
    if not present.size:
        return {"accuracy": float("nan"), "balanced_accuracy": float("nan"), "macro_f1": float("nan")}
    return {"accuracy": float(np.mean(y_true == y_pred)), "balanced_accuracy": float(np.mean(recall)),
            "macro_f1": float(np.mean(f1))}


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


def _classifier(model, class_weight, seed):
    if model == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, class_weight=class_weight,
                                                                  random_state=seed))
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(class_weight=class_weight, random_state=seed)


def frame_baseline(
    dataset: xr.Dataset,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    *,
    model: str = "logistic",
    context: int = 0,
    class_weight: str | None = "balanced",
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
    model : {"logistic", "boosting"}
        ``"logistic"``: multinomial logistic regression on standardised features (linear);
        ``"boosting"``: scikit-learn's ``HistGradientBoostingClassifier`` with its defaults (nonlinear; 100
        boosting rounds, early stopping on a seeded 10 % of the training frames when there are more than 10,000).
    context : int
        Past frames stacked with the current one (0: one frame; ``k``: a window of ``k + 1`` frames).
    class_weight : "balanced" or None
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
    >>> scores = frame_baseline(frames, np.arange(6), np.array([6, 7]), model="boosting", context=2)
    >>> sorted(scores)
    ['accuracy', 'balanced_accuracy', 'macro_f1', 'n_test_frames', 'n_train_frames']
    >>> 0 <= scores["balanced_accuracy"] <= 1
    True
    """
    func = "frame_baseline"
    check_choice(model, BASELINE_MODELS, name="model", func=func)
    check_choice(class_weight, ("balanced", None), name="class_weight", func=func)
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 0:
        raise ValueError(f"The 'context' parameter of {func} must be an integer >= 0 (past frames stacked with "
                         f"the current one). Got {context!r} instead.")
    x_train, y_train = _frames(dataset, np.asarray(train_idx), int(context))
    x_test, y_test = _frames(dataset, np.asarray(test_idx), int(context))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the logistic regression
        clf = _classifier(model, class_weight, seed)
        clf.fit(x_train, y_train)
        predicted = clf.predict(x_test)
    return {**frame_scores(y_test, predicted), "n_train_frames": int(y_train.size), "n_test_frames": int(y_test.size)}
