/* The wrapper's lines (wrapper.h): the figures line, the end line and the compile line, each
 * outcome and malformed lines; the tokens. */
#include <stdlib.h>

#include "test.h"
#include "wrapper.h"

static enum wrapper_outcome take(const char *text, const char *end, long long cpu, long long rss, size_t left)
{
    size_t len = strlen(text);
    struct wrapper_figures f;
    enum wrapper_outcome got = wrapper_take_figures(text, &len, end, &f);
    assert(f.cpu_us == cpu && f.maxrss_kb == rss && len == left);
    return got;
}

#define FIG(cpu, rss) WRAPPER_STATS_MARK "cpu_us=" cpu " maxrss_kb=" rss " status=0 oom=0\n"

static void test_figures(void)
{
    assert(take("", NULL, -1, -1, 0) == WRAPPER_NO_FIGURES);
    assert(take(FIG("5", "6"), NULL, 5, 6, 0) == WRAPPER_FIGURES);
    assert(take("x\n" FIG("1234567", ""), "", 1234567, -1, 2) == WRAPPER_FIGURES);
    /* Only the last line, and only at the very end, counts. */
    assert(take(FIG("1", "1") "ab" FIG("2", "3"), NULL, 2, 3, strlen(FIG("1", "1") "ab")) == WRAPPER_FIGURES);
    assert(take(FIG("1", "1") "trailing\n", NULL, -1, -1, strlen(FIG("1", "1") "trailing\n"))
           == WRAPPER_NO_FIGURES);

    const char full[] = "out" WRAPPER_STATS_MARK "cpu_us=10 maxrss_kb=20 status=137 oom=1\n";
    size_t len = sizeof full - 1;
    struct wrapper_figures f;
    assert(wrapper_take_figures(full, &len, NULL, &f) == WRAPPER_FIGURES && len == 3);
    assert(f.cpu_us == 10 && f.maxrss_kb == 20 && f.status == 137 && f.oom_kills == 1);
    const char unknown[] = WRAPPER_STATS_MARK "cpu_us=10 maxrss_kb=20 status=3 oom=\n";
    len = sizeof unknown - 1;
    assert(wrapper_take_figures(unknown, &len, NULL, &f) == WRAPPER_FIGURES && f.status == 3 && f.oom_kills == -1);
    /* the longest line fits in the room kept for it */
    assert(strlen(WRAPPER_STATS_MARK "cpu_us=999999999999999999 maxrss_kb=999999999999999999 "
                  "status=255 oom=999999999999999999\n") <= WRAPPER_STATS_MAX);
}

/* Lines that look like the figures but are not: nothing is taken. */
static void test_malformed_figures(void)
{
    static const char *bad[] = {
        WRAPPER_STATS_MARK "cpu_us=1 maxrss_kb=1 status=0 oom=0",             /* no newline */
        WRAPPER_STATS_MARK "cpu_us=x maxrss_kb=1 status=0 oom=0\n",            /* not digits */
        WRAPPER_STATS_MARK "cpu_us=1 maxrss_kb=1 status=0 oom=0 extra\n",      /* more after */
        WRAPPER_STATS_MARK "cpu_us=99999999999999999999 maxrss_kb=1 status=0 oom=0\n",   /* too long */
        WRAPPER_STATS_MARK "cpu_us=1 maxrss_kb=1\n",                           /* an older line */
        WRAPPER_STATS_MARK "maxrss_kb=1 cpu_us=1 status=0 oom=0\n",            /* out of order */
        WRAPPER_STATS_MARK "cpu_us=1  maxrss_kb=1 status=0 oom=0\n",           /* two spaces */
        "\036rce-stat cpu_us=1 maxrss_kb=1 status=0 oom=0\n",                  /* another mark */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert(take(bad[i], NULL, -1, -1, strlen(bad[i])) == WRAPPER_NO_FIGURES);
    /* a mark further from the end than any real line could be */
    char far[WRAPPER_STATS_MAX + 64];
    snprintf(far, sizeof far, "%s%0*d\n", WRAPPER_STATS_MARK "cpu_us=1 maxrss_kb=1 status=0 oom=", 90, 0);
    assert(take(far, NULL, -1, -1, strlen(far)) == WRAPPER_NO_FIGURES);
}

/* The end line after the figures makes them the wrapper's; another token's does not. */
static void test_end_line(void)
{
    const char *end = WRAPPER_END_PREFIX "ab\n";
    assert(take("o" FIG("7", "8") WRAPPER_END_PREFIX "ab\n", end, 7, 8, 1) == WRAPPER_TRUSTED);
    assert(take("o" FIG("7", "8") WRAPPER_END_PREFIX "cd\n", end, -1, -1,
                strlen("o" FIG("7", "8") WRAPPER_END_PREFIX "cd\n")) == WRAPPER_NO_FIGURES);
    assert(take("o" FIG("7", "8"), end, 7, 8, 1) == WRAPPER_FIGURES);
    /* the end line alone is no figures: nothing is taken */
    assert(take("o" WRAPPER_END_PREFIX "ab\n", end, -1, -1, strlen("o" WRAPPER_END_PREFIX "ab\n"))
           == WRAPPER_NO_FIGURES);
    size_t len = strlen("out\n" WRAPPER_END_PREFIX "ab\n");
    assert(wrapper_take_end("out\n" WRAPPER_END_PREFIX "ab\n", &len, end) && len == 4);
    len = 4;
    assert(!wrapper_take_end("out\n", &len, end) && len == 4);
    assert(!wrapper_take_end("out\n", &len, "") && !wrapper_take_end("out\n", &len, NULL) && len == 4);
}

static enum wrapper_compile compiled(const char *text, struct wrapper_compiled *c)
{
    return wrapper_find_compiled(text, strlen(text), WRAPPER_COMPILED_PREFIX "x1", c);
}

static void test_compile_line(void)
{
    struct wrapper_compiled c;
    const char ok[] = "cc\n" WRAPPER_COMPILED_PREFIX "x1 0 120 35000 25704 0\nrun\n";
    assert(compiled(ok, &c) == COMPILE_SUCCEEDED && c.exit_code == 0 && c.ms == 120);
    assert(c.cpu_us == 35000 && c.maxrss_kb == 25704 && c.oom_kills == 0);
    assert(c.at == 3 && c.next == strlen(ok) - 4);
    assert(compiled(WRAPPER_COMPILED_PREFIX "x1 2 80 1 2 \n", &c) == COMPILE_FAILED && c.exit_code == 2
           && c.ms == 80 && c.oom_kills == -1);                        /* a figure may be unknown */
    assert(compiled(WRAPPER_COMPILED_PREFIX "x1 0 9   \n", &c) == COMPILE_SUCCEEDED && c.cpu_us == -1);
    assert(compiled("still compiling", &c) == COMPILE_UNFINISHED && c.exit_code == -1);
    assert(compiled(WRAPPER_COMPILED_PREFIX "x2 0 1 1 1 0\n", &c) == COMPILE_UNFINISHED);  /* another marker */
    assert(compiled(WRAPPER_COMPILED_PREFIX "x1 0 1 1", &c) == COMPILE_UNFINISHED);  /* the rest is on its way */
    assert(compiled(WRAPPER_COMPILED_PREFIX "x1 killed\nrest", &c) == COMPILE_GARBLED);
    assert(c.exit_code == -1 && c.ms == -1 && c.next == strlen(WRAPPER_COMPILED_PREFIX "x1 killed\n"));
    assert(compiled(WRAPPER_COMPILED_PREFIX "x1 -3 5 1 1 0\n", &c) == COMPILE_GARBLED);
    assert(compiled(WRAPPER_COMPILED_PREFIX "x1 0 120\n", &c) == COMPILE_GARBLED);     /* no figures */
    assert(compiled(WRAPPER_COMPILED_PREFIX "x1 256 5 1 1 0\n", &c) == COMPILE_GARBLED);
    /* the first line counts: a later imitation is output */
    assert(compiled(WRAPPER_COMPILED_PREFIX "x1 1 5 1 1 0\n" WRAPPER_COMPILED_PREFIX "x1 0 5 1 1 0\n", &c)
           == COMPILE_FAILED);
}

static void test_tokens(void)
{
    char a[WRAPPER_TOKEN_SIZE], b[WRAPPER_TOKEN_SIZE];
    wrapper_token("job-1", WRAPPER_END_PREFIX, a);
    wrapper_token("job-1", WRAPPER_END_PREFIX, b);
    assert(strlen(a) == strlen(WRAPPER_END_PREFIX) + 24 && strncmp(a, WRAPPER_END_PREFIX, strlen(WRAPPER_END_PREFIX)) == 0);
    assert(strcmp(a, b) != 0);
    assert(strlen(a) + 2 <= WRAPPER_END_MAX);                  /* the end line fits its room */
    wrapper_token("job-1", WRAPPER_COMPILED_PREFIX, a);
    assert(strlen(a) < WRAPPER_TOKEN_SIZE);
}

/* wrapper.pl writes the lines as wrapper.h describes them. */
static void test_wrapper_writes_these_lines(void)
{
    const char *pl = embed_wrapper_pl.data;
    assert(strstr(pl, "qq(\\036rce-stats cpu_us=$cpu maxrss_kb=$rss status=$rc oom=$oom\\n)"));
    assert(strstr(pl, "sprintf(qq(%s %d %d %s %s %s\\n), $marker, $rc, now_ms() - $t0, $cpu_c, $rss_c, $oom_c)"));
    assert(strstr(pl, "syswrite(STDOUT, qq($end\\n));"));
    assert(STREQ(WRAPPER_STATS_MARK, "\036rce-stats "));
    assert(strstr(pl, "qq(\\036rce-test %d %s %s %d %s %s %s %d %d\\n)"));
    assert(STREQ(WRAPPER_TEST_MARK, "\036rce-test "));
}

/* A test record: its first line, then that many bytes of stdout and of stderr. */
static void test_test_record(void)
{
    struct wrapper_test t;
    const char rec[] = WRAPPER_TEST_MARK "3 exit 0 12 4500 2684 0 3 2\n" "ab\nxy" WRAPPER_TEST_MARK "4";
    assert(wrapper_take_test(rec, sizeof rec - 1, &t) == RECORD_TAKEN);
    assert(t.index == 3 && t.how == TEST_EXITED && t.status == 0 && t.wall_ms == 12 && t.cpu_us == 4500);
    assert(t.maxrss_kb == 2684 && t.oom_kills == 0);
    assert(t.out_len == 3 && memcmp(rec + t.out_at, "ab\n", 3) == 0);
    assert(t.err_len == 2 && memcmp(rec + t.err_at, "xy", 2) == 0);
    assert(wrapper_take_test(rec + t.next, strlen(rec + t.next), &t) == RECORD_INCOMPLETE);
    /* unknown figures are empty; every way a test ends */
    const char wall[] = WRAPPER_TEST_MARK "0 wall 137 1001    0 0\n";
    assert(wrapper_take_test(wall, sizeof wall - 1, &t) == RECORD_TAKEN);
    assert(t.how == TEST_WALL && t.status == 137 && t.cpu_us == -1 && t.maxrss_kb == -1 && t.oom_kills == -1);
    assert(t.next == sizeof wall - 1);
    const char *hows[] = { "output", "total" };
    for (int i = 0; i < 2; i++) {
        char line[128];
        snprintf(line, sizeof line, WRAPPER_TEST_MARK "1 %s  5 1 1 1 0 0\n", hows[i]);
        assert(wrapper_take_test(line, strlen(line), &t) == RECORD_TAKEN && t.status == -1);
        assert(t.how == (i ? TEST_TOTAL : TEST_OUTPUT));
    }
    /* the output has not all come yet; the first line is cut; not a record */
    assert(wrapper_take_test(rec, 40, &t) == RECORD_INCOMPLETE);
    assert(wrapper_take_test(rec, 5, &t) == RECORD_INCOMPLETE);
    const char *bad[] = { "x", WRAPPER_TEST_MARK "1 done 0 1 1 1 0 0 0\n", WRAPPER_TEST_MARK "1 exit 0 1 1 1 0 0\n",
                          WRAPPER_TEST_MARK " exit 0 1 1 1 0 0 0\n", WRAPPER_TEST_MARK "1 exit 0  1 1 0 0 0\n",
                          WRAPPER_TEST_MARK "1 exit 0 1 1 1 0 -1 0\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert(wrapper_take_test(bad[i], strlen(bad[i]), &t) == RECORD_GARBLED);
    char longline[WRAPPER_TEST_MAX + 10];
    memset(longline, '1', sizeof longline);
    memcpy(longline, WRAPPER_TEST_MARK, sizeof WRAPPER_TEST_MARK - 1);
    assert(wrapper_take_test(longline, sizeof longline, &t) == RECORD_GARBLED);
}

int main(void)
{
    RUN(test_test_record);
    RUN(test_figures);
    RUN(test_malformed_figures);
    RUN(test_end_line);
    RUN(test_compile_line);
    RUN(test_tokens);
    RUN(test_wrapper_writes_these_lines);
    return REPORT("test_wrapper");
}
