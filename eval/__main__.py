"""``python -m eval disentangle --ckpt ...`` and ``python -m eval score --codes ... --factors ...``."""
from eval.cli import group

if __name__ == "__main__":
    group(prog_name="python -m eval")
