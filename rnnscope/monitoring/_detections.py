"""Frame probabilities -> a detection catalog; its exports (CSV, QuakeML, MiniSEED) and event-level scores.

The steps, per contiguous piece of signal (never across a gap):

1. **smoothing** of the per-frame class probabilities: a centred moving mean (or median) over a few frames
   (``smoothing=5`` by default; edges use the nearest frame);
2. **frame classes**: the argmax of the smoothed probabilities;
3. **minimum durations** per class (in frames; default the authors' 40, 14, 4, 4 frames for TRE, HYB, VTE, LP,
   2 frames for the background class whatever its name, 1 frame for any other class): the shortest run of frames
   shorter than its class's minimum is given to the neighbouring run whose class is more probable over its frames
   (mean smoothed probability), runs of one class that meet are merged, and so on until every run is long enough
   (a piece holding a single too-short run gives no detection);
4. every run not of the background class (the model's ``background``, e.g. ``"SIL"`` or ``"BG"``) is a
   **detection**: UTC start and end, class, mean and peak probability of every class over its frames (from the
   model's probabilities, not the smoothed ones).

A run of frames ``a .. b-1`` (frame centres ``t_a .. t_{b-1}``, one hop ``dt`` apart) becomes a detection from
``t_a - dt/2`` to ``t_{b-1} + dt/2``: frames are labelled by their centre sample, so this is the unbiased estimate
of the labelled segment (onset error within +-dt/2 for a perfect classifier).

Detections are written as QuakeML by :func:`rnnscope.monitoring.to_catalog`, which lives with the QuakeML reader
in :mod:`rnnscope.data._quakeml` (one mapping class name -> QuakeML event type, one comment format, both ways).

The probability MiniSEED has one channel per class; channel codes hold 3 characters, so :func:`channel_codes`
maps each class name to one (its own name when it is 1-3 letters or digits) and :func:`probability_stream` keeps
the class name in each trace's ``stats.class_name``; :func:`write_probabilities` stores the map in a JSON sidecar
that :func:`read_probabilities` reads back.
"""
from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._validation import FROM_DATA, check_background, no_background_message
from ..errors import NoBackgroundWarning
from ._runs import RunDetector, enforce_min, window_smooth

__all__ = ["DEFAULT_MIN_DURATION", "BACKGROUND_MIN_DURATION", "DEFAULT_SMOOTHING", "smooth", "frame_runs", "detect",
           "channel_codes", "probability_stream", "write_probabilities", "read_probabilities"]

#: minimum durations (frames) used by Titos & Garcia's authors for their event classes; the background class gets
#: :data:`BACKGROUND_MIN_DURATION`, classes not listed 1 frame (applied by name: only to classes of these names)
DEFAULT_MIN_DURATION = {"TRE": 40, "HYB": 14, "VTE": 4, "LP": 4}
#: minimum duration (frames) of a background run by default (the authors' 2 frames for SIL), whatever its name
BACKGROUND_MIN_DURATION = 2
#: moving mean over 5 frames (2.5 s with the paper's 0.5 s hop)
DEFAULT_SMOOTHING = 5
_NS = 1_000_000_000


# --------------------------------------------------------------------------------------------- smoothing


def _check_smoothing(smoothing, func: str) -> tuple[str, int]:
    """``None``/0/1 (off), an int (moving mean), or ``("mean" | "median", frames)`` -> (method, frames)."""
    if smoothing is None or smoothing is False:
        return "mean", 1
    method, size = "mean", smoothing
    if isinstance(smoothing, (tuple, list)) and len(smoothing) == 2:
        method, size = smoothing
    ok = isinstance(size, (int, np.integer)) and not isinstance(size, bool) and size >= 0
    if not ok or method not in ("mean", "median"):
        raise ValueError(
            f"The 'smoothing' parameter of {func} must be None (off), a number of frames (moving mean, e.g. 5) or "
            f"('mean' | 'median', frames), e.g. ('median', 5). Got {smoothing!r} instead."
        )
    return method, max(int(size), 1)


def smooth(prob: np.ndarray, *, smoothing=DEFAULT_SMOOTHING) -> np.ndarray:
    """Centred moving mean (or median) of ``prob`` ``(frames, classes)`` along frames; edges use the nearest frame.

    Parameters
    ----------
    prob : array of float
        Frame probabilities ``(frames, classes)``.
    smoothing : int, (str, int) or None
        Window in frames of a moving mean (``5``), ``("mean" | "median", frames)``, or None (no smoothing).

    Returns
    -------
    numpy.ndarray
        The smoothed probabilities, float64, of the shape of ``prob`` (a copy when nothing is smoothed).

    Raises
    ------
    ValueError
        When ``smoothing`` is none of the forms above.

    Examples
    --------
    >>> p = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    >>> smooth(p, smoothing=3)[:, 0].round(3).tolist()
    [0.667, 0.667, 0.667, 1.0]
    >>> smooth(p, smoothing=("median", 3))[:, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> smooth(p).shape  # default: moving mean over 5 frames
    (4, 2)
    """
    method, size = _check_smoothing(smoothing, "smooth")
    prob = np.asarray(prob, dtype=np.float64)
    if size <= 1 or prob.shape[0] == 0:
        return prob.copy()
    # each frame from its own window (scipy's uniform_filter1d / median_filter windows, mode "nearest"), so that a
    # piece smoothed chunk by chunk (RunDetector) gives the same values
    padded = np.concatenate([np.repeat(prob[:1], size // 2, axis=0), prob,
                             np.repeat(prob[-1:], size - 1 - size // 2, axis=0)])
    return window_smooth(padded, method, size)


# --------------------------------------------------------------------------------------------- runs


def default_min_duration(class_names: Sequence[str], background: str | None) -> dict[str, int]:
    """The default minimum durations (frames) for a set of classes: :data:`DEFAULT_MIN_DURATION` for the classes of
    those names, :data:`BACKGROUND_MIN_DURATION` for the background class.

    Examples
    --------
    >>> default_min_duration(["SIL", "TRE", "LP", "VTE", "HYB"], "SIL")
    {'SIL': 2, 'TRE': 40, 'LP': 4, 'VTE': 4, 'HYB': 14}
    >>> default_min_duration(["BG", "VT", "LP", "TR"], "BG")
    {'BG': 2, 'LP': 4}
    """
    out = {c: DEFAULT_MIN_DURATION[c] for c in class_names if c in DEFAULT_MIN_DURATION}
    if background is not None:
        out[background] = BACKGROUND_MIN_DURATION
    return {c: out[c] for c in class_names if c in out}


def _min_frames(min_duration, class_names: Sequence[str], func: str, background: str | None = None) -> np.ndarray:
    names = [str(c) for c in class_names]
    if min_duration is None:
        min_duration = default_min_duration(names, background)
    if isinstance(min_duration, (int, np.integer)) and not isinstance(min_duration, bool):
        min_duration = {c: int(min_duration) for c in names}
    if not isinstance(min_duration, Mapping):
        raise ValueError(
            f"The 'min_duration' parameter of {func} must be a dict of minimum lengths in frames per class name, "
            f"e.g. {DEFAULT_MIN_DURATION}, or one number of frames for all classes. Got {min_duration!r} instead."
        )
    unknown = [str(k) for k in min_duration if str(k) not in names]
    if unknown:
        import difflib

        close = {k: difflib.get_close_matches(k, names, n=1, cutoff=0.5) for k in unknown}
        hints = [f"{k!r} -> {v[0]!r}?" for k, v in close.items() if v]
        raise ValueError(
            f"The 'min_duration' parameter of {func} names classes the model does not have: {unknown} (the model's "
            f"classes: {names})." + (f" Did you mean {', '.join(hints)}" if hints else "")
            + " Give minimum lengths only for these classes (the others keep 1 frame)."
        )
    out = np.ones(len(names), dtype=np.int64)
    for name, frames in min_duration.items():
        if not isinstance(frames, (int, np.integer)) or isinstance(frames, bool) or frames < 0:
            raise ValueError(
                f"The 'min_duration' parameter of {func} must give a whole number of frames (>= 0) per class. "
                f"Got {frames!r} for {name!r} instead."
            )
        out[names.index(str(name))] = max(int(frames), 1)
    return out


def frame_runs(prob: np.ndarray, *, min_frames: Sequence[int]) -> pd.DataFrame:
    """Runs of frames of one class after enforcing per-class minimum lengths (see the module docstring).

    Parameters
    ----------
    prob : ndarray (frames, classes)
        (Smoothed) class probabilities of one contiguous piece.
    min_frames : sequence of int
        Minimum run length per class index.

    Returns
    -------
    pandas.DataFrame
        Columns ``start``, ``stop`` (frame indices, ``stop`` exclusive), ``class`` (index), in time order.

    Examples
    --------
    >>> p = np.eye(3)[[0, 0, 0, 1, 0, 0, 2, 2, 2, 2]]
    >>> frame_runs(p, min_frames=[2, 2, 2]).values.tolist()     # the 1-frame run of class 1 goes to class 0
    [[0, 6, 0], [6, 10, 2]]
    """
    prob = np.asarray(prob, dtype=np.float64)
    n = prob.shape[0]
    if n == 0:
        return pd.DataFrame({"start": [], "stop": [], "class": []}, dtype=np.int64)
    labels = prob.argmax(axis=1)
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], edges]).astype(np.int64)
    stops = np.concatenate([edges, [n]]).astype(np.int64)
    cls = labels[starts].astype(np.int64)
    shortest = np.asarray(min_frames, dtype=np.int64)
    if np.any(stops - starts < shortest[cls]):
        starts, stops, cls = enforce_min(prob, starts, stops, cls, shortest)
    return pd.DataFrame({"start": starts, "stop": stops, "class": cls})


# --------------------------------------------------------------------------------------------- catalog

#: columns of a detection table before the per-class probability columns
BASE_COLUMNS = ("seed_id", "class_name", "start", "end", "duration_s", "n_frames", "p_mean", "p_peak")


def empty_table(class_names: Sequence[str]) -> pd.DataFrame:
    columns = list(BASE_COLUMNS) + [f"p_mean_{c}" for c in class_names] + [f"p_peak_{c}" for c in class_names]
    table = pd.DataFrame({c: [] for c in columns})
    table["seed_id"] = table["seed_id"].astype(object)
    table["class_name"] = table["class_name"].astype(object)
    for c in ("start", "end"):
        table[c] = pd.to_datetime(table[c], utc=True)
    table["n_frames"] = table["n_frames"].astype(np.int64)
    return table


def detect(
    prob: np.ndarray,
    *,
    first_time_ns: int,
    frame_period_ns: int,
    class_names: Sequence[str],
    smoothing=DEFAULT_SMOOTHING,
    min_duration=None,
    background: str | None = "auto",
    seed_id: str | None = None,
) -> pd.DataFrame:
    """Detections of one contiguous piece of frame probabilities.

    Parameters
    ----------
    prob : ndarray (frames, classes)
        Model probabilities (softmax), one row per frame.
    first_time_ns : int
        UTC time of the centre of frame 0, in nanoseconds since 1970 (``UTCDateTime.ns``).
    frame_period_ns : int
        Hop between frames in ns (0.5 s for the paper's features).
    class_names : sequence of str
        Name of each probability column.
    smoothing : None, int or (str, int)
        See :func:`smooth`.
    min_duration : dict or int, optional
        Minimum run length in frames per class name (default :data:`DEFAULT_MIN_DURATION` for the classes of those
        names and :data:`BACKGROUND_MIN_DURATION` for the background class). A name that is not one of
        ``class_names`` is an error.
    background : str or None
        Class whose runs are not reported (None: every run is a detection). ``"auto"`` (default): nothing says
        here which class it is, so every run is reported, with a warning saying to pass it.
    seed_id : str, optional
        SEED id written into every row (None: an empty id).

    Returns
    -------
    pandas.DataFrame
        One row per detection: ``seed_id``, ``class_name``, ``start``, ``end`` (UTC pandas Timestamps),
        ``duration_s``, ``n_frames``, ``p_mean``, ``p_peak`` (of the detected class) and ``p_mean_<class>``,
        ``p_peak_<class>`` for every class.

    Examples
    --------
    >>> p = np.eye(3)[[0] * 4 + [2] * 6 + [0] * 4] * 0.8 + 0.2 / 3
    >>> t0 = 1_600_000_000 * 10**9 + 2 * 10**9     # frame 0 centred 2 s after 2020-09-13T12:26:40Z
    >>> d = detect(p, first_time_ns=t0, frame_period_ns=5 * 10**8, class_names=["BG", "TR", "LP"], smoothing=None,
    ...            background="BG")
    >>> d.class_name[0], str(d.start[0]), str(d.end[0]), int(d.n_frames[0])
    ('LP', '2020-09-13 12:26:43.750000+00:00', '2020-09-13 12:26:46.750000+00:00', 6)
    >>> round(float(d.p_mean[0]), 3), round(float(d.p_mean_BG[0]), 3)
    (0.867, 0.067)

    With defaults nothing says which class is the background: every run is reported, with a warning:

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     d = detect(p, first_time_ns=t0, frame_period_ns=5 * 10**8, class_names=["BG", "TR", "LP"])
    >>> d.class_name.tolist(), "background=" in str(caught[0].message)
    (['BG', 'LP', 'BG'], True)
    """
    func = "detect"
    names = list(class_names)
    prob = np.asarray(prob, dtype=np.float64)
    if prob.ndim != 2 or prob.shape[1] != len(names):
        raise ValueError(
            f"{func}: probabilities must be (frames, {len(names)}) for classes {names}; got shape {prob.shape}."
        )
    method, min_frames, background = detector_settings(names, smoothing, min_duration, background, func)
    detector = RunDetector(len(names), method, min_frames)
    detector.push(prob)
    return run_table(detector.finish(), first_time_ns, frame_period_ns, names, background,
                     "" if seed_id is None else seed_id)


def detector_settings(names, smoothing, min_duration, background, func, stacklevel: int = 3):
    """``(smoothing method and size, minimum frames per class, background)`` checked, for a
    :class:`~rnnscope.monitoring._runs.RunDetector`; ``background="auto"`` warns that nothing says which class it
    is (then every run is reported)."""
    if isinstance(background, str) and background == FROM_DATA and FROM_DATA not in names:
        message = no_background_message(func, "detect has no data to read it from", names,
                                        "every run is reported as a detection")
        warnings.warn(message, NoBackgroundWarning, stacklevel=stacklevel)
        background = None
    background = check_background(background, names, func=func)
    return _check_smoothing(smoothing, func), _min_frames(min_duration, names, func, background), background


def run_table(runs, first_time_ns: int, frame_period_ns: int, names, background, seed_id) -> pd.DataFrame:
    """The detection table of :class:`~rnnscope.monitoring._runs.RunDetector`'s runs ``(start, stop, class, sum,
    peak)`` of one piece (the background class's runs left out)."""
    if background is not None:
        runs = [r for r in runs if r[2] != names.index(background)]
    if not runs:
        return empty_table(names)
    a = np.array([r[0] for r in runs], dtype=np.int64)
    b = np.array([r[1] for r in runs], dtype=np.int64)
    c = np.array([r[2] for r in runs], dtype=np.int64)
    mean = np.stack([r[3] for r in runs]) / (b - a).astype(np.float64)[:, None]
    peak = np.stack([r[4] for r in runs])
    rows = np.arange(len(a))
    half = frame_period_ns // 2
    start_ns = first_time_ns + a * frame_period_ns - half
    end_ns = first_time_ns + (b - 1) * frame_period_ns + (frame_period_ns - half)
    table = pd.DataFrame(
        {
            "seed_id": [seed_id] * len(a),
            "class_name": [names[k] for k in c],
            "start": pd.to_datetime(start_ns, unit="ns", utc=True),
            "end": pd.to_datetime(end_ns, unit="ns", utc=True),
            "duration_s": (end_ns - start_ns) / _NS,
            "n_frames": (b - a).astype(np.int64),
            "p_mean": mean[rows, c],
            "p_peak": peak[rows, c],
        }
    )
    for j, name in enumerate(names):
        table[f"p_mean_{name}"] = mean[:, j]
    for j, name in enumerate(names):
        table[f"p_peak_{name}"] = peak[:, j]
    return table.astype({"seed_id": object, "class_name": object})


# --------------------------------------------------------------------------------------------- exports

#: suffix of the JSON file written beside a probability MiniSEED (class name -> channel code)
SIDECAR_SUFFIX = ".json"
_SHORT_CODE = re.compile(r"^[A-Za-z0-9]{1,3}$")
_CODE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def channel_codes(class_names: Sequence[str]) -> dict[str, str]:
    """Class name -> MiniSEED channel code (at most 3 characters), one distinct code per class.

    A name of 1 to 3 ASCII letters or digits is its own code (``SIL``, ``LP``, ``VTE`` ...). Every other name, in
    order, gets the first free code among: the first three letters or digits of its name, uppercased; the first
    two (padded with ``X``) followed by ``0``-``9``, ``A``-``Z``; any other three characters from those. The map
    depends on the list of names only, so it can be recomputed; :func:`write_probabilities` also stores it.

    Parameters
    ----------
    class_names : sequence of str
        The classes, in order.

    Returns
    -------
    dict of str to str
        Class name -> channel code, in the order of ``class_names``.

    Examples
    --------
    >>> channel_codes(["BG", "VT", "Tremor", "Tremolo", "ice-quake", "LP"])
    {'BG': 'BG', 'VT': 'VT', 'Tremor': 'TRE', 'Tremolo': 'TR0', 'ice-quake': 'ICE', 'LP': 'LP'}
    """
    import itertools

    names = [str(n) for n in class_names]
    codes = {n: n for n in names if _SHORT_CODE.match(n)}
    taken = set(codes.values())
    for name in names:
        if name in codes:
            continue
        alnum = re.sub(r"[^A-Za-z0-9]", "", name).upper()
        head = alnum[:2].ljust(2, "X")
        candidates = itertools.chain(
            [alnum[:3]] if len(alnum) >= 3 else [],
            (head + c for c in _CODE_CHARS),
            ("".join(t) for t in itertools.product(_CODE_CHARS, repeat=3)),
        )
        code = next(c for c in candidates if c not in taken)
        codes[name] = code
        taken.add(code)
    return {n: codes[n] for n in names}


def probability_stream(pieces: Sequence, *, class_names: Sequence[str], seed_id: str):
    """Per-class probability traces (one per class and contiguous piece) as an ObsPy Stream.

    ``pieces`` holds ``(first_time_ns, frame_period_ns, prob (frames, classes))`` tuples. Channel = the class's
    code from :func:`channel_codes` (the class name itself when it has 1-3 letters or digits), class name in
    ``stats.class_name``, network/station/location those of ``seed_id``, sampling rate = frame rate (2 Hz for the
    paper's features), start time = centre of the first frame, data float32.

    Parameters
    ----------
    pieces : sequence of tuple
        ``(first_time_ns, frame_period_ns, prob)`` per contiguous piece; empty pieces are skipped.
    class_names : sequence of str
        The classes, in the order of ``prob``'s columns.
    seed_id : str
        ``NET.STA.LOC.CHA`` of the monitored channel (its network, station and location name the traces).

    Returns
    -------
    obspy.Stream
        One float32 trace per class and piece, sorted by channel then start time.

    Examples
    --------
    >>> prob = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> st = probability_stream([(0, 5 * 10**8, prob)], class_names=["Background", "LP"], seed_id="XX.STA..HHZ")
    >>> [(tr.stats.channel, tr.stats.class_name, tr.stats.sampling_rate) for tr in st]
    [('BAC', 'Background', 2.0), ('LP', 'LP', 2.0)]
    """
    from obspy import Stream, Trace, UTCDateTime

    net, sta, loc, _ = (seed_id.split(".") + ["", "", "", ""])[:4] if seed_id.count(".") == 3 else ("", "", "", "")
    codes = channel_codes(class_names)
    traces = []
    for first_ns, period_ns, prob in pieces:
        prob = np.asarray(prob, dtype=np.float32)
        if prob.shape[0] == 0:
            continue
        for j, name in enumerate(class_names):
            header = {"network": net, "station": sta, "location": loc, "channel": codes[str(name)],
                      "sampling_rate": _NS / period_ns, "starttime": UTCDateTime(ns=int(first_ns)),
                      "class_name": str(name)}
            traces.append(Trace(data=np.ascontiguousarray(prob[:, j]), header=header))
    st = Stream(traces)
    st.sort(keys=["channel", "starttime"])
    return st


def write_probabilities(stream, path) -> str:
    """Write a :func:`probability_stream` as MiniSEED (FLOAT32) plus a JSON sidecar ``<path>.json``; return the path.

    ``stream`` may also be an iterable of such Streams, written one after the other into the one file (a long
    range piece by piece: MiniSEED readers join the contiguous records of a channel again). The sidecar holds
    ``{"channel_codes": {class name: channel code}}`` so :func:`read_probabilities` gives every trace its class
    name back (MiniSEED itself stores no class name). No trace at all (no frame was classified) gives an empty file
    (MiniSEED of no record), which :func:`read_probabilities` reads back as an empty Stream.

    Parameters
    ----------
    stream : obspy.Stream or iterable of obspy.Stream
        From :func:`probability_stream` (each trace with ``stats.class_name``).
    path : str or path-like
        The MiniSEED file to write (overwritten); the sidecar is ``<path>.json``.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ValueError
        When one class has two channel codes in ``stream``.

    Examples
    --------
    >>> import os, tempfile, obspy
    >>> folder = tempfile.mkdtemp()
    >>> st = probability_stream([(0, 5 * 10**8, np.array([[0.9, 0.1], [0.2, 0.8]]))],
    ...                         class_names=["Background", "LP"], seed_id="XX.STA..HHZ")
    >>> path = write_probabilities(st, os.path.join(folder, "prob.mseed"))
    >>> os.path.basename(path), sorted(os.listdir(folder))
    ('prob.mseed', ['prob.mseed', 'prob.mseed.json'])
    >>> path = write_probabilities(obspy.Stream(), os.path.join(folder, "none.mseed"))  # nothing classified
    >>> os.path.getsize(path), len(read_probabilities(path))
    (0, 0)
    """
    from obspy import Stream

    codes: dict[str, str] = {}
    path = os.fspath(path)
    with open(path, "wb") as f:  # ObsPy refuses to write an empty stream; MiniSEED of no record is an empty file
        for part in [stream] if isinstance(stream, Stream) else stream:
            for tr in part:
                name = str(tr.stats.get("class_name", tr.stats.channel))
                if codes.setdefault(name, tr.stats.channel) != tr.stats.channel:
                    raise ValueError(
                        f"write_probabilities: class {name!r} has the channel codes {codes[name]!r} and "
                        f"{tr.stats.channel!r}; give each class one code (see channel_codes)."
                    )
            if len(part):
                part.write(f, format="MSEED", encoding="FLOAT32")
    with open(path + SIDECAR_SUFFIX, "w") as f:
        json.dump({"content": "rnnscope class probabilities", "channel_codes": codes}, f, indent=1)
    return path


def read_probabilities(path):
    """Read a probability MiniSEED written by :func:`write_probabilities`; ``stats.class_name`` set on every trace.

    Without the sidecar ``<path>.json`` each class name is taken to be its channel code.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`write_probabilities`.

    Returns
    -------
    obspy.Stream
        Its traces, each with ``stats.class_name``; an empty Stream for an empty file.

    Examples
    --------
    >>> import os, tempfile
    >>> st = probability_stream([(0, 5 * 10**8, np.array([[0.9, 0.1], [0.2, 0.8]]))],
    ...                         class_names=["Background", "LP"], seed_id="XX.STA..HHZ")
    >>> path = write_probabilities(st, os.path.join(tempfile.mkdtemp(), "prob.mseed"))
    >>> back = read_probabilities(path)
    >>> [(tr.stats.channel, tr.stats.class_name) for tr in back], back[1].data.round(2).tolist()
    ([('BAC', 'Background'), ('LP', 'LP')], [0.1, 0.8])
    >>> os.remove(path + ".json")  # without the sidecar the channel codes name the classes
    >>> [tr.stats.class_name for tr in read_probabilities(path)]
    ['BAC', 'LP']
    """
    from obspy import Stream, read

    path = os.fspath(path)
    if os.path.getsize(path) == 0:  # what write_probabilities writes when no frame was classified
        return Stream()
    st = read(path)
    names = {}
    if os.path.exists(path + SIDECAR_SUFFIX):
        with open(path + SIDECAR_SUFFIX) as f:
            names = {code: name for name, code in json.load(f).get("channel_codes", {}).items()}
    for tr in st:
        tr.stats.class_name = names.get(tr.stats.channel, tr.stats.channel)
    return st
