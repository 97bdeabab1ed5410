#!/usr/bin/env python3
"""Build the committed English–French example in data/ from ../shared/datasets/en-fr/.

Maintainers only (users never run it): it needs the shared kit beside the
repository.  Deterministic for a fixed --seed.

What it does:
- documents: SIB-200 English train+dev (labelled) -> en.json; French test ->
  fr.json; French train+dev -> fr_unlabeled.json (no labels) and
  fr_labeled.json (labels, for the simulated annotator and tuning only);
  French dev -> fr_dev.json.  Tokenised with clime.text.tokenize.
- vectors: every word of the example documents and of the dictionaries, plus the
  most frequent words up to --top per language; unit -> centre -> unit
  normalised; the French space mapped onto the English one by orthogonal
  Procrustes fitted on only --seed-pairs pairs of the training dictionary, so
  that the alignment is as rough as a low-resource language's.
- dictionaries: dict.seed.tsv (the pairs used for that alignment),
  dict.oracle.tsv (the rest of the training dictionary: what a bilingual
  person knows beyond the seed), dict.test.tsv (word-translation test pairs).
"""

import argparse
import csv
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clime.align import fit_orthogonal, read_dictionary  # noqa: E402
from clime.embeddings import read_vec, write_vec  # noqa: E402
from clime.fileio import atomic_open  # noqa: E402
from clime.text import tokenize, write_docs  # noqa: E402

CATEGORIES = ["science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"]


def read_split(path):
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [{"id": int(r["index_id"]), "text": tokenize(r["text"]), "label": CATEGORIES.index(r["category"])}
            for r in rows]


def unit(E):
    return E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)


def select(words, E, needed, top):
    """Rows of the frequency-sorted file: the first `top` words plus every needed word, in file order."""
    keep = [i for i, w in enumerate(words) if i < top or w in needed]
    return [words[i] for i in keep], E[keep]


def write_pairs(path, pairs):
    with atomic_open(path) as fh:
        for s, t in pairs:
            fh.write(f"{s}\t{t}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kit", default=str(ROOT.parent / "shared/datasets/en-fr"), help="the shared en-fr kit")
    ap.add_argument("--out", default=str(ROOT / "data"))
    ap.add_argument("--top", type=int, default=5000, help="most frequent words kept per language")
    ap.add_argument("--seed-pairs", type=int, default=200, help="dictionary pairs used for the alignment")
    ap.add_argument("--digits", type=int, default=4, help="significant digits of the written vectors")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    kit, out = Path(args.kit), Path(args.out)
    if not kit.is_dir():
        sys.exit(f"error: {kit}: the shared en-fr kit is not there")

    split = {(lang, s): read_split(kit / "sib200" / lang / f"{s}.tsv")
             for lang in ("en", "fr") for s in ("train", "dev", "test")}
    en_docs = split["en", "train"] + split["en", "dev"]
    fr_trdev = split["fr", "train"] + split["fr", "dev"]
    write_docs(out / "en.json", en_docs)
    write_docs(out / "fr.json", split["fr", "test"])
    write_docs(out / "fr_unlabeled.json", [{"id": d["id"], "text": d["text"]} for d in fr_trdev])
    write_docs(out / "fr_labeled.json", fr_trdev)
    write_docs(out / "fr_dev.json", split["fr", "dev"])
    with atomic_open(out / "categories.txt") as fh:
        fh.write("\n".join(CATEGORIES) + "\n")

    train_pairs = read_dictionary(kit / "dict.en-fr.train.tsv")
    test_pairs = read_dictionary(kit / "dict.en-fr.test.tsv")
    en_need = {t for s in ("train", "dev", "test") for d in split["en", s] for t in d["text"]}
    fr_need = {t for s in ("train", "dev", "test") for d in split["fr", s] for t in d["text"]}
    en_need |= {s for s, _ in train_pairs + test_pairs}
    fr_need |= {t for _, t in train_pairs + test_pairs}

    en_words, en_E = read_vec(kit / "en.vec.gz")[:2]
    fr_words, fr_E = read_vec(kit / "fr.vec.gz")[:2]
    en_words, en_E = select(en_words, en_E, en_need, args.top)
    fr_words, fr_E = select(fr_words, fr_E, fr_need, args.top)
    en_E, fr_E = (unit(unit(E) - unit(E).mean(0)) for E in (en_E, fr_E))

    rng = random.Random(args.seed)
    shuffled = train_pairs[:]
    rng.shuffle(shuffled)
    seed, oracle = shuffled[: args.seed_pairs], shuffled[args.seed_pairs:]
    en_ix = {w: i for i, w in enumerate(en_words)}
    fr_ix = {w: i for i, w in enumerate(fr_words)}
    W = fit_orthogonal(fr_E[[fr_ix[t] for _, t in seed]], en_E[[en_ix[s] for s, _ in seed]])
    fr_E = (fr_E @ W).astype(np.float32)

    write_pairs(out / "dict.seed.tsv", seed)
    write_pairs(out / "dict.oracle.tsv", sorted(oracle))
    write_pairs(out / "dict.test.tsv", test_pairs)
    write_vec(out / "eng.vec.gz", en_words, en_E, precision=args.digits)
    write_vec(out / "fra.vec.gz", fr_words, fr_E, precision=args.digits)
    n_tok = Counter(len(d["text"]) for d in en_docs)
    print(f"en: {len(en_words)} words, fr: {len(fr_words)} words; {len(en_docs)} English docs "
          f"(mean {sum(k * v for k, v in n_tok.items()) / len(en_docs):.1f} tokens), "
          f"{len(split['fr', 'test'])} French test docs; seed {len(seed)} / oracle {len(oracle)} / "
          f"test {len(test_pairs)} pairs")


if __name__ == "__main__":
    main()
