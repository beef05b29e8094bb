"""Frame scores from a confusion matrix: the one definition of frame accuracy, balanced accuracy and macro F1 that
:func:`rnnscope.train.evaluate`, the baselines, :func:`rnnscope.train.cross_validate` and
:func:`rnnscope.train.sweep` (and through them ``benchmarks/paper_tables.py``) report.
"""
from __future__ import annotations

import numpy as np

__all__ = ["frame_scores"]

#: The frame scores every table reports, in this order.
FRAME_SCORES = ("accuracy", "balanced_accuracy", "macro_f1")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Frame counts ``(true class, predicted class)`` over the frames with ``y_true >= 0``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    known = y_true >= 0
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y_true[known], y_pred[known]), 1)
    return confusion


def confusion_scores(confusion: np.ndarray) -> dict:
    """Per-class precision, recall, F1 and the three frame scores of a confusion matrix (rows: true class).

    Classes *present* are the rows with frames; a class never predicted has precision 0 and F1 0 (scikit-learn's
    ``zero_division=0``). ``accuracy`` = trace / total; ``balanced_accuracy`` = mean recall over present classes;
    ``macro_f1`` = mean F1 over present classes (NaN without frames).
    """
    confusion = np.asarray(confusion)
    tp = np.diag(confusion).astype(float)
    predicted, seen = confusion.sum(0), confusion.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
    present = seen > 0
    total = int(seen.sum())
    nan = float("nan")
    return {
        "accuracy": float(tp.sum() / total) if total else nan,
        "balanced_accuracy": float(recall[present].mean()) if present.any() else nan,
        "macro_f1": float(f1[present].mean()) if present.any() else nan,
        "precision": precision, "recall": recall, "f1": f1, "support": seen,
    }


def frame_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Frame accuracy, balanced accuracy and macro F1 of predicted class indices (the classes of ``y_true`` only).

    Definitions (frames with ``y_true >= 0``; classes *present* = classes that occur in ``y_true``):

    - ``accuracy``: share of frames predicted right (dominated by the frequent classes);
    - ``balanced_accuracy``: mean over present classes of the recall (every class weighs the same, so rare classes
      count as much as the background);
    - ``macro_f1``: mean over present classes of F1 = 2 precision recall / (precision + recall), 0 when undefined.

    :func:`rnnscope.train.evaluate`, :func:`rnnscope.train.cross_validate` and :func:`rnnscope.train.sweep` compute
    their scores with the same code (from the confusion matrix), so baselines and models compare.

    Parameters
    ----------
    y_true : array of int
        True class per frame (-1: unknown, left out).
    y_pred : array of int
        Predicted class per frame.

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` (NaN without a known frame).

    Examples
    --------
    >>> scores = frame_scores(np.array([0, 0, 0, 0, 1, 1]), np.array([0, 0, 0, 0, 0, 1]))
    >>> {k: round(v, 3) for k, v in scores.items()}
    {'accuracy': 0.833, 'balanced_accuracy': 0.75, 'macro_f1': 0.778}
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    known = y_true >= 0
    n_classes = int(max(y_true[known].max(initial=-1), y_pred[known].max(initial=-1))) + 1
    scores = confusion_scores(confusion_matrix(y_true, y_pred, max(n_classes, 1)))
    return {k: scores[k] for k in FRAME_SCORES}
