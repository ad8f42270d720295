/* Judge mode's comparison of a test's output with its expected output: exact bytes, lines,
 * tokens, or tokens with a numeric tolerance, as judges compare. */
#ifndef WORKERD_COMPARE_H
#define WORKERD_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

enum compare_mode {
    COMPARE_EXACT,      /* byte for byte */
    COMPARE_LINES,      /* line by line, each line's trailing whitespace and the trailing
                           empty lines ignored (CRLF is LF then) */
    COMPARE_TOKENS,     /* the sequences of whitespace-separated tokens */
    COMPARE_FLOAT,      /* tokens, where two numbers are equal within the tolerance */
};

struct compare {
    enum compare_mode mode;
    double tolerance;   /* COMPARE_FLOAT: absolute or relative, >= 0 */
};

/* Parses a request's "compare": "exact", "lines", "tokens", or NULL (the default, lines);
 * a tolerance >= 0 (and finite) for float. 0 on success, -1 for a name that is none of them
 * or a bad tolerance. */
int compare_parse(const char *name, double tolerance, struct compare *out);

/* Whether the program's output matches the expected output under c. Any bytes (NUL
 * included) in either; NULL with a length of 0 is empty. */
bool compare_output(const struct compare *c, const char *expected, size_t expected_len,
                    const char *actual, size_t actual_len);

#endif
