#!/usr/bin/perl
# Asynchronous jobs survive what a deployment goes through (issue 16): queued jobs survive a
# restart of the gateway, and their results, published while no gateway listened, are
# fetchable after it; they survive a restart of Redis with its append-only file; a job whose
# node dies mid-run is run again by a peer and ends; and 1,000 jobs submitted at once all
# finish, are all fetched with the right output, and leave no key once their results' TTL has
# passed. Real Redis (AOF), nginx, workerd and containers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use RCETest qw(wait_until);

# (the location is kept across the gateway's restart)
my $t = RCETest->new(nginx_extra => 'location /ttl/jobs { rce_api_jobs; rce_result_ttl 20s; rce_wall_limit 5s; }');
my $json = JSON::PP->new->utf8->canonical;

$t->start_redis(aof => 1);
$t->start_nginx;
$t->start_worker('a', '--slots', '1');
ok($t->wait_nodes('a'), 'node a is live');

sub request { $t->call(@_) }

# submits $n jobs printing "<tag> <i>" as one batch; returns their ids
sub submit_batch {
    my ($tag, $n, $path, %more) = @_;
    my ($status, $j, $res) = request('POST', $path // '/api/v1/jobs',
        { jobs => [map { { language => 'python', code => "print('$tag', $_)", %more } } 1 .. $n] });
    return () unless $status == 202;
    return map { $_->{id} // "refused: $_->{error}" } @{ $j->{jobs} };
}

# a job that holds node a's only slot for $seconds
sub hold {
    my ($seconds) = @_;
    my (undef, $j) = request('POST', '/api/v1/jobs',
        { language => 'python', code => "import time\ntime.sleep($seconds)\nprint('held')", priority => 'interactive' });
    wait_until(sub { ((request('GET', "/api/v1/jobs/$j->{id}"))[1]{status} // '') eq 'running' }, 30);
    return $j->{id};
}

# every job of @ids ends OK printing "<tag> <i>"; GET ?ids= until none is queued or running
sub all_right {
    my ($name, $tag, @ids) = @_;
    my %done;
    my $deadline = time + 60 + @ids / 2;
    while (keys %done < @ids && time < $deadline) {
        my @left = grep { !$done{$_} } @ids;
        for (my $i = 0; $i < @left; $i += 100) {
            my @chunk = @left[$i .. ($i + 99 < $#left ? $i + 99 : $#left)];
            my (undef, $j) = request('GET', '/api/v1/jobs?ids=' . join(',', @chunk));
            for my $entry (@{ $j->{jobs} // [] }) {
                next if !$entry->{id} || ($entry->{status} // '') =~ /\A(queued|running)\z/;
                $done{$entry->{id}} = $entry;
            }
        }
        sleep 1 if keys %done < @ids;
    }
    is(scalar keys %done, scalar @ids, "$name: all " . scalar(@ids) . ' jobs ended and were fetched');
    my %index = map { ($ids[$_] => $_ + 1) } 0 .. $#ids;
    my @wrong = grep { ($done{$_}{status} // '') ne 'OK' || ($done{$_}{run}{stdout} // '') ne "$tag $index{$_}\n" }
                grep { $done{$_} } @ids;
    is(scalar @wrong, 0, "$name: each OK with its own output")
        or diag explain [map { $done{$_} } @wrong[0 .. ($#wrong < 2 ? $#wrong : 2)]];
    return \%done;
}

# --- the gateway restarts while jobs wait; their results come while none listens ----------------
{
    my $held = hold(3);
    my @ids = submit_batch('gw', 5);
    is(scalar(grep { /\A[0-9a-f]{32}\z/ } @ids), 5, 'gateway restart: five jobs queued behind a running one');
    $t->stop_nginx;
    ok(wait_until(sub { $t->redis('LLEN', 'rce:batch:' . $t->node_name('a')) == 0
                        && $t->redis('LLEN', 'rce:running:' . $t->node_name('a')) == 0 }, 60),
       'gateway restart: with the gateway down, node a ran them all');
    $t->start_nginx;
    all_right('gateway restart', 'gw', @ids);
    is((request('GET', "/api/v1/jobs/$held"))[1]{run}{stdout}, "held\n", 'gateway restart: and the one that ran across it');
}

# --- Redis restarts (AOF) with jobs in the queue ------------------------------------------------------
{
    my $held = hold(4);
    my @ids = submit_batch('redis', 5);
    is(scalar(grep { /\A[0-9a-f]{32}\z/ } @ids), 5, 'Redis restart: five jobs queued behind a running one');
    $t->stop_redis;
    sleep 1;
    $t->start_redis;
    is($t->redis('EXISTS', "rce:job:$ids[0]"), 1, 'Redis restart: the append-only file kept their state');
    all_right('Redis restart', 'redis', @ids);
    is((request('GET', "/api/v1/jobs/$held"))[1]{status}, 'OK', 'Redis restart: the one that ran across it ended OK');
    ok($t->wait_nodes('a'), 'Redis restart: node a is listed again');
}

# --- a node dies while it runs an asynchronous job -----------------------------------------------------
{
    $t->start_worker('b', '--slots', '1');
    ok($t->wait_nodes(qw(a b)), 'node death: nodes a and b are live');
    my @ids = map { (request('POST', '/api/v1/jobs', { language => 'python', priority => 'interactive',
                                                        code => "import time\ntime.sleep(3)\nprint('rescued', $_)" }))[1]{id} }
              1 .. 2;
    my %on;
    ok(wait_until(sub {
        %on = map { my $j = (request('GET', "/api/v1/jobs/$_"))[1];
                    ($j->{status} // '') eq 'running' ? (($j->{node} // '') => $_) : () } @ids;
        $on{$t->node_name('a')};
    }, 30), 'node death: node a runs one of them');
    my $victim = $on{$t->node_name('a')};
    kill 'KILL', $t->worker_pid('a');
    waitpid $t->worker_pid('a'), 0;
    push @{ $t->{stopped} }, 'a';
    delete $t->{workers}{a};
    my $j;
    ok(wait_until(sub { $j = (request('GET', "/api/v1/jobs/$victim?wait=5"))[1];
                        ($j->{status} // '') !~ /\A(queued|running)\z/ }, 60), 'node death: the job ended');
    is($j->{status}, 'OK', 'node death: OK');
    like($j->{run}{stdout}, qr/\Arescued \d\n\z/, 'node death: with its output');
    is($j->{node}, $t->node_name('b'), 'node death: run again on node b');
    $t->start_worker('a', '--slots', '1');       # removes what the killed one left
    ok($t->wait_nodes(qw(a b)), 'node death: node a is back');
    $t->stop_worker('b');
}

# --- 1,000 at once ------------------------------------------------------------------------------
{
    # batch jobs on every slot: nothing else waits here
    $t->start_worker('b', '--slots', '2', '--batch-slots', '2');
    $t->stop_worker('a');
    $t->start_worker('a', '--slots', '2', '--batch-slots', '2');
    ok($t->wait_nodes(qw(a b)), '1,000: nodes a and b are live, two slots each');
    my $t0 = time;
    my @ids;
    for my $round (0 .. 9) {
        my ($status, $j, $res) = request('POST', '/ttl/jobs',
            { jobs => [map { { language => 'bash', code => 'echo thousand ' . ($round * 100 + $_) } } 1 .. 100] });
        diag "1,000: batch $round: $status $res->{content}" if $status != 202;
        push @ids, map { $_->{id} // 'refused' } @{ $j->{jobs} // [] };
    }
    is(scalar(grep { /\A[0-9a-f]{32}\z/ } @ids), 1000, '1,000: ten batches of 100, all queued');
    diag sprintf '1,000: submitted in %.1f s', time - $t0;
    all_right('1,000', 'thousand', @ids);
    diag sprintf '1,000: all ended and fetched %.1f s after the first submission', time - $t0;
    my @keys = map { ("rce:job:$_", "rce:result:$_") } @ids;
    ok(@keys && wait_until(sub { $t->redis('EXISTS', @keys) == 0 }, 40),
       '1,000: no job state or result is left once their TTL (20 s) has passed');
    my $left = (request('GET', "/ttl/jobs/$ids[0]"))[0];
    is($left, 404, '1,000: and GET says 404');
    is(join(' ', $t->leftover_lists), '', '1,000: no queue or running list holds anything');
}

$t->stop_all;
done_testing;
