#!/usr/bin/perl
# loadtest/judge.pl --quick: judge mode's benchmark runs from start to end against its own
# stack, prints its table and every target of issue 15 with a result, and leaves nothing
# behind. A smoke run: no timing is asserted.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RCETest qw(capture);

my $t = RCETest->new;      # checks RCE_MODULE_SO and RCE_WORKERD, which judge.pl uses too
my ($rc, $out) = capture($^X, $t->root . '/loadtest/judge.pl', '--quick');
is($rc, 0, 'judge.pl --quick exits 0 (every measurement ran, nothing left behind)') or diag $out;

for my $row ('C: submission of 100 tests', 'C: per test', "C: a test's own time", 'C: the program run by hand',
             'Python: submission of 100 tests', 'Python: bare interpreter start', 'Python: the program run by hand') {
    like($out, qr/^\| \Q$row\E.* \| +-?[\d.]+ \|$/m, "a row: $row");
}
for my $target (qr/C, 100 tests <= 1\.5 x a single run/, qr/C, per-test overhead beyond the program's own time <= 5 ms/,
                qr/Python, 100 tests <= 100 x start \+ 50 ms/) {
    like($out, qr/^  $target.*: -?[\d.]+ ms, (?:met|not met)$/m, "a target with its result: $target");
}
like($out, qr/^ok \d+ - no container of the stopped nodes is left/m, 'its stack left no container');
is(scalar($t->containers), 0, 'no container of ours either');
done_testing;
