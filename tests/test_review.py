"""The review page and its store without a browser: decisions, conflicts between pages, drawn events, what the
page shows beside its buttons, every detection listed, plain messages instead of tracebacks.

The browser side (keys anywhere, two tabs, a stopped server, the layout at 1920x1080) is checked in
``tests/browser/test_monitor_browser.py``; the server's security in ``test_review_server`` below.
"""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

import rnnscope
from rnnscope.errors import ReviewConflictError


@pytest.fixture
def review_folder(monitor_run, tmp_path):
    """A monitor output folder: detections.csv and the capture run (where `rnnscope monitor --capture` puts it)."""
    import shutil

    _, detections, root = monitor_run
    folder = tmp_path / "out"
    folder.mkdir()
    detections.to_csv(folder / "detections.csv", index=False)
    shutil.copytree(root / "capture", folder / "capture")
    return folder


def test_review_page_saves_each_decision_and_a_reloaded_page_shows_them(review_folder):
    from rnnscope.review import ReviewPage, ReviewStore

    page = ReviewPage(review_folder)
    ex = page.explorer
    assert len(ex.detections) == len(pd.read_csv(review_folder / "detections.csv"))
    first = ex.picked
    assert first == int(ex.table.visible_rows()[0])  # opens on the first detection
    page.on_key("a")  # accept: saved, the table shows it, the next detection is shown
    assert ex.detections["review"].iloc[first] == "accepted" and ex.picked != first
    second = ex.picked
    page.on_key("2")  # relabel to the second class
    third = ex.picked
    page.reject()
    saved = pd.read_csv(review_folder / "reviewed.csv")
    assert saved["review"].tolist() == ["accepted", "relabelled"]  # the rejected one is left out of the catalog
    assert saved["class_name"].iloc[1] == page.class_names[1]
    assert saved["model_class"].iloc[1] == ex.detections["class_name"].iloc[second]
    rejected = pd.read_csv(review_folder / "rejected.csv")  # ... and written beside it, with no class_name
    assert list(rejected.columns) == ["seed_id", "start", "end", "duration_s", "p_mean", "p_peak", "model_class",
                                      "review"]
    assert rejected[["model_class", "review"]].values.tolist() == [[ex.detections["class_name"].iloc[third],
                                                                    "rejected"]]
    third_row = page.store.detections.iloc[int(ex.detections["row"].iloc[third])]
    assert rejected["start"].iloc[0] == third_row["start"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert "rejected.csv" in page.w_status.value
    # draw a missed event on the time axis (draw mode: a brush on the unit lines)
    page.on_key("d")
    assert page.w_draw.value and ex.on_brush_interval is not None
    ex.brush.selected = np.array([300.0, 312.0])
    ex.brush.brushing = True
    ex.brush.brushing = False
    assert not page.w_draw.value and ex.detections["review"].iloc[-1] == "added"
    saved = pd.read_csv(review_folder / "reviewed.csv")
    added = saved[saved["review"] == "added"].iloc[0]
    assert added["start"] == "2024-03-01T00:05:00.000000Z" and added["duration_s"] == pytest.approx(12.0)
    # a reload (a new page on the folder) shows every decision
    again = ReviewPage(review_folder)
    reviews = again.explorer.detections["review"]
    assert reviews.iloc[first] == "accepted" and reviews.iloc[third] == "rejected"
    assert reviews.iloc[second] == f"relabelled → {page.class_names[1]}" and (reviews == "added").sum() == 1
    # two pages on the same folder lose nothing: each saves on top of the other's decisions
    page.explorer.table.pick(5)
    page.accept()
    again.explorer.table.pick(6)
    again.reject()
    log = ReviewStore(review_folder).log()
    assert [e["action"] for e in log] == ["accept", "relabel", "reject", "add", "accept", "reject"]
    assert len(pd.read_csv(review_folder / "rejected.csv")) == 2
    # the reviewed catalog reads back for retraining (CSV and QuakeML)
    quakeml = rnnscope.data.read_quakeml_catalog(review_folder / "reviewed.xml")
    assert len(quakeml) == len(pd.read_csv(review_folder / "reviewed.csv")) == 4
    with pytest.raises(ValueError, match="needs class_name= one of"):
        page.store.decide(page.store.keys()[0], "relabel", class_name="XYZ")
    # a rejection decided again (relabelled) leaves rejected.csv for reviewed.csv
    key = next(k for k, status in zip(page.store.keys(), page.store.status(), strict=True) if status == "rejected")
    page.store.decide(key, "relabel", class_name=page.class_names[0])
    assert len(pd.read_csv(review_folder / "rejected.csv")) == 1
    assert len(pd.read_csv(review_folder / "reviewed.csv")) == 5


def test_reviewed_catalog_labels_records_for_retraining(review_folder):
    import obspy

    from rnnscope.review import ReviewStore

    store = ReviewStore(review_folder, class_names=["SIL", "TRE", "LP", "VTE", "HYB"])
    keys = store.keys()
    store.decide(keys[0], "relabel", class_name="LP")
    row = store.detections.iloc[0]
    from rnnscope.data._synthetic_archive import sds_path

    stream = obspy.read(sds_path(rnnscope.open_run(next((review_folder / "capture").glob("*.zarr")))
                                 .attrs["waveform_source"]["root"], "XX.WID..HHZ",
                                 obspy.UTCDateTime(row["start"].isoformat())))
    records = rnnscope.data.from_obspy(stream, catalog=str(store.reviewed_csv),
                                       class_names=["SIL", "TRE", "LP", "VTE", "HYB"], background="SIL")
    table = rnnscope.data.catalog(records)
    lp = table[table["class_name"] == "LP"]
    assert len(lp) == 1 and lp["end"].iloc[0] - lp["start"].iloc[0] == pytest.approx(row["duration_s"], abs=0.05)


def _beat(page):
    """What the page's heartbeat does at each ping from the browser (about every 0.4 s)."""
    before = page.heartbeat.pongs
    page.heartbeat._on_ping(None, {"ping": before + 1}, None)
    assert page.heartbeat.pongs == before + 1


def test_a_decision_from_a_stale_tab_is_refused_naming_the_other_decision(review_folder):
    """Tab A accepts #k; tab B, still showing it undecided, rejects it: refused, B then shows "accepted"; each tab
    shows the other's decisions at its next heartbeat; a second decision on the new state overrides."""
    from rnnscope.review import ReviewPage, ReviewStore

    a, b = ReviewPage(review_folder), ReviewPage(review_folder)
    k = a.explorer.picked
    assert b.explorer.picked == k  # both open on the first undecided detection
    a.accept()
    b.reject()  # made on the state "undecided"
    status = b.w_status.value
    assert "Not saved: another page decided on the" in status and "accepted at" in status, status
    assert "this page showed it undecided and would have rejected it" in status
    assert b.explorer.detections["review"].iloc[k] == "accepted"  # B now shows A's decision
    assert [e["action"] for e in ReviewStore(review_folder).log()] == ["accept"]
    assert pd.read_csv(review_folder / "reviewed.csv")["review"].tolist() == ["accepted"]
    b.explorer.table.pick(k)
    b.reject()  # decided again, on the state it now shows: saved
    assert [e["action"] for e in ReviewStore(review_folder).log()] == ["accept", "reject"]
    assert a.explorer.detections["review"].iloc[k] == "accepted"  # A has not looked yet
    _beat(a)
    assert a.explorer.detections["review"].iloc[k] == "rejected"  # ... and shows it at its next beat
    assert "1 decision(s) from another page shown" in a.w_status.value
    # the same decision from a stale tab is agreement: nothing written, no error
    nxt = int(a.explorer.table.visible_rows()[3])
    a.explorer.table.pick(nxt)
    b.explorer.table.pick(nxt)
    a.accept()
    b.accept()
    assert [e["action"] for e in ReviewStore(review_folder).log()] == ["accept", "reject", "accept"]
    assert "Not saved" not in b.w_status.value
    # the store refuses the same way for scripts that pass the state they saw
    store = ReviewStore(review_folder)
    key = store.keys()[nxt]
    with pytest.raises(ReviewConflictError, match=r"another page decided on the .* accepted at .*showed it "
                                                  r"undecided and would have rejected it"):
        store.decide(key, "reject", basis=None)
    store.decide(key, "reject", basis=store.revision(key))


def test_drawn_events_can_be_removed_and_never_default_to_the_background(review_folder):
    from rnnscope.review import ReviewPage, ReviewStore

    page = ReviewPage(review_folder)
    ex = page.explorer
    assert page.background == "SIL" and page.w_class.value != "SIL"  # the draw's class is never the background
    page.w_class.value = "SIL"
    page.on_key("d")
    assert "choose the class of the missed event" in page.w_status.value
    ex.brush.selected = np.array([300.0, 312.0])
    ex.brush.brushing = True
    ex.brush.brushing = False
    assert "background" in page.w_status.value and ReviewStore(review_folder).added().empty  # refused
    with pytest.raises(ValueError, match="a missed event of the background class 'SIL' is no event"):
        page.add(300.0, 312.0, class_name="SIL")
    page.w_class.value = "LP"
    ex.brush.selected = np.array([300.0, 312.0])
    ex.brush.brushing = True
    ex.brush.brushing = False
    added = ReviewStore(review_folder).added()
    assert added["class_name"].tolist() == ["LP"] and ex.detections["review"].iloc[-1] == "added"
    position = len(ex.detections) - 1
    assert ex.picked == position and page.w_reject.description == "remove (r)"
    assert "<b>LP</b>" in page.w_current.value and "drawn" in page.w_current.value
    page.relabel("VTE")  # an added event can be relabelled ...
    saved = pd.read_csv(review_folder / "reviewed.csv")
    assert saved.loc[saved["review"] == "added", "class_name"].tolist() == ["VTE"]
    ex.table.pick(position)
    page.on_key("r")  # ... and removed (reject on a drawn event)
    assert ex.detections["review"].iloc[position] == "removed"
    assert ReviewStore(review_folder).added().empty and "added" not in pd.read_csv(
        review_folder / "reviewed.csv")["review"].tolist()
    again = ReviewPage(review_folder)  # a reload lists no removed event, and drawing again adds one row
    assert not (again.explorer.detections["review"] == "removed").any()
    assert len(again.explorer.detections) == len(pd.read_csv(review_folder / "detections.csv"))


def test_every_capture_run_monitor_json_lists_is_reviewed(tmp_path):
    """`rnnscope monitor --capture` lists a run per station, UTC day and stretch of data in monitor.json; the page
    once took only the first one listed (the other stations' and days' detections were "held by no capture run")."""
    from rnnscope.review import find_runs

    out = tmp_path / "out"
    runs = [out / "capture" / f"XX.{sta}..HHZ_{day}.zarr" for sta in ("CUT", "GAP") for day in ("20240301T235000",
                                                                                                   "20240303T000000")]
    for run in runs:
        run.mkdir(parents=True)
    (out / "monitor.json").write_text(json.dumps({"capture_store": [str(p) for p in runs[:3]] + [
        str(out / "capture" / "deleted.zarr")]}))
    assert find_runs(out) == runs[:3]  # the runs listed that exist, in their order
    (out / "monitor.json").write_text(json.dumps({"capture_store": str(runs[1])}))
    assert find_runs(out) == [runs[1]]
    (out / "monitor.json").write_text(json.dumps({"capture_store": []}))
    assert find_runs(out) == runs  # the capture folder
    assert find_runs(out, capture_store=runs[2]) == [runs[2]] and find_runs(out, capture_store=out / "capture") == runs
    assert find_runs(tmp_path / "elsewhere") == []


def _brush(ex, t0, t1):
    """A drag over ``t0 .. t1`` (s) on the unit-lines view, as the browser reports it."""
    ex.brush.selected = np.array([t0, t1])
    ex.brush.brushing = True
    ex.brush.brushing = False


def test_two_classes_at_one_moment_are_refused_so_retraining_can_read_the_catalog(review_folder):
    """A missed event drawn over an accepted detection of another class was saved, and `rnnscope retrain` then
    refused the page's reviewed.csv (exit 2: "overlap with different classes"; the end-to-end browser test met it).
    Now the page refuses it naming the detection, an event that only touches it is saved, and accepting or
    relabelling a detection under a drawn event of another class is refused the same way; rejecting is not."""
    from rnnscope.errors import ReviewConflictError, ReviewOverlapError
    from rnnscope.review import ReviewPage, ReviewStore

    assert issubclass(ReviewOverlapError, ReviewConflictError) and issubclass(ReviewOverlapError, ValueError)
    page = ReviewPage(review_folder)
    ex = page.explorer
    k = ex.picked
    det = ex.detections.iloc[k]
    t0, t1 = float(det["t0"]), float(det["t1"])
    page.accept()
    other = next(c for c in ("TRE", "HYB") if c != det["class_name"])
    page.w_class.value = other
    page.on_key("d")
    _brush(ex, t0 - 2.0, (t0 + t1) / 2)  # over the accepted detection: refused, nothing saved
    status = page.w_status.value
    assert f"Not saved: the drawn {other} event" in status and "draw the event apart" in status, status
    assert f"the {det['class_name']} detection at {det['start_text'][:21]} UTC" in status and "(accepted)" in status
    store = ReviewStore(review_folder)
    assert store.added().empty and [e["action"] for e in store.log()] == ["accept"]
    _brush(ex, t1, t1 + 3.0)  # touching its end: saved
    assert store.added()["class_name"].tolist() == [other]
    # the reverse: the detection rejected, an event drawn over it, then accepting the detection again is refused
    ex.table.pick(k)
    page.reject()
    page.w_class.value = other
    page.on_key("d")
    _brush(ex, t0, t1)
    assert len(store.added()) == 2
    ex.table.pick(k)
    page.accept()
    assert f"Not saved: accepting the {det['class_name']} detection at" in page.w_status.value
    assert f"would overlap the drawn {other} event" in page.w_status.value
    with pytest.raises(ReviewOverlapError, match=f"relabelling the {det['class_name']} detection at .* to LP would "
                                                 f"overlap the drawn {other} event .*or relabel this one to {other}"):
        store.decide(store.keys()[k], "relabel", class_name="LP" if other != "LP" else "VTE")
    store.decide(store.keys()[k], "relabel", class_name=other)  # the same class: merged by retraining, saved
    reviewed = pd.read_csv(review_folder / "reviewed.csv", parse_dates=["start", "end"])
    assert sorted(reviewed["review"]) == ["added", "added", "relabelled"]
    from rnnscope.data._catalog_io import merge_overlaps, read_catalog  # what from_obspy checks

    with pytest.warns(UserWarning, match="merged"):  # the relabelled detection and the drawn event of its class
        merge_overlaps(read_catalog(str(review_folder / "reviewed.csv"), page.class_names, func="test"), func="test")


def test_the_current_detection_sits_beside_the_buttons_and_the_table_follows(review_folder):
    from rnnscope.review import ReviewPage

    page = ReviewPage(review_folder)
    ex = page.explorer
    assert page.w_current in page._bar.children
    assert page._bar.children.index(page.w_current) < page._bar.children.index(page.w_accept)
    for _ in range(3):
        det = ex.detections.iloc[ex.picked]
        text = page.w_current.value
        assert f"<b>{det['class_name']}</b>" in text and f"{det['start_text']} UTC" in text, text
        assert f"p {det['probability']:.2f}" in text and "undecided" in text
        requests = ex.table.scroller.request
        page.on_key("n")
        rows = ex.table.visible_rows().tolist()
        assert ex.table.scroller.request == requests + 1 and ex.table.scroller.row == rows.index(ex.picked)
    # the table beside the views (the wrapping row of the page), not inside the Explorer's column
    assert ex.table not in ex.children and page._main.children == (ex, ex.table)
    assert page._main.layout.flex_flow == "row wrap"
    # one "class" menu on the page: the decision's (the table's filter says "show", the order's "of")
    menus = [w for w in _walk(page) if getattr(w, "description", None) == "class"]
    assert menus == [page.w_class]


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_every_detection_is_listed_so_that_review_reaches_n_of_n(review_folder):
    """A detection on a channel without capture run was dropped from the table but counted: never "N of N"."""
    from rnnscope.review import ReviewPage

    detections = pd.read_csv(review_folder / "detections.csv")
    other = detections.iloc[[2]].assign(seed_id="XX.OFF..HHZ")  # a station that has no capture run
    both = pd.concat([detections, other], ignore_index=True)
    both.to_csv(review_folder / "detections.csv", index=False)
    page = ReviewPage(review_folder)
    ex = page.explorer
    assert len(ex.detections) == len(both) and (ex.detections["event"] == -1).sum() == 1
    off = int(np.flatnonzero(ex.detections["event"].to_numpy() == -1)[0])
    ex.table.pick(off)
    assert "no capture run holds it" in page.w_current.value
    ex.table.pick(int(ex.table.visible_rows()[0]))
    for _ in range(len(both)):  # accept, accept, ...: each decision moves to the next row in time order
        page.accept()
    assert f"{len(both)} of {len(both)} detections reviewed" in page.w_status.value
    assert len(pd.read_csv(review_folder / "reviewed.csv")) == len(both)


def test_a_folder_without_capture_runs_shows_a_plain_message(review_folder, caplog):
    import shutil

    from rnnscope.review import open_page

    shutil.rmtree(review_folder / "capture")  # the monitor's default: no --capture
    with caplog.at_level(logging.ERROR, logger="rnnscope.review"):
        shown = open_page(review_folder)
    assert "has no capture runs" in shown.value and "--capture" in shown.value
    assert "Traceback" not in shown.value and ".py" not in shown.value
    assert caplog.records and caplog.records[0].exc_info is not None  # the traceback goes to the log


def test_an_error_in_an_action_is_a_plain_message_and_a_logged_traceback(review_folder, caplog, monkeypatch):
    from rnnscope.review import ReviewPage

    page = ReviewPage(review_folder)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(page.store, "decide", broken)
    with caplog.at_level(logging.ERROR, logger="rnnscope.review"):
        page.on_key("a")
    assert "OSError: disk full (nothing was saved" in page.w_status.value
    assert "Traceback" not in page.w_status.value and caplog.records[0].exc_info is not None


def test_keys_count_anywhere_in_voila_but_only_over_the_page_in_an_editor():
    from rnnscope.widgets._keys import _ESM, EDITOR

    # Voila's <body> is a .jp-Notebook too, and it has a .jp-LabShell and a .jp-InputArea: only editors tell
    assert all(s not in EDITOR for s in (".jp-Notebook", ".jp-LabShell", ".jp-InputArea,")) and ".cm-editor" in EDITOR
    assert 'document.querySelector(".jp-Notebook")' not in _ESM and "rnnscope-offline" in _ESM


def test_a_detection_of_another_day_opens_that_days_run(review_folder):
    from rnnscope.review import ReviewPage

    run_path = next((review_folder / "capture").glob("*.zarr"))
    run = rnnscope.open_run(run_path)
    next_day = [str(pd.Timestamp(str(t)) + pd.Timedelta(days=1)) for t in run["starttime"].values]
    rnnscope.save_run(run.assign_coords(starttime=("event", next_day)), review_folder / "capture" / "zz-day2.zarr")
    detections = pd.read_csv(review_folder / "detections.csv", parse_dates=["start", "end"])
    later = detections.iloc[:3].assign(start=lambda d: d["start"] + pd.Timedelta(days=1),
                                       end=lambda d: d["end"] + pd.Timedelta(days=1))
    pd.concat([detections, later], ignore_index=True).to_csv(review_folder / "detections.csv", index=False)
    page = ReviewPage(review_folder)
    assert len(page.runs) == 2 and page.run_index == 0
    ex = page.explorer
    assert len(ex.detections) == len(detections) + 3 and (ex.detections["event"] == -1).sum() == 3
    position = len(detections)  # the first detection of the next day
    ex.table.pick(position)
    assert page.run_index == 1 and page.w_run.value == 1 and page.explorer is not ex  # that day's run opened
    det = page.explorer.detections.iloc[position]
    lo, hi = page.explorer.time_range
    assert page.explorer.picked == position and det["event"] == 0 and lo <= det["t0"] < det["t1"] <= hi
    page.on_key("p")  # back to the previous detection: the first day again
    assert page.run_index == 0 and page.explorer.picked == position - 1


# ----------------------------------------------------------------------------------------------- the server
def _get(port, path, host=None):
    """(status, headers, body) of a GET to the review server, redirects not followed."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{port}"})
    response = conn.getresponse()
    body = response.read().decode("utf-8", "replace")
    conn.close()
    headers = dict(response.getheaders())
    headers["cookies"] = "; ".join(c.split(";")[0] for c in response.msg.get_all("Set-Cookie") or [])
    return response.status, headers, body


def _kernels(proc) -> int:
    """Live kernels of the server: a culled kernel the server has not reaped yet (a zombie) or one gone while the
    children are listed is not counted."""
    import psutil

    count = 0
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(child.cmdline()):
                count += 1
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    return count


def _websocket_status(port, kernel_id, cookies, origin) -> int:
    """101 when a kernel websocket opens from ``origin`` with the login cookie a browser holds (a page of another
    site sends it too), else the HTTP status of the refusal."""
    import asyncio

    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    async def connect():
        request = HTTPRequest(f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels",
                              headers={"Origin": origin, "Cookie": cookies})
        try:
            ws = await websocket_connect(request)
        except HTTPClientError as err:
            return err.code
        ws.close()
        return 101

    return asyncio.run(connect())


@pytest.mark.slow
def test_review_server_needs_its_token_checks_hosts_and_origins_and_caps_and_culls_kernels(review_folder, tmp_path):
    """Every plain GET started a ~0.5 GB kernel and a foreign Host was served: now a token (printed in the URL),
    403 for foreign Host headers and cross-origin websockets, at most --max-pages kernels, idle ones shut down,
    and a plain message (no traceback) when the folder cannot be reviewed."""
    import re
    import shutil
    import subprocess
    import sys
    import time

    import psutil  # noqa: F401 - _kernels

    from rnnscope.review._serve import free_port

    port = free_port()
    log_path = tmp_path / "review.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "rnnscope.cli", "review", str(review_folder), "--port",
                                 str(port), "--max-pages", "2", "--idle-timeout", "15"], stdout=log,
                                stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if _get(port, "/login")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.5)
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=(\S+)", log_path.read_text())
        assert url, log_path.read_text()  # the command prints the URL with its token
        token = url.group(1)
        assert len(token) >= 24
        for _ in range(5):  # plain GETs: the login page, no kernel
            status, headers, _ = _get(port, "/")
            assert status == 302 and headers["Location"].startswith("/login")
        assert _get(port, "/?token=wrong")[0] == 302 and _kernels(proc) == 0
        assert _get(port, f"/?token={token}", host=f"evil.example:{port}")[0] == 403  # a rebinding page
        assert _kernels(proc) == 0
        assert _get(port, f"/?token={token}", host=f"localhost:{port}")[0] == 200  # localhost is local
        status, headers, page = _get(port, f"/?token={token}")
        assert status == 200 and "rnnscope-review" in page and "Traceback" not in page
        kernel_id = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page).group(1)
        assert _websocket_status(port, kernel_id, headers["cookies"], "http://evil.example") == 403
        assert _websocket_status(port, kernel_id, headers["cookies"], f"http://127.0.0.1:{port}") == 101
        assert _websocket_status(port, kernel_id, "", f"http://127.0.0.1:{port}") == 403  # no cookie, no token
        assert _kernels(proc) == 2, log_path.read_text()
        status, _, refused = _get(port, f"/?token={token}")  # one page too many: a plain message, no kernel
        assert status == 503 and "already has 2 pages open" in refused and _kernels(proc) == 2
        deadline = time.monotonic() + 60
        # nobody connected: shut down after 15 s (4 s culled the first page's kernel before the count above when a
        # loaded machine took that long to serve the second page)
        while _kernels(proc) and time.monotonic() < deadline:
            time.sleep(1)
        assert _kernels(proc) == 0 and "Culling 'idle' kernel" in log_path.read_text()
        shutil.rmtree(review_folder / "capture")  # the monitor's default output: no capture runs
        status, _, page = _get(port, f"/?token={token}")  # (the page's message: the browser test reads it)
        assert status == 200 and "Traceback" not in page and 'File "/' not in page
        text = log_path.read_text()
        assert "Traceback" in text and "has no capture runs" in text  # ... the traceback is in the server's log
    finally:
        _browser_helpers().stop(proc)


def _browser_helpers():
    """tests/browser/_browser.py (stops a server and the kernels it started)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_browser", Path(__file__).parent / "browser" / "_browser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_capture_runs_are_found_where_capture_store_says(review_folder, tmp_path):
    """``capture_store=`` (the monitor's name for the folder of its runs) points the page at runs kept elsewhere."""
    import shutil

    from rnnscope.review import ReviewPage, find_runs

    elsewhere = tmp_path / "runs_elsewhere"
    shutil.move(str(review_folder / "capture"), elsewhere)
    assert find_runs(review_folder) == []
    found = find_runs(review_folder, capture_store=elsewhere)
    assert found and all(p.parent == elsewhere and p.suffix == ".zarr" for p in found)
    assert ReviewPage(review_folder, capture_store=elsewhere).runs == found
    with pytest.raises(TypeError):
        find_runs(review_folder, elsewhere)  # keyword-only, as rnnscope.monitor(capture_store=)
