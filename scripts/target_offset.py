#!/usr/bin/env python3
"""ml-debug target-offset: run with --help. Exit status: 0 ok, 1 a check failed, 2 bad input."""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # noqa: E401,E702
from mldebug.cli import script_main  # noqa: E402
script_main("target-offset")
