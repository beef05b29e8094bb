"""Annotation formats -> from_obspy's catalogue: Transcriber .trs, QuakeML, CSV with relative times.

Every file is written here: a Bezymianny-like event file (one station, 50 Hz MiniSEED) with Transcriber labels,
QuakeML catalogs (rnnscope's own and foreign-looking ones) and CSV tables, with the Chilean class names.
"""
import warnings

import numpy as np
import pandas as pd
import pytest

obspy = pytest.importorskip("obspy")
from obspy import Trace, UTCDateTime  # noqa: E402
from obspy.core.event import Catalog, Comment, Event, EventDescription, Origin, Pick, WaveformStreamID  # noqa: E402

from rnnscope.data import (  # noqa: E402
    QUAKEML_EVENT_TYPES,
    catalog,
    from_obspy,
    read_quakeml_catalog,
    read_relative_csv,
    read_transcriber,
)
from rnnscope.monitoring import to_catalog  # noqa: E402

CHILE = ["BG", "VT", "LP", "TR", "AV", "IC"]
BEZ = "KC.BEZ..EHZ"
T0 = UTCDateTime("2017-08-03T04:10:00")
RATE = 50.0


def event_file(path, start=T0, seconds=120.0, trace_id=BEZ):
    net, sta, loc, cha = trace_id.split(".")
    data = np.random.default_rng(1).integers(-300, 300, int(seconds * RATE)).astype(np.int32)
    header = dict(network=net, station=sta, location=loc, channel=cha, sampling_rate=RATE, starttime=start)
    Trace(data, header=header).write(str(path), format="MSEED")
    return str(path)


def trs(path, body, section_end="1.2", turn_end="1.2", encoding="ISO-8859-1"):
    """A Transcriber file as Transcriber writes it (declaration, DOCTYPE, Episode/Section/Turn)."""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE Trans SYSTEM "trans-14.dtd">\n'
        '<Trans scribe="obs" audio_filename="event_0001" version="2" version_date="170803">\n<Episode>\n'
        f'<Section type="report" startTime="0" endTime="{section_end}">\n'
        f'<Turn startTime="0"{f" endTime={chr(34)}{turn_end}{chr(34)}" if turn_end else ""}>\n'
        f"{body}</Turn>\n</Section>\n</Episode>\n</Trans>\n"
    )
    path.write_bytes(text.encode(encoding))
    return path


# times in the file are 1/100 of real seconds (signal played 100x faster): 0.2 -> 20 s
BODY = '<Sync time="0"/>\n\n<Sync time="0.2"/>\nLP\n<Sync time="0.35"/>\n<Comment desc="caf\u00e9"/>\n' \
       '<Sync time="0.6"/>\n tremor \n<Sync time="0.9"/>\nVT\n'


# ---------------------------------------------------------------------------------------------------------------
# Transcriber
# ---------------------------------------------------------------------------------------------------------------
def test_transcriber_marks_become_segments_in_real_seconds(tmp_path):
    wave = event_file(tmp_path / "event_0001.mseed")
    table = read_transcriber(trs(tmp_path / "event_0001.trs", BODY), wave, time_scale=100.0,
                             class_map={"tremor": "TR"})
    assert table.columns.tolist() == ["trace_id", "start", "end", "class_name", "p", "s", "source"]
    assert table["class_name"].tolist() == ["LP", "TR", "VT"]  # empty labels give no row
    start = pd.Timestamp(str(T0))
    assert ((table["start"] - start).dt.total_seconds().tolist()) == [20.0, 60.0, 90.0]
    assert ((table["end"] - start).dt.total_seconds().tolist()) == [35.0, 90.0, 120.0]  # last: the turn's end
    assert table["trace_id"].tolist() == [BEZ] * 3 and table["p"].isna().all()
    assert table["source"].tolist() == ["event_0001.trs line 9", "event_0001.trs line 13", "event_0001.trs line 15"]


def test_transcriber_labels_feed_from_obspy_with_any_class_names(tmp_path):
    wave = event_file(tmp_path / "event_0001.mseed")
    labels = read_transcriber(trs(tmp_path / "a.trs", BODY), wave, time_scale=100.0, class_map={"tremor": "TR"})
    ds = from_obspy(wave, labels, sampling_rate=RATE, class_names=CHILE, background="BG")
    y = ds.sample_label.values[0]
    assert np.all(y[1000:1750] == CHILE.index("LP")) and np.all(y[3000:4500] == CHILE.index("TR"))
    assert np.all(y[4500:] == CHILE.index("VT")) and np.all(y[:1000] == 0) and np.all(y[1750:3000] == 0)
    assert catalog(ds)[["class_name", "start", "end"]].values.tolist() == [
        ["BG", 0.0, 20.0], ["LP", 20.0, 35.0], ["BG", 35.0, 60.0], ["TR", 60.0, 90.0], ["VT", 90.0, 120.0]]


def test_transcriber_reference_may_be_a_time_trace_or_stream(tmp_path):
    path = trs(tmp_path / "a.trs", BODY)
    by_time = read_transcriber(path, "2017-08-03T04:10:00Z", trace_id=BEZ, time_scale=100.0)
    st = obspy.read(event_file(tmp_path / "e.mseed"))
    assert by_time.equals(read_transcriber(path, st[0], time_scale=100.0))
    assert by_time.equals(read_transcriber(path, st, time_scale=100.0))
    with pytest.raises(ValueError, match=r"the reference is a time, which names no trace; pass trace_id="):
        read_transcriber(path, "2017-08-03T04:10:00Z")
    st += obspy.read(event_file(tmp_path / "n.mseed", trace_id="KC.BEZ..EHN"))
    with pytest.raises(ValueError, match=r"holds the ids \['KC.BEZ..EHN', 'KC.BEZ..EHZ'\]; pass trace_id="):
        read_transcriber(path, st)
    assert read_transcriber(path, st, trace_id="KC.BEZ..EHN", time_scale=100.0)["trace_id"].unique().tolist() == [
        "KC.BEZ..EHN"]
    with pytest.raises(ValueError, match=r"The 'reference' parameter of read_transcriber must be .* Got 'nowhere'"):
        read_transcriber(path, "nowhere", trace_id=BEZ)


def test_transcriber_labels_covering_a_sliver_of_the_record_warn_about_time_scale(tmp_path):
    """Issue 25: labels made on a signal played 100x faster, read without time_scale, covered 1 % of the record
    without a word."""
    path = trs(tmp_path / "a.trs", BODY)
    wave = event_file(tmp_path / "e.mseed")  # 120 s; the file's times end at 1.2
    with pytest.warns(UserWarning, match=r"read_transcriber: the labels of a.trs end at 1.2 s \(file time 1.2 x "
                                         r"time_scale 1\), 1.0 % of the 120 s record of 'KC.BEZ..EHZ' they label\. If "
                                         r"the signal was played faster .* pass time_scale= .*time_scale=100 would"):
        read_transcriber(path, wave)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_transcriber(path, wave, time_scale=100.0)  # right: no warning
        read_transcriber(path, T0, trace_id=BEZ)  # a time names no record length: nothing to compare


def test_transcriber_last_mark_ends_at_the_section_without_a_turn_end(tmp_path):
    table = read_transcriber(trs(tmp_path / "a.trs", BODY, turn_end=None, section_end="1.1"), T0, trace_id=BEZ)
    assert (table["end"].iloc[-1] - pd.Timestamp(str(T0))).total_seconds() == pytest.approx(1.1)


@pytest.mark.parametrize("body, section_end, message", [
    ('<Sync time="0"/>LP\n<Sync time="abc"/>VT\n', "1", r"a.trs line 8: <Sync> has time='abc', not a number"),
    ('<Sync time="0.5"/>LP\n<Sync time="0.2"/>VT\n', "1", r"a.trs line 8: time 0.2 lies before the mark of line 7"),
    ('<Sync time="0"/>LP\n<Sync time="0.5"/>VT\n', None, r"a.trs line 8: the last mark has no end"),
    ('<Sync time="0"/>LP\n<Sync time="0.5">VT\n', "1", r"a.trs is not a well-formed Transcriber file"),
])
def test_transcriber_errors_name_the_file_and_line(tmp_path, body, section_end, message):
    text = trs(tmp_path / "a.trs", body, section_end=section_end or "1", turn_end=None)
    if section_end is None:
        text.write_text(text.read_text().replace(' endTime="1"', ""))
    with pytest.raises(ValueError, match=message):
        read_transcriber(text, T0, trace_id=BEZ)


def test_unknown_transcriber_label_is_named_with_its_line_by_from_obspy(tmp_path):
    wave = event_file(tmp_path / "event_0001.mseed")
    labels = read_transcriber(trs(tmp_path / "a.trs", BODY), wave, time_scale=100.0)  # 'tremor' not mapped
    with pytest.raises(ValueError, match=r"catalog row 1 \(a.trs line 13\) \(trace 'KC.BEZ..EHZ'\): class 'tremor' "
                                         r"is not one of \['BG', 'VT', 'LP', 'TR', 'AV', 'IC'\]"):
        from_obspy(wave, labels, sampling_rate=RATE, class_names=CHILE)


def test_every_reader_returns_class_name_and_catalogs_may_still_say_class(tmp_path):
    """Issue 25: one column name for a catalog's class everywhere, class_name (the monitor's detections,
    score_detections, the Explorer); readers once returned 'class'. Catalogs given to rnnscope may say either."""
    wave = event_file(tmp_path / "e.mseed")
    csv = tmp_path / "rel.csv"
    csv.write_text("start,end,class\n10,20,LP\n40,50,VT\n")
    tables = {
        "transcriber": read_transcriber(trs(tmp_path / "a.trs", BODY), wave, time_scale=100.0,
                                        class_map={"tremor": "TR"}),
        "relative_csv": read_relative_csv(csv, wave),
        "quakeml": read_quakeml_catalog(to_catalog(detections(["LP", "VT"]))),
    }
    for name, table in tables.items():
        assert "class_name" in table.columns and "class" not in table.columns, name
    records = from_obspy(wave, tables["relative_csv"], sampling_rate=RATE, class_names=CHILE)
    as_class = from_obspy(wave, tables["relative_csv"].rename(columns={"class_name": "class"}), sampling_rate=RATE,
                          class_names=CHILE)
    np.testing.assert_array_equal(records.sample_label.values, as_class.sample_label.values)
    assert catalog(records)["class_name"].tolist() == ["LP", "VT"]


# ---------------------------------------------------------------------------------------------------------------
# catalogues whose rows overlap
# ---------------------------------------------------------------------------------------------------------------
def test_overlapping_rows_of_one_class_are_merged_with_a_warning(tmp_path):
    wave = event_file(tmp_path / "e.mseed")
    rows = pd.DataFrame({"trace_id": [BEZ] * 4, "class": ["LP", "LP", "VT", "LP"],
                         "start": [T0 + 10, T0 + 15, T0 + 40, T0 + 30], "end": [T0 + 20, T0 + 25, T0 + 50, T0 + 40]})
    with pytest.warns(UserWarning, match=r"1 catalog row\(s\) overlapping a segment of the same class .* merged "
                                         r"into it: catalog row 0 and catalog row 1 \(trace 'KC.BEZ..EHZ'\)"):
        ds = from_obspy(wave, rows, sampling_rate=RATE, class_names=CHILE)
    table = catalog(ds)
    # 10-25 merged; 30-40 only touches it and VT 40-50: kept apart
    assert table[["class_name", "start", "end"]].values.tolist() == [["LP", 10.0, 25.0], ["LP", 30.0, 40.0],
                                                                        ["VT", 40.0, 50.0]]
    y = ds.sample_label.values[0]
    assert np.all(y[500:1250] == 2) and np.all(y[1250:1500] == -1) and np.all(y[2000:2500] == 1)


def test_overlapping_rows_of_different_classes_are_refused(tmp_path):
    wave = event_file(tmp_path / "e.mseed")
    rows = pd.DataFrame({"trace_id": [BEZ] * 2, "class": ["LP", "VT"], "start": [T0 + 10, T0 + 15],
                         "end": [T0 + 20, T0 + 25]})
    with pytest.raises(ValueError, match=r"catalog row 0 and catalog row 1 \(trace 'KC.BEZ..EHZ'\) overlap with "
                                         r"different classes"):
        from_obspy(wave, rows, sampling_rate=RATE, class_names=CHILE)


# ---------------------------------------------------------------------------------------------------------------
# QuakeML
# ---------------------------------------------------------------------------------------------------------------
def detections(classes, seed_id=BEZ):
    starts = [pd.Timestamp(str(T0)) + pd.Timedelta(seconds=10 + 15 * k) for k in range(len(classes))]
    return pd.DataFrame({"seed_id": seed_id, "class_name": classes, "start": starts,
                         "end": [s + pd.Timedelta(seconds=12.5) for s in starts], "duration_s": 12.5,
                         "p_mean": 0.8, "p_peak": 0.9})


def test_a_monitor_catalog_reads_back_to_the_same_classes_and_times(tmp_path):
    classes = ["VT", "LP", "TR", "AV", "IC", "Tremor"]  # 'Tremor' is in no mapping: "other event"
    det = detections(classes)
    path = tmp_path / "detections.xml"
    to_catalog(det).write(str(path), format="QUAKEML")
    assert [e.event_type for e in obspy.read_events(str(path))] == [
        "earthquake", "other event", "other event", "avalanche", "ice quake", "other event"]
    table = read_quakeml_catalog(path)
    assert table["class_name"].tolist() == classes and table["trace_id"].tolist() == [BEZ] * 6
    assert (table["start"] == det["start"]).all() and (table["end"] == det["end"]).all()
    assert table["source"].iloc[0].startswith("detections.xml event 0 (smi:local/rnnscope/event/")
    ds = from_obspy(event_file(tmp_path / "e.mseed"), table.iloc[:5], sampling_rate=RATE, class_names=CHILE)
    assert catalog(ds)["class_name"].tolist() == classes[:5]


def strip(cat):
    """A foreign-looking catalog: no rnnscope comment, no description."""
    for event in cat:
        event.comments, event.event_descriptions = [], []
    return cat


def test_event_types_map_classes_both_ways_without_descriptions():
    types = {"VT": "earthquake", "AV": "avalanche", "IC": "ice quake", "LP": "other event"}
    det = detections(["VT", "AV", "IC", "LP"])
    cat = strip(to_catalog(det, event_types=types))
    assert [e.event_type for e in cat] == ["earthquake", "avalanche", "ice quake", "other event"]
    table = read_quakeml_catalog(cat, event_types=types, event_duration_s=12.5)
    assert table["class_name"].tolist() == ["VT", "AV", "IC", "LP"]
    assert (table["end"] == det["end"]).all()
    # the defaults map VT, VTE, EQ and Equ to 'earthquake': say how to choose
    with pytest.raises(ValueError, match=r"catalog event 0 .*: event type 'earthquake' maps to several classes "
                                         r"\['VT', 'VTE', 'EQ', 'Equ'\] .* pass event_types="):
        read_quakeml_catalog(cat, event_duration_s=12.5)
    with pytest.raises(ValueError, match=r"has no end time .* pass event_duration_s="):
        read_quakeml_catalog(cat, event_types=types)


def test_foreign_quakeml_events_with_origins_picks_and_descriptions(tmp_path):
    t = UTCDateTime("2017-12-11T06:00:00")
    other = WaveformStreamID(seed_string="KC.BZG..EHZ")
    ev1 = Event(event_type="earthquake", event_descriptions=[EventDescription("VT")],
                picks=[Pick(time=t + 3.0, phase_hint="S", waveform_id=WaveformStreamID(seed_string=BEZ)),
                       Pick(time=t + 1.0, phase_hint="P", waveform_id=WaveformStreamID(seed_string=BEZ)),
                       Pick(time=t + 0.5, phase_hint="P", waveform_id=other)],
                origins=[Origin(time=t)])
    ev2 = Event(event_type="other event", event_descriptions=[EventDescription("Regional"), EventDescription("LP")],
                origins=[Origin(time=t + 100)], comments=[Comment(text="reviewed")])
    ev3 = Event(event_type="landslide", origins=[Origin(time=t + 200)])
    table = read_quakeml_catalog(Catalog([ev1, ev2]), trace_id=BEZ, event_duration_s=30.0)
    assert table["class_name"].tolist() == ["VT", "LP"]
    start = pd.Timestamp(str(t))
    assert ((table["start"] - start).dt.total_seconds()).tolist() == [1.0, 100.0]  # earliest pick on the trace
    assert ((table["p"] - start).dt.total_seconds()).iloc[0] == 1.0
    assert ((table["s"] - start).dt.total_seconds()).iloc[0] == 3.0 and pd.isna(table["s"].iloc[1])
    assert read_quakeml_catalog(Catalog([ev1]), event_duration_s=30.0)["trace_id"].tolist() == ["KC.BZG..EHZ"]
    with pytest.raises(ValueError, match=r"event 0 .* has no pick with a SEED id; pass trace_id="):
        read_quakeml_catalog(Catalog([ev2]), event_duration_s=30.0)
    with pytest.raises(ValueError, match=r"event type 'landslide' is not mapped to a class .* add \{'<class>': "
                                         r"'landslide'\} to event_types"):
        read_quakeml_catalog(Catalog([ev3]), trace_id=BEZ, event_duration_s=30.0)
    assert read_quakeml_catalog(Catalog([ev3]), trace_id=BEZ, event_duration_s=30.0,
                                event_types={"RF": "landslide"})["class_name"].tolist() == ["RF"]
    assert read_quakeml_catalog(Catalog([ev2]), trace_id=BEZ, event_duration_s=30.0, event_types={},
                                class_names=["LP"])["class_name"].tolist() == ["LP"]


def test_event_types_must_be_quakeml_types():
    for func, call in [("read_quakeml_catalog", lambda m: read_quakeml_catalog(Catalog(), event_types=m)),
                       ("to_catalog", lambda m: to_catalog(detections(["LP"]), event_types=m))]:
        with pytest.raises(ValueError, match=rf"The 'event_types' parameter of {func} must map class names to "
                                             r"QuakeML event types.* Got 'long period' for 'LP' instead"):
            call({"LP": "long period"})
    assert QUAKEML_EVENT_TYPES["VTE"] == "earthquake" and QUAKEML_EVENT_TYPES["LP"] == "other event"


# ---------------------------------------------------------------------------------------------------------------
# CSV with times relative to a file's start
# ---------------------------------------------------------------------------------------------------------------
def test_relative_csv_with_one_reference(tmp_path):
    wave = event_file(tmp_path / "e.mseed")
    path = tmp_path / "labels.csv"
    path.write_text("Start,End,Label,P\n10,20.5,VT,11.25\n\n30,45,AV,\n50,60,noise,\n")
    table = read_relative_csv(path, wave, class_map={"noise": None})
    start = pd.Timestamp(str(T0))
    assert table["class_name"].tolist() == ["VT", "AV"]
    assert ((table["start"] - start).dt.total_seconds()).tolist() == [10.0, 30.0]
    assert ((table["end"] - start).dt.total_seconds()).tolist() == [20.5, 45.0]
    assert (table["p"].iloc[0] - start).total_seconds() == 11.25 and pd.isna(table["p"].iloc[1])
    assert table["source"].tolist() == ["labels.csv line 2", "labels.csv line 4"]
    ds = from_obspy(wave, table, sampling_rate=RATE, class_names=CHILE)
    assert float(ds.segment_p.values[0]) == 11.25 and catalog(ds)["class_name"].tolist() == ["VT", "AV"]


def test_relative_csv_rows_timed_from_the_file_they_name(tmp_path):
    later = T0 + 4 * 30 * 86400.0
    event_file(tmp_path / "event_0001.mseed")
    event_file(tmp_path / "event_0002.mseed", start=later)
    path = tmp_path / "labels.csv"
    path.write_text("file,start,end,class\nevent_0002,5,15,LP\nevent_0001.mseed,1,2,IC\n")
    table = read_relative_csv(path, str(tmp_path / "*.mseed"))
    assert table["start"].tolist() == [pd.Timestamp(str(later + 5)), pd.Timestamp(str(T0 + 1))]
    ds = from_obspy(str(tmp_path / "*.mseed"), table, sampling_rate=RATE, class_names=CHILE)
    assert catalog(ds)[["event_id", "class_name", "start"]].values.tolist() == [
        [f"{BEZ}_0", "IC", 1.0], [f"{BEZ}_1", "LP", 5.0]]
    path.write_text("file,start,end,class\nevent_0003,5,15,LP\n")
    with pytest.raises(ValueError, match=r"labels.csv line 2: the file 'event_0003' is not among the reference "
                                         r"files \['event_0001.mseed', 'event_0002.mseed'\]"):
        read_relative_csv(path, str(tmp_path / "*.mseed"))


def test_relative_csv_errors(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("start,end,class\n10,abc,VT\n")
    with pytest.raises(ValueError, match=r"labels.csv line 2: the end time 'abc' is not a number of seconds"):
        read_relative_csv(path, T0, trace_id=BEZ)
    path.write_text("begin,end,class\n10,20,VT\n")
    with pytest.raises(ValueError, match=r"labels.csv needs columns start, end and class"):
        read_relative_csv(path, T0, trace_id=BEZ)
    with pytest.raises(FileNotFoundError, match=r"the CSV file .*missing.csv' does not exist"):
        read_relative_csv(tmp_path / "missing.csv", T0, trace_id=BEZ)
    path.write_text("start,end,class\n10,20,VT\n")
    with pytest.raises(ValueError, match=r"The 'time_scale' parameter of read_relative_csv"):
        read_relative_csv(path, T0, trace_id=BEZ, time_scale=0)


def test_empty_annotation_gives_an_empty_catalog(tmp_path):
    wave = event_file(tmp_path / "e.mseed")
    path = tmp_path / "labels.csv"
    path.write_text("start,end,class\n")
    table = read_relative_csv(path, wave)
    assert len(table) == 0 and table.columns.tolist() == ["trace_id", "start", "end", "class_name", "p", "s", "source"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = from_obspy(wave, table, sampling_rate=RATE, class_names=CHILE, background="BG")
    assert catalog(ds)["class_name"].tolist() == ["BG"]
