#!/usr/bin/perl
# nginx -t accepts a good configuration and rejects bad directive values with
# a message that names the directive.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);

my $so = $ENV{RCE_MODULE_SO};
ok($so && -e $so, 'RCE_MODULE_SO points at the built module') or BAIL_OUT('no module');

my $dir = tempdir('rce-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub nginx_t {
    my ($http, $location, $server) = @_;
    $server //= '';
    open my $fh, '>', "$dir/nginx.conf" or die;
    print $fh <<"CONF";
load_module $so;
error_log $dir/error.log;
pid $dir/nginx.pid;
events {}
http {
    access_log off;
    client_body_temp_path $dir/body;
    $http
    server {
        listen 127.0.0.1:1;
        location /lang/ { rce_run; $location }
        location = /health { rce_health; }
        location = /api/v1/run { rce_api_run; }
        location = /api/v1/languages { rce_api_languages; }
        $server
    }
}
CONF
    close $fh;
    my $out = `nginx -t -p $dir/ -c $dir/nginx.conf 2>&1`;
    return ($? == 0, $out);
}

my ($ok, $out) = nginx_t('rce_redis 127.0.0.1:6379;',
    'rce_timeout 30s; rce_max_code_size 64k; rce_balance round-robin;');
ok($ok, 'a good configuration passes nginx -t') or diag $out;

($ok, $out) = nginx_t('rce_redis unix:/run/redis.sock;', '');
ok($ok, 'a unix socket address is accepted') or diag $out;

($ok, $out) = nginx_t('', 'rce_compile_limit 30s;', 'location /api/v2/ { rce_api_piston; }');
ok($ok, "Piston's v2 API in its own location passes nginx -t") or diag $out;

my @bad = (
    ['rce_redis "";', '', qr/rce_redis/],
    ['rce_redis 127.0.0.1:99999;', '', qr/rce_redis/],
    ['rce_redis 127.0.0.1:6379; rce_redis 127.0.0.1:6380;', '', qr/"rce_redis" directive is duplicate/],
    ['', 'rce_timeout soon;', qr/"rce_timeout"/],
    ['', 'rce_timeout 0;', qr/"rce_timeout"/],
    ['', 'rce_max_code_size big;', qr/"rce_max_code_size"/],
    ['', 'rce_max_code_size 0;', qr/"rce_max_code_size"/],
    ['', 'rce_wall_limit -1;', qr/"rce_wall_limit"/],
    ['', 'rce_memory_limit 1k;', qr/"rce_memory_limit"/],
    ['', 'rce_output_limit lots;', qr/"rce_output_limit"/],
    ['', 'rce_pids_limit 0;', qr/"rce_pids_limit"/],
    ['', 'rce_pids_limit many;', qr/"rce_pids_limit"/],
    ['', 'rce_wall_limit 20s; rce_timeout 10s;', qr/"rce_timeout".*"rce_wall_limit"/],
    ['', 'rce_run;', qr/"rce_run" directive is duplicate/],
    ['', 'rce_balance fastest;', qr/"rce_balance"/],
    # one directive per API endpoint, each in its own location
    ['', '', qr/"rce_api" directive is replaced by.*rce_api_run;.*rce_api_languages;/,
     'location /api/v1/ { rce_api; }'],
    ['', '', qr/"rce_api_languages" directive is duplicate/,
     'location = /api/v1/other { rce_api_run; rce_api_languages; }'],
    ['', '', qr/"rce_timeout".*"rce_wall_limit"/,
     'location = /api/v2/run { rce_api_run; rce_wall_limit 20s; rce_timeout 10s; }'],
    ['', '', qr/"rce_api_languages" directive is not allowed here/,
     'rce_api_languages;'],
    # Piston's v2 API: its own location, the same rule for its timeout
    ['', '', qr/"rce_api_piston" directive is duplicate/,
     'location /api/v2/ { rce_api_piston; rce_api_piston; }'],
    ['', '', qr/"rce_timeout".*"rce_wall_limit"/,
     'location /api/v2/ { rce_api_piston; rce_wall_limit 20s; rce_timeout 10s; }'],
    ['', '', qr/"rce_timeout".*"rce_compile_limit" 20000ms together/,
     'location /api/v2/ { rce_api_piston; rce_wall_limit 10s; rce_timeout 25s; }'],
    ['', 'rce_compile_limit soon;', qr/"rce_compile_limit"/],
    ['', 'rce_compile_limit 0;', qr/"rce_compile_limit"/],
    # per-client quotas (rce_limit) and API keys (rce_api_keys; t/37 checks the key file)
    ['', 'rce_limit zone=q:64k;', qr/"rce_limit" directive needs zone=<name>:<size> and requests=/],
    ['', 'rce_limit zone=q requests=5/1m;', qr/"rce_limit" directive needs zone=<name>:<size>/],
    ['', 'rce_limit zone=q:1k requests=5/1m;', qr/"rce_limit" directive needs .*at least 32k/],
    ['', 'rce_limit zone=q:64k requests=0/1m;', qr/invalid "requests=0\/1m" in "rce_limit"/],
    ['', 'rce_limit zone=q:64k requests=5/0s;', qr/invalid "requests=5\/0s" in "rce_limit"/],
    ['', 'rce_limit zone=q:64k requests=5;', qr/invalid "requests=5" in "rce_limit"/],
    ['', 'rce_limit zone=q:64k requests=5/1m cpu=lots;', qr/invalid "cpu=lots" in "rce_limit"/],
    ['', 'rce_limit zone=q:64k requests=5/1m burst=3;', qr/invalid parameter "burst=3" in "rce_limit"/],
    ['', 'rce_limit zone=q:64k requests=5/1m; rce_limit off;', qr/"rce_limit" directive is duplicate/],
    ['', 'rce_limit zone=q:64k requests=5/1m;', qr/"rce_limit" zone "q" is already used with other limits/,
     'location = /x { rce_health; rce_limit zone=q:64k requests=6/1m; }'],
    ['', 'rce_api_keys /nonexistent/rce.keys;', qr/"rce_api_keys": cannot open the key file "\/nonexistent\/rce.keys"/],
    ['', 'rce_api_keys off; rce_api_keys off;', qr/"rce_api_keys" directive is duplicate/],
);

($ok, $out) = nginx_t('rce_limit zone=q:64k requests=5/1m cpu=30/1h; rce_api_keys off;', 'rce_limit off;',
    'location = /x { rce_health; rce_limit zone=q:64k requests=5/1m cpu=30/1h; }');
ok($ok, 'rce_limit at http level, off below, and one zone shared with the same limits pass nginx -t') or diag $out;

for my $case (@bad) {
    my ($http, $loc, $re, $server) = @$case;
    ($ok, $out) = nginx_t($http, $loc, $server);
    my $what = join ' ', grep { length } $http, $loc, $server // '';
    ok(!$ok, "rejected: $what");
    like($out, $re, "message names the directive: $what");
}

done_testing;
