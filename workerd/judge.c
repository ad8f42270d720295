#include "judge.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "rce_protocol.h"
#include "wrapper.h"

size_t judge_output_limit(const struct job *job)
{
    if (job->n_tests == 0)
        return (size_t)job->limits.output_bytes;
    return RCE_TESTS_OUTPUT_MAX_BYTES + job->n_tests * WRAPPER_TEST_MAX + (size_t)job->limits.output_bytes;
}

int judge_init(struct job_result *r, const struct job *job)
{
    if (job->n_tests == 0)
        return 0;
    if (!(r->tests = calloc(job->n_tests, sizeof *r->tests)))
        return -1;
    r->n_tests = job->n_tests;
    for (size_t i = 0; i < r->n_tests; i++) {
        r->tests[i].status = RCE_STATUS_SKIPPED;
        r->tests[i].wall_ms = -1;
        r->tests[i].cpu_ms = r->tests[i].memory_kb = -1;
    }
    return 0;
}

void judge_start(struct job_result *r, size_t at)
{
    r->tests_scan = at;
    r->tests_scanning = true;
}

/* A copy of n bytes (NULL for none, or if out of memory: the test then shows no output). */
static char *copy_bytes(const char *data, size_t n)
{
    char *c = n ? malloc(n) : NULL;
    if (c)
        memcpy(c, data, n);
    return c;
}

/* The verdict of a test that ran to its end: memory, then cpu, then its exit, then its output. */
static const char *verdict_of_exit(struct test_result *t, const struct wrapper_test *w, const struct judge *j,
                                   const struct job_test *jt)
{
    const struct limits *l = &j->job->limits;
    if (w->oom_kills > 0) {
        if (t->memory_kb < 0)
            t->memory_kb = (long long)j->run_memory_mb * 1024;    /* it reached the limit */
        return RCE_STATUS_MLE;
    }
    if (j->memory_held && t->memory_kb > (long long)j->run_memory_mb * 1024) {
        snprintf(t->reason, sizeof t->reason, "its peak memory, %lld KiB, is over its %s of %ld MiB",
                 t->memory_kb, RCE_LIMIT_MEMORY_MB, j->run_memory_mb);
        return RCE_STATUS_MLE;
    }
    if ((t->has_signal && t->signal == SIGXCPU) || (t->cpu_ms >= 0 && t->cpu_ms > l->cpu_ms)) {
        snprintf(t->reason, sizeof t->reason, "it used its %s of %ld ms", RCE_LIMIT_CPU_MS, l->cpu_ms);
        return RCE_STATUS_TLE;
    }
    if (!t->has_exit_code || t->exit_code != 0)
        return RCE_STATUS_RE;
    if (jt->expected && !compare_output(&j->job->compare, jt->expected, jt->expected_len, t->out, t->out_len))
        return RCE_STATUS_WA;
    return RCE_STATUS_OK;
}

/* A test's result from its record (its output at buf). */
static void decide(struct test_result *t, const struct wrapper_test *w, const char *buf, const struct judge *j,
                   const struct job_test *jt)
{
    const struct limits *l = &j->job->limits;
    t->out = copy_bytes(buf + w->out_at, w->out_len);
    t->out_len = t->out ? w->out_len : 0;
    t->err = copy_bytes(buf + w->err_at, w->err_len);
    t->err_len = t->err ? w->err_len : 0;
    t->wall_ms = (long)w->wall_ms;
    t->cpu_ms = w->cpu_us >= 0 ? w->cpu_us / 1000 : -1;
    t->memory_kb = w->maxrss_kb;
    t->truncated = w->how == TEST_OUTPUT || w->how == TEST_TOTAL;
    if (w->how == TEST_EXITED && w->status >= 0 && w->status <= 255) {
        t->has_exit_code = true;
        t->exit_code = (int)w->status;
        t->has_signal = w->status > 128;
        t->signal = t->has_signal ? (int)w->status - 128 : 0;
    }
    switch (w->how) {
    case TEST_OUTPUT:
        t->status = RCE_STATUS_OLE;
        snprintf(t->reason, sizeof t->reason, "its output passed its %s of %ld", RCE_LIMIT_OUTPUT_BYTES,
                 l->output_bytes);
        break;
    case TEST_TOTAL:
        t->status = RCE_STATUS_OLE;
        snprintf(t->reason, sizeof t->reason, "the tests' output together passed %d bytes",
                 RCE_TESTS_OUTPUT_MAX_BYTES);
        break;
    case TEST_WALL:
        t->status = RCE_STATUS_TLE;
        snprintf(t->reason, sizeof t->reason, "it ran past its %s of %ld ms", RCE_LIMIT_WALL_MS, l->wall_ms);
        break;
    case TEST_EXITED:
        t->status = verdict_of_exit(t, w, j, jt);
        break;
    }
}

int judge_scan(struct job_result *r, const struct judge *j)
{
    struct wrapper_test w;
    while (r->tests_scanning && !r->tests_cut && r->tests_seen < r->n_tests && r->tests_scan < r->out.len
           && !(r->tests_failed && j->job->stop_on_failure)) {
        const char *at = r->out.data + r->tests_scan;
        enum wrapper_record got = wrapper_take_test(at, r->out.len - r->tests_scan, &w);
        if (got == RECORD_INCOMPLETE)
            return 0;
        if (got == RECORD_GARBLED || w.index != (long)r->tests_seen)
            return -1;
        struct test_result *t = &r->tests[r->tests_seen];
        decide(t, &w, at, j, &j->job->tests[r->tests_seen]);
        r->tests_failed |= strcmp(t->status, RCE_STATUS_OK) != 0;
        r->tests_cut = w.how == TEST_TOTAL;
        r->tests_seen++;
        r->tests_scan += w.next;
    }
    return 0;
}

/* The job's figures from its tests': wall and cpu time summed, the largest peak memory. */
static void sum_figures(struct job_result *r)
{
    r->wall_ms = 0;
    r->cpu_ms = r->memory_kb = -1;
    for (size_t i = 0; i < r->tests_seen; i++) {
        const struct test_result *t = &r->tests[i];
        r->wall_ms += t->wall_ms > 0 ? t->wall_ms : 0;
        if (t->cpu_ms >= 0)
            r->cpu_ms = (r->cpu_ms > 0 ? r->cpu_ms : 0) + t->cpu_ms;
        if (t->memory_kb > r->memory_kb)
            r->memory_kb = t->memory_kb;
    }
}

void judge_finish(struct job_result *r, const char *status, const char *reason, const char *skipped_why)
{
    bool ce = strcmp(r->status, RCE_STATUS_CE) == 0, ie = strcmp(r->status, RCE_STATUS_IE) == 0;
    for (size_t i = r->tests_seen; i < r->n_tests; i++) {
        struct test_result *t = &r->tests[i];
        bool first = i == r->tests_seen && status && !ce && !ie;
        t->status = first ? status : RCE_STATUS_SKIPPED;
        snprintf(t->reason, sizeof t->reason, "%s",
                 first ? reason : ce ? "the compile step failed" : ie ? "the job failed: see its reason"
                 : r->tests_cut ? "the tests' output together reached its bound before it" : skipped_why);
    }
    if (ce || ie)
        return;
    r->has_exit_code = r->has_signal = false;
    r->out.len = r->err.len = 0;
    r->out.overflowed = r->err.overflowed = false;
    for (size_t i = 0; i < r->n_tests; i++)
        r->out.overflowed |= r->tests[i].truncated;
    r->reason[0] = '\0';
    sum_figures(r);
    r->status = RCE_STATUS_OK;
    for (size_t i = 0; i < r->n_tests; i++)
        if (strcmp(r->tests[i].status, RCE_STATUS_OK) != 0) {
            r->status = r->tests[i].status;
            break;
        }
}
