"""Score the doctor on the held-out corpus, as an outside benchmark would.

Each target file in tests/heldout/ starts with a one-line docstring:

    \"\"\"CLEAN: what it is\"\"\"                       -> no check may fail (a warn is counted apart)
    \"\"\"BUG <id>[|<id>...]: what is wrong\"\"\"         -> the first id is the check meant to catch it;
                                                     any listed id failing counts as caught

Every target runs through `python scripts/doctor.py TARGET --json` in its own subprocess, one at
a time (the machine is shared), with a timeout. Verdicts:

    bug:   caught                  a listed id has status fail
           caught-by-other-check   the top-level status is fail, but from other ids only
           missed-warn             no fail; a listed id warned
           missed                  no fail at all
    clean: pass                    no check failed or warned
           false-alarm-warn        some check warned, none failed
           false-alarm-fail        some check failed
    any:   tool-error              the doctor crashed, timed out or printed no JSON

Examples:

    python tests/heldout/score.py                          # all targets, table + JSON
    python tests/heldout/score.py --only bug_tcn,clean_vae # names containing these
    python tests/heldout/score.py --resume results.json    # skip targets already in that file
    python tests/heldout/score.py --table results.json     # re-print the table of a saved run
"""
from __future__ import annotations

import argparse
import ast
import datetime as _dt
import glob
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DOCTOR = os.path.join(ROOT, "scripts", "doctor.py")
DEFAULT_TIMEOUT_S = 900   # the slowest targets take ~3 min alone; the shared machine can triple that


def expectation(path: str) -> dict:
    """Parse the target's docstring: {'kind': 'clean'|'bug', 'ids': [...], 'what': str}."""
    with open(path) as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    line = doc.strip().splitlines()[0] if doc.strip() else ""
    head, _, what = line.partition(":")
    if head.strip() == "CLEAN":
        return {"kind": "clean", "ids": [], "what": what.strip()}
    if head.startswith("BUG "):
        return {"kind": "bug", "ids": head[4:].strip().split("|"), "what": what.strip()}
    raise SystemExit(f"{os.path.basename(path)}: first docstring line must start with 'CLEAN:' or 'BUG <id>:'")


def targets(only=None):
    paths = sorted(glob.glob(os.path.join(HERE, "clean_*.py")) + glob.glob(os.path.join(HERE, "bug_*.py")))
    if only:
        paths = [p for p in paths if any(s in os.path.basename(p) for s in only)]
    return paths


def run_doctor(path: str, timeout: int, extra: list) -> tuple:
    """(report dict or None, seconds, error line or None)."""
    t0 = time.time()
    try:
        proc = subprocess.run([sys.executable, DOCTOR, path, "--json", *extra], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None, time.time() - t0, f"timed out after {timeout}s"
    secs = time.time() - t0
    try:
        return json.loads(proc.stdout), secs, None
    except json.JSONDecodeError:
        err = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return None, secs, f"exit {proc.returncode}, no JSON: {err[:300]}"


def verdict(exp: dict, report: dict | None) -> str:
    if report is None:
        return "tool-error"
    status = {c["id"]: c["status"] for c in report["checks"]}
    if exp["kind"] == "clean":
        if any(s == "fail" for s in status.values()):
            return "false-alarm-fail"
        if any(s == "warn" for s in status.values()):
            return "false-alarm-warn"
        return "pass"
    if any(status.get(i) == "fail" for i in exp["ids"]):
        return "caught"
    if report["status"] == "fail":
        return "caught-by-other-check"
    if any(status.get(i) == "warn" for i in exp["ids"]):
        return "missed-warn"
    return "missed"


def summarise(path: str, exp: dict, report: dict | None, secs: float, err: str | None) -> dict:
    row = {"name": os.path.basename(path)[:-3], "kind": exp["kind"], "expected": exp["ids"], "what": exp["what"],
           "status": report["status"] if report else "tool-error", "verdict": verdict(exp, report),
           "seconds": round(secs, 1), "error": err, "fail": [], "warn": [], "errors": [], "expected_checks": {},
           "check_seconds": {}}
    if report:
        row["check_seconds"] = {c["id"]: round(c.get("seconds") or 0.0, 1) for c in report["checks"]}
        for c in report["checks"]:
            item = {"id": c["id"], "summary": c["summary"]}
            if c["status"] == "fail":
                row["fail"].append(item)
            elif c["status"] == "warn":
                row["warn"].append(item)
            elif c["status"] == "error":
                row["errors"].append(item)
            if c["id"] in exp["ids"]:
                row["expected_checks"][c["id"]] = {"status": c["status"], "summary": c["summary"],
                                                   "metrics": c.get("metrics", {})}
    return row


def totals(rows: list) -> dict:
    count = lambda kind, v: sum(1 for r in rows if r["kind"] == kind and r["verdict"] == v)  # noqa: E731
    bugs = [r for r in rows if r["kind"] == "bug"]
    clean = [r for r in rows if r["kind"] == "clean"]
    return {
        "bugs": len(bugs), "caught": count("bug", "caught"),
        "caught_by_other_check": count("bug", "caught-by-other-check"),
        "missed_warn": count("bug", "missed-warn"), "missed": count("bug", "missed"),
        "bug_tool_errors": count("bug", "tool-error"),
        "clean": len(clean), "clean_pass": count("clean", "pass"),
        "false_alarm_fail": count("clean", "false-alarm-fail"), "false_alarm_warn": count("clean", "false-alarm-warn"),
        "clean_tool_errors": count("clean", "tool-error"),
        "clean_with_error_checks": sum(1 for r in clean if r["errors"]),
        "seconds": round(sum(r["seconds"] for r in rows), 1),
    }


def _ids(items):
    return ",".join(i["id"] for i in items) or "-"


def print_table(rows: list, out=sys.stdout, width=150):
    print(f"{'target':44s} {'verdict':22s} {'top':5s} {'expected':28s} {'fail':34s} {'warn':28s} {'s':>6s}", file=out)
    for r in rows:
        print(f"{r['name'][:44]:44s} {r['verdict']:22s} {r['status'][:5]:5s} {'|'.join(r['expected']) or '-':28s} "
              f"{_ids(r['fail'])[:34]:34s} {_ids(r['warn'])[:28]:28s} {r['seconds']:6.1f}", file=out)
    print("\ndetails (fail / warn / error summaries):", file=out)
    for r in rows:
        if r["verdict"] in ("pass",) and not r["errors"]:
            continue
        print(f"- {r['name']} [{r['verdict']}]" + (f" {r['error']}" if r["error"] else ""), file=out)
        for tag in ("fail", "warn", "errors"):
            for i in r[tag]:
                print(f"    {tag:5s} {i['id']}: {i['summary'][:width]}", file=out)
        for cid, c in r["expected_checks"].items():
            if c["status"] not in ("fail",) and r["kind"] == "bug":
                print(f"    expected {cid} was {c['status']}: {c['summary'][:width]}", file=out)
    t = totals(rows)
    print(f"\nbugs {t['bugs']}: caught {t['caught']}, caught by another check {t['caught_by_other_check']}, "
          f"missed with a warn {t['missed_warn']}, missed {t['missed']}, tool errors {t['bug_tool_errors']}", file=out)
    print(f"clean {t['clean']}: pass {t['clean_pass']}, false-alarm fail {t['false_alarm_fail']}, "
          f"false-alarm warn {t['false_alarm_warn']}, tool errors {t['clean_tool_errors']}, "
          f"with an 'error' check {t['clean_with_error_checks']}", file=out)
    print(f"doctor wall time {t['seconds']} s", file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated substrings of target names")
    ap.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S, help="seconds per target (default %(default)s)")
    ap.add_argument("--out", help="JSON results file (default tests/heldout/results-<date>.json)")
    ap.add_argument("--resume", help="a results JSON whose targets are kept, not re-run")
    ap.add_argument("--table", help="print the table of a saved results JSON and exit")
    ap.add_argument("doctor_args", nargs="*", help="extra doctor flags after --, e.g. -- --budget 60")
    args = ap.parse_args(argv)
    if args.table:
        with open(args.table) as f:
            print_table(json.load(f)["targets"])
        return 0
    out = args.out or os.path.join(HERE, f"results-{_dt.date.today().isoformat()}.json")
    done = {}
    if args.resume and os.path.exists(args.resume):
        with open(args.resume) as f:
            done = {r["name"]: r for r in json.load(f)["targets"]}
    rows = []
    paths = targets(args.only.split(",") if args.only else None)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    for n, path in enumerate(paths, 1):
        name = os.path.basename(path)[:-3]
        exp = expectation(path)
        if name in done:
            rows.append(done[name])
            continue
        print(f"[{n}/{len(paths)}] {name} ...", file=sys.stderr, flush=True)
        report, secs, err = run_doctor(path, args.timeout, args.doctor_args)
        rows.append(summarise(path, exp, report, secs, err))
        print(f"    {rows[-1]['verdict']} ({rows[-1]['status']}, {secs:.0f}s) fail={_ids(rows[-1]['fail'])} "
              f"warn={_ids(rows[-1]['warn'])}", file=sys.stderr, flush=True)
        with open(out, "w") as f:   # saved after every target, so an interrupted run can --resume
            json.dump({"commit": commit, "date": _dt.datetime.now().isoformat(timespec="seconds"),
                       "totals": totals(rows), "targets": rows}, f, indent=1)
    print_table(rows)
    print(f"\nresults: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
