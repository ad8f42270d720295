/* A job as the gateway queued it, and the result we publish: JSON in, verdict rules, JSON out. */
#ifndef WORKERD_JOB_H
#define WORKERD_JOB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compare.h"
#include "config.h"
#include "output.h"
#include "wrapper.h"

struct stream_events;
struct job_input;

/* Docker refuses a memory limit below 6 MiB: a job asking for less gets this much. */
#define JOB_MIN_MEMORY_MB 6

/* One file of a job: written into the work dir before the program runs. */
struct job_file {
    char *name;             /* NULL: the language's main file */
    char *data;             /* decoded bytes (may hold NUL): use len */
    size_t len;
};

/* One test of judge mode: the program's input for one run, and the output it must give. */
struct job_test {
    char *stdin_data;       /* may hold NUL: use stdin_len; NULL: empty */
    size_t stdin_len;
    char **args;
    size_t n_args;
    char *expected;         /* NULL: no expected output, the test just runs */
    size_t expected_len;
};

struct job {
    char *id;
    char *language;
    char *code;             /* the "code" shorthand: the main file; may hold NUL: use code_len */
    size_t code_len;
    struct job_file *files; /* or "files" (then code is NULL) */
    size_t n_files;
    char *stdin_data;       /* the program's standard input; NULL: empty */
    size_t stdin_len;
    char **args;            /* arguments after the run command */
    size_t n_args;
    unsigned named;         /* bit i: the job named limit i of RCE_LIMITS */
    unsigned clamped;       /* bit i: limit i of RCE_LIMITS was cut to the node's maximum */
    char *reply_to;
    int64_t enqueued_ms;    /* 0 if absent */
    int64_t deadline_ms;    /* unix ms after which nobody waits; 0 if absent */
    struct limits limits;   /* the job's limits, defaults filled in, clamped to the maxima; the
                             * compile step's are settled by lang_limits once the language is known */
    long long epoch;        /* the node's epoch when it took the job (not in the JSON) */
    struct job_test *tests; /* judge mode when n_tests > 0: stdin and args are then unset */
    size_t n_tests;
    struct compare compare;
    bool stop_on_failure;
    bool async;             /* nobody waits: its state is in rce:job:<id>, and it can be cancelled */
    bool batch;             /* of the batch class: it leaves the last warm container to the others */
    int result_ttl_s;       /* rce:result:<id>'s lifetime, 1..RCE_ASYNC_RESULT_TTL_MAX_S; 0 if absent */
    const atomic_bool *cancel;  /* set by the slot for an asynchronous job (not in the JSON): once
                                 * true, stop it (run.c); NULL: it cannot be cancelled */
    bool stream;            /* its events are published on reply_to as it runs (stream.c) */
    bool interactive;       /* (with stream, without tests) its stdin is live (input.c) */
    struct stream_events *events;   /* set by the slot for a stream job (not in the JSON): where
                                     * run.c reports its output as it comes; NULL: nowhere */
    struct job_input *input;        /* set by the slot for a stream job (not in the JSON): its
                                     * rce:input:<id> watch; NULL: none */
};

/* Parses one queue element. Returns 0, or -1 with the reason in err; even then id and
 * reply_to are filled when the element names them, so the caller can still answer IE. */
int job_parse(const char *text, size_t len, const struct limits *defaults,
              const struct limits *maxima, struct job *job, char *err, size_t errlen);
void job_free(struct job *job);

/* The lifetime of the job's rce:result:<id> in s: its result_ttl_s, else RCE_RESULT_TTL_S. */
int job_result_ttl_s(const struct job *job);

/* Why we killed a container ourselves, if we did. */
enum kill_cause { KILL_NONE, KILL_DEADLINE, KILL_OUTPUT_CAP, KILL_CPU, KILL_CANCEL };

/* The reasons of a CANCELLED result. */
#define JOB_CANCELLED_BEFORE "cancelled before it started"
#define JOB_CANCELLED_RUNNING "cancelled by request"

/* One test's outcome in judge mode. */
struct test_result {
    const char *status;     /* one of RCE_STATUS_*: SKIPPED until its record came */
    bool has_exit_code;
    int exit_code;
    bool has_signal;
    int signal;
    char *out, *err;        /* malloc'd (NULL: nothing) */
    size_t out_len, err_len;
    bool truncated;
    long wall_ms;           /* -1: unknown */
    long long cpu_ms, memory_kb;    /* -1: unknown */
    char reason[200];       /* why, for a status that needs it; empty otherwise */
};

struct job_result {
    const char *status;     /* one of RCE_STATUS_* */
    bool has_exit_code;
    int exit_code;
    bool has_signal;
    int signal;
    struct capture out;
    struct capture err;     /* its cap leaves room for the wrapper's figures line */
    size_t output_limit;    /* the job's cap on each stream */
    long wall_ms;
    long long cpu_ms;       /* user + system time of all its processes; -1 if unknown */
    long long memory_kb;    /* peak memory; -1 if unknown */
    int exit_status;        /* the container's, as its wrapper reported it; -1 if unknown */
    long long oom_kills;    /* its memory cgroup's, as its wrapper reported them; -1 if unknown */
    bool figures_trusted;   /* the end line followed them: the wrapper's, not the program's */
    char reason[512];       /* IE only; empty otherwise */
    bool compiled;          /* a compile step ran: the compile_* fields hold it */
    int compile_exit_code;  /* -1: it did not finish */
    long compile_wall_ms;   /* -1: unknown */
    long long compile_cpu_ms, compile_memory_kb, compile_oom_kills;   /* -1: unknown */
    size_t compile_scan;    /* stdout before this offset holds no compile line */
    char *compile_out, *compile_err;
    size_t compile_out_len, compile_err_len;
    char end_line[WRAPPER_END_MAX];   /* the wrapper's last line on each stream; "" if none */
    const char *version;    /* the language's, or NULL (not owned) */
    struct limits limits;   /* what the run had, for the answer */
    unsigned clamped;       /* as in struct job */
    struct test_result *tests;  /* judge mode: one per test of the job (judge.c) */
    size_t n_tests;
    size_t tests_seen;      /* records read so far */
    size_t tests_scan;      /* where in stdout the next record starts */
    bool tests_scanning;    /* the records have begun (after a compile step's line) */
    bool tests_failed;      /* a test that is not OK was seen */
    bool tests_cut;         /* a test passed the cap on all tests' output: no record follows */
};

void job_result_init(struct job_result *r, size_t output_limit);
void job_result_free(struct job_result *r);

/* Marks the result IE with a reason (printf-style). */
void job_result_fail(struct job_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the end line from the job's end token (see struct sandbox_job); "" or NULL: none. */
void job_result_set_end(struct job_result *r, const char *end);

/* True when stdout and stderr both end with the end line: the wrapper wrote its last words,
 * after every process of the job was gone. */
bool job_result_ended(const struct job_result *r);

/* Takes the wrapper's last lines off the end of buf (*len shrinks): its end line, if there,
 * then its figures (cpu_ms, memory_kb, exit_status, oom_kills into r; figures_trusted when
 * the end line followed them). Returns true if the figures were there. The lines are
 * parsed in wrapper.c. */
bool job_result_take_figures(struct job_result *r, const char *buf, size_t *len);

/* After the output ended: takes the wrapper's lines off the end of stdout and stderr (the
 * figures into r), then holds both to output_limit. Returns true when a stream went over the
 * cap, which makes the verdict OLE. */
bool job_result_finish_output(struct job_result *r);

/* Holds both captures to output_limit (after a kill, stderr may hold the reserve too). */
void job_result_clip_output(struct job_result *r);

/* The verdict rules: our own kill decides first (OLE for the output cap, TLE for the wall
 * deadline or the cpu total we watched, CANCELLED with JOB_CANCELLED_RUNNING as its reason for
 * a cancel); then the kernel's OOM kill as Docker recorded it (MLE); then the cpu limit (TLE:
 * SIGXCPU from RLIMIT_CPU, or cpu_ms above cpu_limit_ms); then the exit code: 0 is OK,
 * anything else RE, and a code above 128 also names the killing signal. exit_code is ignored
 * when we killed the container. */
void job_result_decide(struct job_result *r, enum kill_cause killed, bool oom_killed, int exit_code,
                       long cpu_limit_ms);

/* While the job runs: true once stdout holds the whole compile line (what it said in *c).
 * Looks only at what came since the last call. */
bool job_result_compile_seen(struct job_result *r, const char *marker, struct wrapper_compiled *c);

/* After a compile step: moves what the compiler printed (everything before the compile line
 * the wrapper writes on each stream when the compiler ends, see wrapper.h) out of the
 * captures into compile_* and says how the compile step ended. */
enum wrapper_compile job_result_split_compile(struct job_result *r, const char *marker);

/* Encodes the result JSON; malloc'd, NULL if out of memory. Every stream keeps its bytes:
 * valid UTF-8 (NUL included) as a string, anything else as base64 with <stream>_encoding
 * "base64" beside it (docs/protocol.md). language may be NULL (an unreadable job). */
char *job_result_json(const char *id, const char *language, const char *node,
                      const struct job_result *r);

#endif
