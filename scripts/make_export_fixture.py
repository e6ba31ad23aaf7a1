#!/usr/bin/python3
"""Writes the fixtures of tests/test_statedict.c: `onecycle export` checked against PyTorch.

Run from the repository root, after `make` and `make data`, with Debian's python3-torch:
    /usr/bin/python3 scripts/make_export_fixture.py

1. Trains a tiny run (ResNet-8 option B: every kind of state_dict key, 256 images, one epoch)
   and keeps its checkpoint as tests/fixtures/export_resnet8_B.ckpt.
2. Exports it with `onecycle export`, loads the .npz into scripts/resnet_torch.py's ResNet
   with the one line of scripts/load_npz.py, and records in tests/fixtures/export_resnet8_B.bin
   (the format of make_reference.py): fixed inputs "x" (NCHW), PyTorch's eval-mode "logits",
   "steps" (num_batches_tracked) and, for every key of a fresh ResNet(8, "B").state_dict(),
   "shape:KEY" with its shape (no values for a scalar).
The test exports the same checkpoint, reads the .npz with our reader, and compares.
3. Writes tests/fixtures/numpy_savez{,_compressed}.npz with NumPy itself (tests/test_npz.c
   reads them: our reader on archives that Python's zipfile wrote).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_npz import load  # noqa: E402
from make_reference import write  # noqa: E402
from resnet_torch import ResNet  # noqa: E402

CONFIG = """[data]
dir = data/cifar-10-batches-bin
train_images = 256
test_images = 128
[model]
depth = 8
shortcut = B
[train]
batch_size = 64
progress = plain
threads = 1
[schedule]
epochs = 1
lr = 0.05
"""


def numpy_fixtures():
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3) / 4, "b": np.array(7, dtype=np.int64),
              "c": np.zeros((0, 4), dtype=np.float32), "d": np.full(100, -1.5, dtype=np.float32)}
    np.savez("tests/fixtures/numpy_savez.npz", **arrays)
    np.savez_compressed("tests/fixtures/numpy_savez_compressed.npz", **arrays)


def main():
    numpy_fixtures()
    ckpt = "tests/fixtures/export_resnet8_B.ckpt"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "tiny.cfg")
        with open(cfg, "w") as f:
            f.write(CONFIG)
        subprocess.run(["./onecycle", "train", cfg, "--out", os.path.join(tmp, "run")], check=True)
        os.replace(os.path.join(tmp, "run", "checkpoint.ckpt"), ckpt)
        npz = os.path.join(tmp, "model.npz")
        subprocess.run(["./onecycle", "export", ckpt, npz], check=True)
        model = load(npz)
        steps = int(np.load(npz)["bn1.num_batches_tracked"])
    torch.manual_seed(2024)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
    with open("tests/fixtures/export_resnet8_B.bin", "wb") as f:
        write(f, "x", x)
        write(f, "logits", logits)
        write(f, "steps", torch.tensor([float(steps)]))
        for k, v in ResNet(8, "B").state_dict().items():
            write(f, "shape:" + k, torch.tensor([float(d) for d in v.shape]))


if __name__ == "__main__":
    main()
