"""Print the README's Quick-start commands, one per line: the one-line ```bash blocks of the
"## Quick start" section of README.md. Standard library only: .ci/run calls it in a fresh venv
before anything is installed, and tests/test_packaging.py reads the same commands through it."""
import re
import sys
from pathlib import Path


def quick_start(readme: Path):
    text = readme.read_text(encoding="utf-8")
    section = re.search(r"(?ms)^## Quick start\n(.*?)(?=^## |\Z)", text)
    if not section:
        return []
    return [b.strip() for b in re.findall(r"(?ms)^```bash\n(.*?)^```", section.group(1))]


if __name__ == "__main__":
    for cmd in quick_start(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")):
        print(cmd)
