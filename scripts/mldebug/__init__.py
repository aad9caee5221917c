"""ml-debug: measured checks for silent bugs in PyTorch training code.

    from mldebug import doctor, run_check, assert_healthy
    report = doctor("examples/demo_buggy.py")
    report["status"], [c["summary"] for c in report["checks"]]

Names are loaded lazily so that `lint` and `audit` never import torch.
"""
__version__ = "0.1.0"
__all__ = ["doctor", "run_check", "assert_healthy", "target_from_objects", "Report", "TargetError", "model_loss"]


def __getattr__(name):
    if name in __all__:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'mldebug' has no attribute {name!r}")
