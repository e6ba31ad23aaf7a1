"""ResNet-(6n+2) for CIFAR in PyTorch, the same architectures and parameter order as
onecycle's block lists (src/resnet_arch.c): ResNet ([model] arch = resnet, He et al. 2015),
PreActResNet (arch = preact, He et al. 2016) and CaffeResNet (arch = caffe, L. N. Smith's
Caffe gResnet56.prototxt), with GhostBatchNorm2d for [train] bn_group. Used by the
reference-fixture, export and benchmark scripts only. `build(arch, depth, option, classes,
channels, bn_group)` picks one."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class PadShortcut(nn.Module):
    """Option A: stride-2 subsample and zero-pad channels (cout-cin)/2 on each side."""

    def __init__(self, cin, cout):
        super().__init__()
        self.p = (cout - cin) // 2

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.p, self.p))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, option):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            if option == "A":
                self.shortcut = PadShortcut(cin, cout)
            else:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, depth=56, option="A", classes=10, channels=3):
        super().__init__()
        assert (depth - 2) % 6 == 0
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin = 16
        layers = []
        for stage in range(3):
            cout = 16 << stage
            blocks = []
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(cin, cout, stride, option))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


class PreActBlock(nn.Module):
    """He et al. 2016's pre-activation block as their code has it (fb.resnet.torch,
    preresnet.lua): BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus the shortcut, nothing after the
    addition. In the first block of a stage ("both_preact") the shortcut takes the
    pre-activated input, elsewhere the block's input. Option B's projection has no BN."""

    def __init__(self, cin, cout, stride, option, both_preact):
        super().__init__()
        self.both_preact = both_preact
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            if option == "A":
                self.shortcut = PadShortcut(cin, cout)
            else:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False))

    def forward(self, x):
        a = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return out + self.shortcut(a if self.both_preact else x)


class PreActResNet(nn.Module):
    """The CIFAR pre-activation ResNet-(6n+2): conv3x3 (no BN after it), 3 stages of
    PreActBlocks, then BN-ReLU, global average pool and linear."""

    def __init__(self, depth=56, option="A", classes=10, channels=3):
        super().__init__()
        assert (depth - 2) % 6 == 0
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(channels, 16, 3, 1, 1, bias=False)
        cin = 16
        layers = []
        for stage in range(3):
            cout = 16 << stage
            blocks = []
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(PreActBlock(cin, cout, stride, option, i == 0))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.bn = nn.BatchNorm2d(64)
        self.linear = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        out = F.relu(self.bn(out))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


class GhostBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of each run of `group` consecutive
    images of the batch (the last run shorter when group does not divide it), as onecycle's
    [train] bn_group (include/layers.h): each run normalised by its own mean and biased
    variance; the running statistics take one momentum update per forward from the plain
    average of the runs' means and of their unbiased variances. group 0 or >= the batch:
    BatchNorm2d itself."""

    def __init__(self, c, group=0):
        super().__init__(c)
        self.group = group

    def forward(self, x):
        if not self.training or self.group <= 0 or self.group >= x.shape[0]:
            return super().forward(x)
        outs, means, variances = [], [], []
        for run in x.split(self.group, 0):
            outs.append(F.batch_norm(run, None, None, self.weight, self.bias, True, 0.0, self.eps))
            means.append(run.detach().mean((0, 2, 3)))
            variances.append(run.detach().var((0, 2, 3), unbiased=True))
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * torch.stack(means).mean(0))
            self.running_var.mul_(1 - m).add_(m * torch.stack(variances).mean(0))
            self.num_batches_tracked += 1
        return torch.cat(outs)


class CaffeBlock(nn.Module):
    """Smith's block (gResnet56.prototxt): conv3x3 (bias) - BN - ReLU - conv3x3 (bias) - BN,
    plus the shortcut, nothing after the addition. Where the shape changes the shortcut is
    "proj", a 2x2 stride-2 pad-0 conv (bias) + BN of the block's input."""

    def __init__(self, cin, cout, stride, bn_group=0):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=True)
        self.bn1 = GhostBatchNorm2d(cout, bn_group)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=True)
        self.bn2 = GhostBatchNorm2d(cout, bn_group)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 2, stride, 0, bias=True),
                                          GhostBatchNorm2d(cout, bn_group))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out)) + self.shortcut(x)


def caffe_xavier_(model):
    """Caffe's "xavier" filler (filler.hpp, variance_norm FAN_IN): conv and linear weights
    uniform in +-sqrt(3 / fan_in), fan_in = the weight's elements per output; every bias 0
    (the prototxt's constant bias_filler). Not nn.init.xavier_uniform_, which averages fan_in
    and fan_out."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            bound = math.sqrt(3.0 / m.weight[0].numel())
            nn.init.uniform_(m.weight, -bound, bound)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class CaffeResNet(nn.Module):
    """L. N. Smith's Caffe ResNet-(6n+2): conv3x3 (bias) - BN - ReLU, groups of n, n and n-1
    CaffeBlocks (depth 56: 9 + 9 + 8), the last block of the first two groups at stride 2 and
    twice the channels, then global average pool and linear. Module names follow onecycle's
    (layer1..3 for group0..2)."""

    def __init__(self, depth=56, option="A", classes=10, channels=3, bn_group=0):
        super().__init__()
        assert (depth - 2) % 6 == 0
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(channels, 16, 3, 1, 1, bias=True)
        self.bn1 = GhostBatchNorm2d(16, bn_group)
        cin = 16
        layers = []
        for group in range(3):
            blocks = []
            count = n if group < 2 else n - 1
            for i in range(count):
                down = group < 2 and i == count - 1
                cout = 2 * cin if down else cin
                blocks.append(CaffeBlock(cin, cout, 2 if down else 1, bn_group))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(cin, classes)
        caffe_xavier_(self)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def build(arch="resnet", depth=56, option="A", classes=10, channels=3, bn_group=0):
    """The model of [model] arch / depth / shortcut for a data set's classes and channels
    (bn_group: [train] bn_group, caffe only here)."""
    if arch == "caffe":
        return CaffeResNet(depth, option, classes, channels, bn_group)
    assert bn_group == 0, "bn_group: the twin has it for arch caffe only"
    return {"resnet": ResNet, "preact": PreActResNet}[arch](depth, option, classes, channels)
