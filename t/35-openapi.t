#!/usr/bin/perl
# The OpenAPI 3.1 description, docs/openapi.json (issue 19): it lints clean with
# @redocly/cli (pinned in t/js), the gateway serves it at /api/v1/openapi.json, and every
# answer a real host-mode stack gives here -- every route, its successes and its refusals
# (malformed JSON, unknown language, bodies too large, wrong methods, unknown job ids,
# Piston's 400/404/415/501, nginx's own 400/405/413/414/501/505, 503 with no live node,
# 504 at the deadline), Server-Sent Events event by event, the WebSocket's 101/400/403/426,
# GET /metrics, a location with API keys (401 without or with a wrong key, 200 with one), a
# location with rce_limit (RateLimit-Policy and RateLimit on its answers, then 429 with
# Retry-After), limit_req's 429 through rce_error, CORS preflights (204) on every path --
# is validated against it by t/js/openapi-check.mjs (ajv, JSON Schema 2020-12): status,
# content type, headers, body.  A status the document does not list for that route is a
# failure, and every operation of the document must be asked.  RCE_KEEP=1 keeps the
# answers (answers.jsonl in the test's directory).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use POSIX ();
use HTTP::Tiny;
use RCETest qw(wait_until);

my $root = RCETest::root();
my $js = "$FindBin::Bin/js";
my $doc_file = "$root/docs/openapi.json";

if (!-d "$js/node_modules/ajv" && system('which npm >/dev/null 2>&1') == 0) {
    system("npm ci --prefix '$js' --no-audit --no-fund --loglevel=error >&2");
}
plan skip_all => 'no node or no t/js/node_modules (./deploy.sh test runs npm ci --prefix t/js)'
    unless -d "$js/node_modules/ajv" && -d "$js/node_modules/\@redocly/cli"
        && system('which node >/dev/null 2>&1') == 0;

my $json = JSON::PP->new->utf8->canonical;

# --- the document: JSON, OpenAPI 3.1, redocly's recommended rules --------------------------
{
    open my $fh, '<', $doc_file or BAIL_OUT("cannot read $doc_file: $!");
    my $doc = eval { $json->decode(do { local $/; <$fh> }) };
    ok($doc, 'docs/openapi.json is JSON') or BAIL_OUT($@);
    is($doc->{openapi}, '3.1.0', 'OpenAPI 3.1');

    local $ENV{REDOCLY_TELEMETRY} = 'off';
    local $ENV{REDOCLY_SUPPRESS_UPDATE_NOTICE} = 'true';
    local $ENV{NO_COLOR} = '1';
    my $out = `cd '$root' && '$js/node_modules/.bin/redocly' lint --config docs/redocly.yaml --format=stylish docs/openapi.json 2>&1`;
    is($? >> 8, 0, 'redocly lint: no error') or diag $out;
    unlike($out, qr/\b(?:warning|error)\s{2,}/, 'redocly lint: no warning either') or diag $out;
    like($out, qr/Your API description is valid/, "redocly lint: valid") or diag $out;
}

# --- the stack ---------------------------------------------------------------------------
# Test locations serve documented routes under other prefixes with smaller bounds: a
# deadline that passes (504) and a body limit that a small body passes (nginx's 413); API
# keys (/k/), quotas (/q/), limit_req (/r/); /metrics as conf/nginx.conf has it, and
# rce_cors allowing one origin on the whole server (no other request here sends it).
my $t = RCETest->new;
my $keyfile = $t->dir . '/keys';
my $key = 'k35-0123456789abcdef-key';
{
    open my $fh, '>', $keyfile or die "$keyfile: $!";
    print $fh "# name key\nopenapi $key\n";
    close $fh;
}
my $origin = 'https://app.example';
$t->start_redis;
$t->start_nginx(http_extra => 'limit_req_zone $rce_client zone=rq35:1m rate=1r/m;
    limit_req_status 429;',
    extra => "location /t504/lang/ { rce_run; rce_wall_limit 1s; rce_timeout 1500ms; }
        location = /t504/run { rce_api_run; rce_wall_limit 1s; rce_timeout 1500ms; }
        location /t504/v2/ { rce_api_piston; rce_wall_limit 1s; rce_compile_limit 1s; rce_timeout 2500ms; }
        location /t413/lang/ { rce_run; client_max_body_size 1k; }
        location = /t413/run { rce_api_run; client_max_body_size 1k; }
        location /t413/v2/ { rce_api_piston; client_max_body_size 1k; }
        location = /metrics { rce_metrics; }
        location = /k/languages { rce_api_languages; rce_api_keys $keyfile; }
        location /k/v2/ { rce_api_piston; rce_api_keys $keyfile; }
        location = /q/languages { rce_api_languages; rce_limit zone=q35:64k requests=3/1m cpu=10/1h; }
        location /q/v2/ { rce_api_piston; rce_api_keys $keyfile; rce_limit zone=q35p:64k requests=1/1m; }
        location = /r/languages { rce_api_languages; limit_req zone=rq35; }
        error_page 429 /.rce-error;
        rce_cors $origin;");
$t->start_worker('a', '--slots', '1');
ok($t->wait_nodes('a'), 'node a is live');

my (undef, $langs) = $t->call('GET', '/api/v1/languages');
my %have = map { ($_->{name} => 1) } @{ ref $langs eq 'ARRAY' ? $langs : [] };
ok($have{python}, 'the node runs python') or BAIL_OUT('no python image: docker/build-images.sh python');

my $answers_file = $t->dir . '/answers.jsonl';     # kept with RCE_KEEP=1
open my $answers, '>', $answers_file or die "$answers_file: $!";
$answers->autoflush(1);

# one answer into the file; $want: the status the request is there to get (undef: any the
# document lists); doc_path: the documented route a test location serves
sub record {
    my ($name, $method, $path, $status, $headers, $body, %opt) = @_;
    my %h = map { my $v = $headers->{$_}; (lc $_ => ref $v ? join(', ', @$v) : $v) } keys %$headers;
    print {$answers} $json->encode({
        name => $name, method => $method, path => $path,
        ($opt{doc_path} ? (doc_path => $opt{doc_path}) : ()),
        status => $status + 0, content_type => $h{'content-type'} // '',
        headers => \%h, body_b64 => encode_base64($body // '', ''),
    }), "\n";
    if (defined $opt{want}) {
        is($status, $opt{want}, "$name: $opt{want}") or diag substr($body // '', 0, 500);
    }
    return ($status, $t->json($body // '') // {}, \%h, $body);
}

# an HTTP request through HTTP::Tiny: body a structure (sent as JSON) or bytes
sub ask {
    my ($name, $method, $path, %opt) = @_;
    my %headers = %{ $opt{headers} // {} };
    my $content = $opt{body};
    if (ref $content) {
        $content = $json->encode($content);
        $headers{'Content-Type'} //= 'application/json';
    }
    my $res = $t->{http}->request($method, $t->url($path),
        { headers => \%headers, (defined $content ? (content => $content) : ()) });
    diag "$name: HTTP::Tiny: $res->{content}" if $res->{status} == 599;
    (my $bare = $path) =~ s/\?.*//s;
    return record($name, $method, $bare, $res->{status}, $res->{headers}, $res->{content}, %opt);
}

# bytes on a connection of their own (requests HTTP::Tiny would not send)
sub ask_raw {
    my ($name, $method, $path, $bytes, %opt) = @_;
    my ($status, $h, $body) = $t->raw_http($bytes, whole => 1, timeout => 10, %{ $opt{raw} // {} });
    (my $bare = $path) =~ s/\?.*//s;
    return record($name, $method, $bare, $status, $h, $body, %opt);
}

my $py_ok = "import sys\nprint('hello', sys.argv[1:], sys.stdin.read())\n";

# --- POST /lang/{language} -------------------------------------------------------------------
{
    my (undef, undef, $h, $body) = ask('lang: text', 'POST', '/lang/python', body => "print('drill my brain')", want => 200);
    is($body, "drill my brain\n", 'lang: the output');
    is($h->{'x-rce-status'}, 'OK', 'lang: X-RCE-Status');
    ask('lang: an alias, percent-decoded', 'POST', '/lang/py%74hon3', body => 'print(1)', want => 200);
    ask('lang: RE with its exit code', 'POST', '/lang/python', body => "print('hi')\nraise SystemExit(3)", want => 200);
    ask('lang: bytes that are not UTF-8', 'POST', '/lang/python',
        body => "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe')", want => 200);
    ask('lang: JSON', 'POST', '/lang/python', body => "import sys\nsys.stdout.buffer.write(b'\\xff')\nprint('e', file=sys.stderr)",
        headers => { Accept => 'application/json' }, want => 200);
    ask('lang: unknown language', 'POST', '/lang/klingon-85', body => '1', want => 404);
    ask('lang: a name too long', 'POST', '/lang/' . ('x' x 40), body => '1', want => 404);
    ask('lang: empty body', 'POST', '/lang/python', body => '', want => 400);
    ask('lang: code that is not UTF-8', 'POST', '/lang/python', body => "print('\xff')", want => 400);
    ask('lang: code over rce_max_code_size', 'POST', '/lang/python', body => '#' x (65 * 1024), want => 413);
    ask('lang: GET', 'GET', '/lang/python', want => 405);
    ask('lang: HEAD', 'HEAD', '/lang/python', want => 405);
    ask('lang: TRACE (nginx)', 'TRACE', '/lang/python', want => 405);
    ask('lang: a body over client_max_body_size (nginx)', 'POST', '/t413/lang/python', body => '#' x 2048,
        doc_path => '/lang/python', want => 413);
    ask_raw('lang: Transfer-Encoding gzip (nginx)', 'POST', '/lang/python',
        "POST /lang/python HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n", want => 501);
    ask_raw('lang: an unreadable header line (nginx)', 'POST', '/lang/python',
        "POST /lang/python HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nno colon here\r\nConnection: close\r\n\r\nprint(1)", want => 400);
    ask('lang: a URI over large_client_header_buffers (nginx)', 'POST', '/lang/python?' . ('a' x 9000), body => '1', want => 414);
}

# --- POST /api/v1/run -------------------------------------------------------------------------
{
    ask('run: python with stdin and args', 'POST', '/api/v1/run',
        body => { language => 'python', code => $py_ok, stdin => 'in', args => ['a', 'b'],
                  limits => { wall_ms => 3000, pids => 100000 } }, want => 200);
    ask('run: files, base64 output', 'POST', '/api/v1/run',
        body => { language => 'python', output_encoding => 'base64', priority => 'interactive',
                  files => [{ content => "import helper\nhelper.go()\n" },
                            { name => 'helper.py', content => encode_base64("import sys\ndef go():\n    sys.stdout.buffer.write(b'\\xff\\xfe')\n", ''), encoding => 'base64' }] },
        want => 200);
    ask('run: a signal', 'POST', '/api/v1/run',
        body => { language => 'python', code => "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)" }, want => 200);
    ask('run: judge mode', 'POST', '/api/v1/run',
        body => { language => 'python', code => "a, b = map(int, input().split())\nprint(a + b)\n",
                  tests => [{ stdin => "1 2\n", expected_output => "3\n" }, { stdin => "5 5\n", expected_output => "11\n" },
                            { stdin => "x\n" }],
                  compare => { float => 1e-6 } }, want => 200);
    ask('run: judge mode, stop_on_failure', 'POST', '/api/v1/run',
        body => { language => 'python', code => "print(input())",
                  tests => [{ stdin => "1\n", expected_output => "2\n" }, { stdin => "3\n" }],
                  compare => 'tokens', stop_on_failure => JSON::PP::true }, want => 200);
    SKIP: {
        skip 'no rce/c image', 2 unless $have{c};
        ask('run: C, compile step and run', 'POST', '/api/v1/run',
            body => { language => 'c', code => "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n" }, want => 200);
        ask('run: C, a compile error', 'POST', '/api/v1/run',
            body => { language => 'c', code => "int main(void) { return x; }\n" }, want => 200);
    }
    ask('run: Accept text/event-stream', 'POST', '/api/v1/run',
        body => { language => 'python', code => "import sys\nprint(1)\nsys.stdout.buffer.write(b'\\xff')\nraise SystemExit(2)" },
        headers => { Accept => 'text/event-stream' }, want => 200);
    ask('run: Accept text/event-stream, C', 'POST', '/api/v1/run',
        body => { language => 'c', code => "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n" },
        headers => { Accept => 'text/event-stream' }, want => 200) if $have{c};
    ask('run: Accept text/event-stream, a compile error', 'POST', '/api/v1/run',
        body => { language => 'c', code => "int main(void) { return x; }\n" },
        headers => { Accept => 'text/event-stream' }, want => 200) if $have{c};
    ask('run: Accept text/event-stream, unknown language', 'POST', '/api/v1/run',
        body => { language => 'klingon', code => '1' }, headers => { Accept => 'text/event-stream' }, want => 404);

    ask('run: invalid JSON', 'POST', '/api/v1/run', body => '{"language": "python",', want => 400,
        headers => { 'Content-Type' => 'application/json' });
    ask('run: not an object', 'POST', '/api/v1/run', body => [1], want => 400);
    ask('run: an unknown field', 'POST', '/api/v1/run', body => { language => 'python', code => '1', stdn => '' }, want => 400);
    ask('run: code and files', 'POST', '/api/v1/run', body => { language => 'python', code => '1', files => [{ content => '1' }] }, want => 400);
    ask('run: a bad limit', 'POST', '/api/v1/run', body => { language => 'python', code => '1', limits => { wall_ms => -1 } }, want => 400);
    ask('run: an unknown limit', 'POST', '/api/v1/run', body => { language => 'python', code => '1', limits => { walls => 1 } }, want => 400);
    ask('run: a bad output_encoding', 'POST', '/api/v1/run', body => { language => 'python', code => '1', output_encoding => 'hex' }, want => 400);
    ask('run: a bad priority', 'POST', '/api/v1/run', body => { language => 'python', code => '1', priority => 'urgent' }, want => 400);
    ask('run: a bad compare', 'POST', '/api/v1/run', body => { language => 'python', code => '1', tests => [{}], compare => 'fuzzy' }, want => 400);
    ask('run: callback_url', 'POST', '/api/v1/run', body => { language => 'python', code => '1', callback_url => 'http://example.com/' }, want => 400);
    ask('run: no language', 'POST', '/api/v1/run', body => { code => '1' }, want => 400);
    ask('run: unknown language', 'POST', '/api/v1/run', body => { language => 'klingon', code => '1' }, want => 404);
    ask('run: a version no node runs', 'POST', '/api/v1/run', body => { language => 'python', version => '0.0.0', code => '1' }, want => 404);
    ask('run: stdin over rce_max_code_size', 'POST', '/api/v1/run', body => { language => 'python', code => '1', stdin => 'x' x (65 * 1024) }, want => 413);
    ask_raw('run: a Content-Length over the limit', 'POST', '/api/v1/run',
        "POST /api/v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\nConnection: close\r\n\r\n{",
        want => 413);
    ask('run: a body over client_max_body_size (nginx)', 'POST', '/t413/run',
        body => { language => 'python', code => '#' x 2048 }, doc_path => '/api/v1/run', want => 413);
    ask('run: GET', 'GET', '/api/v1/run', want => 405);
    ask('run: PUT', 'PUT', '/api/v1/run', body => { language => 'python', code => '1' }, want => 405);
    ask_raw('run: chunked Transfer-Encoding with gzip (nginx)', 'POST', '/api/v1/run',
        "POST /api/v1/run HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", want => 501);
    ask_raw('run: HTTP/2.0 in the request line (nginx)', 'POST', '/api/v1/run',
        "POST /api/v1/run HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n", want => 505);
}

# --- GET /api/v1/languages, /health, /api/v1/openapi.json, /metrics -------------------------
{
    ask('languages', 'GET', '/api/v1/languages', want => 200);
    ask('languages: HEAD', 'HEAD', '/api/v1/languages', want => 200);
    ask('languages: POST', 'POST', '/api/v1/languages', body => { x => 1 }, want => 405);
    ask('languages: a URI over large_client_header_buffers (nginx)', 'GET', '/api/v1/languages?' . ('a' x 9000), want => 414);

    ask('health', 'GET', '/health', want => 200);
    ask('health: HEAD', 'HEAD', '/health', want => 200);
    ask('health: DELETE', 'DELETE', '/health', want => 405);
    ask_raw('health: TRACE (nginx)', 'TRACE', '/health', "TRACE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", want => 405);

    my (undef, undef, $h, $body) = ask('openapi.json', 'GET', '/api/v1/openapi.json', want => 200);
    open my $fh, '<:raw', $doc_file or die;
    is($body, do { local $/; <$fh> }, 'openapi.json: the gateway serves docs/openapi.json as it is');
    like($h->{'content-type'} // '', qr{\Aapplication/json\b}, 'openapi.json: as application/json');
    ask('openapi.json: HEAD', 'HEAD', '/api/v1/openapi.json', want => 200);
    # (a connection of its own: nginx leaves the refused body unread on a keep-alive one)
    ask_raw('openapi.json: POST (nginx)', 'POST', '/api/v1/openapi.json',
        "POST /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{\"x\":1}",
        want => 405);

    (undef, undef, $h, $body) = ask('metrics', 'GET', '/metrics', want => 200);
    is($h->{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8', 'metrics: the exposition format 0.0.4');
    like($body // '', qr/^# TYPE rce_nodes_live gauge\nrce_nodes_live [0-9]+\n/m, 'metrics: rce_nodes_live');
    ask('metrics: HEAD', 'HEAD', '/metrics', want => 200);
    ask('metrics: POST', 'POST', '/metrics', body => { x => 1 }, want => 405);
}

# --- API keys, quotas, CORS -------------------------------------------------------------------
{
    # a location with keys: 401 with WWW-Authenticate, without or with a wrong key (on Piston's,
    # the error with its "message"); 200 with the key, as Bearer and as X-API-Key
    my (undef, $j, $h) = ask('keys: no key', 'GET', '/k/languages', doc_path => '/api/v1/languages', want => 401);
    is($h->{'www-authenticate'}, 'Bearer realm="rce"', 'keys: no key: WWW-Authenticate');
    (undef, $j, $h) = ask('keys: a wrong key', 'GET', '/k/languages', doc_path => '/api/v1/languages',
        headers => { Authorization => 'Bearer not-the-key-0123456789' }, want => 401);
    is($h->{'www-authenticate'}, 'Bearer realm="rce", error="invalid_token"', 'keys: a wrong key: error="invalid_token"');
    ask('keys: a wrong X-API-Key, a method the route does not take', 'POST', '/k/languages', doc_path => '/api/v1/languages',
        body => { x => 1 }, headers => { 'X-API-Key' => 'not-the-key-0123456789' }, want => 401);
    ask('keys: Authorization: Bearer', 'GET', '/k/languages', doc_path => '/api/v1/languages',
        headers => { Authorization => "Bearer $key" }, want => 200);
    ask('keys: X-API-Key', 'GET', '/k/languages', doc_path => '/api/v1/languages',
        headers => { 'X-API-Key' => $key }, want => 200);
    (undef, $j) = ask('keys: Piston, no key', 'GET', '/k/v2/runtimes', doc_path => '/api/v2/runtimes', want => 401);
    ok(defined $j->{message} && defined $j->{error}, 'keys: Piston, no key: "message" and "error"');
    ask('keys: Piston, with the key', 'GET', '/k/v2/runtimes', doc_path => '/api/v2/runtimes',
        headers => { 'X-API-Key' => $key }, want => 200);

    # rce_limit: every answer carries RateLimit-Policy and RateLimit, past the quota 429
    (undef, undef, $h) = ask('limit: a request within the quota', 'GET', '/q/languages', doc_path => '/api/v1/languages', want => 200);
    is($h->{'ratelimit-policy'}, '"q35";q=3;w=60, "q35-cpu";q=10;w=3600;rce-unit="cpu-seconds"', 'limit: RateLimit-Policy');
    like($h->{ratelimit} // '', qr/\A"q35";r=2;t=\d+, "q35-cpu";r=10;t=\d+\z/, "limit: RateLimit ($h->{ratelimit})");
    (undef, undef, $h) = ask('limit: a method the route does not take, counted', 'POST', '/q/languages',
        doc_path => '/api/v1/languages', body => { x => 1 }, want => 405);
    like($h->{ratelimit} // '', qr/\A"q35";r=1;/, 'limit: a refusal carries RateLimit too');
    ask('limit: the last request of the quota', 'GET', '/q/languages', doc_path => '/api/v1/languages', want => 200);
    (undef, $j, $h) = ask('limit: past the quota', 'GET', '/q/languages', doc_path => '/api/v1/languages', want => 429);
    like($h->{'retry-after'} // '', qr/\A[1-9][0-9]*\z/, 'limit: 429: Retry-After');
    like($h->{ratelimit} // '', qr/\A"q35";r=0;t=/, 'limit: 429: RateLimit says none is left');
    is($j->{limit}, 'q35', 'limit: 429: the limit is named');
    is($j->{quota}, 3, 'limit: 429: its quota');
    ask('limit: Piston, within the quota', 'GET', '/q/v2/runtimes', doc_path => '/api/v2/runtimes',
        headers => { 'X-API-Key' => $key }, want => 200);
    (undef, $j) = ask('limit: Piston, past the quota', 'GET', '/q/v2/runtimes', doc_path => '/api/v2/runtimes',
        headers => { 'X-API-Key' => $key }, want => 429);
    is($j->{message}, $j->{error}, 'limit: Piston, 429: its "message"');
    (undef, undef, $h) = ask('limit: Piston, no key: 401 before the quota', 'GET', '/q/v2/runtimes',
        doc_path => '/api/v2/runtimes', want => 401);
    ok(!exists $h->{ratelimit}, 'limit: a 401 carries no RateLimit');

    # limit_req's 429, through rce_error
    ask('limit_req: the first request', 'GET', '/r/languages', doc_path => '/api/v1/languages', want => 200);
    (undef, $j, $h) = ask('limit_req: the second', 'GET', '/r/languages', doc_path => '/api/v1/languages', want => 429);
    is($j->{limit}, 'limit_req', 'limit_req: 429: "limit": "limit_req"');
    is($h->{'retry-after'}, '1', 'limit_req: 429: Retry-After: 1');

    # CORS: a preflight on every path, before any key; other OPTIONS are a method the route does
    # not take; every answer to the allowed page carries Access-Control-Allow-Origin
    my %pre = (Origin => $origin, 'Access-Control-Request-Method' => 'POST',
               'Access-Control-Request-Headers' => 'content-type, x-api-key');
    for my $path ('/lang/python', '/api/v1/run', '/api/v1/languages', '/api/v1/openapi.json', '/api/v1/jobs',
                  '/api/v1/jobs/' . ('0' x 32), '/api/v2/runtimes', '/api/v2/execute', '/api/v2/packages',
                  '/api/v2/connect', '/health', '/metrics') {
        (undef, undef, $h) = ask("cors: a preflight of $path", 'OPTIONS', $path, headers => \%pre, want => 204);
        is($h->{'access-control-allow-origin'}, $origin, "cors: $path: Access-Control-Allow-Origin");
    }
    ask('cors: a preflight where keys are on, without a key', 'OPTIONS', '/k/languages', doc_path => '/api/v1/languages',
        headers => \%pre, want => 204);
    ask('cors: OPTIONS without Origin', 'OPTIONS', '/api/v1/run', want => 405);
    ask('cors: OPTIONS from an origin not allowed', 'OPTIONS', '/api/v1/run',
        headers => { %pre, Origin => 'https://elsewhere.example' }, want => 405);
    ask('cors: OPTIONS without a key where keys are on', 'OPTIONS', '/k/languages', doc_path => '/api/v1/languages', want => 401);
    ask('cors: Piston, OPTIONS without Origin', 'OPTIONS', '/api/v2/execute', want => 404);
    (undef, undef, $h) = ask('cors: a request from the allowed page', 'GET', '/api/v1/languages',
        headers => { Origin => $origin }, want => 200);
    is($h->{'access-control-allow-origin'}, $origin, 'cors: Access-Control-Allow-Origin on the answer');
    is($h->{vary}, 'Origin', 'cors: Vary: Origin');
    ask_raw('cors: a WebSocket from a page of another origin', 'GET', '/api/v2/connect',
        "GET /api/v2/connect HTTP/1.1\r\nHost: x\r\nOrigin: https://elsewhere.example\r\nUpgrade: websocket\r\n"
        . "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        want => 403);
}

# --- Piston: /api/v2/runtimes, /api/v2/execute, /api/v2/packages, /api/v2/connect ----------------
{
    ask('piston: runtimes', 'GET', '/api/v2/runtimes', want => 200);
    ask('piston: runtimes, HEAD', 'HEAD', '/api/v2/runtimes', want => 200);
    ask('piston: runtimes, POST', 'POST', '/api/v2/runtimes', body => {}, want => 404);
    ask('piston: runtimes, PUT without a JSON type', 'PUT', '/api/v2/runtimes', body => 'x', want => 415);
    ask('piston: execute', 'POST', '/api/v2/execute',
        body => { language => 'py', version => '3.x', files => [{ name => 'main.py', content => $py_ok }],
                  stdin => 'hello', args => ['a'], run_timeout => 3000, run_memory_limit => -1 }, want => 200);
    ask('piston: execute, text/plain', 'POST', '/api/v2/execute',
        body => $json->encode({ language => 'python', version => '*', files => [{ content => 'raise SystemExit(3)' }] }),
        headers => { 'Content-Type' => 'text/plain;charset=UTF-8' }, want => 200);
    ask('piston: execute, a signal', 'POST', '/api/v2/execute',
        body => { language => 'python', version => '*', files => [{ content => "import os\nos.kill(os.getpid(), 11)" }] }, want => 200);
    SKIP: {
        skip 'no rce/c image', 2 unless $have{c};
        ask('piston: execute C', 'POST', '/api/v2/execute',
            body => { language => 'c', version => '*', files => [{ content => "#include <stdio.h>\nint main(void) { puts(\"hi\"); }\n" }] }, want => 200);
        ask('piston: execute C, a compile error', 'POST', '/api/v2/execute',
            body => { language => 'c', version => '*', files => [{ content => "int main() { return x; }" }] }, want => 200);
    }
    ask('piston: no language', 'POST', '/api/v2/execute', body => { version => '*', files => [] }, want => 400);
    ask('piston: an unknown runtime', 'POST', '/api/v2/execute',
        body => { language => 'klingon', version => '*', files => [{ content => '1' }] }, want => 400);
    ask('piston: a limit over the maximum', 'POST', '/api/v2/execute',
        body => { language => 'python', version => '*', files => [{ content => '1' }], run_timeout => 999999 }, want => 400);
    ask('piston: a subdirectory', 'POST', '/api/v2/execute',
        body => { language => 'python', version => '*', files => [{ content => '1' }, { name => 'a/b.py', content => '1' }] }, want => 400);
    ask('piston: malformed JSON', 'POST', '/api/v2/execute', body => '{"language":',
        headers => { 'Content-Type' => 'application/json' }, want => 400);
    ask('piston: stdin over rce_max_code_size', 'POST', '/api/v2/execute',
        body => { language => 'python', version => '*', files => [{ content => '1' }], stdin => 'x' x (65 * 1024) }, want => 413);
    ask_raw('piston: a Content-Length over the limit', 'POST', '/api/v2/execute',
        "POST /api/v2/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9999999\r\nConnection: close\r\n\r\n{",
        want => 413);
    ask('piston: a body over client_max_body_size (nginx)', 'POST', '/t413/v2/execute',
        body => { language => 'python', version => '*', files => [{ content => '#' x 2048 }] },
        doc_path => '/api/v2/execute', want => 413);
    ask('piston: execute as form data', 'POST', '/api/v2/execute', body => 'language=python',
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' }, want => 415);
    ask('piston: text/plain from a browser', 'POST', '/api/v2/execute', body => '{}',
        headers => { 'Content-Type' => 'text/plain', Origin => 'https://example.org' }, want => 415);
    ask('piston: GET execute', 'GET', '/api/v2/execute', want => 404);

    ask('piston: packages', 'GET', '/api/v2/packages', want => 200);
    ask('piston: install a package', 'POST', '/api/v2/packages', body => { language => 'python', version => '3.11.2' }, want => 501);
    ask('piston: remove a package', 'DELETE', '/api/v2/packages', body => { language => 'python', version => '3.11.2' }, want => 501);
    ask('piston: install, no type', 'POST', '/api/v2/packages', body => 'x', want => 415);

    # the WebSocket: 426 for a client that is no WebSocket client, 400 for a bad upgrade, 101
    # (then, sent nothing, the close 4001 after 1 s)
    ask('piston: connect without an upgrade', 'GET', '/api/v2/connect', want => 426);
    ask_raw('piston: connect, a bad upgrade', 'GET', '/api/v2/connect',
        "GET /api/v2/connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        want => 400);
    ask_raw('piston: connect, a WebSocket upgrade', 'GET', '/api/v2/connect',
        "GET /api/v2/connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        raw => { whole => 0, timeout => 3 }, want => 101);
    ask('piston: connect, POST', 'POST', '/api/v2/connect', body => {}, want => 404);
}

# --- asynchronous jobs -------------------------------------------------------------------------
{
    my (undef, $one, $h) = ask('jobs: submit one', 'POST', '/api/v1/jobs', body => { language => 'python', code => $py_ok }, want => 202);
    is($h->{location}, "/api/v1/jobs/$one->{id}", 'jobs: Location');
    my (undef, $batch) = ask('jobs: a batch, one entry refused', 'POST', '/api/v1/jobs',
        body => { jobs => [{ language => 'python', code => 'print(1)', priority => 'normal' },
                           { language => 'klingon', code => '1' }, { language => 'python', code => '1', stdn => 1 }] }, want => 202);
    ask("jobs: GET with wait", 'GET', "/api/v1/jobs/$one->{id}?wait=30", want => 200);
    ask("jobs: HEAD", 'HEAD', "/api/v1/jobs/$one->{id}", want => 200);
    ask('jobs: GET ?ids=', 'GET', "/api/v1/jobs?ids=$one->{id},$batch->{jobs}[0]{id}," . ('0' x 32) . ',nothex', want => 200);
    ask('jobs: GET without ids', 'GET', '/api/v1/jobs', want => 400);
    ask('jobs: GET ?ids= empty', 'GET', '/api/v1/jobs?ids=', want => 400);
    ask('jobs: GET ?ids= over rce_max_batch', 'GET', '/api/v1/jobs?ids=' . join(',', ('0' x 32) x 101), want => 400);
    ask('jobs: wait that is not a number', 'GET', "/api/v1/jobs/$one->{id}?wait=soon", want => 400);
    ask('jobs: an unknown id', 'GET', '/api/v1/jobs/' . ('0' x 32), want => 404);
    ask('jobs: an id that is no id', 'GET', '/api/v1/jobs/xyz', want => 404);
    ask('jobs: DELETE an unknown id', 'DELETE', '/api/v1/jobs/' . ('0' x 32), want => 404);
    ask('jobs: DELETE a finished job', 'DELETE', "/api/v1/jobs/$one->{id}", want => 200);
    ask('jobs: DELETE the collection', 'DELETE', '/api/v1/jobs', want => 405);
    ask('jobs: POST to a job', 'POST', "/api/v1/jobs/$one->{id}", body => {}, want => 405);
    ask('jobs: PUT', 'PUT', '/api/v1/jobs', body => {}, want => 405);
    ask('jobs: invalid JSON', 'POST', '/api/v1/jobs', body => '[', headers => { 'Content-Type' => 'application/json' }, want => 400);
    ask('jobs: a batch with more', 'POST', '/api/v1/jobs', body => { jobs => [], x => 1 }, want => 400);
    ask('jobs: an empty batch', 'POST', '/api/v1/jobs', body => { jobs => [] }, want => 400);
    ask('jobs: callback_url, callbacks off', 'POST', '/api/v1/jobs',
        body => { language => 'python', code => '1', callback_url => 'https://hooks.example.com/rce' }, want => 400);
    ask('jobs: unknown language', 'POST', '/api/v1/jobs', body => { language => 'klingon', code => '1' }, want => 404);
    ask('jobs: stdin over rce_max_code_size', 'POST', '/api/v1/jobs', body => { language => 'python', code => '1', stdin => 'x' x (65 * 1024) }, want => 413);
    ask_raw('jobs: HTTP/2.0 (nginx)', 'GET', '/api/v1/jobs', "GET /api/v1/jobs?ids=1 HTTP/2.0\r\nHost: x\r\n\r\n", want => 505);

    # a job that runs 4.5 s holds the node's one slot: what comes now waits in the queue
    my (undef, $blocker) = ask('jobs: a job that runs for a while', 'POST', '/api/v1/jobs',
        body => { language => 'python', code => "import time\nprint('started', flush=True)\ntime.sleep(4.5)", priority => 'interactive' }, want => 202);
    ok(wait_until(sub { (($t->call('GET', "/api/v1/jobs/$blocker->{id}"))[1]->{status} // '') eq 'running' }, 20), 'jobs: it runs');
    my (undef, $queued) = ask('jobs: a job behind it', 'POST', '/api/v1/jobs', body => { language => 'python', code => '1', priority => 'normal' }, want => 202);
    ask('jobs: GET a running job', 'GET', "/api/v1/jobs/$blocker->{id}", want => 200);
    ask('jobs: GET a queued job, a second of wait', 'GET', "/api/v1/jobs/$queued->{id}?wait=1", want => 200);
    ask('jobs: GET ?ids= queued and running', 'GET', "/api/v1/jobs?ids=$queued->{id},$blocker->{id}", want => 200);
    my (undef, $cancelled) = ask('jobs: DELETE a queued job', 'DELETE', "/api/v1/jobs/$queued->{id}", want => 200);
    is($cancelled->{status}, 'CANCELLED', 'jobs: it is CANCELLED');

    # the deadline passes while they wait in the queue: 504, and they never run
    my @late = (['lang: no result before rce_timeout', '/t504/lang/python', '/lang/python', 'print(1)', {}],
                ['run: no result before rce_timeout', '/t504/run', '/api/v1/run',
                 $json->encode({ language => 'python', code => 'print(1)' }), { 'Content-Type' => 'application/json' }],
                ['piston: no result before rce_timeout', '/t504/v2/execute', '/api/v2/execute',
                 $json->encode({ language => 'python', version => '*', files => [{ content => 'print(1)' }] }),
                 { 'Content-Type' => 'application/json' }]);
    my @kids;
    for my $i (0 .. $#late) {
        my ($name, $path, $doc_path, $body, $headers) = @{ $late[$i] };
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $res = HTTP::Tiny->new(timeout => 30)->request('POST', $t->url($path), { content => $body, headers => $headers });
            open my $out, '>', $t->dir . "/late-$i.json" or POSIX::_exit(1);
            print $out $json->encode({ status => $res->{status}, headers => $res->{headers}, content => $res->{content} });
            close $out;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    waitpid $_, 0 for @kids;
    for my $i (0 .. $#late) {
        my ($name, $path, $doc_path) = @{ $late[$i] };
        open my $in, '<', $t->dir . "/late-$i.json" or do { fail("$name: no answer"); next };
        my $res = $json->decode(do { local $/; <$in> });
        record($name, 'POST', $path, $res->{status}, $res->{headers}, $res->{content}, doc_path => $doc_path, want => 504);
    }

    my (undef, $stopped) = ask('jobs: DELETE a running job', 'DELETE', "/api/v1/jobs/$blocker->{id}");
    ok($stopped->{status} && ($stopped->{status} eq 'CANCELLED' || $stopped->{status} eq 'running'),
       "jobs: a running job is CANCELLED (or still being stopped: 202): $stopped->{status}");
    ok(wait_until(sub { (($t->call('GET', "/api/v1/jobs/$blocker->{id}"))[1]->{status} // '') eq 'CANCELLED' }, 20), 'jobs: it ends CANCELLED');
    ask('jobs: GET a cancelled job', 'GET', "/api/v1/jobs/$blocker->{id}", want => 200);

    # --- no live node: 503 with Retry-After everywhere a job would go ---------------------------
    $t->stop_worker('a');
    ok(wait_until(sub { $t->{http}->get($t->url('/health'))->{status} == 503 }, 15), '/health is 503 with no live node');
    sleep 1;    # both nginx workers have read the node list since
    ask('health: no live node', 'GET', '/health', want => 503);
    ask('lang: no live node', 'POST', '/lang/python', body => 'print(1)', want => 503);
    ask('run: no live node', 'POST', '/api/v1/run', body => { language => 'python', code => '1' }, want => 503);
    ask('jobs: POST, no live node', 'POST', '/api/v1/jobs', body => { language => 'python', code => '1' }, want => 503);
    ask('jobs: GET still answers without a node', 'GET', "/api/v1/jobs/$one->{id}", want => 200);
    ask('piston: connect, no live node', 'GET', '/api/v2/connect', want => 503);
    ask('piston: execute, no live node', 'POST', '/api/v2/execute',
        body => { language => 'python', version => '*', files => [{ content => '1' }] }, want => 503);
    ask('languages: no live node', 'GET', '/api/v1/languages', want => 200);
    ask('piston: runtimes, no live node', 'GET', '/api/v2/runtimes', want => 200);
}
close $answers;

# --- every answer against the document ------------------------------------------------------------
{
    my $out = `node '$js/openapi-check.mjs' '$doc_file' '$answers_file' 2>&1`;
    my $rc = $? >> 8;
    my $lines = 0;
    for my $line (split /\n/, $out) {
        if ($line =~ /^ok (.*)$/) {
            pass("openapi: $1");
            $lines++;
        } elsif ($line =~ /^not ok ([^\t]*)\t(.*)$/s) {
            fail("openapi: $1");
            diag $2;
            $lines++;
        } else {
            diag $line;
        }
    }
    ok($lines > 100, "openapi-check.mjs checked every answer ($lines lines)");
    is($rc, 0, 'openapi-check.mjs: every answer is as the document says') or diag $out;
}

ok(wait_until(sub { !$t->containers }, 20), 'no container left');
$t->stop_all;
done_testing;
