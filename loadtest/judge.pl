#!/usr/bin/perl
# loadtest/judge.pl: judge mode's benchmark (issue 15), on this machine, through the whole
# stack (Redis, nginx with the module, workerd, warm containers; t/lib/RCETest.pm starts
# them on 127.0.0.1 and stops them on exit).
#
#   loadtest/judge.pl            full run (about 2 minutes)
#   loadtest/judge.pl --quick    smoke version (the numbers mean little)
#
# C: a+b as a single run (POST /api/v1/run with stdin), as a submission of 1 test and of
# 100 tests; per-test cost = (100 tests - 1 test) / 99, beside the program's own time (its
# test wall_ms: fork to exit, as the wrapper measures it). Python: the same submissions,
# beside the bare interpreter's start (python3 -c pass, timed in a loop by the shell of a
# container with the sandbox's cpu and memory limits). Requests are timed by curl
# (time_total), medians of several; every loop is bounded. Needs the built module and
# workerd (make -s test-env), the rce/c and rce/python images, docker, redis-server, nginx,
# curl.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use JSON::PP;
use File::Temp qw(tempdir);
use RCETest qw(wait_until);
use Test::More;         # RCETest's stop_all checks that nothing was left behind, as TAP

my $quick = grep { $_ eq '--quick' } @ARGV;
my ($reps_single, $reps_judge) = $quick ? (3, 1) : (9, 5);
my $n_tests = 100;
my $json = JSON::PP->new->utf8->canonical;
my $tmp = tempdir(CLEANUP => 1);

$ENV{RCE_MODULE_SO} && $ENV{RCE_WORKERD} or die "judge.pl: set RCE_MODULE_SO and RCE_WORKERD (eval \$(make -s test-env))\n";
my $t = RCETest->new;
local $SIG{ALRM} = sub { $t->stop_all; die "judge.pl: took over 15 minutes, stopped\n" };
alarm 900;
$t->start_redis;
$t->start_nginx(extra => 'location = /judge/run { rce_api_run; rce_max_tests 1000; client_max_body_size 4m; }');
$t->start_worker('a', '--slots', '2');
$t->wait_nodes('a') or die "judge.pl: the node did not come up\n";

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

# POSTs a request with curl; returns (ms, decoded answer)
sub timed {
    my ($req) = @_;
    my $body = "$tmp/body.json";
    open my $fh, '>', $body or die;
    print $fh $json->encode($req);
    close $fh;
    my $out = `curl -s -o $tmp/answer.json -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' --data-binary \@$body ${\ $t->url('/judge/run')}`;
    my ($code, $s) = split ' ', $out;
    die "judge.pl: HTTP $code\n" unless $code && $code == 200;
    return ($s * 1000, $t->json($t->slurp("$tmp/answer.json")));
}

# median ms of $reps requests (after one warm-up), and the last answer
sub measure {
    my ($req, $reps) = @_;
    my (@ms, $j);
    timed($req);
    for (1 .. $reps) {
        select(undef, undef, undef, 1.5);       # the pool refills, the heartbeat says so
        wait_until(sub { ($t->warm_counts->{ $req->{language} } // 0) >= 1 }, 10);
        (my $ms, $j) = timed($req);
        push @ms, $ms;
    }
    return (median(@ms), $j);
}

sub tests_of { [ map { { stdin => "$_ 1\n", expected_output => ($_ + 1) . "\n" } } 1 .. $_[0] ] }

my %code = (
    c      => "#include <stdio.h>\nint main(void) { long a, b; if (scanf(\"%ld %ld\", &a, &b) == 2) printf(\"%ld\\n\", a + b); return 0; }\n",
    python => "a, b = map(int, input().split())\nprint(a + b)\n",
);
my %row;
for my $lang (qw(c python)) {
    my $base = { language => $lang, code => $code{$lang} };
    my ($single, $js) = measure({ %$base, stdin => "1 2\n" }, $reps_single);
    my ($one) = measure({ %$base, tests => tests_of(1) }, $reps_single);
    my ($many, $j) = measure({ %$base, tests => tests_of($n_tests) }, $reps_judge);
    die "judge.pl: $lang: $j->{passed} of $n_tests passed\n" unless $j->{passed} == $n_tests;
    my @own = map { $_->{wall_ms} } @{ $j->{tests} };
    $row{$lang} = { single => $single, run_ms => $js->{run}{wall_ms}, one => $one, many => $many,
                    per_test => ($many - $one) / ($n_tests - 1), own => median(@own) };
}

# Floors, in a container with the sandbox's cpu and memory limits, timed by its shell over a
# loop: the bare interpreter's start (python3 -c pass), and each program run by hand, its
# stdin from a file (what one test is, with no judge around it): ms per run.
my $loops = $quick ? 5 : 40;
sub floor_ms {
    my ($image, $src, $setup, $cmd) = @_;
    open my $fh, '>', "$tmp/src" or die;
    print $fh $src;
    close $fh;
    my $us = `docker run --rm --network none --cpus 1 --memory 256m -v $tmp/src:/src:ro --entrypoint '' $image sh -c 'cd /tmp && $setup && echo "1 2" > in && s=\$(date +%s%N); i=0; while [ \$i -lt $loops ]; do $cmd; i=\$((i+1)); done; e=\$(date +%s%N); echo \$(( (e - s) / $loops / 1000 ))'`;
    chomp $us;
    die "judge.pl: the floor in $image could not be measured\n" unless $us =~ /\A\d+\z/;
    return $us / 1000;
}
my $start_ms = floor_ms('rce/python', '', 'true', 'python3 -c pass');
my $py_bare = floor_ms('rce/python', $code{python}, 'cp /src main.py', 'python3 -u main.py < in > /dev/null');
my $c_bare = floor_ms('rce/c', $code{c}, 'cp /src main.c && gcc -O2 -o main main.c', './main < in > /dev/null');

$t->stop_all;
alarm 0;

my ($c, $py) = @row{qw(c python)};
my $c_target = 1.5 * $c->{single};
my $py_target = $n_tests * $start_ms + 50;
printf "judge mode, %d tests of a+b per submission (medians; ms, curl time_total)\n\n", $n_tests;
printf "| %-58s | %10s |\n", 'measurement', 'ms';
printf "|%s|%s|\n", '-' x 60, '-' x 12;
printf "| %-58s | %10.1f |\n", @$_ for
    ['C: single run (stdin), end to end', $c->{single}],
    ['C: its run, fork to exit (run.wall_ms)', $c->{run_ms}],
    ['C: submission of 1 test', $c->{one}],
    ["C: submission of $n_tests tests", $c->{many}],
    ['C: per test ((100 - 1) / 99)', $c->{per_test}],
    ["C: a test's own time (median test wall_ms)", $c->{own}],
    ['C: the program run by hand in a shell loop (./main < in)', $c_bare],
    ['Python: single run (stdin), end to end', $py->{single}],
    ['Python: submission of 1 test', $py->{one}],
    ["Python: submission of $n_tests tests", $py->{many}],
    ['Python: per test ((100 - 1) / 99)', $py->{per_test}],
    ["Python: a test's own time (median test wall_ms)", $py->{own}],
    ['Python: bare interpreter start (python3 -c pass)', $start_ms],
    ['Python: the program run by hand in a shell loop', $py_bare];
printf "\ntargets:\n";
printf "  C, %d tests <= 1.5 x a single run (%.1f ms): %.1f ms, %s\n", $n_tests, $c_target, $c->{many},
    $c->{many} <= $c_target ? 'met' : 'not met';
printf "  C, per-test overhead beyond the program's own time <= 5 ms: %.1f ms, %s\n", $c->{per_test} - $c->{own},
    $c->{per_test} - $c->{own} <= 5 ? 'met' : 'not met';
printf "  Python, %d tests <= %d x start + 50 ms (%.1f ms): %.1f ms, %s\n", $n_tests, $n_tests, $py_target,
    $py->{many}, $py->{many} <= $py_target ? 'met' : 'not met';
printf "  (the same bound with the program's own run by hand, %.1f ms, as the start: %.1f ms, %s)\n",
    $py_bare, $n_tests * $py_bare + 50, $py->{many} <= $n_tests * $py_bare + 50 ? 'met' : 'not met';
printf "  per-test overhead beyond the program run by hand: C %.2f ms, Python %.2f ms\n",
    $c->{per_test} - $c_bare, $py->{per_test} - $py_bare;
done_testing;           # those checks' plan: the exit status says whether they passed
