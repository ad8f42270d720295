/* workerd configuration: command-line flags, with RCE_* environment variables as fallback. */
#ifndef WORKERD_CONFIG_H
#define WORKERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rce_protocol.h"

/* Resource limits of one job (also used for the node's defaults and maxima): a long per limit
 * of RCE_LIMITS, in its order (cpu_ms is the cpu time, user + system, of the whole job). */
struct limits {
#define CONFIG_LIMIT_FIELD(field, key) long field;
    RCE_LIMITS(CONFIG_LIMIT_FIELD)
#undef CONFIG_LIMIT_FIELD
};

/* Each limit's protocol key and place in struct limits, indexed by enum rce_limit_index. */
struct limit_field {
    const char *key;
    size_t offset;
};
extern const struct limit_field limit_fields[RCE_LIMIT_COUNT];

static inline long *limits_at(struct limits *l, size_t i)
{
    return (long *)((char *)l + limit_fields[i].offset);
}

static inline const long *limits_at_const(const struct limits *l, size_t i)
{
    return (const long *)((const char *)l + limit_fields[i].offset);
}

/* --batch-pace-ms -1: this many ms over the online CPUs. A batch job's container costs Docker
 * ~160 ms of cpu (docs/performance.md); one per 640 / cpus ms keeps that to a quarter of the
 * machine while interactive and normal jobs come. */
#define CONFIG_BATCH_PACE_CPU_MS 640

/* --pool: how many warm containers each language keeps ready, at least: N (always, more under
 * demand), 0 (none: the language's pool is off) or CONFIG_POOL_AUTO (none while nobody asks
 * for the language, then as many as its demand asks; "auto"). */
#define CONFIG_POOL_LANGS 64
#define CONFIG_POOL_MAX 64          /* a bound on any one language's pool */
#define CONFIG_POOL_AUTO (-1)
struct pool_sizes {
    int all;                        /* every language not named */
    size_t n;
    struct { char language[RCE_NAME_MAX + 1]; int size; } one[CONFIG_POOL_LANGS];
};

struct config {
    char redis_host[256];      /* TCP host; empty when redis_unix is set */
    int redis_port;
    char redis_unix[108];      /* unix socket path (sun_path size); empty for TCP */
    char node[64];             /* node name: part of Redis keys and container labels */
    int slots;                 /* jobs run concurrently */
    int queue_max;             /* bound on this node's queue, advertised to the gateway */
    int batch_queue_max;       /* the same for its batch list */
    int batch_slots;           /* batch jobs at once, at most; 0: slots - 1 (at least 1) */
    long batch_pace_ms;        /* while other classes' jobs come, one batch job starts per this; 0: off */
    char docker_socket[108];
    char image_prefix[128];    /* language images are named <prefix><language> */
    char languages[1024];      /* only these languages (names separated by commas or blanks); empty: all */
    char runtime[64];          /* OCI runtime of job containers ("runsc" for gVisor); empty: the engine's default */
    struct limits defaults;    /* for a job that names no limit */
    struct limits maxima;      /* a job's limits are clamped to these */
    int max_cpus;              /* CPUs a job's container may use at most, whatever its language
                               * declares; at most the machine's online CPUs */
    struct pool_sizes pool;    /* warm containers per language, at least; 0 disables */
    int pool_max;              /* a language's pool grows up to this while jobs find it empty */
    int pool_idle_s;           /* no job of a language for this long: its pool falls to its floor */
    int pool_fillers;          /* threads starting warm containers */
    long memory_budget_mb;     /* memory limits of all the node's containers, warm ones included;
                                * 0: three quarters of the machine's memory */
    char callback_allow[4096]; /* rce_allow.h's list; empty: no callbacks */
    char callback_secret_file[256];
    int callback_attempts;
    long callback_backoff_ms;  /* after the first failure; doubles after each */
    long callback_timeout_ms;
    bool bench_no_container;   /* --bench-no-container: answer jobs at once, run nothing (benchmarks only) */
};

enum config_result { CONFIG_OK, CONFIG_HELP, CONFIG_ERROR };

/* Fills cfg from defaults, then the environment, then argv (flags win). On CONFIG_ERROR, err
 * holds a message naming the offending flag or variable. */
enum config_result config_parse(struct config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Parses a whole decimal integer in [min, max]; -1 if anything else is there. */
int config_parse_long(const char *text, long min, long max, long *out);

/* The configured pool size of a language (canonical name): its floor, 0 (off) or
 * CONFIG_POOL_AUTO. */
int config_pool_size(const struct config *cfg, const char *language);

/* Prints the --help text: every flag, its environment variable and its default. */
void config_usage(FILE *out);

#endif
