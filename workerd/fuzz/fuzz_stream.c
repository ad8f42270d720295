/* libFuzzer target: a stream job's events (stream.c). The input, split at its first two
 * 0x00 0x00 pairs, is a compile-stage flag and piece size (first byte), then stdout and
 * stderr; each stream gets a compile line (the flag's bit 0: there is one) after its first
 * third, and arrives in pieces of the size the first byte picks, stderr ahead of stdout (bit
 * 1). The captures are then finished as run.c does (the wrapper's lines off the end, the cap,
 * the compile step split off). Every event is within RCE_STREAM_CHUNK_BYTES, seq has no gap,
 * and the events of each stage and stream, put together, equal the result's bytes. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rce_base64.h"
#include "rce_protocol.h"
#include "stream.h"

#define MARKER "\036rce-compiled-0123456789abcdef01234567"
#define CAP 3000

struct seen {
    long long seq;
    char *bytes[2][2];
    size_t len[2][2];
};

static void check(int ok)
{
    if (!ok)
        abort();
}

static int collect(void *arg, const char *channel, const char *json, size_t len, long timeout_ms)
{
    struct seen *s = arg;
    json_t *e = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
    (void)channel;
    (void)timeout_ms;
    check(e && json_integer_value(json_object_get(e, RCE_EVENT_SEQ)) == s->seq++);
    if (strcmp(json_string_value(json_object_get(e, RCE_EVENT_KIND)), RCE_EVENT_OUTPUT) == 0) {
        int st = strcmp(json_string_value(json_object_get(e, RCE_EVENT_STAGE)), RCE_STAGE_RUN) == 0;
        int fd = strcmp(json_string_value(json_object_get(e, RCE_EVENT_STREAM)), RCE_RES_STDERR) == 0;
        json_t *data = json_object_get(e, RCE_EVENT_DATA);
        char *raw = NULL;
        size_t n = json_string_length(data);
        if (strcmp(json_string_value(json_object_get(e, RCE_EVENT_ENCODING)), RCE_ENCODING_BASE64) == 0)
            check(rce_base64_decode(json_string_value(data), n, &raw, &n) == 0);
        else if ((raw = malloc(n + 1)))
            memcpy(raw, json_string_value(data), n);
        check(raw && n > 0 && n <= RCE_STREAM_CHUNK_BYTES);
        s->bytes[st][fd] = realloc(s->bytes[st][fd], s->len[st][fd] + n);
        memcpy(s->bytes[st][fd] + s->len[st][fd], raw, n);
        s->len[st][fd] += n;
        free(raw);
    }
    json_decref(e);
    return 0;
}

/* One stream as the wrapper would give it: its first third, the compile line, the rest. */
static char *with_line(const uint8_t *p, size_t n, bool line, size_t *len)
{
    static const char compiled[] = MARKER " 0 1 2 3 0\n";
    char *s = malloc(n + sizeof compiled);
    size_t third = line ? n / 3 : n;
    memcpy(s, p, third);
    memcpy(s + third, compiled, line ? sizeof compiled - 1 : 0);
    memcpy(s + third + (line ? sizeof compiled - 1 : 0), p + third, n - third);
    *len = n + (line ? sizeof compiled - 1 : 0);
    return s;
}

static bool same(const struct seen *s, int st, int fd, const char *data, size_t len)
{
    return s->len[st][fd] == len && (len == 0 || memcmp(s->bytes[st][fd], data, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool compiles = data[0] & 1, err_first = data[0] & 2;
    size_t piece = (data[0] >> 2) + 1, split = 1;
    while (split + 1 < size && !(data[split] == 0 && data[split + 1] == 0))
        split++;
    size_t out_len, err_len;
    char *out = with_line(data + 1, split - 1, compiles, &out_len);
    char *err = with_line(data + split, size - split, compiles, &err_len);
    struct seen s = { 0 };
    struct stream_events ev;
    struct job job = { .id = "f", .reply_to = "r" };
    struct job_result r;
    job_result_init(&r, CAP);
    stream_events_init(&ev, &job, NULL);
    ev.sink = collect;
    ev.sink_arg = &s;
    stream_events_begin(&ev, compiles ? MARKER : NULL, true);
    for (size_t o = 0, e = 0; o < out_len || e < err_len;) {
        size_t k = err_len - e < piece ? err_len - e : piece;
        if (err_first || o == out_len)
            capture_append(&r.err, err + e, k), e += k;
        k = out_len - o < piece ? out_len - o : piece;
        if (!err_first || e == err_len)
            capture_append(&r.out, out + o, k), o += k;
        stream_events_live(&ev, &r.out, &r.err, r.output_limit);
    }
    job_result_finish_output(&r);
    if (compiles && job_result_split_compile(&r, MARKER) != COMPILE_SUCCEEDED)
        r.out.len = r.err.len = 0;      /* as run.c's split_compile does */
    stream_events_end(&ev, &r);
    check(same(&s, 1, 0, r.out.data, r.out.len) && same(&s, 1, 1, r.err.data, r.err.len));
    check(same(&s, 0, 0, r.compile_out, r.compile_out_len) && same(&s, 0, 1, r.compile_err, r.compile_err_len));
    for (int i = 0; i < 4; i++)
        free(s.bytes[i / 2][i % 2]);
    job_result_free(&r);
    free(out);
    free(err);
    return 0;
}
