#!/usr/bin/perl
# Callbacks of asynchronous jobs (issue 16): when a job with a callback_url ends, a node POSTs
# its result there, the document GET /api/v1/jobs/<id> answers, signed with the operator's
# secret, with the job id in a header; failed attempts are retried with backoff, a bounded
# number of times, each logged with the job id; the result stays fetchable whatever happens.
# SSRF rules: callbacks are off unless the nodes list destinations; an unlisted host is refused
# at submission; a listed name that resolves to a loopback address is refused at delivery
# unless that range is listed; a redirect is never followed. What is due lives in Redis: a
# callback whose receiver was down survives a restart of the node and of the gateway.
# Real Redis, nginx, workerd and containers; the receiver is a small HTTP server on loopback.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);
use RCETest qw(wait_until free_port);

my $t = RCETest->new;
my $json = JSON::PP->new->utf8->canonical;
my $secret = 'callback-test-secret-' . int(rand(1e9));
my $secret_file = $t->dir . '/callback.secret';
{ open my $fh, '>', $secret_file or die; print $fh "$secret\n"; close $fh; }

my @fast = ('--slots', '1', '--callback-secret-file', $secret_file, '--callback-backoff-ms', '200',
            '--callback-attempts', '3', '--callback-timeout-ms', '2000');

$t->start_redis;
$t->start_nginx;

# --- the receiver: records every request in its directory, answers by path -------------------
my $recv_dir = $t->dir . '/received';
mkdir $recv_dir;
my $recv_port = free_port();
my $recv_pid;

sub start_receiver {
    $recv_pid = fork // die;
    return if $recv_pid;
    my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $recv_port, Listen => 16,
                                       ReuseAddr => 1) or POSIX::_exit(1);
    my (%seen, $n);
    $n = () = glob("$recv_dir/*.json");
    while (my $c = $server->accept) {
        local $/ = "\r\n";
        my $line = <$c> // next;
        my ($method, $path) = split ' ', $line;
        my %h;
        while (my $l = <$c>) {
            last if $l eq "\r\n";
            $l =~ s/\r\n\z//;
            my ($k, $v) = split /:\s*/, $l, 2;
            $h{lc $k} = $v;
        }
        my $body = '';
        read($c, $body, $h{'content-length'} // 0);
        $n++;
        open my $fh, '>', "$recv_dir/$n.json.tmp" or die;
        print $fh $json->encode({ method => $method, path => $path, headers => \%h, body => $body });
        close $fh;
        rename "$recv_dir/$n.json.tmp", "$recv_dir/$n.json";
        my $times = ++$seen{$path};
        my ($status, $extra) = $path =~ m{^/fail2} && $times <= 2 ? ('500 Oops', '')
                             : $path =~ m{^/redirect} ? ('302 Found', "Location: http://127.0.0.1:$recv_port/ok\r\n")
                             : $path =~ m{^/gone} ? ('410 Gone', '')
                             : ('200 OK', '');
        print $c "HTTP/1.1 $status\r\n${extra}Content-Length: 2\r\nConnection: close\r\n\r\nok";
        close $c;
    }
    POSIX::_exit(0);
}

sub stop_receiver {
    return unless $recv_pid;
    kill 'KILL', $recv_pid;
    waitpid $recv_pid, 0;
    undef $recv_pid;
}

# the requests the receiver got for a job
sub received {
    my ($id) = @_;
    my @all;
    for my $f (sort { ($a =~ /(\d+)\.json$/)[0] <=> ($b =~ /(\d+)\.json$/)[0] } glob("$recv_dir/*.json")) {
        my $r = $json->decode($t->slurp($f));
        push @all, $r if !defined $id || ($r->{headers}{'x-rce-job-id'} // '') eq $id;
    }
    return @all;
}

sub request { $t->call(@_) }

sub submit {
    my ($url, %more) = @_;
    my ($status, $j, $res) = request('POST', '/api/v1/jobs',
        { language => 'python', code => $more{code} // "print('called back')", callback_url => $url });
    is($status, 202, "202 for a job calling back $url") or diag $res->{content};
    return $j->{id} // '';
}

# the job's GET once its callback has settled (delivered or failed)
sub settled {
    my ($id, $seconds) = @_;
    my $j;
    wait_until(sub {
        (undef, $j) = request('GET', "/api/v1/jobs/$id");
        ($j->{callback}{state} // '') =~ /\A(delivered|failed)\z/;
    }, $seconds // 30);
    return $j;
}

# node a restarted with this --callback-allow, and every gateway worker has seen it: the node
# leaves (/health drops it), comes back with its new list, and /health says it calls back
sub restart_a {
    my ($list, @more) = @_;
    $t->stop_worker('a');
    my $gone = wait_until(sub { ((request('GET', '/health'))[2]{content} // '') !~ /"name":"[^"]*-a"/ }, 20);
    $t->start_worker('a', @fast, '--callback-allow', $list, @more);
    my $ok = wait_until(sub { ((request('GET', '/health'))[2]{content} // '') =~ /"callbacks":true/ }, 20);
    sleep 1.5;                  # each gateway worker reads the heartbeats twice a second
    return $gone && $ok;
}

start_receiver();

# --- off unless the nodes list destinations ----------------------------------------------------
$t->start_worker('a', '--slots', '1');
ok($t->wait_nodes('a'), 'node a is live (no --callback-allow)');
{
    my ($status, $j) = request('POST', '/api/v1/jobs',
        { language => 'python', code => 'print(1)', callback_url => "http://127.0.0.1:$recv_port/ok" });
    is($status, 400, 'callbacks off: 400');
    is($j->{field}, 'callback_url', 'naming callback_url');
    like($j->{error}, qr/callbacks are off/, 'saying callbacks are off');
}
$t->stop_worker('a');
{
    my $out = `$ENV{RCE_WORKERD} --redis 127.0.0.1:1 --callback-allow 127.0.0.1 2>&1`;
    is($? >> 8, 2, 'a list without a secret: workerd refuses to start (exit 2)');
    like($out, qr/--callback-secret-file/, 'naming the flag it needs');
    $out = `$ENV{RCE_WORKERD} --redis 127.0.0.1:1 --callback-allow 'bad_name!' --callback-secret-file $secret_file 2>&1`;
    is($? >> 8, 2, 'a bad entry: exit 2');
    like($out, qr/--callback-allow: .*bad_name!/, 'naming the entry');
}

# --- delivered, signed, the body GET answers ---------------------------------------------------
ok(restart_a('127.0.0.1/32'), 'node a is back, callbacks to 127.0.0.1/32');
{
    my $id = submit("http://127.0.0.1:$recv_port/ok/1");
    my $j = settled($id);
    is($j->{status}, 'OK', 'the job ran');
    is_deeply($j->{callback}, { url => "http://127.0.0.1:$recv_port/ok/1", state => 'delivered',
                                attempts => 1, error => '' }, 'GET shows the callback delivered at once');
    my @got = received($id);
    is(scalar @got, 1, 'the receiver got one request');
    my $r = $got[0];
    is($r->{method}, 'POST', 'a POST');
    is($r->{headers}{'content-type'}, 'application/json', 'of JSON');
    is($r->{headers}{'x-rce-attempt'}, 1, 'attempt 1');
    my ($ts, $sig) = ($r->{headers}{'x-rce-signature'} // '') =~ /\At=(\d+),sha256=([0-9a-f]{64})\z/;
    ok($ts && abs($ts - time) < 120, 'signed now');
    is($sig, hmac_sha256_hex("$ts.$r->{body}", $secret), 'the signature is the HMAC-SHA256 of "<t>.<body>"');
    my $body = $json->decode($r->{body});
    delete $j->{callback};
    is_deeply($body, $j, 'the body is the result as GET /api/v1/jobs/<id> answers it');
    is($body->{run}{stdout}, "called back\n", "with the program's output");
    like($t->worker_log('a'), qr/job \Q$id\E: callback delivered to \S+ \(attempt 1, HTTP 200\)/,
         'the delivery is logged with the job id');
}

# --- an @ or a # after the host is no credential ------------------------------------------------
{
    my $id = submit("http://127.0.0.1:$recv_port/ok/q?who=a\@b.example#frag");
    my $j = settled($id);
    is($j->{callback}{state}, 'delivered', 'an @ in the query and a fragment: delivered');
    is((received($id))[0]{path}, '/ok/q?who=a@b.example', 'to the path and query given (no fragment is sent)');
}

# --- retried with backoff until it works ---------------------------------------------------------
{
    my $id = submit("http://127.0.0.1:$recv_port/fail2");
    my $j = settled($id);
    is($j->{callback}{state}, 'delivered', '500, 500, then 200: delivered');
    is($j->{callback}{attempts}, 3, 'at the third attempt');
    is_deeply([map { $_->{headers}{'x-rce-attempt'} } received($id)], [1, 2, 3], 'the receiver saw attempts 1, 2, 3');
    my @failed = $t->worker_log('a') =~ /job \Q$id\E: callback to \S+ failed \(attempt (\d) of 3\): HTTP 500; again in (\d+) ms/g;
    is_deeply(\@failed, [1, 200, 2, 400], 'each failed attempt is logged with the job id, the backoff doubling');
}

# --- a receiver that is down: bounded attempts, the result stays ---------------------------------
{
    my $closed = free_port();
    my $id = submit("http://127.0.0.1:$closed/ok");
    my $j = settled($id);
    is($j->{callback}{state}, 'failed', 'nobody listening: failed');
    is($j->{callback}{attempts}, 3, 'after --callback-attempts attempts');
    like($j->{callback}{error}, qr/connect/i, 'the error says why');
    is($j->{status}, 'OK', 'the result is still fetchable');
    like($t->worker_log('a'), qr/job \Q$id\E: callback to \S+ failed for good \(attempt 3\)/, 'logged');
}

# --- redirects are not followed; a 4xx is not retried ---------------------------------------------
{
    my $id = submit("http://127.0.0.1:$recv_port/redirect");
    my $j = settled($id);
    is($j->{callback}{state}, 'failed', 'a redirect: failed');
    is($j->{callback}{attempts}, 1, 'at once, not retried');
    like($j->{callback}{error}, qr/302.*never followed/, 'saying it is a redirect, never followed');
    my @got = received($id);
    is(scalar @got, 1, 'one request, to the URL given');
    is($got[0]{path}, '/redirect', 'not to where the redirect pointed');

    $id = submit("http://127.0.0.1:$recv_port/gone");
    $j = settled($id);
    is_deeply([@{ $j->{callback} }{qw(state attempts error)}], ['failed', 1, 'HTTP 410'], '410: failed, not retried');
}

# --- refused at submission --------------------------------------------------------------------
for my $case (["http://127.0.0.2:$recv_port/ok", qr/127\.0\.0\.2 is not among the hosts/, 'an unlisted address'],
              ["http://localhost:$recv_port/ok", qr/localhost is not among the hosts/, 'an unlisted name'],
              ["http://169.254.169.254/latest/meta-data/", qr/not among the hosts/, 'the cloud metadata address'],
              ["ftp://127.0.0.1/x", qr/http:\/\/ or https:\/\//, 'another scheme'],
              ["http://user:pw\@127.0.0.1:$recv_port/ok", qr/no credentials/, 'credentials in the URL'],
              ["http://127.0.0.1:$recv_port/a b", qr/printable ASCII/, 'a space'],
              ["http://127.0.0.1:$recv_port\@evil.example/", qr/no credentials/, 'an @ in the authority'],
              [42, qr/http:\/\//, 'not a string']) {
    my ($url, $why, $name) = @$case;
    my ($status, $j) = request('POST', '/api/v1/jobs', { language => 'python', code => 'print(1)', callback_url => $url });
    is($status, 400, "$name: 400");
    is($j->{field}, 'callback_url', "$name: naming callback_url");
    like($j->{error} // '', $why, "$name: saying why");
}
{
    my ($status, $j) = request('POST', '/api/v1/run',
        { language => 'python', code => 'print(1)', callback_url => "http://127.0.0.1:$recv_port/ok" });
    is($status, 400, 'POST /api/v1/run with a callback_url: 400');
    like($j->{error} // '', qr/only asynchronous jobs/, 'only asynchronous jobs are called back');
    my ($bs, $bj) = request('POST', '/api/v1/jobs', { jobs => [
        { language => 'python', code => 'print(1)', callback_url => "http://127.0.0.2/x" },
        { language => 'python', code => 'print(2)', callback_url => "http://127.0.0.1:$recv_port/ok/batch" } ] });
    is($bs, 202, 'a batch: 202');
    is($bj->{jobs}[0]{field}, 'callback_url', 'its entry with an unlisted host is refused');
    is($bj->{jobs}[1]{status}, 'queued', 'the other is queued');
    my $j2 = settled($bj->{jobs}[1]{id});
    is($j2->{callback}{state}, 'delivered', 'and called back');
}

# --- a job cancelled in its queue is called back too --------------------------------------------
{
    my ($s1, $busy) = request('POST', '/api/v1/jobs',
        { language => 'python', code => "import time\ntime.sleep(4)", priority => 'interactive' });
    ok(wait_until(sub { (request('GET', "/api/v1/jobs/$busy->{id}"))[1]{status} eq 'running' }, 20), 'the one slot is busy');
    my $id = submit("http://127.0.0.1:$recv_port/ok/cancelled");
    my ($status, $j) = request('DELETE', "/api/v1/jobs/$id");
    is($j->{status}, 'CANCELLED', 'cancelled in its queue');
    $j = settled($id);
    is($j->{callback}{state}, 'delivered', 'its callback delivered');
    my ($r) = received($id);
    is($json->decode($r->{body})->{status}, 'CANCELLED', 'with the CANCELLED result');
}

# --- a listed name that resolves to loopback ------------------------------------------------------
ok(restart_a('localhost,*.localhost'), 'node a is back, callbacks to the name localhost (and its subdomains) only');
{
    my $id = submit("http://localhost:$recv_port/ok/dns");
    my $j = settled($id);
    is($j->{callback}{state}, 'failed', 'a name resolving to a loopback address: refused');
    like($j->{callback}{error}, qr/resolves only to addresses callbacks may not reach \((127\.0\.0\.1|::1), loopback\)/,
         'saying which address and why');
    is($j->{callback}{attempts}, 1, 'not retried');
    is(scalar received($id), 0, 'nothing reached the receiver');

    # percent-encoded bytes in a listed wildcard's name: curl might look up another form (IDN)
    $id = submit("http://%C3%A9.localhost:$recv_port/ok/idn");
    $j = settled($id);
    is($j->{callback}{state}, 'failed', 'a name that is not plain ASCII: refused');
    like($j->{callback}{error}, qr/DNS name of ASCII letters/, 'saying why');
}

# --- durable: the receiver down across a restart of the node and of the gateway ----------------------
stop_receiver();
ok(restart_a('127.0.0.0/8', '--callback-attempts', '50', '--callback-backoff-ms', '500'),
   'node a is back, callbacks to 127.0.0.0/8');
{
    my $id = submit("http://127.0.0.1:$recv_port/ok/durable");
    ok(wait_until(sub { ((request('GET', "/api/v1/jobs/$id"))[1]{callback}{state} // '') eq 'retrying' }, 30),
       'the receiver is down: retrying');
    $t->stop_worker('a');
    $t->stop_nginx;
    $t->start_nginx;
    start_receiver();
    $t->start_worker('a', @fast, '--callback-allow', '127.0.0.0/8', '--callback-attempts', '50');
    my $j = settled($id, 40);
    is($j->{callback}{state}, 'delivered', 'delivered after the node and the gateway restarted');
    is(scalar received($id), 1, 'once');
}

is($t->redis('ZCARD', 'rce:callbacks'), 0, 'nothing is left due');

# --- a sender whose lease ran out records nothing (keys of their own) ----------------------------
{
    my $lua = "$FindBin::Bin/../workerd/lua";
    $t->redis('ZADD', 'cbtest:callbacks', 0, 'job1');
    my ($id, $token) = split /\n/, $t->redis('--eval', "$lua/callback_take.lua", 'cbtest:callbacks', ',', 60000);
    is($id, 'job1', 'lease: the due entry is taken');
    cmp_ok($t->redis('ZSCORE', 'cbtest:callbacks', 'job1'), '==', $token, 'lease: its time moved to the token');
    is($t->redis('--eval', "$lua/callback_take.lua", 'cbtest:callbacks', ',', 60000), '', 'lease: and not taken twice');
    $t->redis('ZADD', 'cbtest:callbacks', $token + 1, 'job1');      # another sender has it now
    my @done = ('--eval', "$lua/callback_done.lua", 'cbtest:callbacks', 'cbtest:job', ',', 'job1', 'delivered', 1, '',
                0, 'callback_state', 'callback_attempts', 'callback_error');
    is($t->redis(@done, $token), 0, 'lease: the first sender, its lease gone, records nothing');
    is($t->redis('ZCARD', 'cbtest:callbacks'), 1, 'lease: the entry stays for the one that has it');
    is($t->redis(@done, $token + 1), 1, 'lease: its holder records');
    is($t->redis('ZCARD', 'cbtest:callbacks'), 0, 'lease: delivered, the entry is gone');
}
$t->stop_all;
stop_receiver();
done_testing;
