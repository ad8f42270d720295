#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rce_protocol.h"

/* The whitespace of tokens and line ends: what C's isspace() calls space in the C locale. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int compare_parse(const char *name, double tolerance, struct compare *out)
{
    static const struct { const char *name; enum compare_mode mode; } modes[] = {
        { RCE_COMPARE_EXACT, COMPARE_EXACT }, { RCE_COMPARE_LINES, COMPARE_LINES },
        { RCE_COMPARE_TOKENS, COMPARE_TOKENS }, { RCE_COMPARE_FLOAT, COMPARE_FLOAT },
    };
    out->mode = COMPARE_LINES;
    out->tolerance = 0;
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(name, modes[i].name) == 0) {
            out->mode = modes[i].mode;
            if (out->mode == COMPARE_FLOAT && !(tolerance >= 0 && isfinite(tolerance)))
                return -1;
            out->tolerance = out->mode == COMPARE_FLOAT ? tolerance : 0;
            return 0;
        }
    return -1;
}

/* A cursor over one side's text. */
struct text {
    const char *p, *end;
};

/* The next line, its trailing whitespace cut, in line and len; false at the end. */
static bool next_line(struct text *t, const char **line, size_t *len)
{
    if (t->p >= t->end)
        return false;
    const char *nl = memchr(t->p, '\n', (size_t)(t->end - t->p));
    const char *stop = nl ? nl : t->end;
    *line = t->p;
    while (stop > *line && is_space(stop[-1]))
        stop--;
    *len = (size_t)(stop - *line);
    t->p = nl ? nl + 1 : t->end;
    return true;
}

/* True when nothing but whitespace is left. */
static bool only_space(const struct text *t)
{
    for (const char *p = t->p; p < t->end; p++)
        if (!is_space(*p))
            return false;
    return true;
}

static bool same_lines(struct text a, struct text b)
{
    const char *la, *lb;
    size_t na, nb;
    for (;;) {
        if (only_space(&a) || only_space(&b))
            return only_space(&a) && only_space(&b);
        if (!next_line(&a, &la, &na) || !next_line(&b, &lb, &nb))
            return false;
        if (na != nb || (na > 0 && memcmp(la, lb, na) != 0))
            return false;
    }
}

/* The next token, in tok and len; false when none is left. */
static bool next_token(struct text *t, const char **tok, size_t *len)
{
    while (t->p < t->end && is_space(*t->p))
        t->p++;
    if (t->p >= t->end)
        return false;
    *tok = t->p;
    while (t->p < t->end && !is_space(*t->p))
        t->p++;
    *len = (size_t)(t->p - *tok);
    return true;
}

/* A token that is a decimal number in full (digits, sign, point, exponent: no hex, inf or
 * nan), as a finite double. */
static bool number(const char *tok, size_t len, double *value)
{
    char buf[128], *end;
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, tok, len);
    buf[len] = '\0';
    if (strspn(buf, "+-.0123456789eE") < len)
        return false;
    errno = 0;
    *value = strtod(buf, &end);
    return end == buf + len && isfinite(*value) && strpbrk(buf, "0123456789") != NULL;
}

static bool same_token(const struct compare *c, const char *a, size_t na, const char *b, size_t nb)
{
    double x, y;
    if (na == nb && memcmp(a, b, na) == 0)
        return true;
    if (c->mode != COMPARE_FLOAT || !number(a, na, &x) || !number(b, nb, &y))
        return false;
    double diff = fabs(x - y), scale = fmax(fabs(x), fabs(y));
    return diff <= c->tolerance || diff <= c->tolerance * scale;
}

static bool same_tokens(const struct compare *c, struct text a, struct text b)
{
    const char *ta, *tb;
    size_t na, nb;
    for (;;) {
        bool more_a = next_token(&a, &ta, &na), more_b = next_token(&b, &tb, &nb);
        if (!more_a || !more_b)
            return more_a == more_b;
        if (!same_token(c, ta, na, tb, nb))
            return false;
    }
}

bool compare_output(const struct compare *c, const char *expected, size_t expected_len,
                    const char *actual, size_t actual_len)
{
    if (!expected)
        expected = "";      /* no bytes (a test that wrote nothing has no buffer) */
    if (!actual)
        actual = "";
    struct text e = { expected, expected + expected_len }, a = { actual, actual + actual_len };
    switch (c->mode) {
    case COMPARE_EXACT:
        return expected_len == actual_len && (actual_len == 0 || memcmp(expected, actual, actual_len) == 0);
    case COMPARE_LINES:
        return same_lines(e, a);
    case COMPARE_TOKENS:
    case COMPARE_FLOAT:
        return same_tokens(c, e, a);
    }
    return false;
}
