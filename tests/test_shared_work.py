"""The doctor's quick checks share work: one copy's forward + backward at init, one eval-mode
tapped forward for the dependency checks, update-ratio's first steps for reproducibility.

A regression (a check that makes its own copy, forward or backward again) shows here as a count
above the budget, and the shared path must give the same verdicts as each check on its own.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mldebug import registry
from mldebug.api import target_from_objects
from mldebug.bench import GPT, _lm_loss, _tokens
from mldebug.context import Context, default_forward
from mldebug.runner import run_checks

# One doctor run without the expensive checks on a small causal LM, counted after the preflight
# (which makes 1 copy and 1 forward). Before the sharing (ours: issue 14, tests/test_shared_work.py
# counted on main at a2b755b): 13 copies, 21 forwards, 11 backward passes from the loss.
# Now: batch-sanity/loss-input/init-loss 1 copy + 1 forward (init_eval, with loss-input's recorder
# on), init-symmetry..activations 1 + 1 + 1 backward (the probe), batch-independence + causality +
# eval-mode 1 copy + 3 forwards (one tapped forward, eval-mode's two), lr-schedule 1 copy (no
# forward), update-ratio 0 copies + 2 forwards + 2 backward (it settles after 3 steps and takes
# step 0 from the probe), reproducibility 2 copies + 4 forwards + 2 backward (one no-grad forward and
# one 2-step run; the other run is update-ratio's, the other no-grad forward init_eval's).
MAX_COPIES = 6
MAX_FORWARDS = 11
MAX_LOSS_BACKWARDS = 5
# The checks this budget covers. Checks added since (target-offset, silent-broadcast: 1 copy and
# 1 forward each on this model) don't share yet; add them here once they do.
COVERED = ("batch-sanity", "init-symmetry", "loss-input", "init-loss", "grad-flow", "nan-source", "activations",
           "batch-independence", "causality", "eval-mode", "lr-schedule", "update-ratio", "reproducibility")


class _Counter:
    def __init__(self):
        self.forwards = 0
        self.backwards = 0

    def forward(self, model, inputs):
        self.forwards += 1
        return default_forward(model, inputs)

    def loss(self, out, y):
        loss = _lm_loss(out, y)
        if loss.requires_grad:
            loss.register_hook(self._count)
        return loss

    def _count(self, grad):
        self.backwards += 1


def _target(counter):
    x, y = _tokens(4, 16, 64)
    return target_from_objects(build_model=lambda: GPT(vocab=64, d=32, layers=2, heads=2, max_len=64),
                               get_batch=lambda: (x, y), loss_fn=counter.loss, forward=counter.forward,
                               causal_dim=1, name="tiny-gpt")


def _quick():
    return [s for s in registry.ordered() if s.in_doctor and not s.expensive]


def _doctor(share: bool, specs=None):
    counter = _Counter()
    ctx = Context(_target(counter))
    ctx.preflight()
    ctx.share_models = share
    copies0, forwards0, backwards0 = ctx.copies_made, counter.forwards, counter.backwards
    report = run_checks(ctx, specs or _quick())
    used = (ctx.copies_made - copies0, counter.forwards - forwards0, counter.backwards - backwards0)
    return report, used


def test_quick_checks_share_copies_forwards_and_backwards():
    specs = [s for s in _quick() if s.id in COVERED]
    assert {s.id for s in specs} == set(COVERED)
    report, (copies, forwards, backwards) = _doctor(share=True, specs=specs)
    assert report["status"] == "pass", [(c["id"], c["summary"]) for c in report["checks"] if c["status"] != "pass"]
    assert copies <= MAX_COPIES, f"{copies} model copies in one doctor run (budget {MAX_COPIES})"
    assert forwards <= MAX_FORWARDS, f"{forwards} forwards in one doctor run (budget {MAX_FORWARDS})"
    assert backwards <= MAX_LOSS_BACKWARDS, f"{backwards} backward passes from the loss (budget {MAX_LOSS_BACKWARDS})"
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["update-ratio"]["metrics"]["stopped"] == "settled"
    assert any("update-ratio's first 2 steps" in d for d in by_id["reproducibility"]["_details"])


def test_shared_and_unshared_runs_agree():
    """Every verdict and the measured numbers are the same with each check making its own copies."""
    shared, used_shared = _doctor(share=True)
    alone, used_alone = _doctor(share=False)
    assert [(c["id"], c["status"]) for c in shared["checks"]] == [(c["id"], c["status"]) for c in alone["checks"]]
    s = {c["id"]: c["metrics"] for c in shared["checks"]}
    a = {c["id"]: c["metrics"] for c in alone["checks"]}
    assert s["update-ratio"]["per_layer"] == a["update-ratio"]["per_layer"]
    assert s["update-ratio"]["loss"] == a["update-ratio"]["loss"]
    assert s["reproducibility"]["train_losses"] == a["reproducibility"]["train_losses"]
    assert s["reproducibility"]["init_loss"] == a["reproducibility"]["init_loss"]
    for cid in ("batch-independence", "causality"):
        assert s[cid]["max_leak"] == a[cid]["max_leak"] == 0.0
    assert s["init-symmetry"]["per_tensor"] == a["init-symmetry"]["per_tensor"]
    assert s["grad-flow"]["rel_grad_norm"] == a["grad-flow"]["rel_grad_norm"]
    assert used_shared[0] < used_alone[0] and used_shared[2] < used_alone[2]


def test_update_ratio_settles_early_only_by_default():
    torch.manual_seed(0)
    x, y = torch.randn(32, 16), torch.randint(0, 4, (32,))
    t = target_from_objects(build_model=lambda: nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)),
                            get_batch=lambda: (x, y), loss_fn=F.cross_entropy)
    spec = registry.load_all()["update-ratio"]
    for options, steps in (({}, 3), ({"ratio_steps": 5}, 5)):
        ctx = Context(t, options=options)
        ctx.preflight()
        rep = run_checks(ctx, [spec])["checks"][0]
        assert rep["status"] == "pass" and rep["metrics"]["steps"] == steps, (options, rep["metrics"])


class _NoModes(nn.Module):
    """A forward that refuses to run under a TorchFunctionMode (the probe's instrumentation)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        from torch.overrides import _get_current_function_mode_stack
        if _get_current_function_mode_stack():
            raise RuntimeError("no modes please")
        return self.fc(x)


def test_a_failing_probe_leaves_the_sharing_checks_on_their_own_forward():
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    ctx = Context(target_from_objects(build_model=_NoModes, get_batch=lambda: (x, y), loss_fn=F.cross_entropy))
    ctx.preflight()
    specs = [registry.load_all()[i] for i in ("init-symmetry", "grad-flow", "update-ratio", "reproducibility")]
    got = {c["id"]: c["status"] for c in run_checks(ctx, specs)["checks"]}
    assert got == {"init-symmetry": "pass", "grad-flow": "error", "update-ratio": "pass", "reproducibility": "pass"}


class _FrozenBackbone(nn.Module):
    """A train() override that keeps a frozen backbone's BatchNorm in eval: the model as built
    (every module in train mode) and the model after train() run different forwards."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU())
        with torch.no_grad():
            self.backbone[1].running_mean.fill_(0.5)
        for p in self.backbone.parameters():
            p.requires_grad = False
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(16, 3))

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(self, x):
        return self.head(self.backbone(x))


def test_reproducibility_shares_no_forward_that_differs_from_its_own():
    torch.manual_seed(0)
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    ctx = Context(target_from_objects(build_model=_FrozenBackbone, get_batch=lambda: (x, y), loss_fn=F.cross_entropy))
    ctx.preflight()
    rep = {c["id"]: c for c in run_checks(ctx, _quick())["checks"]}["reproducibility"]
    assert rep["status"] != "fail" and "forward" not in rep["metrics"]["differs"], rep["summary"]
