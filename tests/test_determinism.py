"""Issue 14, item 12: the example pipeline's scripts write the same bytes whatever
Python's hash seed (a set iterated somewhere would make the order, and so the
floating-point sums, depend on PYTHONHASHSEED)."""
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from test_experiment import _tiny_task

ROOT = Path(__file__).resolve().parents[1]

# Every stage of run_example.sh, on the tiny synthetic task, with relative paths so
# that two runs in two folders record the same arguments.
PIPELINE = [
    ("export_vec.py", ["en", "en.vec"]),
    ("export_vec.py", ["fr", "fr.vec.gz"]),
    ("binarize.py", ["en.vec", "emb/en"]),
    ("binarize.py", ["fr.vec.gz", "emb/fr"]),
    ("align.py", ["--src-emb", "emb/en", "--tgt-emb", "emb/fr", "--dict", "seed.tsv", "--eval-dict", "test.tsv",
                  "--out-src", "emb/en_al", "--out-tgt", "emb/fr_al", "--min-pairs", "3", "--results", "align.json"]),
    ("train.py", ["--src-emb", "emb/en_al", "--tgt-emb", "emb/fr_al", "--train", "en.json", "--test", "fr.json",
                  "--dev", "fr_dev.json", "--type", "cnn", "--filters", "4", "--widths", "2,3", "--epochs", "2",
                  "--runs", "1", "--threads", "1", "--device", "cpu", "--output", "model.pt"]),
    ("rank_words.py", ["model.pt", "--output", "rank.txt", "--device", "cpu"]),
    ("preprocess_ui.py", ["--src-emb", "emb/en_al", "--tgt-emb", "emb/fr_al", "-k", "3", "--task", "tiny",
                          "--rank", "rank.txt", "--max", "6", "--src-doc", "en.json", "--tgt-doc", "fr_unlabeled.json",
                          "--categories", "categories.txt", "--out-dir", "ui/tiny", "--device", "cpu"]),
    ("simulate.py", ["--task", "tiny", "--ui-data", "ui", "--oracle", "dict", "--dict", "oracle.tsv",
                     "--out", "fb/dict.csv"]),
    ("simulate.py", ["--task", "tiny", "--ui-data", "ui", "--oracle", "label", "--docs-src", "en.json",
                     "--docs-tgt", "fr_labeled.json", "--min-count", "1", "--out", "fb/label.csv"]),
    ("update.py", ["--feedback", "fb/dict.csv", "fb/label.csv", "--src-emb", "emb/en_al", "--tgt-emb", "emb/fr_al",
                   "--out-src", "emb/en_new", "--out-tgt", "emb/fr_new", "--seed-dict", "seed.tsv", "--iter", "200",
                   "--objective", "cosine", "--propagate", "--device", "cpu"]),
    ("train.py", ["--src-emb", "emb/en_new", "--tgt-emb", "emb/fr_new", "--train", "en.json", "--test", "fr.json",
                  "--type", "lr", "--epochs", "2", "--runs", "1", "--threads", "1", "--device", "cpu",
                  "--results", "after.json"]),
    ("export_vec.py", ["emb/fr_new", "fr_new.vec"]),
]

# Fields that measure time rather than results.
TIME_KEYS = {"seconds", "created", "wall_s"}

# One process runs every script in turn (as `python script.py ...` would), so the
# test pays for the imports once per hash seed.
DRIVER = """
import json, runpy, sys
root, stages = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, root)
for script, args in stages:
    sys.argv = [script] + args + ["-q"]
    try:
        runpy.run_path(f"{root}/{script}", run_name="__main__")
    except SystemExit as e:
        if e.code:
            raise SystemExit(f"{script} exited {e.code}")
"""


def _strip_times(obj):
    if isinstance(obj, dict):
        return {k: _strip_times(v) for k, v in obj.items() if k not in TIME_KEYS}
    if isinstance(obj, list):
        return [_strip_times(v) for v in obj]
    return obj


def _digest(folder):
    """file -> sha256 of its bytes (JSON files without their timing fields)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.suffix == ".csv":  # feedback: the timestamp column follows the clock
            rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
            data = json.dumps([r[:1] + r[2:] for r in rows]).encode()
        elif p.suffix == ".pt":  # a checkpoint: its tensors and fields, without the run's time
            import torch

            ck = torch.load(p, weights_only=True)
            state = {k: v.numpy().tobytes().hex() for k, v in ck.pop("state_dict").items()}
            data = json.dumps([state, _strip_times(ck)], sort_keys=True, default=str).encode()
        elif p.suffix == ".json":
            try:
                data = json.dumps(_strip_times(json.loads(data)), sort_keys=True).encode()
            except ValueError:
                pass
        out[str(p.relative_to(folder))] = hashlib.sha256(data).hexdigest()
    return out


def _run(kit, folder, hash_seed):
    shutil.copytree(kit, folder)
    env = dict(os.environ, PYTHONHASHSEED=str(hash_seed), OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    r = subprocess.run([sys.executable, "-c", DRIVER, str(ROOT), json.dumps(PIPELINE)], cwd=folder, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return _digest(folder)


def test_pipeline_bytes_do_not_depend_on_the_hash_seed(tmp_path):
    _tiny_task(tmp_path / "kit")
    (tmp_path / "kit" / "conf.json").unlink()
    a = _run(tmp_path / "kit", tmp_path / "a", 1)
    b = _run(tmp_path / "kit", tmp_path / "b", 2024)
    assert "emb/fr_new/E.npy" in a and "fb/dict.csv" in a and "ui/tiny/setup.json" in a
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    assert differ == [], f"outputs that depend on PYTHONHASHSEED: {differ}"


def test_feedback_votes_keep_the_order_of_the_cells():
    """update.row_votes once iterated over a set of rejected words: the order of the
    rejected pairs (and so the sums of the update) changed with PYTHONHASHSEED."""
    code = ("from clime.feedback import FeedbackRow; from clime.update import row_votes\n"
            "neg = ['w%d' % i for i in range(12)]\n"
            "row = FeedbackRow('kw', pos2=['a', 'b'], neg1=neg, neg2=neg[::-1], new2=['c'])\n"
            "print([w for w, _ in row_votes(row)])\n")
    outs = set()
    for seed in (0, 1, 2, 3):
        env = dict(os.environ, PYTHONHASHSEED=str(seed), PYTHONPATH=str(ROOT))
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        outs.add(r.stdout.strip())
    neg = [f"w{i}" for i in range(12)]
    assert outs == {str(neg + ["a", "b", "c"] + neg[::-1])}
