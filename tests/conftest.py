import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
ZOO = os.path.join(ROOT, "tests", "zoo")
EXAMPLES = os.path.join(ROOT, "examples")


def zoo(name: str) -> str:
    """Path of a zoo target: tests/zoo/<name>.py"""
    return os.path.join(ZOO, name + ".py")
