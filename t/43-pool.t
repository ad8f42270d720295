#!/usr/bin/perl
# The warm pool, seen from outside: jobs through HTTP, the node's heartbeat in
# Redis and the containers in Docker. Warm containers are ready when the node
# says so, serve one job each and are replaced, use no cpu while waiting; jobs
# with their own limits run cold; a pool grows under demand and stays within the
# memory budget; a killed warm container or a killed node leaves nothing behind;
# when a language's image is replaced or removed, its waiting containers go too.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use RCETest qw(wait_until capture);

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;

# --- helpers -------------------------------------------------------------------

# the heartbeat of node $name (as given to start_worker), decoded
sub node_state {
    my ($name) = @_;
    return $t->json($t->redis('GET', 'rce:node:' . $t->node_name($name)) // '') // {};
}

# ids of the warm containers $name reports ready for $lang, sorted
sub ready {
    my ($name, $lang) = @_;
    my @ids = sort @{ node_state($name)->{pool}{ready}{$lang} // [] };
    return @ids;        # a count in scalar context
}

# one of the pool's counters (warm, cold, custom) in $name's heartbeat
sub counter {
    my ($name, $which) = @_;
    return node_state($name)->{pool}{$which} // -1;
}

# the heartbeat is written every second: wait for one written after now
sub next_heartbeat {
    my ($name) = @_;
    my $before = $t->redis('GET', 'rce:node:' . $t->node_name($name));
    wait_until(sub { $t->redis('GET', 'rce:node:' . $t->node_name($name)) ne $before }, 5);
}

# State.Running, State.ExitCode and the rce.pool label of a container; () if Docker
# does not know it
sub docker_state {
    my ($id) = @_;
    my ($rc, $out) = capture('docker', 'inspect', '-f',
        '{{.State.Running}} {{.State.ExitCode}} {{index .Config.Labels "rce.pool"}}', $id);
    return () if $rc != 0;
    chomp $out;
    return split / /, $out, 3;
}

# State.Running of a container: 'true', 'false', or 'gone'
sub running { return (docker_state($_[0]))[0] // 'gone' }

# wait until $name's heartbeat lists at least $n ready $lang containers, none of
# them one of @gone (a heartbeat can be a second old: one listing a container a
# job took since is stale)
sub pool_full {
    my ($name, $lang, $n, @gone) = @_;
    my %gone = map { ($_ => 1) } @gone;
    return wait_until(sub { my @r = ready($name, $lang); @r >= $n && !grep { $gone{$_} } @r }, 10);
}

sub exists_in_docker { my @s = docker_state($_[0]); return scalar @s }

# ids (12 hex) of every container of node $name, any state
sub node_containers {
    my ($name) = @_;
    my ($rc, $out) = capture('docker', 'ps', '-a', '-q', '--filter',
                             'label=rce.node=' . $t->node_name($name));
    my @ids = sort split /\n/, $out;
    return @ids;
}

# the container a job ran in and how (warm or cold), from the node's log line
# "job <id>: python OK, 12 ms (queued 1 ms, warm container <12 hex>)"
sub job_container {
    my ($name, $job_id) = @_;
    my ($how, $id) = $t->worker_log($name) =~ /^.*job \Q$job_id\E: .*\((?:queued -?\d+ ms, )?(warm|cold) container (\w+)\)/m;
    return ($how // '', $id // '');
}

# send a request without reading the answer (for concurrent jobs)
sub send_raw {
    my ($path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->{http_port}) or die $!;
    print $s "POST $path HTTP/1.1\r\nHost: x\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n$body";
    return $s;
}

sub read_all { my $s = shift; local $/; my $r = <$s>; close $s; return $r // '' }

my %used;      # python containers jobs of node p ran in

my $python_image = (capture('docker', 'image', 'inspect', '-f', '{{.Id}}', 'rce/python'))[1];
chomp $python_image;

# --- a node keeps exactly the configured warm containers ----------------------------
$t->start_worker('p', '--slots', '2', '--pool', '0,python=2');
ok($t->wait_nodes('p'), 'node p is live');
ok(wait_until(sub { ready('p', 'python') == 2 }, 30), 'node p reports 2 ready python containers')
    or diag $t->worker_log('p');
{
    my @ready = ready('p', 'python');
    is_deeply([sort keys %{ $t->warm_counts }], ['python'], 'no other language is warm (pool 0,python=2)');
    is_deeply([node_containers('p')], \@ready, 'Docker holds exactly those containers of node p');
    for my $id (@ready) {
        my ($running, undef, $pool) = docker_state($id);
        is($running, 'true', "warm container $id is running");
        like($pool, qr/^[0-9a-f]+-\d+$/, "$id is labelled rce.pool");
        my ($rc, $image) = capture('docker', 'inspect', '-f', '{{.Image}}', $id);
        chomp $image;
        is($image, $python_image, "$id runs the python image");
    }
    like($t->worker_log('p'), qr/pool: .*label rce\.pool=/, 'the node logs its pool and its label');
}

# --- a waiting container uses no cpu ----------------------------------------------------
# Its PID 1 is blocked in read(2) on stdin: its cgroup's cpu total must not move.
{
    my ($id) = ready('p', 'python');
    my $cpu = sub {
        my ($rc, $out) = capture('curl', '-s', '--unix-socket', '/var/run/docker.sock',
            "http://docker/v1.41/containers/$id/stats?stream=false&one-shot=true");
        my $s = $t->json($out) // {};
        return $s->{cpu_stats}{cpu_usage}{total_usage};
    };
    my $before = $cpu->();
    sleep 2;
    my $after = $cpu->();
    ok(defined $before && defined $after, "cpu totals of waiting container $id read");
    cmp_ok(($after // 1e12) - ($before // 0), '<', 20_000_000,
           'it used less than 20 ms of cpu in 2 s of waiting');
    ok((grep { $_ eq $id } ready('p', 'python')), 'and is still ready');
}

# --- a job runs warm; its container is removed and replaced ---------------------------
{
    my @before = ready('p', 'python');
    my $warm = counter('p', 'warm');
    my $res = $t->run_code('python', qq{print("warm hello")\n});
    is($res->{status}, 200, 'python job: 200');
    is($res->{content}, "warm hello\n", 'python job: its output');
    is($res->{headers}{'x-rce-status'}, 'OK', 'python job: OK');
    my ($how, $used) = job_container('p', $res->{headers}{'x-rce-job-id'} // '?');
    $used{$used} = 1;
    is($how, 'warm', 'the job ran in a warm container');
    ok((grep { $_ eq $used } @before), "that container ($used) was one of the ready ones");
    ok(wait_until(sub { counter('p', 'warm') == $warm + 1 }, 5), 'pool.warm counts it');
    ok(wait_until(sub { !exists_in_docker($used) }, 5), 'the used container is removed from Docker');
    ok(wait_until(sub { my @r = ready('p', 'python'); @r == 2 && !grep { $_ eq $used } @r }, 10),
       'the pool is back to 2 ready, without the used one');
    my %was = map { ($_ => 1) } @before;
    is(scalar(grep { !$was{$_} } ready('p', 'python')), 1, 'one of them is new');
    is_deeply([node_containers('p')], [ready('p', 'python')], 'no other container of node p is left');
}

# --- a container never serves two jobs --------------------------------------------------
# Each job leaves a file in /tmp (a tmpfs of the container): a reused container would see it.
{
    my $code = <<'PY';
import os
p = "/tmp/rce-pool-mark"
print("reused" if os.path.exists(p) else "fresh")
open(p, "w").write("x")
PY
    my $warm = counter('p', 'warm');
    my (@answers, %seen);
    for my $i (1 .. 4) {
        # a full pool first, so that every job runs warm
        pool_full('p', 'python', 2, keys %used);
        my $res = $t->run_code('python', $code);
        push @answers, $res->{content} // '';
        my ($how, $id) = job_container('p', $res->{headers}{'x-rce-job-id'} // '?');
        $seen{$id}++ if $how eq 'warm';
        $used{$id} = 1;
    }
    is_deeply(\@answers, [("fresh\n") x 4], 'four jobs in a row each found a fresh /tmp');
    is(scalar keys %seen, 4, 'in four different warm containers');
    ok(wait_until(sub { counter('p', 'warm') == $warm + 4 }, 5), 'pool.warm counts four more');
    ok(wait_until(sub { !grep { exists_in_docker($_) } keys %seen }, 5), 'none of them is left in Docker');
}

# --- a job with its own limits runs cold ------------------------------------------------
{
    ok(pool_full('p', 'python', 2, keys %used), 'the pool is full again');
    my @before = ready('p', 'python');
    my $custom = counter('p', 'custom');
    my $warm = counter('p', 'warm');
    my $res = $t->post('/api/v1/run',
        '{"language":"python","code":"print(6*7)","limits":{"memory_mb":128}}',
        'Content-Type' => 'application/json');
    is($res->{status}, 200, 'JSON job with memory_mb 128: 200');
    my $j = $t->json($res->{content}) // {};
    is($j->{status}, 'OK', 'its verdict is OK');
    is($j->{run}{stdout}, "42\n", 'its output');
    is($j->{limits}{memory_mb}, 128, 'it ran with its own memory limit');
    my ($how) = job_container('p', $j->{id} // '?');
    is($how, 'cold', 'in a cold container');
    ok(wait_until(sub { counter('p', 'custom') == $custom + 1 }, 5), 'pool.custom counts it');
    next_heartbeat('p');
    is(counter('p', 'warm'), $warm, 'pool.warm did not move');
    is_deeply([ready('p', 'python')], \@before, 'the ready containers are untouched');

    # the wall limit is not part of a container's shape: such a job still runs warm
    $res = $t->post('/api/v1/run', '{"language":"python","code":"print(7*6)","limits":{"wall_ms":3000}}',
                    'Content-Type' => 'application/json');
    $j = $t->json($res->{content}) // {};
    is($j->{run}{stdout}, "42\n", 'a JSON job with only a wall limit of its own answers');
    my ($how2, $id2) = job_container('p', $j->{id} // '?');
    is($how2, 'warm', 'and runs warm');
    $used{$id2} = 1;
}

# --- a warm container killed from outside while it waits --------------------------------
# All the ready ones are killed: the next job must take a dead one, notice that it
# no longer waits (its attach connection has ended), discard it and run cold.
{
    ok(pool_full('p', 'python', 2, keys %used), 'the pool is full');
    my @killed = ready('p', 'python');
    is((capture('docker', 'kill', @killed))[0], 0, "docker kill @killed");
    ok(wait_until(sub { !grep { running($_) eq 'true' } @killed }, 5), 'they have stopped');

    my ($warm, $cold) = (counter('p', 'warm'), counter('p', 'cold'));
    my $res = $t->run_code('python', qq{print("after the kill")\n});
    is($res->{content}, "after the kill\n", 'the next job answers');
    is($res->{headers}{'x-rce-status'}, 'OK', 'OK');
    my $job = $res->{headers}{'x-rce-job-id'} // '?';
    my ($how) = job_container('p', $job);
    is($how, 'cold', 'it ran cold');
    # Either the job took a dead one, noticed, discarded it and ran cold, or a
    # filler had already found them dead (it looks every second) and the job
    # found the pool empty; both answer.
    my ($taken) = $t->worker_log('p') =~ /job \Q$job\E: warm container (\w+) stopped waiting; starting a cold one/;
    ok(!$taken || (grep { $_ eq $taken } @killed), 'a warm container the job took dead was one of the killed')
        or diag $t->worker_log('p');
    note($taken ? "the job took $taken, dead" : 'the fillers had discarded the dead ones first');
    ok(wait_until(sub { counter('p', 'warm') + counter('p', 'cold') > $warm + $cold }, 5),
       'the heartbeat counts the job');
    is(counter('p', 'warm'), $warm, 'not as a warm one: it ran cold');

    # the fillers look at the waiting containers every second and discard those
    # whose attach connection has ended
    my %killed = map { ($_ => 1) } @killed;
    ok(wait_until(sub { !grep { $killed{$_} } ready('p', 'python') }, 5),
       "the killed containers (@killed) are no longer listed as ready");
    ok(wait_until(sub { !grep({ exists_in_docker($_) } @killed) }, 5), 'and are removed');
    # (a job that found the pool empty grew it by one)
    ok(wait_until(sub { ready('p', 'python') >= 2 }, 30), 'and replaced');
}

# --- SIGTERM: the node removes its waiting containers before it exits --------------------
{
    ok(node_containers('p') > 0, 'node p has containers before it stops');
    is($t->stop_worker('p'), 0, 'node p exits 0 on SIGTERM');
    is_deeply([node_containers('p')], [], 'no container of node p is left once it has exited');
}

# --- a pool grows under demand ---------------------------------------------------------
{
    $t->start_worker('j', '--slots', '4', '--pool', '0,javascript=1', '--pool-max', '3');
    ok($t->wait_nodes('j'), 'node j is live');
    ok(wait_until(sub { ready('j', 'javascript') == 1 }, 30), 'node j has 1 ready javascript container');
    is_deeply([sort keys %{ $t->warm_counts }], ['javascript'], 'only javascript is warm');
    my $cold = counter('j', 'cold');

    # four at once: one finds the warm container, the others find the pool empty
    my @socks = map { send_raw('/lang/javascript', qq{setTimeout(() => console.log("burst $_"), 300);\n}) } 1 .. 4;
    my @answers = map { read_all($_) } @socks;
    for my $i (1 .. 4) {
        like($answers[$i - 1], qr/^HTTP\/1\.1 200.*\r\n\r\nburst $i\n\z/s, "burst job $i answers");
    }
    ok(wait_until(sub { counter('j', 'cold') >= $cold + 1 }, 5), 'pool.cold counts the jobs that found no warm container')
        or diag 'cold: ' . counter('j', 'cold');
    my $most = 0;
    ok(wait_until(sub { my $n = ready('j', 'javascript'); $most = $n if $n > $most; $n >= 2 }, 20),
       'the javascript pool grows above 1 afterwards');
    wait_until(sub { my $n = ready('j', 'javascript'); $most = $n if $n > $most; 0 }, 3);
    cmp_ok($most, '<=', 3, "never above --pool-max 3 (at most $most seen)");
    is($t->stop_worker('j'), 0, 'node j exits 0 on SIGTERM');
    is_deeply([node_containers('j')], [], 'and leaves none of its containers, grown pool included');
}

# --- the memory budget bounds the pool -------------------------------------------------
my @b_args = ('--slots', '2', '--pool', '0,python=4', '--memory-budget-mb', '600');
{
    $t->start_worker('b', @b_args);
    ok($t->wait_nodes('b'), 'node b is live');
    ok(wait_until(sub { ready('b', 'python') == 2 }, 30), 'node b has 2 ready python containers')
        or diag $t->worker_log('b');
    # 600 MiB hold two containers of 256 MiB, not a third: watch that it stays so
    my $most = 0;
    wait_until(sub {
        my $n = ready('b', 'python');
        my $d = node_containers('b');
        $most = $n if $n > $most;
        $most = $d if $d > $most;
        0;
    }, 3, 0.3);
    is($most, 2, 'with --memory-budget-mb 600 never more than 2 python containers (256 MiB each)');
    my ($rc, $mem) = capture('docker', 'inspect', '-f', '{{.HostConfig.Memory}}', (ready('b', 'python'))[0]);
    is($mem + 0, 256 * 1024 * 1024, 'a warm python container has a 256 MiB limit: a third would pass 600');
    like($t->worker_log('b'), qr/memory budget 600 MiB/, 'the node logs its budget');
}

# --- SIGKILL: the waiting containers end by themselves, the next start removes them -------
{
    my @orphans = ready('b', 'python');
    is(scalar @orphans, 2, 'node b has 2 waiting containers before it is killed');
    $t->stop_worker('b', 'KILL');
    ok(wait_until(sub { !grep { running($_) ne 'false' } @orphans }, 10),
       'its waiting containers stop by themselves (their stdin closed)')
        or diag join "\n", map { "$_: " . join(' ', docker_state($_)) } @orphans;
    is_deeply([map { (docker_state($_))[1] } @orphans], [125, 125], 'their PID 1 exited 125');
    is_deeply([node_containers('b')], \@orphans, 'they are still there until the node comes back');

    $t->start_worker('b', @b_args);
    ok(wait_until(sub { !grep { exists_in_docker($_) } @orphans }, 10),
       'node b started again removes them');
    like($t->worker_log('b'), qr/reaper: removing container \Q$orphans[0]\E/, 'its reaper says so');
    # (until its first heartbeat, the killed node's is still there, naming the old ones)
    my %old = map { ($_ => 1) } @orphans;
    ok(wait_until(sub { my @r = ready('b', 'python'); @r == 2 && !grep { $old{$_} } @r }, 30),
       'and fills its pool again, with new containers');
}

# --- a language's image replaced, then removed ------------------------------------------
# Node i reads its languages from a prefix of its own, holding only a tag of
# rce/python. When the tag is moved to a new image, the containers waiting on the
# old one are replaced by ones of the new image (at the node's next image
# listing, every 10 s); when the tag is removed, they are discarded.
my $prefix = "rcet43-$$/";
my $image_tagged;
END { system("docker rmi -f ${prefix}python:latest ${prefix}keep:latest >/dev/null 2>&1") if $image_tagged }
{
    is($t->stop_worker('b'), 0, 'node b stops (node i is then the only python node)');
    is((capture('docker', 'tag', 'rce/python:latest', "${prefix}python:latest"))[0], 0,
       "docker tag rce/python ${prefix}python");
    $image_tagged = 1;
    $t->start_worker('i', '--slots', '1', '--pool', '0,python=1', '--image-prefix', $prefix);
    ok($t->wait_nodes('i'), 'node i is live');
    ok(wait_until(sub { ready('i', 'python') == 1 }, 30), 'node i has 1 ready python container')
        or diag $t->worker_log('i');
    my ($old) = ready('i', 'python');
    my ($rc, $image) = capture('docker', 'inspect', '-f', '{{.Image}}', $old);
    chomp $image;
    is($image, $python_image, "it ($old) runs rce/python's image");

    # a new image under the same tag: the same labels, one more, another id
    my ($rc1, $tmp) = capture('docker', 'create', "${prefix}python:latest", 'true');
    chomp $tmp;
    my ($rc2, $new_image) = capture('docker', 'commit', '--change', 'LABEL rce.test-rebuild=1', $tmp,
                                    "${prefix}python:latest");
    chomp $new_image;
    capture('docker', 'rm', '-f', $tmp);
    ok($rc1 == 0 && $rc2 == 0 && $new_image ne $python_image, "${prefix}python now names a new image");
    ok(wait_until(sub { my @r = ready('i', 'python'); @r == 1 && $r[0] ne $old }, 30),
       'the waiting container is replaced') or diag $t->worker_log('i');
    my ($new) = ready('i', 'python');
    ($rc, $image) = capture('docker', 'inspect', '-f', '{{.Image}}', $new // '');
    chomp $image;
    is($image, $new_image, "its successor ($new) runs the new image");
    ok(wait_until(sub { !exists_in_docker($old) }, 10), 'the old one is removed from Docker');
    my $warm = counter('i', 'warm');
    my $res = $t->post('/lang/python', "print('new image')\n");
    is($res->{content}, "new image\n", 'a job runs');
    ok(wait_until(sub { counter('i', 'warm') == $warm + 1 }, 5), '... warm');

    # the tag removed (the image keeps another name, as a running container's must):
    # the language is gone, and so are its waiting containers
    ok(pool_full('i', 'python', 1), 'the pool is full again');
    my @last = ready('i', 'python');
    is((capture('docker', 'tag', "${prefix}python:latest", "${prefix}keep:latest"))[0], 0,
       "docker tag ${prefix}python ${prefix}keep");
    my ($rc3, $out3) = capture('docker', 'rmi', "${prefix}python:latest");
    is($rc3, 0, "docker rmi ${prefix}python") or diag $out3;
    ok(wait_until(sub { !grep { exists_in_docker($_) } @last }, 30),
       'its waiting container is removed') or diag $t->worker_log('i');
    ok(wait_until(sub { !ready('i', 'python') && !node_containers('i') }, 10),
       'none is ready, none is started again');
    is($t->stop_worker('i'), 0, 'node i exits 0 on SIGTERM');
}

$t->stop_all;
done_testing;
