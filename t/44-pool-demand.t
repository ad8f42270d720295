#!/usr/bin/perl
# The warm pool's default size follows demand (workerd --pool auto), seen from
# outside: jobs through HTTP, the node's heartbeat and rce:recent in Redis,
# /metrics, and the containers in Docker.  A fresh node keeps no warm container
# for languages nobody asked for; a language's first job leaves one warm; a
# burst that finds the pool empty grows it up to --pool-max; without jobs for
# --pool-idle-s it falls back to none.  A node that starts warms one container
# of each language the cluster ran within its idle period (rce:recent), and
# only those.  --pool 1 keeps the old floor of one per language.  When the
# memory budget is full, the least recently used language's waiting container
# gives way to a language in use.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use RCETest qw(wait_until capture);

my $t = RCETest->new(nginx_extra => 'location = /metrics { rce_metrics; }');
$t->start_redis;
$t->start_nginx;

# --- helpers -------------------------------------------------------------------

sub node_state {
    my ($name) = @_;
    return $t->json($t->redis('GET', 'rce:node:' . $t->node_name($name)) // '') // {};
}

# ids of the warm containers $name reports ready for $lang
sub ready {
    my ($name, $lang) = @_;
    my @ids = sort @{ node_state($name)->{pool}{ready}{$lang} // [] };
    return @ids;
}

# the pool's target of $name for $lang (0 when the heartbeat lists none)
sub target {
    my ($name, $lang) = @_;
    return node_state($name)->{pool}{target}{$lang} // 0;
}

# the warm containers of node $name in Docker (rce.pool label), any state: ids
sub pool_containers {
    my ($name) = @_;
    my ($rc, $out) = capture('docker', 'ps', '-a', '-q', '--filter', 'label=rce.node=' . $t->node_name($name),
                             '--filter', 'label=rce.pool');
    my @ids = sort grep { length } split /\n/, $out;
    return @ids;
}

# language => count of the warm containers of node $name in Docker
sub pool_languages {
    my ($name) = @_;
    my %n;
    for my $id (pool_containers($name)) {
        my ($rc, $lang) = capture('docker', 'inspect', '-f', '{{index .Config.Labels "rce.language"}}', $id);
        chomp $lang;
        $n{$lang}++ if $rc == 0;
    }
    return \%n;
}

# the most warm containers node $name had in Docker over $secs seconds
sub most_containers {
    my ($name, $secs) = @_;
    my $most = 0;
    wait_until(sub { my $n = pool_containers($name); $most = $n if $n > $most; 0 }, $secs, 0.3);
    return $most;
}

# how a job ran (warm or cold), from the node's log line
sub job_how {
    my ($name, $job_id) = @_;
    my ($how) = $t->worker_log($name) =~ /^.*job \Q$job_id\E: .*\((?:queued -?\d+ ms, )?(warm|cold) container/m;
    return $how // '';
}

sub send_raw {
    my ($path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->{http_port}) or die $!;
    print $s "POST $path HTTP/1.1\r\nHost: x\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n$body";
    return $s;
}

sub read_all { my $s = shift; local $/; my $r = <$s>; close $s; return $r // '' }

sub metric_target {
    my ($name, $lang) = @_;
    my $res = $t->{http}->get($t->url('/metrics'));
    my $node = $t->node_name($name);
    my ($v) = ($res->{content} // '') =~ /^rce_pool_target\{node="\Q$node\E",language="\Q$lang\E"\} (\d+)$/m;
    return $v;
}

my @images = grep { length } map { m{^rce/([a-z0-9._-]+)$} ? $1 : () }
    split /\n/, (capture('docker', 'images', '--format', '{{.Repository}}', '--filter', 'label=rce.language'))[1];
my %uniq = map { ($_ => 1) } @images;
@images = sort keys %uniq;
note(scalar(@images) . " language images: @images");

# --- a fresh node with the defaults keeps no warm container -----------------------------
$t->start_worker('a', '--slots', '4', '--pool-max', '3', '--pool-idle-s', '12');
ok($t->wait_nodes('a'), 'node a is live (--pool left at its default)');
like($t->worker_log('a'), qr/pool: warm containers per language: auto/, 'its log says the pool is auto');
is(most_containers('a', 5), 0, 'for 5 s after its start, no warm container of node a exists in Docker');
is_deeply(node_state('a')->{pool}{ready}, {}, 'its heartbeat lists none ready');
is_deeply(node_state('a')->{pool}{target}, {}, 'and no target above 0');
cmp_ok(scalar @{ node_state('a')->{languages} // [] }, '>=', 3, 'though it runs ' . scalar(@{ node_state('a')->{languages} // [] }) . ' languages');
is($t->redis('HLEN', 'rce:recent'), 0, 'rce:recent is empty: no job ran yet');

# --- the first job of a language runs cold and leaves one warm ------------------------------
{
    my $res = $t->run_code('python', qq{print("first")\n});
    is($res->{content}, "first\n", 'a python job answers');
    is(job_how('a', $res->{headers}{'x-rce-job-id'} // '?'), 'cold', 'it ran cold (nothing was warm)');
    ok(wait_until(sub { ready('a', 'python') == 1 }, 30), 'then node a has one ready python container')
        or diag $t->worker_log('a');
    is(target('a', 'python'), 1, 'its python target is 1');
    is_deeply(pool_languages('a'), { python => 1 }, 'Docker holds that one warm container, of python, and no other');
    ok(wait_until(sub { ($t->redis('HGET', 'rce:recent', 'python') || 0) > 0 }, 5), 'rce:recent records python');
    my $at = $t->redis('HGET', 'rce:recent', 'python') || 0;
    cmp_ok(abs($at - time * 1000), '<', 10_000, 'with the time of the job (unix ms)');
    ok(wait_until(sub { (metric_target('a', 'python') // 0) == 1 }, 3), '/metrics: rce_pool_target of python on node a is 1');

    $res = $t->run_code('python', qq{print("second")\n});
    is($res->{content}, "second\n", 'a second python job answers');
    is(job_how('a', $res->{headers}{'x-rce-job-id'} // '?'), 'warm', 'in the warm container');
    ok(wait_until(sub { ready('a', 'python') == 1 }, 30), 'which is replaced');
}

# --- a burst that finds the pool empty grows it, within --pool-max -------------------------------
my $burst_at;
{
    my $cold = node_state('a')->{pool}{cold};
    $burst_at = time;
    my @socks = map { send_raw('/lang/python', qq{import time\ntime.sleep(0.5)\nprint("burst $_")\n}) } 1 .. 4;
    ok(wait_until(sub { target('a', 'python') >= 2 }, 5), 'the python target grows above 1 at once (' . target('a', 'python') . ')');
    my @answers = map { read_all($_) } @socks;
    is(scalar(grep { /\r\n\r\nburst \d\n\z/ } @answers), 4, 'four python jobs at once all answer');
    ok(wait_until(sub { (node_state('a')->{pool}{cold} // 0) > $cold }, 5), 'some found no warm container');
    my $most = 0;
    ok(wait_until(sub { my $n = ready('a', 'python'); $most = $n if $n > $most; $n >= 2 }, 20),
       'and so does the number of ready python containers');
    cmp_ok(target('a', 'python'), '<=', 3, 'the target stays within --pool-max 3');
    cmp_ok(most_containers('a', 2), '<=', 3, 'and so do the containers in Docker');
    ok(wait_until(sub { (metric_target('a', 'python') // 0) == target('a', 'python') }, 3), '/metrics shows the grown target');
}

# --- no job for --pool-idle-s: back to none ------------------------------------------------------
{
    ok(wait_until(sub { !pool_containers('a') }, 40), 'with no job for 12 s, node a removes every warm container')
        or diag $t->worker_log('a');
    my $took = time - $burst_at;
    cmp_ok($took, '>', 11.5, sprintf('not before the idle period (%.1f s after the burst began)', $took));
    ok(wait_until(sub { !%{ node_state('a')->{pool}{target} // { x => 1 } } }, 3), 'its heartbeat lists no target');
    like($t->worker_log('a'), qr/pool: python: no job for 12 s; 0 warm container\(s\) kept/, 'its log says why');
    ok(wait_until(sub { !defined metric_target('a', 'python') }, 3), '/metrics lists no python target');
    is($t->stop_worker('a'), 0, 'node a exits 0 on SIGTERM');
}

# --- a fresh node warms what the cluster ran lately (rce:recent), and only that -----------------
{
    my $now = int(time * 1000);
    my $other = (grep { $_ ne 'python' } @images)[0];
    my $third = (grep { $_ ne 'python' && $_ ne $other } @images)[0];
    $t->redis('HSET', 'rce:recent', $other, $now - 20 * 60 * 1000);    # older than the idle period
    $t->redis('HSET', 'rce:recent', $third, $now - 2 * 86400 * 1000);  # older than a day
    $t->redis('HSET', 'rce:recent', 'nosuchlanguage', $now);            # not run here
    $t->redis('HSET', 'rce:recent', 'bad', 'not a time');
    $t->start_worker('b', '--slots', '2');
    ok($t->wait_nodes('b'), 'node b is live (defaults: --pool auto, --pool-idle-s 600)');
    ok(wait_until(sub { ready('b', 'python') == 1 }, 30), 'it warms one python container (run 20 s ago elsewhere)')
        or diag $t->worker_log('b');
    like($t->worker_log('b'), qr/pool: the cluster ran these within 600 s \(rce:recent\): one warm container each: python$/m,
         'its log names what it warmed');
    is_deeply(pool_languages('b'), { python => 1 }, "none of $other (run 20 min ago), $third or any other");
    is_deeply(node_state('b')->{pool}{target}, { python => 1 }, 'its target: python 1');
    is_deeply([sort split /\n/, $t->redis('HKEYS', 'rce:recent')], [sort('nosuchlanguage', $other, 'python')],
              'it removed the field older than a day and the unreadable one');
    is(most_containers('b', 3), 1, 'and keeps to that one');
    is($t->stop_worker('b'), 0, 'node b exits 0');
}

# --- --pool 1: the old floor of one per language, whatever the demand --------------------------
# Node c reads its languages from a prefix of its own holding python and
# javascript only (tags of rce/*), so that the floor is quick to fill.
my $prefix = "rcet44-$$/";
my @tagged;
END { system("docker rmi $_ >/dev/null 2>&1") for @tagged }
sub tag {
    my ($lang) = @_;
    my ($rc) = capture('docker', 'tag', "rce/$lang:latest", "$prefix$lang:latest");
    push @tagged, "$prefix$lang:latest" if $rc == 0;
    return $rc == 0;
}
SKIP: {
    skip 'no rce/javascript or rce/bash image', 1 unless $uniq{javascript} && $uniq{bash};
    ok(tag('python') && tag('javascript') && tag('bash'), "rce/python, rce/javascript, rce/bash tagged under $prefix");
    $t->redis('DEL', 'rce:recent');
    $t->start_worker('c', '--slots', '2', '--pool', '1', '--pool-idle-s', '2', '--image-prefix', $prefix);
    ok($t->wait_nodes('c'), 'node c is live with --pool 1');
    ok(wait_until(sub { ready('c', 'python') == 1 && ready('c', 'javascript') == 1 && ready('c', 'bash') == 1 }, 60),
       'it keeps one ready container of each language at once, no job needed') or diag $t->worker_log('c');
    my @socks = map { send_raw('/lang/python', qq{import time\ntime.sleep(0.5)\nprint($_)\n}) } 1 .. 3;
    ok(wait_until(sub { target('c', 'python') >= 2 }, 5), 'a burst grows python above its floor');
    read_all($_) for @socks;
    ok(wait_until(sub { target('c', 'python') == 1 && ready('c', 'python') == 1 }, 30),
       'idle, python falls back to its floor of 1, not to 0');
    sleep 3;
    is_deeply(pool_languages('c'), { python => 1, javascript => 1, bash => 1 },
              'after the idle period every language still has its one');
    is($t->stop_worker('c'), 0, 'node c exits 0');
}

# --- the memory budget: the least recently used language gives way --------------------------------
# 600 MiB hold two warm containers of 256 MiB.  python, then javascript, then
# bash are asked for: bash's container takes the place of python's.
SKIP: {
    skip 'no rce/javascript or rce/bash image', 1 unless @tagged == 3;
    # Node c's python jobs are in rce:recent: a node d that found them would
    # warm python as it starts, and the first job, if it came before that
    # container was ready, would miss it and grow python's target to 2.
    $t->redis('DEL', 'rce:recent');
    $t->start_worker('d', '--slots', '1', '--memory-budget-mb', '600', '--image-prefix', $prefix);
    ok($t->wait_nodes('d'), 'node d is live (--memory-budget-mb 600, --pool auto)');
    is($t->run_code('python', "print(1)\n")->{content}, "1\n", 'a python job');
    ok(wait_until(sub { ready('d', 'python') == 1 }, 30), 'python is warm') or diag $t->worker_log('d');
    is($t->run_code('javascript', "console.log(2)\n")->{content}, "2\n", 'a javascript job');
    ok(wait_until(sub { ready('d', 'javascript') == 1 }, 30), 'javascript is warm too (2 x 256 MiB: the budget is full)');
    is($t->run_code('bash', "echo 3\n")->{content}, "3\n", 'a bash job');
    ok(wait_until(sub { ready('d', 'bash') == 1 && !ready('d', 'python') }, 30),
       'bash is warm; python, the least recently used, gave way') or diag $t->worker_log('d');
    is_deeply(pool_languages('d'), { javascript => 1, bash => 1 }, 'Docker holds the javascript and bash ones');
    like($t->worker_log('d'), qr/pool: memory budget full \(600 MiB\): a waiting python container gives way to bash/,
         'its log says so');
    cmp_ok(most_containers('d', 3), '<=', 2, 'never more than the budget holds');
    is($t->stop_worker('d'), 0, 'node d exits 0');
}

$t->stop_all;
done_testing;
