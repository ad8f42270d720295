#!/usr/bin/perl
# Judge mode end to end (POST /api/v1/run with "tests"): compiled once, each test a fresh
# process with its own limits and verdict (OK, WA, RE, TLE, MLE, OLE, SKIPPED) in Python,
# C and Java; every compare mode with the edge cases judges meet; a compile error runs no
# test; tests cannot see or outlive each other; the size bounds; warm and cold containers;
# the hostile suite's memory and fork bombs as single tests among honest ones.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use RCETest qw(wait_until);

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx(extra => 'location = /few/run { rce_api_run; rce_max_tests 3; rce_wall_limit 5s; }
        location = /nojudge/run { rce_api_run; rce_max_tests 0; }
        location = /big/run { rce_api_run; client_max_body_size 8m; rce_wall_limit 5s; rce_max_tests 1000; }
        location = /large/run { rce_api_run; client_max_body_size 8m; client_body_buffer_size 8m; rce_max_code_size 1m; }');
# c keeps a warm container whatever the demand: its judge job below must find one
$t->start_worker('a', '--slots', '2', '--pool', 'auto,c=1');
ok($t->wait_nodes('a'), 'node a is live');

my $json = JSON::PP->new->utf8->canonical;
my $hostile = "$FindBin::Bin/hostile";

sub post_json {
    my ($path, $req) = @_;
    my $res = $t->post($path, ref $req ? $json->encode($req) : $req, 'Content-Type' => 'application/json');
    return ($res->{status}, $t->json($res->{content}) // {}, $res);
}

sub judge {
    my ($req, $name) = @_;
    my ($status, $j, $res) = post_json('/api/v1/run', $req);
    is($status, 200, "200: $name") or diag $res->{content};
    return $j;
}

sub verdicts { join ' ', map { $_->{status} } @{ $_[0]{tests} // [] } }

my %have = map { ($_->{name} => 1) }
    @{ $t->json($t->{http}->get($t->url('/api/v1/languages'))->{content}) // [] };

# --- the answer's shape; every verdict in Python ------------------------------------------
{
    my $code = <<'PY';
import sys, os, time
what = sys.stdin.read().split()
if not what:
    sys.exit(0)
w = what[0]
if w == 'add': print(int(what[1]) + int(what[2]))
elif w == 'raise': raise SystemExit(3)
elif w == 'sleep': time.sleep(30)
elif w == 'spin':
    while True: pass
elif w == 'eat': x = bytearray(400 * 1024 * 1024); x[::4096] = b'x' * len(x[::4096]); print(len(x))
elif w == 'spew': os.write(1, b'y' * 200000)
elif w == 'args': print(' '.join(sys.argv[1:]))
PY
    my $j = judge({ language => 'python', code => $code, limits => { wall_ms => 1500, memory_mb => 128 },
                    tests => [ { stdin => "add 1 2", expected_output => "3\n" },
                               { stdin => "add 2 2", expected_output => "5\n" },
                               { stdin => "raise" },
                               { stdin => "sleep" },
                               { stdin => "eat" },
                               { stdin => "spew" },
                               { stdin => "args", args => ['-v', 'a b'], expected_output => "-v a b\n" },
                               { stdin => "" } ] }, 'python tests');
    is(verdicts($j), 'OK WA RE TLE MLE OLE OK OK', 'python: one verdict per test, in order');
    is($j->{status}, 'WA', "python: the job's verdict is the first test's that is not OK");
    is($j->{passed}, 3, 'passed counts the OK tests');
    is($j->{total}, 8, 'total counts them all');
    ok(!exists $j->{run}, 'no run object in judge mode');
    is($j->{compile}, undef, 'an interpreted language has no compile step');
    my @t = @{ $j->{tests} };
    ok(exists $t[0]{$_}, "a test has $_") for qw(status stdout stderr exit_code signal wall_ms cpu_ms memory_kb truncated);
    is($t[0]{stdout}, "3\n", "a test's stdout");
    is($t[1]{stdout}, "4\n", "a WA test's stdout is there to see");
    is($t[2]{exit_code}, 3, 'RE: its exit code');
    ok($t[3]{wall_ms} >= 1400 && $t[3]{wall_ms} < 3000, "TLE: stopped at its own wall limit ($t[3]{wall_ms} ms)");
    ok($t[4]{memory_kb} >= 100_000, "MLE: its memory reached the limit ($t[4]{memory_kb} KiB)");
    ok($t[5]{truncated}, 'OLE: truncated');
    is(length $t[5]{stdout}, 65536, 'OLE: its output up to the cap');
    ok(!$t[6]{truncated} && !$t[4]{truncated}, 'the next tests run unharmed');
}

# --- the cpu limit per test ----------------------------------------------------------------------
{
    my $j = judge({ language => 'python', code => "import sys\nif sys.stdin.read() == 'spin':\n    while True: pass\nprint('done')\n",
                    limits => { wall_ms => 4000, cpu_ms => 500 },
                    tests => [ { stdin => 'spin' }, { stdin => 'no', expected_output => "done\n" } ] }, 'cpu limit');
    is(verdicts($j), 'TLE OK', 'a busy loop is TLE by its cpu limit, the next test OK');
    ok($j->{tests}[0]{wall_ms} < 3500, "stopped by cpu time, not the wall ($j->{tests}[0]{wall_ms} ms)");
}

# --- stop_on_failure -------------------------------------------------------------------------------
{
    my $j = judge({ language => 'python', code => "print(input())\n", stop_on_failure => JSON::PP::true,
                    tests => [ { stdin => "a\n", expected_output => "a\n" }, { stdin => "b\n", expected_output => "c\n" },
                               { stdin => "d\n", expected_output => "d\n" }, { stdin => "e\n" } ] }, 'stop_on_failure');
    is(verdicts($j), 'OK WA SKIPPED SKIPPED', 'the tests after the first failure are SKIPPED');
    is($j->{status}, 'WA', 'the verdict is the failure');
    like($j->{tests}[2]{reason}, qr/stop_on_failure/, 'a SKIPPED test says why');
    is($j->{passed}, 1, 'passed 1');
}

# --- compare modes and their edge cases ------------------------------------------------------------
{
    # the program prints its stdin back byte for byte
    my $echo = "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read())\n";
    my @cases = (
        # [compare, program output, expected, verdict, what]
        ['exact',  "3\n",        "3\n",      'OK', 'exact: equal bytes'],
        ['exact',  "3",          "3\n",      'WA', 'exact: no final newline differs'],
        ['exact',  "3\r\n",      "3\n",      'WA', 'exact: CRLF differs'],
        ['lines',  "3  \r\n4\n\n\n", "3\n4", 'OK', 'lines: trailing spaces, CRLF, trailing empty lines'],
        ['lines',  "3",          "3\n",      'OK', 'lines: no final newline'],
        ['lines',  " 3\n",       "3\n",      'WA', 'lines: leading space counts'],
        ['lines',  "1 2\n",      "1\n2\n",   'WA', 'lines: line breaks count'],
        ['tokens', "1 2\n",      "1\n2\n",   'OK', 'tokens: any whitespace'],
        ['tokens', "1 2 3",      "1 2",      'WA', 'tokens: one too many'],
        [{ float => 1e-6 }, "-0.0\n", "0\n",       'OK', 'float: -0.0 is 0'],
        [{ float => 1e-6 }, "1e-7\n", "0\n",       'OK', 'float: 1e-7 is 0 within 1e-6'],
        [{ float => 1e-6 }, "0.5001\n", "0.5\n",   'WA', 'float: 0.5001 is not 0.5'],
        [{ float => 1e-6 }, "1000000.5\n", "1000000\n", 'OK', 'float: relative tolerance'],
        [{ float => 1e-6 }, "abc 1.0\n", "abc 1\n", 'OK', 'float: words equal, numbers close'],
        [{ float => 1e-6 }, "abd 1\n", "abc 1\n",  'WA', 'float: words must be equal'],
    );
    for my $c (@cases) {
        my ($compare, $out, $expected, $verdict, $what) = @$c;
        my $j = judge({ language => 'python', code => $echo, compare => $compare,
                        tests => [ { stdin => $out, expected_output => $expected } ] }, $what);
        is(verdicts($j), $verdict, $what);
    }
}

# --- tests are independent ---------------------------------------------------------------------------
{
    my $code = <<'PY';
import os, sys, subprocess
w = sys.stdin.read()
if w == 'write':
    open('left.txt', 'w').write('x'); open('/tmp/left.txt', 'w').write('x')
    open('main.py', 'a').write('\nprint("tampered")\n')
    print('wrote')
elif w == 'look':
    print(os.path.exists('left.txt'), os.path.exists('/tmp/left.txt'), sorted(os.listdir('.')))
elif w == 'sleeper':
    subprocess.Popen(['sleep', '1000'])
    print('forked')
elif w == 'procs':
    print(len([p for p in os.listdir('/proc') if p.isdigit()]))
elif w == 'fill':
    try:
        with open('/tmp/big', 'wb') as f:
            while True: f.write(b'z' * (1 << 20))
    except OSError as e:
        print('full')
elif w == 'tmp':
    open('/tmp/small', 'w').write('ok'); print(open('/tmp/small').read())
PY
    my $j = judge({ language => 'python', code => $code, limits => { wall_ms => 5000 },
                    tests => [ { stdin => 'write' }, { stdin => 'look' }, { stdin => 'sleeper' }, { stdin => 'procs' },
                               { stdin => 'fill' }, { stdin => 'tmp' } ] }, 'independence');
    is(verdicts($j), 'OK OK OK OK OK OK', 'independence: every test ran');
    my @t = @{ $j->{tests} };
    is($t[1]{stdout}, "False False ['main.py']\n", "a test sees neither the files nor the edits of the one before");
    ok($t[2]{wall_ms} < 2000, "a test that leaves a sleeper behind ends with its program ($t[2]{wall_ms} ms)");
    is($t[3]{stdout}, "2\n", 'no process of an earlier test is left (only PID 1 and the program)');
    is($t[4]{stdout}, "full\n", 'a test can fill /tmp');
    is($t[5]{stdout}, "ok\n", '... and the next finds it empty again');
}

# --- the hostile suite's bombs as single tests among honest ones -----------------------------------------
{
    my $bombs = <<'PY';
import os, sys
w = sys.stdin.read()
if w == 'ok':
    print('fine')
elif w == 'forkbomb':
    while True:
        try: os.fork()
        except OSError: pass
elif w == 'membomb':
    chunks = []
    while True: chunks.append(bytearray(16 << 20))
PY
    my $j = judge({ language => 'python', code => $bombs, limits => { wall_ms => 3000, memory_mb => 128 },
                 tests => [ { stdin => 'ok', expected_output => "fine\n" }, { stdin => 'forkbomb' },
                            { stdin => 'ok', expected_output => "fine\n" }, { stdin => 'membomb' },
                            { stdin => 'ok', expected_output => "fine\n" } ] }, 'bombs');
    my @v = map { $_->{status} } @{ $j->{tests} };
    is("$v[0] $v[2] $v[4]", 'OK OK OK', 'the honest tests pass around the bombs');
    like($v[1], qr/^(TLE|RE)$/, "the fork bomb is its own test's failure ($v[1])");
    is($v[3], 'MLE', 'the memory bomb is MLE for its test alone');
}

# --- C: every verdict, a compile error, the warm and the cold path -------------------------------------
SKIP: {
    skip 'no rce/c image on this node', 12 unless $have{c};
    my $code = <<'C';
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    char w[32] = "";
    if (scanf("%31s", w) != 1) return 0;
    if (!strcmp(w, "add")) { long a, b; scanf("%ld %ld", &a, &b); printf("%ld\n", a + b); }
    else if (!strcmp(w, "crash")) { volatile int *p = 0; return *p; }
    else if (!strcmp(w, "sleep")) sleep(30);
    else if (!strcmp(w, "stop")) { fflush(stdout); raise(19); }
    else if (!strcmp(w, "eat")) { size_t n = 400u << 20; volatile char *m = malloc(n); for (size_t i = 0; i < n; i += 4096) m[i] = 1; printf("%d\n", m[n - 1]); }
    else if (!strcmp(w, "spew")) { for (;;) putchar('y'); }
    return 0;
}
C
    my $tests = [ { stdin => "add 1 2", expected_output => "3\n" }, { stdin => "add 2 2", expected_output => "5" },
                  { stdin => "crash" }, { stdin => "sleep" }, { stdin => "stop" }, { stdin => "eat" },
                  { stdin => "spew" }, { stdin => "add 40 2", expected_output => "42" } ];
    my $j = judge({ language => 'c', code => $code, limits => { wall_ms => 1000 }, tests => $tests }, 'c tests');
    is(verdicts($j), 'OK WA RE TLE TLE MLE OLE OK', 'c: one verdict per test');
    is($j->{compile}{exit_code}, 0, 'c: compiled once');
    is($j->{tests}[2]{signal}, 11, 'c: RE by SIGSEGV');
    ok($j->{tests}[4]{wall_ms} < 2000, "c: a program that stops itself is TLE at its wall limit ($j->{tests}[4]{wall_ms} ms)");
    ok($j->{tests}[0]{memory_kb} < 20_000, "c: a test's memory is its own, not the compiler's ($j->{tests}[0]{memory_kb} KiB)");

    # the same job, cold: limits of its own keep it off the warm pool
    my $cold = judge({ language => 'c', code => $code, limits => { wall_ms => 1000, memory_mb => 100 }, tests => $tests }, 'c cold');
    is(verdicts($cold), 'OK WA RE TLE TLE MLE OLE OK', 'c, cold container: the same verdicts');
    like($t->worker_log('a'), qr/job $cold->{id}: c \S+ .*cold container/, 'that job ran cold');
    like($t->worker_log('a'), qr/job $j->{id}: c \S+ .*warm container/, 'the first ran warm');

    $j = judge({ language => 'c', code => "int main(void) { return x; }\n", tests => [ {}, {} ] }, 'c compile error');
    is($j->{status}, 'CE', 'c: a compile error is CE');
    is(verdicts($j), 'SKIPPED SKIPPED', 'c: no test runs');
    like($j->{tests}[0]{reason}, qr/compile/, 'c: SKIPPED for the compile step');
    like($j->{compile}{stdout} . $j->{compile}{stderr}, qr/error/, "c: the compiler's message");
}

# --- Java: compiled once, run per test ------------------------------------------------------------------
SKIP: {
    skip 'no rce/java image on this node', 6 unless $have{java};
    my $code = <<'JAVA';
import java.util.*;
import java.lang.reflect.Field;
public class Main {
    public static void main(String[] a) throws Exception {
        Scanner in = new Scanner(System.in);
        String w = in.hasNext() ? in.next() : "";
        switch (w) {
            case "add": System.out.println(in.nextLong() + in.nextLong()); break;
            case "throw": throw new IllegalStateException("boom");
            case "sleep": Thread.sleep(30000); break;
            case "eat": { List<long[]> l = new ArrayList<>(); while (true) l.add(new long[1 << 20]); }
            case "spew": while (true) System.out.print("yyyyyyyyyyyyyyyy"); 
            case "native": {
                Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
                f.setAccessible(true);
                sun.misc.Unsafe u = (sun.misc.Unsafe) f.get(null);
                while (true) { long p = u.allocateMemory(8 << 20); u.setMemory(p, 8 << 20, (byte) 1); }
            }
            default: break;
        }
    }
}
JAVA
    my $j = judge({ language => 'java', code => $code, limits => { wall_ms => 3000, memory_mb => 256 },
                    tests => [ { stdin => "add 1 2", expected_output => "3\n" }, { stdin => "add 2 2", expected_output => "5\n" },
                               { stdin => "throw" }, { stdin => "sleep" }, { stdin => "eat" }, { stdin => "spew" },
                               { stdin => "native" }, { stdin => "add 40 2", expected_output => "42\n" } ] }, 'java tests');
    my @v = map { $_->{status} } @{ $j->{tests} };
    is("@v[0..3] @v[5..7]", 'OK WA RE TLE OLE MLE OK', 'java: one verdict per test (MLE: memory outside the heap, the kernel\'s OOM kill)');
    like($v[4], qr/^(MLE|RE)$/, "java: the heap runs out for that test alone ($v[4]: the JVM's own limit may end it first)");
    like($j->{tests}[2]{stderr}, qr/IllegalStateException: boom/, 'java: the exception is in its stderr');
    is($j->{compile}{exit_code}, 0, 'java: compiled once');

    $j = judge({ language => 'java', code => "public class Main { public static void main(String[] a) { int x = ; } }\n",
                 tests => [ {} ] }, 'java compile error');
    is($j->{status}, 'CE', 'java: a compile error is CE');
    is(verdicts($j), 'SKIPPED', 'java: no test runs');
}

# --- tests whose stdin a command line could not carry (fed on the container's stdin) ------------------------
{
    my ($status, $j, $res) = post_json('/large/run', {
        language => 'python', code => "import sys\nd = sys.stdin.read()\nprint(len(d), d[:1])\n",
        tests => [ map { +{ stdin => $_ x 300_000, expected_output => "300000 $_\n" } } qw(p q r) ] });
    is($status, 200, 'three tests of 300,000 bytes of stdin each: 200') or diag $res->{content};
    is(verdicts($j), 'OK OK OK', '... each read its own whole') or diag explain $j->{tests};
}

# --- bounds and validation ---------------------------------------------------------------------------------
{
    my $ok = { language => 'python', code => "print(1)\n" };
    my @bad = (
        [{ %$ok, tests => [] }, 400, 'tests', 'an empty tests array'],
        [{ %$ok, tests => {} }, 400, 'tests', 'tests not an array'],
        [{ %$ok, tests => [ 'x' ] }, 400, 'tests', 'a test that is not an object'],
        [{ %$ok, tests => [ { input => 'x' } ] }, 400, 'tests', 'an unknown field in a test'],
        [{ %$ok, tests => [ { stdin => 1 } ] }, 400, 'tests', 'a stdin that is not a string'],
        [{ %$ok, tests => [ { args => 'x' } ] }, 400, 'tests', 'args that are not an array'],
        [{ %$ok, tests => [ { expected_output => [] } ] }, 400, 'tests', 'an expected output that is not a string'],
        [{ %$ok, tests => [ {} ], stdin => 'x' }, 400, 'stdin', 'stdin beside tests'],
        [{ %$ok, tests => [ {} ], args => [] }, 400, 'args', 'args beside tests'],
        [{ %$ok, tests => [ {} ], compare => 'fuzzy' }, 400, 'compare', 'an unknown compare mode'],
        [{ %$ok, tests => [ {} ], compare => 'float' }, 400, 'compare', 'float without its tolerance'],
        [{ %$ok, tests => [ {} ], compare => { float => -1 } }, 400, 'compare', 'a negative tolerance'],
        [{ %$ok, compare => 'exact' }, 400, 'compare', 'compare without tests'],
        [{ %$ok, stop_on_failure => JSON::PP::true }, 400, 'stop_on_failure', 'stop_on_failure without tests'],
        [{ %$ok, tests => [ {} ], stop_on_failure => 'yes' }, 400, 'stop_on_failure', 'stop_on_failure not a bool'],
        [{ %$ok, tests => [ { stdin => 'x' x 70000 } ] }, 413, 'tests', "a test's stdin over rce_max_code_size"],
    );
    for my $b (@bad) {
        my ($req, $status, $field, $what) = @$b;
        my ($got, $j, $res) = post_json('/api/v1/run', $req);
        is($got, $status, "$what: $status") or diag $res->{content};
        is($j->{field}, $field, "$what: names $field");
    }
    my ($got, $j) = post_json('/few/run', { %$ok, tests => [ {}, {}, {}, {} ] });
    is($got, 400, 'more tests than rce_max_tests: 400');
    like($j->{error} // '', qr/at most 3 tests/, '... saying how many');
    is($j->{field}, 'tests', '... naming tests');
    ($got, $j) = post_json('/nojudge/run', { %$ok, tests => [ {} ] });
    is($got, 400, 'rce_max_tests 0 turns judge mode off');
    like($j->{error} // '', qr/judge mode is off/, '... saying so');

    # all tests' input together
    my $many = [ map { { stdin => 'x' x 60000 } } 1 .. 18 ];
    ($got, $j) = post_json('/big/run', { %$ok, tests => $many });
    is($got, 413, "the tests' input over RCE_TESTS_INPUT_MAX_BYTES: 413");
    is($j->{field}, 'tests', '... naming tests');

    # all tests' output together: the test that passes the bound is OLE, the rest SKIPPED
    my $big = judge({ language => 'python', code => "import os\nos.write(1, b'o' * (1 << 20))\n",
                      limits => { output_bytes => 1 << 20 }, tests => [ map { {} } 1 .. 10 ] }, 'output bound');
    is(verdicts($big), 'OK OK OK OK OK OK OK OK OLE SKIPPED', "the tests' output together is bounded at 8 MiB");
    is(length $big->{tests}[8]{stdout}, 0, 'the test past the bound keeps what fits (nothing here)');
    like($big->{tests}[9]{reason}, qr/bound/, 'the rest say why they were skipped');

    # many tests: the rce_max_tests bound's default is 100
    my ($n) = post_json('/api/v1/run', { %$ok, tests => [ map { {} } 1 .. 101 ] });
    is($n, 400, '101 tests over the default rce_max_tests of 100: 400');
    $j = judge({ %$ok, tests => [ map { { expected_output => "1\n" } } 1 .. 100 ] }, '100 tests');
    is($j->{passed}, 100, '100 tests in one job: all OK');
}

is_deeply([$t->leftover_lists], [], 'no queue or running list left in Redis');
ok(wait_until(sub { !$t->containers }, 10), 'no container left');
$t->stop_all;
done_testing;
