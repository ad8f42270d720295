#!/usr/bin/perl
# Streaming, end to end against real workerd and Docker: POST /api/v1/run with
# Accept: text/event-stream (Server-Sent Events, read with curl -N as it comes) and
# Piston's WebSocket, GET /api/v2/connect (a real client: node and npm's ws, t/js/ws-client.mjs):
# events before the program ends, a compiled language's stages, CE, bytes that are not
# UTF-8 (U+FFFD on the WebSocket, base64 when asked), interactive stdin and its eof, a
# signal, every close code, input bounded (stdin, and every entry counted), a compile step
# killed by its limit, a client that goes mid-run (its container is killed, no rce:input:*
# key is left), a flood (OLE, output bounded), a client that reads nothing (closed, its job
# killed), bad upgrade requests, and malformed frames and messages (never a crash).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 qw(encode_base64 decode_base64);
use Encode qw(decode FB_CROAK);
use Time::HiRes qw(time sleep);
use Socket qw(SOL_SOCKET SO_RCVBUF pack_sockaddr_in inet_aton);
use IO::Socket::INET;
use RCETest qw(wait_until);

my $js = "$FindBin::Bin/js";
plan skip_all => 'no node or no t/js/node_modules/ws (./deploy.sh test runs npm ci --prefix t/js)'
    unless -d "$js/node_modules/ws" && system('node --version >/dev/null 2>&1') == 0;
plan skip_all => 'no curl' unless system('curl --version >/dev/null 2>&1') == 0;

my $t = RCETest->new;
$t->start_redis;
# /big/: large code and stdin, a large output cap (a client that reads nothing)
# and a small rce_stream_buffer (a client that reads nothing)
$t->start_nginx(extra => 'location /big/api/v2/ { rce_api_piston; rce_wall_limit 8s; rce_timeout 40s; '
                       . 'rce_max_code_size 2m; rce_output_limit 16m; rce_stream_buffer 512k; } '
                       . 'location = /big/api/v1/run { rce_api_run; rce_wall_limit 8s; rce_timeout 40s; '
                       . 'rce_output_limit 16m; rce_stream_buffer 512k; }');
$t->start_worker('a', '--slots', '4', '--max-output-bytes', 16777216);
ok($t->wait_nodes('a'), 'node a is live');

my $json = JSON::PP->new->utf8->canonical;

# rce:input:<id> keys left, with what they hold, how long they live on, and
# what the gateway and the node logged of their jobs.  A kill pushed as its
# job ends (or for a job the node refused) stays until it expires:
# RCE_INPUT_KILL_TTL_MS (10 s), hence the waits of 15 s for none to be left.
sub input_keys {
    for my $key (split /\n/, $t->redis('--scan', '--pattern', 'rce:input:*')) {
        my ($id) = $key =~ /^rce:input:(.*)$/;
        diag "$key: " . $t->redis('LRANGE', $key, 0, -1) . ', PTTL ' . $t->redis('PTTL', $key);
        diag join "\n", grep { /\Q$id\E/ } split /\n/, $t->nginx_log . $t->worker_log('a');
    }
}
my $ws_url = 'ws://127.0.0.1:' . $t->{http_port} . '/api/v2/connect';

# --- helpers ------------------------------------------------------------------------------

# POST /api/v1/run as Server-Sent Events through curl -N; each event with the time it came
# ({event, data (decoded), raw, t}), and the response's status and headers
sub sse {
    my ($req, %opt) = @_;
    my $dir = $t->dir;
    my $body = "$dir/sse-body.json";
    open my $fh, '>', $body or die; print $fh (ref $req ? $json->encode($req) : $req); close $fh;
    my $t0 = time;
    my $pid = open(my $curl, '-|', 'curl', '-sN', '-D', "$dir/sse-head", '-X', 'POST',
                   '-H', 'Accept: text/event-stream', '-H', 'Content-Type: application/json',
                   '--data-binary', "\@$body", '--max-time', $opt{max_time} // 40,
                   $t->url('/api/v1/run')) or die "curl: $!";
    binmode $curl;
    my (@events, %ev, $all);
    while (my $line = <$curl>) {
        $all .= $line;
        if ($line =~ /^event: (.*)\n/) { %ev = (event => $1) }
        elsif ($line =~ /^data: (.*)\n/) { $ev{raw} = $1; $ev{data} = $t->json($1); $ev{t} = time - $t0 }
        elsif ($line eq "\n" && %ev) {
            push @events, {%ev}; %ev = ();
            if ($opt{on_event} && $opt{on_event}->($events[-1])) { kill 'TERM', $pid; last }
        }
    }
    close $curl;
    my $head = $t->slurp("$dir/sse-head");
    my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
    my %h = map { /^([^:]+):\s*(.*?)\r?$/ ? (lc $1 => $2) : () } split /\n/, $head;
    return { status => $status // 0, headers => \%h, events => \@events, text => $all // '' };
}

sub types { join ' ', map { $_->{event} } @{ $_[0] } }

# a WebSocket session through t/js/ws-client.mjs: what it saw, in order
sub ws {
    my ($steps, $limit, $url) = @_;
    my $file = $t->dir . '/ws-steps.json';
    open my $fh, '>', $file or die; print $fh $json->encode($steps); close $fh;
    $url //= $ws_url;
    my @out = map { $t->json($_) // { unparsed => $_ } }
              split /\n/, `node '$js/ws-client.mjs' '$url' '\@$file' ${\ ($limit // 30000)} 2>&1`;
    return \@out;
}
my $big_url = 'ws://127.0.0.1:' . $t->{http_port} . '/big/api/v2/connect';

# a WebSocket that sends init over a raw socket (a small receive buffer) and reads nothing
sub ws_unread {
    my ($path, $init) = @_;
    my $s = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096);
    connect($s, pack_sockaddr_in($t->{http_port}, inet_aton('127.0.0.1'))) or die "connect: $!";
    my $key = encode_base64('0123456789abcdef', '');
    syswrite $s, "GET $path HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               . "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: $key\r\n\r\n";
    my $head = '';
    while ($head !~ /\r\n\r\n/) { sysread($s, my $b, 1) or last; $head .= $b }
    my $payload = $json->encode($init);
    my $len = length $payload;
    my $mask = 'abcd';
    my $frame = "\x81" . ($len < 126 ? chr(0x80 | $len) : chr(0x80 | 126) . pack('n', $len)) . $mask
              . ($payload ^ substr($mask x ($len / 4 + 1), 0, $len));
    syswrite $s, $frame;
    return ($s, $head);
}

sub msgs { [ map { ref $_->{msg} && %{ $_->{msg} } ? $_->{msg} : () } @{ $_[0] } ] }
sub closed { my ($c) = grep { exists $_->{close} } @{ $_[0] }; $c }
sub mtypes { join ' ', map { $_->{type} // '?' } @{ msgs($_[0]) } }
sub out_of { join '', map { $_->{data} } grep { ($_->{type} // '') eq 'data' && ($_->{stream} // '') eq $_[1] } @{ msgs($_[0]) } }

sub init { +{ type => 'init', language => 'python', version => '*', files => [{ content => $_[0] }], @_[1 .. $#_] } }

my $cancelled = sub { scalar(() = $t->worker_log('a') =~ /CANCELLED/g) };

# the container of the last job the node cancelled is gone (not even stopped)
sub cancelled_container_gone {
    my @ids = $t->worker_log('a') =~ /CANCELLED.*? container ([0-9a-f]{12})/g;
    return 0 unless @ids;
    return `docker ps -aq --filter id=$ids[-1]` eq '';
}

# --- SSE: events as they come --------------------------------------------------------------
{
    my $r = sse({ language => 'python',
                  code => "import time\nprint('one', flush=True)\ntime.sleep(1)\nprint('two', flush=True)\n" });
    is($r->{status}, 200, 'SSE: 200');
    like($r->{headers}{'content-type'}, qr{^text/event-stream}, 'SSE: Content-Type text/event-stream');
    is($r->{headers}{'cache-control'}, 'no-cache', 'SSE: Cache-Control no-cache');
    is($r->{headers}{'x-accel-buffering'}, 'no', 'SSE: X-Accel-Buffering no');
    is($r->{headers}{'transfer-encoding'}, 'chunked', 'SSE: chunked');
    my @e = @{ $r->{events} };
    like(types(\@e), qr/^runtime stage (data ){2,}exit result$/, 'SSE: runtime, stage, data..., exit, result')
        or diag $r->{text};
    is($e[0]{data}{language}, 'python', 'runtime: the language');
    like($e[0]{data}{version}, qr/^\d+\.\d+/, 'runtime: its version');
    is($e[1]{data}{stage}, 'run', 'stage run');
    my @data = grep { $_->{event} eq 'data' } @e;
    is(join('', map { $_->{data}{data} } @data), "one\ntwo\n", 'data: what the program wrote, in order');
    is($data[0]{data}{stream}, 'stdout', 'data: stdout');
    my ($exit_ev) = grep { $_->{event} eq 'exit' } @e;
    cmp_ok($exit_ev->{t} - $data[0]{t}, '>', 0.7, sprintf('the first output came %.2f s before the end', $exit_ev->{t} - $data[0]{t}));
    my $exit = $exit_ev->{data};
    is($exit->{type}, 'exit', 'exit');
    is($exit->{stage}, 'run', 'exit: stage run');
    is($exit->{code}, 0, 'exit: code 0');
    is($exit->{signal}, undef, 'exit: signal null');
    is($exit->{verdict}, 'OK', 'exit: our verdict');
    ok($exit->{limits}{wall_ms} && $exit->{limits}{output_bytes}, 'exit: the limits');
    ok(defined $exit->{wall_time} && defined $exit->{cpu_time} && $exit->{memory}, 'exit: the figures');
    my $res = $e[-1]{data};
    is($res->{status}, 'OK', 'result: the v1 document');
    is($res->{run}{stdout}, "one\ntwo\n", 'result: the whole stdout');
}

# --- SSE: a compiled language's stages, and its compile error ------------------------------
{
    my $r = sse({ language => 'c', code => "#include <stdio.h>\nint main(void) { puts(\"hi from c\"); return 3; }\n" });
    my @e = @{ $r->{events} };
    like(types(\@e), qr/^runtime stage exit stage (data )+exit result$/, 'C: stage compile, its exit, stage run, data, exit')
        or diag $r->{text};
    is($e[1]{data}{stage}, 'compile', 'the compile stage first');
    is_deeply([ @{ $e[2]{data} }{qw(stage code)} ], ['compile', 0], 'the compile step exits 0');
    is($e[3]{data}{stage}, 'run', 'then the run');
    is(join('', map { $_->{data}{data} } grep { $_->{event} eq 'data' } @e), "hi from c\n", 'its output');
    is_deeply([ @{ $e[-2]{data} }{qw(stage code verdict status)} ], ['run', 3, 'RE', 'RE'], 'exit: code 3, RE');

    $r = sse({ language => 'c', code => "int main(void) { return oops; }\n" });
    @e = @{ $r->{events} };
    is($e[1]{data}{stage}, 'compile', 'CE: the compile stage');
    ok(!(grep { $_->{event} eq 'stage' && $_->{data}{stage} eq 'run' } @e), 'CE: no run stage');
    my $err = join '', map { $_->{data}{data} } grep { $_->{event} eq 'data' && $_->{data}{stream} eq 'stderr' } @e;
    like($err, qr/oops/, "CE: the compiler's message, on stderr, as it came") or diag $r->{text};
    my ($exit) = grep { $_->{event} eq 'exit' } @e;
    is_deeply([ @{ $exit->{data} }{qw(stage verdict)} ], ['compile', 'CE'], 'CE: exit of the compile stage, verdict CE');
    is($e[-1]{event}, 'result', 'CE: the result last');
    is($e[-1]{data}{status}, 'CE', 'CE: the result says CE');
}

# --- SSE: bytes that are not UTF-8 --------------------------------------------------------
{
    my $r = sse({ language => 'python',
                  code => "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe ok\\n')\nsys.stdout.flush()\n" });
    my @data = grep { $_->{event} eq 'data' } @{ $r->{events} };
    is(scalar(grep { ($_->{data}{encoding} // '') eq 'base64' } @data), scalar(@data), 'not UTF-8: base64, said so')
        or diag $r->{text};
    is(join('', map { decode_base64($_->{data}{data}) } @data), "\xff\xfe ok\n", 'not UTF-8: the exact bytes');
    ok(eval { decode('UTF-8', $r->{text}, FB_CROAK); 1 }, 'the stream itself is valid UTF-8');
}

# --- WebSocket: bytes that are not UTF-8 ------------------------------------------------
{
    my $code = "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe ok \\xc3\\xa9\\n')\nsys.stdout.flush()\n";
    my $o = ws([{ send => init($code) }]);
    my @data = grep { $_->{type} eq 'data' } @{ msgs($o) };
    ok(@data && !(grep { exists $_->{encoding} } @data), 'WS, not UTF-8: text, no encoding (as Piston sends it)')
        or diag explain $o;
    is(out_of($o, 'stdout'), "\x{fffd}\x{fffd} ok \x{e9}\n", 'WS, not UTF-8: U+FFFD for each byte that is not UTF-8');

    $o = ws([{ send => init($code, output_encoding => 'base64') }]);
    @data = grep { $_->{type} eq 'data' } @{ msgs($o) };
    is(scalar(grep { ($_->{encoding} // '') eq 'base64' } @data), scalar(@data), 'WS, output_encoding base64: base64, said so')
        or diag explain $o;
    is(join('', map { decode_base64($_->{data}) } @data), "\xff\xfe ok \xc3\xa9\n", 'WS, output_encoding base64: the exact bytes');
    is(closed($o)->{close}, 4999, 'WS, output_encoding base64: 4999');

    $o = ws([{ send => init('print(1)', output_encoding => 'hex') }]);
    like(msgs($o)->[0]{message} // '', qr/output_encoding/, 'WS, output_encoding hex: an error naming it');
    is(closed($o)->{close}, 4002, 'WS, output_encoding hex: 4002');
}

# --- SSE: errors before the stream are the usual JSON errors ------------------------------
{
    my $r = sse({ language => 'nosuch', code => 'x' });
    is($r->{status}, 404, 'SSE, unknown language: 404');
    like($r->{headers}{'content-type'}, qr{^application/json}, 'SSE, unknown language: JSON');
    $r = sse('{"language":');
    is($r->{status}, 400, 'SSE, malformed JSON: 400');
    $r = sse({ language => 'python', code => 'x', stdin => 5 });
    is($r->{status}, 400, 'SSE, stdin not a string: 400');
}

# --- SSE: a client that goes mid-run ---------------------------------------------------------
{
    my $before = $cancelled->();
    my $r = sse({ language => 'python', code => "import time\nprint('started', flush=True)\ntime.sleep(30)\n" },
                on_event => sub { $_[0]{event} eq 'data' });
    my $left = time;        # (timed from here: the client's start and the container's are not the gateway's)
    ok((grep { $_->{event} eq 'data' } @{ $r->{events} }), 'SSE: the client saw output, then left');
    ok(wait_until(sub { $cancelled->() > $before }, 10), 'SSE: the node cancelled the job (kill through rce:input)');
    cmp_ok(time - $left, '<', 4, 'SSE: within 4 s of the client leaving, not at its 5 s wall limit');
    ok(wait_until(\&cancelled_container_gone, 10), 'SSE: its container is gone') or diag $t->worker_log('a');
    ok(wait_until(sub { $t->redis('--scan', '--pattern', 'rce:input:*') eq '' }, 15), 'SSE: no rce:input:* key left') or input_keys();
}

# --- WebSocket: a run ---------------------------------------------------------------------
{
    my $o = ws([{ send => init("import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n") }]);
    like(mtypes($o), qr/^runtime stage (data )+exit$/, 'WS: runtime, stage, data..., exit')
        or diag explain $o;
    my $m = msgs($o);
    is_deeply([ @{ $m->[0] }{qw(type language)} ], ['runtime', 'python'], 'runtime: python');
    like($m->[0]{version}, qr/^\d+\.\d+/, 'runtime: its version');
    is(out_of($o, 'stdout'), "hello\n", 'stdout');
    is(out_of($o, 'stderr'), "oops\n", 'stderr');
    is_deeply([ @{ $m->[-1] }{qw(type stage code signal verdict)} ], ['exit', 'run', 0, undef, 'OK'], 'exit: run, 0, no signal, OK');
    ok($m->[-1]{limits}{wall_ms}, 'exit: the limits');
    is(closed($o)->{close}, 4999, 'close 4999 once the job completed');
    is(closed($o)->{reason}, 'Job Completed', "with Piston's reason");
}

# --- WebSocket: interactive stdin, and eof -------------------------------------------------
{
    my $o = ws([{ send => init("import sys\nprint('name?', flush=True)\nl = sys.stdin.readline()\n"
                               . "print('hi', l.strip(), flush=True)\nprint('rest', repr(sys.stdin.read()), flush=True)\n") },
                { wait => { type => 'data', data => 'name?' } },
                { sleep => 300 },
                { send => { type => 'data', stream => 'stdin', data => "bob\n" } },
                { wait => { type => 'data', data => 'hi' } },
                { send => { type => 'data', stream => 'stdin', data => 'last' } },
                { send => { type => 'data', stream => 'stdin', data => '', eof => JSON::PP::true } }]);
    my $stdout = out_of($o, 'stdout');
    is($stdout, "name?\nhi bob\nrest 'last'\n", 'interactive: a line typed after the first output; eof ends stdin')
        or diag explain $o;
    my ($asked) = grep { ($_->{msg}{data} // '') =~ /name\?/ } @$o;
    my ($answered) = grep { ($_->{msg}{data} // '') =~ /hi bob/ } @$o;
    cmp_ok($answered->{t} - $asked->{t}, '>=', 250, 'the answer came after the line was typed') if $asked && $answered;
    is(msgs($o)->[-1]{verdict}, 'OK', 'interactive: OK') or diag explain $o;
    is(closed($o)->{close}, 4999, 'interactive: 4999');

    # init's stdin is the first input; the program waits for more until eof
    $o = ws([{ send => init("import sys\nprint(repr(sys.stdin.read()))\n", stdin => "first\n") },
             { sleep => 300 },
             { send => { type => 'data', stream => 'stdin', data => "second\n", eof => JSON::PP::true } }]);
    is(out_of($o, 'stdout'), "'first\\nsecond\\n'\n", "init's stdin first, then data, then eof");
}

# --- WebSocket: a signal ------------------------------------------------------------------
{
    my $o = ws([{ send => init("import signal, sys, time\n"
                               . "def h(n, f):\n    print('caught', n, flush=True)\n    sys.exit(0)\n"
                               . "signal.signal(signal.SIGINT, h)\nprint('ready', flush=True)\ntime.sleep(20)\n") },
                { wait => { type => 'data', data => 'ready' } },
                { send => { type => 'signal', signal => 'SIGINT' } }]);
    like(out_of($o, 'stdout'), qr/caught 2\n/, 'SIGINT reached the program, which caught it') or diag explain $o;
    is(msgs($o)->[-1]{code}, 0, 'it exited 0');
    is(closed($o)->{close}, 4999, 'then 4999');
}

# --- WebSocket: a compiled language ----------------------------------------------------------
{
    my $o = ws([{ send => { type => 'init', language => 'c', version => '*',
                            files => [{ name => 'main.c', content => "#include <stdio.h>\nint main(void) { puts(\"c ok\"); return 0; }\n" }] } }]);
    like(mtypes($o), qr/^runtime stage exit stage (data )+exit$/, 'C over WS: stage compile, exit, stage run, data, exit')
        or diag explain $o;
}

# --- WebSocket: a compile step killed by its time limit ---------------------------------------
{
    # an include bomb: 2^30 includes of itself, little memory, never done
    my $bomb = "#if __INCLUDE_LEVEL__ == 0\nint main(void) { return 0; }\n#endif\n"
             . "#if __INCLUDE_LEVEL__ < 30\n#include __FILE__\n#include __FILE__\n#endif\n";
    my $o = ws([{ send => { type => 'init', language => 'c', version => '*', compile_timeout => 500,
                            files => [{ name => 'main.c', content => $bomb }] } }]);
    like(mtypes($o), qr/^runtime stage exit$/, 'compile killed: runtime, stage compile, exit (no run stage)')
        or diag explain $o;
    my $exit = msgs($o)->[-1];
    is_deeply([ @{ $exit }{qw(type stage signal code status)} ], ['exit', 'compile', 'SIGKILL', undef, 'TO'],
              'exit: the compile stage, SIGKILL, no code, TO') or diag explain $exit;
    like($exit->{reason} // '', qr/compile/, 'exit: the reason names the compile step');
    is(closed($o)->{close}, 4999, 'compile killed: 4999');
}

# --- WebSocket: every close code ---------------------------------------------------------------
{
    my $o = ws([{ send => init("import time\ntime.sleep(3)\n") }, { sleep => 200 }, { send => init('print(1)') }]);
    is(closed($o)->{close}, 4000, '4000: a second init');
    is(closed($o)->{reason}, 'Already Initialized', "4000: Piston's reason");

    my $t0 = time;
    $o = ws([]);
    is(closed($o)->{close}, 4001, '4001: no init');
    my $after = closed($o)->{t};
    ok($after >= 900 && $after < 3000, "4001: after Piston's 1 s ($after ms)");

    $o = ws([{ raw => '{"type":' }]);
    is(mtypes($o), 'error', '4002: a message that is not JSON is told as an error');
    is(closed($o)->{close}, 4002, '4002: then closed');
    ok(length(msgs($o)->[0]{message} // '') > 0, '4002: the error has a message');

    $o = ws([{ send => { type => 'init', language => 'nosuch', version => '*', files => [{ content => 'x' }] } }]);
    is(msgs($o)->[0]{message}, 'nosuch-* runtime is unknown', "4002: an init refused in Piston's words");
    is(closed($o)->{close}, 4002, '4002: closed');

    $o = ws([{ send => { type => 'init', language => 'python', version => '*' } }]);
    is(msgs($o)->[0]{message}, 'files is required as an array', '4002: init checked as execute is');

    $o = ws([{ send => { type => 'data', stream => 'stdin', data => 'x' } }]);
    is(closed($o)->{close}, 4003, '4003: data before init');
    is(closed($o)->{reason}, 'Not yet initialized', "4003: Piston's reason");
    $o = ws([{ send => { type => 'signal', signal => 'SIGINT' } }]);
    is(closed($o)->{close}, 4003, '4003: a signal before init');

    $o = ws([{ send => init("import time\ntime.sleep(3)\n") },
             { send => { type => 'data', stream => 'stdout', data => 'x' } }]);
    is(closed($o)->{close}, 4004, '4004: writing stdout');

    $o = ws([{ send => init("import time\ntime.sleep(3)\n") }, { send => { type => 'signal', signal => 'SIGFOO' } }]);
    is(closed($o)->{close}, 4005, '4005: not a signal');
    $o = ws([{ send => init("import time\ntime.sleep(3)\n") }, { send => { type => 'signal', signal => 9 } }]);
    is(closed($o)->{close}, 4005, '4005: a number is not a name');

    $o = ws([{ send => { type => 'hello' } }, { send => init('print(5)') }]);
    is(closed($o)->{close}, 4999, 'a message of another type is ignored, as Piston ignores it; 4999');
    is(out_of($o, 'stdout'), "5\n", 'and the job ran');
}

# --- WebSocket: stdin past RCE_INPUT_MAX_BYTES ---------------------------------------------
{
    my $chunk = 'y' x (120 * 1024);
    my $o = ws([{ send => init("import time\nprint('ready', flush=True)\ntime.sleep(4)\n") },
                { wait => { type => 'data', data => 'ready' } },
                map({ +{ send => { type => 'data', stream => 'stdin', data => $chunk } } } 1 .. 9)]);
    my ($err) = grep { $_->{type} eq 'error' } @{ msgs($o) };
    like($err->{message} // '', qr/input is limited to 1048576 bytes/, 'more stdin than 1 MiB: an error')
        or diag explain [grep { !$_->{msg} || $_->{msg}{type} ne 'data' } @$o];
    is(closed($o)->{close}, 4002, 'and 4002');

    # init's stdin counts too: over the limit, refused before the job
    $o = ws([{ send => init("print(1)\n", stdin => 'z' x (1048576 + 1)) }], 30000, $big_url);
    like(msgs($o)->[0]{message} // '', qr/input is limited to 1048576 bytes/, "init's stdin over 1 MiB: an error")
        or diag explain $o;
    is(closed($o)->{close}, 4002, "init's stdin over 1 MiB: 4002");
    ok(!(grep { $_->{type} eq 'runtime' } @{ msgs($o) }), "init's stdin over 1 MiB: no job");
    # more stdin than a command line holds: the node feeds the job on stdin
    my $res = $t->post('/big/api/v2/execute', $json->encode({ %{ init("import sys\nprint(len(sys.stdin.read()))\n") },
                                                               stdin => ('z' x 99999) . "\n" }),
                       'Content-Type' => 'application/json');
    my $big = $t->json($res->{content}) // {};
    is($big->{run}{stdout}, "100000\n", 'stdin of 100000 bytes (over the 90 KiB a command line holds): read whole')
        or diag $res->{content};
    # ... and so is an interactive one's, then what comes live
    $o = ws([{ send => init("import sys\nd = sys.stdin.read()\nprint(len(d), d[-5:].strip())\n", stdin => 'y' x 200000) },
             { send => { type => 'data', stream => 'stdin', data => "more\n", eof => JSON::PP::true } }], 30000, $big_url);
    is(out_of($o, 'stdout'), "200005 more\n", "init's stdin of 200000 bytes, then live stdin: all read") or diag explain $o;
    is(closed($o)->{close}, 4999, '... 4999');
    $o = ws([{ send => init("import sys\nprint(len(sys.stdin.read()))\n", stdin => 'z' x 1048576) },
             { send => { type => 'data', stream => 'stdin', data => '', eof => JSON::PP::true } }], 30000, $big_url);
    is(closed($o)->{close}, 4002, "init's stdin of 1 MiB exactly, then an eof: the eof is past the limit")
        or diag explain $o;

    # every entry counts 64 bytes at least: a loop of tiny messages ends
    $o = ws([{ send => init("import time\nprint('ready', flush=True)\ntime.sleep(20)\n") },
             { wait => { type => 'data', data => 'ready' } },
             map({ +{ send => { type => 'data', stream => 'stdin', data => '', eof => JSON::PP::true } } } 1 .. 16400)],
            60000);
    ($err) = grep { $_->{type} eq 'error' } @{ msgs($o) };
    like($err->{message} // '', qr/input is limited to 1048576 bytes.*at least 64 bytes/,
         '16400 eof messages: an error past 16384 entries') or diag explain [grep { !$_->{msg} } @$o];
    is(closed($o)->{close}, 4002, '16400 eof messages: 4002');
}

# --- WebSocket: stdin with a NUL, and JSON that is not an object -----------------------------
{
    my $o = ws([{ send => init("import sys\nprint(repr(sys.stdin.read()))\n") },
                { raw => '{"type":"data","stream":"stdin","data":"a\u0000b\n","eof":true}' }]);
    is(out_of($o, 'stdout'), "'a\\x00b\\n'\n", 'stdin with a NUL reaches the program whole') or diag explain $o;
    is(closed($o)->{close}, 4999, 'stdin with a NUL: 4999');

    $o = ws([{ raw => '{"type":"init","language":"python","version":"*","files":[{"content":"print(1)\u0000"}]}' }]);
    is(closed($o)->{close}, 4002, 'a NUL in init: 4002') or diag explain $o;
    like(msgs($o)->[0]{message} // '', qr{u0000 is allowed only in a data message}, 'a NUL in init: an error that says why');

    $o = ws([{ raw => '[1, 2]' }, { raw => '5' }, { raw => '"init"' }, { raw => 'true' }, { send => init('print(8)') }]);
    is(out_of($o, 'stdout'), "8\n", 'an array, a number, a string, true: ignored, as Piston ignores them')
        or diag explain $o;
    is(closed($o)->{close}, 4999, 'then the job ran: 4999');
}

# --- WebSocket: a client that goes mid-run -------------------------------------------------------
{
    my $before = $cancelled->();
    my $o = ws([{ send => init("import time\nprint('started', flush=True)\ntime.sleep(30)\n") },
                { wait => { type => 'data', data => 'started' } },
                { drop => JSON::PP::true }]);
    my $left = time;
    ok((grep { $_->{dropped} } @$o), 'WS: the client dropped the connection mid-run');
    ok(wait_until(sub { $cancelled->() > $before }, 10), 'WS: the node cancelled the job');
    cmp_ok(time - $left, '<', 4, 'WS: within 4 s of the client leaving, not at its 5 s wall limit');
    ok(wait_until(\&cancelled_container_gone, 10), 'WS: its container is gone') or diag $t->worker_log('a');
    ok(wait_until(sub { $t->redis('--scan', '--pattern', 'rce:input:*') eq '' }, 15), 'WS: no rce:input:* key left') or input_keys();
}

# --- WebSocket: a flood --------------------------------------------------------------------
{
    my $o = ws([{ send => init("import sys\nwhile True:\n    sys.stdout.write('x' * 999 + '\\n')\n") }]);
    my $m = msgs($o);
    my $exit = $m->[-1];
    is($exit->{type}, 'exit', 'flood: an exit') or diag explain [grep { !$_->{msg} || $_->{msg}{type} ne 'data' } @$o];
    is($exit->{verdict}, 'OLE', 'flood: OLE');
    is($exit->{status}, 'OL', "flood: Piston's OL");
    my $bytes = length out_of($o, 'stdout');
    ok($bytes > 0 && $bytes <= $exit->{limits}{output_bytes}, "flood: output bounded by the cap ($bytes <= $exit->{limits}{output_bytes})");
    is(closed($o)->{close}, 4999, 'flood: 4999');
}

# --- WebSocket: a client that reads nothing while its program floods ---------------------------
{
    my $before = $cancelled->();
    my $t0 = time;
    # a steady flood of control characters: six bytes of JSON for each
    my ($s, $head) = ws_unread('/big/api/v2/connect',
        init("import sys, time\nwhile True:\n    sys.stdout.write('\\x01' * 16384)\n    sys.stdout.flush()\n    time.sleep(0.02)\n"));
    like($head, qr{^HTTP/1\.1 101}, 'a client that reads nothing: upgraded');
    ok(wait_until(sub { $t->nginx_log =~ /WebSocket: the client leaves \d+ bytes unread, more than rce_stream_buffer 524288/ }, 20),
       'the gateway closed it past rce_stream_buffer unread (4002, client too slow)') or diag $t->worker_log('a');
    ok(wait_until(sub { $cancelled->() > $before }, 10), 'its job was killed (CANCELLED)');
    cmp_ok(time - $t0, '<', 8, 'before its 8 s wall limit');
    ok(wait_until(\&cancelled_container_gone, 10), 'its container is gone') or diag $t->worker_log('a');
    # what the sockets held, then the end of the connection
    my ($n, $eof) = (0, 0);
    my $end = time + 15;
    while (time < $end) {
        my $got = sysread($s, my $buf, 1 << 20);
        if (!$got) { $eof = 1; last }
        $n += $got;
    }
    ok($eof, "the connection ended (after $n bytes)");
    cmp_ok($n, '<', 524288 + 8 * 1048576, 'what reached the client is bounded (the buffer and the sockets)');
    close $s;
    ok(wait_until(sub { $t->redis('--scan', '--pattern', 'rce:input:*') eq '' }, 15), 'no rce:input:* key left') or input_keys();
}

# --- SSE: a client that reads nothing while its program floods -------------------------------
{
    my $before = $cancelled->();
    my $t0 = time;
    my $s = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096);
    connect($s, pack_sockaddr_in($t->{http_port}, inet_aton('127.0.0.1'))) or die "connect: $!";
    my $body = $json->encode({ language => 'python',
        code => "import sys, time\nwhile True:\n    sys.stdout.write('\\x01' * 16384)\n    sys.stdout.flush()\n    time.sleep(0.02)\n" });
    syswrite $s, "POST /big/api/v1/run HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
               . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    ok(wait_until(sub { $t->nginx_log =~ /event stream's client leaves \d+ bytes unread, more than rce_stream_buffer 524288/ }, 20),
       'SSE: the gateway ended a client that left rce_stream_buffer unread') or diag $t->worker_log('a');
    ok(wait_until(sub { $cancelled->() > $before }, 10), 'SSE: its job was killed (CANCELLED)');
    cmp_ok(time - $t0, '<', 8, 'SSE: before its 8 s wall limit');
    ok(wait_until(\&cancelled_container_gone, 10), 'SSE: its container is gone');
    my ($n, $eof) = (0, 0);
    my $end = time + 15;
    while (time < $end) {
        my $got = sysread($s, my $buf, 1 << 20);
        if (!$got) { $eof = 1; last }
        $n += $got;
    }
    ok($eof, "SSE: the connection ended (after $n bytes)");
    close $s;
}

# --- bad upgrade requests --------------------------------------------------------------------
{
    my $key = encode_base64('0123456789abcdef', '');
    my $req = sub {
        my (%h) = @_;
        my $head = "GET /api/v2/connect HTTP/1.1\r\nHost: x\r\n";
        $head .= "$_: $h{$_}\r\n" for sort grep { defined $h{$_} } keys %h;
        return $t->raw_http("$head\r\n", whole => 1, timeout => 5);
    };
    my %ok = (Upgrade => 'websocket', Connection => 'Upgrade', 'Sec-WebSocket-Version' => 13, 'Sec-WebSocket-Key' => $key);

    my ($status, $h, $body) = $req->(%ok, Upgrade => undef, Connection => undef,
                                     'Sec-WebSocket-Version' => undef, 'Sec-WebSocket-Key' => undef);
    is($status, 426, 'GET /api/v2/connect without Upgrade: 426');
    like($t->json($body)->{message} // '', qr/WebSocket/, 'with a message that says it is a WebSocket');
    ($status, undef, $body) = $req->(%ok, Connection => 'keep-alive');
    is($status, 400, 'no Connection: Upgrade: 400');
    like($body, qr/Connection/, 'the message says so');
    ($status, undef, $body) = $req->(%ok, 'Sec-WebSocket-Version' => 8);
    is($status, 400, 'version 8: 400');
    ($status) = $req->(%ok, 'Sec-WebSocket-Key' => undef);
    is($status, 400, 'no key: 400');
    ($status) = $req->(%ok, 'Sec-WebSocket-Key' => 'short');
    is($status, 400, 'a key that is not 16 bytes: 400');
    my $head = "GET /api/v2/connect HTTP/1.0\r\nHost: x\r\n";
    $head .= "$_: $ok{$_}\r\n" for sort keys %ok;
    ($status, undef, $body) = $t->raw_http("$head\r\n", whole => 1, timeout => 5);
    is($status, 400, 'an upgrade over HTTP/1.0: 400');
    like($body, qr{HTTP/1\.1}, 'the message says HTTP/1.1 is needed');
    ($status, $h) = $req->(%ok);
    my $accept = do { require Digest::SHA; encode_base64(Digest::SHA::sha1($key . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), '') };
    is($status, 101, 'a good upgrade: 101');
    is($h->{'sec-websocket-accept'}, $accept, 'Sec-WebSocket-Accept');
    is(lc $h->{upgrade}, 'websocket', 'Upgrade: websocket');
}

# --- robustness: malformed frames and messages --------------------------------------------------
{
    my $o = ws([{ raw => '{"type":' }, { send => init('print(1)') }]);
    is_deeply([ mtypes($o), closed($o)->{close} ], ['error', 4002], 'JSON cut short: an error and 4002');
    $o = ws([{ binary => encode_base64("\xff\x00\xfe garbage") }]);
    is_deeply([ mtypes($o), closed($o)->{close} ], ['error', 4002], 'binary garbage: an error and 4002');
    $o = ws([{ raw => 'null' }]);
    is(closed($o)->{close}, 4002, 'null: 4002');
    $o = ws([{ send => { type => 'init', language => 'python', version => '*', files => 'x' } }]);
    is(closed($o)->{close}, 4002, 'files not an array: 4002');
    $o = ws([{ send => init('print(1)', run_timeout => 'soon') }]);
    is(closed($o)->{close}, 4002, 'a limit that is not a number: 4002');
    $o = ws([{ send => init("import time\ntime.sleep(2)\n") }, { send => { type => 'data', stream => 'stdin', data => 5 } }]);
    is(closed($o)->{close}, 4002, 'stdin data not a string: 4002');

    # frames the protocol forbids: wslay closes with 1002 (protocol error)
    $o = ws([{ frame => encode_base64("\x81\x05hello", '') }]);     # unmasked, from a client
    is(closed($o)->{close}, 1002, 'an unmasked client frame: 1002');
    $o = ws([{ frame => encode_base64("\x83\x80abcd", '') }]);      # a reserved opcode
    is(closed($o)->{close}, 1002, 'a reserved opcode: 1002');
    $o = ws([{ frame => encode_base64("\xc1\x80abcd", '') }]);      # RSV1 without an extension
    is(closed($o)->{close}, 1002, 'RSV1 set: 1002');
    $o = ws([{ frame => encode_base64("\x81\xff" . pack('Q>', 1 << 40) . 'abcd' . ('x' x 100), '') }]);
    ok(closed($o)->{close} == 1009 || closed($o)->{close} == 1002, 'a frame of 1 TiB: refused (' . closed($o)->{close} . ')');

    # a half frame, then the client goes
    $o = ws([{ frame => encode_base64("\x81\xfe\x40\x00abcd", '') }, { drop => JSON::PP::true }]);
    ok((grep { $_->{dropped} } @$o), 'half a frame, then gone');

    my ($status) = $t->call('GET', '/health');
    is($status, 200, 'the gateway still answers');
    $o = ws([{ send => init('print(7)') }]);
    is(out_of($o, 'stdout'), "7\n", 'and runs a session after all that');
    unlike($t->nginx_log, qr/\[(alert|emerg|crit)\]|signal \d+ \(core dumped\)|exited on signal/, 'no crash, no alert in the error log');
}

# --- the gateway stops while a session runs: its job is killed, not left to run ----------------
{
    my $before = $cancelled->();
    my $running = 'rce:running:' . $t->node_name('a');
    ok(wait_until(sub { $t->redis('LLEN', $running) == 0 }, 15), 'no job running before');
    my ($s) = ws_unread('/api/v2/connect', init("import time\nprint('started', flush=True)\ntime.sleep(20)\n"));
    ok(wait_until(sub { $t->redis('LLEN', $running) == 1 }, 10), 'a session runs its job');
    my $t0 = time;
    $t->stop_nginx;         # TERM: the workers exit at once, their sessions with them
    ok(wait_until(sub { $cancelled->() > $before }, 10), 'the exiting worker had its job killed (CANCELLED)')
        or diag $t->worker_log('a');
    cmp_ok(time - $t0, '<', 4, 'well before its 5 s wall limit');
    close $s;
}

# the last jobs' kills may still be on their way (slower under valgrind)
my @left;
wait_until(sub { @left = $t->leftover_lists; !@left }, 15);
is_deeply(\@left, [], 'no job left in a queue');

# the nginx error log, and valgrind's (RCE_VALGRIND=1)
$t->stop_all;

done_testing;
