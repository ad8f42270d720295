#!/bin/bash
# rce/gateway healthcheck: healthy when nginx answers GET /health at all.
#
# 200 (Redis and a node are up) and 503 (nginx is fine, the cluster behind it
# is not) both count: restarting the gateway would not bring a worker node
# back, and Swarm replaces unhealthy tasks.  Whether the cluster can run code
# is /health's 200, which deploy.sh waits for.  No curl in this image: a bare
# HTTP/1.0 request over bash's /dev/tcp.
set -u
port=${RCE_GATEWAY_PORT:-8080}
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
case $status in
    'HTTP/1.'[01]' 200 '*|'HTTP/1.'[01]' 503 '*) exit 0 ;;
esac
printf 'GET /health answered: %s\n' "$status"
exit 1
