/* Judge mode: a job's tests, compiled once and run one by one by the wrapper, read off its
 * test records (wrapper.h) as they come and each given its verdict. */
#ifndef WORKERD_JUDGE_H
#define WORKERD_JUDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"

/* What a test's verdict depends on beyond its record. */
struct judge {
    const struct job *job;
    long run_memory_mb;     /* the run's memory limit */
    bool memory_held;       /* the container is larger (for the compile step): a test whose
                             * peak passed run_memory_mb is MLE, as the kernel would have made it */
};

/* The cap on a judge job's stdout capture: every test's output, its record's first line and
 * the compile step's output; a job without tests has its output_bytes. */
size_t judge_output_limit(const struct job *job);

/* Gives r one test result per test of job, each SKIPPED until its record comes. Returns 0, or
 * -1 if out of memory. A job without tests is left alone. */
int judge_init(struct job_result *r, const struct job *job);

/* The records begin at this offset of stdout (just past the compile line, or 0). */
void judge_start(struct job_result *r, size_t at);

/* Reads the records that have come whole since the last call, giving each test its verdict;
 * sets tests_failed once one is not OK. Returns 0, or -1 for something that is not the next
 * record (r is then left for the caller to fail). */
int judge_scan(struct job_result *r, const struct judge *j);

/* Once no more records can come: the first test without one gets status and reason (status
 * NULL: it is SKIPPED too), every later one is SKIPPED for skipped_why; the job's verdict is the
 * first test's that is not OK (OK if none), its figures the tests' together. Leaves an IE or
 * CE verdict as it is (the tests are then all SKIPPED, saying so). */
void judge_finish(struct job_result *r, const char *status, const char *reason, const char *skipped_why);

#endif
