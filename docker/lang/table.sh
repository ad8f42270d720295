#!/usr/bin/env bash
# Prints the markdown table of the languages for the README, generated from
# the labels of the built images (docker/build-images.sh builds them), one
# row per folder docker/lang/<language>/, in name order:
#
#   docker/lang/table.sh            # the images rce/<language>
#   RCE_IMAGE_PREFIX=x/ docker/lang/table.sh
#
# A folder whose image is not built yet gets a row saying so, and the exit
# status is 1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=${RCE_IMAGE_PREFIX:-rce/}
fmt='{{index .Config.Labels "rce.language"}}|{{index .Config.Labels "rce.version"}}|'
fmt+='{{index .Config.Labels "rce.aliases"}}|{{index .Config.Labels "rce.compile"}}|{{index .Config.Labels "rce.main"}}'

code() { # code WORDS -> `w1`, `w2`
    local w out=
    for w in $1; do out+="${out:+, }\`$w\`"; done
    printf '%s' "${out:-—}"
}

status=0
echo '| language | version | aliases | compiled | main file |'
echo '|---|---|---|---|---|'
for dir in "$HERE"/*/; do
    [[ -f $dir/Dockerfile ]] || continue
    lang=$(basename "$dir")
    if ! line=$(docker image inspect -f "$fmt" "$PREFIX$lang" 2>/dev/null); then
        echo "| \`$lang\` | (not built: docker/build-images.sh $lang) | | | |"
        status=1
        continue
    fi
    line=${line//<no value>/}
    IFS='|' read -r name version aliases compile main <<<"$line"
    echo "| \`$name\` | $version | $(code "$aliases") | $([[ -n $compile ]] && echo yes || echo no) | \`$main\` |"
done
exit "$status"
