#!/usr/bin/python3
"""Writes the PyTorch reference fixtures that tests/test_reference.c compares against.

Run once with Debian's python3-torch:  /usr/bin/python3 scripts/make_reference.py [resnet|preact|caffe]
(default: all). For a small ResNet (depth 8, option A and option B) with fixed weights and
two fixed batches it records: the initial weights, the input, the logits and loss, every
parameter gradient, the BN running statistics after one forward, and the weights after two
SGD steps (momentum, weight decay; the second step changes LR and momentum as a schedule
would, and the option-B model uses Nesterov), then eval-mode logits with the running
statistics. For the pre-activation ResNet ([model] arch = preact: depth 14 option B, which
has both kinds of pre-activation block and the projection, and depth 8 option A) it
records what concerns the architecture only: weights, input, logits, loss, gradients,
running statistics after the training forward, and eval-mode logits, and for every
state_dict key "shape:KEY" with its shape (what `onecycle export` must write). For Smith's
Caffe ResNet ([model] arch = caffe: depth 14, which has identity and downsampling blocks in
every group, and depth 8 with ghost batch-norm, [train] bn_group = 4 on batches of 6, so
runs of 4 and 2 images) it records what the ResNet-8 fixtures record, with Nesterov, plus
"config.bn_group" and the state_dict shapes; the conv biases are set nonzero so that the
running means and the evaluation carry them.

Format: a sequence of records [u32 name length][name][u32 count][count float32], little-endian.
Activations and inputs are NCHW as PyTorch has them; the test converts.
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_torch import ResNet, build  # noqa: E402


def write(f, name, t):
    data = t.detach().double().float().contiguous().view(-1).numpy().tobytes()
    nb = name.encode()
    f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<I", t.numel()) + data)


def flat_stats(model):
    out = []
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            out += [m.running_mean, m.running_var]
    return torch.cat([s.view(-1) for s in out])


def randomise(model, conv_bias=False):
    """Non-trivial BN affine parameters (and conv biases) so their gradients are exercised."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            if conv_bias and isinstance(m, torch.nn.Conv2d):
                m.bias.uniform_(-0.2, 0.2)


def two_batches(batch):
    x1 = torch.randn(batch, 3, 32, 32)
    x2 = torch.randn(batch, 3, 32, 32)
    y1 = torch.randint(0, 10, (batch,))
    y2 = torch.randint(0, 10, (batch,))
    return (x1, y1), (x2, y2)


def two_steps(f, model, params, opt, batch1, batch2):
    """Writes the start, two SGD steps (the second at lr 0.05, momentum 0.8) and the
    evaluation logits of batch 1 afterwards: what test_reference.c replays."""
    (x1, y1), (x2, y2) = batch1, batch2
    write(f, "params0", torch.cat([p.detach().view(-1) for p in params]))
    write(f, "x1", x1)
    write(f, "y1", y1.float())
    write(f, "x2", x2)
    write(f, "y2", y2.float())
    model.train()
    logits = model(x1)
    loss = F.cross_entropy(logits, y1)
    opt.zero_grad()
    loss.backward()
    write(f, "logits1", logits)
    write(f, "loss1", loss.view(1))
    write(f, "grads1", torch.cat([p.grad.view(-1) for p in params]))
    write(f, "stats1", flat_stats(model))
    opt.step()
    write(f, "params1", torch.cat([p.detach().view(-1) for p in params]))
    for g in opt.param_groups:
        g["lr"], g["momentum"] = 0.05, 0.8
    logits = model(x2)
    loss = F.cross_entropy(logits, y2)
    opt.zero_grad()
    loss.backward()
    write(f, "loss2", loss.view(1))
    opt.step()
    write(f, "params2", torch.cat([p.detach().view(-1) for p in params]))
    write(f, "stats2", flat_stats(model))
    model.eval()
    with torch.no_grad():
        write(f, "eval_logits", model(x1))


def make(option, nesterov, path, batch=6, depth=8):
    torch.manual_seed(1234 if option == "A" else 4321)
    model = ResNet(depth, option)
    randomise(model)
    params = list(model.parameters())
    names = [n for n, _ in model.named_parameters()]
    batch1, batch2 = two_batches(batch)
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=nesterov)
    with open(path, "wb") as f:
        write(f, "config.depth", torch.tensor([float(depth)]))
        write(f, "config.batch", torch.tensor([float(batch)]))
        two_steps(f, model, params, opt, batch1, batch2)
    print(path, sum(p.numel() for p in params), "parameters;", ", ".join(names[:4]), "...")


def make_preact(option, depth, path, batch=6):
    torch.manual_seed(2016 + depth + (option == "B"))
    model = build("preact", depth, option)
    randomise(model)
    params = list(model.parameters())
    x1 = torch.randn(batch, 3, 32, 32)
    y1 = torch.randint(0, 10, (batch,))
    with open(path, "wb") as f:
        write(f, "config.depth", torch.tensor([float(depth)]))
        write(f, "config.batch", torch.tensor([float(batch)]))
        write(f, "config.shortcut_b", torch.tensor([float(option == "B")]))
        write(f, "params0", torch.cat([p.detach().view(-1) for p in params]))
        write(f, "x1", x1)
        write(f, "y1", y1.float())
        model.train()
        logits = model(x1)
        loss = F.cross_entropy(logits, y1)
        loss.backward()
        write(f, "logits1", logits)
        write(f, "loss1", loss.view(1))
        write(f, "grads1", torch.cat([p.grad.view(-1) for p in params]))
        write(f, "stats1", flat_stats(model))
        model.eval()
        with torch.no_grad():
            write(f, "eval_logits", model(x1))
        for k, v in model.state_dict().items():
            write(f, "shape:" + k, torch.tensor([float(d) for d in v.shape]))
    print(path, sum(p.numel() for p in params), "parameters")


def make_caffe(depth, bn_group, path, batch=6):
    torch.manual_seed(5600 + depth + bn_group)
    model = build("caffe", depth, bn_group=bn_group)
    randomise(model, conv_bias=True)
    with torch.no_grad():
        model.linear.bias.uniform_(-0.1, 0.1)
    params = list(model.parameters())
    batch1, batch2 = two_batches(batch)
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    with open(path, "wb") as f:
        write(f, "config.depth", torch.tensor([float(depth)]))
        write(f, "config.batch", torch.tensor([float(batch)]))
        write(f, "config.bn_group", torch.tensor([float(bn_group)]))
        two_steps(f, model, params, opt, batch1, batch2)
        for k, v in model.state_dict().items():
            write(f, "shape:" + k, torch.tensor([float(d) for d in v.shape]))
    print(path, sum(p.numel() for p in params), "parameters")


if __name__ == "__main__":
    torch.set_num_threads(1)
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which in ("all", "resnet"):
        make("A", False, os.path.join(here, "reference_resnet8_A.bin"))
        make("B", True, os.path.join(here, "reference_resnet8_B.bin"))
    if which in ("all", "preact"):
        make_preact("B", 14, os.path.join(here, "reference_preact14_B.bin"))
        make_preact("A", 8, os.path.join(here, "reference_preact8_A.bin"))
    if which in ("all", "caffe"):
        make_caffe(14, 0, os.path.join(here, "reference_caffe14.bin"))
        make_caffe(8, 4, os.path.join(here, "reference_caffe8_ghost4.bin"))
