#!/usr/bin/perl
# Every language image, without workerd: its labels are present and well
# formed (docker image inspect), and its programs run in the sandbox the way
# the labels say (docker/lang/try.sh: the compile step under the compile
# limits, then the run step under the run limits, both with workerd's flags):
#
#   smoke.src            hello world, prints smoke.expected, exit 0
#   test/stdin.src       echoes the line "drill my brain" read from stdin
#   test/error.src       prints "before", then dies of a runtime error with
#                        the exit status in test/error.exit
#   test/compile-error.src  (compiled languages only) the compile step fails
#                        and its output names the identifier rce_undefined
#   smoke.src again, with the image's ENV kept (workerd's wrapper keeps only
#   PATH, HOME and LANG; both must work)
#
# Missing images are built first (docker/build-images.sh LANG).  Languages
# run RCE_T60_JOBS (3) at a time; RCE_T60_LANGS="c go" limits the set.

use strict;
use warnings;
use FindBin;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(time);

my $ROOT   = abs_path("$FindBin::Bin/..");
my $LANGS  = "$ROOT/docker/lang";
my $TRY    = "$LANGS/try.sh";
my $PREFIX = $ENV{RCE_IMAGE_PREFIX} // 'rce/';
my $JOBS   = $ENV{RCE_T60_JOBS} || 3;
my $INPUT  = "drill my brain\n";
my $MAX_MEMORY_MB = 1024;
my %LIMIT_KEYS = map { $_ => 1 } qw(wall_ms cpu_ms memory_mb pids output_bytes
    compile_wall_ms compile_cpu_ms compile_memory_mb compile_pids compile_output_bytes);

system("docker info >/dev/null 2>&1") == 0
    or plan skip_all => "no Docker engine answers ('docker info' failed): ./deploy.sh engine starts one";

opendir(my $dh, $LANGS) or die "$LANGS: $!";
my @langs = sort grep { -f "$LANGS/$_/Dockerfile" } readdir $dh;
closedir $dh;
if ($ENV{RCE_T60_LANGS}) {
    my %want = map { $_ => 1 } split ' ', $ENV{RCE_T60_LANGS};
    @langs = grep { $want{$_} } @langs;
}
ok(@langs >= 1, scalar(@langs) . ' language folders: ' . join(' ', @langs));

my $json = JSON::PP->new;
my $tmp  = tempdir('rce-t60-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return undef; local $/; my $s = <$fh>; close $fh; $s }
sub spurt { my ($f, $s) = @_; open(my $fh, '>', $f) or die "$f: $!"; print $fh $s; close $fh }

sub labels_of {
    my ($image) = @_;
    my $out = `docker image inspect -f '{{json .Config.Labels}}' '$image' 2>/dev/null`;
    return undef if $? != 0;
    return $json->decode($out) // {};
}

# --- the images exist (build the missing ones) ----------------------------------

my @missing = grep { !labels_of("$PREFIX$_") } @langs;
if (@missing) {
    diag("building missing images: @missing");
    system("$ROOT/docker/build-images.sh", @missing) == 0
        or BAIL_OUT("docker/build-images.sh @missing failed");
}

# --- labels ---------------------------------------------------------------------

my (%labels, %compiled, %owner);
sub argv_ok {
    my ($text) = @_;
    my $v = eval { $json->decode($text) };
    return ref $v eq 'ARRAY' && @$v && !grep { !defined $_ || ref $_ || $_ eq '' } @$v;
}
for my $lang (@langs) {
    my $image = "$PREFIX$lang";
    my $l = labels_of($image);
    ok($l, "$image exists") or next;
    $labels{$lang} = $l;
    is($l->{'rce.language'}, $lang, "$lang: rce.language is the folder name");
    like($l->{'rce.version'} // '', qr/^\d+(\.\d+)+$/, "$lang: rce.version '" . ($l->{'rce.version'} // '') . "'");
    ok(defined $l->{'rce.aliases'} && $l->{'rce.aliases'} =~ /^([[:graph:]]+( [[:graph:]]+)*)?$/,
       "$lang: rce.aliases is space-separated words: '" . ($l->{'rce.aliases'} // '') . "'");
    my $main = $l->{'rce.main'} // '';
    ok($main =~ /^[[:graph:]]{1,64}$/ && $main !~ m{/} && $main ne '.' && $main ne '..',
       "$lang: rce.main '$main' is a plain file name");
    ok(argv_ok($l->{'rce.run'} // ''), "$lang: rce.run is a JSON array of strings: " . ($l->{'rce.run'} // 'absent'));
    # a run command that compiles ({compile-marker}: Java's launcher) counts as a compile step
    my $has_compile = exists $l->{'rce.compile'} || ($l->{'rce.run'} // '') =~ /"\{compile-marker\}"/;
    ok(!exists $l->{'rce.compile'} || argv_ok($l->{'rce.compile'}), "$lang: rce.compile absent or a JSON array of strings: "
       . ($l->{'rce.compile'} // 'absent'));
    $compiled{$lang} = $has_compile;
    is($has_compile ? 1 : 0, -f "$LANGS/$lang/test/compile-error.src" ? 1 : 0,
       "$lang: compiled exactly when it has test/compile-error.src");
    ok(!exists $l->{'rce.cpus'} || $l->{'rce.cpus'} =~ /^[1-9][0-9]{0,3}$/ && $l->{'rce.cpus'} <= 1024,
       "$lang: rce.cpus absent or 1 to 1024: " . ($l->{'rce.cpus'} // 'absent'));
    my $limits = eval { $json->decode($l->{'rce.limits'} // '') };
    ok(ref $limits eq 'HASH', "$lang: rce.limits is a JSON object: " . ($l->{'rce.limits'} // 'absent'));
    for my $k (sort keys %{ $limits || {} }) {
        ok($LIMIT_KEYS{$k}, "$lang: limit $k is known");
        my $v = $limits->{$k};
        ok(!ref $v && $v =~ /^[1-9]\d*$/ && ($k !~ /memory_mb$/ || $v <= $MAX_MEMORY_MB),
           "$lang: limit $k = $v is a positive integer" . ($k =~ /memory_mb$/ ? " <= $MAX_MEMORY_MB" : ''));
    }
    like($l->{'rce.build-hash'} // '', qr/^[0-9a-f]{64}$/, "$lang: rce.build-hash");
    for my $name ($lang, split ' ', $l->{'rce.aliases'} // '') {
        push @{ $owner{$name} }, $lang;
    }
}
for my $name (sort keys %owner) {
    my @o = @{ $owner{$name} };
    ok(@o == 1, "name or alias '$name' means one language (" . join(' ', @o) . ')');
}

# --- programs in the sandbox ----------------------------------------------------

# Each case: [lang, kind, source, options...]; results in $tmp/<lang>.<kind>.*
my @cases;
for my $lang (grep { $labels{$_} } @langs) {
    my $d = "$LANGS/$lang";
    push @cases, [$lang, 'smoke', "$d/smoke.src"];
    push @cases, [$lang, 'stdin', "$d/test/stdin.src", '--stdin', "$tmp/input"];
    push @cases, [$lang, 'error', "$d/test/error.src"];
    push @cases, [$lang, 'compile-error', "$d/test/compile-error.src"] if $compiled{$lang};
    push @cases, [$lang, 'image-env', "$d/smoke.src", '--image-env'];
}
spurt("$tmp/input", $INPUT);
for my $c (@cases) {
    ok(-f $c->[2], "$c->[0] $c->[1]: $c->[2] exists") or $c->[2] = undef;
}

my (%running, @pids);
my $t0 = time;
sub reap_one {
    my $pid = wait;
    return if $pid <= 0;
    my $c = delete $running{$pid} or return;
    spurt("$tmp/$c->[0].$c->[1].status", ($? >> 8) . "\n");
    spurt("$tmp/$c->[0].$c->[1].secs", sprintf("%.2f\n", time - $c->[3]));
}
# Several cases of one language at a time would share its cache; none do, but
# keep each language's cases in order anyway: cases run in list order.
for my $c (grep { defined $_->[2] } @cases) {
    reap_one() while keys %running >= $JOBS;
    my ($lang, $kind, $src, @opt) = @$c;
    my $base = "$tmp/$lang.$kind";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', "$base.out") or POSIX::_exit(99);
        open(STDERR, '>', "$base.err") or POSIX::_exit(99);
        exec($TRY, '--result', "$base.result", @opt, $lang, $src) or POSIX::_exit(98);
    }
    $running{$pid} = [$lang, $kind, $src, time];
    push @pids, $pid;
}
reap_one() while keys %running;
diag(sprintf('%d programs in %.0f s, %d at a time', scalar(grep { defined $_->[2] } @cases), time - $t0, $JOBS));

sub result_of {
    my ($lang, $kind) = @_;
    my $base = "$tmp/$lang.$kind";
    my %r = map { /^(\w+)=(.*)$/ ? ($1 => $2) : () } split /\n/, slurp("$base.result") // '';
    $r{status} = (slurp("$base.status") // '') =~ s/\s+//gr;
    $r{stdout} = slurp("$base.out") // '';
    $r{stderr} = slurp("$base.err") // '';
    $r{secs}   = (slurp("$base.secs") // '') =~ s/\s+//gr;
    return \%r;
}
sub show_failure {
    my ($r) = @_;
    diag("  exit status $r->{status}; figures: "
         . join(' ', map { "$_=" . ($r->{$_} // '') } qw(compile_exit compile_oom compile_ms compile_peak_mb exit oom timeout run_ms peak_mb)));
    diag("  stdout: $r->{stdout}") if length $r->{stdout};
    diag("  stderr: " . substr($r->{stderr}, -1500)) if length $r->{stderr};
}

my @figures;
for my $lang (grep { $labels{$_} } @langs) {
    my $d = "$LANGS/$lang";
    my $expected = slurp("$d/smoke.expected") // '';
    my $name = sub { "$lang $_[0]" };

    my $r = result_of($lang, 'smoke');
    (is($r->{status}, 0, $name->('hello: exit 0'))
     && is($r->{stdout}, $expected, $name->('hello: output')))
        or show_failure($r);
    push @figures, sprintf('%-10s compile %5s ms %4s MB   run %5s ms %4s MB', $lang,
        $r->{compile_ms} // '-', $r->{compile_peak_mb} // '-', $r->{run_ms} // '-', $r->{peak_mb} // '-');

    $r = result_of($lang, 'stdin');
    (is($r->{status}, 0, $name->('stdin: exit 0'))
     && is($r->{stdout}, $INPUT, $name->('stdin: the line read is printed')))
        or show_failure($r);

    $r = result_of($lang, 'error');
    my $want = (slurp("$d/test/error.exit") // '') =~ s/\s+//gr;
    (is($r->{status}, $want, $name->("runtime error: exit $want"))
     && is($r->{exit}, $want, $name->('runtime error: the run step (not the compile) failed'))
     && is($r->{stdout}, "before\n", $name->('runtime error: output before the error'))
     && isnt($r->{stderr}, '', $name->('runtime error: a message on stderr'))
     && is($r->{oom}, 'false', $name->('runtime error: not an OOM kill')))
        or show_failure($r);

    if ($compiled{$lang}) {
        $r = result_of($lang, 'compile-error');
        (isnt($r->{compile_exit} // 0, 0, $name->('compile error: the compile step fails'))
         && ok(!defined $r->{exit}, $name->('compile error: nothing runs'))
         && like($r->{stderr}, qr/rce_undefined/, $name->("compile error: the compiler's message names rce_undefined"))
         && is($r->{compile_oom}, 'false', $name->('compile error: not an OOM kill')))
            or show_failure($r);
    }

    $r = result_of($lang, 'image-env');
    (is($r->{status}, 0, $name->("hello with the image's ENV: exit 0"))
     && is($r->{stdout}, $expected, $name->("hello with the image's ENV: output")))
        or show_failure($r);
}
diag("per language, hello world (each step is a docker run):\n" . join("\n", @figures));

# --- nothing left behind ----------------------------------------------------------

# try.sh names what it makes rce-try-<language>-<its pid>-...
my $ours = join '|', @pids;
my @left = grep { /^rce-try-[^-]+-(?:$ours)-/ } split /\n/, `docker ps -a --format '{{.Names}}'`;
is_deeply(\@left, [], 'no container of these runs left');
my @vols = grep { /^rce-try-[^-]+-(?:$ours)-/ } split /\n/, `docker volume ls -q`;
is_deeply(\@vols, [], 'no volume of these runs left');

done_testing;
