#!/usr/bin/env bash
# The whole CLIME pipeline on a committed example, ending with a four-row table: the 200-pair Procrustes
# space, + self-learning, + self-training (both automatic, no annotator), + CLIME feedback on top of
# self-learning.
#   bash run_example.sh                 English -> French (data/)
#   bash run_example.sh --kit fi        English -> Finnish (data/fi/)
#   bash run_example.sh --kit es        English -> Spanish, the low-resource kit (data/es/: Spanish vectors
#                                       trained by train_vectors.py on a 0.85 M-token corpus)
#   bash run_example.sh --prepare-ui    only what the annotation app needs (ui_data/example)
# Environment: RUNS (classifier runs per training, default 3), SEED (default 0).
set -euo pipefail
source "$(dirname "$0")/scripts/setup_env.sh"
PREPARE_ONLY=0
KIT=fr
while [ $# -gt 0 ]; do
    case "$1" in
        --prepare-ui) PREPARE_ONLY=1 ;;
        --kit) KIT="${2:-}"; shift ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_example.sh: error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$KIT" in
    fr) D=data; T=fr; TVEC=fra; LANG_NAME=FRENCH; TASK=example; E=embeds ;;
    fi) D=data/fi; T=fi; TVEC=fin; LANG_NAME=FINNISH; TASK=example_fi; E=embeds/fi ;;
    es) D=data/es; T=es; TVEC=spa; LANG_NAME=SPANISH; TASK=example_es; E=embeds/es ;;
    *) echo "run_example.sh: error: --kit must be fr, fi or es, not '$KIT'" >&2; exit 2 ;;
esac
RUNS="${RUNS:-3}"
SEED="${SEED:-0}"
W=work/$TASK
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

step "1. binarize the example vectors ($D)"
py binarize.py "$D/eng.vec.gz" "$E/en"
py binarize.py "$D/$TVEC.vec.gz" "$E/$T"
SPLITS=(--train "$D/en.json" --test "$D/$T.json" --dev "$D/${T}_dev.json" --type cnn --runs "$RUNS" --seed "$SEED")

if [ "$PREPARE_ONLY" = 0 ]; then
    step "1b. plain Procrustes on the 200 seed pairs (the rough start): $W/en_al, $W/${T}_al"
    py align.py --src-emb "$E/en" --tgt-emb "$E/$T" --dict "$D/dict.seed.tsv" --refine 0 \
        --eval-dict "$D/dict.test.tsv" --out-src "$W/en_al" --out-tgt "$W/${T}_al" --results "$W/align.json"
fi

step "1c. self-learning from the same 200 seed pairs (automatic, no annotator): $E/en_sl, $E/${T}_sl"
py align.py --src-emb "$E/en" --tgt-emb "$E/$T" --dict "$D/dict.seed.tsv" \
    --eval-dict "$D/dict.test.tsv" --out-src "$E/en_sl" --out-tgt "$E/${T}_sl" --results "$W/align_selflearn.json"

if [ "$PREPARE_ONLY" = 0 ]; then
    step "2a. train the CNN on English labels, test on the target language, in the Procrustes space ($RUNS runs)"
    py train.py --src-emb "$W/en_al" --tgt-emb "$W/${T}_al" "${SPLITS[@]}" --results "$W/results_before.json"
fi

step "2b. the same in the self-learned space, where the feedback starts ($RUNS runs)"
py train.py --src-emb "$E/en_sl" --tgt-emb "$E/${T}_sl" "${SPLITS[@]}" \
    --output "$W/model.pt" --results "$W/results_selflearn.json"

if [ "$PREPARE_ONLY" = 0 ]; then
    step "2c. + self-training on the unlabelled target pool (automatic, no annotator; $RUNS runs)"
    py train.py --src-emb "$E/en_sl" --tgt-emb "$E/${T}_sl" "${SPLITS[@]}" \
        --self-train "$D/${T}_unlabeled.json" --results "$W/results_selftrain.json"
fi

step "3. rank the keywords"
py rank_words.py "$W/model.pt" --train "$D/en.json" --aggregate mean --min-df 3 --output "$W/word_rank.txt"
head -n 10 "$W/word_rank.txt" >&2

step "4. prepare the annotation task '$TASK'"
py preprocess_ui.py --src-emb "$E/en_sl" --tgt-emb "$E/${T}_sl" -k 5 --task "$TASK" \
    --rank "$W/word_rank.txt" --max 50 --src-doc "$D/en.json" --tgt-doc "$D/${T}_unlabeled.json" \
    --src-lang ENGLISH --tgt-lang "$LANG_NAME" --categories "$D/categories.txt"
if [ "$PREPARE_ONLY" = 1 ]; then
    echo "prepared ui_data/$TASK (start the app with: bash run_ui.sh $TASK)" >&2
    exit 0
fi

step "5. a simulated annotator judges the 50 keywords (the web app: bash run_ui.sh)"
py simulate.py --task "$TASK" --oracle dict --dict "$D/dict.oracle.tsv" --seed "$SEED" \
    --out "feedbacks/${TASK}_sim_dict.csv"

step "6. refine the self-learned embeddings from the feedback (self-learning re-seeded with the accepted pairs) and retrain"
py update.py --feedback "feedbacks/${TASK}_sim_dict.csv" --src-emb "$E/en_sl" --tgt-emb "$E/${T}_sl" \
    --out-src "$E/en_new" --out-tgt "$E/${T}_new" --seed-dict "$D/dict.seed.tsv" --seed "$SEED"
py train.py --src-emb "$E/en_new" --tgt-emb "$E/${T}_new" "${SPLITS[@]}" --results "$W/results_after.json"

py align.py --src-emb "$E/en_new" --tgt-emb "$E/${T}_new" --eval-dict "$D/dict.test.tsv" --eval-only \
    --results "$W/align_after.json"

step "summary ($LANG_NAME test set $D/$T.json; word translation on $D/dict.test.tsv)"
py - "$W" <<'PY'
import json, sys
w = sys.argv[1]
def load(name):
    with open(f"{w}/{name}") as fh:
        return json.load(fh)
rows = (("200-pair Procrustes", load("results_before.json"), load("align.json")),
        ("+ self-learning", load("results_selflearn.json"), load("align_selflearn.json")),
        ("+ self-training", load("results_selftrain.json"), load("align_selflearn.json")),
        ("+ CLIME feedback", load("results_after.json"), load("align_after.json")))
print(f"{'':24}{'accuracy %':>16}{'macro-F1 %':>16}{'P@1 NN %':>10}{'P@1 CSLS %':>12}")
for name, r, a in rows:
    print(f"{name:24}{100*r['accuracy_mean']:>9.1f} ± {100*r['accuracy_std']:<4.1f}"
          f"{100*r['macro_f1_mean']:>9.1f} ± {100*r['macro_f1_std']:<4.1f}"
          f"{100*a['p1_nn']:>10.1f}{100*a['p1_csls']:>12.1f}")
sl, st, fb = load("results_selflearn.json"), load("results_selftrain.json"), load("results_after.json")
print(f"the annotator adds {100 * (fb['accuracy_mean'] - sl['accuracy_mean']):+.1f} points of accuracy "
      f"beyond the automatic self-learning ({100 * (fb['accuracy_mean'] - st['accuracy_mean']):+.1f} against "
      "self-learning + self-training)")
PY
printf '    (%d s)\n\nrun_example.sh: %d s in all\n' "$((SECONDS - STEP_T))" "$((SECONDS - T0))" >&2
cat >&2 <<MSG

Outputs:
  embeddings           $E/en, $E/$T (Procrustes: $W/en_al, $W/${T}_al; self-learned: $E/en_sl, $E/${T}_sl;
                       refined: $E/en_new, $E/${T}_new)
  alignment check      $W/align.json, $W/align_selflearn.json, $W/align_after.json
  classifier, results  $W/model.pt, $W/results_before.json, $W/results_selflearn.json, $W/results_selftrain.json,
                       $W/results_after.json
  keywords             $W/word_rank.txt
  annotation task      ui_data/$TASK/   (annotate it yourself: bash run_ui.sh $TASK)
  simulated feedback   feedbacks/${TASK}_sim_dict.csv
MSG
