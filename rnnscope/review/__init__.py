"""The review page: an analyst's decisions on a monitor's detections, saved as a reviewed catalog.

- :class:`ReviewPage` — the Explorer on a monitor's capture runs, with accept / reject / relabel buttons and keys
  and drawing of missed events; every decision is saved as it is made;
- :class:`ReviewStore` — the decisions (``review/decisions.json``, atomic writes under a lock: a reload shows them,
  two pages on one folder lose nothing) and the reviewed catalog (``reviewed.csv``, ``reviewed.xml`` QuakeML) that
  :func:`rnnscope.data.from_obspy` reads for retraining;
- :func:`serve` — the page as a web page with Voila (``rnnscope review OUTDIR``), from the notebook shipped here
  (:data:`NOTEBOOK`).

Examples
--------
>>> import rnnscope.review as rr
>>> sorted(rr.__all__)
['NOTEBOOK', 'ReviewPage', 'ReviewStore', 'find_runs', 'serve']
>>> rr.NOTEBOOK.name
'review.ipynb'
"""
from ._page import ReviewPage, find_runs
from ._serve import NOTEBOOK, serve
from ._store import ReviewStore

__all__ = [
    "ReviewPage",
    "ReviewStore",
    "find_runs",
    "serve",
    "NOTEBOOK",
]
