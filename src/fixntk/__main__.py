"""Entry point of the ``fixntk`` command (also ``python -m fixntk``); see
``fixntk.cli``."""

import sys


def main(argv=None):
    """Run ``fixntk`` with argv (default: the process arguments); returns the exit
    status."""
    from .cli import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
