/* Standard base64 (RFC 4648): see rce_base64.h. */

#include "rce_base64.h"

#include <stdlib.h>
#include <string.h>

static const char  alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
rce_base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void
rce_base64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t    i;
    unsigned  v;

    for (i = 0; i + 3 <= n; i += 3) {
        v = (unsigned) in[i] << 16 | (unsigned) in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = alphabet[v & 63];
    }

    if (i < n) {
        v = (unsigned) in[i] << 16 | (i + 1 < n ? (unsigned) in[i + 1] << 8 : 0);
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        *out++ = '=';
    }

    *out = '\0';
}

int
rce_base64_decode(const char *in, size_t n, char **out, size_t *len)
{
    const char  *p;
    unsigned     acc;
    size_t       bits, i, k;

    *out = NULL;

    while (n > 0 && in[n - 1] == '=') {
        n--;
    }

    if (n % 4 == 1) {
        return -1;          /* a lone sextet is no byte */
    }

    *out = malloc(n / 4 * 3 + 3);
    if (*out == NULL) {
        return -2;
    }

    acc = 0;
    bits = 0;
    k = 0;

    for (i = 0; i < n; i++) {
        p = in[i] ? strchr(alphabet, in[i]) : NULL;
        if (p == NULL) {
            goto fail;
        }

        acc = acc << 6 | (unsigned) (p - alphabet);

        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            (*out)[k++] = (char) (acc >> bits & 0xff);
        }
    }

    *len = k;
    return 0;

fail:
    free(*out);
    *out = NULL;
    return -1;
}
