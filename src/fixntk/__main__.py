"""Entry point of the ``fixntk`` command (also ``python -m fixntk``); see
``fixntk.cli``."""

import sys


def main(argv=None):
    """Run ``fixntk`` with argv (default: the process arguments); returns the exit
    status."""
    try:  # the command's modules (pandas, scikit-learn): half a second or more
        from .cli import main as run

        return run(argv)
    except KeyboardInterrupt:  # Ctrl-C then showed a traceback through pandas
        print("fixntk: interrupted", file=sys.stderr)
        return 130
    except ImportError as exc:
        # the compiled core refuses the environment's FIXNTK_CPU: said in one line
        # with the status of the command's other errors (a 19-line traceback;
        # tester EU)
        if not str(exc).startswith("FIXNTK_CPU"):
            raise
        print(f"fixntk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
