/* Output capture: caps, Docker stream demultiplexing (frames split anywhere), UTF-8 repair. */
#include <stdlib.h>

#include "output.h"
#include "rce_protocol.h"
#include "test.h"

static void test_capture_clips_at_limit(void)
{
    struct capture c;
    capture_init(&c, 5);
    assert(capture_append(&c, "abc", 3) == 0 && !c.overflowed);
    assert(capture_append(&c, "de", 2) == 0 && !c.overflowed);    /* exactly full is not over */
    assert(capture_append(&c, "f", 1) == 0 && c.overflowed);
    assert(c.len == 5 && memcmp(c.data, "abcde", 5) == 0);
    capture_free(&c);
}

/* Appends one frame (type, 3 zero bytes, big-endian length, payload) to buf. */
static size_t frame(unsigned char *buf, int stream, const char *payload)
{
    size_t n = strlen(payload);
    unsigned char h[8] = { (unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24),
                           (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n };
    memcpy(buf, h, 8);
    memcpy(buf + 8, payload, n);
    return 8 + n;
}

static void test_demux_any_split(void)
{
    unsigned char stream[256];
    size_t len = 0;
    len += frame(stream + len, 1, "hello ");
    len += frame(stream + len, 2, "oops\n");
    len += frame(stream + len, 1, "");
    len += frame(stream + len, 1, "world\n");
    /* Every chunk size, so every header and payload is cut at every possible place. */
    for (size_t chunk = 1; chunk <= len; chunk++) {
        struct demux d;
        struct capture out, err;
        demux_init(&d);
        capture_init(&out, 100);
        capture_init(&err, 100);
        for (size_t off = 0; off < len; off += chunk) {
            size_t n = len - off < chunk ? len - off : chunk;
            assert(demux_feed(&d, (const char *)stream + off, n, &out, &err) == DEMUX_OK);
        }
        assert(out.len == 12 && memcmp(out.data, "hello world\n", 12) == 0);
        assert(err.len == 5 && memcmp(err.data, "oops\n", 5) == 0);
        capture_free(&out);
        capture_free(&err);
    }
}

static void test_demux_stops_at_cap(void)
{
    unsigned char stream[64];
    size_t len = frame(stream, 1, "0123456789");
    struct demux d;
    struct capture out, err;
    demux_init(&d);
    capture_init(&out, 4);
    capture_init(&err, 4);
    assert(demux_feed(&d, (const char *)stream, len, &out, &err) == DEMUX_FULL);
    assert(out.overflowed && out.len == 4 && memcmp(out.data, "0123", 4) == 0);
    assert(!err.overflowed);
    /* Past the cap the stream is still parsed, its payloads dropped but stderr's last bytes. */
    len = frame(stream, 2, "ab");
    len += frame(stream + len, 1, "more out");
    len += frame(stream + len, 2, "cd\n");
    assert(demux_feed(&d, (const char *)stream, len, &out, &err) == DEMUX_FULL);
    assert(out.len == 4 && err.len == 0);
    assert(d.tail_len == 5 && memcmp(d.tail, "abcd\n", 5) == 0);
    assert(demux_feed(&d, "\x03\0\0\0\0\0\0\0", 8, &out, &err) == DEMUX_BAD);
    capture_free(&out);
    capture_free(&err);

    /* stderr over its cap: the tail starts with what err holds. */
    demux_init(&d);
    capture_init(&out, 4);
    capture_init(&err, 4);
    char big[DEMUX_TAIL * 2 + 16];
    memset(big, 'x', sizeof big);
    big[sizeof big - 1] = '\n';
    len = frame(stream, 2, "012");
    assert(demux_feed(&d, (const char *)stream, len, &out, &err) == DEMUX_OK);
    len = frame(stream, 2, "34567");
    assert(demux_feed(&d, (const char *)stream, len, &out, &err) == DEMUX_FULL);
    assert(err.len == 4 && d.tail_len == 8 && memcmp(d.tail, "01234567", 8) == 0);
    unsigned char header[8] = { 2, 0, 0, 0, 0, 0, 0, 0 };
    header[6] = (unsigned char)(sizeof big >> 8);
    header[7] = (unsigned char)(sizeof big & 0xff);
    assert(demux_feed(&d, (const char *)header, 8, &out, &err) == DEMUX_FULL);
    assert(demux_feed(&d, big, sizeof big, &out, &err) == DEMUX_FULL);
    assert(d.tail_len == DEMUX_TAIL && d.tail[DEMUX_TAIL - 1] == '\n' && d.tail[0] == 'x');
    capture_free(&out);
    capture_free(&err);
}

static void test_demux_rejects_other_framing(void)
{
    struct demux d;
    struct capture out, err;
    demux_init(&d);
    capture_init(&out, 4);
    capture_init(&err, 4);
    /* A TTY container's raw bytes are not frames. */
    assert(demux_feed(&d, "hello world!", 12, &out, &err) == DEMUX_BAD);
    capture_free(&out);
    capture_free(&err);
}

static void check_sanitize(const char *in, size_t len, const char *want, size_t want_len)
{
    size_t got_len;
    char *got = utf8_sanitize(in, len, &got_len);
    assert(got && got_len == want_len && memcmp(got, want, want_len) == 0);
    free(got);
}

#define FFFD "\xef\xbf\xbd"

static void test_utf8_sanitize(void)
{
    const char valid[] = "plain, caf\xc3\xa9, \xe2\x82\xac, \xf0\x9f\x98\x80";
    check_sanitize(valid, sizeof valid - 1, valid, sizeof valid - 1);
    check_sanitize("a\xff" "b", 3, "a" FFFD "b", 5);
    check_sanitize("\xc0\x80", 2, FFFD FFFD, 6);                 /* overlong NUL */
    check_sanitize("\xed\xa0\x80", 3, FFFD FFFD FFFD, 9);        /* UTF-16 surrogate */
    check_sanitize("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD, 12); /* above U+10FFFF */
    check_sanitize("ok\xe2\x82", 4, "ok" FFFD FFFD, 8);          /* cut by the output cap */
    check_sanitize("a\0b", 3, "a\0b", 3);                        /* NUL is valid UTF-8 */
    check_sanitize("", 0, "", 0);
}

/* What decides whether a stream travels as text or as base64 (rce_protocol.h). */
static bool valid(const char *s, size_t n)
{
    return rce_utf8_valid((const unsigned char *)s, n);
}

static void test_utf8_valid(void)
{
    assert(valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
    assert(valid("a\0b", 3));                      /* NUL travels as text */
    assert(valid("\x1b[31mred\x1b[0m\r\n", 14));   /* so do escapes and CR */
    assert(valid(NULL, 0));
    assert(!valid("\xff\xfe", 2));
    assert(!valid("ok\xe2\x82", 4));               /* cut by the output cap */
    assert(!valid("\xed\xa0\x80", 3));             /* a surrogate */
    assert(!valid("\xc0\x80", 2));                 /* an overlong NUL */
}

int main(void)
{
    RUN(test_capture_clips_at_limit);
    RUN(test_demux_any_split);
    RUN(test_demux_stops_at_cap);
    RUN(test_demux_rejects_other_framing);
    RUN(test_utf8_sanitize);
    RUN(test_utf8_valid);
    return REPORT("test_output");
}
