#!/usr/bin/perl
# The load generator (loadtest/rce-load): it builds, its histogram passes its
# unit test, it refuses unbounded runs and other machines, and a brief run of
# each loop against the test stack answers with consistent counts and JSON
# that parses.  A smoke run: no timing is asserted.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use POSIX ();
use RCETest qw(capture wait_until);

my $t = RCETest->new;
my $root = $t->root;
my $load = "$root/loadtest/rce-load";
my $mix = "$root/loadtest/mix/default.mix";

my ($rc, $out) = capture('make', '-s', '-C', "$root/loadtest");
is($rc, 0, 'make -C loadtest builds rce-load') or diag $out;
($rc, $out) = capture('make', '-s', '-C', "$root/loadtest", 'check');
is($rc, 0, 'make -C loadtest check passes') or diag $out;
like($out, qr/\b[1-9]\d* passed, 0 failed/, 'the histogram unit test reports its passes');

# run rce-load; returns (exit status, stdout, stderr)
sub run_load {
    my (@args) = @_;
    my ($o, $e) = map { $t->dir . "/load-$_" } qw(out err);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $o or POSIX::_exit(126);
        open STDERR, '>', $e or POSIX::_exit(126);
        exec $load, @args or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $status = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    return ($status, $t->slurp($o), $t->slurp($e));
}

sub sum { my $s = 0; $s += $_ for @_; return $s }

# the counts of one report (the whole run or one program) add up
sub consistent {
    my ($r, $what) = @_;
    is($r->{ok} + $r->{wrong} + $r->{errors}, $r->{requests},
       "$what: ok + wrong + errors = requests");
    is(sum(values %{ $r->{status} }), $r->{answered}, "$what: statuses add up to the answers");
    is(sum(values %{ $r->{verdicts} }), $r->{answered}, "$what: verdicts add up to the answers");
    is($r->{answered} + sum(values %{ $r->{transport} }), $r->{requests},
       "$what: answers + transport failures = requests");
    my $l = $r->{latency_ms};
    is($l->{count}, $r->{answered}, "$what: one latency per answer");
    if ($l->{count}) {
        my @order = map { $l->{$_} } qw(min p50 p90 p99 p99.9 max);
        ok(!grep({ $order[$_] > $order[$_ + 1] } 0 .. $#order - 1),
           "$what: min <= p50 <= p90 <= p99 <= p99.9 <= max") or diag explain $l;
    }
}

# --- refusals, before any load -------------------------------------------------------
{
    my ($s, undef, $err) = run_load('--url', 'http://127.0.0.1:1', '--mix', $mix);
    is($s, 2, 'a run without -n or -d is refused');
    like($err, qr/bounded/, '... saying it must be bounded');

    ($s, undef, $err) = run_load('--url', 'http://192.0.2.1:8080', '-n', 1, '--mix', $mix);
    is($s, 2, 'a URL off this machine is refused');
    like($err, qr/only to this machine.*--allow-remote/, '... naming the rule and the way out');

    local $ENV{PATH} = '/nonexistent';
    ($s, undef, $err) = run_load('--url', 'http://127.0.0.1:1', '-n', 1, '--mix', $mix,
                                 '--plot', $t->dir . '/x.png');
    is($s, 2, '--plot without gnuplot is refused before any load');
    like($err, qr/gnuplot-nox/, '... naming the package to install');
}

$t->start_redis;
my $port = $t->start_nginx;
$t->start_worker('load', '--slots', '2');
ok($t->wait_nodes('load'), 'the node is live');
my $url = "http://127.0.0.1:$port";
my $json = JSON::PP->new->utf8;

# --- closed loop over the default mix ------------------------------------------------
{
    my ($s, $o, $e) = run_load('--url', $url, '--mix', $mix, '-c', 2, '-n', 10, '--json', '-q');
    is($s, 0, 'closed loop: exit 0 (every request ok)') or diag $e;
    my $r = eval { $json->decode($o) };
    ok($r, 'closed loop: stdout is one JSON object') or diag "$@\n$o";
    is($r->{mode}, 'closed', 'mode closed');
    is($r->{requests}, 10, 'ten requests sent');
    is($r->{ok}, 10, 'all ten ok (200, verdict OK, the expected output)');
    is($r->{status}{200}, 10, 'ten 200s');
    is($r->{verdicts}{OK}, 10, 'ten OK verdicts');
    consistent($r, 'closed loop');
    my %by_lang = map { ($_->{language} => $_->{requests}) } @{ $r->{programs} };
    is_deeply(\%by_lang, { python => 6, javascript => 3, java => 1 },
              'the mix is followed by weight (6:3:1)');
    consistent($_, "closed loop, $_->{name}") for @{ $r->{programs} };
    cmp_ok($r->{throughput_rps}, '>', 0, 'a throughput is reported');
}

# --- open loop ----------------------------------------------------------------------------
{
    my $png = $t->dir . '/open.png';
    my $plot = grep { -x "$_/gnuplot" } split /:/, $ENV{PATH};
    my ($s, $o, $e) = run_load('--url', $url, '--mix', $mix, '--rate', 4, '-d', 2, '--json',
                               ($plot ? ('--plot', $png) : ()));
    is($s, 0, 'open loop: exit 0') or diag $e;
    my $r = eval { $json->decode($o) };
    ok($r, 'open loop: stdout is one JSON object') or diag "$@\n$o";
    is($r->{mode}, 'open', 'mode open');
    is($r->{scheduled}, 8, 'open loop: 4/s for 2 s schedules 8 requests');
    is($r->{requests} + $r->{dropped}, $r->{scheduled}, 'sent + dropped = scheduled');
    is($r->{ok}, $r->{requests}, 'every request sent is ok');
    consistent($r, 'open loop');
    like($e, qr/^open loop: 4 requests\/s.*\nrequests +\d+ sent/m, 'the table goes to stderr with --json');
    like($e, qr/^latency ms +sent +ok +wrong +errors +min +p50 +p90 +p99 +p99\.9 +max$/m,
         'the table has the latency columns');
    SKIP: {
        skip 'gnuplot is not installed (apt-get install gnuplot-nox)', 2 unless $plot;
        like($e, qr/plot written to \Q$png\E/, '--plot says where the plot is');
        my $head = -s $png ? substr($t->slurp($png), 0, 8) : '';
        is($head, "\x89PNG\r\n\x1a\n", '--plot writes a PNG');
    }
}

# --- wrong output and errors are told apart -------------------------------------------
{
    my $dir = $t->dir;
    open my $fh, '>', "$dir/say.py" or die; print $fh qq{print("not what you expect")\n}; close $fh;
    open $fh, '>', "$dir/want.out" or die; print $fh "expected\n"; close $fh;
    my ($s, $o) = run_load('--url', $url, '--lang', 'python', '--code', "$dir/say.py",
                           '--expect', "$dir/want.out", '-n', 2, '--json', '-q');
    is($s, 1, 'a wrong output: exit 1');
    my $r = eval { $json->decode($o) } // {};
    is($r->{wrong}, 2, 'two wrong outputs');
    is($r->{ok} + $r->{errors}, 0, '... neither ok nor errors');

    ($s, $o) = run_load('--url', $url, '--lang', 'klingon', '--code', "$dir/say.py", '-n', 2, '-q');
    is($s, 1, 'an unknown language: exit 1');
    like($o, qr/^requests +2 sent, 2 answered: 0 ok, 0 wrong output, 2 errors$/m,
         'the table counts two errors');
    like($o, qr/^HTTP status +404: 2$/m, '... both 404');
}

ok(wait_until(sub { !$t->containers }, 10), 'no job container left');
is($t->redis('LLEN', 'rce:queue:' . $t->node_name('load')), 0, 'the queue is empty');
$t->stop_all;
done_testing;
