#!/usr/bin/perl
# The containerised cluster, as a user gets it: `./deploy.sh` (docker-compose:
# redis, the gateway image, three workerd containers) under a project name of
# its own, so it cannot clash with a cluster the user runs.  It checks the
# seed's three snippets through the published port, /health, that only the
# workerd containers mount docker.sock, that the images carry no compilers,
# that a stopped worker costs nothing, Redis persistence, scaling 3 -> 4 -> 3,
# and that `down` leaves no container, network or job container (and `down -v`
# no volume).  Then the same for two clusters behind the front nginx
# (RCE_MULTI=1): round-robin, a killed gateway's POST is not re-sent, the other
# cluster takes over.  Whatever happens, the END block takes a cluster down.
#
# Port: RCE_TEST_PORT if set, else 8080 if free, else any free port.
# Time: ~1 min with the images built (./deploy.sh builds missing ones first).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use POSIX ();
use RCETest qw(free_port wait_until port_is_free capture);

my $ROOT = RCETest->root;
my $DEPLOY = "$ROOT/deploy.sh";

my ($rc, $out) = capture('docker', 'info');
plan skip_all => "no Docker engine answers ('docker info' failed): ./deploy.sh engine starts one"
    if $rc != 0;

# t/31-swarm.t leaves a swarm, which breaks running compose containers: it
# waits for this shared lock to be free before it starts one.
use Fcntl qw(:flock);
open(my $swarm_lock, '>>', '/tmp/rce-swarm-test.lock') or die "open /tmp/rce-swarm-test.lock: $!";
flock($swarm_lock, LOCK_SH) or die "flock: $!";

# --- the cluster's settings --------------------------------------------------------

my $PROJECT = "rcet30$$";

sub port_taken {
    my ($port) = @_;
    return 1 unless port_is_free($port);
    # docker may publish a port through iptables alone, with no listener
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
    return 1 if $c;
    my (undef, $ids) = capture('docker', 'ps', '-q', '--filter', "publish=$port");
    return $ids =~ /\S/ ? 1 : 0;
}

my $PORT = $ENV{RCE_TEST_PORT};
if (!$PORT) {
    $PORT = 8080;
    if (port_taken($PORT)) {
        $PORT = free_port() while port_taken($PORT);
        diag("127.0.0.1:8080 is in use (a cluster of yours?); testing on 127.0.0.1:$PORT instead");
    }
}
my $URL = "http://127.0.0.1:$PORT";

$ENV{RCE_PROJECT} = $PROJECT;
$ENV{RCE_PORT}    = $PORT;
$ENV{RCE_BIND}    = '127.0.0.1';
delete $ENV{$_} for qw(RCE_MULTI RCE_WORKERS);

my $http = HTTP::Tiny->new(timeout => 60);
my $json = JSON::PP->new->utf8;
my $started = 0;
my $owner = $$;

# `./deploy.sh ARGS`, output kept for diagnostics; returns (rc, output)
sub deploy {
    my (@args) = @_;
    my $t0 = time;
    my ($rc, $out) = capture($DEPLOY, @args);
    note(sprintf('./deploy.sh %s: exit %d in %.1f s', "@args", $rc, time - $t0));
    diag("./deploy.sh @args said:\n" . tail($out, 40)) if $rc != 0;
    return ($rc, $out);
}

sub tail {
    my ($text, $n) = @_;
    my @lines = split /\n/, $text;
    splice @lines, 0, @lines - $n if @lines > $n;
    return join("\n", @lines) . "\n";
}

# Last resort when ./deploy.sh down fails: remove by label.
sub force_cleanup {
    my (undef, $ids) = capture('docker', 'ps', '-aq', '--filter', "label=com.docker.compose.project=$PROJECT");
    system('docker', 'rm', '-f', split(' ', $ids)) if $ids =~ /\S/;
    my (undef, $nets) = capture('docker', 'network', 'ls', '-q', '--filter', "label=com.docker.compose.project=$PROJECT");
    system('docker', 'network', 'rm', split(' ', $nets)) if $nets =~ /\S/;
    my (undef, $vols) = capture('docker', 'volume', 'ls', '-q', '--filter', "label=com.docker.compose.project=$PROJECT");
    system('docker', 'volume', 'rm', split(' ', $vols)) if $vols =~ /\S/;
}

END {
    if ($started && $$ == $owner) {
        local $?;
        my ($rc) = capture($DEPLOY, 'down', '-v');
        force_cleanup() if $rc != 0;
    }
}
$SIG{$_} = sub { die "killed by SIG$_[0]\n" } for qw(INT TERM HUP);

sub health {
    my $res = $http->get("$URL/health");
    my $h = $res->{status} =~ /^(200|503)$/ ? eval { $json->decode($res->{content}) } : undef;
    return ($res->{status}, $h);
}

sub node_names {        # in scalar context: how many
    my (undef, $h) = health();
    my @names = $h ? sort map { $_->{name} } @{ $h->{nodes} } : ();
    return @names;
}

sub wait_nodes {
    my ($n, $timeout) = @_;
    return wait_until(sub { my @n = node_names(); @n == $n }, $timeout // 30, 0.25);
}

# container ids of the project, optionally of one service (running only unless $all)
sub containers {
    my ($service, $all) = @_;
    my @f = ('--filter', "label=com.docker.compose.project=$PROJECT");
    push @f, '--filter', "label=com.docker.compose.service=$service" if $service;
    my (undef, $ids) = capture('docker', 'ps', ($all ? '-aq' : '-q'), '--no-trunc', @f);
    return split ' ', $ids;
}

sub inspect {
    my ($id) = @_;
    my (undef, $text) = capture('docker', 'inspect', $id);
    my $list = eval { $json->decode($text) } or return {};
    return $list->[0];
}

my %seed = %RCETest::SEED;

sub run_ok {
    my ($lang, $code, $want, $name) = @_;
    my $res = $http->request('POST', "$URL/lang/$lang", { content => $code });
    is($res->{status}, 200, "$name: 200")
        && is($res->{headers}{'x-rce-status'}, 'OK', "$name: verdict OK")
        && is($res->{content}, $want, "$name: output");
    return $res->{headers}{'x-rce-node'};
}

# --- up ------------------------------------------------------------------------------

{
    note("project $PROJECT on $URL");
    $started = 1;
    my ($rc, $out) = deploy();          # no subcommand: up
    if (!is($rc, 0, './deploy.sh (up) succeeds')) {
        diag('the cluster did not come up; ./deploy.sh said it above');
        done_testing();
        exit 1;
    }
    note($_) for grep { /timings|^\[deploy\]   \S|up in/ } split /\n/, $out;
    like($out, qr{\Q$URL\E}, 'up prints the URL');
    like($out, qr{curl --data-binary 'print\(42\)' \Q$URL\E/lang/python}, 'up prints a curl example');
}

# --- /health --------------------------------------------------------------------------

my @workers = containers('workerd');
is(scalar @workers, 3, 'three workerd containers run');
{
    my ($status, $h) = health();
    is($status, 200, '/health is 200');
    is($h->{redis}, 'ok', '/health: redis ok');
    is(scalar @{ $h->{nodes} }, 3, '/health lists three nodes');
    my %hostnames = map { (inspect($_)->{Config}{Hostname} => 1) } @workers;
    ok($hostnames{$_->{name}}, "node $_->{name} is a workerd container's hostname") for @{ $h->{nodes} };
    ok(RCETest::has_core_languages([sort @{ $_->{languages} }]), "node $_->{name} offers the first three languages")
        for @{ $h->{nodes} };
}

# --- the seed's snippets through the published port --------------------------------------

for my $lang (sort keys %seed) {
    run_ok($lang, $seed{$lang}, "drill my brain\n", "$lang seed snippet");
}
run_ok('python', 'print(42)', "42\n", 'the README example');
{
    my $res = $http->request('POST', "$URL/lang/python", { content => "import sys\nprint('x', file=sys.stderr)\nsys.exit(3)\n" });
    is($res->{headers}{'x-rce-status'}, 'RE', 'a failing program is RE through the cluster');
    is($res->{headers}{'x-rce-exit-code'}, '3', 'its exit code comes back');
    $res = $http->request('POST', "$URL/lang/klingon", { content => 'x' });
    is($res->{status}, 404, 'unknown language is 404 through the cluster');
    # the playground of the gateway image (conf/nginx.conf), with its Content-Security-Policy
    $res = $http->get("$URL/");
    (is($res->{status}, 200, 'the playground is served at /')
     && like($res->{content}, qr/<title>rce playground<\/title>/, '... the page')
     && like($res->{headers}{'content-security-policy'} // '', qr/^default-src 'self'; script-src 'self';.*connect-src 'self'/,
             '... with the Content-Security-Policy of conf/nginx.conf'))
        or diag explain $res->{headers};
}

# --- who mounts the Docker socket; what the images hold -------------------------------------

{
    my @all = containers(undef, 1);
    cmp_ok(scalar @all, '>=', 5, 'redis, gateway and three workers exist');
    for my $id (@all) {
        my $c = inspect($id);
        my $service = $c->{Config}{Labels}{'com.docker.compose.service'} // '?';
        my $sock = grep { ($_->{Source} // '') =~ m{docker\.sock$} || ($_->{Destination} // '') =~ m{docker\.sock$} }
                   @{ $c->{Mounts} || [] };
        if ($service eq 'workerd') {
            ok($sock, "workerd container $c->{Config}{Hostname} mounts docker.sock");
        } else {
            ok(!$sock, "$service does not mount docker.sock");
        }
        ok(!$c->{HostConfig}{Privileged}, "$service is not privileged");
    }
    my ($gw) = containers('gateway');
    my $ports = inspect($gw)->{HostConfig}{PortBindings}{'8080/tcp'} || [];
    is($ports->[0]{HostIp}, '127.0.0.1', 'the gateway is published on 127.0.0.1 only');
    my ($redis) = containers('redis');
    ok(!%{ inspect($redis)->{HostConfig}{PortBindings} || {} }, 'redis is not published');

    for my $image (qw(rce/gateway rce/workerd)) {
        my ($rc, $found) = capture('docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'sh', $image,
                                   '-c', 'for p in gcc cc make ld as docker; do command -v $p; done; true');
        is($found, '', "$image holds no compiler, linker, make or docker CLI");
    }
}

# --- Redis keeps its data across a restart (append-only file on the volume) ------------------

{
    my ($redis) = containers('redis');
    my ($rc, $out) = capture('docker', 'exec', $redis, 'redis-cli', 'SET', 'rce:t30:persist', 'kept');
    is($rc, 0, 'a key written to redis');
    ($rc) = capture('docker', 'restart', $redis);
    is($rc, 0, 'redis restarted');
    ok(wait_until(sub { (capture('docker', 'exec', $redis, 'redis-cli', 'PING'))[1] =~ /PONG/ }, 20),
       'redis answers again');
    (undef, $out) = capture('docker', 'exec', $redis, 'redis-cli', 'GET', 'rce:t30:persist');
    is($out, "kept\n", 'the key survived the restart (appendonly on /data)');
    ok(wait_until(sub { (health())[0] == 200 && node_names() == 3 }, 30), 'the gateway and the nodes are back');
    run_ok('python', 'print(7*6)', "42\n", 'a run after the redis restart');
}

# --- one worker stops: requests still succeed ---------------------------------------------

{
    my $victim = $workers[0];
    my $name = inspect($victim)->{Config}{Hostname};
    my ($rc) = capture('docker', 'stop', $victim);
    is($rc, 0, "worker $name stopped (docker stop: it drains and deregisters)");
    ok(wait_nodes(2), '/health lists two nodes');
    ok(!(grep { $_ eq $name } node_names()), 'the stopped node is gone from /health');
    my %seen;
    for my $i (1 .. 6) {
        my $node = run_ok('python', "print($i)", "$i\n", "request $i with a worker stopped");
        $seen{$node // '?'}++;
    }
    ok(!$seen{$name}, 'no request went to the stopped node');
}

# --- scale 4, then back to 3 -------------------------------------------------------------

{
    my ($rc, $out) = deploy('scale', '4');
    is($rc, 0, './deploy.sh scale 4');
    is(scalar(my @w = containers('workerd')), 4, 'four workerd containers run');
    ok(wait_nodes(4), '/health lists four nodes');
    my %hit;
    for my $i (1 .. 8) {
        my $res = $http->request('POST', "$URL/lang/python", { content => 'pass' });
        $hit{ $res->{headers}{'x-rce-node'} // '?' }++ if $res->{status} == 200;
    }
    cmp_ok(scalar keys %hit, '>=', 2, 'requests spread over the nodes (' . join(', ', map { "$_: $hit{$_}" } sort keys %hit) . ')');

    ($rc, $out) = deploy('scale', '3');
    is($rc, 0, './deploy.sh scale 3');
    is(scalar(@w = containers('workerd')), 3, 'three workerd containers run');
    ok(wait_nodes(3), '/health lists three nodes');
    run_ok('python', 'print("after scaling")', "after scaling\n", 'a run after scaling down');
}

# --- status, logs ------------------------------------------------------------------------

{
    my ($rc, $out) = deploy('status');
    is($rc, 0, './deploy.sh status');
    my @names = node_names();
    like($out, qr/\Q$_\E\s+queued 0\s+running 0\s+busy/, "status shows node $_ with its queue") for @names;
    ($rc, $out) = deploy('logs', 'gateway');
    is($rc, 0, './deploy.sh logs gateway');
    like($out, qr{POST /lang/python}, 'the gateway log has the requests');
}

# --- down, then down -v --------------------------------------------------------------------

{
    my @nodes = node_names();
    my ($rc) = deploy('down');
    is($rc, 0, './deploy.sh down');
    is(scalar(my @c = containers(undef, 1)), 0, 'no container of the project is left');
    my (undef, $nets) = capture('docker', 'network', 'ls', '-q', '--filter', "label=com.docker.compose.project=$PROJECT");
    is($nets, '', 'no network of the project is left');
    my (undef, $jobs) = capture('docker', 'ps', '-a', '--filter', 'label=rce.node', '--format', '{{.Label "rce.node"}}');
    my %mine = map { ($_ => 1) } @nodes;
    is(scalar(grep { $mine{$_} } split /\n/, $jobs), 0, 'no job or warm container of its nodes is left');
    my (undef, $vols) = capture('docker', 'volume', 'ls', '-q', '--filter', "label=com.docker.compose.project=$PROJECT");
    like($vols, qr/\Q${PROJECT}\E_redis-data/, 'down keeps the redis volume');
    ok(!eval { $http->get("$URL/health")->{status} == 200 }, 'nothing answers on the port');

    ($rc) = deploy('down', '-v');
    is($rc, 0, './deploy.sh down -v');
    (undef, $vols) = capture('docker', 'volume', 'ls', '-q', '--filter', "label=com.docker.compose.project=$PROJECT");
    is($vols, '', 'down -v removes the volume');
    $started = 0;
}

# --- two clusters behind the front (docker-compose.multi.yml) ------------------------------

sub result_keys {          # the rce:result:* keys in one cluster's Redis
    my ($redis_service) = @_;
    my ($id) = containers($redis_service);
    my (undef, $keys) = capture('docker', 'exec', $id, 'redis-cli', '--raw', '--scan', '--pattern', 'rce:result:*');
    return map { ($_ => 1) } split ' ', $keys;
}

{
    $PROJECT = "rcet30m$$";
    $ENV{RCE_PROJECT} = $PROJECT;
    $ENV{RCE_MULTI} = 1;
    $started = 1;
    my ($rc, $out) = deploy();
    is($rc, 0, 'RCE_MULTI=1 ./deploy.sh: two clusters and a front');

    # node name -> cluster
    my %cluster;
    for my $c (qw(a b)) {
        $cluster{ inspect($_)->{Config}{Hostname} } = $c for containers("workerd-$c");
    }
    is(scalar keys %cluster, 4, 'two worker nodes in each cluster');
    my %served;
    for my $i (1 .. 8) {
        my $node = run_ok('python', "print($i)", "$i\n", "request $i through the front");
        $served{ $cluster{$node // ''} // '?' }++;
    }
    ok($served{a} && $served{b}, "the front round-robins over both clusters (a: @{[ $served{a} // 0 ]}, b: @{[ $served{b} // 0 ]})");

    # A gateway that dies holding a request: the client gets 502, and the
    # program is not run again by the other cluster.
    my $t0 = time;
    my $pid = open(my $slow, '-|') // die "fork: $!";
    if (!$pid) {
        my $res = HTTP::Tiny->new(timeout => 30)->request('POST', "$URL/lang/python",
            { content => "import time\nprint('started', flush=True)\ntime.sleep(4)\n" });
        print "$res->{status} " . ($res->{headers}{'content-type'} // '') . "\n";
        POSIX::_exit(0);
    }
    my ($job_node, $x);
    # the node running it: the one whose running list in its cluster's Redis
    # is not empty (a warm container carries no job label to look for)
    wait_until(sub {
        for my $c (qw(a b)) {
            my ($redis) = containers("redis-$c");
            my (undef, $keys) = capture('docker', 'exec', $redis, 'redis-cli', '--raw', '--scan',
                                        '--pattern', 'rce:running:*');
            ($job_node) = grep { $cluster{$_} } map { s/^rce:running://r } split ' ', $keys;
            return 1 if $job_node;
        }
        return 0;
    }, 10, 0.1);
    ok($job_node, 'the slow job runs');
    $x = $cluster{$job_node // ''} // 'a';
    my $y = $x eq 'a' ? 'b' : 'a';
    my %before = result_keys("redis-$y");
    my ($gw) = containers("gateway-$x");
    capture('docker', 'kill', $gw);
    my $answer = do { local $/; <$slow> } // '';
    close $slow;
    like($answer, qr{^502 application/json}, "its gateway ($x) killed: the client gets the front's JSON 502");
    sleep 5 - (time - $t0) if time - $t0 < 5;   # past the run's end, had it been re-sent
    my %after = result_keys("redis-$y");
    is(scalar(grep { !$before{$_} } keys %after), 0, "cluster $y ran nothing meanwhile: the POST was not re-sent");

    # With cluster $x's gateway gone, the front sends everything to $y.
    my %only;
    for my $i (1 .. 4) {
        my $node = run_ok('python', "print($i)", "$i\n", "request $i with gateway-$x down");
        $only{ $cluster{$node // ''} // '?' }++;
    }
    is_deeply([keys %only], [$y], "all went to cluster $y");

    ($rc) = deploy('down', '-v');
    is($rc, 0, 'RCE_MULTI=1 ./deploy.sh down -v');
    is(scalar(my @c = containers(undef, 1)), 0, 'no container of the two clusters is left');
    my (undef, $nets) = capture('docker', 'network', 'ls', '-q', '--filter', "label=com.docker.compose.project=$PROJECT");
    is($nets, '', 'no network of theirs is left');
    my (undef, $vols) = capture('docker', 'volume', 'ls', '-q', '--filter', "label=com.docker.compose.project=$PROJECT");
    is($vols, '', 'no volume of theirs is left');
    $started = 0;
}

done_testing();
