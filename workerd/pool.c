#include "pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "demand.h"
#include "log.h"
#include "rce_protocol.h"

#define SYNC_INTERVAL_MS 1000       /* how often the languages and their images are re-read */
#define IDLE_WAIT_MS 1000           /* a filler with nothing to do sleeps this long, or until woken */
#define BACKOFF_MAX_MS 60000        /* retries of a language whose containers fail to start */
#define NAME_SIZE (RCE_NAME_MAX + 1)

enum item_state { ITEM_STARTING, ITEM_READY, ITEM_LENT };

/* One warm container. pool_take hands out &item->warm, so it must stay the first member. */
struct item {
    struct container_warm warm;
    struct item *next;
    enum item_state state;
    unsigned long seq;      /* its label: rce.pool=<token>-<seq> */
    char language[NAME_SIZE];
    char *image_id;
    struct container_shape shape;
};

/* What the pool knows of one language. */
struct pool_lang {
    char name[NAME_SIZE];
    bool present;           /* the node has its image (at the last sync) */
    bool on;                /* its --pool size is not 0 */
    char *image_id;
    struct container_shape shape; /* of a job with the default limits */
    struct demand demand;   /* its target (demand.want), from its jobs */
    int64_t reported;       /* demand.last_job as pool_asked last handed it out; 0: never */
    int failures;           /* consecutive failed starts */
    int64_t retry_at;
};

struct pool {
    const struct config *cfg;
    struct lang_registry *registry;
    char token[33];         /* in the rce.pool label of this run's containers */
    unsigned long next_seq;
    long budget_mb;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    bool draining;          /* no more fills */
    bool yielding;          /* a filler removes a waiting container to make room (pick_yield) */
    struct item *items;
    struct pool_lang *langs;
    size_t n_langs;
    int64_t synced_at;
    long committed_mb;      /* memory limits of every container of the node */
    long long warm, cold, custom;
    pthread_t *fillers;
    int n_fillers;
};

static struct pool_lang *find_lang(struct pool *p, const char *name)
{
    for (size_t i = 0; i < p->n_langs; i++)
        if (strcmp(p->langs[i].name, name) == 0)
            return &p->langs[i];
    return NULL;
}

static int count(struct pool *p, const char *language, enum item_state state)
{
    int n = 0;
    for (struct item *it = p->items; it; it = it->next)
        n += it->state == state && strcmp(it->language, language) == 0;
    return n;
}

static void unlink_item(struct pool *p, struct item *victim)
{
    for (struct item **at = &p->items; *at; at = &(*at)->next)
        if (*at == victim) {
            *at = victim->next;
            break;
        }
    p->committed_mb -= victim->shape.memory_mb;
    free(victim->image_id);
    free(victim);
}

/* What a sync learned of one language. */
struct lang_seen {
    char name[NAME_SIZE];
    char *image_id;
    struct container_shape shape;
};

/* Reads the node's languages from the registry, without the pool's lock. */
static struct lang_seen *read_langs(struct pool *p, size_t *n)
{
    char **names = lang_registry_names(p->registry);
    struct lang_seen *seen = NULL;
    size_t k = 0;
    *n = 0;
    while (names && names[k])
        k++;
    if (!names || !(seen = calloc(k + 1, sizeof *seen)))
        goto done;
    for (k = 0; names[k]; k++) {
        struct lang *lang = lang_registry_lookup(p->registry, names[k]);
        if (lang && strlen(lang->name) < NAME_SIZE && (seen[*n].image_id = strdup(lang->image_id))) {
            struct limits defaults = p->cfg->defaults;
            lang_limits(lang, p->cfg, 0, &defaults);
            strcpy(seen[*n].name, lang->name);
            container_shape(p->cfg, &defaults, lang, &seen[*n].shape);
            (*n)++;
        }
        lang_free(lang);
    }
done:
    lang_names_free(names);
    return seen;
}

/* A new language (not present until a sync sees its image), its target at its floor. NULL if
 * out of memory; the array may move. Lock held. */
static struct pool_lang *add_lang(struct pool *p, const char *name)
{
    struct pool_lang *grown = realloc(p->langs, (p->n_langs + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    p->langs = grown;
    struct pool_lang *l = &p->langs[p->n_langs++];
    int size = config_pool_size(p->cfg, name);
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name);
    l->on = size != 0;
    demand_init(&l->demand, size > 0 ? size : 0, l->on ? p->cfg->pool_max : 0,
                (int64_t)p->cfg->pool_idle_s * 1000);
    return l;
}

/* Brings the pool's languages up to date with what read_langs saw (lock held; frees seen). */
static void merge_langs(struct pool *p, struct lang_seen *seen, size_t n)
{
    for (size_t i = 0; i < p->n_langs; i++)
        p->langs[i].present = false;
    for (size_t i = 0; i < n; i++) {
        struct pool_lang *l = find_lang(p, seen[i].name);
        if (!l && !(l = add_lang(p, seen[i].name)))
            continue;
        free(l->image_id);
        l->image_id = seen[i].image_id;
        seen[i].image_id = NULL;
        l->shape = seen[i].shape;
        l->present = true;
    }
    for (size_t i = 0; i < n; i++)
        free(seen[i].image_id);
    free(seen);
}

/* Lowers the targets as demand falls (demand_settle). Lock held. */
static void settle_targets(struct pool *p, int64_t now)
{
    for (size_t i = 0; i < p->n_langs; i++) {
        struct pool_lang *l = &p->langs[i];
        if (demand_settle(&l->demand, now) && l->present)
            log_info("pool: %s: no job for %d s; %d warm container(s) kept", l->name, p->cfg->pool_idle_s,
                     l->demand.want);
    }
}

/* A waiting container that must go: it stopped waiting (killed from outside: its attach
 * connection ended), its language is gone, its image was replaced, or its target fell.
 * Lock held. */
static struct item *pick_surplus(struct pool *p)
{
    for (struct item *it = p->items; it; it = it->next) {
        if (it->state != ITEM_READY)
            continue;
        struct pool_lang *l = find_lang(p, it->language);
        if (!l || !l->present || strcmp(l->image_id, it->image_id) != 0
            || count(p, it->language, ITEM_READY) > l->demand.want || !docker_stream_idle(&it->warm.stream))
            return it;
    }
    return NULL;
}

/* How many warm containers l lacks for its target, counting those being started. */
static int gap(struct pool *p, const struct pool_lang *l)
{
    return l->demand.want - count(p, l->name, ITEM_READY) - count(p, l->name, ITEM_STARTING);
}

/* Whether the pool would start a container of l now, memory aside. */
static bool fillable(const struct pool *p, const struct pool_lang *l, int64_t now)
{
    return !p->draining && l->present && now >= l->retry_at;
}

/* The language furthest below its target, the most recently used first, that the budget
 * has room for. Lock held. */
static struct pool_lang *pick_deficit(struct pool *p, int64_t now)
{
    struct pool_lang *best = NULL;
    int best_gap = 0;
    for (size_t i = 0; i < p->n_langs; i++) {
        struct pool_lang *l = &p->langs[i];
        if (!fillable(p, l, now) || p->committed_mb + l->shape.memory_mb > p->budget_mb)
            continue;
        int g = gap(p, l);
        if (g > best_gap || (g > 0 && g == best_gap && l->demand.last_job > best->demand.last_job)) {
            best = l;
            best_gap = g;
        }
    }
    return best;
}

/* True if a's jobs came less recently than b's (never: least recently). */
static bool older(const struct pool_lang *a, const struct pool_lang *b)
{
    return !a->demand.recent || (b->demand.recent && a->demand.last_job < b->demand.last_job);
}

/* Memory of the warm containers not handed out (waiting or being started). Lock held. */
static long idle_mb(const struct pool *p)
{
    long mb = 0;
    for (const struct item *it = p->items; it; it = it->next)
        mb += it->state != ITEM_LENT ? it->shape.memory_mb : 0;
    return mb;
}

/* The budget is full of waiting containers (not of running jobs, which soon give their memory
 * back) and a language in use lacks one: a waiting one of the least recently used language,
 * used less recently than it, above its floor, gives way if that makes room now (its target
 * falls by one: demand_yield). NULL if none. Lock held. */
static struct item *pick_yield(struct pool *p, int64_t now)
{
    struct pool_lang *needy = NULL, *victim_lang = NULL;
    struct item *victim = NULL;
    for (size_t i = 0; !p->yielding && i < p->n_langs; i++) {
        struct pool_lang *l = &p->langs[i];
        if (fillable(p, l, now) && l->demand.recent && gap(p, l) > 0 && (!needy || older(needy, l)))
            needy = l;
    }
    if (needy && idle_mb(p) + needy->shape.memory_mb <= p->budget_mb)
        needy = NULL;       /* running jobs hold the memory: wait for them */
    for (struct item *it = p->items; needy && it; it = it->next) {
        struct pool_lang *m = find_lang(p, it->language);
        if (it->state != ITEM_READY || !m || m == needy || !older(m, needy)
            || count(p, m->name, ITEM_READY) <= m->demand.floor
            || p->committed_mb - it->shape.memory_mb + needy->shape.memory_mb > p->budget_mb)
            continue;
        if (!victim || older(m, victim_lang)) {
            victim = it;
            victim_lang = m;
        }
    }
    if (!victim)
        return NULL;
    p->yielding = true;     /* one at a time: the room it makes is not counted until it is gone */
    demand_yield(&victim_lang->demand);
    log_info("pool: memory budget full (%ld MiB): a waiting %s container gives way to %s", p->budget_mb,
             victim_lang->name, needy->name);
    return victim;
}

/* Starts one warm container of l. Called with the lock held; drops it meanwhile. */
static void fill(struct pool *p, struct docker *d, struct pool_lang *l)
{
    char err[400], name[NAME_SIZE];
    struct item *it = calloc(1, sizeof *it);
    if (!it || !(it->image_id = strdup(l->image_id))) {
        free(it);
        return;
    }
    it->state = ITEM_STARTING;
    it->seq = ++p->next_seq;
    strcpy(it->language, l->name);
    strcpy(name, l->name);
    it->shape = l->shape;
    it->next = p->items;
    p->items = it;
    p->committed_mb += it->shape.memory_mb;
    pthread_mutex_unlock(&p->lock);

    int rc = -1;
    char label[64];
    snprintf(label, sizeof label, "%s-%lu", p->token, it->seq);
    struct lang *lang = lang_registry_lookup(p->registry, name);
    if (!lang)
        snprintf(err, sizeof err, "the language is gone");
    else if (strcmp(lang->image_id, it->image_id) != 0)
        snprintf(err, sizeof err, "its image was replaced meanwhile");
    else
        rc = container_warm_start(d, p->cfg, lang, label, &it->warm, err, sizeof err);
    lang_free(lang);

    pthread_mutex_lock(&p->lock);
    l = find_lang(p, name);     /* the array may have moved */
    if (rc == 0 && !p->stop) {
        it->state = ITEM_READY;
        if (l && l->failures > 0)
            log_info("pool: %s: warm containers start again", name);
        if (l)
            l->failures = 0;
        return;
    }
    if (rc != 0 && l) {
        int64_t backoff = 1000LL << (l->failures < 6 ? l->failures : 6);
        l->retry_at = clock_mono_ms() + (backoff < BACKOFF_MAX_MS ? backoff : BACKOFF_MAX_MS);
        if (l->failures++ == 0)
            log_warn("pool: %s: a warm container did not start: %s (retrying, less often while it fails)",
                     name, err);
    }
    pthread_mutex_unlock(&p->lock);
    container_warm_discard(d, &it->warm);
    pthread_mutex_lock(&p->lock);
    unlink_item(p, it);
}

/* Removes a waiting container: nobody else may take or remove it meanwhile. Called with the
 * lock held; drops it meanwhile. */
static void discard(struct pool *p, struct docker *d, struct item *it)
{
    it->state = ITEM_LENT;
    pthread_mutex_unlock(&p->lock);
    container_warm_discard(d, &it->warm);
    pthread_mutex_lock(&p->lock);
    unlink_item(p, it);
}

static void *filler_main(void *arg)
{
    struct pool *p = arg;
    struct docker d;
    char err[200];
    if (docker_open(&d, p->cfg->docker_socket, err, sizeof err) != 0) {
        log_error("pool: %s; filler not running", err);
        return NULL;
    }
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        int64_t now = clock_mono_ms();
        if (now - p->synced_at >= SYNC_INTERVAL_MS) {
            size_t n;
            p->synced_at = now;
            pthread_mutex_unlock(&p->lock);
            struct lang_seen *seen = read_langs(p, &n);
            pthread_mutex_lock(&p->lock);
            if (seen)
                merge_langs(p, seen, n);
            continue;
        }
        settle_targets(p, now);
        struct item *surplus = pick_surplus(p);
        if (surplus) {
            discard(p, &d, surplus);
            continue;
        }
        struct pool_lang *l = pick_deficit(p, now);
        if (l) {
            fill(p, &d, l);
            continue;
        }
        if ((surplus = pick_yield(p, now))) {
            discard(p, &d, surplus);
            p->yielding = false;
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += IDLE_WAIT_MS / 1000;
        pthread_cond_timedwait(&p->wake, &p->lock, &until);
    }
    /* Stopping: the fillers share the removal of what still waits. */
    for (struct item *it = p->items; it; it = p->items) {
        while (it && it->state != ITEM_READY)
            it = it->next;
        if (!it)
            break;
        discard(p, &d, it);
    }
    pthread_mutex_unlock(&p->lock);
    docker_close(&d);
    return NULL;
}

/* Says how the pool is sized: the languages not named, then those named. */
static void log_start(const struct pool *p)
{
    const struct config *cfg = p->cfg;
    char all[48];
    if (cfg->pool.all == CONFIG_POOL_AUTO)
        snprintf(all, sizeof all, "auto (none until asked for)");
    else
        snprintf(all, sizeof all, "%d", cfg->pool.all);
    log_info("pool: warm containers per language: %s%s; one while a language's jobs come within "
             "%d s, up to %d while they find none; %d filler(s), memory budget %ld MiB, label %s=%s-<n>",
             all, cfg->pool.n ? " for those not named, as named for the others" : "", cfg->pool_idle_s,
             cfg->pool_max, cfg->pool_fillers, p->budget_mb, RCE_LABEL_POOL, p->token);
}

static long default_budget_mb(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (long)((long long)pages * page / 4 * 3 / (1024 * 1024)) : 4096;
}

struct pool *pool_start(const struct config *cfg, struct lang_registry *langs)
{
    struct pool *p = calloc(1, sizeof *p);
    unsigned char rnd[8] = { 0 };
    if (!p)
        return NULL;
    p->cfg = cfg;
    p->registry = langs;
    p->budget_mb = cfg->memory_budget_mb ? cfg->memory_budget_mb : default_budget_mb();
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        snprintf((char *)rnd, sizeof rnd, "%lx", (long)getpid());
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(p->token + 2 * i, 3, "%02x", rnd[i]);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);

    bool any = cfg->pool.all != 0;
    for (size_t i = 0; i < cfg->pool.n; i++)
        any = any || cfg->pool.one[i].size != 0;
    if (!any || cfg->bench_no_container) {
        log_info("pool: off; every job starts a cold container");
        return p;
    }
    if (!(p->fillers = calloc((size_t)cfg->pool_fillers, sizeof *p->fillers)))
        goto fail;
    for (; p->n_fillers < cfg->pool_fillers; p->n_fillers++)
        if (pthread_create(&p->fillers[p->n_fillers], NULL, filler_main, p) != 0)
            goto fail;
    log_start(p);
    return p;
fail:
    log_error("pool: cannot start the filler threads");
    pool_stop(p);
    return NULL;
}

void pool_stop(struct pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n_fillers; i++)
        pthread_join(p->fillers[i], NULL);
    while (p->items) {
        log_warn("pool: container %.12s was never released", p->items->warm.id);
        if (p->items->warm.attached)
            docker_stream_close(&p->items->warm.stream);
        unlink_item(p, p->items);
    }
    for (size_t i = 0; i < p->n_langs; i++)
        free(p->langs[i].image_id);
    free(p->langs);
    free(p->fillers);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static bool same_shape(const struct container_shape *a, const struct container_shape *b)
{
    return a->memory_mb == b->memory_mb && a->pids == b->pids && a->cpu_s == b->cpu_s;
}

/* The first ready container for lang and shape, and how many there are. */
static struct item *ready_item(struct pool *p, const struct lang *lang, const struct container_shape *shape,
                               int *count)
{
    struct item *first = NULL;
    *count = 0;
    for (struct item *it = p->items; it; it = it->next)
        if (it->state == ITEM_READY && strcmp(it->language, lang->name) == 0
            && same_shape(&it->shape, shape) && strcmp(it->image_id, lang->image_id) == 0) {
            first = first ? first : it;
            ++*count;
        }
    return first;
}

struct container_warm *pool_take(struct pool *p, const struct lang *lang, const struct container_shape *shape,
                                 bool batch)
{
    struct item *it = NULL;
    int ready;
    if (p->n_fillers == 0)
        return NULL;
    pthread_mutex_lock(&p->lock);
    struct pool_lang *l = find_lang(p, lang->name);
    if (!l || !l->on)
        goto done;
    it = ready_item(p, lang, shape, &ready);
    if (batch && ready < 2)
        it = NULL;      /* the last one is for a job of a higher class */
    if (it) {
        /* The refill waits for pool_release: starting a container costs Docker a few
         * hundred ms of cpu, which would slow this job down on a small machine. The job is
         * counted there too: this container may turn out dead, and the job run cold. */
        it->state = ITEM_LENT;
        demand_job(&l->demand, clock_mono_ms(), true);
    } else if (!same_shape(&l->shape, shape)) {
        p->custom++;    /* no warm container would serve it: not demand for one */
    } else {
        p->cold++;
        demand_job(&l->demand, clock_mono_ms(), false);
        pthread_cond_signal(&p->wake);  /* grow */
    }
done:
    pthread_mutex_unlock(&p->lock);
    return it ? &it->warm : NULL;
}

void pool_reserve(struct pool *p, long memory_mb)
{
    pthread_mutex_lock(&p->lock);
    p->committed_mb += memory_mb;
    pthread_mutex_unlock(&p->lock);
}

void pool_release(struct pool *p, struct container_warm *w, long memory_mb)
{
    pthread_mutex_lock(&p->lock);
    if (w) {
        if (w->id[0])
            p->warm++;
        else
            p->cold++;      /* it had stopped waiting: run_job discarded it and ran cold */
        unlink_item(p, (struct item *)w);
    } else {
        p->committed_mb -= memory_mb;
    }
    pthread_cond_signal(&p->wake);      /* a refill, or memory for one */
    pthread_mutex_unlock(&p->lock);
}

size_t pool_asked(struct pool *p, struct pool_asked *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&p->lock);
    int64_t now = clock_mono_ms();
    for (size_t i = 0; i < p->n_langs && n < max; i++) {
        struct pool_lang *l = &p->langs[i];
        if (!l->demand.recent || l->demand.last_job == l->reported
            || (l->reported && l->demand.last_job - l->reported < RCE_RECENT_REPORT_MS))
            continue;
        l->reported = l->demand.last_job;
        strcpy(out[n].language, l->name);
        out[n++].age_ms = now - l->demand.last_job;
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* Whether the node has language's image, under that canonical name. */
static bool runs(struct pool *p, const char *language)
{
    struct lang *lang = lang_registry_lookup(p->registry, language);
    bool yes = lang && strcmp(lang->name, language) == 0;
    lang_free(lang);
    return yes;
}

bool pool_seed(struct pool *p, const char *language, int64_t age_ms)
{
    bool warmed = false;
    if (p->n_fillers == 0 || strlen(language) >= NAME_SIZE || !runs(p, language))
        return false;
    pthread_mutex_lock(&p->lock);
    struct pool_lang *l = find_lang(p, language);
    if (!l)
        l = add_lang(p, language);
    if (l && l->on) {
        int before = l->demand.want;
        demand_seed(&l->demand, clock_mono_ms(), age_ms);
        l->reported = l->demand.last_job;       /* the record has it already */
        warmed = l->demand.recent && l->demand.want > before;
        pthread_cond_signal(&p->wake);
    }
    pthread_mutex_unlock(&p->lock);
    return warmed;
}

void pool_drain(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->draining = true;
    pthread_mutex_unlock(&p->lock);
}

bool pool_owns(struct pool *p, const char *pool_label)
{
    size_t n = strlen(p->token);
    char *end;
    bool owned = false;
    if (!pool_label || strncmp(pool_label, p->token, n) != 0 || pool_label[n] != '-')
        return false;
    unsigned long seq = strtoul(pool_label + n + 1, &end, 10);
    if (*end != '\0')
        return false;
    pthread_mutex_lock(&p->lock);
    for (struct item *it = p->items; it && !owned; it = it->next)
        owned = it->seq == seq;
    pthread_mutex_unlock(&p->lock);
    return owned;
}

/* Counts one more container of language in by (language -> integer). */
static int count_in(json_t *by, const char *language)
{
    json_t *n = json_object_get(by, language);
    return json_object_set_new(by, language, json_integer(n ? json_integer_value(n) + 1 : 1));
}

/* language -> target of every language the node runs whose target is above 0. Lock held. */
static json_t *targets(struct pool *p)
{
    json_t *target = json_object();
    for (size_t i = 0; target && i < p->n_langs; i++) {
        const struct pool_lang *l = &p->langs[i];
        if (l->present && l->demand.want > 0
            && json_object_set_new(target, l->name, json_integer(l->demand.want)) != 0) {
            json_decref(target);
            return NULL;
        }
    }
    return target;
}

int pool_describe(struct pool *p, json_t *pool)
{
    json_t *ready = json_object(), *starting = json_object(), *lent = json_object(), *target = NULL;
    char short_id[13];
    int rc = -1;
    if (!ready || !starting || !lent)
        goto fail;
    pthread_mutex_lock(&p->lock);
    if (!(target = targets(p)))
        goto done;
    for (struct item *it = p->items; it; it = it->next) {
        if (it->state != ITEM_READY) {
            if (count_in(it->state == ITEM_STARTING ? starting : lent, it->language) != 0)
                goto done;
            continue;
        }
        json_t *ids = json_object_get(ready, it->language);
        if (!ids && json_object_set_new(ready, it->language, ids = json_array()) != 0)
            goto done;
        snprintf(short_id, sizeof short_id, "%.12s", it->warm.id);
        if (json_array_append_new(ids, json_string(short_id)) != 0)
            goto done;
    }
    if (json_object_set(pool, RCE_POOL_READY, ready) == 0
        && json_object_set(pool, RCE_POOL_TARGET, target) == 0
        && json_object_set_new(pool, RCE_POOL_WARM, json_integer(p->warm)) == 0
        && json_object_set_new(pool, RCE_POOL_COLD, json_integer(p->cold)) == 0
        && json_object_set_new(pool, RCE_POOL_CUSTOM, json_integer(p->custom)) == 0
        && (!json_object_size(starting) || json_object_set(pool, RCE_POOL_STARTING, starting) == 0)
        && (!json_object_size(lent) || json_object_set(pool, RCE_POOL_LENT, lent) == 0))
        rc = 0;
done:
    pthread_mutex_unlock(&p->lock);
fail:
    json_decref(ready);
    json_decref(starting);
    json_decref(lent);
    json_decref(target);
    return rc;
}
