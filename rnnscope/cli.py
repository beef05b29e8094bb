"""The ``rnnscope`` command line.

``rnnscope demo`` runs the main job on the built-in synthetic data and writes its results to a folder;
``rnnscope monitor`` turns a continuous archive (one station or a network, serial or on Dask) into detections;
``rnnscope review`` serves the review page of a monitor's output folder; ``rnnscope retrain`` fine-tunes a model on
a reviewed detection catalog.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._validation import require
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

    from . import io, models, train
    from .capturing import capture

    labels = [frames["label"].values[i, : int(frames["length"][i])] for i in range(frames.sizes["event"])]
    test_idx = train.record_folds(labels, folds=4, seed=args.seed)[0]
    train_idx = np.setdiff1d(np.arange(frames.sizes["event"]), test_idx)
    train_set, test_set = data.select_records(frames, train_idx), data.select_records(frames, test_idx)
    torch.manual_seed(args.seed)
    model = models.RNNClassifier("lstm", input_size=frames.sizes["feature"], hidden_size=args.hidden,
                                 num_classes=len(records.attrs["class_names"]),
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
    from . import analysis

    shown = _records_to_show(data.catalog(test_set), records.attrs["class_names"], args.figures,
                             records.attrs.get("background"))
    figures: dict[str, Callable[[], Any]] = {
        f"record_{run['event_id'].values[e]}.png": functools.partial(plots.activation_map, run, event=e) for e in shown}
    figures.update({
        "fig5_activation_histograms.png": lambda: plots.activation_histograms(analysis.activation_histogram(run)),
        "fig6_heat_maps.png": lambda: plots.heat_maps(run),
        "fig7_class_correlation.png": lambda: plots.correlation_matrices(run),
        "fig8_top_units.png": lambda: plots.top_unit_traces(run, event=shown[0] if shown else 0),
    })
    for name, draw in figures.items():
        draw().savefig(out / name, dpi=110)
    print(f"  wrote {len(figures)} figures (activation maps of {len(shown)} records, Figs. 5-8 of the paper) "
          f"to {out}")
    top = analysis.top_units(run, k=5).isel(layer=0).to_pandas()
    print("  five most active units per class (0-based; Table II):")
    for name, row in top.iterrows():
        print(f"    {name:>4}: {', '.join(str(int(u)) for u in row.values)}")
    print(f"done in {time.perf_counter() - t0:.0f} s; results in {out.resolve()}")
    print(f"open the run: python -c \"import rnnscope; print(rnnscope.open_run('{run_path}'))\"")
    print("explore it in JupyterLab: .venv/bin/jupyter lab notebooks/01_quickstart.ipynb")
    return 0


def _records_to_show(table, class_names, n, background=None):
    """The first record holding each event class (every class but the background), then others, up to ``n``."""
    chosen = []
    for name in [c for c in class_names if c != background]:
        rows = table[table["class_name"] == name]
        if len(rows) and int(rows["event"].iloc[0]) not in chosen:
            chosen.append(int(rows["event"].iloc[0]))
    chosen += [e for e in sorted(set(table["event"].astype(int))) if e not in chosen]
    return chosen[:n]


def _monitor(args: argparse.Namespace) -> int:
    """model + waveforms (SDS archive, files) -> detections.csv, detections.xml (QuakeML), probabilities.mseed
    (one station) or probabilities/<seed id>.mseed (a network), monitor.json; restartable (tasks/ in --out)."""
    from . import monitoring

    smoothing = args.smoothing
    if smoothing is not None:
        method, _, size = smoothing.rpartition(":")
        try:
            smoothing = (method or "mean", int(size))
        except ValueError:
            print(f"rnnscope monitor: --smoothing must be N or mean:N or median:N (frames); got {args.smoothing!r}",
                  file=sys.stderr)
            return 2
        if smoothing[1] <= 1:
            smoothing = None
    min_duration = None
    if args.min_duration:
        try:
            min_duration = {k.strip(): int(v) for k, v in (item.split("=") for item in args.min_duration.split(","))}
        except ValueError:
            print("rnnscope monitor: --min-duration must look like BG=2,VT=4,LP=4 (class=frames, comma-separated); "
                  f"got {args.min_duration!r}", file=sys.stderr)
            return 2
    background = "auto" if args.background is None else None if args.background.lower() == "none" else args.background
    seed_id = _seed_ids(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with _executor(args) as executor, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            result = monitoring.monitor(
                args.model, args.source, starttime=args.start, endtime=args.end, seed_id=seed_id, device=args.device,
                smoothing=smoothing if args.smoothing is not None else monitoring.DEFAULT_SMOOTHING,
                min_duration=min_duration, background=background, detrend=False if args.no_detrend else "auto",
                bandpass=tuple(args.bandpass) if args.bandpass else "auto", capture_store=args.capture,
                progress=not args.quiet, executor=executor, output=out,
                span_s=None if args.span_days is None else args.span_days * 86400.0,
                **({} if args.warmup is None else {"warmup_s": args.warmup}),
            )
    except (ValueError, FileNotFoundError) as err:  # arguments or data that do not fit: the message says how to fix it
        print(f"rnnscope monitor: {err}", file=sys.stderr)
        return 2
    _print_warnings(caught)
    print(result)
    written = ["detections.csv", "detections.xml", "monitor.json"]
    written += ["probabilities.mseed"] if isinstance(result, monitoring.MonitorResult) else ["probabilities/"]
    for name in written:
        print(f"  wrote {out / name}")
    failures = getattr(result, "failures", None)
    if failures is not None and len(failures):  # the catalog misses these spans: the command did not do it all
        for row in failures.itertuples():
            print(f"rnnscope monitor: FAILED {row.seed_id} {row.start} - {row.end}: {row.error}", file=sys.stderr)
        print(f"rnnscope monitor: {len(failures)} station-span(s) failed (listed in {out / 'monitor.json'}); every "
              "other station's detections are written. Fix the cause and run the same command again: only the "
              "failed spans are redone.", file=sys.stderr)
        return 1
    return 0


def _print_warnings(caught, per_kind: int = 3) -> None:
    """The warnings of a command on stderr, each once, as ``rnnscope monitor: warning: ...``; of one kind (e.g.
    ObsPy's note for every damaged MiniSEED record) the first ``per_kind`` and how many more."""
    seen: set[str] = set()
    shown: dict[str, int] = {}
    more: dict[str, int] = {}
    for w in caught:
        text = " ".join(str(w.message).split())
        kind = w.category.__name__
        if text in seen:
            continue
        seen.add(text)
        if shown.get(kind, 0) < per_kind:
            shown[kind] = shown.get(kind, 0) + 1
            print(f"rnnscope monitor: warning: {text}", file=sys.stderr)
        else:
            more[kind] = more.get(kind, 0) + 1
    for kind, n in more.items():
        print(f"rnnscope monitor: warning: ... and {n} more {kind} warning(s)", file=sys.stderr)


def _seed_ids(args):
    """``--id`` (one id, a pattern, or ids separated by commas) or ``--inventory`` (StationXML)."""
    if args.inventory:
        import obspy

        return obspy.read_inventory(args.inventory)
    if args.id and "," in args.id:
        return [part.strip() for part in args.id.split(",") if part.strip()]
    return args.id


@contextlib.contextmanager
def _executor(args):
    """None (serial), a Dask LocalCluster of ``--workers`` processes, or the cluster at ``--scheduler``."""
    if not args.workers and not args.scheduler:
        yield None
        return
    distributed = require("distributed", extra="cluster", what="rnnscope monitor --workers / --scheduler")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster

    if args.scheduler:
        with Client(args.scheduler) as client:
            yield client.get_executor()
        return
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client.get_executor()


def _add_monitor_parser(sub) -> None:
    mon = sub.add_parser(
        "monitor",
        help="classify a continuous archive frame by frame and write a detection catalog",
        description="Run a trained model over continuous waveforms (an SDS archive root, MiniSEED/SAC files or a "
                    "glob pattern) day by day and write detections.csv, detections.xml (QuakeML; the class is in "
                    "each event's description and comment) and probabilities.mseed (one channel per class, 2 Hz; "
                    "probabilities/<SEED id>.mseed for several stations). Every day of every station is a task "
                    "written into OUT/tasks: run the command again after an interruption and the finished days are "
                    "skipped.",
    )
    mon.add_argument("model", help="model file (model.save(...) / rnnscope demo's model.safetensors)")
    mon.add_argument("source", help="SDS archive root folder, a waveform file, or a quoted glob pattern")
    mon.add_argument("--start", help="UTC start, e.g. 2024-03-01 or 2024-03-01T06:00:00 (default: data start)")
    mon.add_argument("--end", help="UTC end, excluded (default: data end)")
    mon.add_argument("--id", help="SEED id NET.STA.LOC.CHA to monitor (needed when the source holds several); a "
                                  "pattern such as 'XX.*..HHZ' or ids separated by commas monitor a network")
    mon.add_argument("--inventory", help="StationXML file: monitor its channels that the source holds")
    mon.add_argument("--out", default="rnnscope-monitor", help="output folder (default: %(default)s)")
    mon.add_argument("--smoothing", help="moving mean over N frames, or mean:N / median:N (default: 5; 1 = off)")
    mon.add_argument("--min-duration", help="minimum lengths in frames per class name, e.g. BG=2,VT=4,LP=4 (default: "
                                            "TRE=40,HYB=14,VTE=4,LP=4 for classes of those names, 2 for the "
                                            "background class, 1 for the others)")
    mon.add_argument("--background", help="the class not reported as a detection (default: the one saved in the "
                                          "model file, from its training data); 'none' reports every class")
    mon.add_argument("--bandpass", nargs=2, type=float, metavar=("LOW", "HIGH"), help="band-pass corners in Hz")
    mon.add_argument("--no-detrend", action="store_true", help="do not detrend (default: linear, per day)")
    mon.add_argument("--capture", help="also write the hidden states into this folder (zarr runs)")
    mon.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default: %(default)s)")
    mon.add_argument("--workers", type=int, help="run the stations in parallel on a Dask LocalCluster of N worker "
                                                 "processes (one thread each)")
    mon.add_argument("--scheduler", help="run on the Dask cluster at this address, e.g. tcp://10.0.0.5:8786 (the "
                                         "source, the model and --out must be readable/writable by every worker)")
    mon.add_argument("--span-days", type=float, help="also cut each station's range into spans of D days run in "
                                                     "parallel, each starting after a warm-up (few stations, long "
                                                     "ranges; see docs/monitoring.md)")
    mon.add_argument("--warmup", type=float, help="warm-up of each span in seconds (default: 600)")
    mon.add_argument("--quiet", action="store_true", help="no progress bar")
    mon.set_defaults(func=_monitor)


def _review(args: argparse.Namespace) -> int:
    """Serve the review page of a monitor output folder with Voila on 127.0.0.1 and print its URL (token included)."""
    from .review import serve

    try:
        serve(args.folder, capture_store=args.capture, port=args.port, token=args.token, max_pages=args.max_pages,
              idle_timeout=args.idle_timeout)
    except (FileNotFoundError, ValueError) as err:
        print(err, file=sys.stderr)
        return 2
    return 0


def _add_review_parser(sub) -> None:
    rev = sub.add_parser(
        "review",
        help="review a monitor's detections in the browser (accept, reject, relabel, add missed events)",
        description="Serve the review page (Voila, on 127.0.0.1) for the output folder of `rnnscope monitor`: the "
                    "Explorer on its capture runs with the detection table; every decision is saved at once to "
                    "FOLDER/reviewed.csv and FOLDER/reviewed.xml (QuakeML; the events kept, which "
                    "rnnscope.data.from_obspy reads) and the rejected detections to FOLDER/rejected.csv, which "
                    "`rnnscope retrain FOLDER/reviewed.csv` reads too. Prints the URL with its token (requests "
                    "without it are refused, as are foreign Host headers); Ctrl-C stops the server.",
    )
    rev.add_argument("folder", help="output folder of `rnnscope monitor --out` (detections.csv)")
    rev.add_argument("--capture", help="folder of the capture runs (default: from FOLDER/monitor.json, "
                                       "FOLDER/capture or FOLDER)")
    rev.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    rev.add_argument("--token", help="the token every request needs (default: a new random one, printed in the URL)")
    rev.add_argument("--max-pages", type=int, default=4, help="most pages (kernels, about 0.5 GB each) open at once "
                                                              "(default: %(default)s; 0: no limit)")
    rev.add_argument("--idle-timeout", type=int, default=600, help="seconds after which a kernel no page is connected "
                                                                   "to is shut down (default: %(default)s)")
    rev.set_defaults(func=_review)


def _retrain(args: argparse.Namespace) -> int:
    """model + reviewed catalog + archive (+ original training features) -> a fine-tuned model file."""
    from . import train

    original = None
    if args.original:
        from .io import open_run

        try:
            original = open_run(args.original).load()
        except (OSError, ValueError) as err:
            print(f"rnnscope retrain: cannot open the original training features {args.original!r}: {err}",
                  file=sys.stderr)
            return 2
    try:
        rejected = None if str(args.rejected).lower() == "none" else args.rejected
        result = train.retrain(
            args.model,
            args.reviewed,
            waveforms=args.waveforms,
            original=original,
            rejected=rejected,
            context_s=args.context,
            holdout=args.holdout,
            epochs=args.epochs,
            lr=args.lr,
            replay=args.replay,
            seed=args.seed,
            device=args.device,
            progress=not args.quiet,
        )
    except (ValueError, FileNotFoundError) as err:
        print(f"rnnscope retrain: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    result.model.save(out)
    scores = out.with_name(out.name + ".scores.csv")
    result.summary().to_csv(scores)
    print(result)
    n_rejected = result.model.info["retraining"]["rejected_detections"]
    if n_rejected:
        print(f"  {n_rejected} rejected detection(s) learned as {result.model.background} (false alarms)")
    print(f"  wrote {out} and {scores}")
    return 0


def _add_retrain_parser(sub) -> None:
    ret = sub.add_parser(
        "retrain",
        help="fine-tune a model on a reviewed detection catalog (and its original training data)",
        description="Fine-tune a copy of MODEL on the events of a reviewed catalog (reviewed.csv or reviewed.xml of "
                    "the review page: seed_id, class_name, start, end in UTC) and on the detections the analyst "
                    "rejected (rejected.csv beside it, learned as the model's background class), cut with some "
                    "context from the archive the monitor read, together with the original training features; print "
                    "the scores before and after on held-out reviewed events and held-out original records, and "
                    "write the new model (and OUT.scores.csv).",
    )
    ret.add_argument("model", help="model file that produced the detections")
    ret.add_argument("reviewed", help="reviewed catalog: CSV or QuakeML")
    ret.add_argument("waveforms", help="the archive the monitor read: SDS root, a waveform file or a quoted glob")
    ret.add_argument("--rejected", default="auto", help="the rejected detections (false alarms, learned as "
                                                         "background): a CSV (seed_id, start, end), 'none' to leave "
                                                         "them out (default: rejected.csv beside a reviewed.csv or "
                                                         "reviewed.xml, when it exists)")
    ret.add_argument("--original", help="the original training features, saved with rnnscope.save_run(frames, "
                                        "'train.zarr') (without it the model may forget what it knew)")
    ret.add_argument("--out", default="retrained.safetensors", help="new model file (default: %(default)s)")
    ret.add_argument("--epochs", type=int, default=10, help="passes over the reviewed events (default: %(default)s)")
    ret.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    ret.add_argument("--context", type=float, default=30.0, help="seconds of background kept around each event "
                                                                  "(default: %(default)s)")
    ret.add_argument("--holdout", type=float, default=0.25, help="fraction of the reviewed windows held out to "
                                                                  "score (default: %(default)s)")
    ret.add_argument("--replay", type=float, default=1.0, help="original records per reviewed window and epoch "
                                                                "(default: %(default)s)")
    ret.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    ret.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default: %(default)s)")
    ret.add_argument("--quiet", action="store_true", help="no progress bar")
    ret.set_defaults(func=_retrain)


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
    _add_monitor_parser(sub)
    _add_review_parser(sub)
    _add_retrain_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``rnnscope`` command with the arguments ``argv`` (the ``rnnscope`` console script calls it).

    Parameters
    ----------
    argv : list of str, optional
        The command's arguments, e.g. ``["monitor", "archive/", "--model", "model.safetensors"]`` (default:
        ``sys.argv[1:]``). No command prints the help.

    Returns
    -------
    int
        The exit status: 0 on success.

    Raises
    ------
    SystemExit
        From argparse, for ``--help``, ``--version`` and arguments it cannot parse (status 2, with the usage).

    Examples
    --------
    >>> import contextlib, io
    >>> from rnnscope.cli import main
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     status = main([])  # no command: the help
    >>> status, out.getvalue().splitlines()[0]
    (0, 'usage: rnnscope [-h] [--version] COMMAND ...')
    >>> [c for c in ("demo", "monitor", "review", "retrain") if f"    {c} " in out.getvalue()]
    ['demo', 'monitor', 'review', 'retrain']
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
