# shellcheck shell=bash
# The shell helpers deploy.sh and docker/build-images.sh share: messages,
# timing and timed steps, Debian packages, facts about images.  Sourced, never
# run; the script that sources it sets LOG_TAG, the [tag] its messages carry.

# dockerd and debootstrap live in sbin, which a non-login PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin ;; esac

LOG_TAG=${LOG_TAG:-rce}

# --- output and timing ------------------------------------------------------

say()  { printf '[%s] %s\n' "$LOG_TAG" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$LOG_TAG" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$LOG_TAG" "$*" >&2; exit 1; }
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

# --- images -----------------------------------------------------------------

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null; }

image_label() { # image_label IMAGE LABEL -> value or empty
    docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null | sed 's/^<no value>$//'
}

image_size() {
    local bytes; bytes=$(docker image inspect -f '{{.Size}}' "$1")
    printf '%d MB' $(( bytes / 1000000 ))
}

# tree_hash DIR FIND-ARGS... -> a hash of the lines on stdin, then of the names
# and contents of the files `find FIND-ARGS` prints (-print0) from DIR.
tree_hash() {
    local dir=$1
    shift
    {
        cat
        (cd "$dir" && find "$@" | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-64
}
