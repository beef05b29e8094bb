"""The observatory workflow of docs/monitoring.md end to end, on the command line and in Chromium (issue 25):

``rnnscope monitor`` -> ``rnnscope review`` (decisions made with the review page's own buttons, menus, keys and a
drawn missed event) -> ``rnnscope retrain`` on the page's ``reviewed.csv`` (and the ``rejected.csv`` beside it)
-> ``rnnscope monitor`` with the new model, each command run as a user types it (the ``rnnscope`` console script,
in a folder of the test's temporary directory) and each exiting 0.

The archive has the defects of real ones: a station ``XX.GAP..HHZ`` with two telemetry gaps (one ending off the
frame grid) and a missing UTC day between its two stretches of data, and a station ``XX.CUT..HHZ`` that recorded
only event-cut files (starting between samples, one of them inside the other station's missing day). Both are
monitored as a network (``--id "XX.*..HHZ"``) with a capture store. The model is the shipped
``rnnscope.examples.trained_model()`` saved to a file; its "original training data" are 8 synthetic records.

The review server is the command ``rnnscope review out`` itself (it picks a free port on 127.0.0.1 and prints the
URL with its token), stopped with Ctrl-C (SIGINT) as the docs say, which also ends its kernels. Everything the
commands, the server, its kernels and the browser write goes into the test's temporary folder (``HOME``, the XDG
folders, ``TMPDIR`` and the Jupyter folders point there: ``_browser.environment``, ``conftest.py``).
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _browser import environment, launch_chromium, require_browser, stop, wait_http

pytestmark = pytest.mark.browser

GAP, CUT = "XX.GAP..HHZ", "XX.CUT..HHZ"
CLASSES = ["SIL", "TRE", "LP", "VTE", "HYB"]  # the shipped model's, in its order (keys 1-5)


def _command() -> list[str]:
    """``rnnscope`` as a user types it: the console script next to this Python (else ``python -m rnnscope.cli``)."""
    script = Path(sys.executable).with_name("rnnscope")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rnnscope.cli"]


def _run(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """One ``rnnscope`` command in ``root``; it must exit 0."""
    done = subprocess.run(_command() + list(args), cwd=root, env=environment(root), capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, (args, done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    return done


def _write_inputs(root: Path) -> None:
    """``sds`` (the gappy station and the event-cut station), ``model.safetensors``, ``train.zarr``."""
    import rnnscope

    rnnscope.data.synthetic_archive(root / "sds", seed_ids=GAP, seed=4, starttime="2024-03-01T23:50:00",
                                    duration_s=86400.0 + 600.0 + 900.0, missing_days=[1],
                                    gaps=[(200.0, 260.0), (87000.0 + 400.0, 87000.0 + 445.37)])
    rnnscope.data.synthetic_archive(root / "sds", seed_ids=CUT, seed=6,
                                    event_cuts=[("2024-03-01T23:52:10.003", 240.0), ("2024-03-02T10:22:33.417", 300.0)])
    rnnscope.examples.trained_model().save(root / "model.safetensors")
    original = rnnscope.features.compute(rnnscope.data.synthetic(n_records=8, seed=1))
    rnnscope.save_run(original, root / "train.zarr")


# ----------------------------------------------------------------------------------------------- the page
def _start_review(root: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    """``rnnscope review out`` as documented (its own free port on 127.0.0.1); the process and the URL it prints."""
    log = open(log_path, "w")
    proc = subprocess.Popen(_command() + ["review", "out"], cwd=root, env=environment(root), stdout=log,
                            stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 60
    while not (match := re.search(r"(http://127\.0\.0\.1:(\d+)/\?token=(\S+))", log_path.read_text())):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise AssertionError("rnnscope review printed no URL with a token:\n" + log_path.read_text())
        time.sleep(0.2)
    url = match.group(1)
    try:
        wait_http(f"http://127.0.0.1:{match.group(2)}/login", proc, log_path, timeout=180)
    except Exception:
        stop(proc)
        raise
    return proc, url


def _current(page) -> dict:
    """The current detection beside the buttons: ``#12 LP · 2024-03-01 23:51:01.8 UTC · p 0.72 · GAP · undecided``"""
    text = page.locator(".rnnscope-review-current").inner_text()
    m = re.match(r"#(\d+) (\S+) · (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d) UTC · (?:p \d\.\d\d|drawn) · (\S+) · (.+)$",
                 text.strip())
    assert m, text
    return {"text": text, "row": int(m.group(1)), "class_name": m.group(2), "start": pd.Timestamp(m.group(3),
            tz="UTC"), "station": m.group(4), "review": m.group(5)}


def _wait_reviewed(page, n: int) -> None:
    page.wait_for_function(f"() => /(^|\\D){n} of \\d+ detections reviewed/.test("
                           "document.querySelector('.rnnscope-review-status').innerText)", timeout=30_000)


def _wait_other(page, before: str) -> None:
    page.wait_for_function("(t) => document.querySelector('.rnnscope-review-current').innerText !== t", arg=before,
                           timeout=60_000)


def _press_anywhere(page, key: str) -> None:
    """A key pressed with the focus outside the review widget (on the page's title), as an analyst does."""
    page.locator("h1").first.click()
    page.keyboard.press(key)


def _class_menu(page):
    """The page's "class" menu (relabel and drawn events), beside the buttons."""
    return page.locator(".rnnscope-review .widget-dropdown", has_text="class").locator("select").first


TIME_AXIS = r"""() => {
  const fig = document.querySelector('.rnnscope-review .rnnscope-lines');
  for (const axis of fig.querySelectorAll('g.axis')) {
    const domain = axis.querySelector('path.domain');
    const box = domain && domain.getBoundingClientRect();
    if (!box || box.width <= box.height) continue;
    const ticks = [...axis.querySelectorAll('.tick')].map(t => {
      const r = (t.querySelector('line') || t).getBoundingClientRect();
      return [((t.querySelector('text') || {}).textContent || '').trim(), r.left + r.width / 2];
    }).filter(t => /^\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(t[0]));
    return {ticks: ticks, left: box.left, right: box.right};
  }
  return null;
}"""


def _time_axis(page, near: pd.Timestamp):
    """The unit-lines view's UTC time axis as read from its tick labels: (pixel of a time, the span shown);
    ``near`` gives the date (clock-time labels)."""
    axis = page.evaluate(TIME_AXIS)
    assert axis and len(axis["ticks"]) >= 3, axis
    day = near.normalize()
    times, xs = [], []
    for text, x in axis["ticks"]:
        parts = [float(v) for v in text.split(":")] + [0.0]
        t = day + pd.Timedelta(seconds=parts[0] * 3600 + parts[1] * 60 + parts[2])
        t += pd.Timedelta(days=round((near - t) / pd.Timedelta(days=1)))  # across midnight
        times.append((t - near).total_seconds())
        xs.append(x)
    slope, intercept = np.polyfit(times, xs, 1)

    def pixel(t):
        return intercept + slope * (t - near).total_seconds()

    def time_at(x):
        return near + pd.Timedelta(seconds=(x - intercept) / slope)

    return pixel, (time_at(axis["left"]), time_at(axis["right"]))


def _drag(page, pixel, t0: pd.Timestamp, t1: pd.Timestamp) -> None:
    """A drag from ``t0`` to ``t1`` (UTC) on the unit-lines view."""
    box = page.locator(".rnnscope-review .rnnscope-lines").bounding_box()
    y = box["y"] + box["height"] * 0.5
    page.mouse.move(pixel(t0), y)
    page.mouse.down()
    for t in pd.date_range(t0, t1, periods=8):
        page.mouse.move(pixel(t), y)
        page.wait_for_timeout(30)
    page.mouse.up()


def _detection(detections: pd.DataFrame, det: dict) -> pd.Series:
    """The row of detections.csv the page showed as ``det`` (its station and start to the tenth of a second)."""
    rows = detections[(detections["seed_id"] == f"XX.{det['station']}..HHZ")
                      & ((detections["start"] - det["start"]).abs() <= pd.Timedelta(0.05, "s"))]
    assert len(rows) == 1, (det, detections)
    return rows.iloc[0]


def _status(page) -> str:
    return page.locator(".rnnscope-review-status").inner_text()


def _until_undecided(page, station: str | None = None) -> dict:
    """``n`` until the current detection is undecided (and of ``station``); returns it."""
    for _ in range(60):
        det = _current(page)
        if det["review"] == "undecided" and station in (None, det["station"]):
            return det
        _press_anywhere(page, "n")
        _wait_other(page, det["text"])
    raise AssertionError(f"no undecided detection of {station} reached with n")


def _review_in_the_browser(url: str, detections: pd.DataFrame, out: Path) -> list[dict]:
    """Decide on detections with every control of the page; returns what was decided on, in order."""
    from playwright.sync_api import sync_playwright

    decided = []

    def saved() -> int:
        return len(json.loads((out / "review" / "decisions.json").read_text()))

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        try:
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_selector(".rnnscope-review .rnnscope-detections", timeout=240_000)
            page.wait_for_function("document.querySelectorAll('.rnnscope-review .rnnscope-heatmap "
                                   "image[href^=\"blob:\"]').length >= 1", timeout=120_000)
            page.wait_for_selector(".rnnscope-review-status", timeout=60_000)
            page.wait_for_timeout(1000)
            body = page.inner_text("body")
            assert "Error" not in body and "Traceback" not in body and "cannot open" not in body, body[:2000]
            assert f"0 of {len(detections)} detections reviewed" in _status(page)  # every detection listed
            # 1. accept with the button
            first = _until_undecided(page)
            page.locator(".rnnscope-review button", has_text="accept (a)").click()
            _wait_reviewed(page, 1)
            decided.append(dict(first, action="accepted"))
            # 2. back to it with p; a missed event drawn over it in another class is refused, naming it
            _wait_other(page, first["text"])
            before = _current(page)["text"]
            _press_anywhere(page, "p")
            _wait_other(page, before)
            back = _current(page)
            assert (back["start"], back["station"], back["review"]) == (first["start"], first["station"], "accepted")
            drawn = next(c for c in ("TRE", "HYB", "VTE") if c != first["class_name"])
            _class_menu(page).select_option(label=drawn)
            _press_anywhere(page, "d")
            page.wait_for_function("() => [...document.querySelectorAll('.rnnscope-review button')].some("
                                   "b => b.innerText.includes('draw missed') && b.classList.contains('mod-active'))",
                                   timeout=30_000)
            page.locator(".rnnscope-review .rnnscope-lines").scroll_into_view_if_needed()  # under the other views
            page.wait_for_timeout(500)
            row = _detection(detections, first)
            pixel, _ = _time_axis(page, row["start"])
            _drag(page, pixel, row["start"] + (row["end"] - row["start"]) / 2, row["end"] + pd.Timedelta(2, "s"))
            page.wait_for_function("() => document.querySelector('.rnnscope-review-status').innerText"
                                   ".includes('Not saved')", timeout=30_000)
            assert (f"Not saved: the drawn {drawn} event" in _status(page)
                    and f"the {first['class_name']} detection at {first['start']:%Y-%m-%d %H:%M:%S}" in _status(page)
                    and "(accepted)" in _status(page)), _status(page)
            assert saved() == 1
            # 3. the whole record, then the missed event drawn where the monitor detected nothing
            before = page.evaluate(TIME_AXIS)["ticks"]
            page.locator(".rnnscope-review button", has_text="whole record").click()
            page.wait_for_function(f"(t) => JSON.stringify(({TIME_AXIS})().ticks) !== JSON.stringify(t)",
                                   arg=before, timeout=30_000)
            page.wait_for_timeout(1000)
            pixel, (lo, hi) = _time_axis(page, row["start"])
            seed = f"XX.{first['station']}..HHZ"
            mine = detections[detections["seed_id"] == seed].sort_values("start")
            shown = mine[(mine["end"] > lo) & (mine["start"] < hi)]
            edges = (
                [lo + pd.Timedelta(2, "s")]
                + [t for pair in zip(shown["start"], shown["end"], strict=True) for t in pair]
                + [hi - pd.Timedelta(2, "s")]
            )
            free = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= pd.Timedelta(6, "s")]
            assert free, (lo, hi, shown)  # a stretch of the record without a detection
            a = free[0][0] + pd.Timedelta(1, "s")
            _drag(page, pixel, a, a + pd.Timedelta(4, "s"))
            page.wait_for_function("() => document.querySelector('.rnnscope-review-status').innerText"
                                   ".includes('1 added')", timeout=30_000)
            assert f"saved: added {drawn}" in _status(page) and saved() == 2
            decided.append({"action": "added", "class_name": drawn, "seed_id": seed, "start": a,
                            "end": a + pd.Timedelta(4, "s")})
            # 4. reject with the key, pressed anywhere on the page
            det = _until_undecided(page)
            _press_anywhere(page, "r")
            _wait_reviewed(page, 2)
            decided.append(dict(det, action="rejected"))
            # 5. relabel with the "class" menu and the relabel button
            _wait_other(page, det["text"])
            det = _until_undecided(page)
            new = next(c for c in ("HYB", "VTE", "TRE") if c != det["class_name"])
            _class_menu(page).select_option(label=new)
            page.locator(".rnnscope-review button", has_text="relabel").click()
            _wait_reviewed(page, 3)
            decided.append(dict(det, action="relabelled", new_class=new))
            # 6. relabel with a digit key (the n-th class)
            _wait_other(page, det["text"])
            det = _until_undecided(page)
            new = next(c for c in ("TRE", "VTE") if c != det["class_name"])
            _press_anywhere(page, str(CLASSES.index(new) + 1))
            _wait_reviewed(page, 4)
            decided.append(dict(det, action="relabelled", new_class=new))
            # 7. the event-cut station: the table's station filter and its "next" button (which opens the run
            # holding the detection), then accept with the key
            _wait_other(page, det["text"])
            before = _current(page)["text"]
            table = page.locator(".rnnscope-review .rnnscope-detections")
            table.locator(".widget-dropdown", has_text="station").locator("select").select_option(label="CUT")
            page.wait_for_function(f"() => !document.querySelector('.rnnscope-review .rnnscope-detections')"
                                   f".innerText.includes('{len(detections) + 1} of {len(detections) + 1} ')",
                                   timeout=30_000)
            table.locator("button", has_text="next ▶").click()
            _wait_other(page, before)
            page.wait_for_timeout(1000)
            det = _until_undecided(page, "CUT")
            _press_anywhere(page, "a")
            _wait_reviewed(page, 5)
            decided.append(dict(det, action="accepted"))
            assert saved() == 6 and "1 added" in _status(page)
        except Exception:
            page.screenshot(path=str(out.parent / "failure.png"))
            raise
        finally:
            browser.close()
    return decided


# ----------------------------------------------------------------------------------------------- the workflow
def test_monitor_review_retrain_monitor_on_a_gappy_archive(tmp_path):
    """The four commands of docs/monitoring.md's loop, each exiting 0, on an archive with gaps, a missing day and
    an event-cut station; the decisions made in the page are what reviewed.csv holds; the retrained model file
    loads, differs from the original and monitors the archive."""
    require_browser()
    import psutil  # (with jupyter_server, which the review page needs)

    import rnnscope

    root = tmp_path
    _write_inputs(root)

    # 1. monitor the network, with a capture store
    done = _run(root, "monitor", "model.safetensors", "sds", "--id", "XX.*..HHZ", "--out", "out", "--capture",
                "out/capture")
    assert "FAILED" not in done.stderr and "NetworkResult(2 channel(s)" in done.stdout, done.stdout + done.stderr
    detections = pd.read_csv(root / "out" / "detections.csv", parse_dates=["start", "end"])
    assert set(detections["seed_id"]) == {GAP, CUT}
    meta = json.loads((root / "out" / "monitor.json").read_text())
    assert meta["failed"] == [] and meta["no_data"] == []
    runs = [Path(p).name for p in meta["capture_store"]]
    assert {r.split("_")[0] for r in runs} == {GAP, CUT} and len(runs) >= 5  # a run per day and stretch of data
    # no detection spans a gap or the missing day
    for seed, a, b in [(GAP, "2024-03-01T23:53:20", "2024-03-01T23:54:20"),
                       (GAP, "2024-03-02T00:00:00", "2024-03-03T00:00:00"),
                       (GAP, "2024-03-03T00:06:40", "2024-03-03T00:07:25.37")]:
        rows = detections[detections["seed_id"] == seed]
        assert not ((rows["start"] < pd.Timestamp(b, tz="UTC")) & (rows["end"] > pd.Timestamp(a, tz="UTC"))).any()

    # 2. review in the browser: rnnscope review out
    log_path = root / "review.log"
    proc, url = _start_review(root, log_path)
    try:
        decided = _review_in_the_browser(url, detections, root / "out")
    except Exception:
        print(log_path.read_text()[-5000:])
        raise
    finally:
        kernels = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C, as the docs say
        try:
            code = proc.wait(timeout=60)
            _, left = psutil.wait_procs(kernels, timeout=20)
        finally:
            stop(proc)
        for process in [p for p in kernels if p.is_running()]:
            process.kill()
    assert code == 0, log_path.read_text()[-3000:]
    assert not left, left  # Ctrl-C also ended the page's kernel
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-5000:]

    # the decisions made in the page are what reviewed.csv holds (the rejected one left out, the drawn one added)
    # and what rejected.csv holds (the rejected one, with the class the model gave and no class_name)
    reviewed = pd.read_csv(root / "out" / "reviewed.csv", parse_dates=["start", "end"])
    assert sorted(reviewed["review"]) == ["accepted", "accepted", "added", "relabelled", "relabelled"]
    rejections = pd.read_csv(root / "out" / "rejected.csv", parse_dates=["start", "end"])
    assert "class_name" not in rejections.columns and rejections["review"].tolist() == ["rejected"]
    for det in decided:
        if det["action"] == "added":
            row = reviewed[reviewed["review"] == "added"].iloc[0]
            assert (row["class_name"], row["seed_id"]) == (det["class_name"], det["seed_id"])
            for col in ("start", "end"):  # where it was dragged, to a pixel (about a second on the whole record)
                assert abs(row[col] - det[col]) < pd.Timedelta(2, "s"), (row, det)
            continue
        original = _detection(detections, det)
        rows = reviewed[(reviewed["seed_id"] == original["seed_id"]) & (reviewed["start"] == original["start"])]
        if det["action"] == "rejected":
            assert rows.empty, rows
            rejection = rejections.iloc[0]
            assert (rejection["seed_id"], rejection["start"], rejection["end"], rejection["model_class"]) == (
                original["seed_id"], original["start"], original["end"], det["class_name"]), (rejection, original)
            continue
        assert len(rows) == 1 and rows["review"].iloc[0] == det["action"], (det, rows)
        assert rows["model_class"].iloc[0] == det["class_name"] == original["class_name"]
        assert rows["class_name"].iloc[0] == det.get("new_class", det["class_name"])
        assert rows["end"].iloc[0] == original["end"]
    assert {f"XX.{d['station']}..HHZ" for d in decided if "station" in d} == {GAP, CUT}

    # 3. retrain on the page's reviewed catalog
    done = _run(root, "retrain", "model.safetensors", "out/reviewed.csv", "sds", "--original", "train.zarr", "--out",
                "model-v2.safetensors")
    assert "Retraining(10 epochs)" in done.stdout and "reviewed held out" in done.stdout
    assert "1 rejected detection(s) learned as SIL (false alarms)" in done.stdout, done.stdout  # rejected.csv read
    assert "frame_accuracy" in done.stdout and "..." not in done.stdout  # every score printed
    assert (root / "model-v2.safetensors.scores.csv").exists()
    old = rnnscope.models.load(root / "model.safetensors")
    new = rnnscope.models.load(root / "model-v2.safetensors")
    assert new.class_names == old.class_names and new.background == old.background
    weights_old, weights_new = old.state_dict(), new.state_dict()
    assert weights_old.keys() == weights_new.keys()
    assert any(not np.array_equal(weights_old[k].numpy(), weights_new[k].numpy()) for k in weights_old)
    assert np.array_equal(old.feature_mean.numpy(), new.feature_mean.numpy())  # the normaliser is kept
    assert new.info["retraining"]["rejected_detections"] == 1

    # 4. the retrained model monitors the archive
    _run(root, "monitor", "model-v2.safetensors", "sds", "--id", "XX.*..HHZ", "--out", "out-v2")
    again = pd.read_csv(root / "out-v2" / "detections.csv", parse_dates=["start", "end"])
    assert set(again["seed_id"]) <= {GAP, CUT} and len(again) > 0
    import obspy

    from rnnscope.monitoring import read_probabilities

    before = read_probabilities(root / "out" / "probabilities" / f"{GAP}.mseed")
    after = read_probabilities(root / "out-v2" / "probabilities" / f"{GAP}.mseed")
    assert [tr.stats.npts for tr in before] == [tr.stats.npts for tr in after]
    assert any(
        not np.allclose(a.data, b.data) for a, b in zip(before, after, strict=True)
    )  # the new model's probabilities
    # on the rejected stretch the retrained model finds the rejected class less probable (learned as background)
    rejection = rejections.iloc[0]
    where = f"{rejection['seed_id']}.mseed"
    stretch = [obspy.UTCDateTime(rejection[c].isoformat()) for c in ("start", "end")]
    p_old, p_new = (np.concatenate([tr.slice(*stretch).data for tr in read_probabilities(root / folder /
                                    "probabilities" / where) if tr.stats.class_name == rejection["model_class"]])
                    .mean() for folder in ("out", "out-v2"))
    assert p_new < p_old, (rejection, p_old, p_new)
