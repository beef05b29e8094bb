"""``rnnscope.monitor``: continuous recognition of long seismic archives -> a detection catalog.

The data flow, one block (a UTC day by default) at a time, so memory does not grow with the time range:

1. **read** the block's samples of one SEED id from the source (an ObsPy Stream, MiniSEED/SAC files, or an SDS
   archive through :class:`obspy.clients.filesystem.sds.Client`), keep samples with ``block start <= t < block
   end``, merge traces (ObsPy ``Stream.merge(method=1)``) and split them at gaps into contiguous pieces;
2. **preprocess** each contiguous piece as :func:`rnnscope.data.from_obspy` does (detrend, optional band-pass,
   resampling to the model's rate with the same anti-alias FIR, by reusing its helpers). A contiguous signal is
   processed in overlapping windows: the last ``margin_s`` seconds of a block are held back until the next block
   arrives and are processed again with it, so filter and resampling transients never fall on a block boundary;
3. **features** with :class:`rnnscope.features.StreamingFeatures` (equal to ``frames_of`` of the whole
   contiguous signal, the first and last frames included);
4. **inference** with the recurrent state carried from chunk to chunk (``model.forward_layers(x, states)``;
   a TCN gets its receptive field of earlier frames as context), so the probabilities equal one pass of the model
   over the whole contiguous signal;
5. **catalog**: per-frame probabilities -> smoothed -> per-class minimum durations -> detections
   (:mod:`rnnscope.monitoring`).

Several stations, an ``executor``, an ``output`` folder or ``span_s`` run the same steps as block tasks
(:mod:`rnnscope.monitoring._network`): each station's blocks in order with this state carried between them as
arrays, stations in parallel on any ``concurrent.futures.Executor``, restartable from the output folder.

Gaps: where the data stop (a gap of more than half a sample, or the end of the range), the features are finished
with the end-edge repetition of ``frames_of``, the last frames classified, and the recurrent state reset; after the
gap, framing restarts at the first sample (frame centres ``2 s, 2.5 s, ...`` after it) from a zero state, exactly as
if the data after the gap were a new record. No frame covers a gap, so gaps never hold a detection and a detection
never spans one; the probability stream has one trace per class and contiguous piece. A change of sampling rate
with no gap (e.g. a day at 200 Hz after days at 100 Hz) does not interrupt anything: each piece is resampled to
the model's rate and the framing and state continue.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

from .._validation import FROM_DATA, no_background_message, resolve_background
from ..errors import NoBackgroundWarning
from ..features import PRESETS, FeatureConfig
from ..features._contract import check_contract
from . import _detections, _network
from ._blocktask import (
    Settings,
    feed,
    gap_table,
    gaps_between,
    process_block,
    torch_threads,
)
from ._detections import DEFAULT_SMOOTHING
from ._engine import _Engine
from ._preprocessing import _Preprocessor
from ._result import MonitorResult
from ._sources import _expand_ids, _open_source, source_record

__all__ = ["monitor"]


# ------------------------------------------------------------------------------------------------ monitor


def _stored(model, key):
    """The model's stored input contract value (``model.<key>``; files of older versions: ``model.info[key]``)."""
    value = getattr(model, key, None)
    if value is None:
        value = getattr(model, "info", {}).get(key)
        if isinstance(value, str) and key == "feature_config" and value not in PRESETS:
            try:
                value = json.loads(value)
            except ValueError:
                pass
    return value


def _feature_config(model, feature_config, func) -> FeatureConfig:
    """The features to compute: the model's (stored by fit), else ``feature_config``, else the "paper" preset; an
    explicit ``feature_config`` that differs from the model's is refused."""
    stored = _stored(model, "feature_config")
    if isinstance(stored, Mapping) and stored.get("preset") == "external":
        raise ValueError(
            f"{func}: the model was trained on features computed elsewhere (rnnscope.data.from_features, "
            f"{stored.get('n_features')} features at {stored.get('frame_rate')} frames/s); the monitor computes "
            "features from waveforms, so it cannot feed this model. Train it on rnnscope.features.compute features."
        )
    explicit = not (isinstance(feature_config, str) and feature_config == "auto")
    given = feature_config if explicit else stored if stored is not None else "paper"
    if isinstance(given, FeatureConfig):
        cfg = given
    elif isinstance(given, str) and given in PRESETS:
        cfg = PRESETS[given]
    elif isinstance(given, (str, Mapping)):
        try:
            cfg = FeatureConfig.from_json(given)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"The 'feature_config' parameter of {func} must be a FeatureConfig, a preset name {list(PRESETS)} or "
                f"its JSON. Got {given!r} ({err})."
            ) from None
    else:
        raise ValueError(
            f"The 'feature_config' parameter of {func} must be a FeatureConfig, a preset name {list(PRESETS)} or its "
            f"JSON. Got {type(given).__name__} instead."
        )
    if explicit and isinstance(stored, (Mapping, str)):
        check_contract({"feature_config": stored}, {"feature_config": cfg}, func=func,
                       here="feature_config= asks for features", fix="Leave feature_config out to use the model's.")
    if cfg.n_features != model.input_size:
        raise ValueError(
            f"{func}: the feature config gives {cfg.n_features} features per frame but the model expects "
            f"{model.input_size}; pass the feature_config the model was trained with."
        )
    return cfg


def _sampling_rate(model, sampling_rate, cfg, func) -> float:
    """The model's input rate (stored by fit), else ``sampling_rate``, else 100 Hz; a differing explicit rate is
    refused."""
    from .._validation import check_positive

    stored = _stored(model, "sampling_rate")
    if sampling_rate is None:
        rate = stored if stored is not None else 100.0
        check_positive(rate, name="sampling_rate", func=func)
        return float(rate)
    check_positive(sampling_rate, name="sampling_rate", func=func)
    if stored is not None:
        check_contract({"sampling_rate": stored, "feature_config": dataclasses.asdict(cfg)},
                       {"sampling_rate": sampling_rate, "feature_config": dataclasses.asdict(cfg)}, func=func,
                       here="sampling_rate= asks for features",
                       fix="Leave sampling_rate out: the monitor resamples every trace to the model's rate.")
    return float(sampling_rate)


def _preprocessing(model, detrend, bandpass, func):
    """Detrend and band-pass: the arguments, else those of the model's training records, else linear and none."""
    from ..data._readers import _bandpass, _detrend_type

    stored = dict(getattr(model, "preprocessing", None) or {})
    raw = getattr(model, "info", {}).get("feature_config")  # files of older versions
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if isinstance(raw, Mapping):
        for key in ("detrend", "bandpass"):
            if key in raw:
                stored.setdefault(key, raw[key])
    if isinstance(detrend, str) and detrend == "auto":
        detrend = stored.get("detrend", True)
        detrend = False if detrend is None else detrend
    if isinstance(bandpass, str) and bandpass == "auto":
        bandpass = stored.get("bandpass")
    return _detrend_type(detrend, func), _bandpass(bandpass, func)


def _monitor_background(model, background, func):
    """``background``, else (``"auto"``) the model's; a warning when nothing says which class it is."""
    names = list(model.class_names)
    resolved = resolve_background(background, names, model, func=func)
    if resolved is None and isinstance(background, str) and background == FROM_DATA:
        message = no_background_message(func, "the model has no background", names,
                                        "every run of frames is reported as a detection, whatever its class")
        warnings.warn(message, NoBackgroundWarning, stacklevel=3)
    return resolved


def _resolve_id(src, seed_id, func):
    ids = src.ids()
    if seed_id is None:
        if len(ids) == 1:
            return ids[0]
        raise ValueError(
            f"The 'seed_id' parameter of {func} must name the channel to monitor (NET.STA.LOC.CHA); the source holds "
            f"{len(ids)} ids: {ids[:10]}{' ...' if len(ids) > 10 else ''}."
        )
    if not isinstance(seed_id, str) or seed_id.count(".") != 3:
        raise ValueError(
            f"The 'seed_id' parameter of {func} must be a SEED id 'NET.STA.LOC.CHA' (e.g. 'XX.DCP..HHZ'). "
            f"Got {seed_id!r} instead."
        )
    if src.kind != "sds" and seed_id not in ids:
        raise ValueError(f"{func}: the source holds no trace {seed_id!r}; it holds {ids[:10]}.")
    return seed_id


def _bar(total, enabled, desc):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="block", desc=desc, leave=False)


#: warm-up (s) of a span that does not start the range (``span_s``): see docs/monitoring.md for its agreement
WARMUP_S = 600.0


def _is_network(seed_id) -> bool:
    """A list of ids, a pattern or an Inventory (a NetworkResult), rather than one SEED id (a MonitorResult)."""
    if isinstance(seed_id, str):
        return any(c in seed_id for c in "*?[")
    return seed_id is not None


def _load_model(model, func):
    if isinstance(model, (str, os.PathLike)):
        from ..models import load

        name = Path(model).name
        model = load(model, device="cpu")  # moved to the monitor's device later
    else:
        name = type(model).__name__
    if not hasattr(model, "class_names") or not hasattr(model, "input_size"):
        raise TypeError(
            f"The 'model' parameter of {func} must be an rnnscope model (RNNClassifier, TCNClassifier) or the path of "
            f"a model file. Got {type(model).__name__} instead."
        )
    return model, name


def _settings(model, *, feature_config, sampling_rate, detrend, bandpass, block_s, margin_s, smoothing, background,
              min_duration, threads, device, capture, func) -> Settings:
    """Every argument checked and resolved against the model's input contract."""
    from .._validation import check_positive

    cfg = _feature_config(model, feature_config, func)
    rate = _sampling_rate(model, sampling_rate, cfg, func)
    detrend_type, band = _preprocessing(model, detrend, bandpass, func)
    check_positive(block_s, name="block_s", func=func)
    check_positive(margin_s, name="margin_s", func=func, allow_zero=True)
    _detections._check_smoothing(smoothing, func)
    background = _monitor_background(model, background, func)
    _detections._min_frames(min_duration, model.class_names, func, background)
    if threads is not None:
        check_positive(threads, name="threads", func=func, integer=True)
    if capture and not hasattr(model, "forward_layers"):
        raise ValueError(
            f"{func}: capture_store needs a recurrent model (RNNClassifier); a {type(model).__name__} has no hidden "
            "states to capture. Leave capture_store out."
        )
    return Settings(cfg=cfg, rate=rate, detrend=detrend_type, band=band, margin_s=float(margin_s),
                    block_s=float(block_s), threads=threads, device=device, smoothing=smoothing,
                    min_duration=min_duration, background=background, capture=capture)


def _check_tasks(executor, output, span_s, warmup_s, capture_store, func) -> None:
    """The options of a run in tasks (several stations, an executor, an output folder or spans)."""
    from .._validation import check_positive

    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"The 'executor' parameter of {func} must be a concurrent.futures.Executor (e.g. a Dask client's "
            f"client.get_executor()) or None (serial). Got {type(executor).__name__} instead."
        )
    if span_s is not None:
        check_positive(span_s, name="span_s", func=func)
        check_positive(warmup_s, name="warmup_s", func=func, allow_zero=True)
        if capture_store is not None:
            raise ValueError(
                f"{func}: capture_store needs each station's state carried across its whole range; it cannot be "
                "combined with span_s (spans start from a zero state). Leave span_s out, or capture_store."
            )
    if capture_store is not None and output is None:
        raise ValueError(
            f"{func}: with several stations, an executor or spans, capture_store needs an output folder for the "
            "tasks' recordings (written there, then into the capture runs). Pass output='FOLDER'."
        )


def monitor(
    model,
    source,
    *,
    starttime=None,
    endtime=None,
    seed_id=None,
    feature_config="auto",
    device: str = "auto",
    min_duration: Mapping[str, int] | int | None = None,
    smoothing=DEFAULT_SMOOTHING,
    background: str | None = "auto",
    detrend: bool | str = "auto",
    bandpass="auto",
    sampling_rate: float | None = None,
    capture_store=None,
    block_s: float = 86400.0,
    margin_s: float = 60.0,
    threads: int | None = 1,
    progress: bool = True,
    executor=None,
    output=None,
    span_s: float | None = None,
    warmup_s: float = WARMUP_S,
):
    """Classify a long seismic record frame by frame and turn it into a detection catalog.

    Data are read one block (a UTC day) at a time, preprocessed, featurised and classified with the recurrent
    state carried across block boundaries, so the result equals one pass of the model over the concatenated
    data while memory stays that of one day (see the module docstring for the details and the gap rules).

    Parameters
    ----------
    model : RNNClassifier, TCNClassifier or path
        A trained model, or the path of a model file (:func:`rnnscope.models.load`).
    source : obspy.Stream, path, glob pattern, list of paths, or SDS root folder
        Waveforms: a Stream; MiniSEED/SAC/... files (anything ObsPy reads); or the root of an SDS archive
        (``root/YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY``, read with
        :class:`obspy.clients.filesystem.sds.Client`).
    starttime, endtime : UTC time, optional
        Range to monitor (ISO string, datetime or UTCDateTime; end excluded). Default: the data's extent (for an
        SDS archive, the first to the last day file of ``seed_id``).
    seed_id : str, list of str or obspy Inventory, optional
        ``NET.STA.LOC.CHA`` to monitor; may be left out when the source holds one id. **A network**: a pattern
        (``"XX.*..HHZ"``, :mod:`fnmatch` wildcards ``*``, ``?``, ``[...]``), a list of ids or patterns, or an ObsPy
        Inventory (its channels that the source holds) — then a :class:`~rnnscope.monitoring.NetworkResult` is
        returned.
    feature_config : FeatureConfig, preset name or JSON
        Features the model was trained on. ``"auto"`` (default): ``model.feature_config`` (stored by
        :func:`rnnscope.train.fit` and saved with the model), else ``"paper"``. A config that differs from the
        model's is refused.
    device : str
        ``"auto"`` picks CUDA, then MPS, then the CPU.
    min_duration : dict or int, optional
        Minimum detection length in frames per class name, or one number for every class. Default: the authors'
        ``{"TRE": 40, "HYB": 14, "VTE": 4, "LP": 4}`` for classes of those names, 2 frames for the background
        class, 1 for the others. A name the model does not have is an error.
    smoothing : None, int or (str, int)
        Moving mean over this many frames (default 5), ``("median", n)``, or None (off).
    background : str or None
        Class not reported as a detection; None: every run is reported. ``"auto"`` (default):
        ``model.background`` (saved with the model; :func:`rnnscope.train.fit` takes it from the training data),
        with a warning when the model does not say.
    detrend : bool or {"linear", "constant", "demean", "simple"}
        Detrend of each processing window (``True`` = linear), as in :func:`rnnscope.data.from_obspy`. ``"auto"``
        (default): the training records' (``model.preprocessing``) when known, else linear.
    bandpass : (float, float) or None
        Zero-phase Butterworth band-pass corners in Hz before resampling. ``"auto"`` (default): the training
        records', else none.
    sampling_rate : float, optional
        The model's input rate in Hz: every trace is resampled to it. Default ``model.sampling_rate`` (stored by
        :func:`rnnscope.train.fit`), else 100. A rate that differs from the model's is refused.
    capture_store : path, optional
        Also write the hidden states ``h`` of every layer and frame (with features, spectrogram, probabilities and
        the detections as segment table) into this folder: one zarr run per UTC day and contiguous piece, written
        chunk by chunk (see :mod:`rnnscope.monitoring._writer`); open one with :func:`rnnscope.open_run` and explore
        it. ``result.capture_store`` lists the runs.
    block_s : float
        Seconds read at once (default a day; blocks start at UTC midnights).
    margin_s : float
        Seconds of overlap between processing windows (keeps filter/resampling transients off block edges).
    threads : int or None
        PyTorch CPU threads while monitoring (restored afterwards). Default 1: the recurrence of one channel is a
        sequence of small matrix-vector products that more threads only slow down (8x slower with 2 threads on a
        busy 2-core machine). None keeps torch's setting.
    progress : bool
        Show a progress bar over blocks (tasks).
    executor : concurrent.futures.Executor, optional
        Run the stations in parallel on it, e.g. a Dask client's ``client.get_executor()`` (a ``LocalCluster`` or
        any scheduler; the source, the model and ``output`` must be readable by every worker). Each station's days
        run in order as tasks with the state carried from day to day, so the result is identical to the serial
        run. None (default): in this process.
    output : path, optional
        Folder written as the run goes (see :mod:`rnnscope.monitoring._network`): one task folder per day and
        station under ``output/tasks`` (written atomically; a rerun with the same model and settings skips the
        finished ones), then ``detections.csv``, ``detections.xml``, the probability MiniSEED
        (``probabilities.mseed`` for one id, ``probabilities/<id>.mseed`` for a network) and ``monitor.json``.
        Needed by ``capture_store`` with several stations or an executor.
    span_s : float, optional
        Also cut each station's range into spans of this length (seconds; a multiple of ``block_s`` keeps the
        serial run's processing windows), run in parallel: for few stations over long ranges. Each span but the
        first starts ``warmup_s`` earlier from a zero state on the serial run's frame grid and takes over
        ``margin_s`` before its start; the result then differs slightly from the serial run near those points
        (measured in ``docs/monitoring.md``).
    warmup_s : float
        Warm-up of each span (default 600 s).

    Returns
    -------
    MonitorResult or NetworkResult
        One id: ``.detections`` (DataFrame), ``.to_csv(path)``, ``.to_quakeml(path)``, ``.probabilities()``
        (ObsPy Stream), ``.to_mseed(path)``, ``.score(truth)``, ``.gaps``, ``.pieces``, ``.timings``. A network:
        the same for all channels together (``seed_id`` column), and ``result[seed_id]``, a MonitorResult per
        channel.

    Notes
    -----
    **Chunk boundaries.** Within a contiguous stretch of data the features are those of ``frames_of`` of the whole
    stretch and the model's state is carried from chunk to chunk: with detrending and band-pass off and data at
    the model's rate, the probabilities equal one forward pass over the whole stretch (tested to 1e-5). With
    detrending on, each processing window (a day plus ``margin_s`` seconds on each side) is detrended on its own,
    as :func:`rnnscope.data.from_obspy` detrends each record: a small offset between days is the only difference.

    **Gaps** end a stretch: its last frames use the end-edge repetition of ``frames_of``, the recurrent state is
    reset, framing restarts after the gap. Gaps hold no frame and no detection; ``result.gaps`` lists them.

    **QuakeML** has no event type for long-period events, tremor or hybrid events: event types come from
    :data:`rnnscope.data.QUAKEML_EVENT_TYPES` (VT/VTE ``"earthquake"``, AV ``"avalanche"``, IC ``"ice quake"``,
    other classes ``"other event"``; ``result.to_quakeml(path, event_types=...)`` changes it); the class name is
    stored as the text of the event's first description and in a comment (``rnnscope class=LP; start=...;
    end=...; p_mean=...``), which also holds the end time. Each event has one automatic pick at its start on the
    monitored channel and no origin.

    Examples
    --------
    >>> import numpy as np, obspy, rnnscope
    >>> trace = obspy.Trace(np.random.default_rng(0).normal(size=60_000), header={"sampling_rate": 100.0,
    ...     "network": "XX", "station": "DEMO", "channel": "HHZ", "starttime": obspy.UTCDateTime("2024-03-01T23:55")})
    >>> model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=8, num_classes=5)
    >>> result = rnnscope.monitor(model, obspy.Stream([trace]), progress=False)
    >>> result.n_frames, len(result.pieces)          # 10 minutes across midnight: one piece, 1193 frames
    (1193, 1)
    >>> st = result.probabilities()
    >>> [tr.stats.channel for tr in st], st[0].stats.sampling_rate, str(st[0].stats.starttime)
    (['HYB', 'LP', 'SIL', 'TRE', 'VTE'], 2.0, '2024-03-01T23:55:02.000000Z')

    Two stations (a pattern), each UTC day a task; with ``executor=client.get_executor()`` they run on Dask:

    >>> other = trace.copy()
    >>> other.stats.station = "EAST"
    >>> network = rnnscope.monitor(model, obspy.Stream([trace, other]), seed_id="XX.*..HHZ", progress=False)
    >>> network.seed_ids, network.timings["tasks_run"], network["XX.DEMO..HHZ"].n_frames
    (['XX.DEMO..HHZ', 'XX.EAST..HHZ'], 4, 1193)
    >>> bool((network["XX.DEMO..HHZ"].pieces[0].prob == result.pieces[0].prob).all())  # as the serial run
    True
    """
    func = "monitor"
    t_total = time.perf_counter()
    model, model_name = _load_model(model, func)
    s = _settings(model, feature_config=feature_config, sampling_rate=sampling_rate, detrend=detrend,
                  bandpass=bandpass, block_s=block_s, margin_s=margin_s, smoothing=smoothing, background=background,
                  min_duration=min_duration, threads=threads, device=device, capture=capture_store is not None,
                  func=func)
    from .._device import resolve_device

    dev = resolve_device(device, func=func)
    src = _open_source(source, func)
    network = _is_network(seed_id)
    ids = _expand_ids(src, seed_id, func) if network else [_resolve_id(src, seed_id, func)]
    if network or executor is not None or output is not None or span_s is not None:
        _check_tasks(executor, output, span_s, warmup_s, capture_store, func)
        import torch

        threads_before = torch.get_num_threads()
        try:
            return _network.run(model, model_name, s, src, ids, single=not network, starttime=starttime,
                                endtime=endtime, executor=executor, output=output, capture_store=capture_store,
                                span_s=span_s, warmup_s=warmup_s, progress=progress, func=func)
        finally:  # tasks run in this process's threads (a threaded Dask cluster) may leave torch's count set
            torch.set_num_threads(threads_before)
    t0, t1 = _network.station_range(src, ids[0], starttime, endtime, func)
    return _serial(model.to(dev).eval(), model_name, s, dev, src, ids[0], t0, t1, capture_store, progress, t_total)


def _serial(model, model_name, s: Settings, dev, src, seed_id, t0, t1, capture_store, progress, t_total):
    """One channel in this process, block after block (the classic path; tasks run the same steps)."""
    from obspy import UTCDateTime

    func = "monitor"
    timings = dict.fromkeys(("read", "preprocess", "features", "inference", "catalog"), 0.0)
    capture = None
    if capture_store is not None:
        from ._writer import CaptureWriter

        capture = CaptureWriter(capture_store, model, s.cfg, s.rate, seed_id, s.background,
                                source=source_record(src))
    engine = _Engine(model, s.cfg, s.rate, dev, timings, capture)
    pre = _Preprocessor(s.rate, s.detrend, s.band, s.margin_s, seed_id, func)
    blocks = _network.block_edges(t0.ns, t1.ns, s.block_s)
    bar = _bar(len(blocks), progress, f"monitor {seed_id}")
    with torch_threads(s.threads):
        try:
            for a, b in blocks:
                process_block(engine, pre, src, seed_id, UTCDateTime(ns=a), UTCDateTime(ns=b), timings)
                if bar is not None:
                    bar.update(1)
            feed(engine, pre, timings, None)
            engine.finish()
        finally:
            if bar is not None:
                bar.close()

    gaps = gap_table(engine.pieces, gaps_between(engine.pieces, engine.rate), engine.rate, t0, t1)
    if not any(p.prob.shape[0] for p in engine.pieces):
        longest = max((p.n_samples for p in engine.pieces), default=0)
        what = (f"the longest contiguous stretch of {seed_id!r} between {t0} and {t1} holds {longest} samples at "
                f"{s.rate:g} Hz ({longest / s.rate:g} s), shorter than one {s.cfg.window_s:g} s analysis window"
                if longest else f"the source holds no sample of {seed_id!r} between {t0} and {t1}")
        from ..errors import DataSkippedWarning

        warnings.warn(f"{func}: no frame was classified: {what}; the catalog is empty. Give a longer time range or "
                      "data without so many gaps.", DataSkippedWarning, stacklevel=3)
    t = time.perf_counter()
    result = MonitorResult(
        seed_id=seed_id, class_names=model.class_names, starttime=t0, endtime=t1, pieces=engine.pieces, gaps=gaps,
        feature_config=s.cfg, sampling_rate=s.rate, smoothing=s.smoothing, min_duration=s.min_duration,
        background=s.background, timings=timings, model_name=model_name,
    )
    timings["catalog"] = time.perf_counter() - t
    if capture is not None:
        result.capture_store = capture.finish(result.detections)
    timings["total"] = time.perf_counter() - t_total
    return result
