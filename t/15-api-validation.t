#!/usr/bin/perl
# POST /api/v1/run: every malformed request gets 400 (or 404/413) with a JSON
# error naming the field, and nothing is queued; GET /api/v1/languages lists
# what the live nodes run.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 qw(encode_base64);
use RCETest qw(wait_until);

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;
$t->start_worker('a', '--slots', '1');
ok($t->wait_nodes('a'), 'node a is live');

my $json = JSON::PP->new->utf8->canonical;

sub api {
    my ($body, %h) = @_;
    my $res = $t->post('/api/v1/run', ref $body ? $json->encode($body) : $body,
                       'Content-Type' => 'application/json', %h);
    return ($res, $t->json($res->{content}) // {});
}

my @cases = (
    # [name, body, status, field, message regex]
    ['invalid JSON', '{"language": "python",', 400, undef, qr/invalid JSON at line 1/],
    ['not UTF-8', qq({"language": "python", "code": "\xff\xfe"}), 400, undef, qr/invalid JSON.*(?:UTF-8|unicode|decode)/i],
    ['not an object', '[1, 2]', 400, undef, qr/JSON object/],
    ['unknown field', { language => 'python', code => 'print(1)', timeout => 3 }, 400, 'timeout', qr/unknown field/],
    ['language missing', { code => 'print(1)' }, 400, 'language', qr/non-empty string/],
    ['language not a string', { language => 7, code => 'print(1)' }, 400, 'language', qr/string/],
    ['code and files', { language => 'python', code => 'x', files => [{ content => 'y' }] }, 400, 'code', qr/not both/],
    ['no code', { language => 'python' }, 400, 'files', qr/non-empty array/],
    ['empty code', { language => 'python', code => '' }, 400, 'code', qr/non-empty/],
    ['files not an array', { language => 'python', files => 'print(1)' }, 400, 'files', qr/array/],
    ['too many files', { language => 'python', files => [map { { name => "f$_.py", content => '1' } } 1 .. 5] }, 400, 'files', qr/at most 4 files/],
    ['file not an object', { language => 'python', files => ['print(1)'] }, 400, 'files', qr/files\[0\] must be an object/],
    ['file with a slash', { language => 'python', files => [{ name => 'a/b.py', content => '1' }] }, 400, 'files', qr/files\[0\]\.name must be a plain file name/],
    ['file named ..', { language => 'python', files => [{ name => '..', content => '1' }] }, 400, 'files', qr/files\[0\]\.name/],
    ['second file without a name', { language => 'python', files => [{ content => '1' }, { content => '2' }] }, 400, 'files', qr/files\[1\]\.name is required/],
    ['file names repeat', { language => 'python', files => [{ name => 'a.py', content => '1' }, { name => 'a.py', content => '2' }] }, 400, 'files', qr/repeats/],
    ['content not a string', { language => 'python', files => [{ content => 5 }] }, 400, 'files', qr/content must be a string/],
    ['unknown file field', { language => 'python', files => [{ content => '1', mode => 'x' }] }, 400, 'files', qr/unknown field "mode"/],
    ['bad encoding', { language => 'python', files => [{ content => '1', encoding => 'hex' }] }, 400, 'files', qr/"utf8" or "base64"/],
    ['invalid base64', { language => 'python', files => [{ content => 'not base64!', encoding => 'base64' }] }, 400, 'files', qr/not valid base64/],
    ['stdin not a string', { language => 'python', code => '1', stdin => [1] }, 400, 'stdin', qr/string/],
    ['args not an array', { language => 'python', code => '1', args => 'a b' }, 400, 'args', qr/array/],
    ['arg not a string', { language => 'python', code => '1', args => ['a', 2] }, 400, 'args', qr/args\[1\]/],
    ['limits not an object', { language => 'python', code => '1', limits => 5 }, 400, 'limits', qr/object/],
    ['unknown limit', { language => 'python', code => '1', limits => { disk_mb => 5 } }, 400, 'limits', qr/unknown limit "disk_mb"/],
    ['limit of the wrong type', { language => 'python', code => '1', limits => { wall_ms => '5000' } }, 400, 'limits', qr/limits\.wall_ms must be a positive integer/],
    ['negative limit', { language => 'python', code => '1', limits => { memory_mb => -1 } }, 400, 'limits', qr/limits\.memory_mb/],
    ['version not a string', { language => 'python', code => '1', version => 3 }, 400, 'version', qr/string/],
);

for my $c (@cases) {
    my ($name, $body, $status, $field, $re) = @$c;
    my ($res, $j) = api($body);
    is($res->{status}, $status, "$name: $status");
    like($j->{error} // '', $re, "$name: the message says why") or diag $res->{content};
    is($j->{field}, $field, "$name: names the field") if defined $field;
}

{
    my ($res, $j) = api({ language => 'klingon', code => 'x' });
    is($res->{status}, 404, 'unknown language: 404');
    ok(RCETest::has_core_languages($j->{known}), '404 lists the known languages, sorted');

    ($res, $j) = api({ language => 'python', files => [{ name => 'big.py', content => encode_base64('x' x 70000, '') , encoding => 'base64' }] });
    is($res->{status}, 413, 'decoded files over the code limit: 413');

    # a version no node runs: 404 naming the field and the versions there are
    my $langs = $t->json($t->{http}->get($t->url('/api/v1/languages'))->{content}) // [];
    my ($py) = grep { $_->{name} eq 'python' } @$langs;
    ($res, $j) = api({ language => 'python', version => '0.0.0-none', code => 'print(1)' });
    is($res->{status}, 404, 'a version no node runs: 404');
    is($j->{field}, 'version', 'the 404 names the field version');
    like($j->{error} // '', qr/version/, 'the message is about the version') or diag $res->{content};
    is_deeply($j->{versions}, [$py->{version}], 'and lists the versions that exist')
        or diag $res->{content};
    ok(!exists $j->{known}, 'not taken for an unknown language');

    ($res, $j) = api({ language => 'python', version => $py->{version}, code => 'print(1)' });
    is($res->{status}, 200, 'the version the nodes run is accepted');

    $res = $t->{http}->get($t->url('/api/v1/run'));
    is($res->{status}, 405, 'GET /api/v1/run: 405');
    is($res->{headers}{allow}, 'POST', 'with Allow: POST');

    $res = $t->{http}->get($t->url('/api/v1/nothing'));
    is($res->{status}, 404, 'an unknown endpoint: 404');
    like($res->{headers}{'content-type'} // '', qr{^application/json}, '... as JSON');
    like(($t->json($res->{content}) // {})->{error} // '', qr{/api/v1/run}, '... naming the routes');
    $res = $t->{http}->post($t->url('/api/v1/run/'), { content => '{}' });
    is($res->{status}, 404, '/api/v1/run/ (a slash after): 404 JSON too')
        or diag $res->{content};
}

is($t->redis('LLEN', 'rce:queue:' . $t->node_name('a')), 0, 'nothing was queued by a bad request');

# --- GET /api/v1/languages ------------------------------------------------------
{
    my $res = $t->{http}->get($t->url('/api/v1/languages'));
    is($res->{status}, 200, '/api/v1/languages: 200');
    my $list = $t->json($res->{content});
    is(ref $list, 'ARRAY', 'an array');
    ok(RCETest::has_core_languages([map { $_->{name} } @$list]), 'the languages, sorted');
    my ($py) = grep { $_->{name} eq 'python' } @$list;
    ok(exists $py->{$_}, "an entry has $_") for qw(name version aliases compiled);
    ok((grep { $_ eq 'py' } @{ $py->{aliases} }), 'python has the alias py');
}

$t->stop_all;
done_testing;
