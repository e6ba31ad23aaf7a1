#!/usr/bin/python3
"""Writes tests/fixtures/reference_optim.bin: a few optimiser steps by torch.optim, which
tests/test_optim.c compares optim_step against.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/make_optim_reference.py

No network: one fixed parameter vector of N = 1000 floats and STEPS = 5 fixed gradients
(normal, some entries tiny so Adam's eps matters, some large). The vector is three tensors
in two parameter groups, as the C optimiser's ranges see it:
    [0, 600) decay, [600, 800) no decay (BN/bias-like), [800, 1000) decay.
Every step sets a new LR and momentum (SGD momentum or Adam beta1) on both groups, the way
a 1cycle schedule with cyclical momentum does (LR up then down, momentum down then up).

Cases (kind: 0 sgd, 1 adam, 2 adamw):
    sgd       torch.optim.SGD, momentum, weight_decay (L2)
    nesterov  torch.optim.SGD, nesterov=True
    adam      torch.optim.Adam (L2 added to the gradient), beta1 from the schedule
    adamw     torch.optim.AdamW (decoupled, w *= 1 - lr*wd), beta1 from the schedule
    sgd_wds   weight-decay schedule: SGD without L2, and before each step the decaying
              tensors are multiplied by 1 - wd*wd_mult (wd_mult = lr/peak lr; fastai's
              WeightDecaySchedule, which subtracts wd_t times the pre-step weights)
    adamw_wds the same with torch.optim.Adam(weight_decay=0) as the update
Records per case C: C.kind, C.nesterov, C.wd, C.lr (STEPS), C.mom (STEPS), C.wd_mult (STEPS,
1 for the torch-native cases), C.w (STEPS x N: the weights after each step).
Common: w0 (N), g (STEPS x N), ranges (off, n, decay triplets).

Format: records [u32 name length][name][u32 count][count float32], little-endian, as
scripts/make_reference.py.
"""
import os
import struct

import torch

N, STEPS = 1000, 5
RANGES = [(0, 600, 1), (600, 200, 0), (800, 200, 1)]
SGD_LR = [0.08, 0.3, 0.8, 0.3, 0.02]
SGD_MOM = [0.95, 0.9, 0.85, 0.9, 0.95]
ADAM_LR = [4e-4, 2e-3, 1e-2, 2e-3, 1e-4]
ADAM_B1 = [0.95, 0.9, 0.85, 0.9, 0.95]


def write(f, name, t):
    t = torch.as_tensor(t, dtype=torch.float32).contiguous().view(-1)
    nb = name.encode()
    f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<I", t.numel()) + t.numpy().tobytes())


def make_inputs():
    torch.manual_seed(7)
    w0 = torch.randn(N)
    g = torch.randn(STEPS, N)
    g[:, :20] *= 1e-7   # tiny gradients: eps dominates Adam's denominator
    g[:, 20:40] *= 30   # large ones
    g[2, 40:60] = 0     # a zero gradient in one step
    return w0, g


def run_case(kind, w0, g, lrs, moms, wd, nesterov=False, wds=False):
    tensors = [w0[o:o + n].clone().requires_grad_(True) for o, n, _ in RANGES]
    decay = [t for t, (_, _, d) in zip(tensors, RANGES) if d]
    nodecay = [t for t, (_, _, d) in zip(tensors, RANGES) if not d]
    torch_wd = 0.0 if wds else wd
    groups = [{"params": decay, "weight_decay": torch_wd}, {"params": nodecay, "weight_decay": 0.0}]
    if kind == 0:
        opt = torch.optim.SGD(groups, lr=lrs[0], momentum=moms[0], nesterov=nesterov)
    elif kind == 1 or wds:
        opt = torch.optim.Adam(groups, lr=lrs[0], betas=(moms[0], 0.999), eps=1e-8)
    else:
        opt = torch.optim.AdamW(groups, lr=lrs[0], betas=(moms[0], 0.999), eps=1e-8)
    peak = max(lrs)
    out, mults = [], []
    for k in range(STEPS):
        for grp in opt.param_groups:
            grp["lr"] = lrs[k]
            if kind == 0:
                grp["momentum"] = moms[k]
            else:
                grp["betas"] = (moms[k], 0.999)
        mult = lrs[k] / peak if wds else 1.0
        mults.append(mult)
        with torch.no_grad():
            if wds:
                for t in decay:
                    t.mul_(1 - wd * mult)
            for t, (o, n, _) in zip(tensors, RANGES):
                t.grad = g[k, o:o + n].clone()
        opt.step()
        out.append(torch.cat([t.detach() for t in tensors]))
    return torch.stack(out), mults


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "reference_optim.bin")
    w0, g = make_inputs()
    cases = [
        ("sgd", 0, SGD_LR, SGD_MOM, 5e-3, False, False),
        ("nesterov", 0, SGD_LR, SGD_MOM, 5e-3, True, False),
        ("adam", 1, ADAM_LR, ADAM_B1, 0.05, False, False),
        ("adamw", 2, ADAM_LR, ADAM_B1, 0.05, False, False),
        ("sgd_wds", 0, SGD_LR, SGD_MOM, 4e-3, True, True),
        ("adamw_wds", 2, ADAM_LR, ADAM_B1, 0.05, False, True),
    ]
    with open(path, "wb") as f:
        write(f, "w0", w0)
        write(f, "g", g)
        write(f, "ranges", [float(x) for r in RANGES for x in r])
        for name, kind, lrs, moms, wd, nesterov, wds in cases:
            w, mults = run_case(kind, w0, g, lrs, moms, wd, nesterov, wds)
            write(f, name + ".kind", [float(kind)])
            write(f, name + ".nesterov", [float(nesterov)])
            write(f, name + ".wds", [float(wds)])
            write(f, name + ".wd", [wd])
            write(f, name + ".lr", lrs)
            write(f, name + ".mom", moms)
            write(f, name + ".wd_mult", mults)
            write(f, name + ".w", w)
    print("wrote", os.path.normpath(path), "torch", torch.__version__)


if __name__ == "__main__":
    main()
