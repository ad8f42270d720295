#!/usr/bin/perl
# Streamed and interactive jobs, the node's half (docs/protocol.md, "Streaming and
# interactive jobs"), without the gateway: jobs pushed straight onto the node's queue, their
# events read from reply_to with a second Redis connection (redis-cli SUBSCRIBE), their
# input pushed onto rce:input:<id>. Real Redis, real workerd, real Docker; each case on a
# warm container and on a cold one (its own limits: no warm container has its shape).
# Checked: events numbered 0, 1, ... before the result, output as it comes (a line 1 s
# before the program ends), the compile and run stages (a compile error: no run stage),
# the events of a stage and stream put together equal to the result's bytes (invalid UTF-8,
# NUL), an output flood bounded by the cap (OLE), live stdin (a line answered before the
# next is sent), eof, a signal caught by the program, a kill (CANCELLED, the container
# gone), the wall limit of a program that waits for input, judge mode (the run's output
# with the result), attempt 1 in every event (2 for a job marked rce:rescued:<id>), the wall
# limit of a job whose Redis stalls (SIGSTOP) while it prints, no event for a job without
# stream, no rce:input:* key left.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use POSIX ();
use Time::HiRes qw(sleep time);
use RCETest qw(wait_until capture);

my $t = RCETest->new;
$t->start_redis;
my $node = $t->start_worker('s', '--slots', '2', '--pool', '0,python=1,c=1');
my $json = JSON::PP->new->utf8->canonical;

ok(wait_until(sub { ready('python') && ready('c') }, 60), 'the node is up, a warm python and c container ready');

# --- helpers ---------------------------------------------------------------------

my %used;       # containers (short ids) that ran a job: a heartbeat may still list them ready

# warm containers the node reports ready for $lang, and that ran no job yet
sub ready {
    my ($lang) = @_;
    my $state = $t->json($t->redis('GET', "rce:node:$node") // '') // {};
    return scalar grep { !$used{ substr($_, 0, 12) } } @{ $state->{pool}{ready}{$lang} // [] };
}

my $n_jobs = 0;

# SUBSCRIBEs to a fresh channel: { fh, pid, buf, channel } once Redis confirmed it
sub subscribe {
    my $channel = "rce:reply:t33-" . $$ . '-' . ++$n_jobs;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', '/dev/null';
        { exec 'redis-cli', '-p', $t->redis_port, '--raw', 'SUBSCRIBE', $channel }
        POSIX::_exit(127);
    }
    my $sub = { fh => $fh, pid => $pid, buf => '', channel => $channel };
    my @confirm = map { next_line($sub, 10) } 1 .. 3;
    die "SUBSCRIBE $channel not confirmed" unless defined $confirm[2] && $confirm[0] eq 'subscribe';
    return $sub;
}

# the next line redis-cli prints, or undef after $timeout s
sub next_line {
    my ($sub, $timeout) = @_;
    my $end = time + $timeout;
    my $sel = IO::Select->new($sub->{fh});
    while ($sub->{buf} !~ /\n/) {
        my $left = $end - time;
        return undef if $left <= 0 || !$sel->can_read($left);
        sysread($sub->{fh}, $sub->{buf}, 1 << 16, length $sub->{buf}) or return undef;
    }
    $sub->{buf} =~ s/\A([^\n]*)\n//;
    return $1;
}

sub unsubscribe {
    my ($sub) = @_;
    kill 'TERM', $sub->{pid};
    close $sub->{fh};
}

# pushes a job (its fields over the defaults) onto the node's queue; returns its id
sub push_job {
    my ($sub, %job) = @_;
    my $id = sprintf('t33-%d-%d-%04d', $$, $n_jobs, int rand 10000);
    $t->redis('LPUSH', "rce:queue:$node", $json->encode({ id => $id, reply_to => $sub->{channel},
        stream => JSON::PP::true, %job }));
    return $id;
}

# what came on the channel until the result (or $timeout s): events and result, each
# { at => time, msg => decoded }; $on_event->(event, list so far) may push input
sub collect {
    my ($sub, $timeout, $on_event) = @_;
    my (@events, $result);
    my $end = time + $timeout;
    while (!$result) {
        my $kind = next_line($sub, $end - time) // last;
        next unless $kind eq 'message';
        next_line($sub, 5);
        my $payload = next_line($sub, 5) // last;
        my $msg = $t->json($payload) // { unreadable => $payload };
        if (exists $msg->{event}) {
            push @events, { at => time, msg => $msg };
            $on_event->($msg, \@events) if $on_event;
        } else {
            $result = { at => time, msg => $msg };
        }
    }
    unsubscribe($sub);
    return (\@events, $result);
}

sub input {
    my ($id, $entry) = @_;
    $t->redis('RPUSH', "rce:input:$id", $json->encode($entry));
}

# the bytes of one of a result's (or its compile step's) streams
sub stream_bytes {
    my ($part, $name) = @_;
    return '' unless ref $part eq 'HASH' && defined $part->{$name};
    my $s = $part->{$name};
    return ($part->{"${name}_encoding"} // '') eq 'base64' ? decode_base64($s) : do { utf8::encode($s); $s };
}

# the output events of a stage and stream put together, bytes
sub events_bytes {
    my ($events, $stage, $stream) = @_;
    my $bytes = '';
    for my $e (map { $_->{msg} } @$events) {
        next unless $e->{event} eq 'output' && $e->{stage} eq $stage && $e->{stream} eq $stream;
        my $data = $e->{data};
        if ($e->{encoding} eq 'base64') {
            $bytes .= decode_base64($data);
        } else {
            utf8::encode($data);
            $bytes .= $data;
        }
    }
    return $bytes;
}

# the checks every streamed job passes: seq 0, 1, ... with nothing after the result, chunks
# within the bound, each stage's streams equal to the result's
sub check_stream {
    my ($label, $events, $result) = @_;
    ok($result, "$label: a result came") or return;
    my @seq = map { $_->{msg}{seq} } @$events;
    is_deeply(\@seq, [0 .. $#seq], "$label: events numbered 0, 1, ... in order");
    ok(!grep({ $_->{msg}{event} eq 'output' && length($_->{msg}{data}) > 16384 * 4 / 3 + 4 } @$events),
       "$label: every chunk within the bound");
    my $r = $result->{msg};
    for my $stream (qw(stdout stderr)) {
        is(events_bytes($events, 'run', $stream), stream_bytes($r, $stream), "$label: run $stream events == result");
        is(events_bytes($events, 'compile', $stream), stream_bytes($r->{compile}, $stream),
           "$label: compile $stream events == result");
    }
}

sub stages { [ map { $_->{msg}{stage} } grep { $_->{msg}{event} eq 'stage' } @{ $_[0] } ] }

# how the node ran the job: "warm" or "cold" (and in list context its container's short id)
sub how_run {
    my ($id) = @_;
    my ($how, $container) = $t->worker_log('s') =~ /job \Q$id\E: .* (warm|cold) container (\w+)/;
    $used{$container} = 1 if $container;
    return wantarray ? ($how // '?', $container // '?') : $how // '?';
}

# runs a job on the path $path (warm: a warm container ready first; cold: limits of its own)
sub run_job {
    my ($path, $timeout, $on_event, %job) = @_;
    if ($path eq 'warm') {
        wait_until(sub { ready($job{language}) }, 30) or diag "no warm $job{language} container";
    } else {
        $job{limits} = { %{ $job{limits} // {} }, memory_mb => 200 };
    }
    my $sub = subscribe();
    my $id = push_job($sub, %job);
    my ($events, $result) = collect($sub, $timeout, $on_event ? sub { $on_event->($id, @_) } : undef);
    is(how_run($id), $path, "$path: the job ran on a $path container");
    return ($id, $events, $result);
}

# --- output events ------------------------------------------------------------------

for my $path (qw(warm cold)) {
    my ($id, $events, $result) = run_job($path, 30, undef, language => 'python',
        code => "import sys, time\nprint('one', flush=True)\nprint('err', file=sys.stderr, flush=True)\n"
              . "time.sleep(1)\nprint('two')\n");
    check_stream("$path python", $events, $result);
    is_deeply(stages($events), ['run'], "$path python: one stage, run, at once");
    my ($first) = grep { $_->{msg}{event} eq 'output' } @$events;
    ok($first && $result->{at} - $first->{at} >= 0.8,
       sprintf("$path python: the first output came %.2f s before the result", $first ? $result->{at} - $first->{at} : -1));
    is($result->{msg}{status}, 'OK', "$path python: OK");

    ($id, $events, $result) = run_job($path, 60, undef, language => 'c',
        code => "#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf(\"hello\\n\"); fflush(stdout);"
              . " sleep(1); fprintf(stderr, \"bye\\n\"); return 3; }\n");
    check_stream("$path c", $events, $result);
    is_deeply(stages($events), ['compile', 'run'], "$path c: stages compile, then run");
    is($result->{msg}{status}, 'RE', "$path c: RE (exit 3)");
    my ($hello) = grep { $_->{msg}{event} eq 'output' && $_->{msg}{data} eq "hello\n" } @$events;
    ok($hello && $hello->{msg}{stage} eq 'run' && $result->{at} - $hello->{at} >= 0.8, "$path c: its output before its end");

    ($id, $events, $result) = run_job($path, 60, undef, language => 'c', code => "int main(void) { return x; }\n");
    check_stream("$path c compile error", $events, $result);
    is($result->{msg}{status}, 'CE', "$path c compile error: CE");
    is_deeply(stages($events), ['compile'], "$path c compile error: no run stage");
    like(events_bytes($events, 'compile', 'stderr'), qr/undeclared/, "$path c compile error: the compiler's stderr streamed");

    ($id, $events, $result) = run_job($path, 30, undef, language => 'python',
        code => "import sys\nw = sys.stdout.buffer.write\nw(b'a\\xff\\x00b\\xc3'); sys.stdout.flush()\n"
              . "w('\\u00e9\\u20ac\\n'.encode() + bytes(range(256)) * 100 + b'\\xe2\\x82')\n"
              . "sys.stderr.buffer.write(b'\\x1erce-fake\\nok\\n\\x1e')\n");
    check_stream("$path binary", $events, $result);
    ok((grep { $_->{msg}{event} eq 'output' && $_->{msg}{encoding} eq 'base64' } @$events),
       "$path binary: bytes that are not UTF-8 go as base64");
    is(stream_bytes($result->{msg}, 'stderr'), "\x1erce-fake\nok\n\x1e", "$path binary: a program's \\036 lines are its own");

    ($id, $events, $result) = run_job($path, 30, undef, language => 'python', limits => { output_bytes => 20000 },
        code => "while True:\n    print('x' * 999)\n");
    check_stream("$path flood", $events, $result);
    is($result->{msg}{status}, 'OLE', "$path flood: OLE");
    ok(length(events_bytes($events, 'run', 'stdout')) <= 20000, "$path flood: events within the cap");
}

# --- input ----------------------------------------------------------------------------

for my $path (qw(warm cold)) {
    my ($sent2, $got1);
    my ($id, $events, $result) = run_job($path, 30, sub {
        my ($id, $e, $all) = @_;
        input($id, { stdin => "first\n" }) if $e->{event} eq 'stage';
        if ($e->{event} eq 'output' && events_bytes($all, 'run', 'stdout') =~ /got first\n/ && !$sent2) {
            $got1 = time;
            $sent2 = time;
            input($id, { stdin => "c2Vjb25kCg==", encoding => 'base64' });     # "second\n"
            input($id, { stdin => "rest" });
            input($id, { eof => JSON::PP::true });
        }
    }, language => 'python', interactive => JSON::PP::true,
       code => "import sys\nprint('got', input(), flush=True)\nprint('got', input(), flush=True)\n"
             . "print('rest', repr(sys.stdin.read()))\n");
    check_stream("$path interactive", $events, $result);
    ok($got1, "$path interactive: the answer to line 1 came before line 2 was sent");
    is(stream_bytes($result->{msg}, 'stdout'), "got first\ngot second\nrest 'rest'\n",
       "$path interactive: both lines, then the rest up to the eof");
    is($result->{msg}{status}, 'OK', "$path interactive: OK");

    ($id, $events, $result) = run_job($path, 30, sub {
        my ($id, $e, $all) = @_;
        input($id, { signal => 2 }) if $e->{event} eq 'output' && $e->{data} =~ /waiting/;
    }, language => 'python', interactive => JSON::PP::true,
       code => "import time\ntry:\n    print('waiting', flush=True)\n    time.sleep(20)\n"
             . "except KeyboardInterrupt:\n    print('caught SIGINT')\n");     # caught from the first line it says
    check_stream("$path signal", $events, $result);
    like(stream_bytes($result->{msg}, 'stdout'), qr/caught SIGINT/, "$path signal: the program caught it");
    is($result->{msg}{status}, 'OK', "$path signal: OK");

    my $t0;
    ($id, $events, $result) = run_job($path, 30, sub {
        my ($id, $e) = @_;
        ($t0 = time, input($id, { kill => JSON::PP::true })) if $e->{event} eq 'output';
    }, language => 'python', interactive => JSON::PP::true, code => "import time\nprint('up', flush=True)\ntime.sleep(20)\n");
    check_stream("$path kill", $events, $result);
    is($result->{msg}{status}, 'CANCELLED', "$path kill: CANCELLED");
    ok($t0 && $result->{at} - $t0 < 3, "$path kill: at once");
    my (undef, $container) = how_run($id);
    ok(wait_until(sub { !`docker ps -aq --filter id=$container` }, 10), "$path kill: its container is gone");

    # a program waiting for input that never comes: its wall limit holds
    ($id, $events, $result) = run_job($path, 30, undef, language => 'python', interactive => JSON::PP::true,
        limits => { wall_ms => 1500 }, code => "print('asking', flush=True)\ninput()\n");
    check_stream("$path waiting", $events, $result);
    is($result->{msg}{status}, 'TLE', "$path waiting: TLE");
    ok($result->{msg}{wall_ms} >= 1400 && $result->{msg}{wall_ms} < 3000, "$path waiting: at its wall limit ($result->{msg}{wall_ms} ms)");

    # not interactive: the node watches rce:input:<id> for a kill all the same (the cold
    # container's output comes through curl here, not an upgraded connection)
    ($id, $events, $result) = run_job($path, 30, sub {
        my ($id, $e) = @_;
        ($t0 = time, input($id, { kill => JSON::PP::true })) if $e->{event} eq 'output';
    }, language => 'python', code => "import time\nprint('up', flush=True)\ntime.sleep(20)\n");
    check_stream("$path kill, not interactive", $events, $result);
    is($result->{msg}{status}, 'CANCELLED', "$path kill, not interactive: CANCELLED");
    ok($t0 && $result->{at} - $t0 < 3, "$path kill, not interactive: at once");

    # a compiled program reading stdin: input pushed before the job starts waits for it,
    # and what comes while it compiles is kept for the run
    my $sub = subscribe();
    wait_until(sub { ready('c') }, 30) if $path eq 'warm';
    $id = sprintf('t33-%d-pre-%s', $$, $path);
    input($id, { stdin => "40 " });
    $t->redis('LPUSH', "rce:queue:$node", $json->encode({ id => $id, reply_to => $sub->{channel},
        stream => JSON::PP::true, interactive => JSON::PP::true, language => 'c', stdin => "1 ",
        code => "#include <stdio.h>\nint main(void) { int a, b, c; if (scanf(\"%d %d %d\", &a, &b, &c) != 3) return 1;"
              . " printf(\"%d\\n\", a + b + c); return getchar() == EOF ? 0 : 2; }\n",
        $path eq 'cold' ? (limits => { memory_mb => 200 }) : ()}));
    ($events, $result) = collect($sub, 60, sub {
        my ($e) = @_;
        input($id, { stdin => "1" }), input($id, { eof => JSON::PP::true }) if $e->{event} eq 'stage' && $e->{stage} eq 'compile';
    });
    is(how_run($id), $path, "$path: the job ran on a $path container");
    check_stream("$path c interactive", $events, $result);
    is(stream_bytes($result->{msg}, 'stdout'), "42\n", "$path c interactive: its stdin, then what came, then EOF");
    is($result->{msg}{status}, 'OK', "$path c interactive: OK");
}

# --- judge mode, streamed: the stages as they come, the output with the result -----------------

my $sub0 = subscribe();
$t->redis('LPUSH', "rce:queue:$node", $json->encode({ id => "t33-$$-judge", reply_to => $sub0->{channel},
    stream => JSON::PP::true, language => 'python', code => "print(int(input()) * 2)\n",
    tests => [ { stdin => "1\n", expected_output => "2\n" }, { stdin => "5\n", expected_output => "10\n" } ] }));
my ($jevents, $jresult) = collect($sub0, 30);
check_stream('judge mode', $jevents, $jresult);
is_deeply(stages($jevents), ['run'], 'judge mode: its stage');
is($jresult && $jresult->{msg}{passed}, 2, 'judge mode: both tests pass');

$sub0 = subscribe();
$t->redis('LPUSH', "rce:queue:$node", $json->encode({ id => "t33-$$-judge-ce", reply_to => $sub0->{channel},
    stream => JSON::PP::true, language => 'c', code => "int main(void) { return y; }\n",
    tests => [ { stdin => "1\n" } ] }));
($jevents, $jresult) = collect($sub0, 60);
check_stream('judge mode, compile error', $jevents, $jresult);
is_deeply(stages($jevents), ['compile'], 'judge mode, compile error: no run stage');
ok((grep { $_->{msg}{event} eq 'output' && $_->{at} < $jresult->{at} } @$jevents)
   && $jresult->{msg}{status} eq 'CE', 'judge mode, compile error: CE, the compiler\'s output streamed');

# --- attempt: a re-run after its node died (rce:rescued:<id>) says so in every event -------

my $first_attempts = 0;
for my $rescued (0, 1) {
    my $sub = subscribe();
    my $id = "t33-$$-attempt-$rescued";
    $t->redis('SET', "rce:rescued:$id", 'gone@1', 'EX', 60) if $rescued;
    $t->redis('LPUSH', "rce:queue:$node", $json->encode({ id => $id, reply_to => $sub->{channel},
        stream => JSON::PP::true, language => 'python', code => "print('again')\n" }));
    my ($events, $result) = collect($sub, 30);
    check_stream("attempt $rescued", $events, $result);
    my @attempts = map { $_->{msg}{attempt} // 'none' } @$events;
    ok(@attempts && !grep({ $_ ne ($rescued ? 2 : 1) } @attempts),
       ($rescued ? 'a re-run: attempt 2' : 'a first run: attempt 1') . " in every event (@attempts)");
}

# --- a stalled Redis does not stretch a streamed job's wall limit --------------------------
# The test's own Redis is stopped (SIGSTOP) for 3 s while a job with a 1 s wall limit prints:
# its PUBLISHes wait no longer than its deadline; what was held goes before the result.

{
    my $sub = subscribe();
    my $id = "t33-$$-stall";
    my ($stopped, $waker);
    $t->redis('LPUSH', "rce:queue:$node", $json->encode({ id => $id, reply_to => $sub->{channel},
        stream => JSON::PP::true, language => 'python', limits => { wall_ms => 1000 },
        code => "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.02)\n" }));
    my ($events, $result) = collect($sub, 60, sub {
        my ($e) = @_;
        return if $stopped || $e->{event} ne 'output';
        $stopped = time;
        kill 'STOP', $t->{redis_pid};
        $waker = fork // die "fork: $!";
        if (!$waker) { sleep 3; kill 'CONT', $t->{redis_pid}; POSIX::_exit(0) }
    });
    waitpid $waker, 0 if $waker;
    kill 'CONT', $t->{redis_pid};
    ok($stopped, 'stall: Redis was stopped while the job printed');
    check_stream('stall', $events, $result);
    is($result && $result->{msg}{status}, 'TLE', 'stall: TLE');
    ok($result && $result->{msg}{wall_ms} < 1500,
       "stall: at its wall limit, not Redis's stall later ($result->{msg}{wall_ms} ms)");
}

# --- not streamed: no event --------------------------------------------------------------

my $sub = subscribe();
$t->redis('LPUSH', "rce:queue:$node", $json->encode({ id => "t33-$$-plain", reply_to => $sub->{channel},
    language => 'python', code => "print('plain')\n" }));
my ($events, $result) = collect($sub, 30);
ok($result && !@$events, 'a job without stream: its result, no event');
is(stream_bytes($result->{msg}, 'stdout'), "plain\n", 'a job without stream: as before');

# an interactive job that is not a stream job, or has tests: IE naming the problem
$sub = subscribe();
$t->redis('LPUSH', "rce:queue:$node", $json->encode({ id => "t33-$$-bad", reply_to => $sub->{channel},
    language => 'python', code => "print(1)\n", interactive => JSON::PP::true }));
($events, $result) = collect($sub, 30);
ok($result && $result->{msg}{status} eq 'IE' && $result->{msg}{reason} =~ /interactive.*stream/,
   'interactive without stream: IE naming it') or diag explain $result;

ok(wait_until(sub { $t->redis('KEYS', 'rce:input:*') eq '' }, 5), 'no rce:input:* key is left')
    or diag $t->redis('KEYS', 'rce:input:*');

$t->stop_all;
done_testing;
