/* libFuzzer target: the wrapper's lines (wrapper.c, job.c) in output a program controls: the
 * input is split at its first NUL into stdout and stderr, the compile line looked for as the
 * streams arrive in pieces, then the figures, the end line and the compile line taken off as
 * after the end of a job, and the result encoded. Nothing may grow a stream or lose bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "wrapper.h"

#define MARKER WRAPPER_COMPILED_PREFIX "000000000000000000000000"
#define END WRAPPER_END_PREFIX "111111111111111111111111"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data, *nul = memchr(in, '\0', size);
    size_t out_len = nul ? (size_t)(nul - in) : size, err_len = nul ? size - out_len - 1 : 0;
    const char *err = nul ? nul + 1 : "";
    struct job_result r;
    struct wrapper_compiled c;
    job_result_init(&r, 4096);
    job_result_set_end(&r, END);
    for (size_t at = 0; at < out_len; at += 7) {
        capture_append(&r.out, in + at, out_len - at < 7 ? out_len - at : 7);
        if (job_result_compile_seen(&r, MARKER, &c) && c.next > r.out.len)
            abort();
    }
    capture_append(&r.err, err, err_len);
    size_t before_out = r.out.len, before_err = r.err.len;
    (void)job_result_ended(&r);
    job_result_finish_output(&r);
    if (r.out.len > before_out || r.err.len > before_err)
        abort();
    job_result_split_compile(&r, MARKER);
    char *json = job_result_json("id", "c", "node", &r);
    free(json);
    job_result_free(&r);
    return 0;
}
