#!/usr/bin/perl
# nginx's own refusals answer the module's JSON ({"error", "status"} and the
# limit that was passed), on the engine's routes: a body over
# client_max_body_size (with and without Expect: 100-continue, on /lang and
# /api/v1/run), a request line nginx cannot parse, a URI over
# large_client_header_buffers, a header too large, TRACE, an unknown
# Transfer-Encoding, an HTTP version nginx does not speak.  The connection
# answers each once, and a normal job still runs afterwards.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RCETest;

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;
$t->start_worker('a');
ok($t->wait_nodes('a'), 'the node is live');

# Sends raw bytes; returns (status, headers hash, body) of the answer (RCETest::raw_http:
# read until the server closes, or with first until the answer is whole).
sub raw {
    my ($bytes, %opt) = @_;
    return ($t->raw_http($bytes, whole => $opt{first}))[0 .. 2];
}

sub json_error {
    my ($name, $want, $status, $h, $body, %fields) = @_;
    is($status, $want, "$name: $want");
    like($h->{'content-type'} // '', qr{^application/json}, "$name: JSON") or diag $body;
    my $j = $t->json($body) // {};
    is($j->{status}, $want, "$name: the body says status $want");
    ok(length($j->{error} // ''), "$name: and what was wrong: " . ($j->{error} // 'nothing'));
    is($j->{$_}, $fields{$_}, "$name: $_ $fields{$_}") for sort keys %fields;
}

my $max = 1024 * 1024;      # client_max_body_size's default

for my $path ('/lang/python', '/api/v1/run') {
    my $big = 'x' x ($max + 1);
    my @r = raw("POST $path HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                . "Content-Length: " . length($big) . "\r\nConnection: close\r\n\r\n$big");
    json_error("$path, a body over client_max_body_size", 413, @r,
               limit => 'client_max_body_size', max_bytes => $max);

    @r = raw("POST $path HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             . "Content-Length: " . ($max + 1) . "\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
             first => 1);
    json_error("$path, Expect: 100-continue and too large a Content-Length", 413, @r,
               limit => 'client_max_body_size', max_bytes => $max);
}

my @r = raw("GET /lang/" . ('a' x 9000) . " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
json_error('a URI over large_client_header_buffers', 414, @r,
           limit => 'large_client_header_buffers', max_bytes => 8192);

@r = raw("GARBAGE\r\n\r\n");
json_error('a request line nginx cannot parse', 400, @r);

@r = raw("POST /lang/python HTTP/1.1\r\nHost: x\r\nX-Big: " . ('b' x 9000) . "\r\nConnection: close\r\n\r\n");
json_error('a header over large_client_header_buffers', 400, @r);

@r = raw("TRACE /lang/python HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
json_error('TRACE', 405, @r);

@r = raw("POST /lang/python HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n");
json_error('a Transfer-Encoding nginx does not implement', 501, @r);

@r = raw("GET /health HTTP/2.7\r\nHost: x\r\n\r\n");
json_error('an HTTP version nginx does not speak', 505, @r);

# a refusal rendered through error_page (rce_error) drops the request's body: on a kept-alive
# connection the next request is read as sent, not from the body's leftovers
for my $i (1 .. 5) {
    my $body = '{"x":"' . ('y' x (2000 * $i)) . '"}';
    my (undef, undef, undef, undef, $all) = $t->raw_http(
        "POST /api/nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        . length($body) . "\r\n\r\n$body" . "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        timeout => 5);
    my @statuses = $all =~ m{^HTTP/1\.1 (\d{3}) }mg;
    is("@statuses", '404 200', "keep-alive after an error_page refusal with a body ($i): the next request is answered")
        or diag($all);
}

my $res = $t->run_code('python', "print('still here')");
is($res->{content}, "still here\n", 'a normal job runs afterwards');

$t->stop_all;
done_testing;
