"""The analyst's decisions on a monitor's detections, saved as they are made, and the reviewed catalog.

A review folder is the output folder of ``rnnscope monitor`` (it holds ``detections.csv``). Decisions go to
``review/decisions.json`` in it, one entry per decision (``accept``, ``reject``, ``relabel`` to a class, ``add`` a
missed event, ``remove`` an added one; an added event can also be relabelled), the latest decision on a detection
counting. Every decision is saved at once: under a lock (a lock file in ``review/``), the file is read again, the
decision appended, and the whole written to a temporary file that replaces the old one (``os.replace``: readers
see the old or the new file, never half of one). So a reload shows every decision, and two pages (tabs, analysts)
on the same folder lose none of each other's.

Each entry has an ``id``; a decision may carry the state it was made on (``basis``: the id of the latest decision
on that detection the page showed, None when it showed it undecided). When another page decided on the detection
meanwhile, a different decision is refused with :class:`~rnnscope.errors.ReviewConflictError` naming the other
page's decision (nothing is saved; deciding again on the new state overrides it), and the same decision is taken
as agreement (nothing written). A decision that would put two classes at one moment of a channel in the reviewed
catalog (a drawn event over a kept detection of another class, or accepting or relabelling a detection under a
drawn event of another class) is refused with :class:`~rnnscope.errors.ReviewOverlapError` naming the other event:
retraining refuses such a catalog, and only the analyst knows which of the two is right. Pages see each other's
decisions by watching the file (:meth:`ReviewStore.stamp`).

After each decision the **reviewed catalog** is written the same way, as ``reviewed.csv`` and ``reviewed.xml``
(QuakeML, by :func:`rnnscope.monitoring.to_catalog`, picks marked ``manual``): the events the analyst kept
(accepted, relabelled, added; rejected and not yet reviewed detections are left out), with columns ``seed_id``,
``class_name`` (the class after review), ``start``, ``end`` (UTC), ``duration_s``, ``p_mean``, ``p_peak``,
``review`` and ``model_class``. :func:`rnnscope.data.from_obspy` reads either for retraining (``catalog=
"reviewed.csv"``, or ``catalog=rnnscope.data.read_quakeml_catalog("reviewed.xml")``), and every catalog reader
takes its rows as events. The **rejections** (false alarms) go beside it, to ``rejected.csv``: the rejected
detections with ``seed_id``, ``start``, ``end``, ``duration_s``, ``p_mean``, ``p_peak``, ``model_class`` (the class
the model gave) and ``review`` (``rejected``), and on purpose no ``class_name`` column, so no catalog reader
mistakes them for events of a class. :func:`rnnscope.train.retrain` (``rnnscope retrain``) reads ``rejected.csv``
beside the ``reviewed.csv`` or ``reviewed.xml`` it is given and teaches those stretches as the background class.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ReviewConflictError, ReviewOverlapError

__all__ = ["ReviewStore", "ACTIONS", "UNCHECKED", "detection_key", "describe"]

#: what an analyst can decide (``remove`` and ``relabel`` also apply to added events)
ACTIONS = ("accept", "reject", "relabel", "add", "remove")
#: ``basis`` of a decision whose state is not checked (scripts deciding on their own)
UNCHECKED = "unchecked"
_REVIEWED = ["seed_id", "class_name", "start", "end", "duration_s", "p_mean", "p_peak", "review", "model_class"]
#: columns of ``rejected.csv`` (no ``class_name``: rejections are not events)
_REJECTED = ["seed_id", "start", "end", "duration_s", "p_mean", "p_peak", "model_class", "review"]
_ADDED = "added|"


def describe(entry: dict | None) -> str:
    """A decision as the page shows it: "", "accepted", "rejected", "relabelled → CLASS", "added" or "removed".

    Examples
    --------
    >>> describe({"action": "relabel", "class_name": "LP"}), describe(None)
    ('relabelled → LP', '')
    """
    if entry is None:
        return ""
    return {"accept": "accepted", "reject": "rejected", "add": "added", "remove": "removed"}.get(
        entry["action"], f"relabelled → {entry.get('class_name', '')}")


def entry_id(entry: dict) -> str:
    """The id of a saved decision (entries saved before ids existed: their time and action)."""
    return str(entry.get("id") or f"{entry.get('time', '')}|{entry['action']}")


def detection_key(seed_id: str, start, class_name: str) -> str:
    """The stable id of a detection: ``SEED id|UTC start (ISO)|class``.

    Examples
    --------
    >>> detection_key("XX.STA..HHZ", "2024-03-01T00:00:10Z", "LP")
    'XX.STA..HHZ|2024-03-01T00:00:10.000000Z|LP'
    """
    stamp = pd.Timestamp(start)
    stamp = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
    return f"{seed_id}|{stamp.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z|{class_name}"


def describe_key(key: str) -> str:
    """A detection id as a reader wants it.

    Examples
    --------
    >>> describe_key("XX.STA..HHZ|2024-03-01T00:00:10.000000Z|LP")
    'the LP detection at 2024-03-01 00:00:10.0 UTC on XX.STA..HHZ'
    >>> describe_key("added|3f2a")
    'an added event (added|3f2a)'
    """
    parts = key.split("|")
    if key.startswith(_ADDED) or len(parts) != 3:
        return f"an added event ({key})" if key.startswith(_ADDED) else repr(key)
    seed, start, cls = parts
    return f"the {cls} detection at {_tenths(start)} UTC on {seed}"


def _tenths(time, date: bool = True) -> str:
    """A UTC time to the tenth of a second, rounded as the page shows times: ``2024-03-01 23:54:03.4``."""
    stamp = pd.Timestamp(time)
    stamp = (stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp).round("100ms")
    return stamp.strftime("%Y-%m-%d %H:%M:%S.%f" if date else "%H:%M:%S.%f")[:-5]


def _span(row: dict) -> str:
    """An event's UTC span as a reader wants it: ``2024-03-01 23:54:03.4 - 23:54:16.7 UTC``."""
    start, end = pd.Timestamp(row["start"]), pd.Timestamp(row["end"])
    return f"{_tenths(start)} - {_tenths(end, date=start.date() != end.date())} UTC"


def _what(row: dict, decision: bool = True) -> str:
    """A row of the reviewed catalog as a reader wants it (a detection by its id, a drawn event by its span), with
    the decision that keeps it when ``decision``."""
    if str(row["key"]).startswith(_ADDED):
        return f"the drawn {row['class_name'] + ' ' if decision else ''}event {_span(row)} on {row['seed_id']}"
    review = f"relabelled → {row['class_name']}" if row["review"] == "relabelled" else row["review"]
    return describe_key(row["key"]) + (f" ({review})" if decision else "")


def _atomic_write(path: Path, write) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_csv(table: pd.DataFrame, path) -> None:
    """``table`` as CSV with its ``start`` and ``end`` in ISO 8601 UTC (``2024-03-01T00:00:10.000000Z``)."""
    out = table.copy()
    for col in ("start", "end"):
        out[col] = [pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for t in out[col]]
    out.to_csv(path, index=False)


class ReviewStore:
    """Decisions on the detections of one monitor output folder, and the reviewed catalog written from them.

    Parameters
    ----------
    folder : path
        The monitor's output folder (``detections.csv`` in it).
    detections : pandas.DataFrame, optional
        The detections (default: ``folder/detections.csv``).
    class_names : sequence of str, optional
        Classes an analyst may choose (default: those of the detections).

    Examples
    --------
    >>> import tempfile
    >>> d = pd.DataFrame({"seed_id": ["XX.STA..HHZ"] * 2, "class_name": ["LP", "VTE"],
    ...                   "start": pd.to_datetime(["2024-03-01T00:00:10Z", "2024-03-01T00:01:00Z"]),
    ...                   "end": pd.to_datetime(["2024-03-01T00:00:30Z", "2024-03-01T00:01:04Z"]),
    ...                   "duration_s": [20.0, 4.0], "p_mean": [0.9, 0.6], "p_peak": [1.0, 0.8]})
    >>> store = ReviewStore(tempfile.mkdtemp(), detections=d)
    >>> keys = store.keys()
    >>> _ = store.decide(keys[0], "accept"); _ = store.decide(keys[1], "relabel", class_name="LP")
    >>> pd.read_csv(store.reviewed_csv)[["class_name", "review", "model_class"]].values.tolist()
    [['LP', 'accepted', 'LP'], ['LP', 'relabelled', 'VTE']]
    >>> _ = store.decide(keys[1], "reject")           # a false alarm: out of reviewed.csv, into rejected.csv
    >>> pd.read_csv(store.reviewed_csv)["review"].tolist(), pd.read_csv(store.rejected_csv)["model_class"].tolist()
    (['accepted'], ['VTE'])
    """

    def __init__(self, folder, detections: pd.DataFrame | None = None, *, class_names=None):
        self.folder = Path(folder)
        if detections is None:
            path = self.folder / "detections.csv"
            if not path.exists():
                raise FileNotFoundError(f"The review folder {self.folder} has no detections.csv; pass the --out folder "
                                        "of `rnnscope monitor` (or detections=).")
            detections = pd.read_csv(path)
        self.detections = self._normalise(detections)
        names = list(class_names) if class_names is not None else sorted(set(self.detections["class_name"]))
        self.class_names = names
        self.decisions_path = self.folder / "review" / "decisions.json"
        self.reviewed_csv = self.folder / "reviewed.csv"
        self.reviewed_xml = self.folder / "reviewed.xml"
        self.rejected_csv = self.folder / "rejected.csv"

    @staticmethod
    def _normalise(d: pd.DataFrame) -> pd.DataFrame:
        # the class as "class" and the channel as "trace_id" (as rnnscope.data's catalog readers name them) too
        d = d.rename(columns={k: v for k, v in (("class", "class_name"), ("trace_id", "seed_id"))
                              if k in d.columns and v not in d.columns})
        missing = [c for c in ("seed_id", "class_name", "start", "end") if c not in d.columns]
        if missing:
            raise ValueError(f"ReviewStore: the detections lack columns {missing}; they need seed_id, class_name, "
                             "start and end (UTC), as rnnscope.monitor writes them.")
        d = d.copy()
        for col in ("start", "end"):
            d[col] = pd.to_datetime(d[col], utc=True, format="ISO8601")
        for col in ("p_mean", "p_peak"):
            if col not in d.columns:
                d[col] = np.nan
        d["duration_s"] = (d["end"] - d["start"]).dt.total_seconds()
        d["seed_id"] = d["seed_id"].astype(str)
        d["class_name"] = d["class_name"].astype(str)
        return d.reset_index(drop=True)

    def keys(self) -> list[str]:
        """The ids of the detections, in their order."""
        return [detection_key(s, t, c) for s, t, c in zip(self.detections["seed_id"], self.detections["start"],
                                                          self.detections["class_name"], strict=True)]

    # ------------------------------------------------------------------------------------------- decisions
    @contextmanager
    def _locked(self, timeout: float = 30.0):
        """An exclusive lock of the folder's decisions (a lock file created with O_EXCL; stale after 60 s)."""
        lock = self.decisions_path.parent / ".lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.close(fd)
                break
            except FileExistsError:
                try:
                    if time.time() - lock.stat().st_mtime > 60:
                        lock.unlink()  # left by a killed process
                        continue
                except FileNotFoundError:
                    continue
                if time.monotonic() > deadline:
                    raise TimeoutError(f"ReviewStore: {lock} stayed locked for {timeout:.0f} s; if no review page "
                                       "is saving, delete it.") from None
                time.sleep(0.01)
        try:
            yield
        finally:
            try:
                lock.unlink()
            except FileNotFoundError:
                pass

    def _read_log(self) -> list[dict]:
        if not self.decisions_path.exists():
            return []
        return json.loads(self.decisions_path.read_text())

    def stamp(self) -> tuple:
        """What changes when a decision is saved (the decisions file's modification time and size): a page
        polls it and reads the decisions again only when it changed."""
        try:
            st = self.decisions_path.stat()
        except FileNotFoundError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def log(self) -> list[dict]:
        """Every decision saved so far (from the file: other pages' decisions included), oldest first."""
        return self._read_log()

    def decisions(self, entries: list[dict] | None = None) -> dict[str, dict]:
        """The latest decision per detection id (added detections under their own ``added|...`` ids)."""
        out: dict[str, dict] = {}
        for entry in self._read_log() if entries is None else entries:
            out[entry["key"]] = entry
        return out

    def revision(self, key: str) -> str | None:
        """The id of the latest decision on ``key`` (None when undecided): the ``basis`` of a page's decision."""
        latest = self.decisions().get(key)
        return None if latest is None else entry_id(latest)

    def decide(self, key: str, action: str, *, class_name: str | None = None, start=None, end=None,
               seed_id: str | None = None, basis: str | None = UNCHECKED) -> dict:
        """Save one decision now and rewrite the reviewed catalog; returns the saved entry.

        Parameters
        ----------
        key : str
            The detection's id (:meth:`keys`), or an added event's (``added|...``); ignored for ``add``.
        action : {"accept", "reject", "relabel", "add", "remove"}
            ``accept`` / ``reject`` / ``relabel`` a detection; ``add`` a missed event (a new id is made) with
            ``class_name``, ``start``, ``end`` (UTC) and ``seed_id``; ``relabel`` or ``remove`` an added event.
        class_name : str, optional
            The class of ``relabel`` and ``add`` (one of :attr:`class_names`).
        start, end, seed_id : optional
            The added event (``add``).
        basis : str or None, optional
            The state the decision was made on: the id of the latest decision on ``key`` the deciding page showed
            (:meth:`revision`), None when it showed ``key`` undecided. Default: not checked.

        Returns
        -------
        dict
            The saved entry (or, when ``basis`` is stale and the decision agrees with the other page's, that one).

        Raises
        ------
        ReviewConflictError
            Another page decided differently on ``key`` after the state ``basis`` names; nothing was saved.
        ReviewOverlapError
            The decision would put two classes at one moment of a channel in the reviewed catalog (an added event
            over a kept detection of another class, or the reverse): retraining refuses such a catalog. Nothing was
            saved; reject, relabel or remove one of the two first. Events that only touch are fine.
        """
        entry = self._entry(key, action, class_name=class_name, start=start, end=end, seed_id=seed_id)
        if basis is not None and basis != UNCHECKED:
            basis = str(basis)
        with self._locked():
            entries = self._read_log()
            if action != "add" and basis != UNCHECKED:
                latest = self.decisions(entries).get(entry["key"])
                if (None if latest is None else entry_id(latest)) != basis:
                    if latest is not None and describe(latest) == describe(entry):
                        return latest  # the other page decided the same: nothing to save
                    raise ReviewConflictError(self._conflict_message(entry, latest, basis, entries))
            if action in ("relabel", "remove") and entry["key"].startswith(_ADDED):
                alive = self.decisions(entries).get(entry["key"])
                if alive is None or alive["action"] == "remove":
                    raise KeyError(f"ReviewStore.decide({action!r}): the added event {entry['key']!r} "
                                   f"{'was removed' if alive else 'does not exist'}; use an id from added().")
            self._check_overlap(entries, entry)
            entries.append(entry)
            _atomic_write(self.decisions_path, lambda p: Path(p).write_text(json.dumps(entries, indent=1)))
            self._write_catalog(entries)
        return entry

    def _entry(self, key: str, action: str, *, class_name, start, end, seed_id) -> dict:
        """The decision as it is saved, checked (not yet against the file)."""
        if action not in ACTIONS:
            raise ValueError(f"The 'action' of ReviewStore.decide must be one of {ACTIONS}. Got {action!r} instead.")
        if action in ("relabel", "add") and class_name not in self.class_names:
            raise ValueError(f"ReviewStore.decide({action!r}) needs class_name= one of {self.class_names}. "
                             f"Got {class_name!r} instead.")
        entry = {"id": uuid.uuid4().hex, "key": key, "action": action,
                 "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")}
        if action == "add":
            t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
            t0, t1 = (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC") for t in (t0, t1))
            if not t1 > t0:
                raise ValueError(f"ReviewStore.decide('add') needs end > start. Got {t0} .. {t1}.")
            entry.update(key=f"{_ADDED}{uuid.uuid4().hex}", start=t0.isoformat(), end=t1.isoformat(),
                         seed_id=str(seed_id or ""))
        elif key.startswith(_ADDED):
            if action not in ("relabel", "remove"):
                raise ValueError(f"ReviewStore.decide: an added event can be relabelled or removed, not {action!r}ed "
                                 f"({key!r}).")
        elif action == "remove":
            raise ValueError(f"ReviewStore.decide('remove') removes an added event (an 'added|...' id); reject the "
                             f"detection {key!r} instead.")
        elif key not in set(self.keys()):
            raise KeyError(f"ReviewStore.decide: no detection has the id {key!r}; use an id from keys().")
        if class_name is not None and action in ("relabel", "add"):
            entry["class_name"] = class_name
        return entry

    def _conflict_message(self, entry: dict, latest: dict | None, basis, entries: list[dict]) -> str:
        shown = next((e for e in entries if entry_id(e) == basis), None)
        what = describe_key(entry["key"])
        other = (f"{describe(latest)} at {latest['time'][:19].replace('T', ' ')} UTC" if latest is not None
                 else "undecided")
        return (f"Not saved: another page decided on {what} meanwhile: {other} (this page showed it "
                f"{describe(shown) or 'undecided'} and would have {describe(entry).split(' →')[0]} it"
                + (f" → {entry['class_name']}" if entry["action"] == "relabel" else "")
                + "). The page now shows the other decision; decide again to change it.")

    # ------------------------------------------------------------------------------------------- outputs
    def status(self) -> list[str]:
        """Per detection (in order): "", "accepted", "rejected" or "relabelled → CLASS"."""
        latest = self.decisions()
        return [describe(latest.get(key)) for key in self.keys()]

    def added(self, entries: list[dict] | None = None) -> pd.DataFrame:
        """The missed events the analyst drew and did not remove (``key``, ``seed_id``, ``class_name`` after any
        relabelling, ``start``, ``end``)."""
        rows: dict[str, dict] = {}
        for e in self._read_log() if entries is None else entries:
            if e["action"] == "add":
                rows[e["key"]] = {"key": e["key"], "seed_id": e.get("seed_id", ""), "class_name": e["class_name"],
                                  "start": e["start"], "end": e["end"]}
            elif e["key"] in rows and e["action"] == "relabel":
                rows[e["key"]]["class_name"] = e["class_name"]
            elif e["key"] in rows and e["action"] == "remove":
                del rows[e["key"]]
        frame = pd.DataFrame(list(rows.values()), columns=["key", "seed_id", "class_name", "start", "end"])
        for col in ("start", "end"):
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
        return frame

    def reviewed(self, entries: list[dict] | None = None) -> pd.DataFrame:
        """The reviewed catalog: kept detections (accepted, relabelled) and added ones, by start time."""
        out = pd.DataFrame(self._kept(self._read_log() if entries is None else entries), columns=["key"] + _REVIEWED)
        out = out.drop(columns="key")
        return out.sort_values("start", kind="stable").reset_index(drop=True) if len(out) else out

    def rejected(self, entries: list[dict] | None = None) -> pd.DataFrame:
        """The rejected detections (false alarms), by start time: what ``rejected.csv`` holds (columns
        ``seed_id``, ``start``, ``end``, ``duration_s``, ``p_mean``, ``p_peak``, ``model_class``, ``review``)."""
        latest = self.decisions(self._read_log() if entries is None else entries)
        d = self.detections
        keep = [i for i, key in enumerate(self.keys()) if latest.get(key, {}).get("action") == "reject"]
        out = d.iloc[keep].rename(columns={"class_name": "model_class"}).assign(review="rejected")[_REJECTED]
        return out.sort_values("start", kind="stable").reset_index(drop=True)

    def _kept(self, entries: list[dict]) -> list[dict]:
        """The rows of the reviewed catalog, each with its detection's (or added event's) ``key``, unsorted."""
        latest = self.decisions(entries)
        d = self.detections
        rows = []
        for key, i in zip(self.keys(), range(len(d)), strict=True):
            e = latest.get(key)
            if e is None or e["action"] == "reject":
                continue
            row = d.iloc[i]
            final = e.get("class_name", row["class_name"]) if e["action"] == "relabel" else row["class_name"]
            rows.append({"key": key, "seed_id": row["seed_id"], "class_name": final, "start": row["start"],
                         "end": row["end"], "duration_s": row["duration_s"], "p_mean": row["p_mean"],
                         "p_peak": row["p_peak"], "review": "accepted" if e["action"] == "accept" else "relabelled",
                         "model_class": row["class_name"]})
        for a in self.added(entries).to_dict("records"):
            rows.append({"key": a["key"], "seed_id": a["seed_id"], "class_name": a["class_name"], "start": a["start"],
                         "end": a["end"], "duration_s": (a["end"] - a["start"]).total_seconds(), "p_mean": np.nan,
                         "p_peak": np.nan, "review": "added", "model_class": ""})
        return rows

    def _check_overlap(self, entries: list[dict], entry: dict) -> None:
        """Refuse ``entry`` when it would put two classes at one moment of a channel in the reviewed catalog (what
        :func:`rnnscope.data.from_obspy`, and so ``rnnscope retrain``, refuses; events that only touch are fine)."""
        if entry["action"] in ("reject", "remove"):
            return
        rows = self._kept(entries + [entry])
        mine = next((r for r in rows if r["key"] == entry["key"]), None)
        if mine is None:
            return
        other = next((r for r in sorted(rows, key=lambda r: r["start"]) if r["key"] != mine["key"]
                      and r["seed_id"] == mine["seed_id"] and r["class_name"] != mine["class_name"]
                      and r["start"] < mine["end"] and mine["start"] < r["end"]), None)
        if other is None:
            return
        doing = {"add": _what(mine), "accept": f"accepting {_what(mine, False)}"}.get(
            entry["action"], f"relabelling {_what(mine, False)} to {entry.get('class_name')}")
        fix = ("draw the event apart from it" if entry["action"] == "add" else
               f"relabel this one to {other['class_name']}")
        raise ReviewOverlapError(
            f"Not saved: {doing} would overlap {_what(other)}, and a moment of a channel has one "
            f"class only (`rnnscope retrain` refuses a reviewed catalog with overlapping events of different "
            f"classes). Reject, relabel or remove one of them first (a drawn event: pick it and press r), or {fix}.")

    def _write_catalog(self, entries: list[dict]) -> None:
        table, rejected = self.reviewed(entries), self.rejected(entries)
        _atomic_write(self.reviewed_csv, lambda p: _write_csv(table, p))
        _atomic_write(self.rejected_csv, lambda p: _write_csv(rejected, p))
        try:
            from ..monitoring import to_catalog
        except ImportError:  # pragma: no cover - obspy missing: the CSV is the catalog
            return
        catalog = to_catalog(table, model_name="reviewed")
        for event, review in zip(catalog, table["review"], strict=True):
            event.event_type_certainty = "known"
            for pick in event.picks:
                pick.evaluation_mode = "manual"
                pick.evaluation_status = "reviewed"
            event.comments[0].text += f"; review={review}"
        _atomic_write(self.reviewed_xml, lambda p: catalog.write(p, format="QUAKEML"))
