#!/usr/bin/perl
# loadtest/stream.pl: the streaming benchmark (issue 17), on this machine, through the whole
# stack (Redis, nginx with the module, one workerd, warm containers; t/lib/RCETest.pm starts
# them on 127.0.0.1 and stops them on exit). The WebSocket client is loadtest/stream-client.mjs
# (npm's ws, installed in t/js by ./deploy.sh test).
#
#   loadtest/stream.pl            full run: 10 sessions x 100 lines, then 1,000 idle sessions
#   loadtest/stream.pl --quick    smoke version: 2 x 20 lines, 100 idle sessions
#
# 1. Latency: a Python program prints its clock every 20 ms over /api/v2/connect; a line's
#    latency is when its data message reached the client less the time it carries: from the
#    program's write through the container's attach stream, workerd, Redis pub/sub and the
#    gateway to the client. Target: p50 <= 20 ms.
# 2. Idle sessions: 1,000 WebSocket sessions at once on one gateway (one nginx worker
#    process), each initialised with a program waiting for stdin (the node runs 2, the rest
#    wait queued), held 20 s, pinged, closed. Reports the gateway's memory per session and
#    checks that nothing is left (queues, input lists, containers).
# Every loop is bounded in count and time.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use JSON::PP;
use Time::HiRes qw(time sleep);
use RCETest qw(wait_until);
use Test::More;         # RCETest's stop_all checks that nothing was left behind, as TAP

my $quick = grep { $_ eq '--quick' } @ARGV;
my ($sessions, $lines, $idle_n, $hold_s) = $quick ? (2, 20, 100, 5) : (10, 100, 1000, 20);
my $client = "$FindBin::Bin/stream-client.mjs";
-d "$FindBin::Bin/../t/js/node_modules/ws" or die "stream.pl: npm's ws is not installed: run ./deploy.sh test once (or npm ci in t/js)\n";
$ENV{RCE_MODULE_SO} && $ENV{RCE_WORKERD} or die "stream.pl: set RCE_MODULE_SO and RCE_WORKERD (export \$(make -s test-env))\n";

my $t = RCETest->new;
local $SIG{ALRM} = sub { $t->stop_all; die "stream.pl: took over 10 minutes, stopped\n" };
alarm 600;
$t->start_redis;
$t->start_nginx(workers => 1);
$t->start_worker('a', '--slots', '2', '--queue-max', '2000');
$t->wait_nodes('a') or die "stream.pl: the node did not come up\n";
my $node = $t->node_name('a');
(my $ws = $t->url('/api/v2/connect')) =~ s/^http/ws/;

# Starts the client; returns a handle to read its JSON line from (client_result).
sub client {
    open(my $fh, '-|', 'node', $client, @_) or die "stream.pl: node: $!\n";
    return $fh;
}

sub client_result {
    my ($fh) = @_;
    my $out = do { local $/; <$fh> };
    close $fh;
    my ($line) = grep { /^\{/ } split /\n/, $out // '';
    return decode_json($line // die "stream.pl: the client printed nothing useful: $out\n");
}

# the resident memory of the nginx worker processes, KiB
sub nginx_rss_kb {
    my $master = $t->slurp("$t->{dir}/nginx/nginx.pid") // return 0;
    chomp $master;
    my $kb = 0;
    for my $pid (split ' ', `pgrep -P $master`) {
        open(my $fh, '<', "/proc/$pid/status") or next;
        while (<$fh>) { $kb += $1 if /^VmRSS:\s+(\d+)/ }
    }
    return $kb;
}

wait_until(sub { ($t->warm_counts->{python} // 0) >= 1 }, 30);
my $lat = client_result(client('latency', $ws, $sessions, $lines));

my $rss0 = nginx_rss_kb();
my $fh = client('idle', $ws, $idle_n, $hold_s);
sleep($idle_n / 1000 + $hold_s / 2);     # opened (50 every 50 ms), halfway through the hold
my $rss1 = nginx_rss_kb();
my $idle = client_result($fh);
my $left = wait_until(sub {
    $t->redis('LLEN', "rce:queue:$node") == 0 && $t->redis('KEYS', 'rce:input:*') eq '' && !$t->containers;
}, 60);

$t->stop_all;
alarm 0;

printf "streaming over /api/v2/connect (Piston's WebSocket protocol), one gateway worker, one node with 2 slots, warm Python\n\n";
printf "1. latency, program write -> WebSocket client, ms (%d sessions x %d lines, 20 ms apart)\n\n", $sessions, $lines;
printf "| %8s | %8s | %8s | %8s | %8s | %6s |\n", 'samples', 'p50', 'p90', 'p99', 'max', 'failed';
printf "|%s|%s|%s|%s|%s|%s|\n", '-' x 10, '-' x 10, '-' x 10, '-' x 10, '-' x 10, '-' x 8;
printf "| %8d | %8.2f | %8.2f | %8.2f | %8.2f | %6d |\n", map { $lat->{$_} // 0 } qw(samples p50 p90 p99 max failed);
printf "\n2. %d idle sessions held %d s: opened in %d ms, %d initialised (runtime message), %d still open after the hold,\n"
    . "   %d answered a ping (all in %d ms); closes seen by the client: %s\n",
    $idle_n, $hold_s, $idle->{open_ms}, $idle->{runtimes}, $idle->{open_after_hold}, $idle->{pongs}, $idle->{ping_all_ms},
    join(', ', map { "$idle->{closed}{$_} x $_" } sort keys %{ $idle->{closed} // {} });
printf "   nginx workers' RSS: %.1f MiB before, %.1f MiB while held (%.1f KiB per session)\n",
    $rss0 / 1024, $rss1 / 1024, ($rss1 - $rss0) / $idle_n;
printf "   after the close: queue empty, no input list, no job container: %s\n", $left ? 'yes' : 'NO';
# held: every session is still open and answers its ping, or ended as its job did (4999: the node
# runs 2 at a time, each waiting for stdin until its wall limit), none dropped otherwise
my $ended = $idle->{closed}{4999} // 0;
my $held = $idle->{open_after_hold} + $ended == $idle_n && $idle->{pongs} == $idle->{open_after_hold};
printf "   sessions whose job ended during the hold (4999, TLE at the 5 s wall limit of a program waiting for stdin): %d\n",
    $ended;
printf "\ntargets:\n  p50 <= 20 ms: %.2f ms, %s\n  %d idle sessions held: %s\n", $lat->{p50} // -1,
    defined $lat->{p50} && $lat->{p50} <= 20 ? 'met' : 'not met', $idle_n,
    $held ? 'met' : 'not met';
ok($lat->{samples} > 0 && !$lat->{failed}, 'latency sessions ran');
ok($left, 'nothing left after the idle sessions closed');
done_testing;
