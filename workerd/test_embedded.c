/* The programs embedded at build time are byte for byte their files (run from workerd/). */
#include <stdbool.h>
#include <stdlib.h>

#include "embedded.h"
#include "script.h"
#include "test.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert(f);
    char *buf = malloc(1 << 20);
    assert(buf);
    *len = fread(buf, 1, 1 << 20, f);
    assert(!ferror(f) && feof(f));
    fclose(f);
    return buf;
}

static void same_as_file(const struct embedded *e)
{
    size_t len;
    char *file = slurp(e->path, &len);
    assert(e->len == len && memcmp(e->data, file, len) == 0 && e->data[len] == '\0');
    free(file);
}

static void test_perl(void)
{
    same_as_file(&embed_wrapper_pl);
    same_as_file(&embed_prelude_pl);
    assert(embed_wrapper_pl.len > 1000 && strlen(embed_wrapper_pl.data) == embed_wrapper_pl.len);
}

/* True if a line of code (not a -- comment) of the script holds needle. */
static bool code_has(const char *src, const char *needle)
{
    for (const char *line = src; *line; ) {
        const char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);
        const char *p = line;
        while (p < end && *p == ' ')
            p++;
        bool comment = end - p >= 2 && p[0] == '-' && p[1] == '-';
        for (const char *q = p; !comment && q + strlen(needle) <= end; q++)
            if (memcmp(q, needle, strlen(needle)) == 0)
                return true;
        line = nl ? nl + 1 : end;
    }
    return false;
}

static void test_lua(void)
{
    const struct embedded *all[] = { &embed_lua_dead_expired_lua, &embed_lua_finish_lua, &embed_lua_heartbeat_lua,
                                     &embed_lua_leave_lua, &embed_lua_requeue_lua, &embed_lua_rescue_absorb_lua,
                                     &embed_lua_rescue_claim_lua, &embed_lua_rescue_job_lua, &embed_lua_started_lua,
                                     &embed_lua_steal_lua, &embed_lua_take_lua };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        same_as_file(all[i]);
    /* every script is known to script.c, and none builds a key name itself: all come in KEYS */
    for (int id = 0; id < SCRIPT_COUNT; id++) {
        size_t len;
        const char *src = script_source((enum script_id)id, &len);
        assert(src && len > 0 && strstr(src, "KEYS[1]"));
        assert(!code_has(src, "..") && !code_has(src, "rce:") && code_has(src, "redis.call"));
    }
}

int main(void)
{
    RUN(test_perl);
    RUN(test_lua);
    return REPORT("test_embedded");
}
