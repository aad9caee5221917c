"""CLEAN: CNN with GroupNorm and SiLU on 3-channel images, SGD with Nesterov momentum, OneCycleLR over the real step count."""
import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_CLASSES = 9
EPOCHS, STEPS_PER_EPOCH = 30, 200
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH


def stripes_dataset(n, size=20, seed=0):
    """Class = (colour channel, stripe orientation): 3 x 3 classes, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    r = torch.arange(size).float()
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    patterns = [torch.sin(yy * 1.3), torch.sin(xx * 1.3), torch.sin((xx + yy) * 0.9)]
    x = 0.4 * torch.randn(n, 3, size, size, generator=g)
    for i in range(n):
        ch, orient = divmod(int(y[i]), 3)
        x[i, ch] += 1.5 * patterns[orient]
    return (x - x.mean((0, 2, 3), keepdim=True)) / x.std((0, 2, 3), keepdim=True), y


def conv_block(cin, cout, groups=4):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.GroupNorm(groups, cout), nn.SiLU())


class GNNet(nn.Module):
    def __init__(self, width=16, num_classes=NUM_CLASSES):
        super().__init__()
        self.stem = conv_block(3, width)
        self.stage1 = nn.Sequential(conv_block(width, width), nn.MaxPool2d(2))
        self.stage2 = nn.Sequential(conv_block(width, 2 * width), conv_block(2 * width, 2 * width), nn.MaxPool2d(2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        x = self.stage2(self.stage1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def build_model():
    return GNNet()


def get_batch():
    return stripes_dataset(32)


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)


def make_scheduler(opt):
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=TOTAL_STEPS, pct_start=0.25)
