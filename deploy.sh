#!/usr/bin/env bash
# rce: build, test and (later) deploy.  Run './deploy.sh help' for the list.
#
#   ./deploy.sh test [prove args]   install what is missing, build everything, run the tests
#   ./deploy.sh build               build the nginx module (build/nginx/objs/ngx_rce_module.so)
#
# Environment (all optional):
#   RCE_SANITIZE=1     test with workerd built by 'make -C workerd asan' (workerd/workerd-asan)
#   RCE_BUILD_DIR      where the module is built                (build/nginx)
#   RCE_MODULE_DIR     the addon directory given to nginx's configure (the repo root)
#   RCE_NGX_CC_OPT     extra compiler flags for the module (--with-cc-opt)
#   RCE_NGINX_SRC      nginx source to build against         (/usr/share/nginx/src)
#   RCE_DOCKERD_LOG    log of a dockerd started by this script (/var/log/dockerd.log)
set -euo pipefail

# dockerd and debootstrap live in sbin, which a non-login PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin ;; esac

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_ROOT=${RCE_BUILD_DIR:-$REPO/build/nginx}
MODULE_DIR=${RCE_MODULE_DIR:-$REPO}
NGINX_SRC=${RCE_NGINX_SRC:-/usr/share/nginx/src}
DOCKERD_LOG=${RCE_DOCKERD_LOG:-/var/log/dockerd.log}

# What the build and the tests need, from Debian 12.
PACKAGES=(build-essential nginx nginx-dev libhiredis-dev libjansson-dev libcurl4-openssl-dev
          redis-server docker.io debootstrap perl)

# --- output and timing ------------------------------------------------------

say()  { printf '[deploy] %s\n' "$*"; }
warn() { printf '[deploy] WARNING: %s\n' "$*" >&2; }
die()  { printf '[deploy] ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
took() { # took START_MS -> "1.23 s"
    local ms=$(( $(now_ms) - $1 ))
    printf '%d.%02d s' $(( ms / 1000 )) $(( ms % 1000 / 10 ))
}

STEP_NAME=
STEP_T0=
TIMINGS=()
step() { # step NAME: start a timed step (ends the previous one)
    step_end
    STEP_NAME=$1
    STEP_T0=$(now_ms)
    say "==> ${STEP_NAME}"
}
step_end() {
    [[ -n $STEP_NAME ]] || return 0
    local t; t=$(took "$STEP_T0")
    TIMINGS+=("$(printf '%-34s %s' "$STEP_NAME" "$t")")
    say "<== ${STEP_NAME} ($t)"
    STEP_NAME=
}
print_timings() {
    local line
    say "timings:"
    for line in "${TIMINGS[@]}"; do say "  $line"; done
}

# --- packages ---------------------------------------------------------------

is_installed() {
    [[ $(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

APT_UPDATED=0
# ensure_packages PKG...: install the missing ones (as root), apt-get update at
# most once per run; without root, say what to install and fail.
ensure_packages() {
    local missing=() p
    command -v dpkg-query >/dev/null 2>&1 \
        || die "not a Debian system (no dpkg-query): install by hand the equivalents of: $*"
    for p in "$@"; do
        is_installed "$p" || missing+=("$p")
    done
    if (( ${#missing[@]} == 0 )); then
        say "packages present: $*"
        return 0
    fi
    say "missing packages: ${missing[*]}"
    [[ $EUID -eq 0 ]] \
        || die "run as root, or install them first: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if [[ $APT_UPDATED == 0 ]]; then
        local t0; t0=$(now_ms)
        say "apt-get update"
        apt-get update -q >/dev/null \
            || die "apt-get update failed: check the network and /etc/apt/sources.list, then rerun"
        APT_UPDATED=1
        say "apt-get update done ($(took "$t0"))"
    fi
    # Don't let package scripts start services (redis, nginx, docker): the tests
    # start their own.  Only when the system has no policy of its own.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made_policy=1
    fi
    # With recommends: that is the combination known to give a working docker.io.
    local rc=0 t0 log
    t0=$(now_ms)
    log=$(mktemp /tmp/rce-apt-install.XXXXXX.log)
    say "apt-get install -y ${missing[*]} (log: ${log})"
    apt-get install -y -q -o Dpkg::Use-Pty=0 "${missing[@]}" >"$log" 2>&1 || rc=$?
    [[ $made_policy == 0 ]] || rm -f "$policy"
    if (( rc != 0 )); then
        tail -n 40 "$log" >&2 || true
        die "apt-get install failed (exit ${rc}; last lines above, full log ${log}): fix the cause, then rerun"
    fi
    say "installed $(grep -c '^Setting up ' "$log" || true) packages ($(took "$t0"))"
    rm -f "$log"
}

# --- docker engine ----------------------------------------------------------

# ensure_engine: make sure a Docker engine answers; start dockerd when we are
# root and none is running.
ensure_engine() {
    command -v docker >/dev/null 2>&1 \
        || die "no docker client: install docker.io (apt-get install -y docker.io), then rerun"
    if docker info >/dev/null 2>&1; then
        say "docker engine answers ($(docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?'))"
        return 0
    fi
    local i pid=
    if pgrep -x dockerd >/dev/null 2>&1; then
        say "dockerd runs but does not answer yet; waiting up to 30 s"
    else
        [[ $EUID -eq 0 ]] \
            || die "the Docker engine does not answer and we are not root: start it (sudo dockerd >/var/log/dockerd.log 2>&1 &) or add yourself to the docker group, then rerun"
        command -v dockerd >/dev/null 2>&1 \
            || die "no dockerd: install docker.io (apt-get install -y docker.io), then rerun"
        say "starting dockerd in the background (log: ${DOCKERD_LOG})"
        mkdir -p "$(dirname "$DOCKERD_LOG")"
        setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
        pid=$!
    fi
    local why="did not answer within 30 s"
    for (( i = 0; i < 60; i++ )); do
        if docker info >/dev/null 2>&1; then
            say "docker engine answers after ~$(( i / 2 )) s"
            return 0
        fi
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            why="exited"
            break
        fi
        sleep 0.5
    done
    if [[ -f $DOCKERD_LOG ]]; then
        printf '[deploy] last lines of %s:\n' "$DOCKERD_LOG" >&2
        tail -n 30 "$DOCKERD_LOG" >&2 || true
    fi
    die "dockerd ${why}: read ${DOCKERD_LOG} (tail above), fix the cause (another dockerd or a stale /var/run/docker.pid? cgroups? iptables?), then rerun"
}

# --- the nginx module -------------------------------------------------------

SRC_DIR=$BUILD_ROOT/src
OBJ_DIR=$BUILD_ROOT/objs
MODULE_SO=$OBJ_DIR/ngx_rce_module.so

nginx_dev_version() { dpkg-query -W -f '${Version}' nginx-dev 2>/dev/null || echo unknown; }

# The module must be built from the same nginx version as the binary that loads it.
check_nginx_versions() {
    local bin dev
    command -v nginx >/dev/null 2>&1 || { warn "no nginx binary on PATH: the tests will need one (apt-get install nginx)"; return 0; }
    bin=$(nginx -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
    dev=$(nginx_dev_version); dev=${dev%%-*}
    if [[ -n $bin && $dev != unknown && $bin != "$dev" ]]; then
        die "nginx is ${bin} but nginx-dev is ${dev}: the module would not load. Run 'apt-get install nginx nginx-dev' to align them, then rerun"
    fi
}

# build_module: out-of-tree, incremental build of ngx_rce_module.so against the
# Debian nginx's configure flags.  configure reruns only when its inputs change.
build_module() {
    local t0 stamp want have nproc
    [[ -d $NGINX_SRC && -f $NGINX_SRC/configure && -f $NGINX_SRC/conf_flags ]] \
        || die "no nginx source in ${NGINX_SRC}: install nginx-dev (apt-get install -y nginx-dev), then rerun"
    [[ -f $MODULE_DIR/config ]] \
        || die "no nginx addon config at ${MODULE_DIR}/config: the module cannot be built without it"
    check_nginx_versions

    # A private copy of the nginx source: configure writes into its tree.
    # Refreshed (and everything rebuilt) when nginx-dev changes.
    local dev_version; dev_version=$(nginx_dev_version)
    if [[ ! -f $SRC_DIR/.rce-nginx-dev-version || $(cat "$SRC_DIR/.rce-nginx-dev-version") != "$dev_version" ]]; then
        say "copying ${NGINX_SRC} (nginx-dev ${dev_version}) to ${SRC_DIR}"
        rm -rf "$SRC_DIR" "$OBJ_DIR"
        mkdir -p "$BUILD_ROOT"
        cp -a "$NGINX_SRC" "$SRC_DIR"
        printf '%s\n' "$dev_version" >"$SRC_DIR/.rce-nginx-dev-version"
    fi

    # Inputs of configure: the addon config, the flags, the paths, the nginx version.
    stamp=$OBJ_DIR/.rce-configure-stamp
    want=$( {
        printf 'nginx-dev %s\nmodule %s\nobjs %s\ncc-opt %s\n' "$dev_version" "$MODULE_DIR" "$OBJ_DIR" "${RCE_NGX_CC_OPT:-}"
        cat "$MODULE_DIR/config" "$SRC_DIR/conf_flags"
    } | sha256sum | cut -c1-64)
    have=$(cat "$stamp" 2>/dev/null || true)
    if [[ $want != "$have" || ! -f $OBJ_DIR/Makefile ]]; then
        t0=$(now_ms)
        say "configure (${MODULE_DIR}/config or the nginx flags changed; log: ${BUILD_ROOT}/configure.log)"
        mkdir -p "$OBJ_DIR"
        rm -f "$stamp"
        local extra=()
        [[ -z ${RCE_NGX_CC_OPT:-} ]] || extra=(--with-cc-opt="$RCE_NGX_CC_OPT")
        # conf_flags is Debian's, and defines the bash array NGX_CONF_FLAGS.
        # shellcheck source=/dev/null
        if ! ( cd "$SRC_DIR" && NGX_CONF_FLAGS=() \
               && . ./conf_flags \
               && ./configure "${NGX_CONF_FLAGS[@]}" "${extra[@]}" \
                      --add-dynamic-module="$MODULE_DIR" --builddir="$OBJ_DIR" ) \
                >"$BUILD_ROOT/configure.log" 2>&1; then
            tail -n 25 "$BUILD_ROOT/configure.log" >&2 || true
            die "nginx configure failed (last lines above, full log ${BUILD_ROOT}/configure.log): check ${MODULE_DIR}/config and that the -dev packages (libhiredis-dev, libjansson-dev, ...) are installed"
        fi
        printf '%s\n' "$want" >"$stamp"
        say "configure done ($(took "$t0"))"
    else
        say "configure is up to date"
    fi

    t0=$(now_ms)
    nproc=$(nproc 2>/dev/null || echo 2)
    say "make -f ${OBJ_DIR}/Makefile -C ${SRC_DIR} -j${nproc} modules"
    if ! make -s -f "$OBJ_DIR/Makefile" -C "$SRC_DIR" -j"$nproc" modules; then
        die "building the nginx module failed (compiler output above; warnings are errors: nginx builds with -Werror). Fix the code and rerun './deploy.sh build'"
    fi
    [[ -f $MODULE_SO ]] || die "make succeeded but ${MODULE_SO} is missing: does ${MODULE_DIR}/config name the module ngx_rce_module?"
    say "module built: ${MODULE_SO} ($(took "$t0"))"

    # Smoke test: the module loads into this nginx.
    if command -v nginx >/dev/null 2>&1; then
        local conf=$OBJ_DIR/smoke.conf
        printf 'load_module %s;\nerror_log stderr;\npid %s/smoke.pid;\nevents {}\n' "$MODULE_SO" "$OBJ_DIR" >"$conf"
        nginx -t -q -p "$OBJ_DIR" -c "$conf" \
            || die "nginx cannot load ${MODULE_SO} (nginx -t -c ${conf} failed, output above)"
        say "nginx -t loads the module"
    fi
}

# --- workerd ----------------------------------------------------------------

WORKERD_BIN=

build_workerd() {
    [[ -f $REPO/workerd/Makefile ]] || die "no ${REPO}/workerd/Makefile: workerd cannot be built"
    local nproc; nproc=$(nproc 2>/dev/null || echo 2)
    if [[ ${RCE_SANITIZE:-0} == 1 ]]; then
        say "make -C workerd asan (RCE_SANITIZE=1)"
        make -C "$REPO/workerd" -j"$nproc" asan \
            || die "'make -C workerd asan' failed (output above): fix workerd and rerun"
        WORKERD_BIN=$REPO/workerd/workerd-asan
    else
        say "make -C workerd"
        make -C "$REPO/workerd" -j"$nproc" \
            || die "'make -C workerd' failed (output above): fix workerd and rerun"
        WORKERD_BIN=$REPO/workerd/workerd
    fi
    [[ -x $WORKERD_BIN ]] || die "the workerd build succeeded but ${WORKERD_BIN} is missing: check workerd/Makefile's targets"
}

check_workerd() {
    say "make -C workerd check"
    make -C "$REPO/workerd" check \
        || die "workerd's unit tests failed ('make -C workerd check', output above): fix them and rerun"
}

# --- subcommands ------------------------------------------------------------

cmd_deps() { # install the packages the build and the tests need
    step "packages"
    ensure_packages "${PACKAGES[@]}"
    step_end
}

cmd_engine() { # make sure a Docker engine answers, starting dockerd if needed
    step "docker engine"
    ensure_engine
    step_end
}

cmd_build() { # build the nginx module
    local t0; t0=$(now_ms)
    ensure_packages build-essential nginx nginx-dev libhiredis-dev libjansson-dev
    build_module
    say "done ($(took "$t0")): ${MODULE_SO}"
}

cmd_images() { # build the container images (docker/build-images.sh [--force] [lang...])
    ensure_engine
    "$REPO/docker/build-images.sh" "$@"
}

cmd_test() { # install what is missing, build everything, run the tests (args go to prove)
    local t0 rc=0; t0=$(now_ms)
    say "test: ${REPO} ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo 'no commit'))${RCE_SANITIZE:+, RCE_SANITIZE=${RCE_SANITIZE}}"
    step "packages";            ensure_packages "${PACKAGES[@]}"
    step "docker engine";       ensure_engine
    step "workerd build";       build_workerd
    step "workerd unit tests";  check_workerd
    step "nginx module build";  build_module
    step "images";              "$REPO/docker/build-images.sh"

    step "prove"
    [[ -d $REPO/t ]] || die "no ${REPO}/t: there are no tests to run"
    if (( $# == 0 )); then
        [[ -n $(find "$REPO/t" -name '*.t' -print -quit) ]] || die "no t/**/*.t test files found: there are no tests to run"
        set -- -r t/
    fi
    export RCE_MODULE_SO=$MODULE_SO RCE_WORKERD=$WORKERD_BIN
    say "RCE_MODULE_SO=${RCE_MODULE_SO}"
    say "RCE_WORKERD=${RCE_WORKERD}"
    say "prove $*"
    (cd "$REPO" && prove "$@") || rc=$?
    step_end
    print_timings
    if (( rc != 0 )); then
        die "tests failed (prove exit ${rc}; $(took "$t0") in all): see the failures above; rerun one file with './deploy.sh test -v t/FILE.t'"
    fi
    say "all tests passed ($(took "$t0") in all)"
}

cmd_cluster_todo() {
    die "the compose cluster is not built yet; see README. For now: './deploy.sh test' builds and tests, './deploy.sh help' lists what works"
}

cmd_help() { # this list
    local name
    printf 'usage: %s [subcommand] [args]\n\nsubcommands:\n' "$0"
    for name in "${ORDER[@]}"; do
        printf '  %-8s %s\n' "$name" "${HELP[$name]}"
    done
    printf '\nwith no subcommand: %s\n' "$DEFAULT"
}

# The dispatch table: subcommand -> function, and its help line.  To add a
# subcommand, write cmd_NAME and add it here.
declare -A COMMANDS=(
    [test]=cmd_test       [build]=cmd_build     [images]=cmd_images
    [deps]=cmd_deps       [engine]=cmd_engine   [help]=cmd_help
    [up]=cmd_cluster_todo [rebuild]=cmd_cluster_todo [down]=cmd_cluster_todo
    [status]=cmd_cluster_todo [logs]=cmd_cluster_todo [scale]=cmd_cluster_todo
)
declare -A HELP=(
    [test]="install what is missing, start dockerd, build workerd, the module and the images, run prove -r t/ (extra args go to prove; RCE_SANITIZE=1 uses workerd-asan)"
    [build]="build the nginx module into build/nginx (incremental)"
    [images]="build the container images: docker/build-images.sh [--force] [--check] [lang...]"
    [deps]="install the Debian packages the build and the tests need (root)"
    [engine]="start dockerd if no Docker engine answers (root)"
    [help]="this list"
    [up]="start the compose cluster (not built yet)"
    [rebuild]="rebuild and restart the cluster (not built yet)"
    [down]="stop the cluster (not built yet)"
    [status]="show the cluster's state (not built yet)"
    [logs]="follow the cluster's logs (not built yet)"
    [scale]="scale workers: scale N (not built yet)"
)
ORDER=(test build images deps engine up rebuild down status logs scale help)
DEFAULT=up

main() {
    local cmd=${1:-$DEFAULT}
    (( $# == 0 )) || shift
    case $cmd in -h|--help) cmd=help ;; esac
    [[ -n ${COMMANDS[$cmd]:-} ]] || { cmd_help >&2; die "unknown subcommand: ${cmd}"; }
    "${COMMANDS[$cmd]}" "$@"
}

main "$@"
