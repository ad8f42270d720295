#!/usr/bin/perl
# Piston v2's HTTP API (rce_api_piston, /api/v2/) end to end: runtimes, execute with stdin,
# args, files in base64 and hex, a compiled language and its compile error, exits, signals,
# limits and their maxima, version selectors, the refusals in Piston's words, packages;
# then npm's piston-client, unmodified, against the stack (t/js, installed by npm ci).

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

# POST /api/v2/execute with $req; returns (status, the answer decoded)
sub execute {
    my ($req, $type) = @_;
    my $res = $t->{http}->request('POST', $t->url('/api/v2/execute'),
        { content => ref $req ? $json->encode($req) : $req,
          headers => { 'Content-Type' => $type // 'application/json' } });
    return ($res->{status}, $t->json($res->{content}) // {}, $res);
}

# a run that must answer 200
sub run_ok {
    my ($req, $what) = @_;
    my ($status, $j, $res) = execute($req);
    is($status, 200, "$what: 200") or diag $res->{content};
    return $j;
}

my @stage_keys = qw(code cpu_time memory message output signal status stderr stdout wall_time);

# --- GET /api/v2/ and /api/v2/runtimes -----------------------------------------------------
my ($status, $root) = $t->call('GET', '/api/v2/');
is($status, 200, 'GET /api/v2/: 200');
like($root->{message}, qr/^Piston v\d/, 'GET /api/v2/: a message like Piston\'s');

($status, my $runtimes) = $t->call('GET', '/api/v2/runtimes');
is($status, 200, 'GET /api/v2/runtimes: 200');
is(ref $runtimes, 'ARRAY', 'runtimes: an array');
my ($py) = grep { $_->{language} eq 'python' } @$runtimes;
ok($py, 'runtimes: python is there') or BAIL_OUT('no python runtime');
is_deeply([sort keys %$py], [qw(aliases language version)], 'a runtime: language, version, aliases');
ok((grep { $_ eq 'py' } @{ $py->{aliases} }), 'python has its alias py');
like($py->{version}, qr/^\d+\.\d+/, "python's version: $py->{version}");
ok(!(grep { !defined $_->{version} || ref $_->{aliases} ne 'ARRAY' } @$runtimes), 'every runtime has a version and aliases');
my (undef, $v1) = $t->call('GET', '/api/v1/languages');
is_deeply([sort map { $_->{language} } @$runtimes], [sort map { $_->{name} } @$v1],
          'the runtimes are the languages /api/v1/languages lists');
my ($major, $minor) = $py->{version} =~ /^(\d+)\.(\d+)/;

# --- execute: the answer's shape, stdin with its newline, args ---------------------------------
{
    my $j = run_ok({ language => 'python', version => '*',
                     files => [{ content => "import sys\nprint(repr(sys.stdin.read()), sys.argv[1:])\nprint('err', file=sys.stderr)\n" }],
                     stdin => 'hello', args => ['a b', '-x'] }, 'python with stdin and args');
    is($j->{language}, 'python', 'language');
    is($j->{version}, $py->{version}, 'version: the runtime\'s');
    ok(!exists $j->{compile}, 'no compile stage for an interpreted language');
    is_deeply([sort keys %{ $j->{run} }], \@stage_keys, 'run has Piston\'s ten fields');
    is($j->{run}{stdout}, "'hello\\n' ['a b', '-x']\n", 'stdin got a trailing newline (as Piston adds it); args');
    is($j->{run}{stderr}, "err\n", 'stderr');
    is($j->{run}{output}, "'hello\\n' ['a b', '-x']\nerr\n", 'output: stdout then stderr');
    is($j->{run}{code}, 0, 'code 0');
    is($j->{run}{signal}, undef, 'signal null');
    is($j->{run}{status}, undef, 'status null');
    is($j->{run}{message}, undef, 'message null');
    ok($j->{run}{memory} > 1024 && $j->{run}{memory} % 1024 == 0, "memory in bytes: $j->{run}{memory}");
    ok(defined $j->{run}{wall_time} && defined $j->{run}{cpu_time}, 'wall_time and cpu_time');

    $j = run_ok({ language => 'py', version => "$major.x", files => [{ content => "print(1)" }], stdin => "line\n" }, 'an alias');
    is($j->{language}, 'python', 'the alias ran python');
}

# --- files: names, base64, hex ------------------------------------------------------------
{
    my $j = run_ok({ language => 'python', version => '*', files => [
        { name => 'main.py', content => "import os\nprint(sorted(os.listdir('.')), open('d.bin','rb').read(), open('h.txt').read(), open('file3.code').read())\n" },
        { name => 'd.bin', content => encode_base64("\x00\x01\xff", ''), encoding => 'base64' },
        { name => 'h.txt', content => '48656c6c6f', encoding => 'hex' },
        { content => 'unnamed' },
    ] }, 'files');
    is($j->{run}{stdout}, "['d.bin', 'file3.code', 'h.txt', 'main.py'] b'\\x00\\x01\\xff' Hello unnamed\n",
       'base64 and hex decoded; a file without a name is file<i>.code');
}
{
    # base64 as Node's Buffer.from reads it: line breaks skipped, url-safe letters, no padding,
    # the first = ends it, unused low bits ignored
    my $wrapped = encode_base64('wrapped base64 ' . ('x' x 60));       # 76-column lines
    my $j = run_ok({ language => 'python', version => '*', files => [
        { name => 'main.py', content => "print(open('w.txt').read())\n" },
        { name => 'w.txt', content => $wrapped, encoding => 'base64' },
    ] }, 'base64 with line breaks');
    is($j->{run}{stdout}, 'wrapped base64 ' . ('x' x 60) . "\n", 'base64 with line breaks decoded');
    $j = run_ok({ language => 'python', version => '*', files => [
        { name => 'main.py', content => "import sys\nprint(open('u.bin','rb').read(), open('v.bin','rb').read())\n" },
        { name => 'u.bin', content => '-_8', encoding => 'base64' },
        { name => 'v.bin', content => "QR\n==ignored", encoding => 'base64' },
    ] }, 'url-safe base64, unpadded, odd bits');
    is($j->{run}{stdout}, "b'\\xfb\\xff' b'A'\n", 'url-safe letters and unused bits read as Node reads them');
}

# --- a compiled language ------------------------------------------------------------------
SKIP: {
    my ($c) = grep { $_->{language} eq 'c' } @$runtimes;
    skip 'no rce/c image on this node', 12 unless $c;

    my $j = run_ok({ language => 'c', version => $c->{version}, files => [{ name => 'main.c',
        content => "#include <stdio.h>\nint main(int c, char **v){char s[64]; fgets(s, 64, stdin); printf(\"%s %s\", v[1], s); return 0;}\n" }],
        stdin => 'in', args => ['arg'] }, 'c');
    is($j->{run}{stdout}, "arg in\n", 'c: compiled and ran with stdin and args');
    is_deeply([sort keys %{ $j->{compile} }], \@stage_keys, 'c: a compile stage with the ten fields');
    is($j->{compile}{code}, 0, 'c: the compile step succeeded');
    is($j->{compile}{status}, undef, 'c: compile status null');

    $j = run_ok({ language => 'c', version => '*', files => [{ content => "int main() { return x; }\n" }] }, 'c compile error');
    is($j->{compile}{status}, 'RE', 'a compile error: the compile stage is RE');
    ok($j->{compile}{code}, "the compiler's code: $j->{compile}{code}");
    like($j->{compile}{message}, qr/^Exited with error status \d+$/, 'with isolate\'s message');
    like($j->{compile}{output}, qr/error/, "the compiler's message");
    is_deeply($j->{run}, $j->{compile}, 'run is a copy of compile, as Piston answers it');
    is($j->{language}, 'c', 'language c');
}

# --- exits, signals, limits ---------------------------------------------------------------
{
    my $j = run_ok({ language => 'python', version => '*', files => [{ content => "import sys\nprint('bye')\nsys.exit(3)\n" }] }, 'exit 3');
    is($j->{run}{code}, 3, 'a non-zero exit: code 3');
    is($j->{run}{status}, 'RE', 'status RE');
    is($j->{run}{message}, 'Exited with error status 3', "isolate's message");
    is($j->{run}{signal}, undef, 'no signal');
    is($j->{run}{stdout}, "bye\n", 'the output before it');

    $j = run_ok({ language => 'python', version => '*', files => [{ content => "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n" }] }, 'a signal');
    is($j->{run}{status}, 'SG', 'killed by a signal: SG');
    is($j->{run}{signal}, 'SIGSEGV', 'signal named SIGSEGV');
    is($j->{run}{code}, undef, 'code null beside a signal, as isolate reports it');

    # (3 s: python prints its line first even on a loaded machine)
    $j = run_ok({ language => 'python', version => '*', run_timeout => 3000,
                  files => [{ content => "import time\nprint('start', flush=True)\ntime.sleep(20)\n" }] }, 'a timeout');
    is($j->{run}{status}, 'TO', 'run_timeout 3000: TO');
    is($j->{run}{signal}, 'SIGKILL', 'signal SIGKILL, as Piston names it');
    is($j->{run}{code}, undef, 'a timeout: code null');
    is($j->{run}{stdout}, "start\n", 'the output before the timeout is kept');
    ok($j->{run}{wall_time} >= 2900 && $j->{run}{wall_time} < 10000, "wall_time $j->{run}{wall_time} ms");

    $j = run_ok({ language => 'python', version => '*', files => [{ content => "import os\nos.write(1, b'x' * 300000)\n" }] }, 'a stdout flood');
    is($j->{run}{status}, 'OL', 'stdout over the cap: OL');
    is($j->{run}{message}, 'stdout length exceeded', "Piston's message");
    $j = run_ok({ language => 'python', version => '*', files => [{ content => "import os\nos.write(2, b'x' * 300000)\n" }] }, 'a stderr flood');
    is($j->{run}{status}, 'EL', 'stderr over the cap: EL');

    $j = run_ok({ language => 'python', version => '*', run_memory_limit => 64 * 1024 * 1024,
                  files => [{ content => "x = bytearray(200 * 1024 * 1024)\nprint(len(x))\n" }] }, 'a memory hog');
    is($j->{run}{status}, 'SG', 'out of memory (our MLE): SG');
    is($j->{run}{signal}, 'SIGKILL', 'by SIGKILL');

    $j = run_ok({ language => 'python', version => '*', run_memory_limit => -1, compile_memory_limit => -1,
                  run_timeout => 0, run_cpu_time => 2000, files => [{ content => "print('ok')" }] }, 'defaults asked as -1 and 0');
    is($j->{run}{stdout}, "ok\n", '-1 and 0 are the defaults');
}

# --- version selectors --------------------------------------------------------------------
{
    for my $sel ('*', 'x', "$major.x", "$major.$minor.x", "$major.$minor", $py->{version}, ">=$major <" . ($major + 1), "^$major.$minor") {
        my ($s, $j) = execute({ language => 'python', version => $sel, files => [{ content => "print(2)" }] });
        is($s, 200, "version \"$sel\" selects python $py->{version}");
    }
    my ($s, $j) = execute({ language => 'python', version => '99.x', files => [{ content => "print(2)" }] });
    is($s, 400, 'version 99.x: 400');
    is_deeply($j, { message => 'python-99.x runtime is unknown' }, 'runtime is unknown, in Piston\'s words');
    ($s, $j) = execute({ language => 'klingon', version => '*', files => [{ content => "x" }] });
    is_deeply([$s, $j], [400, { message => 'klingon-* runtime is unknown' }], 'an unknown language: the same');
}

# --- refusals in Piston's words -----------------------------------------------------------
{
    my %bad = (
        'no language'      => [{ version => '*', files => [] }, 'language is required as a string'],
        'no version'       => [{ language => 'python', files => [] }, 'version is required as a string'],
        'no files'         => [{ language => 'python', version => '*' }, 'files is required as an array'],
        'no content'       => [{ language => 'python', version => '*', files => [{ name => 'a' }] }, 'files[0].content is required as a string'],
        'no utf8 file'     => [{ language => 'python', version => '*', files => [{ content => 'AA==', encoding => 'base64' }] },
                               'files must include at least one utf8 encoded file'],
        'run_timeout over' => [{ language => 'python', version => '*', files => [{ content => 'x' }], run_timeout => 999999 },
                               'run_timeout cannot exceed the configured limit of 5000'],
        'memory over'      => [{ language => 'python', version => '*', files => [{ content => 'x' }], compile_memory_limit => 2 ** 40 },
                               'compile_memory_limit cannot exceed the configured limit of 268435456'],
        'compile over'     => [{ language => 'python', version => '*', files => [{ content => 'x' }], compile_timeout => 20001 },
                               'compile_timeout cannot exceed the configured limit of 20000'],
        'not a number'     => [{ language => 'python', version => '*', files => [{ content => 'x' }], run_cpu_time => '5' },
                               'If specified, run_cpu_time must be a number'],
        'negative'         => [{ language => 'python', version => '*', files => [{ content => 'x' }], run_timeout => -5 },
                               'run_timeout must be non-negative'],
    );
    for my $what (sort keys %bad) {
        my ($s, $j) = execute($bad{$what}[0]);
        is($s, 400, "$what: 400");
        is_deeply($j, { message => $bad{$what}[1] }, "$what: {\"message\": \"$bad{$what}[1]\"}");
    }

    my ($s, $j) = execute('{"language": "python",');
    is($s, 400, 'malformed JSON: 400');
    like($j->{stack}, qr/^SyntaxError: /, 'malformed JSON: {"stack": "SyntaxError: ..."}, as Express answers it');

    ($s, $j) = execute({ language => 'python', version => '*', files => [{ content => 'x' }] }, 'application/x-www-form-urlencoded');
    is($s, 415, 'a form body: 415');
    is_deeply($j, { message => 'requests must be of type application/json' }, '415 in Piston\'s words');
    my ($code, $h, $body) = $t->raw_http("POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    is($code, 415, 'no Content-Type: 415');
    ($s, $j) = execute({ language => 'python', version => '*', files => [{ content => 'print(5)' }] }, 'text/plain;charset=UTF-8');
    is($s, 200, 'text/plain (fetch()\'s type for a string body) is read as JSON');
    is($j->{run}{stdout}, "5\n", 'and run');
    my $res = $t->{http}->request('POST', $t->url('/api/v2/execute'),
        { content => $json->encode({ language => 'python', version => '*', files => [{ content => 'print(5)' }] }),
          headers => { 'Content-Type' => 'text/plain', Origin => 'http://evil.example' } });
    is($res->{status}, 415, 'text/plain from a browser page (Origin): 415, no job');
}

# --- packages, paths ------------------------------------------------------------------------
{
    my ($s, $pk) = $t->call('GET', '/api/v2/packages');
    is($s, 200, 'GET /api/v2/packages: 200');
    is_deeply([sort map { "$_->{language}-$_->{language_version}" } @$pk],
              [sort map { "$_->{language}-$_->{version}" } @$runtimes], 'one package per runtime');
    ok(!(grep { !JSON::PP::is_bool($_->{installed}) || !$_->{installed} } @$pk), 'each installed: true');
    is_deeply([sort keys %{ $pk->[0] }], [qw(installed language language_version)], 'a package: language, language_version, installed');

    for my $m ('POST', 'DELETE') {
        my ($s2, $j) = $t->call($m, '/api/v2/packages', { language => 'python', version => '*' });
        is($s2, 501, "$m /api/v2/packages: 501");
        like($j->{message}, qr/not installed or removed over this API/, "$m /api/v2/packages: says so");
    }

    ($s, my $j) = $t->call('GET', '/api/v2/nothing');
    is_deeply([$s, $j], [404, { message => 'Not Found' }], 'an unknown path: 404 Not Found');
    ($s, $j) = $t->call('GET', '/api/v2/execute');
    is($s, 404, 'GET execute: 404, as Express routes it');
    ($s) = $t->call('GET', '/api/v2/runtimes/');
    is($s, 200, 'a trailing slash is the same path');
}

# --- npm's piston-client, unmodified ---------------------------------------------------------
SKIP: {
    my $js = "$FindBin::Bin/js";
    if (!-d "$js/node_modules/piston-client" && system('which npm >/dev/null 2>&1') == 0) {
        system("npm ci --prefix '$js' --no-audit --no-fund --loglevel=error >&2");
    }
    skip 'no node or no t/js/node_modules (./deploy.sh test runs npm ci --prefix t/js)', 11
        unless -d "$js/node_modules/piston-client" && system('which node >/dev/null 2>&1') == 0;

    my $url = $t->url('');
    my $out = `node '$js/piston-client.mjs' '$url' 2>&1`;
    is($?, 0, 'the client script ran') or diag $out;
    my %r = map { my $l = $t->json($_); $l ? ($l->{call} => $l->{result}) : () } split /\n/, $out;

    ok((grep { $_->{language} eq 'python' } @{ $r{runtimes} // [] }), 'piston-client: runtimes lists python') or diag $out;
    is($r{python}{language}, 'python', 'piston-client: execute python');
    is($r{python}{run}{stdout}, "HELLO FROM STDIN ['a b', '-x']\n", 'piston-client: with stdin and args') or diag $out;
    is($r{python}{run}{code}, 0, 'piston-client: code 0');
    SKIP: {
        skip 'no rce/c image on this node', 3 unless grep { $_->{language} eq 'c' } @$runtimes;
        is($r{c}{compile}{code}, 0, 'piston-client: c compiled');
        is($r{c}{run}{stdout}, "hi from c 4 3\n", 'piston-client: c ran with its default args 1 2 3') or diag $out;
        is($r{c}{run}{status}, undef, 'piston-client: c status null');
    }
    is($r{exit}{run}{code}, 3, 'piston-client: a non-zero exit');
    is($r{exit}{run}{status}, 'RE', 'piston-client: status RE');
    is($r{exit}{run}{stdout}, "bye\n", 'piston-client: its output');
}

# --- backpressure: no live node is a 503 with Retry-After, not a queue forever ------------------
{
    $t->stop_worker('a');
    ok(wait_until(sub { $t->{http}->get($t->url('/health'))->{status} == 503 }, 10),
       '/health is 503 with no live node');
    sleep 1;    # both nginx workers have read the node list since
    my (undef, undef, $res) = execute({ language => 'python', version => '*', files => [{ content => 'print(1)' }] });
    is($res->{status}, 503, 'no live node: 503');
    is($res->{headers}{'retry-after'}, '1', 'with Retry-After');
    ok(defined(($t->json($res->{content}) // {})->{message}), 'and a message');
}

ok(wait_until(sub { !$t->containers }, 10), 'no container left');
$t->stop_all;
done_testing;
