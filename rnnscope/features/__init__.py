"""Frame features of Titos & Garcia (2022), Section III-A: log filter-bank energies + deltas + delta-deltas.

:func:`compute` turns a records Dataset (waveforms at one sampling rate) into the features Dataset the models
read: ``features`` (event, time, feature) with 16 log filter-bank energies, their first and second temporal
derivatives (48 values per frame, **raw**: the model owns normalisation), ``spectrogram`` (event, time, freq),
``label`` (event, time) and ``length`` (valid frames per event).

Framing (one convention for the whole package)
----------------------------------------------
Frame ``k`` covers samples ``[k*hop, k*hop + win)``; its time is the window centre ``(k*hop + win/2) / fs``
(2.0 s for frame 0 with a 4 s window); ``n_frames = 1 + floor((N - win) / hop)``; a frame's label is the label of
its centre sample ``k*hop + win//2``.

Presets
-------
``"paper"`` (default): 4 s Hamming windows, 0.5 s hop, 512-point FFT, 16 triangular filters whose 18 edges are
uniform on a log scale, ``f_k = 10**(k * log10(1 + f_max) / 17) - 1`` for ``k = 0..17`` with ``f_max = 20`` Hz
(neighbours overlap by 50 %: filter ``j`` rises from ``f_j`` to ``f_{j+1}`` and falls to ``f_{j+2}``).

``"authors_code"``: the authors' published variant: 16 Mel-spaced filters on 0-20 Hz, rectangular window,
1024-point FFT, pre-emphasis 0.97.

Both use the power spectrum ``|FFT|**2 / n_fft`` of each windowed frame (a deviation from the paper's text, which
says "FFT magnitude": ``spectrum="magnitude"`` weighs ``|FFT|`` instead; :func:`band_energies`), triangles evaluated
at the FFT bin frequencies (peak 1), natural log with a floor (``log_floor``; bands with no energy, e.g. above the
Nyquist frequency of upsampled data, give ``log(log_floor)``, never ``-inf``), and deltas over +-2 frames
``d_t = sum_{n=1..2} n (c_{t+n} - c_{t-n}) / 10`` with edges repeated; delta-deltas are deltas of deltas.

Reach
-----
A frame's features see the signal up to half a window (2 s) after its centre, and the deltas and delta-deltas two
frames further each: a change in the signal shows in the features of frames before the first frame labelled with
it (up to 8 frames, 4 s, with the paper's settings at 100 Hz). :func:`feature_reach` computes this from a
configuration; the onset analyses of :mod:`rnnscope.analysis` use it.
"""
from ._compute import (
    PRESETS,
    FeatureConfig,
    FeatureReach,
    band_energies,
    compute,
    delta,
    feature_reach,
    filter_bank,
    filter_edges,
    frame_count,
    frame_times,
    frames_of,
)
from ._streaming import StreamingFeatures

__all__ = [
    "FeatureConfig",
    "PRESETS",
    "compute",
    "filter_edges",
    "filter_bank",
    "frame_count",
    "frame_times",
    "delta",
    "frames_of",
    "band_energies",
    "feature_reach",
    "FeatureReach",
    "StreamingFeatures",
]
