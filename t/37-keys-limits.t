#!/usr/bin/perl
# API keys and per-client limits (issue 19): rce_api_keys reads a key file when nginx reads
# its configuration (a bad file fails nginx -t and a reload, naming the file and the line;
# the old configuration keeps serving); a missing or wrong key is 401 with WWW-Authenticate
# and the JSON error, a right one passes as "Authorization: Bearer" and as "X-API-Key";
# asynchronous jobs are their key's alone (another key's GET, ?ids=, long poll and DELETE
# are 404, exactly as for an unknown id); rce_limit lets exactly its quota through per
# client and window, then 429 with Retry-After and the limit's name, every answer carrying
# RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers) whose values count
# down, across both nginx workers; cpu-seconds are charged from the jobs' results;
# limit_req and limit_conn keyed on $rce_client answer 429 through rce_error; a reload with a
# changed key file under load drops no request, and the new key works, the removed one not.
# Real Redis, nginx, workerd and containers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 ();
use JSON::PP;
use POSIX ();
use HTTP::Tiny;
use Time::HiRes qw(time sleep);
use RCETest qw(wait_until capture);

my $t = RCETest->new;
my $dir = $t->dir;
my $keyfile = "$dir/keys";

my %key = (alice => 'a' x 8 . '-alice-key-0123456789',
           bob   => 'b' x 8 . '-bob-key-0123456789',
           carol => 'c' x 8 . '-carol-key-0123456789');

sub write_keys {
    my ($text) = @_;
    open my $fh, '>', "$keyfile.tmp" or die; print $fh $text; close $fh;
    rename "$keyfile.tmp", $keyfile or die;
}

write_keys("# the gateway's keys: <name> <key>\n\nalice $key{alice}\n   # indented comment\nbob\t$key{bob}\r\n");

my $http_extra = <<"CONF";
    limit_req_zone \$rce_client zone=rq:1m rate=1r/m;
    limit_conn_zone \$rce_client zone=cn:1m;
    limit_req_status 429;
    limit_conn_status 429;
CONF

my $extra = <<"CONF";
        error_page 429 /.rce-error;
        location /k/jobs { rce_api_jobs; rce_api_keys $keyfile; rce_wall_limit 5s; }
        location = /k/run { rce_api_run; rce_api_keys $keyfile; rce_wall_limit 5s; rce_timeout 30s; }
        location = /k/languages { rce_api_languages; rce_api_keys $keyfile; }
        location = /k/health { rce_health; rce_api_keys $keyfile; }
        location = /q/languages { rce_api_languages; rce_api_keys $keyfile; rce_limit zone=q:64k requests=5/1m; }
        location = /a/languages { rce_api_languages; rce_limit zone=a:64k requests=3/1m; }
        location = /c/run { rce_api_run; rce_api_keys $keyfile; rce_wall_limit 5s; rce_timeout 30s;
                            rce_limit zone=c:64k requests=100/1m cpu=2/1m; }
        location /cj/jobs { rce_api_jobs; rce_api_keys $keyfile; rce_wall_limit 5s;
                            rce_limit zone=cj:64k requests=100/1m cpu=2/1m; }
        location /k/v2/ { rce_api_piston; rce_api_keys $keyfile; rce_wall_limit 5s; rce_timeout 30s;
                          rce_limit zone=p:64k requests=2/1m; }
        location = /r/languages { rce_api_languages; rce_api_keys $keyfile; limit_req zone=rq; }
        location = /n/run { rce_api_run; rce_api_keys $keyfile; limit_conn cn 1; rce_wall_limit 5s; rce_timeout 30s; }
        location /k/static/ { rce_api_keys $keyfile; alias $dir/static/; }
        location /w/v2/ { rce_api_piston; rce_api_keys $keyfile; rce_wall_limit 5s; rce_timeout 30s; }
CONF
mkdir "$dir/static";
{ open my $fh, '>', "$dir/static/page.html" or die; print $fh "<p>a page</p>\n"; close $fh; }

$t->start_redis;

# --- a key file nginx cannot use fails nginx -t, naming the file and the line -----------------
{
    $t->{http_port} //= RCETest::free_port();
    my $conf = $t->nginx_conf(extra => $extra, http_extra => $http_extra);
    mkdir "$dir/nginx"; mkdir "$dir/nginx/logs";
    my @bad = (
        ["alice $key{alice}\nbob short\n", qr/"rce_api_keys": "\Q$keyfile\E", line 2: a key has 16 to 256 bytes/],
        ["alice $key{alice}\nalice $key{bob}\n", qr/line 2: the name is listed twice/],
        ["alice $key{alice}\nbob $key{alice}\n", qr/line 2: the key is listed twice/],
        ["alice\n", qr/line 1: a line is "<name> <key>": the key is missing/],
        ["9lives $key{alice}\n", qr/line 1: a name begins with a letter/],
        ["alice $key{alice} extra\n", qr/more follows the key/],
        ["# nothing\n", qr/lists no key \(to turn keys off, "rce_api_keys off;"\)/],
    );
    for my $case (@bad) {
        my ($text, $re) = @$case;
        write_keys($text);
        my ($out, $rc) = capture_t($conf);
        isnt($rc, 0, 'nginx -t refuses the key file');
        like($out, $re, '... saying why') or diag $out;
        unlike($out, qr/\Q$key{alice}\E|\Q$key{bob}\E/, '... without showing a key');
    }
    unlink $keyfile;
    my ($out, $rc) = capture_t($conf);
    like($out, qr/"rce_api_keys": cannot open the key file "\Q$keyfile\E"/, 'a missing key file is named');
    write_keys("# the gateway's keys: <name> <key>\n\nalice $key{alice}\n   # indented comment\nbob\t$key{bob}\r\n");
    ($out, $rc) = capture_t($conf);
    is($rc, 0, 'nginx -t takes the good key file (comments, blank lines, tabs, CRLF)') or diag $out;
}

sub capture_t {
    my ($conf) = @_;
    open my $fh, '>', "$dir/nginx/test.conf" or die; print $fh $conf; close $fh;
    my $out = `nginx -t -p '$dir/nginx/' -c '$dir/nginx/test.conf' 2>&1`;
    return ($out, $? >> 8);
}

$t->start_nginx(extra => $extra, http_extra => $http_extra);
$t->start_worker('a', '--slots', '2');
ok($t->wait_nodes('a'), 'node a is live');

my $json = JSON::PP->new->utf8->canonical;

# (status, decoded body or {}, response); $who: a key name (Bearer), "x:<name>" (X-API-Key),
# "raw:<header value>" (Authorization as given), or undef
sub req {
    my ($method, $path, $who, $body, $http) = @_;
    my %h;
    if (defined $who) {
        if ($who =~ /\Ax:(.*)\z/) { $h{'X-API-Key'} = $key{$1} // $1 }
        elsif ($who =~ /\Araw:(.*)\z/s) { $h{Authorization} = $1 }
        else { $h{Authorization} = "Bearer " . ($key{$who} // $who) }
    }
    $h{'Content-Type'} = 'application/json' if defined $body;
    my $res = ($http // $t->{http})->request($method, $t->url($path),
        { headers => \%h, defined $body ? (content => $json->encode($body)) : () });
    return ($res->{status}, $t->json($res->{content}) // {}, $res);
}

# --- 401: missing and wrong keys; right ones by both headers ----------------------------------
{
    for my $case ([undef, 'no key'], ['wrong-key-0123456789', 'a wrong key'],
                  ["x:wrong-key-0123456789", 'a wrong X-API-Key'], ['raw:Basic YWxpY2U6eA==', 'Basic credentials'],
                  ['raw:Bearer ', 'an empty Bearer'], [substr($key{alice}, 0, -1), 'a key one byte short'],
                  [$key{alice} . 'x', 'a key one byte long']) {
        my ($who, $what) = @$case;
        my ($status, $j, $res) = req('GET', '/k/languages', $who);
        is($status, 401, "$what: 401");
        like($res->{headers}{'www-authenticate'} // '', qr/\ABearer realm="rce"/, '... with WWW-Authenticate: Bearer realm="rce"');
        is($j->{status}, 401, '... and the JSON error');
        like($j->{error} // '', qr/API key/, "... saying so: $j->{error}");
        like($res->{headers}{'content-type'} // '', qr{application/json}, '... as JSON');
    }
    my (undef, undef, $res) = req('GET', '/k/languages', 'x:nobody-0123456789abc');
    like($res->{headers}{'www-authenticate'}, qr/error="invalid_token"/, 'a wrong key: error="invalid_token"');

    my ($status, $j) = req('GET', '/k/languages', 'alice');
    is($status, 200, 'alice by Authorization: Bearer: 200');
    ok(ref $j eq 'ARRAY' && @$j, '... the language list');
    ($status) = req('GET', '/k/languages', 'x:bob');
    is($status, 200, 'bob by X-API-Key: 200');
    ($status) = req('GET', '/k/languages', "raw:bearer   $key{alice}  ");
    is($status, 200, 'the scheme in any case, blanks around the key');

    ($status, $j) = req('POST', '/k/run', undef, { language => 'python', code => 'print(1)' });
    is($status, 401, 'POST /k/run without a key: 401 (the body is not run)');
    ($status, $j) = req('POST', '/k/run', 'bob', { language => 'python', code => 'print(6*7)' });
    is($status, 200, 'POST with a key runs');
    is($j->{run}{stdout}, "42\n", '... its output');

    ($status) = req('GET', '/k/health');
    is($status, 401, 'a health location with keys asks for one');
    my $page = $t->{http}->get($t->url('/k/static/page.html'));
    is($page->{status}, 200, 'a location the module does not serve (static files: the playground, the OpenAPI '
                             . 'document) stays open where keys are set');
    ($status) = req('GET', '/k/health', 'alice');
    is($status, 200, '... and answers with one');
    ($status) = req('GET', '/health');
    is($status, 200, '/health without rce_api_keys asks for none');
    ($status) = req('GET', '/api/v1/languages');
    is($status, 200, 'locations without rce_api_keys are open (keys are off by default)');

    my ($s413, $h413, $b413) = $t->raw_http("POST /k/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n");
    is($s413, 413, "nginx's own refusal (a body over client_max_body_size) without a key: 413");
    is(($t->json($b413) // {})->{limit}, 'client_max_body_size', '... its JSON through rce_error, which asks for no key');
}

# --- asynchronous jobs are their key's alone ----------------------------------------------
{
    my ($status, $j) = req('POST', '/k/jobs', 'alice',
        { language => 'python', code => "import time\ntime.sleep(1.5)\nprint('mine')" });
    is($status, 202, 'alice submits a job');
    my $id = $j->{id};
    my $other = join '', map { sprintf '%x', int rand 16 } 1 .. 32;

    my ($us, $unknown) = req('GET', "/k/jobs/$other", 'bob');
    is($us, 404, 'an unknown id: 404');

    my $t0 = time;
    my ($s, $b, $res) = req('GET', "/k/jobs/$id?wait=10", 'bob');
    is($s, 404, "bob's long poll of alice's job: 404");
    ok(time - $t0 < 1, '... at once, not after the wait');
    is_deeply({ %$b, id => 'ID' }, { %$unknown, id => 'ID' }, '... exactly as for an unknown id (but its id)');

    ($s, $b) = req('GET', "/k/jobs/$id", 'bob');
    is($s, 404, "bob's GET of alice's job: 404");
    is_deeply({ %$b, id => 'ID' }, { %$unknown, id => 'ID' }, '... exactly as for an unknown id (but its id)');

    ($s, $b) = req('GET', "/k/jobs?ids=$id,$other", 'bob');
    is($s, 200, "bob's ?ids=: 200");
    is($b->{jobs}[0]{status}, 404, "... alice's job in it: 404");
    is($b->{jobs}[0]{error}, $b->{jobs}[1]{error}, '... as the unknown one');

    ($s, $b) = req('DELETE', "/k/jobs/$id", 'bob');
    is($s, 404, "bob's DELETE of alice's job: 404");
    is_deeply({ %$b, id => 'ID' }, { %$unknown, id => 'ID' }, '... exactly as for an unknown id (but its id)');

    ($s, $b) = req('GET', "/api/v1/jobs/$id");
    is($s, 404, 'without keys (a location where they are off) the job is not visible either');

    ($s, $b) = req('GET', "/k/jobs/$id?wait=20", 'alice');
    is($s, 200, "alice's long poll: 200");
    is($b->{status}, 'OK', '... the job ran (bob did not cancel it)');
    is($b->{run}{stdout}, "mine\n", '... its output');

    ($s, $b) = req('GET', "/k/jobs/$id", 'bob');
    is($s, 404, "bob still cannot read the finished job");
    ($s, $b) = req('GET', "/k/jobs?ids=$id", 'alice');
    is($b->{jobs}[0]{run}{stdout}, "mine\n", "alice reads it with ?ids=");

    my $owner = $t->redis('HGET', "rce:job:$id", 'owner');
    is($owner, 'alice', 'the state hash names its owner, the key name (not the key)');

    # a job cancelled by its owner, with bob's long poll waiting on another worker meanwhile
    ($status, $j) = req('POST', '/k/jobs', 'alice', { language => 'python', code => "import time\ntime.sleep(20)" });
    my $id2 = $j->{id};
    ($s, $b) = req('DELETE', "/k/jobs/$id2", 'alice');
    ok($s == 200 || $s == 202, "alice cancels her own job ($s)");
    my $done;
    wait_until(sub { (undef, $done) = req('GET', "/k/jobs/$id2", 'alice'); ($done->{status} // '') eq 'CANCELLED' }, 20);
    is($done->{status}, 'CANCELLED', '... CANCELLED');

    # without keys a job has no owner, as before
    ($s, $b) = req('POST', '/api/v1/jobs', undef, { language => 'python', code => 'print(3)' });
    is($s, 202, 'keys off: a job is submitted');
    is($t->redis('HGET', "rce:job:$b->{id}", 'owner'), '', '... with no owner field');
    my ($s3, $b3) = req('GET', "/api/v1/jobs/$b->{id}?wait=20");
    is($b3->{run}{stdout}, "3\n", '... and read without a key');
    ($s3) = req('GET', "/k/jobs/$b->{id}", 'alice');
    is($s3, 404, '... but not by a key');
}

# --- rce_limit: exactly the quota, then 429; the RateLimit fields count down ----------------
{
    my @left;
    for my $i (1 .. 5) {
        my ($s, undef, $res) = req('GET', '/q/languages', 'alice');
        is($s, 200, "request $i of 5: 200");
        is($res->{headers}{'ratelimit-policy'}, '"q";q=5;w=60', '... RateLimit-Policy: "q";q=5;w=60');
        my ($r, $tt) = ($res->{headers}{ratelimit} // '') =~ /\A"q";r=(\d+);t=(\d+)\z/;
        ok(defined $r, "... RateLimit: $res->{headers}{ratelimit}");
        ok($tt >= 1 && $tt <= 60, "... t=$tt within the window");
        push @left, $r;
    }
    is_deeply(\@left, [4, 3, 2, 1, 0], 'r counts down 4, 3, 2, 1, 0');
    my ($s, $j, $res) = req('GET', '/q/languages', 'alice');
    is($s, 429, 'the 6th: 429');
    my $ra = $res->{headers}{'retry-after'} // '';
    like($ra, qr/\A\d+\z/, "... Retry-After: $ra");
    ok($ra >= 1 && $ra <= 60, '... within the window');
    is($j->{limit}, 'q', '... the body names the limit');
    is($j->{status}, 429, '... JSON error');
    is($j->{quota}, 5, '... its quota');
    is($j->{window_s}, 60, '... its window');
    is($res->{headers}{ratelimit}, qq{"q";r=0;t=$ra}, '... RateLimit r=0, t equal to Retry-After');
    ($s) = req('GET', '/q/languages', 'alice');
    is($s, 429, 'and again: refusals are not counted, still 429');

    # another key has its own count; a refused key does not get in for being refused
    my $through = 0;
    for (1 .. 7) { my ($s) = req('GET', '/q/languages', 'x:bob'); $through++ if $s == 200 }
    is($through, 5, 'bob, meanwhile: exactly his own 5 through');
    ($s) = req('GET', '/q/languages');
    is($s, 401, 'no key: 401 (before the limit: nothing is counted)');

    # both nginx workers count against one zone: a burst on fresh connections
    my $burst = 0;
    for (1 .. 5) {
        my $h = HTTP::Tiny->new(keep_alive => 0);
        my ($s) = req('GET', '/q/languages', 'carol-not-a-key', undef, $h);
        $burst++ if $s == 200;
    }
    is($burst, 0, 'a key that is not listed gets through none');

    # keys off: per address
    my @st = map { (req('GET', '/a/languages', undef, undef, HTTP::Tiny->new(keep_alive => 0)))[0] } 1 .. 5;
    is_deeply(\@st, [200, 200, 200, 429, 429], 'keys off: 3 per address through (over fresh connections), then 429');
}

# --- Piston's v2 API under keys and a quota: its clients read "message" ----------------------
{
    my ($s, $j) = req('GET', '/k/v2/runtimes');
    is($s, 401, 'Piston location without a key: 401');
    like($j->{message} // '', qr/API key/, '... with the "message" its clients read');
    ($s, $j) = req('GET', '/k/v2/runtimes', 'alice');
    is($s, 200, '... with a key: 200');
    ok(ref $j eq 'ARRAY', '... the runtimes');
    ($s, $j) = req('POST', '/k/v2/execute', 'alice', { language => 'python', version => '*', files => [{ content => 'print(5)' }] });
    is($s, 200, '... a run');
    is($j->{run}{stdout}, "5\n", '... its output');
    ($s, $j) = req('GET', '/k/v2/runtimes', 'alice');
    is($s, 429, '... the third request of a quota of 2: 429');
    like($j->{message} // '', qr/too many requests/, '... with "message"');
    is($j->{limit}, 'p', '... and the limit');
}

# --- cpu-seconds: charged from each finished job's result ----------------------------------
# Each job burns up to 0.8 s of cpu (less on a loaded machine: what it got is in its result):
# a job is let in while the cpu charged in the window is under 2 s, and refused after.
{
    my ($cum, $refused, $ok, @seen) = (0, 0, 1);
    my $burn = { language => 'python', code => "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.8: pass" };
    for my $i (1 .. 12) {
        my ($s, $j, $res) = req('POST', '/c/run', 'bob', $burn);
        my ($r) = ($res->{headers}{ratelimit} // '') =~ /"c-cpu";r=(\d+);t=\d+/;
        if ($cum < 2000) {
            $ok &&= is($s, 200, "job $i, $cum cpu ms charged so far: 200") && is($r, int((2000 - $cum + 999) / 1000), "... RateLimit \"c-cpu\";r=$r (cpu-seconds left, rounded up: a job is still let in)");
            $cum += $j->{run}{cpu_ms} // 0;
            push @seen, $j->{run}{cpu_ms} // 'null';
            next;
        }
        is($s, 429, "job $i, $cum cpu ms charged: 429") or diag $json->encode($j);
        is($j->{limit}, 'c-cpu', '... naming the cpu limit');
        is($j->{quota}, 2, '... its quota, cpu-seconds');
        like($res->{headers}{ratelimit} // '', qr/\A"c";r=\d+;t=\d+, "c-cpu";r=0;t=\d+\z/, '... RateLimit: r=0 for cpu');
        my $ra = $res->{headers}{'retry-after'} // 0;
        ok($ra >= 1 && $ra <= 60, "... Retry-After: $ra");
        $refused = 1;
        last;
    }
    ok($refused, 'the cpu quota ran out (jobs: ' . join(', ', @seen) . ' cpu ms)');
    my ($s, undef, $res) = req('POST', '/c/run', 'alice', { language => 'python', code => 'print(1)' });
    is($s, 200, 'another key still runs');
    like($res->{headers}{ratelimit} // '', qr/"c-cpu";r=2;/, '... its own 2 cpu-seconds');

    # a client that leaves before its result saves no quota: its jobs' cpu is charged
    my $quick = HTTP::Tiny->new(timeout => 0.5);
    my $long = { language => 'python', code => "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.2: pass" };
    for (1 .. 2) {
        ($s) = req('POST', '/c/run', 'alice', $long, $quick);
        is($s, 599, 'alice gives up on a cpu-heavy job after 0.5 s');
    }
    sleep 6;    # both end within their 5 s wall limit
    ($s, undef, $res) = req('POST', '/c/run', 'alice', { language => 'python', code => 'print(1)' });
    like($res->{headers}{ratelimit} // '', qr/"c-cpu";r=0;/,
         '... their cpu was charged all the same (no whole cpu-second left)')
        or diag $res->{headers}{ratelimit};
    like($res->{headers}{'ratelimit-policy'} // '', qr/\A"c";q=100;w=60, "c-cpu";q=2;w=60;rce-unit="cpu-seconds"\z/,
         '... RateLimit-Policy names both quotas');
}

# --- ... and from asynchronous jobs' results, which reach no request ----------------------
{
    my ($cum, $refused, @seen) = (0, 0);
    my $burn = { language => 'python', code => "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.8: pass" };
    for my $i (1 .. 12) {
        my ($s, $j, $res) = req('POST', '/cj/jobs', 'alice', $burn);
        if ($cum < 2000) {
            is($s, 202, "async job $i, $cum cpu ms charged so far: 202") or last;
            my (undef, $done) = req('GET', "/cj/jobs/$j->{id}?wait=30", 'alice');
            $cum += $done->{run}{cpu_ms} // 0;
            push @seen, $done->{run}{cpu_ms} // 'null';
            sleep 0.3;      # the worker that queued it charges it, as the result is published
            next;
        }
        is($s, 429, "async job $i, $cum cpu ms charged: 429") or diag $json->encode($j);
        is($j->{limit}, 'cj-cpu', '... naming the cpu limit');
        $refused = 1;
        last;
    }
    ok($refused, 'the cpu of asynchronous jobs is charged too (jobs: ' . join(', ', @seen) . ' cpu ms)');
}

# --- nginx's limit_req and limit_conn on $rce_client, answered through rce_error ------------
{
    my ($s, $j, $res) = req('GET', '/r/languages', 'alice');
    is($s, 200, 'limit_req (1r/m): the first request passes');
    ($s, $j, $res) = req('GET', '/r/languages', 'alice');
    is($s, 429, '... the second: 429');
    is($j->{limit}, 'limit_req', '... the JSON body names limit_req');
    is($res->{headers}{'retry-after'}, '1', '... with Retry-After');
    ($s) = req('GET', '/r/languages', 'bob');
    is($s, 200, '... another key has its own bucket');

    # a refused POST's body is not read as the next request on its connection
    my $body = '{"language":"python","code":"print(1)"}';
    my (undef, undef, undef, undef, $raw) = $t->raw_http(
        "POST /r/languages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $key{alice}\r\n"
        . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body"
        . "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    my @codes = $raw =~ m{^HTTP/1\.1 (\d{3}) }mg;
    is("@codes", '429 200', 'a POST refused by limit_req, then a GET on the same connection: 429, 200');

    # limit_conn 1: two jobs of one key at once, the second refused
    my $pid = fork // die;
    if ($pid == 0) {
        req('POST', '/n/run', 'alice', { language => 'python', code => "import time\ntime.sleep(3)" },
            HTTP::Tiny->new(timeout => 30));
        POSIX::_exit(0);
    }
    sleep 1;
    ($s, $j, $res) = req('POST', '/n/run', 'alice', { language => 'python', code => 'print(1)' });
    is($s, 429, 'limit_conn 1: a second concurrent job of the key: 429');
    is($j->{limit}, 'limit_conn', '... naming limit_conn');
    ($s) = req('POST', '/n/run', 'bob', { language => 'python', code => 'print(1)' });
    is($s, 200, '... another key runs meanwhile');
    waitpid $pid, 0;
}

# --- reload: a bad key file keeps the old configuration; a changed one under load ----------
# (not under valgrind: nginx without a master process does not start new workers on a reload)
SKIP: {
    skip 'nginx -s reload needs a master process (RCE_VALGRIND runs nginx without one)', 10
        if $ENV{RCE_VALGRIND};
    my $ngx = "nginx -p '$dir/nginx/' -c '$dir/nginx/nginx.conf'";
    write_keys("alice $key{alice}\nbob short\n");
    my $said = `$ngx -s reload 2>&1`;
    isnt($? >> 8, 0, 'nginx -s reload with a bad key file fails');
    like($said, qr/"rce_api_keys": "\Q$keyfile\E", line 2: a key has 16 to 256 bytes/, '... saying why');
    # the master itself, signalled directly, refuses the new configuration too
    my $master = $t->slurp("$dir/nginx/nginx.pid") =~ s/\s+//gr;
    kill 'HUP', $master;
    ok(wait_until(sub { $t->nginx_log =~ /\[emerg\].*"rce_api_keys": "\Q$keyfile\E", line 2: a key has 16 to 256 bytes/ }, 10),
       'a SIGHUP with a bad key file: the master logs why and keeps its configuration');
    # that [emerg] was asked for: out of the log that stop_all checks for alerts
    my $log = "$dir/nginx/logs/error.log";
    my $kept = join '', grep { !/\[emerg\].*"rce_api_keys"/ } split /^/, $t->slurp($log);
    open my $lf, '+<', $log or die; truncate $lf, 0; print $lf $kept; close $lf;
    sleep 0.5;
    my ($s) = req('GET', '/k/languages', 'bob');
    is($s, 200, '... and the old configuration keeps serving (bob still works)');

    write_keys("alice $key{alice}\nbob $key{bob}\n");
    my $out = "$dir/reload-load";
    my @pids;
    for my $c (1 .. 2) {
        my $pid = fork // die;
        if ($pid == 0) {
            my $h = HTTP::Tiny->new(keep_alive => 0, timeout => 30);
            open my $fh, '>', "$out.$c" or die;
            for my $i (1 .. 150) {
                my ($s, $j) = $i % 10 == 0
                    ? req('POST', '/k/run', 'alice', { language => 'python', code => "print($i)" }, $h)
                    : req('GET', '/k/languages', $i % 2 ? 'alice' : 'x:alice', undef, $h);
                print $fh "$s " . ($i % 10 == 0 ? 'run' : 'languages') . ' ' . (ref $j eq 'HASH' && $j->{error} ? $j->{error} : '-') . "\n";
                sleep 0.01;
            }
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    sleep 0.5;
    write_keys("alice $key{alice}\ncarol $key{carol}\n");
    is(system("$ngx -s reload"), 0, 'nginx -s reload with bob removed and carol added, under load');
    waitpid $_, 0 for @pids;
    my @st = map { chomp; $_ } map { open my $fh, '<', "$out.$_" or die; <$fh> } 1 .. 2;
    is(scalar @st, 300, '300 requests made during the reload');
    my @not = grep { !/\A200 / } @st;
    is(scalar @not, 0, '... every one answered 200 (none dropped, none refused)')
        or diag join "\n", @not;
    ok(wait_until(sub { (req('GET', '/k/languages', 'carol'))[0] == 200 }, 10), 'the new key (carol) works');
    ok(wait_until(sub { (req('GET', '/k/languages', 'bob'))[0] == 401 }, 10), 'the removed key (bob) gets 401');
    my $fresh = 0;
    for (1 .. 6) {
        $fresh++ if (req('GET', '/k/languages', 'bob', undef, HTTP::Tiny->new(keep_alive => 0)))[0] == 401;
    }
    is($fresh, 6, '... on every new connection (both workers)');
}

# --- a WebSocket's key: the subprotocol "rce.key.<base64url>" beside "rce" (a browser can send
# no header on a WebSocket) -------------------------------------------------------------------
SKIP: {
    my $js = RCETest->root . '/t/js';
    skip 'no node or no t/js/node_modules/ws', 11
        unless -d "$js/node_modules/ws" && system('node --version >/dev/null 2>&1') == 0;
    my $b64url = sub { (my $s = MIME::Base64::encode_base64($_[0], '')) =~ tr{+/}{-_}; $s =~ s/=+\z//; $s };
    my $steps = $json->encode([{ send => { type => 'init', language => 'python', version => '*',
                                           files => [{ content => 'print(6 * 7)' }] } },
                               { wait => { type => 'exit' } }]);
    my $ws = sub {
        my ($protocols) = @_;
        local $ENV{RCE_WS_PROTOCOLS} = $protocols;
        my $url = $t->url('/w/v2/connect') =~ s{^http}{ws}r;
        return [ map { $json->decode($_) } grep { /^\{/ } split /\n/, `node '$js/ws-client.mjs' '$url' '$steps' 20000 2>&1` ];
    };
    my $seen = $ws->('rce,rce.key.' . $b64url->($key{alice}));
    my ($open) = grep { $_->{open} } @$seen;
    is($open && $open->{protocol}, 'rce', 'WebSocket: the key as subprotocol rce.key.<base64url>: open, "rce" chosen');
    my $out = join '', map { $_->{msg}{data} // '' } grep { ($_->{msg}{type} // '') eq 'data' } @$seen;
    is($out, "42\n", '... and the run streams') or diag explain $seen;
    my ($http) = grep { $_->{http} } @$seen;
    ok(!$http, '... no HTTP refusal');
    for my $case (['rce,rce.key.' . $b64url->('wrong-key-0123456789'), 'a wrong key', qr/invalid_token/],
                  ['rce,rce.key.!!!!', 'a key that is not base64url', qr/invalid_token/],
                  ['rce,rce.key.' . ('A' x 400), 'a key longer than any key', qr/invalid_token/],
                  ['rce', 'no key', qr/^Bearer realm="rce"$/]) {
        my ($protocols, $name, $challenge) = @$case;
        ($http) = grep { $_->{http} } @{ $ws->($protocols) };
        is($http && $http->{http}, 401, "WebSocket, $name: 401");
        like($http && $http->{headers}{'www-authenticate'}, $challenge, "... with its WWW-Authenticate");
    }
}

$t->stop_all;
done_testing;
