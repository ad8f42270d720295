#!/usr/bin/perl
# Priority classes (issue 16): a node takes interactive jobs first, then normal ones, then
# batch ones; a batch job on an idle node starts at once (the queue's wake marker); the
# backpressure bound is per class; a dead node's batch jobs are rescued with its queue.
# Each job prints when it started (time.time() inside the container), so the order is read
# off the programs themselves. Real Redis, nginx, workerd and containers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use RCETest qw(wait_until);

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;
$t->start_worker('a', '--slots', '1', '--queue-max', '3', '--batch-queue-max', '4');
ok($t->wait_nodes('a'), 'node a is live (1 slot, queue-max 3, batch-queue-max 4)');

my $json = JSON::PP->new->utf8->canonical;

sub request {
    my ($method, $path, $body) = @_;
    my $res = $t->{http}->request($method, $t->url($path),
        defined $body ? { content => $json->encode($body), headers => { 'Content-Type' => 'application/json' } } : {});
    return ($res->{status}, $t->json($res->{content}) // {}, $res);
}

# a job that prints when it started, then sleeps
sub job {
    my ($priority, $sleep) = @_;
    return { language => 'python', code => "import time\nprint(time.time(), flush=True)\ntime.sleep($sleep)",
             (defined $priority ? (priority => $priority) : ()) };
}

sub submit {
    my ($body, $what) = @_;
    my ($status, $j, $res) = request('POST', '/api/v1/jobs', $body);
    is($status, 202, "submitted: $what") or diag $res->{content};
    return $j->{id};
}

sub result {
    my ($id) = @_;
    my $j;
    wait_until(sub { (undef, $j) = request('GET', "/api/v1/jobs/$id?wait=10"); ($j->{status} // '') !~ /^(queued|running)$/ }, 60);
    return $j;
}

sub started { my $out = $_[0]{run}{stdout} // ''; $out =~ /^([\d.]+)/ ? $1 : 9e9 }

sub running {
    my ($id) = @_;
    return wait_until(sub { (request('GET', "/api/v1/jobs/$id"))[1]{status} eq 'running' }, 15);
}

# --- a batch job on an idle node starts at once ------------------------------------------------
{
    my $id = submit(job(undef, 1), 'a batch job (the default of /api/v1/jobs) on an idle node');
    ok(running($id), 'it runs');
    my (undef, $state) = request('GET', "/api/v1/jobs/$id");
    my $gap = ($state->{started_ms} // 9e12) - ($state->{enqueued_ms} // 0);
    cmp_ok($gap, '<', 900, "a slot waiting on the queue was woken for it ($gap ms, not the 1 s BLMOVE timeout)");
    is(result($id)->{status}, 'OK', 'it ran');
    is($t->redis('LLEN', 'rce:queue:' . $t->node_name('a')), 0, 'no wake marker is left in the queue');
}

# --- batch jobs wait behind a normal run ---------------------------------------------------------
{
    my @batch = map { submit(job('batch', 0.6), "batch job $_") } 1 .. 4;
    ok(running($batch[0]), 'the first batch job runs');
    my $t0 = time;
    my ($status, $run) = request('POST', '/api/v1/run', { language => 'python', code => 'import time; print(time.time())' });
    is($status, 200, 'a synchronous run meanwhile (normal)');
    my (undef, $many) = request('GET', '/api/v1/jobs?ids=' . join(',', @batch));
    my @done = grep { $_->{status} !~ /^(queued|running)$/ } @{ $many->{jobs} };
    cmp_ok(scalar @done, '<=', 1, 'the run went before every batch job that had not started (' . scalar(@done) . ' finished before it)');
    my @r = map { result($_) } @batch;
    is(join(' ', map { $_->{status} } @r), 'OK OK OK OK', 'the batch jobs all ran after it');
    ok(started($r[1]) > $run->{run}{stdout}, 'the second batch job started after the run');
}

# --- interactive before normal before batch ------------------------------------------------------
{
    my $first = submit(job('normal', 1.5), 'a normal job that holds the slot');
    ok(running($first), 'it runs');
    my @ids = (submit(job('batch', 0.1), 'batch'), submit(job('normal', 0.1), 'normal 1'),
               submit(job('normal', 0.1), 'normal 2'), submit(job('interactive', 0.1), 'interactive'));
    my @r = map { result($_) } $first, @ids;
    is(join(' ', map { $_->{status} } @r), 'OK OK OK OK OK', 'all ran');
    my %at = (batch => started($r[1]), normal1 => started($r[2]), normal2 => started($r[3]), interactive => started($r[4]));
    my @order = sort { $at{$a} <=> $at{$b} } keys %at;
    is("@order", 'interactive normal1 normal2 batch', 'taken in class order: interactive, normal (first in, first out), batch');
}

# --- backpressure per class ----------------------------------------------------------------------
sub health_node {
    my (undef, $h) = request('GET', '/health');
    return (grep { $_->{name} eq $t->node_name('a') } @{ $h->{nodes} // [] })[0] // {};
}
{
    ok(wait_until(sub { my $n = health_node(); defined $n->{queued} && $n->{queued} == 0 && $n->{batch_queued} == 0 }, 5),
       'the node reports empty lists');
    my $hold = submit(job('normal', 4), 'a job that holds the slot');
    ok(running($hold), 'it runs');
    my @normal = map { submit(job('normal', 0), "normal $_ (queue-max 3)") } 1 .. 3;
    ok(wait_until(sub { (health_node()->{queued} // 0) >= 3 }, 5), 'the node reports its queue full');
    my ($status, $j) = request('POST', '/api/v1/jobs', job('normal', 0));
    is($status, 503, 'a fourth normal job: 503');
    ($status, $j, my $res) = request('POST', '/api/v1/run', { language => 'python', code => 'print(1)' });
    is($status, 503, 'a synchronous run (normal): 503 too');
    ok($res->{headers}{'retry-after'}, '... with Retry-After');
    my $inter = submit(job('interactive', 0), 'an interactive job: it has its own headroom');
    my @batch = map { submit(job('batch', 0), "batch $_") } 1 .. 4;
    ok(wait_until(sub { (health_node()->{batch_queued} // 0) >= 4 }, 5), 'the node reports its batch list full');
    ($status) = request('POST', '/api/v1/jobs', job('batch', 0));
    is($status, 503, 'a fifth batch job: 503 (batch-queue-max 4)');
    is(join(' ', map { result($_)->{status} } $hold, @normal, $inter, @batch), join(' ', ('OK') x 9),
       'everything accepted ran');
}

# --- a dead node's batch jobs are rescued --------------------------------------------------------
{
    ok(wait_until(sub { my $n = health_node(); defined $n->{queued} && $n->{queued} == 0 && $n->{batch_queued} == 0 }, 5),
       'the node reports empty lists again');
    my $hold = submit(job('normal', 3), 'a job that holds node a');
    ok(running($hold), 'it runs');
    my @batch = map { submit(job('batch', 0), "batch $_, queued on node a") } 1 .. 3;
    is($t->redis('LLEN', 'rce:batch:' . $t->node_name('a')), 3, "they wait in a's batch list");
    $t->start_worker('b', '--slots', '1');
    ok($t->wait_nodes('a', 'b'), 'node b joins');
    kill 'KILL', $t->worker_pid('a');
    ok(wait_until(sub { $t->redis('EXISTS', 'rce:batch:' . $t->node_name('a')) == 0 }, 20),
       "node a killed: b takes its batch list over");
    my @r = map { result($_) } @batch;
    is(join(' ', map { $_->{status} } @r), 'OK OK OK', 'its batch jobs ran');
    is(join(' ', map { $_->{node} } @r), join(' ', ($t->node_name('b')) x 3), '... on node b');
    is(result($hold)->{status}, 'OK', 'the job it was running ran again on b');
    # its containers stay until it comes back and removes them (docs/cluster.md)
    $t->start_worker('a', '--slots', '1');
    ok($t->wait_nodes('a', 'b'), 'node a comes back');
    ok(wait_until(sub { $t->worker_log('a') =~ /reaper: removed \d+ orphan container/ }, 20), '... and removes its orphans');
}

# --- a slot is kept from batch jobs ---------------------------------------------------------------
{
    $t->stop_worker($_) for qw(a b);
    $t->start_worker('c', '--slots', '2');
    ok($t->wait_nodes('c'), 'node c, 2 slots (batch jobs on at most 1: --batch-slots 0 is all but one)');
    # python ran lately (rce:recent): node c warms one as it starts.  Batch jobs
    # leave a language's last warm container to others, so the run below takes
    # it, unless it came before it was ready and had to start one of its own.
    wait_until(sub { ($t->warm_counts->{python} // 0) >= 1 }, 30);
    my @batch = map { submit(job('batch', 1), "batch $_ on node c") } 1 .. 4;
    ok(running($batch[0]), 'a batch job runs');
    my ($status, $run) = request('POST', '/api/v1/run', { language => 'python', code => 'print(1)' });
    is($status, 200, 'a run meanwhile');
    my (undef, $many) = request('GET', '/api/v1/jobs?ids=' . join(',', @batch));
    my @done = grep { $_->{status} !~ /^(queued|running)$/ } @{ $many->{jobs} };
    is(scalar @done, 0, 'it ran on the free slot before any batch job ended');
    my $most = 0;
    wait_until(sub {
        my (undef, $m) = request('GET', '/api/v1/jobs?ids=' . join(',', @batch));
        my @s = map { $_->{status} } @{ $m->{jobs} };
        my $running = grep { $_ eq 'running' } @s;
        $most = $running if $running > $most;
        !grep { /^(queued|running)$/ } @s;
    }, 30);
    is($most, 1, 'never more than one batch job ran at once on the two slots');
    is(join(' ', map { result($_)->{status} } @batch), 'OK OK OK OK', 'and all ran');
}

# --- batch jobs are paced while other classes' jobs come ---------------------------------------------
{
    $t->stop_worker('c');
    $t->start_worker('d', '--slots', '3', '--batch-slots', '2', '--batch-pace-ms', '1000');
    ok($t->wait_nodes('d'), 'node d, 3 slots, --batch-pace-ms 1000');
    my $end = time + 30;                # (stopped once the batch jobs were seen)
    my $feeder = fork // die;
    if (!$feeder) {                     # interactive runs all along
        while (time < $end) { request('POST', '/api/v1/run', { language => 'python', code => 'print(1)', priority => 'interactive' }) }
        POSIX::_exit(0);
    }
    sleep 1;
    my @batch = map { submit(job('batch', 1), "paced batch $_") } 1 .. 4;
    my %taken;                          # when the node took each (its state's started_ms)
    wait_until(sub {
        my (undef, $m) = request('GET', '/api/v1/jobs?ids=' . join(',', @batch));
        $taken{$_->{id}} //= $_->{started_ms} for grep { $_->{started_ms} } @{ $m->{jobs} };
        keys %taken == @batch;
    }, 30, 0.1);
    kill 'TERM', $feeder;
    waitpid $feeder, 0;
    my @starts = sort { $a <=> $b } values %taken;
    is(scalar @starts, 4, 'all four were seen running');
    my @gaps = map { $starts[$_] - $starts[$_ - 1] } 1 .. $#starts;
    is(scalar(grep { $_ < 950 } @gaps), 0, 'one batch job was taken per second at most while interactive runs came')
        or diag "gaps (ms): @gaps";
    is(join(' ', map { result($_)->{status} } @batch), 'OK OK OK OK', 'and all ran');
}

ok(wait_until(sub { !$t->containers }, 30), 'no container left');
$t->stop_all;
done_testing;
