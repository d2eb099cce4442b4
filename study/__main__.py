"""``python -m study ...``: the same commands as ``python cli.py study ...``."""
from study.cli import group

if __name__ == "__main__":
    group(prog_name="python -m study")
