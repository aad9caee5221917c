"""augment-alignment: paired transforms that move an image and its dense target differently must
fail naming both transforms; joint transforms, image-only colour changes and per-example labels
must not. Each target is a small segmentation (or keypoint, or classification) project with its
own Dataset and transform code, exposed through get_dataset()."""
import textwrap

import pytest
import torch

from util import entry

CHECK = "augment-alignment"

# A toy road-segmentation project: rendered scenes with rectangles of two classes, a per-pixel
# cross-entropy U-Net-ish model, and a transform applied in __getitem__.
PROJECT = """
import random
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

S = 24

def render(seed):
    g = torch.Generator().manual_seed(seed)
    img = 0.2 * torch.randn(3, S, S, generator=g)
    mask = torch.zeros(S, S, dtype=torch.long)
    for cls in (1, 2):
        r, c = torch.randint(0, S - 8, (2,), generator=g).tolist()
        h, w = torch.randint(3, 8, (2,), generator=g).tolist()
        mask[r:r + h, c:c + w] = cls
        img[cls, r:r + h, c:c + w] += 1.5
    return img, mask

def pad_crop(t, top, left, size, fill):
    p = F.pad(t.float(), (4, 4, 4, 4), value=fill)
    return p[..., top:top + size, left:left + size].to(t.dtype)

class Scenes(Dataset):
    def __init__(self, n=32):
        self.items = [render(100 + i) for i in range(n)]
    def __len__(self):
        return len(self.items)
    def __getitem__(self, i):
        img, mask = self.items[i]
        return self.transform(img, mask)

def build_model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 3, 1))

def get_batch():
    return next(iter(DataLoader(get_dataset(), batch_size=8)))

def loss_fn(logits, mask):
    return F.cross_entropy(logits, mask)
"""


def _target(tmp_path, name, body):
    p = tmp_path / f"{name}.py"
    p.write_text(textwrap.dedent(PROJECT) + textwrap.dedent(body))
    return str(p)


SEPARATE_CROPS = """
class Train(Scenes):
    def transform(self, img, mask):
        t, l = torch.randint(0, 9, (2,)).tolist()
        img = pad_crop(img, t, l, S, 0.0)
        t, l = torch.randint(0, 9, (2,)).tolist()          # BUG: a second draw for the mask
        mask = pad_crop(mask, t, l, S, 0)
        if torch.rand(()) < 0.5:
            img = img.flip(-1)
        if torch.rand(()) < 0.5:                            # BUG: and a second flip draw
            mask = mask.flip(-1)
        return img, mask
def get_dataset(): return Train()
"""

JOINT = """
class Train(Scenes):
    def transform(self, img, mask):
        t, l = torch.randint(0, 9, (2,)).tolist()           # one draw, applied to both
        img, mask = pad_crop(img, t, l, S, 0.0), pad_crop(mask, t, l, S, 255)
        if torch.rand(()) < 0.5:
            img, mask = img.flip(-1), mask.flip(-1)
        if torch.rand(()) < 0.5:
            img, mask = img.flip(-2), mask.flip(-2)
        k = int(torch.randint(0, 4, ()))
        return torch.rot90(img, k, (-2, -1)), torch.rot90(mask, k, (-2, -1))
def get_dataset(): return Train()
"""

COLOUR_ONLY = """
class Train(Scenes):
    def transform(self, img, mask):
        b = 1 + 0.4 * (2 * torch.rand(3, 1, 1) - 1)          # per-channel brightness/contrast jitter
        img = img * b + 0.2 * (2 * torch.rand(3, 1, 1) - 1)
        img = img + 0.1 * torch.randn_like(img)              # and noise
        return img, mask                                      # geometry untouched: the mask stays
def get_dataset(): return Train()
"""


def test_separate_draws_for_image_and_mask_fail_naming_both(tmp_path):
    e = entry(_target(tmp_path, "separate", SEPARATE_CROPS), CHECK)
    assert e["status"] == "fail", e["summary"]
    m = e["metrics"]
    assert m["divergent"] >= 2 and m["worst_target_agreement"] < 0.98
    s = e["summary"]
    assert "image" in s and "mask" in s and "shifted (" in s


def test_joint_flips_crops_rotations_pass(tmp_path):
    e = entry(_target(tmp_path, "joint", JOINT), CHECK)
    assert e["status"] == "pass", e["summary"]
    loader = JOINT.replace("def get_dataset(): return Train()",
                           "def get_dataset(): return DataLoader(Train(), batch_size=4)   # a loader: its dataset")
    loader += "def get_batch(): return next(iter(get_dataset()))\n"
    e = entry(_target(tmp_path, "joint_loader", loader), CHECK)
    assert e["status"] == "pass", e["summary"]
    m = e["metrics"]
    assert m["divergent"] == 0 and m["pairs"].get("consistent", 0) >= 8


def test_colour_jitter_on_the_image_only_passes(tmp_path):
    e = entry(_target(tmp_path, "colour", COLOUR_ONLY), CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["pairs"].get("input-only", 0) >= 8
    assert "only the image's values changed" in e["summary"]


def test_numpy_hwc_dict_items_albumentations_style(tmp_path):
    """Dict items with numpy HWC images (albumentations' convention) and numpy's global RNG."""
    body = """
    class Train(Scenes):
        def __init__(self, joint):
            super().__init__()
            self.joint = joint
        def transform(self, img, mask):
            img, mask = img.permute(1, 2, 0).numpy(), mask.numpy()
            if self.joint:
                if np.random.rand() < 0.5:
                    img, mask = img[::-1], mask[::-1]
            else:
                if np.random.rand() < 0.5:
                    img = img[::-1]
                if np.random.rand() < 0.5:                  # BUG: its own draw
                    mask = mask[::-1]
            return {"image": np.ascontiguousarray(img), "mask": np.ascontiguousarray(mask)}
    JOINT = True
    def get_dataset(): return Train(JOINT)
    def get_batch():
        d = next(iter(DataLoader(get_dataset(), batch_size=8)))
        return d["image"].permute(0, 3, 1, 2), d["mask"]
    """
    e = entry(_target(tmp_path, "np_joint", body), CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["pairs"].get("consistent", 0) >= 1
    e = entry(_target(tmp_path, "np_separate", body.replace("JOINT = True", "JOINT = False")), CHECK)
    assert e["status"] == "fail", e["summary"]
    assert "flipped vertically" in e["summary"] and "image" in e["summary"] and "mask" in e["summary"]


def test_heatmap_target_rotated_with_the_image_passes(tmp_path):
    """Keypoint heatmaps (float maps): rotations by 90 degrees applied to both."""
    body = """
    class Train(Scenes):
        def transform(self, img, mask):
            heat = (mask == 1).float()
            heat = F.avg_pool2d(heat[None, None], 3, 1, 1)[0, 0]
            k = int(torch.randint(0, 4, ()))
            return torch.rot90(img, k, (-2, -1)), torch.rot90(heat, k, (-2, -1))
    def get_dataset(): return Train()
    def loss_fn(out, heat): return F.mse_loss(out[:, 0], heat)
    """
    e = entry(_target(tmp_path, "heat", body), CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["pairs"].get("consistent", 0) >= 4


def test_classification_label_noise_warns_and_mixup_passes(tmp_path):
    body = """
    class Cls(Scenes):
        def transform(self, img, mask):
            y = int(mask.sum()) % 3
            if torch.rand(()) < 0.3:                       # random label noise
                y = int(torch.randint(0, 3, ()))
            return img, y
    def get_dataset(): return Cls()
    def build_model():
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(8, 3))
    """
    e = entry(_target(tmp_path, "noise", body), CHECK)
    assert e["status"] == "warn", e["summary"]
    assert "label" in e["summary"]
    mix = body.replace("""            y = int(mask.sum()) % 3
            if torch.rand(()) < 0.3:                       # random label noise
                y = int(torch.randint(0, 3, ()))
            return img, y""", """            lam = float(torch.rand(()))                    # mixup with another scene
            other = int(torch.randint(0, len(self.items), ()))
            y = lam * F.one_hot(mask.sum() % 3, 3).float() + (1 - lam) * F.one_hot(self.items[other][1].sum() % 3, 3).float()
            return lam * img + (1 - lam) * self.items[other][0], y""")
    e = entry(_target(tmp_path, "mixup", mix), CHECK)
    assert e["status"] == "pass" and "mixing" in e["summary"], e["summary"]


def test_deterministic_dataset_and_no_dataset_skip(tmp_path):
    body = """
    class Plain(Scenes):
        def transform(self, img, mask):
            return img, mask
    def get_dataset(): return Plain()
    """
    e = entry(_target(tmp_path, "plain", body), CHECK)
    assert e["status"] == "skip" and "no random augmentation" in e["summary"]
    e = entry(_target(tmp_path, "nodata", "def get_dataset_not(): pass\n"
                      "def get_batch():\n    return render(0)[0][None], render(0)[1][None]\n"), CHECK)
    assert e["status"] == "skip" and "get_dataset()" in e["summary"]


def test_iterable_dataset_skips_and_bad_dataset_errors(tmp_path):
    body = """
    from torch.utils.data import IterableDataset
    class Stream(IterableDataset):
        def __iter__(self):
            while True:
                yield render(0)
    def get_dataset(): return Stream()
    def get_batch():
        return render(0)[0][None], render(0)[1][None]
    """
    e = entry(_target(tmp_path, "stream", body), CHECK)
    assert e["status"] == "skip" and "IterableDataset" in e["summary"]
    bad = "def get_dataset(): return 3\ndef get_batch():\n    return render(0)[0][None], render(0)[1][None]\n"
    e = entry(_target(tmp_path, "bad", bad), CHECK)
    assert e["status"] == "error" and "get_dataset() returned int" in e["summary"]


def test_fetches_leave_the_callers_rng_alone():
    import random

    import numpy as np
    from mldebug.checks.augment_alignment import fetch

    class Draws:
        def __getitem__(self, i):
            return torch.rand(1), random.random(), np.random.rand()

    torch.manual_seed(3)
    random.seed(3)
    np.random.seed(3)
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    a = fetch(Draws(), 0, seed=1)
    b = fetch(Draws(), 0, seed=2)
    assert float(a[0]) != float(b[0])
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[1]
    assert (np.random.get_state()[1] == before[2]).all()


@pytest.mark.parametrize("shift", [(6, 0), (-3, 5)])
def test_transform_estimate_recovers_shift_and_flip(shift):
    from mldebug.checks.augment_alignment import compare_pair
    g = torch.Generator().manual_seed(0)
    big = torch.randn(3, 40, 40, generator=g)
    mbig = (big[0] > 0.5).long()
    dy, dx = shift
    xa, ma = big[:, 8:32, 8:32], mbig[8:32, 8:32]
    xb, mb = big[:, 8 - dy:32 - dy, 8 - dx:32 - dx].flip(-1), mbig[8 - dy:32 - dy, 8 - dx:32 - dx].flip(-1)
    r = compare_pair(xa, ma, xb, mb)
    assert r["kind"] == "consistent" and r["target_agree"] == 1.0
    assert "flipped horizontally" in r["input"]
    r = compare_pair(xa, ma, xb, ma)                       # the mask did not move
    assert r["kind"] == "divergent" and r["target"] == "unchanged"


def test_joint_scale_and_free_rotation_never_fail(tmp_path):
    """RandomResizedCrop-like scaling and rotation by any angle, applied jointly: transforms outside what
    the check estimates must leave it undecided (pass or skip), never fail."""
    body = """
    class Train(Scenes):
        def transform(self, img, mask):
            ang = float(torch.rand(()) * 0.8 - 0.4)
            sc = float(0.7 + 0.6 * torch.rand(()))
            c, s_ = torch.cos(torch.tensor(ang)) * sc, torch.sin(torch.tensor(ang)) * sc
            theta = torch.tensor([[c, -s_, 0.1 * float(torch.randn(()))], [s_, c, 0.0]]).float()[None]
            grid = F.affine_grid(theta, (1, 3, S, S), align_corners=False)
            img = F.grid_sample(img[None], grid, align_corners=False)[0]
            mask = F.grid_sample(mask[None, None].float(), grid, mode="nearest", align_corners=False)[0, 0].long()
            return img, mask
    def get_dataset(): return Train()
    """
    e = entry(_target(tmp_path, "affine", body), CHECK)
    assert e["status"] in ("pass", "skip"), e["summary"]
    assert e["metrics"].get("divergent", 0) == 0
