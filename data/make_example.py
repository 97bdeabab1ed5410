#!/usr/bin/env python3
"""Rebuild the committed examples with the converter (clime.kit, as make_kit.py):
data/ (English -> French) from ../shared/datasets/en-fr/ and data/fi/ (English ->
Finnish) from ../shared/datasets/en-fi/.

Maintainers only (users never run it): it needs the shared kits beside the
repository.  Deterministic: a rerun writes the same bytes.  The same as

  python make_kit.py --out data --src-lang en --tgt-lang fr \\
      --src-train K/sib200/en/train.tsv K/sib200/en/dev.tsv \\
      --tgt-train K/sib200/fr/train.tsv K/sib200/fr/dev.tsv --tgt-dev K/sib200/fr/dev.tsv \\
      --tgt-test K/sib200/fr/test.tsv --src-vec K/en.vec.gz --tgt-vec K/fr.vec.gz \\
      --dict K/dict.en-fr.train.tsv --test-dict K/dict.en-fr.test.tsv \\
      --label-column category --id-column index_id --categories data/categories.txt

(with K = ../shared/datasets/en-fr; for Finnish the en-fi kit, fi, --out data/fi and
--no-dict-vectors --digits 3),
except that data/ keeps its README.md, this script and the fi/ folder.
"""

import argparse
import logging
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clime import cli  # noqa: E402
from clime.kit import build_kit, kit_names  # noqa: E402

CATEGORIES = "science/technology,travel,politics,sports,health,entertainment,geography"
# tgt language -> (kit folder, output folder, options)
KITS = {
    "fr": ("en-fr", ROOT / "data", {}),
    # Finnish: a 50,000-word vocabulary and 18,017 dictionary pairs; vectors only for the
    # documents', the 5,000 most frequent and the test dictionary's words, at 3 significant
    # digits, keep the committed files small (make_kit.py --no-dict-vectors --digits 3)
    "fi": ("en-fi", ROOT / "data" / "fi", {"digits": 3, "dict_vectors": False}),
}


def build(lang, shared):
    folder, out, opts = KITS[lang]
    kit = shared / folder
    if not kit.is_dir():
        raise SystemExit(f"error: {kit}: the shared {folder} kit is not there")
    sib = kit / "sib200"
    with tempfile.TemporaryDirectory(dir=ROOT / "data") as tmp:
        built = Path(tmp) / "kit"
        summary = build_kit(
            built, "en", lang, [sib / "en/train.tsv", sib / "en/dev.tsv"],
            [sib / f"{lang}/train.tsv", sib / f"{lang}/dev.tsv"], [sib / f"{lang}/test.tsv"],
            kit / "en.vec.gz", kit / f"{lang}.vec.gz", kit / f"dict.en-{lang}.train.tsv",
            tgt_dev=[sib / f"{lang}/dev.tsv"], test_dict=kit / f"dict.en-{lang}.test.tsv", categories=CATEGORIES,
            label_col="category", id_col="index_id", **opts)
        out.mkdir(parents=True, exist_ok=True)
        for name in kit_names("en", lang).values():  # only the kit's files: README.md and fi/ stay
            shutil.move(str(built / name), str(out / name))
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared/datasets"), help="folder of the shared kits")
    ap.add_argument("--only", choices=sorted(KITS), help="rebuild one example only")
    args = ap.parse_args()
    cli.setup_logging()
    for lang in [args.only] if args.only else sorted(KITS, reverse=True):
        s = build(lang, Path(args.shared))
        c = s["coverage"]
        logging.info("%s: %d en / %d %s words, %d+%d+%d documents, seed %d / oracle %d / test %d pairs; word-token "
                     "coverage en %.1f%%, %s %.1f%%", KITS[lang][1], s["src_words"], s["tgt_words"], lang,
                     s["src_docs"], s["tgt_docs"], s["test_docs"], s["seed_pairs"], s["oracle_pairs"],
                     s["test_pairs"], 100 * c["source_kit"]["words_covered"], lang,
                     100 * c["target_kit"]["words_covered"])


if __name__ == "__main__":
    main()
