"""The benchmark's smallest configuration runs, so the bench can't rot."""
import json

from util import cli


def test_bench_smoke_reports_ratios():
    r = cli("bench.py", "--smoke", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(r.stdout)
    (row,) = data["targets"].values()
    assert row["train_step_s"] > 0
    assert row["checks"], "no check was timed"
    for cid, c in row["checks"].items():
        assert c["seconds"] >= 0 and c["steps"] == c["seconds"] / row["train_step_s"]
        assert c["status"] in ("pass", "warn", "fail", "skip", "error")
    assert row["doctor_cheap_steps"] > 0


def test_bench_rejects_unknown_check():
    r = cli("bench.py", "--smoke", "--checks", "no-such-check")
    assert r.returncode == 2 and "no-such-check" in r.stderr
