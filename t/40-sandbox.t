#!/usr/bin/perl
# The hostile suite under the engine's default runtime (runc): more than 30
# broken, greedy or malicious programs in python, java and javascript, each
# answered within its limits with the right verdict, honest jobs among them
# finishing normally, no secret crossing from one job to another, the host's
# memory and disk as before and no container left.  Jobs run in warm
# containers (the pool is on); t/42 runs it with the pool off.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/hostile";
use Test::More;
use HostileSuite;

HostileSuite::run(runtime => 'runc');
done_testing;
