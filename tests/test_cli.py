"""clime.cli: common options, logging, seeding, progress bars, and errors as exit status 2."""
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clime import cli
from clime.errors import ClimeError

ROOT = Path(__file__).resolve().parents[1]


def test_parse_adds_common_options_and_seeds(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    p = cli.make_parser("test")
    p.add_argument("--n", type=int, default=3, help="a number")
    args = cli.parse(p, ["--seed", "7"])
    assert (args.seed, args.n, args.quiet, args.verbose) == (7, 3, False, False)
    a = (random.random(), np.random.rand())
    cli.seed_everything(7)
    assert (random.random(), np.random.rand()) == a
    assert "(default: 3)" in " ".join(p.format_help().split())


def test_quiet_turns_bars_off(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert cli.bar_off(True) is None  # tqdm decides: a bar on a terminal only
    assert cli.bar_off(False) is True
    cli.parse(cli.make_parser("test"), ["-q"], seed=False)
    assert cli.progress_disabled() and cli.bar_off(True) is True


def test_no_bar_when_stderr_is_not_a_terminal():
    code = ("import time; from tqdm import tqdm; from clime import cli\n"
            "for _ in tqdm(range(3), disable=cli.bar_off(True), mininterval=0): time.sleep(0.01)\n")
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    env["PYTHONPATH"] = str(ROOT)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0 and res.stderr == ""


def test_run_turns_errors_into_one_line_and_status_2(capsys):
    def main(argv):
        raise ClimeError("value 'x' is not a number", "data/e.vec", 12)

    cli.setup_logging()
    with pytest.raises(SystemExit) as ex:
        cli.run(main, [])
    assert ex.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: data/e.vec:12: value 'x' is not a number"]


HELP_SCRIPTS = ["binarize", "export_vec", "align", "train", "rank_words", "preprocess_ui", "select_docs", "app",
                "update", "simulate", "experiment", "clear_db", "make_kit"]


def _help_problems(text):
    """Options of a --help text without any help, and '(default: None)' or doubled defaults."""
    import re

    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        if "(default: None)" in line or line.count("(default:") > 1:
            out.append(line.strip())
        m = re.match(r"^  (-[^ ,]+(?: [^ ]+)?(?:, -[^ ,]+(?: [^ ]+)?)*)\s*$", line)
        if m and not (i + 1 < len(lines) and lines[i + 1].startswith(" " * 8)):
            out.append(f"no help: {m.group(1)}")
    return out


def test_help_problems_are_found():
    text = "options:\n  --epochs EPOCHS\n  --runs RUNS  seeds (default: 3) (default: None)\n  --ok OK  fine\n"
    assert _help_problems(text) == ["no help: --epochs EPOCHS", "--runs RUNS  seeds (default: 3) (default: None)"]


@pytest.mark.parametrize("script", HELP_SCRIPTS)
def test_every_option_has_help_and_one_default(script):
    import subprocess
    import sys

    path = Path(__file__).resolve().parents[1] / f"{script}.py"
    r = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert _help_problems(r.stdout) == []


def test_warnings_and_errors_are_marked(capsys):
    import logging

    cli.setup_logging()
    log = logging.getLogger("clime.test")
    log.info("objective 'dot' is fine")
    log.warning("objective 'dot' with --reg 0 is unbounded")
    log.warning("warning: already marked")
    log.error("it broke")
    log.error("error: already marked")
    assert capsys.readouterr().err.splitlines() == [
        "objective 'dot' is fine", "warning: objective 'dot' with --reg 0 is unbounded", "warning: already marked",
        "error: it broke", "error: already marked"]


def test_torch_threads_default_and_override(monkeypatch):
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    try:
        monkeypatch.delenv("CLIME_THREADS", raising=False)
        assert cli.default_threads() == cli.DEFAULT_THREADS == 1
        assert cli.torch_threads(0) == 1 and torch.get_num_threads() == 1
        assert cli.torch_threads(2) == 2 and torch.get_num_threads() == 2
        monkeypatch.setenv("CLIME_THREADS", "3")
        assert cli.torch_threads() == 3
        monkeypatch.setenv("CLIME_THREADS", "many")
        with pytest.raises(ClimeError, match="CLIME_THREADS"):
            cli.default_threads()
        monkeypatch.setenv("CLIME_THREADS", "0")
        with pytest.raises(ClimeError, match="CLIME_THREADS"):
            cli.default_threads()
    finally:
        torch.set_num_threads(old)
