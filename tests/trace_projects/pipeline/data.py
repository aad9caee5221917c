"""Data for two small projects: road-scene segmentation with paired augmentation, and a bird-species
classifier whose splits come from CSV-like records with class names."""
import random

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

SIZE = 24
SPECIES = ["robin", "crow", "heron", "owl", "wren", "finch"]


# ---------------------------------------------------------------------------- segmentation
def render(seed):
    g = torch.Generator().manual_seed(seed)
    img = 0.2 * torch.randn(3, SIZE, SIZE, generator=g)
    mask = torch.zeros(SIZE, SIZE, dtype=torch.long)
    for cls in (1, 2):
        r, c = torch.randint(0, SIZE - 8, (2,), generator=g).tolist()
        h, w = torch.randint(3, 8, (2,), generator=g).tolist()
        mask[r:r + h, c:c + w] = cls
        img[cls, r:r + h, c:c + w] += 1.5
    return img, mask


class RandomCropFlip:
    """Pad-and-crop plus a horizontal flip. `paired=True` draws once for image and mask."""

    def __init__(self, pad=4, paired=True):
        self.pad, self.paired = pad, paired

    def _params(self):
        return random.randint(0, 2 * self.pad), random.randint(0, 2 * self.pad), random.random() < 0.5

    def _apply(self, t, params, fill):
        top, left, flip = params
        p = self.pad
        t = F.pad(t.float(), (p, p, p, p), value=fill)[..., top:top + SIZE, left:left + SIZE]
        return t.flip(-1) if flip else t

    def __call__(self, img, mask):
        p_img = self._params()
        p_mask = p_img if self.paired else self._params()
        return self._apply(img, p_img, 0.0), self._apply(mask, p_mask, 255).long()


class Scenes(Dataset):
    def __init__(self, n, seed, transform=None):
        self.items = [render(seed * 1000 + i) for i in range(n)]
        self.transform = transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        img, mask = self.items[i]
        if self.transform is not None:
            img, mask = self.transform(img, mask)
        return img, mask


def seg_loaders(paired=True, batch_size=8):
    train = Scenes(64, seed=1, transform=RandomCropFlip(paired=paired))
    val = Scenes(16, seed=2)
    return DataLoader(train, batch_size=batch_size, shuffle=True), DataLoader(val, batch_size=batch_size)


# ---------------------------------------------------------------------------- classification
def records(n, seed):
    """(features, species name) rows, as a CSV reader would give them: raw sensor units."""
    g = torch.Generator().manual_seed(seed)
    centers = 3.0 * torch.randn(len(SPECIES), 12, generator=torch.Generator().manual_seed(0))
    idx = torch.randint(0, len(SPECIES), (n,), generator=g)
    x = 50.0 + 8.0 * (centers[idx] + torch.randn(n, 12, generator=g))
    return [(x[i], SPECIES[int(idx[i])]) for i in range(n)]


def sorted_label_map(rows):
    return {name: i for i, name in enumerate(sorted({name for _, name in rows}))}


def first_seen_label_map(rows):
    m = {}
    for _, name in rows:
        m.setdefault(name, len(m))
    return m


class Birds(Dataset):
    def __init__(self, rows, label_map, mean, std):
        self.rows, self.label_map, self.mean, self.std = rows, label_map, mean, std

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        x, name = self.rows[i]
        return (x - self.mean) / self.std, self.label_map[name]


def bird_loaders(val_map="shared", batch_size=32):
    train_rows, val_rows = records(320, seed=1), records(128, seed=2)
    xs = torch.stack([x for x, _ in train_rows])
    mean, std = xs.mean(0), xs.std(0)
    train_map = sorted_label_map(train_rows)
    vmap = {"shared": train_map, "own_sorted": sorted_label_map(val_rows),
            "first_seen": first_seen_label_map(val_rows)}[val_map]
    train = Birds(train_rows, train_map, mean, std)
    val = Birds(val_rows, vmap, mean, std)
    g = torch.Generator().manual_seed(0)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=g),
            DataLoader(val, batch_size=64))
