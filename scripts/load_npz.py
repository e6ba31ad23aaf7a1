#!/usr/bin/python3
"""Loads a model written by `onecycle export CKPT MODEL.npz` into PyTorch.

    /usr/bin/python3 scripts/load_npz.py MODEL.npz [CIFAR_DIR [N]]

The .npz holds the state_dict of scripts/resnet_torch.py's ResNet, PreActResNet or
CaffeResNet, so the loading is one line:

    model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(path).items()})

Architecture, depth, shortcut option, classes and input channels are read off the keys. With CIFAR_DIR (the binary version, e.g.
data/cifar-10-batches-bin) it prints the accuracy on the first N test images (default 10000),
normalised as onecycle does, to compare with `onecycle eval CKPT`.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_torch import build  # noqa: E402

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32).reshape(1, 3, 1, 1)


def load(path):
    """The model of an exported .npz, in eval mode."""
    arrays = dict(np.load(path).items())
    n = len({k.split(".")[1] for k in arrays if k.startswith("layer1.")})
    option = "B" if any(".shortcut." in k for k in arrays) else "A"
    arch = "preact" if "bn.weight" in arrays else "resnet"  # the final BN before the pool
    if "conv1.bias" in arrays:  # Smith's Caffe ResNet: every convolution has a bias
        arch = "caffe"
    classes, channels = arrays["linear.weight"].shape[0], arrays["conv1.weight"].shape[1]
    model = build(arch, 6 * n + 2, option, classes, channels)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    return model.eval()


def cifar_test(dir, n):
    raw = np.fromfile(os.path.join(dir, "test_batch.bin"), dtype=np.uint8).reshape(-1, 3073)[:n]
    x = (raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / np.float32(255) - MEAN) / STD
    return torch.from_numpy(x), torch.from_numpy(raw[:, 0].astype(np.int64))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    model = load(sys.argv[1])
    params = sum(p.numel() for p in model.parameters())
    print(f"{sys.argv[1]}: {params} parameters loaded")
    if len(sys.argv) > 2:
        x, y = cifar_test(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 10000)
        with torch.no_grad():
            pred = torch.cat([model(x[i:i + 500]).argmax(1) for i in range(0, len(x), 500)])
        print(f"test_accuracy: {(pred == y).float().mean().item():.4f} ({len(y)} images)")


if __name__ == "__main__":
    main()
