"""The documentation's commands run as written.

Every fenced ``bash`` block that directly follows a ``<!-- tested -->`` line in README.md or a page of
docs/ is a quick example: this test copies the repository's tracked files into a temporary folder (so
nothing here is touched), puts the test's Python first on PATH as ``python`` (as an activated .venv
would), and runs those blocks from the copy's root, page by page in the order of ``PAGES`` (a page may
use what an earlier page made, as a reader following the docs would). Each block must exit 0.

The quickstart's own two commands are not run here (the whole pipeline and this very suite); what
they leave behind that later blocks need is made by the ``<!-- tested -->`` blocks themselves.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# pages in reading order; any other page of docs/ with tested blocks runs after these
PAGES = ["README.md", "docs/binarize.md", "docs/export_vec.md", "docs/align.md", "docs/train.md",
         "docs/rank_words.md", "docs/preprocess_ui.md", "docs/app.md", "docs/simulate.md", "docs/update.md",
         "docs/experiment.md"]
MARK = "<!-- tested -->"
# git-ignored folders the pipeline writes into (.gitignore)
ALLOWED_OUTPUTS = {"embeds", "ui_data", "feedbacks", "work", "results", "instance", ".venv", "__pycache__"}
FENCE = re.compile(r"^```bash\s*$")


def find_tested_blocks(text):
    """The bash blocks that directly follow a MARK line: [(line number, script)]."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == MARK:
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j >= len(lines) or not FENCE.match(lines[j]):
                raise AssertionError(f"line {i + 1}: {MARK} is not followed by a ```bash block")
            k = j + 1
            while k < len(lines) and lines[k].strip() != "```":
                k += 1
            out.append((j + 1, "\n".join(lines[j + 1:k])))
            i = k
        i += 1
    return out


def pages():
    found = [p for p in PAGES if (ROOT / p).exists()]
    extra = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")
                   if str(p.relative_to(ROOT)) not in PAGES)
    return found + extra


def test_tested_blocks_are_found():
    text = f"intro\n{MARK}\n\n```bash\necho one\n```\n```bash\necho untested\n```\n{MARK}\n```bash\necho two\n```\n"
    assert find_tested_blocks(text) == [(4, "echo one"), (11, "echo two")]
    with pytest.raises(AssertionError):
        find_tested_blocks(f"{MARK}\nplain text\n")


def _copy_repo(dest):
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if not name:
            continue
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_documented_commands_run_as_written(tmp_path):
    blocks = [(page, line, script) for page in pages() for line, script in
              find_tested_blocks((ROOT / page).read_text(encoding="utf-8"))]
    assert blocks, "no tested blocks in the docs"
    repo = tmp_path / "repo"
    repo.mkdir()
    _copy_repo(repo)
    shim = tmp_path / "bin"
    shim.mkdir()
    # a wrapper, not a symlink: a venv's interpreter finds its packages from the path it is started by
    (shim / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    (shim / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(repo),
           "TQDM_DISABLE": "1", "CLIME_TEST_DOCS": "1"}
    for page, line, script in blocks:
        res = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=repo, env=env, capture_output=True,
                             text=True)
        assert res.returncode == 0, f"{page}:{line}: exit {res.returncode}\n{script}\n--- stderr\n{res.stderr[-3000:]}"
    # following the docs leaves nothing in the repository root beside the ignored work folders
    tracked = {n.split("/")[0] for n in subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                                                      check=True).stdout.split()}
    left = sorted(p.name for p in repo.iterdir() if p.name not in tracked | ALLOWED_OUTPUTS)
    assert not left, f"the documented commands left {left} in the repository root"
