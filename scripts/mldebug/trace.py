"""ml-debug trace: run a user's own training script, watch its first N optimizer steps, report.

    python scripts/trace.py [--steps N] [--json] [--out DIR] [--causal-dim D] [--continue] -- SCRIPT [ARGS...]

The script runs in this process, as `python SCRIPT ARGS...` would run it: `runpy.run_path`
with run_name "__main__", sys.argv = [SCRIPT, *ARGS], the script's folder first on sys.path,
the current directory unchanged. Hooks (recorder.py) record what the run does; after N
steps of the first optimizer that steps we stop the script (or, with --continue, let it
finish). Then the doctor's checks run on copies of what we captured at the first step
(capture.py, trace_target.py: the model before its first update, the batch of its last
forward, the loss call, the optimizer), and the live checks (one module each in live/)
judge what the run did. Exit status as the doctor's: 0 no check failed, 1 a check failed,
2 bad arguments, a script that can't be found, or no check could run (report status "error").
"""
from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import time
from typing import Any, Dict, List, Optional

DEFAULT_STEPS = 50


def __getattr__(name):
    """`LIVE_CHECK_IDS`: the registered live check ids (computed on first use: it imports torch)."""
    if name == "LIVE_CHECK_IDS":
        from . import registry
        return tuple(s.id for s in registry.live_ordered())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ml-debug trace",
                usage="ml-debug trace [--steps N|all] [--json] [--out DIR] [--causal-dim D] [--continue] "
                      "[--nproc-per-node N] -- SCRIPT [ARGS...]",
                description="Run your training script unmodified, watch its first N optimizer steps, then run "
                            "the doctor's checks on the model, batch and loss it captured, plus live checks: "
                            "train-mode, grad-accumulation, lr-trace, param-coverage, loss-trace, ... "
                            "What each id means: refs/diagnostics.md#<id>.",
                epilog="examples:\n  python scripts/trace.py -- train.py --epochs 3\n"
                       "  python scripts/trace.py --steps 20 --json -- train.py > report.json\n"
                       "  python scripts/trace.py --steps all -- train.py --epochs 2   # the whole run, every live check on\n"
                       "  python scripts/trace.py --nproc-per-node 2 --steps 20 -- train_ddp.py\n"
                       "  torchrun --nproc-per-node 2 scripts/trace.py --steps 20 -- train_ddp.py\n\n"
                       "exit status: 0 no check failed, 1 a check failed, 2 bad arguments, no such script, or no "
                       "check could run (status error).",
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=_steps, default=DEFAULT_STEPS, metavar="N|all",
                   help=f"optimizer steps to watch (default {DEFAULT_STEPS}); `all`: the whole run, every live "
                        "check on until the script ends (implies --continue)")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout and nothing else")
    p.add_argument("--out", metavar="DIR", help="also write report.json, report.md and plots to DIR")
    p.add_argument("--causal-dim", type=int, default=None, metavar="D",
                   help="sequence axis of an autoregressive model's inputs: also run the causality check")
    p.add_argument("--continue", dest="keep_going", action="store_true",
                   help="let the script run to its end after the watched steps (default: stop it)")
    p.add_argument("--seed", type=int, default=0, help="seed for the checks run on copies (default 0); "
                   "the script's own seeding is left alone")
    p.add_argument("-v", "--verbose", action="store_true", help="details and metrics under each check")
    p.add_argument("--nproc-per-node", type=int, default=None, metavar="N",
                   help="run the script under torchrun with N processes (DDP, FSDP, a hand-written data-parallel "
                        "loop), a recorder in every rank, one report; adds rank-data and rank-sync")
    p.add_argument("script", help="the training script")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    return p


def _steps(text: str) -> Optional[int]:
    """`--steps N` or `--steps all` (None: no limit)."""
    if text.strip().lower() == "all":
        return None
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of steps or 'all', got {text!r}")
    if n < 1:
        raise argparse.ArgumentTypeError(f"--steps must be >= 1 or 'all', got {n}")
    return n


def split_argv(argv: List[str]):
    """Our flags before `--`, the script and its arguments after it (`--` may be left out)."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return None, argv


# ---------------------------------------------------------------------------- running the script
def run_script(script: str, args: List[str], steps: Optional[int], keep_going: bool = False, observers=()):
    """Run the script under a Tracer (`steps` None: the whole run). Returns (tracer, how it ended,
    error line or None, seconds)."""
    import torch  # noqa: F401  (torch must be importable before hooks go in)
    from .target import describe_exception
    from .recorder import StopTrace, Tracer

    path = os.path.abspath(script)
    folder = os.path.dirname(path)
    tracer = Tracer(steps, path)
    tracer.keep_going = keep_going or steps is None
    tracer.observers.extend(observers)  # e.g. ranks.RankLog under torchrun
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    before = set(sys.modules)
    ended, error = "finished", None
    t0 = time.perf_counter()
    sys.argv = [script, *args]
    sys.path.insert(0, folder)
    tracer.open()
    try:
        runpy.run_path(path, run_name="__main__")
    except StopTrace:
        ended = "stopped"
    except SystemExit as e:
        code = e.code
        if code not in (None, 0):
            ended, error = "exited", f"the script exited with status {code}"
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: B036 - any exception of the user's script is reported
        ended, error = "raised", describe_exception(e)
    finally:
        seconds = time.perf_counter() - t0
        try:
            tracer.finish()
        finally:
            tracer.close()
            sys.argv[:] = saved_argv
            sys.path[:] = saved_path
            # forget the script's own modules (model.py, data.py, ...): another trace may reuse the names
            for name in set(sys.modules) - before:
                f = getattr(sys.modules.get(name), "__file__", None) or ""
                if f and os.path.abspath(f).startswith(folder + os.sep):
                    del sys.modules[name]
    return tracer, ended, error, seconds


def live_entries(tracer, why_not: Optional[str]) -> List[Dict[str, Any]]:
    """Every registered live check on what the recorder saw (each isolated as the doctor's are)."""
    from . import registry
    from .runner import run_one
    from .trace_target import _skip
    # rank-data / rank-sync compare ranks: the process that gathers every rank's record runs them (launch.py)
    specs = [s for s in registry.live_ordered() if not getattr(s.fn, "multi_rank", False)]
    if why_not is not None:
        return [_skip(s.id, why_not, s.ref) for s in specs]
    return [run_one(tracer, s) for s in specs]


# ---------------------------------------------------------------------------- the whole trace
def trace(script: str, args: Optional[List[str]] = None, steps: Optional[int] = DEFAULT_STEPS,
          keep_going: bool = False, causal_dim: Optional[int] = None, seed: int = 0, doctor: bool = True,
          observers=(), keep: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Trace a script (`steps` None or "all": the whole run, as `--steps all`); return the report (with
    private `_details`/`_plots` keys; see runner.public).

    Under torchrun (launch.py) every rank calls this with its RankLog in `observers`, `doctor` only on
    rank 0, and `keep` to get the Tracer back."""
    if isinstance(steps, str):
        steps = _steps(steps)
    import torch
    from . import registry
    from .cli import stdout_to_stderr
    from .tensors import preserved_rng
    from .trace_target import doctor_entries

    t0 = time.perf_counter()
    with stdout_to_stderr():
        tracer, ended, error, run_seconds = run_script(script, list(args or []), steps, keep_going, observers)
        if keep is not None:
            keep["tracer"] = tracer
        n = len(tracer.records)
        why_not = None
        if tracer.primary is None:
            short = error.split(":")[0] + (f" {error[error.rfind('(at '):]}" if "(at " in error else "") \
                if error else ""
            why_not = ("the script never called optimizer.step()"
                       + (f" before it raised {short}" if ended == "raised" else
                          " before it exited" if ended == "exited" else " in its whole run")
                       + ": there is no training step to trace")
        live_why_not = why_not   # the live checks read the record, not the capture: they run unless no step was seen
        if why_not is None and tracer.capture_error:
            why_not = f"capturing the first step failed: {tracer.capture_error}"
        with preserved_rng():
            docs, info = doctor_entries(tracer, script, causal_dim, seed, why_not) if doctor else ([], {})
            lives = live_entries(tracer, live_why_not)
    device = str(tracer.capture["device"]) if tracer.capture and tracer.capture.get("device") is not None else "cpu"
    checks = docs + lives
    report: Dict[str, Any] = {
        "target": script,
        "status": registry.worst(c["status"] for c in checks),
        "seed": seed, "device": device, "torch": torch.__version__,
        "seconds": round(time.perf_counter() - t0, 4),
        "script_args": list(args or []),
        "steps_traced": n,
        "script_ended": {"stopped": f"stopped after {n} steps", "finished": "ran to its end",
                         "raised": "raised", "exited": "exited"}[ended],
        "script_seconds": round(run_seconds, 4),
    }
    if error:
        report["script_error"] = error
    report.update(info)
    report["checks"] = checks
    if not any(c["status"] in ("pass", "warn", "fail") for c in checks):   # nothing was measured: not a pass
        report["status"] = "error"
        reasons = [c["summary"] for c in checks if c["status"] in ("skip", "error")]
        report["error"] = "no check could run: " + (why_not or (reasons[0] if reasons else "nothing was captured"))
    return report


def header(report: Dict[str, Any]) -> str:
    n = report["steps_traced"]
    how = report["script_ended"]
    line = f"traced {n} optimizer step(s) of {report['target']} ({how}"
    if report.get("script_error"):
        line += f": {report['script_error']}"
    line += f", {report['script_seconds']:.1f}s)"
    if report.get("model"):
        line += f"\nmodel {report['model']}, loss from {report.get('loss_from', 'unknown')}"
    for note in report.get("capture_notes", []):
        line += f"\nnote: {note}"
    return line


def main(argv: Optional[List[str]] = None) -> int:
    from .report import text, write_out
    from .runner import public

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help") or not argv:
        build_parser().print_help(sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    ours, rest = split_argv(argv)
    parser = build_parser()
    if ours is None:  # no `--`: our flags end at the first argument that is not one of ours
        args = parser.parse_args(argv)
    else:
        if not rest:
            parser.error("no script after `--`")
        args = parser.parse_args(ours + ["--", rest[0]])
        args.args = rest[1:]
    if not os.path.isfile(args.script):
        msg = f"script not found: {args.script}"
        print(f"ml-debug trace: error: {msg}", file=sys.stderr)
        if args.json:
            print(json.dumps({"target": args.script, "status": "error", "error": msg, "checks": []}))
        return 2
    from . import launch
    env = launch.rank_env()
    if env is not None:  # a rank started by torchrun: record, write, leave (rank 0 gathers in direct mode)
        return launch.rank_main(args, env)
    if args.nproc_per_node is not None:
        if args.nproc_per_node < 1:
            parser.error(f"--nproc-per-node must be >= 1, got {args.nproc_per_node}")
        return launch.launch(args, launch.rank_flags(args))
    report = trace(args.script, args.args, steps=args.steps, keep_going=args.keep_going,
                   causal_dim=args.causal_dim, seed=args.seed)
    if args.out:
        write_out(report, args.out)
    if args.json:
        print(json.dumps(public(report), indent=2))
    else:
        print(header(report))
        print(text(report, verbose=args.verbose))
        if args.out:
            print(f"wrote {args.out}/report.md, report.json and plots")
    if report["status"] == "error":
        print(f"ml-debug trace: error: {report['error']}", file=sys.stderr)
        return 2
    return 1 if report["status"] == "fail" else 0


if __name__ == "__main__":
    sys.exit(main())
