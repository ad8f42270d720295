#!/usr/bin/env bash
# loadtest/bench.sh: the benchmarks of issue 7, side by side, in one run on this machine.
#
#   loadtest/bench.sh            full run (about 3 minutes)
#   loadtest/bench.sh --quick    smoke version (under a minute; the numbers mean little)
#
# Latency, per language (python, javascript, java), medians in ms:
#   (a) docker run --rm --network none <image> <run command>   one container per job (the seed)
#   (b) the floor: the same run command inside one already running container with the
#       sandbox's cpu and memory limits (the language's rce.cpus, else 1 cpu; workerd's default
#       memory, 64 pids), timed in a loop by the container's own shell (no docker exec on the
#       clock). (b') the same in a container without limits. The targets are judged against
#       the lower of the two.
#   (c) the whole stack: rce-load open loop (python and javascript at 4/s, java at 1/s), p50
# Throughput at concurrency 8: rce-load -c 8 through the stack, against the raw container churn
#   rate: create-start-wait-remove through the Docker Engine API (curl --unix-socket), 8 at a time.
# Pipeline capacity: the same gateway and Redis with a workerd started with --bench-no-container
#   (answers without running anything): closed loop at high concurrency (jobs/s) and open loop
#   at 1,000/s (p99); then 10,000 requests held waiting at once (the node frozen with SIGSTOP,
#   its heartbeat kept fresh by this script so the gateway keeps routing to it), all answered
#   after SIGCONT.
# workerd idle RSS: a normal workerd with 25 slots, idle, before and after the latency runs;
#   beside it the floor of any libcurl Docker client here (loadtest/curl-floor: libcurl
#   initialised, one GET /_ping).
#
# Everything is started here on 127.0.0.1 (redis-server, the stock nginx with the module,
# workerd) and stopped on exit, whatever happens (trap); every loop is bounded in count and time.
# Needs: the built module and workerd (RCE_MODULE_SO, RCE_WORKERD; by default the repository's
# build/nginx/objs/ngx_rce_module.so and workerd/workerd), the images <prefix>python, javascript
# and java, docker access, redis-server, nginx, curl, perl.
# Exit status: 0 when every measurement ran (whether or not a target is met), 1 otherwise.
# shellcheck disable=SC2317  # cleanup and what it calls run from traps
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOAD=$ROOT/loadtest/rce-load
MIX=$ROOT/loadtest/mix
MODULE_SO=${RCE_MODULE_SO:-$ROOT/build/nginx/objs/ngx_rce_module.so}
WORKERD=${RCE_WORKERD:-$ROOT/workerd/workerd}
# nginx reads the module path relative to its own prefix: make both absolute
MODULE_SO=$(realpath -m "$MODULE_SO") WORKERD=$(realpath -m "$WORKERD")
SOCK=${RCE_DOCKER_SOCKET:-/var/run/docker.sock}
PREFIX=${RCE_IMAGE_PREFIX:-rce/}
API=v1.41
LANGS=(python javascript java)

usage() {
    sed -n '2,/^# shellcheck/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    echo "Options: --quick   --hold N (requests held at once, default 10000; --quick 500)"
}

QUICK=0 HOLD=''
while (( $# )); do
    case $1 in
        --quick) QUICK=1 ;;
        --hold) HOLD=${2:?--hold needs a number}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ -z $HOLD || $HOLD =~ ^[1-9][0-9]{0,5}$ ]] || { echo "bench.sh: --hold wants 1-999999" >&2; exit 2; }

if (( QUICK )); then
    SEQ=3 RATE_S=2 JAVA_S=2 TP_N=16 CHURN_N=16 CAP_S=2 OPEN_S=2 HOLD=${HOLD:-500} MAX_S=240
else
    SEQ=20 RATE_S=15 JAVA_S=20 TP_N=120 CHURN_N=120 CAP_S=10 OPEN_S=10 HOLD=${HOLD:-10000} MAX_S=1200
fi
CAP_C=256           # closed-loop concurrency of the capacity run
BENCH_SLOTS=64      # slots of the --bench-no-container node
declare -A RATE=([python]=4 [javascript]=4 [java]=1)
declare -A DUR=([python]=$RATE_S [javascript]=$RATE_S [java]=$JAVA_S)
declare -A SRC=([python]=hello.py [javascript]=hello.js [java]=Hello.java)
declare -A MAIN=([python]=main.py [javascript]=main.js [java]=Main.java)
EXPECT="hello from rce"
FLOOR_MB=${RCE_MEMORY_MB:-256}   # what the stack's jobs get: workerd's default memory limit (these languages need no more)

say() { printf '[bench] %s\n' "$*" >&2; }
die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }
now() { echo "$EPOCHREALTIME"; }
# median of the numbers on stdin ("" if none)
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# arith A OP B (OP one of + - * /): the result with 2 decimals, "" if A or B is empty
arith() {
    [[ -n $1 && -n $3 ]] || return 0
    awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN { r = op == "+" ? a + b : op == "-" ? a - b : op == "*" ? a * b : (b ? a / b : 0)
        printf "%.2f", r }'
}
# jget FILE a/b/c: one value from rce-load's JSON
jget() {
    perl -MJSON::PP -0777 -e 'my $j = eval { decode_json(<STDIN>) }; for my $k (split m{/}, $ARGV[0]) {
        $j = ref $j eq "HASH" ? $j->{$k} : undef } print defined $j ? (ref $j ? ($j ? 1 : 0) : $j) : ""' "$2" <"$1"
}
free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
        LocalPort => 0, Proto => "tcp", ReuseAddr => 1)->sockport'
}
dapi() { # METHOD PATH [JSON]: one Docker Engine API call, body on stdout
    local args=(-sS --fail --max-time 60 --unix-socket "$SOCK" -X "$1")
    [[ -z ${3:-} ]] || args+=(-H 'Content-Type: application/json' -d "$3")
    curl "${args[@]}" "http://docker/$API$2"
}

# --- preflight --------------------------------------------------------------------------------
for f in "$MODULE_SO" "$WORKERD"; do
    [[ -e $f ]] || die "$f is missing: build it (./deploy.sh build; make -C workerd) or set RCE_MODULE_SO / RCE_WORKERD"
done
for c in redis-server redis-cli nginx curl perl docker ss; do
    command -v "$c" >/dev/null || die "$c is not installed"
done
make -s -C "$ROOT/loadtest" >/dev/null || die "make -C loadtest failed"
dapi GET /_ping >/dev/null || die "the Docker engine does not answer on $SOCK"
for l in "${LANGS[@]}"; do
    docker image inspect "$PREFIX$l" >/dev/null 2>&1 || die "image $PREFIX$l is missing: docker/build-images.sh"
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if (( NOFILE < HOLD + 1000 )); then
    say "open files limit $NOFILE: holding $(( NOFILE - 1000 )) requests instead of $HOLD"
    HOLD=$(( NOFILE - 1000 ))
    (( HOLD > 0 )) || die "open files limit $NOFILE is too low"
fi

# --- helpers for the stack (used by the cleanup too) -------------------------------------------
start_workerd() { # NAME ARGS...
    WD_NAME=$TAG-$1; shift
    "$WORKERD" --redis "127.0.0.1:$REDIS_PORT" --name "$WD_NAME" --docker-socket "$SOCK" \
        --image-prefix "$PREFIX" "$@" >"$WORK/workerd-$WD_NAME.log" 2>&1 &
    WD_PID=$!
}
stop_workerd() {
    [[ -n $WD_PID ]] || return 0
    kill -CONT "$WD_PID" 2>/dev/null || true
    kill -TERM "$WD_PID" 2>/dev/null || true
    for _ in {1..400}; do kill -0 "$WD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$WD_PID" 2>/dev/null || true
    wait "$WD_PID" 2>/dev/null || true
    WD_PID=
}
# waits until /health lists exactly our node (with "bench":true when $1 is bench)
wait_node() {
    local want=\"name\":\"$WD_NAME\" body
    for _ in {1..200}; do
        body=$(curl -s --max-time 2 "$URL/health" || true)
        if [[ $body == *"$want"* && $(grep -o '"name":' <<<"$body" | wc -l) -eq 1 ]] \
           && [[ ${1:-} != bench || $body == *'"bench":true'* ]] \
           && [[ $body == *'"java"'* && $body == *'"python"'* && $body == *'"javascript"'* ]]; then
            sleep 1     # every nginx worker reads the node list each 0.5 s: let all see it
            return 0
        fi
        sleep 0.1
    done
    die "node $WD_NAME did not show in /health: $body"
}
rss_kib() { ps -o rss= -p "$1" | tr -d ' '; }
anon_kib() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"; }   # its private part (the rest: the binary and shared libraries)
# rce-load ARGS... > $WORK/NAME.json (its exit status is not used: the report says it all)
load() {
    local name=$1; shift
    "$LOAD" --url "$URL" --json -q --max-time 300 "$@" >"$WORK/$name.json" 2>"$WORK/$name.err" || true
    [[ -s $WORK/$name.json ]] || die "rce-load $* gave no report: $(cat "$WORK/$name.err")"
}

TAG=bench$$
WORK=$(mktemp -d /tmp/rce-bench.XXXXXX)
chmod 711 "$WORK"       # nginx workers (nobody) write request bodies under it
PIDS=()                 # background processes of ours, stopped on exit
REDIS_PID='' NGINX_DIR=$WORK/nginx WD_PID='' WD_NAME='' KEEPER_PID='' WATCHDOG=
FLOOR_CONTAINERS=()

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    set +e
    [[ -z $WATCHDOG ]] || kill "$WATCHDOG" 2>/dev/null
    [[ -z $KEEPER_PID ]] || kill "$KEEPER_PID" 2>/dev/null
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    stop_workerd
    if [[ -f $NGINX_DIR/nginx.pid ]]; then
        p=$(cat "$NGINX_DIR/nginx.pid")
        nginx -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" -s stop 2>/dev/null
        for _ in {1..50}; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    fi
    if [[ -n $REDIS_PID ]]; then kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; fi
    for p in "${FLOOR_CONTAINERS[@]}"; do docker rm -f "$p" >/dev/null 2>&1; done
    # churn containers and any job container of our nodes
    for p in $(docker ps -aq --filter "label=rce.bench=$TAG") \
             $(docker ps -aq --filter "label=rce.node=$TAG-real") \
             $(docker ps -aq --filter "label=rce.node=$TAG-bench"); do
        docker rm -f "$p" >/dev/null 2>&1
    done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [[ -n ${RCE_KEEP:-} ]]; then say "logs kept in $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "stopped by a signal (SIGTERM also comes from the ${MAX_S} s bound of the whole run)"; exit 130' INT TERM
# the bound of the whole run; it holds no descriptor of ours, and takes its sleep with it
( exec >/dev/null 2>&1 </dev/null; trap 'kill $s; exit 0' TERM; sleep "$MAX_S" & s=$!; wait $s; kill -TERM $$ ) &
WATCHDOG=$!

mkdir -p "$WORK/progs" "$NGINX_DIR/logs"
for l in "${LANGS[@]}"; do cp "$MIX/${SRC[$l]}" "$WORK/progs/${MAIN[$l]}"; done
chmod 755 "$WORK/progs"; chmod 644 "$WORK/progs"/*

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "machine: $(nproc) cpus, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory; load average $LOADAVG_START"

# --- the stack ----------------------------------------------------------------------------------
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in {1..100}; do [[ $(redis-cli -p "$REDIS_PORT" PING 2>/dev/null) == PONG ]] && break; sleep 0.1; done
[[ $(redis-cli -p "$REDIS_PORT" PING 2>/dev/null) == PONG ]] || die "redis-server did not start"
rcli() { redis-cli -p "$REDIS_PORT" --raw "$@"; }

HTTP_PORT=$(free_port)
URL=http://127.0.0.1:$HTTP_PORT
WORKER_CONNECTIONS=$(( HOLD + 1024 ))   # one nginx worker may get every held connection
cat >"$NGINX_DIR/nginx.conf" <<CONF
load_module $MODULE_SO;
worker_processes auto;
worker_rlimit_nofile $NOFILE;
error_log $NGINX_DIR/logs/error.log info;
pid $NGINX_DIR/nginx.pid;
events { worker_connections $WORKER_CONNECTIONS; }
http {
    access_log $NGINX_DIR/logs/access.log;
    client_body_temp_path $NGINX_DIR/body;
    proxy_temp_path $NGINX_DIR/proxy;
    fastcgi_temp_path $NGINX_DIR/fastcgi;
    uwsgi_temp_path $NGINX_DIR/uwsgi;
    scgi_temp_path $NGINX_DIR/scgi;
    client_body_buffer_size 64k;
    rce_redis 127.0.0.1:$REDIS_PORT;
    rce_timeout 120s;
    server {
        listen 127.0.0.1:$HTTP_PORT backlog=4096;
        location /lang/ { rce_run; }
        location = /health { rce_health; }
    }
}
CONF
nginx -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" -q || die "nginx did not start: $(cat "$NGINX_DIR/logs/error.log")"

say "stack: redis 127.0.0.1:$REDIS_PORT, nginx $URL, workerd $WORKERD"
start_workerd real           # a normal node: 25 slots, real containers
wait_node
sleep 3
RSS_IDLE_START=$(rss_kib "$WD_PID") ANON_IDLE_START=$(anon_kib "$WD_PID")
say "workerd idle (25 slots, just started): RSS $RSS_IDLE_START KiB, anonymous $ANON_IDLE_START KiB"
read -r _ CURL_RSS _ CURL_ANON _ < <("$ROOT/loadtest/curl-floor" "$SOCK") || die "loadtest/curl-floor failed"
say "a program that only calls Docker once through libcurl: RSS $CURL_RSS KiB, anonymous $CURL_ANON KiB"

# --- (a), (b), (c): latency per language --------------------------------------------------------
declare -A DOCKER_MED FLOOR_MED FLOOR_FREE_MED FLOOR_LOW FLOOR_CPUS STACK_P50 STACK_OK STACK_N
for l in "${LANGS[@]}"; do
    image=$PREFIX$l
    mapfile -t RUN < <(docker image inspect -f '{{index .Config.Labels "rce.run"}}' "$image" \
        | perl -MJSON::PP -0777 -ne 'print "$_\n" for @{ decode_json($_) }')
    (( ${#RUN[@]} )) || die "$image has no rce.run label"
    # a run command that compiles itself writes the compile line where {compile-marker} says
    for i in "${!RUN[@]}"; do [[ ${RUN[$i]} != '{compile-marker}' ]] || RUN[$i]=$'\x1erce-compiled-bench'; done
    # the CPUs its jobs get, as workerd decides it: rce.cpus, else one, at most the machine's
    cpus=$(docker image inspect -f '{{index .Config.Labels "rce.cpus"}}' "$image")
    [[ $cpus =~ ^[1-9][0-9]*$ ]] || cpus=1
    (( cpus <= $(getconf _NPROCESSORS_ONLN) )) || cpus=$(getconf _NPROCESSORS_ONLN)
    (( ${RCE_MAX_CPUS:-0} == 0 || cpus <= RCE_MAX_CPUS )) || cpus=$RCE_MAX_CPUS   # workerd's --max-cpus
    FLOOR_CPUS[$l]=$cpus
    # warm the engine's and the stack's caches (not counted)
    for _ in 1 2; do
        curl -s --max-time 60 --data-binary "@$MIX/${SRC[$l]}" "$URL/lang/$l" >/dev/null || true
    done

    # (b) the floor: one running container, the run command timed by the container's shell;
    # with the sandbox's limits, then (b') without
    for kind in limited free; do
        c=$TAG-floor-$kind-$l
        FLOOR_CONTAINERS+=("$c")
        limits=()
        [[ $kind == free ]] || limits=(--cpus "$cpus" --memory "${FLOOR_MB}m" --memory-swap "${FLOOR_MB}m" --pids-limit 64)
        timeout 60 docker run -d --rm --name "$c" --label "rce.bench=$TAG" --network none "${limits[@]}" \
            -v "$WORK/progs:/src:ro" -w /src "$image" sleep 900 >/dev/null
        out=$(timeout 60 docker exec "$c" "${RUN[@]}" 2>&1 | grep -av $'^\x1erce-compiled-bench ' || true)
        [[ $out == "$EXPECT" ]] || die "floor: $l in its container printed '$out'"
        # shellcheck disable=SC2016  # expanded by the container's bash
        med=$(timeout 300 docker exec "$c" bash -c 'n=$1; shift
            for (( i = 0; i < n; i++ )); do
                t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1; t1=$EPOCHREALTIME
                echo "$t0 $t1"
            done' bash "$SEQ" "${RUN[@]}" | awk '{ printf "%.3f\n", ($2 - $1) * 1000 }' | median)
        if [[ $kind == free ]]; then FLOOR_FREE_MED[$l]=$med; else FLOOR_MED[$l]=$med; fi
        docker rm -f "$c" >/dev/null 2>&1 || true
    done
    FLOOR_LOW[$l]=$(awk -v a="${FLOOR_MED[$l]}" -v b="${FLOOR_FREE_MED[$l]}" 'BEGIN { print (a < b ? a : b) }')

    # (a) docker run --rm per job, sequentially
    : >"$WORK/docker-$l.ms"
    for (( i = 0; i < SEQ; i++ )); do
        t0=$(now)
        out=$(timeout 120 docker run --rm --network none --label "rce.bench=$TAG" \
              -v "$WORK/progs:/src:ro" -w /src "$image" "${RUN[@]}" 2>&1 | grep -av $'^\x1erce-compiled-bench ' || true)
        t1=$(now)
        [[ $out == "$EXPECT" ]] || die "docker run $image printed '$out'"
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }' >>"$WORK/docker-$l.ms"
    done
    DOCKER_MED[$l]=$(median <"$WORK/docker-$l.ms")

    # (c) the whole stack, open loop
    load "stack-$l" --lang "$l" --code "$MIX/${SRC[$l]}" --expect "$MIX/hello.out" \
        --rate "${RATE[$l]}" -d "${DUR[$l]}"
    STACK_P50[$l]=$(jget "$WORK/stack-$l.json" latency_ms/p50)
    STACK_OK[$l]=$(jget "$WORK/stack-$l.json" ok)
    STACK_N[$l]=$(jget "$WORK/stack-$l.json" requests)
    say "$l: docker run ${DOCKER_MED[$l]} ms, floor ${FLOOR_MED[$l]} ms with ${FLOOR_CPUS[$l]} cpu (${FLOOR_FREE_MED[$l]} ms without limits), stack p50 ${STACK_P50[$l]} ms (${STACK_OK[$l]}/${STACK_N[$l]} ok at ${RATE[$l]}/s)"
done

# --- throughput at concurrency 8 vs raw container churn ------------------------------------------
# The raw spec: python hello with no network and no log driver, as workerd's containers have
# (NetworkDisabled halves the engine's start time here), and none of the sandbox's limits.
SPEC=$(perl -MJSON::PP -e 'print encode_json({ Image => $ARGV[0], Cmd => ["python3", "-c", "print(\"hello\")"],
    NetworkDisabled => JSON::PP::true, Labels => { "rce.bench" => $ARGV[1] },
    HostConfig => { NetworkMode => "none", LogConfig => { Type => "none", Config => {} } } })' "${PREFIX}python" "$TAG")
churn() { # COUNT OUTFILE: create, start, wait, remove, COUNT times
    local i id code
    for (( i = 0; i < $1; i++ )); do
        id=$(dapi POST /containers/create "$SPEC" | sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p') || true
        if [[ -z $id ]]; then echo fail >>"$2"; continue; fi
        code=fail
        if dapi POST "/containers/$id/start" >/dev/null; then
            code=$(dapi POST "/containers/$id/wait" | sed -n 's/.*"StatusCode":\([0-9]*\).*/\1/p') || code=fail
        fi
        dapi DELETE "/containers/$id?force=1" >/dev/null || code=fail
        echo "${code:-fail}" >>"$2"
    done
}
# Two rounds, stack then churn each time, so that a change in the machine's load (it is shared)
# weighs on both sides alike; the rates are totals over the rounds.
ROUNDS=$(( QUICK ? 1 : 2 ))
TP_OK=0 TP_BAD=0 TP_S=0 CHURN_OK=0 CHURN_S=0
: >"$WORK/churn"
for (( round = 1; round <= ROUNDS; round++ )); do
    load "tp8-$round" -c 8 -n $(( TP_N / ROUNDS )) --lang python --code "$MIX/hello.py" --expect "$MIX/hello.out"
    TP_OK=$(( TP_OK + $(jget "$WORK/tp8-$round.json" ok) ))
    TP_BAD=$(( TP_BAD + $(jget "$WORK/tp8-$round.json" errors) + $(jget "$WORK/tp8-$round.json" wrong) ))
    TP_S=$(arith "$TP_S" + "$(jget "$WORK/tp8-$round.json" elapsed_s)")

    n=$(( CHURN_N / ROUNDS ))
    t0=$(now)
    CHURN_PIDS=()
    for (( w = 0; w < 8; w++ )); do
        churn $(( (n + 7 - w) / 8 )) "$WORK/churn" &
        CHURN_PIDS+=($!); PIDS+=($!)
    done
    for p in "${CHURN_PIDS[@]}"; do wait "$p" || true; done
    CHURN_S=$(arith "$CHURN_S" + "$(arith "$(now)" - "$t0")")
done
CHURN_OK=$(grep -c '^0$' "$WORK/churn" || true)
TP_RPS=$(arith "$TP_OK" / "$TP_S")
CHURN_RPS=$(arith "$CHURN_OK" / "$CHURN_S")
say "stack, python, -c 8: $TP_OK/$TP_N ok, $TP_RPS ok/s, $TP_BAD errors or wrong outputs"
say "raw churn, 8 at a time: $CHURN_OK/$CHURN_N containers, $CHURN_RPS/s"

sleep 11    # idle: workerd gives freed memory back every 10 s when no job runs
RSS_IDLE_AFTER=$(rss_kib "$WD_PID") ANON_IDLE_AFTER=$(anon_kib "$WD_PID")
say "workerd idle after the runs: RSS $RSS_IDLE_AFTER KiB, anonymous $ANON_IDLE_AFTER KiB"
stop_workerd

# --- pipeline capacity: a node in benchmark mode -------------------------------------------------
# --queue-max: the node's backpressure bound must not refuse (503) the closed loop's 256 in
# flight or the held requests below; the gateway and the pipeline are measured, not the bound.
start_workerd bench --bench-no-container --slots "$BENCH_SLOTS" --queue-max 1000000
wait_node bench
grep -q 'BENCHMARK MODE' "$WORK/workerd-$WD_NAME.log" || die "the bench node did not log its mode"
hdr=$(curl -s -D - -o /dev/null --max-time 10 --data-binary 'print(1)' "$URL/lang/python")
[[ $hdr == *'X-RCE-Reason: benchmark mode: no container was run'* ]] \
    || die "the bench node's answer is not marked: $hdr"
say "bench node $WD_NAME up: /health shows \"bench\":true, answers carry X-RCE-Reason"

load cap -c "$CAP_C" -d "$CAP_S" --mix "$MIX/bench.mix"
CAP_RPS=$(jget "$WORK/cap.json" ok_rps)
CAP_BAD=$(( $(jget "$WORK/cap.json" errors) + $(jget "$WORK/cap.json" wrong) ))
CAP_P50=$(jget "$WORK/cap.json" latency_ms/p50)
say "capacity, closed loop -c $CAP_C: $CAP_RPS ok/s (p50 $CAP_P50 ms), $CAP_BAD errors or wrong"

load open --rate 1000 -d "$OPEN_S" --mix "$MIX/bench.mix"
OPEN_P50=$(jget "$WORK/open.json" latency_ms/p50)
OPEN_P99=$(jget "$WORK/open.json" latency_ms/p99)
OPEN_P999=$(jget "$WORK/open.json" latency_ms/p99.9)
OPEN_BAD=$(( $(jget "$WORK/open.json" errors) + $(jget "$WORK/open.json" wrong) + $(jget "$WORK/open.json" dropped) ))
OPEN_LATE=$(jget "$WORK/open.json" late)
say "open loop 1000/s: p50 $OPEN_P50, p99 $OPEN_P99, p99.9 $OPEN_P999 ms; $OPEN_BAD errors/wrong/dropped, $OPEN_LATE late"

# --- $HOLD requests waiting at once ---------------------------------------------------------------
# The node is frozen (SIGSTOP) and its last heartbeat is rewritten every 0.5 s, so the gateway
# keeps routing to it: every request is queued and waits in nginx until SIGCONT.
NODE_JSON=$(rcli GET "rce:node:$WD_NAME")
kill -STOP "$WD_PID"
(
    exec >/dev/null 2>&1 </dev/null
    for (( i = 0; i < 2 * MAX_S; i++ )); do
        redis-cli -p "$REDIS_PORT" SET "rce:node:$WD_NAME" "$NODE_JSON" PX 3000
        sleep 0.5
    done
) &
KEEPER_PID=$!; PIDS+=($!)
"$LOAD" --url "$URL" --json -q --max-time 300 --timeout 110 -c "$HOLD" -n "$HOLD" \
    --mix "$MIX/bench.mix" >"$WORK/hold.json" 2>"$WORK/hold.err" &
HOLD_LOAD=$!; PIDS+=($!)
HELD_QUEUE=0 HELD_CONN=0
t0=$(now)
for (( i = 0; i < 600; i++ )); do      # at most 60 s
    # queued, plus the few the frozen node's pending BLMOVEs still moved to its running list
    q=$(rcli EVAL "return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2])" 2 \
        "rce:queue:$WD_NAME" "rce:running:$WD_NAME" 2>/dev/null || echo 0)
    n=$(ss -Htn state established "( sport = :$HTTP_PORT )" 2>/dev/null | wc -l)
    (( q > HELD_QUEUE )) && HELD_QUEUE=$q
    (( n > HELD_CONN )) && HELD_CONN=$n
    (( q >= HOLD )) && break
    kill -0 "$HOLD_LOAD" 2>/dev/null || break
    sleep 0.1
done
HOLD_FILL_S=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
sleep 1
n=$(ss -Htn state established "( sport = :$HTTP_PORT )" 2>/dev/null | wc -l)
(( n > HELD_CONN )) && HELD_CONN=$n
HEALTH_MS=$(curl -s -o /dev/null -w '%{time_total}' --max-time 10 "$URL/health" | awk '{ printf "%.1f", $1 * 1000 }')
NGINX_RSS=$(ps -o rss= --ppid "$(cat "$NGINX_DIR/nginx.pid")" | awk '{ s += $1 } END { printf "%.0f", s / 1024 }')
say "held: $HELD_QUEUE jobs waiting in Redis, $HELD_CONN client connections open (filled in $HOLD_FILL_S s); /health took $HEALTH_MS ms meanwhile; nginx workers' RSS $NGINX_RSS MiB"
kill "$KEEPER_PID" 2>/dev/null || true; wait "$KEEPER_PID" 2>/dev/null || true; KEEPER_PID=
kill -CONT "$WD_PID"
t0=$(now)
wait "$HOLD_LOAD" || true      # its report says how many were answered ok
HOLD_DRAIN_S=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
[[ -s $WORK/hold.json ]] || die "rce-load (hold) gave no report: $(cat "$WORK/hold.err")"
HOLD_OK=$(jget "$WORK/hold.json" ok)
say "after SIGCONT: $HOLD_OK/$HOLD answered ok in $HOLD_DRAIN_S s"
stop_workerd

LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------------------------
le() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
verdict() { if [[ -z $1 || -z $2 ]]; then echo "not measured"; elif le "$1" "$2"; then echo met; else echo "not met"; fi; }
f1() { [[ -n $1 ]] && awk -v a="$1" 'BEGIN { printf "%.1f", a }' || printf -- '-'; }

echo
echo "rce benchmarks ($( ((QUICK)) && echo 'loadtest/bench.sh --quick: a smoke run, numbers not meaningful' || echo 'loadtest/bench.sh'))"
echo "machine: $(nproc) cpus ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); load average $LOADAVG_START at start, $LOADAVG_END at end"
echo
echo "Hello world, medians in ms (docker run and floor: $SEQ sequential runs each; stack: rce-load open loop)"
printf '| %-10s | %15s | %19s | %19s | %-22s | %12s | %12s |\n' language "(a) docker run" "(b) floor, limits" "(b') floor, no limit" "(c) stack p50" "(c)/(a)" "(c)-min(b,b')"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------ ----------------: ---------------------: ---------------------: ------------------------ --------------: --------------:
for l in "${LANGS[@]}"; do
    printf '| %-10s | %15s | %19s | %19s | %-22s | %12s | %12s |\n' "$l" "$(f1 "${DOCKER_MED[$l]}")" \
        "$(f1 "${FLOOR_MED[$l]}") (${FLOOR_CPUS[$l]} cpu)" \
        "$(f1 "${FLOOR_FREE_MED[$l]}")" \
        "$(f1 "${STACK_P50[$l]}") (${RATE[$l]}/s, ${STACK_OK[$l]}/${STACK_N[$l]} ok)" \
        "$(arith "${STACK_P50[$l]}" / "${DOCKER_MED[$l]}")" \
        "$(f1 "$(arith "${STACK_P50[$l]}" - "${FLOOR_LOW[$l]}")")"
done
echo
echo "Throughput at concurrency 8 (python hello): stack $(f1 "$TP_RPS") ok/s ($TP_OK/$TP_N ok), raw container churn $(f1 "$CHURN_RPS")/s ($CHURN_OK/$CHURN_N)"
echo "Benchmark mode (workerd --bench-no-container, $BENCH_SLOTS slots, bench.mix): closed loop -c $CAP_C for ${CAP_S} s $(f1 "$CAP_RPS") ok/s; open loop 1000/s for ${OPEN_S} s p50 $(f1 "$OPEN_P50") p99 $(f1 "$OPEN_P99") p99.9 $(f1 "$OPEN_P999") ms"
echo "Held at once: $HELD_QUEUE jobs waiting / $HELD_CONN client connections of $HOLD sent (node frozen with SIGSTOP), $HOLD_OK answered ok after SIGCONT in $HOLD_DRAIN_S s; /health $HEALTH_MS ms while holding; nginx workers $NGINX_RSS MiB"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo "workerd RSS, 25 slots, idle: $(mib "$RSS_IDLE_START") MiB at start, $(mib "$RSS_IDLE_AFTER") MiB after the runs (anonymous memory $(mib "$ANON_IDLE_START") and $(mib "$ANON_IDLE_AFTER") MiB; the rest is file-backed: the binary and its shared libraries); a program that only calls Docker once through libcurl: $(mib "$CURL_RSS") MiB ($(mib "$CURL_ANON") MiB anonymous)"
echo

py_p50=${STACK_P50[python]}
tp_ratio=$(awk -v a="$TP_RPS" -v b="$CHURN_RPS" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
rss_max=$(( RSS_IDLE_AFTER > RSS_IDLE_START ? RSS_IDLE_AFTER : RSS_IDLE_START ))
rss_mib=$(mib "$rss_max")
anon_mib=$(mib "$(( ANON_IDLE_AFTER > ANON_IDLE_START ? ANON_IDLE_AFTER : ANON_IDLE_START ))")
row() { printf '| %-52s | %-44s | %-12s |\n' "$1" "$2" "$3"; }
row target measured result
printf '|%s|%s|%s|\n' ------------------------------------------------------ ---------------------------------------------- --------------
row "Python hello p50 via the stack at 4/s <= 25 ms" "$(f1 "$py_p50") ms" "$(verdict "$py_p50" 25)"
row "... <= 0.1 x docker run (same run)" "$(arith "$py_p50" / "${DOCKER_MED[python]}") x ($(f1 "${DOCKER_MED[python]}") ms)" \
    "$(verdict "$(arith "$py_p50" / "${DOCKER_MED[python]}")" 0.1)"
row "... overhead over the floor <= 10 ms" "$(f1 "$(arith "$py_p50" - "${FLOOR_LOW[python]}")") ms (floor $(f1 "${FLOOR_LOW[python]}") ms)" \
    "$(verdict "$(arith "$py_p50" - "${FLOOR_LOW[python]}")" 10)"
for l in javascript java; do
    row "$(tr j J <<<"${l:0:1}")${l:1} hello p50 <= floor + 30 ms" \
        "$(f1 "${STACK_P50[$l]}") ms (floor $(f1 "${FLOOR_MED[$l]}"), no limit $(f1 "${FLOOR_FREE_MED[$l]}"))" \
        "$(verdict "${STACK_P50[$l]}" "$(arith "${FLOOR_LOW[$l]}" + "30")")"
done
tp_verdict=$(verdict "$(arith "0.9" '*' "$CHURN_RPS")" "$TP_RPS")
(( TP_BAD == 0 )) || tp_verdict="not met ($TP_BAD errors)"
row "Throughput at -c 8 >= 0.9 x raw churn, zero errors" "$tp_ratio x ($(f1 "$TP_RPS") vs $(f1 "$CHURN_RPS")/s, $TP_BAD errors)" "$tp_verdict"
cap_verdict=$(verdict 5000 "$CAP_RPS")
(( CAP_BAD == 0 )) || cap_verdict="$cap_verdict ($CAP_BAD errors)"
row "Pipeline capacity (bench mode) >= 5,000 jobs/s" "$(f1 "$CAP_RPS") jobs/s" "$cap_verdict"
open_verdict=$(verdict "$OPEN_P99" 10)
(( OPEN_BAD == 0 )) || open_verdict="$open_verdict ($OPEN_BAD errors)"
row "p99 <= 10 ms at 1,000 jobs/s (bench mode)" "$(f1 "$OPEN_P99") ms (p50 $(f1 "$OPEN_P50") ms)" "$open_verdict"
if (( HOLD < 10000 )); then hold_verdict="not measured (--hold $HOLD)"
elif (( HELD_QUEUE >= 10000 && HOLD_OK == HOLD )); then hold_verdict=met
else hold_verdict="not met"; fi
row "One gateway holds 10,000 waiting requests" "$HELD_QUEUE held at once, $HOLD_OK/$HOLD answered ok" "$hold_verdict"
row "workerd idle RSS (25 slots) <= 10 MiB" "$rss_mib MiB ($anon_mib anonymous; libcurl alone $(mib "$CURL_RSS"))" "$(verdict "$rss_mib" 10)"
echo

# a measurement that did not run as planned makes the exit status 1
bad=0
for l in "${LANGS[@]}"; do [[ ${STACK_OK[$l]} == "${STACK_N[$l]}" && ${STACK_N[$l]} -gt 0 ]] || bad=1; done
(( CHURN_OK > 0 && TP_OK > 0 && HOLD_OK > 0 )) || bad=1
exit "$bad"
