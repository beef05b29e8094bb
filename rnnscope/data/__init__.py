"""Records: waveforms with sample labels and a segment table.

- :func:`synthetic` — the built-in volcano-seismic generator (SIL, TRE, LP, VTE, HYB).
- :func:`synthetic_archive` — an SDS archive of it with the defects of real ones (gaps, missing days, dead
  stations, overlapping files, other rates, event-cut files months apart), and its true catalog.
- :func:`from_obspy`, :func:`from_arrays` — bring your own waveforms.
- :func:`read_transcriber`, :func:`read_quakeml_catalog`, :func:`read_relative_csv` — annotation files -> the
  catalogue :func:`from_obspy` takes (:data:`QUAKEML_EVENT_TYPES`: class name -> QuakeML event type).
- :func:`from_features` — bring features computed elsewhere (no waveform).
- :func:`catalog` — the segment table as a DataFrame.

This package imports no torch.
"""
from ._annotations import read_relative_csv, read_transcriber
from ._quakeml import QUAKEML_EVENT_TYPES, read_quakeml_catalog
from ._readers import from_arrays, from_features, from_obspy
from ._records import catalog, select_records
from ._synthetic import synthetic
from ._synthetic_archive import synthetic_archive

__all__ = [
    # records
    "synthetic",
    "synthetic_archive",
    "catalog",
    "select_records",
    # readers
    "from_obspy",
    "from_arrays",
    "from_features",
    # annotation formats
    "read_transcriber",
    "read_quakeml_catalog",
    "read_relative_csv",
    "QUAKEML_EVENT_TYPES",
]
