#!/bin/bash
# rce/gateway entrypoint: nginx in the foreground as PID 1, plus a watcher that
# reloads nginx when a host name it resolved at start-up moves.
#
# nginx resolves names once, when it reads its configuration: `rce_redis
# redis:6379` (ngx_rce_module resolves at config time because hiredis would
# resolve with a blocking call inside nginx's event loop) and `server NAME:PORT`
# in upstream blocks (conf/front.conf).  When the container behind such a name
# is recreated it may get another IP; the watcher re-resolves every
# RCE_WATCH_INTERVAL seconds and runs `nginx -s reload`, which re-reads the
# configuration (new workers connect to the new address; old ones finish their
# requests).
#
# Environment:
#   RCE_NGINX_CONF       configuration file          (/etc/nginx/nginx.conf)
#   RCE_RESOLVE_WAIT     seconds to wait at start for the names to resolve (60)
#   RCE_WATCH_INTERVAL   seconds between checks; 0 = no watcher (5)
#   RCE_WATCH_HOSTS      extra names to watch, space-separated
set -euo pipefail

CONF=${RCE_NGINX_CONF:-/etc/nginx/nginx.conf}
WAIT=${RCE_RESOLVE_WAIT:-60}
INTERVAL=${RCE_WATCH_INTERVAL:-5}

log() { printf 'rce-gateway: %s\n' "$*" >&2; }

[[ -r $CONF ]] || { log "no configuration at ${CONF} (RCE_NGINX_CONF)"; exit 1; }

# The names nginx resolves at start: rce_redis HOST:PORT and upstream
# `server HOST:PORT` lines (not unix: paths, not `server {` blocks).
config_hosts() {
    sed -n -e 's/^[[:space:]]*rce_redis[[:space:]]\{1,\}\([^;[:space:]]*\).*/\1/p' \
           -e 's/^[[:space:]]*server[[:space:]]\{1,\}\([A-Za-z0-9._-]\{1,\}:[0-9]\{1,\}\)[[:space:];].*/\1/p' "$CONF" \
        | grep -v '^unix:' | sed 's/:[0-9]*$//' | sort -u
}

mapfile -t HOSTS < <(config_hosts; for h in ${RCE_WATCH_HOSTS:-}; do printf '%s\n' "$h"; done)

# "name=address ..." for every host; fails if one does not resolve.
resolve_all() {
    local h a out=
    for h in "${HOSTS[@]}"; do
        [[ -n $h ]] || continue
        a=$(getent ahosts "$h" | awk 'NR == 1 { print $1 }') || true
        [[ -n $a ]] || return 1
        out+="$h=$a "
    done
    printf '%s\n' "$out"
}

addrs=
if (( ${#HOSTS[@]} )); then
    for (( i = 0; ; i++ )); do
        if addrs=$(resolve_all); then break; fi
        if (( i >= WAIT )); then
            log "these names do not resolve after ${WAIT} s: ${HOSTS[*]}; is the service behind them running on this network?"
            exit 1
        fi
        (( i % 10 )) || log "waiting for ${HOSTS[*]} to resolve"
        sleep 1
    done
    log "resolved: ${addrs}"
fi

if (( ${#HOSTS[@]} )) && [[ $INTERVAL != 0 ]]; then
    # A child of nginx after the exec below; it ends with the container.
    (
        trap - ERR
        set +e
        while sleep "$INTERVAL"; do
            now=$(resolve_all) || continue      # a name gone for now: keep what runs
            [[ $now == "$addrs" ]] && continue
            log "addresses changed (${addrs}-> ${now}): nginx -s reload"
            if nginx -c "$CONF" -s reload; then addrs=$now; fi
        done
    ) &
fi

exec nginx -c "$CONF" -g 'daemon off;'
