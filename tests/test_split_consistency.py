"""split-consistency: evaluation batches from another preprocessing, label map or overlapping the
training split must fail; correct validation sets (their own equal mapping, imbalanced, with
train-only augmentation) must pass. Each target is a small project: a raw dataset, a label map
built from class names, a transform per split."""
import textwrap

import pytest

from util import cli, entry

CHECK = "split-consistency"

# A bird-species classifier: raw feature vectors in sensor units, class names as strings,
# each split standardised with the training statistics.
PROJECT = """
import torch, torch.nn as nn, torch.nn.functional as F
SPECIES = ["robin", "crow", "heron", "owl", "wren", "finch"]
D = 12
CENTERS = 3.0 * torch.randn(len(SPECIES), D, generator=torch.Generator().manual_seed(0))

def raw_split(n, seed, weights=None):
    g = torch.Generator().manual_seed(seed)
    w = torch.ones(len(SPECIES)) if weights is None else torch.tensor(weights, dtype=torch.float)
    idx = torch.multinomial(w, n, replacement=True, generator=g)
    x = 50.0 + 8.0 * (CENTERS[idx] + torch.randn(n, D, generator=g))      # raw sensor units
    return x, [SPECIES[i] for i in idx.tolist()]

def sorted_map(names):
    return {c: i for i, c in enumerate(sorted(set(names)))}

TX, TN = raw_split(400, seed=1)
MEAN, STD = TX.mean(0), TX.std(0)

def build_model():
    return nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, len(SPECIES)))

def get_batch():
    m = sorted_map(TN)
    return (TX[:96] - MEAN) / STD, torch.tensor([m[c] for c in TN[:96]])

def loss_fn(logits, y):
    return F.cross_entropy(logits, y)

def make_optimizer(params):
    return torch.optim.Adam(params, lr=3e-3)
"""


def _target(tmp_path, name, body):
    p = tmp_path / f"{name}.py"
    p.write_text(textwrap.dedent(PROJECT) + textwrap.dedent(body))
    return str(p)


def test_val_label_map_in_first_appearance_order_fails_naming_the_mapping(tmp_path):
    body = """
    VX, VN = raw_split(120, seed=2)
    def first_seen_map(names):
        m = {}
        for c in names:
            m.setdefault(c, len(m))
        return m
    def get_val_batch():
        m = first_seen_map(VN)                      # BUG: not the training map
        return (VX - MEAN) / STD, torch.tensor([m[c] for c in VN])
    """
    e = entry(_target(tmp_path, "val_map", body), CHECK)
    assert e["status"] == "fail", e["summary"]
    assert "label ids differ between training and evaluation" in e["summary"]
    # the mapping it names is the real one: val id of a species -> its training id
    import importlib.util
    spec = importlib.util.spec_from_file_location("vm", str(tmp_path / "val_map.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    vmap, tmap = mod.first_seen_map(mod.VN), mod.sorted_map(mod.TN)
    truth = {vmap[c]: tmap[c] for c in vmap if vmap[c] != tmap[c]}
    seen = {int(k): v for k, v in e["metrics"]["confusion"]["remapped"].items()}
    assert seen == truth
    for a, b in truth.items():
        assert f"{a}->{b}" in e["summary"]


def test_val_with_its_own_equal_mapping_passes(tmp_path):
    body = """
    VX, VN = raw_split(120, seed=2)
    def get_val_batch():
        m = sorted_map(VN)                          # its own map, but the same classes: the same ids
        return (VX - MEAN) / STD, torch.tensor([m[c] for c in VN])
    """
    e = entry(_target(tmp_path, "val_own_map", body), CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["confusion"]["remapped"] == {}
    assert e["metrics"]["train_accuracy"] >= 0.9


def test_val_not_normalised_fails(tmp_path):
    body = """
    VX, VN = raw_split(120, seed=2)
    def get_val_batch():
        m = sorted_map(VN)
        return VX, torch.tensor([m[c] for c in VN])     # BUG: raw units, no (x - MEAN) / STD
    """
    e = entry(_target(tmp_path, "val_raw", body), CHECK)
    assert e["status"] == "fail", e["summary"]
    assert "preprocessed differently" in e["summary"]
    st = e["metrics"]["statistics"]["inputs"]
    assert st["moved_share"] >= 0.5 and st["median_shift_std"] > 3.0


def test_val_overlapping_train_fails(tmp_path):
    body = """
    def get_val_batch():
        m = sorted_map(TN)
        idx = slice(60, 140)                        # BUG: overlaps the training rows [0, 96)
        return (TX[idx] - MEAN) / STD, torch.tensor([m[c] for c in TN[idx]])
    """
    e = entry(_target(tmp_path, "val_overlap", body), CHECK)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["leakage"]["val_in_train"] == 36
    assert "exact copies of training examples" in e["summary"]


def test_imbalanced_val_passes(tmp_path):
    body = """
    VX, VN = raw_split(120, seed=3, weights=[12, 6, 1, 1, 3, 1])    # mostly robins and crows
    def get_val_batch():
        m = sorted_map(TN)
        return (VX - MEAN) / STD, torch.tensor([m[c] for c in VN])
    """
    e = entry(_target(tmp_path, "val_imbalanced", body), CHECK)
    assert e["status"] == "pass", e["summary"]


def test_train_only_augmentation_passes(tmp_path):
    """Training inputs with noise and feature dropout (train-only augmentation) against clean val."""
    body = """
    def get_batch():
        m = sorted_map(TN)
        g = torch.Generator().manual_seed(5)
        x = (TX[:96] - MEAN) / STD
        x = x + 0.3 * torch.randn(x.shape, generator=g)                 # noise
        x = x * (torch.rand(x.shape, generator=g) > 0.1)                # feature dropout
        return x, torch.tensor([m[c] for c in TN[:96]])
    VX, VN = raw_split(120, seed=2)
    def get_val_batch():
        m = sorted_map(TN)
        return (VX - MEAN) / STD, torch.tensor([m[c] for c in VN])
    """
    e = entry(_target(tmp_path, "train_aug", body), CHECK)
    assert e["status"] == "pass", e["summary"]


def test_small_batches_do_not_false_alarm(tmp_path):
    """8 training and 8 evaluation examples: statistics noisy, the thresholds grow with the standard errors."""
    body = """
    def get_batch():
        m = sorted_map(TN)
        return (TX[:8] - MEAN) / STD, torch.tensor([m[c] for c in TN[:8]])
    VX, VN = raw_split(8, seed=2)
    def get_val_batch():
        m = sorted_map(TN)
        return (VX - MEAN) / STD, torch.tensor([m[c] for c in VN])
    """
    e = entry(_target(tmp_path, "small", body), CHECK)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["statistics"]["inputs"]["moved_share"] < 0.5


def test_image_val_not_scaled_fails_and_scaled_passes(tmp_path):
    """Images: training divides by 255 and standardises per channel; the planted val forgets /255."""
    body = """
    import torch.nn as nn
    def images(n, seed):
        g = torch.Generator().manual_seed(seed)
        y = torch.randint(0, 3, (n,), generator=g)
        img = torch.randint(0, 256, (n, 3, 8, 8), generator=g).float()
        img[torch.arange(n), y] = 255.0
        return img, y
    CM, CS = torch.tensor([0.6, 0.6, 0.6]).view(1, 3, 1, 1), torch.tensor([0.3, 0.3, 0.3]).view(1, 3, 1, 1)
    def build_model():
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(8, 3))
    def get_batch():
        x, y = images(32, 1)
        return (x / 255 - CM) / CS, y
    def get_val_batch():
        x, y = images(32, 2)
        return (x - CM) / CS, y                       # BUG: forgot / 255
    """
    e = entry(_target(tmp_path, "img_val", body), CHECK)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["statistics"]["inputs"]["median_std_ratio"] > 100
    good = body.replace("return (x - CM) / CS, y                       # BUG: forgot / 255",
                        "return (x / 255 - CM) / CS, y")
    e = entry(_target(tmp_path, "img_val_ok", good), CHECK)
    assert e["status"] == "pass", e["summary"]


def test_no_val_batch_skips(tmp_path):
    e = entry(_target(tmp_path, "noval", ""), CHECK)
    assert e["status"] == "skip" and "get_val_batch()" in e["summary"]


def test_bad_val_batch_is_one_line_error(tmp_path):
    e = entry(_target(tmp_path, "badval", "def get_val_batch():\n    return torch.zeros(4, 12)\n"), CHECK)
    assert e["status"] == "error"
    assert "get_val_batch() must return (inputs, targets)" in e["summary"]


def test_non_callable_get_val_batch_exits_2(tmp_path):
    p = _target(tmp_path, "notfn", "get_val_batch = 3\n")
    r = cli("split_consistency.py", p)
    assert r.returncode == 2
    assert "get_val_batch must be a function" in r.stderr and "def get_val_batch()" in r.stderr


@pytest.mark.parametrize("extra", ["", "--json"])
def test_script_runs(tmp_path, extra):
    body = """
    VX, VN = raw_split(60, seed=2)
    def get_val_batch():
        m = sorted_map(VN)
        return (VX - MEAN) / STD, torch.tensor([m[c] for c in VN])
    """
    args = [_target(tmp_path, "script", body)] + ([extra] if extra else [])
    r = cli("split_consistency.py", *args)
    assert r.returncode == 0, r.stdout + r.stderr
