"""Shared by the browser tests: a contained environment, and a day-long monitor output built once per session.

Every browser test module runs with ``HOME``, the XDG folders, ``TMPDIR`` and the Jupyter, IPython and matplotlib
folders in a temporary folder of its own (``_browser.contained``), so that nothing it starts (Chromium and
Playwright's driver, JupyterLab, Voila, their kernels, the ``rnnscope`` commands) writes into the user's home.

The day: one station-day of a synthetic SDS archive at 50 Hz, a small LSTM (16 units) trained briefly on
synthetic records at 50 Hz, and ``rnnscope.monitor`` over the day with a capture store, written as
``rnnscope monitor --out OUT --capture OUT/capture`` writes it (``detections.csv``, ``monitor.json``).
"""
from __future__ import annotations

import json
import tempfile

import pytest
from _browser import contained, require_browser

DAY = "2024-03-01T00:00:00"
SEED_ID = "XX.DAY..HHZ"


@pytest.fixture(scope="module", autouse=True)
def contained_environment(tmp_path_factory, request):
    """This module's tests, and every process they start, write into a temporary folder (returned), not into the
    user's home; the environment is restored after the module. (Module-scoped and automatic, so it is in place
    before the module's own fixtures start servers.)"""
    root = tmp_path_factory.mktemp(f"env-{request.module.__name__}")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in contained(root).items():
            mp.setenv(name, value)
        mp.setattr(tempfile, "tempdir", None)  # this process's temporary files follow TMPDIR too
        yield root


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
