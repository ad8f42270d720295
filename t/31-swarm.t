#!/usr/bin/perl
# docker-compose.yml as a Swarm stack on a single-node swarm made for the test:
#
#   docker swarm init --advertise-addr 127.0.0.1
#   docker stack deploy --resolve-image never -c docker-compose.yml [-c docker-compose.swarm-hostport.yml] STACK
#   ... checks ...
#   docker stack rm STACK; docker volume rm STACK_redis-data; docker swarm leave --force
#
# The routing mesh needs the kernel's IPVS; without it (no /proc/net/ip_vs even
# after modprobe ip_vs) the gateway is published in host mode by
# docker-compose.swarm-hostport.yml.  Either way the published port is open on
# every interface while the test runs (Swarm cannot bind one address): a random
# free port, for well under a minute.
#
# Skipped when the engine already belongs to a swarm (never touched), when
# containers on user-defined networks run (a compose cluster: leaving a swarm
# breaks their DNS and published ports, moby/moby#45144 and #47392), when the
# cluster images are missing (./deploy.sh or t/30-compose.t builds them), or
# with RCE_TEST_SWARM=0.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use RCETest qw(free_port wait_until port_is_free capture);

my $ROOT = RCETest->root;
my $owner = $$;
my ($in_swarm, $deployed) = (0, 0);

plan skip_all => 'RCE_TEST_SWARM=0' if defined $ENV{RCE_TEST_SWARM} && $ENV{RCE_TEST_SWARM} eq '0';
my ($rc, $out) = capture('docker', 'info', '-f', '{{.Swarm.LocalNodeState}}');
plan skip_all => "no Docker engine answers ('docker info' failed): ./deploy.sh engine starts one" if $rc != 0;
chomp $out;
plan skip_all => "this engine is already in a swarm (state '$out'): the test leaves it alone" if $out ne 'inactive';
# Not while a t/30-compose.t runs (it holds this lock shared), nor two of us.
use Fcntl qw(:flock);
open(my $swarm_lock, '>>', '/tmp/rce-swarm-test.lock') or die "open /tmp/rce-swarm-test.lock: $!";
if (!flock($swarm_lock, LOCK_EX | LOCK_NB)) {
    diag('waiting for a compose or swarm test of another run to finish (/tmp/rce-swarm-test.lock)');
    my $got = 0;
    for (1 .. 300) { $got = flock($swarm_lock, LOCK_EX | LOCK_NB) and last; sleep 1 }
    plan skip_all => 'another compose or swarm test held /tmp/rce-swarm-test.lock for 5 min' unless $got;
}

# `docker swarm leave` breaks name resolution and published ports of the
# containers already running on user-defined networks (moby/moby#45144,
# #47392): never run while such containers exist - a user's cluster, say.
{
    my (undef, $ids) = capture('docker', 'ps', '-q');
    my @busy;
    for my $id (split ' ', $ids) {
        my (undef, $line) = capture('docker', 'inspect', '-f',
            '{{.Name}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', $id);
        my ($name, @nets) = split ' ', $line;
        push @busy, $name if grep { !/^(bridge|host|none)$/ } @nets;
    }
    plan skip_all => 'containers on user-defined networks run (' . join(' ', @busy) . '): leaving the test swarm '
        . 'would break their DNS and published ports (moby/moby#45144, #47392)' if @busy;
}
for my $image (qw(rce/redis rce/gateway rce/workerd rce/python)) {
    ($rc) = capture('docker', 'image', 'inspect', $image);
    plan skip_all => "image $image is missing: ./deploy.sh (or prove t/30-compose.t) builds it" if $rc != 0;
}

my $STACK = "rcet31$$";
my $json = JSON::PP->new->utf8;
my $http = HTTP::Tiny->new(timeout => 60);
my $t_start = time;

sub port_taken {
    my ($port) = @_;
    return 1 unless port_is_free($port);
    return 1 if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
    my (undef, $ids) = capture('docker', 'ps', '-q', '--filter', "publish=$port");
    return $ids =~ /\S/ ? 1 : 0;
}
my $PORT = free_port();
$PORT = free_port() while port_taken($PORT);
my $URL = "http://127.0.0.1:$PORT";

my @files = ('-c', "$ROOT/docker-compose.yml");
sub have_ipvs { -e '/proc/net/ip_vs' }
if (!have_ipvs()) {
    system('modprobe ip_vs >/dev/null 2>&1');
    if (!have_ipvs()) {
        push @files, '-c', "$ROOT/docker-compose.swarm-hostport.yml";
        diag('no IPVS in this kernel (no routing mesh): the gateway is published in host mode '
             . '(docker-compose.swarm-hostport.yml)');
    }
}

my (undef, $nets_before) = capture('docker', 'network', 'ls', '--format', '{{.Name}}');
my %net_before = map { ($_ => 1) } split /\n/, $nets_before;

sub stack_gone {
    my (undef, $c) = capture('docker', 'ps', '-aq', '--filter', "label=com.docker.stack.namespace=$STACK");
    my (undef, $n) = capture('docker', 'network', 'ls', '-q', '--filter', "label=com.docker.stack.namespace=$STACK");
    return $c !~ /\S/ && $n !~ /\S/;
}

sub teardown {
    if ($deployed) {
        capture('docker', 'stack', 'rm', $STACK);
        wait_until(\&stack_gone, 90, 1);
        capture('docker', 'volume', 'rm', "${STACK}_redis-data");
        $deployed = 0;
    }
    if ($in_swarm) {
        capture('docker', 'swarm', 'leave', '--force');
        # the bridge Swarm made for this node, if it was not there before
        unless ($net_before{docker_gwbridge}) {
            wait_until(sub {
                capture('docker', 'network', 'rm', 'docker_gwbridge');
                my (undef, $id) = capture('docker', 'network', 'ls', '-q', '--filter', 'name=^docker_gwbridge$');
                $id !~ /\S/;
            }, 20, 1);
        }
        $in_swarm = 0;
    }
}

END {
    if ($$ == $owner && ($deployed || $in_swarm)) {
        local $?;
        teardown();
    }
}
$SIG{$_} = sub { die "killed by SIG$_[0]\n" } for qw(INT TERM HUP);

sub health {
    my $res = $http->get("$URL/health");
    my $h = $res->{status} =~ /^(200|503)$/ ? eval { $json->decode($res->{content}) } : undef;
    return ($res->{status}, $h);
}

sub service {
    my ($name) = @_;
    my (undef, $text) = capture('docker', 'service', 'inspect', "${STACK}_$name");
    my $list = eval { $json->decode($text) } or return {};
    return $list->[0];
}

# --- init and deploy ----------------------------------------------------------------

($rc, $out) = capture('docker', 'swarm', 'init', '--advertise-addr', '127.0.0.1');
is($rc, 0, 'docker swarm init --advertise-addr 127.0.0.1') or diag($out);
$in_swarm = 1 if $rc == 0;

{
    local $ENV{RCE_PORT} = $PORT;
    my $t0 = time;
    ($rc, $out) = capture('docker', 'stack', 'deploy', '--resolve-image', 'never', @files, $STACK);
    $deployed = 1;
    my @names = map { m{([^/]+)$} } grep { $_ ne '-c' } @files;
    is($rc, 0, "docker stack deploy -c @{[ join(' -c ', @names) ]} $STACK (port $PORT)") or diag($out);
    my $ok = wait_until(sub { my ($s, $h) = health(); $s == 200 && @{ $h->{nodes} } == 1 }, 120, 0.5);
    ok($ok, sprintf('/health is 200 with one node (%.1f s after deploy)', time - $t0));
    if (!$ok) {
        my (undef, $ps) = capture('docker', 'stack', 'ps', '--no-trunc', $STACK);
        diag($ps);
        my (undef, $logs) = capture('docker', 'service', 'logs', '--raw', '--tail', '20', "${STACK}_gateway");
        diag($logs);
    }
}

# --- the services ----------------------------------------------------------------------

{
    my ($w, $g, $r) = map { service($_) } qw(workerd gateway redis);
    ok($w->{Spec}{Mode}{Global}, 'workerd is a global service');
    ok($g->{Spec}{Mode}{Replicated}, 'the gateway is replicated');
    ok((grep { $_ eq 'node.role == manager' } @{ $r->{Spec}{TaskTemplate}{Placement}{Constraints} || [] }),
       'redis is pinned to a manager');
    for ([workerd => $w], [gateway => $g], [redis => $r]) {
        my ($name, $s) = @$_;
        my $sock = grep { ($_->{Source} // '') =~ /docker\.sock$/ } @{ $s->{Spec}{TaskTemplate}{ContainerSpec}{Mounts} || [] };
        if ($name eq 'workerd') { ok($sock, 'workerd mounts docker.sock') }
        else                    { ok(!$sock, "$name does not mount docker.sock") }
    }
}

# --- runs ---------------------------------------------------------------------------------

my (undef, $hostname) = capture('docker', 'info', '-f', '{{.Name}}');
chomp $hostname;
(my $node = $hostname) =~ s/[^A-Za-z0-9._-]/-/g;
{
    my (undef, $h) = health();
    is($h->{nodes}[0]{name}, $node, "the node is named after the host ($node)");
}

my %seed = (
    python     => qq{print("drill my brain") \n},
    javascript => qq{console.log("drill my brain");\n},
    java       => "public class BrainDrill { public static void main(String[] a) { System.out.println(\"drill my brain\"); } }\n",
);
for my $lang (sort keys %seed) {
    my $res = $http->request('POST', "$URL/lang/$lang", { content => $seed{$lang} });
    is($res->{status}, 200, "$lang through the stack: 200");
    is($res->{content}, "drill my brain\n", "$lang through the stack: output");
    is($res->{headers}{'x-rce-node'}, $node, "$lang ran on node $node");
}

# --- Redis moves to a new task (new IP): the gateway follows -----------------------------------

sub redis_task {            # (container id, its address on the stack network) of the running redis task
    my (undef, $id) = capture('docker', 'ps', '-q', '--filter', "label=com.docker.swarm.service.name=${STACK}_redis");
    ($id) = split ' ', $id;
    return () unless $id;
    my (undef, $ip) = capture('docker', 'inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', $id);
    ($ip) = split ' ', $ip;
    return ($id, $ip // '');
}

{
    my ($old_id, $old_ip) = redis_task();
    my $t0 = time;
    ($rc, $out) = capture('docker', 'service', 'update', '--force', '--detach', "${STACK}_redis");
    is($rc, 0, 'docker service update --force redis (a new task, a new address)') or diag($out);
    my ($new_id, $new_ip);
    ok(wait_until(sub { ($new_id, $new_ip) = redis_task(); $new_id && $new_id ne $old_id }, 60, 0.5),
       'a new redis task runs');
    note("redis task address: $old_ip -> " . ($new_ip // '?'));
    my $ok = wait_until(sub {
        my $res = $http->request('POST', "$URL/lang/python", { content => 'print(6*7)' });
        $res->{status} == 200 && $res->{content} eq "42\n";
    }, 90, 1);
    ok($ok, sprintf('runs work again after the redis task was replaced (%.1f s)', time - $t0));
    if (($new_ip // '') ne $old_ip) {
        my (undef, $logs) = capture('docker', 'service', 'logs', '--raw', "${STACK}_gateway");
        like($logs, qr/addresses changed \(redis=\Q$old_ip\E -> redis=\Q$new_ip\E \): nginx -s reload/,
             'the gateway noticed the new address and reloaded nginx');
    }
}

# --- remove the stack, leave the swarm -----------------------------------------------------------

{
    my $t0 = time;
    teardown();
    ok(stack_gone(), sprintf('stack removed: no container or network left (%.1f s)', time - $t0));
    my (undef, $vols) = capture('docker', 'volume', 'ls', '-q', '--filter', "name=^${STACK}_");
    is($vols, '', 'no volume left');
    ($rc, $out) = capture('docker', 'info', '-f', '{{.Swarm.LocalNodeState}}');
    is($out, "inactive\n", 'the engine left the swarm');
    my (undef, $nets) = capture('docker', 'network', 'ls', '--format', '{{.Name}}');
    my @new = grep { !$net_before{$_} } split /\n/, $nets;
    is("@new", '', 'no network left behind');
    my (undef, $jobs) = capture('docker', 'ps', '-a', '--filter', "label=rce.node=$node", '--format', '{{.ID}} {{.CreatedAt}}');
    is($jobs, '', "no job container of node $node left");
}

note(sprintf('swarm test: %.1f s', time - $t_start));
done_testing();
