#!/usr/bin/perl
# loadtest/bench.sh --quick: the benchmark script runs from start to end against its own
# stack (including a workerd in --bench-no-container mode), prints both tables with every
# target of issue 7, and leaves nothing behind.  A smoke run: no timing is asserted.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use RCETest qw(capture port_is_free);

my $t = RCETest->new;      # checks RCE_MODULE_SO and RCE_WORKERD, which bench.sh uses too
my $root = $t->root;

my $t0 = time;
my ($rc, $out) = capture("$root/loadtest/bench.sh", '--quick');
my $took = time - $t0;
is($rc, 0, 'bench.sh --quick exits 0 (every measurement ran)') or diag $out;
note sprintf 'bench.sh --quick took %.0f s', $took;

like($out, qr/^machine: \d+ cpus .*load average/m, 'it names the machine and its load');
for my $lang (qw(python javascript java)) {
    like($out, qr/^\| $lang +\| +[\d.]+ \| +[\d.]+ \(\d+ cpu\) \| +[\d.]+ \| [\d.]+ \(\d+\/s, (\d+)\/\1 ok\)/m,
         "side-by-side row for $lang: docker run, floor with limits and without, stack p50, every request ok");
}
like($out, qr/bench node \S+ up: \/health shows "bench":true, answers carry X-RCE-Reason/,
     'the benchmark-mode node shows in /health and marks its answers');

my @targets = (
    qr/Python hello p50 via the stack at 4\/s <= 25 ms/,
    qr/\.\.\. <= 0\.1 x docker run/,
    qr/\.\.\. overhead over the floor <= 10 ms/,
    qr/Javascript hello p50 <= floor \+ 30 ms/,
    qr/Java hello p50 <= floor \+ 30 ms/,
    qr/Throughput at -c 8 >= 0\.9 x raw churn, zero errors/,
    qr/Pipeline capacity \(bench mode\) >= 5,000 jobs\/s/,
    qr/p99 <= 10 ms at 1,000 jobs\/s \(bench mode\)/,
    qr/One gateway holds 10,000 waiting requests/,
    qr/workerd idle RSS \(25 slots\) <= 10 MiB/,
);
like($out, qr/^\| target +\| measured +\| result/m, 'the targets table is printed');
for my $target (@targets) {
    like($out, qr/^\| $target.*\| (?:met|not met|not measured)[^|]* \|$/m,
         "target row with a result: $target");
}
like($out, qr/^workerd RSS, 25 slots, idle: .* a program that only calls Docker once through libcurl: [\d.]+ MiB/m,
     'workerd idle RSS, with the floor of a libcurl client beside it');
like($out, qr/(\d+) held at once, \1\/\1 answered ok/, 'the held requests were all held and all answered');
unlike($out, qr/\(\d+ errors\)/, 'no run had errors (refused or failed requests, wrong outputs)');

# nothing left: its containers, and its redis and nginx (their ports are free again)
my ($tag) = $out =~ /bench node (bench\d+)-bench up/;
ok($tag, 'it named its nodes');
my @left = grep { length } map { split /\n/, `docker ps -aq --filter label=$_` }
    ("rce.bench=$tag", "rce.node=$tag-real", "rce.node=$tag-bench");
is(scalar @left, 0, 'no container of bench.sh is left') or diag "@left";
my ($redis, $http) = $out =~ /stack: redis 127\.0\.0\.1:(\d+), nginx http:\/\/127\.0\.0\.1:(\d+)/;
ok($redis && $http, 'it said where its stack listened');
ok(port_is_free($redis), 'its redis-server is gone') if $redis;
ok(port_is_free($http), 'its nginx is gone') if $http;

done_testing;
