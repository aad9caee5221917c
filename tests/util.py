"""Helpers shared by the tests: run checks through the library on zoo targets."""
import os
import subprocess
import sys

from conftest import ROOT, zoo  # noqa: F401

from mldebug.api import doctor


def run(target, checks=None, **kw):
    """The report dict for a zoo name (or a path) and some check ids."""
    path = target if target.endswith(".py") else zoo(target)
    return doctor(path, checks=checks, **kw)


def entry(target, check_id, **kw):
    """One check's report entry."""
    return run(target, [check_id], **kw)["checks"][0]


def cli(*args, timeout=300):
    """Run `python scripts/<script> ...` in a subprocess; return CompletedProcess."""
    script, rest = args[0], args[1:]
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *rest],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
