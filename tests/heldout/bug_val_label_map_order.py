"""BUG split-consistency: the validation loader builds its label map in order of first appearance while training sorts the class names: val ids are permuted."""
import torch
import torch.nn as nn
import torch.nn.functional as F

SPECIES = ["robin", "crow", "heron", "owl", "wren", "finch"]
D = 16


def _raw(n, seed):
    g = torch.Generator().manual_seed(seed)
    centers = 2.5 * torch.randn(len(SPECIES), D, generator=torch.Generator().manual_seed(0))
    idx = torch.randint(0, len(SPECIES), (n,), generator=g)
    return centers[idx] + torch.randn(n, D, generator=g), [SPECIES[i] for i in idx.tolist()]


def train_label_map(names):
    return {c: i for i, c in enumerate(sorted(set(names)))}


def val_label_map(names):
    mapping = {}
    for c in names:                                     # BUG: first-appearance order, not sorted
        mapping.setdefault(c, len(mapping))
    return mapping


_TX, _TN = _raw(300, seed=1)
_VX, _VN = _raw(120, seed=2)
_TMAP, _VMAP = train_label_map(_TN), val_label_map(_VN)


def build_model():
    return nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, len(SPECIES)))


def get_batch():
    return _TX[:96], torch.tensor([_TMAP[c] for c in _TN[:96]])


def get_val_batch():
    return _VX[:96], torch.tensor([_VMAP[c] for c in _VN[:96]])


def loss_fn(logits, y):
    return F.cross_entropy(logits, y)


def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
