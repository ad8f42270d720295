#!/usr/bin/perl
# Failures answered clearly and costing nothing later: a client that leaves,
# a node that stalls (504), no live node (503), Redis going away and back,
# Redis at maxmemory, the only node dying with a job, containers that never
# start.

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

# --- Redis at maxmemory (noeviction) ---------------------------------------------------------
# Redis refuses what may grow memory (LPUSH, BLMOVE, SET): the gateway refuses
# new jobs at once, and the jobs Redis already holds still run and are answered
# (workerd's heartbeat, take and finish scripts are allowed to run then).
{
    my $running = send_raw('/lang/python', "import time\ntime.sleep(2)\nprint('was running')");
    ok(wait_until(sub { $t->redis('LLEN', "rce:running:$node") == 1 }, 10), 'a job is running');
    my $queued = send_raw('/lang/python', "print('was queued')");
    ok(wait_until(sub { $t->redis('LLEN', $queue) == 1 }, 5), 'a second one is queued');

    is($t->redis('CONFIG', 'SET', 'maxmemory', '1'), 'OK', 'redis is put at maxmemory');
    my $t0 = time;
    like(read_all($running), qr/\r\n\r\nwas running\n\z/, 'the running job is answered');
    like(read_all($queued), qr/\r\n\r\nwas queued\n\z/, 'the queued one runs and is answered');
    cmp_ok(time - $t0, '<', 8, '... promptly, not at a deadline');

    ok(wait_until(sub { ($t->{http}->get($t->url('/health'))->{content} // '') =~ /"queued":0/ }, 5),
       'the gateway sees the queue empty');
    $t0 = time;
    my $res = $t->run_code('python', 'print(1)');
    is($res->{status}, 503, 'a new job is refused');
    like(($t->json($res->{content}) // {})->{error}, qr/redis is out of memory/, '... naming the cause');
    is($res->{headers}{'retry-after'}, '1', '... with Retry-After');
    cmp_ok(time - $t0, '<', 2, '... at once');
    sleep 4;    # past the heartbeat's TTL
    like($t->{http}->get($t->url('/health'))->{content}, qr/\Q$node\E/, 'the node stays live');
    unlike($t->worker_log('a'), qr/heartbeat failed/, 'its heartbeat never failed');

    is($t->redis('CONFIG', 'SET', 'maxmemory', '0'), 'OK', 'redis has room again');
    ok(wait_until(sub { ($t->run_code('python', 'print(3)')->{content} // '') eq "3\n" }, 10, 0.5),
       'jobs are queued again');
    is($t->redis('LLEN', $queue) + $t->redis('LLEN', "rce:running:$node"), 0, 'nothing left behind');
}

# --- the only node dies with a job in its hands ----------------------------------------------
# no peer is left to run the job again (docs/cluster.md): IE once the gateway
# calls the node dead, not 504 at the deadline (20 s of wall here)
{
    my $body = '{"language":"python","code":"import time\ntime.sleep(6)\nprint(1)","limits":{"wall_ms":20000}}';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->{http_port}) or die $!;
    print $s "POST /api/v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        . length($body) . "\r\nConnection: close\r\n\r\n$body";
    ok(wait_until(sub { $t->redis('LLEN', "rce:running:$node") == 1 }, 10), 'the job is running');
    $t->stop_worker('a', 'KILL');
    my $t0 = time;
    my ($head, $json) = split /\r\n\r\n/, read_all($s), 2;
    my $took = time - $t0;
    my $result = $t->json($json) // {};
    is($result->{status}, 'IE', 'the job is answered IE');
    like($result->{reason}, qr/\Q$node\E stopped answering .*no live node is left/, '... saying why');
    cmp_ok($took, '<', 12, sprintf('... within %.1f s of the death, not at the deadline', $took));
    like($t->nginx_log, qr/job \S+: node \Q$node\E died with it/, 'the gateway logs it with the job id');

    # the node's next start takes its container back and runs the job for nobody
    $t->start_worker('a', '--slots', '1', '--queue-max', '1');
    ok($t->wait_nodes('a'), 'node a is back');
    ok(wait_until(sub { $t->redis('LLEN', "rce:running:$node") == 0 && !$t->containers }, 30),
       'nothing of the dead run is left');
}

# --- containers that never start -------------------------------------------------------------
# an OCI runtime Docker does not know (create fails), and an image whose
# container cannot start (start fails): IE at once, with Docker's reason
{
    $t->stop_worker('a');
    my $prefix = $t->tag . '-broken/';
    system('sh', '-c', 'tar cf - --files-from /dev/null | docker import'
        . q{ --change 'LABEL rce.language=python' --change "LABEL rce.run='[\"python3\",\"main.py\"]'"}
        . q{ --change 'LABEL rce.main=main.py' --change 'LABEL rce.version=0'}
        . " - ${prefix}python:latest >/dev/null") == 0 or die 'docker import failed';
    for my $case (['an unknown runtime', 'bogus', ['--runtime', 'bogus'], qr/create failed: .*bogus/],
                  ['an image that cannot start', 'broken', ['--image-prefix', $prefix],
                   qr/start failed: .*executable file not found/]) {
        my ($what, $name, $args, $reason) = @$case;
        $t->start_worker($name, '--slots', '2', @$args);
        ok($t->wait_nodes($name), "a node with $what is live");
        for my $route ('/lang/python', '/api/v1/run') {
            my $t0 = time;
            my $res = $route eq '/lang/python'
                ? $t->run_code('python', 'print(1)')
                : $t->post($route, '{"language":"python","code":"print(1)"}', 'Content-Type' => 'application/json');
            my $took = time - $t0;
            my $got = $route eq '/lang/python'
                ? { status => $res->{headers}{'x-rce-status'}, reason => $res->{headers}{'x-rce-reason'} }
                : $t->json($res->{content}) // {};
            is($got->{status}, 'IE', "$what, $route: IE");
            like($got->{reason}, $reason, "$what, $route: Docker's reason");
            cmp_ok($took, '<', 3, "$what, $route: at once");
        }
        $t->stop_worker($name);
    }
    ok(wait_until(sub { !$t->containers(1) }, 10), 'no container of theirs is left');
    system("docker rmi -f ${prefix}python:latest >/dev/null");

    # a result over RCE_RESULT_MAX_BYTES (16 MiB): 3 MiB of \x01 is 18 MiB of
    # JSON text (\u0001); the node sends IE saying so instead
    $t->start_worker('big', '--slots', '1', '--output-bytes', 4 << 20, '--max-output-bytes', 4 << 20);
    ok($t->wait_nodes('big'), 'a node with a 4 MiB output cap is live');
    my $flood = sub {
        my $mib = shift;
        my $res = $t->post('/api/v1/run', qq({"language":"python","limits":{"output_bytes":4194304},)
            . qq("code":"import sys; sys.stdout.write('\\\\x01' * ($mib << 20))"}),
            'Content-Type' => 'application/json');
        return $t->json($res->{content}) // {};
    };
    my $t0 = time;
    my $got = $flood->(3);
    is($got->{status}, 'IE', 'a result over 16 MiB of JSON is IE');
    like($got->{reason}, qr/over the largest a node may send \(16777216 bytes\)/, '... saying why');
    cmp_ok(time - $t0, '<', 10, '... at once');
    like($t->worker_log('big'), qr/job \S+: its result is \d+ bytes, over the protocol's 16777216/,
         'the node logs it with the job id');
    $got = $flood->(2);
    is($got->{status}, 'OK', '2 MiB of it (12 MiB of JSON) is OK');
    is($got->{run}{stdout}, "\x01" x (2 << 20), '... every byte');
    $t->stop_worker('big');
    $t->start_worker('a', '--slots', '1', '--queue-max', '1');
    ok($t->wait_nodes('a'), 'node a is back');
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
