#!/bin/sh
# Checks that each Lua script named parses: with luac5.1 -p (Redis runs Lua 5.1) when it is
# installed, else by SCRIPT LOAD into a throwaway redis-server listening on a unix socket only.
set -eu
if command -v luac5.1 >/dev/null 2>&1; then
    for f in "$@"; do luac5.1 -p "$f"; done
    echo "lua: $# scripts parse (luac5.1 -p)"
    exit 0
fi
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "lua: cannot check the scripts: install lua5.1 (luac5.1) or redis-server and redis-cli" >&2
    exit 1
fi
dir=$(mktemp -d)
trap 'redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
redis-server --port 0 --unixsocket "$dir/redis.sock" --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
i=0
until redis-cli -s "$dir/redis.sock" ping >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "lua: the throwaway redis-server did not start" >&2; exit 1; }
    sleep 0.05
done
for f in "$@"; do
    sha=$(redis-cli -s "$dir/redis.sock" -x script load <"$f")
    case $sha in
    *[!0-9a-f]* | "") echo "lua: $f: $sha" >&2; exit 1 ;;
    esac
done
echo "lua: $# scripts load (redis SCRIPT LOAD)"
