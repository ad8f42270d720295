#include "base64.h"

#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void base64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = alphabet[v >> 6 & 63];
        *out++ = alphabet[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
        *out++ = alphabet[v >> 18 & 63];
        *out++ = alphabet[v >> 12 & 63];
        *out++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

int base64_decode(const char *in, size_t n, char **out, size_t *len)
{
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1 || !(*out = malloc(n / 4 * 3 + 3)))
        return -1;
    unsigned acc = 0;
    size_t bits = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = in[i] ? strchr(alphabet, in[i]) : NULL;
        if (!p) {
            free(*out);
            *out = NULL;
            return -1;
        }
        acc = acc << 6 | (unsigned)(p - alphabet);
        if ((bits += 6) >= 8) {
            bits -= 8;
            (*out)[k++] = (char)(acc >> bits & 0xff);
        }
    }
    *len = k;
    return 0;
}
