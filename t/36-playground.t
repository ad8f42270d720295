#!/usr/bin/perl
# The web playground at / and the embeddable widget (issue 18), in a real
# browser: Debian's chromium, headless, driven by playwright-core (pinned by
# playground/package-lock.json) against the real stack.  The checks are
# playground/test/browser.mjs's, one line each; this file starts the stack,
# answers what the browser session asks of it (are the stopped job's
# containers gone? stop the node), and runs the JS unit tests of the page's
# pure parts (node --test).
#
# Needs: make playground (build/playground, with npm ci in playground/),
# chromium (apt-get install chromium): ./deploy.sh test does both.
# Screenshots of each step: t/artifacts/36-playground/ (RCE_ARTIFACTS to put
# them elsewhere); RCE_DOCS_SHOT=1 also rewrites docs/playground.png.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IPC::Open2 qw(open2);
use File::Path qw(make_path remove_tree);
use RCETest qw(wait_until);

my $root = RCETest::root();
my $chromium = $ENV{RCE_CHROMIUM} // '/usr/bin/chromium';
my $built = $ENV{RCE_PLAYGROUND_DIR} // "$root/build/playground";
my $artifacts = $ENV{RCE_ARTIFACTS} // "$root/t/artifacts/36-playground";
my $docs_shot = "$root/docs/playground.png";

# --- the JS unit tests (no stack needed) ----------------------------------------------
ok(-x $chromium, "chromium is installed ($chromium)")
    or diag 'apt-get install -y chromium (./deploy.sh test installs it)';
ok(-f "$root/playground/node_modules/playwright-core/package.json", 'playwright-core is installed in playground/')
    or diag 'npm ci --prefix playground (./deploy.sh test runs it)';
ok(-f "$built/index.html" && -f "$built/assets/app.js" && -f "$built/widget.js" && -f "$built/assets/hellos.json",
   "the playground is built ($built)")
    or diag 'make playground (./deploy.sh test runs it)';
unless (-x $chromium && -f "$built/index.html" && -f "$root/playground/node_modules/playwright-core/package.json") {
    done_testing;
    exit;
}

{
    my $out = `cd '$root/playground' && node --test test/*.test.mjs 2>&1`;
    my $rc = $?;
    my ($pass) = $out =~ /^# pass (\d+)/m;
    my ($fail) = $out =~ /^# fail (\d+)/m;
    ok($rc == 0 && $pass && !$fail, "JS unit tests (node --test playground/test/*.test.mjs): ${\($pass // 0)} passed, ${\($fail // '?')} failed")
        or diag $out;
}

# hellos.json is docker/lang/*/smoke.src, one source for both
{
    my $h = JSON::PP->new->decode(do { local (@ARGV, $/) = "$built/assets/hellos.json"; <> });
    my @langs = map { m{/([^/]+)/smoke\.src$} } glob("$root/docker/lang/*/smoke.src");
    is_deeply([sort keys %$h], [sort @langs], 'hellos.json has a hello world for each language folder');
    my $src = do { local (@ARGV, $/) = "$root/docker/lang/c/smoke.src"; <> };
    is($h->{c}, $src, "c's hello world is docker/lang/c/smoke.src");
}

# --- the stack, with the widget's example page on the same origin ---------------------------
my $t;
my $example_dir;
$t = RCETest->new;
$example_dir = $t->dir . '/example';
mkdir $example_dir or die "$example_dir: $!";
chmod 0755, $example_dir;
$t->start_redis;
# a gateway that asks for a key: the page and the API under /keyed/ (the page's own origin)
my $keyfile = $t->dir . '/keys';
$ENV{RCE_PLAYGROUND_KEY} = 'pl4yground+key/0123456789';   # base64url's '-' and '_' on the socket
{ open my $fh, '>', $keyfile or die $!; print $fh "ada $ENV{RCE_PLAYGROUND_KEY}\n"; close $fh }
$t->start_nginx(extra => "location /example/ { alias $example_dir/; types { text/html html; } }
        location = /keyed/ { root $built; try_files /index.html =404; types { text/html html; } }
        location /keyed/assets/ { alias $built/assets/; types { application/javascript js; text/css css; application/json json; } }
        location = /keyed/api/v1/languages { rce_api_languages; rce_api_keys $keyfile; }
        location = /keyed/api/v1/run { rce_api_run; rce_api_keys $keyfile; rce_wall_limit 5s; rce_timeout 30s; }
        location /keyed/api/v2/ { rce_api_piston; rce_api_keys $keyfile; rce_wall_limit 5s; rce_timeout 30s; }");
$t->start_worker('a', '--slots', '4');
ok($t->wait_nodes('a'), 'node a is live');
my $base = $t->url('');

# the page and its files, as the gateway serves them; the API beside them unchanged
{
    my $res = $t->{http}->get("$base/");
    is($res->{status}, 200, 'GET /: 200');
    like($res->{headers}{'content-type'}, qr{^text/html}, 'GET /: text/html');
    like($res->{content}, qr{<title>rce playground</title>}, 'GET /: the playground');
    $res = $t->{http}->get("$base/assets/app.js");
    is($res->{status}, 200, 'GET /assets/app.js: 200');
    like($res->{headers}{'content-type'}, qr{javascript}, 'app.js is served as JavaScript (a module script needs it)');
    $res = $t->{http}->get("$base/widget.js");
    like($res->{headers}{'content-type'} // '', qr{javascript}, 'GET /widget.js: JavaScript');
    $res = $t->{http}->get("$base/api/v1/languages");
    is($res->{status}, 200, 'the API still answers beside the page');
    $res = $t->{http}->get("$base/api/v1/nothing");
    is($res->{status}, 404, 'an unknown API path is still the JSON 404');
    like($res->{content}, qr/^\{/, '... in JSON');
}

# the documented example page, pointed at this gateway
{
    my $html = do { local (@ARGV, $/) = "$root/docs/widget-example.html"; <> };
    my $n = $html =~ s{http://localhost:8080/}{$base/}g;
    ok($n >= 1, 'docs/widget-example.html names the gateway (replaced by the test\'s)');
    open my $fh, '>', "$example_dir/widget-example.html" or die $!;
    print $fh $html;
    close $fh;
    chmod 0644, "$example_dir/widget-example.html";
}

# --- the browser session -------------------------------------------------------------------
remove_tree($artifacts);
make_path($artifacts);
my @cmd = ('node', "$root/playground/test/browser.mjs", $base, $artifacts);
push @cmd, $docs_shot if $ENV{RCE_DOCS_SHOT} || !-e $docs_shot;
my $pid = open2(my $from, my $to, @cmd) or die "node: $!";
$to->autoflush(1);
my $json = JSON::PP->new;
my ($done, $checks) = (0, 0);
while (my $line = <$from>) {
    chomp $line;
    my $m = eval { $json->decode($line) };
    unless ($m) { diag "browser.mjs: $line"; next }
    if (exists $m->{ok}) {
        $checks++;
        ok($m->{ok}, "browser: $m->{name}") or diag $m->{diag};
    } elsif (($m->{ask} // '') eq 'job-containers-gone') {
        # a stopped run: its container must go at once, not at its 5 s wall
        # limit (a warm container the pool starts meanwhile is no job's)
        my %then = map { ($_ => 1) } $t->containers;
        my $gone = wait_until(sub { !grep { $then{$_} } $t->containers }, 3);
        diag 'left: ' . join ' ', $t->containers unless $gone;
        print $to ($gone ? "yes\n" : "no: " . join(' ', $t->containers) . "\n");
    } elsif (($m->{ask} // '') eq 'stop-workers') {
        $t->stop_worker('a');
        # the node's key goes when it stops; the gateway sees it within a second
        my $gone = wait_until(sub { my $r = $t->{http}->get("$base/health"); $r->{status} == 503 }, 10);
        print $to ($gone ? "yes\n" : "no: /health still 200\n");
    } elsif ($m->{done}) {
        $done = 1;
    }
}
waitpid $pid, 0;
is($? >> 8, 0, 'browser.mjs exited cleanly');
ok($done, "the browser session ended ($checks checks)");
if (-e $docs_shot) {
    my $size = -s $docs_shot;
    ok($size < 200 * 1024, "docs/playground.png is small ($size bytes)");
}
diag "screenshots: $artifacts";

$t->stop_all;
done_testing;
