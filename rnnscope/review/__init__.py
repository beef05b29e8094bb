"""The review page: an analyst's decisions on a monitor's detections, saved as a reviewed catalog.

- :class:`ReviewPage` — the Explorer on a monitor's capture runs, with accept / reject / relabel buttons and keys
  and drawing of missed events; every decision is saved as it is made, other tabs' decisions appear within a
  second, and a decision made on a state another tab changed is refused; :func:`open_page` — the page, or a plain
  message when it cannot open (what the served page shows);
- :class:`ReviewStore` — the decisions (``review/decisions.json``, atomic writes under a lock: a reload shows them,
  two pages on one folder lose nothing) and the reviewed catalog (``reviewed.csv``, ``reviewed.xml`` QuakeML) that
  :func:`rnnscope.data.from_obspy` reads for retraining;
- :func:`serve` — the page as a web page with Voila (``rnnscope review OUTDIR``), from the notebook shipped here
  (:data:`NOTEBOOK`): on 127.0.0.1 with a token, host and origin checks, idle kernels culled and a cap on the pages
  open at once.

Examples
--------
>>> import rnnscope.review as rr
>>> sorted(rr.__all__)
['NOTEBOOK', 'ReviewPage', 'ReviewStore', 'find_runs', 'open_page', 'serve']
>>> rr.NOTEBOOK.name
'review.ipynb'
"""
from ._page import ReviewPage, find_runs, open_page
from ._serve import NOTEBOOK, serve
from ._store import ReviewStore

__all__ = [
    "ReviewPage",
    "ReviewStore",
    "find_runs",
    "open_page",
    "serve",
    "NOTEBOOK",
]
