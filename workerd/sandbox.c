#include "sandbox.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "rce_protocol.h"

/* The container's PID 1, a perl program (perl is Essential in Debian, so in every image
 * built on rce/base; no docker-init). Its arguments (build_words):
 *   getrusage's, clock_gettime's and prctl's syscall numbers, the compile marker, the end
 *   token (or ""; see 6), the compile command
 *   (a count, then its words; 0 for an interpreted language), the run command (the same),
 *   the number of files, the name and base64 content of each, the base64 stdin, then the
 *   program's arguments. It
 *   1. writes the job's files into the work dir and its stdin to /tmp/.rce-stdin (base64,
 *      because a cold container gets them in argv);
 *   2. runs the compile command, if any, with stdin from /dev/null, kills what it left, and
 *      prints "<marker> <exit code> <ms>" on stdout and on stderr after it, so that workerd
 *      can tell the compiler's output from the program's;
 *   3. if that succeeded, runs the program as its child with stdin from the file, with the
 *      environment the image gives minus Docker's HOSTNAME, and no shell in between. Being a
 *      child, the program is not PID 1, so `kill -9 $$`, abort() and `kill -9 -1` act as
 *      anywhere else (PID 1 is shielded from signals it has no handler for, and kill -1
 *      spares it);
 *   4. once it exits, SIGKILLs and reaps every process left (daemons, `sleep 1000 &` holding
 *      stdout), so nothing outlives the program and the output stream ends with it;
 *   5. writes the figures line (SANDBOX_STATS_MARK) on stderr: getrusage(RUSAGE_CHILDREN),
 *      which by then counts every process of the job, the status it exits with (the
 *      program's, 128 + n for signal n, or the compiler's when that failed) and the OOM kills
 *      its memory cgroup (v1 or v2) counted, so that a job that ended by itself needs no
 *      Docker call to be judged;
 *   6. given an end token, ends stdout and then stderr with it (after the figures): once both
 *      streams end with it, workerd has all the output and figures it can trust, without
 *      waiting for Docker to close the stream (tens of ms after the exit). The token must be
 *      a secret: random per job, handed over on stdin (a warm container), written only when
 *      no process of the job is left to read the pipes, and kept from the program by making
 *      this process undumpable first (PR_SET_DUMPABLE 0: its memory and /proc/1/environ are
 *      then closed to any process without CAP_SYS_PTRACE). If that fails, no end line.
 * A file it cannot write ends it with status 126, a command it cannot run with 127. */
static const char wrapper[] =
    "my ($rusage_nr, $clock_nr, $prctl_nr, $marker, $end) = splice(@ARGV, 0, 5);\n"
    "my $hidden = $prctl_nr > 0 && syscall($prctl_nr, 4, 0, 0, 0, 0) == 0;\n"
    "sub words { my $n = shift(@ARGV); return splice(@ARGV, 0, $n) }\n"
    "my @compile = words();\n"
    "my @run = words();\n"
    "sub unbase64 {\n"
    "    my $s = shift;\n"
    "    $s =~ tr{A-Za-z0-9+/}{}cd;\n"
    "    $s =~ tr{A-Za-z0-9+/}{ -_};\n"
    "    my $out = q();\n"
    "    $out .= unpack(q(u), chr(32 + int(length($1) * 3 / 4)) . $1) while $s =~ /(.{1,60})/gs;\n"
    "    return $out;\n"
    "}\n"
    "sub put {\n"
    "    my ($name, $data) = @_;\n"
    "    open(my $fh, q(>), $name) or exit 126;\n"
    "    binmode($fh);\n"
    "    print {$fh} unbase64($data) or exit 126;\n"
    "    close($fh) or exit 126;\n"
    "}\n"
    "put(splice(@ARGV, 0, 2)) for 1 .. shift(@ARGV);\n"
    "put(q(/tmp/.rce-stdin), shift(@ARGV));\n"
    "delete $ENV{HOSTNAME};\n"
    "sub now_ms {\n"
    "    my $ts = qq(\\0) x 16;\n"
    "    return 0 unless $clock_nr > 0 && syscall($clock_nr, 1, $ts) == 0;\n"
    "    my ($s, $ns) = unpack(q(q2), $ts);\n"
    "    return int($s * 1000 + $ns / 1000000);\n"
    "}\n"
    "sub reap_all { for (1 .. 10000) { kill(9, -1); last if waitpid(-1, 0) <= 0 } }\n"
    "sub run_child {\n"
    "    my ($in, @argv) = @_;\n"
    "    my $pid = fork();\n"
    "    return 126 unless defined $pid;\n"
    "    if ($pid == 0) {\n"
    "        open(STDIN, q(<), $in) or exit 126;\n"
    "        exec { $argv[0] } @argv;\n"
    "        syswrite(STDERR, qq(rce: cannot run $argv[0]: $!\\n));\n"
    "        exit 127;\n"
    "    }\n"
    "    waitpid($pid, 0);\n"
    "    return $? & 127 ? 128 + ($? & 127) : $? >> 8;\n"
    "}\n"
    "my $rc = 0;\n"
    "if (@compile) {\n"
    "    my $t0 = now_ms();\n"
    "    $rc = run_child(q(/dev/null), @compile);\n"
    "    reap_all();\n"
    "    my $line = sprintf(qq(%s %d %d\\n), $marker, $rc, now_ms() - $t0);\n"
    "    syswrite(STDOUT, $line);\n"
    "    syswrite(STDERR, $line);\n"
    "}\n"
    "$rc = run_child(q(/tmp/.rce-stdin), @run, @ARGV) if $rc == 0;\n"
    "reap_all();\n"
    "my ($cpu, $rss, $ru, $oom) = (q(), q(), qq(\\0) x 256, q());\n"
    "if ($rusage_nr > 0 && syscall($rusage_nr, -1, $ru) == 0) {\n"
    "    my @r = unpack(q(q5), $ru);\n"
    "    ($cpu, $rss) = ($r[0] * 1000000 + $r[1] + $r[2] * 1000000 + $r[3], $r[4]);\n"
    "}\n"
    "for my $f (q(/sys/fs/cgroup/memory.events), q(/sys/fs/cgroup/memory/memory.oom_control)) {\n"
    "    open(my $fh, q(<), $f) or next;\n"
    "    while (<$fh>) { $oom = $1 if /^oom_kill (\\d+)$/ }\n"
    "    last;\n"
    "}\n"
    "my $stats = qq(\\036rce-stats cpu_us=$cpu maxrss_kb=$rss status=$rc oom=$oom\\n);\n"
    "if ($end ne q() && $hidden) {\n"
    "    syswrite(STDOUT, qq($end\\n));\n"
    "    syswrite(STDERR, $stats . qq($end\\n));\n"
    "} else {\n"
    "    syswrite(STDERR, $stats);\n"
    "}\n"
    "exit($rc);\n";

/* What a warm container's PID 1 runs first: waits on stdin for the job (sandbox_payload: a
 * line of the byte lengths of the wrapper's arguments, then the arguments), puts /dev/null in
 * place of stdin and goes on as the wrapper with them. A short or malformed payload, or stdin
 * closing first (workerd went away: StdinOnce), ends it with status 125 and no output. */
static const char prelude[] =
    "binmode(STDIN);\n"
    "my $in = q();\n"
    "sub more { sysread(STDIN, $in, 1 << 16, length($in)) or exit 125 }\n"
    "my $nl;\n"
    "while (($nl = index($in, qq(\\n))) < 0) { exit 125 if length($in) > 1 << 24; more() }\n"
    "my @lengths = split(/ /, substr($in, 0, $nl + 1, q()));\n"
    "chomp(@lengths);\n"
    "my $total = 0;\n"
    "for (@lengths) { /^\\d+$/ or exit 125; $total += $_ }\n"
    "more() while length($in) < $total;\n"
    "@ARGV = map { substr($in, 0, $_, q()) } @lengths;\n"
    "open(STDIN, q(<), q(/dev/null)) or exit 125;\n";

/* Syscall numbers for perl's syscall(): the containers run on this machine's kernel. */
#ifdef SYS_getrusage
#define GETRUSAGE_NR SYS_getrusage
#else
#define GETRUSAGE_NR 0
#endif
#ifdef SYS_clock_gettime
#define CLOCK_GETTIME_NR SYS_clock_gettime
#else
#define CLOCK_GETTIME_NR 0
#endif
#ifdef SYS_prctl
#define PRCTL_NR SYS_prctl
#else
#define PRCTL_NR 0
#endif

size_t base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void base64_encode(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = alphabet[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

/* Appends the base64 of n bytes to cmd; -1 if too large for one argument or out of memory. */
static int append_base64(json_t *cmd, const char *data, size_t n, size_t *total, char *err, size_t errlen)
{
    size_t b64_len = base64_encoded_len(n);
    *total += b64_len;
    if (b64_len > SANDBOX_MAX_CODE_BASE64 || *total > SANDBOX_MAX_ARGS_BASE64) {
        snprintf(err, errlen, "code too large for this node");
        return -1;
    }
    char *b64 = malloc(b64_len + 1);
    if (!b64) {
        snprintf(err, errlen, "out of memory building the container command");
        return -1;
    }
    base64_encode((const unsigned char *)(data ? data : ""), n, b64);
    int rc = json_array_append_new(cmd, json_string(b64));
    free(b64);
    if (rc != 0)
        snprintf(err, errlen, "out of memory building the container command");
    return rc;
}

/* Appends a number as a word; -1 if out of memory. */
static int append_number(json_t *words, long long n)
{
    char text[24];
    snprintf(text, sizeof text, "%lld", n);
    return json_array_append_new(words, json_string(text));
}

/* Appends a command: its word count, then its words. */
static int append_command(json_t *words, char *const *argv, size_t argc)
{
    if (append_number(words, (long long)argc) != 0)
        return -1;
    for (size_t i = 0; i < argc; i++)
        if (json_array_append_new(words, json_string(argv[i])) != 0)
            return -1;
    return 0;
}

/* The wrapper's arguments: the job's commands, files, stdin and arguments. */
static json_t *build_words(const struct sandbox_job *job, char *err, size_t errlen)
{
    json_t *words = json_array();
    size_t total = 0;
    if (!words || append_number(words, GETRUSAGE_NR) != 0 || append_number(words, CLOCK_GETTIME_NR) != 0
        || append_number(words, PRCTL_NR) != 0
        || json_array_append_new(words, json_string(job->marker)) != 0
        || json_array_append_new(words, json_string(job->end ? job->end : "")) != 0
        || append_command(words, job->compile_argv, job->compile_argv ? job->compile_argc : 0) != 0
        || append_command(words, job->run_argv, job->run_argc) != 0
        || append_number(words, (long long)job->n_files) != 0)
        goto nomem;
    for (size_t i = 0; i < job->n_files; i++)
        if (json_array_append_new(words, json_string(job->files[i].name)) != 0
            || append_base64(words, job->files[i].data, job->files[i].len, &total, err, errlen) != 0)
            goto fail;
    if (append_base64(words, job->stdin_data, job->stdin_len, &total, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < job->n_args; i++)
        if (json_array_append_new(words, json_string(job->args[i])) != 0)
            goto nomem;
    return words;
nomem:
    snprintf(err, errlen, "out of memory building the container command");
fail:
    json_decref(words);
    return NULL;
}

/* The container's command: perl runs the wrapper with the job's words; a warm container's
 * prelude waits for them on stdin instead. */
static json_t *build_cmd(const struct sandbox_job *job, char *err, size_t errlen)
{
    if (job->pool_token) {
        json_t *cmd = NULL;
        char *both = malloc(sizeof prelude + sizeof wrapper);
        if (both) {
            memcpy(both, prelude, sizeof prelude - 1);
            memcpy(both + sizeof prelude - 1, wrapper, sizeof wrapper);
            cmd = json_pack("[sss]", "perl", "-e", both);
            free(both);
        }
        if (!cmd)
            snprintf(err, errlen, "out of memory building the container command");
        return cmd;
    }
    json_t *words = build_words(job, err, errlen);
    /* "--": a word that looks like a switch is the wrapper's, not perl's */
    json_t *cmd = words ? json_pack("[ssss]", "perl", "-e", wrapper, "--") : NULL;
    if (words && (!cmd || json_array_extend(cmd, words) != 0)) {
        snprintf(err, errlen, "out of memory building the container command");
        json_decref(cmd);
        cmd = NULL;
    }
    json_decref(words);
    return cmd;
}

char *sandbox_payload(const struct sandbox_job *job, size_t *len, char *err, size_t errlen)
{
    json_t *words = build_words(job, err, errlen), *w;
    char *payload = NULL, *p;
    size_t i, n = 0;
    if (!words)
        return NULL;
    json_array_foreach(words, i, w)
        n += 21 + json_string_length(w);         /* a length, its separator, the word */
    if (!(p = payload = malloc(n + 1))) {
        snprintf(err, errlen, "out of memory building the job's payload");
        goto done;
    }
    json_array_foreach(words, i, w)
        p += sprintf(p, "%s%zu", i ? " " : "", json_string_length(w));
    *p++ = '\n';
    json_array_foreach(words, i, w) {
        memcpy(p, json_string_value(w), json_string_length(w));
        p += json_string_length(w);
    }
    *len = (size_t)(p - payload);
done:
    json_decref(words);
    return payload;
}

/* Resource limits and isolation: the part of the spec that keeps the host safe. */
static json_t *build_host_config(const struct sandbox_job *job)
{
    const json_int_t mib = 1024 * 1024;
    const json_int_t memory = (json_int_t)job->memory_mb * mib;
    const json_int_t file_size = SANDBOX_FSIZE_MB * mib;
    /* RLIMIT_CPU, per process, whole seconds: SIGXCPU at the soft limit, SIGKILL a second
     * later. run.c also watches the container's total when the limit is below the wall one. */
    const json_int_t cpu_s = job->cpu_ms > 0 ? (job->cpu_ms + 999) / 1000 : 3600;
    /* Under gVisor the container's host tasks are the Sentry's threads and a ptrace stub per
     * task of the program (~40, then ~5 per process): the job's limit scaled up, so that the
     * sandbox itself does not run out of threads before the program does. */
    const bool gvisor = job->runtime && strcmp(job->runtime, "runsc") == 0;
    const json_int_t pids_limit = gvisor ? (json_int_t)job->pids * SANDBOX_GVISOR_PIDS_PER_TASK
                                               + SANDBOX_GVISOR_PIDS_BASE
                                         : (json_int_t)job->pids;
    char tmpfs_work[160], tmpfs_tmp[160];
    snprintf(tmpfs_work, sizeof tmpfs_work,
             "rw,exec,nosuid,nodev,size=%dm,uid=65534,gid=65534,mode=0700", SANDBOX_TMPFS_MB);
    snprintf(tmpfs_tmp, sizeof tmpfs_tmp, "rw,exec,nosuid,nodev,size=%dm,mode=1777", SANDBOX_TMPFS_MB);
    json_t *hc = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:s, s:I, s:i, s:[],"
        " s:{s:s, s:s},"
        " s:[s], s:[s],"
        " s:[{s:s, s:i, s:i}, {s:s, s:I, s:I}, {s:s, s:i, s:i}, {s:s, s:I, s:I}],"
        " s:{s:s, s:{}}, s:b}",
        "NetworkMode", "none",
        "Memory", memory,
        "MemorySwap", memory,              /* equal to Memory: no swap on top */
        "PidsLimit", pids_limit,
        "NanoCpus", (json_int_t)(job->cpus > 0 ? job->cpus : 1) * 1000000000,
        "ReadonlyRootfs", 1,
        "Privileged", 0,
        /* Our wrapper is PID 1 (see above), not docker-init. */
        "Init", 0,
        "IpcMode", "private",
        "ShmSize", (json_int_t)SANDBOX_SHM_MB * mib,
        /* If the host itself runs short of memory, the kernel kills job processes first,
         * never workerd, dockerd or Redis. */
        "OomScoreAdj", 1000,
        "Devices",                         /* none beyond Docker's null, zero, random, ... */
        "Tmpfs",
            "/work", tmpfs_work,
            "/tmp", tmpfs_tmp,
        "CapDrop", "ALL",
        /* Docker's default seccomp profile applies because none other is named here. */
        "SecurityOpt", "no-new-privileges",
        "Ulimits",
            "Name", "nofile", "Soft", SANDBOX_NOFILE, "Hard", SANDBOX_NOFILE,
            "Name", "fsize", "Soft", file_size, "Hard", file_size,
            "Name", "core", "Soft", 0, "Hard", 0,
            "Name", "cpu", "Soft", cpu_s, "Hard", cpu_s + 1,
        "LogConfig", "Type", "none", "Config",  /* output only through our attach */
        "AutoRemove", 0);                   /* we remove it, after reading its state */
    if (hc && job->runtime && job->runtime[0]
        && json_object_set_new(hc, "Runtime", json_string(job->runtime)) != 0) {
        json_decref(hc);
        return NULL;
    }
    return hc;
}

/* Parses one "key=<digits or nothing>" field of the figures line at p; -1 if malformed. */
static const char *stats_field(const char *p, const char *end, const char *key, long long *out)
{
    size_t klen = strlen(key);
    if ((size_t)(end - p) < klen || memcmp(p, key, klen) != 0)
        return NULL;
    p += klen;
    long long v = 0;
    int digits = 0;
    for (; p < end && *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
        v = v * 10 + (*p - '0');
    if (p < end && *p >= '0' && *p <= '9')
        return NULL;
    *out = digits ? v : -1;
    return p;
}

int sandbox_take_stats(const char *buf, size_t *len, struct sandbox_stats *st)
{
    static const char mark[] = SANDBOX_STATS_MARK;
    const size_t mlen = sizeof mark - 1;
    st->cpu_us = st->maxrss_kb = st->status = st->oom_kills = -1;
    size_t n = *len;
    if (n < mlen + 1 || buf[n - 1] != '\n')
        return 0;
    /* The line starts at the last mark within reach of the end. */
    size_t from = n > SANDBOX_STATS_MAX ? n - SANDBOX_STATS_MAX : 0, at = (size_t)-1;
    for (size_t i = n - mlen; i + 1 > from; i--) {
        if (memcmp(buf + i, mark, mlen) == 0) {
            at = i;
            break;
        }
        if (i == 0)
            break;
    }
    if (at == (size_t)-1)
        return 0;
    const char *p = buf + at + mlen, *end = buf + n - 1;
    struct sandbox_stats s;
    if (!(p = stats_field(p, end, "cpu_us=", &s.cpu_us)) || p >= end || *p++ != ' '
        || !(p = stats_field(p, end, "maxrss_kb=", &s.maxrss_kb)) || p >= end || *p++ != ' '
        || !(p = stats_field(p, end, "status=", &s.status)) || p >= end || *p++ != ' '
        || !(p = stats_field(p, end, "oom=", &s.oom_kills)) || p != end)
        return 0;
    *st = s;
    *len = at;
    return 1;
}

json_t *sandbox_container_spec(const struct sandbox_job *job, char *err, size_t errlen)
{
    json_t *cmd = build_cmd(job, err, errlen);
    if (!cmd)
        return NULL;
    json_t *host_config = build_host_config(job);
    if (!host_config) {
        json_decref(cmd);
        snprintf(err, errlen, "out of memory building the container spec");
        return NULL;
    }
    const bool warm = job->pool_token != NULL;
    /* "o" hands cmd and host_config to the new object, even when json_pack fails. */
    json_t *spec = json_pack(
        "{s:s, s:{s:s, s:s}, s:s, s:s, s:s,"
        " s:[sss],"
        " s:b, s:b, s:b, s:b, s:b, s:b, s:b,"
        " s:[], s:o, s:o}",
        "Image", job->image,
        /* a warm container's job is not known yet */
        "Labels", warm ? RCE_LABEL_POOL : RCE_LABEL_JOB, warm ? job->pool_token : job->job_id,
                  RCE_LABEL_NODE, job->node,
        "User", "65534:65534",             /* nobody:nogroup */
        "WorkingDir", "/work",
        "Hostname", "sandbox",
        /* What the wrapper passes on to the program, and all it passes on. */
        "Env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp",
               "LANG=C.UTF-8",
        "NetworkDisabled", 1,
        /* A warm container reads its job from stdin; StdinOnce closes that stdin when our
         * connection does, so that the container of a workerd that died ends by itself. */
        "AttachStdin", warm,
        "AttachStdout", 1,
        "AttachStderr", 1,
        "OpenStdin", warm,
        "StdinOnce", warm,
        "Tty", 0,                          /* non-TTY: stdout and stderr arrive multiplexed */
        "Entrypoint",                      /* empty, not absent: an image ENTRYPOINT must not wrap us */
        "Cmd", cmd,
        "HostConfig", host_config);
    if (!spec)
        snprintf(err, errlen, "out of memory building the container spec");
    return spec;
}
