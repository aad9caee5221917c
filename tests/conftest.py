import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
ZOO = os.path.join(ROOT, "tests", "zoo")
EXAMPLES = os.path.join(ROOT, "examples")


def zoo(name: str) -> str:
    """Path of a zoo target: tests/zoo/<name>.py"""
    return os.path.join(ZOO, name + ".py")


# CI (.ci/run) reruns, with the optional packages installed, exactly the tests that skipped here
# because an import failed (pytest.importorskip): with MLDEBUG_IMPORT_SKIPS=FILE set, their node
# ids (a module's path when the whole module skipped) are written to FILE, one per line.
_import_skips = []


def _import_skip(report):
    lr = report.longrepr
    return report.skipped and isinstance(lr, tuple) and len(lr) == 3 and "could not import" in str(lr[2])


def pytest_collectreport(report):
    if _import_skip(report):
        _import_skips.append((report.nodeid, str(report.longrepr[2])))


def pytest_runtest_logreport(report):
    if _import_skip(report):
        _import_skips.append((report.nodeid, str(report.longrepr[2])))


def pytest_sessionfinish(session):
    path = os.environ.get("MLDEBUG_IMPORT_SKIPS")
    if path:
        with open(path, "w") as f:
            f.writelines(f"{nodeid}\t{why}\n" for nodeid, why in _import_skips)
