#!/usr/bin/python3
"""PyTorch side of `make bench`: ResNet-(6n+2) from scripts/resnet_torch.py (the same
architecture and parameter order as onecycle), timed like `onecycle bench`.

A train step is forward + cross-entropy + backward + SGD step (momentum 0.9, weight decay),
on random input; eval is a no_grad forward in eval mode. Both warm up first (oneDNN picks
and caches its kernels on the first calls). Prints the keys `onecycle bench` prints.

Usage: /usr/bin/python3 scripts/bench_pytorch.py [--depth 56] [--batch 128] [--threads 2]
       [--layout nchw|channels_last] [--seconds 10] [--shortcut A|B]
Run it with Debian's python3-torch (/usr/bin/python3), not another python on PATH.
"""
import argparse
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_torch import ResNet  # noqa: E402


def timed(step, seconds, min_iters=3):
    """Runs step() until `seconds` have passed and at least min_iters ran; returns iters/s."""
    iters, t0 = 0, time.perf_counter()
    while True:
        step()
        iters += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and iters >= min_iters:
            return iters / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depth", type=int, default=56)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layout", choices=["nchw", "channels_last"], default="channels_last")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--shortcut", choices=["A", "B"], default="A")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    fmt = torch.channels_last if a.layout == "channels_last" else torch.contiguous_format
    model = ResNet(a.depth, a.shortcut).to(memory_format=fmt)
    x = torch.randn(a.batch, 3, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (a.batch,))
    # The same optimiser settings as onecycle bench; the small LR keeps random-input
    # training finite, and speed does not depend on the values.
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    def eval_step():
        with torch.no_grad():
            model(x)

    model.train()
    for _ in range(2):
        train_step()
    train_ips = timed(train_step, a.seconds) * a.batch
    model.eval()
    for _ in range(2):
        eval_step()
    eval_ips = timed(eval_step, a.seconds / 2) * a.batch

    print(f"model: PyTorch {torch.__version__} ResNet-{a.depth} (shortcut {a.shortcut}), {a.layout}, "
          f"batch {a.batch}, {torch.get_num_threads()} threads")
    print(f"train_images_per_sec: {train_ips:.1f}")
    print(f"eval_images_per_sec: {eval_ips:.1f}")
    print(f"peak_rss_mb: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()
