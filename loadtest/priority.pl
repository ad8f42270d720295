#!/usr/bin/perl
# loadtest/priority.pl: priority classes' benchmark (issue 16), on this machine, through the
# whole stack (Redis, nginx with the module, one workerd with 2 slots, warm containers;
# t/lib/RCETest.pm starts them on 127.0.0.1 and stops them on exit).
#
#   loadtest/priority.pl            full run: a batch of 1,000 jobs (about 6 minutes)
#   loadtest/priority.pl --quick    smoke version: a batch of 30 after 5 s idle (the numbers mean little)
#   loadtest/priority.pl --pace MS  the node runs with --batch-pace-ms MS (default: its own)
#
# Interactive requests (POST /api/v1/run, "priority": "interactive", a Python hello) are
# sent open loop at 2/s — each at its scheduled time, whatever the earlier ones are doing,
# so a stall cannot hide itself (no coordinated omission) — first on the idle stack, then
# while a batch of Python hellos submitted to POST /api/v1/jobs (the batch class) drains.
# Latency is curl's time_total. Target: the interactive p99 under the batch stays within
# 2 x its idle p99. Every loop is bounded in count and time.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use JSON::PP;
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use RCETest qw(wait_until);
use Test::More;         # RCETest's stop_all checks that nothing was left behind, as TAP

my $quick = grep { $_ eq '--quick' } @ARGV;
my ($pace) = map { /^--pace=?(\d*)$/ ? ($1 ne '' ? $1 : undef) : () } @ARGV;
for my $i (0 .. $#ARGV - 1) { $pace = $ARGV[$i + 1] if $ARGV[$i] eq '--pace' }
my $loaded_max_s = 150;         # interactive requests under the batch: until it drains, or this long
my $batch_n = $quick ? 30 : 1000;
my $idle_s = $quick ? 5 : 60;
my $rate = 2;
my $json = JSON::PP->new->utf8->canonical;
my $tmp = tempdir(CLEANUP => 1);

$ENV{RCE_MODULE_SO} && $ENV{RCE_WORKERD} or die "priority.pl: set RCE_MODULE_SO and RCE_WORKERD (eval \$(make -s test-env))\n";
my $t = RCETest->new;
local $SIG{ALRM} = sub { $t->stop_all; die "priority.pl: took over 15 minutes, stopped\n" };
alarm 900;
$t->start_redis;
$t->start_nginx;
$t->start_worker('a', '--slots', '2', '--pool', 'auto,python=1', defined $pace ? ('--batch-pace-ms', $pace) : ());
$t->wait_nodes('a') or die "priority.pl: the node did not come up\n";
my $node = $t->node_name('a');

sub pct {
    my ($p, @v) = @_;
    return 0 unless @v;
    my @s = sort { $a <=> $b } @v;
    my $i = int($p / 100 * @s + 0.999999) - 1;
    return $s[$i < 0 ? 0 : $i];
}

# Sends interactive requests at $rate/s, open loop, until $done->() is true or $max have
# been sent (each request is a forked curl); returns the latencies in ms and the failures.
sub stream {
    my ($phase, $max, $done) = @_;
    my $body = "$tmp/interactive.json";
    open my $fh, '>', $body or die;
    print $fh $json->encode({ language => 'python', code => 'print("hi")', priority => 'interactive' });
    close $fh;
    my ($t0, @kids) = (time);
    for my $i (0 .. $max - 1) {
        last if $done && $done->();
        my $at = $t0 + $i / $rate;
        sleep($at - time) if $at > time;
        my $pid = fork() // die "fork: $!";
        if (!$pid) {
            exec 'sh', '-c', "curl -s -m 60 -o /dev/null -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' "
                . "--data-binary \@$body " . $t->url('/api/v1/run') . " > $tmp/$phase.$i";
        }
        push @kids, $pid;
    }
    waitpid($_, 0) for @kids;
    my (@ms, $failed);
    for my $f (glob "$tmp/$phase.*") {
        my ($code, $s) = split ' ', $t->slurp($f) // '';
        if ($code && $code == 200) { push @ms, $s * 1000 } else { $failed++ }
    }
    return (\@ms, $failed // 0);
}

# --- idle --------------------------------------------------------------------------------------
wait_until(sub { ($t->warm_counts->{python} // 0) >= 1 }, 30);
my ($idle, $idle_failed) = stream('idle', $idle_s * $rate);

# --- a batch drains --------------------------------------------------------------------------------
my @ids;
my $t_submit = time;
for (my $left = $batch_n; $left > 0; $left -= 100) {
    my $n = $left < 100 ? $left : 100;
    my $res = $t->post('/api/v1/jobs', $json->encode({ jobs => [ map { { language => 'python', code => "print($_)" } } 1 .. $n ] }),
                       'Content-Type' => 'application/json');
    die "priority.pl: POST /api/v1/jobs: $res->{status} $res->{content}\n" unless $res->{status} == 202;
    push @ids, map { $_->{id} // die "priority.pl: a batch entry was refused: $_->{error}\n" } @{ $t->json($res->{content})->{jobs} };
}
my $t_submitted = time;
my $drained = sub { $t->redis('LLEN', "rce:batch:$node") == 0 };
my ($loaded, $loaded_failed) = stream('loaded', $loaded_max_s * $rate, $drained);
wait_until($drained, 600);
my %status;
for (my $i = 0; $i < @ids; $i += 100) {
    my $chunk = join ',', @ids[$i .. ($i + 99 < $#ids ? $i + 99 : $#ids)];
    my $ok = wait_until(sub {
        my $j = $t->json($t->{http}->get($t->url("/api/v1/jobs?ids=$chunk"))->{content}) // {};
        my @s = map { $_->{status} } @{ $j->{jobs} // [] };
        return 0 if grep { /^(queued|running)$/ } @s;
        $status{$_}++ for @s;
        return 1;
    }, 120);
    die "priority.pl: batch jobs did not finish\n" unless $ok;
}
my $t_drained = time;

$t->stop_all;
alarm 0;

printf "priority classes: interactive Python hellos at %d/s (open loop), idle and while %d batch jobs drain;\n", $rate, $batch_n;
printf "one node, 2 slots (one kept from batch jobs), warm containers, --batch-pace-ms %s; curl time_total, ms\n\n",
    $pace // 'default';
printf "| %-34s | %6s | %8s | %8s | %8s | %6s |\n", 'interactive requests', 'n', 'p50', 'p99', 'max', 'failed';
printf "|%s|%s|%s|%s|%s|%s|\n", '-' x 36, '-' x 8, '-' x 10, '-' x 10, '-' x 10, '-' x 8;
printf "| %-34s | %6d | %8.1f | %8.1f | %8.1f | %6d |\n", @$_ for
    ['idle stack', scalar @$idle, pct(50, @$idle), pct(99, @$idle), pct(100, @$idle), $idle_failed],
    ["while $batch_n batch jobs drain", scalar @$loaded, pct(50, @$loaded), pct(99, @$loaded), pct(100, @$loaded), $loaded_failed];
printf "\nbatch: %d jobs submitted in %.1f s, drained %.1f s after the first submission (%.1f jobs/s); %s\n",
    $batch_n, $t_submitted - $t_submit, $t_drained - $t_submit, $batch_n / ($t_drained - $t_submit),
    join(', ', map { "$status{$_} $_" } sort keys %status);
my $target = 2 * pct(99, @$idle);
printf "\ntarget:\n  interactive p99 under the batch <= 2 x idle p99 (%.1f ms): %.1f ms, %s\n", $target,
    pct(99, @$loaded), pct(99, @$loaded) <= $target ? 'met' : 'not met';
done_testing;           # the checks' plan: the exit status says whether they passed
