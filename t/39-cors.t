#!/usr/bin/perl
# rce_cors (issue 18): which pages of other origins may call the API. Off by default: no
# CORS header for anyone, and a WebSocket from a page of another origin is refused (browsers
# apply no CORS to WebSockets); listed origins get Access-Control-Allow-Origin and their
# preflights answered; "*" allows any page. Real nginx with the module, a real node.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use RCETest;

my $t = RCETest->new;
$t->start_redis;
$t->{nginx_extra} = <<'EXTRA';
        location = /cors/run { rce_api_run; rce_wall_limit 5s; rce_timeout 30s; rce_cors https://docs.example http://localhost:8000; }
        location = /any/run { rce_api_run; rce_wall_limit 5s; rce_timeout 30s; rce_cors *; }
        location /cors/v2/ { rce_api_piston; rce_wall_limit 5s; rce_timeout 30s; rce_cors https://docs.example; }
EXTRA
$t->start_nginx;
$t->start_worker('a', '--slots', '2');
ok($t->wait_nodes('a'), 'node a is live');
my $port = $t->{http_port};
my $run = '{"language":"python","code":"print(6*7)"}';

# one request, raw; returns (status, headers, body)
sub raw {
    my ($method, $path, $headers, $body) = @_;
    $body //= '';
    my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:$port\r\n";
    $req .= "Connection: close\r\n" unless $headers->{Connection};
    $req .= "$_: $headers->{$_}\r\n" for sort keys %$headers;
    $req .= 'Content-Length: ' . length($body) . "\r\n" if length $body || $method eq 'POST';
    return ($t->raw_http("$req\r\n$body", timeout => $headers->{Upgrade} ? 2 : 20))[0 .. 2];
}

my $json = { 'Content-Type' => 'application/json' };

# --- off (the default) ------------------------------------------------------------------------
my ($s, $h, $b) = raw('POST', '/api/v1/run', { %$json, Origin => 'https://docs.example' }, $run);
is($s, 200, 'off: the request itself is answered');
ok(!exists $h->{'access-control-allow-origin'}, 'off: no Access-Control-Allow-Origin (the browser keeps it from the page)');

my %ws = (Upgrade => 'websocket', Connection => 'Upgrade', 'Sec-WebSocket-Version' => 13,
          'Sec-WebSocket-Key' => 'dGhlIHNhbXBsZSBub25jZQ==');
($s, $h, $b) = raw('GET', '/api/v2/connect', { %ws, Origin => 'https://evil.example' });
is($s, 403, 'off: a WebSocket from a page of another origin: 403');
like($h->{'content-type'} // '', qr{application/json}, '... as JSON');
like((eval { decode_json($b) } // {})->{error} // '', qr/rce_cors/, '... naming rce_cors');
($s) = raw('GET', '/api/v2/connect', { %ws, Origin => "http://127.0.0.1:$port" });
is($s, 101, "off: a WebSocket from the gateway's own page: 101");
($s) = raw('GET', '/api/v2/connect', { %ws });
is($s, 101, 'off: a WebSocket without Origin (not a browser): 101');

# --- listed origins ---------------------------------------------------------------------------
($s, $h, $b) = raw('POST', '/cors/run', { %$json, Origin => 'https://docs.example' }, $run);
is($s, 200, 'listed: answered');
is($h->{'access-control-allow-origin'}, 'https://docs.example', 'listed: Access-Control-Allow-Origin is the page');
is($h->{vary}, 'Origin', 'Vary: Origin');
like($h->{'access-control-expose-headers'} // '', qr/Retry-After/, 'Retry-After exposed to the page');
like($b, qr/"stdout":"42\\n"/, 'the job ran');

($s, $h) = raw('POST', '/cors/run', { %$json, Origin => 'HTTP://LOCALHOST:8000' }, $run);
is($h->{'access-control-allow-origin'}, 'HTTP://LOCALHOST:8000', 'an origin compares without case');

($s, $h) = raw('POST', '/cors/run', { %$json, Origin => 'https://evil.example' }, $run);
ok(!exists $h->{'access-control-allow-origin'}, 'an origin not listed: no header');

($s, $h) = raw('OPTIONS', '/cors/run', { Origin => 'https://docs.example', 'Access-Control-Request-Method' => 'POST',
                                        'Access-Control-Request-Headers' => 'content-type, authorization' });
is($s, 204, 'a preflight: 204');
is($h->{'access-control-allow-origin'}, 'https://docs.example', '... for the page');
like($h->{'access-control-allow-methods'} // '', qr/POST/, '... POST allowed');
like($h->{'access-control-allow-headers'} // '', qr/Content-Type.*Authorization/, '... Content-Type and Authorization');
is($h->{'access-control-max-age'}, 600, '... for ten minutes');

($s, $h) = raw('POST', '/cors/run', { 'Content-Type' => 'application/json', Origin => 'https://docs.example' }, '{');
is($s, 400, 'a refusal ...');
is($h->{'access-control-allow-origin'}, 'https://docs.example', '... carries the header too, so the page reads the error');

($s) = raw('GET', '/cors/v2/connect', { %ws, Origin => 'https://docs.example' });
is($s, 101, 'listed: a WebSocket from the page: 101');
($s) = raw('GET', '/cors/v2/connect', { %ws, Origin => 'https://other.example' });
is($s, 403, 'not listed: a WebSocket refused');

# --- any ---------------------------------------------------------------------------------------
($s, $h) = raw('POST', '/any/run', { %$json, Origin => 'https://anyone.example' }, $run);
is($h->{'access-control-allow-origin'}, '*', 'rce_cors *: Access-Control-Allow-Origin: *');

# --- configuration ---------------------------------------------------------------------------
for my $bad ('rce_cors example.com;', 'rce_cors https://docs.example/path;', 'rce_cors https://;') {
    my $conf = $t->nginx_conf(extra => "location = /x { $bad }");
    my $file = "$t->{dir}/bad-cors.conf";
    open my $fh, '>', $file or die;
    print $fh $conf;
    close $fh;
    my $out = `nginx -t -p $t->{dir}/nginx/ -c $file 2>&1`;
    like($out, qr/rce_cors.*not an origin/, "nginx -t refuses '$bad'");
}

$t->stop_all;
done_testing;
