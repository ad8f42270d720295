/* Job JSON parsing and limit clamping, the verdict rules, and the result JSON. */
#include <jansson.h>
#include <stdlib.h>

#include "job.h"
#include "rce_protocol.h"
#include "wrapper.h"
#include "test.h"

static const struct limits defaults = { .wall_ms = 10000, .memory_mb = 256, .pids = 64, .output_bytes = 65536,
                                        .cpu_ms = 10000, .compile_wall_ms = 20000, .compile_cpu_ms = 20000 };
static const struct limits maxima = { .wall_ms = 30000, .memory_mb = 1024, .pids = 256, .output_bytes = 1048576,
                                      .cpu_ms = 30000, .compile_wall_ms = 60000, .compile_cpu_ms = 60000,
                                      .compile_memory_mb = 2048 };

static int parse(const char *text, struct job *job, char *err)
{
    return job_parse(text, strlen(text), &defaults, &maxima, job, err, 256);
}

static void test_parse_full_job_and_clamp(void)
{
    struct job job;
    char err[256];
    assert(parse("{\"id\":\"a1\",\"language\":\"python\",\"code\":\"print(1)\",\"reply_to\":\"rce:reply:w1\","
                 "\"enqueued_ms\":1700000000000,\"deadline_ms\":1700000030000,"
                 "\"limits\":{\"wall_ms\":99999,\"memory_mb\":1,\"pids\":32,\"cpu_ms\":1500}}", &job, err) == 0);
    assert(STREQ(job.id, "a1") && STREQ(job.language, "python") && STREQ(job.reply_to, "rce:reply:w1"));
    assert(job.code_len == 8 && STREQ(job.code, "print(1)"));
    assert(job.enqueued_ms == 1700000000000 && job.deadline_ms == 1700000030000);
    assert(job.limits.wall_ms == 30000);                 /* clamped to the maximum */
    assert(job.limits.memory_mb == JOB_MIN_MEMORY_MB);   /* raised to Docker's floor */
    assert(job.limits.pids == 32);
    assert(job.limits.output_bytes == 65536);            /* absent: the default */
    assert(job.limits.cpu_ms == 1500);
    job_free(&job);
    assert(parse("{\"id\":\"a1\",\"language\":\"python\",\"code\":\"\",\"reply_to\":\"r\","
                 "\"limits\":{\"cpu_ms\":1000000}}", &job, err) == 0);
    assert(job.limits.cpu_ms == 30000);                  /* clamped to the maximum */
    job_free(&job);
    assert(parse("{\"id\":\"a1\",\"language\":\"python\",\"code\":\"\",\"reply_to\":\"r\","
                 "\"limits\":{\"cpu_ms\":-5}}", &job, err) == -1 && strstr(err, "limits.cpu_ms"));
    job_free(&job);
}

static void test_parse_defaults_without_limits(void)
{
    struct job job;
    char err[256];
    assert(parse("{\"id\":\"a\",\"language\":\"sh\",\"code\":\"\",\"reply_to\":\"r\"}", &job, err) == 0);
    assert(job.code_len == 0 && job.deadline_ms == 0);
    assert(memcmp(&job.limits, &defaults, sizeof defaults) == 0);
    job_free(&job);
}

static void test_parse_code_with_nul(void)
{
    struct job job;
    char err[256];
    assert(parse("{\"id\":\"a\",\"language\":\"sh\",\"code\":\"a\\u0000b\",\"reply_to\":\"r\"}", &job, err) == 0);
    assert(job.code_len == 3 && memcmp(job.code, "a\0b", 3) == 0);
    job_free(&job);
}

static void test_parse_invalid_jobs(void)
{
    struct job job;
    char err[256];
    assert(parse("garbage", &job, err) == -1 && !job.id && strstr(err, "not JSON"));
    job_free(&job);
    assert(parse("[1]", &job, err) == -1 && !job.id);
    job_free(&job);
    /* Still answerable: id and reply_to are read first. */
    assert(parse("{\"id\":\"x\",\"reply_to\":\"r\",\"language\":5,\"code\":\"\"}", &job, err) == -1);
    assert(STREQ(job.id, "x") && STREQ(job.reply_to, "r") && strstr(err, "\"language\""));
    job_free(&job);
    assert(parse("{\"id\":\"x\",\"reply_to\":\"r\",\"language\":\"sh\",\"code\":\"\",\"limits\":{\"wall_ms\":0}}",
                 &job, err) == -1 && strstr(err, "limits.wall_ms"));
    job_free(&job);
    assert(parse("{\"id\":\"x\",\"reply_to\":\"r\",\"language\":\"sh\",\"code\":\"\",\"limits\":{\"pids\":\"9\"}}",
                 &job, err) == -1 && strstr(err, "limits.pids"));
    job_free(&job);
    assert(parse("{\"id\":\"x\",\"reply_to\":\"r\",\"language\":\"sh\",\"code\":\"\",\"deadline_ms\":\"soon\"}",
                 &job, err) == -1 && strstr(err, "deadline_ms"));
    job_free(&job);
    assert(parse("{\"id\":\"x\\u0000y\",\"reply_to\":\"r\",\"language\":\"sh\",\"code\":\"\"}", &job, err) == -1);
    job_free(&job);
}

static struct job_result decide_cpu(enum kill_cause killed, bool oom, int exit_code, long long cpu_ms)
{
    struct job_result r;
    job_result_init(&r, 16);
    r.cpu_ms = cpu_ms;
    job_result_decide(&r, killed, oom, exit_code, 1000);
    job_result_free(&r);
    return r;
}

static struct job_result decide(enum kill_cause killed, bool oom, int exit_code)
{
    return decide_cpu(killed, oom, exit_code, -1);
}

/* "async" and "result_ttl_s": optional, read before anything that can fail after the id. */
static void test_parse_async(void)
{
    struct job job;
    char err[256];
    assert(parse("{\"id\":\"a\",\"language\":\"sh\",\"code\":\"\",\"reply_to\":\"r\"}", &job, err) == 0);
    assert(!job.async && job.result_ttl_s == 0 && job_result_ttl_s(&job) == RCE_RESULT_TTL_S && !job.cancel);
    job_free(&job);
    assert(parse("{\"id\":\"a\",\"language\":\"sh\",\"code\":\"\",\"reply_to\":\"rce:done\",\"async\":true,"
                 "\"result_ttl_s\":3600}", &job, err) == 0);
    assert(job.async && job.result_ttl_s == 3600 && job_result_ttl_s(&job) == 3600);
    job_free(&job);
    assert(parse("{\"id\":\"a\",\"language\":\"sh\",\"code\":\"\",\"reply_to\":\"r\",\"async\":false,"
                 "\"result_ttl_s\":null}", &job, err) == 0);
    assert(!job.async && job.result_ttl_s == 0);
    job_free(&job);
    /* clamped into 1..RCE_ASYNC_RESULT_TTL_MAX_S */
    const char *clamps[][2] = { { "0", "1" }, { "-7", "1" }, { "1", "1" }, { "604800", "604800" },
                                { "604801", "604800" }, { "99999999999", "604800" } };
    for (size_t i = 0; i < sizeof clamps / sizeof clamps[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"id\":\"a\",\"language\":\"sh\",\"code\":\"\",\"reply_to\":\"r\","
                 "\"async\":true,\"result_ttl_s\":%s}", clamps[i][0]);
        assert(parse(text, &job, err) == 0 && job.result_ttl_s == atoi(clamps[i][1]));
        assert(job_result_ttl_s(&job) == job.result_ttl_s);
        job_free(&job);
    }
    /* not an integer, not a bool: refused, and still answerable (with the async flag if valid) */
    const char *bad[] = { "\"result_ttl_s\":\"60\"", "\"result_ttl_s\":1.5", "\"result_ttl_s\":true",
                          "\"result_ttl_s\":[60]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"id\":\"x\",\"reply_to\":\"rce:done\",\"async\":true,%s,"
                 "\"language\":\"sh\",\"code\":\"\"}", bad[i]);
        assert(parse(text, &job, err) == -1 && strstr(err, "\"result_ttl_s\" must be an integer"));
        assert(STREQ(job.id, "x") && STREQ(job.reply_to, "rce:done") && job.async);
        job_free(&job);
    }
    const char *bad_async[] = { "\"async\":1", "\"async\":\"true\"", "\"async\":{}" };
    for (size_t i = 0; i < sizeof bad_async / sizeof bad_async[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"id\":\"x\",\"reply_to\":\"r\",%s,\"language\":\"sh\",\"code\":\"\"}",
                 bad_async[i]);
        assert(parse(text, &job, err) == -1 && strstr(err, "\"async\" must be a bool") && STREQ(job.id, "x"));
        job_free(&job);
    }
    /* an invalid job that asked for a TTL is answered (IE) with it */
    assert(parse("{\"id\":\"x\",\"reply_to\":\"rce:done\",\"async\":true,\"result_ttl_s\":120,\"language\":7}",
                 &job, err) == -1 && job.async && job_result_ttl_s(&job) == 120);
    job_free(&job);
}

static void test_verdicts(void)
{
    struct job_result r = decide(KILL_NONE, false, 0);
    assert(STREQ(r.status, RCE_STATUS_OK) && r.has_exit_code && r.exit_code == 0 && !r.has_signal);
    r = decide(KILL_NONE, false, 1);
    assert(STREQ(r.status, RCE_STATUS_RE) && r.exit_code == 1 && !r.has_signal);
    /* 137 without Docker's OOM flag is a SIGKILL, not a memory verdict. */
    r = decide(KILL_NONE, false, 137);
    assert(STREQ(r.status, RCE_STATUS_RE) && r.has_signal && r.signal == 9);
    r = decide(KILL_NONE, false, 139);
    assert(STREQ(r.status, RCE_STATUS_RE) && r.signal == 11);
    r = decide(KILL_NONE, false, 128);
    assert(STREQ(r.status, RCE_STATUS_RE) && !r.has_signal);
    r = decide(KILL_NONE, true, 137);
    assert(STREQ(r.status, RCE_STATUS_MLE) && r.exit_code == 137 && r.signal == 9);
    /* Our own kill decides first. */
    r = decide(KILL_DEADLINE, true, 137);
    assert(STREQ(r.status, RCE_STATUS_TLE) && !r.has_exit_code && !r.has_signal);
    r = decide(KILL_OUTPUT_CAP, false, 0);
    assert(STREQ(r.status, RCE_STATUS_OLE) && !r.has_exit_code);
    r = decide(KILL_CANCEL, true, 137);
    assert(STREQ(r.status, RCE_STATUS_CANCELLED) && !r.has_exit_code && !r.has_signal);
    assert(STREQ(r.reason, JOB_CANCELLED_RUNNING));
    r = decide(KILL_NONE, false, 0);            /* a later verdict carries no cancel reason */
    assert(STREQ(r.status, RCE_STATUS_OK) && r.reason[0] == '\0');
    /* The cpu limit (1000 ms here): our own watch, RLIMIT_CPU's SIGXCPU, or the total. */
    r = decide(KILL_CPU, false, 0);
    assert(STREQ(r.status, RCE_STATUS_TLE) && !r.has_exit_code);
    r = decide_cpu(KILL_NONE, false, 128 + 24, 1003);
    assert(STREQ(r.status, RCE_STATUS_TLE) && r.has_signal && r.signal == 24);
    r = decide_cpu(KILL_NONE, false, 128 + 24, -1);             /* SIGXCPU, figures unknown */
    assert(STREQ(r.status, RCE_STATUS_TLE));
    r = decide_cpu(KILL_NONE, false, 137, 2001);                 /* SIGKILL at the hard limit */
    assert(STREQ(r.status, RCE_STATUS_TLE) && r.signal == 9);
    r = decide_cpu(KILL_NONE, false, 0, 1001);                   /* exited, but used too much */
    assert(STREQ(r.status, RCE_STATUS_TLE) && r.exit_code == 0);
    r = decide_cpu(KILL_NONE, false, 0, 1000);                   /* exactly the limit is fine */
    assert(STREQ(r.status, RCE_STATUS_OK));
    r = decide_cpu(KILL_NONE, true, 137, 5000);                  /* the OOM kill names the cause */
    assert(STREQ(r.status, RCE_STATUS_MLE));
    r = decide_cpu(KILL_NONE, false, 3, 10);
    assert(STREQ(r.status, RCE_STATUS_RE) && r.exit_code == 3);
    job_result_init(&r, 16);
    assert(STREQ(r.status, RCE_STATUS_IE));     /* nothing decided is an internal error */
    job_result_fail(&r, "create failed: HTTP %d %s", 404, "No such image");
    assert(STREQ(r.status, RCE_STATUS_IE) && STREQ(r.reason, "create failed: HTTP 404 No such image"));
}

static void test_result_json(void)
{
    struct job_result r;
    job_result_init(&r, 4);
    capture_append(&r.out, "ab\0" "cd", 5);         /* clipped to 4, with a NUL */
    capture_append(&r.err, "e", 1);
    job_result_clip_output(&r);
    job_result_decide(&r, KILL_OUTPUT_CAP, false, 0, 1000);
    r.wall_ms = 42;
    r.cpu_ms = 7;
    char *text = job_result_json("id1", "sh", "n1", &r);
    assert(text);
    assert(strstr(text, "\"ab\\u0000c\""));               /* NUL is text, escaped */
    json_t *j = json_loads(text, JSON_ALLOW_NUL, NULL);
    assert(j);
    assert(STREQ(json_string_value(json_object_get(j, RCE_RES_ID)), "id1"));
    assert(STREQ(json_string_value(json_object_get(j, RCE_RES_LANGUAGE)), "sh"));
    assert(STREQ(json_string_value(json_object_get(j, RCE_RES_STATUS)), RCE_STATUS_OLE));
    assert(json_is_null(json_object_get(j, RCE_RES_EXIT_CODE)));
    assert(json_is_null(json_object_get(j, RCE_RES_SIGNAL)));
    assert(json_string_length(json_object_get(j, RCE_RES_STDOUT)) == 4);
    assert(memcmp(json_string_value(json_object_get(j, RCE_RES_STDOUT)), "ab\0c", 4) == 0);
    assert(!json_object_get(j, RCE_RES_STDOUT_ENCODING));
    assert(STREQ(json_string_value(json_object_get(j, RCE_RES_STDERR)), "e"));
    assert(json_is_true(json_object_get(j, RCE_RES_TRUNCATED)));
    assert(json_integer_value(json_object_get(j, RCE_RES_WALL_MS)) == 42);
    assert(STREQ(json_string_value(json_object_get(j, RCE_RES_NODE)), "n1"));
    assert(json_is_null(json_object_get(j, RCE_RES_REASON)));
    assert(json_integer_value(json_object_get(j, RCE_RES_CPU_MS)) == 7);
    assert(json_is_null(json_object_get(j, RCE_RES_MEMORY_KB)));      /* unknown */
    assert(json_is_null(json_object_get(j, RCE_RES_VERSION)));
    assert(json_is_null(json_object_get(j, RCE_RES_COMPILE)));         /* interpreted */
    assert(json_is_object(json_object_get(j, RCE_RES_LIMITS)));
    assert(json_array_size(json_object_get(j, RCE_RES_CLAMPED)) == 0);
    assert(json_object_size(j) == 17);
    json_decref(j);
    free(text);
    job_result_free(&r);

    /* An unreadable job: no language; a reason cut mid-character still encodes. */
    job_result_init(&r, 4);
    job_result_fail(&r, "bad \xe2\x82");
    text = job_result_json("id2", NULL, "n1", &r);
    j = json_loads(text, 0, NULL);
    assert(j && json_is_null(json_object_get(j, RCE_RES_LANGUAGE)));
    assert(STREQ(json_string_value(json_object_get(j, RCE_RES_REASON)), "bad \xef\xbf\xbd\xef\xbf\xbd"));
    assert(json_is_null(json_object_get(j, RCE_RES_EXIT_CODE)));
    json_decref(j);
    free(text);
    job_result_free(&r);
}

/* Output that is not UTF-8 travels as base64, marked, in the run and in the compile step. */
static void test_result_json_bytes(void)
{
    struct job_result r;
    job_result_init(&r, 16);
    capture_append(&r.out, "\xff\xfe", 2);
    capture_append(&r.err, "caf\xc3\xa9", 5);
    job_result_decide(&r, KILL_NONE, false, 0, 1000);
    r.compiled = true;
    r.compile_exit_code = 0;
    r.compile_wall_ms = 5;
    r.compile_out = strdup("");
    r.compile_err = strdup("warn\x80");
    r.compile_err_len = 5;
    char *text = job_result_json("id3", "c", "n1", &r);
    assert(text);
    json_t *j = json_loads(text, 0, NULL), *c = json_object_get(j, RCE_RES_COMPILE);
    assert(j && json_is_object(c));
    assert(STREQ(json_string_value(json_object_get(j, RCE_RES_STDOUT)), "//4="));
    assert(STREQ(json_string_value(json_object_get(j, RCE_RES_STDOUT_ENCODING)), RCE_ENCODING_BASE64));
    assert(STREQ(json_string_value(json_object_get(j, RCE_RES_STDERR)), "caf\xc3\xa9"));
    assert(!json_object_get(j, RCE_RES_STDERR_ENCODING));
    assert(STREQ(json_string_value(json_object_get(c, RCE_RES_STDOUT)), ""));
    assert(!json_object_get(c, RCE_RES_STDOUT_ENCODING));
    assert(STREQ(json_string_value(json_object_get(c, RCE_RES_STDERR)), "d2FyboA="));
    assert(STREQ(json_string_value(json_object_get(c, RCE_RES_STDERR_ENCODING)), RCE_ENCODING_BASE64));
    assert(json_integer_value(json_object_get(c, RCE_RES_WALL_MS)) == 5);
    json_decref(j);
    free(text);
    job_result_free(&r);
}

static void test_finish_output(void)
{
    struct job_result r;
    /* The figures line is taken off stderr; the program's own output stays whole. */
    job_result_init(&r, 8);
    capture_append(&r.out, "out", 3);
    const char tail[] = "no newline" WRAPPER_STATS_MARK "cpu_us=12345 maxrss_kb=7600 status=9 oom=0\n";
    capture_append(&r.err, tail, sizeof tail - 1);          /* 10 bytes + figures: over 8 */
    assert(!r.err.overflowed);                                /* the reserve took the figures */
    assert(job_result_finish_output(&r));                     /* 10 > 8: OLE */
    assert(r.cpu_ms == 12 && r.memory_kb == 7600 && r.exit_status == 9 && r.oom_kills == 0);
    assert(r.err.len == 8 && memcmp(r.err.data, "no newli", 8) == 0 && r.err.overflowed);
    job_result_free(&r);

    job_result_init(&r, 64);
    const char ok[] = "err\n" WRAPPER_STATS_MARK "cpu_us= maxrss_kb= status= oom=\n";   /* figures unknown */
    capture_append(&r.err, ok, sizeof ok - 1);
    assert(!job_result_finish_output(&r));
    assert(r.cpu_ms == -1 && r.memory_kb == -1 && r.exit_status == -1 && r.oom_kills == -1 && r.err.len == 4);
    job_result_free(&r);

    /* The end lines: only both together say the wrapper is done; they are taken off. */
    job_result_init(&r, 64);
    job_result_set_end(&r, "\036rce-e1");
    capture_append(&r.out, "hello\n\036rce-e1\n", 14);
    assert(!job_result_ended(&r));
    const char err_lines[] = "warn\n" WRAPPER_STATS_MARK "cpu_us=2000 maxrss_kb=9 status=0 oom=0\n\036rce-e1\n";
    capture_append(&r.err, err_lines, sizeof err_lines - 1);
    assert(job_result_ended(&r));
    assert(!job_result_finish_output(&r));
    assert(r.out.len == 6 && memcmp(r.out.data, "hello\n", 6) == 0 && r.err.len == 5);
    assert(r.cpu_ms == 2 && r.exit_status == 0 && r.oom_kills == 0 && r.figures_trusted);
    job_result_free(&r);
    /* another token's end line is the program's output, and figures without the end line
     * after them are not trusted (the program may have printed them) */
    job_result_init(&r, 64);
    job_result_set_end(&r, "\036rce-e1");
    capture_append(&r.out, "\036rce-e2\n", 9);
    capture_append(&r.err, WRAPPER_STATS_MARK "cpu_us=1 maxrss_kb=1 status=0 oom=0\n", 47);
    assert(!job_result_ended(&r));
    assert(!job_result_finish_output(&r) && r.out.len == 9);
    assert(r.exit_status == 0 && !r.figures_trusted);
    job_result_free(&r);
    /* stdout over the cap by less than the end line's room is still OLE */
    job_result_init(&r, 4);
    job_result_set_end(&r, "\036rce-e1");
    capture_append(&r.out, "12345\036rce-e1\n", 13);
    assert(!r.out.overflowed && job_result_finish_output(&r) && r.out.len == 4);
    job_result_free(&r);

    /* No figures (a wrapper killed before it wrote them): stderr untouched. */
    job_result_init(&r, 64);
    capture_append(&r.err, "plain\n", 6);
    assert(!job_result_finish_output(&r) && r.err.len == 6 && r.cpu_ms == -1);
    job_result_free(&r);
}

/* The clamped bits and the result's limits follow RCE_LIMITS. */
static void test_limits_follow_protocol(void)
{
    struct job job;
    char err[256];
    assert(parse("{\"id\":\"a\",\"language\":\"sh\",\"code\":\"\",\"reply_to\":\"r\",\"limits\":"
                 "{\"wall_ms\":1e9,\"memory_mb\":99999,\"pids\":99999,\"output_bytes\":999999999,"
                 "\"cpu_ms\":99999999}}", &job, err) == -1);     /* 1e9 is not an integer */
    job_free(&job);
    /* every limit of RCE_LIMITS, over its maximum */
    char text[1024] = "{\"id\":\"a\",\"language\":\"sh\",\"code\":\"\",\"reply_to\":\"r\",\"limits\":{";
    for (size_t i = 0; i < RCE_LIMIT_COUNT; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s\"%s\":999999999", i ? "," : "",
                 limit_fields[i].key);
    strcat(text, "}}");
    assert(parse(text, &job, err) == 0);
    assert(job.clamped == (1u << RCE_LIMIT_COUNT) - 1 && job.named == job.clamped);
    assert(memcmp(&job.limits, &maxima, sizeof maxima) == 0);
    struct job_result r;
    job_result_init(&r, 0);
    r.limits = job.limits;
    r.clamped = job.clamped;
    char *out = job_result_json(job.id, "sh", "n1", &r);
    json_t *j = json_loads(out, 0, NULL), *clamped = json_object_get(j, RCE_RES_CLAMPED);
    assert(json_array_size(clamped) == RCE_LIMIT_COUNT);
    assert(STREQ(json_string_value(json_array_get(clamped, RCE_LIMIT_INDEX_wall_ms)), RCE_LIMIT_WALL_MS));
    assert(STREQ(json_string_value(json_array_get(clamped, RCE_LIMIT_INDEX_cpu_ms)), RCE_LIMIT_CPU_MS));
    assert(json_integer_value(json_object_get(json_object_get(j, RCE_RES_LIMITS), RCE_LIMIT_PIDS)) == maxima.pids);
    json_decref(j);
    free(out);
    job_result_free(&r);
    job_free(&job);
}

static void test_files_stdin_args(void)
{
    struct job job;
    char err[256];
    assert(parse("{\"id\":\"f\",\"language\":\"c\",\"reply_to\":\"r\",\"files\":["
                 "{\"content\":\"int main(){}\"},{\"name\":\"b.bin\",\"content\":\"AAEC\",\"encoding\":\"base64\"}],"
                 "\"stdin\":\"in\",\"args\":[\"x\",\"y z\"],\"limits\":{\"wall_ms\":999999999}}", &job, err) == 0);
    assert(job.code == NULL && job.n_files == 2);
    assert(job.files[0].name == NULL && job.files[0].len == 12);
    assert(STREQ(job.files[1].name, "b.bin") && job.files[1].len == 3 && memcmp(job.files[1].data, "\0\1\2", 3) == 0);
    assert(job.stdin_len == 2 && job.n_args == 2 && STREQ(job.args[1], "y z"));
    assert(job.clamped == 1u);                       /* wall_ms cut to the maximum */
    job_free(&job);
    assert(parse("{\"id\":\"f\",\"language\":\"c\",\"reply_to\":\"r\",\"files\":["
                 "{\"name\":\"../x\",\"content\":\"1\"}]}", &job, err) == -1);
    job_free(&job);
    assert(parse("{\"id\":\"f\",\"language\":\"c\",\"reply_to\":\"r\",\"files\":["
                 "{\"content\":\"!!\",\"encoding\":\"base64\"}]}", &job, err) == -1);
    job_free(&job);
}

static void test_split_compile(void)
{
    struct job_result r;
    const char *marker = "\036rce-compiled-x1";
    job_result_init(&r, 1024);
    const char *out = "cc says hi\n\036rce-compiled-x1 0 120 36000 25704 0\nprogram out\n";
    const char *err = "warning\n\036rce-compiled-x1 0 120 36000 25704 0\nprogram err\n";
    capture_append(&r.out, out, strlen(out));
    capture_append(&r.err, err, strlen(err));
    r.wall_ms = 500;
    struct wrapper_compiled c;
    /* while it runs: found as it comes, whatever the cut */
    for (size_t n = 0; n <= r.out.len; n++) {
        struct job_result partial;
        job_result_init(&partial, 1024);
        size_t total = r.out.len;
        bool seen = false;
        for (size_t k = 0; k < total && !seen; k += n ? n : total) {
            capture_append(&partial.out, out + k, (n && k + n < total) ? n : total - k);
            seen = job_result_compile_seen(&partial, marker, &c);
        }
        assert(seen && c.exit_code == 0 && c.cpu_us == 36000);
        job_result_free(&partial);
    }
    assert(job_result_split_compile(&r, marker) == COMPILE_SUCCEEDED);
    assert(r.compile_cpu_ms == 36 && r.compile_memory_kb == 25704 && r.compile_oom_kills == 0);
    assert(r.compile_out_len == 11 && memcmp(r.compile_out, "cc says hi\n", 11) == 0);
    assert(r.compile_err_len == 8 && memcmp(r.compile_err, "warning\n", 8) == 0);
    assert(r.out.len == 12 && memcmp(r.out.data, "program out\n", 12) == 0);
    assert(r.err.len == 12 && r.compile_wall_ms == 120 && r.wall_ms == 500);   /* run.c times the run */
    job_result_free(&r);

    job_result_init(&r, 1024);
    const char *failed = "main.c:1: error\n\036rce-compiled-x1 1 80 5000 9000 0\n";
    capture_append(&r.err, failed, strlen(failed));
    assert(job_result_split_compile(&r, marker) == COMPILE_FAILED);
    assert(r.compile_exit_code == 1 && r.err.len == 0);
    job_result_free(&r);

    job_result_init(&r, 1024);
    capture_append(&r.err, "still compiling", 15);
    assert(job_result_split_compile(&r, marker) == COMPILE_UNFINISHED);
    assert(r.compile_err_len == 15 && r.err.len == 0);
    job_result_free(&r);

    /* the marker with no status and time after it: cut there, but no finished compile */
    job_result_init(&r, 1024);
    const char garbled[] = "oops\n\036rce-compiled-x1 killed\n";
    capture_append(&r.err, garbled, sizeof garbled - 1);
    assert(job_result_split_compile(&r, marker) == COMPILE_GARBLED);
    assert(r.compile_err_len == 5 && r.err.len == 0 && r.compile_exit_code == -1 && r.compile_wall_ms == -1);
    job_result_free(&r);
}

/* stream and interactive: bools; interactive only with stream, never with tests. */
static void test_parse_stream(void)
{
    struct job job;
    char err[256];
#define STREAM_JOB(extra) "{\"id\":\"a\",\"language\":\"sh\",\"code\":\"\",\"reply_to\":\"r\"" extra "}"
    assert(parse(STREAM_JOB(""), &job, err) == 0 && !job.stream && !job.interactive && !job.events && !job.input);
    job_free(&job);
    assert(parse(STREAM_JOB(",\"stream\":true"), &job, err) == 0 && job.stream && !job.interactive);
    job_free(&job);
    assert(parse(STREAM_JOB(",\"stream\":true,\"interactive\":true"), &job, err) == 0 && job.interactive);
    job_free(&job);
    assert(parse(STREAM_JOB(",\"stream\":1"), &job, err) == -1 && strstr(err, "\"stream\" must be a bool"));
    assert(STREQ(job.id, "a") && STREQ(job.reply_to, "r"));        /* answerable: IE */
    job_free(&job);
    assert(parse(STREAM_JOB(",\"interactive\":true"), &job, err) == -1 && strstr(err, "needs \"stream\""));
    job_free(&job);
    assert(parse(STREAM_JOB(",\"stream\":true,\"interactive\":true,\"tests\":[{\"stdin\":\"\"}]"), &job, err) == -1
           && strstr(err, "cannot be used with \"tests\""));
    job_free(&job);
#undef STREAM_JOB
}

int main(void)
{
    RUN(test_parse_full_job_and_clamp);
    RUN(test_parse_defaults_without_limits);
    RUN(test_parse_code_with_nul);
    RUN(test_parse_invalid_jobs);
    RUN(test_parse_async);
    RUN(test_verdicts);
    RUN(test_result_json);
    RUN(test_result_json_bytes);
    RUN(test_finish_output);
    RUN(test_files_stdin_args);
    RUN(test_limits_follow_protocol);
    RUN(test_split_compile);
    RUN(test_parse_stream);
    return REPORT("test_job");
}
