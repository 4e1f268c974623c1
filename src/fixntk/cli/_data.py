"""Reading the user's CSV with pandas, and the preprocessing the saved model carries.

A table is read with its delimiter detected (``csv.Sniffer`` on the first 64 KiB, or
``--sep``), an optional ``--index-col``, an unnamed leading column (pandas'
"Unnamed: 0", a saved row index) dropped with a message, ``--drop`` columns removed.
Numeric and boolean columns are features as they are; text columns are one-hot encoded
inside the saved pipeline (so ``fixntk predict`` takes raw CSVs), or refused when they
look like identifiers or free text.
"""

import contextvars
import csv
import hashlib
import io
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validation import _scalar

MIN_ROWS = 10
MAX_CLASSES = 20  # integer targets with at most this many values are class labels
MAX_CATEGORIES = 50  # text columns with more distinct values are refused
# A count target's largest value is at most this many times the largest value of
# 99% of its rows (_count_like).
_TAIL_REACH = 5
# Set while predict reads a file with the number format fit read its file with (no
# --decimal or --thousands given to predict): the hints then name that, not an
# option the user gave (tester DC: "leave --decimal out", which was left out).
FORMAT_CARRIED = contextvars.ContextVar("fixntk_format_carried", default=False)
# Words in at most this share of a numeric target's cells are stray words (data
# errors), however many different ones.
_RARE_WORDS = 0.02
# A text column whose cells are numbers in this share or more is said to be so when
# it is one-hot encoded (its words may be errors or gaps).
_NUMBERS_SHARE = 0.9
_SNIFF_BYTES = 1 << 16


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


@dataclass
class Table:
    """A CSV read for fixntk: features (a DataFrame) and what was done to the file."""

    name: str
    frame: pd.DataFrame  # every column but the ones dropped
    messages: list = field(default_factory=list)  # what was dropped, and why
    decimal: str = "."  # the decimal mark it was read with
    index: pd.Series = None  # the --index-col column, if any
    # column name -> that column as the file writes it (text, the frame's index),
    # read again on demand; None where it cannot be read so
    text_of: object = None
    thousands: str = None  # the thousands separator it was read with, if any
    # the unnamed first column dropped as a saved row index (no --index-col), if any:
    # predict's row labels where fit took it with --index-col 0
    saved_index: pd.Series = None
    short_rows: str = None  # the note on rows with fewer fields than the header
    digest: str = None  # BLAKE2b of the file's bytes (decompressed): the same file


@dataclass
class Dataset:
    """Features, target and task of one dataset."""

    name: str
    X: object  # ndarray, or DataFrame for CSV data
    y: np.ndarray
    task: str  # "classification" or "regression"
    numeric: list = field(default_factory=list)  # feature columns used as numbers
    text: list = field(default_factory=list)  # feature columns one-hot encoded
    messages: list = field(default_factory=list)
    impute: bool = False  # missing feature values filled by the pipeline (--impute)
    ids: list = field(default_factory=list)  # row identifier columns left out
    index_name: str = None  # the --index-col column's name (given by name or position)
    digest: str = None  # the file's bytes' BLAKE2b digest (Table.digest)
    weight: np.ndarray = None  # the rows' weights (--sample-weight), or None
    weight_name: str = None  # the column they were read from
    categorical: list = field(default_factory=list)  # text columns by --categorical

    @property
    def n_features(self):
        return self.X.shape[1]


# The index name of a frame read by read_table: its labels are the file's line numbers
_LINES = "line in the file"


# A regression target value this many median absolute deviations from the median is
# named in a note (a typo of 5e6 among house prices near 20 made the model constant,
# with no word on why); heavy-tailed measurements stay well below it (diamonds'
# prices: 9).
_FAR_TARGET_MADS = 1000.0


def _far_targets_note(y, target, rows):
    """A note naming regression targets far from the rest, or None."""
    y = np.asarray(y, dtype=float)
    med = float(np.median(y))
    mad = float(np.median(np.abs(y - med)))
    if not mad > 0:
        return None
    far = np.flatnonzero(np.abs(y - med) > _FAR_TARGET_MADS * mad)
    if far.size == 0 or far.size > 0.01 * y.size + 1:
        return None  # none, or too many to be slips: the distribution itself
    shown = ", ".join(f"line {_line(rows, k)}: {y[k]:.6g}" for k in far[:5])
    return (
        f"target {target!r}: {far.size} value(s) lie more than "
        f"{_FAR_TARGET_MADS:g} median absolute deviations from its median {med:.6g} "
        f"({shown}{', ...' if far.size > 5 else ''}): typos, or another unit? A "
        "squared loss follows them (a model that predicts nearly a constant); "
        "correct them or remove those rows"
    )


def _line(rows, position):
    """The file's line number of data row ``position`` of ``rows`` (a frame or a
    series): its index label when read_table set it (blank lines and quoted fields
    that span lines counted), else ``position + 2`` (the header is line 1)."""
    if rows.index.name == _LINES:
        return int(rows.index[int(position)])
    return int(position) + 2


def _digest(path, raw):
    """BLAKE2b of the file's bytes (``raw``, if read already), read in blocks."""
    h = hashlib.blake2b(digest_size=16)
    if raw is not None:
        h.update(raw)
    else:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _file_text(path, raw):
    """The file's text (``raw``, its bytes, if read already), as pandas decodes it."""
    if raw is None:
        with open(path, "rb") as fh:
            raw = fh.read()
    return raw.decode("utf-8-sig", errors="replace")


def _records(text, delimiter):
    """``(line, fields)`` of each record the csv module reads in ``text`` (``fields``
    None for a blank line, empty or spaces only outside quotes, which pandas skips);
    ``line`` is the record's first line. Raises csv.Error."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    end = 0
    for record in reader:
        start, end = end + 1, reader.line_num
        blank = not record or (len(record) == 1 and not record[0].strip())
        yield start, None if blank else record


def _row_lines(path, raw, delimiter, n_rows):
    """``(lines, blank)``: the line of each of the first ``n_rows`` data rows of the
    file, and the blank lines among them (lines pandas skips: empty or spaces only,
    outside quotes; predictions are one per row, not per line), or ``(None, [])`` (a
    regular-expression delimiter, or a file the csv module reads otherwise than
    pandas). Position + 2 was reported before: wrong after a blank line or a quoted
    field over several lines."""
    if delimiter is None or len(delimiter) != 1:
        return None, []
    text = _file_text(path, raw)
    lead = len(text) - len(text.lstrip("\r\n"))
    body = text.lstrip("\r\n").replace("\r\n", "\n")
    if '"' not in text and not re.search(r"\n[ \t]*\n", body):
        first = text[:lead].count("\n") + 2  # one line per row: no parse needed
        return np.arange(first, first + n_rows), []
    starts, blank = [], []
    try:
        for start, fields in _records(text, delimiter):
            # a line of spaces counted as a row put every later line number one too
            # low (a tester)
            if fields is not None:
                starts.append(start)
            elif starts:  # after the header's line
                blank.append(start)
    except csv.Error:
        return None, []
    if len(starts) < n_rows + 1:
        return None, []
    last = starts[n_rows]
    return np.asarray(starts[1 : n_rows + 1]), [str(k) for k in blank if k < last]


def _short_rows_note(path, raw, delimiter, frame):
    """A note naming the rows with fewer fields than the header (None if none). pandas
    fills such a row's last columns with missing values: right where the file leaves
    out trailing empty fields (Excel does, and optional last columns), but a value
    left out in the middle of a row moves the ones after it a column to the left, and
    that was fitted without a word (the message blamed the last column's gap and
    --impute filled it; tester CN). Said, not refused (a refusal turned away files
    pandas reads right; CQ). Read only when the frame's last column has a gap (a
    short row leaves one): a clean file is not parsed twice. The header's trailing
    empty names (a delimiter at the end of the header line) are not counted."""
    if delimiter is None or len(delimiter) != 1 or frame.shape[1] < 2:
        return None
    if not frame.iloc[:, -1].isna().any():
        return None
    width, short = None, []
    try:
        for line, fields in _records(_file_text(path, raw), delimiter):
            if fields is None:
                continue
            if width is None:
                while fields and not fields[-1].strip():
                    fields = fields[:-1]
                width = len(fields)
            elif len(fields) < width:
                short.append(f"line {line} ({len(fields)})")
    except csv.Error:  # read otherwise than pandas: not judged here
        return None
    if not short:
        return None
    more = f" and {len(short) - 5} more" if len(short) > 5 else ""
    return (
        f"row(s) with fewer fields than the header's {width}: "
        f"{', '.join(short[:5])}{more}; their last column(s) read as missing. Where a "
        "value was left out in the middle of such a row, the ones after it moved a "
        "column to the left: check those lines"
    )


STDIN = "-"  # the file name that reads standard input
# the advice for class labels read where a regression's numbers are needed (the fit
# with --loss poisson gives its own: dataset_from_table's labels_advice)
LABELS_ADVICE = "use --task classification for labels"


def shown(path):
    """How messages name the file ``path``."""
    return "standard input" if path == STDIN else path


def _source(path, raw):
    """What pandas reads: the file's path, or its bytes read once (standard input, a
    pipe) in a stream of their own."""
    return path if raw is None else io.BytesIO(raw)


# The first bytes of compressed files, and how to open them (by content, whatever
# the name: a gzip file on standard input, or saved as data.csv, read as cp1252 text)
_COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "lzma"),
    (b"PK\x03\x04", "zip"),
)

# Files of other formats passed for a CSV (by their first bytes): what they are, and
# how to get a CSV from them. An Excel workbook was called 'a zip archive of 10 files:
# extract it first', an .xls or a Parquet file told to convert with iconv (tester EH).
_SPREADSHEET = "save it as 'CSV UTF-8' from the spreadsheet program"
_PICKLE_ADVICE = "fixntk predict MODEL DATA takes the model first, the CSV second"
_OTHER_FORMATS = (
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an Excel 97-2003 workbook (.xls) or another legacy Office file",
        _SPREADSHEET,
    ),
    (b"PAR1", "a Parquet file", "pandas.read_parquet(path).to_csv(new_path)"),
    (b"ARROW1", "an Arrow/Feather file", "pandas.read_feather(path).to_csv(new_path)"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file", "pandas.read_hdf(path).to_csv(new_path)"),
    (b"SQLite format 3\x00", "an SQLite database", "export a table as CSV"),
    (
        b"\x93NUMPY",
        "a NumPy .npy array",
        "numpy.savetxt(new_path, array, "
        "delimiter=',') with a header naming the columns",
    ),
    (b"%PDF-", "a PDF document", "export the table as CSV from its source"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "give the CSV file of the data"),
    (b"\xff\xd8\xff", "a JPEG image", "give the CSV file of the data"),
    *(
        (bytes([0x80, v]), "a pickle (a model saved by fixntk fit?)", _PICKLE_ADVICE)
        for v in range(2, 6)
    ),
)


def _check_text_format(path, head):
    """A UserError when the file's first bytes are those of a binary format listed
    in _OTHER_FORMATS (those whose mark is text, as Parquet's 'PAR1', with a
    control character after it: a CSV's header may begin 'PAR1,')."""
    binary = any(b < 9 or 13 < b < 32 for b in head)
    for magic, what, advice in _OTHER_FORMATS:
        if magic == b"%PDF-" and not re.match(rb"%PDF-\d\.\d", head):
            continue  # a header that begins '%PDF-' (tester EI)
        if head.startswith(magic) and (binary or not magic.isalnum()):
            raise UserError(
                f"{shown(path)} is {what}, not a CSV file; fixntk reads CSV text: "
                f"{advice}"
            )


def _office_archive(names):
    """What an Office file read as a zip archive is (its member names), or None."""
    if "[Content_Types].xml" in names:
        kinds = (("xl/", "an Excel workbook (.xlsx)"), ("word/", "a Word document"))
        for folder, what in kinds:
            if any(n.startswith(folder) for n in names):
                return what
        return "an Office document"
    if "mimetype" in names and any(n == "content.xml" for n in names):
        return "an OpenDocument file (.ods)"
    return None


# Minus signs other than ASCII's hyphen-minus that numbers are written with, in
# UTF-8: the Unicode minus sign (web pages, typeset tables, some locales' exports) and
# the full-width one (East Asian spreadsheets). pandas reads neither.
_MINUS_BYTES = ("\u2212".encode(), "\uff0d".encode())


def _ascii_minus(path, raw):
    """The file's bytes with every Unicode minus sign written as '-', and how many
    there were (``raw`` unchanged, and 0, where there is none; a file on disk is
    read into memory only then). Every check then sees the numbers as pandas
    reads them (tester DC: '\u22124.7' one-hot encoded, refused as an identifier, a
    target of 157 classes; tester DE: a column-wise reading skipped the checks of
    thousands separators and decimal commas, and blamed numbers for a stray word)."""
    if raw is None:
        found, tail = False, b""
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                if any(m in tail + block for m in _MINUS_BYTES):
                    found = True
                    break
                tail = block[-2:]
        if not found:
            return raw, 0
        with open(path, "rb") as fh:
            raw = fh.read()
    count = sum(raw.count(m) for m in _MINUS_BYTES)
    for m in _MINUS_BYTES:
        if m in raw:
            raw = raw.replace(m, b"-")
    return raw, count


def _cr_lines(path, raw):
    """The file's bytes with lines ended by a carriage return alone (classic Mac OS,
    some old Excel exports) ended by '\n', else ``raw`` unchanged: pandas' reader
    stops at such a file with "new-line character seen in unquoted field", which
    names no option of ours (tester EE). Judged on the first 64 KiB: CRs and no LF."""
    if raw is None:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    else:
        head = raw[: 1 << 16]
    if b"\r" not in head or b"\n" in head:
        return raw
    if raw is None:
        with open(path, "rb") as fh:
            raw = fh.read()
    return raw.replace(b"\r", b"\n")


def _dos_end(path, raw):
    """The file's bytes without the end-of-file mark of DOS editors (Ctrl-Z, 0x1A)
    at its end, else ``raw`` unchanged: it was read as a last line of empty cells
    and refused by a line number the user's editor does not show (tester EH)."""
    if raw is None:
        with open(path, "rb") as fh:
            fh.seek(max(os.path.getsize(path) - 8, 0))
            tail = fh.read()
    else:
        tail = raw[-8:]
    if b"\x1a" not in tail.rstrip(b"\r\n"):
        return raw
    if raw is None:
        with open(path, "rb") as fh:
            raw = fh.read()
    # every mark at the end (two, or CP/M's padding to 128 bytes; tester EI)
    body = raw.rstrip(b"\r\n\x1a")
    end = raw[len(body) :]
    return body + b"\n" if b"\x1a" in end else raw


def _decompressed(path, raw):
    """The bytes of a compressed file (gzip, bz2, xz, or a zip archive of one file)
    decompressed, else ``raw`` unchanged (None: read ``path`` itself)."""
    if raw is None:
        with open(path, "rb") as fh:
            head = fh.read(16)
    else:
        head = raw[:16]
    _check_text_format(path, head)
    kind = next((k for magic, k in _COMPRESSED if head.startswith(magic)), None)
    if kind == "bz2" and not re.match(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)", head):
        kind = None  # a header that begins 'BZh' (a column 'BZh_code'; tester EI)
    if kind is None:
        return raw
    import importlib

    source = io.BytesIO(raw) if raw is not None else path
    try:
        if kind == "zip":
            import zipfile

            with zipfile.ZipFile(source) as archive:
                _refuse_office(path, archive.namelist())
                names = [  # not the folders, nor the resource forks macOS adds
                    i
                    for i in archive.infolist()
                    if not i.is_dir()
                    and not i.filename.startswith("__MACOSX/")
                    and not os.path.basename(i.filename).startswith("._")
                ]
                if len(names) != 1:
                    raise UserError(
                        f"{shown(path)} is a zip archive of {len(names)} files; fixntk "
                        "reads one CSV file: extract it first"
                    )
                data = archive.read(names[0])
        else:
            with importlib.import_module(kind).open(source, "rb") as fh:
                data = fh.read()
    except (OSError, EOFError, ValueError) as exc:  # truncated or corrupt
        raise UserError(
            f"cannot decompress {shown(path)} ({kind}): {exc}; is the file complete?"
        ) from None
    # what it holds, named as for a file that is not compressed (a zipped workbook,
    # as sent by email, was told to convert with iconv; tester EI)
    _check_text_format(f"{shown(path)} ({kind}-compressed)", data[:16])
    if data.startswith(b"PK\x03\x04"):
        import zipfile

        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                names = inner.namelist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            names = []
        _refuse_office(path, names, kind)
        raise UserError(
            f"{shown(path)} holds a zip archive ({kind}-compressed), not a CSV file; "
            "fixntk reads CSV text: extract it"
        )
    return data


def _refuse_office(path, names, compressed=None):
    """A UserError when the zip archive of member ``names`` is an Office file (a
    workbook), named so (``compressed``: the compression around the archive)."""
    office = _office_archive(names)
    if office is None:
        return
    if compressed is None:
        raise UserError(
            f"{shown(path)} is {office}, not a CSV file; fixntk reads CSV text: "
            f"{_SPREADSHEET}"
        )
    raise UserError(
        f"{shown(path)} holds {office} ({compressed}-compressed), not a CSV file; "
        f"fixntk reads CSV text: extract it and {_SPREADSHEET}"
    )


def _sniff(path, sep, raw=None):
    if sep is not None:
        return sep.replace("\\t", "\t")
    if raw is not None:
        sample = raw[:_SNIFF_BYTES].decode("utf-8-sig", errors="replace")
    else:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            sample = fh.read(_SNIFF_BYTES)
    lines = sample.splitlines()
    if len(lines) > 1 and len(sample) == _SNIFF_BYTES:
        lines = lines[:-1]  # drop a line cut short by the sample
    # blank lines and rows of empty cells (";;;;") left out: one in the middle of a
    # ';' file made the sniffer fall back to ',' (a tester)
    sample = "\n".join(line for line in lines if line.strip(" ,;\t|"))
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


# Cells read as missing: pandas' defaults but for "None", which tables use as a
# category ("no garage": Ames housing's Garage_Type) far more often than for a gap,
# with "?" (the UCI repository's files mark their gaps so) and the error values a
# spreadsheet exports ("#DIV/0!"), which were refused as text only after --impute had
# filled the other gaps (a tester).
MISSING_TEXT = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null", "?",
    "#DIV/0!", "#VALUE!", "#REF!", "#NUM!", "#NAME?", "#NULL!",
)  # fmt: skip
# ... and a lone dash, a spreadsheet's gap, in a column of numbers only: elsewhere it
# is a value (UCI's credit approval labels '+' and '-', a strand, a rating '--')
DASHES = ("-", "--")
# ... and the other words of a gap that a column of numbers only may hold, matched
# without case: SAS's and Stata's '.', Eurostat's ':', 'n.a.', 'missing' (among numbers
# they were refused as text to fix by hand, with no option to read them; a tester).
# Not 'none': a count's 0 written as 'none' is a class (a reviewer's defects '1', '2',
# 'none' lost the class 'none' as missing targets)
# The words of MISSING_TEXT are matched without case there too ('NAN', C's %F
# spelling, 'Null', 'N/a' were refused as stray words where 'NaN' and 'null' were
# gaps; a tester).
GAP_WORDS = frozenset(
    DASHES
    + ("\u2013", "\u2014", ".", "..", ":", "na", "n.a.", "n.a", "n/a.")
    + ("missing", "not available")
    + tuple(word.casefold() for word in MISSING_TEXT if word)
)


# The words of MISSING_TEXT and GAP_WORDS that this command reads as values (its
# --not-missing; fit's, carried to predict): 'NA' is North America's code, and
# Namibia's, and every such row was missing (tester EH: the continent column refused,
# or filled with 'EU' by --impute; as the target, the class dropped).
KEPT_WORDS = contextvars.ContextVar("fixntk_kept_words", default=())


def _keep_hint():
    """Said where cells were read as missing: the way to read such a word as a
    value (nothing once --not-missing is given)."""
    if KEPT_WORDS.get():
        return ""
    return (
        " (cells 'NA', 'NULL', '?' and the like are missing; --not-missing NA reads "
        "NA as a value, a code)"
    )


def missing_text():
    """The cells read as missing: MISSING_TEXT but the words kept as values (matched
    without case: --not-missing na keeps 'NA'). Among numbers they are still gaps
    (:data:`GAP_WORDS`): R writes NA for a country code and for a missing number in
    one file, and --not-missing NA refused the number column's NA as a word
    (tester EI)."""
    kept = {word.casefold() for word in KEPT_WORDS.get()}
    return [word for word in MISSING_TEXT if word.casefold() not in kept]


def _gap_words(series):
    """Boolean mask of the cells of a text column that are :data:`GAP_WORDS`."""
    text = series.where(series.isna(), series.astype(str).str.strip().str.casefold())
    return text.isin(GAP_WORDS).to_numpy(bool)


def read_table(
    path,
    sep=None,
    index_col=None,
    drop=(),
    decimal=None,
    thousands=None,
    target=None,
    weight=None,
):
    """Read `path` into a Table; every problem is a UserError naming the option.
    Cells holding one of MISSING_TEXT ("NA", "null", an empty cell...) are missing
    values; ``decimal`` is the decimal mark (None: '.', not given), ``thousands``
    the thousands separator inside numbers, if any. ``-`` reads standard input; it
    and other streams (a pipe, /dev/stdin) are read once."""
    decimal_given, decimal = decimal is not None, decimal or "."
    raw = None
    if path == STDIN:
        raw = sys.stdin.buffer.read()
    elif not os.path.exists(path):
        raise UserError(f"file not found: {path}")
    elif os.path.isdir(path):
        raise UserError(f"{path} is a directory, not a CSV file")
    elif not os.path.isfile(path):  # a pipe: its size reads 0, and it reads once
        with open(path, "rb") as fh:
            raw = fh.read()
    stored, raw = raw, _decompressed(path, raw)
    raw, minus = _ascii_minus(path, raw)
    raw = _cr_lines(path, raw)
    raw = _dos_end(path, raw)
    size = os.path.getsize(path) if raw is None else len(raw)
    name, path = path, shown(path)
    if size == 0:
        unpacked = " once decompressed" if raw is not stored else ""
        raise UserError(
            f"{path} is empty (0 bytes{unpacked}); fixntk needs a header row naming "
            "the columns and rows of data"
        )
    _check_preamble(path, raw)
    delimiter = _sniff(path, sep, raw)
    options = dict(decimal=decimal, thousands=thousands, na_values=missing_text())
    # rows that end in a delimiter the header lacks ('1,2,3,' under 'a,b,c'): pandas
    # took the first column for the index and moved every name one column left
    # (tester DC: fit refused the last column as empty and fitted the wrong target
    # once it was dropped; predict gave -300 for 25.7), or refused the file where the
    # first row did not (tester DE); told that there is no index column it drops
    # their empty last fields
    trailing = 0
    try:
        try:
            frame = _read_csv(_source(path, raw), delimiter, **options)
        except pd.errors.ParserError:
            trailing, width = _trailing_fields(path, raw, delimiter)
            if not trailing:
                raise
        if trailing or not frame.index.equals(pd.RangeIndex(len(frame))):
            if not trailing:
                trailing, width = _trailing_fields(path, raw, delimiter)
            if trailing:
                # the header's columns only (rows without the extra field among
                # them: pandas refused the others as too long without usecols)
                options.update(index_col=False, usecols=list(range(width)))
                frame = _read_csv(_source(path, raw), delimiter, **options)
    except pd.errors.EmptyDataError:  # blank lines only
        raise UserError(
            f"{path} holds no columns (blank lines only); fixntk needs a header row "
            "naming the columns and rows of data"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
        hint = "(--sep sets the delimiter)"
        if isinstance(exc, UnicodeDecodeError):
            hint = (
                "(fixntk reads UTF-8: save the file as UTF-8, e.g. Excel's "
                "'CSV UTF-8', or convert it with iconv -f cp1252 -t utf-8)"
            )
        raise UserError(
            f"cannot read {path} as CSV with delimiter {delimiter!r}: {first} {hint}"
        ) from None
    _check_unique_names(path, raw, delimiter)
    messages, index, saved_index = [], None, None
    if minus:
        messages.append(
            f"{minus} minus sign(s) written as Unicode's (U+2212, or full-width) read "
            "as '-'"
        )
    if trailing:
        messages.append(
            f"{trailing} row(s) end with a delimiter the header line lacks (an empty "
            "last field): read without it"
        )
    short = _short_rows_note(path if raw is None else None, raw, delimiter, frame)
    if short:
        messages.append(short)
    # a spreadsheet's saved range: rows of empty cells at the end (',,,'), columns
    # with neither a name nor a value
    empty = frame.isna().all(axis=1).to_numpy()
    n_rows = int(np.flatnonzero(~empty)[-1]) + 1 if (~empty).any() else 0
    if n_rows < len(frame):
        messages.append(
            f"{len(frame) - n_rows} row(s) of empty cells at the end of the file "
            "(a spreadsheet's saved range) skipped"
        )
        # read again without them: their gaps made integer columns floats
        frame = _read_csv(_source(path, raw), delimiter, nrows=n_rows, **options)
    blank = [
        c
        for c in frame.columns
        if re.fullmatch(r"Unnamed: \d+", c) and len(frame) and frame[c].isna().all()
    ]
    if blank:
        frame = frame.drop(columns=blank)
        messages.append(
            f"{len(blank)} column(s) without a name or a value (a spreadsheet's "
            "saved range) skipped"
        )
    if frame.shape[1] == 1 and sep is None and _other_delimiter(frame.columns[0]):
        raise UserError(
            f"{path} reads as a single column {frame.columns[0]!r} with delimiter "
            f"{delimiter!r}; pass the delimiter with --sep (e.g. --sep ';')"
        )
    # --drop's positions count the file's columns, as --index-col's do (they counted
    # those left after --index-col: 3 dropped the file's column 4; a tester); a
    # column named twice (or by name and by position) is dropped once
    drop = list(dict.fromkeys(_resolve(frame, label, "--drop") for label in drop))
    for col in drop:
        _not_the_target(col, target, f"--drop {col!r}", "a column left out")
        _not_the_weights(col, weight, f"--drop {col!r}")
    if index_col is not None:
        col = _resolve(frame, index_col, "--index-col")
        _not_the_target(col, target, f"--index-col {index_col!r}", "the row labels")
        _not_the_weights(col, weight, f"--index-col {index_col!r}")
        index = frame[col]
        frame = frame.drop(columns=[col])
        messages.append(f"column {col!r} read as the row index (--index-col)")
    elif frame.columns[0].startswith("Unnamed: 0") or frame.columns[0] == "":
        saved_index = frame[frame.columns[0]]
        frame = frame.drop(columns=[frame.columns[0]])
        messages.append(
            "the first column has no name (a saved row index) and was dropped; "
            "--index-col 0 says so explicitly, or give it a name in the header to use "
            "it as a feature"
        )
    unnamed = [c for c in frame.columns if re.fullmatch(r"Unnamed: \d+", c)]
    if unnamed:  # pandas' name for a column the header leaves blank
        messages.append(
            f"column(s) {', '.join(map(repr, unnamed))} have no name in the header "
            "(pandas names them by position) and are used as features; --drop "
            "leaves them out"
        )
    drop = [col for col in drop if col in frame.columns]  # not the index's again
    frame = frame.drop(columns=drop)
    if drop:
        messages.append(f"dropped {', '.join(map(repr, drop))} (--drop)")
    # the columns kept (a refused column was refused even with --drop; tester CZ)
    if thousands is not None:
        _check_thousands(path, delimiter, decimal, thousands, frame, raw)
    elif delimiter != "," and not decimal_given:
        _check_dotted_thousands(path, delimiter, frame, raw)
    lines, blank = _row_lines(path if raw is None else None, raw, delimiter, len(frame))
    if lines is not None:
        frame.index = pd.Index(lines, name=_LINES)
        if blank:
            messages.append(
                f"blank line(s) {_shown(blank, 8)} skipped: they are no row (and get "
                "no prediction)"
            )
        if index is not None:
            index = index.set_axis(frame.index)
        if saved_index is not None:
            saved_index = saved_index.set_axis(frame.index)
    _check_repeated_header(frame, path)
    base = os.path.splitext(os.path.basename("stdin" if name == STDIN else name))[0]
    rows, row_index = len(frame), frame.index

    def text_of(col):
        try:
            text = _read_csv(
                _source(path, raw),
                delimiter,
                dtype=str,
                nrows=rows,
                **{**options, "usecols": lambda c: c.strip() == col},
            )
            return text.iloc[:, 0].set_axis(row_index)
        except (KeyError, IndexError, ValueError):  # not found as read
            return None

    digest = _digest(path if raw is None else None, raw)
    return Table(
        base, frame, messages, decimal, index, text_of, thousands, saved_index, short,
        digest,
    )  # fmt: skip


def _check_repeated_header(frame, path):
    """Refuse rows that repeat the header line in every column kept (files joined
    with ``cat``, each with its header): in a file of text columns they were read
    as data, a class named after the target's column said to be a typo (tester
    EE); among numbers they were refused as a stray word (the name with a
    byte-order mark before it, where the second file began with one)."""
    if frame.shape[1] == 0 or len(frame) == 0:
        return
    first = frame.iloc[:, 0]
    if pd.api.types.is_numeric_dtype(first) or pd.api.types.is_bool_dtype(first):
        return  # a column name (text) among its cells made the column text

    def as_name(col, rows):
        cells = frame[col].iloc[rows]
        # (the second file's byte-order mark, if any, opens its header line)
        text = cells.astype(str).str.strip().str.lstrip("\ufeff")
        return cells.where(cells.isna(), text).eq(str(col))

    rows = np.flatnonzero(as_name(frame.columns[0], slice(None)).to_numpy())
    for col in frame.columns[1:]:
        if not rows.size:
            return
        rows = rows[as_name(col, rows).to_numpy()]
    if rows.size:
        where = _shown([str(_line(frame, int(k))) for k in rows], 8)
        raise UserError(
            f"{path}: line(s) {where} repeat the header line (files joined, each with "
            "its header?); delete them"
        )


def _check_preamble(path, raw):
    """Refuse, by what they are, first lines that are not the header: a UTF-16 file
    (its byte-order mark; it was told to convert from cp1252), Excel's delimiter
    hint ``sep=,`` (read as the header), a comment line (pandas' 'Expected 1
    fields')."""
    if raw is not None:
        head = raw[:4096]
    else:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(
            f"{path} is UTF-16 (its byte-order mark says so); fixntk reads UTF-8: "
            "save it as 'CSV UTF-8', or convert it with iconv -f utf-16 -t utf-8"
        )
    lines = [t.strip() for t in head.decode("utf-8-sig", errors="replace").splitlines()]
    first = lines[0] if lines else ""
    if re.fullmatch(r'"?sep=.?"?', first, flags=re.IGNORECASE):
        raise UserError(
            f"{path}: line 1, {first!r}, is Excel's delimiter hint, not the header; "
            "delete that line (the header must come first; --sep sets the delimiter)"
        )
    data = next((t for t in lines[1:] if t and not t.startswith("#")), None)
    if first.startswith("#") and data is not None and _fields(first) != _fields(data):
        # (a header may name its first column '#', as Pokemon.csv does: then the
        # next line has as many fields)
        raise UserError(
            f"{path}: line 1 starts with '#' (a comment?); fixntk reads the header "
            "from the first line: delete the comment lines above it"
        )


def _fields(line):
    """The number of fields of a line by its most frequent likely delimiter."""
    return 1 + max(line.count(d) for d in ",;\t|")


def _other_delimiter(name):
    """Whether a column name holds a likely delimiter (the file's delimiter is then
    probably another than the one it was read with)."""
    return any(c in str(name) for c in ",;\t|")


def _count_like(uniq, counts):
    """Whether distinct integers ``uniq`` (sorted) seen ``counts`` times look like
    counts rather than class labels: 10 or more values from 0 or 1, with gaps in their
    range, the two largest in a single row each (a tail). Publications per scientist,
    0 to 19 with 13-15, 17 and 18 never seen, were 15 classes (a tester); class codes
    run without gaps (months 1-12), are few (glass types 1-3, 5-7), or start far from
    0 (diagnosis codes, years), and counts from 0 or 1 fill at least half their
    range."""
    k = uniq.size
    span = uniq[-1] - uniq[0] + 1
    # counts start at 0 or 1 and fill most of their range (codes 250-599, postcodes,
    # years, or 0-11 with the typos 99 and 111 were taken for counts; a tester)
    if k < 10 or uniq[0] not in (0, 1) or span == k:
        return False
    if 2 * k < span:
        # ... or a tail thins out beyond a range they fill: the values of 99% of the
        # rows fill at least half their own range, and the largest is within
        # _TAIL_REACH times the largest of those (doctor visits, 0-48 in 17 values,
        # were 17 classes; tester DC); 0-11 with the typos 99 and 111 are not
        share = np.cumsum(counts) / counts.sum()
        q = int(uniq[min(int(np.searchsorted(share, 0.99)), k - 1)])
        head = int((uniq <= q).sum())
        if 2 * head < q - uniq[0] + 1 or uniq[-1] > _TAIL_REACH * max(q, 1):
            return False
        if k - head < 3:  # two values past the rest are typos (ratings 1-10 with a
            return False  # 20 and a 30: tester DE), a tail has more
    return bool((counts[-2:] == 1).all())


def _mostly_lone(lone, k, n):
    """Whether k distinct target values among n rows, ``lone`` of them in a single
    row, are amounts rather than class labels: most values, holding a quarter of the
    rows or more, occur once (10 prices in 10 rows; 11 weights in 15 rows). A few
    one-row values among many rows are typos of labels (3 in 400 rows of 0 and 1),
    not amounts."""
    return k >= 3 and 2 * lone > k and 4 * lone >= n


def _header_hint(columns):
    """A hint when the column names look like data (most of them numbers): the file
    probably has no header row."""
    names = pd.Series([str(c) for c in columns])
    numbers = int(pd.to_numeric(names, errors="coerce").notna().sum())
    if numbers >= 2 and 2 * numbers >= len(names):
        k = len(names) - 1
        shown = (
            [f"x{j + 1}" for j in range(k)] if k <= 4 else ["x1", "x2", "...", f"x{k}"]
        )
        example = ",".join(shown + ["y"])
        return (
            "; the column names look like data: the file seems to have no header "
            "row, and its first line must name the columns: add one, e.g. "
            f"'{example}' (then --target y)"
        )
    return ""


def _names_within_their_columns(frame):
    """Whether most column names that are numbers lie within their own columns'
    values, as a first row of data read as the header does (5.1 over values 4.3 to
    7.9); names that are numbers of another kind (wavelengths, years over their
    measurements) do not (the note fired on every such file; tester CQ)."""
    inside = total = 0
    for col in frame.columns:
        name = pd.to_numeric(pd.Series([str(col)]), errors="coerce").iloc[0]
        values = pd.to_numeric(frame[col], errors="coerce").dropna()
        if pd.isna(name) or values.empty:
            continue
        total += 1
        # a sorted column's first value, read as its name, lies beyond the rest and
        # continues their order (tester CS: the note was lost for such a file); the
        # others' within their range widened by three mean steps
        step = 3 * (values.max() - values.min()) / max(len(values) - 1, 1)
        first = values.iloc[0]
        inside += bool(
            values.min() - step <= name <= values.max() + step
            or (values.is_monotonic_increasing and name <= first)
            or (values.is_monotonic_decreasing and name >= first)
        )
    return total >= 2 and 2 * inside > total


def _check_unique_names(path, raw, delimiter):
    """Refuse a header that names a column twice: pandas renames the second 'y' to
    'y.1', so --target y took the first of two and used the other as a feature, and
    --target y.1 was accepted for a name the file does not hold."""
    head = _read_csv(_source(path, raw), delimiter, header=None, nrows=1, dtype=str)
    names = [column_name(v) for v in head.iloc[0]] if len(head) else []
    seen, twice = {}, []
    for k, name in enumerate(names, 1):
        if name and name != "nan" and name in seen and name not in twice:
            twice.append(name)
        seen.setdefault(name, k)
    if twice:
        where = "; ".join(
            f"{name!r} (columns "
            + ", ".join(str(k) for k, v in enumerate(names, 1) if v == name)
            + ")"
            for name in twice
        )
        raise UserError(
            f"{path}: the header names a column more than once: {where}; give each "
            f"column its own name{_header_hint(names)}"
        )


def column_name(name):
    """A column name as the command line matches it: stripped, in Unicode's composed
    form (NFC). A file written on macOS may spell 'é' as 'e' and a combining accent
    (NFD), which prints the same as the 'é' typed in a shell and compares unequal."""
    return unicodedata.normalize("NFC", str(name).strip())


def _trailing_fields(path, raw, delimiter):
    """(rows, fields): how many data rows have one field more than the header line,
    an empty one written as a delimiter at the end of the line ('1,2,3,' under
    'a,b,c'), and the header's number of fields. No rows where none has, or where a
    row with more fields ends otherwise: R's write.table with row names writes the
    row name first and ends in a value, NA or "" (tester DE: an all-NA last column
    was taken for the empty fields and every column read one place off).
    ``path``, ``raw``: the file, or its bytes if read already (:func:`_file_text`)."""
    if delimiter is None or len(delimiter) != 1:
        return 0, 0
    text = _file_text(path, raw)
    lines = text.split("\n")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header, count = None, 0
    for row in reader:
        if not any(field.strip() for field in row):  # blank, or delimiters only
            continue
        if header is None:
            header = len(row)
            continue
        if len(row) <= header:
            continue
        line = lines[reader.line_num - 1].rstrip("\r").rstrip(" ")
        if len(row) != header + 1 or row[-1].strip() or not line.endswith(delimiter):
            return 0, header
        count += 1
    return count, header


def _read_csv(path, delimiter, **options):
    """The file as pandas reads it with our settings (UTF-8 with or without a BOM,
    spaces after delimiters and blank lines skipped, only ``na_values`` missing) and
    the column names stripped."""
    if delimiter is not None and len(delimiter) > 1:  # a regular expression
        options.setdefault("engine", "python")  # (pandas warned that it chose it)
    frame = pd.read_csv(
        path,
        sep=delimiter,
        keep_default_na=False,
        skipinitialspace=True,
        skip_blank_lines=True,
        encoding="utf-8-sig",
        **options,
    )
    missing = set(options.get("na_values") or ())
    for col in frame.columns:  # ' yes' and 'yes ' are the label 'yes'
        if not pd.api.types.is_numeric_dtype(frame[col]):
            try:  # strings and NaN
                frame[col] = frame[col].str.strip()
            except AttributeError:  # booleans (TRUE/FALSE with a missing cell), NaN
                text = frame[col].map(lambda v: isinstance(v, str)).to_numpy(bool)
                if text.any():
                    frame.loc[text, col] = frame.loc[text, col].str.strip()
            if missing:  # ' NA ', ' ? ': pandas matched them before the strip
                frame[col] = frame[col].mask(frame[col].isin(missing))
                dash = pd.Series(_gap_words(frame[col]), index=frame.index)
                rest = frame[col][~dash].dropna()
                decimal = options.get("decimal", ".")
                thousands = options.get("thousands")
                if dash.any() and len(rest):
                    _dashes_as_gaps(frame, col, dash, rest, decimal, thousands)
                if thousands is not None and options.get("dtype") is not str:
                    # (a read for the text as written keeps it: text_of)
                    _grouped_as_numbers(frame, col, decimal, thousands)
    # after the loop, whose names pandas made unique: two names equal in NFC alone
    # are refused as repeated by read_table (_check_unique_names)
    frame.columns = [column_name(c) for c in frame.columns]
    return frame


def _grouped_as_numbers(frame, col, decimal, thousands):
    """A text column of numbers grouped by a mark of ``thousands``' family that
    pandas does not take for it (a no-break space beside --thousands ' ', as French
    spreadsheets write them; a mark of more than one byte, which pandas' reader
    ignores), read as numbers."""
    cells = frame[col].dropna()
    if cells.empty or not cells.map(lambda v: isinstance(v, str)).all():
        return
    marks = _grouping_marks(thousands)
    marked = cells[cells.str.contains(_mark_class(marks))]
    # groups of three only: French phone numbers (01 23 45 67 00) stay text
    # (tester CZ)
    if marked.empty or not marked.str.match(_grouped_number(marks, decimal)).all():
        return
    numbers = _as_written_numbers(cells, decimal, thousands)
    if numbers.notna().all():
        frame[col] = numbers.reindex(frame.index)


def _dashes_as_gaps(frame, col, dash, rest, decimal, thousands):
    """A ``-`` among numbers is a missing value: the column's dashes masked, and with
    a thousands separator its numbers read (pandas left the column as text for the
    dashes, and '62,324.27' beside them was taken for a word under --thousands ','; a
    tester)."""
    if thousands is None:
        if _coerced(rest, decimal).notna().all():
            frame[col] = frame[col].mask(dash)
    elif _as_written_numbers(rest, decimal, thousands).notna().all():
        frame[col] = _as_written_numbers(frame[col].mask(dash), decimal, thousands)


def _check_thousands(path, delimiter, decimal, thousands, frame, data=None):
    """Refuse a ``--thousands`` that is not where thousands separators go in some
    number the file holds (pandas drops it anywhere: with '.', 0.503 read as 503);
    ``data``: the file's bytes when it was read as a stream."""
    if thousands == decimal:
        comma = " (--decimal ',' where decimals are written 1.234,5)" * (decimal == ".")
        raise UserError(
            f"--thousands {thousands!r} is also the decimal mark (--decimal, '.' by "
            f"default); they must differ{comma}"
        )
    raw = _read_csv(_source(path, data), delimiter, dtype=str)
    t, dm = _mark_class(_grouping_marks(thousands)), re.escape(decimal)
    # 1,234 or 12,345.6: a first group of 1-3 digits not starting with 0, then
    # groups of three, or India's 12,34,567 (groups of two before the last three);
    # 0.503 is no thousands grouping, nor is 3.126e+03
    groups = rf"([1-9]\d{{0,2}}({t}\d{{3}})+|[1-9]\d?({t}\d{{2}})+{t}\d{{3}})"
    grouped = rf"^\s*[+-]?{groups}({dm}\d*)?\s*$"
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]) or col not in raw:
            continue
        text = raw[col]
        marked = text[text.str.contains(t)]
        wrong = marked[~marked.str.match(grouped)]
        if not wrong.empty:
            raise UserError(
                f"{path}: column {col!r} has {wrong.iloc[0]!r}, where {thousands!r} "
                "does not separate thousands (groups of three digits); check "
                "--thousands and --decimal"
            )


def _check_dotted_thousands(path, delimiter, frame, data=None):
    """Refuse a file not separated by commas (';' or a tab: the spreadsheets of
    locales whose decimal mark is ',') with a column of numbers whose '.' numbers all
    have three digits after it and one to three before it, beside numbers without
    one of at most three digits (1.200 and 120.000 beside 640): '.' groups thousands
    there, as such locales write them, and pandas read 1.200 as 1.2, 1000 times too
    small, without a word (a tester's quantities). Gaps among them count for
    nothing (one empty cell let the column through; tester CZ); a number anywhere in
    the file whose '.' cannot group thousands (7.69, 4.0, 0.5) shows '.' to be the
    decimal mark there, and nothing is refused (means of three ratings, 4.333 beside
    3, were). --decimal '.' says the '.' is a decimal mark."""
    raw = _read_csv(_source(path, data), delimiter, dtype=str, na_values=missing_text())
    suspect = None
    for col in frame.columns:
        if col not in raw:
            continue
        text = raw[col].dropna().astype(str).str.strip()
        text = text[~_gap_words(text)]
        if text.empty or pd.to_numeric(text, errors="coerce").isna().any():
            continue  # not a column of numbers
        dotted = text.str.contains(".", regex=False).to_numpy()
        grouped = text.str.match(r"^[+-]?[1-9]\d{0,2}(\.\d{3})+$").to_numpy()
        if (dotted & ~grouped).any():
            return  # '.' is this file's decimal mark
        small = text[~dotted].str.match(r"^[+-]?\d{1,3}$").all()
        if suspect is None and dotted.any() and not dotted.all() and small:
            suspect = col, text[dotted].iloc[0], text[~dotted].iloc[0]
    if suspect is not None:
        col, example, beside = suspect
        raise UserError(
            f"{path}: column {col!r} has {example!r} beside {beside!r}, read as "
            f"{float(example):g}: pass --thousands '.' --decimal ',' if '.' "
            f"separates thousands there ({example} = {example.replace('.', '')}), "
            "or --decimal '.' if it is the decimal mark"
        )


def _not_the_target(col, target, option, what):
    """Refuse an --index-col or --drop that resolves (by name or by position) to the
    target column: by position it was then reported missing from the file."""
    if target is not None and _name_key(col) == _name_key(target):
        raise UserError(
            f"{option} names the target column (--target {target!r}); {what} and the "
            "target are different columns"
        )


def _not_the_weights(col, weight, option):
    """Refuse an --index-col or --drop that resolves (by name or by position) to the
    column of --sample-weight (it was then reported missing from the file)."""
    if weight is not None and col == weight:
        raise UserError(
            f"{option} names the column of weights (--sample-weight {weight!r}); the "
            "weights are left out of the features already"
        )


def _resolve(frame, name, option):
    """The column called `name` (or at integer position `name`)."""
    if name in frame.columns:
        return name
    if str(name).lstrip("-").isdigit():
        k = int(name)
        if 0 <= k < frame.shape[1]:
            return frame.columns[k]
    raise UserError(
        f"{option}: no column {name!r}{_near(name, frame.columns)}; columns: "
        f"{_shown(frame.columns)}{_header_hint(frame.columns)}"
    )


def _name_key(text):
    """``text`` without case, spaces, dots, dashes or underscores."""
    return re.sub(r"[\s._-]+", "", str(text)).casefold()


def _closest(name, columns):
    """The column that ``name`` names but for case, spaces, dots, dashes or
    underscores (or a close spelling), or None."""
    import difflib

    cols = [str(c) for c in columns]
    same = [c for c in cols if _name_key(c) == _name_key(name)]
    same = same or difflib.get_close_matches(str(name), cols, n=1, cutoff=0.8)
    return same[0] if same else None


def _near(name, columns):
    """' (did you mean 'X'?)' for the column X :func:`_closest` to ``name``, or ''."""
    close = _closest(name, columns)
    return "" if close is None else f" (did you mean {close!r}?)"


def _shown(columns, limit=12):
    cols = [str(c) for c in columns]
    return ", ".join(cols[:limit]) + (", ..." if len(cols) > limit else "")


def _numbers(series, decimal="."):
    """The column as float64 (booleans as 0/1), or None when some entry is text.
    Text is read with the file's decimal mark: with ``decimal=','`` a text '43.113'
    (pandas leaves it as text) is not the number 43.113 but, most likely, 43113 with
    '.' separating thousands: None, and the caller names ``--thousands '.'``."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(np.float64)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(np.float64)
    if decimal != ".":
        text = series.dropna().astype(str)
        if text.str.contains(".", regex=False).any():
            return None
    values = _coerced(series, decimal)
    if values.notna().sum() == series.notna().sum():
        return values
    return None


_BOOLEAN_WORDS = {"true": 1.0, "false": 0.0}


# float64 holds every integer up to this magnitude exactly, and not all beyond it
_EXACT_INTEGERS = 2.0**53


def integer_codes(series, values):
    """Whether a column written as whole numbers (integer digits only, no decimal
    mark or exponent) reaches _EXACT_INTEGERS (16 digits and more: account numbers,
    hashes, 64-bit codes), where float64 rounds distinct values to one: such a
    column holds codes, not quantities (tester EE: the codes 18446744073709551615 and
    ...616 were read as one number, unsaid, and the model could not tell them
    apart). ``values``: its numbers (:func:`_numbers`)."""
    v = values.to_numpy(dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0 or not float(np.abs(v).max()) >= _EXACT_INTEGERS:
        return False
    if pd.api.types.is_integer_dtype(series):
        return True
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False  # floats as pandas read them: '1e20', '3.0e16'
    text = series.dropna().astype(str).str.strip()
    return bool(text.str.fullmatch(r"[+-]?\d+").all())


def integer_codes_note(frame, columns):
    """The note on feature columns read as codes by :func:`integer_codes`, or None."""
    if not columns:
        return None
    digits = max(
        int(frame[c].dropna().astype(str).str.strip().str.lstrip("+-").str.len().max())
        for c in columns
    )
    return (
        f"column(s) {_shown(map(repr, columns))} hold whole numbers of up to {digits} "
        "digits, more than a float64 keeps exactly (2^53, about 9.0e15): read as "
        "codes (categories as written), not as quantities"
    )


def _coerced(series, decimal="."):
    """The entries of a text column as float64, NaN where one is not a number.
    The words pandas reads as booleans (True, FALSE, ...) count as 1 and 0: a
    boolean column with one stray word is read as text, and its 'True' was named as
    the culprit in place of the stray word."""
    text = series.where(series.isna(), series.astype(str).str.strip())
    if decimal != ".":
        text = text.where(text.isna(), text.str.replace(decimal, ".", regex=False))
    words = text.where(text.isna(), text.str.casefold()).map(_BOOLEAN_WORDS)
    values = pd.to_numeric(text, errors="coerce").astype(np.float64)
    return values.where(words.isna(), words.astype(np.float64))


def _looks_like_row_ids(values):
    """Distinct integers in increasing order over 20 rows or more (1, 2, 3, ... or
    record numbers): an identifier, which a model would learn row order from."""
    v = values.to_numpy(dtype=float)
    if v.size < 20 or not np.all(v == np.round(v)):
        return False
    return bool(np.all(np.diff(v) > 0))


def _all_distinct(series):
    """A text column with a different value in every row (of at least MIN_ROWS): an
    identifier (codes, names), left out by default whatever its length."""
    return len(series) >= MIN_ROWS and series.nunique() == len(series)


# Names a saved row index goes by (R's rownames, pandas' reset_index, ids).
_INDEX_NAMES = ("rownames", "row.names", "row_names", "index", "id", "rowid", "row_id")
# ... and identifiers of what a row is about: patient_id, customer.id, id_code,
# PatientID, subjectId (a tester's patient_id of shuffled numbers was a feature,
# diabetes R^2 0.31 against 0.36 without it, while 'id' was left out)
_ID_WORD = re.compile(r"(^|[_\s.\-])id($|[_\s.\-])", re.IGNORECASE)
_ID_CAMEL = re.compile(r"[a-z]I[dD]$")


def _named_as_identifier(name):
    """A column name of a row index or a row identifier: one of _INDEX_NAMES, or
    'id' as a word of it (patient_id, id_code) or its camel-case end (PatientID)."""
    name = str(name).strip()
    return (
        name.lower() in _INDEX_NAMES
        or _ID_WORD.search(name) is not None
        or _ID_CAMEL.search(name) is not None
    )


def _is_row_number(values):
    """Consecutive integers from 0 or 1 (a saved row index, R's rownames): left out
    by default. Other increasing integers (years of a yearly series, record numbers,
    days since the first date as the dates' refusal advises: 0, 31, 61, ...) may be
    features and are only pointed out."""
    v = values.to_numpy(dtype=float)
    return (
        _looks_like_row_ids(values)
        and float(v[0]) in (0.0, 1.0)
        and bool(np.all(np.diff(v) == 1.0))
    )


def _is_shuffled_index(values, name):
    """Integers over 20 rows or more, at least 90% of them distinct (or all of them
    over 5 rows or more), in a column
    named as a row index or identifier ('rownames', 'index', 'id', 'patient_id',
    'PatientID'...: :func:`_named_as_identifier`), in any order: the saved
    index of a shuffled, sampled or appended-to file (a copied row repeats its
    number: a tester's iris with one extra row kept its rownames 1..150, 1 as a
    feature, and the file, sorted by class, leaked the answer: accuracy 1.0), or
    record numbers (biopsy's ID, some repeated), which carry the file's row order."""
    v = values.to_numpy(dtype=float)
    distinct = np.unique(v).size
    return (
        _named_as_identifier(name)
        # every value distinct from 5 rows on (a 15-row sample of a table kept its
        # rownames as a feature, a tester), 90% of them from 20 rows
        and (
            (v.size >= 20 and distinct >= 0.9 * v.size)
            or (v.size >= 5 and distinct == v.size)
        )
        and bool(np.all(v == np.round(v)))
    )


def _reprs(values):
    """Values as the file wrote them: 7 and 'Setosa', not np.int64(7)."""
    return [repr(_scalar(v)) for v in values]


def _as_written_numbers(series, decimal=".", thousands=None):
    """A text column's cells as numbers in the file's format (``decimal``,
    ``thousands``), NaN where a cell is not a number: pandas leaves a whole column
    as text when one cell is a word, so '0,251' under --decimal ',' is a number."""
    text = series.astype(str).str.strip()
    if thousands is not None:
        text = text.str.replace(_mark_class(_grouping_marks(thousands)), "", regex=True)
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(text, errors="coerce")


def _check_stray_words(y_raw, target, path, frame, table, task="auto"):
    """Refuse a target of numbers with a word or two among them (a gap marker such as
    '?' or 'n/a', a typo) and more distinct values than a classifier takes: read as
    text it became hundreds of classes (a tester's prices: '284 classes', the stray
    cell unnamed). Few values ('1', '2', 'other') stay labels. Numbers are read in
    the file's format (with --decimal ',' the word went unnamed, tester AI). Under
    --task classification only numbers that are not all integers are refused (the
    measurements that :func:`_labels` refuses without a word among them)."""
    parsed = _as_written_numbers(y_raw, table.decimal, table.thousands)
    word = parsed.isna().to_numpy()
    if not parsed.notna().any() or y_raw.nunique() <= MAX_CLASSES:
        return
    # several words are labels, unless they are a few cells among many numbers
    # (Boston's medv with 'unk', 'nd' and 'n.d' in 3 rows was a 231-class
    # classifier, the words never named; tester DE)
    rare = word.sum() <= _RARE_WORDS * word.size
    if (y_raw[word].nunique() > 2 and not rare) or word.sum() >= parsed.notna().sum():
        return  # mostly words, or several: labels
    numbers = parsed[~word].to_numpy()
    if task == "classification" and (numbers == np.round(numbers)).all():
        return  # integer codes and a word: labels, as asked
    at = np.flatnonzero(word)
    if at.size == 0:  # every cell a number in the file's format: no word to name
        return
    k = int(at[0])
    raise UserError(
        f"{path}, line {_line(frame, k)}: target {target!r} has the non-numeric value "
        f"{y_raw.iloc[k]!r}{_other_words(y_raw, at, frame)} among numbers "
        f"({int(word.sum())} such row(s)); fix the value, or empty the cell and pass "
        "--impute to leave the row out"
        + (
            " (--task classification if the values are class labels)"
            if task == "auto"
            else ""
        )
    )


def _merged_numbers(y_raw, y_num, table, target):
    """Where values of the target written differently read as the same number
    ('1.1' and '1.10', '1' and '01'): a few of them, as words for a message; else
    None (or where the file cannot be read again as text)."""
    text = None if table.text_of is None else table.text_of(target)
    if text is None:
        return None
    text = text.loc[y_raw.index].astype(str).str.strip()
    return _number_spellings(y_num, text)


def _number_spellings(numbers, text):
    """A few spellings of one number (``text`` as written, ``numbers`` its values,
    NaN for words) where some number is written in several ways, as words for a
    message ("'6', '6.0', '06'"); else None."""
    pairs = pd.DataFrame({"number": np.asarray(numbers), "text": np.asarray(text)})
    spellings = pairs.dropna().drop_duplicates().groupby("number")["text"].unique()
    several = [list(v) for v in spellings if len(v) > 1]
    if not several:
        return None
    return ", ".join(repr(t) for t in several[0][:4])


def _labels(y_raw, y_num, target, path, text_of=None):
    """Class labels as the file has them: text, booleans (True/False), integers
    (a column of integers; 0 / 1 came back from predict as 0.0 / 1.0 before) or
    floats (1.0 / 2.0 in the file, which came back as 1 / 2, and a few values
    such as 0.5 / 2.5 under --task classification, which were refused); numbers
    that are not integers, of more than MAX_CLASSES values, are refused (a
    measurement: scikit-learn's 'continuous' error, after the model was set up).
    Integers written with leading zeros or a sign ('007',
    '+1': codes) stay text as written (``text_of``: the column's text); they came
    back from predict as 7 and 1, which no longer joined with the user's codes."""
    if y_num is None:
        return y_raw.to_numpy(dtype=object).astype(str)
    if pd.api.types.is_bool_dtype(y_raw):
        return y_raw.to_numpy(dtype=bool)
    values = y_num.to_numpy()
    whole = values == np.round(values)
    if not whole.all() and np.unique(values).size > MAX_CLASSES:
        bad = values[~whole][0]
        raise UserError(
            f"{path}: target {target!r} holds numbers that are not integers (e.g. "
            f"{bad:g}); classification needs labels (integers or text): use --task "
            "regression"
        )
    text = None  # the column as the file writes it, where it may matter
    if text_of is not None and (
        not whole.all()
        or pd.api.types.is_integer_dtype(y_raw)
        or pd.api.types.is_float_dtype(y_raw)
    ):
        text = text_of(target)
        text = None if text is None else text.loc[y_raw.index].astype(str)
    if not whole.all():  # 0.5 / 2.5: text (scikit-learn takes such floats for a
        # continuous target)
        if text is None:
            text = pd.Series([repr(float(v)) for v in values], dtype=str)
        return text.to_numpy(dtype=object).astype(str)
    # 1.0 and 2.0 in the file: floats; integers read as floats only because a cell
    # was empty (rows --impute left out) stay integers ('3', not '3.0', a tester's)
    written_as_floats = text is None or text.str.contains(r"[.eE]").any()
    if pd.api.types.is_float_dtype(y_raw) and written_as_floats:
        return values
    if text is not None and text.str.match(r"^(\+|-?0\d)").any():
        return text.to_numpy(dtype=object).astype(str)
    return values.astype(np.int64) if np.abs(values).max() < 2.0**53 else values


# marks that separate thousands alike: a space and its no-break forms (Excel and
# LibreOffice in French locales write U+00A0 or U+202F: '53 298,85'), an apostrophe
# and its typographic form (Swiss locales: 53'298.85)
_SPACES = " \u00a0\u202f\u2009"
_APOSTROPHES = "'\u2019"


_MARK_NAMES = {
    "\u00a0": "a no-break space (U+00A0)",
    "\u202f": "a narrow no-break space (U+202F)",
    "\u2009": "a thin space (U+2009)",
    "\u2019": "a typographic apostrophe (U+2019)",
}


def _grouping_marks(thousands):
    """The characters read as the thousands separator ``thousands``: its family."""
    for family in (_SPACES, _APOSTROPHES):
        if thousands in family:
            return family
    return thousands


def _mark_class(marks):
    return "[" + "".join(re.escape(c) for c in marks) + "]"


def _grouped_number(marks, decimals):
    """A regular expression of a number grouped by ``marks`` (1,200 or 95,164 or
    1 003,7), with a fraction after one of the marks ``decimals``."""
    return (
        rf"^[+-]?\d{{1,3}}({_mark_class(marks)}\d{{3}})+"
        rf"({_mark_class(decimals)}\d*)?$"
    )


_UNITS = r"[%$€£¥\s]"
# a number, then a unit word: 3 kg, 12cm, 60 km/h, 25°C, 5 m², 1.200,5 kWh
# (digits after its first letter too: kg/m2, cm3; a target of '33.6 kg/m2' got no
# hint, tester DJ)
_UNIT_WORD = r"^([+-]?\d[\d.,' ]*?)\s*((?:[^\W\d_]|[°µ])\S*)$"


def _parses(text):
    return bool(pd.to_numeric(text, errors="coerce").notna().all())


def _first_marked(series, marked):
    """'line N' of the first of the cells ``marked`` (a part of ``series``), with
    '(and k more)' where there are more."""
    line = _line(series, series.index.get_loc(marked.index[0]))
    more = f" (and {len(marked) - 1} more)" if len(marked) > 1 else ""
    return f"line {line}{more}"


def _dotted_cells_hint(series, text, decimal):
    """The hint for a few cells of a column of another decimal mark (``decimal``,
    not '.') written with '.' as theirs ('1.25', '3.5' among '0,51'), which cannot
    be thousands (not three digits after the '.'), or None. Such a cell left the
    column as text: a feature refused as 'text with 74 distinct values', a target
    that ended in an IndexError (tester EI)."""
    if decimal == ".":
        return None
    has_dot = text.str.contains(".", regex=False).to_numpy()
    marked, rest = text[has_dot], text[~has_dot]
    if marked.empty or len(rest) <= len(marked):
        return None
    if marked.str.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+(,\d*)?").all():
        return None  # thousands, maybe ('1.250'): _stray_decimal_point's case
    if not (_parses(rest.str.replace(decimal, ".", regex=False)) and _parses(marked)):
        return None
    return (
        f"writes its decimals with {decimal!r} but {_first_marked(series, marked)} "
        f"writes {marked.iloc[0]!r} with '.': correct the cell (as "
        f"{marked.iloc[0].replace('.', decimal)!r})"
    )


def _stray_decimal_point(series, text, marked, decimal):
    """The hint for a few cells of a decimal-comma column written with '.' (``marked``)
    whose thousands reading lies 100x or more beyond every other value: a decimal
    point typed by hand, most likely, not thousands (Boston's rm '7.147' among
    '6,575': --thousands '.' was advised, which read it as 7147; tester EH). None
    where that is not so."""
    if decimal != ",":
        return None
    rest = text[~text.index.isin(marked.index)]
    if len(rest) <= len(marked):
        return None
    others = pd.to_numeric(rest.str.replace(",", ".", regex=False), errors="coerce")
    grouped = marked.str.replace(".", "", regex=False)
    grouped = grouped.str.replace(",", ".", regex=False)
    grouped = pd.to_numeric(grouped, errors="coerce")
    top = float(others.abs().max())
    if others.isna().any() or grouped.isna().any() or not top > 0:
        return None
    if not float(grouped.abs().min()) >= 100 * top:
        return None
    value = float(grouped.iloc[0])
    return (
        f"writes its decimals with ',' but {_first_marked(series, marked)} writes "
        f"{marked.iloc[0]!r} with '.': a decimal point typed by hand? (read as "
        f"thousands, {value:g} would be {value / top:.0f}x the "
        "column's largest other value); correct the cell, or pass --thousands '.' "
        "if '.' separates thousands"
    )


def number_format_hint(series, decimal="."):
    """How to read a text column that holds numbers in another format, or None: the
    option(s) to pass (decimal commas, thousands separators, both readings when a
    comma is ambiguous) or the unit signs to remove."""
    text = series.dropna().astype(str).str.strip()
    text = text[~_gap_words(text)]  # gaps, as they are among numbers
    if text.empty:
        return None
    example = repr(text.iloc[0])
    dotted = _dotted_cells_hint(series, text, decimal)
    if dotted is not None:
        return dotted
    trailing = text.str.fullmatch(r"\d[\d.,' ]*-")
    if trailing.any():
        # SAP's and some ledgers' '3-' for -3: the column was one-hot encoded as
        # text, unsaid (tester EH)
        fixed = text.where(~trailing, "-" + text.str[:-1])
        if decimal != ".":
            fixed = fixed.str.replace(".", "", regex=False)
            fixed = fixed.str.replace(decimal, ".", regex=False)
        if _parses(fixed.str.replace(",", "", regex=False)):
            return (
                "holds numbers with the minus sign after them (e.g. "
                f"{text[trailing].iloc[0]!r}): write it in front ("
                f"'-{text[trailing].iloc[0][:-1]}')"
            )
    for sep in (",", ".", " ", "'"):
        marks = _grouping_marks(sep)
        other = "." if sep == "," else ","
        decimals = other if sep in ",." else ".,"
        marked = text[text.str.contains(_mark_class(marks))]
        if marked.empty or not marked.str.match(_grouped_number(marks, decimals)).all():
            continue
        plain = text.str.replace(_mark_class(marks), "", regex=True)
        if other == ",":
            plain = plain.str.replace(",", ".", regex=False)
        if not _parses(plain):
            continue
        # an example that shows the separator (the first value, '0', did not)
        shown_sep = repr(marked.iloc[0])
        if (
            sep == ","
            and decimal == "."
            and _parses(text.str.replace(",", ".", regex=False))
            and not text.str.count(",").gt(1).any()
        ):
            return (
                f"holds numbers with a comma (e.g. {shown_sep}): pass --thousands ',' "
                "if it separates thousands (1,234 = 1234), or --decimal ',' if it is "
                "the decimal mark (1,234 = 1.234)"
            )
        stray = (
            _stray_decimal_point(series, text, marked, decimal) if sep == "." else None
        )
        if stray is not None:
            return stray
        # '.' separating thousands needs another decimal mark; a space or an
        # apostrophe goes with either
        commas = sep == "." or text.str.contains(",", regex=False).any()
        extra = " --decimal ','" if other == "," and commas and decimal != "," else ""
        used = next(c for c in marks if marked.str.contains(c, regex=False).any())
        return (
            f"holds numbers with {_MARK_NAMES.get(used, repr(used))} separating "
            f"thousands (e.g. {shown_sep}); pass --thousands {sep!r}{extra}"
        )
    if decimal == "." and _parses(text.str.replace(",", ".", regex=False)):
        comma = text[text.str.contains(",", regex=False)]
        example = repr(comma.iloc[0]) if not comma.empty else example
        return (
            f"holds numbers written with a decimal comma (e.g. {example}); pass "
            "--decimal ','"
        )
    if decimal != "." and _parses(text):
        # pandas reads '1.5' under decimal=',' as text, to_numeric as 1.5: the file
        # (or this column) writes its decimals with '.'
        if FORMAT_CARRIED.get():  # predict, reading as fit read (no --decimal here)
            return (
                f"holds numbers with '.' as the decimal mark (e.g. {example}) while "
                f"the model's training file was read with --decimal {decimal!r}, as "
                "this one is unless told otherwise; pass --decimal '.' if this file "
                "writes its decimals with '.'"
            )
        return (
            f"holds numbers with '.' as the decimal mark (e.g. {example}) while "
            f"--decimal {decimal!r} was given; leave --decimal out if the file "
            "writes its decimals with '.'"
        )
    return _unit_hint(text, decimal)


def _plain(bare, decimal):
    """``bare`` (numbers stripped of their unit) as the file should write them: in its
    decimal mark, without grouping; None if they do not read as numbers."""
    for grouping in ("", ",", ".", "'"):
        if grouping == decimal:
            continue
        plain = bare
        if grouping:
            # only where it groups thousands: '2111,05' (a decimal comma whose
            # grouping space was taken for a unit sign) is no 211105
            marked = bare[bare.str.contains(grouping, regex=False)]
            grouped = _grouped_number(_grouping_marks(grouping), decimal)
            if marked.empty or not marked.str.match(grouped).all():
                continue
            plain = bare.str.replace(grouping, "", regex=False)
        if _parses(plain.str.replace(decimal, ".", regex=False)):
            return plain
    return None


def _unit_hint(text, decimal):
    """How to write a column of numbers with a unit or currency sign ('$14,891',
    '12.5%', '2.107,5 €' under --decimal ','), or of negatives in parentheses, as
    accounting tables write them ('(1.23)', '($1,200)': read as 380 classes of a
    target or 47 categories of a feature, unnamed; tester DJ), or None."""
    paren = text.str.match(r"^\(.*\)$")
    if paren.any():
        inner = text.str.slice(1, -1).str.strip()
        signed = text.where(~paren, "-" + inner).str.replace(_UNITS, "", regex=True)
        plain = _plain(signed, decimal)
        if plain is not None:
            k = int(np.flatnonzero(paren.to_numpy())[0])
            return (
                f"holds negative numbers in parentheses, as accounting tables write "
                f"them (e.g. {text.iloc[k]!r}); write them with a minus sign in the "
                f"file ({plain.iloc[k]} rather than {text.iloc[k]})"
            )
    signs = text.str.contains(_UNITS)
    if not signs.any():
        return None
    plain = _plain(text.str.replace(_UNITS, "", regex=True), decimal)
    if plain is None:
        return None
    # the example's own number ('$14,891' was told '16.9 rather than 16.9%')
    k = int(np.flatnonzero(signs.to_numpy())[0])
    return (
        f"holds numbers with a unit or currency sign (e.g. {text.iloc[k]!r}); write "
        f"plain numbers in the file ({plain.iloc[k]} rather than {text.iloc[k]})"
    )


def unit_word_note(series, decimal="."):
    """What to say of a text column whose values are numbers followed by one unit word
    ('3 kg', '12cm', '60 km/h'), or None: read as text it is one-hot encoded (or, a
    different value in every row, left out), and its order is lost. Only a note, as
    the same shape is also a category code ('320i', '4WD'); six distinct numbers at
    least."""
    text = series.dropna().astype(str).str.strip()
    words = text.str.extract(_UNIT_WORD)
    if text.empty or words[0].isna().any() or words[1].str.lower().nunique() != 1:
        return None
    if words[0].nunique() < 6:
        return None
    plain = _plain(words[0].str.replace(r"\s", "", regex=True), decimal)
    if plain is None:
        return None
    return (
        f"its values look like numbers with a unit (e.g. {text.iloc[0]!r}): to use "
        f"them as numbers, write plain numbers in the file ({plain.iloc[0]} rather "
        f"than {text.iloc[0]})"
    )


# Above this magnitude a column's squares (its standardisation) leave double precision.
_MAX_MAGNITUDE = 1e150


def feature_columns(
    frame,
    path,
    drop_hint=True,
    decimal=".",
    impute=False,
    max_categories=None,
    target_gaps=None,
    categorical=(),
):
    """(numeric columns, text columns, the text columns that are whole numbers past
    float64's exact integers: :func:`integer_codes`) of a feature frame; refuses
    missing values
    (unless ``impute``: the pipeline fills them), columns mixing numbers and text,
    and text columns with more than ``max_categories`` values (default
    MAX_CATEGORIES). ``target_gaps``: the target's own missing values, said in the
    same message (a second run found them, one message per run before).
    ``categorical``: columns read as categories whatever their cells look like
    (fit --categorical: codes such as 3-8 cylinders and 'rotary', or region 1-4)."""
    limit = MAX_CATEGORIES if max_categories is None else max_categories
    numeric, text, refused, reasons, long_coded = [], [], [], [], []
    gaps = frame.isna()
    holed = [col for col in frame.columns if gaps[col].any()]
    empty = [col for col in holed if gaps[col].all()]
    if empty:
        raise UserError(
            f"{path}: column(s) {_shown(map(repr, empty))} hold no values (every cell "
            "missing); "
            "leave them out with " + " ".join(f"--drop {col!r}" for col in empty)
        )
    if holed and not impute:  # every such column in one message, not one per run
        parts = [
            f"{col!r}: {int(gaps[col].sum())} (first at line "
            f"{_line(frame, int(np.flatnonzero(gaps[col].to_numpy())[0]))})"
            for col in holed
        ]
        drops = " ".join(f"--drop {col!r}" for col in holed)
        also = (
            ""
            if target_gaps is None
            else f"; and in the target column {target_gaps} (--impute leaves those "
            "rows out)"
        )
        raise UserError(
            f"{path}: missing values in column(s) {'; '.join(parts)}; fill them, "
            f"leave the column(s) out with {drops}, or fill them with the column's "
            f"median (numbers) or most frequent value (text) with --impute{also}"
            f"{_keep_hint()}"
        )
    for col in frame.columns:
        series = frame[col]
        if col in categorical:
            if series.nunique() > limit:
                refused.append(col)
                reasons.append(
                    f"column {col!r} (--categorical) has {series.nunique()} distinct "
                    f"values, more than {limit} categories to one-hot encode "
                    "(--max-categories raises the limit)"
                )
            else:
                text.append(col)
            continue
        present = series.notna().to_numpy()
        values = _numbers(series, decimal)
        # integers past float64's exact ones are codes, kept as written (text)
        long_codes = values is not None and integer_codes(series, values)
        if long_codes:
            long_coded.append(col)
        if values is not None and not long_codes:
            _check_numbers(path, frame, col, values, f"--drop {col!r}")
            numeric.append(col)
            continue
        hint = None if long_codes else number_format_hint(series, decimal)
        if hint is not None:  # (named with the others: one column a run; tester BL)
            refused.append(col)
            reasons.append((col, hint))
            continue
        parsed = pd.to_numeric(series, errors="coerce")
        word = parsed.isna().to_numpy() & present  # missing cells are not words
        words = series[word].nunique()
        # (a few words among many numbers are said when the column is one-hot
        # encoded: refused, codes such as a floor 1-20 with 'B' and 'G', or ICD-9
        # codes with a few V and E codes, could not be kept; tester DE)
        codes = words >= 2 and series.nunique() <= limit
        # mostly words with a few number-like ones (car models: 'Integra', '90',
        # '900') are text, not numbers with a stray word
        mostly_words = words > 2 and parsed.notna().sum() < word.sum()
        if parsed.notna().any() and not (codes or mostly_words or long_codes):
            # numbers with one word among them (a gap marker such as '?', a typo): a
            # data error; several words among few values are codes (a drive '4',
            # 'f', 'r'), one-hot encoded as text. The word named is one that is no
            # gap mark (a '-' among the numbers is a gap once '12 kg' is fixed; the
            # dash was named, a tester)
            stray = word & ~_gap_words(series)
            at = np.flatnonzero(stray if stray.any() else word)
            k = int(at[0])
            raise UserError(
                f"{path}, line {_line(frame, k)}: column {col!r} has the non-numeric "
                f"value {series.iloc[k]!r}{_other_words(series, at, frame)} among "
                f"numbers; fix the value, leave the column out with --drop {col!r}, "
                f"or read its values as categories with --categorical {col!r}"
            )
        n_values = series.nunique()
        # dates are named as dates even when every row has its own (they were left
        # out as a row identifier, or one-hot encoded with --keep-ids)
        if n_values > limit and _dates(series):
            refused.append(col)
            reasons.append(
                f"column {col!r} holds dates or times with {n_values} distinct "
                f"values (e.g. {str(series.dropna().iloc[0])!r}); fixntk reads numbers "
                "and categories: write them as numbers in the file (e.g. days since "
                "the first date)"
            )
        elif (
            n_values > limit
            and not _all_distinct(series)  # (an identifier's note names the unit)
            and (unit := unit_word_note(series, decimal)) is not None
        ):
            # numbers with a unit word past the categories' limit: called an
            # identifier or free text, --max-categories advised (98 one-hot
            # categories of '119 mg'; tester DJ)
            refused.append(col)
            reasons.append(f"column {col!r} ({n_values} distinct values): {unit}")
        elif n_values > limit and not _all_distinct(series):
            refused.append(col)
            reasons.append(
                f"column {col!r} holds text with {n_values} distinct values (an "
                f"identifier or free text, more than {limit} categories to one-hot "
                "encode; --max-categories raises the limit)"
            )
        else:
            text.append(col)
    if refused:  # every such column in one message (one per run took three runs)
        drops = " ".join(f"--drop {c!r}" for c in refused)
        raise UserError(
            f"{path}: {'; '.join(_merged_reasons(reasons))}; or leave "
            + ("it" if len(refused) == 1 else "them")
            + f" out with {drops}"
        )
    return numeric, text, long_coded


def _other_words(series, at, frame):
    """' (and 'nd' at line 52, ...)': the words of ``series`` at the positions ``at``
    other than the first one's, each once at its first line (a repeated word was
    listed at each of its lines; tester DE), or ''."""
    first = {}
    for j in at[1:]:
        if series.iloc[j] != series.iloc[at[0]]:
            first.setdefault(series.iloc[j], int(j))
    others = [f"{w!r} at line {_line(frame, j)}" for w, j in first.items()]
    return f" (and {_shown(others, 3)})" if others else ""


def _numbers_note(series, decimal):
    """Of a text column one-hot encoded, whose cells are mostly numbers: how many, and
    what that means (tester DC: Boston's rad with 'unk' and 'nd' among 503 numbers
    became 11 categories, the note silent on the numbers), or None."""
    cells = series.dropna()
    numbers = _as_written_numbers(cells, decimal).notna()
    if cells.empty or numbers.mean() < _NUMBERS_SHARE:
        return None
    words = pd.unique(cells[~numbers.to_numpy()].astype(str))
    return (
        f"{int(numbers.sum())} of its {cells.size} cells are numbers, read as "
        f"categories beside the words {_shown(map(repr, words), 4)}: if those are "
        "errors or gaps, fix them or write them as NA (--impute fills gaps) to keep "
        "the column numeric; as categories, a number the training rows lack is "
        "unknown at predict"
    )


def _merged_reasons(reasons):
    """The refusals of :func:`feature_columns` as said: strings, and (column,
    format hint) pairs, those that give the same advice but for their example said
    once for all their columns (a decimal-comma file without --decimal repeated
    "pass --decimal ','" for each of its 10 columns; tester DC)."""
    groups = {}
    for reason in reasons:
        if isinstance(reason, str):
            groups[len(groups), reason] = [reason]
            continue
        col, hint = reason
        key = re.sub(r" \(e\.g\. [^)]*\)", "", hint)
        groups.setdefault(key, []).append(reason)
    out = []
    for members in groups.values():
        if isinstance(members[0], str):
            out.append(members[0])
        elif len(members) == 1:
            out.append(f"column {members[0][0]!r} {members[0][1]}")
        else:
            names = ", ".join(repr(col) for col, _ in members)
            hint = members[0][1]
            if hint.startswith("holds "):
                hint = "hold " + hint[len("holds ") :]
            out.append(f"columns {names} {hint}")
    return out


# 2021-03-04, 04/03/2021 or 4.3.21, with a time (and zone) or without; 10:30 or
# 10:30:15; a year and month (1967-07, a tester's economics file by month); a month
# by name with a year: Jul 1967, 3 Jul 2021, 03-Jul-21, July 3, 2021, 1967 Jul
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
    r"|^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$"
    r"|^\d{4}[-/.]\d{1,2}$"
    rf"|^(\d{{1,2}}[ -])?{_MONTH}[ -](\d{{1,2}},? )?\d{{2}}(\d{{2}})?$"
    rf"|^\d{{4}}[ -]{_MONTH}$",
    re.IGNORECASE,
)


def _dates(series):
    """Whether every value of a text column is a date or a time of day."""
    text = series.dropna().astype(str).str.strip()
    return not text.empty and bool(text.str.match(_DATE).all())


def _check_numbers(path, frame, col, values, drop=None):
    """Refuse a numeric feature column ``col`` of ``frame`` (its numbers ``values``,
    NaN where missing) holding a non-finite number or one its standardisation would
    square beyond double precision; ``drop``: the option that leaves it out (fit;
    None: predict, whose reason is the value's, not its square's)."""
    series, values = frame[col], values.to_numpy()
    bad = series.notna().to_numpy() & ~np.isfinite(values)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise UserError(
            f"{path}, line {_line(frame, k)}: column {col!r} has the non-finite value "
            f"{_reprs([series.iloc[k]])[0]}; every number must be finite"
            + (f" ({drop} leaves the column out)" if drop else "")
        )
    top = float(np.abs(values[np.isfinite(values)]).max(initial=0.0))
    if top > _MAX_MAGNITUDE and drop is None:
        # predict: the model's standardisation is fitted and squares nothing, so
        # fit's reason (given here before; tester EE) is not this refusal's: the
        # value lies past any column a model can have been fitted on
        k = int(np.flatnonzero(np.abs(values) == top)[0])
        raise UserError(
            f"{path}, line {_line(frame, k)}: column {col!r} has the value "
            f"{_reprs([series.iloc[k]])[0]}, beyond {_MAX_MAGNITUDE:.0e} in "
            "magnitude, which no model was fitted on (fit refuses such columns: their "
            "squares leave double precision); check the value (its unit, a typo)"
        )
    if top > _MAX_MAGNITUDE:
        raise _beyond_range(
            path, f"column {col!r}", top, f", or leave it out with {drop}"
        )


def _beyond_range(path, what, top, way_out):
    """The error for a column (``what``) whose values up to ``top`` its
    standardisation would square beyond double precision."""
    return UserError(
        f"{path}: {what} has values up to {top:.3g}; standardising it squares them "
        f"beyond double precision (about 1e308): rescale the column{way_out}"
    )


def _check_target_range(y, target, path, rows=None):
    """Refuse a regression target that its standardisation (the pipeline's target
    scaler) cannot handle: squares beyond double precision, or differences whose
    squares underflow to 0 (the scaler then keeps the scale 1 and the fit is
    meaningless)."""
    from sklearn.preprocessing import StandardScaler

    if not np.isfinite(y).all():  # 'inf' reads as a number (it said 'up to inf')
        k = int(np.flatnonzero(~np.isfinite(y))[0])
        raise UserError(
            f"{path}, line {_line(rows, k)}: target {target!r} has the non-finite "
            "value "
            f"{float(y[k])}; every target value must be finite"
        )
    top = float(np.abs(y).max())
    if top > _MAX_MAGNITUDE:
        raise _beyond_range(
            path, f"target {target!r}", top, " (e.g. divide it by a power of ten)"
        )
    if top < 1.0 / _MAX_MAGNITUDE:
        raise UserError(
            f"{path}: target {target!r} has values of magnitude at most {top:.3g}; "
            "standardising it squares them below double precision (about 1e-308): "
            "rescale the column (e.g. multiply it by a power of ten)"
        )
    scaler = StandardScaler().fit(y.reshape(-1, 1))
    if scaler.scale_[0] == 1.0 and scaler.var_[0] != 1.0:  # taken as constant
        spread = float(np.ptp(y))
        raise UserError(
            f"{path}: target {target!r} varies by only {spread:.3g} about "
            f"{float(np.mean(y)):.6g}, within rounding of double precision: there is "
            "nothing to fit (subtract a constant from the column, or rescale it)"
        )


def _check_footer(frame, path):
    """Refuse a spreadsheet's total or note under the data ('Total,,,,'): up to 3
    last rows with most cells empty, none such above them. It was reported as
    missing values in every column, each with its --drop (no features left)."""
    sparse = np.flatnonzero(frame.isna().to_numpy().mean(axis=1) > 0.5)
    tail = len(frame) - np.arange(1, min(len(sparse), 3) + 1)[::-1]
    if len(sparse) and len(frame) >= 2 * MIN_ROWS and np.array_equal(sparse, tail):
        lines = ", ".join(str(_line(frame, k)) for k in sparse)
        raise UserError(
            f"{path}: the last row(s) (line(s) {lines}) have most cells empty (a "
            "total, a footer or a note under the data?); delete them from the file"
        )


# a spreadsheet's summary row under the data, by its label
_TOTAL_WORDS = frozenset(
    ("total", "totals", "grand total", "sum", "subtotal", "average", "mean", "overall")
)


def _half_unit(value):
    """Half a unit of the last decimal digit of ``value`` as written (the shortest
    repr that reads back: 0.05 for -0.06), 0 in exponent notation."""
    text = repr(float(value))
    if "e" in text or "." not in text:
        return 0.0
    return 0.5 * 10.0 ** -len(text.split(".")[1])


def _rounding(values):
    """Half a unit of the digits a numeric column is written to: its finest among the
    first 200 values that are not integers (0.035055: 5e-7), 0 for integers."""
    head = values.head(200).to_numpy(dtype=float)
    head = head[np.isfinite(head) & (head != np.round(head))]
    return min(map(_half_unit, head), default=0.0)


def _check_total_row(frame, path):
    """Refuse a spreadsheet's total (or mean) row under the data: the last row labelled
    'Total', 'Sum', 'Average'... in a text column where no other row says so, or whose
    numbers are, in at least 80% of 3 or more numeric columns, the sums (beyond
    every row's magnitude) or the means of the rows above (up to the rounding of the
    digits written), values no other row holds. Fitted as data it is a row far from the
    others (mtcars with its column sums: training R^2 0.86 -> 0.99)."""
    if len(frame) < MIN_ROWS:
        return
    last, rest = frame.iloc[-1], frame.iloc[:-1]
    line = _line(frame, len(frame) - 1)
    for col in frame.columns:
        cell = last[col]
        if not isinstance(cell, str) or cell.strip().lower() not in _TOTAL_WORDS:
            continue
        if not rest[col].astype(str).str.strip().str.lower().eq(cell.lower()).any():
            raise UserError(
                f"{path}, line {line}: the last row is labelled {cell!r} (column "
                f"{col!r}): a total or summary under the data, not a row of it; delete "
                "it from the file"
            )
    numeric = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and rest[c].nunique() > 1
    ]
    if len(numeric) < 3:
        return
    values = last[numeric].to_numpy(dtype=float)
    body = rest[numeric]
    seen = np.array([(body[c] == v).any() for c, v in zip(numeric, values)])
    # Equal up to the rounding of the cell (half a unit of its last digit: a mean
    # shown as 0.05) and of the rows above (half a unit of the digits they are
    # written to, per row for a sum); a sum counts only outside the range of the rows
    # above (the sum of a centred column is near 0, where data rows are too).
    digit = np.array([_half_unit(v) for v in values])
    rows = np.array([_rounding(body[c]) for c in numeric])
    top = body.abs().max().to_numpy(dtype=float)
    summaries = (
        ("sums", body.sum().to_numpy(dtype=float), len(body) * rows),
        ("means", body.mean().to_numpy(dtype=float), rows),
    )
    for what, target, slack in summaries:
        close = np.abs(values - target) <= digit + slack + 1e-12 * np.abs(target)
        if what == "sums":
            close &= np.abs(target) > top
        close &= ~seen  # a value other rows hold is data (3 on a 1-5 scale)
        if close.mean() >= 0.8:
            raise UserError(
                f"{path}, line {line}: the last row's numbers are the {what} of the "
                f"rows above in {int(close.sum())} of {len(numeric)} numeric "
                "columns: a "
                "total or summary under the data, not a row of it; delete it from "
                "the file"
            )


def _row_weights(series, name, path, decimal):
    """The column ``name`` of row weights (fit --sample-weight) as float64: numbers,
    none missing, finite, >= 0, some > 0; anything else a UserError naming the line.
    They are frequency weights: a row of weight 2 counts as two rows."""
    values = _numbers(series, decimal)
    option = f"--sample-weight {name!r}"
    hint = number_format_hint(series, decimal) if values is None else None
    if hint is not None:  # '12,780' as the file writes its numbers (tester EA)
        raise UserError(f"{path}: {option}: the column {hint}")
    if values is None:
        words = np.flatnonzero(_coerced(series, decimal).isna() & series.notna())
        k = int(words[0]) if words.size else 0  # (else a number in another format)
        raise UserError(
            f"{path}: {option}: the weight {str(series.iloc[k])!r} at line "
            f"{_line(series, k)} is not a number; weights are numbers >= 0"
        )
    w = values.to_numpy()
    for bad, what in (
        (np.isnan(w), "is missing"),
        (np.isinf(w), "is infinite"),
        (w < 0, "is negative"),
    ):
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise UserError(
                f"{path}: {option}: the weight at line {_line(series, k)} {what} "
                f"({int(bad.sum())} row(s)); weights are finite numbers >= 0 (a row "
                "of weight 2 counts as two rows, of weight 0 not at all)"
            )
    if not (w > 0).any():
        raise UserError(
            f"{path}: {option}: every weight is 0, so no row counts; weights are "
            "numbers >= 0, some > 0"
        )
    return w


def dataset_from_table(
    table,
    target,
    task,
    path,
    keep_ids=False,
    impute=False,
    max_categories=None,
    labels_advice=LABELS_ADVICE,
    weight=None,
    categorical=(),
):
    """Split a Table into features and target; infer the task. Columns that look
    like row identifiers are left out unless ``keep_ids``. With ``impute``, missing
    feature values are left for the pipeline to fill (:func:`preprocessor`) and rows
    with a missing target are left out, each with a note. ``weight`` names a column
    of row weights (fit --sample-weight), left out of the features. ``categorical``
    names feature columns one-hot encoded as the file writes their values, numbers
    or not (--categorical)."""
    frame = table.frame
    categorical = list(dict.fromkeys(categorical))
    for col in categorical:
        if col in (target, weight):
            option = "--target" if col == target else "--sample-weight"
            raise UserError(
                f"--categorical names the {option} column {col!r}; it reads feature "
                "columns as categories"
                + (
                    " (--task classification reads the target as labels)"
                    if col == target
                    else ""
                )
            )
        if col not in frame.columns:
            raise UserError(
                f"--categorical: column {col!r} not found in {path}"
                f"{_near(col, frame.columns)}; columns: {_shown(frame.columns)}"
            )
    if weight is not None:
        if weight not in frame.columns:
            raise UserError(
                f"--sample-weight: column {weight!r} not found in {path}"
                f"{_near(weight, frame.columns)}; columns: {_shown(frame.columns)}"
            )
        if weight == target:
            raise UserError(
                f"--sample-weight names the target column (--target {target!r}); "
                "the weights and the target are different columns"
            )
        weights, frame = frame[weight], frame.drop(columns=[weight])
    gap_notes = []
    if target not in frame.columns:
        hint = _header_hint(frame.columns)
        if any(_other_delimiter(c) for c in frame.columns):
            hint = " (is the delimiter right? --sep sets it)"
        elif not hint and str(target).strip().lstrip("-").isdigit():
            # --drop and --index-col take positions; --target a name (tester DC)
            hint = " (--target takes a column's name, not its position)"
        raise UserError(
            f"column {target!r} not found in {path}{_near(target, frame.columns)}; "
            f"columns: {_shown(frame.columns)}{hint}"
        )
    if len(frame) < MIN_ROWS:
        raise UserError(
            f"{path} has {len(frame)} data row{'s' if len(frame) != 1 else ''}; at "
            f"least {MIN_ROWS} are needed"
        )
    _check_footer(frame, path)
    _check_total_row(frame, path)
    X = frame.drop(columns=[target])
    if X.shape[1] == 0:
        raise UserError(
            f"{path} has no feature columns besides the target {target!r}; the file "
            "needs the features and the target, one column each"
        )
    unlabelled = frame[target].isna().to_numpy()
    target_gaps = None
    if unlabelled.any():
        k = int(np.flatnonzero(unlabelled)[0])
        target_gaps = (
            f"{target!r}: {int(unlabelled.sum())} (first at line {_line(frame, k)})"
        )
    try:
        numeric, text, long_codes = feature_columns(
            X,
            path,
            decimal=table.decimal,
            impute=impute,
            max_categories=max_categories,
            target_gaps=target_gaps,
            categorical=categorical,
        )
    except UserError as err:
        if table.short_rows and "missing values in column" in str(err):
            raise UserError(f"{err}. Note: {table.short_rows}") from None
        raise
    codes_note = integer_codes_note(X, long_codes)
    if impute and unlabelled.any():
        # left out after the checks of every row: their messages give file lines
        k = int(np.flatnonzero(unlabelled)[0])
        gap_notes.append(
            f"{int(unlabelled.sum())} row(s) with a missing target {target!r} left out "
            f"(--impute; the first at line {_line(frame, k)}){_keep_hint()}"
        )
        frame, X = frame[~unlabelled], X[~unlabelled]
        if weight is not None:
            weights = weights[~unlabelled]
        if len(frame) < MIN_ROWS:
            raise UserError(
                f"{path} has {len(frame)} row(s) with a target value; at least "
                f"{MIN_ROWS} are needed"
            )
    w = None
    if weight is not None:
        w = _row_weights(weights, weight, path, table.decimal)
        # rows of weight 0 count not at all: left out here, as a file of the rows
        # written out that many times has none of them (their class, their values
        # in the --impute medians and the notes on far rows counted; tester EA)
        counted = w > 0
        if not counted.all():
            gap_notes.append(
                f"{int((~counted).sum())} row(s) of weight 0 in {weight!r} left out "
                "(they count not at all)"
            )
            frame, X, w = frame[counted], X[counted], w[counted]
            if len(frame) < MIN_ROWS:
                raise UserError(
                    f"{path} has {len(frame)} row(s) of weight > 0 in {weight!r}; at "
                    f"least {MIN_ROWS} are needed"
                )
    if impute:
        gaps = X.isna().sum()
        filled = [f"{col!r} {int(gaps[col])}" for col in X.columns if gaps[col]]
        if filled:
            gap_notes.append(
                f"missing feature values filled (--impute: numbers by the column's "
                f"median, text by its most frequent value): {_shown(filled, 8)}"
                f"{_keep_hint()}"
            )
        # a column mostly filled is mostly the filler (a tester's weather file:
        # wind_gust 80% missing, filled silently among the others)
        mostly = [col for col in X.columns if gaps[col] > 0.5 * len(X)]
        if mostly:
            shares = [f"{col!r} {gaps[col] / len(X):.0%}" for col in mostly]
            gap_notes.append(
                f"mostly filled values, not data: {_shown(shares, 8)}; "
                + " ".join(f"--drop {col!r}" for col in mostly)
                + " leaves "
                + ("it" if len(mostly) == 1 else "them")
                + " out"
            )
    y_raw = frame[target]
    if y_raw.isna().any():
        k = int(np.flatnonzero(y_raw.isna().to_numpy())[0])
        raise UserError(
            f"{path}: the target column {target!r} has missing values (first at line "
            f"{_line(frame, k)}); fill them, or leave those rows out with --impute"
            f"{_keep_hint()}"
        )
    y_num = _numbers(y_raw, table.decimal)
    hint = number_format_hint(y_raw, table.decimal) if y_num is None else None
    if hint is not None:
        raise UserError(f"{path}: target {target!r} {hint}")
    # '151 mg' in every row: read as text, each value was a class of its own, and
    # the fit failed on folds (a tester)
    units = None if y_num is not None else unit_word_note(y_raw, table.decimal)
    if units is not None and task != "classification":
        raise UserError(
            f"{path}: target {target!r}: {units}. Read as text, each value would be "
            "a class; --task classification if they are class labels"
        )
    if y_num is None:
        _check_stray_words(y_raw, target, path, frame, table, task)
    reason = lone_note = case_note = id_note = far_note = None
    # (only where labels are possible: the file's column is read again as text)
    few = y_num is not None and y_num.nunique() <= MAX_CLASSES
    merged = _merged_numbers(y_raw, y_num, table, target) if few else None
    if y_num is not None and task != "classification" and y_num.nunique() == 1:
        if merged is not None:  # '1', '1.0', '01': three labels, one number
            raise UserError(
                f"{path}: target {target!r} reads as one number in every row, "
                f"written {merged}; if these are class labels, --task "
                "classification keeps them as written"
            )
        raise UserError(
            f"{path}: target {target!r} is constant ({_reprs([y_raw.iloc[0]])[0]} in "
            "every row): there is nothing to fit"
        )
    if task == "auto":
        if y_num is None:
            task = "classification"
        else:
            values = y_num.to_numpy()
            # integers of a sensible size (3.4e200 is a float, not an integer)
            integral = np.all(values == np.round(values)) and (
                np.abs(values).max() < 2.0**53
            )
            uniq, counts = np.unique(values, return_counts=True)
            k = uniq.size
            small = k <= MAX_CLASSES
            # most values in one row each: amounts, not labels (a 10-row file of
            # prices was 10 classes of one row, and the fit failed on its folds with
            # advice that could not help; a tester)
            lone = int((counts == 1).sum())
            amounts = _mostly_lone(lone, k, values.size)
            tally = integral and not amounts and _count_like(uniq, counts)
            amounts = amounts or tally
            task = (
                "classification" if integral and small and not amounts else "regression"
            )
            if pd.api.types.is_bool_dtype(y_raw):
                pass  # TRUE/FALSE: classes, nothing to say (it fell to the 0.5 note)
            elif integral and small and tally:
                reason = (
                    f"target {target!r}: integers from {int(uniq[0])} to "
                    f"{int(uniq[-1])} with gaps, the largest in a single row "
                    "each, as counts are, so regression (fixntk fit --loss poisson "
                    "fits counts); --task classification if they are class labels"
                )
            elif integral and small and amounts:
                reason = (
                    f"target {target!r}: integers with {k} distinct values, {lone} "
                    "of them in a single row, so regression (class labels repeat); "
                    "--task classification if they are class labels"
                )
            elif integral:
                other = "regression" if small else "classification"
                reason = (
                    f"target {target!r}: integers with {k} distinct values, so "
                    f"{task} (integers with at most {MAX_CLASSES} values are "
                    f"classes); --task {other} if they are "
                    + (
                        "counts or amounts (fixntk fit --loss poisson fits counts)"
                        if small
                        else "class labels"
                    )
                )
            elif small:  # 0.5 / 2.5: regression, said (integers were, these not)
                reason = (
                    f"target {target!r}: {k} distinct numbers, not all integers, so "
                    "regression; --task classification if they are class labels"
                )
    if reason is not None and merged is not None:
        # ('1.1' and '1.10' read as one number: version codes merged, unsaid;
        # tester DW)
        reason += (
            f"; values written differently read as the same number ({merged}): "
            + (
                "--task classification keeps the labels as written"
                if task == "regression"
                else "as classes they are kept as written, apart"
            )
        )
    if task == "regression":
        if y_num is None:
            words = _as_written_numbers(y_raw, table.decimal, table.thousands).isna()
            bad = y_raw[words].iloc[0] if words.any() else y_raw.iloc[0]
            raise UserError(
                f"{path}: target {target!r} has the non-numeric value {bad!r}; "
                f"regression needs numbers ({labels_advice})"
            )
        y = y_num.to_numpy()
        _check_target_range(y, target, path, y_raw)
        far_note = _far_targets_note(y, target, y_raw)
        if _is_row_number(y_num) or _is_shuffled_index(y_num, target):
            id_note = (
                f"target {target!r} looks like a row identifier (increasing integers "
                "from 0 or 1, or distinct integers in a column named as a row index): "
                "a model of it learns the file's row order, not a quantity; is "
                "--target the right column?"
            )
    else:
        y = _labels(y_raw, y_num, target, path, table.text_of)
        classes, counts = np.unique(y, return_counts=True)
        if classes.size < 2:
            raise UserError(
                f"{path}: target {target!r} has a single class "
                f"({_reprs(classes)[0]}); a classifier needs at least two"
            )
        lone = classes[counts == 1]
        if _mostly_lone(lone.size, classes.size, len(y)) and classes.size > MAX_CLASSES:
            # numbers taken for labels (--task classification on a measurement):
            # the folds then missed classes, in the estimator's words ('lam=cv',
            # 'sample_weight')
            raise UserError(
                f"{path}: target {target!r} has {classes.size} classes among "
                f"{len(y)} rows, {lone.size} of them with a single row: a classifier "
                "cannot learn them"
                + (
                    "; if they are measurements, --task regression"
                    if y_num is not None
                    else ""
                )
            )
        if lone.size and len(y) >= 2 * MIN_ROWS:
            lone_note = (
                f"target {target!r}: class(es) {_shown(_reprs(lone), 5)} have a "
                "single row (a typo of another label?); a class needs several rows "
                "to be learned"
            )
        case_note = _case_note(classes, target)
    X = X.copy()
    for col in numeric:
        X[col] = _numbers(X[col], table.decimal)
    for col in text:  # missing cells stay missing, for the pipeline's imputer
        cells = X[col]
        if col in categorical and not pd.api.types.is_object_dtype(cells):
            # numbers as the file writes them ('4', not the '4.0' of a column with
            # a gap), as predict reads them (_as_categories_written)
            as_written = written(table, cells)
            cells = cells if as_written is None else as_written.str.strip()
        X[col] = cells.astype(str).where(X[col].notna(), X[col])
    messages = list(table.messages) + gap_notes
    if _header_hint(table.frame.columns) and _names_within_their_columns(table.frame):
        # said on a fit too, not only when --target is not found: a file without a
        # header row, its target named by a value of its first row, fitted that row
        # away as the names without a word (tester CN)
        messages.append(
            "the column names look like data (most of them are numbers): if the file "
            "has no header row, its first row was read as the names and is not used "
            "as data; add a header line naming the columns"
        )
    notes = (reason, codes_note, id_note, far_note, lone_note, case_note)
    messages += [m for m in notes if m is not None]
    shuffled = [
        c for c in numeric if not _is_row_number(X[c]) and _is_shuffled_index(X[c], c)
    ]
    ids = [c for c in numeric if _is_row_number(X[c]) or c in shuffled]
    ids += [c for c in text if _all_distinct(X[c])]
    for col in numeric:
        if col not in ids and _looks_like_row_ids(X[col]):
            messages.append(
                f"column {col!r} looks like a row identifier (distinct integers in "
                f"increasing order) and is used as a feature; --drop {col!r} leaves "
                "it out"
            )
    for col in ids:
        kind = (
            "a different text in every row"
            if col in text
            else "integers, nearly all distinct, in a column named as an identifier"
            if col in shuffled
            else "increasing integers from 0 or 1"
        )
        if keep_ids:
            messages.append(
                f"column {col!r} looks like a row identifier ({kind}) and is used "
                "as a feature (--keep-ids)"
            )
            continue
        units = unit_word_note(X[col], table.decimal) if col in text else None
        messages.append(
            f"column {col!r} looks like a row identifier ({kind}) and was left out: "
            "a model would learn the file's row order from it (files sorted by "
            "class leak the answer); --keep-ids uses it as a feature"
            + ("" if units is None else f"; {units}")
        )
    if not keep_ids and ids:
        numeric = [c for c in numeric if c not in ids]
        text = [c for c in text if c not in ids]
        X = X.drop(columns=ids)
        if X.shape[1] == 0:
            raise UserError(
                f"{path}: every feature column looks like a row identifier "
                f"({_shown(ids)}); --keep-ids uses them"
            )
    constant = [c for c in numeric + text if X[c].nunique(dropna=True) <= 1]
    if constant:  # a column of one value carries nothing (it was said nowhere)
        messages.append(
            f"column(s) {_shown(map(repr, constant))} hold a single value in every "
            "row and "
            "carry no information; "
            + " ".join(f"--drop {c!r}" for c in constant[:5])
            + " leaves them out"
        )
    for col in text:
        if col in constant:
            continue
        if _dates(X[col]):  # few enough dates to pass as categories: said so
            messages.append(
                f"column {col!r} holds dates or times ({X[col].nunique()} values), "
                "one-hot encoded as categories: their order is lost, and a date the "
                "training rows do not have is unknown at predict; write them as "
                f"numbers (e.g. days since the first date) if time matters (--drop "
                f"{col!r} leaves it out)"
            )
            continue
        spelled = None
        if col in categorical:
            cells = X[col].dropna()
            spelled = _number_spellings(
                _as_written_numbers(cells, table.decimal), cells
            )
        notes = [
            unit_word_note(X[col], table.decimal),
            _case_note(X[col].dropna().unique(), col, feature=True),
            None
            if spelled is None
            else f"values written differently read as the same number ({spelled}) "
            "are categories of their own, as written (--categorical); write them "
            "alike in the file if they are one",
            None
            if col in long_codes or col in categorical
            else _numbers_note(X[col], table.decimal),
        ]
        messages.append(
            ("column" if col in categorical else "text column")
            + f" {col!r} one-hot encoded ({X[col].nunique()} values; "
            f"--drop {col!r} leaves it out)"
            + "".join(f"; {note}" for note in notes if note is not None)
        )
    left_out = [] if keep_ids else list(ids)
    index_name = None if table.index is None else str(table.index.name)
    if weight is not None:
        messages.append(
            f"rows weighted by column {weight!r} (--sample-weight; total "
            f"{w.sum():.6g} over {w.size} rows): the fit, the search for lam and the "
            "scores count a row of weight 2 as two rows"
        )
        if _is_row_number(pd.Series(w)):
            messages.append(
                f"the weights in {weight!r} are the integers from {int(w[0])} to "
                f"{int(w[-1])} in order, as a row number is: is --sample-weight the "
                "column of weights?"
            )
    if weight is None and task == "classification":
        counts = _counts_column_note(X, y, numeric + text)
        if counts is not None:
            messages.append(counts)
    return Dataset(
        table.name,
        X,
        y,
        task,
        numeric,
        text,
        messages,
        impute,
        left_out,
        index_name,
        table.digest,
        weight=w,
        weight_name=weight,
        categorical=[col for col in text if col in categorical],
    )


_TARGET = "\0target"  # the target's column in _rows_table (no file's name)


def _rows_table(X, y):
    """The rows of X with their target as one more column (a DataFrame)."""
    # a copy first: a frame of many columns read one by one is fragmented, and
    # assign warned so, with pandas' own path (wide files)
    frame = pd.DataFrame(X).reset_index(drop=True).copy()
    return frame.assign(**{_TARGET: np.asarray(y)})


# The most rows of a file examined as a contingency table (_counts_column_note)
_TABLE_ROWS = 5000


def _counts_column_note(X, y, columns):
    """A note when a column of whole numbers >= 0 looks like the counts of a
    contingency table, or None: without it, every row is a distinct combination of
    the other columns and the target, most combinations come again with another
    target, and the rows are (nearly) every combination of the columns' values (R's
    Titanic: Class, Sex, Age, Survived and Freq; a designed experiment's integer
    response passes too, hence the note's "if"). Fitted as a feature,
    Freq gave the null model (accuracy 0.5 on the 32 cells); weighed by it, a
    held-out accuracy of 0.78 (tester ES). Tables are small: files of more than
    _TABLE_ROWS rows are not examined (each column examined costs a pass over the
    others)."""
    if len(X) > _TABLE_ROWS or X.shape[1] < 2:
        return None
    for col in columns:
        values = pd.to_numeric(X[col], errors="coerce").to_numpy(dtype=float)
        if not (np.isfinite(values).all() and (values >= 0).all()):
            continue
        if not (values == np.round(values)).all() or len(np.unique(values)) < 3:
            continue
        rows = _rows_table(X.drop(columns=[col]).astype(str), y)
        if rows.duplicated().any():
            continue
        if 2 * rows.drop(columns=[_TARGET]).duplicated(keep=False).sum() < len(rows):
            continue
        # a table's cells are (nearly) every combination of its columns' values
        if len(rows) < 0.75 * np.prod(rows.nunique().to_numpy(dtype=float)):
            continue
        return (
            f"column {col!r} holds whole numbers beside cells that are every "
            "combination of the other columns and the target, each once: if it "
            "counts the rows of a contingency table, --sample-weight "
            f"{col!r} weighs each row by it (as the file with each row written out "
            "that many times); it is fitted as a feature now"
        )
    return None


def load_bundled(name):
    """One of scikit-learn's bundled classification datasets, as a DataFrame."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    X = bunch.data.astype(np.float64)
    return Dataset(
        name, X, np.asarray(bunch.target), "classification", list(X.columns), []
    )


def _case_note(classes, target, feature=False):
    """A note when labels differ only in case or surrounding spaces ('yes', 'YES'):
    they are fitted as different classes (a tester's iris with two spellings of each
    label was fitted as 4 classes, silently); with ``feature``, the values of a text
    column, encoded as different categories (yes/Yes/YES/no/No: 5, silently; a
    tester)."""
    groups = {}
    for c in classes:
        if isinstance(c, str):
            groups.setdefault(c.strip().casefold(), []).append(c)
    alike = [g for g in groups.values() if len(g) > 1]
    if not alike:
        return None
    shown = "; ".join(" and ".join(_reprs(g)) for g in alike[:3])
    if feature:
        return (
            f"values that differ only in case or spaces ({shown}) are encoded as "
            "different categories; write them alike in the file if they are one"
        )
    return (
        f"target {target!r}: labels that differ only in case or spaces ({shown}) "
        "are fitted as different classes; write them alike in the file if they are "
        "one class"
    )


def preprocessor(data):
    """The pipeline's first step: numeric columns standardised, text columns one-hot
    encoded (unknown values at prediction encode as all zeros). Each numeric column
    is divided by the power of 2 at or above its largest magnitude first (exact): a
    column near 1e-200 had its standard deviation taken for 0 by StandardScaler
    alone (below 10 machine epsilons: scikit-learn's rule, MaxAbsScaler's too),
    which then left it unscaled, and the model lost it silently (held-out R^2 0.40
    against 0.99). With ``data.impute`` (--impute) a SimpleImputer fills missing
    values first: numbers with the training column's median, text with its most
    frequent value (at prediction too)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from ._units import ColumnUnits

    fill = [SimpleImputer(strategy="median")] if data.impute else []
    numeric = make_pipeline(*fill, ColumnUnits(), StandardScaler())
    parts = [("numeric", numeric, list(data.numeric))]
    if data.text:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        if data.impute:
            encoder = make_pipeline(SimpleImputer(strategy="most_frequent"), encoder)
        parts.append(("text", encoder, list(data.text)))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def prediction_frame(table, model, path):
    """The model's feature columns of a table (any order, extra columns allowed):
    (features DataFrame, ignored column names, notes on text values the model does
    not know)."""
    wanted = [str(c) for c in getattr(model, "feature_names_in_", [])]
    if not wanted:
        raise UserError(
            "the model does not record its feature names (not saved by fixntk fit); "
            "it cannot select columns from a CSV"
        )
    frame = table.frame
    _check_total_row(frame, path)
    if len(frame) == 0:
        raise UserError(
            f"{path} has no data rows (a header row only): nothing to predict"
        )
    missing = [c for c in wanted if c not in frame.columns]
    notes = []
    taken = None if table.index is None else str(table.index.name)
    if taken in missing:  # (it was said to be missing from the file; a tester)
        raise UserError(
            f"{path}: --index-col took column {taken!r} as the row labels, but the "
            "model was fitted on it as a feature; name another column with "
            "--index-col, or leave the option out"
        )
    constant = {m: _constant_value(model, m) for m in missing}
    constant = {m: v for m, v in constant.items() if v is not None}
    if constant:
        # columns of one value in training, which fit said carry no information: the
        # file need not hold them (refused as missing; tester DJ)
        frame = frame.assign(**{m: v for m, v in constant.items()})
        missing = [m for m in missing if m not in constant]
        notes.append(
            f"column(s) {_shown(map(repr, constant))} held a single value in training "
            "and are not in this file: that value is used for every row"
        )
    if missing:
        near = [(m, _closest(m, frame.columns)) for m in missing]
        near = [f"{c!r} for {m!r}" for m, c in near if c is not None]
        raise UserError(
            f"{path} lacks the model's feature column(s) {_shown(missing)}; columns: "
            f"{_shown(frame.columns)}"
            + (f" (did you mean {_shown(near, 5)}?)" if near else "")
        )
    ignored = [c for c in frame.columns if c not in wanted]
    X = frame[wanted].copy()
    numeric, text = _model_columns(model, wanted)
    fills = _model_imputes(model)
    if fills:
        gaps = X.isna().sum()
        filled = [f"{col!r} {int(gaps[col])}" for col in wanted if gaps[col]]
        if filled:
            notes.append(
                "missing values filled as in training (the model was fitted with "
                f"--impute): {_shown(filled, 8)}"
            )
        empty = np.flatnonzero(X.isna().all(axis=1).to_numpy())
        if empty.size:  # predicted from the fills alone: said by line (a tester)
            where = _shown([str(_line(X, k)) for k in empty], 8)
            notes.append(
                f"line(s) {where} have no value in any of the model's columns: their "
                "predictions come from the training fills alone"
            )
    no_fill = "" if fills else " (a model fitted with --impute fills missing values)"
    for col in numeric:
        values = _numbers(X[col], table.decimal)
        if values is None or (X[col].isna().any() and not fills):
            hint = number_format_hint(X[col], table.decimal) if values is None else None
            if hint is not None:  # (named with a gap in the column too; a tester)
                raise UserError(f"{path}: column {col!r} {hint}")
            bad = _coerced(X[col], table.decimal).isna()
            if fills:  # a gap the model fills is not what stops it (tester DJ)
                bad &= X[col].notna()
            bad = X[col][bad]
            k = int(np.flatnonzero(X.index == bad.index[0])[0])
            value = X[col].iloc[k]
            what = "a missing value" if pd.isna(value) else f"the text {str(value)!r}"
            raise UserError(
                f"{path}, line {_line(X, k)}: column {col!r} has {what}; the model "
                "needs a number there" + (no_fill if pd.isna(value) else "")
            )
        _check_numbers(path, X, col, values)
        X[col] = values
    far = _far_rows(model, X, numeric)
    if far is not None:
        notes.append(far)
    for col in text:
        if X[col].isna().any() and not fills:
            k = int(np.flatnonzero(X[col].isna().to_numpy())[0])
            raise UserError(
                f"{path}, line {_line(X, k)}: column {col!r} has a missing value; the "
                "model needs one of its categories there" + no_fill
            )
        X[col] = X[col].where(X[col].isna(), X[col].astype(str))
        known = _categories(model, col)
        X[col] = _as_categories_written(table, X[col], known)
        if known is not None:
            unknown = ~X[col].isin(known) & X[col].notna()
            if unknown.any():
                values = pd.unique(X[col][unknown])
                # a known category but for case or spacing ('Women' for 'women'; a
                # close spelling is another category: 'Class C' is not 'Class B')
                keys = {_name_key(k): k for k in known}
                near = [(v, keys.get(_name_key(v))) for v in values]
                near = [f"{c!r} for {v!r}" for v, c in near if c is not None]
                notes.append(
                    f"column {col!r}: {int(unknown.sum())} row(s) hold value(s) the "
                    f"model was not fitted on ({_shown(map(repr, values), 5)}; known: "
                    f"{_shown(map(repr, known), 8)}"
                    + (f"; did you mean {_shown(near, 3)}?" if near else "")
                    + "); they count as none of the known categories, and their "
                    "predictions rest on the other columns alone"
                )
    return X, ignored, notes


# prediction rows standardised beyond this many standard deviations are noted
_FAR_SDS = 50.0


def _far_rows(model, X, numeric):
    """A note on rows whose numbers lie more than _FAR_SDS training standard
    deviations from the training mean (their predictions extrapolate the model far
    beyond its data), or None."""
    prep = model[0] if hasattr(model, "steps") else None
    scale = getattr(prep, "named_transformers_", {}).get("numeric")
    if scale is None or not numeric:
        return None
    with np.errstate(all="ignore"):
        z = np.abs(np.asarray(scale.transform(X[numeric]), dtype=float))
    # a column constant in training (its scale 1, its standardised values 0 there)
    # that varies now: the model never saw it move, though its gates do
    fixed = np.asarray(getattr(scale[-1], "var_", np.ones(len(numeric)))) == 0
    moved = fixed & (z > 1e-9 * (1.0 + np.abs(scale[-1].mean_)))
    z = np.where(moved, np.inf, z)
    far = (z > _FAR_SDS).any(axis=1)
    if not far.any():
        return None
    k = int(np.flatnonzero(far)[0])
    col = numeric[int(np.argmax(z[k]))]
    how = (
        "held a single value in every training row"
        if np.isinf(z[k].max())
        else f"{z[k].max():.3g} standard deviations"
    )
    return (
        f"{int(far.sum())} row(s) hold numbers more than {_FAR_SDS:g} standard "
        "deviations from the training rows' mean, or differ in a column constant in "
        f"training (the first at line {_line(X, k)}: column {col!r}, {how}): their "
        "predictions extrapolate beyond the data the model was fitted on"
    )


def written(table, series):
    """``series`` (a column of ``table``'s file, by name) as the file writes it, at
    its rows: text, where pandas may have read numbers; None where the file cannot
    be read so."""
    text = None if table.text_of is None else table.text_of(str(series.name))
    return None if text is None else text.loc[series.index]


def _as_categories_written(table, cells, known):
    """A text column's cells as the file writes them where that matches more of the
    model's categories than pandas' reading: a new file whose cells of a text column
    all look like numbers ('4' of drv's '4', 'f', 'r'; region '01', '02' beside 'A1'
    in training) is read as numbers, and their text ('4.0', '1') was taken for values
    the model was not fitted on, the rows predicted without them (tester DJ)."""
    if known is None or cells.isin(known).all():
        return cells
    text = written(table, cells)
    if text is None or not text.isin(known).sum() > cells.isin(known).sum():
        return cells
    return text.where(cells.notna(), cells)


def _column_step(model, col):
    """(transformer name, its steps, position of ``col`` among its columns) of a
    fitted fixntk pipeline's feature ``col``, or None."""
    prep = model[0] if hasattr(model, "steps") else None
    for name, step, cols in getattr(prep, "transformers_", []):
        cols = [str(c) for c in cols]
        if col in cols:  # (imputer, ...) with --impute: a Pipeline
            steps = step.steps if hasattr(step, "steps") else [(name, step)]
            return name, steps, cols.index(col)
    return None


def _categories(model, col):
    """The categories the fitted one-hot encoder knows for text column ``col``."""
    found = _column_step(model, col)
    if found is None or found[0] != "text":
        return None
    _, steps, k = found
    return [str(v) for v in steps[-1][1].categories_[k]]


def _model_imputes(model):
    """Whether a fitted fixntk pipeline fills missing values (fitted with --impute)."""
    from sklearn.impute import SimpleImputer

    prep = model[0] if hasattr(model, "steps") else None
    for _, part, _ in getattr(prep, "transformers_", []):
        steps = [s for _, s in part.steps] if hasattr(part, "steps") else [part]
        if any(isinstance(s, SimpleImputer) for s in steps):
            return True
    return False


def _constant_value(model, col):
    """The value a fitted fixntk pipeline's feature ``col`` held in every training
    row (a number, or a text column's one category), or None if it varied."""
    found = _column_step(model, col)
    if found is None:
        return None
    name, steps, k = found
    last = steps[-1][1]
    if name == "text" and len(last.categories_[k]) == 1:
        return last.categories_[k][0]
    var = getattr(last, "var_", None)
    if name == "numeric" and var is not None and var[k] == 0:
        value = float(last.mean_[k])
        for _, earlier in steps[:-1]:  # back through ColumnUnits' powers of 2
            value *= float(getattr(earlier, "units_", np.ones(k + 1))[k])
        return value
    return None


def _model_columns(model, wanted):
    """(numeric, text) feature columns of a fitted fixntk pipeline."""
    prep = model[0] if hasattr(model, "steps") else None
    text = []
    if prep is not None and hasattr(prep, "transformers_"):
        for name, _, cols in prep.transformers_:
            if name == "text":
                text = [str(c) for c in cols]
    return [c for c in wanted if c not in text], text
