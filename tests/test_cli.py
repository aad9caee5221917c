"""The command line through a subprocess: exit statuses 0/1/2, --json alone on stdout (even when
the user's code prints), --out files, --budget, and progress on a terminal's stderr only."""
import json
import os
import pty
import subprocess
import sys

import pytest

from conftest import ROOT, zoo
from util import cli

PRINTS = os.path.join(ROOT, "tests", "bad_targets", "prints.py")


def test_exit_0_on_a_clean_target():
    r = cli("doctor.py", zoo("mlp_classifier"), "--checks", "init-loss,update-ratio")
    assert r.returncode == 0, r.stderr
    assert "PASS" in r.stdout and "init-loss" in r.stdout and "update-ratio" in r.stdout


def test_exit_1_on_a_planted_bug_and_per_check_script():
    r = cli("update_ratio.py", zoo("bug_lr_zero"))
    assert r.returncode == 1, r.stderr
    assert "FAIL" in r.stdout and "learning rate is 0" in r.stdout


@pytest.mark.parametrize("args, needle", [
    (["--checks", "no-such-check"], "unknown check id 'no-such-check'"),
    (["--device", "tpu"], "--device must be cpu or cuda"),
    (["--budget", "-1"], "--budget must be >= 0"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_exit_2_on_bad_arguments(args, needle):
    r = cli("doctor.py", zoo("mlp_classifier"), *args)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert r.stdout == ""


def test_exit_2_on_a_missing_target():
    r = cli("doctor.py", "does/not/exist.py")
    assert r.returncode == 2 and r.stderr.strip() == "ml-debug: error: target file not found: does/not/exist.py"


def test_json_is_the_only_thing_on_stdout_even_when_the_target_prints():
    r = cli("doctor.py", PRINTS, "--checks", "init-loss,update-ratio", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # one document, nothing before or after it
    assert doc["status"] == "pass" and [c["id"] for c in doc["checks"]] == ["init-loss", "update-ratio"]
    for c in doc["checks"]:
        assert set(c) == {"id", "status", "summary", "metrics", "ref", "seconds"}
    # the user's prints (Python's and a raw write to fd 1) went to stderr
    assert "target imported" in r.stderr and "raw write to fd 1" in r.stderr and "forward (32, 8)" in r.stderr
    assert "target imported" not in r.stdout and "raw write" not in r.stdout


def test_json_failing_target_exit_1_and_valid():
    r = cli("doctor.py", zoo("bug_lr_zero"), "--checks", "update-ratio", "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["status"] == "fail" and doc["checks"][0]["status"] == "fail"


def test_out_writes_report_files_and_plots(tmp_path):
    out = tmp_path / "rep"
    r = cli("doctor.py", zoo("mlp_classifier"), "--checks", "init-loss,update-ratio", "--out", str(out))
    assert r.returncode == 0, r.stderr
    names = set(os.listdir(out))
    assert {"report.json", "report.md", "update-ratio.csv"} <= names
    doc = json.loads((out / "report.json").read_text())
    assert [c["id"] for c in doc["checks"]] == ["init-loss", "update-ratio"]
    md = (out / "report.md").read_text()
    assert "## init-loss" in md and "## update-ratio" in md


def test_out_draws_png_plots_with_matplotlib(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "rep"
    r = cli("doctor.py", zoo("mlp_classifier"), "--checks", "update-ratio", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "update-ratio.png").stat().st_size > 1000 and (out / "update-ratio.csv").exists()


def test_budget_flag_reaches_the_checks():
    r = cli("doctor.py", zoo("mlp_classifier"), "--checks", "init-loss", "--json", "--budget", "7")
    assert json.loads(r.stdout)["budget"] == 7
    r = cli("doctor.py", zoo("mlp_classifier"), "--checks", "init-loss", "--json", "--budget", "0")
    assert "budget" not in json.loads(r.stdout)  # 0: no limit


def test_no_progress_lines_when_stderr_is_not_a_terminal():
    r = cli("doctor.py", zoo("mlp_classifier"), "--checks", "init-loss")
    assert "[ml-debug]" not in r.stderr and "[ml-debug]" not in r.stdout


def test_progress_on_a_terminal_goes_to_stderr_only():
    master, slave = pty.openpty()
    try:
        r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "doctor.py"), zoo("mlp_classifier"),
                            "--checks", "init-loss", "--json"], stdout=subprocess.PIPE, stderr=slave,
                           cwd=ROOT, timeout=300)
        os.close(slave)
        slave = None
        err = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert r.returncode == 0
    assert b"[ml-debug] init-loss" in err
    json.loads(r.stdout)  # still exactly one document


@pytest.mark.parametrize("script,module", [("doctor.py", "torch"), ("audit.py", "markdown_it")])
def test_missing_runtime_dependency_is_one_line_exit_2(script, module):
    """A Python without the dependencies (torch blocked here) gets one line naming the install."""
    argv = [script, "examples/demo_buggy.py"] if script == "doctor.py" else [script]
    code = (f"import runpy, sys; sys.modules[{module!r}] = None; sys.argv = {argv!r}; "
            f"runpy.run_path('scripts/{script}', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{module!r} is not installed" in lines[0] and "pip install" in lines[0], proc.stderr
    assert proc.stdout == ""
