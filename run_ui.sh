#!/usr/bin/env bash
# Start the CLIME annotation app for one task:  bash run_ui.sh [task] [port] [app.py options]
#   task  a folder of ui_data/ (default: example; prepared with run_example.sh --prepare-ui if missing)
#   port  default 5000.  The app listens on 127.0.0.1 only; open the printed URL.
#   app.py options, e.g. --team (invitation links, see docs/app.md), --threads 8, --timeout 30.
# The server is waitress (app.py): a bounded thread pool and an idle timeout, never a development server.
# Environment: CLIME_DATABASE_URL (default sqlite file instance/clime.db), CLIME_USER (user id shown in the URL).
set -euo pipefail
TASK="${1:-example}"
PORT="${2:-5000}"
shift $(( $# < 2 ? $# : 2 ))
if ! [[ "$TASK" =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
    echo "error: task name '$TASK': letters, digits, '-' and '_' only" >&2; exit 2
fi
if ! [[ "$PORT" =~ ^[0-9]{1,5}$ ]]; then
    echo "error: port '$PORT' is not a number" >&2; exit 2
fi
source "$(dirname "$0")/scripts/setup_env.sh"
if [ ! -f "ui_data/$TASK/setup.json" ]; then
    if [ "$TASK" = "example" ]; then
        echo "run_ui: first start: ui_data/example is missing, so it is prepared now (once): binarize the" >&2
        echo "run_ui: example vectors, train the CNN, rank the keywords, find neighbours and contexts." >&2
        echo "run_ui: This takes a few minutes on a 2-core CPU; the app starts when it is done." >&2
        bash run_example.sh --prepare-ui
    else
        echo "error: ui_data/$TASK/setup.json not found: run preprocess_ui.py --task $TASK first" >&2
        exit 2
    fi
fi
echo
if [[ " $* " == *" --team "* ]]; then
    echo "  Team mode: each annotator opens their own link, made with"
    echo
    echo "      .venv/bin/python app.py invite --task $TASK --user <id> --url http://127.0.0.1:$PORT"
else
    echo "  Open this address in your browser (replace '${CLIME_USER:-alice}' by your own user id):"
    echo
    echo "      http://127.0.0.1:$PORT/$TASK/${CLIME_USER:-alice}"
fi
echo
echo "  Stop the app with Ctrl-C. Feedback files are written to feedbacks/$TASK/<user>.csv on Finish."
echo
exec "$VPY" app.py --host 127.0.0.1 --port "$PORT" --ui-data ui_data "$@"
