"""Readers: ObsPy streams and files (+ catalogues), plain arrays, precomputed features.

Waveforms are ObsPy's own: ``obspy.read()`` (3 traces BW.RJOB..EH? at 100 Hz) and files from ObsPy's installed
test data (a 40 Hz and a 200 Hz MiniSEED file, a 200 Hz MiniSEED file with real gaps, a 20 Hz SAC file).
"""
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import rnnscope
import rnnscope.cli

obspy = pytest.importorskip("obspy")
from obspy import Stream, Trace, UTCDateTime  # noqa: E402

from rnnscope import schema  # noqa: E402
from rnnscope.data import catalog, from_arrays, from_features, from_obspy  # noqa: E402

CLASSES = ["SIL", "TRE", "LP", "VTE", "HYB"]
RJOB = "BW.RJOB..EHZ"
T0 = UTCDateTime("2009-08-24T00:20:03")  # start of obspy.read()'s traces


def obspy_data(*parts: str) -> Path:
    path = Path(obspy.__file__).parent.joinpath("io", *parts)
    if not path.exists():
        pytest.skip(f"ObsPy's test data file {path} is not installed")
    return path


MSEED_40HZ = ("mseed", "tests", "data", "test.mseed")  # NL.HGN.00.BHZ, 40 Hz, 11947 samples
MSEED_200HZ = ("mseed", "tests", "data", "BW.BGLD.__.EHE.D.2008.001.first_10_records")  # 200 Hz, 4120 samples
MSEED_GAPS = ("mseed", "tests", "data", "gaps.mseed")  # BW.BGLD..EHE, 200 Hz, 4 pieces, gaps 2.06/2.06/4.12 s
SAC_20HZ = ("sac", "tests", "data", "dis.G.SCZ.__.BHE_short")  # G.SCZ..BHE, 20 Hz, 300 samples


def tone(freq, rate, seconds, start=T0, trace_id="XX.TONE..HHZ", amplitude=1.0):
    net, sta, loc, cha = trace_id.split(".")
    t = np.arange(int(round(seconds * rate))) / rate
    header = dict(sampling_rate=rate, starttime=start, network=net, station=sta, location=loc, channel=cha)
    return Trace(amplitude * np.sin(2 * np.pi * freq * t), header=header)


def valid(ds, i=0, name="waveform"):
    return ds[name].values[i, : int(ds.n_samples[i])]


def spectrum(x, rate):
    x = x * np.hanning(len(x))
    return np.fft.rfftfreq(len(x), 1 / rate), np.abs(np.fft.rfft(x)) ** 2


def cat(rows, columns=("trace_id", "start", "end", "class")):
    return pd.DataFrame(rows, columns=list(columns))


# ---------------------------------------------------------------------------------------------------------------
# from_obspy: streams, files, coordinates
# ---------------------------------------------------------------------------------------------------------------
def test_example_stream_gives_one_record_per_trace_with_ids_and_start_times():
    st = obspy.read()
    before = st[0].data.copy()
    ds = from_obspy(st, detrend=False)
    schema.validate(ds)
    assert ds.sizes["event"] == 3 and ds.attrs["sampling_rate"] == 100.0
    assert list(ds.trace_id.values) == ["BW.RJOB..EHZ", "BW.RJOB..EHN", "BW.RJOB..EHE"]
    assert list(ds.event_id.values) == list(ds.trace_id.values)
    assert list(ds.starttime.values) == ["2009-08-24T00:20:03.000000Z"] * 3
    assert list(ds.n_samples.values) == [3000] * 3
    np.testing.assert_allclose(valid(ds), before, rtol=1e-6)  # 100 Hz in, 100 Hz out: samples untouched
    assert np.all(ds.sample_label.values == -1) and ds.sizes["segment"] == 0  # no catalogue, no background
    np.testing.assert_array_equal(st[0].data, before)  # the caller's stream is not modified
    assert catalog(from_obspy(st, background="SIL"))["trace_id"].tolist() == list(ds.trace_id.values)


def test_detrend_and_bandpass_happen_before_resampling():
    st = Stream([tone(40.0, 200.0, 20.0), tone(3.0, 200.0, 20.0, trace_id="XX.TONE..HHN")])
    for tr in st:
        tr.data += 1000.0 + 5.0 * np.arange(tr.stats.npts) / 200.0  # offset + trend
    ds = from_obspy(st, bandpass=(1.0, 10.0))
    high, low = valid(ds, 0)[300:-300], valid(ds, 1)[300:-300]
    assert np.abs(high).max() < 0.01  # 40 Hz removed by the band-pass (it is below the new 50 Hz Nyquist)
    assert abs(low.mean()) < 0.01 and 0.95 < np.abs(low).max() < 1.05  # trend gone, 3 Hz kept
    proc = ds.attrs["processing"]
    assert proc["detrend"] == "linear" and proc["bandpass"] == [1.0, 10.0]


def test_bandpass_above_the_input_nyquist_is_refused():
    with pytest.raises(ValueError, match=r"trace 'XX.TONE..HHZ' is sampled at 40 Hz \(Nyquist 20 Hz\)"):
        from_obspy(Stream([tone(5.0, 40.0, 10.0)]), bandpass=(1.0, 25.0))
    with pytest.raises(ValueError, match="'bandpass' parameter of from_obspy"):
        from_obspy(obspy.read(), bandpass=(20.0, 1.0))
    with pytest.raises(ValueError, match=r"'detrend' parameter of from_obspy must be True, False or one of \['linear'"):
        from_obspy(obspy.read(), detrend="quadratic")


def test_40_hz_miniseed_is_resampled_to_100_hz():
    path = obspy_data(*MSEED_40HZ)
    raw = obspy.read(str(path))[0]
    ds = from_obspy(path, detrend=False)  # a pathlib.Path
    assert raw.stats.sampling_rate == 40.0 and raw.stats.npts == 11947
    assert ds.attrs["sampling_rate"] == 100.0
    assert int(ds.n_samples[0]) == 29868  # ceil(11947 * 5 / 2)
    assert ds.trace_id.values[0] == "NL.HGN.00.BHZ" and ds.starttime.values[0] == str(raw.stats.starttime)
    # every 5th output sample falls on every 2nd input sample: the signal is unchanged there
    x, a = valid(ds)[::5].astype(float), raw.data[::2].astype(float)
    n = min(len(x), len(a))
    assert np.corrcoef(x[:n], a[:n])[0, 1] > 0.9999
    assert ds.attrs["processing"]["input_sampling_rates"] == {"NL.HGN.00.BHZ": [40.0]}


def test_200_hz_miniseed_and_20_hz_sac_files_are_resampled():
    ds = from_obspy(str(obspy_data(*MSEED_200HZ)))
    assert int(ds.n_samples[0]) == 4120 // 2 and ds.trace_id.values[0] == "BW.BGLD..EHE"
    sac = from_obspy([obspy_data(*SAC_20HZ)], sampling_rate=50.0)  # a list of paths, another format
    assert int(sac.n_samples[0]) == 300 * 50 // 20 and sac.trace_id.values[0] == "G.SCZ..BHE"
    assert sac.starttime.values[0].startswith("2004-01-03T08:16:09.07")


def test_glob_of_adjacent_files_becomes_one_record_without_gaps():
    pattern = str(obspy_data(*MSEED_200HZ)).replace("first_10_records", "*_record")
    ds = from_obspy(pattern, background="SIL")  # first, second and third 412-sample records
    assert ds.sizes["event"] == 1 and int(ds.n_samples[0]) == 3 * 412 // 2
    assert np.all(valid(ds, name="sample_label") == 0) and ds.sizes["segment"] == 1


@pytest.mark.parametrize("rate", [40.0, 200.0, 20.0, 99.99])
def test_sinusoid_below_nyquist_keeps_its_amplitude_and_frequency(rate):
    ds = from_obspy(Stream([tone(4.0, rate, 40.0, amplitude=3.0)]), detrend=False)
    x = valid(ds)
    assert len(x) == pytest.approx(40.0 * 100, abs=1)
    inner = x[200:-200]
    assert np.abs(inner).max() == pytest.approx(3.0, rel=0.01)
    assert np.sqrt(np.mean(inner**2)) == pytest.approx(3.0 / np.sqrt(2), rel=0.01)
    freqs, power = spectrum(inner, 100.0)
    assert freqs[np.argmax(power)] == pytest.approx(4.0, abs=0.05)
    method = ds.attrs["processing"]["resampling"]
    fallback = "chebyshev2 low-pass + lanczos interpolation"
    assert method == ([fallback] if rate == 99.99 else ["scipy.signal.resample_poly"])


def test_energy_above_the_new_nyquist_is_not_aliased_when_downsampling():
    # 70 Hz at 200 Hz would alias to 30 Hz at 100 Hz without the anti-alias filter
    mixed = tone(70.0, 200.0, 30.0)
    mixed.data += tone(5.0, 200.0, 30.0).data
    x = valid(from_obspy(Stream([mixed]), detrend=False))[200:-200]
    freqs, power = spectrum(x, 100.0)
    assert power[np.abs(freqs - 30.0) < 1.0].sum() < 1e-5 * power[np.abs(freqs - 5.0) < 1.0].sum()
    alone = valid(from_obspy(Stream([tone(70.0, 200.0, 30.0)]), detrend=False))[200:-200]
    assert np.sqrt(np.mean(alone**2)) < 1e-3


def test_upsampling_creates_no_images_above_the_old_nyquist():
    x = valid(from_obspy(Stream([tone(15.0, 40.0, 30.0)]), detrend=False))[200:-200]
    freqs, power = spectrum(x, 100.0)
    assert power[freqs > 21.0].sum() < 1e-6 * power.sum()  # images of 15 Hz would sit at 25, 55, ... Hz


# ---------------------------------------------------------------------------------------------------------------
# gaps, overlaps, mixed sampling rates
# ---------------------------------------------------------------------------------------------------------------
def gapped_stream():
    tr = obspy.read()[0]
    return Stream([tr.slice(T0, T0 + 9.995), tr.slice(T0 + 15.0, T0 + 29.995)])  # 0-10 s and 15-30 s


@pytest.mark.parametrize("background", [None, "SIL"])
def test_gap_is_merged_filled_with_zeros_and_labelled_unknown(background):
    events = cat([(RJOB, T0 + 5.0, T0 + 20.0, "LP")])  # spans the gap
    ds = from_obspy(gapped_stream(), events, background=background)
    assert ds.sizes["event"] == 1 and int(ds.n_samples[0]) == 3000
    labels, x = valid(ds, name="sample_label"), valid(ds)
    assert np.all(labels[1000:1500] == -1) and np.all(x[1000:1500] == 0.0)
    assert np.all(labels[500:1000] == 2) and np.all(labels[1500:2000] == 2)
    outside = np.r_[labels[:500], labels[2000:]]
    assert np.all(outside == (0 if background else -1))
    table = catalog(ds)
    expected = [("LP", 5.0, 20.0)] + ([("SIL", 0.0, 5.0), ("SIL", 20.0, 30.0)] if background else [])
    assert sorted(zip(table.class_name, table.start, table.end, strict=True)) == sorted(expected)


def test_gap_without_catalogue_stays_unknown_with_background():
    ds = from_obspy(gapped_stream(), background="SIL")
    labels = valid(ds, name="sample_label")
    assert np.all(labels[1000:1500] == -1) and np.all(labels[:1000] == 0) and np.all(labels[1500:] == 0)
    table = catalog(ds)
    assert table[["class_name", "start", "end"]].values.tolist() == [["SIL", 0.0, 10.0], ["SIL", 15.0, 30.0]]


def test_real_gaps_file_keeps_its_three_gaps_unknown():
    ds = from_obspy(obspy_data(*MSEED_GAPS), background="SIL")
    assert ds.sizes["event"] == 1 and ds.starttime.values[0] == "2007-12-31T23:59:59.915000Z"
    unknown = (valid(ds, name="sample_label") == -1).astype(int)
    edges = np.flatnonzero(np.diff(np.r_[0, unknown, 0]))
    gap_lengths = (edges[1::2] - edges[::2]) / 100.0
    np.testing.assert_allclose(gap_lengths, [2.06, 2.06, 4.12])  # ObsPy's print_gaps of the file
    assert catalog(ds).class_name.tolist() == ["SIL"] * 4


def test_merge_gaps_false_gives_one_record_per_piece():
    ds = from_obspy(gapped_stream(), merge_gaps=False, background="SIL")
    assert list(ds.event_id.values) == [f"{RJOB}_0", f"{RJOB}_1"]
    assert list(ds.trace_id.values) == [RJOB, RJOB]
    assert list(ds.starttime.values) == [str(T0), str(T0 + 15.0)]
    assert list(ds.n_samples.values) == [1000, 1500] and np.all(ds.sample_label.values[1, :1500] == 0)


def test_overlapping_traces_keep_the_later_samples():
    start = UTCDateTime("2020-01-01")
    first = Trace(np.ones(2000), header=dict(sampling_rate=100.0, starttime=start, station="OVL"))
    later = Trace(np.full(1500, 2.0), header=dict(sampling_rate=100.0, starttime=start + 15.0, station="OVL"))
    ds = from_obspy(Stream([later, first]), detrend=False, background="SIL")
    x = valid(ds)
    assert len(x) == 3000 and np.all(x[:1500] == 1.0) and np.all(x[1500:] == 2.0)
    assert np.all(valid(ds, name="sample_label") == 0)


def test_mixed_sampling_rates_of_one_id_are_resampled_before_merging():
    first = tone(3.0, 200.0, 10.0)
    second = tone(3.0, 40.0, 20.0, start=T0 + 10.0)  # continues the same sinusoid (3 Hz, whole periods)
    ds = from_obspy(Stream([first, second]), detrend=False, background="SIL")
    assert ds.sizes["event"] == 1 and int(ds.n_samples[0]) == 3000
    k = np.arange(3000)
    away = (np.abs(k - 1000) > 10) & (k > 100) & (k < 2900)  # each piece is resampled alone: edges differ a bit
    np.testing.assert_allclose(valid(ds)[away], np.sin(2 * np.pi * 3.0 * k[away] / 100.0), atol=0.01)
    np.testing.assert_allclose(valid(ds)[990:1010], np.sin(2 * np.pi * 3.0 * k[990:1010] / 100.0), atol=0.1)
    assert np.all(valid(ds, name="sample_label") == 0)
    assert ds.attrs["processing"]["input_sampling_rates"] == {"XX.TONE..HHZ": [40.0, 200.0]}


def test_nan_samples_are_gaps():
    tr = obspy.read()[0]
    tr.data = tr.data.astype(float)
    tr.data[100:200] = np.nan
    labels = valid(from_obspy(Stream([tr]), background="SIL"), name="sample_label")
    assert np.all(labels[100:200] == -1) and np.all(labels[:100] == 0) and np.all(labels[200:] == 0)


@pytest.mark.parametrize("rate", [50.0, 100.0, 200.0])
def test_segments_are_the_half_open_sample_intervals_they_label(rate):
    """Issue 25: a catalogue background row (e.g. a rejected detection for retraining) next to the background
    filled in around the events overlapped it by up to a sample: catalogue times were kept exact while the labels
    (and the filled background) were on the sample grid. Every segment is now [a, b) in samples, as labelled."""
    rng = np.random.default_rng(int(rate))
    t0 = UTCDateTime("2024-01-01")
    tr = Trace(rng.normal(size=int(60 * rate)), header={"sampling_rate": rate, "starttime": t0, "network": "XX",
                                                        "station": "A", "channel": "HHZ"})
    names = ["BG", "LP", "VT"]
    for _ in range(40):
        a = rng.uniform(1, 20)
        b = a + rng.uniform(0.5, 10)
        c = b + rng.uniform(0, 3 / rate)
        d = c + rng.uniform(1, 10)
        iso = [str(t0 + t) for t in (a, b, c, d)]
        cat = pd.DataFrame({"trace_id": "XX.A..HHZ", "start": [iso[0], iso[2]], "end": [iso[1], iso[3]],
                            "class": ["BG", rng.choice(["LP", "VT"])]})
        records = from_obspy(Stream([tr]), catalog=cat, background="BG", class_names=names, sampling_rate=rate,
                             detrend=False)
        table = catalog(records).sort_values("start")
        start, end = table["start"].to_numpy(), table["end"].to_numpy()
        assert (start[1:] >= end[:-1] - 1e-9).all(), table[["class_name", "start", "end"]]  # no overlap
        labels = records["sample_label"].values[0, : int(records["n_samples"][0])]
        for row in table.itertuples():  # the table says exactly which samples carry the class
            i, j = int(round(row.start * rate)), int(round(row.end * rate))
            assert row.start * rate == pytest.approx(i) and row.end * rate == pytest.approx(j)
            assert (labels[i:j] == names.index(row.class_name)).all()
        assert (labels >= 0).all() and table["end"].max() == pytest.approx(60.0)


def test_missing_obspy_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "obspy", None)
    with pytest.raises(rnnscope.errors.MissingExtraError,
                       match=r"from_obspy needs obspy, which is not installed: it comes with rnnscope's 'seismic' "
                             r"extra .*pip install 'rnnscope\[seismic\]'"):
        from_obspy("anything.mseed")


@pytest.mark.parametrize("module, call", [
    ("ipydatagrid", lambda run: rnnscope.widgets.Explorer(run, catalog=rnnscope.data.catalog(run))),
    ("distributed", lambda run: rnnscope.cli._executor(SimpleNamespace(workers=2, scheduler=None)).__enter__()),
    ("voila", lambda run: __import__("rnnscope.review._serve", fromlist=["serve"]).serve("no folder")),
])
def test_missing_extras_name_the_extra(monkeypatch, module, call):
    """What only some users need is an extra; using it without the extra says which to install (issue 26)."""
    run = rnnscope.examples.toy_long_run()
    monkeypatch.setitem(sys.modules, module, None)
    extra = {"ipydatagrid": "review", "distributed": "cluster", "voila": "review"}[module]
    with pytest.raises(rnnscope.errors.MissingExtraError, match=rf"needs {module}.*pip install 'rnnscope\[{extra}\]'"):
        call(run)


def test_unreadable_inputs_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file matches"):
        from_obspy(tmp_path / "missing.mseed")
    with pytest.raises(TypeError, match="'stream' parameter of from_obspy"):
        from_obspy(np.zeros(10))
    # issue 25: from_obspy([]) said "... list of paths. Got list instead"
    with pytest.raises(ValueError, match=r"The 'stream' parameter of from_obspy is an empty list: there is nothing to "
                                         r"read\. Give at least one file path"):
        from_obspy([])
    with pytest.raises(TypeError, match=r"list of paths or a list of Traces\. Got a list of int, str instead"):
        from_obspy(["a.mseed", 3])


def test_a_list_of_traces_is_a_stream():
    rng = np.random.default_rng(0)
    traces = [obspy.Trace(rng.normal(size=3000), header={"station": s, "sampling_rate": 100.0}) for s in "AB"]
    records = from_obspy(traces, detrend=False)
    assert records.sizes["event"] == 2
    np.testing.assert_allclose(records["waveform"].values[0, :3000], from_obspy(obspy.Stream(traces[:1]),
                                                                               detrend=False)["waveform"].values[0])


# ---------------------------------------------------------------------------------------------------------------
# event-cut archives: files of one id months apart
# ---------------------------------------------------------------------------------------------------------------
BEZ = "KC.BEZ..EHZ"


def event_files(tmp_path, starts, seconds, rate=50.0):
    """One MiniSEED file of ``BEZ`` (int32 counts) per start time, ``seconds[k]`` long."""
    rng = np.random.default_rng(3)
    for k, (start, length) in enumerate(zip(starts, seconds, strict=True)):
        data = rng.integers(-500, 500, size=int(round(length * rate))).astype(np.int32)
        header = dict(network="KC", station="BEZ", channel="EHZ", sampling_rate=rate, starttime=start)
        Trace(data, header=header).write(str(tmp_path / f"event_{k:02d}.mseed"), format="MSEED")
    return str(tmp_path / "event_*.mseed")


def test_event_cut_files_months_apart_become_one_record_each(tmp_path):
    starts = [UTCDateTime("2017-08-03T00:00:00") + 7200.0 * k for k in range(12)]
    starts += [UTCDateTime("2017-12-11T06:00:00") + 5400.0 * k for k in range(12)]
    seconds = [60.0 + 10.0 * (k % 5) for k in range(24)]
    pattern = event_files(tmp_path, starts[::-1], seconds[::-1])  # written out of time order
    events = cat([(BEZ, starts[13] + 20.0, starts[13] + 35.0, "LP")])
    for merge_gaps in (True, False):
        ds = from_obspy(pattern, events, sampling_rate=50.0, merge_gaps=merge_gaps, background="SIL")
        assert ds.sizes["event"] == 24
        assert list(ds.event_id.values) == [f"{BEZ}_{k}" for k in range(24)]  # in time order
        assert list(ds.starttime.values) == [str(t) for t in starts]
        assert ds.n_samples.values.tolist() == [int(s * 50) for s in seconds]
        assert ds.sizes["sample"] == int(max(seconds) * 50)  # padded to the longest file, not to four months
        labels = valid(ds, 13, name="sample_label")
        assert np.all(labels[1000:1750] == 2) and np.all(labels[:1000] == 0) and np.all(labels[1750:] == 0)
        assert not np.any(ds.sample_label.values[:13] == 2) and not np.any(ds.sample_label.values[14:] == 2)
        assert ds.attrs["processing"]["max_gap_s"] == 60.0


def test_two_files_a_year_apart_allocate_only_their_samples(tmp_path):
    import tracemalloc

    starts = [UTCDateTime("2016-01-01"), UTCDateTime("2017-01-01")]  # 3.2e7 s apart: 250 MB if merged at 1 Hz
    pattern = event_files(tmp_path, starts, [600.0, 900.0], rate=1.0)
    tracemalloc.start()
    try:
        ds = from_obspy(pattern, sampling_rate=1.0, detrend=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ds.n_samples.values.tolist() == [600, 900]
    assert peak < 20e6, f"peak {peak / 1e6:.0f} MB: the year between the files was allocated"


def test_gaps_up_to_max_gap_s_are_filled_and_longer_ones_split():
    tr = obspy.read()[0]
    pieces = [tr.slice(T0, T0 + 9.99), tr.slice(T0 + 15.0, T0 + 19.99), tr.slice(T0 + 27.0, T0 + 29.99)]
    # gaps of 5 s and 7 s
    ds = from_obspy(Stream(pieces), max_gap_s=6.0, background="SIL")
    assert list(ds.event_id.values) == [f"{RJOB}_0", f"{RJOB}_1"] and list(ds.n_samples.values) == [2000, 300]
    assert np.all(valid(ds, 0, name="sample_label")[1000:1500] == -1)
    assert list(from_obspy(Stream(pieces), max_gap_s=7.0).n_samples.values) == [3000]
    assert list(from_obspy(Stream(pieces), max_gap_s=None).n_samples.values) == [3000]
    assert list(from_obspy(Stream(pieces), max_gap_s=0.0).n_samples.values) == [1000, 500, 300]
    with pytest.raises(ValueError, match="The 'max_gap_s' parameter of from_obspy"):
        from_obspy(Stream(pieces), max_gap_s=-1.0)


# ---------------------------------------------------------------------------------------------------------------
# catalogues
# ---------------------------------------------------------------------------------------------------------------
EVENTS = [
    (RJOB, "2009-08-24T00:20:05Z", "2009-08-24T00:20:12.5Z", "VTE", "2009-08-24T00:20:06Z", "2009-08-24T00:20:07.25Z"),
    ("BW.RJOB..EHN", "2009-08-24T00:20:10Z", "2009-08-24T00:20:20Z", "LP", "", ""),
]


def check_events(ds):
    table = catalog(ds)
    assert table[["event_id", "class_name", "start", "end"]].values.tolist() == [
        [RJOB, "VTE", 2.0, 9.5],
        ["BW.RJOB..EHN", "LP", 7.0, 17.0],
    ]
    np.testing.assert_allclose(table.p, [3.0, np.nan])
    np.testing.assert_allclose(table.s, [4.25, np.nan])
    labels = ds.sample_label.values
    assert np.all(labels[0, 200:950] == 3) and np.all(labels[0, :200] == -1) and np.all(labels[0, 950:] == -1)
    assert np.all(labels[1, 700:1700] == 2) and labels[1, 699] == -1 and labels[1, 1700] == -1
    assert np.all(labels[2] == -1)


def test_catalogue_from_dataframe_with_iso_strings():
    events = cat(EVENTS, ["trace_id", "start", "end", "class", "p", "s"]).replace("", None)
    check_events(from_obspy(obspy.read(), events))


def test_catalogue_from_csv_file(tmp_path):
    path = tmp_path / "events.csv"
    cat(EVENTS, ["seed_id", "start", "end", "class_name", "P", "S"]).to_csv(path, index=False)
    check_events(from_obspy(obspy.read(), path))
    check_events(from_obspy(obspy.read(), str(path)))


def test_catalogue_with_utcdatetime_and_timestamps():
    rows = [[r[0], UTCDateTime(r[1]), pd.Timestamp(r[2]), r[3], UTCDateTime(r[4]) if r[4] else None,
             UTCDateTime(r[5]) if r[5] else None] for r in EVENTS]
    check_events(from_obspy(obspy.read(), cat(rows, ["trace_id", "start", "end", "class", "p", "s"])))


def test_timezone_aware_times_are_converted_and_naive_times_are_utc():
    rows = [
        [RJOB, "2009-08-24T02:20:05+02:00", "2009-08-23T21:20:12.5-03:00", "VTE",
         pd.Timestamp("2009-08-24T08:20:06", tz="Asia/Shanghai"), "2009-08-24 00:20:07.250"],
        ["BW.RJOB..EHN", "2009-08-24 00:20:10", pd.Timestamp("2009-08-24T00:20:20"), "LP", None, None],
    ]
    check_events(from_obspy(obspy.read(), cat(rows, ["trace_id", "start", "end", "class", "p", "s"])))


def test_background_class_fills_uncatalogued_stretches():
    events = cat([(RJOB, T0 + 10.0, T0 + 20.0, "LP")])
    ds = from_obspy(obspy.read().select(channel="EHZ"), events, background="SIL")
    table = catalog(ds)
    assert table[["class_name", "start", "end"]].values.tolist() == [
        ["SIL", 0.0, 10.0],
        ["LP", 10.0, 20.0],
        ["SIL", 20.0, 30.0],
    ]
    labels = valid(ds, name="sample_label")
    assert np.all(labels[:1000] == 0) and np.all(labels[1000:2000] == 2) and np.all(labels[2000:] == 0)


def test_segment_partly_outside_is_clipped_with_a_warning():
    events = cat([(RJOB, T0 - 5.0, T0 + 4.0, "TRE"), (RJOB, T0 + 25.0, T0 + 40.0, "LP")])
    with pytest.warns(UserWarning, match=r"catalog row [01] \(trace 'BW.RJOB..EHZ'\): .*clipped") as record:
        ds = from_obspy(obspy.read().select(channel="EHZ"), events)
    assert len(record) == 2 and all(Path(w.filename).name == "test_readers.py" for w in record)
    assert catalog(ds)[["start", "end"]].values.tolist() == [[0.0, 4.0], [25.0, 30.0]]


def test_segment_inside_the_record_gives_no_warning():
    events = cat([(RJOB, T0, T0 + 30.0, "TRE")])  # exactly the record: 3000 samples at 100 Hz
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = from_obspy(obspy.read().select(channel="EHZ"), events)
    assert np.all(valid(ds, name="sample_label") == 1)


CATALOG_ERRORS = [
    ([(RJOB, "2009-08-24T00:20:05Z", "2009-08-24T00:20:09Z", "XYZ")],
     r"from_obspy: catalog line 2 \(trace 'BW.RJOB..EHZ'\): class 'XYZ' is not one of \['SIL', 'TRE', 'LP', "
     r"'VTE', 'HYB'\]; fix the class or pass class_names="),
    ([(RJOB, "2009-08-24T00:20:05Z", "2009-08-24T00:20:09Z", "LP"),
      (RJOB, "2009-08-24T00:20:09Z", "2009-08-24T00:20:04Z", "LP")],
     r"catalog line 3 \(trace 'BW.RJOB..EHZ'\): the segment does not end after it starts"),
    ([(RJOB, "2009-08-24T00:20:05Z", "24/08/2009 00:20:09", "LP")],
     r"catalog line 2 \(trace 'BW.RJOB..EHZ'\): cannot read the end time '24/08/2009 00:20:09'.*ISO 8601"),
    ([(RJOB, "12.5", "2009-08-24T00:20:09Z", "LP")],
     r"catalog line 2 \(trace 'BW.RJOB..EHZ'\): cannot read the start time '12.5'"),
    ([(RJOB, "2009-08-24T00:20:05Z", "2009-08-24T00:20:09Z", "LP"),
      ("BW.RJOB..EHN", "2009-08-24T00:20:05Z", "2009-08-24T00:20:09Z", "LP"),
      (RJOB, "2009-08-24T00:20:08Z", "2009-08-24T00:20:12Z", "VTE")],
     r"catalog line 2 and catalog line 4 \(trace 'BW.RJOB..EHZ'\) overlap"),
    ([("BW.RJOB..HHZ", "2009-08-24T00:20:05Z", "2009-08-24T00:20:09Z", "LP")],
     r"catalog line 2 \(trace 'BW.RJOB..HHZ'\): no trace with this id in the stream; available trace ids are "
     r"\['BW.RJOB..EHE', 'BW.RJOB..EHN', 'BW.RJOB..EHZ'\]"),
    ([(RJOB, "2009-08-25T00:20:05Z", "2009-08-25T00:20:09Z", "LP")],
     r"catalog line 2 \(trace 'BW.RJOB..EHZ'\): the segment .* lies entirely outside the record"),
]


@pytest.mark.parametrize("rows, message", CATALOG_ERRORS)
def test_catalogue_errors_name_the_line_and_trace(tmp_path, rows, message):
    path = tmp_path / "events.csv"
    cat(rows).to_csv(path, index=False)
    with pytest.raises(ValueError, match=message):
        from_obspy(obspy.read(), path)
    # the same table as a DataFrame names row labels instead of file lines
    row_message = message.replace("catalog line 4", "catalog row 2").replace("catalog line 3", "catalog row 1")
    row_message = row_message.replace("catalog line 2", "catalog row 0")
    with pytest.raises(ValueError, match=row_message):
        from_obspy(obspy.read(), cat(rows))


def test_catalogue_csv_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "trace_id,start,end,class\n"
        f"{RJOB},2009-08-24T00:20:05Z,2009-08-24T00:20:09Z,LP\n"
        "\n"
        f"{RJOB},2009-08-24T00:20:10Z,2009-08-24T00:20:19Z,TREMOR\n"
    )
    with pytest.raises(ValueError, match=r"catalog line 4 \(trace 'BW.RJOB..EHZ'\): class 'TREMOR'"):
        from_obspy(obspy.read(), path)


def test_dataframe_row_labels_are_named_as_python_values():
    events = cat([(RJOB, T0 + 1.0, T0 + 2.0, "LP"), (RJOB, T0 + 3.0, T0 + 4.0, "XYZ")])
    with pytest.raises(ValueError, match=r"catalog row 7 \(trace 'BW.RJOB..EHZ'\): class 'XYZ'"):
        from_obspy(obspy.read(), events.set_axis(np.array([3, 7], dtype=np.int64)))
    with pytest.raises(ValueError, match=r"catalog row 'ev2' \(trace 'BW.RJOB..EHZ'\): class 'XYZ'"):
        from_obspy(obspy.read(), events.set_axis(["ev1", "ev2"]))


def test_catalogue_without_required_columns_is_refused():
    with pytest.raises(ValueError, match=r"the catalog has no 'end' column; expected columns trace_id"):
        from_obspy(obspy.read(), pd.DataFrame({"trace_id": [RJOB], "start": ["2009-08-24T00:20:05Z"],
                                               "class": ["LP"]}))


def test_custom_class_names_and_background_must_match():
    events = cat([(RJOB, T0 + 1.0, T0 + 2.0, "noise")])
    ds = from_obspy(obspy.read(), events, class_names=["noise", "quake"], background="noise")
    assert ds.attrs["class_names"] == ["noise", "quake"]
    with pytest.raises(ValueError, match=r"'background' parameter of from_obspy must be None or one of the classes "
                                         r"\['noise', 'quake'\]"):
        from_obspy(obspy.read(), class_names=["noise", "quake"], background="SIL")


# ---------------------------------------------------------------------------------------------------------------
# from_arrays
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int64, np.uint8])
def test_from_arrays_accepts_integer_samples(dtype):
    x = [np.arange(10, dtype=dtype), np.arange(4, dtype=dtype)]
    y = [np.r_[np.zeros(5, int), np.full(5, 3)], np.array([-1, 1, 1, -1], dtype=np.int8)]
    ds = from_arrays(x, y, sampling_rate=10.0, class_names=CLASSES, event_ids=["a", "b"])
    schema.validate(ds)
    assert ds.waveform.dtype == np.float32
    np.testing.assert_array_equal(ds.waveform.values[0], np.arange(10))
    assert np.isnan(ds.waveform.values[1, 4:]).all() and np.all(ds.sample_label.values[1, 4:] == -1)
    assert catalog(ds)[["event_id", "class_name", "start", "end"]].values.tolist() == [
        ["a", "SIL", 0.0, 0.5], ["a", "VTE", 0.5, 1.0], ["b", "TRE", 0.1, 0.3]
    ]


def test_from_arrays_takes_a_2d_array_and_a_segment_table_with_class_names():
    x = np.random.default_rng(0).integers(-100, 100, size=(2, 50)).astype(np.int32)
    y = np.zeros((2, 50), dtype=int)
    segments = pd.DataFrame({"event": [0, 1], "class": ["SIL", "SIL"], "start": [0.0, 0.0], "end": [5.0, 5.0],
                             "p": [1.0, np.nan]})
    ds = from_arrays(x, y, sampling_rate=10.0, class_names=CLASSES, segments=segments)
    assert ds.sizes["event"] == 2 and catalog(ds).p.iloc[0] == 1.0
    with pytest.raises(ValueError, match=r"classes \['QUAKE'\] that are not in class_names"):
        from_arrays(x, y, sampling_rate=10.0, class_names=CLASSES,
                    segments=segments.assign(**{"class": ["SIL", "QUAKE"]}))
    with pytest.raises(ValueError, match="labels must have shape"):
        from_arrays(x, y[:, :40], sampling_rate=10.0, class_names=CLASSES)


# ---------------------------------------------------------------------------------------------------------------
# from_features
# ---------------------------------------------------------------------------------------------------------------
def test_from_features_round_trip():
    rng = np.random.default_rng(1)
    feats = [rng.normal(size=(7, 4)), rng.normal(size=(3, 4)).astype(np.float32)]
    labs = [np.array([-1, 0, 0, 2, 2, 2, -1]), np.array([1, 1, 1], dtype=np.uint8)]
    ds = from_features(feats, labs, class_names=CLASSES, frame_rate=2.0, feature_names=list("abcd"),
                       event_ids=["x", "y"], time_offset=2.0)
    schema.validate(ds, kind="features")
    assert "waveform" not in ds and "spectrogram" not in ds
    assert ds.features.shape == (2, 7, 4) and list(ds.length.values) == [7, 3]
    np.testing.assert_allclose(ds.features.values[0], feats[0], rtol=1e-6)
    np.testing.assert_allclose(ds.features.values[1, :3], feats[1])
    assert np.isnan(ds.features.values[1, 3:]).all()
    np.testing.assert_array_equal(ds.label.values[0], labs[0])
    np.testing.assert_array_equal(ds.label.values[1], [1, 1, 1, -1, -1, -1, -1])
    np.testing.assert_allclose(ds.time.values, 2.0 + 0.5 * np.arange(7))
    assert list(ds.event_id.values) == ["x", "y"] and list(ds.feature.values) == list("abcd")
    assert ds.attrs["frame_rate"] == 2.0 and ds.attrs["class_names"] == CLASSES
    config = ds.attrs["feature_config"]
    assert config["preset"] == "external" and config["n_features"] == 4 and config["frame_rate"] == 2.0
    table = catalog(ds)
    assert table[["event_id", "class_name", "start", "end"]].values.tolist() == [
        ["x", "SIL", 2.5, 3.5], ["x", "LP", 3.5, 5.0], ["y", "TRE", 2.0, 3.5]
    ]


def test_from_features_takes_arrays_with_a_record_axis():
    ds = from_features(np.zeros((3, 5, 2)), np.zeros((3, 5), dtype=int), class_names=CLASSES, frame_rate=10.0)
    assert list(ds.length.values) == [5, 5, 5] and list(ds.feature.values) == ["f0", "f1"]
    np.testing.assert_allclose(ds.time.values, np.arange(5) / 10.0)


@pytest.mark.parametrize(
    "feats, labs, message",
    [
        ([np.zeros((4, 3)), np.zeros((4, 2))], [np.zeros(4, int)] * 2,
         r"record 'rec00001' has 2 features per frame but the first record has 3"),
        ([np.array([[0.0, np.nan], [1.0, 2.0]])], [np.zeros(2, int)],
         r"record 'rec00000' has 1 NaN or infinite feature values \(first at frame 0, feature 1\)"),
        ([np.zeros((4, 3))], [np.zeros(5, int)], r"record 'rec00000' labels must have shape \(4,\)"),
        ([np.zeros((4, 3))], [np.array([0, 1, 5, -1])], r"labels must lie in \[-1, 4\]"),
        ([np.zeros(4)], [np.zeros(4, int)], r"features must be two-dimensional \(time, feature\)"),
        ([np.zeros((4, 3))], [np.zeros(4, int)] * 2, r"got 1 feature arrays but 2 label arrays"),
    ],
)
def test_from_features_errors(feats, labs, message):
    with pytest.raises(ValueError, match=message):
        from_features(feats, labs, class_names=CLASSES)


def test_from_features_checks_names_and_rates():
    with pytest.raises(ValueError, match="'feature_names' parameter of from_features must hold 3 unique names"):
        from_features([np.zeros((4, 3))], [np.zeros(4, int)], class_names=CLASSES, feature_names=["a", "b"])
    with pytest.raises(ValueError, match="'frame_rate' parameter of from_features must be a positive number"):
        from_features([np.zeros((4, 3))], [np.zeros(4, int)], class_names=CLASSES, frame_rate=0)
