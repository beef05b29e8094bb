"""Records: waveforms with sample labels and a segment table.

- :func:`synthetic` — the built-in volcano-seismic generator (SIL, TRE, LP, VTE, HYB).
- :func:`from_obspy`, :func:`from_arrays` — bring your own waveforms.
- :func:`from_features` — bring features computed elsewhere (no waveform).
- :func:`catalog` — the segment table as a DataFrame.

This package imports no torch.
"""
from ._records import catalog, select_records
from ._readers import from_arrays, from_features, from_obspy
from ._synthetic import synthetic

__all__ = ["synthetic", "catalog", "select_records", "from_obspy", "from_arrays", "from_features"]
