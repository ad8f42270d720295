/* Judge mode: the job's tests parsed, each record read and given its verdict, the tests that
 * never ran, the job's verdict and the result JSON's tests. */
#include <jansson.h>
#include <stdlib.h>

#include "job.h"
#include "judge.h"
#include "output.h"
#include "rce_protocol.h"
#include "wrapper.h"
#include "test.h"

static const struct limits defaults = { .wall_ms = 1000, .memory_mb = 64, .pids = 64, .output_bytes = 100,
                                        .cpu_ms = 500, .compile_wall_ms = 20000, .compile_cpu_ms = 20000 };
static const struct limits maxima = { .wall_ms = 30000, .memory_mb = 1024, .pids = 256, .output_bytes = 1048576,
                                      .cpu_ms = 30000, .compile_wall_ms = 60000, .compile_cpu_ms = 60000,
                                      .compile_memory_mb = 2048 };

static int parse(const char *text, struct job *job, char *err)
{
    return job_parse(text, strlen(text), &defaults, &maxima, job, err, 256);
}

#define JOB(rest) "{\"id\":\"j\",\"language\":\"c\",\"code\":\"x\",\"reply_to\":\"r\"" rest "}"

static void test_parse_tests(void)
{
    struct job job;
    char err[256];
    assert(parse(JOB(",\"tests\":[{\"stdin\":\"1 2\\n\",\"expected_output\":\"3\\n\"},{\"args\":[\"-v\",\"a b\"]},"
                     "{\"stdin\":\"a\\u0000b\",\"expected_output\":\"\"}],"
                     "\"compare\":{\"float\":1e-6},\"stop_on_failure\":true"), &job, err) == 0);
    assert(job.n_tests == 3 && job.stop_on_failure);
    assert(job.tests[0].stdin_len == 4 && STREQ(job.tests[0].stdin_data, "1 2\n"));
    assert(job.tests[0].expected_len == 2 && STREQ(job.tests[0].expected, "3\n"));
    assert(job.tests[1].n_args == 2 && STREQ(job.tests[1].args[1], "a b") && !job.tests[1].expected);
    assert(!job.tests[1].stdin_data);
    assert(job.tests[2].stdin_len == 3 && job.tests[2].expected && job.tests[2].expected_len == 0);
    assert(job.compare.mode == COMPARE_FLOAT && job.compare.tolerance == 1e-6);
    assert(!job.stdin_data && !job.args);
    job_free(&job);

    assert(parse(JOB(",\"tests\":[{}]"), &job, err) == 0);
    assert(job.n_tests == 1 && job.compare.mode == COMPARE_LINES && !job.stop_on_failure);
    job_free(&job);
    assert(parse(JOB(",\"tests\":[{}],\"compare\":\"tokens\""), &job, err) == 0 && job.compare.mode == COMPARE_TOKENS);
    job_free(&job);

    const char *bad[] = {
        JOB(",\"tests\":[]"), JOB(",\"tests\":{}"), JOB(",\"tests\":[1]"), JOB(",\"tests\":[{}],\"stdin\":\"x\""),
        JOB(",\"tests\":[{}],\"args\":[]"), JOB(",\"tests\":[{\"args\":\"x\"}]"), JOB(",\"tests\":[{\"stdin\":1}]"),
        JOB(",\"tests\":[{\"expected_output\":1}]"), JOB(",\"tests\":[{}],\"compare\":\"float\""),
        JOB(",\"tests\":[{}],\"compare\":\"fuzzy\""), JOB(",\"tests\":[{}],\"compare\":{\"float\":-1}"),
        JOB(",\"tests\":[{}],\"stop_on_failure\":1"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert(parse(bad[i], &job, err) == -1 && strstr(err, "invalid job"));
        assert(STREQ(job.id, "j") && STREQ(job.reply_to, "r"));    /* still answerable */
        job_free(&job);
    }
}

/* Appends a test record with its output to the capture. */
static void record(struct capture *c, int i, const char *how, const char *status, const char *cpu_us,
                   const char *rss, const char *oom, const char *out, const char *err)
{
    char line[WRAPPER_TEST_MAX];
    int n = snprintf(line, sizeof line, WRAPPER_TEST_MARK "%d %s %s 7 %s %s %s %zu %zu\n", i, how, status, cpu_us, rss,
                     oom, strlen(out), strlen(err));
    assert(capture_append(c, line, (size_t)n) == 0 && capture_append(c, out, strlen(out)) == 0
           && capture_append(c, err, strlen(err)) == 0);
}

static void test_verdicts(void)
{
    struct job job;
    struct job_result r;
    char err[256];
    assert(parse(JOB(",\"tests\":[{\"expected_output\":\"3\\n\"},{\"expected_output\":\"3\"},{},{},{},{},{},{},{},"
                     "{\"expected_output\":\"3\"},{}]"), &job, err) == 0);
    struct judge j = { .job = &job, .run_memory_mb = 64, .memory_held = true };
    job_result_init(&r, judge_output_limit(&job));
    assert(judge_init(&r, &job) == 0 && r.n_tests == 11);
    judge_start(&r, 0);
    record(&r.out, 0, "exit", "0", "1000", "2000", "0", "3\n", "");
    record(&r.out, 1, "exit", "0", "1000", "2000", "0", "4\n", "warn");
    record(&r.out, 2, "exit", "139", "1000", "2000", "0", "", "");
    record(&r.out, 3, "wall", "137", "", "", "", "part", "");
    record(&r.out, 4, "exit", "152", "1000000", "2000", "0", "", "");      /* SIGXCPU */
    record(&r.out, 5, "exit", "0", "600000", "2000", "0", "", "");         /* over cpu_ms 500 */
    record(&r.out, 6, "exit", "137", "1000", "", "1", "", "");             /* the OOM kill */
    record(&r.out, 7, "exit", "0", "1000", "70000", "0", "", "");          /* its peak over 64 MiB */
    record(&r.out, 8, "output", "137", "1000", "2000", "0", "yyyy", "");
    assert(judge_scan(&r, &j) == 0 && r.tests_seen == 9 && r.tests_failed && !r.tests_cut);
    /* half a record waits for the rest */
    size_t before = r.out.len;
    record(&r.out, 9, "exit", "0", "1000", "2000", "0", "3", "");
    size_t whole = r.out.len;
    r.out.len = before + 10;
    assert(judge_scan(&r, &j) == 0 && r.tests_seen == 9);
    r.out.len = whole;
    record(&r.out, 10, "total", "137", "1000", "2000", "0", "zz", "");
    assert(judge_scan(&r, &j) == 0 && r.tests_seen == 11 && r.tests_cut);
    const char *want[] = { "OK", "WA", "RE", "TLE", "TLE", "TLE", "MLE", "MLE", "OLE", "OK", "OLE" };
    for (size_t i = 0; i < 11; i++)
        assert(STREQ(r.tests[i].status, want[i]));
    assert(r.tests[1].err_len == 4 && memcmp(r.tests[1].err, "warn", 4) == 0);
    assert(r.tests[2].has_signal && r.tests[2].signal == 11 && r.tests[2].exit_code == 139);
    assert(!r.tests[3].has_exit_code && r.tests[3].out_len == 4 && strstr(r.tests[3].reason, "wall_ms"));
    assert(r.tests[6].memory_kb == 64 * 1024);     /* it reached the limit */
    assert(strstr(r.tests[7].reason, "peak memory"));
    assert(r.tests[8].truncated && r.tests[10].truncated && !r.tests[0].truncated);
    r.status = RCE_STATUS_OK;
    judge_finish(&r, NULL, NULL, "unused");
    assert(STREQ(r.status, RCE_STATUS_WA) && r.out.len == 0 && r.out.overflowed);
    assert(r.wall_ms == 77 && r.memory_kb == 70000);

    char *text = job_result_json("j", "c", "n1", &r);
    json_t *res = json_loads(text, 0, NULL);
    assert(json_array_size(json_object_get(res, RCE_RES_TESTS)) == 11);
    assert(json_integer_value(json_object_get(res, RCE_RES_PASSED)) == 2);
    assert(json_integer_value(json_object_get(res, RCE_RES_TOTAL)) == 11);
    json_t *t1 = json_array_get(json_object_get(res, RCE_RES_TESTS), 1);
    assert(STREQ(json_string_value(json_object_get(t1, RCE_RES_STDERR)), "warn"));
    assert(json_integer_value(json_object_get(t1, RCE_RES_CPU_MS)) == 1);
    json_decref(res);
    free(text);
    job_result_free(&r);
    job_free(&job);
}

static void test_missing_and_garbled(void)
{
    struct job job;
    struct job_result r;
    char err[256];
    assert(parse(JOB(",\"tests\":[{\"expected_output\":\"1\"},{},{}],\"stop_on_failure\":true"), &job, err) == 0);
    struct judge j = { .job = &job, .run_memory_mb = 64 };

    /* stop_on_failure: nothing is read past the first failure */
    job_result_init(&r, judge_output_limit(&job));
    assert(judge_init(&r, &job) == 0);
    judge_start(&r, 0);
    record(&r.out, 0, "exit", "0", "1", "1", "0", "2", "");
    record(&r.out, 1, "exit", "0", "1", "1", "0", "", "");
    assert(judge_scan(&r, &j) == 0 && r.tests_seen == 1 && r.tests_failed);
    r.status = RCE_STATUS_OK;
    judge_finish(&r, NULL, NULL, "stop_on_failure");
    assert(STREQ(r.status, "WA") && STREQ(r.tests[1].status, "SKIPPED") && STREQ(r.tests[1].reason, "stop_on_failure"));
    job_result_free(&r);

    /* the deadline during the second test */
    job_result_init(&r, judge_output_limit(&job));
    assert(judge_init(&r, &job) == 0);
    judge_start(&r, 5);
    assert(capture_append(&r.out, "xxxxx", 5) == 0);      /* the compile line's place */
    record(&r.out, 0, "exit", "0", "1", "1", "0", "1", "");
    assert(judge_scan(&r, &j) == 0 && r.tests_seen == 1 && !r.tests_failed);
    r.status = RCE_STATUS_TLE;
    judge_finish(&r, RCE_STATUS_TLE, "deadline", "after the deadline");
    assert(STREQ(r.status, "TLE") && STREQ(r.tests[1].status, "TLE") && STREQ(r.tests[2].status, "SKIPPED"));
    assert(STREQ(r.tests[2].reason, "after the deadline"));
    job_result_free(&r);

    /* cancelled during the second test (run.c's finish_tests): the job is CANCELLED whatever
     * the tests before it say */
    job_result_init(&r, judge_output_limit(&job));
    assert(judge_init(&r, &job) == 0);
    judge_start(&r, 0);
    record(&r.out, 0, "exit", "0", "1", "1", "0", "2", "");
    assert(judge_scan(&r, &j) == 0 && r.tests_seen == 1);
    job_result_decide(&r, KILL_CANCEL, false, 0, 0);
    judge_finish(&r, RCE_STATUS_CANCELLED, "during", "before");
    job_result_decide(&r, KILL_CANCEL, false, 0, 0);
    assert(STREQ(r.status, "CANCELLED") && STREQ(r.reason, JOB_CANCELLED_RUNNING) && !r.has_exit_code);
    assert(STREQ(r.tests[0].status, "WA") && STREQ(r.tests[1].status, "CANCELLED") && STREQ(r.tests[1].reason, "during"));
    assert(STREQ(r.tests[2].status, "SKIPPED") && STREQ(r.tests[2].reason, "before"));
    job_result_free(&r);

    /* a compile error: every test SKIPPED, the verdict stays CE */
    job_result_init(&r, judge_output_limit(&job));
    assert(judge_init(&r, &job) == 0);
    r.status = RCE_STATUS_CE;
    judge_finish(&r, RCE_STATUS_TLE, "x", "y");
    assert(STREQ(r.status, "CE") && STREQ(r.tests[0].status, "SKIPPED") && strstr(r.tests[0].reason, "compile"));
    job_result_free(&r);

    /* not a record, a record out of order */
    const char *garbled[] = { "garbage", WRAPPER_TEST_MARK "1 exit 0 1 1 1 0 0 0\n" };
    for (size_t i = 0; i < 2; i++) {
        job_result_init(&r, judge_output_limit(&job));
        assert(judge_init(&r, &job) == 0);
        judge_start(&r, 0);
        assert(capture_append(&r.out, garbled[i], strlen(garbled[i])) == 0);
        assert(judge_scan(&r, &j) == -1);
        job_result_free(&r);
    }
    job_free(&job);

    /* without tests, nothing changes */
    assert(parse(JOB(""), &job, err) == 0 && job.n_tests == 0);
    assert(judge_output_limit(&job) == 100);
    job_result_init(&r, judge_output_limit(&job));
    assert(judge_init(&r, &job) == 0 && r.n_tests == 0 && !r.tests);
    char *text = job_result_json("j", "c", "n1", &r);
    assert(!strstr(text, "\"tests\"") && !strstr(text, "\"passed\""));
    free(text);
    job_result_free(&r);
    job_free(&job);
}

int main(void)
{
    RUN(test_parse_tests);
    RUN(test_verdicts);
    RUN(test_missing_and_garbled);
    return REPORT("test_judge");
}
