#!/bin/bash
# rce/workerd healthcheck: healthy while this node's heartbeat key
# (rce:node:<node>, refreshed every second, expiring after 5 s) is in Redis,
# i.e. workerd runs, reaches Redis and has not deregistered.
#
# No redis-cli in this image: one inline command (EXISTS) over bash's /dev/tcp.
# With a unix-socket RCE_REDIS there is nothing to check from here: healthy.
set -u
node=$(rce-workerd --node-name)
redis=${RCE_REDIS:-127.0.0.1:6379}
case $redis in unix:*) exit 0 ;; esac
host=${redis%:*} port=${redis##*:}
[[ $redis == *:* ]] || { host=$redis port=6379; }
host=${host#[} host=${host%]}
exec 3<>"/dev/tcp/${host}/${port}" || exit 1
printf 'EXISTS rce:node:%s\r\n' "$node" >&3
IFS= read -r -t 3 reply <&3 || exit 1
[[ $reply == $':1\r' ]] && exit 0
printf 'no heartbeat of node %s in redis %s (EXISTS answered %q)\n' "$node" "$redis" "$reply"
exit 1
