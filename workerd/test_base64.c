/* base64: the RFC's vectors, every byte value there and back, and what the decoder refuses. */
#include <stdlib.h>

#include "rce_base64.h"
#include "test.h"

static void test_base64_rfc4648_vectors(void)
{
    static const char *vectors[][2] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };
    char out[16];
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n = strlen(vectors[i][0]);
        assert(rce_base64_encoded_len(n) == strlen(vectors[i][1]));
        rce_base64_encode((const unsigned char *)vectors[i][0], n, out);
        assert(STREQ(out, vectors[i][1]));
    }
    const unsigned char high[] = { 0xff, 0xfe, 0x00 };
    rce_base64_encode(high, 3, out);
    assert(STREQ(out, "//4A"));
}

static void test_base64_round_trip(void)
{
    unsigned char all[256 + 2];
    char text[sizeof all * 2], *back;
    size_t len;
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (unsigned char)i;
    /* Every length mod 3, so every padding. */
    for (size_t n = sizeof all - 2; n <= sizeof all; n++) {
        rce_base64_encode(all, n, text);
        assert(rce_base64_decode(text, strlen(text), &back, &len) == 0);
        assert(len == n && memcmp(back, all, n) == 0);
        free(back);
    }
    assert(rce_base64_decode("Zm8", 3, &back, &len) == 0);      /* padding is optional */
    assert(len == 2 && memcmp(back, "fo", 2) == 0);
    free(back);
    assert(rce_base64_decode("", 0, &back, &len) == 0 && len == 0);
    free(back);
}

static void test_base64_refuses(void)
{
    char *back = (char *)"untouched";
    size_t len;
    assert(rce_base64_decode("not base64!", 11, &back, &len) == -1 && back == NULL);
    assert(rce_base64_decode("Zm9v\n", 5, &back, &len) == -1);    /* no whitespace */
    assert(rce_base64_decode("Z", 1, &back, &len) == -1);          /* a lone sextet is no byte */
    assert(rce_base64_decode("Zm\0v", 4, &back, &len) == -1);      /* nor is NUL a digit */
}

int main(void)
{
    RUN(test_base64_rfc4648_vectors);
    RUN(test_base64_round_trip);
    RUN(test_base64_refuses);
    return REPORT("test_base64");
}
