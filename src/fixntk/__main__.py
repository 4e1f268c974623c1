"""Entry point of the ``fixntk`` command (also ``python -m fixntk``); see
``fixntk.cli``."""

import sys


def main(argv=None):
    """Run ``fixntk`` with argv (default: the process arguments); returns the exit
    status."""
    try:  # the command's modules (pandas, scikit-learn): half a second or more
        from .cli import main as run
    except KeyboardInterrupt:  # Ctrl-C then showed a traceback through pandas
        print("fixntk: interrupted", file=sys.stderr)
        return 130
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
