"""Tracing a multi-process run: one recorder per rank, one report for all ranks (CONTRACT.md section 7).

    python scripts/trace.py --nproc-per-node N [trace flags] -- SCRIPT [ARGS...]     (launcher mode)
    torchrun --nproc-per-node N scripts/trace.py [trace flags] -- SCRIPT [ARGS...]   (direct mode)

Launcher mode starts PyTorch's own launcher, `python -m torch.distributed.run --standalone
--nproc-per-node N -m mldebug.trace ...`, with MLDEBUG_TRACE_DIR naming a fresh temporary folder.
Under torchrun (either mode) each rank runs `trace` on the script in its own process (recorder,
RankLog observer from ranks.py), writes what it saw to `<dir>/rank<R>.pkl` and leaves. Rank 0
also runs the doctor's checks on its capture.

Who gathers: in launcher mode the launcher itself, after torchrun has ended, so no rank ever
waits for another (a rank that raises leaves at once; its peers' collectives then fail instead of
hanging, and they leave too). In direct mode rank 0 gathers after its own work, waiting at most
GATHER_WAIT seconds for the others (GATHER_WAIT_RAISED when its own script raised: a peer may be
stuck in a collective waiting for it).

Every rank process ends with os._exit after flushing its output: with torch 2.13 and gloo, a
process group still alive (or destroyed without a barrier) at interpreter exit aborts the process
("terminate called without an active exception", SIGABRT) in a few % of runs, and torchrun then
kills the other ranks. Skipping interpreter teardown removes that race; the script's own atexit
handlers do not run (it was stopped anyway).
"""
from __future__ import annotations

import glob
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

GATHER_WAIT = 120.0        # s rank 0 waits for the other ranks' records (direct mode); they stop at the same step
GATHER_WAIT_RAISED = 15.0  # ... when rank 0's own script raised: a peer blocked in a collective with it won't come
POLL = 0.2                 # s between looks at the records folder
ENV_DIR = "MLDEBUG_TRACE_DIR"
ENV_WORLD = "MLDEBUG_TRACE_WORLD"
_LOADED = time.time()      # this module is imported when a rank starts, long before any rank of the run writes


class Terminated(BaseException):
    """SIGTERM in a rank (torchrun stops the others when one rank dies): the script stops where it is."""


# ---------------------------------------------------------------------------- where we are
def rank_env() -> Optional[Dict[str, int]]:
    """{'rank', 'world', 'local_rank'} when this process was started by torchrun (or a launcher that
    sets the same variables), else None."""
    env = os.environ
    if "TORCHELASTIC_RUN_ID" not in env and ENV_DIR not in env:
        return None
    try:
        return {"rank": int(env["RANK"]), "world": int(env["WORLD_SIZE"]), "local_rank": int(env.get("LOCAL_RANK", 0))}
    except (KeyError, ValueError):
        return None


def records_dir() -> str:
    """The folder the ranks write their records to: the launcher's, or one every local rank of this
    torchrun run derives alike (run id, master address and port, the agent's pid, the restart count)."""
    d = os.environ.get(ENV_DIR)
    if d:
        return d
    env = os.environ
    key = "-".join(str(x) for x in (env.get("TORCHELASTIC_RUN_ID", "none"), env.get("MASTER_ADDR", ""),
                                    env.get("MASTER_PORT", ""), os.getppid(),
                                    env.get("TORCHELASTIC_RESTART_COUNT", "0")))
    key = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)
    return os.path.join(tempfile.gettempdir(), f"mldebug-trace-{key}")


def _write_record(folder: str, rank: int, record: Dict[str, Any]) -> None:
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".rank{rank}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(record, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, os.path.join(folder, f"rank{rank}.pkl"))


def read_records(folder: str) -> Dict[int, Dict[str, Any]]:
    out = {}
    for path in glob.glob(os.path.join(folder, "rank*.pkl")):
        try:
            with open(path, "rb") as f:
                rec = pickle.load(f)
            out[int(rec["rank"])] = rec
        except Exception:  # a half-written or foreign file: that rank counts as missing
            continue
    return out


def _exit(code: int) -> None:
    """Flush, then leave without interpreter teardown (see the module docstring)."""
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass
    os._exit(code)


# ---------------------------------------------------------------------------- one rank
def run_rank(args, env: Dict[str, int]) -> Dict[str, Any]:
    """Trace the script in this rank; return its record (plain data)."""
    from .ranks import RankLog
    from .trace import trace

    rank, world = env["rank"], env["world"]
    log = RankLog(rank, world)
    keep: Dict[str, Any] = {}

    def on_term(signum, frame):
        raise Terminated("stopped by SIGTERM (torchrun stops every rank when one fails)")
    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        pass
    t0 = time.time()
    report = trace(args.script, args.args, steps=args.steps, keep_going=args.keep_going,
                   causal_dim=args.causal_dim, seed=args.seed, doctor=(rank == 0), observers=[log], keep=keep)
    tracer = keep.get("tracer")
    if tracer is not None:
        try:
            log.finish(tracer)
        except Exception:
            pass
    cap = getattr(tracer, "capture", None) or {}
    wrapped = cap.get("wrapped") or {}
    record = {
        "rank": rank, "world": world, "local_rank": env["local_rank"], "pid": os.getpid(),
        "host": os.uname().nodename if hasattr(os, "uname") else "",
        "started": t0, "ended_at": t0 + report.get("script_seconds", 0.0),
        "report": report,
        "lrs": [r.lrs for r in tracer.records] if tracer is not None else [],
        "losses": [r.loss for r in tracer.records] if tracer is not None else [],
        "chain": list(wrapped.get("chain", [])),
        "log": log.data(tracer) if tracer is not None else {},
    }
    return record


def rank_main(args, env: Dict[str, int]) -> int:
    """A rank under torchrun: trace, write the record; rank 0 gathers in direct mode. Never returns."""
    from .report import text, write_out
    from .runner import public
    import json

    code = 0
    folder = records_dir()
    if env["rank"] == 0 and ENV_DIR not in os.environ:
        _drop_stale(folder)
    try:
        record = run_rank(args, env)
    except BaseException as e:  # noqa: B036 - our own failure: still leave a record saying so
        from .target import describe_exception
        record = {"rank": env["rank"], "world": env["world"], "failed": f"ml-debug trace failed in this rank: "
                                                                        f"{describe_exception(e)}"}
    try:
        _write_record(folder, env["rank"], record)
    except Exception as e:
        print(f"ml-debug trace: rank {env['rank']} could not write its record to {folder}: {e}", file=sys.stderr)
    launcher = ENV_DIR in os.environ
    if env["rank"] == 0 and not launcher:
        raised = (record.get("report") or {}).get("script_ended") == "raised"
        records = wait_for(folder, env["world"], GATHER_WAIT_RAISED if raised else GATHER_WAIT)
        report = merged_report(records, env["world"], args)
        _cleanup(folder)
        if args.out:
            write_out(report, args.out)
        if args.json:
            print(json.dumps(public(report), indent=2))
        else:
            print(header(report))
            print(text(report, verbose=args.verbose))
        code = 1 if report["status"] == "fail" else 0
    _exit(code)
    return code  # not reached


def wait_for(folder: str, world: int, seconds: float) -> Dict[int, Dict[str, Any]]:
    end = time.time() + seconds
    while True:
        names = glob.glob(os.path.join(folder, "rank*.pkl"))
        if len(names) >= world or time.time() >= end:
            return read_records(folder)
        time.sleep(POLL)


def _drop_stale(folder: str) -> None:
    """Direct mode: records left by an earlier run that derived the same folder name (a reused pid and
    port) are older than this process; this run's ranks write theirs only once their script stops."""
    started = _LOADED - 1.0
    for p in glob.glob(os.path.join(folder, "rank*.pkl")):
        try:
            if os.path.getmtime(p) < started:
                os.remove(p)
        except OSError:
            pass


def _cleanup(folder: str) -> None:
    for p in glob.glob(os.path.join(folder, "rank*.pkl")) + glob.glob(os.path.join(folder, ".rank*.tmp")):
        try:
            os.remove(p)
        except OSError:
            pass
    try:
        os.rmdir(folder)
    except OSError:
        pass


# ---------------------------------------------------------------------------- the launcher
def rank_flags(args) -> List[str]:
    """The trace flags every rank needs (the report's own flags, --json/--out/-v, stay with the launcher)."""
    out = ["--steps", "all" if args.steps is None else str(args.steps), "--seed", str(args.seed)]
    if args.keep_going:
        out.append("--continue")
    if args.causal_dim is not None:
        out += ["--causal-dim", str(args.causal_dim)]
    return out


def torchrun_command(nproc: int, ours: List[str], script: str, script_args: List[str]) -> List[str]:
    """`python -m torch.distributed.run --standalone --nproc-per-node N -m mldebug.trace OURS -- SCRIPT ARGS`."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "mldebug.trace", *ours, "--", script, *script_args]


def launch(args, ours: List[str]) -> int:
    """Launcher mode: run the script under torchrun with a recorder in every rank; print one report."""
    import json
    from .report import text, write_out
    from .runner import public

    try:
        import torch.distributed as dist
        available = dist.is_available()
    except Exception:
        available = False
    if not available:
        print("ml-debug trace: error: --nproc-per-node needs torch.distributed, which this torch build "
              "lacks; trace one process without --nproc-per-node", file=sys.stderr)
        return 2
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="mldebug-trace-") as folder:
        env = dict(os.environ)
        env[ENV_DIR] = folder
        env[ENV_WORLD] = str(args.nproc_per_node)
        env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        cmd = torchrun_command(args.nproc_per_node, ours, os.path.abspath(args.script), args.args)
        print(f"[ml-debug] torchrun --nproc-per-node {args.nproc_per_node}: tracing {args.script} in every rank",
              file=sys.stderr)
        try:  # torchrun's and the ranks' output all goes to our stderr: stdout keeps the one report
            try:
                sink = sys.stderr.fileno()
            except (AttributeError, OSError, ValueError):  # a captured stderr (pytest, a notebook)
                sink = subprocess.PIPE
            proc = subprocess.run(cmd, env=env, stdout=sink, stderr=None if sink != subprocess.PIPE else sink,
                                  stdin=subprocess.DEVNULL, text=sink == subprocess.PIPE)
            if sink == subprocess.PIPE:
                sys.stderr.write((proc.stdout or "") + (proc.stderr or ""))
            status = proc.returncode
        except KeyboardInterrupt:
            return 130
        records = read_records(folder)
    if not records:
        print(f"ml-debug trace: error: no rank left a record (torchrun exited with status {status}); "
              "see its output above", file=sys.stderr)
        return 2
    report = merged_report(records, args.nproc_per_node, args, launcher_status=status, t0=t0)
    if args.out:
        write_out(report, args.out)
    if args.json:
        print(json.dumps(public(report), indent=2))
    else:
        print(header(report))
        print(text(report, verbose=args.verbose))
        if args.out:
            print(f"wrote {args.out}/report.md, report.json and plots")
    return 1 if report["status"] == "fail" else 0


# ---------------------------------------------------------------------------- one report for all ranks
class RankView:
    """What rank-data and rank-sync read: every rank's record (rank -> record), and the world size."""

    def __init__(self, records: Dict[int, Dict[str, Any]], world: int):
        self.ranks = {r: rec for r, rec in records.items() if "report" in rec}
        self.world = world


def merged_report(records: Dict[int, Dict[str, Any]], world: int, args, launcher_status: Optional[int] = None,
                  t0: Optional[float] = None) -> Dict[str, Any]:
    from . import registry
    from .merge import merge_live, rank_summaries
    from .runner import run_one
    from .trace_target import _skip

    ok = {r: rec for r, rec in sorted(records.items()) if "report" in rec}
    first = ok[min(ok)] if ok else None
    base = dict(first["report"]) if first else {"target": args.script, "seed": args.seed, "device": "cpu",
                                                "steps_traced": 0, "script_ended": "no record",
                                                "script_seconds": 0.0, "script_args": list(args.args),
                                                "checks": []}
    live_ids = [s.id for s in registry.live_ordered()]
    rank0 = ok.get(0)
    doctor_entries = [c for c in (rank0["report"]["checks"] if rank0 else []) if c["id"] not in live_ids]
    if rank0 is None:
        note = "rank 0 left no record" if 0 not in records else records[0].get("failed", "rank 0 failed")
        doctor_entries = []
        base.setdefault("capture_notes", []).append(f"{note}: the doctor's checks did not run")
    per_rank = {r: [c for c in rec["report"]["checks"] if c["id"] in live_ids] for r, rec in ok.items()}
    lives = merge_live(per_rank, ok)
    view = RankView(records, world)
    for spec in registry.live_ordered():
        if not getattr(spec.fn, "multi_rank", False):
            continue
        if len(view.ranks) < 2:
            lives.append(_skip(spec.id, f"only {len(view.ranks)} of {world} rank(s) left a record: nothing to "
                                        "compare across ranks", spec.ref))
        else:
            lives.append(run_one(view, spec))
    order = {cid: i for i, cid in enumerate(live_ids)}
    lives.sort(key=lambda c: order.get(c["id"], len(order)))
    checks = doctor_entries + lives
    report = {k: v for k, v in base.items() if k != "checks"}
    report["status"] = registry.worst(c["status"] for c in checks)
    report["world_size"] = world
    summaries, first_error = rank_summaries(records, world)
    report["ranks"] = summaries
    if first_error:
        report["script_error"] = first_error
        report["script_ended"] = "raised"
    elif first:
        report.pop("script_error", None)
    if launcher_status not in (None, 0):
        report["launcher_status"] = launcher_status
    if t0 is not None:
        report["seconds"] = round(time.time() - t0, 4)
    if any(rec.get("chain") for rec in ok.values()):
        report["wrapped"] = " > ".join(next(rec["chain"] for rec in ok.values() if rec.get("chain")))
    report["checks"] = checks
    return report


def header(report: Dict[str, Any]) -> str:
    from .trace import header as one_header
    line = one_header(report)
    world = report.get("world_size")
    if world:
        line = line.replace("traced ", f"traced {world} rank(s): ", 1)
        for r in report.get("ranks", []):
            if r.get("error") or r.get("missing"):
                line += f"\nrank {r['rank']}: {r.get('error') or r.get('missing')}"
    return line
