#!/usr/bin/python3
"""Writes tests/fixtures/schedule_*.txt: LR and momentum per step from PyTorch's own
schedulers (OneCycleLR, CyclicLR, CosineAnnealingWarmRestarts), for tests/test_schedule.c.

Run once from the repository root with the system Python that has torch 1.13:
    /usr/bin/python3 scripts/schedule_fixture.py
The tests read the text files only; they never need torch.

Each file is self-describing:
    # comments (the exact torch call)
    steps_per_epoch N
    set schedule.KEY=VALUE      (the onecycle config that must reproduce it, via config_set)
    data
    STEP LR MOMENTUM            (one line per step, floats as Python repr: exact doubles)

The values are what the optimizer holds while step t runs: read after construction for
t = 0 and after the t-th scheduler.step() for the rest, optimizer.step() coming first as
PyTorch asks.
"""
import os
import sys
import warnings

import torch
from torch.optim import SGD
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR

OUT = os.path.join("tests", "fixtures")


def optimizer(momentum=0.9, lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1))
    return SGD([p], lr=lr, momentum=momentum)


def record(opt, sched, steps, step_arg=None):
    rows = []
    for t in range(steps):
        g = opt.param_groups[0]
        rows.append((t, g["lr"], g["momentum"]))
        if t == steps - 1:
            break
        opt.step()
        if step_arg is None:
            sched.step()
        else:
            sched.step(step_arg(t + 1))
    return rows


def write(name, call, spe, sets, rows):
    path = os.path.join(OUT, "schedule_%s.txt" % name)
    with open(path, "w") as f:
        f.write("# written by scripts/schedule_fixture.py with torch %s; do not edit\n" % torch.__version__)
        f.write("# torch: %s\n" % call)
        f.write("steps_per_epoch %d\n" % spe)
        for kv in sets:
            f.write("set schedule.%s\n" % kv)
        f.write("data\n")
        for t, lr, mom in rows:
            f.write("%d %r %r\n" % (t, float(lr), float(mom)))
    print("wrote %s (%d steps)" % (path, len(rows)))


def onecycle(name, spe, epochs, sets, momentum=0.9, **kw):
    opt = optimizer(momentum)
    total = spe * epochs
    sched = OneCycleLR(opt, total_steps=total, **kw)
    args = ", ".join("%s=%r" % kv for kv in sorted(kw.items()))
    write(name, "OneCycleLR(SGD(momentum=%r), total_steps=%d, %s)" % (momentum, total, args), spe,
          ["policy=onecycle", "epochs=%d" % epochs] + sets, record(opt, sched, total))


def cyclic(name, spe, epochs, up_epochs, down_epochs, sets, momentum=0.9, **kw):
    opt = optimizer(momentum)
    total = spe * epochs
    sched = CyclicLR(opt, step_size_up=up_epochs * spe, step_size_down=down_epochs * spe, **kw)
    args = ", ".join("%s=%r" % kv for kv in sorted(kw.items()))
    call = "CyclicLR(SGD(momentum=%r), step_size_up=%d, step_size_down=%d, %s); %d steps" % (
        momentum, up_epochs * spe, down_epochs * spe, args, total)
    sets = ["epochs=%d" % epochs, "step_size=%r" % up_epochs] + sets
    if down_epochs != up_epochs:
        sets.append("step_size_down=%r" % down_epochs)
    write(name, call, spe, sets, record(opt, sched, total))


def main():
    if not os.path.isdir(OUT):
        sys.exit("run from the repository root (no %s here)" % OUT)
    warnings.simplefilter("ignore")
    # 91 steps: pct_start * 91 is never an integer, so the phase ends pct*T-1 fall between
    # steps, the case where off-by-one conventions differ.
    onecycle("onecycle_cos", 7, 13, ["max_lr=0.8"], max_lr=0.8)
    onecycle("onecycle_linear", 7, 13,
             ["max_lr=0.5", "pct_start=0.25", "anneal_strategy=linear", "div_factor=10",
              "final_div_factor=100", "base_momentum=0.8", "max_momentum=0.9"],
             max_lr=0.5, pct_start=0.25, anneal_strategy="linear", div_factor=10.0,
             final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9)
    onecycle("onecycle_three_phase_cos", 7, 13, ["max_lr=0.8", "three_phase=true"],
             max_lr=0.8, three_phase=True)
    onecycle("onecycle_three_phase_linear", 7, 13,
             ["max_lr=1.2", "three_phase=true", "pct_start=0.4", "anneal_strategy=linear"],
             max_lr=1.2, three_phase=True, pct_start=0.4, anneal_strategy="linear")
    onecycle("onecycle_no_momentum", 10, 10,
             ["max_lr=0.8", "cycle_momentum=false", "momentum=0.9"],
             momentum=0.9, max_lr=0.8, cycle_momentum=False)
    onecycle("onecycle_pct0", 5, 4, ["max_lr=0.3", "pct_start=0"], max_lr=0.3, pct_start=0.0)

    cyclic("triangular", 7, 13, 2, 2, ["policy=triangular", "base_lr=0.01", "max_lr=0.1"],
           base_lr=0.01, max_lr=0.1, mode="triangular", cycle_momentum=True,
           base_momentum=0.8, max_momentum=0.9)
    cyclic("triangular2", 7, 13, 2, 1,
           ["policy=triangular2", "base_lr=0.01", "max_lr=0.1", "base_momentum=0.85",
            "max_momentum=0.95"],
           base_lr=0.01, max_lr=0.1, mode="triangular2", cycle_momentum=True,
           base_momentum=0.85, max_momentum=0.95)
    cyclic("exp_range", 7, 13, 1, 1,
           ["policy=exp_range", "base_lr=0.001", "max_lr=0.006", "gamma=0.99"],
           base_lr=0.001, max_lr=0.006, mode="exp_range", gamma=0.99, cycle_momentum=True,
           base_momentum=0.8, max_momentum=0.9)
    cyclic("triangular_no_momentum", 7, 9, 2, 2,
           ["policy=triangular", "base_lr=0.01", "max_lr=0.1", "cycle_momentum=false",
            "momentum=0.9"],
           momentum=0.9, base_lr=0.01, max_lr=0.1, mode="triangular", cycle_momentum=False)

    # SGDR stepped with fractional epochs, as its docstring shows: T_cur/T_i = i / nb.
    spe, epochs = 7, 2 + 4 + 8
    opt = optimizer(0.9, lr=0.1)
    sched = CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.001)
    write("sgdr", "CosineAnnealingWarmRestarts(SGD(lr=0.1, momentum=0.9), T_0=2, T_mult=2, "
          "eta_min=0.001), step(t / 7) after step t-1", spe,
          ["policy=sgdr", "lr=0.1", "min_lr=0.001", "cycle_len=2", "cycle_mult=2", "n_cycles=3"],
          record(opt, sched, spe * epochs, step_arg=lambda t: t / spe))


if __name__ == "__main__":
    main()
