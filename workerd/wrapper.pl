# The container's PID 1 (perl is Essential in Debian, so in every image built on rce/base; no
# docker-init). workerd embeds this file at build time (see Makefile) and runs it with
# `perl -e` (a cold container: the job in its argv) or after prelude.pl (a warm one: the job
# on stdin). The lines it writes are described once, in wrapper.h; workerd/wrapper.c parses them.
#
# Arguments: getrusage's, clock_gettime's, prctl's, setrlimit's and wait4's syscall numbers,
# the compile marker, the end token (or ""; see 6), the compile step's and the run's cpu limits
# (whole seconds, 0: the container's), judge mode's four numbers (see below; 0 without tests),
# the interactive flag (1 or 0, see below), the compile command (a count, then its words; 0 for an
# interpreted language), the run command (the same), the number of files, the name and base64
# content of each, the base64 stdin, then the program's arguments. It
#  1. writes the job's files into the work dir and its stdin to /tmp/.rce-stdin (base64,
#     because a cold container gets them in argv);
#  2. runs the compile command, if any, with stdin from /dev/null and its own RLIMIT_CPU,
#     kills what it left, and prints the compile line on stdout and on stderr after it, so
#     that workerd can tell the compiler's output from the program's and start the run's
#     clock: the compiler's status, its time, and its figures (cpu time and peak memory from
#     getrusage(RUSAGE_CHILDREN), which then counts the compile step alone, and the OOM kills
#     so far);
#  3. if that succeeded, runs the program as its child with stdin from the file, the run's
#     RLIMIT_CPU, the environment the image gives minus Docker's HOSTNAME, and no shell in
#     between. Being a child, the program is not PID 1, so `kill -9 $$`, abort() and
#     `kill -9 -1` act as anywhere else (PID 1 is shielded from signals it has no handler
#     for, and kill -1 spares it);
#  4. once it exits, SIGKILLs and reaps every process left (daemons, `sleep 1000 &` holding
#     stdout), so nothing outlives the program and the output stream ends with it;
#  5. writes the figures line on stderr: the run's own cpu time (every process of the job,
#     less the compile step's) and peak memory (the largest process's: the job's largest if
#     that was not the compiler, else the program's own from wait4), the status it exits with
#     (the program's, 128 + n for signal n, or the compiler's when that failed) and the OOM
#     kills its memory cgroup (v1 or v2) counted during the run, so that a job that ended by
#     itself needs no Docker call to be judged;
#  6. given an end token, ends stdout and then stderr with the end line (after the figures):
#     once both streams end with it, workerd has all the output and figures it can trust,
#     without waiting for Docker to close the stream (tens of ms after the exit). The token
#     must be a secret: random per job, handed over on stdin (a warm container), written only
#     when no process of the job is left to read the pipes, and kept from the program by
#     making this process undumpable first (PR_SET_DUMPABLE 0: its memory and /proc/1/environ
#     are then closed to any process without CAP_SYS_PTRACE). If that fails, no end line.
# A file it cannot write ends it with status 126, a command it cannot run with 127.
#
# Judge mode (a test count above 0, after the cpu limits; then each test's wall limit in ms,
# its cap on each stream and the cap on all tests' output together, in bytes): in place of
# the stdin and the program's arguments come the tests, each its base64 stdin, an argument
# count and the arguments. After the compile step (step 2, unchanged), each test runs as a
# fresh child of this process, its stdout and stderr pipes to it, from a clean state: /tmp
# emptied and the work dir put back as it was after the compile step. It is stopped at its
# wall limit or when its output passes a cap, and every process it left is killed before
# the next starts. For each test, stdout gets its record (wrapper.h), which says how it
# ended, and its output; the tests stop early when the cap on all output is reached.
#
# Interactive mode (the word after the tests' caps is 1; never with tests): the container's
# stdin carries workerd's control lines (wrapper.h), read all along (compile step included)
# with a SIGCHLD wake-up (a self-pipe) while this process waits for a child. The
# program's stdin is a pipe: the job's stdin first, then the bytes of each "d" line, closed at
# "e" or when the control stream ends (workerd went away); "s N" sends signal N to every
# process but this one (kill -1). What prelude.pl read past the payload comes first.
my ($rusage_nr, $clock_nr, $prctl_nr, $setrlimit_nr, $wait4_nr, $marker, $end, $compile_cpu_s,
    $run_cpu_s, $n_tests, $test_wall_ms, $test_cap, $tests_cap, $interactive) = splice(@ARGV, 0, 14);
my $hidden = $prctl_nr > 0 && syscall($prctl_nr, 4, 0, 0, 0, 0) == 0;
sub words { my $n = shift(@ARGV); return splice(@ARGV, 0, $n) }
my @compile = words();
my @run = words();
sub unbase64 {
    my $s = shift;
    $s =~ tr{A-Za-z0-9+/}{}cd;
    $s =~ tr{A-Za-z0-9+/}{ -_};
    my $out = q();
    $out .= unpack(q(u), chr(32 + int(length($1) * 3 / 4)) . $1) while $s =~ /(.{1,60})/gs;
    return $out;
}
sub put {
    my ($name, $data) = @_;
    open(my $fh, q(>), $name) or exit 126;
    binmode($fh);
    print {$fh} unbase64($data) or exit 126;
    close($fh) or exit 126;
}
put(splice(@ARGV, 0, 2)) for 1 .. shift(@ARGV);
my @tests = map { [shift(@ARGV), words()] } 1 .. $n_tests;
our $rce_control;
my ($control, $feed, $feed_w, $feed_eof) = ($rce_control // q(), q(), undef, 0);
if ($interactive) {
    $feed = unbase64(shift(@ARGV));
    $SIG{PIPE} = q(IGNORE);     # a program that closed its stdin: EPIPE, not a signal
    my $flags = fcntl(STDIN, 3, 0);                 # F_GETFL
    fcntl(STDIN, 4, $flags | 04000) if $flags;      # F_SETFL O_NONBLOCK
} else {
    put(q(/tmp/.rce-stdin), $n_tests ? q() : shift(@ARGV));
}
delete $ENV{HOSTNAME};
sub now_ms {
    my $ts = qq(\0) x 16;
    return 0 unless $clock_nr > 0 && syscall($clock_nr, 1, $ts) == 0;
    my ($s, $ns) = unpack(q(q2), $ts);
    return int($s * 1000 + $ns / 1000000);
}
sub reap_all { for (1 .. 10000) { kill(9, -1); last if waitpid(-1, 0) <= 0 } }
sub rusage_fields {
    my @r = unpack(q(q5), shift);
    return ($r[0] * 1000000 + $r[1] + $r[2] * 1000000 + $r[3], $r[4]);
}
sub children_usage {
    my $ru = qq(\0) x 256;
    return (q(), q()) unless $rusage_nr > 0 && syscall($rusage_nr, -1, $ru) == 0;
    return rusage_fields($ru);
}
sub oom_kills {
    for my $f (q(/sys/fs/cgroup/memory.events), q(/sys/fs/cgroup/memory/memory.oom_control)) {
        open(my $fh, q(<), $f) or next;
        while (<$fh>) { return $1 if /^oom_kill (\d+)$/ }
        last;
    }
    return q();
}
# Interactive mode: acts on the whole control lines that came.
sub control_lines {
    while ($control =~ s/\A([^\n]*)\n//) {
        my $line = $1;
        if ($line =~ m{\Ad ([A-Za-z0-9+/=]*)\z}) {
            $feed .= unbase64($1) unless $feed_eof;
        } elsif ($line eq q(e)) {
            $feed_eof = 1;
        } elsif ($line =~ /\As (\d+)\z/ && $1 >= 1 && $1 <= 31) {
            kill($1, -1);
        }
    }
}
# Writes what the program's stdin pipe takes of $feed; closes it at the eof (or on EPIPE).
sub feed_pipe {
    return unless $feed_w;
    while (length($feed)) {
        my $n = syswrite($feed_w, $feed);
        last if !defined($n) && ($! == 4 || $! == 11);
        if (!defined($n)) { ($feed, $feed_eof) = (q(), 1); last }
        substr($feed, 0, $n, q());
    }
    undef $feed_w if $feed_eof && !length($feed);
}
# Interactive mode: wait4 on the child, relaying the control lines meanwhile; 1 once reaped.
# It sleeps in select until a control line, room in the pipe or a SIGCHLD comes: the handler
# writes to a pipe select watches (a self-pipe), so no polling adds to the job's cpu total. A
# SIGCHLD that came between wait4 and select (Perl runs handlers between its ops) is caught by
# the 250 ms bound (20 ms without the pipe).
sub relay_until_reaped {
    my $pid = $_[0];            # then wait4's status and rusage buffers, written in place
    my ($wake_r, $wake_w, $bound) = (undef, undef, 0.02);
    if (pipe($wake_r, $wake_w)) {
        fcntl($_, 4, 04000) for $wake_r, $wake_w;               # F_SETFL O_NONBLOCK
        $bound = 0.25;
    }
    local $SIG{CHLD} = sub { syswrite($wake_w, q(c)) if $wake_w };
    for (;;) {
        control_lines() if defined($control);       # first what prelude.pl read, and the stdin
        feed_pipe();
        my $got = syscall($wait4_nr, $pid, $_[1], 1, $_[2]);      # WNOHANG
        return 1 if $got == $pid;
        return 0 if $got < 0 && $! != 4;
        my ($rin, $win) = (q(), q());
        vec($rin, 0, 1) = 1 unless $feed_eof && !defined($control);
        vec($rin, fileno($wake_r), 1) = 1 if $wake_r;
        vec($win, fileno($feed_w), 1) = 1 if $feed_w && length($feed);
        select(my $rout = $rin, my $wout = $win, undef, $bound);
        sysread($wake_r, my $drain, 64) if $wake_r;
        my $n = defined($control) ? sysread(STDIN, $control, 1 << 16, length($control)) : undef;
        ($control, $feed_eof) = (undef, 1) if defined($n) && $n == 0;     # workerd went away
    }
}
# Runs argv as a child with stdin from $in (a file; in interactive mode the run's is the pipe
# $feed_w writes) and RLIMIT_CPU $cpu_s (0: as it is); returns its status and its own peak
# memory (wait4's, q() if unknown).
sub run_child {
    my ($in, $cpu_s, @argv) = @_;
    my $feed_r;
    if ($interactive && $in ne q(/dev/null)) {
        pipe($feed_r, $feed_w) or return (126, q());
        fcntl($feed_w, 4, 04000);                   # F_SETFL O_NONBLOCK
    }
    my $pid = fork();
    return (126, q()) unless defined $pid;
    if ($pid == 0) {
        syscall($setrlimit_nr, 0, pack(q(q2), $cpu_s, $cpu_s + 1)) if $cpu_s > 0 && $setrlimit_nr > 0;
        $SIG{PIPE} = q(DEFAULT);
        ($feed_r ? open(STDIN, q(<&), $feed_r) : open(STDIN, q(<), $in)) or exit 126;
        exec { $argv[0] } @argv;
        syswrite(STDERR, qq(rce: cannot run $argv[0]: $!\n));
        exit 127;
    }
    close($feed_r) if $feed_r;
    my ($status, $ru, $rss) = (pack(q(i), 0), qq(\0) x 256, q());
    if ($interactive && $wait4_nr > 0 ? relay_until_reaped($pid, $status, $ru)
        : $wait4_nr > 0 && syscall($wait4_nr, $pid, $status, 0, $ru) == $pid) {
        $? = unpack(q(i), $status);
        $rss = (rusage_fields($ru))[1];
    } else {
        waitpid($pid, 0);
    }
    return ($? & 127 ? 128 + ($? & 127) : $? >> 8, $rss);
}
# Judge mode's pieces. The work dir as the compile step left it: [path, type, mode, data].
sub tree {
    my ($dir, $rel, $list) = @_;
    opendir(my $dh, $dir) or return $list;
    for my $name (sort grep { $_ ne q(.) && $_ ne q(..) } readdir($dh)) {
        my ($path, @st) = (qq($dir/$name), lstat(qq($dir/$name)));
        next unless @st;
        if (-l _) {
            push(@$list, [qq($rel$name), q(l), 0, readlink($path)]);
        } elsif (-d _) {
            push(@$list, [qq($rel$name), q(d), $st[2] & 07777]);
            tree($path, qq($rel$name/), $list);
        } elsif (-f _ && open(my $fh, q(<), $path)) {
            binmode($fh);
            local $/;
            push(@$list, [qq($rel$name), q(f), $st[2] & 07777, scalar(<$fh>) // q()]);
        }
    }
    return $list;
}
# Removes everything under dir (a test may have taken its own permissions away).
sub wipe {
    my $dir = shift;
    opendir(my $dh, $dir) or return;
    for my $name (grep { $_ ne q(.) && $_ ne q(..) } readdir($dh)) {
        my $path = qq($dir/$name);
        if (-d $path && !-l $path) {
            chmod(0700, $path);
            wipe($path);
            rmdir($path);
        } else {
            unlink($path);
        }
    }
}
sub restore {
    my ($dir, $list) = @_;
    for my $e (@$list) {
        my ($path, $type, $mode, $data) = @$e;
        if ($type eq q(d)) {
            mkdir(qq($dir/$path), 0700);
        } elsif ($type eq q(l)) {
            symlink($data, qq($dir/$path));
        } elsif (open(my $fh, q(>), qq($dir/$path))) {
            binmode($fh);
            print {$fh} $data;
            close($fh);
        }
        chmod($mode, qq($dir/$path)) unless $type eq q(l);
    }
}
sub write_all {
    my $s = shift;
    while (length($s)) {
        my $n = syswrite(STDOUT, $s);
        if (!defined($n)) { next if $! == 4; exit 125 }     # EINTR: a SIGCHLD
        substr($s, 0, $n, q());
    }
}
# One test's child: its stdin from an unlinked file, stdout and stderr into the pipes.
sub start_test {
    my ($data, $out_w, $err_w, @argv) = @_;
    open(my $in, q(+>), q(/tmp/.rce-test-stdin)) or return;
    binmode($in);
    print {$in} unbase64($data);
    seek($in, 0, 0);
    unlink(q(/tmp/.rce-test-stdin));
    my $pid = fork();
    return $pid unless defined($pid) && $pid == 0;
    syscall($setrlimit_nr, 0, pack(q(q2), $run_cpu_s, $run_cpu_s + 1)) if $run_cpu_s > 0 && $setrlimit_nr > 0;
    open(STDIN, q(<&), $in) && open(STDOUT, q(>&), $out_w) && open(STDERR, q(>&), $err_w) or exit 126;
    exec { $argv[0] } @argv;
    syswrite(STDERR, qq(rce: cannot run $argv[0]: $!\n));
    exit 127;
}
# wait4 on the test's child, WNOHANG unless $block: (status, its own peak memory) once it is
# reaped, () before.
sub reap_test {
    my ($pid, $block) = @_;
    my ($status, $ru, $got) = (pack(q(i), 0), qq(\0) x 256);
    do { $got = syscall($wait4_nr, $pid, $status, $block ? 0 : 1, $ru) } while ($got < 0 && $! == 4);
    return () unless $got == $pid;
    my $s = unpack(q(i), $status);
    return ($s & 127 ? 128 + ($s & 127) : $s >> 8, (rusage_fields($ru))[1]);
}
# Reads the test's pipes into @$bufs until the child is reaped (then the rest of its processes
# are killed and what they wrote is read) and both pipes close, its wall limit passes or a cap
# is reached (then all its processes are killed). Returns how it ended, when (ms), its status
# and its own peak memory.
sub follow_test {
    my ($pid, $deadline, $pipes, $bufs, $cap, $room) = @_;
    my ($why, $t_end, @reaped) = (q(exit));
    my @open = (0, 1);
    while (@open || !@reaped) {
        if (!@reaped && (@reaped = reap_test($pid, 0))) {
            $t_end = now_ms();
            reap_all() if @open;        # what it left behind may hold the pipes
        }
        last unless @open || !@reaped;
        my $left = ($t_end // $deadline) - now_ms() + ($t_end ? 1000 : 0);
        if ($left <= 0) { $why = q(wall) unless $t_end; last }
        my $rin = q();
        vec($rin, fileno($pipes->[$_]), 1) = 1 for @open;
        # SIGCHLD ends the select early; the bound covers one that came just before it (1 ms
        # once the pipes are closed: the exit is then a moment away)
        my $wait = @open ? 20 : 1;
        next unless select(my $rout = $rin, undef, undef, ($left < $wait ? $left : $wait) / 1000) > 0;
        for my $i (@open) {
            next unless vec($rout, fileno($pipes->[$i]), 1);
            my $n = sysread($pipes->[$i], $bufs->[$i], 1 << 16, length($bufs->[$i]));
            next if !defined($n) && $! == 4;
            @open = grep { $_ != $i } @open unless $n;
        }
        if (length($bufs->[0]) > $cap || length($bufs->[1]) > $cap) { $why = q(output); last }
        if (length($bufs->[0]) + length($bufs->[1]) > $room) { $why = q(total); last }
    }
    return ($why, $t_end, @reaped) if @reaped;
    $t_end = now_ms();
    kill(9, -1);
    return ($why, $t_end, reap_test($pid, 1));
}
# Holds a test's output to the caps: each stream to $cap, both to $room (stderr gives way first).
sub clip {
    my ($bufs, $cap, $room) = @_;
    substr($bufs->[$_], $cap) = q() for grep { length($bufs->[$_]) > $cap } 0, 1;
    my $over = length($bufs->[0]) + length($bufs->[1]) - $room;
    for my $i (1, 0) {
        my $cut = $over < length($bufs->[$i]) ? $over : length($bufs->[$i]);
        next unless $cut > 0;
        substr($bufs->[$i], -$cut) = q();
        $over -= $cut;
    }
}
sub run_tests {
    my $pristine = tree(q(/work), q(), []);
    my $room = $tests_cap;
    local $SIG{CHLD} = sub { };
    for my $i (0 .. $#tests) {
        my ($data, @args) = @{ $tests[$i] };
        wipe(q(/tmp));
        if ($i > 0) { wipe(q(/work)); restore(q(/work), $pristine) }
        my ($cpu0, $rss0) = children_usage();
        my $oom0 = oom_kills();
        pipe(my $out_r, my $out_w) && pipe(my $err_r, my $err_w) or exit 125;
        my $t0 = now_ms();
        my $pid = start_test($data, $out_w, $err_w, @run, @args);
        close($out_w);
        close($err_w);
        my @bufs = (q(), q());
        my ($why, $t_end, $status, $rss) = defined($pid)
            ? follow_test($pid, $t0 + $test_wall_ms, [$out_r, $err_r], \@bufs, $test_cap, $room)
            : (q(exit), now_ms(), 126, q());
        reap_all();
        my ($cpu, $rss_all) = children_usage();
        my $oom = oom_kills();
        $cpu = $cpu ne q() && $cpu0 ne q() ? $cpu - $cpu0 : q();
        $rss = $rss_all if $rss_all ne q() && $rss0 ne q() && $rss_all > $rss0;
        $oom = $oom ne q() && $oom0 ne q() ? $oom - $oom0 : q();
        clip(\@bufs, $test_cap, $room);
        $room -= length($bufs[0]) + length($bufs[1]);
        write_all(sprintf(qq(\036rce-test %d %s %s %d %s %s %s %d %d\n), $i, $why, $status // q(), $t_end - $t0,
                          $cpu, $rss // q(), $oom, length($bufs[0]), length($bufs[1])) . $bufs[0] . $bufs[1]);
        last if $why eq q(total);
    }
    wipe(q(/tmp));
}
my ($rc, $rss_program, $cpu_c, $rss_c, $oom_c) = (0, q(), 0, 0, 0);
if (@compile) {
    my $t0 = now_ms();
    ($rc) = run_child(q(/dev/null), $compile_cpu_s, @compile);
    reap_all();
    ($cpu_c, $rss_c) = children_usage();
    $oom_c = oom_kills();
    my $line = sprintf(qq(%s %d %d %s %s %s\n), $marker, $rc, now_ms() - $t0, $cpu_c, $rss_c, $oom_c);
    syswrite(STDOUT, $line);
    syswrite(STDERR, $line);
}
if ($n_tests) {
    run_tests() if $rc == 0;
} elsif ($rc == 0) {
    ($rc, $rss_program) = run_child($interactive ? q(pipe) : q(/tmp/.rce-stdin), $run_cpu_s, @run, @ARGV);
}
reap_all();
my ($cpu, $rss) = children_usage();
my $oom = oom_kills();
$cpu -= $cpu_c if $cpu ne q() && $cpu_c ne q();
$rss = $rss_program if $rss ne q() && $rss_c ne q() && $rss <= $rss_c;
$oom -= $oom_c if $oom ne q() && $oom_c ne q();
my $stats = qq(\036rce-stats cpu_us=$cpu maxrss_kb=$rss status=$rc oom=$oom\n);
if ($end ne q() && $hidden) {
    syswrite(STDOUT, qq($end\n));
    syswrite(STDERR, $stats . qq($end\n));
} else {
    syswrite(STDERR, $stats);
}
exit($rc);
