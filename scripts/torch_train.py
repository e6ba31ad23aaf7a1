"""PyTorch twin of `onecycle train` for side-by-side runs (issue 11: does a 56-layer net
train here as it does in PyTorch?).

Same model and init (scripts/resnet_torch.py: kaiming_normal_ on every conv and linear
weight, BN gamma 1 beta 0), same data and pipeline (the CIFAR-10 binary files; v/255, then
(x - mean)/std with torchvision's CIFAR statistics; pad + random 32x32 crop + horizontal
flip), same schedule (read per step from `onecycle schedule CONFIG --csv FILE`, so the LR
and momentum of every step are ours to the last digit), torch.optim.SGD with L2 weight decay
(PyTorch's rule, which ours follows). Only the random numbers differ (init, batch order,
crops): compare curves, not digits.

    /usr/bin/python3 scripts/torch_train.py --schedule sched.csv --epochs 2 --out log.csv

Writes a log.csv with onecycle's columns, one row per epoch, and prints the first step's
loss. Needs Debian's python3-torch; the tests never run it.
"""
import argparse
import csv
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_torch import ResNet  # noqa: E402

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)


def load(path):
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)


def normalise(x):
    x = x.astype(np.float32) / np.float32(255.0)
    return (x - MEAN[None, :, None, None]) / STD[None, :, None, None]


def augment(x, pad, mode, rng):
    """x: (B,3,32,32) normalised float. Pad, random crop, random flip, per image."""
    B = x.shape[0]
    if mode == "zero":
        # torchvision pads the PIL image with black, i.e. 0 before normalisation
        fill = (-MEAN / STD)[None, :, None, None]
        p = np.broadcast_to(fill, (B, 3, 32 + 2 * pad, 32 + 2 * pad)).copy()
        p[:, :, pad:pad + 32, pad:pad + 32] = x
    else:  # reflect (torch 'reflect', cv2 REFLECT_101) or symmetric (cv2 BORDER_REFLECT)
        p = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode=mode)
    oy = rng.integers(0, 2 * pad + 1, B)
    ox = rng.integers(0, 2 * pad + 1, B)
    flip = rng.random(B) < 0.5
    out = np.empty_like(x)
    for i in range(B):
        c = p[i, :, oy[i]:oy[i] + 32, ox[i]:ox[i] + 32]
        out[i] = c[:, :, ::-1] if flip[i] else c
    return out


def evaluate(model, x, y, batch):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            xb = torch.from_numpy(x[s:s + batch]).contiguous(memory_format=torch.channels_last)
            yb = torch.from_numpy(y[s:s + batch])
            out = model(xb)
            loss += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(1) == yb).sum().item()
    model.train()
    return loss / len(x), correct / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/cifar-10-batches-bin")
    ap.add_argument("--schedule", required=True, help="onecycle schedule --csv output")
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--depth", type=int, default=56)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--nesterov", action="store_true")
    ap.add_argument("--pad", type=int, default=4)
    ap.add_argument("--pad-mode", default="zero", choices=["zero", "reflect", "symmetric"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    xs, ys = zip(*(load(os.path.join(a.data, f"data_batch_{i}.bin")) for i in range(1, 6)))
    xtr, ytr = normalise(np.concatenate(xs)), np.concatenate(ys)
    xte, yte = load(os.path.join(a.data, "test_batch.bin"))
    xte = normalise(xte)
    with open(a.schedule) as f:
        sched = [(float(r["lr"]), float(r["momentum"])) for r in csv.DictReader(f)]

    model = ResNet(a.depth, "A").to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=sched[0][0], momentum=sched[0][1], weight_decay=a.wd,
                          nesterov=a.nesterov)
    n = len(xtr)
    steps_per_epoch = (n + a.batch - 1) // a.batch
    total = int(round(a.epochs * steps_per_epoch))
    step, t0 = 0, time.time()
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "iteration", "lr", "momentum", "train_loss", "train_acc", "test_loss", "test_acc",
                    "seconds", "images_per_sec"])
        epoch = 0
        while step < total:
            epoch += 1
            order = rng.permutation(n)
            tl, tc, seen, te = 0.0, 0, 0, time.time()
            for s in range(0, n, a.batch):
                if step >= total:
                    break
                idx = order[s:s + a.batch]
                xb = torch.from_numpy(augment(xtr[idx], a.pad, a.pad_mode, rng)).contiguous(
                    memory_format=torch.channels_last)
                yb = torch.from_numpy(ytr[idx])
                lr, mom = sched[step]
                for g in opt.param_groups:
                    g["lr"], g["momentum"] = lr, mom
                out = model(xb)
                loss = F.cross_entropy(out, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if step == 0:
                    print(f"step 1 loss {loss.item():.4f}", flush=True)
                tl += loss.item() * len(idx)
                tc += (out.argmax(1) == yb).sum().item()
                seen += len(idx)
                step += 1
            ips = seen / (time.time() - te)
            vl, va = evaluate(model, xte, yte, 1000)
            row = [epoch, step, f"{lr:.8g}", f"{mom:.6g}", f"{tl / seen:.6f}", f"{tc / seen:.6f}", f"{vl:.6f}",
                   f"{va:.6f}", f"{time.time() - t0:.2f}", f"{ips:.1f}"]
            w.writerow(row)
            f.flush()
            print(" ".join(map(str, row)), flush=True)


if __name__ == "__main__":
    main()
