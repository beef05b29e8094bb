"""Training, evaluation, cross-validation and sweeps (Titos & Garcia 2022, Tables I and III).

Every function takes a features Dataset (:func:`rnnscope.features.compute`, :func:`rnnscope.data.from_features`
or a run) and a model from :mod:`rnnscope.models`. Labels are matched to the model's classes **by name**; padded
frames (past ``length``) and unknown frames (label -1) never enter the loss or the scores.

- :func:`fit`, :func:`predict` — one model (``_fit.py``);
- :func:`evaluate`, :class:`Evaluation` — frame and event scores (``_evaluate.py``);
- :func:`record_folds` — record (or station, day, survey) partitions (``_records.py``);
- :func:`cross_validate`, :func:`sweep` — the paper tables' scores over partitions and grids, with baselines, on
  any Executor (``_folds.py``);
- :func:`corrected_interval`, :func:`fold_summary`, :func:`fold_differences` — intervals over overlapping
  partitions (Nadeau & Bengio) and paired comparisons with a multiple-comparison correction (``_intervals.py``);
- :func:`frame_baseline` — classifiers without recurrence (one frame, or a window of past frames; linear or
  nonlinear) (``_baseline.py``); :func:`frame_scores` — the frame scores every table reports (``_scores.py``);
- :func:`fit_many` — one model per seed (``_seeds.py``);
- :func:`retrain`, :class:`Retraining` — fine-tuning on a reviewed detection catalog (``_retrain.py``).

Controls (untrained twins, shuffled labels) are experiments: :mod:`rnnscope.experiments`.
"""
from ._baseline import frame_baseline
from ._evaluate import Evaluation, evaluate
from ._fit import fit, predict
from ._folds import cross_validate, record_folds, sweep
from ._intervals import corrected_interval, fold_differences, fold_summary
from ._retrain import Retraining, retrain
from ._scores import frame_scores
from ._seeds import fit_many

__all__ = [
    "fit",
    "predict",
    "evaluate",
    "Evaluation",
    "record_folds",
    "cross_validate",
    "sweep",
    "corrected_interval",
    "fold_summary",
    "fold_differences",
    "frame_baseline",
    "frame_scores",
    "fit_many",
    "retrain",
    "Retraining",
]
