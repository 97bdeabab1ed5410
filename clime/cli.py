"""What every root script shares: logging to stderr, seeding, and error → exit 2."""

import argparse
import contextlib
import logging
import math
import os
import random
import sys

import numpy as np

from .errors import ClimeError

log = logging.getLogger("clime")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults in --help and keeps the description's line breaks.  A help text that already
    says its default, or an option whose default is nothing (None) or off (False), gets no
    "(default: ...)" appended."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or "default:" in text or action.default is None or action.default is False:
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def make_parser(description, **kwargs):
    parser = Parser(description=description, formatter_class=HelpFormatter, **kwargs)
    return parser


def _bounds_text(lo, hi, lo_open, hi_open):
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    return " and ".join(parts)


def check_number(value, name, kind=float, lo=None, hi=None, lo_open=False, hi_open=False):
    """Return ``value`` if it is a finite ``kind`` (float or int) within the bounds,
    else raise a ClimeError saying which (``name``: the option or key, for the message).
    The check behind :func:`real` and :func:`integer`, also for values from a file."""
    what = "an integer" if kind is int else "a finite number"
    bounds = _bounds_text(lo, hi, lo_open, hi_open)
    need = what + (f" {bounds}" if bounds else "")
    ok_type = isinstance(value, int) if kind is int else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise ClimeError(f"{name} must be {need}, got {value!r}")
    if kind is not int and not math.isfinite(value):
        raise ClimeError(f"{name} must be {need}, got {value}")
    if (lo is not None and (value <= lo if lo_open else value < lo)) or \
            (hi is not None and (value >= hi if hi_open else value > hi)):
        raise ClimeError(f"{name} must be {need}, got {value}")
    return value


def _number_type(kind, lo, hi, lo_open, hi_open):
    def convert(text):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            value = text
        try:
            return check_number(value, "it", kind, lo, hi, lo_open, hi_open)
        except ClimeError as err:
            raise argparse.ArgumentTypeError(str(err).replace("it must", "must", 1)) from None

    convert.__name__ = kind.__name__
    return convert


def real(lo=None, hi=None, lo_open=False, hi_open=False):
    """argparse ``type`` for a float option: refuses NaN, infinities and values out of
    [lo, hi] (``lo_open``/``hi_open``: the bound itself is excluded)."""
    return _number_type(float, lo, hi, lo_open, hi_open)


def integer(lo=None, hi=None):
    """argparse ``type`` for an integer option within [lo, hi]."""
    return _number_type(int, lo, hi, False, False)


POSITIVE = real(0, lo_open=True)        # > 0
NON_NEGATIVE = real(0)                  # >= 0
FRACTION = real(0, 1)                   # [0, 1]
COSINE = real(-1, 1)                    # [-1, 1]


def add_common(parser, seed=True):
    """Add --seed, --quiet and --verbose to a parser."""
    if seed:
        parser.add_argument("--seed", type=integer(0, 2**63 - 1), default=0, help="random seed (results are deterministic for a fixed seed)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr, no progress bars")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def parse(parser, argv=None, seed=True):
    """Add the common options (``add_common``), parse ``argv``, set up logging and,
    with ``seed``, seed the generators (scripts that import torch later seed again)."""
    add_common(parser, seed=seed)
    args = parser.parse_args(argv)
    setup_logging(args.quiet, args.verbose)
    if seed:
        seed_everything(args.seed)
    return args


class MarkedFormatter(logging.Formatter):
    """Puts ``warning:`` before a warning and ``error:`` before an error (unless the message
    already starts so), so that a warning never reads like information."""

    MARKS = {logging.WARNING: "warning: ", logging.ERROR: "error: ", logging.CRITICAL: "error: "}

    def formatMessage(self, record):
        mark = self.MARKS.get(record.levelno)
        if mark and not record.message.lower().startswith(mark.strip()):
            record.message = mark + record.message
        return super().formatMessage(record)


def setup_logging(quiet=False, verbose=False):
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MarkedFormatter("%(levelname)s %(message)s" if verbose else "%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"


def seed_everything(seed):
    """Seed Python's, numpy's and (if imported) torch's generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def run(main, argv=None):
    """Call ``main(argv)``; a ClimeError becomes one line on stderr and exit status 2."""
    try:
        code = main(argv)
    except ClimeError as err:
        logging.getLogger("clime").error("error: %s", err)
        sys.exit(2)
    except BrokenPipeError:
        # output piped into e.g. `head`: stop quietly
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        sys.exit(1)
    except OSError as err:
        # a file we could not read or write (permissions, disk full): one line, no traceback
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        logging.getLogger("clime").error("error: %s%s", where, err.strerror or err)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code or 0)


# torch's CPU threads per process unless a script is told otherwise (train.py --threads N,
# or CLIME_THREADS in the environment).  One: measured (docs/experiment.md, bench/bench_train.py --policy)
# as fast as torch's default (a thread per core) on an idle machine for the project's models, and
# far faster when several runs share the cores or the machine is loaded, where OpenMP's threads
# wait on one another's time slices.
DEFAULT_THREADS = 1


def default_threads():
    """The default number of torch CPU threads: ``CLIME_THREADS`` (a positive integer) or 1."""
    text = os.environ.get("CLIME_THREADS", "").strip()
    if not text:
        return DEFAULT_THREADS
    try:
        return check_number(int(text), "CLIME_THREADS", int, lo=1)
    except ValueError:
        raise ClimeError(f"CLIME_THREADS must be a positive integer, got {text!r}") from None


def torch_threads(threads=0):
    """Set this process's torch CPU threads: ``threads`` when > 0, else :func:`default_threads`;
    one inter-op thread (the project's models run one operator at a time).  Returns the number."""
    import torch

    n = threads if threads and threads > 0 else default_threads()
    torch.set_num_threads(n)
    with contextlib.suppress(RuntimeError):  # allowed once, before any parallel work
        torch.set_num_interop_threads(1)
    return n


def progress_disabled():
    """True when progress bars should be hidden (--quiet, or TQDM_DISABLE set)."""
    return os.environ.get("TQDM_DISABLE", "") not in ("", "0")


def bar_off(progress=True):
    """tqdm's ``disable`` for every bar: True when bars are not wanted (``progress``
    False, --quiet, TQDM_DISABLE), else None, which shows the bar only on a terminal
    (so logs and CI output get no carriage-return clutter)."""
    return True if not progress or progress_disabled() else None
