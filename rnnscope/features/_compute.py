"""Features of a records Dataset: framing, log filter bank, deltas, spectrogram, frame labels (see
:mod:`rnnscope.features`)."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import xarray as xr

from .._validation import check_choice, check_positive
from ..data._frames import assemble_frames
from ..data._records import select_records
from ..schema import plain

__all__ = ["FeatureConfig", "PRESETS", "compute", "filter_edges", "filter_bank", "frame_count", "frame_times", "delta",
           "frames_of", "band_energies", "FeatureReach", "feature_reach"]


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Every setting of the feature extraction (stored in ``attrs["feature_config"]`` as a dict).

    Times are in seconds, frequencies in Hz.

    Parameters
    ----------
    preset : str
        The name of the preset the settings come from (``"paper"``, ``"authors_code"``; see :data:`PRESETS`).
    window_s : float
        Analysis window length (s).
    hop_s : float
        Hop between frames (s); one frame every ``hop_s``.
    window : {"hamming", "rectangular"}
        Window taper.
    n_fft : int
        FFT length in samples (at least the window's length in samples).
    n_filters : int
        Triangular filters of the filter bank; the features are ``3 x n_filters`` (energies, deltas, delta-deltas).
    filter_scale : {"log", "mel"}
        Spacing of the filters: log (the paper) or Mel (the authors' code).
    f_max_hz : float
        Upper edge of the filter bank (Hz).
    pre_emphasis : float
        Coefficient of the pre-emphasis filter ``x[n] - a x[n-1]`` (0: none).
    delta_width : int
        Frames on each side of the delta regression.
    log_floor : float
        Floor of the filter-bank energies before the log.
    spectrum : {"power", "magnitude"}
        Weigh the power spectrum ``|X|**2 / n_fft`` (default) or the magnitude ``|X|`` (the paper's text).

    Examples
    --------
    >>> cfg = FeatureConfig()
    >>> cfg.preset, cfg.n_features, cfg.feature_names()[:2]
    ('paper', 48, ['lfb_00', 'lfb_01'])
    """

    preset: str = "paper"
    _: dataclasses.KW_ONLY  # every setting after the preset's name is named
    window_s: float = 4.0
    hop_s: float = 0.5
    window: str = "hamming"  # "hamming" | "rectangular"
    n_fft: int = 512
    n_filters: int = 16
    filter_scale: str = "log"  # "log" (paper) | "mel" (authors' code)
    f_max_hz: float = 20.0
    pre_emphasis: float = 0.0
    delta_width: int = 2
    log_floor: float = 1e-20
    spectrum: str = "power"  # "power" |X|**2 / n_fft (rnnscope's default) | "magnitude" |X| (the paper's text)

    def to_json(self) -> str:
        return json.dumps(plain(dataclasses.asdict(self)), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | Mapping) -> FeatureConfig:
        values = json.loads(text) if isinstance(text, str) else dict(text)
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values})

    @property
    def n_features(self) -> int:
        return 3 * self.n_filters

    def feature_names(self) -> list[str]:
        base = [f"lfb_{j:02d}" for j in range(self.n_filters)]
        return base + [f"d_{b}" for b in base] + [f"dd_{b}" for b in base]


PRESETS: dict[str, FeatureConfig] = {
    "paper": FeatureConfig(),
    "authors_code": FeatureConfig(
        preset="authors_code", window="rectangular", n_fft=1024, filter_scale="mel", pre_emphasis=0.97
    ),
}


def _config(preset: str | FeatureConfig | Mapping, overrides: Mapping) -> FeatureConfig:
    if isinstance(preset, FeatureConfig):
        base = preset
    elif isinstance(preset, Mapping):  # e.g. a model's feature_config (the features it was trained on)
        fields = {f.name for f in dataclasses.fields(FeatureConfig)}
        if not set(preset) & (fields - {"preset"}) or preset.get("preset") == "external":
            raise ValueError(
                "The 'feature_config' parameter of compute must be a preset name, a FeatureConfig or its fields as a "
                "dict. "
                f"Got {dict(preset)!r} instead (features computed elsewhere, e.g. by rnnscope.data.from_features, "
                "cannot be recomputed here)."
            )
        base = FeatureConfig.from_json(preset)
    else:
        check_choice(preset, PRESETS, name="feature_config", func="compute")
        base = PRESETS[preset]
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(FeatureConfig)})
    if unknown:
        raise TypeError(
            f"compute got unknown feature settings {unknown}; "
            f"valid: {[f.name for f in dataclasses.fields(FeatureConfig)]}"
        )
    cfg = dataclasses.replace(base, **overrides)
    check_choice(cfg.window, ("hamming", "rectangular"), name="window", func="compute")
    check_choice(cfg.filter_scale, ("log", "mel"), name="filter_scale", func="compute")
    check_choice(cfg.spectrum, ("power", "magnitude"), name="spectrum", func="compute")
    for name in ("window_s", "hop_s", "f_max_hz", "log_floor"):
        check_positive(getattr(cfg, name), name=name, func="compute")
    for name in ("n_fft", "n_filters", "delta_width"):
        check_positive(getattr(cfg, name), name=name, func="compute", integer=True)
    return cfg


# --------------------------------------------------------------------------------------------- framing


def _samples(cfg: FeatureConfig, sampling_rate: float) -> tuple[int, int]:
    win = int(round(cfg.window_s * sampling_rate))
    hop = int(round(cfg.hop_s * sampling_rate))
    if win > cfg.n_fft:
        raise ValueError(
            f"compute: a {cfg.window_s} s window holds {win} samples at {sampling_rate} Hz, "
            f"more than n_fft={cfg.n_fft}. "
            f"Resample the records to 100 Hz (the papers' rate) or pass n_fft={1 << (win - 1).bit_length()}."
        )
    return win, hop


def frame_count(n_samples: int | np.ndarray, *, win: int, hop: int) -> int | np.ndarray:
    """Number of whole frames in ``n_samples``: ``1 + floor((N - win) / hop)``, 0 when ``N < win``.

    Parameters
    ----------
    n_samples : int or numpy.ndarray
        Samples of one record, or of many.
    win : int
        Window length in samples.
    hop : int
        Hop in samples.

    Returns
    -------
    int or numpy.ndarray
        Frames per record (an int for an int).

    Examples
    --------
    >>> frame_count(np.array([400, 6000]), win=400, hop=50)
    array([  1, 113])
    >>> [frame_count(n, win=400, hop=50) for n in (400, 449, 450, 399)]
    [1, 1, 2, 0]
    """
    n = np.asarray(n_samples)
    out = np.where(n >= win, 1 + (n - win) // hop, 0)
    return int(out) if out.ndim == 0 else out


def frame_times(n_frames: int, *, win: int, hop: int, sampling_rate: float) -> np.ndarray:
    """Centre time (s) of frames ``0..n_frames-1``.

    Parameters
    ----------
    n_frames : int
        Number of frames.
    win : int
        Window length in samples.
    hop : int
        Hop in samples.
    sampling_rate : float
        Hz.

    Returns
    -------
    numpy.ndarray
        ``(n_frames,)`` float64 times from the record's first sample.

    Examples
    --------
    >>> frame_times(3, win=400, hop=50, sampling_rate=100.0)
    array([2. , 2.5, 3. ])
    """
    return (np.arange(n_frames) * hop + win / 2) / float(sampling_rate)


# --------------------------------------------------------------------------------------------- filters


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=float) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=float) / 2595.0) - 1.0)


def filter_edges(feature_config: FeatureConfig | str = "paper") -> np.ndarray:
    """The ``n_filters + 2`` band edges (Hz) of the triangular filter bank.

    Log scale (paper): ``f_k = 10**(k log10(1 + f_max) / (n_filters + 1)) - 1``; Mel scale (authors' code):
    uniform in Mel between 0 and ``f_max``.

    Parameters
    ----------
    feature_config : FeatureConfig or str
        The settings, or a preset name (default ``"paper"``).

    Returns
    -------
    numpy.ndarray
        ``(n_filters + 2,)`` increasing frequencies from 0 to ``f_max_hz``.

    Examples
    --------
    >>> np.round(filter_edges("paper")[:4], 2)
    array([0.  , 0.2 , 0.43, 0.71])
    >>> float(filter_edges("paper")[-1])
    20.0
    >>> filter_edges().size  # the "paper" preset: 16 filters, 18 edges
    18
    """
    cfg = PRESETS[feature_config] if isinstance(feature_config, str) else feature_config
    k = np.arange(cfg.n_filters + 2)
    if cfg.filter_scale == "log":
        return 10.0 ** (k * np.log10(1.0 + cfg.f_max_hz) / (cfg.n_filters + 1)) - 1.0
    return _mel_to_hz(k * _hz_to_mel(cfg.f_max_hz) / (cfg.n_filters + 1))


def filter_bank(feature_config: FeatureConfig | str, sampling_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Triangular weights ``(n_fft // 2 + 1, n_filters)`` and the FFT bin frequencies (Hz).

    Filter ``j`` is 0 at ``edges[j]``, 1 at ``edges[j+1]``, 0 at ``edges[j+2]``, evaluated at the bin frequencies.

    Parameters
    ----------
    feature_config : FeatureConfig or str
        The settings, or a preset name.
    sampling_rate : float
        Hz.

    Returns
    -------
    weights : numpy.ndarray
        ``(n_fft // 2 + 1, n_filters)`` weights, each column one triangle peaking at 1.
    freqs : numpy.ndarray
        ``(n_fft // 2 + 1,)`` FFT bin frequencies (Hz).

    Examples
    --------
    >>> weights, freqs = filter_bank("paper", 50.0)
    >>> weights.shape, float(freqs[-1]), float(weights.max())
    ((257, 16), 25.0, 1.0)
    """
    cfg = PRESETS[feature_config] if isinstance(feature_config, str) else feature_config
    freqs = np.fft.rfftfreq(cfg.n_fft, d=1.0 / sampling_rate)
    edges = filter_edges(cfg)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lo) / (mid - lo)
    falling = (hi - freqs[None, :]) / (hi - mid)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    return weights.T, freqs


def band_energies(power: np.ndarray, weights: np.ndarray, *, feature_config: FeatureConfig) -> np.ndarray:
    """Log filter-bank energies ``(frames, n_filters)`` from the power spectrum ``|X|**2 / n_fft`` of each frame.

    ``feature_config.spectrum="power"`` (default) weighs the power spectrum; ``"magnitude"`` weighs ``|X| = sqrt(n_fft x
    power)``, as the paper's text says ("FFT magnitude"). Then the natural log with the floor ``log_floor``.

    Parameters
    ----------
    power : numpy.ndarray
        ``(frames, n_fft // 2 + 1)`` power spectra ``|X|**2 / n_fft``.
    weights : numpy.ndarray
        ``(n_fft // 2 + 1, n_filters)`` filter weights (:func:`filter_bank`).
    feature_config : FeatureConfig
        Its ``spectrum``, ``n_fft`` and ``log_floor`` are used.

    Returns
    -------
    numpy.ndarray
        ``(frames, n_filters)`` natural-log energies.

    Examples
    --------
    >>> cfg = FeatureConfig(n_fft=4, n_filters=1)
    >>> power = np.array([[64.0 / 4, 0.0, 0.0]])  # |X| = 8 at the first bin, n_fft = 4: power 64 / 4
    >>> weights = np.array([[1.0], [0.0], [0.0]])
    >>> round(float(np.exp(band_energies(power, weights, feature_config=cfg)[0, 0])), 6)
    16.0
    >>> magnitude = dataclasses.replace(cfg, spectrum="magnitude")
    >>> round(float(np.exp(band_energies(power, weights, feature_config=magnitude)[0, 0])), 6)
    8.0
    """
    cfg = feature_config
    spectrum = np.sqrt(power * cfg.n_fft) if cfg.spectrum == "magnitude" else power
    return np.log(np.maximum(spectrum @ weights, cfg.log_floor))


# --------------------------------------------------------------------------------------------- reach


class FeatureReach(NamedTuple):
    """How many frames around a change of the signal the features of :func:`feature_reach` can see it.

    Parameters
    ----------
    before : int
        Frames before the first frame labelled with the change whose features can already differ.
    after : int
        Frames after that frame whose features can still hold the signal from before the change.

    Examples
    --------
    >>> reach = feature_reach("paper", sampling_rate=100.0)
    >>> reach.before, reach.after
    (8, 7)
    >>> before, after = reach  # a tuple
    >>> before + after + 1  # frames whose features can see a step of the signal
    16
    """

    before: int
    """Frames *before* the first frame labelled with the change whose features can already differ (look-ahead)."""
    after: int
    """Frames *after* that frame whose features can still hold the signal from before the change (look-back)."""


def feature_reach(feature_config: FeatureConfig | str = "paper", *, sampling_rate: float = 100.0,
                  part: str = "features") -> FeatureReach:
    """How far (in frames) a frame's features reach before and after their frame's labelled time.

    A frame's features come from a window centred on it (``window_s``), and the deltas reach ``delta_width``
    frames further each way (``delta_width`` again for the delta-deltas). So a step in the signal (an event onset,
    an S arrival, an event end) changes the features of frames *before* the first frame labelled after it: a
    causal model can react before the labelled onset without seeing the future of its input.

    Definitions (``win``, ``hop`` in samples; a frame is labelled by its centre sample ``k hop + win // 2``; the
    change happens at sample ``s`` and the labelled frame is the first whose centre is at or after ``s``):

    - ``energies`` (log filter-bank energies, spectrogram): ``before = floor((win - win // 2 + hop - 2) / hop)``,
      the most frames before the labelled one whose window holds sample ``s``, reached when ``s`` falls just after
      a frame centre (one frame fewer when ``s`` is exactly a frame centre); ``after = floor((win // 2 - 1) /
      hop)``, the most frames after it whose window still starts before ``s``;
    - ``deltas``: the energies' reach plus ``delta_width``; ``delta_deltas`` and ``features`` (the whole feature
      vector): plus ``2 x delta_width``.

    The window taper makes the first and last samples weigh little (a Hamming window's ends weigh 0.08), so the
    earliest frames change only when the change is large; the reach is what *can* change.

    Parameters
    ----------
    feature_config : FeatureConfig, preset name or its JSON
        The feature settings (a run's or a features Dataset's ``attrs["feature_config"]``).
    sampling_rate : float
        Hz (``attrs["sampling_rate"]``).
    part : {"energies", "deltas", "delta_deltas", "features"}
        The part of the features whose reach is asked for (default: the whole feature vector).

    Returns
    -------
    FeatureReach
        ``(before, after)`` in frames.

    Examples
    --------
    The paper's features (4 s windows, 0.5 s hop, deltas over +-2 frames) at 100 Hz:

    >>> feature_reach("paper", sampling_rate=100.0, part="energies"), feature_reach("paper", sampling_rate=100.0)
    (FeatureReach(before=4, after=3), FeatureReach(before=8, after=7))
    >>> feature_reach() == feature_reach("paper", sampling_rate=100.0, part="features")  # the defaults
    True
    """
    config = feature_config
    if isinstance(config, str) and config in PRESETS:
        cfg = PRESETS[config]
    elif isinstance(config, FeatureConfig):
        cfg = config
    elif isinstance(config, (str, Mapping)):
        cfg = FeatureConfig.from_json(config)
    else:
        raise TypeError(f"The 'feature_config' parameter of feature_reach must be a FeatureConfig, a preset name "
                        f"{list(PRESETS)} or its JSON. Got {type(config).__name__} instead.")
    check_choice(part, ("energies", "deltas", "delta_deltas", "features"), name="part", func="feature_reach")
    check_positive(sampling_rate, name="sampling_rate", func="feature_reach")
    win = int(round(cfg.window_s * sampling_rate))
    hop = int(round(cfg.hop_s * sampling_rate))
    extra = {"energies": 0, "deltas": 1, "delta_deltas": 2, "features": 2}[part] * int(cfg.delta_width)
    return FeatureReach((win - win // 2 + hop - 2) // hop + extra, (win // 2 - 1) // hop + extra)


# --------------------------------------------------------------------------------------------- deltas


def delta(c: np.ndarray, *, delta_width: int = 2) -> np.ndarray:
    """Temporal derivative along axis 0: ``d_t = sum_n n (c_{t+n} - c_{t-n}) / (2 sum_n n**2)``, edges repeated.

    With ``delta_width=2`` the denominator is 10, as in the authors' code.

    Parameters
    ----------
    c : numpy.ndarray
        Values along frames (axis 0), e.g. ``(frames, n_filters)`` log energies.
    delta_width : int
        Frames on each side of the regression.

    Returns
    -------
    numpy.ndarray
        The derivative, float64, of the shape of ``c``.

    Examples
    --------
    >>> delta(np.array([0.0, 1.0, 2.0, 3.0, 4.0]))
    array([0.5, 0.8, 1. , 0.8, 0.5])
    """
    width = delta_width
    c = np.asarray(c, dtype=np.float64)
    if c.shape[0] == 0:
        return c.copy()
    padded = np.concatenate([np.repeat(c[:1], width, axis=0), c, np.repeat(c[-1:], width, axis=0)])
    n_t = c.shape[0]
    out = np.zeros_like(c)
    for n in range(1, width + 1):
        out += n * (padded[width + n : width + n + n_t] - padded[width - n : width - n + n_t])
    return out / (2.0 * sum(n * n for n in range(1, width + 1)))


# --------------------------------------------------------------------------------------------- one record


def frames_of(x: np.ndarray, sampling_rate: float, *,
              feature_config: FeatureConfig | str = "paper") -> tuple[np.ndarray, np.ndarray]:
    """Features ``(T, 3 * n_filters)`` and log power spectrogram ``(T, n_fft // 2 + 1)`` of one waveform.

    Parameters
    ----------
    x : numpy.ndarray
        The waveform, 1-D.
    sampling_rate : float
        Hz.
    feature_config : FeatureConfig or str
        The settings, or a preset name (default ``"paper"``).

    Returns
    -------
    features : numpy.ndarray
        ``(T, 3 * n_filters)``: log filter-bank energies, their deltas and delta-deltas; ``T`` whole frames
        (:func:`frame_count`; 0 rows for a waveform shorter than one window).
    spectrogram : numpy.ndarray
        ``(T, n_fft // 2 + 1)`` log power spectrum of each frame.

    Raises
    ------
    ValueError
        When a window holds more samples than ``n_fft`` at this sampling rate.

    Examples
    --------
    >>> t = np.arange(6000) / 100.0
    >>> feats, spec = frames_of(np.sin(2 * np.pi * 2.0 * t), 100.0)
    >>> feats.shape, spec.shape
    ((113, 48), (113, 257))
    """
    cfg = PRESETS[feature_config] if isinstance(feature_config, str) else feature_config
    win, hop = _samples(cfg, sampling_rate)
    x = np.asarray(x, dtype=np.float64)
    if cfg.pre_emphasis:
        x = np.concatenate([x[:1], x[1:] - cfg.pre_emphasis * x[:-1]])
    n_frames = frame_count(x.size, win=win, hop=hop)
    n_bins = cfg.n_fft // 2 + 1
    if n_frames == 0:
        return np.zeros((0, cfg.n_features)), np.zeros((0, n_bins))
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n_frames]
    taper = np.hamming(win) if cfg.window == "hamming" else np.ones(win)
    power = np.abs(np.fft.rfft(frames * taper, n=cfg.n_fft, axis=1)) ** 2 / cfg.n_fft
    weights, _ = filter_bank(cfg, sampling_rate)
    log_energy = band_energies(power, weights, feature_config=cfg)
    d1 = delta(log_energy, delta_width=cfg.delta_width)
    d2 = delta(d1, delta_width=cfg.delta_width)
    spectrogram = np.log(np.maximum(power, cfg.log_floor))
    return np.concatenate([log_energy, d1, d2], axis=1), spectrogram


# --------------------------------------------------------------------------------------------- data set


def compute(records: xr.Dataset, *, feature_config: str | FeatureConfig = "paper", on_short: str = "error",
            **settings) -> xr.Dataset:
    """Return ``records`` grown by frame features, spectrogram, frame labels and ``length``.

    Parameters
    ----------
    records : xarray.Dataset
        A records Dataset (``waveform``, ``sample_label``, ``n_samples``, ``attrs["sampling_rate"]``), e.g. from
        :func:`rnnscope.data.synthetic` or :func:`rnnscope.data.from_obspy`.
    feature_config : {"paper", "authors_code"}, FeatureConfig or dict
        Named settings (see the module docstring), or every setting (a dict such as ``model.feature_config``, the
        features a model was trained on).
    on_short : {"error", "drop"}
        What to do with records shorter than one analysis window (they give no frame).
    **settings
        Override any field of :class:`FeatureConfig`, e.g. ``n_filters=20``.

    Returns
    -------
    xarray.Dataset
        The records' variables plus ``features`` (event, time, feature) float32, ``spectrogram``
        (event, time, freq) float32, ``label`` (event, time) int16, coordinates ``time`` (s, frame centres),
        ``feature``, ``freq`` (Hz), ``length`` (event); ``attrs["feature_config"]`` (a dict) and
        ``attrs["frame_rate"]`` (Hz). Frames past ``length`` are NaN (labels -1).

    Examples
    --------
    >>> import rnnscope
    >>> ds = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> ds.sizes["feature"], float(ds.time[0]), ds.attrs["frame_rate"], ds.attrs["background"]
    (48, 2.0, 2.0, 'SIL')

    The settings of other features, as a dict (what a model stores as ``model.feature_config``):

    >>> again = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0),
    ...                                   feature_config=ds.attrs["feature_config"])
    >>> bool(again.features.equals(ds.features))
    True
    """
    cfg = _config(feature_config, settings)
    check_choice(on_short, ("error", "drop"), name="on_short", func="compute")
    for name in ("waveform", "sample_label"):
        if name not in records:
            raise ValueError(
                f"compute: the Dataset has no {name!r} variable; pass a records Dataset (rnnscope.data.synthetic, "
                "from_obspy or from_arrays). Features computed elsewhere go through rnnscope.data.from_features."
            )
    sampling_rate = float(records.attrs.get("sampling_rate", np.nan))
    if not np.isfinite(sampling_rate) or sampling_rate <= 0:
        raise ValueError("compute: records.attrs['sampling_rate'] (Hz) is missing or not positive.")
    win, hop = _samples(cfg, sampling_rate)
    n_samples = _n_samples(records)
    ids = records["event_id"].values if "event_id" in records.coords else np.arange(records.sizes["event"])
    short = np.flatnonzero(n_samples < win)
    if short.size and on_short == "error":
        listed = ", ".join(repr(str(ids[i])) for i in short[:5])
        raise ValueError(
            f"compute: {short.size} record(s) are shorter than one {cfg.window_s} s analysis window ({win} samples): "
            f"{listed}{' ...' if short.size > 5 else ''}. Drop them, or pass on_short='drop'."
        )
    if short.size:
        records = select_records(records, np.setdiff1d(np.arange(records.sizes["event"]), short))
        n_samples = _n_samples(records)
    if records.sizes["event"] == 0:
        raise ValueError("compute: no record is long enough for one analysis window; nothing to compute.")

    feats, specs, labels = [], [], []
    waveforms = records["waveform"]
    sample_labels = records["sample_label"]
    for i, n in enumerate(n_samples):
        x = np.asarray(waveforms[i, :n].values, dtype=np.float64)
        f, s = frames_of(x, sampling_rate, feature_config=cfg)
        centres = np.arange(len(f)) * hop + win // 2
        feats.append(f)
        specs.append(s)
        labels.append(np.asarray(sample_labels[i].values)[centres])
    _, freqs = filter_bank(cfg, sampling_rate)
    frames = assemble_frames(
        feats,
        labels,
        frame_times=frame_times(max(len(f) for f in feats), win=win, hop=hop, sampling_rate=sampling_rate),
        feature_names=cfg.feature_names(),
        spectrograms=specs,
        freqs=freqs,
    )
    frames = frames.assign_coords(feature_peak_hz=("feature", np.tile(filter_edges(cfg)[1:-1], 3)))
    frames["feature_peak_hz"].attrs.update(units="Hz", long_name="peak frequency of the feature's filter")
    out = records.merge(frames, combine_attrs="override")
    out.attrs.update(records.attrs)
    out.attrs["feature_config"] = plain(dataclasses.asdict(cfg))
    out.attrs["frame_rate"] = sampling_rate / hop
    return out


def _n_samples(records: xr.Dataset) -> np.ndarray:
    if "n_samples" in records.coords:
        return np.asarray(records["n_samples"].values, dtype=np.int64)
    return np.asarray(records["waveform"].notnull().sum("sample").values, dtype=np.int64)
