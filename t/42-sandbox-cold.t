#!/usr/bin/perl
# The hostile suite of t/40 again with the warm pool off (workerd --pool 0):
# every job in a container created for it.  See t/hostile/HostileSuite.pm.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/hostile";
use Test::More;
use HostileSuite;

HostileSuite::run(runtime => 'runc', pool => 0);
done_testing;
