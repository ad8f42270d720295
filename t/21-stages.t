#!/usr/bin/perl
# Compile and run are separate steps, each with its own limits, clock and
# figures (docs/api.md, "Compile and run"), through the whole stack:
#  - every compiled language, warm and cold: a program sleeping past a 1 s run
#    wall limit is TLE at that limit, however long it compiled; hello world
#    under a run cpu_ms of 1000 compiles (even where the compiler needs more)
#    and runs; compile and run each report their own wall_ms, cpu_ms, memory_kb;
#  - C stopping itself with SIGSTOP is TLE at the run's wall limit;
#  - the compile step's own limits, asked for per request: compile_wall_ms,
#    compile_cpu_ms and compile_memory_mb each end in CE with a reason naming
#    it; the run's memory_mb holds in a container made larger for the compiler;
#  - limits are echoed per step, clamped to the node's maxima, refused when not
#    positive integers; the raw route's rce_wall_limit is the run's alone.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use POSIX ();
use RCETest qw(wait_until);

my $LANGS = RCETest->root . '/docker/lang';
opendir(my $dh, $LANGS) or die "$LANGS: $!";
my @compiled = sort grep { -f "$LANGS/$_/test/sleep.src" } readdir $dh;
closedir $dh;
my @images = grep { !system("docker image inspect rce/$_:latest >/dev/null 2>&1") } @compiled;
plan skip_all => 'no compiled language image is built (make images)' unless @images;

my $JSON = JSON::PP->new->utf8->canonical;
my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;

# POST /api/v1/run; returns [HTTP status, result JSON or {}]
sub run_job {
    my ($req) = @_;
    my $res = $t->post('/api/v1/run', $JSON->encode($req), 'Content-Type' => 'application/json');
    return [$res->{status}, $t->json($res->{content}) // { raw => $res->{content} }];
}

# runs [name, request, check] cases two at a time (each in a child), then checks them in order
sub run_cases {
    my (@cases) = @_;
    my $dir = $t->dir;
    my (%running, $next);
    $next = 0;
    while ($next < @cases || %running) {
        while ($next < @cases && keys %running < 2) {
            my $i = $next++;
            my $pid = fork // die "fork: $!";
            if ($pid == 0) {
                my $r = run_job($cases[$i][1]);
                open my $fh, '>', "$dir/stage.$i" or POSIX::_exit(1);
                print $fh $JSON->encode($r);
                close $fh;
                POSIX::_exit(0);
            }
            $running{$pid} = 1;
        }
        delete $running{ waitpid(-1, 0) };
    }
    for my $i (0 .. $#cases) {
        my ($http, $j) = @{ $t->json($t->slurp("$dir/stage.$i")) // [0, {}] };
        is($http, 200, "$cases[$i][0]: 200") or diag explain $j;
        $cases[$i][2]->($j);
    }
}

sub figures_apart {
    my ($name, $j) = @_;
    my ($c, $r) = ($j->{compile} // {}, $j->{run} // {});
    ok(defined $c->{wall_ms} && defined $c->{cpu_ms} && defined $c->{memory_kb},
       "$name: the compile step has its own wall_ms, cpu_ms and memory_kb") or diag explain $c;
    ok(defined $r->{wall_ms} && defined $r->{cpu_ms} && defined $r->{memory_kb},
       "$name: so does the run") or diag explain $r;
}

my @table;

# the cases of one compiled language
sub language_cases {
    my ($lang, $how) = @_;
    my $dir = "$LANGS/$lang";
    return (
        ["$lang $how: sleep 3 s under a 1 s run wall limit",
         { language => $lang, code => $t->slurp("$dir/test/sleep.src"), limits => { wall_ms => 1000 } }, sub {
            my $j = shift;
            is($j->{status}, 'TLE', "$lang $how sleep: TLE") or diag explain $j;
            my $wall = $j->{run}{wall_ms} // -1;
            cmp_ok($wall, '>=', 1000, "$lang $how sleep: killed at the run's limit, not before ($wall ms)");
            cmp_ok($wall, '<=', 2500, "$lang $how sleep: ... nor long after: the compile is not counted");
            unlike($j->{run}{stdout} // '', qr/woke/, "$lang $how sleep: it never woke");
            cmp_ok($j->{compile}{wall_ms} // -1, '>', 0, "$lang $how sleep: the compile step timed apart");
            is($j->{limits}{wall_ms}, 1000, "$lang $how sleep: the echoed wall_ms is the run's");
            push @table, sprintf '%-10s %-5s sleep  %-4s run wall %5s ms            compile wall %5s ms',
                $lang, $how, $j->{status} // '?', $wall, $j->{compile}{wall_ms} // '-';
        }],
        ["$lang $how: hello under a run cpu_ms of 1000",
         { language => $lang, code => $t->slurp("$dir/smoke.src"), limits => { cpu_ms => 1000 } }, sub {
            my $j = shift;
            is($j->{status}, 'OK', "$lang $how hello, cpu_ms 1000: OK (the compiler is not held to it)")
                or diag explain $j;
            is($j->{run}{stdout}, $t->slurp("$dir/smoke.expected"), "$lang $how hello: its output");
            figures_apart("$lang $how hello", $j);
            cmp_ok($j->{run}{cpu_ms} // 1e9, '<', 1000, "$lang $how hello: the run's cpu_ms is the run's");
            ok(defined $j->{limits}{compile_cpu_ms} && defined $j->{limits}{compile_wall_ms}
               && defined $j->{limits}{compile_memory_mb}, "$lang $how hello: the compile limits are echoed")
                or diag explain $j->{limits};
            push @table, sprintf '%-10s %-5s hello  %-4s run cpu  %5s ms %7s kB  compile cpu  %5s ms %7s kB',
                $lang, $how, $j->{status} // '?', map { $_ // '-' } $j->{run}{cpu_ms}, $j->{run}{memory_kb},
                $j->{compile}{cpu_ms}, $j->{compile}{memory_kb};
        }],
    );
}

# --- every compiled language, warm, then cold ----------------------------------------------
my $pool = join ',', '0', map { "$_=1" } @images;
$t->start_worker('w', '--slots', '2', '--pool', $pool);
ok($t->wait_nodes('w'), 'a node with warm containers is live');
ok(wait_until(sub { my $w = $t->warm_counts; !grep { !$w->{$_} } @images }, 120),
   'every compiled language has a warm container');
run_cases(map { language_cases($_, 'warm') } @images);
my $stats = ($t->json($t->redis('GET', 'rce:node:' . $t->node_name('w')) // '') // {})->{pool} // {};
# one warm container per language: a language's second job may find it still refilling
cmp_ok($stats->{warm} // 0, '>=', @images / 2, "jobs ran in warm containers ($stats->{warm} of "
       . 2 * @images . ')');

# --- the compile step's own limits, and the run's memory beside a larger compiler --------
my $regex = "#include <iostream>\n#include <regex>\nint main() { std::regex r(\"a+\"); "
          . "std::cout << std::regex_match(\"aaa\", r) << std::endl; }\n";
my $touch = "#include <cstdio>\n#include <cstdlib>\nint main(int c, char **v) { size_t n = (size_t)atoi(v[1]) << 20; "
          . "volatile char *p = (volatile char *)malloc(n); long s = 0; for (size_t i = 0; i < n; i += 4096) p[i] = 1; "
          . "for (size_t i = 0; i < n; i += 4096) s += p[i]; printf(\"%ld\\n\", s); }\n";
my $has_c = grep { $_ eq 'c' } @images;
my $has_cpp = grep { $_ eq 'cpp' } @images;
my @special;
push @special,
    ['c SIGSTOP under a 1 s wall limit',
     { language => 'c', code => "#include <signal.h>\nint main(void) { raise(SIGSTOP); return 0; }\n",
       limits => { wall_ms => 1000 } }, sub {
        my $j = shift;
        is($j->{status}, 'TLE', 'c SIGSTOP: TLE') or diag explain $j;
        cmp_ok($j->{run}{wall_ms} // -1, '>=', 1000, 'c SIGSTOP: at the run wall limit');
        cmp_ok($j->{run}{wall_ms} // 1e9, '<=', 2500, 'c SIGSTOP: not at the deadline');
    }],
    ['c empty program: figures of the run alone',
     { language => 'c', code => "int main(void) { return 0; }\n" }, sub {
        my $j = shift;
        is($j->{status}, 'OK', 'c empty: OK') or diag explain $j;
        figures_apart('c empty', $j);
        cmp_ok($j->{run}{memory_kb} // 1e9, '<', $j->{compile}{memory_kb} // 0,
               "c empty: the run's peak memory is its own ($j->{run}{memory_kb} kB), "
               . "not the compiler's ($j->{compile}{memory_kb} kB)");
        cmp_ok($j->{run}{cpu_ms} // 1e9, '<', 30, "c empty: the run's cpu_ms is its own ($j->{run}{cpu_ms})");
    }],
    ['c compile_wall_ms over the maximum: clamped',
     { language => 'c', code => "int main(void) { return 0; }\n", limits => { compile_wall_ms => 99999999 } }, sub {
        my $j = shift;
        is($j->{status}, 'OK', 'c compile_wall_ms 99999999: OK') or diag explain $j;
        is($j->{limits}{compile_wall_ms}, 60000, '... clamped to the node maximum (60000)');
        ok((grep { $_ eq 'compile_wall_ms' } @{ $j->{clamped} // [] }), '... and said so in clamped');
    }] if $has_c;
push @special,
    ['cpp compile_wall_ms 300',
     { language => 'cpp', code => $regex, limits => { compile_wall_ms => 300 } }, sub {
        my $j = shift;
        is($j->{status}, 'CE', 'cpp compile_wall_ms 300: CE') or diag explain $j;
        like($j->{reason} // '', qr/compile_wall_ms of 300 ms/, '... the reason names compile_wall_ms');
        cmp_ok($j->{compile}{wall_ms} // -1, '>=', 300, '... killed at it');
        is($j->{run}, undef, '... nothing ran');
    }],
    ['cpp compile_cpu_ms 1000',
     { language => 'cpp', code => $regex, limits => { compile_cpu_ms => 1000 } }, sub {
        my $j = shift;
        is($j->{status}, 'CE', 'cpp compile_cpu_ms 1000: CE (the <regex> compile needs more)') or diag explain $j;
        like($j->{reason} // '', qr/compile_cpu_ms of 1000 ms/, '... the reason names compile_cpu_ms')
            or diag explain $j->{compile};
    }],
    ['cpp compile_memory_mb 24',
     { language => 'cpp', code => $regex, limits => { compile_memory_mb => 24, memory_mb => 24 } }, sub {
        my $j = shift;
        is($j->{status}, 'CE', 'cpp compile_memory_mb 24: CE') or diag explain $j;
        like($j->{reason} // '', qr/compiler ran out of memory \(compile_memory_mb 24\)/,
             '... the reason names compile_memory_mb');
    }],
    ['cpp run touching 100 MB under memory_mb 64 (compile_memory_mb 512)',
     { language => 'cpp', code => $touch, args => ['100'], limits => { memory_mb => 64 } }, sub {
        my $j = shift;
        is($j->{status}, 'MLE', 'cpp 100 MB, memory_mb 64: MLE, though the compiler had 512') or diag explain $j;
        like($j->{reason} // '', qr/over its memory_mb of 64 MiB/, '... the reason names memory_mb');
        is($j->{limits}{compile_memory_mb}, 512, "... the compile step had the language's 512");
    }],
    ['cpp run touching 30 MB under memory_mb 64',
     { language => 'cpp', code => $touch, args => ['30'], limits => { memory_mb => 64 } }, sub {
        my $j = shift;
        is($j->{status}, 'OK', 'cpp 30 MB, memory_mb 64: OK') or diag explain $j;
        is($j->{run}{stdout}, "7680\n", '... its output');
    }] if $has_cpp;
run_cases(@special) if @special;

# refused when not positive integers, as every limit is
for my $bad (0, -1, 'x', 1.5) {
    my ($http, $j) = @{ run_job({ language => 'c', code => "int main(){}\n", limits => { compile_cpu_ms => $bad } }) };
    is($http, 400, "compile_cpu_ms $bad: 400");
    is($j->{field}, 'limits', "compile_cpu_ms $bad: the field is named");
}
# an interpreted language's result names no compile limit
{
    my ($http, $j) = @{ run_job({ language => 'bash', code => "echo hi\n", limits => { compile_wall_ms => 5 } }) };
    is($j->{status}, 'OK', 'bash with compile_wall_ms: OK, it has no compile step') or diag explain $j;
    ok(!exists $j->{limits}{compile_wall_ms}, '... and its limits name no compile limit');
}
# the raw route: rce_wall_limit 1s (/short/, rce_timeout 2s) is the run's alone
if ($has_c) {
    my $res = $t->post('/short/c', $t->slurp("$LANGS/c/test/sleep.src"));
    is($res->{status}, 200, '/short/c sleep: answered before the 2 s timeout');
    is($res->{headers}{'x-rce-status'}, 'TLE', '/short/c sleep: TLE at the 1 s run limit');
    cmp_ok($res->{headers}{'x-rce-time-ms'} // -1, '>=', 1000, '/short/c sleep: its X-RCE-Time-Ms is the run\'s');
}
$t->stop_worker('w');

$t->start_worker('c', '--slots', '2', '--pool', '0');
ok($t->wait_nodes('c'), 'a node without warm containers is live');
# each nginx worker keeps its own view of the nodes: until both have seen the change, a
# request may find none live
ok(wait_until(sub { !grep { run_job({ language => 'bash', code => "echo hi\n" })->[0] != 200 } 1 .. 4 }, 20),
   'the gateway routes jobs to it');
run_cases(map { language_cases($_, 'cold') } @images);
$stats = ($t->json($t->redis('GET', 'rce:node:' . $t->node_name('c')) // '') // {})->{pool} // {};
is($stats->{warm} // 0, 0, 'no job ran warm on it');

diag $_ for @table;
$t->stop_all;
done_testing;
