#!/usr/bin/perl
# The whole pipeline through HTTP: nginx + ngx_rce_module -> Redis -> two
# workerd nodes -> real sibling containers, for python, java and javascript.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use RCETest qw(wait_until);

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;
$t->start_worker('a', '--slots', '4');
$t->start_worker('b', '--slots', '4');
ok($t->wait_nodes('a', 'b'), 'both nodes are live in /health');

# --- /health ---------------------------------------------------------------
{
    my $res = $t->{http}->get($t->url('/health'));
    is($res->{status}, 200, '/health is 200 with live nodes');
    like($res->{headers}{'content-type'}, qr{^application/json}, '/health is JSON');
    my $h = $t->json($res->{content});
    is($h->{redis}, 'ok', '/health says redis ok');
    is(scalar @{ $h->{nodes} }, 2, '/health lists two nodes');
    for my $n (@{ $h->{nodes} }) {
        ok(exists $n->{$_}, "node has $_") for qw(name languages slots busy);
        ok(RCETest::has_core_languages([sort @{ $n->{languages} }]),
                  "$n->{name} offers the three languages");
        is($n->{slots}, 4, "$n->{name} has 4 slots");
    }
}

# --- the seed's three snippets -------------------------------------------------
my %seed = %RCETest::SEED;

for my $lang (sort keys %seed) {
    my $res = $t->run_code($lang, $seed{$lang});
    is($res->{status}, 200, "$lang seed snippet: 200");
    is($res->{content}, "drill my brain\n", "$lang seed snippet output");
    is($res->{headers}{'x-rce-status'}, 'OK', "$lang verdict OK");
    is($res->{headers}{'x-rce-exit-code'}, '0', "$lang exit code 0");
    like($res->{headers}{'x-rce-job-id'}, qr/^[0-9a-f]{32}$/, "$lang job id");
    like($res->{headers}{'x-rce-time-ms'}, qr/^\d+$/, "$lang time header");
    like($res->{headers}{'content-type'}, qr{^text/plain}, "$lang text/plain");
}

# aliases
for my $alias (qw(py js node)) {
    my $code = $alias eq 'py' ? 'print(6*7)' : 'console.log(6*7)';
    my $res = $t->run_code($alias, $code);
    is($res->{content}, "42\n", "alias $alias works");
}

# --- stdout + stderr, exit codes, JSON mode ------------------------------------------
{
    my $res = $t->run_code('python',
        "import sys\nprint('out')\nsys.stdout.flush()\nprint('err', file=sys.stderr)\nsys.exit(3)\n");
    is($res->{status}, 200, 'non-zero exit is still 200');
    is($res->{content}, "out\nerr\n", 'stdout then stderr');
    is($res->{headers}{'x-rce-status'}, 'RE', 'non-zero exit is RE');
    is($res->{headers}{'x-rce-exit-code'}, '3', 'exit code 3 reported');

    $res = $t->run_code('javascript', "console.log('a'); console.error('b'); process.exit(2)",
                        Accept => 'application/json');
    like($res->{headers}{'content-type'}, qr{^application/json}, 'Accept: application/json gives JSON');
    my $j = $t->json($res->{content});
    ok($j, 'JSON result parses');
    is($j->{$_->[0]}, $_->[1], "JSON $_->[0]") for
        [status => 'RE'], [exit_code => 2], [stdout => "a\n"], [stderr => "b\n"],
        [language => 'javascript'];
    ok(exists $j->{$_}, "JSON has $_") for qw(id signal wall_ms node);
    like($j->{node}, qr/^\Q${\ $t->tag}\E-[ab]$/, 'JSON names the node');

    $res = $t->run_code('python', "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
                        Accept => 'application/json');
    $j = $t->json($res->{content});
    is($j->{status}, 'RE', 'killed by a signal is RE');
    is($j->{signal}, 9, 'signal 9 reported');

    $res = $t->run_code('java', "public class X { public static void main(String[] a) { throw new RuntimeException(\"boom\"); } }");
    is($res->{headers}{'x-rce-status'}, 'RE', 'java exception is RE');
    like($res->{content}, qr/RuntimeException: boom/, 'java stack trace comes back');

    $res = $t->run_code('python', "print('h\\u00e9llo \\u2603')");
    is($res->{content}, "h\x{c3}\x{a9}llo \x{e2}\x{98}\x{83}\n", 'UTF-8 output intact');
}

# --- limits: TLE and OLE ---------------------------------------------------------
{
    my $t0 = time;
    my $res = $t->post('/short/python', "print('before', flush=True)\nwhile True: pass\n");
    is($res->{status}, 200, 'busy loop answered');
    is($res->{headers}{'x-rce-status'}, 'TLE', 'busy loop is TLE');
    is($res->{content}, "before\n", 'TLE keeps the output so far');
    cmp_ok(time - $t0, '<', 20, 'TLE answered long before the gateway deadline');

    $res = $t->post('/short/javascript', "setInterval(() => {}, 1000)");
    is($res->{headers}{'x-rce-status'}, 'TLE', 'a program that never exits is TLE');

    $res = $t->post('/tiny/python', "while True: print('x' * 100)\n");
    is($res->{headers}{'x-rce-status'}, 'OLE', 'output flood is OLE');
    cmp_ok(length $res->{content}, '<=', 2048, 'OLE output is capped');
    cmp_ok(length $res->{content}, '>=', 1000, 'OLE returns what was read');

    $res = $t->post('/tiny/javascript', "process.stderr.write('e'.repeat(1e6))",
                    Accept => 'application/json');
    my $j = $t->json($res->{content});
    is($j->{status}, 'OLE', 'stderr flood is OLE');
    ok(length($j->{stderr}) <= 1024, 'stderr capped per stream');
}

# --- bad input ---------------------------------------------------------------
{
    my $res = $t->run_code('klingon', 'DISPLAY "hi"');
    is($res->{status}, 404, 'unknown language 404');
    my $j = $t->json($res->{content});
    like($j->{error}, qr/unknown language/, '404 says unknown language');
    ok(RCETest::has_core_languages($j->{known}), '404 lists the known languages, sorted')
        or diag explain $j->{known};

    $res = $t->{http}->get($t->url('/lang/python'));
    is($res->{status}, 405, 'GET is 405');
    is($res->{headers}{allow}, 'POST', '405 has Allow: POST');
    ok($t->json($res->{content})->{error}, '405 body is a JSON error');

    $res = $t->run_code('python', '');
    is($res->{status}, 400, 'empty body 400');
    like($t->json($res->{content})->{error}, qr/empty/, '400 says empty');

    $res = $t->post('/tiny/python', 'print(1)#' . ('x' x 2000));
    is($res->{status}, 413, 'code over the limit is 413');
    is($t->json($res->{content})->{max_code_size}, 1024, '413 names the limit');

    $res = $t->run_code('python', "print('\xff\xfe')");
    is($res->{status}, 400, 'non-UTF-8 code is 400');
    like($t->json($res->{content})->{error}, qr/UTF-8/, '400 says UTF-8');
}

# --- jobs spread over both nodes ---------------------------------------------------------
{
    my %nodes;
    my @pids;
    my $dir = $t->dir;
    for my $i (1 .. 8) {
        my $pid = fork // die;
        if ($pid == 0) {
            my $res = $t->run_code('python', "import time\ntime.sleep(0.5)\nprint($i)");
            open my $fh, '>', "$dir/spread.$i";
            print $fh ($res->{headers}{'x-rce-node'} // 'none'), ' ', $res->{content};
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my $all_right = 1;
    for my $i (1 .. 8) {
        my ($node, $out) = split / /, $t->slurp("$dir/spread.$i"), 2;
        $all_right &&= defined $out && $out eq "$i\n";
        $nodes{$node}++;
    }
    ok($all_right, 'eight concurrent jobs all answered with their own output');
    is(scalar(grep { /-[ab]$/ } keys %nodes), 2, 'jobs ran on both nodes')
        or diag explain \%nodes;
}

# --- nothing left behind ------------------------------------------------------------
ok(wait_until(sub { !$t->containers }, 10), 'no job container left');
is($t->redis('LLEN', 'rce:queue:' . $t->node_name($_)), 0, "queue of $_ is empty") for qw(a b);
is($t->redis('LLEN', 'rce:running:' . $t->node_name($_)), 0, "running list of $_ is empty") for qw(a b);

$t->stop_worker('a');
$t->stop_worker('b');
is($t->redis('SISMEMBER', 'rce:nodes', $t->node_name('a')), 0, 'node a deregistered on SIGTERM');
is($t->redis('EXISTS', 'rce:node:' . $t->node_name('b')), 0, 'node b heartbeat removed');

$t->stop_all;
done_testing;
