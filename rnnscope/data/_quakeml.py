"""QuakeML, both ways: :func:`to_catalog` writes detections as a QuakeML catalog, :func:`read_quakeml_catalog` reads
any QuakeML catalog (those :func:`to_catalog` writes included) into the catalogue table
:func:`rnnscope.data.from_obspy` takes.

QuakeML has no event type for long-period events, tremor or hybrid events: one mapping class name -> QuakeML type
(:data:`QUAKEML_EVENT_TYPES`, or the caller's ``event_types``) serves both directions, and the class name also goes
into the event description and, with the end time and the probabilities, into a comment ``rnnscope class=LP;
start=...; end=...`` (:func:`_comment_text`, read back by :func:`_rnnscope_comment`). ObsPy is imported only when
a catalog is read or written.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

import pandas as pd

from .._validation import check_positive
from ._catalog_io import catalogue_table, import_obspy, to_ns

__all__ = ["QUAKEML_EVENT_TYPES", "read_quakeml_catalog", "to_catalog", "check_event_types"]

#: default class name -> QuakeML event type, used both ways: :func:`rnnscope.monitoring.to_catalog` writes the
#: type of each class (classes not listed: ``"other event"``) and :func:`read_quakeml_catalog` reads a class back
#: from a type that exactly one class maps to (QuakeML has no type for long-period events, tremor or hybrids, so
#: those are told apart by the event description, which holds the class name)
QUAKEML_EVENT_TYPES = {
    "VT": "earthquake",
    "VTE": "earthquake",
    "EQ": "earthquake",
    "Equ": "earthquake",
    "LP": "other event",
    "VLP": "other event",
    "TR": "other event",
    "TRE": "other event",
    "HYB": "other event",
    "AV": "avalanche",
    "IC": "ice quake",
    "EXP": "explosion",
}
#: how the comment of an event written by :func:`to_catalog` starts
COMMENT_PREFIX = "rnnscope "
_NS = 1_000_000_000
_PHASE = re.compile(r"^[PS][a-z]*$")  # P, Pg, Pn, S, Sg ... (not class names such as 'SIL' or 'LP')


# --------------------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------------------
def check_event_types(event_types, func: str) -> dict[str, str]:
    """Return ``event_types`` (class name -> QuakeML event type) as a dict; None gives the defaults.

    Every value must be a QuakeML event type (ObsPy's ``EventType``), e.g. ``'earthquake'`` or ``'other event'``.
    """
    if event_types is None:
        return dict(QUAKEML_EVENT_TYPES)
    from obspy.core.event.header import EventType

    valid = list(EventType)
    ok = isinstance(event_types, Mapping)
    bad = [(k, v) for k, v in event_types.items() if not isinstance(k, str) or v not in valid] if ok else []
    if not ok or bad:
        got = f"{bad[0][1]!r} for {bad[0][0]!r}" if bad else f"{type(event_types).__name__}"
        raise ValueError(
            f"The 'event_types' parameter of {func} must map class names to QuakeML event types, e.g. "
            f"{{'VT': 'earthquake', 'AV': 'avalanche'}} (valid types: {valid}). Got {got} instead."
        )
    return {str(k): str(v) for k, v in event_types.items()}


def read_quakeml_catalog(
    source,
    *,
    event_types: Mapping[str, str] | None = None,
    class_names: Sequence[str] | None = None,
    trace_id: str | None = None,
    event_duration_s: float | None = None,
) -> pd.DataFrame:
    """QuakeML events -> catalogue DataFrame for :func:`rnnscope.data.from_obspy`.

    Parameters
    ----------
    source : path or obspy.core.event.Catalog
        Anything :func:`obspy.read_events` reads (QuakeML file, URL), or a Catalog.
    event_types : mapping, optional
        Class name -> QuakeML event type (default :data:`QUAKEML_EVENT_TYPES`; pass a mapping to replace it), the
        same mapping :func:`rnnscope.monitoring.to_catalog` writes with.
    class_names : sequence of str, optional
        Further class names an event description may hold (besides the keys of ``event_types``).
    trace_id : str, optional
        SEED id of every row. Default: the id of the event's earliest pick.
    event_duration_s : float, optional
        Length of every event that has no end time (only catalogues written by rnnscope store one).

    Returns
    -------
    pandas.DataFrame
        Columns ``trace_id``, ``start``, ``end``, ``class_name``, ``p``, ``s``, ``source`` (``'<file> event
        N'``).

    Notes
    -----
    The **class** of an event is, first found: the ``class=`` of an rnnscope comment (``rnnscope class=LP; ...``);
    an event description whose text is a key of ``event_types`` or one of ``class_names``; the only class that
    ``event_types`` maps the event type to. An event whose type several classes share (the defaults map VT, VTE,
    EQ and Equ to ``"earthquake"``) and whose description names none of them is an error: pass ``event_types``
    with just the classes you use. The **start** is the event's earliest pick on ``trace_id`` (any phase), else
    the ``start=`` of an rnnscope comment, else its preferred (or first) origin time; the **end** is the ``end=``
    of an rnnscope comment, else start + ``event_duration_s``. **P and S** are the earliest picks whose phase hint
    is ``P`` or ``S`` (``Pg``, ``Sn``, ... too) on that trace.

    Examples
    --------
    >>> import obspy
    >>> from obspy.core.event import Catalog, Event, EventDescription, Origin
    >>> from rnnscope.data import read_quakeml_catalog
    >>> t = obspy.UTCDateTime("2017-12-11T06:00:00")
    >>> cat = Catalog([Event(event_type="avalanche", origins=[Origin(time=t)]),
    ...                Event(event_type="other event", event_descriptions=[EventDescription("LP")],
    ...                      origins=[Origin(time=t + 60)])])
    >>> table = read_quakeml_catalog(cat, trace_id="KC.BEZ..EHZ", event_duration_s=20.0)
    >>> table[["class_name", "start", "end"]]
      class_name                     start                       end
    0         AV 2017-12-11 06:00:00+00:00 2017-12-11 06:00:20+00:00
    1         LP 2017-12-11 06:01:00+00:00 2017-12-11 06:01:20+00:00
    """
    func = "read_quakeml_catalog"
    types = check_event_types(event_types, func)
    names = set(types) | {str(c) for c in (class_names or ())}
    if event_duration_s is not None:
        check_positive(event_duration_s, name="event_duration_s", func=func)
    obspy = import_obspy(func)
    if isinstance(source, obspy.core.event.Catalog):
        catalog, name = source, "catalog"
    else:
        local = isinstance(source, os.PathLike) or (isinstance(source, str) and "://" not in source)
        if local and not os.path.exists(os.fspath(source)):
            raise FileNotFoundError(f"{func}: the QuakeML file {os.fspath(source)!r} does not exist.")
        try:
            catalog = obspy.read_events(os.fspath(source) if isinstance(source, os.PathLike) else source)
        except Exception as err:  # ObsPy raises TypeError/Exception for unknown formats
            raise ValueError(f"{func}: ObsPy cannot read {source!r} as an event catalogue: {err}") from err
        name = os.path.basename(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else "catalog"
    rows = []
    for i, event in enumerate(catalog):
        where = f"{name} event {i} ({event.resource_id})"
        comment = _rnnscope_comment(event)
        cls = _event_class(event, comment, types, names, where, func)
        picks = sorted((p for p in event.picks if p.time is not None), key=lambda p: p.time)
        tid = trace_id
        if tid is None:
            ids = [p.waveform_id.id for p in picks if p.waveform_id is not None and p.waveform_id.id.count(".") == 3]
            if not ids:
                raise ValueError(f"{func}: {where} has no pick with a SEED id; pass trace_id='NET.STA.LOC.CHA'.")
            tid = ids[0]
        on_trace = [p for p in picks if p.waveform_id is not None and p.waveform_id.id == tid]
        start = _event_start(event, on_trace, comment, where, func)
        if "end" in comment:
            end = to_ns(comment["end"])
        elif event_duration_s is not None:
            end = start + round(float(event_duration_s) * _NS)
        else:
            raise ValueError(
                f"{func}: {where} has no end time (only catalogues written by rnnscope store one); pass "
                "event_duration_s=... seconds for every event."
            )
        phase = {k: next((p.time.ns for p in on_trace if _PHASE.match(p.phase_hint or "") and
                          p.phase_hint[0] == k), None) for k in "PS"}
        rows.append((tid, start, end, cls, phase["P"], phase["S"], where))
    return catalogue_table(rows)


def _rnnscope_comment(event) -> dict[str, str]:
    """Fields of a comment ``rnnscope class=LP; start=...; end=...`` written by :func:`to_catalog` ({} if none)."""
    for comment in event.comments:
        text = (comment.text or "").strip()
        if text.startswith(COMMENT_PREFIX):
            pairs = (part.split("=", 1) for part in text[len(COMMENT_PREFIX):].split(";") if "=" in part)
            return {k.strip(): v.strip() for k, v in pairs}
    return {}


def _comment_text(fields: Mapping[str, object]) -> str:
    """The comment :func:`to_catalog` writes and :func:`_rnnscope_comment` reads: ``rnnscope key=value; ...``.

    >>> _comment_text({"class": "LP", "duration_s": "20.00"})
    'rnnscope class=LP; duration_s=20.00'
    """
    return COMMENT_PREFIX + "; ".join(f"{k}={v}" for k, v in fields.items())


def _event_class(event, comment, types, names, where, func) -> str:
    if comment.get("class"):
        return comment["class"]
    for description in event.event_descriptions:
        text = (description.text or "").strip()
        if text in names:
            return text
    kind = event.event_type
    matches = [c for c, t in types.items() if t == kind]
    if len(matches) == 1:
        return matches[0]
    texts = [d.text for d in event.event_descriptions]
    if not matches:
        hint = f"add {{'<class>': {kind!r}}} to event_types" if kind else "give the event a type or a description"
        raise ValueError(
            f"{func}: {where}: event type {kind!r} is not mapped to a class and its descriptions {texts} name none "
            f"of the classes {sorted(names)}; {hint}."
        )
    raise ValueError(
        f"{func}: {where}: event type {kind!r} maps to several classes {matches} and its descriptions {texts} name "
        f"none of them; pass event_types={{...}} mapping only one class to {kind!r}."
    )


def _event_start(event, picks, comment, where, func) -> int:
    if picks:
        return int(picks[0].time.ns)
    start = to_ns(comment["start"]) if "start" in comment else None
    if start is not None:
        return start
    origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
    if origin is not None and origin.time is not None:
        return int(origin.time.ns)
    raise ValueError(f"{func}: {where} has no pick on the trace, no origin time and no start; cannot place it.")


# --------------------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------------------
def to_catalog(
    detections: pd.DataFrame,
    *,
    event_types: Mapping[str, str] | None = None,
    author: str = "rnnscope",
    model_name: str | None = None,
):
    """Detections -> :class:`obspy.core.event.Catalog` (QuakeML has no LP, tremor or hybrid types).

    Each detection becomes an Event with the ``event_type`` that ``event_types`` gives its class (default
    :data:`rnnscope.data.QUAKEML_EVENT_TYPES`; classes not in the mapping get ``"other event"``;
    ``event_type_certainty="suspected"``), its class name as the first event description's text, a comment
    ``rnnscope class=<class>; start=...; end=...; duration_s=...; p_mean=...; p_peak=...; seed_id=...`` (the class
    and end time live only there and in the description), and one automatic pick at the start time on the
    monitored channel (``phase_hint`` = class name). No origin: one station gives no location.
    :func:`read_quakeml_catalog` with the same ``event_types`` reads the classes back (and the end times).

    Parameters
    ----------
    detections : pandas.DataFrame
        One row per detection, with at least ``class_name``, ``start``, ``end``, ``duration_s``, ``p_mean`` and
        ``p_peak`` (and ``seed_id``): a table of :func:`rnnscope.monitoring.detect` or ``result.detections``.
    event_types : mapping str -> str, optional
        Class name -> QuakeML event type (default :data:`rnnscope.data.QUAKEML_EVENT_TYPES`).
    author : str
        The author in the events' and picks' creation info.
    model_name : str, optional
        Written into every event's comment (``model=...``) when given.

    Returns
    -------
    obspy.core.event.Catalog
        One Event per row of ``detections``, in their order.

    Raises
    ------
    ValueError
        When ``event_types`` is not a mapping of class names to QuakeML event types.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"seed_id": ["XX.STA..HHZ"], "class_name": ["LP"],
    ...                   "start": [pd.Timestamp("2024-01-01T00:00:10Z")],
    ...                   "end": [pd.Timestamp("2024-01-01T00:00:30Z")],
    ...                   "duration_s": [20.0], "p_mean": [0.9], "p_peak": [1.0]})
    >>> cat = to_catalog(d)
    >>> ev = cat[0]
    >>> ev.event_type, ev.event_descriptions[0].text, str(ev.picks[0].time), ev.picks[0].waveform_id.id
    ('other event', 'LP', '2024-01-01T00:00:10.000000Z', 'XX.STA..HHZ')
    >>> to_catalog(d.assign(class_name=["AV"]))[0].event_type
    'avalanche'
    >>> to_catalog(d.assign(class_name=["RF"]), event_types={"RF": "rockslide"})[0].event_type
    'rockslide'
    """
    types = check_event_types(event_types, "to_catalog")
    from obspy import UTCDateTime
    from obspy.core.event import (
        Catalog,
        Comment,
        CreationInfo,
        Event,
        EventDescription,
        Pick,
        ResourceIdentifier,
        WaveformStreamID,
    )

    info = CreationInfo(author=author, creation_time=UTCDateTime())
    events = []
    for row in detections.to_dict("records"):
        start = UTCDateTime(pd.Timestamp(row["start"]).isoformat())
        end = UTCDateTime(pd.Timestamp(row["end"]).isoformat())
        cls = str(row["class_name"])
        seed_id = str(row.get("seed_id", "") or "")
        key = f"{seed_id or 'unknown'}/{start.strftime('%Y%m%dT%H%M%S.%f')}/{cls}"
        fields = {"class": cls, "start": start, "end": end, "duration_s": f"{float(row['duration_s']):.2f}",
                  "p_mean": f"{float(row['p_mean']):.4f}", "p_peak": f"{float(row['p_peak']):.4f}", "seed_id": seed_id}
        text = _comment_text({**fields, **({"model": model_name} if model_name else {})})
        pick = Pick(
            resource_id=ResourceIdentifier(f"smi:local/rnnscope/pick/{key}"),
            time=start,
            waveform_id=WaveformStreamID(seed_string=seed_id) if seed_id.count(".") == 3 else WaveformStreamID(),
            phase_hint=cls,
            evaluation_mode="automatic",
            method_id=ResourceIdentifier("smi:local/rnnscope/monitor"),
            creation_info=info,
        )
        events.append(
            Event(
                resource_id=ResourceIdentifier(f"smi:local/rnnscope/event/{key}"),
                event_type=types.get(cls, "other event"),
                event_type_certainty="suspected",
                event_descriptions=[EventDescription(text=cls)],
                comments=[Comment(text=text, resource_id=ResourceIdentifier(f"smi:local/rnnscope/comment/{key}"))],
                picks=[pick],
                creation_info=info,
            )
        )
    return Catalog(events=events, resource_id=ResourceIdentifier("smi:local/rnnscope/catalog"),
                   description="rnnscope.monitor detections", creation_info=info)
