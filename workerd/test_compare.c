/* compare: each mode with the edge cases judges meet (CRLF, trailing spaces, no final newline,
 * -0.0, 1e-7 against 0, NUL bytes) and the names a request may give. */
#include "compare.h"
#include "test.h"

static bool same(enum compare_mode mode, double tolerance, const char *expected, const char *actual)
{
    struct compare c = { mode, tolerance };
    return compare_output(&c, expected, strlen(expected), actual, strlen(actual));
}

static void test_compare_parse(void)
{
    struct compare c;
    assert(compare_parse(NULL, 0, &c) == 0 && c.mode == COMPARE_LINES);
    assert(compare_parse("exact", 0, &c) == 0 && c.mode == COMPARE_EXACT);
    assert(compare_parse("tokens", 0, &c) == 0 && c.mode == COMPARE_TOKENS);
    assert(compare_parse("float", 1e-6, &c) == 0 && c.mode == COMPARE_FLOAT && c.tolerance == 1e-6);
    assert(compare_parse("float", -1, &c) == -1);
    assert(compare_parse("float", 1.0 / 0.0, &c) == -1);
    assert(compare_parse("Lines", 0, &c) == -1 && compare_parse("", 0, &c) == -1);
}

static void test_compare_exact(void)
{
    assert(same(COMPARE_EXACT, 0, "3\n", "3\n"));
    assert(!same(COMPARE_EXACT, 0, "3\n", "3"));
    assert(!same(COMPARE_EXACT, 0, "3\n", "3\r\n"));
    assert(same(COMPARE_EXACT, 0, "", ""));
    struct compare c = { COMPARE_EXACT, 0 };
    assert(compare_output(&c, "a\0b", 3, "a\0b", 3) && !compare_output(&c, "a\0b", 3, "a\0c", 3));
    assert(compare_output(&c, NULL, 0, "", 0));
}

static void test_compare_lines(void)
{
    assert(same(COMPARE_LINES, 0, "1 2\n3\n", "1 2\n3\n"));
    assert(same(COMPARE_LINES, 0, "1 2\n3\n", "1 2  \n3"));          /* trailing spaces, no final LF */
    assert(same(COMPARE_LINES, 0, "1 2\n3\n", "1 2\r\n3\r\n"));      /* CRLF */
    assert(same(COMPARE_LINES, 0, "1 2\n3\n", "1 2\n3\n\n\n  \n"));  /* trailing empty lines */
    assert(same(COMPARE_LINES, 0, "", "\n\n"));
    assert(!same(COMPARE_LINES, 0, "1 2\n3\n", " 1 2\n3\n"));        /* leading space counts */
    assert(!same(COMPARE_LINES, 0, "1 2\n3\n", "1  2\n3\n"));        /* inner space counts */
    assert(!same(COMPARE_LINES, 0, "1\n\n2\n", "1\n2\n"));            /* an inner empty line counts */
    assert(!same(COMPARE_LINES, 0, "1\n2\n", "1\n2\n3\n"));
    assert(!same(COMPARE_LINES, 0, "1\n2\n3\n", "1\n2\n"));
    assert(!same(COMPARE_LINES, 0, "", "x"));
}

static void test_compare_tokens(void)
{
    assert(same(COMPARE_TOKENS, 0, "1 2\n3\n", "1\n2 3"));
    assert(same(COMPARE_TOKENS, 0, "1 2 3", "  1\t2\r\n3\n\n"));
    assert(!same(COMPARE_TOKENS, 0, "1 2 3", "1 23"));
    assert(!same(COMPARE_TOKENS, 0, "1.0", "1"));                      /* no numbers here */
    assert(!same(COMPARE_TOKENS, 0, "1 2", "1 2 3"));
    assert(same(COMPARE_TOKENS, 0, "", " \n "));
}

static void test_compare_float(void)
{
    assert(same(COMPARE_FLOAT, 1e-6, "0.3333333", "0.33333334"));
    assert(same(COMPARE_FLOAT, 1e-6, "0", "1e-7"));                    /* absolute */
    assert(same(COMPARE_FLOAT, 1e-6, "0", "-0.0"));
    assert(same(COMPARE_FLOAT, 1e-6, "1000000000", "1000000500"));     /* relative */
    assert(!same(COMPARE_FLOAT, 1e-6, "1", "1.01"));
    assert(same(COMPARE_FLOAT, 0, "1.0", "1"));                         /* 0: equal numbers */
    assert(same(COMPARE_FLOAT, 1e-6, "YES 2.5", "YES 2.5000001"));
    assert(!same(COMPARE_FLOAT, 1e-6, "YES 2.5", "yes 2.5"));           /* words stay exact */
    assert(!same(COMPARE_FLOAT, 1e-6, "nan", "nan0") && same(COMPARE_FLOAT, 1e-6, "nan", "nan"));
    assert(!same(COMPARE_FLOAT, 1e-6, "inf", "1e999"));                 /* not finite: not numbers */
    assert(!same(COMPARE_FLOAT, 1e-6, "0x10", "16"));                   /* no hex */
    assert(!same(COMPARE_FLOAT, 1e-6, "1", "."));
}

int main(void)
{
    RUN(test_compare_parse);
    RUN(test_compare_exact);
    RUN(test_compare_lines);
    RUN(test_compare_tokens);
    RUN(test_compare_float);
    return REPORT("test_compare");
}
