"""The Python API: doctor / run_check / assert_healthy on targets and on live objects; outputs and
inputs of every shape; devices and dtypes; the per-check time budget."""
import importlib.util
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import zoo
from mldebug import Report, assert_healthy, doctor, run_check
from mldebug.context import Context, prediction_of, prediction_path
from mldebug.target import TargetError
from mldebug.training import train

FAST = ["init-loss", "update-ratio"]


def _module(name):
    spec = importlib.util.spec_from_file_location("_api_" + name, zoo(name))
    mod = importlib.util.module_from_spec(spec)
    import sys
    sys.path.insert(0, __import__("os").path.dirname(zoo(name)))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.pop(0)
    return mod


def _data(n=64, d=8, c=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    return x, y % c


def fast_opt(params):
    return torch.optim.Adam(params, lr=1e-2)  # memorises the small batches below in tens of steps


def mlp(d=8, c=4):
    return nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, c))


# --------------------------------------------------------------------------- basic API

def test_path_and_objects_give_the_same_report():
    mod = _module("mlp_classifier")
    by_path = doctor(zoo("mlp_classifier"), checks=FAST)
    by_objects = doctor(build_model=mod.build_model, get_batch=mod.get_batch, loss_fn=mod.loss_fn,
                        make_optimizer=getattr(mod, "make_optimizer", None), checks=FAST)
    assert isinstance(by_path, Report) and isinstance(by_path, dict)
    assert [c["status"] for c in by_path.checks] == [c["status"] for c in by_objects.checks] == ["pass", "pass"]
    assert by_path.check("init-loss")["metrics"]["measured"] == \
        pytest.approx(by_objects.check("init-loss")["metrics"]["measured"], rel=1e-6)
    for key in ("target", "status", "seed", "device", "torch", "seconds", "checks"):
        assert key in by_path
    assert set(by_path.checks[0]) == {"id", "status", "summary", "metrics", "ref", "seconds"}


def test_live_model_and_batch():
    torch.manual_seed(0)
    model, (x, y) = mlp(), _data()
    rep = doctor(model=model, batch=(x, y), loss_fn=F.cross_entropy, checks="init-loss,update-ratio")
    assert rep.status == "pass", rep.problems()
    assert rep["device"] == "cpu" and rep["prediction_from"] == "outputs" and rep["loss_from"] == "loss_fn"
    with pytest.raises(KeyError):
        rep.check("overfit-batch")


def test_run_check_returns_one_entry():
    e = run_check("init-loss", zoo("mlp_classifier"))
    assert e["id"] == "init-loss" and e["status"] == "pass" and e["metrics"]["num_classes"] == 10


def test_assert_healthy_passes_and_fails_with_summaries():
    assert_healthy(zoo("mlp_classifier"), checks=["init-loss"])
    with pytest.raises(AssertionError) as info:
        assert_healthy(zoo("bug_lr_zero"), checks=["init-loss", "update-ratio"])
    msg = str(info.value)
    assert "update-ratio: fail:" in msg and "learning rate is 0" in msg and "init-loss" not in msg


def test_assert_healthy_allow_warn():
    # a target with an imbalanced label prior the init ignores is a warn, not a fail
    torch.manual_seed(0)
    x = torch.randn(400, 8)
    y = (torch.rand(400) < 0.1).long()
    kw = dict(model=mlp(c=2), batch=(x, y), loss_fn=F.cross_entropy, checks=["init-loss"])
    rep = doctor(**kw)
    assert rep.check("init-loss")["status"] == "warn", rep.check("init-loss")
    assert_healthy(**kw)
    with pytest.raises(AssertionError, match="init-loss: warn:"):
        assert_healthy(allow_warn=False, **kw)


def test_target_and_objects_are_exclusive():
    with pytest.raises(TargetError, match="not both"):
        doctor(zoo("mlp_classifier"), model=mlp())


# --------------------------------------------------------------------------- output shapes

class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = mlp()

    def forward(self, x):
        logits = self.body(x)                       # (B, 4)
        return logits, logits.detach().abs().mean()  # (prediction, an auxiliary scalar)


class AuxFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = mlp()

    def forward(self, x):
        logits = self.body(x)                       # (B, 4)
        return torch.zeros(x.shape[0], 3), logits   # the prediction is second


class DictOut(nn.Module):
    def __init__(self, key="logits"):
        super().__init__()
        self.body, self.key = mlp(), key

    def forward(self, x):
        return {"features": x, self.key: self.body(x)}  # (B, 8), (B, 4)


@dataclass
class FakeModelOutput(OrderedDict):
    """Shaped like transformers' ModelOutput: a mapping with attribute access."""
    loss: Optional[torch.Tensor] = None
    logits: Optional[torch.Tensor] = None

    def __post_init__(self):
        for k in ("loss", "logits"):
            v = getattr(self, k)
            if v is not None:
                self[k] = v


class SelfLoss(nn.Module):
    """Computes its own loss when given labels, Hugging Face style."""

    def __init__(self):
        super().__init__()
        self.body = mlp()

    def forward(self, x, labels=None):
        logits = self.body(x)                                          # (B, 4)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return FakeModelOutput(loss=loss, logits=logits)


def test_prediction_of_every_shape():
    t = torch.randn(4, 3)
    assert prediction_of(t) is t and prediction_path(t) == "outputs"
    assert prediction_of((t, torch.tensor(1.0))) is t and prediction_path((t, 1)) == "outputs[0]"
    assert prediction_of((torch.tensor(0.5), t)) is t  # a leading scalar loss is passed over
    assert prediction_of({"h": torch.randn(4, 2), "logits": t}) is t
    assert prediction_path({"h": torch.randn(4, 2), "logits": t}) == "outputs.logits"
    assert prediction_path({"a": t}) == "outputs['a']"
    out = FakeModelOutput(loss=torch.tensor(1.0), logits=t)
    assert prediction_of(out) is t and prediction_path(out) == "outputs.logits"


@pytest.mark.parametrize("make, loss_fn, forward, expect_pred", [
    (TupleOut, lambda o, y: F.cross_entropy(o[0], y), None, "outputs[0]"),
    (AuxFirst, F.cross_entropy, lambda m, x: m(x)[1], "outputs"),  # forward picks the prediction
    (DictOut, lambda o, y: F.cross_entropy(o["logits"], y), None, "outputs.logits"),
    (lambda: DictOut("scores"), lambda o, y: F.cross_entropy(o["scores"], y), None, "outputs['features']"),
    (SelfLoss, lambda o, y: F.cross_entropy(o.logits, y), None, "outputs.logits"),
])
def test_outputs_of_every_shape(make, loss_fn, forward, expect_pred):
    torch.manual_seed(0)
    rep = doctor(model=make(), batch=_data(), loss_fn=loss_fn, forward=forward, make_optimizer=fast_opt,
                 checks=["init-loss", "update-ratio", "overfit-batch"], options={"overfit_steps": 200})
    assert rep["prediction_from"] == expect_pred
    assert [c["status"] for c in rep.checks] == ["pass"] * 3, rep.problems(allow_warn=False)


def test_model_that_computes_its_own_loss():
    """No loss_fn: the model's outputs.loss is the loss, and the report says so."""
    torch.manual_seed(0)
    x, y = _data()
    rep = doctor(model=SelfLoss(), batch=({"x": x, "labels": y}, y), make_optimizer=fast_opt,
                 checks=["update-ratio", "overfit-batch"],
                 options={"overfit_steps": 200})
    assert rep["loss_from"] == "outputs.loss" and rep["prediction_from"] == "outputs.logits"
    assert rep.status == "pass", rep.problems()


# --------------------------------------------------------------------------- input shapes

class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.head = nn.Linear(4, 16), nn.Linear(4, 16), nn.Linear(16, 4)

    def forward(self, left, right):
        return self.head(torch.relu(self.a(left) + self.b(right)))  # (B, 4)


class TokenBag(nn.Module):
    def __init__(self, vocab=20):
        super().__init__()
        self.emb, self.head = nn.Embedding(vocab, 16), nn.Linear(16, 4)

    def forward(self, ids):                      # ids: (B, T) int64
        return self.head(self.emb(ids).mean(1))  # (B, 4)


def test_inputs_tuple_dict_and_token_ids():
    x, y = _data()
    torch.manual_seed(0)
    for model, inputs in ((TwoInputs(), (x[:, :4], x[:, 4:])), (TwoInputs(), {"left": x[:, :4], "right": x[:, 4:]})):
        rep = doctor(model=model, batch=(inputs, y), loss_fn=F.cross_entropy, checks=FAST)
        assert rep.status == "pass", rep.problems(allow_warn=False)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 20, (64, 6), generator=g)
    rep = doctor(model=TokenBag(), batch=(ids, ids[:, 0] % 4), loss_fn=F.cross_entropy, checks=FAST)
    assert rep.status == "pass", rep.problems(allow_warn=False)


# --------------------------------------------------------------------------- devices and dtypes

@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_reduced_precision_model_no_false_alarm(dtype):
    """A healthy half-precision model: checked as a float32 copy, no fail or warn from rounding."""
    torch.manual_seed(0)
    x, y = _data()
    rep = doctor(model=mlp().to(dtype), batch=(x.to(dtype), y), loss_fn=F.cross_entropy, make_optimizer=fast_opt,
                 checks=["init-loss", "update-ratio", "overfit-batch"])
    assert rep["dtype"] == str(dtype).replace("torch.", "") and rep["checked_in"] == "float32"
    assert rep.status == "pass", rep.problems(allow_warn=False)


def test_reduced_precision_forward_that_insists_keeps_native_dtype():
    def forward(model, x):
        return model(x.to(torch.bfloat16))  # fails on a float32 copy, so the doctor keeps bfloat16
    x, y = _data()
    rep = doctor(model=mlp().to(torch.bfloat16), batch=(x, y), loss_fn=lambda o, t: F.cross_entropy(o.float(), t),
                 forward=forward, checks=["init-loss"])
    assert rep["checked_in"] == "bfloat16" and rep.check("init-loss")["status"] == "pass"


def test_device_is_honoured_and_inferred():
    rep = doctor(model=mlp(), batch=_data(), loss_fn=F.cross_entropy, checks=["init-loss"], device="cpu")
    assert rep["device"] == "cpu"
    rep = doctor(model=mlp(), batch=_data(), loss_fn=F.cross_entropy, checks=["init-loss"])
    assert rep["device"] == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(TargetError, match="no CUDA device"):
            doctor(model=mlp(), batch=_data(), loss_fn=F.cross_entropy, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_cuda_run_keeps_everything_on_the_device():
    rep = doctor(zoo("mlp_classifier"), device="cuda", checks=FAST)
    assert rep["device"].startswith("cuda") and rep.status == "pass"


# --------------------------------------------------------------------------- time budget

def test_context_budget_clock():
    from mldebug.api import target_from_objects
    ctx = Context(target_from_objects(model=mlp(), batch=_data(), loss_fn=F.cross_entropy), budget=None)
    ctx.start_check("x")
    assert ctx.time_left() == math.inf and not ctx.over_budget()
    ctx.budget = 0.001
    ctx.start_check("x")
    import time
    time.sleep(0.01)
    assert ctx.over_budget() and ctx.time_left() < 0


def test_train_stops_on_budget():
    from mldebug.api import target_from_objects
    ctx = Context(target_from_objects(model=mlp(), batch=_data(), loss_fn=F.cross_entropy), budget=0.05)
    ctx.preflight()
    ctx.start_check("t")
    model = ctx.fresh_model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-6)  # would otherwise run to the cap

    def slow_done(step, loss, tr):
        import time
        time.sleep(0.02)
        return False
    run = train(ctx, model, opt, ctx.inputs, ctx.targets, max_steps=10_000, done=slow_done, patience=10_000)
    assert run.stopped == "budget" and 1 <= run.steps < 50


class Slow(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = mlp()

    def forward(self, x):
        import time
        time.sleep(0.01)
        return self.body(x)


def test_overfit_and_update_ratio_honour_the_budget():
    torch.manual_seed(0)
    x, y = _data()
    opt = lambda p: torch.optim.SGD(p, lr=1e-4)  # noqa: E731  slow on purpose: no early success
    rep = doctor(model=Slow(), batch=(x, y), loss_fn=F.cross_entropy, make_optimizer=opt,
                 checks=["update-ratio", "overfit-batch"], budget=0.5,
                 options={"ratio_steps": 1000, "overfit_steps": 100_000})
    e = rep.check("overfit-batch")
    assert e["status"] == "warn" and "time budget" in e["summary"], e
    assert e["seconds"] < 5
    u = rep.check("update-ratio")
    assert u["metrics"]["stopped"] == "budget" and u["metrics"]["steps"] < 1000 and u["seconds"] < 5
    assert rep["budget"] == 0.5
