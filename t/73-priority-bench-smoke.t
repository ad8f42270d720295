#!/usr/bin/perl
# loadtest/priority.pl --quick: the priority classes' benchmark runs from start to end against
# its own stack, prints its table and issue 16's target with a result, and leaves nothing
# behind. A smoke run: no timing is asserted.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RCETest qw(capture);

my $t = RCETest->new;      # checks RCE_MODULE_SO and RCE_WORKERD, which priority.pl uses too
my ($rc, $out) = capture($^X, $t->root . '/loadtest/priority.pl', '--quick');
is($rc, 0, 'priority.pl --quick exits 0 (every measurement ran, nothing left behind)') or diag $out;
like($out, qr/^\| idle stack +\| +\d+ \| +[\d.]+ \| +[\d.]+ \| +[\d.]+ \| +0 \|$/m, 'the idle row, no request failed');
like($out, qr/^\| while 30 batch jobs drain +\| +\d+ \| +[\d.]+ \| +[\d.]+ \| +[\d.]+ \| +0 \|$/m,
     'the row under the batch, no request failed');
like($out, qr/^batch: 30 jobs submitted .* 30 OK$/m, 'every batch job ran OK');
like($out, qr/^  interactive p99 under the batch <= 2 x idle p99 .*: [\d.]+ ms, (?:met|not met)$/m, 'the target with its result');
is(scalar($t->containers), 0, 'no container of ours left');
done_testing;
