"""Planted bug (loss-trace): count features squashed with log instead of log1p; zero counts become
-inf, and the loss is NaN from the first batch that holds one."""
import sys

import train

if __name__ == "__main__":
    sys.argv += ["--feature-transform", "log"]   # BUG: log(0) = -inf
    train.main()
