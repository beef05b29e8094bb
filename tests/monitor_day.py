"""A monitored stretch of a synthetic archive for the widget and review-page tests.

:func:`build_monitor_run` makes 20 minutes of a synthetic SDS archive at 50 Hz monitored by an untrained LSTM with a
capture store, opened lazily from disk; its detections are the archive's true events (an untrained model detects
next to nothing) with the monitor's columns. tests/conftest.py serves it as the session fixture ``monitor_run``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

import rnnscope

SEED_ID = "XX.WID..HHZ"
START = "2024-03-01T00:00:00"


def build_monitor_run(tmp_path_factory):
    """(run opened from disk, detections DataFrame, root folder with ``sds/`` and ``capture/``)."""
    import torch

    from rnnscope.data._synthetic_archive import write_sds_archive

    root = tmp_path_factory.mktemp("monitor")
    truth, _ = write_sds_archive(root / "sds", START, 1200.0, seed=4, seed_id=SEED_ID, sampling_rate=50.0)
    n_features = rnnscope.features.compute(rnnscope.data.synthetic(n_records=1, seed=0, sampling_rate=50.0)).sizes[
        "feature"]
    torch.manual_seed(7)
    model = rnnscope.models.RNNClassifier("lstm", input_size=n_features, hidden_size=8, num_classes=5)
    result = rnnscope.monitor(model, root / "sds", capture_store=root / "capture", sampling_rate=50.0, progress=False)
    # the true events as the detections: a catalog with the monitor's columns and enough rows to step through
    detections = truth.assign(duration_s=(truth["end"] - truth["start"]).dt.total_seconds(),
                              p_mean=np.linspace(0.3, 0.95, len(truth)), p_peak=1.0)
    detections = detections[detections["start"] > pd.Timestamp("2024-03-01T00:00:03Z")].reset_index(drop=True)
    assert len(detections) >= 8 and set(detections.columns) <= set(result.detections.columns)
    return rnnscope.open_run(result.capture_store[0]), detections, root
