"""The knowledge-base audit (scripts/audit.py -> mldebug.audit).

Fixtures: tests/audit_fixtures/clean/ is a tiny consistent tree the audit must accept;
each tests/audit_fixtures/broken/<rule>[--variant]/ holds the files that, laid over a copy of
the clean tree, break exactly that one rule, which the audit must report (and nothing else).
"""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ROOT

from mldebug import audit

FIXTURES = os.path.join(ROOT, "tests", "audit_fixtures")
CLEAN = os.path.join(FIXTURES, "clean")
BROKEN = sorted(os.listdir(os.path.join(FIXTURES, "broken")))
RULES = {"skill-frontmatter", "skill-length", "link", "anchor", "missing-section", "orphan-section",
         "lint-section", "evidence-frontmatter", "evidence-uncited", "quote", "section-order", "number"}


def problems(root):
    return audit.Audit(__import__("pathlib").Path(root)).run()


def overlay(tmp_path, name):
    root = tmp_path / "tree"
    shutil.copytree(CLEAN, root)
    shutil.copytree(os.path.join(FIXTURES, "broken", name), root, dirs_exist_ok=True)
    return root


def test_clean_fixture_passes():
    found = problems(CLEAN)
    assert found == [], "\n".join(map(str, found))


def test_every_rule_has_a_broken_fixture():
    assert {name.split("--")[0] for name in BROKEN} == RULES


@pytest.mark.parametrize("name", BROKEN)
def test_broken_fixture_is_rejected_for_its_rule(tmp_path, name):
    rule = name.split("--")[0]
    found = problems(overlay(tmp_path, name))
    assert found, f"{name}: the audit accepted a tree that breaks {rule}"
    assert {p.rule for p in found} == {rule}, "\n".join(map(str, found))
    assert all(p.line >= 1 and p.file for p in found)


def test_problem_lines_point_at_the_offending_line(tmp_path):
    root = overlay(tmp_path, "link")
    (p,) = problems(root)
    line = (root / p.file).read_text().split("\n")[p.line - 1]
    assert "refs/missing.md" in line and p.file == "README.md"


def test_github_slugs():
    assert audit.github_slug("init-loss") == "init-loss"
    assert audit.github_slug("Symptom → likely causes → what tells them apart") == \
        "symptom--likely-causes--what-tells-them-apart"
    assert audit.github_slug("Loss goes down, then explodes") == "loss-goes-down-then-explodes"
    assert audit.github_slug("NaN or Inf loss (fp16)") == "nan-or-inf-loss-fp16"
    assert audit.github_slug("snake_case stays") == "snake_case-stays"


def test_quote_matching_normalises_marks_and_whitespace():
    src = audit.normalise('> "It\u2019s best to  start simple\nand **gradually** ramp up \\"complexity\\"."')
    assert audit.quote_found(audit.normalise("it's best to start simple and gradually ramp up"), src)
    assert audit.quote_found(audit.normalise("it\u2019s best \u2026 ramp up"), src)
    assert not audit.quote_found(audit.normalise("it's best to start complex"), src)
    assert audit.quotations(audit.normalise('a "two words" and a "three real words" here')) == ["three real words"]


def _figs(text):
    return [f.text for _, f in audit.figures(text)]


def test_figures_skip_labels_versions_years_and_names():
    text = ("Part 3 of section 4.2, issue #12, Python 3.9+, torch 2.13.0, (2019), CIFAR-10, GPT-2, 2-D and "
            "3-D inputs, log10 and fp16, LR 0, one step (1), then (2); the claims: 16 examples, 0.97, 3e-4, "
            "-1.3, 95%, 10x, 50k steps, a factor of 10")
    assert _figs(text) == ["16", "0.97", "3e-4", "1.3", "95%", "10x", "50k", "10"]
    kinds = {f.text: f.kind for _, f in audit.figures(text)}
    assert kinds["95%"] == "percent" and kinds["10x"] == "factor" and kinds["0.97"] == "plain"
    assert [f.kind for _, f in audit.figures("a factor of 10")] == ["factor"]


def test_figure_matching_kinds_fractions_and_rounding():
    vals = audit.quoted_values(audit.normalise(
        "Ln 50257 is 10.82; 95% of runs; a ratio of 1e-3; decay by 10 on epoch 30; 1,000 steps"))
    found = lambda t: all(audit.figure_found(f, vals) for _, f in audit.figures(t))
    assert found("10.8") and found("10.82") and not found("10.9")      # rounding only to the claim's digits
    assert found("95%") and found("0.95") and found("0.001") and found("1000")
    assert found("10x") and not found("30x")                           # "by 10" is a factor, epoch 30 is not
    assert not found("11") and not found("5%")


def test_ours_marker_covers_its_clause_up_to_the_marker():
    text = "We use 16 (ours: measured) and 20 here. Then 30 (ours: a choice). And 40."
    covered = audit.ours_spans(text)
    inside = {f.text for off, f in audit.figures(text) if any(a <= off < b for a, b in covered)}
    assert inside == {"16", "30"}                                       # 20 follows its marker; 40 has none
    assert audit.ours_spans("a (ours) b 16") == []                     # the marker needs its reason


def test_number_problem_names_line_and_figure(tmp_path):
    root = overlay(tmp_path, "number")
    (p,) = problems(root)
    line = (root / p.file).read_text().split("\n")[p.line - 1]
    assert p.file == "refs/diagnostics.md" and "90%" in line and p.problem.startswith("90% ")
    audit_ = audit.Audit(root)
    audit_.run()
    assert audit_.counts["numbers_checked"] >= 10 and audit_.counts["numbers_ours"] >= 4


def test_cli_json_exit_codes_and_no_torch(tmp_path):
    code = ("import sys, json; sys.path.insert(0, 'scripts'); from mldebug import audit; "
            f"rc = audit.main(['--root', {str(overlay(tmp_path, 'anchor'))!r}, '--json']); "
            "assert 'torch' not in sys.modules, 'audit imported torch'; sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and [p["rule"] for p in doc["problems"]] == ["anchor"]
    assert doc["counts"]["anchors_checked"] >= 1

    r = subprocess.run([sys.executable, "scripts/audit.py", "--root", CLEAN], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
    r = subprocess.run([sys.executable, "scripts/audit.py", "--root", str(tmp_path / "nope")], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not a directory" in r.stderr
    r = subprocess.run([sys.executable, "scripts/audit.py", "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "examples:" in r.stdout and "--root" in r.stdout


def test_repo_knowledge_base_complete():
    """The real tree: every check id has its refs/diagnostics.md section, every link and quote
    resolves. Fails (listing what is missing) until every check's section is merged."""
    t0 = time.perf_counter()
    found = problems(ROOT)
    assert time.perf_counter() - t0 < 20
    missing = sorted(p.problem.split()[1] for p in found if p.rule == "missing-section" and "check" in p.problem)
    rules = sorted(p.problem.split()[2] for p in found if p.rule == "lint-section")
    other = [str(p) for p in found if p.rule not in ("missing-section", "lint-section")]
    msg = []
    if missing:
        msg.append(f"check ids with no '## <id>' section in refs/diagnostics.md: {', '.join(missing)}")
    if rules:
        msg.append(f"lint rules with no '## <rule>' section in refs/static_analysis.md: {', '.join(rules)}")
    if other:
        msg.append("other problems (python scripts/audit.py):\n  " + "\n  ".join(other))
    if found:
        pytest.fail("\n".join(msg), pytrace=False)


def test_merge_drafts_in_contract_order(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(CLEAN, root)
    (root / "scripts/mldebug/trace.py").write_text('LIVE_CHECK_IDS = ("train-mode", "lr-trace", "param-coverage")\n')
    drafts = root / "refs" / "drafts"
    drafts.mkdir()
    done = drafts / "lr-trace.md"
    shutil.copy(os.path.join(FIXTURES, "drafts", "lr-trace.md"), done)
    old = time.time() - 3600
    os.utime(done, (old, old))
    (drafts / "param-coverage.md").write_text("## param-coverage\n\nStill being written.\n")  # fresh: skipped
    (drafts / "no-such-check.md").write_text("## no-such-check\n\nNo check yet.\n")
    os.utime(drafts / "no-such-check.md", (old, old))

    merged, skipped = audit.merge_drafts(root)
    assert merged == ["lr-trace"]
    assert sorted(s.split(":")[0] for s in skipped) == ["no-such-check", "param-coverage"]
    assert not done.exists() and (drafts / "param-coverage.md").exists()
    text = (root / "refs/diagnostics.md").read_text()
    heads = [text.split("\n")[i] for i in audit._heading_lines(text, ("h2",))]
    assert heads == ["## init-loss", "## train-mode", "## lr-trace"]
    assert "### What it can't tell you" in text and "## a comment inside code, left alone" in text
    assert "[the init-loss section](#init-loss)" in text
    assert "Sections in this file: [init-loss](#init-loss), [train-mode](#train-mode), [lr-trace](#lr-trace)." in text
    found = problems(root)
    assert [(p.rule, "param-coverage" in p.problem) for p in found] == [("missing-section", True)], \
        "\n".join(map(str, found))
