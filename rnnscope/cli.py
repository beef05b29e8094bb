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
    import matplotlib

    matplotlib.use("Agg")
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
    shown = _records_to_show(table, records.attrs["class_names"], args.figures)
    for event in shown:
        fig = plots.record_overview(frames, event)
        path = out / f"record_{frames['event_id'].values[event]}.png"
        fig.savefig(path, dpi=110)
        print(f"  wrote {path}")
    print(f"  wrote {out / 'catalog.csv'}")
    print(f"done in {time.perf_counter() - t0:.1f} s; results in {out.resolve()}")
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
    demo.add_argument("--records", type=int, default=60, help="number of synthetic records (default: %(default)s)")
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
