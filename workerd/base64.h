/* Standard base64 (RFC 4648): files and stdin into the container, output that is not text out. */
#ifndef WORKERD_BASE64_H
#define WORKERD_BASE64_H

#include <stddef.h>

/* The length of the padded base64 of n bytes, without a terminator. */
size_t base64_encoded_len(size_t n);

/* Writes the padded base64 of n bytes into out, which must hold base64_encoded_len(n) + 1
 * bytes; NUL-terminates. */
void base64_encode(const unsigned char *in, size_t n, char *out);

/* Decodes n bytes of base64 (padding optional, no whitespace) into a malloc'd buffer, *out
 * (the caller's to free) of *len bytes. -1 if the text is not base64 or memory runs out. */
int base64_decode(const char *in, size_t n, char **out, size_t *len);

#endif
