#!/usr/bin/env bash
# shellcheck disable=SC1003,SC2317  # lone backslashes in quotes; cleanup runs from a trap
# Runs one program in a language image the way a job runs: through the image's
# labels (docker/lang/README.md), in the sandbox, with the language's limits.
#
#   docker/lang/try.sh [options] LANGUAGE SOURCE-FILE
#
#   --stdin FILE    the program's standard input (default: none, /dev/null)
#   --result FILE   write the figures there, one key=value a line:
#                   compiled, compile_exit, compile_oom, compile_ms,
#                   compile_peak_mb, exit, oom, timeout, run_ms, peak_mb
#   --image-env     keep the image's ENV; by default the program gets only
#                   PATH, HOME and LANG (env -i): every image must work both ways
#   --memory MB     run step memory instead of the language's
#   --compile-memory MB   the same for the compile step
#   --wall MS       run step wall-clock limit instead of the language's
#   --image IMAGE   use IMAGE instead of ${RCE_IMAGE_PREFIX:-rce/}LANGUAGE
#
# SOURCE-FILE is written into /work under the rce.main name.  When the image
# has rce.compile, a first container runs it (compile limits) and a second
# one runs rce.run (run limits) on the same /work, a tmpfs volume (kept
# mounted in between by a third, idle container); else one container writes
# and runs.  Each container has workerd's sandbox flags.  The compiler's
# output goes to stderr, the program's stdout and stderr to stdout and
# stderr.  Exit status: the program's (128+n for signal n), or the
# compiler's when it failed (the program does not run then), or 124 when a
# wall-clock limit was hit.
#
# Used by docker/build-images.sh (smoke test) and t/60-languages.t; handy by
# hand when adding a language.  Every container and volume it makes is
# removed on exit.
set -euo pipefail

PREFIX=${RCE_IMAGE_PREFIX:-rce/}
# Node defaults (workerd's) for what a language does not override.
DEF_WALL_MS=10000 DEF_MEMORY_MB=256 DEF_PIDS=64
TMPFS_MB=64

STDIN='' RESULT='' IMAGE_ENV=0 RUN_MEMORY='' COMPILE_MEMORY='' IMAGE='' RUN_WALL=''
die() { printf '[try] %s\n' "$*" >&2; exit 2; }
while (( $# )); do
    case $1 in
        --stdin) STDIN=$2; shift ;;
        --result) RESULT=$2; shift ;;
        --image-env) IMAGE_ENV=1 ;;
        --memory) RUN_MEMORY=$2; shift ;;
        --compile-memory) COMPILE_MEMORY=$2; shift ;;
        --image) IMAGE=$2; shift ;;
        --wall) RUN_WALL=$2; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) break ;;
    esac
    shift
done
(( $# == 2 )) || die "usage: $0 [--stdin FILE] [--result FILE] [--image-env] [...] LANGUAGE SOURCE-FILE (see --help)"
LANG_NAME=$1 SOURCE=$2
IMAGE=${IMAGE:-$PREFIX$LANG_NAME}
[[ -r $SOURCE ]] || die "cannot read $SOURCE"
[[ -z $STDIN || -r $STDIN ]] || die "cannot read $STDIN"

# --- the labels ---------------------------------------------------------------

fmt='{{index .Config.Labels "rce.main"}}{{"\n"}}{{index .Config.Labels "rce.run"}}{{"\n"}}'
fmt+='{{index .Config.Labels "rce.compile"}}{{"\n"}}{{index .Config.Labels "rce.limits"}}{{"\n"}}'
fmt+='{{index .Config.Labels "rce.cpus"}}'
{ IFS= read -r MAIN; IFS= read -r RUN_JSON; IFS= read -r COMPILE_JSON; IFS= read -r LIMITS; IFS= read -r CPUS; } \
    < <(docker image inspect -f "$fmt" "$IMAGE" 2>/dev/null) || die "no image $IMAGE (docker/build-images.sh $LANG_NAME)"
for v in MAIN RUN_JSON COMPILE_JSON LIMITS CPUS; do
    [[ ${!v} != '<no value>' ]] || printf -v "$v" '%s' ''
done
[[ -n $MAIN && -n $RUN_JSON ]] || die "$IMAGE lacks rce.main or rce.run"
# CPUs at once: rce.cpus, else one; at most the machine's (as workerd clamps it)
[[ $CPUS =~ ^[1-9][0-9]*$ ]] || CPUS=1
(( CPUS <= $(getconf _NPROCESSORS_ONLN) )) || CPUS=$(getconf _NPROCESSORS_ONLN)

# json_argv JSON: a JSON array of strings into the array ARGV.
ARGV=()
json_argv() {
    local s=$1 i=0 n=${#1} c w='' state=start
    ARGV=()
    while (( i < n )); do
        c=${s:i:1}
        case $state in
            start) if [[ $c == '[' ]]; then state=value; elif [[ $c != [[:space:]] ]]; then return 1; fi ;;
            value) if [[ $c == '"' ]]; then state=str w=
                   elif [[ $c == ']' && ${#ARGV[@]} -eq 0 ]]; then state=end
                   elif [[ $c != [[:space:]] ]]; then return 1; fi ;;
            str)   if [[ $c == '"' ]]; then ARGV+=("$w"); state=next
                   elif [[ $c == '\' ]]; then
                       i=$(( i + 1 )); c=${s:i:1}
                       case $c in
                           '"'|'\'|/) w+=$c ;;
                           t) w+=$'\t' ;; n) w+=$'\n' ;; r) w+=$'\r' ;;
                           *) return 1 ;;
                       esac
                   else w+=$c; fi ;;
            next)  if [[ $c == , ]]; then state=value
                   elif [[ $c == ']' ]]; then state=end
                   elif [[ $c != [[:space:]] ]]; then return 1; fi ;;
            end)   [[ $c == [[:space:]] ]] || return 1 ;;
        esac
        i=$(( i + 1 ))
    done
    [[ $state == end && ${#ARGV[@]} -gt 0 ]]
}

json_argv "$RUN_JSON" || die "$IMAGE: rce.run is not a JSON array of strings: $RUN_JSON"
# A run command with the word {compile-marker} compiles the program itself and writes
# the compile line (docs/protocol.md): the word becomes a marker, and the line splits
# its output into the compile step's and the run's.
MARKER=$'\x1erce-compiled-try'$$
IN_RUN=0
RUN_ARGV=()
for w in "${ARGV[@]}"; do
    if [[ $w == '{compile-marker}' ]]; then IN_RUN=1; w=$MARKER; fi
    RUN_ARGV+=("$w")
done
COMPILE_ARGV=()
if [[ -n $COMPILE_JSON ]]; then
    json_argv "$COMPILE_JSON" || die "$IMAGE: rce.compile is not a JSON array of strings: $COMPILE_JSON"
    COMPILE_ARGV=("${ARGV[@]}")
fi

limit() { # limit KEY DEFAULT -> the value of KEY in rce.limits, else DEFAULT
    if [[ $LIMITS =~ \"$1\":[[:space:]]*([0-9]+) ]]; then echo "${BASH_REMATCH[1]}"; else echo "$2"; fi
}
at_least() { # at_least KEY DEFAULT -> the larger of DEFAULT and KEY in rce.limits
    local v; v=$(limit "$1" "$2")
    echo $(( v > $2 ? v : $2 ))
}
# the run step: the node's default, or what the language needs if more
WALL_MS=${RUN_WALL:-$(at_least wall_ms $DEF_WALL_MS)}
MEMORY_MB=${RUN_MEMORY:-$(at_least memory_mb $DEF_MEMORY_MB)}
PIDS=$(at_least pids $DEF_PIDS)
# the compile step: compile_* where given, else the run step's
C_WALL_MS=$(limit compile_wall_ms 20000)
C_MEMORY_MB=${COMPILE_MEMORY:-$(limit compile_memory_mb "$MEMORY_MB")}
C_PIDS=$PIDS

# --- the sandbox ----------------------------------------------------------------

ID=rce-try-$LANG_NAME-$$-$RANDOM
VOLUME=
CONTAINERS=()
TMP=$(mktemp -d /tmp/rce-try.XXXXXX)
cleanup() {
    local c
    for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
    [[ -z $VOLUME ]] || docker volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What workerd's container spec sets (workerd/sandbox.c), as docker run flags.
sandbox_flags() { # sandbox_flags MEMORY_MB PIDS
    printf '%s\n' --read-only --network none --cap-drop ALL --security-opt no-new-privileges \
        --pids-limit "$2" --memory "${1}m" --memory-swap "${1}m" --cpus "$CPUS" \
        --ulimit nofile=256:256 --ulimit core=0:0 --ulimit fsize=$(( 32 << 20 )):$(( 32 << 20 )) \
        --ipc private --shm-size 64m --hostname sandbox \
        --tmpfs "/tmp:rw,exec,nosuid,nodev,size=${TMPFS_MB}m,mode=1777" \
        -u 65534:65534 -w /work \
        -e PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin -e HOME=/tmp -e LANG=C.UTF-8
}

# The container's command: optionally write the code (base64 in argv, as
# workerd does), then run the step as a child (as workerd's wrapper does),
# with only PATH, HOME and LANG unless --image-env, then report the cgroup's
# peak memory on stderr.
# shellcheck disable=SC2016  # expanded by the container's sh
WRAP='if [ "$1" = write ]; then printf %s "$2" | base64 -d >"$3" || exit 126; shift 2; fi; shift
if [ "$1" = clean ]; then shift; env -i "PATH=$PATH" "HOME=$HOME" "LANG=$LANG" "$@"; else shift; "$@"; fi
rc=$?
peak=$(cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.peak 2>/dev/null)
printf "\036rce-try peak=%s\n" "$peak" >&2
exit $rc'
ENVMODE=clean
(( IMAGE_ENV == 0 )) || ENVMODE=image

now_ms() { date +%s%3N; }

# step NAME MEMORY PIDS WALL_MS STDIN OUT ERR WORK_FLAGS... -- CMD...
# Runs one container; sets STEP_EXIT, STEP_OOM, STEP_TIMEOUT, STEP_MS, STEP_PEAK_MB.
step() {
    local name=$1 mem=$2 pids=$3 wall=$4 in=$5 out=$6 err=$7 c=$ID-$1 t0 rc=0
    shift 7
    local -a work=()
    while [[ $1 != -- ]]; do work+=("$1"); shift; done
    shift
    local -a flags
    mapfile -t flags < <(sandbox_flags "$mem" "$pids")
    CONTAINERS+=("$c")
    local attempt pid deadline
    for attempt in 1 2; do
        rc=0
        t0=$(now_ms)
        docker run --name "$c" --sig-proxy=false ${in:+-i} "${flags[@]}" "${work[@]}" "$IMAGE" sh -c "$WRAP" rce "$@" \
            <"${in:-/dev/null}" >"$out" 2>"$err" &
        pid=$! deadline=$(( t0 + wall + 1000 ))    # 1 s for Docker's own start-up
        STEP_TIMEOUT=0
        while kill -0 "$pid" 2>/dev/null; do
            if (( $(now_ms) > deadline )); then
                STEP_TIMEOUT=1
                docker kill "$c" >/dev/null 2>&1 || true
                break
            fi
            sleep 0.05
        done
        wait "$pid" || rc=$?
        # The engine could not start it (seen under load: "cannot start a
        # stopped process"): the program never ran, so once more.
        if (( rc == 125 && attempt == 1 )) \
            && [[ $(docker inspect -f '{{.State.StartedAt}}' "$c" 2>/dev/null) == 0001-01-01T00:00:00Z ]]; then
            printf '[try] docker could not start the %s container (%s); once more\n' "$name" "$(tail -n 1 "$err")" >&2
            docker rm -f "$c" >/dev/null 2>&1 || true
            continue
        fi
        break
    done
    STEP_MS=$(( $(now_ms) - t0 ))
    STEP_EXIT=$(docker inspect -f '{{.State.ExitCode}}' "$c" 2>/dev/null || echo "$rc")
    STEP_OOM=$(docker inspect -f '{{.State.OOMKilled}}' "$c" 2>/dev/null || echo unknown)
    (( STEP_TIMEOUT == 0 )) || STEP_EXIT=124
    docker rm -f "$c" >/dev/null 2>&1 || true
    STEP_PEAK_MB=$(sed -n 's/^\x1erce-try peak=\([0-9]*\)$/\1/p' "$err" | tail -n 1)
    [[ -z $STEP_PEAK_MB ]] || STEP_PEAK_MB=$(( STEP_PEAK_MB / 1048576 ))
    sed -i '/^\x1erce-try peak=/d' "$err"
}

B64=$(base64 -w0 "$SOURCE")
declare -A R=([compiled]=0)
status=0
if (( ${#COMPILE_ARGV[@]} )); then
    R[compiled]=1
    VOLUME=$ID
    docker volume create --driver local --opt type=tmpfs --opt device=tmpfs \
        --opt "o=size=${TMPFS_MB}m,uid=65534,gid=65534,mode=0700,nosuid,nodev" "$VOLUME" >/dev/null
    # A tmpfs volume lives while some container mounts it: this one holds it
    # from the compile step to the run step.
    CONTAINERS+=("$ID-hold")
    for attempt in 1 2; do
        docker run -d --name "$ID-hold" --read-only --network none --cap-drop ALL -u 65534:65534 \
            --memory 64m --pids-limit 16 -v "$VOLUME:/work:nocopy" "$IMAGE" sleep 100000 >/dev/null && break
        (( attempt == 1 )) || die "docker could not start the container holding /work"
        docker rm -f "$ID-hold" >/dev/null 2>&1 || true
    done
    step compile "$C_MEMORY_MB" "$C_PIDS" "$C_WALL_MS" "" "$TMP/c.out" "$TMP/c.err" -v "$VOLUME:/work:nocopy" -- \
        write "$B64" "$MAIN" "$ENVMODE" "${COMPILE_ARGV[@]}"
    cat "$TMP/c.out" "$TMP/c.err" >&2
    R[compile_exit]=$STEP_EXIT R[compile_oom]=$STEP_OOM R[compile_ms]=$STEP_MS R[compile_peak_mb]=$STEP_PEAK_MB
    (( STEP_TIMEOUT == 0 )) || R[compile_timeout]=1
    if (( STEP_EXIT != 0 )); then
        status=$STEP_EXIT
        printf '[try] compile step failed (exit %s%s): not run\n' "$STEP_EXIT" \
            "$( [[ $STEP_OOM == true ]] && echo ', OOM-killed')" >&2
    else
        step run "$MEMORY_MB" "$PIDS" "$WALL_MS" "$STDIN" "$TMP/r.out" "$TMP/r.err" -v "$VOLUME:/work:nocopy" -- \
            run "$ENVMODE" "${RUN_ARGV[@]}"
    fi
else
    step run "$MEMORY_MB" "$PIDS" "$WALL_MS" "$STDIN" "$TMP/r.out" "$TMP/r.err" \
        --tmpfs "/work:rw,exec,nosuid,nodev,size=${TMPFS_MB}m,uid=65534,gid=65534,mode=0700" -- \
        write "$B64" "$MAIN" "$ENVMODE" "${RUN_ARGV[@]}"
fi
if [[ -f $TMP/r.out ]] && (( IN_RUN )); then
    # "<marker> <status> <ms> ..." on stdout, then on stderr: before it, the compiler's
    R[compiled]=1 R[compile_oom]=false
    line=$(grep -a -m1 "^$MARKER " "$TMP/r.err" || true)
    read -r _ c_exit c_ms _ <<<"$line"
    R[compile_exit]=${c_exit:-$STEP_EXIT} R[compile_ms]=${c_ms:-$STEP_MS}
    for f in r.out r.err; do
        M=$MARKER perl -0777 -ne 'my $i = index($_, "$ENV{M} "); my $n = $i < 0 ? -1 : index($_, "\n", $i);
            if ($n < 0) { print STDERR $_ } else { print STDERR substr($_, 0, $i); print substr($_, $n + 1) }' \
            "$TMP/$f" >"$TMP/$f.run" 2>>"$TMP/c.err"
        mv "$TMP/$f.run" "$TMP/$f"
    done
    cat "$TMP/c.err" >&2
    if [[ ${R[compile_exit]} != 0 ]]; then
        status=${R[compile_exit]}
        printf '[try] compile step failed (exit %s): not run\n' "${R[compile_exit]}" >&2
        rm -f "$TMP/r.out"
    fi
fi
if [[ -f $TMP/r.out ]]; then
    cat "$TMP/r.out"
    cat "$TMP/r.err" >&2
    R[exit]=$STEP_EXIT R[oom]=$STEP_OOM R[timeout]=$STEP_TIMEOUT R[run_ms]=$STEP_MS R[peak_mb]=$STEP_PEAK_MB
    status=$STEP_EXIT
fi
if [[ -n $RESULT ]]; then
    for k in "${!R[@]}"; do printf '%s=%s\n' "$k" "${R[$k]}"; done | sort >"$RESULT"
fi
exit "$status"
