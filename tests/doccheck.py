"""Where the docs' figures come from (used by tests/test_docs.py and tests/test_docs_figures.py).

Two rules keep the pages honest about what a command prints:

* **Tested output.**  A ``<!-- tested -->`` ```bash block may be followed by ``<!-- output -->`` and a
  ```text block: the lines a reader should see.  The docs test runs the block and every non-empty line of
  the text block must match a line of what the commands printed (stdout and stderr), after collapsing
  runs of spaces.  ``...`` in an expected line stands for anything (timings, paths), so a quoted figure
  that no longer matches its command fails the test.
* **Provenance.**  Every section of README.md and docs/*.md (a heading and the text up to the next one)
  whose prose or tables quote a measured figure (a decimal number beside a unit of measurement: %, ±,
  an interval, P@1, accuracy, F1, seconds, CPU, ×) must say where it comes from: a date (YYYY-MM-DD) and
  a command in backticks, or a tested ``<!-- output -->`` block.
"""

import re

TESTED = "<!-- tested -->"
OUTPUT = "<!-- output -->"
FENCE_BASH = re.compile(r"^```bash\s*$")
FENCE_TEXT = re.compile(r"^```(text)?\s*$")
HEADING = re.compile(r"#{1,6} ")
NUMBER = re.compile(r"(?<![\w.])[-−+]?\d+\.\d+(?![\w.])")
MEASURE = re.compile(r"%|±|\[[-−+]?\d|P@1|accuracy|F1|CPU|\d ?(s|ms|min)\b|GFLOP|×")
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
CODE_SPAN = re.compile(r"`[^`]*`")


def _skip_blank(lines, j):
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j


def _fence_end(lines, j):
    k = j + 1
    while k < len(lines) and lines[k].strip() != "```":
        k += 1
    return k


def quick_examples(text):
    """[(line number of the block's first line, script, expected lines or None)] for each tested block."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == TESTED:
            j = _skip_blank(lines, i + 1)
            if j >= len(lines) or not FENCE_BASH.match(lines[j]):
                raise AssertionError(f"line {i + 1}: {TESTED} is not followed by a ```bash block")
            k = _fence_end(lines, j)
            script = "\n".join(lines[j + 1:k])
            expected = None
            m = _skip_blank(lines, k + 1)
            if m < len(lines) and lines[m].strip() == OUTPUT:
                n = _skip_blank(lines, m + 1)
                if n >= len(lines) or not FENCE_TEXT.match(lines[n]):
                    raise AssertionError(f"line {m + 1}: {OUTPUT} is not followed by a ```text block")
                e = _fence_end(lines, n)
                expected = [ln for ln in lines[n + 1:e] if ln.strip()]
                k = e
            out.append((j + 1, script, expected))
            i = k
        i += 1
    return out


def _squash(s):
    return " ".join(s.split())


def line_pattern(expected):
    """A regex for one expected output line: literal text, ``...`` for anything, spaces collapsed."""
    parts = [re.escape(p) for p in _squash(expected).split("...")]
    return re.compile(".*".join(parts))


def missing_lines(expected, printed):
    """The expected lines that match no line of ``printed`` (a string)."""
    got = [_squash(ln) for ln in printed.splitlines()]
    return [e for e in expected if not any(line_pattern(e).search(g) for g in got)]


def sections(text):
    """[(heading, first line number, [(line number, line, inside a code block)])]."""
    out = []
    cur, name, start, inside = [], "(top of the page)", 1, False
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            inside = not inside
        if not inside and HEADING.match(line):
            out.append((name, start, cur))
            cur, name, start = [], line.strip(), i
        cur.append((i, line, inside))
    out.append((name, start, cur))
    return out


def figure_lines(section_lines):
    """Prose and table lines (outside code blocks and code spans) that quote a measured figure."""
    found = []
    for i, line, inside in section_lines:
        if inside or line.startswith("```") or re.match(r"\|\s*`-", line):  # code; a table of options
            continue
        bare = CODE_SPAN.sub("", line)
        if NUMBER.search(bare) and MEASURE.search(bare):
            found.append((i, line))
    return found


def unsourced_sections(text):
    """[(line, heading, first figure line)] for sections with figures but no date+command or tested output."""
    bad = []
    for name, start, lines in sections(text):
        figs = figure_lines(lines)
        if not figs:
            continue
        body = "\n".join(line for _, line, _ in lines)
        if (DATE.search(body) and CODE_SPAN.search(body)) or OUTPUT in body:
            continue
        bad.append((start, name, figs[0]))
    return bad
