"""The same project with the paired transform configured to draw separately for the mask (the bug)."""
from train_seg import main

if __name__ == "__main__":
    main(paired=False)
