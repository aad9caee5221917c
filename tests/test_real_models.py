"""Real architectures from widely used libraries, randomly initialised with tiny configs: the
doctor must raise no false `fail` (or `error`) on them. GPT-2 is causal along dim 1 and must pass
causality; BERT is bidirectional and is not run for causality. Skipped when transformers is absent."""
import pytest
import torch
import torch.nn.functional as F

from mldebug import doctor, registry

transformers = pytest.importorskip("transformers")

V, T, B = 48, 16, 8
BUDGET = 30.0          # seconds per check: bounds the suite on a slow CI machine; a budget stop is a warn
OPTIONS = {"overfit_steps": 200}


def _sequences():
    """Learnable token streams: each row counts up from a random start by a random stride (mod V)."""
    g = torch.Generator().manual_seed(0)
    start = torch.randint(0, V, (B, 1), generator=g)
    stride = torch.randint(1, 4, (B, 1), generator=g)
    return (start + stride * torch.arange(T + 1)) % V      # (B, T+1) int64


def _adam(params):
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)  # a usual small-transformer setting


def _quiet(cfg):
    cfg.bos_token_id = cfg.eos_token_id = cfg.pad_token_id = 0
    return cfg


def gpt2():
    cfg = _quiet(transformers.GPT2Config(vocab_size=V, n_positions=T, n_embd=32, n_layer=2, n_head=2))
    return transformers.GPT2LMHeadModel(cfg)


def bert():
    cfg = _quiet(transformers.BertConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                         intermediate_size=64, max_position_embeddings=T, num_labels=3))
    return transformers.BertForSequenceClassification(cfg)


def lm_loss(out, y):
    return F.cross_entropy(out.logits.reshape(-1, V), y.reshape(-1))


DOCTOR_IDS = [s.id for s in registry.ordered() if s.in_doctor]


@pytest.fixture(scope="module")
def gpt2_report():
    ids = _sequences()
    return doctor(build_model=gpt2, batch=(ids[:, :-1], ids[:, 1:]), loss_fn=lm_loss, make_optimizer=_adam,
                  causal_dim=1, budget=BUDGET, options=OPTIONS)


@pytest.fixture(scope="module")
def bert_report():
    ids = _sequences()[:, :T]
    labels = (ids[:, 0] % 3)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    return doctor(build_model=bert, batch=(inputs, labels), loss_fn=lambda o, y: F.cross_entropy(o.logits, y),
                  make_optimizer=_adam, budget=BUDGET, options=OPTIONS)


def _no_false_alarm(rep):
    bad = [f"{c['id']}: {c['status']}: {c['summary']}" for c in rep["checks"] if c["status"] in ("fail", "error")]
    assert not bad, "\n".join(bad)


def test_gpt2_no_false_fail(gpt2_report):
    assert [c["id"] for c in gpt2_report["checks"]] == DOCTOR_IDS
    assert gpt2_report["prediction_from"] == "outputs.logits"
    _no_false_alarm(gpt2_report)


def test_gpt2_passes_causality(gpt2_report):
    if "causality" not in DOCTOR_IDS:
        pytest.skip("no causality check registered")
    assert gpt2_report.check("causality")["status"] == "pass", gpt2_report.check("causality")


def test_bert_no_false_fail_and_no_causality(bert_report):
    _no_false_alarm(bert_report)
    if "causality" in DOCTOR_IDS:
        assert bert_report.check("causality")["status"] == "skip"  # no CAUSAL_DIM: a bidirectional encoder


def test_bert_computing_its_own_loss():
    """BERT given its labels returns .loss; without loss_fn the doctor uses it and says so."""
    ids = _sequences()[:, :T]
    labels = ids[:, 0] % 3
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    rep = doctor(build_model=bert, batch=(inputs, labels), make_optimizer=_adam, budget=BUDGET,
                 checks=["init-loss", "update-ratio"])
    assert rep["loss_from"] == "outputs.loss" and rep["prediction_from"] == "outputs.logits"
    _no_false_alarm(rep)


def test_gpt2_bidirectional_misuse_is_caught():
    """The same GPT-2 weights as a causal LM are fine; a BERT declared causal must not pass causality."""
    if "causality" not in DOCTOR_IDS:
        pytest.skip("no causality check registered")
    ids = _sequences()[:, :T]

    def tagger_loss(out, y):
        return F.cross_entropy(out.logits.reshape(-1, out.logits.shape[-1]), y.reshape(-1))

    def bert_tagger():
        cfg = _quiet(transformers.BertConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                             intermediate_size=64, max_position_embeddings=T, num_labels=V))
        return transformers.BertForTokenClassification(cfg)

    rep = doctor(build_model=bert_tagger, batch=(ids, ids), loss_fn=tagger_loss, causal_dim=1,
                 checks=["causality"], budget=BUDGET)
    assert rep.check("causality")["status"] == "fail", rep.check("causality")
