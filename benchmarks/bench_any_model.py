"""What does capturing every recurrent state of a model trained elsewhere cost, next to its own forward pass?

The claim (issue 17): ``rnnscope.capture`` of any ``nn.Module`` costs at most **1.5x the model's own forward plus the
cost of capturing its recurrent modules alone**. Side by side in one run, 2 CPU threads, random weights (SeisBench
models build without downloading anything):

- ``forward``: the model's own forward on the batch (eval mode, no autograd), nothing kept;
- ``modules``: capturing its recurrent modules alone: every layer and direction of every recurrent module traced
  from the inputs the forward gave them (recorded once beforehand), every variable kept
  (:class:`rnnscope.models._torch_rnn.TorchRNN`, the native kernels on the CPU, as in ``capture``; the status line
  at the end says whether they ran: they load on first use, so a status read before any trace says "not loaded");
- ``capture``: ``rnnscope.capture(model, x, var="all", ...)``, the run(s) assembled in memory (hooks, the
  forward, the recovery and its exactness check, the arrays, the summaries).

Models: SeisBench's EQTransformer on 60 s windows (3 x 6000 samples at 100 Hz; bidirectional LSTMs and LSTMs over
47 steps) and CRED on 30 s windows (its spectrogram input, 3 x 76 frames x 41 frequencies; bidirectional LSTMs over
19 steps). The variants run in turns (``--rounds`` rounds after one warm-up call each, :mod:`_timing`); the ratio
``capture / (1.5 forward + modules)`` is the median over rounds of the per-round ratio and the claim holds when it is
at most 1.

Run: ``.venv/bin/python benchmarks/bench_any_model.py [--quick]`` (``--quick``: 2 windows, 2 rounds, only to check
that it runs); record the output in docs/performance.md.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from _timing import interleaved, ratio  # noqa: E402  (benchmarks/_timing.py, the one timing helper)
from torch import nn

import rnnscope
from rnnscope.models._torch_rnn import TorchRNN


def recorded_calls(model, x):
    """The arguments every recurrent module received in one forward: name -> (view, prepared call)."""
    calls, handles = {}, []
    for name, module in model.named_modules():
        if isinstance(module, (nn.RNN, nn.LSTM, nn.GRU)):
            view = TorchRNN(module)
            handles.append(module.register_forward_hook(
                lambda m, args, out, name=name, view=view: calls.__setitem__(
                    name, (view, view.prepare(args[0], args[1] if len(args) > 1 else None)))))
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return calls


def variants(model, x, sampling_rate, time_axis):
    model.eval()
    calls = recorded_calls(model, x)

    def forward():
        with torch.no_grad():
            return model(x)

    def modules():
        with torch.no_grad():
            return [view.run(call, trace=True) for view, call in calls.values()]

    def capture():
        return rnnscope.capture(model, x, var="all", sampling_rate=sampling_rate, time_axis=time_axis,
                                batch_size=x.shape[0], device="cpu", progress=False)

    return {"forward": forward, "modules": modules, "capture": capture}


def measure(name, model, x, sampling_rate, time_axis, rounds):
    times = interleaved(variants(model, x, sampling_rate, time_axis), rounds)
    budget = 1.5 * times["forward"] + times["modules"]
    claim = float(np.median(times["capture"] / budget))
    print(f"{name:<14} batch {x.shape[0]:>3}  forward {np.median(times['forward']) * 1e3:8.1f} ms  "
          f"modules {np.median(times['modules']) * 1e3:8.1f} ms  capture {np.median(times['capture']) * 1e3:8.1f} ms"
          f"  capture/forward {ratio(times, 'capture', 'forward'):5.2f}  capture/(1.5 forward + modules) "
          f"{claim:5.2f} {'ok' if claim <= 1 else 'OVER'}")
    return claim


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 windows, 2 rounds: only checks that it runs")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=32, help="windows per batch (EQTransformer-sized inputs)")
    args = parser.parse_args(argv)
    import seisbench.models as sbm  # noqa: PLC0415  (the dev extra)

    torch.set_num_threads(2)
    torch.manual_seed(0)
    batch, rounds = (2, 2) if args.quick else (args.batch, args.rounds)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    measure("EQTransformer", sbm.EQTransformer(), torch.randn(batch, 3, 6000), 100.0, -1, rounds)
    measure("CRED", sbm.CRED(), torch.rand(batch, 3, 76, 41), 2.5, 2, rounds)
    status = rnnscope.models.native_status()  # read after the runs: the kernels load on their first use
    print(f"native kernels: used by the last trace {status['used']} ({status['isa']}, {status['parallel']}; "
          f"{status['reason'] or 'no reason against them'})")


if __name__ == "__main__":
    main()
