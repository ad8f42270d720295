#!/usr/bin/perl
# POST /api/v1/run end to end: files, stdin, args, limits and their clamp,
# the answer's shape; a compiled language's compile step when its image exists.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 qw(encode_base64);
use RCETest qw(wait_until);

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;
$t->start_worker('a', '--slots', '4');
ok($t->wait_nodes('a'), 'node a is live');

my $json = JSON::PP->new->utf8->canonical;

sub run_api {
    my ($req) = @_;
    my $res = $t->post('/api/v1/run', $json->encode($req), 'Content-Type' => 'application/json');
    is($res->{status}, 200, "200 for $req->{language}") or diag $res->{content};
    return $t->json($res->{content}) // {};
}

# --- the answer's shape, stdin and args ---------------------------------------------
{
    my $j = run_api({ language => 'py', code => "import sys\nprint(sys.stdin.read().upper(), sys.argv[1:])\n",
                      stdin => "hello", args => ['a b', '-x'] });
    is($j->{status}, 'OK', 'status OK');
    is($j->{language}, 'python', 'the alias resolved to python');
    ok(exists $j->{$_}, "answer has $_") for qw(id language version status compile run node);
    is($j->{compile}, undef, 'an interpreted language has no compile step');
    is($j->{run}{stdout}, "HELLO ['a b', '-x']\n", 'the program got stdin and args');
    is($j->{run}{exit_code}, 0, 'exit code 0');
    ok(exists $j->{run}{$_}, "run has $_") for qw(stdout stderr exit_code signal wall_ms cpu_ms memory_kb truncated);
}

# --- several files, a base64 one, names ------------------------------------------------
{
    my $j = run_api({ language => 'python', files => [
        { content => "import helper\nprint(helper.greet(), open('data.bin','rb').read())\n" },
        { name => 'helper.py', content => "def greet():\n    return 'hi from helper'\n" },
        { name => 'data.bin', content => encode_base64("\x00\x01\xff", ''), encoding => 'base64' },
    ] });
    is($j->{run}{stdout}, "hi from helper b'\\x00\\x01\\xff'\n", 'files land in the work dir under their names');

    $j = run_api({ language => 'javascript', files => [{ name => 'app.js', content => 'console.log(require("fs").readdirSync(".").sort().join(","))' },
                                                       { name => 'main.js', content => 'require("./app.js")' }] });
    is($j->{run}{stdout}, "app.js,main.js\n", 'a named main file is run');
}

# --- limits: per request, and clamped to the node's maxima --------------------------------
{
    my $j = run_api({ language => 'python', code => "import time\ntime.sleep(5)\n", limits => { wall_ms => 1000 } });
    is($j->{status}, 'TLE', 'a smaller wall limit per request applies');
    is($j->{limits}{wall_ms}, 1000, 'the answer says which limit it had');

    $j = run_api({ language => 'python', code => "print(1)\n", limits => { wall_ms => 99_000_000, memory_mb => 64 } });
    is($j->{status}, 'OK', 'a limit above the maximum is clamped, not refused');
    is_deeply($j->{clamped}, ['wall_ms'], 'the clamp is reported');
    is($j->{limits}{memory_mb}, 64, 'memory 64 MiB as asked');

    $j = run_api({ language => 'python', code => "import os\nos.write(1, b'x' * 5000)\n", limits => { output_bytes => 1000 } });
    is($j->{status}, 'OLE', 'an output limit per request');
    ok($j->{run}{truncated}, 'truncated');
}

# --- a runtime error --------------------------------------------------------------------
{
    my $j = run_api({ language => 'java', files => [{ name => 'Whatever.java',
        content => "public class Boom { public static void main(String[] a) { System.exit(4); } }" }] });
    is($j->{status}, 'RE', 'java exit 4 is RE');
    is($j->{run}{exit_code}, 4, 'exit code 4');
}

# --- a compiled language, when its image is there ------------------------------------------
SKIP: {
    my $langs = $t->json($t->{http}->get($t->url('/api/v1/languages'))->{content}) // [];
    my ($c) = grep { $_->{name} eq 'c' } @$langs;
    skip 'no rce/c image on this node (docker/build-images.sh c)', 8 unless $c;
    ok($c->{compiled}, 'c is listed as compiled');

    my $j = run_api({ language => 'c', code => "#include <stdio.h>\nint main(int c, char **v){char s[64]; fgets(s, 64, stdin); printf(\"%s%s\", v[1], s); return 0;}\n",
                      stdin => "in\n", args => ['arg:'] });
    is($j->{status}, 'OK', 'c: compiled and ran');
    is($j->{run}{stdout}, "arg:in\n", 'c: stdin and args');
    is($j->{compile}{exit_code}, 0, 'c: the compile step succeeded');

    $j = run_api({ language => 'c', code => "int main() { return x; }\n" });
    is($j->{status}, 'CE', 'c: a compile error is CE');
    like($j->{compile}{stdout} . $j->{compile}{stderr}, qr/error/, "c: with the compiler's message");
    is($j->{run}, undef, 'c: nothing ran');
    ok($j->{compile}{exit_code}, 'c: the compiler failed');
}

# --- the raw route with an alias that must be percent-encoded ----------------------------
SKIP: {
    my $langs = $t->json($t->{http}->get($t->url('/api/v1/languages'))->{content}) // [];
    my ($cs) = grep { $_->{name} eq 'csharp' } @$langs;
    skip 'no rce/csharp image on this node (docker/build-images.sh csharp)', 3 unless $cs;
    ok((grep { $_ eq 'c#' } @{ $cs->{aliases} }), 'csharp has the alias c#');

    my $res = $t->run_code('c%23', "class P { static void Main() { System.Console.WriteLine(6 * 7); } }\n");
    is($res->{status}, 200, 'POST /lang/c%23: 200') or diag $res->{content};
    is($res->{content}, "42\n", 'POST /lang/c%23 runs C#');
}

ok(wait_until(sub { !$t->containers }, 10), 'no container left');
$t->stop_all;
done_testing;
