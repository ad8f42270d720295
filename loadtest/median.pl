#!/usr/bin/perl
# Median latency of the seed's Python snippet through the whole host-mode
# stack (nginx + module, Redis, one workerd, real containers), beside the
# median of `docker run --rm rce/python python3 -c ...` on the same machine,
# measured in the same run.  A quick check, not the load generator.
#
#   RCE_MODULE_SO=... RCE_WORKERD=... perl loadtest/median.pl [N]
#   (./deploy.sh build and make -C workerd provide both files)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time);
use RCETest;

my $n = shift // 20;
my $code = qq{print("drill my brain")\n};

sub median { my @s = sort { $a <=> $b } @_; return $s[int(@s / 2)] }

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;
$t->start_worker('bench', '--slots', '2');
$t->wait_nodes('bench') or die "the node did not come up\n";
$t->run_code('python', $code) for 1 .. 2;    # warm the engine's caches

my (@stack, @docker);
for (1 .. $n) {
    my $t0 = time;
    my $res = $t->run_code('python', $code);
    push @stack, (time - $t0) * 1000;
    die "unexpected answer: $res->{status} $res->{content}\n"
        unless $res->{content} eq "drill my brain\n";

    $t0 = time;
    my $out = `docker run --rm --network none rce/python python3 -c 'print("drill my brain")'`;
    push @docker, (time - $t0) * 1000;
    die "docker run failed\n" unless $out eq "drill my brain\n";
}
$t->stop_all(1);

printf "python snippet, median of %d sequential runs (ms)\n", $n;
printf "  whole stack (HTTP -> nginx -> Redis -> workerd -> container): %7.1f\n", median(@stack);
printf "  docker run --rm rce/python python3 -c ...:                      %7.1f\n", median(@docker);
