"""Streaming features: chunked input gives frames_of of the whole signal, edges included."""
import numpy as np
import pytest

from rnnscope.features import PRESETS, delta, frames_of
from rnnscope.features._streaming import StreamingFeatures, delta_span


def chunked(x, cuts, preset="paper", spectrogram=False):
    stream = StreamingFeatures(100.0, feature_config=preset, spectrogram=spectrogram)
    parts = [stream.push(c) for c in np.split(x, cuts)] + [stream.finish()]
    if spectrogram:
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return np.concatenate(parts)


@pytest.mark.parametrize("preset", ["paper", "authors_code"])
@pytest.mark.parametrize("n", [0, 399, 400, 449, 450, 650, 3000, 12345])
def test_random_chunks_equal_frames_of(preset, n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=n) * 50 + 3.0
    whole, spec = frames_of(x, 100.0, feature_config=preset)
    for _ in range(4):
        cuts = np.sort(rng.integers(0, n + 1, size=rng.integers(0, 12)))
        feats, spectrogram = chunked(x, cuts, preset, spectrogram=True)
        assert feats.shape == whole.shape
        np.testing.assert_allclose(feats, whole, rtol=0, atol=1e-9)
        np.testing.assert_allclose(spectrogram, spec, rtol=0, atol=1e-9)


def test_sample_by_sample_and_one_chunk():
    x = np.random.default_rng(1).normal(size=1500)
    whole, _ = frames_of(x, 100.0)
    np.testing.assert_allclose(chunked(x, np.arange(1, 1500)), whole, rtol=0, atol=1e-9)  # one sample at a time
    np.testing.assert_array_equal(chunked(x, []), whole)  # one chunk: the same arithmetic, bit for bit


def test_frames_come_out_with_the_delta_delay_and_finish_resets():
    stream = StreamingFeatures(100.0)
    assert stream.delay == 4  # delta-deltas need +-4 frames
    x = np.random.default_rng(2).normal(size=400 + 9 * 50)  # 10 frames
    out = stream.push(x)
    assert out.shape == (6, 48) and stream.n_frames == 6  # the last 4 wait for later frames (or the end)
    assert stream.finish().shape == (4, 48)
    assert stream.n_frames == 0 and stream.n_samples == 0  # a new signal starts at frame 0
    y = np.random.default_rng(3).normal(size=1000)
    np.testing.assert_allclose(np.concatenate([stream.push(y), stream.finish()]), frames_of(y, 100.0)[0], atol=1e-9)


def test_memory_is_bounded():
    stream = StreamingFeatures(100.0)
    for chunk in np.array_split(np.random.default_rng(4).normal(size=200_000), 40):
        stream.push(chunk)
        assert stream._tail.size < stream.win + 5000 and stream._c.shape[0] <= 2 * stream.width + 100


def test_delta_span_matches_delta():
    v = np.random.default_rng(5).normal(size=(20, 3))
    full = delta(v, delta_width=2)
    d, first = delta_span(v, 0, True, True, 2)
    assert first == 0
    np.testing.assert_array_equal(d, full)
    inner, first = delta_span(v[5:15], 5, False, False, 2)  # rows 7..12 are determined by rows 5..14
    assert first == 7
    np.testing.assert_allclose(inner, full[7:13])


def test_other_rates_and_presets():
    cfg = PRESETS["paper"]
    x = np.random.default_rng(6).normal(size=5000)
    whole, _ = frames_of(x, 50.0, feature_config=cfg)
    stream = StreamingFeatures(50.0, feature_config=cfg)
    feats = np.concatenate([stream.push(x[:1234]), stream.push(x[1234:]), stream.finish()])
    np.testing.assert_allclose(feats, whole, atol=1e-9)
