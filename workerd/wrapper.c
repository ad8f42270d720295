#include "wrapper.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* Parses one "key=<digits or nothing>" field of the figures line at p; NULL if malformed. */
static const char *stats_field(const char *p, const char *end, const char *key, long long *out)
{
    size_t klen = strlen(key);
    if ((size_t)(end - p) < klen || memcmp(p, key, klen) != 0)
        return NULL;
    p += klen;
    long long v = 0;
    int digits = 0;
    for (; p < end && *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
        v = v * 10 + (*p - '0');
    if (p < end && *p >= '0' && *p <= '9')
        return NULL;
    *out = digits ? v : -1;
    return p;
}

/* The offset of the last figures mark within reach of the end of buf, or -1. */
static long last_mark(const char *buf, size_t n)
{
    const size_t mlen = sizeof WRAPPER_STATS_MARK - 1;
    size_t from = n > WRAPPER_STATS_MAX ? n - WRAPPER_STATS_MAX : 0;
    if (n < mlen + 1)
        return -1;
    for (size_t i = n - mlen; i + 1 > from; i--) {
        if (memcmp(buf + i, WRAPPER_STATS_MARK, mlen) == 0)
            return (long)i;
        if (i == 0)
            break;
    }
    return -1;
}

/* Reads a figures line that ends buf (n bytes); returns its offset, or -1 if there is none. */
static long parse_figures(const char *buf, size_t n, struct wrapper_figures *f)
{
    long at = n > 0 && buf[n - 1] == '\n' ? last_mark(buf, n) : -1;
    if (at < 0)
        return -1;
    const char *p = buf + at + sizeof WRAPPER_STATS_MARK - 1, *end = buf + n - 1;
    if (!(p = stats_field(p, end, "cpu_us=", &f->cpu_us)) || p >= end || *p++ != ' '
        || !(p = stats_field(p, end, "maxrss_kb=", &f->maxrss_kb)) || p >= end || *p++ != ' '
        || !(p = stats_field(p, end, "status=", &f->status)) || p >= end || *p++ != ' '
        || !(p = stats_field(p, end, "oom=", &f->oom_kills)) || p != end)
        return -1;
    return at;
}

bool wrapper_take_end(const char *buf, size_t *len, const char *end_line)
{
    size_t n = end_line ? strlen(end_line) : 0;
    if (n == 0 || *len < n || memcmp(buf + *len - n, end_line, n) != 0)
        return false;
    *len -= n;
    return true;
}

enum wrapper_outcome wrapper_take_figures(const char *buf, size_t *len, const char *end_line,
                                          struct wrapper_figures *f)
{
    struct wrapper_figures got;
    size_t n = *len;
    bool ended = wrapper_take_end(buf, &n, end_line);
    long at = parse_figures(buf, n, &got);
    f->cpu_us = f->maxrss_kb = f->status = f->oom_kills = -1;
    if (at < 0)
        return WRAPPER_NO_FIGURES;
    *f = got;
    *len = (size_t)at;
    return ended ? WRAPPER_TRUSTED : WRAPPER_FIGURES;
}

enum wrapper_compile wrapper_find_compiled(const char *buf, size_t len, const char *marker,
                                           struct wrapper_compiled *c)
{
    size_t mlen = strlen(marker);
    const char *p = buf && mlen && len >= mlen ? memmem(buf, len, marker, mlen) : NULL;
    const char *nl = p ? memchr(p + mlen, '\n', len - (size_t)(p + mlen - buf)) : NULL;
    long long status = -1, ms = -1;
    c->exit_code = -1;
    c->ms = -1;
    c->cpu_us = c->maxrss_kb = c->oom_kills = -1;
    if (!nl)
        return COMPILE_UNFINISHED;
    c->at = (size_t)(p - buf);
    c->next = (size_t)(nl - buf) + 1;
    const char *q = p + mlen;
    if (!(q = stats_field(q, nl, " ", &status)) || !(q = stats_field(q, nl, " ", &ms))
        || !(q = stats_field(q, nl, " ", &c->cpu_us)) || !(q = stats_field(q, nl, " ", &c->maxrss_kb))
        || !(q = stats_field(q, nl, " ", &c->oom_kills)) || q != nl || status < 0 || status > 255 || ms < 0) {
        c->cpu_us = c->maxrss_kb = c->oom_kills = -1;
        return COMPILE_GARBLED;
    }
    c->exit_code = (int)status;
    c->ms = (long)ms;
    return c->exit_code == 0 ? COMPILE_SUCCEEDED : COMPILE_FAILED;
}

/* The word of a test record that says how the test ended; -1 if it is none. */
static int test_how(const char *p, const char *end, const char **after)
{
    static const char *const words[] = { "exit", "wall", "output", "total" };
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(end - p) >= n && memcmp(p, words[i], n) == 0) {
            *after = p + n;
            return i;
        }
    }
    return -1;
}

enum wrapper_record wrapper_take_test(const char *buf, size_t len, struct wrapper_test *t)
{
    const size_t mlen = sizeof WRAPPER_TEST_MARK - 1;
    size_t head = len < WRAPPER_TEST_MAX ? len : WRAPPER_TEST_MAX;
    const char *nl = memchr(buf, '\n', head), *q;
    long long index = -1, out_len = -1, err_len = -1;
    int how;
    if (memcmp(buf, WRAPPER_TEST_MARK, len < mlen ? len : mlen) != 0)
        return RECORD_GARBLED;
    if (!nl)
        return len < WRAPPER_TEST_MAX ? RECORD_INCOMPLETE : RECORD_GARBLED;
    if (nl < buf + mlen || !(q = stats_field(buf + mlen, nl, "", &index)) || index < 0 || q >= nl || *q++ != ' '
        || (how = test_how(q, nl, &q)) < 0 || !(q = stats_field(q, nl, " ", &t->status))
        || !(q = stats_field(q, nl, " ", &t->wall_ms)) || !(q = stats_field(q, nl, " ", &t->cpu_us))
        || !(q = stats_field(q, nl, " ", &t->maxrss_kb)) || !(q = stats_field(q, nl, " ", &t->oom_kills))
        || !(q = stats_field(q, nl, " ", &out_len)) || !(q = stats_field(q, nl, " ", &err_len)) || q != nl
        || t->wall_ms < 0 || out_len < 0 || err_len < 0)
        return RECORD_GARBLED;
    t->index = (long)index;
    t->how = (enum wrapper_test_how)how;
    t->out_at = (size_t)(nl - buf) + 1;
    t->out_len = (size_t)out_len;
    t->err_at = t->out_at + t->out_len;
    t->err_len = (size_t)err_len;
    t->next = t->err_at + t->err_len;
    return t->next <= len ? RECORD_TAKEN : RECORD_INCOMPLETE;
}

void wrapper_token(const char *seed, const char *prefix, char token[WRAPPER_TOKEN_SIZE])
{
    unsigned char rnd[12] = { 0 };
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memcpy(rnd, seed, strlen(seed) < sizeof rnd ? strlen(seed) : sizeof rnd);
    snprintf(token, WRAPPER_TOKEN_SIZE, "%s", prefix);
    for (size_t i = 0; i < sizeof rnd && strlen(token) + 3 <= WRAPPER_TOKEN_SIZE; i++)
        snprintf(token + strlen(token), 3, "%02x", rnd[i]);
}
