"""ml-debug trace: planted-bug training projects must fail their live check, clean ones must pass.

Projects live in tests/trace_projects/: `tabular` (config, data, model, trainer with callbacks,
several main scripts) and `lm` (a tiny GRU language model with warm-up, cosine decay and
gradient accumulation). Most tests trace in-process for speed; a few go through the CLI.
"""
import json
import os
import sys

import pytest
import torch

from conftest import ROOT
from util import cli

from mldebug import trace as tr
from mldebug.trace import LIVE_CHECK_IDS, trace

PROJECTS = os.path.join(ROOT, "tests", "trace_projects")
TAB = os.path.join(PROJECTS, "tabular")
LM = os.path.join(PROJECTS, "lm")
STEPS = 16


def run(script, *args, steps=STEPS, **kw):
    folder = LM if script.startswith("lm/") else TAB
    path = os.path.join(folder, script.split("/")[-1])
    return trace(path, list(args), steps=steps, **kw)


def by_id(report):
    return {c["id"]: c for c in report["checks"]}


def live(report):
    return {k: v for k, v in by_id(report).items() if k in LIVE_CHECK_IDS}


def assert_live_pass(report, except_ids=()):
    for cid, c in live(report).items():
        if cid not in except_ids:
            assert c["status"] == "pass", (cid, c["summary"])


# ---------------------------------------------------------------------------- clean projects
def test_clean_tabular_passes_everything():
    r = run("train.py")
    assert r["steps_traced"] == STEPS and r["script_ended"].startswith("stopped")
    assert_live_pass(r)
    assert r["status"] != "fail", [c for c in r["checks"] if c["status"] == "fail"]
    assert r["loss_from"].startswith("F.cross_entropy")
    doctor_ran = [c for c in r["checks"] if c["id"] not in LIVE_CHECK_IDS and c["status"] != "skip"]
    assert {"init-loss", "update-ratio", "eval-mode"} <= {c["id"] for c in doctor_ran}


def test_clean_gradient_accumulation_passes():
    r = run("train.py", "--accum", "4", steps=8)
    ga = by_id(r)["grad-accumulation"]
    assert ga["status"] == "pass" and ga["metrics"]["backward_per_step"] == 4, ga
    assert_live_pass(r)


def test_clean_per_epoch_step_lr_passes():
    # StepLR(step_size=2 epochs) stepped per epoch: 16 steps per epoch, 40 steps = 2.5 epochs, one 10x drop
    r = run("train.py", "--scheduler", "step", steps=40)
    lr = by_id(r)["lr-trace"]
    assert lr["status"] == "pass", lr["summary"]
    assert lr["metrics"]["lr_min"] == pytest.approx(lr["metrics"]["lr_max"] * 0.1)
    assert_live_pass(r)


def test_clean_cosine_to_zero_at_end_of_run_passes():
    # a per-step cosine over the whole (one-epoch) run: the LR ends near 0, as it should
    r = run("train.py", "--scheduler", "cosine", "--epochs", "1", steps=50, keep_going=True)
    assert r["script_ended"] == "ran to its end" and r["steps_traced"] == 16
    lr = by_id(r)["lr-trace"]
    assert lr["status"] == "pass" and lr["metrics"]["lr_last"] < 0.02 * lr["metrics"]["lr_max"], lr
    assert_live_pass(r)


def test_clean_frozen_batchnorm_finetune_passes():
    r = run("finetune_frozen_bn.py")
    tm = by_id(r)["train-mode"]
    assert tm["status"] == "pass" and "frozen" in tm["summary"], tm
    assert_live_pass(r)


def test_clean_lm_warmup_cosine_accumulation_passes():
    r = run("lm/train.py", "--micro-batches", "2", steps=20, causal_dim=1)
    assert_live_pass(r)
    checks = by_id(r)
    assert checks["lr-trace"]["metrics"]["lr_first"] == 0.0          # warm-up from 0 is healthy
    assert checks["grad-accumulation"]["metrics"]["backward_per_step"] == 2
    assert checks["causality"]["status"] == "pass"
    assert r["status"] != "fail", [c for c in r["checks"] if c["status"] == "fail"]


# ---------------------------------------------------------------------------- planted bugs
def test_eval_mode_left_on_by_validation_callback():
    r = run("train_eval_leak.py")
    tm = by_id(r)["train-mode"]
    assert tm["status"] == "fail", tm
    assert tm["metrics"]["first_eval_step"] == 3 and tm["metrics"]["eval_steps"] == STEPS - 2
    assert "QuickValidation.run" in tm["summary"] and "train_eval_leak.py:" in tm["summary"]
    assert_live_pass(r, except_ids=("train-mode",))


def test_missing_zero_grad():
    r = run("train_no_zero_grad.py")
    ga = by_id(r)["grad-accumulation"]
    assert ga["status"] == "fail" and ga["metrics"]["carried_steps"] == STEPS - 1, ga
    assert "step 2" in ga["summary"]
    for cid in ("train-mode", "lr-trace", "param-coverage"):
        assert by_id(r)[cid]["status"] == "pass"


def test_zero_grad_between_backward_and_step():
    r = run("train_zero_misplaced.py", steps=8)
    ga = by_id(r)["grad-accumulation"]
    assert ga["status"] == "fail" and ga["metrics"]["zeroed_steps"] == 8, ga


def test_zero_grad_per_micro_batch_warns():
    r = run("lm/train_accum_broken.py", "--seq-len", "12", steps=8)
    ga = by_id(r)["grad-accumulation"]
    assert ga["status"] == "warn" and ga["metrics"]["discarded_steps"] >= 7, ga


def test_per_epoch_scheduler_stepped_per_batch():
    r = run("train_sched_per_batch.py", steps=20)
    lr = by_id(r)["lr-trace"]
    assert lr["status"] == "fail", lr
    assert lr["metrics"]["lr_last"] < 1e-9 and "every 2 step" in lr["summary"]
    assert_live_pass(r, except_ids=("lr-trace",))


def test_head_created_after_optimizer():
    r = run("train_late_head.py")
    pc = by_id(r)["param-coverage"]
    assert pc["status"] == "fail" and pc["metrics"]["not_in_optimizer"] == 2, pc
    assert "head.weight" in pc["summary"]
    assert_live_pass(r, except_ids=("param-coverage",))


def test_nan_from_log_of_zero():
    r = run("train_log_zero.py", steps=6)
    lt = by_id(r)["loss-trace"]
    assert lt["status"] == "fail" and lt["metrics"]["nonfinite_step"] == 1, lt
    assert lt["metrics"]["first_nonfinite_module"].startswith("body.0.fc")
    assert "inf/nan" in lt["summary"]


# ---------------------------------------------------------------------------- edges
def test_script_that_never_steps():
    r = run("evaluate.py")
    # nothing measured is not a pass (issue 10): status error, with the one-line reason
    assert r["steps_traced"] == 0 and r["status"] == "error"
    assert all(c["status"] == "skip" for c in r["checks"])
    assert "never called optimizer.step()" in r["error"]
    assert "never called optimizer.step()" in by_id(r)["loss-trace"]["summary"]


def test_script_that_raises_still_reports():
    r = run("train_crash.py")
    assert r["script_ended"] == "raised" and "train_crash.py:14" in r["script_error"]
    assert "IndexError" in r["script_error"] and r["steps_traced"] == 3
    assert by_id(r)["loss-trace"]["status"] == "pass"


def test_hooks_and_globals_restored():
    from torch.nn.modules import module as M
    backward, autograd_backward, train = torch.Tensor.backward, torch.autograd.backward, torch.nn.Module.train
    argv, path = sys.argv[:], sys.path[:]
    run("train_no_zero_grad.py", steps=3)
    assert torch.Tensor.backward is backward and torch.autograd.backward is autograd_backward
    assert torch.nn.Module.train is train
    assert not M._global_forward_hooks and not M._global_forward_pre_hooks
    from torch.optim import optimizer as O
    assert not O._global_optimizer_pre_hooks and not O._global_optimizer_post_hooks
    assert sys.argv == argv and sys.path == path
    assert "trainer" not in sys.modules  # the project's own modules are forgotten


# ---------------------------------------------------------------------------- command line
def test_cli_json_keeps_stdout_clean_and_exit_1_on_fail():
    p = cli("trace.py", "--steps", "6", "--json", "--", os.path.join(TAB, "train_no_zero_grad.py"),
            "--log-every", "1")
    assert p.returncode == 1, p.stderr[-2000:]
    report = json.loads(p.stdout)  # the script prints every step, to stderr
    assert "step 1 loss" in p.stderr
    assert report["target"].endswith("train_no_zero_grad.py")
    ids = [c["id"] for c in report["checks"]]
    assert set(LIVE_CHECK_IDS) - {"rank-data", "rank-sync"} <= set(ids)  # those two need several ranks
    assert not {"rank-data", "rank-sync"} & set(ids)
    c = next(c for c in report["checks"] if c["id"] == "grad-accumulation")
    assert c["status"] == "fail" and c["ref"] == "refs/diagnostics.md#grad-accumulation"
    assert all(not k.startswith("_") for c in report["checks"] for k in c)


def test_cli_exit_codes_and_text(tmp_path):
    p = cli("trace.py", "--steps", "4", "--out", str(tmp_path), "--", os.path.join(TAB, "train.py"))
    assert p.returncode == 0, p.stderr[-2000:]
    assert "traced 4 optimizer step(s)" in p.stdout and "lr-trace" in p.stdout
    assert (tmp_path / "report.json").exists() and (tmp_path / "lr-trace.csv").exists()
    p = cli("trace.py", "--", os.path.join(TAB, "no_such_script.py"))
    assert p.returncode == 2 and "script not found" in p.stderr
    p = cli("trace.py", "--steps", "0", "--", os.path.join(TAB, "train.py"))
    assert p.returncode == 2 and "--steps" in p.stderr


def test_live_checks_are_registered_one_file_each_with_sections():
    from mldebug import registry
    specs = registry.live_ordered()
    assert [s.id for s in specs] == list(LIVE_CHECK_IDS)
    assert {"train-mode", "grad-accumulation", "lr-trace", "param-coverage", "loss-trace"} <= set(LIVE_CHECK_IDS)
    assert not set(LIVE_CHECK_IDS) & set(registry.load_all())  # the doctor never offers a live check
    for s in specs:  # one module per id under mldebug/live/, named after the id
        assert s.live and s.fn.__module__ == "mldebug.live." + s.id.replace("-", "_"), s.fn.__module__
    diagnostics = open(os.path.join(ROOT, "refs", "diagnostics.md")).read()
    for cid in LIVE_CHECK_IDS:  # each live id has its section
        assert f"\n## {cid}\n" in diagnostics, cid


def test_clean_gan_two_optimizers_passes_live_checks():
    # the generator's backward fills D's grads; netD.zero_grad() clears them before D's next step
    r = trace(os.path.join(PROJECTS, "gan", "train.py"), [], steps=10)
    assert r["model"].startswith("Discriminator")
    assert_live_pass(r)
    assert "other optimizer" in by_id(r)["grad-accumulation"]["summary"]
    assert any("2 optimizers" in n for n in r["capture_notes"])


HF_STYLE = '''
import torch, torch.nn as nn, torch.nn.functional as F
class Clf(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.Embedding(50, 16), nn.Linear(16, 3)
    def forward(self, input_ids, attention_mask=None, labels=None, scale=1.0):  # ids (B, T) -> dict
        m = attention_mask.unsqueeze(-1).float()
        logits = self.out((self.emb(input_ids) * m).sum(1) / m.sum(1)) * scale
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits, labels)
        return out
torch.manual_seed(0)
model = Clf(); opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
for step in range(30):
    ids = torch.randint(0, 50, (8, 10)); y = ids[:, 0] % 3
    out = model(input_ids=ids, attention_mask=torch.ones(8, 10, dtype=torch.long), labels=y, scale=1.0)
    LOSS.backward(); opt.step(); opt.zero_grad()
'''


@pytest.mark.parametrize("loss,loss_from", [('out["loss"]', "F.cross_entropy on the model's output, inside"),
                                            ('(out["logits"] - 1).pow(2).mean()', "a hand-written loss")])
def test_keyword_inputs_dict_outputs_and_loss_sources(tmp_path, loss, loss_from):
    script = tmp_path / "train.py"
    script.write_text(HF_STYLE.replace("LOSS", loss))
    r = trace(str(script), [], steps=6)
    assert r["loss_from"].startswith(loss_from)
    assert_live_pass(r)
    checks = by_id(r)
    assert checks["eval-mode"]["status"] == "pass"      # ran on the captured model with keyword inputs
    assert checks["update-ratio"]["status"] == "pass"   # a hand-written loss is replayed from the output
    if loss_from.startswith("F.cross_entropy"):   # the loss call inside forward; `labels` is the target, not data
        assert any("argument 'labels'" in n for n in r["capture_notes"]), r["capture_notes"]
        assert checks["init-loss"]["status"] == "pass" and checks["loss-input"]["status"] == "pass"
    if loss_from == "a hand-written loss":
        assert "sub, pow, mean at train.py:19" in r["loss_from"]
        assert checks["init-loss"]["status"] == "skip" and "hand-written" in checks["init-loss"]["summary"]


CLOSURE = '''
import sys, torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))
if sys.argv[1:] == ["lbfgs"]:
    opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=4)   # calls the closure several times
else:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
for i in range(30):
    x = torch.randn(16, 4); y = (x[:, 0] > 0).long()
    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss
    opt.step(closure)
'''


@pytest.mark.parametrize("which", ["sgd", "lbfgs"])
def test_steps_with_a_closure(tmp_path, which):
    script = tmp_path / "train.py"
    script.write_text(CLOSURE)
    r = trace(str(script), [which] if which == "lbfgs" else [], steps=6)
    assert r["loss_from"].startswith("F.cross_entropy")
    assert_live_pass(r)   # LBFGS zeroing grads inside its own step is not a discarded micro-batch
    assert by_id(r)["init-loss"]["status"] == "pass"
    assert by_id(r)["update-ratio"]["status"] == ("skip" if which == "lbfgs" else "pass")


def test_recorder_keeps_a_record_of_each_dataloader():
    # 16 steps per epoch (512 / 32); validation (128 / 64 = 2 batches) every 8 steps under no_grad + eval
    tracer, ended, error, _ = tr.run_script(os.path.join(TAB, "train.py"), ["--epochs", "2"], steps=20)
    assert ended == "stopped" and error is None
    train, val = tracer.loaders
    assert (train.length, train.batch_size, train.sampler) == (16, 32, "RandomSampler")
    assert (val.length, val.batch_size, val.sampler) == (2, 64, "SequentialSampler")
    assert train.role == "train" and val.role == "eval"
    assert [e.start_step for e in train.epochs] == [0, 16] and train.epochs[0].batches == 16
    assert train.train_batches == 20 and val.eval_batches == 2 * len(val.epochs) and len(val.epochs) == 2
    assert "trainer.py" in train.where and "Evaluator.run" in val.where
    assert isinstance(val.first_batch, dict) and tuple(val.first_batch["features"].shape) == (64, 12)
    assert len(train.dataset) == 512
