#include "sandbox.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "rce_protocol.h"

/* The container's PID 1: a POSIX sh (no docker-init) that
 *   1. writes the job's files into the work dir and its stdin to /tmp/.rce-stdin, all from
 *      argv (not from an attach body, which can lose bytes on Docker 20.10):
 *      $1 = getrusage's syscall number, $2 = the compile marker, $3 = the compile command
 *      (shell-quoted; empty for an interpreted language), $4 = the run command (quoted),
 *      $5 = the number of files, then name and base64 content of each, then base64 stdin,
 *      then the program's arguments;
 *   2. runs the compile command, if any, and prints "<marker> <exit code> <ms>" on stdout and
 *      on stderr after it, so that workerd can tell the compiler's output from the program's;
 *   3. if that succeeded, runs the program as its child with stdin from the file and the
 *      environment the image gives minus Docker's HOSTNAME. Being a child, the program is not
 *      PID 1, so `kill -9 $$`, abort() and `kill -9 -1` act as anywhere else (PID 1 is
 *      shielded from signals it has no handler for, and kill -1 spares it);
 *   4. once it exits, becomes perl (Essential in Debian, so in every image built on it) and
 *      SIGKILLs and reaps every process left (daemons, `sleep 1000 &` holding stdout), so
 *      nothing outlives the program and the output stream ends with it;
 *   5. writes the figures line (SANDBOX_STATS_MARK) on stderr from getrusage(RUSAGE_CHILDREN)
 *      of PID 1, which by then has waited for every process of the job, and exits with the
 *      program's status (128 + n for signal n), or the compiler's when that failed.
 * Without perl it still kills what is left (a bounded loop) and exits with the status; the
 * figures are then unknown. */
static const char wrapper[] =
    "nr=$1 marker=$2 compile=$3 run=$4 n=$5\n"
    "shift 5\n"
    "while [ \"$n\" -gt 0 ]; do\n"
    "  printf %s \"$2\" | base64 -d >\"$1\" || exit 126\n"
    "  shift 2; n=$((n - 1))\n"
    "done\n"
    "printf %s \"$1\" | base64 -d >/tmp/.rce-stdin || exit 126\n"
    "shift\n"
    "rc=0\n"
    "if [ -n \"$compile\" ]; then\n"
    "  t0=$(date +%s%N)\n"
    "  sh -c \"exec env -u HOSTNAME -u PWD -u OLDPWD $compile\" </dev/null\n"
    "  rc=$?\n"
    "  ms=$(( ($(date +%s%N) - t0) / 1000000 ))\n"
    "  printf '%s %d %d\\n' \"$marker\" \"$rc\" \"$ms\"\n"
    "  printf '%s %d %d\\n' \"$marker\" \"$rc\" \"$ms\" >&2\n"
    "fi\n"
    "if [ \"$rc\" -eq 0 ]; then\n"
    "  sh -c \"exec env -u HOSTNAME -u PWD -u OLDPWD $run \\\"\\$@\\\"\" rce \"$@\" </tmp/.rce-stdin\n"
    "  rc=$?\n"
    "fi\n"
    "command -v perl >/dev/null 2>&1 && exec perl -e '\n"
    "my ($rc, $nr) = @ARGV;\n"
    "for (1 .. 10000) { kill 9, -1; last if waitpid(-1, 0) <= 0; }\n"
    "my ($cpu, $rss, $ru) = (\"\", \"\", \"\\0\" x 256);\n"
    "if ($nr > 0 && syscall($nr, -1, $ru) == 0) {\n"
    "    my @r = unpack \"q5\", $ru;\n"
    "    ($cpu, $rss) = ($r[0] * 1000000 + $r[1] + $r[2] * 1000000 + $r[3], $r[4]);\n"
    "}\n"
    "syswrite STDERR, \"\\036rce-stats cpu_us=$cpu maxrss_kb=$rss\\n\";\n"
    "exit $rc;' \"$rc\" \"$nr\"\n"
    "i=0\n"
    "while [ $i -lt 100 ] && kill -9 -1 2>/dev/null; do i=$((i + 1)); done\n"
    "exit $rc\n";

/* getrusage's number for perl's syscall(): the containers run on this machine's kernel. */
#ifdef SYS_getrusage
#define GETRUSAGE_NR SYS_getrusage
#else
#define GETRUSAGE_NR 0
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

/* argv words as one sh command line: each in single quotes ('\'' for a quote inside). */
static char *shell_quote(char *const *argv, size_t argc)
{
    size_t len = 1;
    for (size_t i = 0; i < argc; i++)
        for (const char *p = argv[i]; ; p++) {
            len += *p == '\'' ? 4 : 1;
            if (!*p) {
                len += 3;
                break;
            }
        }
    char *out = malloc(len), *o = out;
    for (size_t i = 0; out && i < argc; i++) {
        if (i)
            *o++ = ' ';
        *o++ = '\'';
        for (const char *p = argv[i]; *p; p++)
            if (*p == '\'') {
                memcpy(o, "'\\''", 4);
                o += 4;
            } else {
                *o++ = *p;
            }
        *o++ = '\'';
    }
    if (out)
        *o = '\0';
    return out;
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

/* The container's command: sh runs the wrapper with the job's files, stdin and arguments. */
static json_t *build_cmd(const struct sandbox_job *job, char *err, size_t errlen)
{
    char nr[24], nfiles[24];
    char *compile = job->compile_argv ? shell_quote(job->compile_argv, job->compile_argc) : strdup("");
    char *run = shell_quote(job->run_argv, job->run_argc);
    json_t *cmd = json_pack("[ssss]", "/bin/sh", "-c", wrapper, "rce");
    size_t total = 0;
    snprintf(nr, sizeof nr, "%d", (int)GETRUSAGE_NR);
    snprintf(nfiles, sizeof nfiles, "%zu", job->n_files);
    if (!compile || !run || !cmd
        || json_array_append_new(cmd, json_string(nr)) != 0
        || json_array_append_new(cmd, json_string(job->marker)) != 0
        || json_array_append_new(cmd, json_string(compile)) != 0
        || json_array_append_new(cmd, json_string(run)) != 0
        || json_array_append_new(cmd, json_string(nfiles)) != 0) {
        snprintf(err, errlen, "out of memory building the container command");
        goto fail;
    }
    for (size_t i = 0; i < job->n_files; i++)
        if (json_array_append_new(cmd, json_string(job->files[i].name)) != 0
            || append_base64(cmd, job->files[i].data, job->files[i].len, &total, err, errlen) != 0)
            goto fail;
    if (append_base64(cmd, job->stdin_data, job->stdin_len, &total, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < job->n_args; i++)
        if (json_array_append_new(cmd, json_string(job->args[i])) != 0) {
            snprintf(err, errlen, "out of memory building the container command");
            goto fail;
        }
    free(compile);
    free(run);
    return cmd;
fail:
    free(compile);
    free(run);
    json_decref(cmd);
    return NULL;
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
        "NanoCpus", (json_int_t)1000000000, /* one CPU */
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
    st->cpu_us = st->maxrss_kb = -1;
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
        || !(p = stats_field(p, end, "maxrss_kb=", &s.maxrss_kb)) || p != end)
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
    /* "o" hands cmd and host_config to the new object, even when json_pack fails. */
    json_t *spec = json_pack(
        "{s:s, s:{s:s, s:s}, s:s, s:s, s:s,"
        " s:[sss],"
        " s:b, s:b, s:b, s:b, s:b, s:b,"
        " s:[], s:o, s:o}",
        "Image", job->image,
        "Labels", RCE_LABEL_JOB, job->job_id, RCE_LABEL_NODE, job->node,
        "User", "65534:65534",             /* nobody:nogroup */
        "WorkingDir", "/work",
        "Hostname", "sandbox",
        /* What the wrapper passes on to the program, and all it passes on. */
        "Env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp",
               "LANG=C.UTF-8",
        "NetworkDisabled", 1,
        "AttachStdin", 0,
        "AttachStdout", 1,
        "AttachStderr", 1,
        "OpenStdin", 0,
        "Tty", 0,                          /* non-TTY: stdout and stderr arrive multiplexed */
        "Entrypoint",                      /* empty, not absent: an image ENTRYPOINT must not wrap us */
        "Cmd", cmd,
        "HostConfig", host_config);
    if (!spec)
        snprintf(err, errlen, "out of memory building the container spec");
    return spec;
}
