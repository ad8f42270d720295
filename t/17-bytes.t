#!/usr/bin/perl
# Any bytes a program writes come back right: NUL, bytes that are not UTF-8,
# all 256 byte values, a 1 MiB binary blob, CR and ANSI escapes, 10,000
# short lines, emoji.  The raw route answers the exact bytes with an honest
# Content-Type; its JSON answer and /api/v1/run's stay valid JSON (text with
# U+FFFD and "lossy", or base64 on request); the node's result in Redis
# carries the bytes losslessly.  All of it on a warm container and on a cold
# one.  The NUL case used to wait out the deadline (504): it must be prompt.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use MIME::Base64 qw(encode_base64 decode_base64);
use Encode qw(encode_utf8);
use Time::HiRes qw(time);
use RCETest qw(wait_until);

my $t = RCETest->new(nginx_extra => <<'CONF');
        location /bytes/ { rce_run; rce_wall_limit 10s; rce_timeout 20s; rce_output_limit 2m; }
        location = /bytes-api { rce_api_run; rce_wall_limit 10s; rce_timeout 20s; rce_output_limit 2m; }
        location = /bytes-big { rce_api_run; rce_wall_limit 10s; rce_timeout 20s; rce_max_code_size 1m;
                                client_max_body_size 4m; client_body_buffer_size 4m; }
CONF
# well under the location's 20 s: a dropped result fails here, not by a 504
$t->{http} = HTTP::Tiny->new(timeout => 15);
$t->start_redis;
$t->start_nginx;

my $json = JSON::PP->new->utf8->canonical;

# each case: a python program and the exact bytes it writes on stdout and stderr
my $all = join '', map { chr } 0 .. 255;
my $lines = join '', map { "$_\n" } 0 .. 9999;
my $ansi = "a\r\nb\rc \e[31mred\e[0m\n";
my $emoji = encode_utf8("\x{1F600} \x{2713} caf\x{e9} \x{1F1EB}\x{1F1F7}\n");
my @cases = (
    [ 'NUL', 'import sys; sys.stdout.buffer.write(b"a\x00b\n")', "a\0b\n", '' ],
    [ 'invalid UTF-8', 'import sys; sys.stdout.buffer.write(b"\xff\xfe")', "\xff\xfe", '' ],
    [ 'all 256 byte values', 'import sys; sys.stdout.buffer.write(bytes(range(256)))', $all, '' ],
    [ '1 MiB binary blob', 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)', $all x 4096, '' ],
    [ 'CR and ANSI escapes', 'import sys; sys.stdout.buffer.write(b"a\r\nb\rc \x1b[31mred\x1b[0m\n")', $ansi, '' ],
    [ '10,000 short lines', 'import sys; sys.stdout.write("".join("%d\n" % i for i in range(10000)))', $lines, '' ],
    [ 'emoji', 'import sys; sys.stdout.buffer.write("\U0001F600 \u2713 caf\u00e9 \U0001F1EB\U0001F1F7\n".encode())',
      $emoji, '' ],
    [ 'text out, a cut sequence on stderr',
      "import sys\nsys.stdout.write('ok\\n'); sys.stdout.flush()\nsys.stderr.buffer.write(b'x\\xc3')", "ok\n", "x\xc3" ],
);

# the bytes as a client reading text gets them: a valid sequence stays, any
# other byte is U+FFFD (the W3C's table of well-formed UTF-8)
my $valid = qr/[\x00-\x7F]|[\xC2-\xDF][\x80-\xBF]|\xE0[\xA0-\xBF][\x80-\xBF]|[\xE1-\xEC\xEE\xEF][\x80-\xBF]{2}
              |\xED[\x80-\x9F][\x80-\xBF]|\xF0[\x90-\xBF][\x80-\xBF]{2}|[\xF1-\xF3][\x80-\xBF]{3}
              |\xF4[\x80-\x8F][\x80-\xBF]{2}/x;
sub repaired {
    my ($bytes) = @_;
    my $out = '';
    $out .= defined $1 ? $1 : "\xEF\xBF\xBD" while $bytes =~ /\G(?:($valid)|(.))/gs;
    return $out;
}
sub is_utf8 { my ($bytes) = @_; return repaired($bytes) eq $bytes }

# a JSON string as bytes again (JSON::PP gives characters)
sub bytes_of { my ($s) = @_; return defined $s ? encode_utf8($s) : undef }

sub same_bytes {
    my ($got, $want, $name) = @_;
    return ok(defined $got && $got eq $want, $name)
        || diag sprintf('got %d bytes, want %d; first difference at %s', length($got // ''), length $want,
                        first_difference($got // '', $want));
}
sub first_difference {
    my ($x, $y) = @_;
    my $i = 0;
    $i++ while $i < length $x && $i < length $y && substr($x, $i, 1) eq substr($y, $i, 1);
    return $i;
}

# the heartbeat of the node running the jobs
my ($node, $warm, $jobs);
sub node_state { return $t->json($t->redis('GET', 'rce:node:' . $t->node_name($node)) // '') // {} }

# on the warm path every job waits for a ready container first, as a
# heartbeat sent after the previous job ended reports it
sub post {
    my (@args) = @_;
    if ($warm) {
        my $after = node_state()->{beat} // 0;
        wait_until(sub {
            my $s = node_state();
            return ($s->{beat} // 0) > $after && @{ $s->{pool}{ready}{python} // [] };
        }, 30) or diag 'no warm python container became ready';
    }
    $jobs++;
    return $t->post(@args);
}

# the streams of the run's part of an answer, checked as text or as base64
sub check_stage {
    my ($stage, $out, $err, $base64, $name) = @_;
    if ($base64) {
        is($stage->{encoding}, 'base64', "$name: encoding base64");
        is_deeply($stage->{lossy}, [], "$name: nothing lost");
        same_bytes(decode_base64($stage->{stdout} // ''), $out, "$name: stdout, base64, exact");
        same_bytes(decode_base64($stage->{stderr} // ''), $err, "$name: stderr, base64, exact");
        return;
    }
    is($stage->{encoding}, 'utf8', "$name: encoding utf8");
    is_deeply($stage->{lossy}, [ grep { !is_utf8($_ eq 'stdout' ? $out : $err) } qw(stdout stderr) ],
              "$name: lossy names the streams that were not UTF-8");
    same_bytes(bytes_of($stage->{stdout}), repaired($out), "$name: stdout as text");
    same_bytes(bytes_of($stage->{stderr}), repaired($err), "$name: stderr as text");
    ok(!exists $stage->{"${_}_encoding"}, "$name: no ${_}_encoding for the client") for qw(stdout stderr);
}

sub run_case {
    my ($case, $path) = @_;
    my ($name, $code, $out, $err) = @$case;

    # the raw route: the exact bytes, promptly
    my $t0 = time;
    my $res = post("/bytes/python", $code);
    my $took = time - $t0;
    is($res->{status}, 200, "$name ($path): raw 200") or diag $res->{content};
    cmp_ok($took, '<', 10, "$name ($path): answered in " . sprintf('%.2f', $took) . ' s');
    same_bytes($res->{content}, $out . $err, "$name ($path): raw, the exact bytes, stdout then stderr");
    is($res->{headers}{'content-type'},
       is_utf8($out) && is_utf8($err) ? 'text/plain; charset=utf-8' : 'application/octet-stream',
       "$name ($path): an honest Content-Type");
    is($res->{headers}{'x-rce-status'}, 'OK', "$name ($path): OK");

    # what the node stored: the bytes, losslessly (base64 when not UTF-8)
    my $stored = $t->json($t->redis('GET', 'rce:result:' . ($res->{headers}{'x-rce-job-id'} // '')));
    if ($stored) {
        for (['stdout', $out], ['stderr', $err]) {
            my ($s, $want) = @$_;
            my $enc = $stored->{"${s}_encoding"};
            is($enc, is_utf8($want) ? undef : 'base64', "$name ($path): the result's $s is "
               . (is_utf8($want) ? 'text' : 'base64'));
            same_bytes($enc ? decode_base64($stored->{$s}) : bytes_of($stored->{$s}), $want,
                       "$name ($path): rce:result holds $s exactly");
        }
    } else {
        fail("$name ($path): rce:result:<id> holds the result JSON");
    }

    # the raw route's JSON: text, with U+FFFD and lossy
    $res = post("/bytes/python", $code, Accept => 'application/json');
    is($res->{status}, 200, "$name ($path): raw JSON 200");
    my $j = $t->json($res->{content});
    ok($j, "$name ($path): raw JSON parses") or diag substr($res->{content}, 0, 300);
    check_stage($j // {}, $out, $err, 0, "$name ($path): raw JSON");

    # /api/v1/run, as text and as base64
    for my $enc (undef, 'utf8', 'base64') {
        my %req = (language => 'python', code => $code);
        $req{output_encoding} = $enc if defined $enc;
        $res = post('/bytes-api', $json->encode(\%req), 'Content-Type' => 'application/json');
        my $label = "$name ($path): v1" . (defined $enc ? " $enc" : '');
        is($res->{status}, 200, "$label: 200") or diag $res->{content};
        $j = $t->json($res->{content}) // {};
        is($j->{status}, 'OK', "$label: OK");
        ok(!$j->{run}{truncated}, "$label: not truncated");
        check_stage($j->{run} // {}, $out, $err, ($enc // '') eq 'base64', $label);
    }
}

sub pool_counter { my ($which) = @_; return node_state()->{pool}{$which} // -1 }

# stdin and a file larger than a command line holds (120 KiB of base64 per
# argument): the node feeds such a job to its container on stdin, warm or cold
sub run_big {
    my ($path) = @_;
    my $in = join '', map { chr(32 + $_ % 95) . ($_ % 80 ? '' : "\n") } 1 .. 700_000;
    my $data = join '', map { chr(33 + $_ % 90) } 1 .. 300_000;
    my $res = post('/bytes-big', $json->encode({ language => 'python', stdin => $in, files => [
        { name => 'main.py', content => "import sys\nd = sys.stdin.buffer.read()\nf = open('data.txt', 'rb').read()\n"
                                        . "print(len(d), sum(d) % 2**32, len(f), sum(f) % 2**32)\n" },
        { name => 'data.txt', content => $data } ] }), 'Content-Type' => 'application/json');
    my $j = $t->json($res->{content}) // {};
    is($j->{status}, 'OK', "$path: stdin of 708,750 bytes and a file of 300,000: OK") or diag $res->{content};
    is($j->{run}{stdout}, sprintf("%d %d %d %d\n", length $in, unpack('%32C*', $in), length $data, unpack('%32C*', $data)),
       "$path: the program read them whole");
}

for my $path ('warm', 'cold') {
    my $name = $node = $path eq 'warm' ? 'w' : 'c';
    $t->start_worker($name, '--slots', '2', '--max-output-bytes', 4 << 20,
                     '--pool', $path eq 'warm' ? '0,python=1' : '0');
    ok($t->wait_nodes($name), "node $name ($path) is live");
    ($warm, $jobs) = ($path eq 'warm', 0);
    run_case($_, $path) for @cases;
    run_big($path);
    if ($warm) {
        ok(wait_until(sub { pool_counter('warm') == $jobs }, 5), "all $jobs jobs ran in a warm container")
            or diag 'pool.warm is ' . pool_counter('warm');
    } else {
        is(pool_counter('warm'), 0, "none of the $jobs jobs ran warm on the cold node");
    }
    $t->stop_worker($name);
}
$warm = 0;

# --- output_encoding is checked --------------------------------------------------
{
    $t->start_worker('v', '--pool', '0');
    ok($t->wait_nodes('v'), 'node v is live');
    for my $bad ('hex', 1, JSON::PP::true, '') {
        my $res = $t->post('/bytes-api', $json->encode({ language => 'python', code => 'print(1)',
                                                          output_encoding => $bad }),
                           'Content-Type' => 'application/json');
        is($res->{status}, 400, "output_encoding " . $json->encode([$bad]) . ": 400");
        my $j = $t->json($res->{content}) // {};
        is($j->{field}, 'output_encoding', 'the 400 names output_encoding');
        like($j->{error} // '', qr/"utf8" or "base64"/, 'and says what it may be');
    }
    $t->stop_worker('v');
}

ok(wait_until(sub { !$t->containers(1) }, 20), 'no container left');
$t->stop_all;
done_testing;
