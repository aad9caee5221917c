"""ml-debug lint: static checks for silent PyTorch training bugs, with `ast` only.

    python scripts/lint.py PATH [PATH ...] [--json] [--select IDS] [--ignore IDS]
    ml-debug lint PATH ...

Reads Python files (directories recursively), never imports or runs them, and prints one line
per finding: `file:line: rule-id message [refs/static_analysis.md#rule-id]`. Every rule is
documented in refs/static_analysis.md under `## <rule-id>`. The rules aim for precision: each
fires only on a pattern that is wrong in (nearly) every program, and a finding can be silenced
on its line with `# ml-debug: ignore` or `# ml-debug: ignore[rule-id,...]`.

This file is the front end: the rule catalogue (`RULES`), the file walk and the command line.
The shared analysis and one module per rule live in `mldebug/linting/` (see its __init__.py).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Dict, Iterator, List, Optional, Set, Tuple

from .linting import load_rules
from .linting.analysis import Analysis, FileInfo, Project

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
REF = "refs/static_analysis.md"

# The catalogue: rule id -> one line. A literal, so the audit and the tests read it without importing;
# each id has its module `mldebug/linting/rules/<rule_id>.py` and its section in refs/static_analysis.md.
RULES = {
    "softmax-into-cross-entropy": "softmax probabilities passed to cross_entropy / CrossEntropyLoss, which expects logits",
    "softmax-model-with-cross-entropy": "a model whose output ends in softmax, in a file whose loss is CrossEntropyLoss",
    "softmax-into-nll-loss": "softmax probabilities (not log-probabilities) passed to nll_loss / NLLLoss",
    "sigmoid-into-bce-with-logits": "sigmoid probabilities passed to BCEWithLogitsLoss / binary_cross_entropy_with_logits",
    "view-swaps-dims": ".view/.reshape with dimension sizes in swapped order: reinterprets memory instead of permuting axes",
    "view-swaps-dims-after-transpose": ".view/.reshape whose sizes contradict the axis order left by an earlier transpose/permute/view",
    "step-without-zero-grad": "optimizer.step() in a loop with backward() but no zero_grad(): gradients add up across steps",
    "zero-grad-before-step": "zero_grad() between backward() and step() on the same optimizer: every step sees zero gradients",
    "zero-grad-in-accumulation-loop": "zero_grad() inside a micro-batch loop whose optimizer steps after it: only the last micro-batch counts",
    "layer-replaced-after-optimizer": "a layer assigned onto the model after its optimizer was built: the new layer's parameters never train",
    "no-grad-without-eval": "evaluation loop under torch.no_grad()/inference_mode() in a file that never calls .eval()",
    "eval-without-train": "training loop whose model is put in eval mode (validation) and never back into train mode",
    "graph-break-in-loss": ".item()/.tolist()/.numpy() on the value a loss or forward returns: that term gets no gradient",
    "detach-in-loss": ".detach()/.data on the prediction inside a loss, or on everything a forward returns",
    "per-epoch-scheduler-in-batch-loop": "epoch-sized LR scheduler (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR) stepped every batch",
    "per-epoch-scheduler-in-helper": "epoch-sized LR scheduler passed to a helper (train_one_epoch) that steps it every batch",
    "functional-dropout-always-on": "F.dropout in a module without training=self.training: dropout stays on in eval()",
}

SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", "env", ".venv", ".git", ".tox"}
IGNORE_COMMENT = re.compile(r"#\s*ml-debug:\s*ignore(?:\[([^\]]*)\])?")


_RULE_FUNCS: Dict[str, object] = {}


def rule_functions() -> Dict[str, object]:
    """The registered rule functions, in catalogue order (every catalogue id has exactly one)."""
    if _RULE_FUNCS:
        return _RULE_FUNCS
    funcs = load_rules()
    if set(funcs) != set(RULES):
        raise RuntimeError(f"lint rules registered {sorted(set(funcs) - set(RULES))} but not in RULES, "
                           f"in RULES {sorted(set(RULES) - set(funcs))} but not registered")
    _RULE_FUNCS.update((rid, funcs[rid]) for rid in RULES)
    return _RULE_FUNCS


def suppressed(info: FileInfo, line: int, rule: str) -> bool:
    if not 0 < line <= len(info.lines):
        return False
    m = IGNORE_COMMENT.search(info.lines[line - 1])
    if not m:
        return False
    return m.group(1) is None or rule in [r.strip() for r in m.group(1).split(",")]


def run_rules(info: FileInfo, project: Optional[Project] = None,
              select: Optional[Set[str]] = None) -> List[Tuple[int, str, str]]:
    """(line, rule id, message) for one parsed file, sorted, one per (line, rule), minus ignored lines."""
    a = Analysis(info, project)
    findings: List[Tuple[int, str, str]] = []
    for rid, fn in rule_functions().items():
        if select is not None and rid not in select:
            continue
        for node, message in fn(a):
            line = node if isinstance(node, int) else getattr(node, "lineno", 0)
            findings.append((line, rid, message))
    seen, out = set(), []
    for line, rule, msg in sorted(findings):
        if (line, rule) not in seen and not suppressed(info, line, rule):
            seen.add((line, rule))
            out.append((line, rule, msg))
    return out


def _as_dicts(path: str, found: List[Tuple[int, str, str]]) -> List[dict]:
    return [{"file": path, "line": line, "rule": rule, "message": msg, "ref": f"{REF}#{rule}"}
            for line, rule, msg in found]


def python_files(path: str) -> Iterator[str]:
    if os.path.isfile(path):
        yield path
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS and
                         not os.path.exists(os.path.join(root, d, "pyvenv.cfg")))
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(root, name)


def lint_source(source: str, path: str = "<string>") -> List[dict]:
    """Findings for one source text on its own (raises SyntaxError on bad code)."""
    info = FileInfo.parse(source, path)
    return _as_dicts(path, run_rules(info))


def lint_file(path: str, project: Optional[Project] = None) -> List[dict]:
    """Findings for one file; with `project`, rules may follow values into the project's other files."""
    with open(path, encoding="utf-8") as fh:
        info = FileInfo.parse(fh.read(), path)
    return _as_dicts(path, run_rules(info, project))


EPILOG = """\
examples:
  python scripts/lint.py train.py                 one file
  python scripts/lint.py src/ examples/           directories, recursively (skips hidden dirs and venvs)
  python scripts/lint.py src/ --json              one JSON document on stdout
  python scripts/lint.py src/ --ignore no-grad-without-eval
  python scripts/lint.py --list-rules

output: one line per finding, `file:line: rule-id message [refs/static_analysis.md#rule-id]`.
--json: {"files": N, "findings": [{"file", "line", "rule", "message", "ref"}], "errors": [...]}.
Silence one line with a comment `# ml-debug: ignore` or `# ml-debug: ignore[rule-id,...]`.
The code is parsed with `ast`, never imported or run; torch need not be installed.

exit status: 0 no findings, 1 findings,
             2 bad arguments, a path that does not exist, or a file that could not be parsed
               (the other files are still linted and reported).
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ml-debug lint", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Static checks for silent PyTorch training bugs (softmax into cross-entropy, "
                            "view used as transpose, missing zero_grad/eval/train, ...). "
                            "See refs/static_analysis.md.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="Python files or directories")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout and nothing else")
    p.add_argument("--select", metavar="IDS", help="comma-separated rule ids to run (default: all)")
    p.add_argument("--ignore", metavar="IDS", help="comma-separated rule ids to leave out")
    p.add_argument("--list-rules", action="store_true", help="print the rule ids with a line each and exit")
    return p


def _ids(s: Optional[str]) -> Optional[Set[str]]:
    if s is None:
        return None
    ids = {x.strip() for x in s.split(",") if x.strip()}
    bad = sorted(ids - set(RULES))
    if bad:
        raise ValueError(f"unknown rule id(s): {', '.join(bad)}; see --list-rules")
    return ids


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.list_rules:
        for rid, desc in RULES.items():
            print(f"{rid:36} {desc}")
        return EXIT_OK
    try:
        select, ignore = _ids(args.select), _ids(args.ignore) or set()
    except ValueError as e:
        print(f"ml-debug lint: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not args.paths:
        print("ml-debug lint: error: give at least one file or directory (see --help)", file=sys.stderr)
        return EXIT_USAGE
    findings: List[dict] = []
    errors: List[dict] = []
    groups = [(path, list(python_files(path)) if os.path.exists(path) else None) for path in args.paths]
    files = [f for _, fs in groups for f in fs or ()]
    project = Project(files)  # lets a rule follow a value from one given file into another
    for path, fs in groups:
        if fs is None:
            errors.append({"file": path, "line": 0, "message": "no such file or directory"})
            continue
        for f in fs:
            try:
                found = lint_file(f, project)
            except SyntaxError as e:
                errors.append({"file": f, "line": e.lineno or 0, "message": f"syntax error: {e.msg}"})
                continue
            except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
                errors.append({"file": f, "line": 0, "message": f"cannot read: {e}"})
                continue
            findings.extend(x for x in found
                            if (select is None or x["rule"] in select) and x["rule"] not in ignore)
    if args.json:
        print(json.dumps({"files": len(files), "findings": findings, "errors": errors}, indent=2))
    else:
        for x in findings:
            print(f"{x['file']}:{x['line']}: {x['rule']} {x['message']} [{x['ref']}]")
        for e in errors:
            print(f"{e['file']}:{e['line']}: error {e['message']}", file=sys.stderr)
        print(f"{len(findings)} finding(s) in {len(files)} file(s)" +
              (f", {len(errors)} error(s)" if errors else ""), file=sys.stderr)
    if errors:
        return EXIT_USAGE
    return EXIT_FINDINGS if findings else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
