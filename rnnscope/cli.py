"""The ``rnnscope`` command line.

``rnnscope demo`` runs the main job on the built-in synthetic data and writes its results to a folder.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ._version import __version__

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    """synthetic data -> features -> train an LSTM -> evaluate -> capture -> save the run -> figures."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from . import data, features, plots

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    print(f"rnnscope {__version__}: synthetic volcano-seismic data, {args.records} records, seed {args.seed}")
    records = data.synthetic(n_records=args.records, seed=args.seed)
    frames = features.compute(records)
    table = data.catalog(records)
    table.to_csv(out / "catalog.csv", index=False)
    counts = table["class_name"].value_counts().reindex(records.attrs["class_names"], fill_value=0)
    hours = float(records["n_samples"].sum()) / records.attrs["sampling_rate"] / 3600
    print(f"  {hours:.2f} h of signal, {int(frames['length'].sum())} frames; segments per class: "
          + ", ".join(f"{k} {v}" for k, v in counts.items()))

    import torch

    from . import capture, io, models, train

    labels = [frames["label"].values[i, : int(frames["length"][i])] for i in range(frames.sizes["event"])]
    test_idx = train.record_folds(labels, 4, seed=args.seed)[0]
    train_idx = np.setdiff1d(np.arange(frames.sizes["event"]), test_idx)
    train_set, test_set = data.select_records(frames, train_idx), data.select_records(frames, test_idx)
    torch.manual_seed(args.seed)
    model = models.RNNClassifier("lstm", frames.sizes["feature"], args.hidden, len(records.attrs["class_names"]),
                                 class_names=records.attrs["class_names"])
    print(f"  training an LSTM({args.hidden}) on {len(train_idx)} records for up to {args.epochs} epochs ...")
    history = train.fit(model, train_set, epochs=args.epochs, validation=0.15, early_stopping=6, seed=args.seed,
                        progress=not args.quiet)
    scores = train.evaluate(model, test_set)
    model.save(out / "model.safetensors")
    print(f"  trained {len(history)} epochs in {history['seconds'].sum():.0f} s; test frame accuracy "
          f"{scores.accuracy:.3f}, macro F1 {scores.macro_f1:.3f} on {len(test_idx)} held-out records")
    scores.per_class.round(3).to_csv(out / "scores_per_class.csv")
    run = capture(model, test_set, progress=not args.quiet)
    run_path = io.save_run(run, out / "run.zarr")
    print(f"  captured every internal state of {run.sizes['event']} records: {run_path}")
    for event in _records_to_show(data.catalog(test_set), records.attrs["class_names"], args.figures):
        path = out / f"record_{run['event_id'].values[event]}.png"
        plots.record_overview(run, event).savefig(path, dpi=110)
        print(f"  wrote {path}")
    print(f"done in {time.perf_counter() - t0:.0f} s; results in {out.resolve()}")
    print(f"open the run: python -c \"import rnnscope; print(rnnscope.open_run('{run_path}'))\"")
    return 0


def _records_to_show(table, class_names, n):
    """The first record holding each event class, then others, up to ``n``."""
    chosen = []
    for name in class_names[1:]:
        rows = table[table["class_name"] == name]
        if len(rows) and int(rows["event"].iloc[0]) not in chosen:
            chosen.append(int(rows["event"].iloc[0]))
    chosen += [e for e in sorted(set(table["event"].astype(int))) if e not in chosen]
    return chosen[:n]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnscope",
        description="Train recurrent networks on volcano-seismic signals, capture every internal state, explore it.",
    )
    parser.add_argument("--version", action="version", version=f"rnnscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the main job on the built-in synthetic data and write figures")
    demo.add_argument("--out", default="rnnscope-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--records", type=int, default=120, help="number of synthetic records (default: %(default)s)")
    demo.add_argument("--hidden", type=int, default=64, help="LSTM units (default: %(default)s)")
    demo.add_argument("--epochs", type=int, default=30, help="maximum training epochs (default: %(default)s)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("--figures", type=int, default=4, help="records to draw (default: %(default)s)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
