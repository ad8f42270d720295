#!/usr/bin/perl
# Every language through HTTP (POST /api/v1/run, the whole stack): hello
# world, a line on stdin, a runtime error with its exit code, and for each
# compiled language a compile error (CE with the compiler's message).  The
# programs are the language folders' own (docker/lang/<name>/smoke.src and
# test/): adding a language adds its cases here.  GET /api/v1/languages must
# list every language with its version.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use RCETest qw(wait_until);

my $LANGS = RCETest->root . '/docker/lang';
opendir(my $dh, $LANGS) or die "$LANGS: $!";
my @langs = sort grep { -f "$LANGS/$_/Dockerfile" && -f "$LANGS/$_/smoke.src" } readdir $dh;
closedir $dh;
if ($ENV{RCE_T60_LANGS}) {
    my %want = map { $_ => 1 } split ' ', $ENV{RCE_T60_LANGS};
    @langs = grep { $want{$_} } @langs;
}

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;
$t->start_worker('a', '--slots', '3');
ok($t->wait_nodes('a'), 'node a is live');

my $catalogue = $t->json($t->{http}->get($t->url('/api/v1/languages'))->{content}) // [];
my %listed = map { ($_->{name} => $_) } @$catalogue;

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return undef; local $/; my $s = <$fh>; close $fh; $s }

# the cases of one language: [name, request, check]
sub cases {
    my ($lang) = @_;
    my $dir = "$LANGS/$lang";
    my @c;
    push @c, ['hello', { code => slurp("$dir/smoke.src") }, sub {
        my $j = shift;
        is($j->{status}, 'OK', "$lang hello: OK") or diag explain $j;
        is($j->{run}{stdout}, slurp("$dir/smoke.expected"), "$lang hello: output");
    }];
    push @c, ['stdin', { code => slurp("$dir/test/stdin.src"), stdin => "drill my brain\n" }, sub {
        my $j = shift;
        is($j->{status}, 'OK', "$lang stdin: OK") or diag explain $j;
        is($j->{run}{stdout}, "drill my brain\n", "$lang stdin: echoed");
    }] if -f "$dir/test/stdin.src";
    my $exit = slurp("$dir/test/error.exit");
    push @c, ['runtime error', { code => slurp("$dir/test/error.src") }, sub {
        my $j = shift;
        is($j->{status}, 'RE', "$lang runtime error: RE") or diag explain $j;
        is($j->{run}{exit_code}, $exit + 0, "$lang runtime error: exit code $exit");
    }] if defined $exit && -f "$dir/test/error.src";
    push @c, ['compile error', { code => slurp("$dir/test/compile-error.src") }, sub {
        my $j = shift;
        is($j->{status}, 'CE', "$lang compile error: CE") or diag explain $j;
        like(($j->{compile}{stdout} // '') . ($j->{compile}{stderr} // ''), qr/rce_undefined/,
             "$lang compile error: the compiler's message");
        is($j->{run}, undef, "$lang compile error: nothing ran");
    }] if -f "$dir/test/compile-error.src";
    return @c;
}

# run every case, three at a time (the node's slots), each in a child
my @all = map { my $l = $_; map { [$l, @$_] } cases($l) } @langs;
my $dir = $t->dir;
my %running;
my $next = 0;
while ($next < @all || %running) {
    while ($next < @all && keys %running < 3) {
        my $i = $next++;
        my ($lang, undef, $req) = @{ $all[$i] };
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $res = $t->post('/api/v1/run', JSON::PP->new->utf8->encode({ language => $lang, %$req }),
                               'Content-Type' => 'application/json');
            open my $fh, '>', "$dir/case.$i" or POSIX::_exit(1);
            print $fh "$res->{status}\n$res->{content}";
            close $fh;
            POSIX::_exit(0);
        }
        $running{$pid} = 1;
    }
    my $done = waitpid(-1, 0);
    delete $running{$done};
}

for my $i (0 .. $#all) {
    my ($lang, $name, undef, $check) = @{ $all[$i] };
    my ($status, $body) = split /\n/, slurp("$dir/case.$i") // "0\n", 2;
    is($status, 200, "$lang $name: 200") or diag $body;
    $check->($t->json($body) // {});
}

for my $lang (@langs) {
    ok($listed{$lang}, "$lang is listed by /api/v1/languages");
    like($listed{$lang}{version} // '', qr/^\d+(\.\d+)+/, "$lang has a version");
    is(!!$listed{$lang}{compiled}, !!(-f "$LANGS/$lang/test/compile-error.src"), "$lang: compiled or not, as declared");
}

# an operator's subset (--languages, RCE_LANGUAGES of deploy.sh): the node runs only those
$t->stop_worker('a');
$t->start_worker('s', '--slots', '1', '--languages', 'python, c');
ok($t->wait_nodes('s'), 'node s (--languages "python, c") is live');
my @subset;
ok(wait_until(sub {
    @subset = map { $_->{name} } @{ $t->json($t->{http}->get($t->url('/api/v1/languages'))->{content}) // [] };
    "@subset" eq 'c python' }, 10), 'the subset node lists c and python only') or diag "@subset";
my $sub = $t->json($t->post('/api/v1/run', '{"language":"c","code":"int main(void){return 0;}"}',
                            'Content-Type' => 'application/json')->{content}) // {};
is($sub->{status}, 'OK', 'a language of the subset runs');
# 404 once node a's advertisement has expired; until then 503 "no live worker node"
my $res = $t->post('/api/v1/run', '{"language":"ruby","code":"p 1"}', 'Content-Type' => 'application/json');
like($res->{status}, qr/^(404|503)$/, 'a language outside it does not run') or diag "$res->{status} $res->{content}";

ok(wait_until(sub { !$t->containers }, 20), 'no container left');
$t->stop_all;
done_testing;
