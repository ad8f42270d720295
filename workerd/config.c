#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum kind { KIND_STRING, KIND_LONG, KIND_INT, KIND_REDIS, KIND_NODE, KIND_FLAG, KIND_POOL };

/* One option: its flag, its environment fallback, where it lands and what values it accepts.
 * The same table drives parsing and --help, so the two cannot disagree. */
struct option_def {
    const char *flag;
    const char *env;
    enum kind kind;
    size_t offset;          /* into struct config */
    size_t size;            /* size of the field (buffer size for strings) */
    long min, max;          /* range for numbers */
    const char *dflt;       /* default as text: parsed like any other value */
    const char *help;
};

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define STR(f) KIND_STRING, FIELD(f), 0, 0
#define NUM(kind, f, lo, hi) kind, FIELD(f), lo, hi
#define FLAG(f) KIND_FLAG, FIELD(f), 0, 1

static const struct option_def options[] = {
    { "redis", "RCE_REDIS", KIND_REDIS, 0, 0, 0, 0, "127.0.0.1:6379",
      "Redis server: HOST:PORT or unix:/path/to/socket" },
    { "name", "RCE_NODE", KIND_NODE, FIELD(node), 0, 0, NULL,
      "node name, [A-Za-z0-9._-] (default: the hostname)" },
    { "slots", "RCE_SLOTS", NUM(KIND_INT, slots, 1, 1024), "25", "jobs run at the same time" },
    { "batch-slots", "RCE_BATCH_SLOTS", NUM(KIND_INT, batch_slots, 0, 1024), "0",
      "batch-class jobs run at the same time, at most (0: all slots but one, so that one is always free for interactive and normal jobs)" },
    { "batch-pace-ms", "RCE_BATCH_PACE_MS", NUM(KIND_LONG, batch_pace_ms, -1, 60000), "-1",
      "while interactive or normal jobs came in the last 2 s, batch jobs start at most one per this many ms "
      "on the node (their containers' churn costs Docker cpu the other classes then need); 0: no pacing; "
      "-1: 640 / the machine's online CPUs (a container's churn is ~160 ms of cpu: a quarter of the machine)" },
    { "queue-max", "RCE_QUEUE_MAX", NUM(KIND_INT, queue_max, 1, 1000000), "100",
      "jobs the gateway may queue for this node before it answers 503 (interactive ones: twice as many)" },
    { "batch-queue-max", "RCE_BATCH_QUEUE_MAX", NUM(KIND_INT, batch_queue_max, 1, 10000000), "10000",
      "batch-class jobs the gateway may queue for this node before it answers 503" },
    { "docker-socket", "RCE_DOCKER_SOCKET", STR(docker_socket), "/var/run/docker.sock",
      "Docker Engine API unix socket" },
    { "image-prefix", "RCE_IMAGE_PREFIX", STR(image_prefix), "rce/",
      "language images are named <prefix><language>:latest" },
    { "languages", "RCE_LANGUAGES", STR(languages), "",
      "run only these languages, canonical names separated by commas or blanks (an operator's subset of "
      "the images present); empty: every language whose image exists" },
    { "runtime", "RCE_RUNTIME", STR(runtime), "",
      "OCI runtime of job containers, e.g. runsc (gVisor); empty: the engine's default" },
    { "wall-ms", "RCE_WALL_MS", NUM(KIND_LONG, defaults.wall_ms, 1, 3600000), "10000",
      "default wall-clock limit of a job, ms" },
    { "memory-mb", "RCE_MEMORY_MB", NUM(KIND_LONG, defaults.memory_mb, 6, 1048576), "256",
      "default memory limit (swap equal), MiB; Docker's floor is 6" },
    { "pids", "RCE_PIDS", NUM(KIND_LONG, defaults.pids, 1, 1000000), "64",
      "default limit on processes and threads" },
    { "output-bytes", "RCE_OUTPUT_BYTES", NUM(KIND_LONG, defaults.output_bytes, 1, 16777216), "65536",
      "default cap on stdout and on stderr, bytes each" },
    { "cpu-ms", "RCE_CPU_MS", NUM(KIND_LONG, defaults.cpu_ms, 1, 3600000), "10000",
      "default cpu-time limit of a run (user + system, all its processes), ms" },
    { "compile-wall-ms", "RCE_COMPILE_WALL_MS", NUM(KIND_LONG, defaults.compile_wall_ms, 1, 3600000), "20000",
      "default wall-clock limit of a compile step, ms, where the language's image sets none" },
    { "compile-cpu-ms", "RCE_COMPILE_CPU_MS", NUM(KIND_LONG, defaults.compile_cpu_ms, 1, 3600000), "20000",
      "default cpu-time limit of a compile step, ms, where the language's image sets none" },
    { "compile-memory-mb", "RCE_COMPILE_MEMORY_MB", NUM(KIND_LONG, defaults.compile_memory_mb, 0, 1048576), "0",
      "default memory limit of a compile step, MiB, where the language's image sets none (0: the run's)" },
    { "max-wall-ms", "RCE_MAX_WALL_MS", NUM(KIND_LONG, maxima.wall_ms, 1, 3600000), "30000",
      "largest wall-clock limit a job may ask for, ms" },
    { "max-memory-mb", "RCE_MAX_MEMORY_MB", NUM(KIND_LONG, maxima.memory_mb, 6, 1048576), "1024",
      "largest memory limit a job may ask for, MiB" },
    { "max-pids", "RCE_MAX_PIDS", NUM(KIND_LONG, maxima.pids, 1, 1000000), "256",
      "largest pids limit a job may ask for" },
    { "max-output-bytes", "RCE_MAX_OUTPUT_BYTES", NUM(KIND_LONG, maxima.output_bytes, 1, 16777216),
      "1048576", "largest output cap a job may ask for, bytes" },
    { "max-cpu-ms", "RCE_MAX_CPU_MS", NUM(KIND_LONG, maxima.cpu_ms, 1, 3600000), "30000",
      "largest cpu-time limit a job may ask for, ms" },
    { "max-compile-wall-ms", "RCE_MAX_COMPILE_WALL_MS", NUM(KIND_LONG, maxima.compile_wall_ms, 1, 3600000),
      "60000", "largest compile wall-clock limit a job may ask for, ms" },
    { "max-compile-cpu-ms", "RCE_MAX_COMPILE_CPU_MS", NUM(KIND_LONG, maxima.compile_cpu_ms, 1, 3600000),
      "60000", "largest compile cpu-time limit a job may ask for, ms" },
    { "max-compile-memory-mb", "RCE_MAX_COMPILE_MEMORY_MB", NUM(KIND_LONG, maxima.compile_memory_mb, 6, 1048576),
      "2048", "largest compile memory limit a job may ask for, MiB" },
    { "max-cpus", "RCE_MAX_CPUS", NUM(KIND_INT, max_cpus, 0, 1024), "0",
      "CPUs a job's container may use at once, at most (a language's image declares how many it "
      "uses, rce.cpus, else one); 0 or more than the machine has: the machine's online CPUs" },
    { "pool", "RCE_POOL", KIND_POOL, FIELD(pool), 0, CONFIG_POOL_MAX, "auto",
      "warm containers kept ready per language: auto: none until its jobs come, one while they "
      "come (see --pool-idle-s), more while they find the pool empty; N: at least N always, more "
      "under demand; 0: none (off). For every language, or LANG=N / LANG=auto for one; "
      "comma-separated, later wins (e.g. auto,java=1; python=3 alone: python only)" },
    { "pool-max", "RCE_POOL_MAX", NUM(KIND_INT, pool_max, 0, CONFIG_POOL_MAX), "4",
      "a language's pool grows up to this many while its jobs find it empty" },
    { "pool-idle-s", "RCE_POOL_IDLE_S", NUM(KIND_INT, pool_idle_s, 1, 86400), "600",
      "a language with no job for this many seconds keeps only its --pool floor (auto: no warm "
      "container); a fresh node warms one container of each language the cluster ran within it" },
    { "pool-fillers", "RCE_POOL_FILLERS", NUM(KIND_INT, pool_fillers, 1, 64), "2",
      "threads that start warm containers" },
    { "memory-budget-mb", "RCE_MEMORY_BUDGET_MB", NUM(KIND_LONG, memory_budget_mb, 0, 1L << 30), "0",
      "memory limits of all this node's containers, warm ones included, MiB; warm containers "
      "are only started within it (0: three quarters of the machine's memory)" },
    { "callback-allow", "RCE_CALLBACK_ALLOW", STR(callback_allow), "",
      "where asynchronous jobs' callbacks may go: host names, *.domain, address ranges (CIDR), "
      "comma-separated; a listed name is refused if it resolves to a loopback, link-local, "
      "private or other special address whose range is not listed; empty: callbacks are off" },
    { "callback-secret-file", "RCE_CALLBACK_SECRET_FILE", STR(callback_secret_file), "",
      "a file holding the secret callbacks are signed with (HMAC-SHA256; needed with "
      "--callback-allow)" },
    { "callback-attempts", "RCE_CALLBACK_ATTEMPTS", NUM(KIND_INT, callback_attempts, 1, 100), "8",
      "attempts to deliver a callback, at most" },
    { "callback-backoff-ms", "RCE_CALLBACK_BACKOFF_MS", NUM(KIND_LONG, callback_backoff_ms, 10, 600000),
      "2000", "the pause after a callback's first failed attempt, ms; it doubles after each, up to 10 min" },
    { "callback-timeout-ms", "RCE_CALLBACK_TIMEOUT_MS", NUM(KIND_LONG, callback_timeout_ms, 100, 30000),
      "10000", "one callback attempt, connecting included, ms" },
    { "bench-no-container", "RCE_BENCH_NO_CONTAINER", FLAG(bench_no_container), NULL,
      "BENCHMARK ONLY: answer every job at once, OK, without running it or any container" },
};
#define N_OPTIONS (sizeof options / sizeof options[0])

void config_usage(FILE *out)
{
    fprintf(out,
            "usage: workerd [options]\n"
            "Runs rce jobs from Redis in one-shot Docker containers and publishes the results.\n"
            "Each option may also be given by the environment variable shown; a flag wins.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_def *o = &options[i];
        char left[64];
        snprintf(left, sizeof left, "--%s %s", o->flag, o->kind == KIND_FLAG ? ""
                 : o->kind == KIND_STRING || o->kind == KIND_REDIS || o->kind == KIND_NODE
                   || o->kind == KIND_POOL ? "VALUE" : "N");
        fprintf(out, "  %-26s %s\n  %-26s   env %s%s", left, o->help, "", o->env,
                o->kind == KIND_FLAG ? "=1" : "");
        if (o->dflt && *o->dflt)
            fprintf(out, ", default %s", o->dflt);
        fprintf(out, "\n");
    }
    fprintf(out, "  %-26s %s\n\nA bad value is reported naming its flag; workerd then exits with status 2.\n",
            "--help", "show this text");
}

int config_parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Accepts unix:/path, HOST:PORT, [V6ADDR]:PORT or a bare HOST (port 6379). */
static int parse_redis(struct config *cfg, const char *text, char *err, size_t errlen, const char *who)
{
    cfg->redis_host[0] = cfg->redis_unix[0] = '\0';
    cfg->redis_port = 6379;
    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        if (*path == '\0' || strlen(path) >= sizeof cfg->redis_unix) {
            snprintf(err, errlen, "%s: unix socket path empty or too long in '%s'", who, text);
            return -1;
        }
        strcpy(cfg->redis_unix, path);
        return 0;
    }
    const char *host = text, *colon;
    size_t host_len;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || (close[1] != '\0' && close[1] != ':'))
            goto bad;
        host = text + 1;
        host_len = (size_t)(close - host);
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(text, ':');
        host_len = colon ? (size_t)(colon - text) : strlen(text);
    }
    if (host_len == 0 || host_len >= sizeof cfg->redis_host)
        goto bad;
    memcpy(cfg->redis_host, host, host_len);
    cfg->redis_host[host_len] = '\0';
    if (colon) {
        long port;
        if (config_parse_long(colon + 1, 1, 65535, &port) != 0)
            goto bad;
        cfg->redis_port = (int)port;
    }
    return 0;
bad:
    snprintf(err, errlen, "%s: expected HOST:PORT or unix:/path, got '%s'", who, text);
    return -1;
}

/* One size of --pool: "auto" or a whole number in [0, max]; -1 if anything else. */
static int parse_pool_size(const char *text, long max, int *size)
{
    long v;
    if (strcmp(text, "auto") == 0) {
        *size = CONFIG_POOL_AUTO;
        return 0;
    }
    if (config_parse_long(text, 0, max, &v) != 0)
        return -1;
    *size = (int)v;
    return 0;
}

/* Parses "N", "LANG=N" or a comma-separated list of them into the pool sizes (N may be
 * "auto"). */
static int parse_pool(struct pool_sizes *p, const char *text, long max, char *err, size_t errlen,
                      const char *who)
{
    char item[RCE_NAME_MAX + 24];      /* LANG=N */
    memset(p, 0, sizeof *p);
    for (const char *s = text; ; ) {
        size_t len = strcspn(s, ",");
        int v;
        if (len == 0 || len >= sizeof item)
            goto bad;
        memcpy(item, s, len);
        item[len] = '\0';
        char *eq = strchr(item, '=');
        if (eq)
            *eq = '\0';
        if (parse_pool_size(eq ? eq + 1 : item, max, &v) != 0)
            goto bad;
        if (!eq) {
            p->all = v;
        } else {
            size_t i;
            if (eq == item || (size_t)(eq - item) >= sizeof p->one[0].language)
                goto bad;
            for (const char *c = item; *c; c++)
                if (!rce_name_char((unsigned char)*c))
                    goto bad;
            for (i = 0; i < p->n && strcmp(p->one[i].language, item) != 0; i++)
                ;
            if (i == CONFIG_POOL_LANGS) {
                snprintf(err, errlen, "%s: more than %d languages named", who, CONFIG_POOL_LANGS);
                return -1;
            }
            strcpy(p->one[i].language, item);
            p->one[i].size = v;
            if (i == p->n)
                p->n++;
        }
        if (s[len] == '\0')
            return 0;
        s += len + 1;
    }
bad:
    snprintf(err, errlen, "%s: expected N or LANG=N (N: auto or 0 to %ld), comma-separated, got '%s'",
             who, max, text);
    return -1;
}

int config_pool_size(const struct config *cfg, const char *language)
{
    for (size_t i = 0; i < cfg->pool.n; i++)
        if (strcmp(cfg->pool.one[i].language, language) == 0)
            return cfg->pool.one[i].size;
    return cfg->pool.all;
}

/* Node names go into Redis keys, Docker label filters and logs: keep them plain. */
static int valid_node_name(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return 0;
    return 1;
}

/* Stores one textual value for option o; who ("--flag" or "ENV") names it in errors. */
static int apply(struct config *cfg, const struct option_def *o, const char *value, const char *who,
                 char *err, size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    long v;
    switch (o->kind) {
    case KIND_REDIS:
        return parse_redis(cfg, value, err, errlen, who);
    case KIND_POOL:
        return parse_pool((struct pool_sizes *)field, value, o->max, err, errlen, who);
    case KIND_NODE:
        if (!valid_node_name(value) || strlen(value) >= o->size) {
            snprintf(err, errlen, "%s: node name must be 1-%zu characters of [A-Za-z0-9._-], got '%s'",
                     who, o->size - 1, value);
            return -1;
        }
        strcpy(field, value);
        return 0;
    case KIND_STRING:
        if (strlen(value) >= o->size) {
            snprintf(err, errlen, "%s: value longer than %zu characters", who, o->size - 1);
            return -1;
        }
        strcpy(field, value);
        return 0;
    case KIND_FLAG:
        if (strcmp(value, "1") && strcmp(value, "0")) {
            snprintf(err, errlen, "%s: expected 1 or 0, got '%s'", who, value);
            return -1;
        }
        *(bool *)field = value[0] == '1';
        return 0;
    case KIND_LONG:
    case KIND_INT:
        if (config_parse_long(value, o->min, o->max, &v) != 0) {
            snprintf(err, errlen, "%s: expected an integer from %ld to %ld, got '%s'", who, o->min,
                     o->max, value);
            return -1;
        }
        if (o->kind == KIND_INT)
            *(int *)field = (int)v;
        else
            *(long *)field = v;
        return 0;
    }
    return -1;
}

const struct limit_field limit_fields[RCE_LIMIT_COUNT] = {
#define CONFIG_LIMIT_ENTRY(field, key) { key, offsetof(struct limits, field) },
    RCE_LIMITS(CONFIG_LIMIT_ENTRY)
#undef CONFIG_LIMIT_ENTRY
};

/* A default above its maximum would make every job ask for more than the node allows. The
 * flags are the limits' keys with '-' for '_' (--wall-ms, --max-wall-ms). */
static int check_defaults_within_maxima(const struct config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < RCE_LIMIT_COUNT; i++) {
        long dflt = *limits_at_const(&cfg->defaults, i), max = *limits_at_const(&cfg->maxima, i);
        char flag[32];
        snprintf(flag, sizeof flag, "%s", limit_fields[i].key);
        for (char *c = flag; *c; c++)
            *c = *c == '_' ? '-' : *c;
        if (dflt > max) {
            snprintf(err, errlen, "--%s: %ld exceeds --max-%s %ld", flag, dflt, flag, max);
            return -1;
        }
    }
    return 0;
}

enum config_result config_parse(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    struct option longopts[N_OPTIONS + 2];
    char who[80];

    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].dflt && apply(cfg, &options[i], options[i].dflt, "default", err, errlen) != 0)
            return CONFIG_ERROR;
    if (gethostname(cfg->node, sizeof cfg->node) != 0 || !valid_node_name(cfg->node))
        cfg->node[0] = '\0';    /* an odd hostname must then be replaced by --name */
    cfg->node[sizeof cfg->node - 1] = '\0';

    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *value = getenv(options[i].env);
        if (value && apply(cfg, &options[i], value, options[i].env, err, errlen) != 0)
            return CONFIG_ERROR;
    }

    for (size_t i = 0; i < N_OPTIONS; i++)
        longopts[i] = (struct option){ options[i].flag,
                                       options[i].kind == KIND_FLAG ? no_argument : required_argument,
                                       NULL, (int)i };
    longopts[N_OPTIONS] = (struct option){ "help", no_argument, NULL, 'h' };
    longopts[N_OPTIONS + 1] = (struct option){ 0, 0, 0, 0 };

    optind = 0;     /* glibc: full re-initialisation, so config_parse can run more than once */
    opterr = 0;     /* we word the errors ourselves */
    for (;;) {
        int prev_optind = optind ? optind : 1;
        int c = getopt_long(argc, argv, ":h", longopts, NULL);
        if (c == -1)
            break;
        if (c == 'h')
            return CONFIG_HELP;
        if (c == '?') {
            snprintf(err, errlen, "unknown option '%s' (see --help)", argv[prev_optind]);
            return CONFIG_ERROR;
        }
        if (c == ':') {
            snprintf(err, errlen, "%s: missing value", argv[prev_optind]);
            return CONFIG_ERROR;
        }
        snprintf(who, sizeof who, "--%s", options[c].flag);
        if (apply(cfg, &options[c], optarg ? optarg : "1", who, err, errlen) != 0)
            return CONFIG_ERROR;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
        return CONFIG_ERROR;
    }
    if (cfg->node[0] == '\0') {
        snprintf(err, errlen, "--name: the hostname is not a usable node name; give one");
        return CONFIG_ERROR;
    }
    if (cfg->docker_socket[0] == '\0') {
        snprintf(err, errlen, "--docker-socket: must not be empty");
        return CONFIG_ERROR;
    }
    if (check_defaults_within_maxima(cfg, err, errlen) != 0)
        return CONFIG_ERROR;
    /* Docker refuses a container more CPUs than the machine has. */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1)
        online = 1;
    if (cfg->max_cpus == 0 || cfg->max_cpus > online)
        cfg->max_cpus = (int)online;
    if (cfg->batch_pace_ms < 0)
        cfg->batch_pace_ms = CONFIG_BATCH_PACE_CPU_MS / online;
    return CONFIG_OK;
}
