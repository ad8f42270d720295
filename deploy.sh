#!/usr/bin/env bash
# rce: build, test and deploy.  Run './deploy.sh help' for the list.
#
#   ./deploy.sh                     bring the cluster up on 127.0.0.1:8080 (docker-compose)
#   ./deploy.sh rebuild|down|status|logs [service]|scale N
#   ./deploy.sh test [prove args]   install what is missing, build everything, run the tests
#   ./deploy.sh build               build the nginx module (build/nginx/objs/ngx_rce_module.so)
#
# Environment (all optional):
#   RCE_BIND           address the cluster's gateway is published on (127.0.0.1; 0.0.0.0 opens it)
#   RCE_PORT           its port                                     (8080)
#   RCE_WORKERS        worker nodes 'up' starts         (those running now, else 3)
#   RCE_PROJECT        compose project name                         (rce; rce-multi)
#   RCE_MULTI=1        two clusters behind a front nginx: docker-compose.multi.yml
#   RCE_UP_TIMEOUT     seconds to wait for /health                  (120)
#   RCE_BASE_IMAGE     base image of every image                    (rce/base)
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
          redis-server docker.io debootstrap perl docker-compose curl gnuplot-nox)

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
        if [[ -d /run/systemd/system ]] && systemctl cat docker.service >/dev/null 2>&1; then
            # an init system that knows the service: let it run dockerd
            say "systemctl start docker"
            systemctl start docker \
                || die "'systemctl start docker' failed: see 'journalctl -u docker', fix the cause, then rerun"
        else
            say "starting dockerd in the background (log: ${DOCKERD_LOG})"
            mkdir -p "$(dirname "$DOCKERD_LOG")"
            setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
            pid=$!
        fi
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

# --- the cluster (docker-compose / docker compose) ----------------------------

PROJECT=
COMPOSE=()
COMPOSE_FILES=()
REDIS_SERVICES=()
WORKER_SERVICES=()
DEFAULT_WORKERS=3
CLUSTER_IMAGES=(redis gateway workerd)
BASE_IMAGE=${RCE_BASE_IMAGE:-rce/base}
BIND=${RCE_BIND:-127.0.0.1}
PORT=${RCE_PORT:-8080}
UP_TIMEOUT=${RCE_UP_TIMEOUT:-120}

# Which cluster: docker-compose.yml (+ docker-compose.override.yml, which
# docker-compose would read by itself), or with RCE_MULTI=1 the two clusters
# behind a front nginx of docker-compose.multi.yml.
cluster_layout() {
    if [[ ${RCE_MULTI:-0} == 1 ]]; then
        PROJECT=${RCE_PROJECT:-rce-multi}
        COMPOSE_FILES=(-f "$REPO/docker-compose.multi.yml")
        # one redis-X and workerd-X per cluster X (conf/README.md: adding a cluster)
        mapfile -t REDIS_SERVICES < <(sed -n 's/^  \(redis-[A-Za-z0-9_]*\):.*/\1/p' "$REPO/docker-compose.multi.yml")
        mapfile -t WORKER_SERVICES < <(sed -n 's/^  \(workerd-[A-Za-z0-9_]*\):.*/\1/p' "$REPO/docker-compose.multi.yml")
        (( ${#REDIS_SERVICES[@]} && ${#WORKER_SERVICES[@]} )) \
            || die "docker-compose.multi.yml names no redis-X and workerd-X services"
        DEFAULT_WORKERS=2
    else
        PROJECT=${RCE_PROJECT:-rce}
        COMPOSE_FILES=(-f "$REPO/docker-compose.yml" -f "$REPO/docker-compose.override.yml")
        REDIS_SERVICES=(redis)
        WORKER_SERVICES=(workerd)
        DEFAULT_WORKERS=3
    fi
    [[ $PROJECT =~ ^[a-z0-9][a-z0-9_-]*$ ]] \
        || die "RCE_PROJECT='${PROJECT}': a compose project name is lower-case letters, digits, '-' and '_'"
    if ! [[ $PORT =~ ^[0-9]+$ ]] || (( PORT < 1 || PORT > 65535 )); then
        die "RCE_PORT='${PORT}' is not a port number"
    fi
    # the compose files read these
    export RCE_BIND="$BIND" RCE_PORT="$PORT" RCE_BASE_IMAGE="$BASE_IMAGE"
}

# detect_compose: `docker compose` (v2 plugin) if it works, else docker-compose (1.29).
detect_compose() {
    if docker compose version >/dev/null 2>&1; then
        COMPOSE=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1; then
        COMPOSE=(docker-compose)
    else
        COMPOSE=()
        return 1
    fi
}

compose() { "${COMPOSE[@]}" -p "$PROJECT" "${COMPOSE_FILES[@]}" "$@"; }

# ensure_cluster_tools: docker client and engine, compose and curl; installs the
# Debian packages that are missing (root), starts dockerd if no engine answers.
ensure_cluster_tools() {
    local pkgs=()
    command -v docker >/dev/null 2>&1 || pkgs+=(docker.io)
    if [[ ${#pkgs[@]} == 0 ]] && ! command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
        pkgs+=(docker.io)
    fi
    if (( ${#pkgs[@]} )) || ! detect_compose; then
        pkgs+=(docker-compose)
    fi
    command -v curl >/dev/null 2>&1 || pkgs+=(curl)
    if (( ${#pkgs[@]} )); then
        ensure_packages "${pkgs[@]}"
    else
        say "tools present: docker, compose, curl"
    fi
    detect_compose \
        || die "no docker compose: install docker-compose (apt-get install -y docker-compose) or the compose v2 plugin, then rerun"
    ensure_engine
    say "compose: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || echo '?'))"
}

image_label() { # image_label IMAGE LABEL -> value or empty
    docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null | sed 's/^<no value>$//'
}

# The build of each cluster image: Dockerfile, context, and the files whose
# change means a rebuild (what the context holds for it; see .dockerignore).
image_dockerfile() { printf '%s/docker/%s/Dockerfile\n' "$REPO" "$1"; }
image_context() { if [[ $1 == redis ]]; then printf '%s/docker/redis\n' "$REPO"; else printf '%s\n' "$REPO"; fi; }
image_inputs() {
    case $1 in
        redis)   echo docker/redis ;;
        gateway) echo docker/gateway conf/nginx.conf config include ngx_rce_module .dockerignore ;;
        workerd) echo docker/workerd include workerd .dockerignore ;;
    esac
}

# image_hash NAME: the base image's id and the names and contents of its inputs.
image_hash() {
    local inputs base_id
    read -r -a inputs <<<"$(image_inputs "$1")"
    base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")
    {
        printf 'base %s %s\n' "$BASE_IMAGE" "$base_id"
        (cd "$REPO" && find "${inputs[@]}" \
            \( -path 'workerd/build' -o -path 'workerd/build-*' \) -prune -o \
            -type f ! -name '*.o' ! -name '*.d' ! -name '*.swp' ! -name '*~' \
            ! -path workerd/workerd ! -path workerd/workerd-asan -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-64
}

image_size() {
    local bytes; bytes=$(docker image inspect -f '{{.Size}}' "$1")
    printf '%d MB' $(( bytes / 1000000 ))
}

# docker_build LOG ARGS...: the classic builder (as in docker/build-images.sh:
# it works with every client/engine pair; the Debian 12 engine is 20.10),
# printing the Dockerfile steps as they run, the whole output in LOG.
docker_build() {
    local log=$1
    shift
    DOCKER_BUILDKIT=0 docker build --network host --pull=false --force-rm "$@" 2>&1 \
        | tee -a "$log" \
        | awk '
            function flush(suffix) { if (held != "") { print held suffix; fflush(); held = "" } }
            /^Step [0-9]+\/[0-9]+ : / { flush(""); sub(/ : /, " "); held = "[deploy]     " substr($0, 1, 100); next }
            /^ ---> Using cache/      { flush(" (cached)"); next }
            /^Sending build context/   { sub(/^Sending build context to Docker daemon */, ""); print "[deploy]     context " $0; fflush(); next }
            held != ""                { flush("") }
            END                       { flush("") }'
}

# rmi_previous WHAT OLD_ID NEW_ID: remove the image a build replaced; one
# that running containers still use is removed after they are recreated
# (remove_stale_images).
STALE_IMAGES=()
rmi_previous() {
    [[ -n $2 && $2 != "$3" ]] || return 0
    if docker rmi "$2" >/dev/null 2>&1; then
        say "  removed the previous $1 ($(cut -c8-19 <<<"$2"))"
    else
        STALE_IMAGES+=("$2")
    fi
}

remove_stale_images() {
    local id
    for id in "${STALE_IMAGES[@]}"; do
        # kept if it is a layer of the new image, or another project's containers use it
        if docker rmi "$id" >/dev/null 2>&1; then
            say "removed a replaced image ($(cut -c8-19 <<<"$id"))"
        fi
    done
    STALE_IMAGES=()
}

# build_cluster_image NAME FORCE NOCACHE: build rce/NAME unless its build hash
# label matches (FORCE=1 builds anyway).  A Dockerfile with a builder stage
# has it built and tagged first (rce/NAME:builder): it stays the build cache
# of the next build (compilers and -dev packages installed once), and the one
# it replaces is removed instead of piling up as an untagged image.
build_cluster_image() {
    local name=$1 force=$2 nocache=$3 image=rce/$1 hash old_id new_id old_b new_b t0 log
    local args=() dockerfile context
    hash=$(image_hash "$name")
    old_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    if [[ -n $old_id && $force == 0 && $(image_label "$image" rce.build-hash) == "$hash" ]]; then
        say "${image} up to date ($(image_size "$image")), skipped"
        return 0
    fi
    if [[ -z $old_id ]]; then say "${image} missing, building"
    elif [[ $force == 1 ]]; then say "${image}: rebuilding"
    else say "${image}: its sources or base changed (or it was built without deploy.sh), rebuilding"; fi
    [[ $nocache == 0 ]] || args+=(--no-cache)
    args+=(--build-arg "RCE_BASE=${BASE_IMAGE}")
    dockerfile=$(image_dockerfile "$name")
    context=$(image_context "$name")
    t0=$(now_ms)
    log=$(mktemp /tmp/rce-build-"$name".XXXXXX.log)
    say "  docker build --network host -f docker/${name}/Dockerfile -t ${image} (full log: ${log})"
    old_b=$(docker image inspect -f '{{.Id}}' "${image}:builder" 2>/dev/null || true)
    if grep -qiE '^FROM .* AS builder$' "$dockerfile"; then
        if ! docker_build "$log" "${args[@]}" --target builder -f "$dockerfile" -t "${image}:builder" "$context"; then
            build_failed "$image" "$log"
        fi
    fi
    if ! docker_build "$log" "${args[@]}" --label "rce.build-hash=${hash}" -f "$dockerfile" -t "$image" "$context"; then
        build_failed "$image" "$log"
    fi
    rm -f "$log"
    new_id=$(docker image inspect -f '{{.Id}}' "$image")
    new_b=$(docker image inspect -f '{{.Id}}' "${image}:builder" 2>/dev/null || true)
    say "  built ${image}: $(image_size "$image") ($(took "$t0"))"
    rmi_previous "$image" "$old_id" "$new_id"
    rmi_previous "${image}:builder" "$old_b" "$new_b"
}

build_failed() { # build_failed IMAGE LOG
    printf '[deploy] last lines of %s:\n' "$2" >&2
    tail -n 30 "$2" >&2 || true
    die "building $1 failed (above; full log $2). A failed apt-get: check that this host reaches the Debian mirror ('apt-get update'). A compile error: fix the sources ('./deploy.sh build' builds the module and 'make -C workerd' workerd, both faster), then rerun"
}

# build_all FORCE NOCACHE: language images (docker/build-images.sh), then the cluster's.
build_all() {
    local force=$1 nocache=$2 args=() name
    step "language images"
    [[ $nocache == 0 ]] || args=(--force)
    "$REPO/docker/build-images.sh" "${args[@]}" \
        || die "docker/build-images.sh failed (above): fix what it names, then rerun"
    step "cluster images"
    for name in "${CLUSTER_IMAGES[@]}"; do
        build_cluster_image "$name" "$force" "$nocache"
    done
}

# Where this host reaches the published gateway.
probe_host() { case $BIND in 0.0.0.0|'') echo 127.0.0.1 ;; ::|'[::]') echo '[::1]' ;; *) echo "$BIND" ;; esac; }
cluster_url() { printf 'http://%s:%s\n' "$(probe_host)" "$PORT"; }

project_containers() { # ids of the project's containers, optionally of one service
    local filter=(--filter "label=com.docker.compose.project=${PROJECT}")
    [[ -z ${1:-} ]] || filter+=(--filter "label=com.docker.compose.service=$1")
    docker ps -aq "${filter[@]}"
}

running_workers() { # how many worker containers run (in the first cluster, with RCE_MULTI=1)
    docker ps -q --filter "label=com.docker.compose.project=${PROJECT}" \
                 --filter "label=com.docker.compose.service=${WORKER_SERVICES[0]}" | wc -l
}

scale_args() { # scale_args N -> --scale S=N for each worker service
    local s
    for s in "${WORKER_SERVICES[@]}"; do printf -- '--scale\n%s=%s\n' "$s" "$1"; done
}

# wait_health NODES: until GET /health is 200 and lists NODES nodes (bounded by
# RCE_UP_TIMEOUT).  A 200 with fewer nodes at the deadline is a warning.
wait_health() {
    local want=$1 url code=000 count=0 body i last=
    url="$(cluster_url)/health"
    body=$(mktemp /tmp/rce-health.XXXXXX)
    say "waiting for ${url} to be 200 with ${want} node(s) (at most ${UP_TIMEOUT} s)"
    for (( i = 0; i < UP_TIMEOUT * 2; i++ )); do
        code=$(curl -s -o "$body" -w '%{http_code}' --max-time 3 "$url" 2>/dev/null) || code=000
        count=$(grep -o '"name":"' "$body" 2>/dev/null | wc -l) || count=0
        if [[ $code == 200 ]] && (( count >= want )); then
            say "/health: 200, ${count} node(s) ($(( i / 2 )) s)"
            rm -f "$body"
            return 0
        fi
        if [[ "$code/$count" != "$last" ]]; then
            say "  /health: ${code/#000/no answer}, ${count} node(s)"
            last="$code/$count"
        fi
        sleep 0.5
    done
    if [[ $code == 200 ]]; then
        warn "/health is 200 but lists ${count} of ${want} nodes after ${UP_TIMEOUT} s: see './deploy.sh status' and './deploy.sh logs workerd'"
        rm -f "$body"
        return 0
    fi
    printf '[deploy] /health answered %s: %s\n' "$code" "$(head -c 600 "$body" 2>/dev/null)" >&2
    rm -f "$body"
    compose ps >&2 || true
    printf '[deploy] last log lines:\n' >&2
    compose logs --tail=15 >&2 || true
    die "the cluster is not healthy after ${UP_TIMEOUT} s (state and logs above). Next: './deploy.sh status', './deploy.sh logs gateway', './deploy.sh logs workerd'; a port clash: RCE_PORT=8081 ./deploy.sh; then './deploy.sh' again"
}

# compose_up ARGS...: docker-compose up -d, with the usual failure explained.
compose_up() {
    local log rc=0
    log=$(mktemp /tmp/rce-compose-up.XXXXXX.log)
    compose up -d --remove-orphans "$@" 2>&1 | tee "$log" || rc=$?
    if (( rc != 0 )); then
        if grep -qiE 'port is already allocated|address already in use' "$log"; then
            die "${BIND}:${PORT} is taken by another program or container: free it, or choose another port: RCE_PORT=8081 ./deploy.sh"
        fi
        die "'${COMPOSE[*]} up' failed (exit ${rc}, output above; kept in ${log}). Next: './deploy.sh status', './deploy.sh logs', or './deploy.sh down' and retry"
    fi
    rm -f "$log"
}

print_usage_hint() {
    local url env=() v
    url=$(cluster_url)
    # the settings this cluster was started with, for the next commands
    for v in RCE_MULTI RCE_PROJECT RCE_PORT RCE_BIND; do
        [[ -z ${!v+x} || ( $v == RCE_PORT && ${!v} == 8080 ) || ( $v == RCE_BIND && ${!v} == 127.0.0.1 ) ]] \
            || env+=("$v=${!v}")
    done
    say "the cluster is up: ${url}   (project '${PROJECT}', $(running_workers) worker node(s)$( (( ${#WORKER_SERVICES[@]} > 1 )) && echo ' per cluster'))"
    printf "\n  curl --data-binary 'print(42)' %s/lang/python\n" "$url"
    printf '  curl %s/health\n' "$url"
    printf '  %s./deploy.sh status | logs [service] | scale N | down\n\n' "${env[*]:+${env[*]} }"
}

cmd_up() { # build what is missing, start the cluster, wait for /health
    local t0 n; t0=$(now_ms)
    cluster_layout
    step "tools";          ensure_cluster_tools
    build_all 0 0
    step "start"
    n=${RCE_WORKERS:-}
    if [[ -z $n ]]; then
        n=$(running_workers)
        (( n > 0 )) || n=$DEFAULT_WORKERS
    fi
    if ! [[ $n =~ ^[0-9]+$ ]] || (( n < 1 )); then
        die "RCE_WORKERS='${n}': give a number of worker nodes, 1 or more"
    fi
    say "${COMPOSE[*]} -p ${PROJECT} up -d (${n} worker node(s)$( (( ${#WORKER_SERVICES[@]} > 1 )) && echo ' per cluster'); ${BIND}:${PORT})"
    local sa; mapfile -t sa < <(scale_args "$n")
    compose_up "${sa[@]}"
    remove_stale_images
    step "health";         wait_health "$n"
    step_end
    print_timings
    say "up in $(took "$t0")"
    print_usage_hint
}

cmd_rebuild() { # rebuild the images (rebuild --no-cache: from scratch) and restart
    local t0 nocache=0 n; t0=$(now_ms)
    case ${1:-} in
        '') ;;
        --no-cache) nocache=1 ;;
        *) die "usage: ./deploy.sh rebuild [--no-cache]" ;;
    esac
    cluster_layout
    step "tools";          ensure_cluster_tools
    build_all 1 "$nocache"
    step "restart"
    n=${RCE_WORKERS:-$(running_workers)}
    (( n > 0 )) || n=$DEFAULT_WORKERS
    local sa; mapfile -t sa < <(scale_args "$n")
    compose_up --force-recreate "${sa[@]}"
    remove_stale_images
    step "health";         wait_health "$n"
    step_end
    print_timings
    say "rebuilt and restarted in $(took "$t0")"
    print_usage_hint
}

# The node names of this project's workers: their hostnames, and what Redis knows.
project_nodes() {
    local id s
    for s in "${WORKER_SERVICES[@]}"; do
        for id in $(project_containers "$s"); do
            docker inspect -f '{{.Config.Hostname}}' "$id" 2>/dev/null || true
        done
    done
    for s in "${REDIS_SERVICES[@]}"; do
        compose exec -T "$s" redis-cli --raw SMEMBERS rce:nodes 2>/dev/null | tr -d '\r' || true
    done
}

# job_containers NODE...: ids of the containers (label rce.node) of these nodes: jobs' and warm ones
job_containers() {
    local -A mine=()
    local n id node
    for n in "$@"; do [[ -z $n ]] || mine[$n]=1; done
    (( ${#mine[@]} )) || return 0
    docker ps -a --filter label=rce.node --format '{{.ID}} {{.Label "rce.node"}}' \
        | while read -r id node; do
            [[ -z ${mine[$node]:-} ]] || printf '%s\n' "$id"
        done
}

cmd_down() { # stop and remove the cluster and its job and warm containers (down -v: also the Redis volume)
    local args=() nodes jobs
    case ${1:-} in
        '') ;;
        -v|--volumes) args=(-v) ;;
        *) die "usage: ./deploy.sh down [-v]   (-v also removes the Redis volume: queued jobs and results)" ;;
    esac
    cluster_layout
    detect_compose || die "no docker compose: install docker-compose (apt-get install -y docker-compose), then rerun"
    docker info >/dev/null 2>&1 || die "the Docker engine does not answer: './deploy.sh engine' starts it, then rerun"
    mapfile -t nodes < <(project_nodes | sort -u)
    say "${COMPOSE[*]} -p ${PROJECT} down${args[*]:+ ${args[*]}} (workers drain first: up to 45 s if jobs run)"
    compose down --remove-orphans "${args[@]}" \
        || die "'${COMPOSE[*]} down' failed (output above): check 'docker ps -a --filter label=com.docker.compose.project=${PROJECT}', then rerun"
    mapfile -t jobs < <(job_containers "${nodes[@]}")
    if (( ${#jobs[@]} )); then
        say "removing ${#jobs[@]} job or warm container(s) the worker nodes left"
        docker rm -f "${jobs[@]}" >/dev/null || warn "some job containers could not be removed: docker ps -a --filter label=rce.node"
    fi
    if [[ -n $(project_containers) ]]; then
        warn "containers of project ${PROJECT} remain: docker ps -a --filter label=com.docker.compose.project=${PROJECT}"
    fi
    say "the cluster is down${args[*]:+ (volumes removed)}"
}

cmd_status() { # containers, /health, nodes with queue and running lengths, job containers
    local s url code body
    cluster_layout
    detect_compose || die "no docker compose: install docker-compose (apt-get install -y docker-compose), then rerun"
    docker info >/dev/null 2>&1 || die "the Docker engine does not answer: './deploy.sh engine' starts it, then rerun"
    if [[ -z $(project_containers) ]]; then
        say "cluster '${PROJECT}' is not running ('./deploy.sh' starts it)"
        return 0
    fi
    say "cluster '${PROJECT}' (${COMPOSE[*]}), $(cluster_url)"
    printf '\n== containers\n'
    compose ps
    printf '\n== GET /health\n'
    url="$(cluster_url)/health"
    body=$(curl -s --max-time 3 -w '\n%{http_code}' "$url" 2>/dev/null) || body=$'no answer\n000'
    code=${body##*$'\n'}
    printf '%s %s\n%s\n' "$code" "$url" "${body%$'\n'*}"
    for s in "${REDIS_SERVICES[@]}"; do
        printf '\n== nodes in %s (queued = waiting in rce:queue:<node>, running = in rce:running:<node>)\n' "$s"
        # One exec: redis-cli is in the redis image.
        # shellcheck disable=SC2016
        compose exec -T "$s" sh -c '
            field() { printf "%s" "$2" | sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }
            nodes=$(redis-cli --raw SMEMBERS rce:nodes)
            [ -n "$nodes" ] || echo "(no node registered)"
            for n in $nodes; do
                hb=$(redis-cli --raw GET "rce:node:$n")
                if [ -n "$hb" ]; then
                    langs=$(printf "%s" "$hb" | sed -n "s/.*\"languages\":\[\([^]]*\)\].*/\1/p" | tr -d "\"")
                    state="busy $(field busy "$hb")/$(field slots "$hb") slots, draining $(field draining "$hb"), languages $langs"
                else
                    state="no heartbeat: gone or expired"
                fi
                printf "%-16s queued %-4s running %-4s %s\n" "$n" \
                    "$(redis-cli --raw LLEN "rce:queue:$n")" "$(redis-cli --raw LLEN "rce:running:$n")" "$state"
            done' \
            || warn "could not ask ${s} (is it running? './deploy.sh logs ${s}')"
    done
    printf '\n== job containers (rce.job) and warm ones (rce.pool) of these nodes\n'
    local nodes jobs
    mapfile -t nodes < <(project_nodes | sort -u)
    mapfile -t jobs < <(job_containers "${nodes[@]}")
    if (( ${#jobs[@]} )); then
        docker ps -a --format 'table {{.ID}}\t{{.Label "rce.node"}}\t{{.Label "rce.job"}}\t{{.Label "rce.pool"}}\t{{.Image}}\t{{.Status}}' \
            --filter label=rce.node | grep -E "^(CONTAINER|$(IFS='|'; echo "${jobs[*]}"))"
    else
        echo "(none)"
    fi
}

cmd_logs() { # logs [service...]: recent lines, followed when on a terminal
    local follow=()
    cluster_layout
    detect_compose || die "no docker compose: install docker-compose (apt-get install -y docker-compose), then rerun"
    [[ ! -t 1 ]] || follow=(-f)
    compose logs --tail="${RCE_LOG_LINES:-200}" "${follow[@]}" "$@" \
        || die "'${COMPOSE[*]} logs' failed: services are $(compose config --services 2>/dev/null | tr '\n' ' ')"
}

cmd_scale() { # scale N: run N worker nodes (per cluster with RCE_MULTI=1)
    local n=${1:-} sa
    if ! [[ $n =~ ^[0-9]+$ ]] || (( n < 1 || n > 64 )); then
        die "usage: ./deploy.sh scale N   (N worker nodes, 1 to 64)"
    fi
    cluster_layout
    detect_compose || die "no docker compose: install docker-compose (apt-get install -y docker-compose), then rerun"
    docker info >/dev/null 2>&1 || die "the Docker engine does not answer: './deploy.sh engine' starts it, then rerun"
    [[ -n $(docker ps -q --filter "label=com.docker.compose.project=${PROJECT}") ]] \
        || die "the cluster '${PROJECT}' is not running: start it with './deploy.sh' (RCE_WORKERS=${n} ./deploy.sh starts it with ${n} nodes)"
    say "scaling to ${n} worker node(s) (removed nodes drain first)"
    mapfile -t sa < <(scale_args "$n")
    compose_up --no-recreate "${sa[@]}"
    wait_health_exact "$n"
}

# wait_health_exact N: until /health lists exactly N nodes (bounded).
wait_health_exact() {
    local want=$1 url i count=-1 body
    url="$(cluster_url)/health"
    for (( i = 0; i < UP_TIMEOUT * 2; i++ )); do
        body=$(curl -s --max-time 3 "$url" 2>/dev/null) || body=
        count=$(grep -o '"name":"' <<<"$body" | wc -l) || count=0
        if (( count == want )); then
            say "/health lists ${count} node(s)"
            return 0
        fi
        sleep 0.5
    done
    die "/health lists ${count} node(s), not ${want}, after ${UP_TIMEOUT} s: see './deploy.sh status' and './deploy.sh logs workerd'"
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
    [up]=cmd_up           [rebuild]=cmd_rebuild [down]=cmd_down
    [status]=cmd_status   [logs]=cmd_logs       [scale]=cmd_scale
)
declare -A HELP=(
    [test]="install what is missing, start dockerd, build workerd, the module and the images, run prove -r t/ (extra args go to prove; RCE_SANITIZE=1 uses workerd-asan)"
    [build]="build the nginx module into build/nginx (incremental)"
    [images]="build the container images: docker/build-images.sh [--force] [--check] [lang...]"
    [deps]="install the Debian packages the build and the tests need (root)"
    [engine]="start dockerd if no Docker engine answers (root)"
    [help]="this list"
    [up]="install docker and compose if missing, build the images that are missing or stale, start the cluster, wait for /health (RCE_BIND, RCE_PORT, RCE_WORKERS)"
    [rebuild]="rebuild the images (--no-cache: from scratch, fresh packages) and restart the cluster"
    [down]="stop and remove the cluster and the job containers of its nodes; down -v also removes the Redis volume"
    [status]="containers, /health, nodes with their queued and running jobs, job containers"
    [logs]="logs [service...]: the cluster's recent logs, followed on a terminal (services: redis gateway workerd)"
    [scale]="scale N: run N worker nodes (drained before removal)"
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
