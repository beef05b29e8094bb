"""Several stations, on any ``concurrent.futures.Executor``, restartable: how :func:`rnnscope.monitor` runs a
network (or one station with ``executor=``, ``output=`` or ``span_s=``).

**Tasks.** Each station's range is cut into blocks (UTC days); a *chain* is a station's blocks in order, each block
a task (:func:`rnnscope.monitoring._blocktask.run_block`) that starts from the state the previous block left (the
preprocessor's held-back samples, the streaming features, the recurrent state). The chains run in parallel, one
task per chain at a time: when a block finishes, the next block of its chain is submitted. So every station gets
exactly the serial computation (same blocks, same state, same arithmetic): the result is identical to monitoring
each station alone.

**Spans** (``span_s``): for few stations and long ranges, a station's range may also be cut into spans of
``span_s`` seconds that run as separate chains. A span starts ``warmup_s`` earlier from a zero state, on the frame
grid of the serial run (found from the files' headers), and its frames before the span start are dropped; the
previous span runs a little past the seam (the preprocessing margin and a few frames) and its frames after it are
dropped. Only the recurrent state and the detrend window differ from the serial run during the warm-up; see
``docs/monitoring.md`` for the measured agreement.

**Output folder** (``output``): every task writes its folder under ``output/tasks/<seed id>/`` atomically; a
rerun with the same model and settings skips finished tasks and redoes the others (a killed run or worker loses
the tasks in flight only). When every task is done, each station's probability MiniSEED and capture stores and
then the merged catalog (``detections.csv``, ``detections.xml``) are written, each atomically, and
``monitor.json`` says what was written.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import time
from pathlib import Path

import numpy as np

from . import _blocktask as bt
from ._result import MonitorResult
from ._sources import _NS, _utc, source_record

__all__ = []

#: folder of the task outputs inside ``output``
TASKS = "tasks"
PLAN = "plan.json"


class InlineExecutor(cf.Executor):
    """Runs each task at once in the calling thread (``executor=None``)."""

    def submit(self, fn, /, *args, **kwargs):
        future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(err)
        return future


# ------------------------------------------------------------------------------------------------ plan


class Chain:
    """The blocks ``[(start_ns, end_ns), ...]`` of one station (or span) run in order, and what is kept of them."""

    def __init__(self, seed_id: str, index: int, blocks: list, keep: tuple):
        self.seed_id, self.index, self.blocks, self.keep = seed_id, index, blocks, keep
        self.next = 0  # blocks done (in order); after a failure, the block that failed
        self.state = None
        self.outputs: list = []  # per block (memory mode)
        self.error: BaseException | None = None  # why the chain stopped before its end

    def __getstate__(self):  # sent to workers with a station's finishing payload: the error stays here
        return {**self.__dict__, "error": None}

    def failure(self) -> dict:
        """The span this chain could not classify and why (after :attr:`error` was set)."""
        from obspy import UTCDateTime

        start = self.blocks[self.next][0]
        if self.keep[0] is not None:
            start = max(start, self.keep[0])
        end = self.keep[1] if self.keep[1] is not None else self.blocks[-1][1]
        assert self.error is not None  # called once the chain failed
        return {"seed_id": self.seed_id, "start": str(UTCDateTime(ns=int(start))),
                "end": str(UTCDateTime(ns=int(end))), "error": describe_error(self.error)}

    def folder(self, output, i: int) -> Path:
        return Path(output) / TASKS / self.seed_id / f"c{self.index:03d}_b{i:05d}"

    def describe(self) -> dict:
        return {"blocks": [list(b) for b in self.blocks], "keep": list(self.keep)}


def describe_error(err: BaseException) -> str:
    """``Type: message`` on one line (what monitor.json and the console say about a failed span)."""
    text = " ".join(str(err).split()) or repr(err)
    return f"{type(err).__name__}: {text}"


def block_edges(a_ns: int, b_ns: int, block_s: float) -> list[tuple[int, int]]:
    """``[a, b)`` cut at multiples of ``block_s`` since 1970 (UTC midnights for whole days)."""
    step = int(round(block_s * _NS))
    out, a = [], a_ns
    while a < b_ns:
        b = min((a // step + 1) * step, b_ns)
        out.append((a, b))
        a = b
    return out


def plan(src, seed_id: str, t0, t1, s: bt.Settings, span_s, warmup_s) -> list[Chain]:
    """The chains of one station over ``[t0, t1)`` (see the module docstring)."""
    blocks = block_edges(t0.ns, t1.ns, s.block_s)
    if span_s is None:
        return [Chain(seed_id, 0, blocks, (None, None))]
    step = int(round(span_s * _NS))
    seams = list(range((t0.ns // step + 1) * step, t1.ns, step))
    if not seams:
        return [Chain(seed_id, 0, blocks, (None, None))]
    from ..features._compute import _samples

    win, hop = _samples(s.cfg, s.rate)
    period = int(round(hop * _NS / s.rate))
    extension = int(round((s.margin_s + (win + (4 * s.cfg.delta_width + 2) * hop) / s.rate) * _NS))
    # however short the warm-up, a span starts margin_s before its hand-over point (so that its preprocessing
    # windows from the seam on are the serial run's) and at least half a window and 2 x delta_width frames before
    # it (its first kept frame is then a whole frame with its deltas)
    lead = max(float(warmup_s), s.margin_s, (win / 2 + 2 * s.cfg.delta_width * hop) / s.rate)
    stretches = src.stretches(seed_id, t0, t1)
    edges = [t0.ns, *seams, t1.ns]
    # hand over margin_s before each seam: from there on the next span's samples come out of the same
    # preprocessing windows as in the serial run (the held-back margin is processed with the block after the seam)
    handover = [t0.ns, *[max(t0.ns, e - int(round(s.margin_s * _NS))) for e in seams], t1.ns]
    chains = []
    last = len(edges) - 2
    for k in range(len(edges) - 1):
        a, b = edges[k], edges[k + 1]
        start = a if k == 0 else _warmup_start(handover[k] - int(round(lead * _NS)), stretches, t0.ns, period)
        end = b if k == last else min(b + extension, t1.ns)
        keep = (None if k == 0 else handover[k], None if k == last else handover[k + 1])
        chains.append(Chain(seed_id, k, _serial_blocks(start, a, b, end, s.block_s), keep))
    return chains


def _serial_blocks(start, a, b, end, block_s) -> list[tuple[int, int]]:
    """A warm-up block ``[start, a)``, the serial run's blocks of ``[a, b)``, an extension block ``[b, end)``."""
    out = [(start, a)] if start < a else []
    out += block_edges(a, b, block_s)
    if end > b:
        out.append((b, end))
    return out


def _warmup_start(w0: int, stretches, t0_ns: int, period: int) -> int:
    """Where a span's warm-up starts: at or before ``w0``, on the frame grid the serial run has there (its
    contiguous stretch's first sample, or the range start), never before that stretch (a later start is exact)."""
    if w0 <= t0_ns:
        return t0_ns
    for a, b, rate in stretches:
        if a <= w0 < b:
            anchor = a if a >= t0_ns else a + int(np.ceil((t0_ns - a) * rate / _NS - 1e-6) * _NS / rate)
            if anchor >= w0:
                return anchor
            return anchor + ((w0 - anchor) // period) * period
    return w0  # in a gap: the next stretch starts the piece, exactly as in the serial run


# ------------------------------------------------------------------------------------------------ running


def check_folder(output, fingerprint: dict) -> None:
    """Create ``output/tasks`` with the run's fingerprint, or check that the one there is the same."""
    tasks = Path(output) / TASKS
    tasks.mkdir(parents=True, exist_ok=True)
    path = tasks / PLAN
    if path.exists():
        old = json.loads(path.read_text())
        if old != fingerprint:
            differ = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
            raise ValueError(
                f"monitor: the output folder {os.fspath(output)!r} holds the tasks of another run (it differs in "
                f"{differ}); finished tasks are only reused by a rerun with the same model, data range and settings. "
                f"Choose another output folder, or delete {os.fspath(tasks)!r} to start again."
            )
        return
    tmp = path.with_name(PLAN + ".tmp")
    tmp.write_text(json.dumps(fingerprint, indent=1, sort_keys=True))
    os.replace(tmp, path)


def run_chains(chains: list[Chain], make_payload, executor, output, progress: bool) -> dict:
    """Run every chain's blocks in order, chains in parallel; return the tasks run and skipped and the seconds
    the tasks took inside their workers.

    A task that raises stops its chain only (``chain.error``; the blocks done so far are kept, a rerun into the
    same output folder retries from the failed block): every other chain runs to its end."""
    skipped = 0
    if output is not None:
        for chain in chains:
            while chain.next < len(chain.blocks) and bt.task_done(chain.folder(output, chain.next)):
                chain.next += 1
            skipped += chain.next
    todo = sum(len(c.blocks) - c.next for c in chains)
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=todo, unit="task", desc=f"monitor {len({c.seed_id for c in chains})} channel(s)", leave=False)
    executor = InlineExecutor() if executor is None else executor
    running: dict = {}
    task_seconds = 0.0

    def submit(chain):
        running[executor.submit(bt.run_block, make_payload(chain))] = chain

    try:
        for chain in chains:
            if chain.next < len(chain.blocks):
                submit(chain)
        while running:
            done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
            for future in done:
                chain = running.pop(future)
                try:
                    result = future.result()
                except Exception as err:  # noqa: BLE001 - one station-span's failure never stops the others
                    chain.error = err
                    if bar is not None:
                        bar.update(len(chain.blocks) - chain.next)
                    continue
                task_seconds += result["timings"].get("task", 0.0)
                if output is None:
                    chain.outputs.append(result)
                    chain.state = result.pop("state")
                chain.next += 1
                if bar is not None:
                    bar.update(1)
                if chain.next < len(chain.blocks):
                    submit(chain)
    except BaseException:
        for future in running:
            future.cancel()
        raise
    finally:
        if bar is not None:
            bar.close()
    return {"tasks_run": todo, "tasks_skipped": skipped, "task_seconds": task_seconds}


def block_payload(chain: Chain, *, model_ref, settings, src, output) -> dict:
    """What :func:`~rnnscope.monitoring._blocktask.run_block` gets for the next block of ``chain``."""
    from obspy import UTCDateTime

    i = chain.next
    a, b = chain.blocks[i]
    payload = {"model": model_ref, "settings": settings, "seed_id": chain.seed_id, "block": (a, b),
               "final": i == len(chain.blocks) - 1, "keep": chain.keep,
               "source": bt.source_spec(src, chain.seed_id, UTCDateTime(ns=a), UTCDateTime(ns=b))}
    if output is None:
        payload["state"], chain.state = chain.state, None
    else:
        payload["folder"] = os.fspath(chain.folder(output, i))
        payload["state_path"] = os.fspath(chain.folder(output, i - 1)) if i else None
    return payload


# ------------------------------------------------------------------------------------------------ merging


def station_result(chains: list[Chain], output, *, settings, class_names, model_name, t0, t1) -> tuple:
    """The :class:`MonitorResult` of one station from its chains' outputs (memory, or task folders: then its
    probabilities stay in the folders, read when used), and the task folders holding capture recordings, in order
    (their recordings are deleted once in the capture runs)."""
    per_chain, captures, timings = [], [], dict.fromkeys(bt.TIMING_KEYS, 0.0)
    for chain in chains:
        folders = [] if output is None else [chain.folder(output, i) for i in range(chain.next)]  # failed: up to it
        outputs = chain.outputs if output is None else [bt.read_task(folder) for folder in folders]
        fragments = []
        for k, out in enumerate(outputs):
            fragments += out["fragments"]
            for key in bt.TIMING_KEYS:
                timings[key] += out["timings"].get(key, 0.0)
            if out.get("has_capture"):
                captures.append(folders[k])
        per_chain.append(fragments)
    pieces = bt.join(per_chain, [c.keep for c in chains], settings.rate)
    gaps = bt.gap_table(pieces, bt.gaps_between(pieces, settings.rate), settings.rate, t0, t1)
    t = time.perf_counter()
    result = MonitorResult(
        seed_id=chains[0].seed_id, class_names=class_names, starttime=t0, endtime=t1, pieces=pieces, gaps=gaps,
        feature_config=settings.cfg, sampling_rate=settings.rate, smoothing=settings.smoothing,
        min_duration=settings.min_duration, background=settings.background, timings=timings, model_name=model_name,
    )
    timings["catalog"] = time.perf_counter() - t
    return result, captures


def finish_station(payload: dict) -> dict:
    """The last task of a station (folder mode): its result from the task folders, its probability MiniSEED and
    capture stores (written once; their list is kept in ``capture.json``); returns what the catalog needs."""
    output = Path(payload["output"])
    chains = payload["chains"]
    s = payload["settings"]
    marker = output / TASKS / chains[0].seed_id / "capture.json"
    replay = payload["capture_store"] is not None and not marker.exists()
    result, captures = station_result(chains, output, settings=s, class_names=payload["class_names"],
                                      model_name=payload["model_name"], t0=payload["t0"], t1=payload["t1"])
    # piece by piece, task file by task file (an empty file for a station without frames: the run warns once)
    write_atomic(payload["probabilities"], lambda path: result.write_mseed(path), sidecar=True)
    stores = None
    if payload["capture_store"] is not None:
        if not replay:
            stores = json.loads(marker.read_text())
        else:
            from ._writer import CaptureWriter

            model, _ = bt.worker_model(payload["model"], s.device)
            writer = CaptureWriter(payload["capture_store"], model, s.cfg, s.rate, result.seed_id, s.background,
                                   source=payload.get("waveform_source"))
            for folder in captures:  # one task's recording mapped at a time
                capture = bt.read_capture(folder)
                assert capture is not None  # station_result lists only the folders of tasks that recorded one
                bt.replay_capture(writer, capture)
            stores = [os.fspath(p) for p in writer.finish(result.detections)]
            write_atomic(marker, lambda path: Path(path).write_text(json.dumps(stores)))
            for chain in chains:  # the recordings are in the stores now: free the disk
                for i in range(len(chain.blocks)):
                    for path in chain.folder(output, i).glob("capture_*.npy"):
                        path.unlink()
    result.capture_store = stores
    out = summary(result)
    if payload.get("keep_result"):
        out["result"] = result
    return out


def write_atomic(path, write, sidecar: bool = False) -> str:
    """``write(tmp)`` then rename ``tmp`` to ``path`` (and ``tmp.json`` to ``path.json`` with ``sidecar``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + bt.PARTIAL)
    write(tmp)
    if sidecar and Path(os.fspath(tmp) + ".json").exists():
        os.replace(os.fspath(tmp) + ".json", os.fspath(path) + ".json")
    os.replace(tmp, path)
    return os.fspath(path)


def station_range(src, seed_id, starttime, endtime, func):
    """``[t0, t1)`` of one station: the arguments, else the extent of its data."""
    t0, t1 = _utc(starttime, "starttime", func), _utc(endtime, "endtime", func)
    if t0 is None or t1 is None:
        extent = src.extent(seed_id)
        if extent is None:
            raise ValueError(f"{func}: the source holds no data for {seed_id!r}; check the SEED id.")
        t0 = t0 if t0 is not None else extent[0]
        t1 = t1 if t1 is not None else extent[1]
    if t1 <= t0:
        raise ValueError(f"{func}: endtime {t1} is not after starttime {t0}; give a range with start < end.")
    return t0, t1


def station_ranges(src, ids, starttime, endtime, single: bool, func) -> dict:
    """Every station's ``[t0, t1)``; in a network, a station without any data gets the range of the others (it is
    then monitored like a station whose range holds no data: a warning and no detection), so that it does not stop
    the others. An error when no station has data."""
    if single:
        return {ids[0]: station_range(src, ids[0], starttime, endtime, func)}
    ranges, missing = {}, []
    for sid in ids:
        try:
            ranges[sid] = station_range(src, sid, starttime, endtime, func)
        except ValueError:
            if src.extent(sid) is not None:  # a bad range, not a station without data
                raise
            missing.append(sid)
    if missing:
        if not ranges:
            raise ValueError(f"{func}: the source holds no data for any of {missing}; check the SEED ids.")
        whole = (min(r[0] for r in ranges.values()), max(r[1] for r in ranges.values()))
        ranges.update({sid: station_range(src, sid, starttime or whole[0], endtime or whole[1], func)
                       for sid in missing})
    return {sid: ranges[sid] for sid in ids}


def _no_frames_warning(finished, failed, func) -> None:
    """One warning naming the stations without a classified frame (and not failed: those have their own)."""
    import warnings

    from ..errors import DataSkippedWarning

    broken = {f["seed_id"] for f in failed}
    empty = [f["seed_id"] for f in finished if f["n_frames"] == 0 and f["seed_id"] not in broken]
    if empty:
        warnings.warn(f"{func}: no frame was classified for {empty}: the source holds no stretch of their data in the "
                      "range longer than one analysis window; their catalogs are empty. Check the ids and the time "
                      "range.", DataSkippedWarning, stacklevel=4)


def _failure_warning(failed, func) -> None:
    import warnings

    from ..errors import DataSkippedWarning

    lines = "; ".join(f"{f['seed_id']} {f['start']} - {f['end']}: {f['error']}" for f in failed)
    warnings.warn(f"{func}: {len(failed)} station-span(s) could not be classified and are missing from the catalog "
                  f"({lines}). Every other station's detections are complete; fix the cause and run again (with "
                  "output=, finished tasks are kept and only the failed spans are redone).", DataSkippedWarning,
                  stacklevel=4)


def _finish_stations(payloads, pool, failed: list) -> list[dict]:
    """:func:`finish_station` of every station; a station whose finishing fails is recorded in ``failed``."""
    futures = [(p, pool.submit(finish_station, p)) for p in payloads]
    finished = []
    for p, future in futures:
        try:
            finished.append(future.result())
        except Exception as err:  # noqa: BLE001 - one station's failure never loses the others' catalogs
            failed.append({"seed_id": p["chains"][0].seed_id, "start": str(p["t0"]), "end": str(p["t1"]),
                           "error": describe_error(err), "exception": err})
    return finished


def run(model, model_name, s: bt.Settings, src, ids: list[str], *, single: bool, starttime, endtime, executor,
        output, capture_store, span_s, warmup_s, progress, func):
    """Monitor ``ids`` as chains of block tasks (see the module docstring); a :class:`MonitorResult` for one
    station named alone (``single``), else a :class:`~rnnscope.monitoring.NetworkResult`.

    A station-span whose task fails stops only that span: the other stations are classified and written (the
    failures are in ``result.failures``, ``monitor.json`` and a warning); one station named alone raises its error.
    """
    import functools

    t_total = time.perf_counter()
    ranges = station_ranges(src, ids, starttime, endtime, single, func)
    chains = {sid: plan(src, sid, ranges[sid][0], ranges[sid][1], s, span_s, warmup_s) for sid in ids}
    key = bt.model_key(model)
    if output is not None:
        output = Path(output)
        check_folder(output, {"model": key, "settings": s.fingerprint(), "span_s": span_s, "warmup_s": warmup_s,
                              "stations": {sid: [c.describe() for c in chains[sid]] for sid in ids}})
        bt.clean_partials(output / TASKS)
        model_path = output / TASKS / "model.safetensors"
        if executor is not None and not model_path.exists():
            model.save(model_path)
        ref = bt.model_ref(model, key, path=model_path, inline=executor is None)
    else:
        ref = bt.model_ref(model, key, inline=executor is None)
    make_payload = functools.partial(block_payload, model_ref=ref, settings=s, src=src, output=output)
    counts = run_chains([c for sid in ids for c in chains[sid]], make_payload, executor, output, progress)
    failed = [dict(c.failure(), exception=c.error) for sid in ids for c in chains[sid] if c.error is not None]
    if single and failed:
        raise failed[0]["exception"]
    common = dict(settings=s, class_names=list(model.class_names), model_name=model_name)

    def loader(sid):
        return lambda: station_result(chains[sid], output, t0=ranges[sid][0], t1=ranges[sid][1], **common)[0]

    loaders = {sid: loader(sid) for sid in ids}
    if output is None:
        results = {sid: loaders[sid]() for sid in ids}
        finished = [summary(r) for r in results.values()]
        loaders = {sid: (lambda r=r: r) for sid, r in results.items()}
    else:
        payloads = [{"output": os.fspath(output), "chains": chains[sid], "t0": ranges[sid][0], "t1": ranges[sid][1],
                     "model": ref, "capture_store": capture_store, "waveform_source": source_record(src),
                     "probabilities": os.fspath(output / ("probabilities.mseed" if single else
                                                          Path("probabilities") / f"{sid}.mseed")),
                     "keep_result": single, **common} for sid in ids]
        finished = _finish_stations(payloads, InlineExecutor() if (executor is None or single) else executor, failed)
        if single and failed:
            raise failed[0]["exception"]
        if single:
            single_result = finished[0].pop("result")
            loaders = {ids[0]: (lambda: single_result)}
    _no_frames_warning(finished, failed, func)
    failed = [{k: v for k, v in f.items() if k != "exception"} for f in failed]
    if failed:
        _failure_warning(failed, func)
    result = network_result(model, s, ids, finished, failed, counts, loaders, output, capture_store)
    if output is not None:
        write_catalog(result, output, single)
    result.timings["total"] = time.perf_counter() - t_total
    if single:
        station = result[ids[0]]
        station.timings.update(counts, total=result.timings["total"])
        station.capture_store = result.capture_store
        return station
    return result


def summary(result) -> dict:
    """What the network's catalog needs of a station's :class:`MonitorResult`."""
    return {"seed_id": result.seed_id, "detections": result.detections, "gaps": result.gaps,
            "timings": result.timings, "n_frames": result.n_frames, "data_seconds": result.data_seconds,
            "n_pieces": len(result.pieces), "capture_store": getattr(result, "capture_store", None)}


def network_result(model, s, ids, finished, failed, counts, loaders, output, capture_store):
    """The :class:`~rnnscope.monitoring.NetworkResult` of the finished stations."""
    import pandas as pd

    from ._netresult import NetworkResult

    timings = dict.fromkeys(bt.TIMING_KEYS, 0.0)
    for f in finished:
        for k in bt.TIMING_KEYS:
            timings[k] += f["timings"].get(k, 0.0)
    timings.update(counts)
    columns = ["seed_id", "start", "end", "duration_s"]
    tables = [f["gaps"].assign(seed_id=f["seed_id"])[columns] for f in finished]
    gaps = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame({c: [] for c in columns})
    stores = [p for f in finished for p in (f["capture_store"] or [])] if capture_store is not None else None
    return NetworkResult(
        seed_ids=ids, class_names=model.class_names, background=s.background, gaps=gaps, timings=timings,
        detections=NetworkResult.merge_tables([f["detections"] for f in finished], class_names=model.class_names,
                                              background=s.background),
        loaders=loaders, output=output, capture_store=[Path(p) for p in stores] if stores is not None else None,
        summary={"n_frames": sum(f["n_frames"] for f in finished),
                 "data_seconds": sum(f["data_seconds"] for f in finished)},
        failures=pd.DataFrame(failed, columns=["seed_id", "start", "end", "error"]),
        no_data=[f["seed_id"] for f in finished if f["n_frames"] == 0],
    )


def write_catalog(result, output: Path, single: bool) -> None:
    """``detections.csv``, ``detections.xml`` and ``monitor.json`` in ``output``, each written atomically."""
    write_atomic(output / "detections.csv", result.to_csv)
    write_atomic(output / "detections.xml", result.to_quakeml)
    manifest = {
        "seed_id": result.seed_ids[0] if single else result.seed_ids,
        "seed_ids": result.seed_ids,
        "detections": "detections.csv",
        "quakeml": "detections.xml",
        "probabilities": ["probabilities.mseed"] if single else
        [os.fspath(Path("probabilities") / f"{sid}.mseed") for sid in result.seed_ids],
        "capture_store": None if result.capture_store is None else [os.fspath(Path(p).resolve())
                                                                    for p in result.capture_store],
        "tasks": {k: result.timings[k] for k in ("tasks_run", "tasks_skipped")},
        # station-spans that could not be classified (missing from the catalog) and why; rerun to retry them
        "failed": result.failures.to_dict("records"),
        # stations with no frame classified in the range (no data, or stretches shorter than one window)
        "no_data": list(result.no_data),
    }
    write_atomic(output / "monitor.json", lambda path: Path(path).write_text(json.dumps(manifest, indent=1)))
