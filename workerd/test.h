/* The unit tests' whole framework: assert() aborts on the first failure; main counts passes. */
#ifndef WORKERD_TEST_H
#define WORKERD_TEST_H

#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

static int tests_passed;

#define RUN(test) do { test(); tests_passed++; } while (0)
#define REPORT(name) (printf("%s: %d passed, 0 failed\n", name, tests_passed), 0)
#define STREQ(a, b) (strcmp((a), (b)) == 0)

#endif
