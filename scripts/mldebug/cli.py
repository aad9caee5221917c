"""Command line: `doctor`, one command per check id, and the tool commands (lint, trace, audit, bench).

    python scripts/doctor.py TARGET [--checks ID,ID] [--json] [--out DIR] [--seed N] [--device cpu|cuda]
    python scripts/init_loss.py TARGET [same flags]
    ml-debug doctor TARGET ...      ml-debug init-loss TARGET ...

Exit status: 0 no check failed, 1 a check failed, 2 bad arguments or a target that can't be used.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from typing import List, Optional

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

# Commands that are not checks: name -> module with a main(argv) -> int.
TOOLS = {
    "lint": "mldebug.lint",
    "trace": "mldebug.trace",
    "audit": "mldebug.audit",
    "bench": "mldebug.bench",
}

EPILOG = """\
examples:
  python scripts/doctor.py examples/demo_buggy.py
  python scripts/doctor.py my_target.py --checks init-loss,overfit-batch -v
  python scripts/doctor.py my_target.py --json > report.json
  python scripts/doctor.py my_target.py --out ml-debug-report/

the target file defines build_model(), get_batch() -> (inputs, targets) and
loss_fn(outputs, targets); optional: make_optimizer(params), make_scheduler(opt),
forward(model, inputs), CAUSAL_DIM, NUM_CLASSES, TOTAL_STEPS (see README.md).

exit status: 0 no check failed, 1 at least one check failed,
             2 bad arguments or a target that could not be loaded.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default prints usage too)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(command: str, specs) -> argparse.ArgumentParser:
    if command == "doctor":
        desc = "Run every ml-debug check on a target and report pass/warn/fail for each."
    else:
        spec = next(s for s in specs if s.id == command)
        desc = f"ml-debug check {spec.id}: {spec.title}. See refs/diagnostics.md#{spec.id}."
    p = _Parser(prog=f"ml-debug {command}", description=desc, epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", help="path to a target .py file, or a dotted module name")
    if command == "doctor":
        p.add_argument("--checks", default=None,
                       help="comma-separated check ids to run (default: all; add overfit-batch etc. by id)")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout and nothing else")
    p.add_argument("--out", metavar="DIR", help="also write report.json, report.md and plots to DIR")
    p.add_argument("--seed", type=int, default=0, help="seed set before every call into the target (default 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="time budget per check; a check that runs out stops and reports what it found "
                        "(default 120; 0 for none)")
    p.add_argument("--native-dtype", action="store_true",
                   help="check a float16/bfloat16 model in its own dtype (default: as a float32 copy, "
                        "so rounding does not trip the thresholds)")
    p.add_argument("-v", "--verbose", action="store_true", help="details and metrics under each check")
    group = p.add_argument_group("check options")
    seen = set()
    for s in specs:
        for o in s.options:
            if o.flag not in seen:
                seen.add(o.flag)
                group.add_argument(o.flag, type=o.type, default=None,
                                   help=f"[{s.id}] {o.help} (default {o.default})")
    return p


def _check_device(name: str) -> str:
    import torch
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"--device must be cpu or cuda, got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available here; use --device cpu")
    return name


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to stdout, by Python or by C code, to stderr for the duration."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real fd 1 (embedded interpreters): redirect Python's stdout only
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run_command(command: str, argv: List[str]) -> int:
    from . import registry
    from .context import DEFAULT_BUDGET, Context
    from .runner import public, run_checks, select
    from .report import text, write_out
    from .target import TargetError, load_target

    specs = registry.ordered()
    if command != "doctor" and command not in registry.REGISTRY:
        known = ", ".join(["doctor"] + [s.id for s in specs] + list(TOOLS))
        print(f"ml-debug: unknown command {command!r}; known: {known}", file=sys.stderr)
        return EXIT_USAGE
    args = build_parser(command, specs).parse_args(argv)
    options = {o.dest: getattr(args, o.dest) for s in specs for o in s.options}

    def fail_usage(msg: str) -> int:
        print(f"ml-debug: error: {msg}", file=sys.stderr)
        if args.json:
            print(json.dumps({"target": args.target, "status": "error", "error": msg, "checks": []}))
        return EXIT_USAGE

    try:
        device = _check_device(args.device)
        if args.budget is not None and args.budget < 0:
            raise ValueError(f"--budget must be >= 0 seconds, got {args.budget:g}")
        budget = DEFAULT_BUDGET if args.budget is None else (args.budget or None)
        ids = [command] if command != "doctor" else \
            ([i.strip() for i in args.checks.split(",") if i.strip()] if args.checks else None)
        chosen = select(ids)
        # the user's code may print: keep stdout for our report alone
        with stdout_to_stderr():
            target = load_target(args.target)
            ctx = Context(target, device=device, seed=args.seed, options=options, out_dir=args.out,
                          budget=budget, native_dtype=args.native_dtype)
            ctx.preflight(keep_going=True)
            report = run_checks(ctx, chosen)
        if ctx.preflight_error and report["status"] != "fail":
            # the forward or loss raises and no check explains it: a broken target
            raise TargetError(ctx.preflight_error)
    except (TargetError, ValueError) as e:
        return fail_usage(str(e))
    if ctx.preflight_error:
        print(f"ml-debug: {ctx.preflight_error}", file=sys.stderr)
    if args.out:
        write_out(report, args.out)
    if args.json:
        print(json.dumps(public(report), indent=2))
    else:
        print(text(report, verbose=args.verbose))
        if args.out:
            print(f"wrote {args.out}/report.md, report.json and plots")
    return EXIT_FAIL if report["status"] == "fail" else EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
    """`ml-debug COMMAND ...`: dispatch to the doctor, a check, or a tool."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        from . import registry
        ids = [s.id for s in registry.ordered()]
        print("usage: ml-debug COMMAND ...\n\ncommands:\n  doctor TARGET      run all checks\n"
              + "".join(f"  {i:<18} one check\n" for i in ids)
              + "".join(f"  {t:<18} see ml-debug {t} --help\n" for t in TOOLS)
              + "\n" + EPILOG)
        return EXIT_OK if argv else EXIT_USAGE
    command, rest = argv[0], argv[1:]
    if command in TOOLS:
        return importlib.import_module(TOOLS[command]).main(rest)
    return run_command(command.replace("_", "-"), rest)


RUNTIME_MODULES = ("torch", "numpy", "yaml", "markdown_it")   # pyproject.toml's dependencies, as imported


def script_main(command: str) -> None:
    """Entry for the thin scripts in scripts/: `python scripts/init_loss.py TARGET`."""
    try:
        code = main([command] + sys.argv[1:])
    except BrokenPipeError:  # output piped into `head` and the like
        code = 0
    except ModuleNotFoundError as e:  # a runtime dependency missing from this Python: one line, exit 2
        if e.name not in RUNTIME_MODULES:
            raise
        print(f"ml-debug: {e.name!r} is not installed in this Python ({sys.executable}); install the "
              "dependencies: pip install -e .  (or: pip install torch==2.13.0 numpy pyyaml markdown-it-py)",
              file=sys.stderr)
        code = EXIT_USAGE
    sys.exit(code)


if __name__ == "__main__":
    sys.exit(main())
