"""The docs quote figures only with their provenance, and tested outputs are compared (tests/doccheck.py)."""

from pathlib import Path

import pytest

from doccheck import OUTPUT, TESTED, missing_lines, quick_examples, unsourced_sections

ROOT = Path(__file__).resolve().parents[1]


def test_quick_examples_with_and_without_output():
    text = (f"intro\n{TESTED}\n\n```bash\necho one\n```\n{OUTPUT}\n```text\nP@1 29.9 %\n\nround ... done\n```\n"
            f"```bash\necho untested\n```\n{TESTED}\n```bash\necho two\n```\n")
    assert quick_examples(text) == [(4, "echo one", ["P@1 29.9 %", "round ... done"]), (17, "echo two", None)]
    with pytest.raises(AssertionError):
        quick_examples(f"{TESTED}\nplain text\n")
    with pytest.raises(AssertionError):
        quick_examples(f"{TESTED}\n```bash\necho\n```\n{OUTPUT}\nno block\n")


def test_a_quoted_figure_that_drifts_is_caught():
    printed = "12:00 clime: round 0:   P@1 29.9 % (NN)  44.1 % (CSLS), 3441 pairs, 2.3 s\nwrote work/x\n"
    assert missing_lines(["round 0: P@1 29.9 % (NN) 44.1 % (CSLS), 3441 pairs, ... s"], printed) == []
    stale = "round 0: P@1 30.2 % (NN) 43.9 % (CSLS), ..."
    assert missing_lines([stale, "wrote work/x"], printed) == [stale]
    # '...' is the only wildcard: regex characters in the expected text are literal
    assert missing_lines(["P@1 29.9 % (NN) 44.1 % (CSLS), 3441 pairs, 2.3 s"], printed) == []
    assert missing_lines(["P@1 2.9"], printed) == ["P@1 2.9"]


def test_figures_need_a_date_and_command_or_tested_output():
    unsourced = "# Page\n\n## Results\n\n| space | accuracy % |\n| --- | --- |\n| self-learning | 78.6 ± 0.3 |\n"
    assert [name for _, name, _ in unsourced_sections(unsourced)] == ["## Results"]
    dated = unsourced.replace("## Results\n", "## Results\n\nMeasured 2026-12-04 with `python train.py`:\n")
    assert unsourced_sections(dated) == []
    tested = unsourced.replace("## Results\n", f"## Results\n\n{TESTED}\n```bash\nx\n```\n{OUTPUT}\n```text\n"
                                                  "78.6\n```\n")
    assert unsourced_sections(tested) == []
    # an option's default, a version number or a figure in code is not a measured figure
    plain = "## Options\n\n| `--reg` | 1.0 | weight |\n\nPython 3.11, torch 2.13.\n\n```text\nP@1 29.9 %\n```\n"
    assert unsourced_sections(plain) == []


def test_every_page_says_where_its_figures_come_from():
    pages = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    bad = [f"{p.relative_to(ROOT)}:{line}: {name}: figure without a date and command (e.g. line {fig[0]}: "
           f"{fig[1].strip()[:80]})" for p in pages for line, name, fig in unsourced_sections(p.read_text("utf-8"))]
    assert not bad, "\n".join(bad)
