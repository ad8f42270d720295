#!/usr/bin/perl
# Cluster behaviour under a steady load of mixed jobs: a worker killed with -9
# mid-job, a worker drained with SIGTERM, a worker added, Redis restarted,
# nginx reloaded.  Each time: every request answered, no wrong result, no job
# left in a Redis list, no container left.  Then the balance of 300 jobs over
# three equal nodes.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use List::Util qw(max sum);
use RCETest qw(wait_until);

my $t = RCETest->new;
$t->start_redis(aof => 1);
$t->start_nginx;
$t->start_worker($_, '--slots', '3') for qw(a b c);
ok($t->wait_nodes(qw(a b c)), 'three nodes are live');

# checks one load's results; $allow_503 for the Redis restart, where a
# request may be refused (503) but never answered wrongly or left hanging
sub check_load {
    my ($name, $results, %opt) = @_;
    my @all = @$results;
    my @ok = grep { $_->{status} == 200 } @all;
    my @wrong = grep { $_->{status} == 200 && $_->{right} ne 'right' } @all;
    my @refused = grep { $_->{status} == 503 } @all;
    my @other = grep { $_->{status} != 200 && $_->{status} != 503 } @all;
    cmp_ok(scalar @all, '>=', 10, "$name: the load ran (" . scalar(@all) . " requests)");
    is(scalar @wrong, 0, "$name: no wrong result") or diag explain [@wrong[0 .. min(4, $#wrong)]];
    is(scalar @other, 0, "$name: no answer other than 200/503")
        or diag explain [@other[0 .. min(4, $#other)]];
    if ($opt{allow_503}) {
        cmp_ok(scalar @ok, '>', 0, "$name: requests succeeded around the fault");
    } else {
        is(scalar @refused, 0, "$name: no request refused");
    }
    my %seen;
    my @dup = grep { $seen{$_->{token}}++ } @all;
    is(scalar @dup, 0, "$name: one answer per request");
    return \@all;
}

sub min { $_[0] < $_[1] ? $_[0] : $_[1] }

sub settle {
    my ($name) = @_;
    ok(wait_until(sub { !$t->leftover_lists }, 20), "$name: no job left in a Redis list")
        or diag join ' ', $t->leftover_lists;
    ok(wait_until(sub { !$t->containers }, 20), "$name: no container left");
}

# --- kill -9 a worker mid-job ----------------------------------------------------
{
    my $load = $t->start_load(clients => 5, java => 1);
    ok(wait_until(sub { $t->redis('LLEN', 'rce:running:' . $t->node_name('a')) > 0 }, 20),
       'kill -9: node a is running a job');
    my $killed_at = time;
    kill 'KILL', $t->worker_pid('a');
    waitpid $t->worker_pid('a'), 0;
    push @{ $t->{stopped} }, 'a';
    delete $t->{workers}{a};
    ok(wait_until(sub { !grep { /"name":"[^"]*-a"/ } $t->{http}->get($t->url('/health'))->{content} }, 10),
       'kill -9: the dead node leaves /health within its heartbeat TTL');
    my $gone = time - $killed_at;
    sleep 3;
    my $results = check_load('kill -9', $t->stop_load($load));
    my @affected = grep { $_->{node} =~ /-[bc]$/ } @$results;
    my $slowest = max(map { $_->{ms} } @$results);
    diag sprintf 'kill -9: node declared dead after %.1f s; slowest request %d ms', $gone, $slowest;
    like($t->nginx_log . $t->worker_log('b') . $t->worker_log('c'), qr/node \S+-a is dead/,
         'kill -9: a survivor took over the dead node\'s jobs');
    like($t->worker_log('b') . $t->worker_log('c'), qr/node \S+-a is dead .*epoch (\d+) fenced/,
         'kill -9: and fenced its epoch');
    # the dead node's containers stay: no peer can tell a death from a stall of
    # its own; the node removes them when it comes back (docs/cluster.md)
    my $node_a = $t->node_name('a');
    my @left = grep { my $id = $_; `docker inspect -f '{{index .Config.Labels "rce.node"}}' $id 2>/dev/null` =~ /^\Q$node_a\E$/m }
               $t->containers(1);
    cmp_ok(scalar @left, '>', 0, 'kill -9: the dead node\'s containers were left alone by its peers ('
           . scalar(@left) . ')');
    unlike($t->worker_log('b') . $t->worker_log('c'), qr/container\(s\) of dead node/,
           'kill -9: no peer removed them');
    $t->start_worker('a', '--slots', '3');
    ok($t->wait_nodes(qw(a b c)), 'kill -9: node a comes back');
    like($t->worker_log('a'), qr/reaper: removed \d+ orphan container/, 'kill -9: and removes its orphans itself');
    ok(wait_until(sub { !grep { my $id = $_; grep { $_ eq $id } @left } $t->containers(1) }, 20),
       'kill -9: none of them is left');
    is($t->stop_worker('a', 'TERM'), 0, 'kill -9: node a leaves again');
    settle('kill -9');
}

# --- add a worker --------------------------------------------------------------
{
    my $load = $t->start_load(clients => 4);
    sleep 1;
    my $added = time;
    $t->start_worker('d', '--slots', '3');
    my $seen = wait_until(sub {
        my $res = $t->run_code('python', 'print(1)');
        ($res->{headers}{'x-rce-node'} // '') =~ /-d$/;
    }, 15, 0.05);
    ok($seen, 'add: the new node runs jobs');
    diag sprintf 'add: first job on the new node %.1f s after it started', time - $added;
    sleep 2;
    check_load('add', $t->stop_load($load));
    settle('add');
}

# --- SIGTERM a worker under load: it drains ------------------------------------------
{
    my $load = $t->start_load(clients => 5);
    ok(wait_until(sub { $t->redis('LLEN', 'rce:running:' . $t->node_name('b')) > 0 }, 20),
       'SIGTERM: node b is running a job');
    my $status = $t->stop_worker('b', 'TERM');
    is($status, 0, 'SIGTERM: node b exits 0 after draining');
    sleep 2;
    check_load('SIGTERM', $t->stop_load($load));
    is($t->redis('EXISTS', 'rce:node:' . $t->node_name('b')), 0, 'SIGTERM: b deregistered');
    settle('SIGTERM');
}

# --- restart Redis ----------------------------------------------------------------------
{
    my $load = $t->start_load(clients => 4);
    sleep 1.5;
    $t->stop_redis;
    sleep 1;
    $t->start_redis;
    my $back = time;
    ok(wait_until(sub { ($t->run_code('python', 'print(7)')->{content} // '') eq "7\n" }, 10, 0.1),
       'Redis restart: requests run again');
    diag sprintf 'Redis restart: first request served %.1f s after Redis came back', time - $back;
    sleep 2;
    check_load('Redis restart', $t->stop_load($load), allow_503 => 1);
    settle('Redis restart');
}

# --- reload nginx under load -------------------------------------------------------------
{
    $t->wait_nodes(qw(c d));
    my $load = $t->start_load(clients => 5);
    sleep 1;
    my $dir = $t->dir . '/nginx';
    system("nginx -p '$dir/' -c '$dir/nginx.conf' -s reload 2>/dev/null");
    sleep 1;
    system("nginx -p '$dir/' -c '$dir/nginx.conf' -s reload 2>/dev/null");
    sleep 2;
    check_load('reload', $t->stop_load($load));
    settle('reload');
}

# --- balance: 300 short jobs over three equal nodes -------------------------------------
{
    $t->start_worker('e', '--slots', '3');
    ok($t->wait_nodes(qw(c d e)), 'balance: three equal nodes');
    my $load = $t->start_load(clients => 6, max => 50);
    waitpid $_, 0 for @{ $load->{pids} };
    my $results = $t->stop_load($load);
    my %per;
    $per{$_->{node}}++ for grep { $_->{status} == 200 && $_->{right} eq 'right' } @$results;
    my $total = sum(values %per) // 0;
    is($total, 300, 'balance: 300 jobs answered right');
    for my $n (qw(c d e)) {
        my $share = ($per{$t->node_name($n)} // 0) / ($total || 1);
        ok($share >= 0.25 && $share <= 0.42, sprintf('balance: node %s ran %.0f %%', $n, 100 * $share));
    }
    settle('balance');
}

$t->stop_all;
done_testing;
