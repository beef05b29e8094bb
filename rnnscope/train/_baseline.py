"""Frame-wise baselines: classifiers without temporal context, the floor sequence models must beat.
"""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

__all__ = ["frame_baseline"]


def frame_baseline(dataset: xr.Dataset, train_idx: np.ndarray, test_idx: np.ndarray, *, seed: int = 0) -> float:
    """Accuracy of a classifier that sees one frame at a time (no temporal context).

    A multinomial logistic regression on standardised single-frame features with balanced class weights:
    the floor that recurrent models must beat to show that temporal context matters.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def frames(idx):
        xs, ys = [], []
        for i in idx:
            n = int(dataset["length"][i])
            y = np.asarray(dataset["label"][i, :n].values)
            keep = y >= 0
            xs.append(np.asarray(dataset["features"][i, :n].values)[keep])
            ys.append(y[keep])
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = frames(train_idx)
    x_test, y_test = frames(test_idx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, class_weight="balanced",
                                                                 random_state=seed))
        clf.fit(x_train, y_train)
    return float((clf.predict(x_test) == y_test).mean())
