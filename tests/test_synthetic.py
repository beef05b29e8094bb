"""The synthetic volcano-seismic generator: layout, determinism, labels, class balance and signal character."""

import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, sosfiltfilt

from rnnscope import schema
from rnnscope.data import catalog, synthetic

FS = 100.0
NAMES = ["SIL", "TRE", "LP", "VTE", "HYB"]


@pytest.fixture(scope="module")
def small():
    return synthetic(n_records=8, seed=3)


@pytest.fixture(scope="module")
def big():
    """200 records (about 6 h of signal): enough events of every class for statistics."""
    return synthetic(n_records=200, seed=0)


def _segment_samples(ds, row):
    fs = ds.attrs["sampling_rate"]
    return int(round(row.start * fs)), int(round(row.end * fs))


def _segment_waveforms(ds, cat):
    """(class name, samples of the segment) for every segment of ``cat``."""
    wave = ds["waveform"].values
    for row in cat.itertuples():
        a, b = _segment_samples(ds, row)
        yield row.class_name, wave[row.event, a:b].astype(np.float64)


# --------------------------------------------------------------------------------------------- layout


def test_dims_dtypes_and_attrs(small):
    assert small["waveform"].dims == ("event", "sample")
    assert small["sample_label"].dims == ("event", "sample")
    assert small["waveform"].dtype == np.float32
    assert small["sample_label"].dtype == np.int16
    assert small.sizes["event"] == 8
    assert small.attrs["sampling_rate"] == 100.0
    assert small.attrs["class_names"] == NAMES
    assert small.attrs["seed"] == 3
    generator = small.attrs["generator"]
    assert generator["name"] == "rnnscope.data.synthetic"
    assert generator["n_records"] == 8
    assert generator["class_proportions"] == {"TRE": 77.0, "LP": 765.0, "VTE": 75.0, "HYB": 54.0}
    for var in schema.SEGMENT_VARIABLES:
        assert small[var].dims == ("segment",)
    schema.validate(small)


def test_catalog_lists_events_and_sil_stretches(small):
    cat = catalog(small)
    assert isinstance(cat, pd.DataFrame)
    assert {"event", "event_id", "class_name", "class", "start", "end", "p", "s", "duration"} <= set(cat.columns)
    assert "SIL" in set(cat["class_name"])
    assert (cat["duration"] > 0).all()
    assert len(set(small["event_id"].values)) == 8


def test_other_sampling_rate():
    ds = synthetic(n_records=3, seed=0, sampling_rate=50.0, record_duration_s=(30.0, 30.0))
    assert ds.attrs["sampling_rate"] == 50.0
    assert ds["n_samples"].values.tolist() == [1500, 1500, 1500]
    schema.validate(ds)


# --------------------------------------------------------------------------------------------- determinism


def test_same_seed_same_records_and_other_seed_other_records():
    a = synthetic(n_records=4, seed=7)
    b = synthetic(n_records=4, seed=7)
    c = synthetic(n_records=4, seed=8)
    np.testing.assert_array_equal(a["waveform"].values, b["waveform"].values)
    np.testing.assert_array_equal(a["sample_label"].values, b["sample_label"].values)
    pd.testing.assert_frame_equal(catalog(a), catalog(b))
    assert a.sizes["sample"] != c.sizes["sample"] or not np.array_equal(
        a["waveform"].values, c["waveform"].values, equal_nan=True
    )
    assert not np.array_equal(a["n_samples"].values, c["n_samples"].values)


def test_record_i_does_not_depend_on_n_records():
    a = synthetic(n_records=3, seed=11)
    b = synthetic(n_records=6, seed=11)
    width = a.sizes["sample"]
    np.testing.assert_array_equal(a["waveform"].values, b["waveform"].values[:3, :width])
    np.testing.assert_array_equal(a["n_samples"].values, b["n_samples"].values[:3])
    pd.testing.assert_frame_equal(catalog(a), catalog(b).query("event < 3").reset_index(drop=True))


def test_seed_none_draws_and_records_a_seed():
    ds = synthetic(n_records=1, seed=None, record_duration_s=(20.0, 20.0))
    again = synthetic(n_records=1, seed=ds.attrs["seed"], record_duration_s=(20.0, 20.0))
    np.testing.assert_array_equal(ds["waveform"].values, again["waveform"].values)


# --------------------------------------------------------------------------------------------- lengths and labels


def test_record_lengths_vary_within_record_duration_s():
    ds = synthetic(n_records=20, seed=1, record_duration_s=(30.0, 90.0))
    seconds = ds["n_samples"].values / FS
    assert seconds.min() >= 30.0 and seconds.max() <= 90.0
    assert np.unique(seconds).size > 10
    assert ds.sizes["sample"] == ds["n_samples"].values.max()


def test_padding_only_past_n_samples(big):
    n = big["n_samples"].values
    inside = np.arange(big.sizes["sample"])[None, :] < n[:, None]
    labels = big["sample_label"].values
    wave = big["waveform"].values
    assert np.all(labels[~inside] == -1)
    assert np.all(labels[inside] >= 0) and np.all(labels[inside] < len(NAMES))
    assert np.all(np.isnan(wave[~inside]))
    assert np.all(np.isfinite(wave[inside]))


def test_every_labelled_sample_lies_in_exactly_one_matching_segment(big):
    cat = catalog(big)
    labels = big["sample_label"].values
    for event in range(big.sizes["event"]):
        n = int(big["n_samples"].values[event])
        count = np.zeros(n, dtype=int)
        seg_class = np.full(n, -1)
        for row in cat[cat["event"] == event].itertuples():
            a, b = _segment_samples(big, row)
            count[a:b] += 1
            seg_class[a:b] = row._4  # the "class" column
        assert np.all(count == 1), f"record {event}: samples covered {set(count.tolist())} times"
        np.testing.assert_array_equal(seg_class, labels[event, :n])


def test_p_and_s_arrivals(big):
    cat = catalog(big)
    quake = cat["class_name"].isin(["VTE", "HYB"])
    assert quake.sum() > 20
    q = cat[quake]
    assert q["p"].notna().all() and q["s"].notna().all()
    assert (q["p"] < q["s"]).all()
    sp = q["s"] - q["p"]
    assert sp.between(0.5, 3.0).all()
    assert (q["p"] >= q["start"] - 1e-9).all() and (q["s"] <= q["end"]).all()
    assert cat.loc[~quake, ["p", "s"]].isna().all().all()


# --------------------------------------------------------------------------------------------- class balance


def test_class_balance_follows_the_paper(big):
    labels = big["sample_label"].values
    share = np.bincount(labels[labels >= 0], minlength=5) / np.sum(labels >= 0)
    assert share.argmax() == 0 and share[0] > 0.4  # SIL holds most samples
    assert share[2] == share[1:].max()  # LP holds most event samples
    counts = catalog(big)["class_name"].value_counts()
    assert counts.drop("SIL").idxmax() == "LP"
    for rare in ("TRE", "VTE", "HYB"):
        assert 0 < counts[rare] < counts["LP"] / 4
    # some records hold no event at all, most hold several
    events_per_record = catalog(big).query("class_name != 'SIL'").groupby("event").size()
    assert len(events_per_record) < big.sizes["event"]
    assert events_per_record.max() >= 3


def test_class_proportions_change_the_balance():
    only_vte = catalog(synthetic(n_records=10, seed=0, class_proportions={"VTE": 1}))
    assert set(only_vte["class_name"]) == {"SIL", "VTE"}
    counts = catalog(synthetic(n_records=60, seed=0, class_proportions={"VTE": 3, "LP": 1}))
    counts = counts["class_name"].value_counts()
    assert counts["VTE"] > counts["LP"]
    assert "TRE" not in counts and "HYB" not in counts


def test_double_events(big):
    def short_gaps(cat):
        """Pairs of consecutive events of one class with less than 2 s of SIL between them."""
        pairs = 0
        for _, rows in cat.groupby("event"):
            events = rows[rows["class_name"] != "SIL"].sort_values("start")
            gap = events["start"].to_numpy()[1:] - events["end"].to_numpy()[:-1]
            same = events["class_name"].to_numpy()[1:] == events["class_name"].to_numpy()[:-1]
            pairs += int(np.sum((gap < 2.0) & same))
        return pairs

    cat = catalog(big)
    assert short_gaps(cat) >= 10
    # back to back: two segments of one class touching each other
    touching = 0
    for _, rows in cat.groupby("event"):
        touching += int(np.sum(np.isclose(rows["start"].to_numpy()[1:], rows["end"].to_numpy()[:-1])
                               & (rows["class"].to_numpy()[1:] == rows["class"].to_numpy()[:-1])))
    assert touching >= 3
    assert short_gaps(catalog(synthetic(n_records=40, seed=0, double_event_prob=0.0))) == 0


# --------------------------------------------------------------------------------------------- signal character


def test_spectral_character_of_the_classes(big):
    cat = catalog(big)
    hf_share, dominant = {}, {}
    for name, x in _segment_waveforms(big, cat):
        x = x - x.mean()
        power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
        f = np.fft.rfftfreq(x.size, 1 / FS)
        hf_share.setdefault(name, []).append(power[f > 5].sum() / power.sum())
        above = f >= 0.4  # above the microseism
        dominant.setdefault(name, []).append(f[above][np.argmax(power[above])])
    # VTE broadband and impulsive, LP narrow-band at low frequency
    assert np.mean(hf_share["VTE"]) > 2 * np.mean(hf_share["LP"])
    assert np.mean(hf_share["VTE"]) > np.mean(hf_share["TRE"])
    lp = np.array(dominant["LP"])
    assert np.mean((lp >= 0.5) & (lp <= 5.0)) > 0.85
    tre = np.array(dominant["TRE"])
    assert np.mean((tre >= 0.5) & (tre <= 5.0)) > 0.8  # LP and TRE share their band
    # HYB: a high-frequency onset (first 2 s after P) and a low-frequency coda
    onset, coda = [], []
    wave = big["waveform"].values
    for row in cat[cat["class_name"] == "HYB"].itertuples():
        a = int(round(row.p * FS))
        b = int(round(row.end * FS))
        for part, out in ((wave[row.event, a : a + 200], onset), (wave[row.event, a + 600 : b], coda)):
            if part.size >= 200:
                power = np.abs(np.fft.rfft(part - part.mean())) ** 2
                out.append(power[np.fft.rfftfreq(part.size, 1 / FS) > 5].sum() / power.sum())
    assert np.mean(onset) > np.mean(coda)


def test_durations_per_class(big):
    duration = catalog(big).groupby("class_name")["duration"].mean()
    assert duration["TRE"] > 1.5 * duration["LP"]
    assert 10 < duration["LP"] < 40 and 10 < duration["VTE"] < 30


def test_some_events_are_barely_above_noise(big):
    cat = catalog(big)
    sos = butter(4, 0.5, "highpass", fs=FS, output="sos")
    ratios = []
    for event in range(0, big.sizes["event"], 2):
        n = int(big["n_samples"].values[event])
        x = sosfiltfilt(sos, big["waveform"].values[event, :n].astype(np.float64))
        y = big["sample_label"].values[event, :n]
        if not (y == 0).any():
            continue
        noise = np.sqrt(np.mean(x[y == 0] ** 2))
        for row in cat[(cat["event"] == event) & (cat["class_name"] != "SIL")].itertuples():
            a, b = _segment_samples(big, row)
            ratios.append(np.sqrt(np.mean(x[a:b] ** 2)) / noise)
    assert np.percentile(ratios, 10) < 1.6
    assert np.max(ratios) > 4


# --------------------------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_records": 0}, r"The 'n_records' parameter of synthetic must be a positive integer\. Got 0 instead\."),
        ({"n_records": 2.5}, r"'n_records' parameter of synthetic must be a positive integer"),
        ({"seed": -1}, r"'seed' parameter of synthetic must be a non-negative integer or None"),
        ({"sampling_rate": 0}, r"'sampling_rate' parameter of synthetic must be a positive number"),
        ({"sampling_rate": 10.0}, r"'sampling_rate' parameter of synthetic must be at least 20 Hz"),
        ({"record_duration_s": (60, 30)}, r"'record_duration_s' parameter of synthetic must satisfy"),
        ({"record_duration_s": (0, 30)}, r"'record_duration_s' parameter of synthetic must be a pair \(min, max\) of "
                                         r"durations"),
        ({"record_duration_s": 30}, r"'record_duration_s' parameter of synthetic must be a pair \(min, max\)"),
        ({"class_proportions": {"LP": 1, "EXP": 2}},
         r"'class_proportions' parameter of synthetic names unknown .*'EXP'"),
        ({"class_proportions": {"SIL": 1}}, r"SIL is the background"),
        ({"class_proportions": {"LP": -1}}, r"non-negative numbers"),
        ({"class_proportions": {"LP": 0}}, r"at least one class a positive weight"),
        ({"class_proportions": ["LP"]}, r"'class_proportions' parameter of synthetic must be a dict"),
        ({"double_event_prob": 1.5}, r"'double_event_prob' parameter of synthetic must be a probability in \[0, 1\]"),
        ({"snr_db": (-10, 20)}, r"'snr_db' parameter of synthetic must start above"),
        ({"event_duration_s": {"TRE": (100, 50)}}, r"event_duration_s\['TRE'\]"),
        ({"event_duration_s": {"XX": (1, 5)}}, r"'event_duration_s' parameter of synthetic names unknown"),
        ({"mean_gap_s": 0}, r"'mean_gap_s' parameter of synthetic must be a positive number"),
        ({"spikes_per_minute": -1}, r"'spikes_per_minute' parameter of synthetic must be a non-negative number"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthetic(**{"n_records": 1, **kwargs})


def test_event_duration_s_is_honoured():
    cat = catalog(synthetic(n_records=10, seed=2, class_proportions={"TRE": 1}, event_duration_s={"TRE": (15.0, 20.0)},
                            record_duration_s=(120.0, 120.0), double_event_prob=0.0))
    tre = cat[cat["class_name"] == "TRE"]
    assert len(tre) > 5
    assert tre["duration"].max() < 25.0
