# The container's PID 1 (perl is Essential in Debian, so in every image built on rce/base; no
# docker-init). workerd embeds this file at build time (see Makefile) and runs it with
# `perl -e` (a cold container: the job in its argv) or after prelude.pl (a warm one: the job
# on stdin). The lines it writes are described once, in wrapper.h; workerd/wrapper.c parses them.
#
# Arguments: getrusage's, clock_gettime's, prctl's, setrlimit's and wait4's syscall numbers,
# the compile marker, the end token (or ""; see 6), the compile step's and the run's cpu limits
# (whole seconds, 0: the container's), the compile command (a count, then its words; 0 for an
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
my ($rusage_nr, $clock_nr, $prctl_nr, $setrlimit_nr, $wait4_nr, $marker, $end, $compile_cpu_s,
    $run_cpu_s) = splice(@ARGV, 0, 9);
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
put(q(/tmp/.rce-stdin), shift(@ARGV));
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
# Runs argv as a child with stdin from $in and RLIMIT_CPU $cpu_s (0: as it is); returns its
# status and its own peak memory (wait4's, q() if unknown).
sub run_child {
    my ($in, $cpu_s, @argv) = @_;
    my $pid = fork();
    return (126, q()) unless defined $pid;
    if ($pid == 0) {
        syscall($setrlimit_nr, 0, pack(q(q2), $cpu_s, $cpu_s + 1)) if $cpu_s > 0 && $setrlimit_nr > 0;
        open(STDIN, q(<), $in) or exit 126;
        exec { $argv[0] } @argv;
        syswrite(STDERR, qq(rce: cannot run $argv[0]: $!\n));
        exit 127;
    }
    my ($status, $ru, $rss) = (pack(q(i), 0), qq(\0) x 256, q());
    if ($wait4_nr > 0 && syscall($wait4_nr, $pid, $status, 0, $ru) == $pid) {
        $? = unpack(q(i), $status);
        $rss = (rusage_fields($ru))[1];
    } else {
        waitpid($pid, 0);
    }
    return ($? & 127 ? 128 + ($? & 127) : $? >> 8, $rss);
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
($rc, $rss_program) = run_child(q(/tmp/.rce-stdin), $run_cpu_s, @run, @ARGV) if $rc == 0;
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
