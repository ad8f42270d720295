/* Flags, environment fallback, defaults and the errors that name the culprit. */
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

static const char *env_vars[] = {
    "RCE_REDIS", "RCE_NODE", "RCE_SLOTS", "RCE_DOCKER_SOCKET", "RCE_IMAGE_PREFIX", "RCE_WALL_MS",
    "RCE_MEMORY_MB", "RCE_PIDS", "RCE_OUTPUT_BYTES", "RCE_MAX_WALL_MS", "RCE_MAX_MEMORY_MB",
    "RCE_MAX_PIDS", "RCE_MAX_OUTPUT_BYTES", "RCE_RUNTIME", "RCE_CPU_MS", "RCE_MAX_CPU_MS",
    "RCE_BENCH_NO_CONTAINER", "RCE_POOL", "RCE_POOL_MAX", "RCE_POOL_FILLERS", "RCE_MEMORY_BUDGET_MB",
    "RCE_POOL_IDLE_S",
    "RCE_MAX_CPUS",
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++)
        unsetenv(env_vars[i]);
}

/* Parses a NULL-terminated list of arguments (after the program name). */
#define PARSE(cfg, err, ...) parse(cfg, err, (char *[]){ "workerd", __VA_ARGS__, NULL })

static enum config_result parse(struct config *cfg, char *err, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return config_parse(cfg, argc, argv, err, 256);
}

static void test_defaults(void)
{
    struct config cfg;
    char err[256];
    clear_env();
    setenv("RCE_NODE", "n1", 1);
    assert(parse(&cfg, err, (char *[]){ "workerd", NULL }) == CONFIG_OK);
    assert(STREQ(cfg.redis_host, "127.0.0.1") && cfg.redis_port == 6379 && cfg.redis_unix[0] == '\0');
    assert(STREQ(cfg.node, "n1") && cfg.slots == 25);
    assert(STREQ(cfg.docker_socket, "/var/run/docker.sock") && STREQ(cfg.image_prefix, "rce/"));
    assert(cfg.defaults.wall_ms == 10000 && cfg.defaults.memory_mb == 256 && cfg.defaults.pids == 64
           && cfg.defaults.output_bytes == 65536);
    assert(cfg.maxima.wall_ms == 30000);
    assert(cfg.defaults.cpu_ms == 10000 && cfg.maxima.cpu_ms == 30000);
    assert(cfg.runtime[0] == '\0');                     /* the engine's default runtime */
    assert(cfg.max_cpus == sysconf(_SC_NPROCESSORS_ONLN));
}

/* --max-cpus: never more than the machine has, which Docker would refuse. */
static void test_batch_pace(void)
{
    struct config cfg;
    char err[256];
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    clear_env();
    setenv("RCE_NODE", "n1", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_OK && cfg.batch_pace_ms == CONFIG_BATCH_PACE_CPU_MS / online);
    assert(PARSE(&cfg, err, "--batch-pace-ms", "0") == CONFIG_OK && cfg.batch_pace_ms == 0);
    assert(PARSE(&cfg, err, "--batch-pace-ms", "250") == CONFIG_OK && cfg.batch_pace_ms == 250);
    assert(PARSE(&cfg, err, "--batch-pace-ms", "-2") == CONFIG_ERROR && strstr(err, "--batch-pace-ms"));
}

static void test_max_cpus(void)
{
    struct config cfg;
    char err[256];
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    clear_env();
    setenv("RCE_NODE", "n1", 1);
    assert(PARSE(&cfg, err, "--max-cpus", "1") == CONFIG_OK && cfg.max_cpus == 1);
    assert(PARSE(&cfg, err, "--max-cpus", "1024") == CONFIG_OK && cfg.max_cpus == online);
    setenv("RCE_MAX_CPUS", "0", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_OK && cfg.max_cpus == online);
    assert(PARSE(&cfg, err, "--max-cpus", "-1") == CONFIG_ERROR && strstr(err, "--max-cpus"));
    assert(PARSE(&cfg, err, "--max-cpus", "1025") == CONFIG_ERROR && strstr(err, "--max-cpus"));
    clear_env();
}

static void test_flags_win_over_env(void)
{
    struct config cfg;
    char err[256];
    clear_env();
    setenv("RCE_SLOTS", "3", 1);
    setenv("RCE_REDIS", "unix:/run/redis.sock", 1);
    assert(PARSE(&cfg, err, "--name", "a.b-c_d") == CONFIG_OK);
    assert(cfg.slots == 3 && STREQ(cfg.redis_unix, "/run/redis.sock") && cfg.redis_host[0] == '\0');
    assert(PARSE(&cfg, err, "--slots", "5", "--redis=[::1]:7000", "--name", "x", "--wall-ms", "500") == CONFIG_OK);
    assert(cfg.slots == 5 && STREQ(cfg.redis_host, "::1") && cfg.redis_port == 7000 && cfg.redis_unix[0] == '\0');
    assert(cfg.defaults.wall_ms == 500);
    assert(PARSE(&cfg, err, "--redis", "redis.local", "--name", "x") == CONFIG_OK);
    assert(STREQ(cfg.redis_host, "redis.local") && cfg.redis_port == 6379);
    setenv("RCE_RUNTIME", "runsc", 1);
    assert(PARSE(&cfg, err, "--name", "x", "--cpu-ms", "2000") == CONFIG_OK);
    assert(STREQ(cfg.runtime, "runsc") && cfg.defaults.cpu_ms == 2000);
    assert(PARSE(&cfg, err, "--name", "x", "--cpu-ms", "40000") == CONFIG_ERROR && strstr(err, "--max-cpu-ms"));
    clear_env();
}

static void test_errors_name_the_culprit(void)
{
    struct config cfg;
    char err[256];
    clear_env();
    setenv("RCE_NODE", "n1", 1);
    assert(PARSE(&cfg, err, "--slots", "0") == CONFIG_ERROR && strstr(err, "--slots"));
    assert(PARSE(&cfg, err, "--slots", "4x") == CONFIG_ERROR && strstr(err, "--slots"));
    assert(PARSE(&cfg, err, "--memory-mb", "5") == CONFIG_ERROR && strstr(err, "--memory-mb"));
    assert(PARSE(&cfg, err, "--redis", "host:0") == CONFIG_ERROR && strstr(err, "--redis"));
    assert(PARSE(&cfg, err, "--redis", "unix:") == CONFIG_ERROR && strstr(err, "--redis"));
    assert(PARSE(&cfg, err, "--name", "bad name") == CONFIG_ERROR && strstr(err, "--name"));
    assert(PARSE(&cfg, err, "--pids", "300") == CONFIG_ERROR && strstr(err, "--pids") && strstr(err, "--max-pids"));
    assert(PARSE(&cfg, err, "--bogus") == CONFIG_ERROR && strstr(err, "--bogus"));
    assert(PARSE(&cfg, err, "--wall-ms") == CONFIG_ERROR && strstr(err, "--wall-ms"));
    assert(PARSE(&cfg, err, "extra") == CONFIG_ERROR && strstr(err, "extra"));
    setenv("RCE_OUTPUT_BYTES", "lots", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_ERROR && strstr(err, "RCE_OUTPUT_BYTES"));
    clear_env();
}

/* The benchmark mode is never on unless asked for; a flag without a value, or RCE_..=1. */
static void test_bench_flag(void)
{
    struct config cfg;
    char err[256];
    clear_env();
    setenv("RCE_NODE", "n1", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_OK && !cfg.bench_no_container);
    assert(PARSE(&cfg, err, "--bench-no-container", "--slots", "2") == CONFIG_OK && cfg.bench_no_container);
    assert(cfg.slots == 2);
    setenv("RCE_BENCH_NO_CONTAINER", "1", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_OK && cfg.bench_no_container);
    setenv("RCE_BENCH_NO_CONTAINER", "0", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_OK && !cfg.bench_no_container);
    setenv("RCE_BENCH_NO_CONTAINER", "yes", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_ERROR && strstr(err, "RCE_BENCH_NO_CONTAINER"));
    clear_env();
}

/* --pool: a size for every language, then per language; later items win. The default is
 * demand-driven (auto). */
static void test_pool_sizes(void)
{
    struct config cfg;
    char err[256];
    clear_env();
    setenv("RCE_NODE", "n1", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_OK);
    assert(cfg.pool.all == CONFIG_POOL_AUTO && cfg.pool.n == 0 && cfg.pool_max == 4 && cfg.pool_fillers == 2
           && cfg.memory_budget_mb == 0 && cfg.pool_idle_s == 600);
    assert(config_pool_size(&cfg, "python") == CONFIG_POOL_AUTO);
    assert(PARSE(&cfg, err, "--pool", "1") == CONFIG_OK && config_pool_size(&cfg, "python") == 1);
    assert(PARSE(&cfg, err, "--pool", "auto,java=1,go=0") == CONFIG_OK);
    assert(config_pool_size(&cfg, "python") == CONFIG_POOL_AUTO && config_pool_size(&cfg, "java") == 1
           && config_pool_size(&cfg, "go") == 0);
    assert(PARSE(&cfg, err, "--pool", "0,python=auto") == CONFIG_OK);
    assert(config_pool_size(&cfg, "python") == CONFIG_POOL_AUTO && config_pool_size(&cfg, "java") == 0);
    assert(PARSE(&cfg, err, "--pool", "2,java=0,python=5,java=1") == CONFIG_OK);
    assert(config_pool_size(&cfg, "python") == 5 && config_pool_size(&cfg, "java") == 1);
    assert(config_pool_size(&cfg, "go") == 2 && cfg.pool.n == 2);
    assert(PARSE(&cfg, err, "--pool", "c.sharp-x_y=3") == CONFIG_OK && config_pool_size(&cfg, "c.sharp-x_y") == 3);
    assert(config_pool_size(&cfg, "python") == 0);      /* only languages named: the rest none */
    setenv("RCE_POOL", "0", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_OK && config_pool_size(&cfg, "python") == 0);
    const char *bad[] = { "", "x", "-1", "65", "python=", "=2", "Python=1", "1,,2", "a b=1", "2,", "py=1x",
                          "Auto", "auto1", "python=autox", "python=-1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert(PARSE(&cfg, err, "--pool", (char *)bad[i]) == CONFIG_ERROR);
        assert(strstr(err, "--pool") && strstr(err, "LANG=N"));
    }
    setenv("RCE_POOL", "lots", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_ERROR && strstr(err, "RCE_POOL"));
    clear_env();
}

/* --pool-idle-s: seconds, from 1 to a day. */
static void test_pool_idle(void)
{
    struct config cfg;
    char err[256];
    clear_env();
    setenv("RCE_NODE", "n1", 1);
    assert(PARSE(&cfg, err, "--pool-idle-s", "3") == CONFIG_OK && cfg.pool_idle_s == 3);
    setenv("RCE_POOL_IDLE_S", "120", 1);
    assert(PARSE(&cfg, err, "--slots", "2") == CONFIG_OK && cfg.pool_idle_s == 120);
    assert(PARSE(&cfg, err, "--pool-idle-s", "0") == CONFIG_ERROR && strstr(err, "--pool-idle-s"));
    assert(PARSE(&cfg, err, "--pool-idle-s", "86401") == CONFIG_ERROR && strstr(err, "--pool-idle-s"));
    clear_env();
}

static void test_help(void)
{
    struct config cfg;
    char err[256];
    assert(PARSE(&cfg, err, "--help") == CONFIG_HELP);
    assert(PARSE(&cfg, err, "-h") == CONFIG_HELP);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_flags_win_over_env);
    RUN(test_max_cpus);
    RUN(test_batch_pace);
    RUN(test_errors_name_the_culprit);
    RUN(test_bench_flag);
    RUN(test_pool_sizes);
    RUN(test_pool_idle);
    RUN(test_help);
    return REPORT("test_config");
}
