/* libFuzzer target: the Docker stream demultiplexer (output.c) fed the input in pieces of
 * every size the first byte picks, with caps the second picks; then UTF-8 repair of what it
 * kept. The captures never pass their caps, and the tail never its size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct capture out, err;
    struct demux d;
    if (size < 2)
        return 0;
    size_t piece = data[0] ? data[0] : 1, cap = (size_t)data[1] * 16;
    data += 2;
    size -= 2;
    capture_init(&out, cap);
    capture_init(&err, cap);
    demux_init(&d);
    for (size_t at = 0; at < size; at += piece) {
        size_t n = size - at < piece ? size - at : piece;
        enum demux_status st = demux_feed(&d, (const char *)data + at, n, &out, &err);
        if (st == DEMUX_BAD || st == DEMUX_NOMEM)
            break;
    }
    if (out.len > cap || err.len > cap || d.tail_len > DEMUX_TAIL)
        abort();
    size_t len;
    char *clean = utf8_sanitize(out.data, out.len, &len);
    free(clean);
    clean = utf8_sanitize(err.data, err.len, &len);
    free(clean);
    capture_free(&out);
    capture_free(&err);
    return 0;
}
