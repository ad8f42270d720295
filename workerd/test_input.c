/* A stream job's input entries (rce:input:<id>) as the wrapper's control lines: stdin in
 * base64, eof once, signals 1..31, a kill raising the cancel flag, the live stdin bound. */
#include <stdlib.h>

#include "input.h"
#include "rce_protocol.h"
#include "test.h"

static atomic_bool cancel;

static void setup_sized(struct job_input *in, bool interactive, size_t limit)
{
    memset(in, 0, sizeof *in);
    in->id = "job1";
    in->interactive = interactive;
    in->cancel = &cancel;
    atomic_store(&cancel, false);
    capture_init(&in->control, limit);
}

static void setup(struct job_input *in, bool interactive)
{
    setup_sized(in, interactive, RCE_INPUT_MAX_BYTES * 2);
}

static void take(struct job_input *in, const char *json)
{
    job_input_take(in, json, strlen(json));
}

static bool control_is(const struct job_input *in, const char *want)
{
    return in->control.len == strlen(want) && memcmp(in->control.data, want, in->control.len) == 0;
}

static void test_interactive_entries(void)
{
    struct job_input in;
    setup(&in, true);
    take(&in, "{\"stdin\":\"hi\\n\"}");
    take(&in, "{\"stdin\":\"/wA=\",\"encoding\":\"base64\"}");
    take(&in, "{\"signal\":2}");
    take(&in, "{\"signal\":32}");           /* no such signal: dropped */
    take(&in, "{\"signal\":0}");
    take(&in, "{\"eof\":true}");
    take(&in, "{\"eof\":true}");            /* once is enough */
    take(&in, "{\"stdin\":\"late\"}");      /* after the eof: dropped */
    take(&in, "not json");
    take(&in, "{\"stdin\":\"x\",\"encoding\":\"hex\"}");
    assert(control_is(&in, "d aGkK\nd /wA=\ns 2\ne\n"));
    assert(!atomic_load(&cancel) && in.stdin_bytes == 5);
    take(&in, "{\"kill\":true}");
    assert(atomic_load(&cancel));
    capture_free(&in.control);
}

/* A stream job that is not interactive: only a kill counts. */
static void test_not_interactive(void)
{
    struct job_input in;
    setup(&in, false);
    take(&in, "{\"stdin\":\"hi\"}");
    take(&in, "{\"eof\":true}");
    take(&in, "{\"signal\":9}");
    assert(in.control.len == 0 && !atomic_load(&cancel));
    take(&in, "{\"kill\":true}");
    assert(atomic_load(&cancel));
    capture_free(&in.control);
}

/* All the live stdin of a job is RCE_INPUT_MAX_BYTES at most: the rest is dropped. */
static void test_stdin_bound(void)
{
    struct job_input in;
    size_t chunk = RCE_INPUT_MAX_BYTES / 4 + 1000;
    char *json = malloc(chunk + 32), *p = json;
    p += sprintf(p, "{\"stdin\":\"");
    memset(p, 'a', chunk);
    strcpy(p + chunk, "\"}");
    setup(&in, true);
    for (int i = 0; i < 5; i++)
        take(&in, json);
    assert(in.stdin_bytes == RCE_INPUT_MAX_BYTES);
    size_t lines = 0, decoded = 0;
    for (const char *l = in.control.data, *end = l + in.control.len; l < end; lines++) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        assert(nl && l[0] == 'd' && l[1] == ' ');
        decoded += (size_t)(nl - l - 2) / 4 * 3;
        l = nl + 1;
    }
    assert(lines == 4 && decoded >= RCE_INPUT_MAX_BYTES && decoded <= RCE_INPUT_MAX_BYTES + 8);
    free(json);
    capture_free(&in.control);
}

/* Every control line is whole, of the given kinds only; returns how many of each kind. */
static void count_lines(const struct job_input *in, int *d, int *sig, int *e)
{
    *d = *sig = *e = 0;
    for (const char *l = in->control.data, *end = l + in->control.len; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        assert(nl);
        if (l[0] == 'd')
            assert(l[1] == ' ' && (nl - l - 2) % 4 == 0 && ++*d);
        else if (l[0] == 's')
            assert(nl - l == 3 && ++*sig);
        else
            assert(nl - l == 1 && l[0] == 'e' && ++*e);
        l = nl + 1;
    }
}

/* The container takes nothing: stdin fills the room, a line is never cut, signals still fit,
 * then fill theirs; the eof always goes. */
static void test_control_room(void)
{
    struct job_input in;
    int d, sig, e;
    setup_sized(&in, true, 4096 + 100);
    for (int i = 0; i < 40; i++)
        take(&in, "{\"stdin\":\"0123456789\"}");        /* 19 bytes a line: 5 fit in 100 */
    count_lines(&in, &d, &sig, &e);
    assert(d == 5 && sig == 0 && e == 0 && in.dropped && in.control.len == 95);
    for (int i = 0; i < 1400; i++)
        take(&in, "{\"signal\":2}");                     /* 4 bytes a line */
    count_lines(&in, &d, &sig, &e);
    assert(sig == (4096 + 100 - 95 - 2) / 4 && in.control.len <= 4096 + 100 - 2);
    take(&in, "{\"eof\":true}");
    count_lines(&in, &d, &sig, &e);
    assert(e == 1 && in.control.len >= 4096 + 100 - 3);
    assert(memcmp(in.control.data + in.control.len - 2, "e\n", 2) == 0);
    take(&in, "{\"signal\":3}");                         /* no room left: dropped whole */
    assert(memcmp(in.control.data + in.control.len - 2, "e\n", 2) == 0);
    capture_free(&in.control);
}

int main(void)
{
    RUN(test_interactive_entries);
    RUN(test_not_interactive);
    RUN(test_stdin_bound);
    RUN(test_control_room);
    return REPORT("test_input");
}
