"""ResNet-(6n+2) for CIFAR in PyTorch, the same architectures and parameter order as
onecycle's block lists (src/resnet_arch.c): ResNet ([model] arch = resnet, He et al. 2015)
and PreActResNet (arch = preact, He et al. 2016). Used by the reference-fixture, export and
benchmark scripts only. `build(arch, depth, option, classes, channels)` picks one."""
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


def build(arch="resnet", depth=56, option="A", classes=10, channels=3):
    """The model of [model] arch / depth / shortcut for a data set's classes and channels."""
    return {"resnet": ResNet, "preact": PreActResNet}[arch](depth, option, classes, channels)
