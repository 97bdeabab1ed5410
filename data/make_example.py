#!/usr/bin/env python3
"""Rebuild the committed examples with the toolkit's own scripts (clime.kit, as
make_kit.py; train_vectors.py for Spanish):

* data/    English -> French,  from ../shared/datasets/en-fr/
* data/fi/ English -> Finnish, from ../shared/datasets/en-fi/
* data/es/ English -> Spanish, from ../shared/datasets/en-es-bible/, the Spanish vectors
  trained here by train_vectors.py (its defaults, --workers 1 --seed 0) on the kit's
  853,033-token corpus, the English vectors those of the en-fr kit.

SIB-200 is parallel (the same index_id is the same sentence in every language), so
every kit is split as make_kit.py does by default (clime.kit.split_parallel): target
test = the 204 test ids, dev = the 99 dev ids, and of the 701 train ids, sorted and
shuffled with random.Random(0), the first 500 are the English training documents and
the other 201 the target pool (<tgt>_unlabeled.json / <tgt>_labeled.json).

Maintainers only (users never run it): it needs the shared kits beside the
repository.  Deterministic: a rerun writes the same bytes.  For French the same as

  python make_kit.py --out data --src-lang en --tgt-lang fr \\
      --src-train K/sib200/en/train.tsv K/sib200/en/dev.tsv --tgt-train K/sib200/fr/train.tsv \\
      --tgt-dev K/sib200/fr/dev.tsv --tgt-test K/sib200/fr/test.tsv --src-vec K/en.vec.gz \\
      --tgt-vec K/fr.vec.gz --dict K/dict.en-fr.train.tsv --test-dict K/dict.en-fr.test.tsv \\
      --label-column category --id-column index_id --categories data/categories.txt \\
      --src-size 500 --split-seed 0

(K = ../shared/datasets/en-fr; Finnish and Spanish: the options in KITS below), except
that data/ keeps its README.md, this script and the fi/ and es/ folders.
"""

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clime import cli  # noqa: E402
from clime.fileio import load_json  # noqa: E402
from clime.kit import build_kit, kit_names, read_table  # noqa: E402

CATEGORIES = "science/technology,travel,politics,sports,health,entertainment,geography"
SPLIT = {"src_size": 500, "split_seed": 0}
# tgt language -> (kit folder, output folder, target vectors: a file of the kit or "train", build_kit options).
# Size (all of data/ under 35 MB): Finnish vectors only for the documents', the 5,000 most frequent and the
# test dictionary's words (--no-dict-vectors; its dictionary has 18,017 pairs) at 3 significant digits;
# Spanish at 3 digits with the 2,000 most frequent words (its dictionary is small: all of it is kept).
KITS = {
    "fr": ("en-fr", ROOT / "data", "fr.vec.gz", {}),
    "fi": ("en-fi", ROOT / "data" / "fi", "fi.vec.gz", {"digits": 3, "dict_vectors": False}),
    "es": ("en-es-bible", ROOT / "data" / "es", "train", {"digits": 3, "top": 2000}),
}
EN_VEC = "en-fr/en.vec.gz"  # the Spanish kit's English vectors


def train_spanish(kit, tmp, quiet):
    """Spanish vectors from the kit's corpus with train_vectors.py; every word of the
    Spanish documents gets a row (--vocab-from).  Returns (path, stats)."""
    texts = Path(tmp) / "es_documents.txt"
    with open(texts, "w", encoding="utf-8") as fh:
        for split in ("train", "dev", "test"):
            for _, _, text, _ in read_table(kit / f"sib200/es/{split}.tsv", label_col="category",
                                            id_col="index_id"):
                fh.write(text + "\n")
    out, stats = Path(tmp) / "es.vec.gz", Path(tmp) / "es.stats.json"
    cmd = [sys.executable, str(ROOT / "train_vectors.py"), "--lang", "es", "--corpus", str(kit / "corpus.es.txt.gz"),
           "--vocab-from", str(texts), "--out", str(out), "--workers", "1", "--seed", "0", "--stats", str(stats)]
    subprocess.run(cmd + (["-q"] if quiet else []), check=True)
    return out, load_json(stats)


def build(lang, shared, quiet=False):
    folder, out, tgt_vec, opts = KITS[lang]
    kit = shared / folder
    if not kit.is_dir():
        raise SystemExit(f"error: {kit}: the shared {folder} kit is not there")
    sib = kit / "sib200"
    with tempfile.TemporaryDirectory(dir=ROOT / "data") as tmp:
        trained = None
        if tgt_vec == "train":
            tgt_path, trained = train_spanish(kit, tmp, quiet)
            src_vec = shared / EN_VEC
        else:
            tgt_path, src_vec = kit / tgt_vec, kit / "en.vec.gz"
        built = Path(tmp) / "kit"
        summary = build_kit(
            built, "en", lang, [sib / "en/train.tsv", sib / "en/dev.tsv"], [sib / f"{lang}/train.tsv"],
            [sib / f"{lang}/test.tsv"], src_vec, tgt_path, kit / f"dict.en-{lang}.train.tsv",
            tgt_dev=[sib / f"{lang}/dev.tsv"], test_dict=kit / f"dict.en-{lang}.test.tsv", categories=CATEGORIES,
            label_col="category", id_col="index_id", progress=not quiet, **SPLIT, **opts)
        out.mkdir(parents=True, exist_ok=True)
        for name in kit_names("en", lang).values():  # only the kit's files: README.md, fi/ and es/ stay
            target = out / name
            if (built / name).exists():
                shutil.move(str(built / name), str(target))
            elif target.exists():
                target.unlink()  # a file an older build wrote that this one does not
    summary["trained"] = trained
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared/datasets"), help="folder of the shared kits")
    ap.add_argument("--only", choices=sorted(KITS), help="rebuild one example only")
    ap.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    args = ap.parse_args()
    cli.setup_logging(quiet=args.quiet)
    for lang in [args.only] if args.only else ["fr", "fi", "es"]:
        s = build(lang, Path(args.shared), args.quiet)
        c = s["coverage"]
        logging.info("%s: %d en / %d %s words, %d en + %d %s pool + %d dev + %d test documents, seed %d / oracle %d "
                     "/ test %d pairs; word-token coverage en %.1f%%, %s %.1f%%", KITS[lang][1], s["src_words"],
                     s["tgt_words"], lang, s["src_docs"], s["tgt_docs"], lang, s["dev_docs"], s["test_docs"],
                     s["seed_pairs"], s["oracle_pairs"], s["test_pairs"], 100 * c["source_kit"]["words_covered"],
                     lang, 100 * c["target_kit"]["words_covered"])
        if s["trained"]:
            t = s["trained"]
            logging.info("%s vectors: %d tokens, %d words, %d rows from n-grams, trained in %.0f s", lang,
                         t["tokens"], t["vocab"], t["vocab_from_rows"], t["seconds"])


if __name__ == "__main__":
    main()
