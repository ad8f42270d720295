#!/usr/bin/perl
# An engine fault is answered at once, never by the deadline: a result the
# gateway cannot read (truncated JSON, no verdict, a stream that does not
# decode, a message over RCE_RESULT_MAX_BYTES) whose id can be made out
# answers its waiting request IE with the reason, on the raw route and the
# JSON API; a result with no id at all is logged and dropped.  The node here
# is a stand-in registered by hand, so the test plays its part exactly.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep time);
use RCETest qw(wait_until);

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;
my $node = $t->node_name('fake');
$t->redis('SET', "rce:node:$node", encode_json({ name => $node, slots => 1, busy => 0, queued => 0,
    queue_max => 100, draining => JSON::PP::false, beat => 1, epoch => 1, languages => ['python'],
    aliases => { python => 'python', py => 'python' }, versions => { python => '3' }, compiled => [] }));
$t->redis('SADD', 'rce:nodes', $node);
ok(wait_until(sub { $t->{http}->get($t->url('/health'))->{status} == 200 }, 10), 'the stand-in node is live');

sub send_raw {
    my ($path, $body, @headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->{http_port}) or die $!;
    print $s "POST $path HTTP/1.1\r\nHost: x\r\n" . join('', map { "$_\r\n" } @headers)
        . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
    return $s;
}

sub read_all { my $s = shift; local $/; my $r = <$s>; close $s; return $r // '' }

# the job the gateway queued for the stand-in: (id, reply_to)
sub take_job {
    my $job;
    wait_until(sub { $job = $t->redis('RPOP', "rce:queue:$node"); length $job }, 10) or return;
    my $j = decode_json($job);
    return ($j->{id}, $j->{reply_to});
}

my @cases = (
    [ 'truncated JSON', sub { qq({"id":"$_[0]","status":"OK","stdout":"hel) } ],
    [ 'no verdict',     sub { qq({"id":"$_[0]","stdout":"hello\\n","stderr":""}) } ],
    [ 'not JSON at all, the id legible', sub { qq(garbage "id":"$_[0]" garbage) } ],
    [ 'an output stream that does not decode',
      sub { qq({"id":"$_[0]","status":"OK","stdout":"\@\@\@","stdout_encoding":"base64","stderr":""}) } ],
    [ 'a result over RCE_RESULT_MAX_BYTES (16 MiB)',
      sub { qq({"id":"$_[0]","status":"OK","stderr":"","stdout":") . ('x' x (16 << 20)) . '"}' } ],
);

# PUBLISH with the message on redis-cli's stdin: one argument may be 16 MiB
sub publish {
    my ($channel, $message) = @_;
    open my $cli, '|-', 'redis-cli', '-p', $t->redis_port, '-x', 'PUBLISH', $channel
        or die "redis-cli: $!";
    print $cli $message;
    close $cli;
}
for my $c (@cases) {
    my ($name, $make) = @$c;
    for my $route (['/lang/python', 'print(1)'], ['/api/v1/run', '{"language":"python","code":"print(1)"}']) {
        my $s = send_raw($route->[0], $route->[1], 'Content-Type: application/json');
        my ($id, $reply) = take_job();
        ok($id, "$name, $route->[0]: the job was queued");
        my $t0 = time;
        publish($reply, $make->($id));
        my $answer = read_all($s);
        my $secs = time - $t0;
        # the deadline (30 s) would answer 504: a verdict means it did not wait
        like($answer, qr{^HTTP/1.1 200}, "$name, $route->[0]: 200 with a verdict, not the deadline's 504");
        diag sprintf '%s, %s: answered %.3f s after the result', $name, $route->[0], $secs;
        if ($route->[0] eq '/lang/python') {
            like($answer, qr/X-RCE-Status: IE/i, "$name, /lang: X-RCE-Status IE");
            like($answer, qr/X-RCE-Reason: the node's result could not be read/i, "$name, /lang: the reason");
        } else {
            my ($body) = $answer =~ /\r\n\r\n(.*)\z/s;
            my $j = eval { decode_json($body) } // {};
            is($j->{status}, 'IE', "$name, /api/v1/run: status IE") or diag $body;
            like($j->{reason} // '', qr/could not be read/, "$name, /api/v1/run: the reason");
        }
    }
}
like($t->nginx_log, qr/rce: job \S+: the result from node \S+ cannot be read .*answering IE/,
     'the gateway logs each with the job id');

# no id at all: nothing to answer; the request meets its deadline (/short/: 2 s)
{
    my $s = send_raw('/short/python', 'print(1)');
    my ($id, $reply) = take_job();
    $t->redis('PUBLISH', $reply, '{"status":"OK","stdout":"x');
    my $answer = read_all($s);
    like($answer, qr{^HTTP/1.1 504}, 'a result without any id: the request meets its deadline (504)');
    like($t->nginx_log, qr/ignoring a result without an id/, 'and the gateway logs it');
}

$t->redis('SREM', 'rce:nodes', $node);
$t->redis('DEL', "rce:node:$node");
$t->stop_all;
done_testing;
