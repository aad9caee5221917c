"""CLEAN: small ResNet with BasicBlocks whose last BatchNorm gamma is zero-initialised (Goyal et al.), SGD + cosine per step."""
import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_CLASSES = 10
TOTAL_STEPS = 4000


def make_images(n=32, size=16, seed=3):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    x = 0.3 * torch.randn(n, 3, size, size, generator=g)
    for i in range(n):
        k = int(y[i])
        r, c = divmod(k, 4)
        x[i, k % 3, r * 4:(r + 1) * 4 + 2, c * 4:(c + 1) * 4] += 1.8
    return (x - x.mean()) / x.std(), y


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetTiny(nn.Module):
    def __init__(self, widths=(16, 32, 64), num_classes=NUM_CLASSES, zero_init_residual=True):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            layers.append(BasicBlock(cin, w, stride=1 if i == 0 else 2))
            cin = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)   # each residual branch starts as identity

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def build_model():
    return ResNetTiny()


def get_batch():
    return make_images()


loss_fn = nn.CrossEntropyLoss()


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)


def make_scheduler(opt):
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=TOTAL_STEPS)
