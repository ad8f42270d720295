#!/usr/bin/perl
# The hostile suite again with workerd --runtime runsc: every job container in
# gVisor, first with the warm pool on, then with it off.  Skipped, saying why,
# when the Docker engine has no runsc runtime (apt-get install runsc, then
# register it: see docs/security.md, "gVisor"; ./deploy.sh test does both as root).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/hostile";
use Test::More;

my $runtimes = `docker info -f '{{json .Runtimes}}' 2>/dev/null` // '';
plan skip_all => 'the Docker engine has no runsc runtime registered (apt-get install runsc and add it to '
    . '/etc/docker/daemon.json with runtimeArgs ["--network=none"], then kill -HUP dockerd)'
    unless $runtimes =~ /"runsc"/;

require HostileSuite;
HostileSuite::run(runtime => 'runsc', pool => 1);
HostileSuite::run(runtime => 'runsc', pool => 0);
done_testing;
