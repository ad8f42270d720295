/* libFuzzer target: judge mode's records (wrapper.c) and verdicts (judge.c, compare.c) read
 * from a stdout the wrapper writes, arriving in pieces: the input's first byte chooses the
 * compare mode and stop_on_failure, the rest is the stream. A record is read once, whole,
 * in order; nothing is read past the stream; the result encodes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "judge.h"

#define N_TESTS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct limits defaults = { .wall_ms = 1000, .memory_mb = 64, .pids = 64, .output_bytes = 64,
                                            .cpu_ms = 500, .compile_wall_ms = 1000, .compile_cpu_ms = 1000 };
    static const char *compares[] = { "\"exact\"", "\"lines\"", "\"tokens\"", "{\"float\":1e-6}" };
    char text[512], err[256];
    struct job job;
    struct job_result r;
    if (size == 0)
        return 0;
    snprintf(text, sizeof text, "{\"id\":\"j\",\"language\":\"c\",\"code\":\"x\",\"reply_to\":\"r\",\"tests\":["
             "{\"expected_output\":\"3\\n\"},{\"expected_output\":\"1 2.5e0\"},{},{\"expected_output\":\"\"}],"
             "\"compare\":%s,\"stop_on_failure\":%s}", compares[data[0] & 3], data[0] & 4 ? "true" : "false");
    if (job_parse(text, strlen(text), &defaults, &defaults, &job, err, sizeof err) != 0)
        abort();
    struct judge j = { .job = &job, .run_memory_mb = 64, .memory_held = data[0] & 8 };
    job_result_init(&r, judge_output_limit(&job));
    if (judge_init(&r, &job) != 0)
        abort();
    judge_start(&r, 0);
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    int garbled = 0;
    for (size_t at = 0; at < len && !garbled; at += 5) {
        size_t seen = r.tests_seen;
        capture_append(&r.out, in + at, len - at < 5 ? len - at : 5);
        garbled = judge_scan(&r, &j) != 0;
        if (r.tests_seen < seen || r.tests_seen > N_TESTS || r.tests_scan > r.out.len)
            abort();
    }
    r.status = garbled ? "IE" : "OK";
    judge_finish(&r, garbled ? NULL : "TLE", "fuzz", "fuzz");
    for (size_t i = 0; i < r.n_tests; i++)
        if (!r.tests[i].status || (r.tests[i].out_len && !r.tests[i].out))
            abort();
    char *json = job_result_json("id", "c", "node", &r);
    if (!json)
        abort();
    free(json);
    job_result_free(&r);
    job_free(&job);
    return 0;
}
