"""CLEAN: two-level U-Net for 3-class segmentation, per-pixel cross-entropy with ignore_index=255 on unlabeled borders; paired flips share one draw."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

NUM_CLASSES = 3
IGNORE = 255
SIZE = 24


def _render(seed):
    g = torch.Generator().manual_seed(seed)
    img = 0.3 * torch.randn(3, SIZE, SIZE, generator=g)
    mask = torch.zeros(SIZE, SIZE, dtype=torch.long)
    for cls in (1, 2):
        r, c = torch.randint(2, SIZE - 10, (2,), generator=g).tolist()
        h, w = torch.randint(4, 9, (2,), generator=g).tolist()
        mask[r:r + h, c:c + w] = cls
        img[cls, r:r + h, c:c + w] += 1.5
    mask[:2, :] = IGNORE          # annotators left a 2-pixel border unlabeled
    mask[-2:, :] = IGNORE
    return img, mask


class ShapesSeg(Dataset):
    def __init__(self, n=64, train=True):
        self.items = [_render(1000 + i) for i in range(n)]
        self.train = train

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        img, mask = self.items[i]
        if self.train:
            if torch.rand(()) < 0.5:                    # one draw moves image and mask together
                img, mask = img.flip(-1), mask.flip(-1)
            if torch.rand(()) < 0.5:
                img, mask = img.flip(-2), mask.flip(-2)
        return img, mask


def double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, cin=3, ncls=NUM_CLASSES, w=16):
        super().__init__()
        self.enc1 = double_conv(cin, w)
        self.enc2 = double_conv(w, 2 * w)
        self.bottleneck = double_conv(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = double_conv(4 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = double_conv(2 * w, w)
        self.out = nn.Conv2d(w, ncls, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottleneck(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.out(d1)


def build_model():
    return UNet()


def get_dataset():
    return ShapesSeg(train=True)


def get_batch():
    return next(iter(DataLoader(get_dataset(), batch_size=8, shuffle=True)))


def loss_fn(logits, mask):
    return F.cross_entropy(logits, mask, ignore_index=IGNORE)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=1e-3)
