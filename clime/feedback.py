"""The feedback CSV that the annotation app writes and update.py reads.

Header ``keyword,timestamp,pos1,pos2,neg1,neg2,new1,new2``; ``1`` is the source
language, ``2`` the target.  List cells are Python list literals of words
(``['hospital', 'nurses']``); JSON arrays are accepted on reading.  Cells are
parsed with ``ast.literal_eval`` / ``json.loads``, never ``eval``.
Extra trailing columns (e.g. ``user`` in a merged export) are kept.
"""

import ast
import csv
import json
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
            header = [h.strip() for h in header]
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
                keyword = cells[0].strip()
                if not keyword:
                    raise ClimeError("empty keyword", path, line)
                row = FeedbackRow(keyword=keyword, timestamp=cells[1].strip(), line=line)
                for name, cell in zip(LIST_FIELDS, cells[2:len(FIELDS)]):
                    setattr(row, name, parse_list(cell, path, line, name))
                row.extra = dict(zip(extra_cols, cells[len(FIELDS):]))
                rows.append(row)
    except UnicodeDecodeError as err:
        raise ClimeError(f"invalid UTF-8 ({err.reason})", path) from None
    except csv.Error as err:
        raise ClimeError(f"malformed CSV ({err})", path) from None
    return rows


def write_feedback(path, rows, extra_fields=()):
    """Write FeedbackRow objects (or dicts with the same keys) atomically."""
    header = FIELDS + list(extra_fields)
    with atomic_open(path, newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            d = r.as_dict() if isinstance(r, FeedbackRow) else r
            w.writerow([d["keyword"], d.get("timestamp", "")]
                       + [format_list(d.get(f, [])) for f in LIST_FIELDS]
                       + [d.get(x, "") for x in extra_fields])
