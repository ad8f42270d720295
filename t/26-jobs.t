#!/usr/bin/perl
# Asynchronous jobs end to end (issue 16): POST /api/v1/jobs answers 202 with an unguessable
# id and a Location; GET /api/v1/jobs/<id> shows queued, running (with the node) and then the
# result exactly as POST /api/v1/run answers it; ?wait=N long-polls; ?ids=a,b answers many;
# a batch refuses its bad entries one by one; DELETE takes a queued job out of its queue and
# stops a running one, both CANCELLED; unknown and expired ids are 404 and no key is left
# after the result's TTL. Real Redis, nginx, workerd and containers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use RCETest qw(wait_until);

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx(extra => 'location /short/jobs { rce_api_jobs; rce_result_ttl 3s; rce_wall_limit 5s; }
        location /few/jobs { rce_api_jobs; rce_max_batch 2; rce_max_wait 2s; }');
$t->start_worker('a', '--slots', '1');
ok($t->wait_nodes('a'), 'node a is live');

my $json = JSON::PP->new->utf8->canonical;
my $hex32 = qr/\A[0-9a-f]{32}\z/;

sub request {
    my ($method, $path, $body) = @_;
    my $t0 = time;
    my $res = $t->{http}->request($method, $t->url($path),
        defined $body ? { content => ref $body ? $json->encode($body) : $body,
                          headers => { 'Content-Type' => 'application/json' } } : {});
    return ($res->{status}, $t->json($res->{content}) // {}, $res, time - $t0);
}

sub submit {
    my ($req, $path) = @_;
    my ($status, $j, $res) = request('POST', $path // '/api/v1/jobs', $req);
    is($status, 202, "202 Accepted ($req->{language})") or diag $res->{content};
    return $j;
}

# the job's answer once it has ended (GET with wait until it has)
sub finished {
    my ($id, $path) = @_;
    my $j;
    wait_until(sub {
        (undef, $j) = request('GET', ($path // '/api/v1/jobs') . "/$id?wait=10");
        ($j->{status} // '') !~ /\A(queued|running)\z/;
    }, 60);
    return $j;
}

# --- submit, poll, the result as /api/v1/run gives it ------------------------------------------
my $hello = { language => 'python', code => "import sys\nprint('hello', sys.stdin.read())", stdin => 'async' };
{
    my ($status, $j, $res) = request('POST', '/api/v1/jobs', $hello);
    is($status, 202, 'POST /api/v1/jobs: 202');
    like($j->{id} // '', $hex32, 'the id is 32 hex digits (128 random bits)');
    is($j->{status}, 'queued', 'status queued');
    is($j->{url}, "/api/v1/jobs/$j->{id}", 'url names the job');
    is($res->{headers}{location}, "/api/v1/jobs/$j->{id}", 'Location header');

    my $result = finished($j->{id});
    is($result->{status}, 'OK', 'the finished job: OK');
    is($result->{run}{stdout}, "hello async\n", 'its output');
    is($result->{id}, $j->{id}, 'its id');

    my (undef, $sync) = request('POST', '/api/v1/run', $hello);
    is_deeply([sort keys %$result], [sort keys %$sync], 'the same fields as POST /api/v1/run answers');
    is_deeply([sort keys %{ $result->{run} }], [sort keys %{ $sync->{run} }], '... in the run too');
    like($sync->{id}, $hex32, 'synchronous ids are random too');

    my (undef, $again) = request('GET', "/api/v1/jobs/$j->{id}");
    is_deeply($again, $result, 'a second GET gives the same result');
}

# --- ids cannot be guessed -------------------------------------------------------------------------
{
    my @ids = map { submit($hello)->{id} } 1 .. 4;
    my %prefix = map { (substr($_, 0, 8) => 1) } @ids;
    is(scalar keys %prefix, 4, 'four ids from one gateway share no prefix (not a counter): ' . join(' ', @ids));
    finished($_) for @ids;
}

# --- queued, running (with its node), a long poll that ends with the job ---------------------------
{
    my $sleeper = submit({ language => 'python', code => "import time\ntime.sleep(2.5)\nprint('woke')" });
    my $second = submit($hello);
    my $j;
    ok(wait_until(sub { (undef, $j) = request('GET', "/api/v1/jobs/$sleeper->{id}"); $j->{status} eq 'running' }, 10),
       'a job a node has taken is running');
    is($j->{node}, $t->node_name('a'), '... with its node');
    ok($j->{started_ms} && $j->{enqueued_ms} && $j->{started_ms} >= $j->{enqueued_ms}, '... and when it was queued and started');
    my (undef, $q) = request('GET', "/api/v1/jobs/$second->{id}");
    is($q->{status}, 'queued', 'the job behind it (one slot) is queued');

    my ($status, $short, undef, $secs) = request('GET', "/api/v1/jobs/$sleeper->{id}?wait=1");
    is($short->{status}, 'running', 'wait=1 on a longer job: its state after 1 s');
    ok($secs >= 0.9 && $secs < 2.5, sprintf 'answered after the wait (%.2f s)', $secs);

    ($status, my $done, undef, $secs) = request('GET', "/api/v1/jobs/$sleeper->{id}?wait=30");
    is($done->{status}, 'OK', 'wait=30: the result as soon as the job ends');
    is($done->{run}{stdout}, "woke\n", '... with its output');
    ok($secs < 5, sprintf 'long poll answered when the job ended (%.2f s)', $secs);
    is(finished($second->{id})->{status}, 'OK', 'the queued job ran after it');
}

# --- many at once ----------------------------------------------------------------------------------
{
    my $a = submit($hello);
    my $b = submit({ language => 'python', code => 'import sys; sys.exit(3)' });
    finished($_->{id}) for $a, $b;
    my $unknown = '0' x 32;
    my ($status, $j) = request('GET', "/api/v1/jobs?ids=$a->{id},$b->{id},$unknown,nonsense");
    is($status, 200, 'GET ?ids=: 200');
    my @s = map { $_->{status} } @{ $j->{jobs} // [] };
    is("@s", 'OK RE 404 404', 'one entry per id, in order: results, and 404 for unknown ids');
    is($j->{jobs}[1]{run}{exit_code}, 3, 'a result in full');
    ($status) = request('GET', '/few/jobs?ids=' . join(',', ($unknown) x 3));
    is($status, 400, 'more ids than rce_max_batch: 400');
    ($status, $j) = request('GET', '/api/v1/jobs');
    is($status, 400, 'GET /api/v1/jobs without ids: 400');
}

# --- batches ---------------------------------------------------------------------------------------
{
    my ($status, $j) = request('POST', '/api/v1/jobs', { jobs => [
        $hello, { language => 'klingon', code => '1' }, { language => 'python', code => '1', colour => 'red' },
        { language => 'python', code => 'print(2)' } ] });
    is($status, 202, 'a batch: 202');
    my @e = @{ $j->{jobs} // [] };
    is(scalar @e, 4, 'one answer per entry');
    like($e[0]{id} // '', $hex32, 'entry 0 queued');
    is($e[1]{status}, 404, 'entry 1: unknown language, 404 as /api/v1/run says it');
    like($e[1]{error}, qr/unknown language/, '... with its error');
    is($e[2]{status}, 400, 'entry 2: an unknown field, 400');
    is($e[2]{field}, 'colour', '... naming the field');
    like($e[3]{id} // '', $hex32, 'entry 3 queued: one bad entry does not sink the others');
    is(finished($e[3]{id})->{run}{stdout}, "2\n", 'entry 3 ran');
    finished($e[0]{id});

    ($status, $j) = request('POST', '/few/jobs', { jobs => [$hello, $hello, $hello] });
    is($status, 400, 'more jobs than rce_max_batch: 400');
    is($j->{field}, 'jobs', '... naming jobs');
    ($status, $j) = request('POST', '/api/v1/jobs', { jobs => [] });
    is($status, 400, 'an empty batch: 400');
    ($status, $j) = request('POST', '/api/v1/jobs', { jobs => [$hello], language => 'python' });
    is($status, 400, 'a batch with other fields: 400');
}

# --- refusals as /api/v1/run answers them --------------------------------------------------------------
for my $case (
    [ 'unknown language', { language => 'klingon', code => '1' } ],
    [ 'a bad limit', { language => 'python', code => '1', limits => { wall_ms => -1 } } ],
    [ 'not JSON', '{"language":' ],
) {
    my ($name, $body) = @$case;
    my ($s1, $j1) = request('POST', '/api/v1/jobs', $body);
    my ($s2, $j2) = request('POST', '/api/v1/run', $body);
    is($s1, $s2, "$name: the same status as /api/v1/run ($s1)");
    is_deeply($j1, $j2, "$name: the same answer");
}

# --- unknown ids, methods ------------------------------------------------------------------------------
{
    my ($status, $j) = request('GET', '/api/v1/jobs/' . ('a' x 32));
    is($status, 404, 'an unknown id: 404');
    like($j->{error}, qr/unknown job id/, '... saying so');
    ($status) = request('GET', '/api/v1/jobs/not-an-id');
    is($status, 404, 'a malformed id: 404');
    ($status) = request('DELETE', '/api/v1/jobs/' . ('b' x 32));
    is($status, 404, 'DELETE of an unknown id: 404');
    ($status, $j) = request('PUT', '/api/v1/jobs', $hello);
    is($status, 405, 'PUT: 405');
    ($status) = request('POST', '/api/v1/jobs/' . ('a' x 32), $hello);
    is($status, 405, 'POST to a job: 405');
    ($status, $j) = request('GET', '/api/v1/jobs/' . ('a' x 32) . '?wait=soon');
    is($status, 400, 'wait=soon: 400');
    is($j->{field}, 'wait', '... naming wait');
    my $t0 = time;
    ($status, $j) = request('GET', "/few/jobs/" . submit({ language => 'python', code => 'import time; time.sleep(4)' }, '/few/jobs')->{id} . '?wait=60');
    ok(time - $t0 < 3.5, sprintf 'wait is capped by rce_max_wait 2s (%.2f s)', time - $t0);
}

# --- cancel: queued, running, finished ---------------------------------------------------------------------
{
    my $busy = submit({ language => 'python', code => "import time\nprint('started', flush=True)\ntime.sleep(4)\nprint('never')" });
    my $queued = submit({ language => 'python', code => "print('must not run')" });
    ok(wait_until(sub { (request('GET', "/api/v1/jobs/$busy->{id}"))[1]{status} eq 'running' }, 10), 'the first job runs');
    sleep 1.5;      # 'running' is from when the node took it: let it print

    my ($status, $j, undef, $secs) = request('DELETE', "/api/v1/jobs/$queued->{id}");
    is($status, 200, 'DELETE of a queued job: 200');
    is($j->{status}, 'CANCELLED', '... CANCELLED');
    is($j->{run}, undef, '... it never ran');
    is($t->redis('LLEN', 'rce:queue:' . $t->node_name('a')), 0, 'its queue is empty');

    ($status, $j, undef, $secs) = request('DELETE', "/api/v1/jobs/$busy->{id}");
    is($status, 200, 'DELETE of a running job: 200');
    is($j->{status}, 'CANCELLED', '... CANCELLED');
    ok($secs < 3, sprintf '... stopped promptly (%.2f s)', $secs);
    like($j->{run}{stdout} // "", qr/\Astarted\n\z/, "... with the output it wrote before") or diag explain $j;

    (undef, $j) = request('GET', "/api/v1/jobs/$queued->{id}");
    is($j->{status}, 'CANCELLED', 'GET shows CANCELLED afterwards');
    sleep 1;
    (undef, $j) = request('GET', "/api/v1/jobs/$queued->{id}");
    is($j->{status}, 'CANCELLED', '... and it stays so: the cancelled job never ran');
    ok(wait_until(sub { !$t->containers }, 10), 'no container left');

    my $ok = submit($hello);
    my $before = finished($ok->{id});
    ($status, $j) = request('DELETE', "/api/v1/jobs/$ok->{id}");
    is($status, 200, 'DELETE of a finished job: 200');
    is_deeply($j, $before, '... it changes nothing');
}

# --- a running job asked for base64: its cancelled result too -----------------------------------
{
    my $job = submit({ language => 'python', output_encoding => 'base64',
                       code => "import sys, time\nsys.stdout.buffer.write(b'\\xff'); sys.stdout.flush()\ntime.sleep(4)" });
    ok(wait_until(sub { (request('GET', "/api/v1/jobs/$job->{id}"))[1]{status} eq 'running' }, 10), 'a base64 job runs');
    sleep 1.5;
    my ($status, $j) = request('DELETE', "/api/v1/jobs/$job->{id}");
    is($j->{status}, 'CANCELLED', 'DELETE: CANCELLED');
    is($j->{run}{stdout}, '/w==', '... its output so far in base64, as it asked') or diag explain $j;
    ($status) = request('GET', "/api/v1/jobsX$job->{id}");
    is($status, 404, 'a path that only starts like the location: 404');
}

# --- judge mode and base64, asynchronously ----------------------------------------------------------------------
{
    my $judge = submit({ language => 'python', code => 'print(sum(map(int, input().split())))',
                         tests => [{ stdin => "1 2\n", expected_output => "3\n" }, { stdin => "2 2\n", expected_output => "5\n" }] });
    my $j = finished($judge->{id});
    is($j->{status}, 'WA', 'a judge submission runs asynchronously too');
    is(join(' ', map { $_->{status} } @{ $j->{tests} // [] }), 'OK WA', '... one verdict per test');
    my $bin = submit({ language => 'python', code => 'import sys; sys.stdout.buffer.write(b"\xff\x00")', output_encoding => 'base64' });
    $j = finished($bin->{id});
    is($j->{run}{stdout}, '/wA=', 'output_encoding base64 holds for the stored result');
}

# --- results expire; nothing is left ----------------------------------------------------------------------------
{
    my $short = submit($hello, '/short/jobs');
    is(finished($short->{id}, '/short/jobs')->{status}, 'OK', 'a job under rce_result_ttl 3s');
    ok(wait_until(sub { (request('GET', "/short/jobs/$short->{id}"))[0] == 404 }, 10), 'its result is gone after the TTL: 404');
    is($t->redis('EXISTS', "rce:job:$short->{id}", "rce:result:$short->{id}"), 0, 'no key of it is left');
    my $left = $t->redis('TTL', "rce:job:" . submit($hello)->{id});
    ok($left > 3000 && $left <= 7200, "another job's state expires (TTL $left s: the queue deadline and the result's 1 h)");
}

ok(wait_until(sub { !$t->containers }, 10), 'no container left at the end');
unlike($t->nginx_log, qr/\[(alert|crit|emerg)\]/, 'nothing alarming in the nginx log');
$t->stop_all;
done_testing;
