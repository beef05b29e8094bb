"""Features of Titos & Garcia (2022), Section III-A, checked on hand-computed examples."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope import features as F
from rnnscope.data._records import build_records

FS = 100.0


def _records(waveforms, labels=None, fs=FS):
    labels = labels or [np.zeros(len(w), dtype=int) for w in waveforms]
    return build_records(waveforms, labels, sampling_rate=fs, class_names=["SIL", "TRE", "LP", "VTE", "HYB"])


def test_paper_filter_edges_follow_the_summary():
    edges = F.filter_edges("paper")
    k = np.arange(18)
    expected = 10 ** (k * np.log10(21.0) / 17) - 1
    np.testing.assert_allclose(edges, expected)
    np.testing.assert_allclose(edges[[0, 1, 2, 16, 17]], [0.0, 0.196, 0.431, 16.56, 20.0], atol=6e-3)
    assert np.all(np.diff(edges) > 0)


def test_mel_edges_are_uniform_in_mel_between_0_and_20_hz():
    edges = F.filter_edges("authors_code")
    mel = 2595 * np.log10(1 + edges / 700)
    assert edges[0] == 0 and edges[-1] == pytest.approx(20.0)
    np.testing.assert_allclose(np.diff(mel), np.diff(mel)[0])


def test_triangles_peak_at_their_centre_and_overlap_by_half():
    cfg = F.FeatureConfig(n_fft=4096)
    weights, freqs = F.filter_bank(cfg, FS)
    edges = F.filter_edges(cfg)
    for j in range(cfg.n_filters):
        support = freqs[weights[:, j] > 0]
        assert support.min() >= edges[j] and support.max() <= edges[j + 2]
        assert freqs[np.argmax(weights[:, j])] == pytest.approx(edges[j + 1], abs=freqs[1])
    # neighbours: filter j falls where filter j+1 rises (50 % overlap)
    in_band = (freqs > edges[5]) & (freqs < edges[6])
    np.testing.assert_allclose(weights[in_band, 4] + weights[in_band, 5], 1.0, atol=1e-9)


def test_frame_count_times_and_centre_sample_labels():
    n = 1000  # 10 s: 1 + (1000 - 400) // 50 = 13 frames
    labels = np.zeros(n, dtype=int)
    labels[450:] = 2  # LP from 4.5 s
    ds = F.compute(_records([np.random.default_rng(0).normal(size=n)], [labels]))
    assert int(ds.length[0]) == 13
    np.testing.assert_allclose(ds.time.values, 2.0 + 0.5 * np.arange(13))
    # frame k's centre sample is 50 k + 200: label 2 from 50 k + 200 >= 450, i.e. k >= 5
    np.testing.assert_array_equal(ds.label.values[0], [0] * 5 + [2] * 8)
    assert ds.attrs["frame_rate"] == 2.0
    assert ds.features.dtype == np.float32 and ds.label.dtype == np.int16


def test_delta_formula_by_hand():
    c = np.array([[1.0], [3.0], [2.0], [6.0], [4.0]])
    # padded: 1 1 | 1 3 2 6 4 | 4 4
    # t=0: 1*(3-1) + 2*(2-1) = 4 -> 0.4 ; t=1: 1*(2-1) + 2*(6-1) = 11 -> 1.1 ; t=2: 1*(6-3) + 2*(4-1) = 9 -> 0.9
    # t=3: 1*(4-2) + 2*(4-3) = 4 -> 0.4 ; t=4: 1*(4-6) + 2*(4-2) = 2 -> 0.2
    np.testing.assert_allclose(F.delta(c)[:, 0], [0.4, 1.1, 0.9, 0.4, 0.2])


def test_features_are_log_energies_then_deltas_then_delta_deltas():
    x = np.random.default_rng(1).normal(size=3000)
    feats, spec = F.frames_of(x, FS, feature_config="paper")
    frames = np.lib.stride_tricks.sliding_window_view(x, 400)[::50]
    power = np.abs(np.fft.rfft(frames * np.hamming(400), n=512)) ** 2 / 512
    weights, _ = F.filter_bank("paper", FS)
    lfb = np.log(power @ weights)
    np.testing.assert_allclose(feats[:, :16], lfb, rtol=1e-10)
    np.testing.assert_allclose(feats[:, 16:32], F.delta(lfb))
    np.testing.assert_allclose(feats[:, 32:], F.delta(F.delta(lfb)))
    np.testing.assert_allclose(spec, np.log(power))


def test_a_sinusoid_lights_up_the_filter_that_holds_its_frequency():
    t = np.arange(6000) / FS
    feats, _ = F.frames_of(np.sin(2 * np.pi * 3.0 * t), FS)
    edges = F.filter_edges("paper")
    best = int(np.argmax(feats[10, :16]))
    assert edges[best] < 3.0 < edges[best + 2]


def test_authors_code_preset_uses_rectangular_window_preemphasis_and_1024_fft():
    cfg = F.PRESETS["authors_code"]
    assert (cfg.window, cfg.n_fft, cfg.filter_scale, cfg.pre_emphasis) == ("rectangular", 1024, "mel", 0.97)
    x = np.random.default_rng(2).normal(size=2000)
    feats, spec = F.frames_of(x, FS, feature_config=cfg)
    y = np.concatenate([x[:1], x[1:] - 0.97 * x[:-1]])
    frames = np.lib.stride_tricks.sliding_window_view(y, 400)[::50]
    power = np.abs(np.fft.rfft(frames, n=1024)) ** 2 / 1024
    weights, _ = F.filter_bank(cfg, FS)
    np.testing.assert_allclose(feats[:, :16], np.log(power @ weights), rtol=1e-10)
    assert spec.shape[1] == 513


def test_magnitude_spectrum_option_weighs_the_fft_magnitude():
    x = np.random.default_rng(6).normal(size=1200)
    cfg = F.FeatureConfig(spectrum="magnitude")
    feats, spec = F.frames_of(x, FS, feature_config=cfg)
    frames = np.lib.stride_tricks.sliding_window_view(x, 400)[::50]
    magnitude = np.abs(np.fft.rfft(frames * np.hamming(400), n=512))
    weights, _ = F.filter_bank(cfg, FS)
    np.testing.assert_allclose(feats[:, :16], np.log(magnitude @ weights), rtol=1e-10)
    # the spectrogram stays the log power spectrum whatever the filter bank weighs
    np.testing.assert_allclose(spec, F.frames_of(x, FS)[1], rtol=1e-12)
    with pytest.raises(
        ValueError, match=r"The 'spectrum' parameter of compute must be one of \['power', 'magnitude'\]"
    ):
        F.compute(_records([x]), spectrum="amplitude")


def _step_onset(onset: int, n: int = 6000):
    """Silence, then from sample ``onset`` a tone repeating every 25 samples (frames of whole periods are equal)."""
    period = np.cos(2 * np.pi * np.arange(25) / 25)
    x = np.zeros(n)
    x[onset:] = np.tile(period, (n - onset) // 25 + 1)[: n - onset]
    return x


@pytest.mark.parametrize("offset", [0, 1, 37])
def test_feature_reach_matches_a_step_onset(offset):
    win, hop = 400, 50
    onset = 60 * hop + win // 2 + offset - (hop if offset else 0)  # exactly on the centre of frame 60, or after 59
    feats, _ = F.frames_of(_step_onset(onset), FS)
    labelled = int(np.ceil((onset - win // 2) / hop))  # first frame whose centre sample is at or after the onset
    assert labelled == 60
    steady = feats[-20]
    for part, columns in (("energies", slice(0, 16)), ("deltas", slice(16, 32)), ("delta_deltas", slice(32, 48))):
        block = feats[:, columns]
        changed = np.flatnonzero(np.any(np.abs(block - block[0]) > 1e-9, axis=1))
        settling = np.flatnonzero(np.any(np.abs(block - steady[columns]) > 1e-9, axis=1))
        reach = F.feature_reach("paper", sampling_rate=FS, part=part)
        # the paper's settings: energies 4 frames ahead (3 when the onset is exactly a frame centre), deltas +2, ...
        expected_before = reach.before - (1 if offset == 0 else 0)
        assert labelled - changed[0] == expected_before, part
        assert settling[settling < len(feats) - 30][-1] - labelled == reach.after, part
    assert F.feature_reach("paper", sampling_rate=FS) == F.feature_reach("paper", sampling_rate=FS,
                                                                         part="delta_deltas") == (8, 7)
    assert F.feature_reach("paper", sampling_rate=FS, part="energies") == (4, 3)


def test_feature_reach_reads_a_stored_configuration():
    cfg = F.FeatureConfig(window_s=2.0, hop_s=1.0, delta_width=1)
    # win 20, hop 10 samples at 10 Hz: energies (20 - 10 + 10 - 2) // 10 = 1 ahead, (10 - 1) // 10 = 0 behind
    assert F.feature_reach(cfg.to_json(), sampling_rate=10.0, part="energies") == (1, 0)
    assert F.feature_reach(cfg, sampling_rate=10.0) == (3, 2)
    with pytest.raises(ValueError, match="The 'part' parameter of feature_reach must be one of"):
        F.feature_reach(cfg, sampling_rate=10.0, part="lfb")


def test_bands_above_nyquist_stay_finite():
    fs = 20.0  # Nyquist 10 Hz < f_max 20 Hz: the top filter (13.6-20 Hz) sees no bin
    x = np.random.default_rng(3).normal(size=400)
    assert F.filter_edges("paper")[15] > fs / 2
    feats, _ = F.frames_of(x, fs)
    assert np.all(np.isfinite(feats))
    assert np.all(feats[:, 15] == np.log(F.PRESETS["paper"].log_floor))


def test_compute_keeps_records_and_pads_ragged_lengths():
    rng = np.random.default_rng(4)
    ds = F.compute(_records([rng.normal(size=1000), rng.normal(size=2000)]))
    assert list(ds.length.values) == [13, 33]
    assert ds.features.dims == ("event", "time", "feature")
    assert ds.spectrogram.dims == ("event", "time", "freq")
    assert np.isnan(ds.features.values[0, 13:]).all() and np.isfinite(ds.features.values[0, :13]).all()
    assert (ds.label.values[0, 13:] == -1).all()
    assert "waveform" in ds and "segment_start" in ds
    assert ds.attrs["feature_config"]["preset"] == "paper"
    assert ds.attrs["class_names"] == ["SIL", "TRE", "LP", "VTE", "HYB"]
    from rnnscope import schema

    schema.validate(ds, kind="features")


def test_short_records_error_names_them_or_are_dropped():
    rng = np.random.default_rng(5)
    records = _records([rng.normal(size=1000), rng.normal(size=300)])
    with pytest.raises(ValueError, match=r"shorter than one 4.0 s analysis window.*'rec00001'.*on_short='drop'"):
        F.compute(records)
    ds = F.compute(records, on_short="drop")
    assert ds.sizes["event"] == 1 and list(ds.event_id.values) == ["rec00000"]
    assert set(ds.segment_event_id.values) == {"rec00000"}


def test_bad_settings_are_refused_with_the_valid_choices():
    records = _records([np.zeros(1000)])
    with pytest.raises(ValueError,
                       match=r"'feature_config' parameter of compute must be one of \['paper', 'authors_code'\]"):
        F.compute(records, feature_config="mfcc")
    with pytest.raises(TypeError, match="unknown feature settings"):
        F.compute(records, n_filter=3)
    with pytest.raises(ValueError, match="n_fft=1024"):
        F.compute(_records([np.zeros(2000)], fs=200.0))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(min_value=400, max_value=5000), scale=st.floats(1e-3, 1e4))
def test_any_record_of_one_window_or_more_gives_finite_features(n, scale):
    x = np.random.default_rng(n).normal(size=n) * scale
    feats, spec = F.frames_of(x, FS)
    assert feats.shape == (1 + (n - 400) // 50, 48)
    assert np.all(np.isfinite(feats)) and np.all(np.isfinite(spec))
