#!/usr/bin/perl
# Bad input, named cases, against the whole stack: JSON nested 10,000 deep,
# numbers out of range (1e400, -1, 2^64, 2^63 - 1), thousands of files, file
# names with NUL or "..", a Content-Length that lies (longer than the body and
# the client gone, longer and the client waiting, shorter than the body), a
# body sent one byte per 100 ms, Expect: 100-continue.  Each gets a clear
# error or a correct answer, promptly; nothing is queued by a refusal, no
# container or Redis key is left, nginx logs no alert and a job still runs.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use MIME::Base64 ();
use Time::HiRes qw(sleep time);
use RCETest qw(wait_until);

my $t = RCETest->new(nginx_extra => 'location = /patient/api/v1/run { rce_api_run; rce_wall_limit 5s; '
                                  . 'rce_timeout 30s; client_body_timeout 2s; }');
$t->start_redis;
$t->start_nginx;
$t->start_worker('a', '--slots', '2');
ok($t->wait_nodes('a'), 'node a is live');
my $queue = 'rce:queue:' . $t->node_name('a');
my $json = JSON::PP->new->utf8->canonical;

# Sends raw bytes (a list: each element written apart, after $opt{pause} s); returns
# (status, headers, body, seconds) of the first answer, read until it is whole, the server
# closes, or 15 s pass (RCETest::raw_http).
sub raw {
    my ($parts, %opt) = @_;
    return ($t->raw_http($parts, whole => 1, timeout => 15, %opt))[0 .. 3];
}

sub post_request {
    my ($body, %h) = @_;
    my $path = delete $h{path} // '/api/v1/run';
    my $len = delete $h{length} // length $body;
    my $head = "POST $path HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             . join('', map { "$_: $h{$_}\r\n" } sort keys %h) . "Content-Length: $len\r\nConnection: close\r\n\r\n";
    return $head;
}

sub api {
    my ($body) = @_;
    my $t0 = time;
    my $res = $t->post('/api/v1/run', ref $body ? $json->encode($body) : $body, 'Content-Type' => 'application/json');
    return ($res, $t->json($res->{content}) // {}, time - $t0);
}

sub refused {
    my ($name, $body, $status, $field, $re) = @_;
    my ($res, $j, $secs) = api($body);
    is($res->{status}, $status, "$name: $status") or diag substr($res->{content}, 0, 300);
    like($j->{error} // '', $re, "$name: the error says why (" . ($j->{error} // '') . ')');
    is($j->{field}, $field, "$name: names the field") if defined $field;
    cmp_ok($secs, '<', 5, sprintf '%s: answered promptly (%.2f s)', $name, $secs);
}

# --- JSON nested 10,000 deep -------------------------------------------------------------
my $deep = ('[' x 10000) . (']' x 10000);
refused('10,000 nested arrays as a limit', qq({"language":"python","code":"1","limits":$deep}), 400, undef,
        qr/invalid JSON.*depth/i);
refused('10,000 nested objects in an unknown field',
        qq({"language":"python","code":"1","x":) . ('{"a":' x 10000) . '1' . ('}' x 10000) . '}', 400, undef,
        qr/invalid JSON.*depth/i);
refused('a body that is 10,000 nested arrays', $deep, 400, undef, qr/invalid JSON.*depth/i);

# --- numbers out of range ------------------------------------------------------------------
refused('wall_ms 1e400', '{"language":"python","code":"1","limits":{"wall_ms":1e400}}', 400, undef,
        qr/invalid JSON.*(overflow|range)/i);
refused('wall_ms -1', { language => 'python', code => '1', limits => { wall_ms => -1 } }, 400, 'limits',
        qr/limits\.wall_ms must be a positive integer/);
refused('wall_ms 2^64', '{"language":"python","code":"1","limits":{"wall_ms":18446744073709551616}}', 400, undef,
        qr/invalid JSON.*(too big|range|overflow)/i);
refused('wall_ms 1e3 (a real, not an integer)', '{"language":"python","code":"1","limits":{"wall_ms":1e3}}',
        400, 'limits', qr/limits\.wall_ms must be a positive integer/);
{
    my ($res, $j) = api('{"language":"python","code":"print(7)","limits":{"wall_ms":9223372036854775807,'
                        . '"compile_cpu_ms":9223372036854775807}}');
    is($res->{status}, 200, 'wall_ms 2^63 - 1: runs') or diag $res->{content};
    is($j->{run}{stdout}, "7\n", '... right');
    ok((grep { $_ eq 'wall_ms' } @{ $j->{clamped} // [] }), '... with wall_ms clamped to the maximum')
        or diag explain $j;
}

# --- thousands of files, and names -----------------------------------------------------------
refused('2,000 files', { language => 'python', files => [map { { name => "f$_", content => '1' } } 1 .. 2000] },
        400, 'files', qr/at most 4 files/);
# judge mode's tests make room in the body beyond the code limit, so 5,000 small files are
# read and refused by count; 5,000 files of 300 bytes are a body over client_max_body_size
refused('5,000 files', { language => 'python', files => [map { { name => "f$_.py", content => '1' } } 1 .. 5000] },
        400, 'files', qr/at most 4 files/);
refused('5,000 files of 300 bytes, a body over the size limit', { language => 'python',
        files => [map { { name => "f$_.py", content => '#' x 300 } } 1 .. 5000] }, 413, undef,
        qr/request body too large|larger than the limit/);
refused('a file name with NUL', '{"language":"python","files":[{"content":"1"},{"name":"a\u0000b","content":"1"}]}',
        400, undef, qr/\\u0000 is not allowed in a string; send a file that holds NUL with "encoding": "base64"/);
refused('a file named ..', { language => 'python', files => [{ content => '1' }, { name => '..', content => '1' }] },
        400, 'files', qr/files\[1\]\.name/);
refused('a file named ../x', { language => 'python', files => [{ name => '../x', content => '1' }] },
        400, 'files', qr/files\[0\]\.name/);
refused('NUL in a language name', '{"language":"py\u0000thon","code":"1"}', 400, undef, qr/\\u0000 is not allowed/);
{
    # bytes holding NUL travel in base64, and reach the program as they went in
    my ($res, $j) = api({ language => 'python', files => [
        { content => "print(open('data.bin', 'rb').read())\n" },
        { name => 'data.bin', content => MIME::Base64::encode_base64("a\0b\xff", ''), encoding => 'base64' }] });
    is($j->{run}{stdout}, "b'a\\x00b\\xff'\n", 'a file holding NUL, sent in base64, arrives exactly')
        or diag $res->{content};
}

# --- Content-Length that lies, slow bodies, Expect -----------------------------------------------
my $ok_body = $json->encode({ language => 'python', code => 'print(6 * 7)' });
{
    # longer than what comes, and the client waits: at client_body_timeout (2 s here) nginx
    # ends the request (408 in its log) and closes the connection without an answer, as it
    # does for every read timeout: a client that sent nothing for that long is not listening
    my ($status, $h, $body, $secs) = raw([post_request($ok_body, path => '/patient/api/v1/run',
                                                       length => length($ok_body) + 100) . $ok_body]);
    is($status, 0, 'Content-Length 100 bytes too long, the client waiting: closed at client_body_timeout');
    cmp_ok($secs, '>=', 1.9, sprintf '... after the 2 s timeout (%.1f s)', $secs);
    cmp_ok($secs, '<', 6, '... not long after');

    # longer than what comes, and the client hangs up: nobody to answer, nothing runs
    ($status) = raw([post_request($ok_body, length => length($ok_body) + 100) . $ok_body], hang_up => 1);
    ok($status == 0 || $status == 400, "Content-Length too long, the client gone: no job ($status)");

    # shorter than the body: the body nginx reads is cut JSON, the rest is not a request
    ($status, $h, $body) = raw([post_request($ok_body, length => 10) . $ok_body]);
    is($status, 400, 'Content-Length shorter than the body: 400');
    like($t->json($body)->{error} // '', qr/invalid JSON/, '... invalid JSON (the cut body)') or diag $body;

    # one byte per 100 ms: slow, but a correct request: a correct answer
    my $slow = '{"language":"python","code":"print(6*7)"}';
    ($status, $h, $body, $secs) = raw([post_request($slow), split //, $slow], pause => 0.1);
    is($status, 200, sprintf 'a body sent one byte per 100 ms (%.1f s): 200', $secs) or diag $body;
    is($t->json($body)->{run}{stdout}, "42\n", '... and right');

    # Expect: 100-continue: the interim answer, then the job's
    ($status, $h, $body) = raw([post_request($ok_body, Expect => '100-continue'), $ok_body], pause => 0.3);
    is($status, 200, 'Expect: 100-continue: 200 after 100 Continue');
    is($t->json($body)->{run}{stdout}, "42\n", '... and right');

    # a refusal to Expect: the 400 comes for the body, not the header
    my $bad = '{"language":"python"}';
    ($status, $h, $body) = raw([post_request($bad, Expect => '100-continue'), $bad], pause => 0.3);
    is($status, 400, 'Expect: 100-continue with an invalid body: 400');
}

# --- nothing left --------------------------------------------------------------------------------
is($t->redis('LLEN', $queue), 0, 'no refused request was queued');
my $r = $t->run_code('python', "print('still here')");
is($r->{content}, "still here\n", 'a job runs afterwards');
ok(wait_until(sub { !$t->leftover_lists }, 20), 'no job left in a Redis list') or diag join ' ', $t->leftover_lists;
my @lasting = grep { ($t->redis('TTL', $_) // -1) < 0 } grep { length } split /\n/, $t->redis('KEYS', 'rce:result:*');
is(scalar @lasting, 0, 'every result key expires') or diag "@lasting";
unlike($t->nginx_log, qr/\[(alert|crit|emerg)\]/, 'nginx logged no alert');
$t->stop_all;
done_testing;
