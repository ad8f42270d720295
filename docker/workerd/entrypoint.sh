#!/bin/sh
# rce/workerd entrypoint: choose the node name, check the Docker socket, then
# exec workerd as PID 1 (it takes SIGTERM itself: drain, deregister, exit).
# Arguments are passed to workerd (see `workerd --help`; every flag also has an
# environment variable, e.g. RCE_REDIS, RCE_SLOTS).
#
# Node name, in order:
#   RCE_NODE          if set;
#   RCE_SWARM_NODE    docker-compose.yml sets it to "{{.Node.Hostname}}", which
#                     Swarm replaces by the host's name (one workerd per host:
#                     a replacement task keeps the name, so it requeues the
#                     jobs its predecessor left running).  docker-compose
#                     passes the text unreplaced: then it is ignored;
#   the container's hostname (its short id; a new container is a new node).
#
#   rce-workerd --node-name   prints the name that would be used
set -eu

node_name() {
    if [ -n "${RCE_NODE:-}" ]; then
        printf '%s\n' "$RCE_NODE"
        return
    fi
    case ${RCE_SWARM_NODE:-} in
        ''|*'{{'*) uname -n ;;
        *) printf '%s\n' "$RCE_SWARM_NODE" | tr -c 'A-Za-z0-9._\n-' '-' ;;
    esac
}

if [ "${1:-}" = --node-name ]; then
    node_name
    exit 0
fi

RCE_NODE=$(node_name)
export RCE_NODE

sock=${RCE_DOCKER_SOCKET:-/var/run/docker.sock}
if [ ! -S "$sock" ]; then
    echo "rce-workerd: no Docker socket at ${sock}: mount the host's (-v /var/run/docker.sock:/var/run/docker.sock)" >&2
    exit 1
fi

exec workerd "$@"
