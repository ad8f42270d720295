#include "sandbox.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "rce_base64.h"
#include "rce_protocol.h"
#include "wrapper.h"

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
#ifdef SYS_setrlimit
#define SETRLIMIT_NR SYS_setrlimit
#else
#define SETRLIMIT_NR 0
#endif
#ifdef SYS_wait4
#define WAIT4_NR SYS_wait4
#else
#define WAIT4_NR 0
#endif

/* RLIMIT_CPU counts whole seconds: a limit of cpu_ms, rounded up (0: none). */
static long long cpu_seconds(long cpu_ms)
{
    return cpu_ms > 0 ? (cpu_ms + 999) / 1000 : 0;
}

long sandbox_cpu_limit_s(long compile_cpu_ms, long run_cpu_ms)
{
    return (long)cpu_seconds(compile_cpu_ms > run_cpu_ms ? compile_cpu_ms : run_cpu_ms);
}

/* Counts the base64 of n bytes against a command line's bounds: false if over one. */
static bool fits(size_t n, size_t *total)
{
    size_t b64_len = rce_base64_encoded_len(n);
    *total += b64_len;
    return b64_len <= SANDBOX_MAX_CODE_BASE64 && *total <= SANDBOX_MAX_ARGS_BASE64;
}

bool sandbox_fits_command(const struct sandbox_job *job)
{
    size_t total = 0;
    bool ok = true;
    for (size_t i = 0; i < job->n_files; i++)
        ok = fits(job->files[i].len, &total) && ok;
    for (size_t i = 0; i < job->n_tests; i++)
        ok = fits(job->tests[i].stdin_len, &total) && ok;
    if (!job->n_tests)
        ok = fits(job->stdin_len, &total) && ok;
    return ok;
}

/* Appends the base64 of n bytes to cmd; -1 if out of memory. */
static int append_base64(json_t *cmd, const char *data, size_t n, char *err, size_t errlen)
{
    size_t b64_len = rce_base64_encoded_len(n);
    char *b64 = malloc(b64_len + 1);
    if (!b64) {
        snprintf(err, errlen, "out of memory building the container command");
        return -1;
    }
    rce_base64_encode((const unsigned char *)(data ? data : ""), n, b64);
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

/* Judge mode's part of the wrapper's arguments: each test's stdin (base64), then its arguments
 * as a command (a count, then the words). */
static int append_tests(json_t *words, const struct sandbox_job *job, char *err, size_t errlen)
{
    for (size_t i = 0; i < job->n_tests; i++) {
        const struct sandbox_test *t = &job->tests[i];
        if (append_base64(words, t->stdin_data, t->stdin_len, err, errlen) != 0)
            return -1;
        if (append_command(words, t->args, t->n_args) != 0) {
            snprintf(err, errlen, "out of memory building the container command");
            return -1;
        }
    }
    return 0;
}

/* The wrapper's arguments (see wrapper.pl): the job's commands, files, stdin and arguments. */
static json_t *build_words(const struct sandbox_job *job, char *err, size_t errlen)
{
    json_t *words = json_array();
    if (!words || append_number(words, GETRUSAGE_NR) != 0 || append_number(words, CLOCK_GETTIME_NR) != 0
        || append_number(words, PRCTL_NR) != 0 || append_number(words, SETRLIMIT_NR) != 0
        || append_number(words, WAIT4_NR) != 0
        || json_array_append_new(words, json_string(job->marker)) != 0
        || json_array_append_new(words, json_string(job->end ? job->end : "")) != 0
        || append_number(words, cpu_seconds(job->compile_cpu_ms)) != 0
        || append_number(words, cpu_seconds(job->cpu_ms)) != 0
        || append_number(words, (long long)job->n_tests) != 0
        || append_number(words, job->n_tests ? job->test_wall_ms : 0) != 0
        || append_number(words, job->n_tests ? job->test_output_bytes : 0) != 0
        || append_number(words, job->n_tests ? job->tests_output_max : 0) != 0
        || append_number(words, job->interactive) != 0
        || append_command(words, job->compile_argv, job->compile_argv ? job->compile_argc : 0) != 0
        || append_command(words, job->run_argv, job->run_argc) != 0
        || append_number(words, (long long)job->n_files) != 0)
        goto nomem;
    for (size_t i = 0; i < job->n_files; i++)
        if (json_array_append_new(words, json_string(job->files[i].name)) != 0
            || append_base64(words, job->files[i].data, job->files[i].len, err, errlen) != 0)
            goto fail;
    if (job->n_tests) {
        if (append_tests(words, job, err, errlen) != 0)
            goto fail;
        return words;
    }
    if (append_base64(words, job->stdin_data, job->stdin_len, err, errlen) != 0)
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

/* The container's command: perl runs the wrapper (wrapper.pl) with the job's words; a warm
 * container's prelude (prelude.pl) waits for them on stdin instead. */
static json_t *build_cmd(const struct sandbox_job *job, char *err, size_t errlen)
{
    const struct embedded *prelude = &embed_prelude_pl, *wrapper = &embed_wrapper_pl;
    if (job->pool_token || job->fed) {
        json_t *cmd = NULL;
        char *both = malloc(prelude->len + wrapper->len + 1);
        if (both) {
            memcpy(both, prelude->data, prelude->len);
            memcpy(both + prelude->len, wrapper->data, wrapper->len + 1);
            cmd = json_pack("[sss]", "perl", "-e", both);
            free(both);
        }
        if (!cmd)
            snprintf(err, errlen, "out of memory building the container command");
        return cmd;
    }
    if (!sandbox_fits_command(job)) {
        snprintf(err, errlen, "files or stdin too large for a command line: the job must be fed on stdin");
        return NULL;
    }
    json_t *words = build_words(job, err, errlen);
    /* "--": a word that looks like a switch is the wrapper's, not perl's */
    json_t *cmd = words ? json_pack("[ssss]", "perl", "-e", wrapper->data, "--") : NULL;
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
     * later. The container's is the larger step's; the wrapper lowers it for each step (the
     * compiler's, the program's). run.c also watches the container's total when the limit is
     * below the wall one. */
    const long limit_s = sandbox_cpu_limit_s(job->compile_cpu_ms, job->cpu_ms);
    const json_int_t cpu_s = limit_s > 0 ? limit_s : 3600;
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
        /* Our wrapper is PID 1 (wrapper.pl), not docker-init. */
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
    const bool stdin_open = warm || job->fed || job->interactive;
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
        /* A warm or fed container reads its job from stdin, an interactive one workerd's control
         * lines (wrapper.h); StdinOnce closes that stdin when our connection does, so that
         * the container of a workerd that died ends by itself. */
        "AttachStdin", stdin_open,
        "AttachStdout", 1,
        "AttachStderr", 1,
        "OpenStdin", stdin_open,
        "StdinOnce", stdin_open,
        "Tty", 0,                          /* non-TTY: stdout and stderr arrive multiplexed */
        "Entrypoint",                      /* empty, not absent: an image ENTRYPOINT must not wrap us */
        "Cmd", cmd,
        "HostConfig", host_config);
    if (!spec)
        snprintf(err, errlen, "out of memory building the container spec");
    return spec;
}
