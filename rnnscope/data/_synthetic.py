"""Synthetic volcano-seismic records: tremor, long-period, volcano-tectonic and hybrid events in noise.

The data set of Titos & Garcia (2022) (Deception Island) is not public, so rnnscope ships a generator with the
same five classes (``SIL``, ``TRE``, ``LP``, ``VTE``, ``HYB``), a similar class imbalance and the signal character
of standard volcano seismology. It is a toy model, not a physical simulation: it aims at records on which a
frame-by-frame classifier must use temporal context, as on real data.

The model
---------
A record is a stretch of continuous ground velocity (arbitrary "counts") made of a **background** and zero or more
**events** added to it.

``SIL`` (background)
    Microseism (narrow-band noise peaking at 0.12-0.35 Hz, 0.5-3 times the level of the rest), coloured noise whose
    power falls as ``f**-beta`` above 0.5 Hz (``beta`` 0.3-1.2) with a slowly drifting level, and occasional weak
    high-frequency spikes (0.2-1.5 s bursts at 4-30 Hz, 0.5-3 times the noise level). The RMS of the coloured
    noise, ``sigma``, is the record's noise level: every SNR and the labelling threshold refer to it.
``VTE`` (volcano-tectonic earthquake)
    P and S phases (S-P time 0.5-3 s, P 0.2-0.6 times S) made of band-limited noise in nine log-spaced bands
    (0.7 Hz to 0.45 sampling rate) weighted by the velocity spectrum of an omega-squared source
    (``(f/fc) / (1 + (f/fc)**2)``, corner ``fc`` 4-15 Hz, P corner 1.5 ``fc``), each band with an impulsive onset and
    a coda ``exp(-pi f t / Q(f))``, ``Q(f) = Qc (f/fc)**0.3-0.6`` with ``Qc`` in 50-300 (set from the drawn
    duration and SNR).
``LP`` (long-period event)
    A damped resonator (fluid-filled crack): an emergent noise burst (rise 1-4 s) rings through one to three
    two-pole resonators, harmonic or not, with peaks in 0.5-5 Hz and quality factors Q 5-100 (set from the
    duration).
``TRE`` (tremor)
    A sum of one to five harmonics of a fundamental of 0.5-3 Hz (gliding by up to 35 % in 30 % of the tremors,
    with a slow phase wander) plus some narrow-band noise, emergent and fading tapers and a slow amplitude
    modulation (0.02-0.12 Hz); in some tremors (``tre_onset_vte_prob``) a short VTE-like onset starts it, labelled
    TRE as analysts do.
``HYB`` (hybrid event)
    A short VTE (P and S, ``fc`` 6-15 Hz, its high frequencies gone within a few seconds) whose signal excites one or
    two LP-like resonators (0.5-8 Hz, Q 5-100) that ring for the rest of the event.

Each event draws its own duration (``event_duration_s``), SNR (``snr_db``), frequencies, quality factors and
amplitudes, so weak events sink into the noise and LP, TRE and HYB share the 0.5-5 Hz band while the onsets of
VTE and HYB (and of some tremors, and the background spikes) look alike.

**Labels.** The event is scaled so that the peak of its own RMS envelope (moving RMS over 1 s of the noise-free
event signal) is ``sigma * 10**(snr_db / 20)``. Its label runs from its onset to the last sample where that envelope
is at least ``label_threshold * sigma`` ("decayed near the noise"): the onset is the P arrival for VTE and HYB and
the first sample above that threshold for the emergent LP and TRE. The event's signal goes on below the threshold
after the label ends. Events are placed one after the other with SIL stretches between them (``mean_gap_s``); with
probability ``double_event_prob`` an event is followed by a second one of the same class after 0-3 s (the
"concatenated LPs" of the paper). An event that does not end before the record does is cut by the record end.
Every sample of a record is labelled, and every SIL stretch is a segment too.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.fft import next_fast_len
from scipy.ndimage import uniform_filter1d
from scipy.signal import lfilter

from .._validation import (
    DEFAULT_BACKGROUND,
    DEFAULT_CLASS_NAMES,
    check_positive,
    check_range,
)
from ..schema import plain
from ._records import SEGMENT_COLUMNS, build_records

__all__ = ["synthetic"]

_FUNC = "synthetic"
CLASS_NAMES = tuple(DEFAULT_CLASS_NAMES)  # SIL, TRE, LP, VTE, HYB: SIL is index 0
BACKGROUND = DEFAULT_BACKGROUND  # "SIL": the stretches between events (attrs["background"])
EVENT_CLASSES = CLASS_NAMES[1:]
#: relative weights of the event classes: the event counts of Titos & Garcia (2022)
DEFAULT_CLASS_WEIGHTS = {"TRE": 77.0, "LP": 765.0, "VTE": 75.0, "HYB": 54.0}
#: range (s) of each event class's drawn duration (the labelled length comes out near it)
DEFAULT_EVENT_DURATION_S = {"TRE": (30.0, 120.0), "LP": (10.0, 40.0), "VTE": (10.0, 30.0), "HYB": (12.0, 35.0)}
_MIN_GAP_S = 2.0  # shortest SIL stretch between two events that are not a double event
_DOUBLE_GAP_S = (0.5, 3.0)  # gap between the two events of a double event (or none, 30 % of the time)
_MIN_ROOM_S = 5.0  # no event starts less than this before the record end
_ENVELOPE_WINDOW_S = 1.0  # moving-RMS window of the labelling envelope
_NOISE_LEVEL = 100.0  # median RMS (counts) of the coloured background noise
_GENERATOR_VERSION = 1  # bump when the same seed gives different records


@dataclasses.dataclass(frozen=True)
class _Config:
    sampling_rate: float
    duration_s: tuple[float, float]
    class_proportions: dict[str, float]
    double_event_prob: float
    snr_db: tuple[float, float]
    mean_gap_s: float
    event_duration_s: dict[str, tuple[float, float]]
    spikes_per_minute: float
    tre_onset_vte_prob: float
    label_threshold: float


def synthetic(
    n_records: int = 40,
    *,
    seed: int | None = 0,
    sampling_rate: float = 100.0,
    record_duration_s: tuple[float, float] = (40.0, 180.0),
    class_proportions: Mapping[str, float] | None = None,
    double_event_prob: float = 0.15,
    snr_db: tuple[float, float] = (0.0, 24.0),
    mean_gap_s: float = 25.0,
    event_duration_s: Mapping[str, tuple[float, float]] | None = None,
    spikes_per_minute: float = 1.0,
    tre_onset_vte_prob: float = 0.2,
    label_threshold: float = 0.5,
) -> xr.Dataset:
    """Generate synthetic volcano-seismic records with sample labels and a segment table.

    The signal model of every class and the labelling rule are described in the module docstring
    (``rnnscope.data._synthetic``): background noise with microseism and weak
    spikes (SIL), harmonic tremor (TRE), damped resonators (LP), P and S phases with an omega-squared source and a
    ``exp(-pi f t / Q)`` coda (VTE), and a VTE onset ringing like an LP (HYB).

    Parameters
    ----------
    n_records : int, default 40
        Number of records (the ``event`` dimension).
    seed : int or None, default 0
        Seed of :func:`numpy.random.default_rng`. Record ``i`` draws from the ``i``-th child of
        ``numpy.random.SeedSequence(seed)``, so it does not depend on ``n_records``. ``None`` draws a fresh seed and
        stores it in ``attrs["seed"]``.
    sampling_rate : float, default 100.0
        Hz (at least 20 Hz; the paper processes its data at 100 Hz).
    record_duration_s : (float, float), default (40, 180)
        Range of record durations in s, drawn uniformly per record.
    class_proportions : dict, optional
        Relative frequency of each event class, e.g. ``{"LP": 1, "VTE": 1}``; classes not named are never drawn.
        Keys are among ``TRE``, ``LP``, ``VTE``, ``HYB`` (``SIL`` is the background between events: set
        ``mean_gap_s`` for its share). Default: the paper's event counts, TRE 77, LP 765, VTE 75, HYB 54.
    double_event_prob : float, default 0.15
        Probability that an event is followed, 0-3 s after its label ends, by a second event of the same class.
    snr_db : (float, float), default (0, 24)
        Range of event SNRs in dB (uniform): peak of the event's 1-s RMS envelope over the RMS of the background's
        coloured noise. The lower end must exceed ``20 * log10(label_threshold)``.
    mean_gap_s : float, default 25.0
        Mean length in s of the SIL stretches before and between events (2 s plus an exponential draw).
    event_duration_s : dict, optional
        Range (s) of the duration drawn for an event class, e.g. ``{"TRE": (60, 180)}``; the others keep their
        defaults: TRE (30, 120), LP (10, 40), VTE (10, 30), HYB (12, 35). The labelled length comes out near the
        drawn duration (shorter for weak events, which sink into the noise sooner).
    spikes_per_minute : float, default 1.0
        Mean rate of weak transients in the background (labelled SIL).
    tre_onset_vte_prob : float, default 0.2
        Probability that a tremor starts with a short VTE-like onset (labelled TRE).
    label_threshold : float, default 0.5
        An event is labelled while its own RMS envelope is at least this fraction of the noise level.

    Returns
    -------
    xarray.Dataset
        A records Dataset built by ``build_records``: ``waveform`` (event, sample) float32 (NaN past
        ``n_samples``), ``sample_label`` (event, sample) int16 (-1 past ``n_samples``, a class index everywhere
        else), the segment table ``segment_event_id``, ``segment_class``, ``segment_start``, ``segment_end``,
        ``segment_p``, ``segment_s`` (s from the record start; P and S for VTE and HYB, NaN otherwise; SIL stretches
        are segments too), and attrs ``class_names`` (``["SIL", "TRE", "LP", "VTE", "HYB"]``), ``background``
        (``"SIL"``), ``sampling_rate``, ``seed`` and ``generator`` (JSON string of every parameter above). See
        :func:`rnnscope.data.catalog`.

    Raises
    ------
    ValueError
        If a parameter is out of range or names an unknown class.

    Examples
    --------
    >>> import rnnscope
    >>> ds = rnnscope.data.synthetic(n_records=3, seed=0)
    >>> ds.sizes["event"], ds["waveform"].dtype, ds["sample_label"].dtype, ds.attrs["sampling_rate"]
    (3, dtype('float32'), dtype('int16'), 100.0)
    >>> ds.attrs["class_names"], ds.attrs["background"]
    (['SIL', 'TRE', 'LP', 'VTE', 'HYB'], 'SIL')
    >>> (ds["n_samples"].values / ds.attrs["sampling_rate"]).round(1)  # record lengths, s
    array([172. , 134.8, 157.4])
    >>> cat = rnnscope.data.catalog(ds)
    >>> cat[["event", "class_name", "start", "end"]].round(1).head(4)
       event class_name  start   end
    0      0        SIL    0.0   8.8
    1      0         LP    8.8  30.2
    2      0        SIL   30.2  40.8
    3      0         LP   40.8  69.8
    >>> cat["class_name"].value_counts().to_dict()
    {'SIL': 10, 'LP': 8}

    Only VTE and HYB events, which carry P and S arrivals:

    >>> ds = rnnscope.data.synthetic(1, seed=2, class_proportions={"VTE": 1, "HYB": 1})
    >>> rnnscope.data.catalog(ds).query("class_name != 'SIL'")[["class_name", "start", "end", "p", "s"]].round(1)
      class_name  start    end      p      s
    1        HYB   35.0   62.3   35.0   37.6
    3        HYB   85.1   92.8   85.1   87.0
    5        VTE  104.5  121.0  104.5  106.5
    """
    check_positive(n_records, name="n_records", func=_FUNC, integer=True)
    cfg = _check_config(
        sampling_rate=sampling_rate,
        duration_s=record_duration_s,
        class_proportions=class_proportions,
        double_event_prob=double_event_prob,
        snr_db=snr_db,
        mean_gap_s=mean_gap_s,
        event_duration_s=event_duration_s,
        spikes_per_minute=spikes_per_minute,
        tre_onset_vte_prob=tre_onset_vte_prob,
        label_threshold=label_threshold,
    )
    seed = _check_seed(seed)

    waveforms, labels, rows = [], [], []
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(int(n_records))):
        x, y, record_rows = _record(np.random.default_rng(child), cfg)
        waveforms.append(x)
        labels.append(y)
        rows += [(i, CLASS_NAMES.index(c), a, b, p, s) for a, c, b, p, s in record_rows]
    segments = pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS)).sort_values(["event", "start"], kind="stable")
    generator = {"name": "rnnscope.data.synthetic", "version": _GENERATOR_VERSION, "n_records": int(n_records)}
    generator.update(dataclasses.asdict(cfg))
    return build_records(
        waveforms,
        labels,
        sampling_rate=cfg.sampling_rate,
        class_names=CLASS_NAMES,
        segments=segments,
        event_ids=[f"syn{i:05d}" for i in range(int(n_records))],
        attrs={"generator": plain(generator), "seed": int(seed)},
        background=BACKGROUND,
        func=_FUNC,
    )


# --------------------------------------------------------------------------------------------------- checks


def _check_config(**kw) -> _Config:
    fs = check_positive(kw["sampling_rate"], name="sampling_rate", func=_FUNC)
    if fs < 20:
        raise ValueError(
            f"The 'sampling_rate' parameter of {_FUNC} must be at least 20 Hz (VTEs reach 15 Hz). Got {fs!r} instead."
        )
    duration = _check_duration_range(kw["duration_s"], name="record_duration_s")
    weights = _check_class_proportions(kw["class_proportions"])
    snr = check_range(kw["snr_db"], name="snr_db", func=_FUNC, low=-20.0, high=80.0)
    threshold = check_positive(kw["label_threshold"], name="label_threshold", func=_FUNC)
    floor = 20 * np.log10(threshold)
    if snr[0] <= floor:
        raise ValueError(
            f"The 'snr_db' parameter of {_FUNC} must start above 20*log10(label_threshold) = {floor:.1f} dB, or "
            f"the weakest events would never rise above the labelling threshold. Got {kw['snr_db']!r} instead."
        )
    durations = dict(DEFAULT_EVENT_DURATION_S)
    given = kw["event_duration_s"] or {}
    if not isinstance(given, Mapping):
        raise ValueError(
            f"The 'event_duration_s' parameter of {_FUNC} must be a dict such as {{'LP': (10, 40)}}. "
            f"Got {given!r} instead."
        )
    _check_event_names(given, "event_duration_s")
    for name, value in given.items():
        durations[name] = _check_duration_range(value, name=f"event_duration_s[{name!r}]", low=1.0)
    return _Config(
        sampling_rate=float(fs),
        duration_s=duration,
        class_proportions=weights,
        double_event_prob=_check_probability(kw["double_event_prob"], "double_event_prob"),
        snr_db=snr,
        mean_gap_s=float(check_positive(kw["mean_gap_s"], name="mean_gap_s", func=_FUNC)),
        event_duration_s=durations,
        spikes_per_minute=float(
            check_positive(kw["spikes_per_minute"], name="spikes_per_minute", func=_FUNC, allow_zero=True)
        ),
        tre_onset_vte_prob=_check_probability(kw["tre_onset_vte_prob"], "tre_onset_vte_prob"),
        label_threshold=float(threshold),
    )


def _check_duration_range(value: Any, *, name: str, low: float = 0.0) -> tuple[float, float]:
    a, b = check_range(value, name=name, func=_FUNC, low=low)
    if a <= 0:
        raise ValueError(
            f"The {name!r} parameter of {_FUNC} must be a pair (min, max) of durations in s with 0 < min <= max. "
            f"Got {value!r} instead."
        )
    return a, b


def _check_event_names(mapping: Mapping, name: str) -> None:
    unknown = [k for k in mapping if k not in EVENT_CLASSES]
    if unknown:
        hint = " SIL is the background between events; set 'mean_gap_s' for its share." if "SIL" in unknown else ""
        raise ValueError(
            f"The {name!r} parameter of {_FUNC} names unknown event classes {unknown}; use "
            f"{list(EVENT_CLASSES)}.{hint} Got {dict(mapping)!r} instead."
        )


def _check_class_proportions(weights: Any) -> dict[str, float]:
    if weights is None:
        weights = DEFAULT_CLASS_WEIGHTS
    if not isinstance(weights, Mapping):
        raise ValueError(
            f"The 'class_proportions' parameter of {_FUNC} must be a dict of event class -> relative weight such "
            f"as {DEFAULT_CLASS_WEIGHTS}. Got {weights!r} instead."
        )
    _check_event_names(weights, "class_proportions")
    out = {}
    for name, w in weights.items():
        ok = isinstance(w, (int, float, np.integer, np.floating)) and not isinstance(w, bool)
        if not (ok and np.isfinite(w) and w >= 0):
            raise ValueError(
                f"The 'class_proportions' parameter of {_FUNC} must map classes to non-negative numbers. "
                f"Got {name!r}: {w!r} instead."
            )
        out[name] = float(w)
    if sum(out.values()) <= 0:
        raise ValueError(
            f"The 'class_proportions' parameter of {_FUNC} must give at least one class a positive weight. "
            f"Got {dict(weights)!r} instead."
        )
    return {name: out.get(name, 0.0) for name in EVENT_CLASSES}


def _check_probability(value: Any, name: str) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not (ok and 0.0 <= value <= 1.0):
        raise ValueError(f"The {name!r} parameter of {_FUNC} must be a probability in [0, 1]. Got {value!r} instead.")
    return float(value)


def _check_seed(seed: Any) -> int:
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"The 'seed' parameter of {_FUNC} must be a non-negative integer or None. Got {seed!r} instead."
        )
    return int(seed)


# --------------------------------------------------------------------------------------------------- helpers


def _loguniform(rng: np.random.Generator, low: float, high: float, size=None):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _shaped_noise(rng: np.random.Generator, n: int, fs: float, amplitude) -> np.ndarray:
    """Gaussian noise with amplitude spectrum ``amplitude(f)`` (one row per row of its output), unit RMS per row.

    Drawn in the frequency domain (one inverse FFT of a fast length, cut to ``n``).
    """
    m = next_fast_len(int(n), real=True)
    f = np.fft.rfftfreq(m, 1.0 / fs)
    shape = np.atleast_2d(amplitude(f))
    shape[:, 0] = 0.0  # no DC
    spec = rng.standard_normal((shape.shape[0], 2 * shape.shape[1])).view(np.complex128)
    spec *= shape
    x = np.fft.irfft(spec, m, axis=-1)[:, :n]
    x /= np.sqrt(np.mean(x * x, axis=-1, keepdims=True)) + 1e-30
    return x


def _band(f: np.ndarray, centre, octaves: float = 0.35) -> np.ndarray:
    """Log-Gaussian band shapes (rows) around ``centre`` Hz, width in octaves."""
    centre = np.atleast_1d(centre)[:, None]
    return np.exp(-0.5 * (np.log2(np.maximum(f, 1e-6) / centre) / octaves) ** 2)


def _moving_rms(x: np.ndarray, fs: float) -> np.ndarray:
    w = max(1, int(round(_ENVELOPE_WINDOW_S * fs)))
    return np.sqrt(np.maximum(uniform_filter1d(x * x, size=w, mode="constant"), 0.0))


def _resonate(x: np.ndarray, fs: float, freqs, qs, gains) -> np.ndarray:
    """Sum of two-pole resonators (peak ``f``, quality ``Q``: impulse response ~ exp(-pi f t / Q) sin(2 pi f t))."""
    out = np.zeros_like(x)
    for f, q, g in zip(freqs, qs, gains, strict=True):
        r = np.exp(-np.pi * f / (q * fs))
        y = lfilter([1.0], [1.0, -2.0 * r * np.cos(2 * np.pi * f / fs), r * r], x)
        out += g * y / (np.sqrt(np.mean(y * y)) + 1e-30)
    return out


def _taper(n: int, rise: int, fall: int) -> np.ndarray:
    """sin**2 ramps up over ``rise`` samples and down over ``fall`` samples."""
    env = np.ones(n)
    if rise > 0:
        env[:rise] = np.sin(0.5 * np.pi * np.arange(rise) / rise) ** 2
    if fall > 0:
        env[n - fall :] = np.minimum(env[n - fall :], np.cos(0.5 * np.pi * np.arange(1, fall + 1) / fall) ** 2)
    return env


# --------------------------------------------------------------------------------------------------- classes


def _background(rng: np.random.Generator, n: int, cfg: _Config) -> tuple[np.ndarray, float]:
    """SIL: microseism + coloured noise with a drifting level + weak spikes. Returns (signal, sigma)."""
    fs = cfg.sampling_rate
    sigma = _NOISE_LEVEL * 10 ** rng.uniform(-0.3, 0.3)
    beta = rng.uniform(0.3, 1.2)
    f_micro = rng.uniform(0.12, 0.35)
    micro_ratio = 10 ** rng.uniform(-0.3, 0.5)
    highcut = 0.4 * fs

    def shapes(f):
        coloured = np.maximum(f, 0.5) ** (-beta / 2) / (1 + (f / highcut) ** 8)
        micro = np.exp(-0.5 * ((f - f_micro) / (0.25 * f_micro)) ** 2)
        return np.stack([coloured, micro])

    coloured, micro = _shaped_noise(rng, n, fs, shapes)
    t = np.arange(n) / fs  # the coloured noise's level drifts by about 15 % over minutes
    drift = 1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.002, 0.01) * t + rng.uniform(0, 2 * np.pi))
    x = coloured * drift + micro_ratio * micro
    n_spikes = rng.poisson(cfg.spikes_per_minute * n / fs / 60.0)
    if n_spikes:
        starts = rng.integers(0, n, n_spikes)
        lengths = (rng.uniform(0.2, 1.5, n_spikes) * fs).astype(int)
        taus = rng.uniform(0.05, 0.4, n_spikes) * fs
        amps = rng.uniform(0.5, 3.0, n_spikes)
        hf = _shaped_noise(rng, int(lengths.sum()), fs, lambda f: _band(f, 12.0, octaves=0.8))[0]
        offsets = np.r_[0, np.cumsum(lengths)]
        for i, (pos, length) in enumerate(zip(starts, lengths, strict=True)):
            stop = min(n, pos + length)
            burst = hf[offsets[i] : offsets[i] + stop - pos]
            x[pos:stop] += amps[i] * np.exp(-np.arange(stop - pos) / taus[i]) * burst
    return sigma * x, sigma


def _vte(rng, fs, duration, nepers, *, fc_range=(4.0, 15.0), tail_s=None):
    """VTE: P and S phases, omega-squared velocity spectrum, coda exp(-pi f t / Q(f)). Returns (x, p, s) samples."""
    sp = rng.uniform(0.5, 3.0)
    fc = _loguniform(rng, *fc_range)
    eta = rng.uniform(0.3, 0.6)
    coda = max(duration - sp, 2.0)
    q_c = float(np.clip(np.pi * fc * coda / nepers, 50.0, 300.0))
    tail = 1.5 * coda if tail_s is None else tail_s
    n = int((sp + tail + 1.0) * fs)
    bands = np.geomspace(0.7, 0.45 * fs, 9)
    octaves = np.log2(bands[1] / bands[0]) / 2

    def velocity(f, corner):  # omega-squared source, velocity, per log-spaced band
        return (f / corner) / (1 + (f / corner) ** 2) * np.sqrt(f)

    noise = _shaped_noise(rng, n, fs, lambda f: _band(f, np.r_[bands, bands], octaves))
    t = np.arange(n) / fs
    q = q_c * (bands / fc) ** eta

    def phase(onset, corner, rise):
        dt = np.maximum(t - onset, 0.0)
        env = (1 - np.exp(-dt / rise)) * np.exp(-np.pi * bands[:, None] * dt / q[:, None])
        return velocity(bands, corner)[:, None] * np.where(t >= onset, env, 0.0)

    p_ratio = rng.uniform(0.2, 0.6)
    p = phase(0.0, 1.5 * fc, rng.uniform(0.02, 0.15))
    s = phase(sp, fc, rng.uniform(0.05, 0.3))
    x = p_ratio * np.sum(noise[:9] * p, axis=0) + np.sum(noise[9:] * s, axis=0)
    return x, 0, int(round(sp * fs))


def _lp(rng, fs, duration, nepers):
    """LP: an emergent noise burst ringing through 1-3 damped resonators (0.5-5 Hz, Q 5-100)."""
    rise = rng.uniform(1.0, 4.0)
    n = int((rise + 1.5 * duration + 5.0) * fs)
    t = np.arange(n) / fs
    burst = np.where(t < rise, (t / rise) ** 2, np.exp(-(t - rise) / rng.uniform(0.5, 2.5)))
    k = int(rng.integers(1, 4))
    f0 = _loguniform(rng, 0.5, 4.0)
    if rng.random() < 0.5:  # harmonic peaks
        freqs = f0 * np.arange(1, k + 1) * (1 + rng.uniform(-0.03, 0.03, k))
    else:
        freqs = np.r_[f0, _loguniform(rng, f0, 5.0, k - 1)]
    freqs = freqs[freqs < min(6.0, 0.45 * fs)]
    decay = nepers / max(duration - rise, 3.0)  # envelope decay rate (1/s) = pi f / Q
    qs = np.clip(np.pi * freqs / decay * rng.uniform(0.8, 1.25, freqs.size), 5.0, 100.0)
    gains = rng.uniform(0.5, 1.0, freqs.size) / np.arange(1, freqs.size + 1)
    return _resonate(rng.standard_normal(n) * burst, fs, freqs, qs, gains), None, None


def _tre(rng, fs, duration, nepers, *, onset_vte_prob=0.0):
    """TRE: harmonics of a 0.5-3 Hz fundamental (sometimes gliding), emergent, slowly amplitude-modulated."""
    n = int(1.15 * duration * fs)
    t = np.arange(n) / fs
    f1 = _loguniform(rng, 0.5, 3.0)
    glide = rng.uniform(-0.35, 0.35) if rng.random() < 0.3 else 0.0
    spasmodic_centre = rng.uniform(1.0, 4.0)  # narrow-band noise riding on the harmonics

    def shapes(f):  # frequency wander (< 0.2 Hz), spasmodic noise, slow random modulation (< 0.05 Hz)
        return np.stack([(f < 0.2) * 1.0, _band(f, spasmodic_centre, 0.5)[0], (f < 0.05) * 1.0])

    wander, spasmodic, modulation = _shaped_noise(rng, n, fs, shapes)
    freq = f1 * (1 + glide * t / t[-1]) * (1 + 0.02 * wander)
    phase = 2 * np.pi * np.cumsum(freq) / fs
    k = np.arange(1, 1 + int(rng.integers(1, 6)))
    k = k[k * f1 * (1 + max(glide, 0)) < min(15.0, 0.45 * fs)]
    amps = k ** -rng.uniform(0.5, 1.5) * np.r_[1.0, rng.uniform(0.3, 1.0, k.size - 1)]
    x = np.sum(amps[:, None] * np.sin(k[:, None] * phase + rng.uniform(0, 2 * np.pi, k.size)[:, None]), axis=0)
    x /= np.sqrt(np.mean(x * x))
    x += rng.uniform(0.0, 0.5) * spasmodic
    am = 1 + rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * rng.uniform(0.02, 0.12) * t + rng.uniform(0, 2 * np.pi))
    am *= np.clip(1 + 0.2 * modulation, 0.3, None)
    x *= am * _taper(n, int(rng.uniform(0.1, 0.3) * n), int(rng.uniform(0.1, 0.3) * n))
    if rng.random() < onset_vte_prob:  # a short VTE-like onset, as analysts see at the start of some tremors
        vte, _, _ = _vte(rng, fs, rng.uniform(4.0, 8.0), nepers, tail_s=6.0)
        at = int(rng.uniform(0.0, 0.1) * n)
        m = min(vte.size, n - at)
        x[at : at + m] += rng.uniform(0.5, 1.5) * np.max(_moving_rms(x, fs)) * vte[:m] / np.max(_moving_rms(vte, fs))
    return x, None, None


def _hyb(rng, fs, duration, nepers):
    """HYB: a short high-frequency VTE whose signal excites LP-like resonators (0.5-4 Hz) ringing afterwards."""
    hf, p, s = _vte(rng, fs, rng.uniform(4.0, 7.0), nepers, fc_range=(6.0, 15.0), tail_s=1.5 * duration)
    k = int(rng.integers(1, 3))
    freqs = _loguniform(rng, 0.5, 4.0) * np.arange(1, k + 1)
    decay = nepers / max(duration - s / fs, 3.0)
    qs = np.clip(np.pi * freqs / decay * rng.uniform(0.8, 1.25, k), 5.0, 100.0)
    lf = _resonate(hf, fs, freqs, qs, rng.uniform(0.5, 1.0, k) / np.arange(1, k + 1))
    ratio = rng.uniform(0.4, 1.2) * np.max(_moving_rms(hf, fs)) / np.max(_moving_rms(lf, fs))
    return hf + ratio * lf, p, s


_GENERATORS = {"TRE": _tre, "LP": _lp, "VTE": _vte, "HYB": _hyb}


# --------------------------------------------------------------------------------------------------- records


def _event(rng, cls: str, sigma: float, cfg: _Config):
    """One event scaled to its SNR. Returns (x, onset, end, p, s): label [onset, end) and arrivals in samples of x."""
    fs = cfg.sampling_rate
    duration = rng.uniform(*cfg.event_duration_s[cls])
    snr_db = rng.uniform(*cfg.snr_db)
    threshold = cfg.label_threshold * sigma
    peak = sigma * 10 ** (snr_db / 20)
    nepers = np.log(peak / threshold)  # how far the envelope falls from its peak to the threshold
    kwargs = {"onset_vte_prob": cfg.tre_onset_vte_prob} if cls == "TRE" else {}
    x, p, s = _GENERATORS[cls](rng, fs, duration, nepers, **kwargs)
    env = _moving_rms(x, fs)
    scale = peak / env.max()
    x *= scale
    above = np.flatnonzero(env * scale >= threshold)
    onset = p if p is not None else int(above[0])
    end = max(int(above[-1]) + 1, onset + int(fs))
    fade = min(int(fs), x.size)  # the generated signal ends below the threshold: fade it out
    x[-fade:] *= np.linspace(1.0, 0.0, fade)
    return x, onset, end, p, s


def _record(rng: np.random.Generator, cfg: _Config) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    """One record: background plus events placed one after the other.

    Returns (x, labels, segment rows ``(start, class name, end, p, s)``).
    """
    fs = cfg.sampling_rate
    n = int(round(rng.uniform(*cfg.duration_s) * fs))
    x, sigma = _background(rng, n, cfg)
    y = np.zeros(n, dtype=np.int16)
    names = list(EVENT_CLASSES)
    weights = np.array([cfg.class_proportions[c] for c in names])
    weights /= weights.sum()
    rows: list[tuple] = []
    t = _gap(rng, cfg)
    double = False
    while t < n - _MIN_ROOM_S * fs:
        cls = rows[-1][1] if double else names[rng.choice(len(names), p=weights)]
        ev, onset, end, p, s = _event(rng, cls, sigma, cfg)
        start = t - onset  # where the event's signal starts in the record
        lo = max(start, 0)
        hi = min(start + ev.size, n)
        x[lo:hi] += ev[lo - start : hi - start]
        stop = min(t + end - onset, n)
        y[t:stop] = CLASS_NAMES.index(cls)
        arrivals = [(start + a) / fs if a is not None else np.nan for a in (p, s)]
        rows.append((t / fs, cls, stop / fs, *arrivals))
        double = not double and rng.random() < cfg.double_event_prob
        t = stop + (_double_gap(rng, fs) if double else _gap(rng, cfg))
    return x, y, rows + _sil_rows(y, fs)


def _sil_rows(y: np.ndarray, fs: float) -> list[tuple]:
    """Segment rows (start, class, end, p, s) of the SIL stretches (runs of label 0)."""
    edges = np.diff(np.r_[0, (y == 0).astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(a / fs, BACKGROUND, b / fs, np.nan, np.nan) for a, b in zip(starts, ends, strict=True)]


def _double_gap(rng: np.random.Generator, fs: float) -> int:
    """Samples between the two events of a double event: none (back to back) 30 % of the time, else 0.5-3 s."""
    return 0 if rng.random() < 0.3 else int(rng.uniform(*_DOUBLE_GAP_S) * fs)


def _gap(rng: np.random.Generator, cfg: _Config) -> int:
    """Length in samples of a SIL stretch: 2 s plus an exponential draw (mean ``mean_gap_s`` in all)."""
    extra = max(cfg.mean_gap_s - _MIN_GAP_S, 0.0)
    base = min(_MIN_GAP_S, cfg.mean_gap_s)
    return int((base + (rng.exponential(extra) if extra > 0 else 0.0)) * cfg.sampling_rate)
