/* A stream job's events: the wrapper's lines held back, stages split at the compile line (the
 * two streams in any order), UTF-8 chunks cut between characters, and the events of a stage
 * and stream put together equal to that stage's stream in the result. */
#include <jansson.h>
#include <stdlib.h>

#include "rce_base64.h"
#include "rce_protocol.h"
#include "stream.h"
#include "test.h"

#define MARKER "\036rce-compiled-0123456789abcdef01234567"
#define END_LINE "\036rce-end-00112233445566778899aabb"

/* What the events said: per stage and stream, the bytes put together; the stages in order. */
struct seen {
    long long seq;
    char stages[8][8];
    int n_stages;
    char *bytes[2][2];
    size_t len[2][2];
    int events_after_run;       /* compile output published after the stage run: a bug */
};

static int collect(void *arg, const char *channel, const char *json, size_t len, long timeout_ms)
{
    struct seen *s = arg;
    json_t *e = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
    assert(e && STREQ(channel, "reply") && timeout_ms == 0);      /* no deadline set: the usual bound */
    assert(json_integer_value(json_object_get(e, RCE_EVENT_ATTEMPT)) == 1);
    assert(json_integer_value(json_object_get(e, RCE_EVENT_SEQ)) == s->seq++);
    assert(STREQ(json_string_value(json_object_get(e, RCE_RES_ID)), "job1"));
    const char *kind = json_string_value(json_object_get(e, RCE_EVENT_KIND));
    const char *stage = json_string_value(json_object_get(e, RCE_EVENT_STAGE));
    if (STREQ(kind, RCE_EVENT_STAGE)) {
        snprintf(s->stages[s->n_stages++], sizeof s->stages[0], "%s", stage);
    } else {
        assert(STREQ(kind, RCE_EVENT_OUTPUT));
        int st = STREQ(stage, RCE_STAGE_RUN), fd = STREQ(json_string_value(json_object_get(e, RCE_EVENT_STREAM)), "stderr");
        json_t *data = json_object_get(e, RCE_EVENT_DATA);
        char *raw = NULL;
        size_t n = json_string_length(data);
        if (STREQ(json_string_value(json_object_get(e, RCE_EVENT_ENCODING)), RCE_ENCODING_BASE64)) {
            assert(rce_base64_decode(json_string_value(data), n, &raw, &n) == 0);
        } else {
            assert(STREQ(json_string_value(json_object_get(e, RCE_EVENT_ENCODING)), RCE_ENCODING_UTF8));
            raw = malloc(n + 1);
            memcpy(raw, json_string_value(data), n);
        }
        assert(n > 0 && n <= RCE_STREAM_CHUNK_BYTES);
        s->events_after_run += !st && s->n_stages > 1;
        s->bytes[st][fd] = realloc(s->bytes[st][fd], s->len[st][fd] + n + 1);
        memcpy(s->bytes[st][fd] + s->len[st][fd], raw, n);
        s->len[st][fd] += n;
        free(raw);
    }
    json_decref(e);
    return 0;
}

static void seen_free(struct seen *s)
{
    for (int i = 0; i < 4; i++)
        free(s->bytes[i / 2][i % 2]);
}

static bool same(const struct seen *s, int stage, int fd, const char *data, size_t len)
{
    return s->len[stage][fd] == len && (len == 0 || memcmp(s->bytes[stage][fd], data, len) == 0);
}

/* Starts ev for a job whose events go to s. */
static void start(struct stream_events *ev, struct seen *s, const char *marker, bool live)
{
    static struct job job = { .id = "job1", .reply_to = "reply" };
    memset(s, 0, sizeof *s);
    stream_events_init(ev, &job, NULL);
    ev->sink = collect;
    ev->sink_arg = s;
    stream_events_begin(ev, marker, live);
}

/* stream_releasable on a whole buffer, from its start, in one call. */
static size_t releasable(const char *buf, size_t len)
{
    struct stream_scan scan = { 0 };
    return stream_releasable(&scan, buf, 0, len);
}

/* The same a byte at a time, the scan kept: its last answer. */
static size_t releasable_bytewise(const char *buf, size_t len)
{
    struct stream_scan scan = { 0 };
    size_t at = 0;
    for (size_t i = 0; i <= len; i++)
        at = stream_releasable(&scan, buf, 0, i);
    return at;
}

static void test_releasable(void)
{
    static const struct { const char *buf; size_t len, want; } cases[] = {
        { "", 0, 0 },
        { "ab", 2, 2 },                                 /* an unended line goes */
        { "abc\n", 4, 4 },
        { "abc\n\036rce", 8, 4 },                       /* a wrapper line may be starting */
        { "abc\n\036x\n", 7, 4 },                       /* or may be the last one */
        { "abc\n\036x\nmore\n", 12, 12 },               /* a line after it: the program's */
        { "abc\036rce-stats a\n\036rce-end-1\n", 27, 3 }, /* the figures mid-line */
        { "a\n\036s\n\036e\n", 8, 2 },
        { "\036a\nb", 4, 4 },
        { "\036a\nb\036", 5, 0 },
        { "x\n\n\036", 4, 3 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert(releasable(cases[i].buf, cases[i].len) == cases[i].want);
        assert(releasable_bytewise(cases[i].buf, cases[i].len) == cases[i].want);
    }
    struct stream_scan scan = { 0 };
    assert(stream_releasable(&scan, "ab\n\036x", 3, 5) == 3);   /* from another offset: over */
    assert(stream_releasable(&scan, "ab\n\036x", 0, 5) == 3);
}

/* A long line of the wrapper's kind that does not end, arriving in small pieces: each byte is
 * looked at once (hours when every call looked at the whole tail again). */
static void test_releasable_linear(void)
{
    size_t n = 64 << 20;
    char *buf = malloc(n + 2);
    struct stream_scan scan = { 0 };
    assert(buf);
    memset(buf, 'x', n);
    buf[0] = '\036';
    for (size_t len = 0; len <= n; len += 512)
        assert(stream_releasable(&scan, buf, 0, len) == 0);
    assert(scan.done == n);
    buf[n] = '\n';                                       /* it ends: still held (may be the last) */
    assert(stream_releasable(&scan, buf, 0, n + 1) == 0);
    buf[n + 1] = 'y';                                    /* a line after it: all goes */
    assert(stream_releasable(&scan, buf, 0, n + 2) == n + 2);
    free(buf);
}

static void test_chunk(void)
{
    bool b64;
    assert(stream_chunk("", 0, true, &b64) == 0);
    assert(stream_chunk("hello", 5, false, &b64) == 5 && !b64);
    assert(stream_chunk("h\xc3", 2, false, &b64) == 1 && !b64);
    assert(stream_chunk("\xc3", 1, false, &b64) == 0);             /* its second byte may come */
    assert(stream_chunk("\xc3", 1, true, &b64) == 1 && b64);       /* it will not */
    assert(stream_chunk("\xf0\x9f\x98", 3, false, &b64) == 0);
    assert(stream_chunk("\xff" "abc", 4, false, &b64) == 4 && b64);
    assert(stream_chunk("a\0b", 3, false, &b64) == 3 && !b64);     /* NUL is text */
    static char big[RCE_STREAM_CHUNK_BYTES + 10];
    memset(big, 'a', sizeof big);
    assert(stream_chunk(big, sizeof big, false, &b64) == RCE_STREAM_CHUNK_BYTES && !b64);
    memcpy(big + RCE_STREAM_CHUNK_BYTES - 1, "\xc3\xa9", 2);       /* a character across the bound */
    assert(stream_chunk(big, sizeof big, false, &b64) == RCE_STREAM_CHUNK_BYTES - 1 && !b64);
    assert(stream_chunk(big + RCE_STREAM_CHUNK_BYTES - 1, 11, false, &b64) == 11 && !b64);
}

static void feed(struct capture *c, const char *s, size_t n)
{
    assert(capture_append(c, s, n) == 0);
}

/* A compiled job's output arriving a byte at a time, stderr's ahead of stdout's: every event
 * in order, the run's only after both compile lines, the pieces equal to the result. */
static void run_compiled(size_t step, bool err_first)
{
    static const char out[] = "compiling\n" MARKER " 0 12 100 2000 0\n" "out \xc3\xa9 \xff\n\036fake\nrun\n"
                              "tail\xe2\x82" END_LINE "\n";
    static const char err[] = "warn\036\n" MARKER " 0 12 100 2000 0\n" "oops\n"
                              "\036rce-stats cpu_us=1 maxrss_kb=2 status=0 oom=0\n" END_LINE "\n";
    struct seen s;
    struct stream_events ev;
    struct job_result r;
    job_result_init(&r, 1000);
    job_result_set_end(&r, END_LINE);
    start(&ev, &s, MARKER, true);
    size_t no = sizeof out - 1, ne = sizeof err - 1, io = 0, ie = 0;
    while (io < no || ie < ne) {
        size_t k;
        if (err_first || io == no) {
            k = ne - ie < step ? ne - ie : step;
            feed(&r.err, err + ie, k);
            ie += k;
        }
        if (!err_first || ie == ne) {
            k = no - io < step ? no - io : step;
            feed(&r.out, out + io, k);
            io += k;
        }
        stream_events_live(&ev, &r.out, &r.err, r.output_limit);
        if (io < no && ie == ne)
            err_first = false;
    }
    assert(!job_result_finish_output(&r));
    assert(job_result_split_compile(&r, MARKER) == COMPILE_SUCCEEDED);
    stream_events_end(&ev, &r);
    assert(s.n_stages == 2 && STREQ(s.stages[0], "compile") && STREQ(s.stages[1], "run"));
    assert(same(&s, 0, 0, "compiling\n", 10) && same(&s, 0, 1, "warn\036\n", 6));
    assert(same(&s, 1, 0, r.out.data, r.out.len) && same(&s, 1, 1, r.err.data, r.err.len));
    assert(r.err.len == 5 && memmem(r.out.data, r.out.len, "\036fake\nrun\ntail", 14));
    assert(s.events_after_run == 0);
    seen_free(&s);
    job_result_free(&r);
}

static void test_compiled_any_order(void)
{
    for (size_t step = 1; step < 200; step += step < 8 ? 1 : 37) {
        run_compiled(step, false);
        run_compiled(step, true);
    }
}

/* A compile error: its stderr in the compile stage, no run stage. */
static void test_compile_error(void)
{
    static const char err[] = "main.c:1: error\n" MARKER " 1 12 100 2000 0\n"
                              "\036rce-stats cpu_us= maxrss_kb= status=1 oom=0\n";
    struct seen s;
    struct stream_events ev;
    struct job_result r;
    job_result_init(&r, 1000);
    start(&ev, &s, MARKER, true);
    feed(&r.out, MARKER " 1 12 100 2000 0\n", sizeof MARKER + 16);
    feed(&r.err, err, sizeof err - 1);
    stream_events_live(&ev, &r.out, &r.err, r.output_limit);
    assert(s.len[0][1] == 16 && s.n_stages == 1);      /* the error is out before the end */
    job_result_finish_output(&r);
    assert(job_result_split_compile(&r, MARKER) == COMPILE_FAILED);
    stream_events_end(&ev, &r);
    assert(s.n_stages == 1 && STREQ(s.stages[0], "compile"));
    assert(same(&s, 0, 1, r.compile_err, r.compile_err_len) && r.compile_err_len == 16);
    assert(s.len[1][0] == 0 && s.len[1][1] == 0);
    seen_free(&s);
    job_result_free(&r);
}

/* An interpreted job over its output cap: never more than the cap, what the result holds. */
static void test_capped(void)
{
    struct seen s;
    struct stream_events ev;
    struct job_result r;
    static char flood[100000];
    memset(flood, 'x', sizeof flood);
    job_result_init(&r, 40000);
    start(&ev, &s, NULL, true);
    for (size_t i = 0; i < sizeof flood; i += 3000) {
        feed(&r.out, flood + i, 3000);
        stream_events_live(&ev, &r.out, &r.err, r.output_limit);
        assert(s.len[1][0] <= 40000);
    }
    assert(job_result_finish_output(&r));
    stream_events_end(&ev, &r);
    assert(s.n_stages == 1 && STREQ(s.stages[0], "run") && same(&s, 1, 0, r.out.data, r.out.len));
    assert(r.out.len == 40000);
    seen_free(&s);
    job_result_free(&r);
}

/* A compiler's long line that begins with \036 and does not end, in small pieces: held back,
 * and each byte looked at about once in the search for the compile line too (quadratic, tens
 * of seconds here, when every step searched the whole tail again). */
static void test_compile_tail_linear(void)
{
    struct seen s;
    struct stream_events ev;
    struct capture out, err;
    size_t n = 16 << 20;
    char *tail = malloc(n);
    assert(tail);
    memset(tail, 'x', n);
    tail[0] = '\036';
    capture_init(&out, n + 100);
    capture_init(&err, 100);
    start(&ev, &s, MARKER, true);
    feed(&out, "cc\n", 3);
    for (size_t i = 0; i < n; i += 1024) {
        feed(&out, tail + i, 1024);
        stream_events_live(&ev, &out, &err, n + 100);
    }
    assert(same(&s, 0, 0, "cc\n", 3) && s.n_stages == 1);
    feed(&out, "\n" MARKER " 0 1 2 3 0\n", sizeof MARKER + 11);
    feed(&err, MARKER " 0 1 2 3 0\n", sizeof MARKER + 10);
    stream_events_live(&ev, &out, &err, n + 100);
    assert(s.len[0][0] == 3 + n + 1 && s.n_stages == 2);    /* the line was the compiler's */
    seen_free(&s);
    capture_free(&out);
    capture_free(&err);
    free(tail);
}

/* Judge mode: the compile step's output as it comes, the run's (test records) not. */
static void test_judge_mode(void)
{
    struct seen s;
    struct stream_events ev;
    struct capture out, err;
    capture_init(&out, 1000);
    capture_init(&err, 1000);
    start(&ev, &s, MARKER, false);
    static const char o[] = "cc says\n" MARKER " 0 1 2 3 0\n\036rce-test 0 exit 0 1 1 1 0 2 0\nok";
    static const char e[] = "warn\n" MARKER " 0 1 2 3 0\n";
    feed(&out, o, sizeof o - 1);
    feed(&err, e, sizeof e - 1);
    stream_events_live(&ev, &out, &err, 1000);
    assert(s.n_stages == 2 && same(&s, 0, 0, "cc says\n", 8) && same(&s, 0, 1, "warn\n", 5));
    assert(s.len[1][0] == 0 && s.len[1][1] == 0);
    seen_free(&s);
    capture_free(&out);
    capture_free(&err);
}

int main(void)
{
    RUN(test_releasable);
    RUN(test_releasable_linear);
    RUN(test_chunk);
    RUN(test_compiled_any_order);
    RUN(test_compile_error);
    RUN(test_capped);
    RUN(test_compile_tail_linear);
    RUN(test_judge_mode);
    return REPORT("test_stream");
}
