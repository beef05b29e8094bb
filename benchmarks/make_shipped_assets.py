"""Make the small pre-trained model and captured run shipped in ``rnnscope/_shipped`` (so the Explorer opens in
seconds on Binder, and notebooks can start from a trained model), and the Explorer's colour palettes.

Run: ``.venv/bin/python benchmarks/make_shipped_assets.py`` (``--palettes``: only the palettes). Deterministic for
the seed on the CPU (2 threads).
The model: LSTM(64) trained on 90 synthetic records (seed 0) with the quickstart settings; the run: its capture of
8 held-out records with every state. The palettes: the 255 colours of each colour map the Explorer draws with,
from matplotlib, so that opening an Explorer does not import matplotlib (a quarter of a second in a fresh kernel;
``tests/test_widgets.py`` checks they equal matplotlib's).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import rnnscope

OUT = Path(__file__).resolve().parent.parent / "rnnscope" / "_shipped"


def palettes():
    from rnnscope.widgets._render import SHIPPED_PALETTES, _matplotlib_palette

    np.savez_compressed(OUT / "palettes.npz", **{name: _matplotlib_palette(name) for name in SHIPPED_PALETTES})
    print(f"wrote {OUT / 'palettes.npz'}")


def main():
    import sys

    palettes()
    if "--palettes" in sys.argv[1:]:
        return
    torch.set_num_threads(2)
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=120, seed=0))
    labels = [frames.label.values[i, : int(frames.length[i])] for i in range(frames.sizes["event"])]
    test_idx = rnnscope.train.record_folds(labels, folds=4, seed=0)[0]
    train_idx = np.setdiff1d(np.arange(frames.sizes["event"]), test_idx)
    torch.manual_seed(0)
    model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=64, num_classes=5)
    rnnscope.train.fit(model, rnnscope.data.select_records(frames, train_idx), epochs=30, validation=0.15,
                       early_stopping=6, seed=0, progress=False)
    model.info["feature_config"] = frames.attrs["feature_config"]
    test = rnnscope.data.select_records(frames, test_idx[:8])
    score = rnnscope.train.evaluate(model, rnnscope.data.select_records(frames, test_idx))
    print(f"held-out accuracy {score.accuracy:.3f}, macro F1 {score.macro_f1:.3f}")
    OUT.mkdir(exist_ok=True)
    model.save(OUT / "lstm64.safetensors")
    # one netCDF file (no dotfiles, so it survives wheel packaging), opened lazily by rnnscope.open_run
    rnnscope.save_run(rnnscope.capture(model, test, progress=False), OUT / "example_run.nc")
    size = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
