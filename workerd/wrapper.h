/* The container's PID 1 (wrapper.pl, embedded; prelude.pl before it in a warm container) and
 * the lines it writes, parsed here and nowhere else.
 *
 * The wrapper's lines, the one description of their format (wrapper.pl writes them):
 *   compile line  after a compile step, on stdout and then on stderr:
 *                   <marker> " " <exit status> " " <ms> " " <cpu_us> " " <maxrss_kb> " " <oom> "\n"
 *                 marker = WRAPPER_COMPILED_PREFIX and 24 hex digits, random per job, so
 *                 that the compiler cannot end its own output early by printing it; the
 *                 figures are the compile step's alone, as in the figures line (each may be
 *                 empty: unknown), oom the OOM kills counted by then. The program starts
 *                 right after it: workerd starts the run's clock when it reads it;
 *   figures line  the last line on stderr (before the end line), once every process of the
 *                 job is dead: WRAPPER_STATS_MARK "cpu_us=<n> maxrss_kb=<n> status=<n> oom=<n>\n"
 *                 (a value may be empty: unknown). The run's alone: cpu_us is the user +
 *                 system time of every process of the run, maxrss_kb the peak resident set
 *                 of its largest process (getrusage RUSAGE_CHILDREN), status what the
 *                 container exits with, oom the OOM kills its memory cgroup counted during
 *                 the run;
 *   test record   judge mode, on stdout after the compile line (from the start without a
 *                 compile step), one per test that ran, in order:
 *                   WRAPPER_TEST_MARK <index> " " <how> " " <status> " " <wall ms> " " <cpu_us>
 *                   " " <maxrss_kb> " " <oom> " " <stdout bytes> " " <stderr bytes> "\n"
 *                 then the test's stdout and stderr, that many bytes of each. how is "exit"
 *                 (it ended by itself), "wall" (killed at its wall limit), "output" (killed
 *                 when a stream passed its cap) or "total" (killed when all tests' output
 *                 passed its cap: no test runs after it); status is the program's (128 + n
 *                 for signal n), oom its memory cgroup's OOM kills during the test, and the
 *                 figures are the test's alone as in the figures line (each but how, wall
 *                 and the lengths may be empty: unknown). The test's processes write only
 *                 to the wrapper's pipes, never to the container's stdout, so a record cannot
 *                 be forged;
 *   end line      given an end token (warm containers only), the last line of stdout and of
 *                 stderr: <token> "\n", token = WRAPPER_END_PREFIX and 24 hex digits, a
 *                 secret per job. Figures followed by it are the wrapper's, not an imitation
 *                 the program printed.
 *
 * An interactive job's control lines, the other way: what workerd writes on the container's
 * stdin (after the payload, in a warm container) for wrapper.pl, which reads them all along,
 * compile step included, each ended by "\n":
 *   "d " <base64>  bytes for the program's stdin, after the job's own stdin and what came
 *                  before (kept while the compile step runs);
 *   "e"            end of the program's stdin: its pipe is closed once written out (later "d"
 *                  lines are dropped); the control stream ending does the same;
 *   "s " <n>       signal n (1..31) to every process of the job but PID 1 (kill -1: the
 *                  compiler too, while it runs).
 * Lines of any other form are ignored. workerd holds the lines its container has not taken yet
 * in a bounded buffer (input.c) and sends each line whole or not at all: past the bound, "d"
 * lines are dropped first (they leave room for "s" and "e" lines), "s" lines next (they leave
 * room for the "e" line); the one "e" line is never dropped. */
#ifndef WORKERD_WRAPPER_H
#define WORKERD_WRAPPER_H

#include <stdbool.h>
#include <stddef.h>

#include "embedded.h"

#define WRAPPER_COMPILED_PREFIX "\036rce-compiled-"
#define WRAPPER_END_PREFIX "\036rce-end-"
#define WRAPPER_STATS_MARK "\036rce-stats "
#define WRAPPER_TEST_MARK "\036rce-test "
#define WRAPPER_TEST_MAX 160         /* bytes a test record's first line can take */
#define WRAPPER_TOKEN_SIZE 48        /* room for a marker or an end token and its NUL */
#define WRAPPER_STATS_MAX 120        /* bytes the figures line can take */
#define WRAPPER_END_MAX 64           /* bytes the end line can take */
/* Room kept beyond the job's output cap: on stdout for the end line, on stderr for both. */
#define WRAPPER_OUT_RESERVE WRAPPER_END_MAX
#define WRAPPER_ERR_RESERVE (WRAPPER_STATS_MAX + WRAPPER_END_MAX)

/* What the figures line said; -1: unknown. */
struct wrapper_figures {
    long long cpu_us;
    long long maxrss_kb;
    long long status;
    long long oom_kills;
};

enum wrapper_outcome {
    WRAPPER_NO_FIGURES,     /* no well-formed figures line at the end: nothing was taken */
    WRAPPER_FIGURES,        /* figures taken, no end line after them: they may be forged */
    WRAPPER_TRUSTED,        /* figures, then the end line: the wrapper's own */
};

/* Takes the wrapper's last lines off the end of buf: end_line ("<token>\n"; "" or NULL:
 * none), if there, then the figures line, filling *f. *len shrinks to what precedes them;
 * with WRAPPER_NO_FIGURES, *len and *f are left alone and f is set to unknown. Only lines at
 * the very end count: the wrapper writes them last, after every process of the program is
 * dead, so an imitation printed by the program is never at the end. */
enum wrapper_outcome wrapper_take_figures(const char *buf, size_t *len, const char *end_line,
                                          struct wrapper_figures *f);

/* Takes end_line off the end of buf (*len shrinks); false if it is not there or empty. */
bool wrapper_take_end(const char *buf, size_t *len, const char *end_line);

enum wrapper_compile {
    COMPILE_UNFINISHED,     /* no compile line: the compiler did not finish within its limits */
    COMPILE_GARBLED,        /* the marker, but no status and time after it */
    COMPILE_SUCCEEDED,      /* status 0: the program ran after it */
    COMPILE_FAILED,         /* another status: the program never ran */
};

/* Where the compile line is in a stream, and what it said (-1: unknown). */
struct wrapper_compiled {
    size_t at;              /* offset of the marker */
    size_t next;            /* offset just past the line */
    int exit_code;
    long ms;
    long long cpu_us;
    long long maxrss_kb;
    long long oom_kills;
};

/* Finds the first compile line with this marker in buf; a line not yet ended by its newline
 * is COMPILE_UNFINISHED (more of it may come). */
enum wrapper_compile wrapper_find_compiled(const char *buf, size_t len, const char *marker,
                                           struct wrapper_compiled *c);

enum wrapper_test_how { TEST_EXITED, TEST_WALL, TEST_OUTPUT, TEST_TOTAL };

enum wrapper_record {
    RECORD_INCOMPLETE,      /* what is there may be the start of a record: more may come */
    RECORD_TAKEN,           /* a whole record: *t says what it held */
    RECORD_GARBLED,         /* not a record */
};

/* One test record (see above); offsets are from the start of the buffer it was read from. */
struct wrapper_test {
    long index;
    enum wrapper_test_how how;
    long long status, wall_ms, cpu_us, maxrss_kb, oom_kills;   /* -1: unknown */
    size_t out_at, out_len, err_at, err_len;
    size_t next;            /* just past the record */
};

/* Reads the test record at the start of buf (len bytes). */
enum wrapper_record wrapper_take_test(const char *buf, size_t len, struct wrapper_test *t);

/* A fresh random token: prefix and 24 hex digits (a marker or an end token); if the kernel
 * gives no randomness, seed's first bytes stand in. */
void wrapper_token(const char *seed, const char *prefix, char token[WRAPPER_TOKEN_SIZE]);

#endif
