"""Tests for `ml-debug lint` (scripts/mldebug/lint.py): planted cases, the CLI, no torch import."""
import ast
import glob
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from mldebug import lint

CASES = os.path.join(ROOT, "tests", "lint_cases")
LINT = os.path.join(ROOT, "scripts", "lint.py")
EXPECT = re.compile(r"# expect: ([\w-]+)")


def expected(path):
    """{(line, rule)} from the `# expect: rule-id` markers in a case file."""
    out = set()
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            out.update((i, m) for m in EXPECT.findall(line))
    return out


def found(path):
    return {(f["line"], f["rule"]) for f in lint.lint_file(path)}


def run_cli(*args):
    return subprocess.run([sys.executable, LINT, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


BAD = sorted(glob.glob(os.path.join(CASES, "bad_*.py")))
OK = sorted(glob.glob(os.path.join(CASES, "ok_*.py")))


@pytest.mark.parametrize("path", BAD, ids=os.path.basename)
def test_bad_case_flags_exactly_the_marked_lines(path):
    want = expected(path)
    assert want, f"{path} has no '# expect:' marker"
    assert found(path) == want


@pytest.mark.parametrize("path", OK, ids=os.path.basename)
def test_ok_case_is_clean(path):
    assert expected(path) == set()
    assert found(path) == set()


@pytest.mark.parametrize("rule", sorted(lint.RULES))
def test_every_rule_has_a_planted_bug_and_a_clean_counterpart(rule):
    stem = rule.replace("-", "_")
    bad = os.path.join(CASES, f"bad_{stem}.py")
    ok = os.path.join(CASES, f"ok_{stem}.py")
    assert os.path.exists(bad) and os.path.exists(ok), f"missing lint case for {rule}"
    assert any(r == rule for _, r in expected(bad))


def test_rules_is_a_literal_dict_documented_in_static_analysis():
    # the audit reads RULES with ast.literal_eval; every rule needs its '## <rule-id>' section
    tree = ast.parse(open(lint.__file__, encoding="utf-8").read())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and
                any(isinstance(t, ast.Name) and t.id == "RULES" for t in n.targets))
    rules = ast.literal_eval(node.value)
    assert rules == lint.RULES and all(re.fullmatch(r"[a-z]+(-[a-z]+)*", r) for r in rules)
    doc = open(os.path.join(ROOT, "refs", "static_analysis.md"), encoding="utf-8").read()
    headings = set(re.findall(r"^## (.+?)\s*$", doc, re.M))
    assert set(rules) <= headings


def test_demo_and_zoo_findings():
    # the buggy demo is caught; its clean twin and the clean zoo targets are not flagged
    assert {f["rule"] for f in lint.lint_file(os.path.join(ROOT, "examples", "demo_buggy.py"))} == \
        {"softmax-model-with-cross-entropy"}
    assert lint.lint_file(os.path.join(ROOT, "examples", "demo_clean.py")) == []
    for name in ("mlp_classifier", "cnn_bn", "regression", "transformer_lm", "lstm_lm", "bidir_encoder"):
        path = os.path.join(ROOT, "tests", "zoo", name + ".py")
        if os.path.exists(path):
            assert lint.lint_file(path) == [], name
    view_bug = os.path.join(ROOT, "tests", "zoo", "bug_c_view_mixes_batch.py")
    if os.path.exists(view_bug):
        assert "view-swaps-dims" in {f["rule"] for f in lint.lint_file(view_bug)}


def test_inline_ignore_comment():
    src = ("import torch.nn.functional as F\n"
           "def f(logits, y):\n"
           "    return F.cross_entropy(F.softmax(logits, 1), y)  # ml-debug: ignore[softmax-into-cross-entropy]\n"
           "def g(logits, y):\n"
           "    return F.cross_entropy(F.softmax(logits, 1), y)  # ml-debug: ignore[view-swaps-dims]\n")
    assert [(f["line"], f["rule"]) for f in lint.lint_source(src)] == [(5, "softmax-into-cross-entropy")]


def test_cli_exit_codes_and_text_output(tmp_path):
    clean = os.path.join(CASES, "ok_view_swaps_dims.py")
    bad = os.path.join(CASES, "bad_view_swaps_dims.py")
    r = run_cli(clean)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    r = run_cli(bad)
    assert r.returncode == 1
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3
    assert re.match(r".*bad_view_swaps_dims\.py:\d+: view-swaps-dims .+ \[refs/static_analysis\.md#view-swaps-dims\]$",
                    lines[0])
    assert run_cli(str(tmp_path / "does_not_exist.py")).returncode == 2
    assert run_cli().returncode == 2
    assert run_cli(bad, "--select", "no-such-rule").returncode == 2
    assert run_cli(bad, "--ignore", "view-swaps-dims").returncode == 0
    assert run_cli("--help").returncode == 0 and "exit status" in run_cli("--help").stdout


def test_cli_json_is_one_document_and_errors_continue(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n    pass\n")
    bad = os.path.join(CASES, "bad_softmax_into_cross_entropy.py")
    r = run_cli(bad, str(broken), "--json")
    doc = json.loads(r.stdout)  # the whole stdout is one JSON document
    assert r.returncode == 2  # a file could not be parsed; the others are still reported
    assert doc["files"] == 2
    assert {f["rule"] for f in doc["findings"]} == {"softmax-into-cross-entropy"}
    assert all(set(f) == {"file", "line", "rule", "message", "ref"} for f in doc["findings"])
    assert all(f["ref"] == "refs/static_analysis.md#" + f["rule"] for f in doc["findings"])
    assert doc["errors"][0]["file"].endswith("broken.py") and doc["errors"][0]["line"] == 1
    r = run_cli(CASES, "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["files"] == len(BAD) + len(OK)


def test_directory_walk_skips_hidden_and_venv(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "venv").mkdir()
    (tmp_path / "myenv").mkdir()
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    code = "import torch.nn.functional as F\nloss = F.cross_entropy(F.softmax(x, 1), y)\n"
    for d in ("pkg", ".hidden", "venv", "myenv"):
        (tmp_path / d / "m.py").write_text(code)
    files = list(lint.python_files(str(tmp_path)))
    assert files == [str(tmp_path / "pkg" / "m.py")]


def test_ml_debug_lint_entry_point_matches_script():
    from mldebug import cli
    assert cli.TOOLS["lint"] == "mldebug.lint"
    out = subprocess.run([sys.executable, "-c",
                          "import sys; sys.path.insert(0, 'scripts'); from mldebug.cli import main; "
                          "sys.exit(main(['lint', 'tests/lint_cases/bad_softmax_into_nll_loss.py']))"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 1 and "softmax-into-nll-loss" in out.stdout


def test_lint_never_imports_torch():
    code = ("import sys; sys.path.insert(0, 'scripts'); from mldebug.cli import main; "
            "rc = main(['lint', 'tests/lint_cases', '--json']); "
            "assert 'torch' not in sys.modules, 'torch imported'; print('rc', rc, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert "rc 1" in r.stderr, r.stderr[-2000:]
    imported = [ln.split("|")[-1].strip() for ln in r.stderr.splitlines() if ln.startswith("import time:")]
    assert imported and not any(m == "torch" or m.startswith("torch.") for m in imported)
