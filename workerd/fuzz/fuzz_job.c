/* libFuzzer target: workerd's job parser (job.c) on any queue element, then what a node does
 * with a parsed job before it runs: the compile limits of a compiled language settled. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "job.h"
#include "lang.h"

static struct config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *args[] = { "workerd", NULL }, err[256];
    (void)argc;
    (void)argv;
    return config_parse(&cfg, 1, args, err, sizeof err) == CONFIG_OK ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *compile[] = { "cc", NULL };
    struct lang lang = { .compile_argv = compile, .compile_argc = 1 };
    struct job job;
    char err[512];
    if (job_parse((const char *)data, size, &cfg.defaults, &cfg.maxima, &job, err, sizeof err) == 0) {
        lang_limits(&lang, &cfg, job.named, &job.limits);
        for (size_t i = 0; i < RCE_LIMIT_COUNT; i++)
            if (*limits_at(&job.limits, i) > *limits_at(&cfg.maxima, i))
                abort();        /* a limit past the node's maximum */
    }
    job_free(&job);
    return 0;
}
