#!/usr/bin/env bash
# rce: build, test and deploy.  Run './deploy.sh help' for the list.
#
#   ./deploy.sh                     bring the cluster up on 127.0.0.1:8080 (docker-compose)
#   ./deploy.sh rebuild|down|status|logs [service]|scale N
#   ./deploy.sh test [prove args]   install what is missing, build everything, run the tests
#   ./deploy.sh build               build the nginx module (build/nginx/objs/ngx_rce_module.so)
#
# The builds themselves are the root Makefile's (make module, workerd, check,
# images, test); this script installs what they need and runs the cluster.
#
# Environment (all optional):
#   RCE_BIND           address the cluster's gateway is published on (127.0.0.1; 0.0.0.0 opens it)
#   RCE_PORT           its port                                     (8080)
#   RCE_WORKERS        worker nodes 'up' starts         (those running now, else 3)
#   RCE_PROJECT        compose project name                         (rce; rce-multi)
#   RCE_MULTI=1        two clusters behind a front nginx: docker-compose.multi.yml
#   RCE_UP_TIMEOUT     seconds to wait for /health                  (120)
#   RCE_BASE_IMAGE     base image of every image                    (rce/base)
#   RCE_LANGUAGES      the languages to build and run, e.g. python,c,java (default: all;
#                      docs/languages.md#choosing-the-languages)
#   RCE_BUILD_JOBS     language images built at a time            (CPUs + 1, at most 4)
#   RCE_SANITIZE=1     test with workerd built by 'make -C workerd asan' (workerd/workerd-asan)
#   RCE_BUILD_DIR      where the module is built                (build/nginx)
#   RCE_MODULE_DIR     the addon directory given to nginx's configure (the repo root)
#   RCE_NGX_CC_OPT     extra compiler flags for the module (--with-cc-opt)
#   RCE_NGINX_SRC      nginx source to build against         (/usr/share/nginx/src)
#   RCE_DOCKERD_LOG    log of a dockerd started by this script (/var/log/dockerd.log)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=deploy
# shellcheck source-path=SCRIPTDIR source=docker/lib.sh
. "$REPO/docker/lib.sh"
DOCKERD_LOG=${RCE_DOCKERD_LOG:-/var/log/dockerd.log}

# What the build and the tests need, from Debian 12.
PACKAGES=(build-essential nginx nginx-dev libhiredis-dev libjansson-dev libwslay-dev libcurl4-openssl-dev libssl-dev
          redis-server docker.io debootstrap perl docker-compose curl gnuplot-nox)
# what only the tests need: clang and its libFuzzer for the fuzz targets (make fuzz);
# chromium, the browser t/36-playground.t drives; prometheus for promtool
# (t/38-metrics.t checks GET /metrics with promtool check metrics)
TEST_PACKAGES=(clang libclang-rt-14-dev chromium prometheus)

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

# --- builds: the Makefile -------------------------------------------------

# run_make TARGET... [VAR=VALUE...]: the root Makefile, on every core.
run_make() {
    make -C "$REPO" --no-print-directory -j"$(nproc 2>/dev/null || echo 2)" "$@"
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

# The build of each cluster image: Dockerfile, context, and the files whose
# change means a rebuild (what the context holds for it; see .dockerignore).
image_dockerfile() { printf '%s/docker/%s/Dockerfile\n' "$REPO" "$1"; }
image_context() { if [[ $1 == redis ]]; then printf '%s/docker/redis\n' "$REPO"; else printf '%s\n' "$REPO"; fi; }
image_inputs() {
    case $1 in
        redis)   echo docker/redis ;;
        gateway) echo docker/gateway conf/nginx.conf docs/openapi.json config include common ngx_rce_module .dockerignore \
                      playground/src playground/build.mjs playground/package.json playground/package-lock.json ;;
        workerd) echo docker/workerd include common workerd .dockerignore ;;
    esac
}

# image_hash NAME: the base image's id and the names and contents of its inputs.
image_hash() {
    local inputs base_id
    read -r -a inputs <<<"$(image_inputs "$1")"
    base_id=$(image_id "$BASE_IMAGE")
    printf 'base %s %s\n' "$BASE_IMAGE" "$base_id" | tree_hash "$REPO" "${inputs[@]}" \
        \( -path 'workerd/build' -o -path 'workerd/build-*' \) -prune -o \
        -type f ! -name '*.o' ! -name '*.d' ! -name '*.swp' ! -name '*~' \
        ! -path workerd/workerd ! -path workerd/workerd-asan -print0
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

# npm_extra_ca: the certificates of the CAs this host added to Debian's own
# (/usr/local/share/ca-certificates: a TLS-inspecting proxy's, a site's), as
# PEM text, for the gateway's npm ci; nothing when there are none.
npm_extra_ca() {
    local f
    for f in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
        [[ -r $f ]] && grep -q 'BEGIN CERTIFICATE' "$f" && cat "$f"
    done
    return 0
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
    old_id=$(image_id "$image" || true)
    if [[ -n $old_id && $force == 0 && $(image_label "$image" rce.build-hash) == "$hash" ]]; then
        say "${image} up to date ($(image_size "$image")), skipped"
        return 0
    fi
    if [[ -z $old_id ]]; then say "${image} missing, building"
    elif [[ $force == 1 ]]; then say "${image}: rebuilding"
    else say "${image}: its sources or base changed (or it was built without deploy.sh), rebuilding"; fi
    [[ $nocache == 0 ]] || args+=(--no-cache)
    args+=(--build-arg "RCE_BASE=${BASE_IMAGE}")
    # the gateway's playground stage runs npm ci: it trusts the CAs this host added
    if [[ $name == gateway ]]; then
        local ca; ca=$(npm_extra_ca)
        [[ -z $ca ]] || args+=(--build-arg "NPM_EXTRA_CA=${ca}")
    fi
    dockerfile=$(image_dockerfile "$name")
    context=$(image_context "$name")
    t0=$(now_ms)
    log=$(mktemp /tmp/rce-build-"$name".XXXXXX.log)
    say "  docker build --network host -f docker/${name}/Dockerfile -t ${image} (full log: ${log})"
    old_b=$(image_id "${image}:builder" || true)
    if grep -qiE '^FROM .* AS builder$' "$dockerfile"; then
        if ! docker_build "$log" "${args[@]}" --target builder -f "$dockerfile" -t "${image}:builder" "$context"; then
            build_failed "$image" "$log"
        fi
    fi
    if ! docker_build "$log" "${args[@]}" --label "rce.build-hash=${hash}" -f "$dockerfile" -t "$image" "$context"; then
        build_failed "$image" "$log"
    fi
    rm -f "$log"
    new_id=$(image_id "$image")
    new_b=$(image_id "${image}:builder" || true)
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
    # the script itself, not make: 'up' needs no build tools on the host
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
    run_make module || die "the module build failed (above): fix what it names, then rerun './deploy.sh build'"
    say "done ($(took "$t0"))"
}

cmd_images() { # build the container images (docker/build-images.sh [--force] [lang...])
    ensure_engine
    "$REPO/docker/build-images.sh" "$@"
}

# The unmodified Piston client t/32-piston.t runs (npm's piston-client), pinned by
# t/js/package-lock.json: installed by 'npm ci', again only when the lock changed.
ensure_test_js() {
    local dir=$REPO/t/js
    [[ -f $dir/package-lock.json ]] || return 0
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        ensure_packages nodejs npm
    fi
    if [[ $dir/node_modules/.package-lock.json -nt $dir/package-lock.json ]]; then
        say "t/js: node modules present (npm ci ran after the lock last changed)"
        return 0
    fi
    say "npm ci --prefix t/js"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error \
        || die "npm ci in t/js failed (above): check that this host reaches the npm registry (npm ping), then rerun"
}

# The playground (the page at /, t/36-playground.t): 'make playground' runs npm ci in
# playground/ when its lock changed (CodeMirror, esbuild, playwright-core, pinned by
# playground/package-lock.json), then bundles it into build/playground.
ensure_playground() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        ensure_packages nodejs npm
    fi
    run_make playground || die "the playground build failed (above): check that this host reaches the npm registry (npm ping), then rerun"
}

cmd_test() { # install what is missing, build everything, run the tests (args go to prove)
    local t0 rc=0 env log; t0=$(now_ms)
    say "test: ${REPO} ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo 'no commit'))${RCE_SANITIZE:+, RCE_SANITIZE=${RCE_SANITIZE}}"
    step "packages";            ensure_packages "${PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    step "docker engine";       ensure_engine
    step "test node modules";   ensure_test_js
    step "playground";          ensure_playground
    step "workerd build";       run_make workerd || die "the workerd build failed (above)"
    step "workerd unit tests";  run_make check || die "workerd's unit tests failed (above)"
    step "nginx module build";  run_make module || die "the module build failed (above)"
    # the whole suite (no prove arguments) runs every fuzz target too, RCE_FUZZ_SECONDS each
    if (( $# == 0 )) && [[ ${RCE_FUZZ_SECONDS:-30} != 0 ]]; then
        step "fuzz targets";    make -C "$REPO" --no-print-directory fuzz FUZZ_SECONDS="${RCE_FUZZ_SECONDS:-30}" \
                                    || die "a fuzz target found a crash, a leak or a sanitizer report (above)"
    fi
    step "images";              run_make images || die "the images failed (above)"

    step "prove"
    [[ -d $REPO/t ]] || die "no ${REPO}/t: there are no tests to run"
    if (( $# == 0 )); then
        [[ -n $(find "$REPO/t" -name '*.t' -print -quit) ]] || die "no t/**/*.t test files found: there are no tests to run"
        set -- --timer -r t/      # each file's time in the log: what to trim when the suite grows
    fi
    # RCE_MODULE_SO and RCE_WORKERD: where the Makefile built them
    for env in $(make -s -C "$REPO" --no-print-directory test-env); do
        export "${env?}"
        say "$env"
    done
    say "prove $*"
    log=$(mktemp /tmp/rce-prove.XXXXXX)
    (cd "$REPO" && set -o pipefail && prove "$@" 2>&1 | tee "$log") || rc=$?
    step_end
    print_timings
    if (( rc != 0 )); then
        # a CI log is often kept by its tail only: the failures' own diagnostics again, at the end
        say "the failures' diagnostics, again:"
        awk '/^[[:space:]]*# +Failed test/ { n = 40 } n > 0 && /^[[:space:]]*#/ { print; n-- ; next } { n = 0 }' "$log" | head -300 >&2
        rm -f "$log"
        die "tests failed (prove exit ${rc}; $(took "$t0") in all): see the failures above; rerun one file with './deploy.sh test -v t/FILE.t'"
    fi
    rm -f "$log"
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
    [test]="install what is missing (npm ci in t/js when its lock changed), start dockerd, build workerd, the module and the images, run every fuzz target for RCE_FUZZ_SECONDS (30, one target per cpu at a time; not when prove args are given), then prove -r t/ (extra args go to prove; RCE_SANITIZE=1 uses workerd-asan)"
    [build]="build the nginx module into build/nginx (incremental: make module)"
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
