#!/usr/bin/perl
# Failures answered clearly and costing nothing later: a client that leaves,
# a node that stalls (504), no live node (503), Redis going away and back.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use RCETest qw(wait_until);

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;
$t->start_worker('a', '--slots', '1', '--queue-max', '1');
ok($t->wait_nodes('a'), 'node a is live');

my $node = $t->node_name('a');
my $queue = "rce:queue:$node";

# send a request and return the socket without reading the answer
sub send_raw {
    my ($path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->{http_port}) or die $!;
    print $s "POST $path HTTP/1.1\r\nHost: x\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n$body";
    return $s;
}

sub read_all { my $s = shift; local $/; my $r = <$s>; close $s; return $r // '' }

# --- a client that disconnects while its job is queued ------------------------------
{
    # occupy the only slot
    my $busy = send_raw('/lang/python', "import time\ntime.sleep(3)\nprint('busy done')");
    ok(wait_until(sub { $t->redis('LLEN', "rce:running:$node") == 1 }, 10),
       'the busy job is running');

    my $leaver = send_raw('/lang/python', "print('must never run')");
    ok(wait_until(sub { $t->redis('LLEN', $queue) == 1 }, 5), 'second job is queued');

    # backpressure: the node's queue (queue-max 1) is full: 503 at once,
    # once the gateway has had the node's report of it (a heartbeat a second)
    ok(wait_until(sub { ($t->{http}->get($t->url('/health'))->{content} // '') =~ /"queued":1/ }, 5),
       'the gateway sees the full queue');
    my $t0 = time;
    my $full = $t->run_code('python', 'print(1)');
    is($full->{status}, 503, 'a full queue answers 503');
    like($t->json($full->{content})->{error}, qr/full/, '503 says the queues are full');
    is($full->{headers}{'retry-after'}, '1', 'with Retry-After');
    cmp_ok(time - $t0, '<', 2, 'at once, not after a timeout');
    close $leaver;

    ok(wait_until(sub { $t->redis('LLEN', $queue) == 0 }, 5),
       'the queued job of a client that left is taken back');
    ok(wait_until(sub { $t->nginx_log =~ /cancelled before it started/ }, 5),
       'the gateway logs the cancellation');

    like(read_all($busy), qr/busy done/, 'the running job still answers');

    # the cancelled job never reached a container: only one job ran
    sleep 1;
    unlike($t->worker_log('a'), qr/must never run/, 'the cancelled code never reached the node log');
    is($t->redis('LLEN', "rce:running:$node"), 0, 'nothing left running');

    # a client that leaves while its job runs: the job finishes, nothing leaks
    my $runner = send_raw('/lang/python', "import time\ntime.sleep(1)\nprint('x')");
    ok(wait_until(sub { $t->redis('LLEN', "rce:running:$node") == 1 }, 10), 'job running');
    close $runner;
    ok(wait_until(sub { $t->redis('LLEN', "rce:running:$node") == 0 }, 10),
       'the abandoned running job completes');
    ok(wait_until(sub { !$t->containers }, 10), 'and its container is removed');

    my $res = $t->run_code('python', 'print("still fine")');
    is($res->{content}, "still fine\n", 'the gateway still serves afterwards');
}

# --- a stalled node: 504 at the deadline, and the job is not run later ----------------
{
    kill 'STOP', $t->worker_pid('a');
    my $t0 = time;
    my $res = $t->post('/short/python', "print('too late')");
    my $took = time - $t0;
    is($res->{status}, 504, 'no result before the deadline is 504');
    like($t->json($res->{content})->{error}, qr/deadline/, '504 says why');
    ok($t->json($res->{content})->{id}, '504 carries the job id');
    is($t->redis('LLEN', $queue), 0, 'the timed-out job was taken out of the queue');
    kill 'CONT', $t->worker_pid('a');

    # a job whose deadline passed while queued is not run: push one by hand
    my $past = int(time * 1000) - 1000;
    $t->redis('LPUSH', $queue,
        qq({"id":"expired-1","language":"python","code":"print(1)","reply_to":"rce:reply:test","enqueued_ms":$past,"deadline_ms":$past,"limits":{}}));
    ok(wait_until(sub { $t->redis('LLEN', $queue) == 0
                        && $t->redis('LLEN', "rce:running:$node") == 0 }, 10),
       'an expired job is dropped');
    is($t->redis('EXISTS', 'rce:result:expired-1'), 0, 'an expired job gets no result');
}

# --- Redis goes away and comes back ------------------------------------------------------
{
    my $waiting = send_raw('/lang/python', "import time\ntime.sleep(2)\nprint('w')");
    ok(wait_until(sub { $t->redis('LLEN', "rce:running:$node") == 1 }, 10), 'a job is running');

    $t->stop_redis;
    my $answer = read_all($waiting);
    like($answer, qr{^HTTP/1.1 503}, 'a waiting request is answered 503 when redis goes');
    like($answer, qr/Retry-After: 1/i, 'with Retry-After');

    my $res = $t->run_code('python', 'print(1)');
    is($res->{status}, 503, 'new requests get 503 while redis is down');
    like($t->json($res->{content})->{error}, qr/redis/, '503 names redis');
    is($res->{headers}{'retry-after'}, '1', '503 has Retry-After');

    # a burst of refusals on one keep-alive connection: each answered once
    my %seen;
    $seen{ $t->run_code('python', "print($_)")->{status} }++ for 1 .. 200;
    is_deeply(\%seen, { 503 => 200 }, '200 refusals in a row on keep-alive: all 503, no reset');
    $res = $t->post('/api/v1/run', '{"language":"python","code":"print(1)"}',
                    'Content-Type' => 'application/json');
    is($res->{status}, 503, 'the JSON API refuses too while redis is down');

    $res = $t->{http}->get($t->url('/health'));
    is($res->{status}, 503, '/health is 503 while redis is down');
    is($t->json($res->{content})->{redis}, 'down', '/health says redis down');

    sleep 1;
    $t->start_redis;
    ok(wait_until(sub { $t->{http}->get($t->url('/health'))->{status} == 200 }, 15),
       '/health is green again after redis returns');
    ok(wait_until(sub { ($t->run_code('python', 'print(2)')->{content} // '') eq "2\n" }, 10, 0.5),
       'requests run again after redis returns');
}

# --- a job in running that no slot holds -------------------------------------------------------
# BLMOVE moved it, and Redis went away before its answer reached the node (a
# restart): the node puts it back on its queue and runs it.
{
    my $node = $t->node_name('a');
    my $future = int((time + 60) * 1000);
    $t->redis('LPUSH', "rce:running:$node",
        qq({"id":"orphan-1","language":"python","code":"print('found')","reply_to":"rce:reply:test","deadline_ms":$future,"limits":{}}));
    my $result;
    ok(wait_until(sub { $result = $t->redis('GET', 'rce:result:orphan-1'); length $result }, 15),
       'a job left in running with no slot holding it is run');
    is(($t->json($result) // {})->{stdout}, "found\n", '... with its output');
    is($t->redis('LLEN', "rce:running:$node"), 0, '... and leaves running');
    like($t->worker_log('a'), qr/with no slot running it .*put back on/, '... and the node says so');
}

# --- no live node for a language ------------------------------------------------------------
{
    $t->stop_worker('a');
    ok(wait_until(sub { $t->{http}->get($t->url('/health'))->{status} == 503 }, 10),
       '/health is 503 with no live node');
    my $res = $t->run_code('python', 'print(1)');
    is($res->{status}, 503, 'no live node: 503');
    is($res->{headers}{'retry-after'}, '1', 'with Retry-After');
    ok($t->json($res->{content})->{error}, 'and a JSON error');
}

ok(wait_until(sub { !$t->containers }, 10), 'no job container left');
$t->stop_all;
done_testing;
