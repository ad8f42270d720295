#!/usr/bin/env bash
# loadtest/cold-deploy.sh: how long a first ./deploy.sh takes on this machine, from
# no image at all (issue 20's limit: under 12 minutes on 2 cores).
#
#   loadtest/cold-deploy.sh --yes            every language
#   RCE_LANGUAGES=python,c loadtest/cold-deploy.sh --yes
#
# DESTRUCTIVE, hence --yes: it stops the cluster (./deploy.sh down), then removes every
# image of the engine (rce/*, the base root and debian:bookworm-slim) and the builder's
# cache, as on a fresh machine (Debian's packages on the host, already installed, are
# not removed: deploy.sh's apt step then finds them).  Then it times ./deploy.sh, prints
# the phases deploy.sh reports, the images' sizes and disk use, and leaves the cluster
# up (./deploy.sh down stops it).  Needs network access to Debian's mirror (and to a
# registry for debian:bookworm-slim, else debootstrap is used).
# Exit status: deploy.sh's.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ ${1:-} == --yes ]] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cd "$ROOT"
./deploy.sh down >/dev/null 2>&1 || true
# every image the engine builds or pulls, and the builder's cache
mapfile -t images < <(docker images --format '{{.Repository}}:{{.Tag}}' \
    | grep -E '^(rce/|debian:bookworm-slim)' || true)
(( ${#images[@]} == 0 )) || docker rmi -f "${images[@]}" >/dev/null
docker image prune -f >/dev/null
docker builder prune -af >/dev/null
left=$(docker images -q --filter reference='rce/*' | wc -l)
(( left == 0 )) || { echo "cold-deploy: $left rce/* images could not be removed" >&2; exit 1; }

log=$(mktemp /tmp/rce-cold-deploy.XXXXXX)
echo "cold-deploy: ./deploy.sh from no image (log: $log)"
t0=$(date +%s.%N)
rc=0
./deploy.sh >"$log" 2>&1 || rc=$?
t1=$(date +%s.%N)
grep -E '^\[deploy\] <== ' "$log" || true
tail -n 3 "$log"
echo
echo "images: $(docker images -q --filter reference='rce/*' | wc -l) rce/* images"
docker system df --format '{{.Type}}: {{.Size}}' | head -n 1
perl -e 'my $s = $ARGV[1] - $ARGV[0]; printf "cold ./deploy.sh: %.1f s (%d m %02d s), exit status %d, %d cpus, RCE_BUILD_JOBS %s, RCE_LANGUAGES %s\n",
    $s, $s / 60, $s % 60, $ARGV[2], $ARGV[3], $ARGV[4], $ARGV[5]' \
    "$t0" "$t1" "$rc" "$(nproc)" "${RCE_BUILD_JOBS:-default}" "${RCE_LANGUAGES:-all}"
exit "$rc"
