"""Where the monitor reads waveforms: an ObsPy Stream, MiniSEED/SAC files, or an SDS archive; one SEED id and time
block at a time, split into contiguous pieces.
"""
from __future__ import annotations

import glob
import os

import numpy as np

__all__ = []

_NS = 1_000_000_000


# ------------------------------------------------------------------------------------------------------ sources


def _utc(value, name, func):
    from obspy import UTCDateTime

    if value is None:
        return None
    try:
        return UTCDateTime(value)
    except Exception:  # UTCDateTime raises TypeError/ValueError/Exception for unreadable input
        raise ValueError(
            f"The {name!r} parameter of {func} must be a UTC time (ISO 8601 string such as '2024-03-01T00:00:00', "
            f"datetime or obspy.UTCDateTime). Got {value!r} instead."
        ) from None


def _pieces(traces, seed_id: str, t0, t1) -> list:
    """The samples in ``[t0, t1)`` of every trace of ``seed_id`` among ``traces`` (see :func:`_clip`)."""
    pieces = (_clip(tr, t0.ns, t1.ns) for tr in traces if tr.id == seed_id)
    return [piece for piece in pieces if piece is not None]


def _clip(tr, t0_ns: int, t1_ns: int):
    """The samples of ``tr`` with ``t0 <= t < t1`` (a view), or None when there are none."""
    from obspy import Trace, UTCDateTime

    rate = float(tr.stats.sampling_rate)
    start = int(tr.stats.starttime.ns)
    n = int(tr.stats.npts)
    lo = max(0, int(np.ceil((t0_ns - start) * rate / _NS - 1e-6)))
    hi = min(n, int(np.ceil((t1_ns - start) * rate / _NS - 1e-6)))
    if hi <= lo:
        return None
    header = tr.stats.copy()
    header.npts = hi - lo
    header.starttime = UTCDateTime(ns=start + int(round(lo * _NS / rate)))
    return Trace(data=tr.data[lo:hi], header=header)


class _StreamSource:
    kind = "stream"

    def __init__(self, stream):
        from obspy import Stream, Trace

        self.stream = Stream([stream]) if isinstance(stream, Trace) else stream

    def ids(self):
        return sorted({tr.id for tr in self.stream})

    def extent(self, seed_id):
        traces = [tr for tr in self.stream if tr.id == seed_id and tr.stats.npts]
        if not traces:
            return None
        return min(tr.stats.starttime for tr in traces), max(tr.stats.endtime + tr.stats.delta / 2 for tr in traces)

    def read(self, seed_id, t0, t1):
        from obspy import Stream

        return Stream(_pieces(self.stream, seed_id, t0, t1))

    def stretches(self, seed_id, t0, t1):
        return _merge_spans([(tr.stats.starttime.ns, (tr.stats.endtime + tr.stats.delta).ns, tr.stats.sampling_rate)
                             for tr in self.stream if tr.id == seed_id and tr.stats.npts], t0, t1)


class _FileSource:
    kind = "files"

    def __init__(self, paths, func):
        import obspy

        self.files = []  # (path, id, start, end, delta)
        for path in paths:
            try:
                st = obspy.read(path, headonly=True)
            except Exception as err:  # ObsPy raises TypeError/Exception for unknown formats
                raise ValueError(f"{func}: ObsPy cannot read {path!r}: {err}") from err
            for tr in st:
                self.files.append((path, tr.id, tr.stats.starttime, tr.stats.endtime, tr.stats.delta))

    @classmethod
    def from_table(cls, rows):
        """A source over files whose headers were read already (``rows`` of ``self.files``): what a task gets."""
        src = cls.__new__(cls)
        src.files = list(rows)
        return src

    def ids(self):
        return sorted({f[1] for f in self.files})

    def stretches(self, seed_id, t0, t1):
        return _merge_spans([(a.ns, (b + d).ns, 1.0 / d) for _, i, a, b, d in self.files if i == seed_id], t0, t1)

    def extent(self, seed_id):
        rows = [f for f in self.files if f[1] == seed_id]
        if not rows:
            return None
        return min(r[2] for r in rows), max(r[3] + r[4] / 2 for r in rows)

    def read(self, seed_id, t0, t1):
        import obspy

        out = obspy.Stream()
        paths = sorted({p for p, i, a, b, _ in self.files if i == seed_id and a < t1 and b >= t0})
        for path in paths:
            out.extend(_pieces(obspy.read(path, starttime=t0, endtime=t1), seed_id, t0, t1))
        return out


class _SDSSource:
    kind = "sds"

    def __init__(self, root):
        from obspy.clients.filesystem.sds import Client

        self.root = os.fspath(root)
        self.client = Client(self.root)

    def ids(self):
        return [".".join(nslc) for nslc in self.client.get_all_nslc()]

    def _day_files(self, seed_id):
        net, sta, loc, cha = seed_id.split(".")
        pattern = os.path.join(self.root, "*", net, sta, f"{cha}.D", f"{net}.{sta}.{loc}.{cha}.D.*.*")
        days = []
        for path in glob.glob(pattern):
            try:
                year, doy = (int(v) for v in path.rsplit(".", 2)[-2:])
            except ValueError:
                continue
            days.append((year, doy))
        return sorted(days)

    def extent(self, seed_id):
        from obspy import UTCDateTime

        days = self._day_files(seed_id)
        if not days:
            return None
        first = UTCDateTime(year=days[0][0], julday=days[0][1])
        last = UTCDateTime(year=days[-1][0], julday=days[-1][1]) + 86400
        return first, last

    def stretches(self, seed_id, t0, t1):
        """From the day files' headers only (every record header is read, no sample is decoded)."""
        import obspy
        from obspy import UTCDateTime

        spans = []
        for year, doy in self._day_files(seed_id):
            day = UTCDateTime(year=year, julday=doy)
            if day >= t1 or day + 86400 <= t0 - 86400:
                continue
            net, sta, _, cha = seed_id.split(".")
            path = os.path.join(self.root, f"{year:04d}", net, sta, f"{cha}.D", f"{seed_id}.D.{year:04d}.{doy:03d}")
            try:
                st = obspy.read(path, headonly=True)
            except Exception:  # noqa: BLE001 - an unreadable file is read (and reported) by the block that needs it
                continue
            spans += [(tr.stats.starttime.ns, (tr.stats.endtime + tr.stats.delta).ns, tr.stats.sampling_rate)
                      for tr in st if tr.id == seed_id and tr.stats.npts]
        return _merge_spans(spans, t0, t1)

    def read(self, seed_id, t0, t1):
        from obspy import Stream

        net, sta, loc, cha = seed_id.split(".")
        st = self.client.get_waveforms(net, sta, loc, cha, t0, t1, merge=None)
        return Stream(_pieces(st, seed_id, t0, t1))


def _merge_spans(spans, t0, t1) -> list[tuple[int, int, float]]:
    """Contiguous stretches ``(start_ns, end_ns, rate of the first trace)`` of trace extents (end = one sample past
    the last), overlapping ``[t0, t1)``: traces less than half a sample apart are one stretch."""
    out: list[list] = []
    for a, b, rate in sorted(spans):
        if out and a <= out[-1][1] + 0.5 * _NS / out[-1][2]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b, float(rate)])
    return [(a, b, r) for a, b, r in out if b > t0.ns and a < t1.ns]


def _expand_ids(src, seed_id, func) -> list[str]:
    """The SEED ids a network run monitors: a list of ids or patterns, a pattern (``*``, ``?``, ``[...]`` as in
    :mod:`fnmatch`), or an ObsPy Inventory (its channels the source holds), in sorted order."""
    import fnmatch

    ids = src.ids()
    if type(seed_id).__name__ == "Inventory":
        wanted = sorted(set(seed_id.get_contents()["channels"]))
        present = [i for i in wanted if i in set(ids)]
        if not present:
            raise ValueError(
                f"{func}: the source holds none of the {len(wanted)} channels of the inventory ({wanted[:5]}"
                f"{' ...' if len(wanted) > 5 else ''}); it holds {ids[:10]}. Check the inventory or the source."
            )
        return present
    patterns = [seed_id] if isinstance(seed_id, str) else list(seed_id)
    wild = "*?["
    bad = [p for p in patterns if not isinstance(p, str) or (p.count(".") != 3 and not any(c in p for c in wild))]
    if bad or not patterns:
        raise ValueError(
            f"The 'seed_id' parameter of {func} must be a SEED id 'NET.STA.LOC.CHA', a pattern such as "
            f"'XX.*..HHZ', a list of them, or an ObsPy Inventory. Got {bad[0] if bad else seed_id!r} instead."
        )
    found: list[str] = []
    for pattern in patterns:
        matches = fnmatch.filter(ids, pattern) if any(c in pattern for c in wild) else \
            [pattern] if (pattern in ids or src.kind == "sds") else []
        if not matches:
            raise ValueError(f"{func}: the source holds no trace matching {pattern!r}; it holds {ids[:10]}"
                             f"{' ...' if len(ids) > 10 else ''}.")
        found += [m for m in matches if m not in found]
    return sorted(found)


def _open_source(source, func):
    import obspy

    if isinstance(source, (obspy.Stream, obspy.Trace)):
        return _StreamSource(source)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            return _SDSSource(path)
        paths = sorted(glob.glob(path)) if not os.path.exists(path) else [path]
        if not paths:
            raise FileNotFoundError(
                f"{func}: no file or SDS archive matches {path!r}; pass an SDS root folder, a file path or a glob "
                "pattern such as 'data/*.mseed'."
            )
        return _FileSource(paths, func)
    if isinstance(source, (list, tuple)) and source and all(isinstance(p, (str, os.PathLike)) for p in source):
        paths = []
        for p in source:
            p = os.fspath(p)
            found = [p] if os.path.exists(p) else sorted(glob.glob(p))
            if not found:
                raise FileNotFoundError(f"{func}: no file matches {p!r}; check the path or glob pattern.")
            paths += found
        return _FileSource(paths, func)
    raise TypeError(
        f"The 'source' parameter of {func} must be an obspy Stream or Trace, a MiniSEED/SAC file path or glob pattern, "
        f"a list of paths, or the root folder of an SDS archive. Got {type(source).__name__} instead."
    )


def _contiguous_pieces(st, func):
    """Float64 gap-free traces of one id, in time order (traces of one rate merged; gaps and NaNs split).

    Lighter than ``from_obspy``'s path (a day of samples is copied once, not three times): integer traces are
    converted straight to float64; only traces holding NaN or masked samples go through ObsPy's split.
    """
    from obspy import Stream, Trace

    by_rate: dict[float, list] = {}
    for tr in st:
        if tr.stats.npts == 0:
            continue
        if tr.data.dtype.kind not in "iuf":
            raise ValueError(
                f"{func}: trace {tr.id!r} holds no numeric samples (dtype {tr.data.dtype}); select another channel."
            )
        rate = float(tr.stats.sampling_rate)
        if not np.isfinite(rate) or rate <= 0:
            raise ValueError(f"{func}: trace {tr.id!r} has sampling rate {rate!r} Hz; fix its header.")
        masked = np.ma.isMaskedArray(tr.data) and np.ma.getmaskarray(tr.data).any()
        data = np.array(np.ma.getdata(tr.data), dtype=np.float64)  # always a copy: the caller's data stay intact
        if data.dtype.kind == "f" and (masked or not np.isfinite(data).all()):
            values = np.ma.masked_invalid(np.ma.array(data, mask=np.ma.getmaskarray(tr.data) if masked else False))
            pieces = [p for p in Trace(data=values, header=tr.stats.copy()).split() if p.stats.npts]
        else:
            pieces = [Trace(data=data, header=tr.stats.copy())]
        by_rate.setdefault(rate, []).extend(pieces)
    out = []
    for rate, group in by_rate.items():
        if len(group) == 1:
            out.extend(group)
            continue
        merged = Stream(group)
        try:
            merged.merge(method=1, fill_value=None, interpolation_samples=0)
        except Exception as err:  # ObsPy raises a bare Exception e.g. for differing calibration factors
            raise ValueError(f"{func}: cannot merge the traces of {group[0].id!r} at {rate:g} Hz: {err}") from err
        del group
        for tr in merged:
            for piece in tr.split() if np.ma.isMaskedArray(tr.data) else [tr]:
                if piece.stats.npts:
                    data = np.ascontiguousarray(np.ma.getdata(piece.data), dtype=np.float64)
                    out.append(Trace(data=data, header=piece.stats))
    out.sort(key=lambda tr: tr.stats.starttime.ns)
    return out


def source_record(src) -> dict | None:
    """Where ``src`` reads from, with absolute paths (stored in the capture runs' attrs, so the Explorer can read the
    waveform of the visible window from the archive); None for an in-memory Stream."""
    if getattr(src, "kind", None) == "sds":
        return {"kind": "sds", "root": os.path.abspath(src.root)}
    if getattr(src, "kind", None) == "files":
        return {"kind": "files", "paths": sorted({os.path.abspath(f[0]) for f in src.files})}
    return None
