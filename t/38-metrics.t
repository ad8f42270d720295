#!/usr/bin/perl
# GET /metrics (rce_metrics): Prometheus' text format, checked by promtool
# (Debian's prometheus package); the counters move with the jobs and refusals
# of this test; the gateway's own counters are the same whichever of the two
# nginx worker processes answers (a shared zone) and survive a reload; the
# nodes' counters and histograms come from their node JSON, one series per
# node; label values are escaped.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use RCETest qw(wait_until capture);

my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};
plan skip_all => 'promtool is missing: apt-get install prometheus (./deploy.sh test does)'
    unless $promtool;

# /tle/: a 1 s wall limit with time to spare to wait for it (a loaded machine, a sanitizer
# build); a second port with reuseport, where the kernel spreads connections over both nginx
# worker processes by their source ports (on the shared socket one process may take them all)
# (not under valgrind: nginx is one process there, which never accepts on the other
# process's copy of a reuseport socket)
my $two_workers = !$ENV{RCE_VALGRIND};
my $spread_port = RCETest::free_port();
my $t = RCETest->new(nginx_extra => 'location = /metrics { rce_metrics; } '
                                  . 'location /tle/ { rce_run; rce_wall_limit 1s; rce_timeout 30s; } '
                                  . "listen 127.0.0.1:$spread_port" . ($two_workers ? ' reuseport' : '') . '; '
                                  . 'add_header X-Pid $pid always;');
$t->start_redis;
$t->start_nginx;
$t->start_worker('a', '--slots', '1', '--pool', 'python=1');
ok($t->wait_nodes('a'), 'node a is live');
my $node_a = $t->node_name('a');

my @buckets = qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 +Inf);

# --- the exposition, read --------------------------------------------------------------------

# one request on a fresh connection to the reuseport listener (so that either nginx worker
# process may answer it)
sub fresh {
    my ($method, $path, $body, %headers) = @_;
    return HTTP::Tiny->new(keep_alive => 0, timeout => 60)->request($method,
        "http://127.0.0.1:$spread_port$path",
        { defined $body ? (content => $body) : (), headers => \%headers });
}

# the samples: { name => [[{label => value}, value], ...] }, and the families' TYPE and HELP
sub parse {
    my ($text) = @_;
    my (%samples, %type, %help, @bad);
    for my $line (split /\n/, $text) {
        if ($line =~ /^# (HELP|TYPE) (\S+) (.*)$/) {
            ($1 eq 'TYPE' ? \%type : \%help)->{$2} = $3;
            next;
        }
        next if $line =~ /^#/;
        my ($name, $labels, $value) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
            or do { push @bad, $line; next };
        my %l;
        $labels //= '';
        while ($labels =~ /\G,?([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/gc) {
            my ($k, $v) = ($1, $2);
            $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
            $l{$k} = $v;
        }
        push @bad, $line if (pos($labels) // 0) != length $labels;
        push @{ $samples{$name} }, [\%l, $value];
    }
    return { samples => \%samples, type => \%type, help => \%help, bad => \@bad, text => $text };
}

# GET /metrics; returns the parse, with the answering process's pid and the response
sub scrape {
    my $res = fresh('GET', '/metrics');
    my $m = parse($res->{content} // '');
    $m->{status} = $res->{status};
    $m->{pid} = $res->{headers}{'x-pid'};
    $m->{res} = $res;
    return $m;
}

# the sum of the samples of name whose labels include %want (undef: none)
sub value {
    my ($m, $name, %want) = @_;
    my $sum;
    SAMPLE: for my $s (@{ $m->{samples}{$name} // [] }) {
        for my $k (keys %want) {
            next SAMPLE unless defined $s->[0]{$k} && $s->[0]{$k} eq $want{$k};
        }
        $sum += $s->[1];
    }
    return $sum;
}

sub promtool_check {
    my ($text, $what) = @_;
    my $file = $t->dir . '/metrics.txt';
    open my $fh, '>', $file or die;
    print $fh $text;
    close $fh;
    my ($rc, $out) = capture('sh', '-c', "'$promtool' check metrics < '$file'");
    is($rc, 0, "promtool check metrics: clean ($what)") or diag $out;
    is($out, '', "promtool: nothing to say ($what)") or diag $out;
}

# a histogram's series for these labels: buckets cumulative, +Inf is _count
sub histogram_ok {
    my ($m, $what, %want) = @_;
    my @counts = map { value($m, 'rce_job_duration_seconds_bucket', %want, le => $_) } @buckets;
    my $count = value($m, 'rce_job_duration_seconds_count', %want);
    ok(!(grep { !defined } @counts) && defined $count, "$what: every bucket, and _count")
        or return;
    my $monotone = 1;
    $monotone &&= $counts[$_] >= $counts[$_ - 1] for 1 .. $#counts;
    ok($monotone, "$what: buckets are cumulative") or diag "@counts";
    is($counts[-1], $count, "$what: le=\"+Inf\" is _count");
    ok(defined value($m, 'rce_job_duration_seconds_sum', %want), "$what: _sum");
    return ($count, \@counts);
}

# --- the first scrape: format, families, gauges -----------------------------------------------
my $m;
# (the process that answers may read the node list a little after the one /health asked)
wait_until(sub { $m = scrape(); ($m->{status} // 0) == 200 && (value($m, 'rce_nodes_live') // 0) == 1 }, 5);
is($m->{status}, 200, 'GET /metrics: 200');
like($m->{res}{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'text format 0.0.4');
is_deeply($m->{bad}, [], 'every line parses');
promtool_check($m->{text}, 'first scrape');

for my $family (qw(rce_jobs_total rce_job_duration_seconds rce_queue_length rce_running_jobs
                   rce_nodes_live rce_pool_containers rce_redis_up rce_requests_refused_total
                   rce_http_requests_total rce_node_slots rce_node_draining rce_pool_jobs_total
                   rce_pool_target)) {
    ok($m->{type}{$family} && $m->{help}{$family}, "$family has TYPE and HELP");
}
my %undeclared;
for my $name (keys %{ $m->{samples} }) {
    my $family = $name;
    $family =~ s/_(?:bucket|sum|count)$// unless $m->{type}{$name};
    $undeclared{$name} = 1 unless $m->{type}{$family};
}
is_deeply([sort keys %undeclared], [], 'every sample belongs to a declared family');
is($m->{type}{rce_jobs_total}, 'counter', 'rce_jobs_total is a counter');
is($m->{type}{rce_job_duration_seconds}, 'histogram', 'rce_job_duration_seconds is a histogram');
is($m->{type}{rce_queue_length}, 'gauge', 'rce_queue_length is a gauge');
is(value($m, 'rce_nodes_live'), 1, 'rce_nodes_live 1');
is(value($m, 'rce_redis_up'), 1, 'rce_redis_up 1');
is(value($m, 'rce_running_jobs', node => $node_a), 0, 'rce_running_jobs of node a: 0');
is(value($m, 'rce_node_slots', node => $node_a), 1, 'rce_node_slots of node a: 1');
is(value($m, 'rce_queue_length', node => $node_a, priority => 'normal'), 0, 'its queue: 0');
is(value($m, 'rce_queue_length', node => $node_a, priority => 'batch'), 0, 'its batch list: 0');
for my $reason (qw(validation not_found method too_large auth rate_limit backpressure no_node redis unavailable)) {
    ok(defined value($m, 'rce_requests_refused_total', reason => $reason), "refusals by reason: $reason is listed");
}
ok(wait_until(sub { (value(scrape(), 'rce_pool_containers', node => $node_a, language => 'python', state => 'ready') // 0) == 1 }, 60),
   'rce_pool_containers: a warm python container ready on node a');
is(value(scrape(), 'rce_pool_target', node => $node_a, language => 'python'), 1, 'rce_pool_target: python 1 on node a (--pool python=1)');

# --- jobs: the counters and histograms move with them ----------------------------------------
$m = scrape();
my %base = (
    ok  => value($m, 'rce_jobs_total', language => 'python', status => 'OK') // 0,
    tle => value($m, 'rce_jobs_total', language => 'python', status => 'TLE') // 0,
    run => value($m, 'rce_job_duration_seconds_count', language => 'python', phase => 'run') // 0,
    queue => value($m, 'rce_job_duration_seconds_count', language => 'python', phase => 'queue') // 0,
    lang200 => value($m, 'rce_http_requests_total', route => 'lang', code => 200) // 0,
);
is($base{ok} + $base{tle}, 0, 'no python job counted before the first');

my $n = 5;
for my $i (1 .. $n) {
    my $res = $t->run_code('python', qq{print("drill my brain")\n});
    is($res->{status}, 200, "python hello $i: 200");
    is($res->{headers}{'x-rce-status'}, 'OK', "python hello $i: OK");
}
my $tle = $t->post('/tle/python', "while True:\n    pass\n");
is($tle->{headers}{'x-rce-status'}, 'TLE', 'an endless loop under a 1 s wall limit: TLE');

# (each check below reads the scrape that saw them: the other nginx process's copy of the
# node reports may be up to half a second older)
ok(wait_until(sub {
    $m = scrape();
    (value($m, 'rce_jobs_total', language => 'python', status => 'OK') // 0) == $base{ok} + $n
        && (value($m, 'rce_jobs_total', language => 'python', status => 'TLE') // 0) == $base{tle} + 1
}, 10), "rce_jobs_total: python OK up by $n, TLE up by 1 (the node's next heartbeats)");
promtool_check($m->{text}, 'after jobs');
is(value($m, 'rce_jobs_total', language => 'python', status => 'OK', node => $node_a), $n,
   'the series carries its node');
my ($count, $run) = histogram_ok($m, 'python run', language => 'python', phase => 'run', node => $node_a);
is($count, $base{run} + $n + 1, "the run histogram's _count: the ${\($n + 1)} jobs");
cmp_ok($run->[6], '<=', $count - 1, 'the TLE (a 1 s wall) is above le="0.5"');
cmp_ok(value($m, 'rce_job_duration_seconds_sum', language => 'python', phase => 'run'), '>=', 1,
       "the run histogram's _sum holds the TLE's second");
($count) = histogram_ok($m, 'python queue', language => 'python', phase => 'queue', node => $node_a);
is($count, $base{queue} + $n + 1, "the queue histogram's _count: the same jobs");
ok(!defined value($m, 'rce_job_duration_seconds_count', language => 'python', phase => 'compile'),
   'python has no compile phase');
cmp_ok(value($m, 'rce_http_requests_total', route => 'lang', code => 200), '>=', $base{lang200} + $n,
       'rce_http_requests_total{route="lang",code="200"} counts the answers');
cmp_ok(value($m, 'rce_pool_jobs_total', node => $node_a), '>=', $n + 1, 'rce_pool_jobs_total counts them');

# --- refusals, counted once in the shared zone, whichever process answers -------------------
my %refused0 = map { ($_ => value($m, 'rce_requests_refused_total', reason => $_)) }
               qw(validation not_found method too_large backpressure);
my $api400 = value($m, 'rce_http_requests_total', route => 'api_run', code => 400) // 0;

# raw requests, a batch at a time on parallel connections: nginx hands them to both workers
sub burst {
    my ($request, $n) = @_;
    my (%pids, %status);
    while ($n > 0) {
        my @socks;
        for (1 .. ($n < 8 ? $n : 8)) {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $spread_port) or die $!;
            push @socks, $s;
        }
        syswrite $_, $request for @socks;
        for my $s (@socks) {
            local $/;
            my $answer = <$s> // '';
            close $s;
            my ($code) = $answer =~ m{^HTTP/1\.1 (\d+)};
            $status{$code // 0}++;
            $pids{$1}++ if $answer =~ /\r\nX-Pid: (\d+)/i;
        }
        $n -= @socks;
    }
    return (\%status, \%pids);
}

my $bad = '{"language": "python", "code": 42}';
my $k = 40;
my ($status, $pids) = burst("POST /api/v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            . "Content-Length: " . length($bad) . "\r\nConnection: close\r\n\r\n$bad", $k);
is_deeply($status, { 400 => $k }, "$k invalid documents: 400 each");
SKIP: {
    skip 'one nginx process under valgrind', 1 unless $two_workers;
    cmp_ok(scalar keys %$pids, '>=', 2, 'both nginx worker processes answered some of them')
        or diag explain $pids;
}

my $bodyless = fresh('GET', '/api/v1/run');
is($bodyless->{status}, 405, 'GET /api/v1/run: 405');
my $unknown = $t->run_code('nosuchlanguage', 'x');
is($unknown->{status}, 404, 'an unknown language: 404');
my $large = $t->post('/tiny/python', 'x' x 2048);
is($large->{status}, 413, 'code over rce_max_code_size: 413');

my (%scrape_pids, @seen);
for (1 .. 12) {
    my $s = scrape();
    $scrape_pids{$s->{pid} // '?'}++;
    push @seen, join ' ', map { value($s, 'rce_requests_refused_total', reason => $_) }
                          qw(validation method not_found too_large);
}
my $want = join ' ', $refused0{validation} + $k, $refused0{method} + 1, $refused0{not_found} + 1,
                     $refused0{too_large} + 1;
is_deeply([sort { $a cmp $b } keys %{ { map { ($_ => 1) } @seen } }], [$want],
          "every scrape sees the same refusals: validation +$k, method, not_found, too_large +1");
SKIP: {
    skip 'one nginx process under valgrind', 1 unless $two_workers;
    cmp_ok(scalar keys %scrape_pids, '>=', 2, 'scrapes answered by both nginx worker processes')
        or diag explain \%scrape_pids;
}
is(value(scrape(), 'rce_http_requests_total', route => 'api_run', code => 400), $api400 + $k,
   'rce_http_requests_total{route="api_run",code="400"} counts them too');

# --- a second node, then the first one gone -------------------------------------------------------
$t->start_worker('b', '--slots', '1', '--queue-max', '1', '--pool', '0');
ok($t->wait_nodes('a', 'b'), 'node b is live');
my $node_b = $t->node_name('b');
ok(wait_until(sub { my $s = scrape(); (value($s, 'rce_nodes_live') // 0) == 2 && defined value($s, 'rce_running_jobs', node => $node_b) }, 5),
   'rce_nodes_live 2, and node b has its gauges');
for (1 .. 4) {
    is($t->run_code('python', "print('two nodes')")->{headers}{'x-rce-status'}, 'OK', 'a job on two nodes');
}
ok(wait_until(sub {
    $m = scrape();
    (value($m, 'rce_jobs_total', language => 'python', status => 'OK') // 0) == $base{ok} + $n + 4
        && (value($m, 'rce_job_duration_seconds_count', language => 'python', phase => 'run') // 0)
           == $base{run} + $n + 1 + 4
}, 10), 'rce_jobs_total and the histograms, summed over both nodes\' series, count every job');
promtool_check($m->{text}, 'two nodes');
is(value($m, 'rce_queue_length', node => $node_b, priority => 'batch'), 0, 'node b: its batch list');
my $ok_b = value($m, 'rce_jobs_total', language => 'python', status => 'OK', node => $node_b) // 0;

$t->stop_worker('a');
ok(wait_until(sub { my $s = scrape(); (value($s, 'rce_nodes_live') // 0) == 1 && !defined value($s, 'rce_running_jobs', node => $node_a) }, 10),
   'node a stopped: rce_nodes_live 1, its series gone');
sleep 0.6;      # the other nginx process has read the node list since

# backpressure: node b (one slot, queue-max 1) busy and its queue full: 503
sub send_raw {
    my ($path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->{http_port}) or die $!;
    print $s "POST $path HTTP/1.1\r\nHost: x\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n$body";
    return $s;
}
sub read_all { my $s = shift; local $/; my $r = <$s>; close $s; return $r // '' }
{
    my $busy = send_raw('/lang/python', "import time\ntime.sleep(3)\nprint('busy done')");
    ok(wait_until(sub { $t->redis('LLEN', "rce:running:$node_b") == 1 }, 10), 'a long job runs');
    my $queued = send_raw('/lang/python', "print('queued')");
    ok(wait_until(sub { (value(scrape(), 'rce_queue_length', node => $node_b, priority => 'normal') // 0) == 1 }, 5),
       'rce_queue_length{priority="normal"} of node b: 1');
    ok(wait_until(sub { (value(scrape(), 'rce_running_jobs', node => $node_b) // 0) == 1 }, 3),
       'rce_running_jobs of node b: 1');
    # every worker process has had the node's report of the full queue
    sleep 0.6;
    my $full = $t->run_code('python', 'print(1)');
    is($full->{status}, 503, 'a full queue: 503');
    like(read_all($busy), qr/busy done/, 'the long job answers');
    like(read_all($queued), qr/queued/, 'the queued one too');
}
ok(wait_until(sub {
    my $s = scrape();
    (value($s, 'rce_requests_refused_total', reason => 'backpressure') // 0) == $refused0{backpressure} + 1
        && (value($s, 'rce_jobs_total', language => 'python', status => 'OK', node => $node_b) // 0) == $ok_b + 2
}, 10), 'backpressure +1; the two jobs counted OK on node b');

# --- label values escaped: a node report with \, " and a newline in its names ----------------
{
    my $fake = qq{fake"q\\b};
    my $json = JSON::PP->new->utf8->canonical->encode({
        name => $fake, slots => 1, busy => 0, queued => 2, queue_max => 0, batch_queued => 3,
        beat => 1, epoch => 1, draining => JSON::PP::false, languages => [], aliases => {},
        jobs => { "py\nthon" => { OK => 3, "RE" => 1 } },
        durations => { "py\nthon" => { run => { count => 4, sum_ms => 70500,
                                                buckets => { 5 => 1, 100 => 2 } } } },
        pool => { ready => { x => ['a', 'b'] }, starting => { x => 1 }, warm => 0, cold => 4, custom => 0 },
    });
    my $live = value(scrape(), 'rce_nodes_live');
    $t->redis('SET', "rce:node:$fake", $json, 'PX', 3000);
    $t->redis('SADD', 'rce:nodes', $fake);
    # (read before the liveness rule drops it: its beat never moves)
    ok(wait_until(sub { $m = scrape(); (value($m, 'rce_nodes_live') // 0) == $live + 1 }, 3),
       'a made-up node report is read');
    $t->redis('SREM', 'rce:nodes', $fake);
    $t->redis('DEL', "rce:node:$fake");
    is_deeply($m->{bad}, [], 'every line still parses');
    promtool_check($m->{text}, 'escaped labels');
    like($m->{text}, qr/\Qrce_jobs_total{language="py\nthon",status="OK",node="fake\"q\\b"} 3\E\n/,
         'a label value with \\, " and a newline is escaped');
    is(value($m, 'rce_jobs_total', language => "py\nthon", node => $fake), 4, 'and reads back as it was');
    my ($c, $b) = histogram_ok($m, 'the made-up histogram', language => "py\nthon", node => $fake, phase => 'run');
    is_deeply($b, [1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4],
              'its buckets made cumulative; one over the last bound is in +Inf only');
    is(value($m, 'rce_job_duration_seconds_sum', node => $fake), 70.5, '_sum in seconds');
    is(value($m, 'rce_queue_length', node => $fake, priority => 'normal'), 2, 'its queue');
    is(value($m, 'rce_queue_length', node => $fake, priority => 'batch'), 3, 'its batch list');
    is(value($m, 'rce_pool_containers', node => $fake, language => 'x', state => 'ready'), 2, 'ready containers: the ids counted');
    is(value($m, 'rce_pool_containers', node => $fake, language => 'x', state => 'starting'), 1, 'starting ones');
}

# --- the gateway's counters survive a reload ---------------------------------------------------
SKIP: {
    skip 'no reload under valgrind (one process)', 2 if $ENV{RCE_VALGRIND};
    my $before = value(scrape(), 'rce_requests_refused_total', reason => 'validation');
    my $dir = $t->dir . '/nginx';
    system('nginx', '-p', "$dir/", '-c', "$dir/nginx.conf", '-s', 'reload') == 0 or die 'reload';
    sleep 1;
    my $s = scrape();
    is($s->{status}, 200, 'GET /metrics after nginx -s reload');
    is(value($s, 'rce_requests_refused_total', reason => 'validation'), $before,
       'the refusals counted before the reload are still there');
}

# --- the Prometheus service's configuration, and the Grafana dashboard: valid, and every
# metric they name is one the gateway exposes ---------------------------------------------------
{
    my ($rc, $out) = capture($promtool, 'check', 'config', RCETest::root() . '/docker/prometheus/prometheus.yml');
    is($rc, 0, 'promtool check config docker/prometheus/prometheus.yml') or diag $out;
    my $dash = do {
        open my $fh, '<', RCETest::root() . '/docs/grafana-dashboard.json' or die $!;
        local $/;
        eval { JSON::PP->new->utf8->decode(scalar <$fh>) };
    };
    ok(ref $dash eq 'HASH', 'docs/grafana-dashboard.json is JSON') or diag $@;
    $dash //= {};
    ok(defined $dash->{$_}, "the dashboard has $_") for qw(title uid schemaVersion panels time templating);
    my (%ids, @bad, %named);
    for my $p (@{ $dash->{panels} // [] }) {
        push @bad, $p->{title} // '?'
            unless defined $p->{id} && !$ids{$p->{id}}++ && $p->{type} && $p->{title}
                   && ref $p->{gridPos} eq 'HASH' && @{ $p->{targets} // [] };
        for my $target (@{ $p->{targets} // [] }) {
            $named{$_} = 1 for $target->{expr} =~ /\b(rce_\w+)/g;
        }
    }
    cmp_ok(scalar @{ $dash->{panels} // [] }, '>=', 8, 'the dashboard has its panels');
    is_deeply(\@bad, [], 'each panel has a unique id, a type, a title, a place and a query');
    my $types = scrape()->{type};
    my @unknown = grep { my $f = $_; !$types->{$f} && !($f =~ s/_(?:bucket|sum|count)$// && $types->{$f}) }
                  sort keys %named;
    is_deeply(\@unknown, [], 'every metric the dashboard queries is exposed')
        or diag "exposed: @{[sort keys %$types]}";
    ok($named{$_}, "the dashboard graphs $_")
        for qw(rce_jobs_total rce_job_duration_seconds_bucket rce_queue_length rce_nodes_live rce_pool_containers);
}

ok(wait_until(sub { !$t->containers }, 10), 'no job container left');
$t->stop_all;
done_testing;
