"""init-loss, overfit-batch and update-ratio: planted bugs they must flag, clean targets they must pass."""
import pytest

from util import entry

CLEAN = ["mlp_classifier", "cnn_bn", "regression"]


@pytest.mark.parametrize("target", CLEAN)
@pytest.mark.parametrize("check_id", ["init-loss", "update-ratio", "overfit-batch"])
def test_clean_targets_pass(target, check_id):
    e = entry(target, check_id)
    assert e["status"] == "pass", e["summary"]


@pytest.mark.parametrize("target, check_id, needle", [
    ("bug_huge_final_init", "init-loss", "overconfident"),
    ("bug_sign_flip", "init-loss", "sign"),
    ("bug_sign_flip", "overfit-batch", "sign"),
    ("bug_tanh_squashed_logits", "overfit-batch", "outputs cannot grow"),
    ("bug_lr_zero", "update-ratio", "learning rate is 0"),
    ("bug_lr_zero", "overfit-batch", "optimizer settings"),
    ("bug_lr_ten", "update-ratio", "far too high"),
    ("bug_lr_ten", "overfit-batch", "optimizer settings"),
    ("bug_head_only_optimizer", "update-ratio", "not in the optimizer"),
    ("bug_optimizer_reads_params_twice", "update-ratio", "reads `params` more than once"),
    ("bug_huge_weight_decay", "update-ratio", "weight decay"),
    ("bug_unused_layer", "update-ratio", "never changed"),
])
def test_planted_bugs_fail(target, check_id, needle):
    e = entry(target, check_id)
    assert e["status"] == "fail", e["summary"]
    assert needle in e["summary"]


def test_init_loss_reports_measured_expected_ratio():
    m = entry("mlp_classifier", "init-loss")["metrics"]
    assert m["kind"] == "cross_entropy" and m["num_classes"] == 10
    assert abs(m["expected"] - 2.302585) < 1e-4
    assert 0.9 < m["ratio"] < 1.2 and m["measured"] == pytest.approx(m["ratio"] * m["expected"], rel=1e-6)


def test_overfit_stops_early_and_honours_cap():
    e = entry("cnn_bn", "overfit-batch")
    assert e["metrics"]["steps"] < 100  # stops as soon as it succeeds
    e = entry("bug_lr_zero", "overfit-batch", options={"overfit_steps": 20})
    assert e["metrics"]["step_cap"] == 20 and e["metrics"]["steps"] <= 20


def test_update_ratio_per_layer_table():
    m = entry("mlp_classifier", "update-ratio")["metrics"]
    assert set(m["per_layer"]) == {"0.weight", "2.weight", "4.weight"}
    assert all(-4 < v < -1 for v in m["per_layer"].values())


def test_unreduced_loss_calls_are_read_as_their_mean():
    """A loss built from reduction='none' calls (a VAE's per-pixel BCE summed per example) is a
    normal loss: init-loss reads each call's mean, overfit-batch assumes no known floor."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from mldebug.api import doctor, target_from_objects

    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 20, generator=g)

    def loss_fn(out, y):
        return F.binary_cross_entropy_with_logits(out, y, reduction="none").sum(1).mean()

    tgt = target_from_objects(build_model=lambda: nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 20)),
                              batch=(x, x), loss_fn=loss_fn)
    r = {c["id"]: c for c in doctor(tgt, checks=["init-loss", "overfit-batch"])["checks"]}
    assert r["init-loss"]["status"] == "pass", r["init-loss"]["summary"]
    assert r["init-loss"]["metrics"]["kind"] == "binary_cross_entropy_with_logits"
    assert r["overfit-batch"]["status"] in ("pass", "warn"), r["overfit-batch"]["summary"]


def test_bias_cancelled_by_a_difference_of_two_passes_warns_not_fails():
    """A Siamese tower's last bias cancels in the distance between the two passes: its gradient is
    exactly zero by construction, harmless. A weight matrix that never moves still fails."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from mldebug.api import doctor, target_from_objects

    class Siamese(nn.Module):
        def __init__(self):
            super().__init__()
            self.tower = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 8))

        def forward(self, a, b):
            return F.pairwise_distance(self.tower(a), self.tower(b))

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(32, 12, generator=g), torch.randn(32, 12, generator=g)
    same = (torch.rand(32, generator=g) < 0.5).float()
    loss = lambda d, s: (s * d.pow(2) + (1 - s) * F.relu(1.0 - d).pow(2)).mean()  # noqa: E731
    e = doctor(target_from_objects(build_model=Siamese, batch=((a, b), same), loss_fn=loss),
               checks=["update-ratio"])["checks"][0]
    assert e["status"] == "warn" and "tower.2.bias" in e["summary"] and "harmless" in e["summary"], e["summary"]
