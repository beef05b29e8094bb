"""``rnnscope.capture_modules``: every recurrent module of any PyTorch model, one run per time resolution.

A model may hold recurrent modules that step at different rates (EQTransformer's LSTMs run over 47 and 94 steps of
a window): one run has one ``time`` axis, so such a capture gives several runs. :func:`rnnscope.capture` returns
one Dataset, and says so (naming this function and ``modules=``) when the modules form several runs;
:func:`capture_modules` returns them all, as a dict ``{steps: run}``, always a dict.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import xarray as xr

from .._validation import FILL_ARRAY, first_nan_frames, warn_nan_frames
from ._module_runs import _event_ids

__all__ = ["capture_modules", "module_runs"]


def module_runs(model, data, *, var, device, batch_size, silence, modules, sampling_rate, time_axis, labels,
                label_rate, class_names, event_ids, module_batch, progress, store=None,
                overwrite=False) -> dict[int, xr.Dataset] | xr.Dataset:
    """The runs ``{steps: run}`` of any model on what its forward takes: an rnnscope classifier on a tensor by
    its own pass (:mod:`rnnscope.capturing._classifier_data`), any other module by recording its forward
    (:mod:`rnnscope.capturing._modules`; with ``store``, written there as it is captured and opened from it)."""
    from ._classifier_data import classifier_pass_applies, trace_classifier
    from ._modules import record_modules

    options = dict(modules=modules, sampling_rate=sampling_rate, time_axis=time_axis, labels=labels,
                   label_rate=label_rate, class_names=class_names, event_id=event_ids, module_batch=module_batch,
                   progress=progress)
    if classifier_pass_applies(model, data, module_batch):
        return trace_classifier(model, data, var, device, batch_size, silence, **options)
    runs = record_modules(model, data, var, device, batch_size, store, silence, overwrite=overwrite, **options)
    if hasattr(model, "fit_normalizer") and getattr(data, "ndim", 0) == 3:  # an rnnscope model on frames
        warn_nan_frames("capture", _event_ids(event_ids, data.shape[0], "capture"), first_nan_frames(data),
                        fill=FILL_ARRAY)
    return runs


def capture_modules(
    model,
    data,
    *,
    var: str | Sequence[str] = "all",
    device: str = "auto",
    batch_size: int = 32,
    silence: Mapping | None = None,
    progress: bool = True,
    modules: str | Sequence[str] | None = None,
    sampling_rate: float | None = None,
    time_axis: int | None = None,
    labels=None,
    label_rate: float | None = None,
    class_names: Sequence[str] | None = None,
    event_ids: Sequence | None = None,
    module_batch: dict | None = None,
) -> dict[int, xr.Dataset]:
    """Every state of every recurrent module of ``model`` over ``data``: one run per time resolution.

    What :func:`rnnscope.capture` does for any ``nn.Module`` (the same arguments, the same runs), for models whose
    recurrent modules run over different numbers of steps: modules with the same step count share a run (one
    entry of ``layer`` per layer and direction), the others get their own.

    Parameters
    ----------
    model : torch.nn.Module
        Any PyTorch model holding recurrent modules (an rnnscope classifier too).
    data : tensor, array, tuple or dict
        What the model's forward takes, batch first (see :func:`rnnscope.capture`).
    sampling_rate, time_axis, labels, label_rate, class_names, event_ids, module_batch
        As in :func:`rnnscope.capture`.
    var, device, batch_size, silence, progress, modules
        As in :func:`rnnscope.capture`. ``silence={layer: units}`` numbers the layers over every captured module
        in ``model.named_modules()`` order, each layer and direction (as one run would number them).

    Returns
    -------
    dict
        ``{steps: run}``: each run an ``xarray.Dataset`` laid out as :func:`rnnscope.capture`'s, one per step count
        (a dict with one entry when every module steps alike).

    Examples
    --------
    >>> import torch
    >>> class TwoRates(torch.nn.Module):  # one LSTM over every frame, one GRU over every other frame
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fast, self.slow = torch.nn.LSTM(3, 4, batch_first=True), torch.nn.GRU(4, 2, batch_first=True)
    ...     def forward(self, x):
    ...         y, _ = self.fast(x)
    ...         return self.slow(y[:, ::2])[0]
    >>> runs = capture_modules(TwoRates(), torch.randn(2, 10, 3), progress=False)  # time in steps
    >>> {steps: run["module"].values.tolist() for steps, run in runs.items()}
    {10: ['fast'], 5: ['slow']}
    >>> runs = capture_modules(TwoRates(), torch.randn(2, 10, 3), time_axis=1, sampling_rate=10.0, progress=False)
    >>> runs[5]["time"].values.tolist()  # the slow module's steps last 0.2 s
    [0.1, 0.30000000000000004, 0.5, 0.7000000000000001, 0.9]
    """
    runs = module_runs(model, data, var=var, device=device, batch_size=batch_size, silence=silence, modules=modules,
                       sampling_rate=sampling_rate, time_axis=time_axis, labels=labels, label_rate=label_rate,
                       class_names=class_names, event_ids=event_ids, module_batch=module_batch, progress=progress)
    assert isinstance(runs, dict)  # without a store, module_runs returns the runs by step count
    return runs
