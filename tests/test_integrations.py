"""Lightning and Hugging Face Trainer callbacks: run checks once on the first batch, log the report,
leave training alone. Each test runs only when its library is installed."""
import logging

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mldebug.integrations import _split, optimizer_factory

V, T, N = 32, 12, 32


def test_optimizer_factory_copies_class_and_settings():
    p = [nn.Parameter(torch.zeros(2))]
    opt = torch.optim.AdamW(p, lr=2e-3, weight_decay=0.05, betas=(0.8, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.1)  # scales lr, keeps initial_lr
    make = optimizer_factory(opt)
    new = make([nn.Parameter(torch.zeros(3))])
    g = new.param_groups[0]
    assert type(new) is torch.optim.AdamW and g["lr"] == 2e-3 and g["weight_decay"] == 0.05
    assert tuple(g["betas"]) == (0.8, 0.95) and sched is not None
    assert optimizer_factory(None) is None


def test_split_batch():
    x, y = torch.zeros(2, 3), torch.zeros(2)
    assert _split((x, y)) == (x, y)
    inputs, targets = _split({"input_ids": x, "labels": y})
    assert targets is y and inputs["labels"] is y
    with pytest.raises(ValueError):
        _split(x)


# --------------------------------------------------------------------------- Lightning

def _lightning():
    try:
        import lightning.pytorch as pl
    except ImportError:
        pl = pytest.importorskip("pytorch_lightning")
    return pl


def test_lightning_callback_runs_once_and_logs(caplog):
    pl = _lightning()
    from mldebug.integrations import lightning_callback

    class Net(pl.LightningModule):
        def __init__(self, buggy=False):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
            self.buggy = buggy

        def forward(self, x):
            return self.body(x)

        def training_step(self, batch, idx):
            x, y = batch
            return F.cross_entropy(self(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0 if self.buggy else 0.1)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, 8, generator=g)
    y = (x[:, 0] > 0).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    for buggy in (False, True):
        cb = lightning_callback(checks=["init-loss", "update-ratio"], loss_fn=F.cross_entropy)
        model = Net(buggy)
        trainer = pl.Trainer(max_steps=3, callbacks=[cb], logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
        with caplog.at_level(logging.INFO, logger="mldebug"):
            trainer.fit(model, loader)
        assert cb.done and cb.report is not None
        assert [c["id"] for c in cb.report["checks"]] == ["init-loss", "update-ratio"]
        assert "optimizer" in cb.report.check("update-ratio")["metrics"]
        assert cb.report.check("update-ratio")["metrics"]["optimizer"].startswith("SGD")
        if buggy:  # the trainer's own optimizer settings were used: lr 0 is caught
            assert cb.report.check("update-ratio")["status"] == "fail"
            assert "learning rate is 0" in caplog.text
        else:
            assert cb.report.status == "pass", cb.report.problems()
        assert trainer.global_step == 3  # training went on as usual
        caplog.clear()


# --------------------------------------------------------------------------- Hugging Face Trainer

def test_hf_trainer_callback_with_the_models_own_loss(tmp_path, caplog):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from mldebug.integrations import hf_callback

    cfg = transformers.GPT2Config(vocab_size=V, n_positions=T, n_embd=32, n_layer=2, n_head=2,
                                  bos_token_id=0, eos_token_id=0, pad_token_id=0)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, V, (N, T), generator=g)

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return N

        def __getitem__(self, i):
            return {"input_ids": ids[i], "labels": ids[i]}

    cb = hf_callback(checks=["init-loss", "update-ratio", "causality"], causal_dim=1)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=8,
                                          report_to=[], save_strategy="no", logging_strategy="no",
                                          use_cpu=True, disable_tqdm=True)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=DS(), callbacks=[cb])
    with caplog.at_level(logging.INFO, logger="mldebug"):
        trainer.train()
    rep = cb.report
    assert rep is not None and rep["loss_from"] == "outputs.loss" and rep["prediction_from"] == "outputs.logits"
    assert rep.status != "fail", rep.problems()
    if "causality" in [c["id"] for c in rep["checks"]]:
        assert rep.check("causality")["status"] == "pass"
    assert "ml-debug:" in caplog.text
    assert trainer.state.global_step == 2
