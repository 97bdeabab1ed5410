#!/usr/bin/env bash
# The A+C loop on the committed English -> French example, with simulated annotators:
# half the annotator's time on keywords (CLIME), half on labelling target documents (active learning).
#   bash scripts/run_example_ac.sh
# Environment: RUNS (classifier runs per training, default 3), SEED (default 0),
#   KEYWORDS (default 25), DOCS (default 25), STRATEGY (max-entropy | random | diverse).
set -euo pipefail
source "$(dirname "$0")/setup_env.sh"
RUNS="${RUNS:-3}"
SEED="${SEED:-0}"
KEYWORDS="${KEYWORDS:-25}"
DOCS="${DOCS:-25}"
STRATEGY="${STRATEGY:-max-entropy}"
W=work/example_ac
mkdir -p "$W"
py() { "$VPY" "$@"; }
step() { printf '\n=== %s\n' "$*" >&2; }

step "1. binarize the example vectors"
py binarize.py data/eng.vec.gz embeds/en
py binarize.py data/fra.vec.gz embeds/fr

step "2. train the CNN on English labels ($RUNS runs; model selection on the French dev split)"
py train.py --src-emb embeds/en --tgt-emb embeds/fr --train data/en.json --test data/fr.json --dev data/fr_dev.json \
    --runs "$RUNS" --seed "$SEED" --output "$W/model.pt" --results "$W/results_before.json"

step "3. keywords for the keyword pages ($KEYWORDS)"
py rank_words.py "$W/model.pt" --train data/en.json --aggregate mean --min-df 3 --output "$W/word_rank.txt"
py preprocess_ui.py --src-emb embeds/en --tgt-emb embeds/fr -k 5 --task example_ac \
    --rank "$W/word_rank.txt" --max "$KEYWORDS" --src-doc data/en.json --tgt-doc data/fr_unlabeled.json \
    --src-lang ENGLISH --tgt-lang FRENCH --categories data/categories.txt

step "4. documents for the document page ($DOCS, $STRATEGY; never the test or dev documents)"
py select_docs.py --model "$W/model.pt" --tgt-emb embeds/fr --docs data/fr_unlabeled.json --task example_ac \
    --n "$DOCS" --strategy "$STRATEGY" --seed "$SEED" --categories data/categories.txt \
    --exclude data/fr.json --exclude data/fr_dev.json

step "5. simulated annotators (the web app: bash run_ui.sh example_ac)"
py simulate.py --task example_ac --oracle dict --dict data/dict.oracle.tsv --seed "$SEED" \
    --out "$W/feedback.csv"
py simulate.py --task example_ac --oracle doc --docs-tgt data/fr_labeled.json --seed "$SEED" \
    --out "$W/documents.jsonl"

step "6. refine the embeddings from the keyword feedback, retrain with the labelled documents"
py update.py --feedback "$W/feedback.csv" --src-emb embeds/en --tgt-emb embeds/fr \
    --out-src "$W/en_new" --out-tgt "$W/fr_new" --seed-dict data/dict.seed.tsv --seed "$SEED"
py train.py --src-emb "$W/en_new" --tgt-emb "$W/fr_new" --train data/en.json --test data/fr.json --dev data/fr_dev.json \
    --tgt-train "$W/documents.jsonl" --runs "$RUNS" --seed "$SEED" --results "$W/results_ac.json"

step "summary (French test set)"
py - "$W" <<'PY'
import json, sys
w = sys.argv[1]
print(f"{'':22}{'accuracy %':>16}{'macro-F1 %':>16}")
for name, f in (("before", "results_before.json"), ("after A+C", "results_ac.json")):
    r = json.load(open(f"{w}/{f}"))
    print(f"{name:22}{100*r['accuracy_mean']:>9.1f} ± {100*r['accuracy_std']:<4.1f}"
          f"{100*r['macro_f1_mean']:>9.1f} ± {100*r['macro_f1_std']:<4.1f}")
PY
