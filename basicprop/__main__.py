"""``python -m basicprop ...``: the same commands as the ``basicprop`` console script."""
from basicprop.cli import main

if __name__ == "__main__":
    main(prog_name="basicprop")
