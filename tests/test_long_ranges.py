"""Months of one station in the memory of a day (issue 25): detections computed chunk by chunk, probabilities of a
result read from an output folder left on disk, the probability MiniSEED written task by task.

A month of continuous data is one piece of 5.2 million frames: its catalog was computed on the whole piece at once
(smoothing, argmax, cumulative sums: several float64 copies of the month), and the output-folder path read every
task's probabilities into one array before writing the MiniSEED (another copy per class). Here the arithmetic is
checked on small pieces with a tiny block size, so that every seam of the streaming is crossed many times.
"""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

obspy = pytest.importorskip("obspy")

import rnnscope  # noqa: E402
from rnnscope.monitoring import _runs, detect, frame_runs, read_probabilities, smooth  # noqa: E402
from rnnscope.monitoring._engine import StoredProb  # noqa: E402
from rnnscope.monitoring._runs import RunDetector  # noqa: E402


def noisy_runs(rng, n, classes):
    """Probabilities of ``n`` frames following runs of 1-12 frames of random classes, with noise."""
    labels = np.repeat(rng.integers(0, classes, n), rng.integers(1, 12, n))[:n]
    prob = rng.dirichlet(np.ones(classes), n).astype(np.float32) * 0.5
    prob[np.arange(n), labels] += 0.5
    return prob


def reference(prob, smoothing, min_frames):
    """The catalog's runs as defined in docs/monitoring.md, on the whole piece at once: (start, stop, class, sum of
    every class, peak of every class)."""
    runs = frame_runs(smooth(prob, smoothing=smoothing), min_frames=min_frames)
    return [(a, b, c, prob[a:b].astype(float).sum(0), prob[a:b].max(0)) for a, b, c in runs.values]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 300), classes=st.integers(2, 5),
       method=st.sampled_from(["mean", "median"]), size=st.integers(1, 8), block=st.sampled_from([1, 3, 7, 64]))
def test_runs_chunk_by_chunk_equal_the_whole_piece_at_once(seed, n, classes, method, size, block):
    """Any chunking and any block size give the runs of the whole piece (exactly), the same peaks (exactly) and
    the same sums (to rounding); one block size gives the same sums bit for bit whatever the chunks."""
    rng = np.random.default_rng(seed)
    prob = noisy_runs(rng, n, classes)
    min_frames = rng.integers(1, 12, classes)
    expected = reference(prob, (method, size), min_frames)
    tables = []
    for chunking in range(3):
        old = _runs.BLOCK
        _runs.BLOCK = block
        try:
            detector = RunDetector(classes, (method, size), min_frames)
            for part in np.split(prob, np.sort(rng.integers(0, n + 1, chunking * 3))):
                detector.push(part)
            got = detector.finish()
        finally:
            _runs.BLOCK = old
        assert [r[:3] for r in got] == [tuple(int(v) for v in r[:3]) for r in expected]
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g[3], e[3], rtol=1e-12)
            np.testing.assert_array_equal(g[4], e[4])
        tables.append(got)
    for other in tables[1:]:
        assert all(np.array_equal(a[3], b[3]) for a, b in zip(tables[0], other, strict=True))


def test_smoothing_equals_scipy_filters_with_nearest_edges():
    from scipy import ndimage

    x = np.random.default_rng(0).random((40, 3))
    for size in range(1, 9):
        np.testing.assert_allclose(smooth(x, smoothing=size), ndimage.uniform_filter1d(x, size, axis=0, mode="nearest"),
                                   rtol=0, atol=1e-15)
        np.testing.assert_array_equal(smooth(x, smoothing=("median", size)),
                                      ndimage.median_filter(x, size=(size, 1), mode="nearest"))


def test_the_detector_keeps_a_bounded_buffer_over_a_long_piece():
    """Stable runs keep coming, so everything before them is emitted and freed: the buffers hold about a block."""
    rng = np.random.default_rng(1)
    old = _runs.BLOCK
    _runs.BLOCK = 100
    try:
        detector = RunDetector(3, ("mean", 5), [2, 4, 4])
        largest = 0
        for _ in range(200):  # 20,000 frames in chunks of 100
            detector.push(noisy_runs(rng, 100, 3))
            largest = max(largest, detector.raw.shape[0], detector.smoothed.shape[0])
        runs = detector.finish()
    finally:
        _runs.BLOCK = old
    assert largest <= 300
    assert runs[0][0] == 0 and runs[-1][1] == 20_000
    assert all(a[1] == b[0] for a, b in zip(runs, runs[1:], strict=False))  # the runs tile the piece


def test_detect_of_one_piece_is_the_detector_on_the_whole_piece():
    rng = np.random.default_rng(2)
    prob = noisy_runs(rng, 500, 3)
    t0 = 1_700_000_000 * 10**9
    table = detect(prob, first_time_ns=t0, frame_period_ns=5 * 10**8, class_names=["BG", "TR", "LP"],
                   smoothing=("median", 3), min_duration=3, background="BG")
    expected = [r for r in reference(prob, ("median", 3), [3, 3, 3]) if r[2] != 0]
    assert table["n_frames"].tolist() == [b - a for a, b, *_ in expected]
    np.testing.assert_allclose(table[["p_mean_BG", "p_mean_TR", "p_mean_LP"]].to_numpy(),
                               np.stack([s / (b - a) for a, b, _, s, _ in expected]), rtol=1e-12)


@pytest.fixture(scope="module")
def day_archive(tmp_path_factory):
    """Three hours from 23:00 across midnight with a gap, and a model."""
    import torch

    from rnnscope.features import frames_of

    root = tmp_path_factory.mktemp("sds")
    rnnscope.data.synthetic_archive(root, starttime="2024-03-01T23:00:00", duration_s=3 * 3600.0, seed=2,
                                    gaps=[(5000.0, 5100.0)])
    torch.manual_seed(0)
    model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=6, num_classes=5,
                                          class_names=["SIL", "TRE", "LP", "VTE", "HYB"])
    with torch.no_grad():
        frames, _ = frames_of(np.random.default_rng(0).normal(scale=100.0, size=20000), 100.0)
        model.fit_normalizer(frames[None])
    model.background = "SIL"
    return str(root), model


def test_a_result_read_from_an_output_folder_leaves_its_probabilities_on_disk(day_archive, tmp_path):
    """The output-folder path gives the serial run's catalog and probabilities, its pieces read file by file
    (StoredProb), and the MiniSEED written task by task reads back as the in-memory probability stream."""
    root, model = day_archive
    kw = dict(seed_id="XX.SYN..HHZ", block_s=1800.0, progress=False)
    serial = rnnscope.monitor(model, root, **kw)
    stored = rnnscope.monitor(model, root, output=tmp_path / "out", **kw)
    assert len(stored.pieces) == len(serial.pieces) == 2
    for a, b in zip(stored.pieces, serial.pieces, strict=True):
        assert isinstance(a.prob, StoredProb) and len(a.prob.parts) > 1  # one part per task (half an hour)
        np.testing.assert_array_equal(np.asarray(a.prob), b.prob)
    pd.testing.assert_frame_equal(stored.detections, serial.detections)
    written = read_probabilities(tmp_path / "out" / "probabilities.mseed")
    expected = serial.probabilities()
    assert len(written) == len(expected) == 2 * 5  # the tasks' chunks joined back into one trace per piece
    for a, b in zip(sorted(written, key=lambda t: (t.stats.channel, t.stats.starttime)),
                    sorted(expected, key=lambda t: (t.stats.channel, t.stats.starttime)), strict=True):
        assert (a.stats.starttime, a.stats.class_name) == (b.stats.starttime, b.stats.class_name)
        np.testing.assert_array_equal(a.data, b.data)
    again = stored.detect(smoothing=("median", 3), min_duration=2)
    pd.testing.assert_frame_equal(again, serial.detect(smoothing=("median", 3), min_duration=2))
