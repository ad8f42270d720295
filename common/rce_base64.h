/*
 * Standard base64 (RFC 4648), both ways, for both programs: workerd's files and stdin into
 * the container and its output that is not UTF-8 out; the streams of the v1 document
 * (rce_render.c) for a client that asks for them in base64.
 */

#ifndef RCE_BASE64_H
#define RCE_BASE64_H

#include <stddef.h>

/* The length of the padded base64 of n bytes, without a terminator. */
size_t rce_base64_encoded_len(size_t n);

/*
 * Writes the padded base64 of n bytes into out, which must hold rce_base64_encoded_len(n) + 1
 * bytes; NUL-terminates.
 */
void rce_base64_encode(const unsigned char *in, size_t n, char *out);

/*
 * Decodes n bytes of base64 (padding optional, no whitespace) into a malloc'd buffer, *out
 * (the caller's to free) of *len bytes.  Returns 0, or with *out NULL: -1 if the text is not
 * base64, -2 if memory runs out.
 */
int rce_base64_decode(const char *in, size_t n, char **out, size_t *len);

#endif
