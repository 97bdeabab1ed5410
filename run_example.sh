#!/usr/bin/env bash
# The whole CLIME pipeline on the committed English -> French example.
#   bash run_example.sh                 everything, ending with a three-row table: the shipped 200-pair
#                                       Procrustes space, + self-learning, + CLIME feedback on top of it
#   bash run_example.sh --prepare-ui    only what the annotation app needs (ui_data/example)
# Environment: RUNS (classifier runs per training, default 3), SEED (default 0).
set -euo pipefail
source "$(dirname "$0")/scripts/setup_env.sh"
PREPARE_ONLY=0
[ "${1:-}" = "--prepare-ui" ] && PREPARE_ONLY=1
RUNS="${RUNS:-3}"
SEED="${SEED:-0}"
W=work/example
mkdir -p "$W"
py() { "$VPY" "$@"; }
# each step says when it starts and how long the previous one took; a heartbeat line every 30 s
# while a step runs, so a log file (no progress bars there) never goes quiet for long
T0=$SECONDS
STEP_T=
echo "starting" > "$W/.step"
step() {
    if [ -n "$STEP_T" ]; then printf '    (%d s)\n' "$((SECONDS - STEP_T))" >&2; fi
    STEP_T=$SECONDS
    printf '\n=== %s   [%d s so far]\n' "$*" "$((SECONDS - T0))" >&2
    printf '%s\n' "$*" > "$W/.step"
}
( t=0; while sleep 30; do t=$((t + 30)); printf '    ... %d s since the start, running: %s\n' "$t" "$(cut -c1-60 "$W/.step" 2>/dev/null)" >&2; done ) &
HEARTBEAT=$!
trap 'kill "$HEARTBEAT" 2>/dev/null || true; rm -f "$W/.step"' EXIT

step "1. binarize the example vectors"
py binarize.py data/eng.vec.gz embeds/en
py binarize.py data/fra.vec.gz embeds/fr

if [ "$PREPARE_ONLY" = 0 ]; then
    step "1b. word translation of the shipped space (Procrustes on the 200 seed pairs)"
    py align.py --src-emb embeds/en --tgt-emb embeds/fr --dict data/dict.seed.tsv --refine 0 \
        --eval-dict data/dict.test.tsv --out-src "$W/en_al" --out-tgt "$W/fr_al" --results "$W/align.json"
fi

step "1c. self-learning from the same 200 seed pairs (automatic, no annotator): embeds/en_sl, embeds/fr_sl"
py align.py --src-emb embeds/en --tgt-emb embeds/fr --dict data/dict.seed.tsv \
    --eval-dict data/dict.test.tsv --out-src embeds/en_sl --out-tgt embeds/fr_sl --results "$W/align_selflearn.json"

if [ "$PREPARE_ONLY" = 0 ]; then
    step "2a. train the CNN on English labels, test on French, in the shipped space ($RUNS runs)"
    py train.py --src-emb embeds/en --tgt-emb embeds/fr --train data/en.json --test data/fr.json \
        --type cnn --runs "$RUNS" --seed "$SEED" --results "$W/results_before.json"
fi

step "2b. the same in the self-learned space, where the feedback starts ($RUNS runs)"
py train.py --src-emb embeds/en_sl --tgt-emb embeds/fr_sl --train data/en.json --test data/fr.json \
    --type cnn --runs "$RUNS" --seed "$SEED" \
    --output "$W/model.pt" --results "$W/results_selflearn.json"

step "3. rank the keywords"
py rank_words.py "$W/model.pt" --train data/en.json --aggregate mean --min-df 3 --output "$W/word_rank.txt"
head -n 10 "$W/word_rank.txt" >&2

step "4. prepare the annotation task 'example'"
py preprocess_ui.py --src-emb embeds/en_sl --tgt-emb embeds/fr_sl -k 5 --task example \
    --rank "$W/word_rank.txt" --max 50 --src-doc data/en.json --tgt-doc data/fr_unlabeled.json \
    --src-lang ENGLISH --tgt-lang FRENCH --categories data/categories.txt
if [ "$PREPARE_ONLY" = 1 ]; then
    echo "prepared ui_data/example (start the app with: bash run_ui.sh example)" >&2
    exit 0
fi

step "5. a simulated annotator judges the 50 keywords (the web app: bash run_ui.sh)"
py simulate.py --task example --oracle dict --dict data/dict.oracle.tsv --seed "$SEED" \
    --out feedbacks/example_sim_dict.csv

step "6. refine the self-learned embeddings from the feedback (feedback-seeded self-learning + local objective) and retrain"
py update.py --feedback feedbacks/example_sim_dict.csv --src-emb embeds/en_sl --tgt-emb embeds/fr_sl \
    --out-src embeds/en_new --out-tgt embeds/fr_new --seed-dict data/dict.seed.tsv --seed "$SEED"
py train.py --src-emb embeds/en_new --tgt-emb embeds/fr_new --train data/en.json --test data/fr.json \
    --type cnn --runs "$RUNS" --seed "$SEED" --results "$W/results_after.json"

py align.py --src-emb embeds/en_new --tgt-emb embeds/fr_new --eval-dict data/dict.test.tsv --eval-only \
    --results "$W/align_after.json"

step "summary (French test set; word translation on data/dict.test.tsv)"
py - "$W" <<'PY'
import json, sys
w = sys.argv[1]
def load(name):
    with open(f"{w}/{name}") as fh:
        return json.load(fh)
rows = (("200-pair Procrustes", load("results_before.json"), load("align.json")),
        ("+ self-learning", load("results_selflearn.json"), load("align_selflearn.json")),
        ("+ CLIME feedback", load("results_after.json"), load("align_after.json")))
print(f"{'':24}{'accuracy %':>16}{'macro-F1 %':>16}{'P@1 NN %':>10}{'P@1 CSLS %':>12}")
for name, r, a in rows:
    print(f"{name:24}{100*r['accuracy_mean']:>9.1f} ± {100*r['accuracy_std']:<4.1f}"
          f"{100*r['macro_f1_mean']:>9.1f} ± {100*r['macro_f1_std']:<4.1f}"
          f"{100*a['p1_nn']:>10.1f}{100*a['p1_csls']:>12.1f}")
sl, fb = load("results_selflearn.json"), load("results_after.json")
print(f"the annotator adds {100 * (fb['accuracy_mean'] - sl['accuracy_mean']):+.1f} points of accuracy "
      "beyond the automatic self-learning")
PY
printf '    (%d s)\n\nrun_example.sh: %d s in all\n' "$((SECONDS - STEP_T))" "$((SECONDS - T0))" >&2
cat >&2 <<MSG

Outputs:
  embeddings           embeds/en, embeds/fr (self-learned: embeds/en_sl, embeds/fr_sl; refined: embeds/en_new, embeds/fr_new)
  alignment check      $W/align.json, $W/align_selflearn.json, $W/align_after.json
  classifier, results  $W/model.pt, $W/results_before.json, $W/results_selflearn.json, $W/results_after.json
  keywords             $W/word_rank.txt
  annotation task      ui_data/example/   (annotate it yourself: bash run_ui.sh example)
  simulated feedback   feedbacks/example_sim_dict.csv
MSG
