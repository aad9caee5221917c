"""No side effects: after any check, and after the whole doctor, the caller's model (parameters,
buffers such as BatchNorm running stats, train/eval mode, grads), optimizer state, batch, global
RNG states (torch, CUDA, numpy, random), torch switches and files are exactly as before.

Parametrized over `registry.ordered()`, so checks added later are covered automatically.
"""
import copy
import os
import random

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mldebug import registry
from mldebug.api import doctor

VOCAB, T, B = 11, 12, 16


class CausalConvLM(nn.Module):
    """Token ids -> next-token logits through a left-padded conv, BatchNorm and dropout."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 16)
        self.conv = nn.Conv1d(16, 16, kernel_size=3)
        self.bn = nn.BatchNorm1d(16)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(16, VOCAB)

    def forward(self, ids):                       # ids: (B, T) int64
        h = self.emb(ids).transpose(1, 2)         # (B, 16, T)
        h = self.conv(F.pad(h, (2, 0)))           # (B, 16, T), position t sees t-2..t
        h = self.drop(torch.relu(self.bn(h)))     # (B, 16, T)
        return self.head(h.transpose(1, 2))       # (B, T, VOCAB)


def _loss(out, y):
    return F.cross_entropy(out.reshape(-1, VOCAB), y.reshape(-1))


def _make_opt(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)


def _make_sched(opt):
    return torch.optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.5)


def _snapshot_rng():
    st = {"torch": torch.get_rng_state().clone(), "random": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        st["cuda"] = [s.clone() for s in torch.cuda.get_rng_state_all()]
    return st


def _same_rng(a, b):
    assert torch.equal(a["torch"], b["torch"]), "torch global RNG changed"
    assert a["random"] == b["random"], "python random state changed"
    assert a["numpy"][0] == b["numpy"][0] and np.array_equal(a["numpy"][1], b["numpy"][1]) \
        and a["numpy"][2:] == b["numpy"][2:], "numpy RNG changed"
    if "cuda" in a or "cuda" in b:
        assert all(torch.equal(x, y) for x, y in zip(a["cuda"], b["cuda"])), "CUDA RNG changed"


def _listing(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            st = os.stat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns)
    return out


def _torch_switches():
    return (torch.is_grad_enabled(), torch.get_default_dtype(), torch.are_deterministic_algorithms_enabled(),
            torch.backends.cudnn.benchmark, torch.is_anomaly_enabled(), torch.get_num_threads())


@pytest.fixture
def live(tmp_path, monkeypatch):
    """A live model mid-training (momentum state, moved BN stats, a grad left on it), its optimizer and batch."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("user file\n")
    torch.manual_seed(1)
    model = CausalConvLM()
    ids = torch.randint(0, VOCAB, (B, T + 1))
    x, y = ids[:, :-1].clone(), ids[:, 1:].clone()
    opt = _make_opt(model.parameters())
    for _ in range(2):  # real state: momentum buffers, BN running stats, num_batches_tracked
        opt.zero_grad()
        _loss(model(x), y).backward()
        opt.step()
    model.eval()  # the caller left it in eval mode: a check must not flip it
    # seed the global generators to something arbitrary, as a user's program would
    torch.manual_seed(1234)
    random.seed(99)
    np.random.seed(7)
    return model, opt, (x, y), tmp_path


def _state(model, opt, batch, root):
    return {
        "params": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "grads": {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "training": [m.training for m in model.modules()],
        "dropout": [m.p for m in model.modules() if isinstance(m, nn.Dropout)],
        "opt": copy.deepcopy(opt.state_dict()),
        "batch": [t.clone() for t in batch],
        "rng": _snapshot_rng(),
        "files": _listing(root),
        "switches": _torch_switches(),
    }


def _assert_same(before, after):
    for k, v in before["params"].items():
        assert torch.equal(v, after["params"][k]), f"model state {k} changed"
    for n, g in before["grads"].items():
        h = after["grads"][n]
        assert (g is None and h is None) or torch.equal(g, h), f"grad of {n} changed"
    assert before["requires_grad"] == after["requires_grad"]
    assert before["training"] == after["training"], "train/eval mode changed"
    assert before["dropout"] == after["dropout"], "dropout probability changed"
    ob, oa = before["opt"], after["opt"]
    assert ob["param_groups"] == oa["param_groups"], "optimizer param groups changed"
    assert ob["state"].keys() == oa["state"].keys()
    for i, st in ob["state"].items():
        for k, v in st.items():
            w = oa["state"][i][k]
            assert torch.equal(v, w) if isinstance(v, torch.Tensor) else v == w, f"optimizer state {i}.{k} changed"
    for a, b in zip(before["batch"], after["batch"]):
        assert torch.equal(a, b), "batch changed"
    _same_rng(before["rng"], after["rng"])
    assert before["files"] == after["files"], "files in the working directory changed"
    assert before["switches"] == after["switches"], "torch switches changed"


def _run(model, opt, batch, checks):
    x, y = batch
    return doctor(model=model, get_batch=lambda: (x, y),  # the caller's own tensors, not copies
                  loss_fn=_loss, make_optimizer=_make_opt, make_scheduler=_make_sched,
                  causal_dim=1, total_steps=1000, checks=checks,
                  options={"overfit_steps": 30, "ratio_steps": 3})


ALL_IDS = [s.id for s in registry.ordered()]


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_check_leaves_no_trace(live, check_id):
    model, opt, batch, root = live
    before = _state(model, opt, batch, root)
    rep = _run(model, opt, batch, [check_id])
    assert rep["checks"][0]["id"] == check_id
    assert "ml-debug bug" not in rep["checks"][0]["summary"], rep["checks"][0]["summary"]
    _assert_same(before, _state(model, opt, batch, root))


def test_whole_doctor_leaves_no_trace(live):
    model, opt, batch, root = live
    before = _state(model, opt, batch, root)
    rep = _run(model, opt, batch, None)
    assert len(rep["checks"]) == len([s for s in registry.ordered() if s.in_doctor])
    _assert_same(before, _state(model, opt, batch, root))


def test_file_target_leaves_no_trace(tmp_path, monkeypatch):
    """A target file: the doctor neither writes next to it nor in the working directory."""
    from conftest import zoo
    import shutil
    src = tmp_path / "t"
    src.mkdir()
    for name in ("mlp_classifier.py", "_data.py"):
        shutil.copy(zoo(name[:-3]), src / name)
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(5)
    rng, files = _snapshot_rng(), _listing(tmp_path)
    doctor(str(src / "mlp_classifier.py"), checks=["init-loss", "update-ratio"])
    _same_rng(rng, _snapshot_rng())
    # python may write __pycache__ for the copied modules; nothing else
    assert {k: v for k, v in _listing(tmp_path).items() if "__pycache__" not in k} == files


def test_runner_catches_a_check_that_mutates_in_place(live):
    """The guard itself: a check that trains ctx.pristine or edits the batch is reported and undone."""
    from mldebug.registry import REGISTRY, Result, check

    @check("zz-test-mutator", "test only: mutates the pristine model and the batch", order=10_000,
           in_doctor=False)
    def mutator(ctx):
        with torch.no_grad():
            next(ctx.pristine.parameters()).add_(1.0)
        ctx.inputs.zero_()
        return Result("pass", "did bad things")

    try:
        model, opt, batch, root = live
        x, y = batch
        rep = doctor(model=model, batch=(x, y), loss_fn=_loss, checks=["zz-test-mutator", "init-loss"])
        e = rep.check("zz-test-mutator")
        assert e["status"] == "error" and "changed the model's" in e["summary"] and "the batch" in e["summary"]
        # restored before the next check ran: init-loss saw the real batch and model
        assert rep.check("init-loss")["status"] == "pass"
    finally:
        REGISTRY.pop("zz-test-mutator", None)


def test_guard_treats_nan_as_unchanged():
    """A batch holding NaN (a planted data bug) is not mistaken for one a check changed."""
    x = torch.randn(16, 4)
    x[0, 0] = float("nan")
    x[1, 1] = float("inf")
    y = torch.randint(0, 3, (16,))
    rep = doctor(model=nn.Linear(4, 3), batch=(x, y), loss_fn=F.cross_entropy, checks=["init-loss", "update-ratio"])
    assert all("ml-debug bug" not in c["summary"] for c in rep["checks"]), rep["checks"]


def test_guard_restores_and_reports_a_check_that_changes_the_model():
    """The runner's guard: an in-place change to the pristine model is caught after that check
    (its entry becomes `error`, naming it); a write through `.data`, which leaves the version
    counter alone, is caught by the final comparison (report field `guard`). Both are undone."""
    import torch
    import torch.nn as nn
    from mldebug import registry
    from mldebug.api import doctor, target_from_objects
    from mldebug.registry import Result

    @registry.check("_test-mutate-inplace", "test only", order=999)
    def _inplace(ctx):
        with torch.no_grad():
            next(ctx.pristine.parameters()).add_(1.0)
        return Result("pass", "changed it")

    @registry.check("_test-mutate-data", "test only", order=999)
    def _data(ctx):
        next(ctx.pristine.parameters()).data.mul_(2.0)
        return Result("pass", "changed it")

    try:
        tgt = target_from_objects(build_model=lambda: nn.Linear(4, 2), batch=(torch.randn(8, 4), torch.randint(0, 2, (8,))),
                                  loss_fn=nn.functional.cross_entropy)
        rep = doctor(tgt, checks=["_test-mutate-inplace"])
        e = rep["checks"][0]
        assert e["status"] == "error" and "ml-debug bug: check _test-mutate-inplace changed the model's weight" \
            in e["summary"], e["summary"]
        rep = doctor(tgt, checks=["_test-mutate-data"])
        assert "changed the model's weight" in rep.get("guard", ""), rep
    finally:
        registry.REGISTRY.pop("_test-mutate-inplace", None)
        registry.REGISTRY.pop("_test-mutate-data", None)
