#!/usr/bin/env bash
# A throw-away PostgreSQL cluster in a temp folder, for the tests (.ci/run) and the benchmark.
#   scripts/pg_throwaway.sh start    prints "URL DIR": a SQLAlchemy URL and the cluster's folder
#   scripts/pg_throwaway.sh stop DIR stops that cluster and deletes the folder
# Installs Debian's postgresql when no PostgreSQL binaries are found (needs root and apt).
# Started as root, the server runs as the `postgres` user (PostgreSQL refuses root).
set -euo pipefail

pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    bin="$(pg_bin)"
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "pg_throwaway: installing postgresql" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 && apt-get install -y -qq postgresql >/dev/null
        bin="$(pg_bin)"
    fi
    dir="$(mktemp -d /tmp/clime-pg.XXXXXX)"
    port="${CLIME_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # fsync off: a throw-away cluster; durability against kill -9 of the *app* does not depend on it
    as_owner "$bin/pg_ctl" -D "$dir/data" -o "-k $dir -p $port -h 127.0.0.1 -c fsync=off" \
        -l "$dir/log" -w start >/dev/null || { cat "$dir/log" >&2; exit 1; }
    echo "pg_throwaway: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)" >&2
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres $dir"
    ;;
stop)
    dir="${2:?usage: pg_throwaway.sh stop DIR}"
    case "$dir" in /tmp/clime-pg.*) ;; *) echo "pg_throwaway: not a throw-away cluster: $dir" >&2; exit 2 ;; esac
    if [ -d "$dir/data" ]; then
        as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
