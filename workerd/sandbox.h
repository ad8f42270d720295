/* The sandbox: the one place that decides every setting of a job's container. */
#ifndef WORKERD_SANDBOX_H
#define WORKERD_SANDBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* On a command line each file and stdin travel base64-encoded as one argv string, and Linux
 * caps one argument at MAX_ARG_STRLEN (128 KiB); this leaves room for the rest. */
#define SANDBOX_MAX_CODE_BASE64 (120 * 1024)
/* ... and all of argv and the environment at ARG_MAX (2 MiB with an 8 MiB stack). */
#define SANDBOX_MAX_ARGS_BASE64 (1536 * 1024)

/* A file written into the work dir before the program runs. */
struct sandbox_file {
    const char *name;            /* a plain file name */
    const char *data;
    size_t len;
};

/* A test of judge mode: the program runs once for each, with this input. */
struct sandbox_test {
    const char *stdin_data;      /* may be NULL: empty */
    size_t stdin_len;
    char *const *args;           /* after the run command */
    size_t n_args;
};

struct sandbox_job {
    const char *job_id;
    const char *node;
    const char *image;           /* <prefix><language>:latest */
    const struct sandbox_file *files;
    size_t n_files;
    const char *stdin_data;      /* may be NULL: empty */
    size_t stdin_len;
    char *const *args;           /* after the run command */
    size_t n_args;
    char *const *compile_argv;   /* NULL for an interpreted language */
    size_t compile_argc;
    char *const *run_argv;       /* how the image runs it */
    size_t run_argc;
    const char *marker;          /* printed after the compile step: unguessable per job */
    const char *end;             /* the end token, a secret per job (see wrapper.h); NULL
                                  * or "": none (a cold container, whose command line any
                                  * process can read) */
    long memory_mb;
    long pids;
    long cpu_ms;                 /* the run command's RLIMIT_CPU: ceil(cpu_ms / 1000) s */
    long compile_cpu_ms;         /* the compile command's (0 without one); the container's is
                                  * the larger: sandbox_cpu_limit_s */
    long cpus;                   /* CPUs the container may use at once (NanoCpus); 0: one */
    const char *runtime;         /* HostConfig.Runtime; NULL or "" for the engine's default */
    const struct sandbox_test *tests;   /* judge mode (n_tests > 0): stdin and args unused */
    size_t n_tests;
    long test_wall_ms;           /* each test's wall limit, enforced by the wrapper */
    long test_output_bytes;      /* each test's cap on each stream */
    long tests_output_max;       /* the cap on all tests' output together */
    bool interactive;            /* the program's stdin is live: workerd's control lines
                                  * come on the container's stdin (wrapper.h) */
    const char *pool_token;      /* set: the spec of a warm container, labelled with it, whose
                                  * job comes later on stdin (sandbox_payload); the job's id,
                                  * files, stdin, args and marker are then not used */
    bool fed;                    /* a job's container that reads the job on stdin as a warm
                                  * one does (sandbox_payload), because its files or stdin are
                                  * too large for a command line (sandbox_fits_command) */
};

/* Fixed parts of the sandbox (the per-job parts are in struct sandbox_job). */
#define SANDBOX_TMPFS_MB 64          /* /work and /tmp, each; counted in the job's memory too */
#define SANDBOX_SHM_MB 64            /* /dev/shm */
#define SANDBOX_FSIZE_MB 32          /* RLIMIT_FSIZE: one file at most this big (EFBIG/SIGXFSZ) */
#define SANDBOX_NOFILE 256           /* RLIMIT_NOFILE */
#define SANDBOX_GVISOR_PIDS_BASE 64  /* runsc: host tasks of the Sentry ... */
#define SANDBOX_GVISOR_PIDS_PER_TASK 8  /* ... and per task of the program */

/* The job as a warm container's prelude reads it from stdin: a line of the byte lengths of
 * the wrapper's arguments, then the arguments. malloc'd (its length in *len), or NULL with
 * the reason in err, as for sandbox_container_spec. */
char *sandbox_payload(const struct sandbox_job *job, size_t *len, char *err, size_t errlen);

/* RLIMIT_CPU of a job's container, whole seconds: the larger of its compile step's and its run
 * command's cpu limits, ms (0: none); the wrapper lowers it for each step's process. 0 when
 * neither has one. Warm containers are matched to jobs by it (container_shape). */
long sandbox_cpu_limit_s(long compile_cpu_ms, long run_cpu_ms);

/* Whether the job's files, stdin and tests fit on its container's command line: none over
 * SANDBOX_MAX_CODE_BASE64 in base64, all within SANDBOX_MAX_ARGS_BASE64. A job that does not
 * is fed on stdin instead (fed). */
bool sandbox_fits_command(const struct sandbox_job *job);

/* Builds the body of POST /containers/create. Returns NULL with the reason in err when the
 * job is given on the command line (neither pool_token nor fed) and does not fit it
 * (sandbox_fits_command), or memory runs out. */
json_t *sandbox_container_spec(const struct sandbox_job *job, char *err, size_t errlen);

#endif
