"""The feedback CSV that the annotation app writes and update.py reads.

Header ``keyword,timestamp,pos1,pos2,neg1,neg2,new1,new2``; ``1`` is the source
language, ``2`` the target.  List cells are Python list literals of words
(``['hospital', 'nurses']``); JSON arrays are accepted on reading.  Cells are
parsed with ``ast.literal_eval`` / ``json.loads``, never ``eval``.
Extra trailing columns are kept: the app writes ``skipped`` (``yes`` for a keyword the
annotator passed over) and ``comment`` (free text), and a merged export ends with ``user``
(``by_annotator`` splits such a file into one voter per annotator).

Text cells (keyword, timestamp, extra columns) are written so that a spreadsheet or a
terminal cannot run them, and read back to the same text (``safe_cell``/``read_cell``):
a cell starting with ``= + - @`` (after any ``'``) gets one ``'`` in front, which the
reader removes; a cell with a control character (ESC, CR, tab, ...) is written as a
Python string literal (``'\x1b[31mred'``), which the reader decodes (so is a text that
is itself such a literal).  List cells are
Python literals already: they start with ``[`` and ``repr`` escapes control characters.
"""

import ast
import csv
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ClimeError
from .fileio import atomic_open, require_file

FIELDS = ["keyword", "timestamp", "pos1", "pos2", "neg1", "neg2", "new1", "new2"]
LIST_FIELDS = FIELDS[2:]


@dataclass
class FeedbackRow:
    keyword: str
    timestamp: str = ""
    pos1: list = field(default_factory=list)
    pos2: list = field(default_factory=list)
    neg1: list = field(default_factory=list)
    neg2: list = field(default_factory=list)
    new1: list = field(default_factory=list)
    new2: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    line: int = 0

    def as_dict(self):
        d = {"keyword": self.keyword, "timestamp": self.timestamp}
        for f in LIST_FIELDS:
            d[f] = list(getattr(self, f))
        d.update(self.extra)
        return d


_FORMULA = re.compile(r"'*[=+\-@]")
_FORMULA_QUOTED = re.compile(r"'+[=+\-@]")


def _has_control(text):
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _needs_literal(text):
    """Control characters, or whitespace (NBSP included) at either end, which readers strip."""
    return _has_control(text) or text != text.strip()


def _str_literal(cell):
    """The string that ``cell`` spells as a quoted Python string literal, else None."""
    if len(cell) < 2 or cell[0] not in "'\"" or cell[-1] != cell[0]:
        return None
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def safe_cell(text):
    """``text`` as a CSV cell that neither a spreadsheet (formula) nor a terminal (escape
    codes) will interpret; ``read_cell`` gives ``text`` back."""
    text = str(text)
    if _needs_literal(text) or _str_literal(text) is not None:
        return repr(text)
    if _FORMULA.match(text):
        return "'" + text
    return text


def read_cell(cell):
    """The inverse of ``safe_cell``; cells it leaves alone (every cell of older files but
    a few pathological ones) come back as they are."""
    value = _str_literal(cell)
    if value is not None and (_needs_literal(value) or _str_literal(value) is not None):
        return value
    if _FORMULA_QUOTED.match(cell):
        return cell[1:]
    return cell


def format_list(words):
    """A Python list literal of strings, as the 2020 tools wrote them."""
    return repr([str(w) for w in words])


def parse_list(cell, path=None, line=None, column=None):
    """Parse a list cell safely (Python literal or JSON array of strings)."""
    cell = (cell or "").strip()
    if cell == "":
        return []
    value = None
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        try:
            value = json.loads(cell)
        except (ValueError, RecursionError, MemoryError):  # bad syntax, too deep, a huge integer
            raise ClimeError(f"column {column}: cannot read list {cell[:60]!r}", path, line) from None
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise ClimeError(f"column {column}: expected a list of words, found {cell[:60]!r}", path, line)
    return value


def read_feedback(path):
    """Read a feedback CSV into FeedbackRow objects (with their line numbers)."""
    path = Path(path)
    require_file(path, "a feedback CSV")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                raise ClimeError("empty file", path, 1) from None
            header = [read_cell(h.strip()) for h in header]
            if header[: len(FIELDS)] != FIELDS:
                raise ClimeError(f"wrong header {','.join(header)!r}, expected {','.join(FIELDS)!r}", path, 1)
            extra_cols = header[len(FIELDS):]
            rows = []
            for cells in reader:
                line = reader.line_num
                if not cells or all(not c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise ClimeError(f"expected {len(header)} cells, found {len(cells)}", path, line)
                keyword = read_cell(cells[0].strip())
                if not keyword:
                    raise ClimeError("empty keyword", path, line)
                row = FeedbackRow(keyword=keyword, timestamp=read_cell(cells[1].strip()), line=line)
                for name, cell in zip(LIST_FIELDS, cells[2:len(FIELDS)]):
                    setattr(row, name, parse_list(cell, path, line, name))
                row.extra = {k: read_cell(v) for k, v in zip(extra_cols, cells[len(FIELDS):])}
                rows.append(row)
    except UnicodeDecodeError as err:
        raise ClimeError(f"invalid UTF-8 ({err.reason})", path) from None
    except csv.Error as err:
        raise ClimeError(f"malformed CSV ({err})", path) from None
    return rows


def write_feedback(path, rows, extra_fields=(), private=False):
    """Write FeedbackRow objects (or dicts with the same keys) atomically; text cells
    through ``safe_cell``.  ``private``: the file is made 0600 (a new folder 0700)."""
    header = FIELDS + [safe_cell(x) for x in extra_fields]
    with atomic_open(path, newline="", private=private) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            d = r.as_dict() if isinstance(r, FeedbackRow) else r
            w.writerow([safe_cell(d["keyword"]), safe_cell(d.get("timestamp", ""))]
                       + [format_list(d.get(f, [])) for f in LIST_FIELDS]
                       + [safe_cell(d.get(x, "")) for x in extra_fields])


USER_FIELD = "user"


def by_annotator(path, rows):
    """Split the rows of one feedback file into one list per annotator.

    A merged export (``app.py export --merged``) has a ``user`` column: its rows are
    grouped by that cell, in order of first appearance, so that each annotator counts
    as one voter.  A file without that column is one annotator.  Returns
    ``[(user or None, rows)]``; an empty ``user`` cell is an error naming the line.
    """
    if not rows or USER_FIELD not in rows[0].extra:
        return [(None, rows)]
    groups = {}
    for r in rows:
        user = r.extra.get(USER_FIELD, "").strip()
        if not user:
            raise ClimeError(f"empty '{USER_FIELD}' cell in a merged feedback file", path, r.line)
        groups.setdefault(user, []).append(r)
    return list(groups.items())


def is_skipped(row):
    """True for the row of a keyword the annotator skipped (column ``skipped`` = yes)."""
    return row.extra.get("skipped", "").strip().lower() in ("yes", "true", "1")

