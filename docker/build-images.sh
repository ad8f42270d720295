#!/usr/bin/env bash
# shellcheck disable=SC1003  # a lone backslash in single quotes is meant
# Build the rce container images: the base image rce/base and one image per
# language, rce/<language>, from the folder docker/lang/<language>/: its
# Dockerfile (the install) and its lang.conf (the declaration, made into the
# image's labels here; the version is read from the built toolchain).  Each new
# image runs its smoke program through its labels, in the sandbox
# (docker/lang/try.sh), before it replaces the old one.  docker/lang/README.md
# describes the folder, lang.conf and the labels.
#
#   docker/build-images.sh [--force] [--check] [language...]
#
# The one script that deploy.sh, the tests and CI use.  Idempotent and fast on a
# warm machine: a language image is rebuilt only when its folder (or the base
# image) changed since it was built, which the label rce.build-hash records.
#
# rce/base is a Debian 12 root, rce/base-root, with docker/base/ on top (the
# install helper every Dockerfile uses: rce-install PKG...).  The root, in order
# of preference: the existing image; `docker pull debian:bookworm-slim`; a
# debootstrap of bookworm (needs root and Debian's mirror), imported with
# `docker import`.  rce/base is rebuilt on the root when docker/base/ changes.
#
# Environment:
#   RCE_BASE_IMAGE     base image name                      (rce/base)
#   RCE_BASE_ROOT      the root it is built on              (<base image>-root)
#   RCE_IMAGE_PREFIX   language images are <prefix><lang>   (rce/)
#   RCE_PULL_IMAGE     image to pull for the root           (debian:bookworm-slim)
#   RCE_PULL_TIMEOUT   seconds allowed for that pull; 0 = don't try (20)
#   RCE_DEBIAN_MIRROR  mirror for debootstrap               (http://deb.debian.org/debian)
#   RCE_DEBIAN_SUITE   suite for debootstrap                (bookworm)
#   RCE_BUILD_LOCK     lock file serialising concurrent runs (/tmp/rce-build-images.lock)
#   RCE_BUILD_JOBS     language images built at the same time (the CPUs + 1, at most 4):
#                      an install is mostly download and unpack, which overlap well
#   RCE_LANGUAGES      the languages to build when none is named: names separated by
#                      commas or blanks (an operator's subset; default: every folder)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=build-images
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
LANG_DIR=$HERE/lang
BASE_IMAGE=${RCE_BASE_IMAGE:-rce/base}
BASE_ROOT=${RCE_BASE_ROOT:-${BASE_IMAGE}-root}
BASE_DIR=$HERE/base
PREFIX=${RCE_IMAGE_PREFIX:-rce/}
PULL_IMAGE=${RCE_PULL_IMAGE:-debian:bookworm-slim}
PULL_TIMEOUT=${RCE_PULL_TIMEOUT:-20}
MIRROR=${RCE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${RCE_DEBIAN_SUITE:-bookworm}
# The classic builder: it works with every client/engine pair we meet (the
# Debian 12 engine is 20.10; newer clients need the buildx plugin otherwise).
export DOCKER_BUILDKIT=0

FORCE=0
CHECK=0
LANGS=()
JOBS=${RCE_BUILD_JOBS:-$(( $(nproc) + 1 > 4 ? 4 : $(nproc) + 1 ))}

usage() {
    cat <<USAGE
usage: $0 [--force] [--check] [language...]

Ensures ${BASE_IMAGE} exists, then builds ${PREFIX}<language> for each language
given (default: every folder in ${LANG_DIR}) from its Dockerfile and lang.conf
(see ${LANG_DIR}/README.md), and smoke-tests it.

  --force   rebuild the language images even if they are up to date, without
            the build cache (fresh packages); the base image is kept: remove
            it first ('docker rmi ${BASE_IMAGE} ${BASE_ROOT}') to rebuild that too
  --check   also smoke-test images that were up to date (built ones always are)
  -h        this help

Without languages named, builds those of RCE_LANGUAGES (comma- or
blank-separated), else every folder. RCE_BUILD_JOBS images are built at a
time (default ${JOBS}); images whose Dockerfiles begin with the same RUN line
share that layer, so one of them is built first and the others after it.

languages: $(available_langs | tr '\n' ' ')
USAGE
}

available_langs() {
    local d
    for d in "$LANG_DIR"/*/; do
        [[ -f $d/Dockerfile ]] && basename "$d"
    done
}

# --- base image -------------------------------------------------------------

BASE_TMP=
cleanup_base_tmp() {
    [[ -n $BASE_TMP && -d $BASE_TMP ]] || return 0
    # debootstrap mounts proc and sys inside the target; never rm through them.
    local m
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v d="$BASE_TMP/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf --one-file-system "$BASE_TMP"
}

try_pull_base() {
    [[ $PULL_TIMEOUT != 0 ]] || { say "RCE_PULL_TIMEOUT=0: not trying docker pull"; return 1; }
    local t0; t0=$(now_ms)
    say "trying: docker pull ${PULL_IMAGE} (at most ${PULL_TIMEOUT} s)"
    if timeout --kill-after=5 "$PULL_TIMEOUT" docker pull -q "$PULL_IMAGE" >/dev/null 2>&1 \
        && docker tag "$PULL_IMAGE" "$BASE_ROOT"; then
        say "pulled ${PULL_IMAGE}, tagged ${BASE_ROOT} ($(took "$t0"))"
        return 0
    fi
    say "docker pull failed or timed out ($(took "$t0")); falling back to debootstrap"
    return 1
}

bootstrap_base() {
    local t0 t1
    [[ $EUID -eq 0 ]] || die "building ${BASE_ROOT} with debootstrap needs root. Run this script as root, or on a machine that reaches a registry run 'docker pull ${PULL_IMAGE} && docker tag ${PULL_IMAGE} ${BASE_ROOT}'"
    command -v debootstrap >/dev/null 2>&1 || ensure_packages debootstrap
    BASE_TMP=$(mktemp -d /var/tmp/rce-base.XXXXXX)
    trap cleanup_base_tmp EXIT
    local root=$BASE_TMP/root log=$BASE_TMP/debootstrap.log
    t0=$(now_ms)
    say "debootstrap --variant=minbase ${SUITE} into ${root} from ${MIRROR} (about a minute; log: ${log})"
    if ! debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$log" 2>&1; then
        tail -n 20 "$log" >&2 || true
        # keep the log where the user can read it after the cleanup
        cp "$log" /var/tmp/rce-debootstrap.log 2>/dev/null || true
        die "debootstrap failed (log above, full copy in /var/tmp/rce-debootstrap.log). Check that ${MIRROR} is reachable (apt-get update works?) or set RCE_DEBIAN_MIRROR"
    fi
    say "debootstrap done ($(took "$t0"))"

    # Slim it the way debian:*-slim is: no docs, man pages or locales, ever
    # (dpkg excludes keep later apt-get installs slim too), no apt caches.
    cat >"$root/etc/dpkg/dpkg.cfg.d/rce-slim" <<'SLIM'
# rce: keep images small (as in the debian:*-slim images)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
SLIM
    cat >"$root/etc/apt/apt.conf.d/rce-clean" <<'APTCONF'
# rce: no package cache in images
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Install-Recommends "false";
Acquire::Languages "none";
APTCONF
    # bookworm, its updates and its security fixes, all from the same mirror host
    local sec=${MIRROR%/debian}/debian-security
    cat >"$root/etc/apt/sources.list" <<SOURCES
deb ${MIRROR} ${SUITE} main
deb ${MIRROR} ${SUITE}-updates main
deb ${sec} ${SUITE}-security main
SOURCES
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
           "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log \
           "$root"/var/log/apt/* "$root"/tmp/* "$root"/root/.bash_history

    t1=$(now_ms)
    say "docker import ${root} as ${BASE_ROOT}"
    tar --numeric-owner -C "$root" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["bash"]' \
        --change "LABEL rce.base-source=debootstrap rce.base-suite=${SUITE}" \
        - "$BASE_ROOT" >/dev/null \
        || die "docker import failed; check the engine ('docker info', its log) and free space under /var/lib/docker"
    say "imported ${BASE_ROOT} ($(took "$t1"))"
    cleanup_base_tmp
    trap - EXIT
}

# ensure_root: the root image, made once.  A base made before docker/base/
# existed (no rce.base-hash label) is such a root: it is kept as one.
ensure_root() {
    if image_exists "$BASE_ROOT"; then
        return 0
    fi
    if image_exists "$BASE_IMAGE" && [[ -z $(image_label "$BASE_IMAGE" rce.base-hash) ]]; then
        say "${BASE_IMAGE} has no docker/base/ layer yet: keeping it as the root ${BASE_ROOT}"
        docker tag "$BASE_IMAGE" "$BASE_ROOT"
        return 0
    fi
    say "root image ${BASE_ROOT} missing"
    try_pull_base || bootstrap_base
}

# ensure_base: BASE_IMAGE is the root with docker/base/ on top; rebuilt when
# docker/base/ or the root changed (the labels rce.base-hash, rce.base-root).
ensure_base() {
    local t0 hash root_id log
    t0=$(now_ms)
    hash=$(tree_hash "$BASE_DIR" . -type f -print0 </dev/null)
    root_id=$(image_id "$BASE_ROOT" || true)
    if image_exists "$BASE_IMAGE" && [[ $(image_label "$BASE_IMAGE" rce.base-hash) == "$hash" ]] \
        && [[ -z $root_id || $(image_label "$BASE_IMAGE" rce.base-root) == "$root_id" ]]; then
        say "base image ${BASE_IMAGE} present ($(image_id "$BASE_IMAGE" | cut -c8-19)), using it"
        return 0
    fi
    ensure_root
    root_id=$(image_id "$BASE_ROOT")
    log=$(mktemp /tmp/rce-build-base.XXXXXX.log)
    say "building ${BASE_IMAGE}: ${BASE_ROOT} and ${BASE_DIR} (log: ${log})"
    if ! docker build --pull=false --force-rm --build-arg "RCE_ROOT=${BASE_ROOT}" \
            --label "rce.base-hash=${hash}" --label "rce.base-root=${root_id}" \
            -t "$BASE_IMAGE" "$BASE_DIR" >"$log" 2>&1; then
        tail -n 25 "$log" >&2 || true
        die "building ${BASE_IMAGE} failed (last lines above, full log ${log}); check ${BASE_DIR}"
    fi
    rm -f "$log"
    say "base image ${BASE_IMAGE} ready: $(image_size "$BASE_IMAGE") ($(took "$t0") in all)"
}

# --- language declarations (docker/lang/<language>/lang.conf) ---------------
#
# The format is documented in docker/lang/README.md.  Everything the C code
# (workerd) learns about a language comes from the labels made here.

# Bump when the labels made from a lang.conf change meaning: every image rebuilds.
LABEL_SCHEMA=2
CONF_KEYS="name aliases version libraries main compile run tests_compile tests_run cpus"
LIMIT_KEYS="wall_ms cpu_ms memory_mb pids output_bytes compile_wall_ms compile_cpu_ms compile_memory_mb"
MAX_MEMORY_MB=1024

declare -A CONF=()
CONF_ORDER=()

conf_die() { die "$1: $2 (format: docker/lang/README.md)"; }

# parse_conf FILE: reads `key = value` lines into CONF (and the keys, in order,
# into CONF_ORDER); blank lines and lines starting with # are skipped.
parse_conf() {
    local file=$1 line n=0 key val
    CONF=() CONF_ORDER=()
    [[ -f $file ]] || conf_die "$file" "missing: every language folder needs a lang.conf"
    while IFS= read -r line || [[ -n $line ]]; do
        n=$(( n + 1 ))
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
        [[ $line =~ ^[[:space:]]*([a-z_]+)[[:space:]]*=[[:space:]]*(.*)$ ]] \
            || conf_die "$file:$n" "expected 'key = value', got: $line"
        key=${BASH_REMATCH[1]}
        val=${BASH_REMATCH[2]}
        val=${val//$'\t'/ }                        # tabs are blanks
        val=${val%"${val##*[![:space:]]}"}        # trailing blanks
        [[ " $CONF_KEYS $LIMIT_KEYS " == *" $key "* ]] \
            || conf_die "$file:$n" "unknown key '$key' (known: $CONF_KEYS $LIMIT_KEYS)"
        [[ -z ${CONF[$key]+set} ]] || conf_die "$file:$n" "'$key' given twice"
        [[ $val != *[[:cntrl:]]* ]] || conf_die "$file:$n" "control character in '$key'"
        CONF[$key]=$val
        CONF_ORDER+=("$key")
    done <"$file"
}

json_str() { # json_str TEXT -> a JSON string (TEXT has no control characters)
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# words_json TEXT -> a JSON array of strings.  TEXT is split into words like a
# shell would, without any expansion: blanks separate words, '...' quotes
# literally, "..." quotes with \" and \\ as escapes, a backslash outside
# quotes takes the next character literally.  Fails on an unterminated quote,
# an empty word or no word at all.
words_json() {
    local s=$1 n=${#1} i=0 c q='' w='' have=0 out='[' first=1
    local -a words=()
    while (( i < n )); do
        c=${s:i:1}
        if [[ $q == "'" ]]; then
            if [[ $c == "'" ]]; then q=; else w+=$c; fi
        elif [[ $q == '"' ]]; then
            if [[ $c == '"' ]]; then q=
            elif [[ $c == '\' && ( ${s:i+1:1} == '"' || ${s:i+1:1} == '\' ) ]]; then i=$(( i + 1 )); w+=${s:i:1}
            else w+=$c; fi
        else
            case $c in
                ' '|$'\t') (( have )) && words+=("$w"); w='' have=0 ;;
                "'"|'"') q=$c have=1 ;;
                '\') (( i + 1 < n )) || return 1; i=$(( i + 1 )); w+=${s:i:1}; have=1 ;;
                *) w+=$c have=1 ;;
            esac
        fi
        i=$(( i + 1 ))
    done
    [[ -z $q ]] || return 1
    (( have )) && words+=("$w")
    (( ${#words[@]} )) || return 1
    for w in "${words[@]}"; do
        [[ -n $w ]] || return 1
        (( first )) || out+=,
        first=0
        out+=$(json_str "$w")
    done
    printf '%s]' "$out"
}

# conf_labels DIR LANG: checks DIR/lang.conf (dies naming what is wrong) and
# sets LABELS, the docker build arguments for every label but rce.version,
# rce.libraries and rce.build-hash, VERSION_CMD and LIBRARIES_CMD (empty when
# the language declares no libraries).
VERSION_CMD=
LIBRARIES_CMD=
LABELS=()
conf_labels() {
    local dir=$1 lang=$2 file=$1/lang.conf k v a limits='' run compile=''
    local -a tests=()
    parse_conf "$file"
    for k in name version main run; do
        [[ -n ${CONF[$k]:-} ]] || conf_die "$file" "'$k' is required"
    done
    [[ ${CONF[name]} == "$lang" ]] \
        || conf_die "$file" "name '${CONF[name]}' must equal the folder name '$lang' (the image is ${PREFIX}${lang})"
    [[ $lang =~ ^[a-z0-9][a-z0-9._-]*$ && ${#lang} -le 64 ]] \
        || conf_die "$file" "name '$lang': lowercase letters, digits, '.', '_', '-' only (it is part of an image name)"
    local -a aliases=()
    read -r -a aliases <<<"${CONF[aliases]:-}"
    for a in "${aliases[@]}"; do
        [[ $a =~ ^[[:graph:]]{1,64}$ ]] || conf_die "$file" "alias '$a': visible ASCII only"
    done
    [[ ${CONF[main]} =~ ^[[:graph:]]{1,64}$ && ${CONF[main]} != */* && ${CONF[main]} != . && ${CONF[main]} != .. ]] \
        || conf_die "$file" "main '${CONF[main]}' must be a plain file name"
    run=$(words_json "${CONF[run]}") || conf_die "$file" "run: no word, an empty word or an unterminated quote in: ${CONF[run]}"
    if [[ -n ${CONF[compile]+set} ]]; then
        compile=$(words_json "${CONF[compile]}") || conf_die "$file" "compile: no word, an empty word or an unterminated quote in: ${CONF[compile]}"
    fi
    for k in tests_compile tests_run; do
        [[ -n ${CONF[$k]+set} ]] || continue
        [[ -n ${CONF[tests_run]+set} ]] || conf_die "$file" "tests_compile needs tests_run"
        v=$(words_json "${CONF[$k]}") || conf_die "$file" "$k: no word, an empty word or an unterminated quote in: ${CONF[$k]}"
        tests+=(--label "rce.${k}=${v}")
    done
    for k in "${CONF_ORDER[@]}"; do
        [[ " $LIMIT_KEYS " == *" $k "* ]] || continue
        v=${CONF[$k]}
        [[ $v =~ ^[1-9][0-9]{0,9}$ ]] || conf_die "$file" "$k must be a positive integer, got '$v'"
        if [[ $k == *memory_mb ]]; then
            (( v >= 8 && v <= MAX_MEMORY_MB )) || conf_die "$file" "$k must be 8..${MAX_MEMORY_MB}, got $v"
        fi
        limits+=${limits:+,}$(json_str "$k"):$v
    done
    VERSION_CMD=${CONF[version]}
    LIBRARIES_CMD=${CONF[libraries]:-}
    [[ -z ${CONF[libraries]+set} || -n $LIBRARIES_CMD ]] || conf_die "$file" "libraries: a command, or no such line"
    LABELS=(--label "rce.language=${lang}" --label "rce.aliases=${aliases[*]}"
        --label "rce.main=${CONF[main]}" --label "rce.run=${run}" --label "rce.limits={${limits}}")
    [[ -z $compile ]] || LABELS+=(--label "rce.compile=${compile}")
    LABELS+=("${tests[@]}")
    if [[ -n ${CONF[cpus]+set} ]]; then
        [[ ${CONF[cpus]} =~ ^[1-9][0-9]{0,3}$ && ${CONF[cpus]} -le 1024 ]] \
            || conf_die "$file" "cpus must be a whole number from 1 to 1024, got '${CONF[cpus]}'"
        LABELS+=(--label "rce.cpus=${CONF[cpus]}")
    fi
}

# --- language images --------------------------------------------------------

# What every language image ends with, after its own Dockerfile: the defaults
# of a job's container.  workerd's container spec sets them again; they serve
# `docker run` by hand.  Not in rce/base: a USER there would run every later
# install step as nobody, and HOME and WORKDIR would reach the cluster images.
LANG_IMAGE_TAIL='ENV HOME=/tmp LANG=C.UTF-8
WORKDIR /work
USER 65534:65534'

# Hash of everything that goes into a language image: the folder's files
# (names and contents) but its test/ programs, which only the tests read, the
# base image's id, the label schema and the tail.
build_hash() {
    printf 'base %s\nschema %s\n%s\n' "$(image_id "$BASE_IMAGE")" "$LABEL_SCHEMA" "$LANG_IMAGE_TAIL" \
        | tree_hash "$1" . -path ./test -prune -o -type f -print0
}

# The sandbox's flags for a `docker run` of a toolchain command (the version).
# shellcheck disable=SC2054  # the commas are tmpfs mount options
SANDBOX_FLAGS=(--read-only --network none --cap-drop ALL --security-opt no-new-privileges
    --pids-limit 64 --memory 256m --memory-swap 256m
    --tmpfs /work:rw,exec,nosuid,nodev,size=64m,uid=65534,gid=65534,mode=0700
    --tmpfs /tmp:rw,exec,nosuid,nodev,size=64m,mode=1777
    -u 65534:65534 -w /work -e HOME=/tmp)

# read_version IMAGE CMD -> the first dotted number CMD prints (stdout and
# stderr), run in the sandbox for at most 60 s; fails if there is none.
read_version() {
    local image=$1 cmd=$2 out v
    out=$(docker run --rm "${SANDBOX_FLAGS[@]}" "$image" timeout 60 sh -c "$cmd" 2>&1 </dev/null) || true
    v=$(grep -oE '[0-9]+(\.[0-9]+)+' <<<"$out" | head -n 1) || true
    [[ -n $v ]] || { printf '%s\n' "$out" | tail -n 5 >&2; return 1; }
    printf '%s' "$v"
}

# read_libraries IMAGE CMD -> the JSON object of the libraries CMD prints on
# stdout, one "name version" a line (blank lines skipped), run in the sandbox
# (at most 60 s, as the version command):
# {"numpy":"1.24.2","pandas":"1.5.3"}, in the order printed.  Fails, showing
# CMD's output, if CMD fails, prints nothing, a repeated name or another line.
read_libraries() {
    local image=$1 cmd=$2 out err rc=0 line name version json='' bad=''
    local -A seen=()
    err=$(mktemp /tmp/rce-libraries.XXXXXX)
    out=$(docker run --rm "${SANDBOX_FLAGS[@]}" "$image" timeout 60 sh -c "$cmd" 2>"$err" </dev/null) || rc=$?
    while IFS= read -r line; do
        [[ $line =~ ^[[:space:]]*$ ]] && continue
        if [[ $line =~ ^[[:space:]]*([A-Za-z0-9][A-Za-z0-9._+-]{0,63})[[:space:]]+([A-Za-z0-9][A-Za-z0-9._+:~-]{0,63})[[:space:]]*$ ]] \
            && [[ -z ${seen[${BASH_REMATCH[1]}]+set} ]]; then
            name=${BASH_REMATCH[1]} version=${BASH_REMATCH[2]}
            seen[$name]=1
            json+=${json:+,}$(json_str "$name"):$(json_str "$version")
        else
            bad+="  not 'name version' (or a name again): ${line}"$'\n'
        fi
    done <<<"$out"
    if (( rc != 0 )) || [[ -n $bad || -z $json ]]; then
        printf '%s\n' "$out" | tail -n 20 >&2
        tail -n 10 "$err" >&2
        [[ -z $bad ]] || printf '%s' "$bad" >&2
        (( rc == 0 )) || printf '  (exit status %s)\n' "$rc" >&2
        rm -f "$err"
        return 1
    fi
    rm -f "$err"
    printf '{%s}' "$json"
}

# Runs the smoke program through the labels of IMAGE (default: the language's
# image) the way workerd runs a job (docker/lang/try.sh: compile step, then
# run step, each in the sandbox with the language's limits); checks its output.
smoke_test() {
    local lang=$1 image=${2:-$PREFIX$1} dir=$LANG_DIR/$1 t0 out want rc=0 result
    local smoke=$dir/smoke.src expect=$dir/smoke.expected
    [[ -f $smoke && -f $expect ]] || { say "  no smoke.src/smoke.expected in ${dir}: smoke test skipped"; return 0; }
    want=$(cat "$expect")
    result=$(mktemp /tmp/rce-smoke-"$lang".XXXXXX)
    t0=$(now_ms)
    # stdout: the program's; stderr: the compiler's and the program's
    out=$("$LANG_DIR/try.sh" --image "$image" --result "$result" "$lang" "$smoke" 2>"$result.err" </dev/null) || rc=$?
    if (( rc != 0 )) || [[ $out != "$want" ]]; then
        printf '%s\n' "$out" | tail -n 20 >&2
        tail -n 30 "$result.err" >&2
        sed 's/^/  /' "$result" >&2 || true
        rm -f "$result" "$result.err"
        return 1
    fi
    rm -f "$result.err"
    local compile_ms run_ms
    compile_ms=$(sed -n 's/^compile_ms=//p' "$result")
    run_ms=$(sed -n 's/^run_ms=//p' "$result")
    rm -f "$result"
    say "  smoke test ok: printed '${out}' (${compile_ms:+compile ${compile_ms} ms, }run ${run_ms} ms, each with docker run; $(took "$t0") in all)"
}

build_lang() {
    local lang=$1 image=$PREFIX$1 dir=$LANG_DIR/$1 hash old_hash old_id new_id t0 log version libraries=''
    local stage=$PREFIX$1:rce-stage
    conf_labels "$dir" "$lang"
    hash=$(build_hash "$dir")
    if image_exists "$image"; then
        old_hash=$(image_label "$image" rce.build-hash)
        old_id=$(image_id "$image")
        if [[ $FORCE == 0 && $old_hash == "$hash" ]]; then
            say "${image} up to date ($(image_size "$image"), version $(image_label "$image" rce.version)), skipped"
            [[ $CHECK == 0 ]] || smoke_test "$lang" \
                || die "smoke test of ${image} failed (above); fix ${dir} and rerun with --force ${lang}"
            return 0
        fi
        if [[ $FORCE == 1 ]]; then say "${image}: --force, rebuilding"
        else say "${image}: ${dir} or ${BASE_IMAGE} changed, rebuilding"; fi
    else
        old_id=
        say "${image} missing, building"
    fi
    t0=$(now_ms)
    log=$(mktemp /tmp/rce-build-"$lang".XXXXXX.log)
    say "  docker build --network host -t ${stage} ${dir} (log: ${log})"
    local cache=()
    [[ $FORCE == 0 ]] || cache=(--no-cache)
    # 1. the install (the Dockerfile, then LANG_IMAGE_TAIL) with the declaration's labels
    if ! { cat "$dir/Dockerfile"; printf '\n%s\n' "$LANG_IMAGE_TAIL"; } \
        | docker build --network host --pull=false --force-rm "${cache[@]}" \
            --build-arg "RCE_BASE=${BASE_IMAGE}" \
            "${LABELS[@]}" \
            -t "$stage" -f - "$dir" >"$log" 2>&1; then
        tail -n 25 "$log" >&2 || true
        die "building ${image} failed (last lines above, full log ${log}). If apt-get failed, check that the host reaches the Debian mirror (apt-get update)"
    fi
    # 2. the version, read from the toolchain just installed
    version=$(read_version "$stage" "$VERSION_CMD") \
        || die "${image}: the version command '${VERSION_CMD}' printed no version number (its output above); fix ${dir}/lang.conf"
    say "  installed (${stage}, $(took "$t0")); version ${version}"
    # 2b. the libraries, read from the image the same way (lang.conf's `libraries`)
    if [[ -n $LIBRARIES_CMD ]]; then
        libraries=$(read_libraries "$stage" "$LIBRARIES_CMD") \
            || die "${image}: the libraries command '${LIBRARIES_CMD}' failed or printed other than 'name version' lines (above); fix ${dir}/lang.conf or ${dir}/Dockerfile"
        say "  libraries ${libraries}"
    fi
    # 3. the smoke test, on the new image before it replaces the old one
    smoke_test "$lang" "$stage" \
        || die "smoke test of ${stage} failed (above; ${image} is unchanged); fix ${dir} and rerun: docker/build-images.sh ${lang}"
    # 4. the version and libraries labels and the build hash (last: an image with
    # the hash is complete)
    local read_labels=(--label "rce.version=${version}")
    [[ -z $libraries ]] || read_labels+=(--label "rce.libraries=${libraries}")
    if ! printf 'FROM %s\n' "$stage" | docker build --pull=false --force-rm \
            "${read_labels[@]}" --label "rce.build-hash=${hash}" \
            -t "$image" - >>"$log" 2>&1; then
        tail -n 10 "$log" >&2 || true
        die "labelling ${image} failed (full log ${log})"
    fi
    docker rmi "$stage" >/dev/null 2>&1 || true    # only the tag: the image's layers stay
    rm -f "$log"
    say "  built ${image}: $(image_size "$image"), version ${version} ($(took "$t0"))"
    new_id=$(image_id "$image")
    if [[ -n $old_id && $old_id != "$new_id" ]]; then
        if docker rmi "$old_id" >/dev/null 2>&1; then
            say "  removed the previous ${image} ($(cut -c8-19 <<<"$old_id"))"
        else
            say "  the previous ${image} ($(cut -c8-19 <<<"$old_id")) is still in use; remove it later with 'docker image prune'"
        fi
    fi
}

# --- building several at once --------------------------------------------------

# The first RUN line of a language's Dockerfile: images that share it share its layer
# (docker/lang/README.md), which the builder only reuses once one of them has made it.
first_run() { grep -m 1 '^RUN' "$LANG_DIR/$1/Dockerfile" || printf 'own %s\n' "$1"; }

# build_batch LANG...: builds them, JOBS at a time, each in a subshell whose output
# lines name it; fails (after all have ended) if any failed, naming them.
build_batch() {
    local lang pid failed=() pids=() names=()
    for lang in "$@"; do
        while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n || true; done
        ( build_lang "$lang" ) > >(sed -u "s/^\[${LOG_TAG}\]/[${LOG_TAG}] ${lang}:/") 2>&1 &
        pids+=("$!")
        names+=("$lang")
    done
    for pid in "${!pids[@]}"; do
        wait "${pids[$pid]}" || failed+=("${names[$pid]}")
    done
    (( ${#failed[@]} == 0 )) || die "these images failed to build (their errors above): ${failed[*]}"
}

# build_all LANG...: one build at a time with RCE_BUILD_JOBS=1 (the order given); else
# first one language of each shared first layer, then the others, JOBS at a time.
build_all() {
    local lang key firsts=() rest=()
    local -A seen=()
    if (( JOBS == 1 )); then
        for lang in "$@"; do build_lang "$lang"; done
        return
    fi
    for lang in "$@"; do
        key=$(first_run "$lang")
        if [[ -n ${seen[$key]:-} ]]; then rest+=("$lang"); else seen[$key]=1; firsts+=("$lang"); fi
    done
    say "building ${#firsts[@]} image(s), then ${#rest[@]} sharing a first layer with one of them; ${JOBS} at a time"
    build_batch "${firsts[@]}"
    (( ${#rest[@]} == 0 )) || build_batch "${rest[@]}"
}

# --- main -------------------------------------------------------------------

while (( $# )); do
    case $1 in
        --force) FORCE=1 ;;
        --check) CHECK=1 ;;
        -h|--help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option: $1" ;;
        *) LANGS+=("$1") ;;
    esac
    shift
done

command -v docker >/dev/null 2>&1 || die "no docker client: install it (apt-get install -y docker.io)"
docker info >/dev/null 2>&1 \
    || die "the Docker engine does not answer ('docker info' fails): start it (as root: 'dockerd >/var/log/dockerd.log 2>&1 &', or './deploy.sh test' which does that) and retry"

[[ $JOBS =~ ^[1-9][0-9]?$ ]] || die "RCE_BUILD_JOBS must be a number from 1 to 99 (got '${JOBS}')"
if (( ${#LANGS[@]} == 0 )) && [[ -n ${RCE_LANGUAGES:-} ]]; then
    read -r -a LANGS <<<"${RCE_LANGUAGES//,/ }"
fi
if (( ${#LANGS[@]} == 0 )); then
    mapfile -t LANGS < <(available_langs)
    (( ${#LANGS[@]} )) || die "no docker/lang/*/Dockerfile found in ${LANG_DIR}"
fi
for lang in "${LANGS[@]}"; do
    [[ -f $LANG_DIR/$lang/Dockerfile ]] \
        || die "unknown language '${lang}': no ${LANG_DIR}/${lang}/Dockerfile (available: $(available_langs | tr '\n' ' '))"
    conf_labels "$LANG_DIR/$lang" "$lang"     # every declaration checked before any build
done

# One build at a time on this machine (tests and CI may call us concurrently);
# a second caller waits, then finds the images built.
LOCK=${RCE_BUILD_LOCK:-/tmp/rce-build-images.lock}
if { exec 9>>"$LOCK"; } 2>/dev/null || { exec 9<"$LOCK"; } 2>/dev/null; then
    if ! flock -n 9; then
        say "another build-images.sh holds ${LOCK}; waiting for it (at most 15 min)"
        flock -w 900 9 || die "still locked after 15 min: is a build stuck? Check 'ps aux | grep build-images', then remove ${LOCK} if stale"
    fi
else
    say "cannot open ${LOCK}: building without a lock"
fi

T0=$(now_ms)
ensure_base
build_all "${LANGS[@]}"
say "done: ${LANGS[*]} ($(took "$T0") in all)"
