"""A fresh machine: the README's Quick-start commands install everything the code and the tests
import, and the doctor prints no warning. `.ci/run` runs those commands in a new virtual
environment; these tests catch the same gaps on any machine, without installing anything."""
import ast
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

from conftest import EXAMPLES, ROOT

# distribution name -> the module it installs, where the two differ
MODULE_OF = {"pyyaml": "yaml", "markdown-it-py": "markdown_it"}
# trees of fixture code that is read or run as data, never imported by the tool or the tests:
# lint cases, audit trees, and targets that must fail to load (one imports a missing module)
NOT_CODE = ("tests/lint_cases", "tests/audit_fixtures", "tests/bad_targets",
            "tests/heldout")  # a corpus of targets; clean_hf_* needs the hf extra and says so


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower()


def pyproject():
    """(core dependency names, {extra: names}) read from pyproject.toml (no toml parser on 3.9/3.10)."""
    text = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    core = re.search(r"(?ms)^dependencies\s*=\s*\[(.*?)\]", text).group(1)
    extras_block = re.search(r"(?ms)^\[project\.optional-dependencies\]\n(.*?)(?:^\[|\Z)", text).group(1)
    extras = {m.group(1): {_name(r) for r in re.findall(r'"([^"]+)"', m.group(2))}
              for m in re.finditer(r"(?m)^([\w-]+)\s*=\s*\[(.*?)\]", extras_block)}
    return {_name(r) for r in re.findall(r'"([^"]+)"', core)}, extras


def quick_start():
    """The one-line commands of the README's "Quick start" section, as .ci/run reads them."""
    path = os.path.join(ROOT, ".ci", "readme_commands.py")
    spec = importlib.util.spec_from_file_location("readme_commands", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.quick_start(pathlib.Path(ROOT, "README.md"))


def test_readme_first_command_installs_exactly_the_declared_dependencies():
    first, second = quick_start()
    install, _, run = first.partition(" && ")
    assert install.startswith("pip install ") and run.startswith("python scripts/doctor.py "), first
    named = {_name(r) for r in install.split()[2:]}
    core, _ = pyproject()
    assert named == core, f"README installs {sorted(named)}, pyproject.toml declares {sorted(core)}"
    assert "torch==" in install, "keep torch pinned: an unpinned torch pulls multi-GB CUDA wheels"
    assert second == 'pip install -e ".[dev]" && python -m pytest'


def _catches_import_error(h) -> bool:
    names = [h.type] if not isinstance(h.type, ast.Tuple) else h.type.elts
    return h.type is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError",
                                                                       "Exception") for n in names)


def _guarded(node, parents) -> bool:
    """Inside a try whose handler catches ImportError (or a parent of it), or inside such a handler:
    the fallback tried when the preferred import failed (`lightning.pytorch`, then `pytorch_lightning`)."""
    for p in parents:
        if isinstance(p, ast.Try):
            catching = [h for h in p.handlers if _catches_import_error(h)]
            if catching and (any(_in(node, s) for s in p.body) or any(_in(node, h) for h in catching)):
                return True
    return False


def _in(node, tree) -> bool:
    return any(n is node for n in ast.walk(tree))


def _imports(tree):
    """(module, line, in_function, guarded) for every absolute import in a parsed file."""
    stack = [(tree, [])]
    while stack:
        node, parents = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if node.level == 0 and node.module else []
            in_func = any(isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef)) for p in parents)
            for m in mods:
                yield m.split(".")[0], node.lineno, in_func, _guarded(node, parents)
        for child in ast.iter_child_nodes(node):
            stack.append((child, parents + [node]))


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names needs Python 3.10")
def test_every_import_is_stdlib_local_or_declared():
    """Module-level imports need a core dependency (tests: or the dev extra); an optional package
    (one of the extras) is imported only inside a function or a try/except ImportError."""
    core, extras = pyproject()
    to_mod = lambda names: {MODULE_OF.get(n, n.replace("-", "_")) for n in names}
    required, dev = to_mod(core), to_mod(extras.get("dev", ()))
    optional = to_mod(set().union(*extras.values()))
    bad = []
    for top in ("scripts", "tests", "examples"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            rel_dir = os.path.relpath(dirpath, ROOT).replace(os.sep, "/")
            if rel_dir.startswith(NOT_CODE):
                continue
            for fn in files:
                if not fn.endswith(".py"):
                    continue
                tree = ast.parse(open(os.path.join(dirpath, fn), encoding="utf-8").read())
                for mod, line, in_func, guarded in _imports(tree):
                    local = any(os.path.exists(os.path.join(d, mod + ext)) for ext in (".py", "")
                                for d in (dirpath, os.path.join(ROOT, "scripts"), os.path.join(ROOT, "tests")))
                    ok = (mod in sys.stdlib_module_names or local or mod in required
                          or (top == "tests" and mod in dev) or guarded
                          or (in_func and mod in optional))
                    if not ok:
                        bad.append(f"{rel_dir}/{fn}:{line} imports {mod}")
    assert not bad, ("imports that the README's install does not provide (declare them in "
                     "pyproject.toml and the README, or import them lazily from an extra):\n  " + "\n  ".join(bad))


def test_doctor_prints_no_warning():
    """torch warns "Failed to initialize NumPy" on every import when numpy is missing; the first
    thing a new user sees must be the report."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "doctor.py"),
                        os.path.join(EXAMPLES, "demo_clean.py"), "--checks", "init-loss"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stdout + r.stderr, r.stderr
