"""Shared by the browser tests: a day-long monitor output, built once per session.

The day: one station-day of a synthetic SDS archive at 50 Hz, a small LSTM (16 units) trained briefly on
synthetic records at 50 Hz, and ``rnnscope.monitor`` over the day with a capture store, written as
``rnnscope monitor --out OUT --capture OUT/capture`` writes it (``detections.csv``, ``monitor.json``).
"""
from __future__ import annotations

import json

import pytest
from _browser import require_browser

DAY = "2024-03-01T00:00:00"
SEED_ID = "XX.DAY..HHZ"


@pytest.fixture(scope="session")
def day_output(tmp_path_factory):
    """``{"out": folder, "run": capture run path, "detections": csv path, "sds": archive root}`` of one day."""
    require_browser()
    import rnnscope
    from rnnscope.data._synthetic_archive import write_sds_archive

    root = tmp_path_factory.mktemp("day")
    write_sds_archive(root / "sds", DAY, 86400.0, seed=2, seed_id=SEED_ID, sampling_rate=50.0)
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=12, seed=1, sampling_rate=50.0))
    model = rnnscope.models.RNNClassifier("lstm", input_size=frames.sizes["feature"], hidden_size=16, num_classes=5)
    rnnscope.train.fit(model, frames, epochs=3, progress=False, seed=0)
    out = root / "out"
    out.mkdir()
    result = rnnscope.monitor(model, root / "sds", capture_store=out / "capture", sampling_rate=50.0,
                              progress=False)
    result.to_csv(out / "detections.csv")
    (out / "monitor.json").write_text(json.dumps({"capture_store": [str(p) for p in result.capture_store],
                                                  "seed_id": SEED_ID}))
    return {"out": out, "run": result.capture_store[0], "detections": out / "detections.csv", "sds": root / "sds",
            "root": root}
