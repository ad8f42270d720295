/* A job's output: capped capture buffers, Docker's multiplexed stream framing, UTF-8 repair. */
#ifndef WORKERD_OUTPUT_H
#define WORKERD_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of one stream, never more than limit; overflowed says bytes beyond limit were offered. */
struct capture {
    char *data;
    size_t len;
    size_t alloc;
    size_t limit;
    bool overflowed;
};

void capture_init(struct capture *c, size_t limit);
void capture_free(struct capture *c);

/* Appends up to the limit; returns -1 only when out of memory. Sets overflowed if clipped. */
int capture_append(struct capture *c, const char *data, size_t n);

/* Incremental parser of Docker's attach framing for non-TTY containers: frames of an 8-byte
 * header (stream type, 3 zero bytes, big-endian uint32 payload length) then the payload.
 * Frames may be split anywhere across feeds, so the parser keeps its place between calls. */
#define DEMUX_TAIL 192      /* bytes of stderr kept past the cap: the wrapper's last lines */

struct demux {
    unsigned char header[8];
    size_t header_len;      /* header bytes collected so far */
    int stream;             /* stream of the frame whose payload is being read */
    uint32_t payload_left;  /* payload bytes of the current frame still to come */
    bool full;              /* a capture reached its cap: from then on payloads are dropped */
    char tail[DEMUX_TAIL];  /* once full: the last bytes of stream 2 (stderr) */
    size_t tail_len;
};

enum demux_status {
    DEMUX_OK,       /* everything consumed */
    DEMUX_FULL,     /* a capture reached its cap; the rest is consumed but dropped */
    DEMUX_BAD,      /* a header that is not Docker framing */
    DEMUX_NOMEM,
};

void demux_init(struct demux *d);

/* Routes payload bytes of stream 1 to out and of stream 2 to err. Once a capture is full it
 * keeps parsing (so a caller may drain the stream to its end) but drops the payloads, except
 * that it remembers the last DEMUX_TAIL bytes of stderr (the end of what err holds, then what
 * came after) in tail, where the wrapper's last line can be found. Returns DEMUX_FULL from
 * then on. */
enum demux_status demux_feed(struct demux *d, const char *buf, size_t n, struct capture *out,
                             struct capture *err);

/* Returns a NUL-terminated copy of buf in which every byte that is not part of a valid UTF-8
 * sequence (rce_utf8_len: overlong, surrogate, beyond U+10FFFF, truncated) becomes U+FFFD; NULL if out of
 * memory. The length (which may include NUL bytes from the program) goes to *out_len. */
char *utf8_sanitize(const char *buf, size_t len, size_t *out_len);

#endif
