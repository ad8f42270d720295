#!/usr/bin/perl
# The engine's routes fuzzed over HTTP, against the real stack (nginx with the
# module, Redis, a node, containers), from a fixed seed so that a failure
# replays: thousands of requests mutated from valid ones (methods, paths,
# headers, Content-Length and chunked framing, bodies with bytes flipped,
# cut, repeated or spliced with JSON fragments), some cut short.  Every
# request that is sent whole gets a well-formed answer: a status line, and
# for an error a JSON body with that status (503 with Retry-After); nginx
# logs nothing at [alert], [crit] or [emerg], no worker process dies, and a
# normal job still runs afterwards.  RCE_FUZZ_SEED and RCE_FUZZ_REQUESTS
# (default 2000) change the run.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time);
use RCETest qw(wait_until);

my $SEED = $ENV{RCE_FUZZ_SEED} // 20261203;
my $N = $ENV{RCE_FUZZ_REQUESTS} // 2000;
srand($SEED);

my $t = RCETest->new;
$t->start_redis;
# a location that asks for a key, for the keys' three ways in (never given right here:
# every such request is a 401)
my $keyfile = "$t->{dir}/keys";
{ open my $fh, '>', $keyfile or die $!; print $fh "fuzz f0zz-key-0123456789abcdef\n"; close $fh }
$t->start_nginx(extra => "location /kf/ { rce_api_piston; rce_api_keys $keyfile; rce_wall_limit 5s; rce_timeout 30s; }");
$t->start_worker('a', '--slots', '4', '--pool', '0,python=2');
ok($t->wait_nodes('a'), 'node a is live');
my $master = $t->slurp("$t->{dir}/nginx/nginx.pid") =~ s/\s+//gr;
my @workers_before = workers();

sub workers { sort map { (split ' ')[0] } grep { /\bnginx: worker/ } `ps -o pid=,args= --ppid $master` }

sub pick { $_[int rand @_] }

my @methods = (('POST') x 6, 'GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH', 'FOO', 'post', 'GET /x');
my @paths = ('/api/v1/run', '/api/v1/run', '/api/v1/run', '/lang/python', '/lang/python', '/lang/py', '/lang/c',
             '/lang/', '/lang/%00', '/lang/..%2F..%2Fetc', '/lang/' . ('x' x 300), '/lang/python?x=1',
             '/api/v1/languages', '/api/v1/', '/api/v1/runx', '/api/v1/run/', '/health', '/health?full',
             '/lang/python/extra', '/lang/%ZZ', '/api/v1/run#frag', '/kf/execute', '/kf/connect', '/kf/connect');
my @fragments = ('{', '}', '[', ']', '"', ',', ':', 'null', 'true', '1e400', '-1', '18446744073709551616',
                 '"\u0000"', '"\ud800"', "\xff", "\xc3", "\0", '{"a":' x 50, '[' x 3000, '"files":[{}]',
                 '"limits":{"wall_ms":0}', '"code":""', '"language":"python"', '"args":["a"]', ' ' x 100);
my @bodies = (
    '{"language":"python","code":"print(1)"}',
    '{"language":"python","files":[{"name":"main.py","content":"print(2)"},{"name":"d","content":"AAE=","encoding":"base64"}],"stdin":"x","args":["a"],"limits":{"wall_ms":2000}}',
    '{"language":"c","code":"int main(void){return 0;}","limits":{"compile_wall_ms":5000}}',
    '{"language":"python","code":"print(3)","output_encoding":"base64"}',
    "print('raw')\n",
);

# a request, as [bytes to send, whether it is sent whole]
sub request {
    my $method = pick(@methods);
    my $path = pick(@paths);
    my $body = pick(@bodies);
    for (1 .. int rand 4) {                 # mutations
        my $what = int rand 5;
        my $at = int rand(length($body) + 1);
        if ($what == 0) { substr($body, $at, 1) = chr(int rand 256) if $at < length $body }
        elsif ($what == 1) { substr($body, $at, 0) = pick(@fragments) }
        elsif ($what == 2) { $body = substr($body, 0, $at) }
        elsif ($what == 3) { substr($body, $at, int rand 10) = '' }
        else { $body .= substr($body, int rand(length($body) + 1)) }
    }
    my @h = ('Host: fuzz');
    push @h, pick('Content-Type: application/json', 'Content-Type: text/plain', 'Content-Type: ' . ('j' x 9000),
                  'Accept: application/json', 'Expect: 100-continue', 'Expect: nonsense', 'X-Junk: ' . "\x01\x7f",
                  'Content-Encoding: gzip', 'Transfer-Encoding: identity', 'Connection: keep-alive',
                  'Content-Length: -1', 'Content-Length: 99999999999999999999', 'Content-Length: 1, 2')
        for 1 .. int rand 3;
    # a WebSocket upgrade whose key comes as a subprotocol (rce.key.<base64url>), mangled
    if (rand() < 0.15) {
        push @h, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13',
                 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';
        push @h, 'Sec-WebSocket-Protocol: ' . join(pick(',', ', ', ' ,', ''), map {
            pick('rce', 'rce.key.', 'rce.key.' . join('', map { chr(32 + int rand 95) } 1 .. int rand 40),
                 'rce.key.' . ('A' x (300 + int rand 200)), 'rce.key.ZnV6eg', 'rce.key.ZnV6eg==', 'RCE.KEY.ZnV6eg',
                 'rce.key.' . "\x00\xff", '')
        } 1 .. 1 + int rand 3);
    }
    my $whole = 1;
    my $framing = int rand 10;
    my $req;
    if ($framing < 6) {                     # an honest Content-Length
        $req = join("\r\n", "$method $path HTTP/1.1", @h, 'Content-Length: ' . length($body), 'Connection: close', '')
             . "\r\n$body";
    } elsif ($framing < 8) {                # chunked, sometimes malformed
        my $chunks = '';
        my $rest = $body;
        while (length $rest) {
            my $n = 1 + int rand 20;
            my $part = substr($rest, 0, $n, '');
            $chunks .= (rand() < 0.05 ? 'zz' : sprintf('%x', length $part)) . "\r\n$part\r\n";
        }
        if (rand() < 0.9) { $chunks .= "0\r\n\r\n" } else { $whole = 0 }   # no last chunk: cut short
        $req = join("\r\n", "$method $path HTTP/1.1", @h, 'Transfer-Encoding: chunked', 'Connection: close', '')
             . "\r\n$chunks";
    } elsif ($framing == 8) {               # a Content-Length that lies, and the client hangs up
        $req = join("\r\n", "$method $path HTTP/1.1", @h, 'Content-Length: ' . (length($body) + 1 + int rand 50),
                    'Connection: close', '') . "\r\n$body";
        $whole = 0;
    } else {                                # cut anywhere, then hang up
        $req = join("\r\n", "$method $path HTTP/1.1", @h, 'Content-Length: ' . length($body), 'Connection: close', '')
             . "\r\n$body";
        $req = substr($req, 0, int rand length $req);
        $whole = 0;
    }
    return [$req, $whole, "$method $path"];
}

# sends it (a request cut short: then hangs up its side, which is how nginx learns that no
# more comes; a whole one waits, as a half-closed client counts as gone), reads the answer
# until the server closes (at most 10 s); returns (status, headers, body, all of it)
sub exchange {
    my ($bytes, $whole) = @_;
    my ($status, $h, $body, undef, $answer) = $t->raw_http($bytes, hang_up => !$whole);
    return ($status, $h, $body, $answer);
}

my (%by_status, @bad, $cut, $t0);
$t0 = time;
for my $i (1 .. $N) {
    my ($bytes, $whole, $what) = @{ request() };
    my ($status, $h, $body, $answer) = exchange($bytes, $whole);
    if (!$whole) {
        $cut++;
        push @bad, "#$i $what (cut): not an HTTP answer: " . substr($answer, 0, 120)
            if length $answer && !$status;
        next;
    }
    $by_status{$status}++;
    my $why;
    if (!$status) {
        $why = 'no answer';
    }
    if ($why) {
    } elsif ($status >= 400 && $what !~ /^HEAD /) {
        my $j = eval { JSON::PP->new->decode($body) };
        if (($h->{'content-type'} // '') !~ m{^application/json}) { $why = "a $status that is not JSON" }
        elsif (!$j || ref $j ne 'HASH') { $why = "a $status whose body does not parse" }
        elsif (($j->{status} // 0) != $status) { $why = "a $status whose body says $j->{status}" }
        elsif (!length($j->{error} // '')) { $why = "a $status without an error" }
        elsif ($status == 503 && !defined $h->{'retry-after'}) { $why = 'a 503 without Retry-After' }
    } elsif ($status >= 500 && $status !~ /^50[135]$/) {
        $why = "a $status";     # 501 and 505 are nginx's for what it does not speak
    }
    push @bad, "#$i $what: $why: " . substr($answer, 0, 200) =~ s/[^\x20-\x7e]/./gr
        . ($ENV{RCE_FUZZ_SHOW} ? "\n    sent: " . substr($bytes, 0, 400) =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ger : '')
        if $why;
}
my $secs = time - $t0;
diag sprintf '%d requests in %.0f s (seed %d): %d cut short; answers %s', $N, $secs, $SEED, $cut // 0,
    join(', ', map { "$_: $by_status{$_}" } sort keys %by_status);
is(scalar @bad, 0, 'every request sent whole got a well-formed answer, and no cut one got garbage')
    or diag join "\n", @bad[0 .. ($#bad < 14 ? $#bad : 14)];
ok(($by_status{200} // 0) > 0 && ($by_status{400} // 0) > 0, 'the mix reached both the jobs and the refusals');

my $log = $t->nginx_log;
my @alerts = grep { /\[(alert|crit|emerg)\]/ } split /\n/, $log;
is(scalar @alerts, 0, 'nginx logged nothing at [alert], [crit] or [emerg]') or diag join "\n", @alerts[0 .. 4];
unlike($log, qr/exited on signal/, 'no nginx worker died');
is_deeply([workers()], \@workers_before, 'the same nginx workers serve as before');
my $r = $t->run_code('python', "print('after the fuzz')");
is($r->{content}, "after the fuzz\n", 'a normal job runs afterwards');
ok(wait_until(sub { !$t->leftover_lists }, 30), 'no job left in a Redis list') or diag join ' ', $t->leftover_lists;
$t->stop_all;
done_testing;
