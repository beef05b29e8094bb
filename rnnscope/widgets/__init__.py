"""Linked exploration widgets for runs in JupyterLab (ipywidgets + bqplot; no torch).

- :class:`Explorer` — one record: waveform (from the run, or read from the archive a monitor ran on) with
  true/predicted class bands and P/S arrivals, spectrogram, class probabilities, activation heatmap (units x time)
  and time series of selected units, all on one shared time axis in UTC when the run knows its start; with a
  catalog, a filterable table of detections (previous / next, the picked one marked on every view); with
  attributions (``attribute=`` a callable from :func:`rnnscope.experiments.attributor`, or saved in the run), a
  click on a unit shows what it listens to there: an attribution image (time x band) under the spectrogram and a
  card with its band profile, memory length and gate time constant (:mod:`rnnscope.widgets._why`);
- :class:`ClassHeatMap` — heat per class and unit (Fig. 6) at 100/50/30 %, the class-by-class correlation
  (Fig. 7) and the top units per class (Table II); a click opens the unit in an Explorer;
- :class:`Histograms` — activation histograms per class (Fig. 5); :class:`CompareRuns` — two runs side by side.

Every widget takes a run opened with :func:`rnnscope.open_run` and reads only what it shows; images are rendered
in Python (numpy + Pillow) at screen resolution, so long records cost no more than short ones.

Examples
--------
>>> import rnnscope.widgets as rw
>>> sorted(rw.__all__)
['ClassHeatMap', 'CompareRuns', 'Explorer', 'Histograms', 'colormap_for']
"""
from ._classheat import ClassHeatMap
from ._explorer import Explorer
from ._histograms import CompareRuns, Histograms
from ._render import colormap_for

__all__ = [
    # linked views of one record
    "Explorer",
    # summaries of a run
    "ClassHeatMap",
    "Histograms",
    "CompareRuns",
    # conventions
    "colormap_for",
]
