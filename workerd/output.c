#include "output.h"

#include <stdlib.h>
#include <string.h>

#include "rce_protocol.h"

void capture_init(struct capture *c, size_t limit)
{
    memset(c, 0, sizeof *c);
    c->limit = limit;
}

void capture_free(struct capture *c)
{
    free(c->data);
    memset(c, 0, sizeof *c);
}

int capture_append(struct capture *c, const char *data, size_t n)
{
    size_t room = c->limit - c->len;
    if (n > room) {
        c->overflowed = true;
        n = room;
    }
    if (n == 0)
        return 0;
    if (c->len + n > c->alloc) {
        /* Grow geometrically but never past the cap: most programs print little. */
        size_t want = c->alloc ? c->alloc * 2 : 4096;
        while (want < c->len + n)
            want *= 2;
        if (want > c->limit)
            want = c->limit;
        char *p = realloc(c->data, want);
        if (!p)
            return -1;
        c->data = p;
        c->alloc = want;
    }
    memcpy(c->data + c->len, data, n);
    c->len += n;
    return 0;
}

void demux_init(struct demux *d)
{
    memset(d, 0, sizeof *d);
}

/* Keeps the last DEMUX_TAIL bytes of what passes. */
static void tail_append(struct demux *d, const char *buf, size_t n)
{
    if (n >= DEMUX_TAIL) {
        memcpy(d->tail, buf + n - DEMUX_TAIL, DEMUX_TAIL);
        d->tail_len = DEMUX_TAIL;
        return;
    }
    size_t drop = d->tail_len + n > DEMUX_TAIL ? d->tail_len + n - DEMUX_TAIL : 0;
    memmove(d->tail, d->tail + drop, d->tail_len - drop);
    d->tail_len -= drop;
    memcpy(d->tail + d->tail_len, buf, n);
    d->tail_len += n;
}

enum demux_status demux_feed(struct demux *d, const char *buf, size_t n, struct capture *out,
                             struct capture *err)
{
    while (n > 0) {
        if (d->payload_left == 0) {
            size_t take = sizeof d->header - d->header_len;
            if (take > n)
                take = n;
            memcpy(d->header + d->header_len, buf, take);
            d->header_len += take;
            buf += take;
            n -= take;
            if (d->header_len < sizeof d->header)
                return DEMUX_OK;                /* rest of the header comes in a later feed */
            d->header_len = 0;
            d->stream = d->header[0];
            if ((d->stream != 1 && d->stream != 2) || d->header[1] || d->header[2] || d->header[3])
                return DEMUX_BAD;
            d->payload_left = (uint32_t)d->header[4] << 24 | (uint32_t)d->header[5] << 16
                              | (uint32_t)d->header[6] << 8 | d->header[7];
            continue;
        }
        size_t take = d->payload_left < n ? d->payload_left : n;
        struct capture *c = d->stream == 1 ? out : err;
        if (!d->full) {
            size_t before = c->len;
            if (capture_append(c, buf, take) != 0)
                return DEMUX_NOMEM;
            if (c->overflowed) {
                d->full = true;
                /* The tail starts with the end of what err holds. */
                size_t keep = err->len < DEMUX_TAIL ? err->len : DEMUX_TAIL;
                if (keep)
                    memcpy(d->tail, err->data + err->len - keep, keep);
                d->tail_len = keep;
                if (d->stream == 2)
                    tail_append(d, buf + (c->len - before), take - (c->len - before));
            }
        } else if (d->stream == 2) {
            tail_append(d, buf, take);
        }
        d->payload_left -= (uint32_t)take;
        buf += take;
        n -= take;
    }
    return d->full ? DEMUX_FULL : DEMUX_OK;
}

char *utf8_sanitize(const char *buf, size_t len, size_t *out_len)
{
    /* Worst case every byte becomes the 3-byte replacement. */
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    *out_len = rce_utf8_repair((const unsigned char *)buf, len, (unsigned char *)out);
    out[*out_len] = '\0';
    return out;
}
