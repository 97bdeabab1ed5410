# Sourced by .ci/run (and usable by hand): starts a throw-away PostgreSQL cluster in a temp
# folder and exports CLIME_TEST_DB_URL; `pg_throwaway_stop` stops it and deletes the folder.
# Installs Debian's postgresql when no PostgreSQL binaries are found (needs root and apt).
# Runs the server as the `postgres` user when started as root (PostgreSQL refuses root).
pg_throwaway_start() {
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "ci: installing postgresql" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
        bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    fi
    PG_DIR="$(mktemp -d /tmp/clime-pg.XXXXXX)"
    PG_PORT="${CLIME_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
    PG_AS=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$PG_DIR"
        PG_AS=(runuser -u postgres --)
    fi
    PG_BIN="$bin"
    "${PG_AS[@]}" "$bin/initdb" -D "$PG_DIR/data" -A trust -U postgres >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    "${PG_AS[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -o "-k $PG_DIR -p $PG_PORT -h 127.0.0.1 -c fsync=off" \
        -l "$PG_DIR/log" -w start >/dev/null || { cat "$PG_DIR/log" >&2; return 1; }
    export CLIME_TEST_DB_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
    echo "ci: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT ($PG_DIR)" >&2
}

pg_throwaway_stop() {
    if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}
