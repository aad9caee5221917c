"""silent-broadcast: an operation between the prediction and the loss that broadcasts the batch
axis of the prediction against the targets' ((N,1) vs (N,) -> (N,N)) fails with the shapes and the
user's line, in a hand-written loss as in a torch loss module; legitimate broadcasts (class weights,
masks, pairwise score differences, C == N) pass. Targets in tests/seq_targets/."""
import os

import pytest

from conftest import ROOT
from util import entry

CHECK = "silent-broadcast"
SEQ = os.path.join(ROOT, "tests", "seq_targets")


def seq(name):
    return os.path.join(SEQ, name + ".py")


@pytest.mark.parametrize("name, op, line", [
    ("bug_mse_handwritten_broadcast", "sub", "bug_mse_handwritten_broadcast.py:6"),   # inside the helper
    ("bug_l1_module_broadcast", "l1_loss", "bug_l1_module_broadcast.py:7"),
])
def test_n1_against_n_fails_with_shapes_and_line(name, op, line):
    e = entry(seq(name), CHECK, seed=0)
    assert e["status"] == "fail", e["summary"]
    f = e["metrics"]["findings"][0]
    assert f["op"] == op and f["prediction_side"] == [48, 1] and f["other_side"] == [48] and f["result"] == [48, 48]
    assert f["where"] == line and line in e["summary"]


def test_broadcast_hidden_by_batch_size_equal_to_width_fails():
    e = entry(seq("bug_broadcast_batch_equals_width"), CHECK, seed=0)
    assert e["status"] == "fail", e["summary"]
    assert e["metrics"]["second_batch_size"] == 7 and "equals another axis" in e["summary"]


@pytest.mark.parametrize("name", ["clean_mse_squeezed", "clean_class_weighted_nll", "clean_class_weights_c_equals_n",
                                  "clean_ranknet_pairwise", "clean_bidir_tagger", "clean_transformer_lm",
                                  "clean_forecaster_next_step", "clean_seq_autoencoder"])
def test_legitimate_losses_pass(name):
    e = entry(seq(name), CHECK, seed=0)
    assert e["status"] == "pass", e["summary"]
    assert e["metrics"]["ops_watched"] >= 1 and e["metrics"]["findings"] == []


def test_model_that_computes_its_own_loss_skips():
    e = entry(seq("clean_hf_internal_shift"), CHECK, seed=0)
    assert e["status"] == "skip" and "computes its own loss" in e["summary"]


def test_zoo_regression_and_classification_pass():
    for target in ("mlp_classifier", "cnn_bn", "lstm_lm"):
        assert entry(target, CHECK)["status"] in ("pass", "skip"), target


def test_trace_names_the_line_of_a_hand_written_loss(tmp_path):
    from mldebug.trace import trace
    script = tmp_path / "train_price.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {SEQ!r})\n"
        "import torch\n"
        "from torch.utils.data import DataLoader, TensorDataset\n"
        "from tabular import Regressor, houses\n"
        "def weighted_mse(pred, target, w):\n"
        "    return (w * (pred - target) ** 2).mean()\n"
        "def main():\n"
        "    x, y = houses(n=320)\n"
        "    dl = DataLoader(TensorDataset(x, y, torch.ones(320)), batch_size=32, shuffle=True)\n"
        "    model = Regressor()\n"
        "    opt = torch.optim.Adam(model.parameters(), 1e-3)\n"
        "    for xb, yb, wb in dl:\n"
        "        loss = weighted_mse(model(xb), yb, wb)\n"
        "        opt.zero_grad(); loss.backward(); opt.step()\n"
        "main()\n")
    r = trace(str(script), [], steps=5)
    e = next(c for c in r["checks"] if c["id"] == CHECK)
    assert e["status"] == "fail", e["summary"]
    assert "train_price.py:7" in e["summary"] and "(32, 1)" in e["summary"]
