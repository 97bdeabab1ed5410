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
