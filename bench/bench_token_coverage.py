#!/usr/bin/env python3
"""Token coverage of SIB-200 (train + dev + test) by the shared kits' word vectors: the share of
word tokens that have a vector, with the previous single-regex tokenizer, with clime.text.tokenize's
language rules, and with the rules plus make_kit's apostrophe aliases (docs/make_kit.md).

  python bench/bench_token_coverage.py [--shared ../shared/datasets]
"""
import argparse
import csv
import gzip
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clime.kit import apostrophe_aliases, coverage  # noqa: E402
from clime.text import tokenize  # noqa: E402

# the tokenizer before the language rules (git 9d70c02), for the "before" column
OLD = re.compile(r"[^\W_]+(?:['’](?=[^\W\d_]))?|[^\w\s]|_+", re.UNICODE)


def old_tokenize(text):
    return [t.replace("’", "'") for t in OLD.findall(text.lower())]


def vocabulary(path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        next(fh)
        return {line.split(" ", 1)[0] for line in fh}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared/datasets"))
    args = ap.parse_args()
    print("| language | before | after (rules) | after (rules + apostrophe aliases) |")
    print("| --- | --- | --- | --- |")
    for kit, lang in (("en-fr", "en"), ("en-fr", "fr"), ("en-fi", "fi")):
        vocab = vocabulary(Path(args.shared) / kit / f"{lang}.vec.gz")
        texts = []
        for split in ("train", "dev", "test"):
            with open(Path(args.shared) / kit / "sib200" / lang / f"{split}.tsv", encoding="utf-8", newline="") as fh:
                texts += [r["text"] for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
        before = coverage([{"text": old_tokenize(t)} for t in texts], vocab)
        docs = [{"text": tokenize(t, lang=lang)} for t in texts]
        after = coverage(docs, vocab)
        aliases = apostrophe_aliases({t for d in docs for t in d["text"]}, vocab)
        aliased = coverage(docs, vocab | set(aliases))
        print(f"| {lang} | {100 * before['words_covered']:.1f} % | {100 * after['words_covered']:.1f} % "
              f"| {100 * aliased['words_covered']:.1f} % |")


if __name__ == "__main__":
    main()
