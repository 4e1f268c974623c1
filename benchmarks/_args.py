"""Command-line value checks shared by the benchmark scripts.

Each function here is an argparse ``type=``: it returns the converted value or raises
``argparse.ArgumentTypeError`` naming the bad value and what is allowed, so a bad
value ends the script with argparse's usage line, ``error: argument --NAME: ...``
and exit status 2, before anything is imported or run. Standard library only (the
scripts parse their arguments before they import numpy or fixntk where they can).

``DefaultsFormatter`` (and ``RawDefaultsFormatter``, which keeps the description's
line breaks) show each option's default in --help.
"""

import argparse
import math
import os
import sys

__all__ = [
    "DefaultsFormatter",
    "RawDefaultsFormatter",
    "comma_list",
    "names",
    "nonnegative_int",
    "output_dir",
    "output_file",
    "positive_float",
    "positive_float_or_inf",
    "positive_int",
    "positive_ints",
    "ratio",
    "fraction",
    "run_script",
]


def _error(text, allowed):
    return argparse.ArgumentTypeError(f"{text!r} is not {allowed}")


def _int(text, allowed):
    try:
        return int(text)
    except (TypeError, ValueError):
        raise _error(text, allowed) from None


def _float(text, allowed):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise _error(text, allowed) from None
    if math.isnan(value):
        raise _error(text, allowed)
    return value


def positive_int(text):
    """An integer >= 1 (sizes, counts, repeats, workers, threads)."""
    allowed = "a positive integer (>= 1)"
    value = _int(text, allowed)
    if value < 1:
        raise _error(text, allowed)
    return value


def nonnegative_int(text):
    """An integer >= 0 (seeds, counts where 0 means none)."""
    allowed = "a non-negative integer (>= 0)"
    value = _int(text, allowed)
    if value < 0:
        raise _error(text, allowed)
    return value


def positive_float(text):
    """A finite number > 0 (tolerances, targets, seconds, sizes in GiB)."""
    allowed = "a positive finite number"
    value = _float(text, allowed)
    if not 0 < value < math.inf:
        raise _error(text, allowed)
    return value


def positive_float_or_inf(text):
    """A number > 0, ``inf`` included (a factor whose infinity means never)."""
    allowed = "a positive number or inf"
    value = _float(text, allowed)
    if not value > 0:
        raise _error(text, allowed)
    return value


def ratio(text):
    """A number in (0, 1] (lam as a fraction of lam_max; 1 is lam_max itself)."""
    allowed = "a number in (0, 1]"
    value = _float(text, allowed)
    if not 0 < value <= 1:
        raise _error(text, allowed)
    return value


def fraction(text):
    """A number in (0, 1), both ends excluded."""
    allowed = "a number in (0, 1)"
    value = _float(text, allowed)
    if not 0 < value < 1:
        raise _error(text, allowed)
    return value


def output_file(text):
    """A file to write at the end of a run: its folder must exist and be writable and
    the name not be a folder, checked before the run (a typo in the folder of
    ``--json`` was found after an hour's table, in a traceback, the file unwritten;
    tester EN). An existing file is replaced."""
    path = os.path.abspath(os.path.expanduser(text))
    folder = os.path.dirname(path)
    if not text or os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file name")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"{text!r}: no folder {folder!r}")
    if not os.access(folder, os.W_OK) or (
        os.path.exists(path) and not os.access(path, os.W_OK)
    ):
        raise argparse.ArgumentTypeError(f"{text!r} cannot be written (permissions)")
    return text


def output_dir(text):
    """A folder to write files into: made if missing, but only in a folder that
    exists (a mistyped path made whole trees; tester EN), and not an existing
    file; checked before the run."""
    path = os.path.abspath(os.path.expanduser(text))
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    parent = path if os.path.isdir(path) else os.path.dirname(path)
    if not os.path.isdir(parent):
        raise argparse.ArgumentTypeError(f"{text!r}: no folder {parent!r}")
    if not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text!r} cannot be written (permissions)")
    return text


def comma_list(item):
    """The type of a comma-separated list of at least one value, each converted by
    the type ``item`` (one of the above); the error names the bad item."""

    def parse(text):
        parts = [part.strip() for part in str(text).split(",")]
        if not any(parts):
            raise argparse.ArgumentTypeError(
                f"{text!r} is empty; give comma-separated values"
            )
        values = []
        for part in parts:
            try:
                values.append(item(part))
            except argparse.ArgumentTypeError as exc:
                if len(parts) == 1:
                    raise
                raise argparse.ArgumentTypeError(f"in {text!r}: {exc}") from None
        return values

    parse.__name__ = f"comma-separated {item.__name__}"
    return parse


positive_ints = comma_list(positive_int)


def names(choices):
    """The type of a comma-separated list of at least one name of ``choices``
    (blank items are dropped); an unknown name is refused with the valid ones."""
    choices = tuple(choices)

    def parse(text):
        got = [part.strip() for part in str(text).split(",") if part.strip()]
        if not got:
            raise argparse.ArgumentTypeError(
                f"{text!r} names none; choose from {', '.join(choices)}"
            )
        unknown = [n for n in got if n not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(map(repr, unknown))}; choose from "
                f"{', '.join(choices)}"
            )
        return got

    parse.__name__ = "names"
    return parse


class DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help unless the help already says its
    default or there is none to show (None, False, a suppressed option)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or (isinstance(default, (str, list, tuple)) and not default)
            or default is argparse.SUPPRESS
            or text is argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        if isinstance(default, (list, tuple)):
            sep = " " if action.nargs in ("*", "+") else ","
            shown = sep.join(map(str, default)).replace("%", "%%")
        else:
            shown = "%(default)s"
        return f"{text} (default: {shown})"


class RawDefaultsFormatter(argparse.RawDescriptionHelpFormatter, DefaultsFormatter):
    """DefaultsFormatter keeping the description's line breaks."""


def run_script(main):
    """A script's ``main()`` made its exit status (None: 0); Ctrl-C ends it with one
    line and status 130, as a shell reports an interrupt, not a traceback (every
    script printed one; tester EN)."""
    try:
        return main()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
