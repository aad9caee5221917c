"""Helpers shared by the tests: run checks through the library on zoo targets."""
import os
import subprocess
import sys

from conftest import ROOT, zoo  # noqa: F401

from mldebug.api import doctor
from mldebug.registry import worst


_FULL = {}  # path -> the whole doctor's report, computed once per test session


def run(target, checks=None, **kw):
    """The report dict for a zoo name (or a path) and some check ids.

    Without extra options the whole doctor runs once per target and later calls pick their
    checks out of that report: every check works on fresh copies and reseeds before each
    call into the target, so a check's result does not depend on what ran before it.
    """
    path = target if target.endswith(".py") else zoo(target)
    if kw:
        return doctor(path, checks=checks, **kw)
    if path not in _FULL:
        _FULL[path] = doctor(path)
    full = _FULL[path]
    if not checks:
        return full
    entries = [c for c in full["checks"] if c["id"] in checks]
    if len(entries) != len(set(checks)):  # a check outside the doctor: run it on its own
        return doctor(path, checks=checks)
    return {**full, "checks": entries, "status": worst(c["status"] for c in entries)}


def entry(target, check_id, **kw):
    """One check's report entry."""
    return run(target, [check_id], **kw)["checks"][0]


def cli(*args, timeout=300):
    """Run `python scripts/<script> ...` in a subprocess; return CompletedProcess."""
    script, rest = args[0], args[1:]
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *rest],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
