#include "lang.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rce_protocol.h"

#define LANG_LIST_TIMEOUT_MS 10000L

/* A canonical name becomes part of an image name: Docker's lowercase repository alphabet. */
static int valid_name(const char *s)
{
    if (!*s || strlen(s) > RCE_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!rce_name_char((unsigned char)*s))
            return 0;
    return 1;
}

/* An alias is the last segment of /lang/<alias>: any visible ASCII but '/' ("c++", "c#"). */
static int valid_alias(const char *s)
{
    if (!*s || strlen(s) > RCE_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!rce_alias_char((unsigned char)*s))
            return 0;
    return 1;
}

/* The main file is written inside the work dir: a plain file name, no path. */
static int valid_main_file(const char *s)
{
    if (!*s || strlen(s) > LANG_MAIN_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s) || *s == '/')
            return 0;
    return 1;
}

static void free_strv(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

static void lang_clear(struct lang *l)
{
    free(l->name);
    free(l->image);
    free(l->image_id);
    free(l->main_file);
    free_strv(l->run_argv);
    free_strv(l->aliases);
    free(l->version);
    free_strv(l->compile_argv);
    free_strv(l->tests_compile_argv);
    free_strv(l->tests_run_argv);
    json_decref(l->libraries);
    memset(l, 0, sizeof *l);
}

/* Parses rce.libraries: a JSON object of at most RCE_LIBRARIES_MAX non-empty names, each with a
 * non-empty version string. The object, or NULL if it is not one (or out of memory). */
static json_t *parse_libraries(const char *text)
{
    json_t *o = json_loads(text, 0, NULL), *v;
    const char *name;
    if (!json_is_object(o) || json_object_size(o) > RCE_LIBRARIES_MAX)
        goto fail;
    json_object_foreach(o, name, v)
        if (!*name || !json_is_string(v) || json_string_length(v) == 0)
            goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

/* Parses rce.run: a JSON array of non-empty strings. NULL-terminated copy, or NULL. */
static char **parse_run(const char *text, size_t *argc)
{
    json_t *a = json_loads(text, 0, NULL);
    char **argv = NULL;
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n == 0)
        goto done;
    argv = calloc(n + 1, sizeof *argv);
    if (!argv)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const char *arg = json_string_value(json_array_get(a, i));
        if (!arg || !*arg || !(argv[i] = strdup(arg))) {
            free_strv(argv);
            argv = NULL;
            goto done;
        }
    }
    *argc = n;
done:
    json_decref(a);
    return argv;
}

/* Reads rce.limits: {"memory_mb": 512, "compile_wall_ms": 20000, ...} into *limits (0 where
 * absent); -1 if the label is not such an object of RCE_LIMITS keys and positive integers. */
static int parse_limits(const char *text, struct limits *limits)
{
    memset(limits, 0, sizeof *limits);
    if (!text || !*text)
        return 0;
    json_t *o = json_loads(text, 0, NULL);
    int rc = json_is_object(o) ? 0 : -1;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        size_t i = 0;
        while (i < RCE_LIMIT_COUNT && strcmp(limit_fields[i].key, key) != 0)
            i++;
        if (i == RCE_LIMIT_COUNT || !json_is_integer(v) || json_integer_value(v) <= 0) {
            rc = -1;
            break;
        }
        *limits_at(limits, i) = (long)json_integer_value(v);
    }
    json_decref(o);
    return rc;
}

void lang_limits(const struct lang *lang, const struct config *cfg, unsigned named, struct limits *l)
{
    static const size_t compile[] = { RCE_LIMIT_INDEX_compile_wall_ms, RCE_LIMIT_INDEX_compile_cpu_ms,
                                      RCE_LIMIT_INDEX_compile_memory_mb };
    for (size_t k = 0; k < sizeof compile / sizeof compile[0]; k++) {
        size_t i = compile[k];
        long *v = limits_at(l, i), max = *limits_at_const(&cfg->maxima, i);
        if (!lang_compiled(lang)) {
            *v = 0;
            continue;
        }
        if (!(named & 1u << i))
            *v = *limits_at_const(&lang->limits, i) ? *limits_at_const(&lang->limits, i)
                                                    : *limits_at_const(&cfg->defaults, i);
        if (i == RCE_LIMIT_INDEX_compile_memory_mb && *v < l->memory_mb)
            *v = l->memory_mb;  /* a compiler never has less than the program it builds */
        if (*v > max)
            *v = max;
    }
}

/* Splits rce.aliases on spaces, dropping the canonical name itself and unusable words. */
static char **parse_aliases(const char *text, const char *name, size_t *count)
{
    char *copy = strdup(text ? text : "");
    char **v = calloc(strlen(text ? text : "") / 2 + 2, sizeof *v);
    size_t n = 0;
    if (!copy || !v)
        goto fail;
    char *save = NULL;
    for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (strcmp(w, name) == 0)
            continue;
        if (!valid_alias(w)) {
            log_warn("language %s: ignoring alias '%s'", name, w);
            continue;
        }
        if (!(v[n++] = strdup(w)))
            goto fail;
    }
    free(copy);
    *count = n;
    return v;
fail:
    free(copy);
    free_strv(v);
    return NULL;
}

/* True if the image carries the tag <prefix><name>:latest. */
static int has_tag(json_t *image, const char *tag)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(image, "RepoTags"), i, t)
        if (json_is_string(t) && strcmp(json_string_value(t), tag) == 0)
            return 1;
    return 0;
}

static const struct lang *find_canonical(const struct lang_table *t, const char *name)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (strcmp(t->langs[i].name, name) == 0)
            return &t->langs[i];
    return NULL;
}

/* Reads one image's labels into l: 1 if it is a usable language image, 0 if skipped,
 * -1 if out of memory. */
static int lang_from_image(json_t *image, const char *prefix, struct lang *l)
{
    json_t *labels = json_object_get(image, "Labels");
    const char *name = json_string_value(json_object_get(labels, RCE_LABEL_LANGUAGE));
    const char *main_file = json_string_value(json_object_get(labels, RCE_LABEL_MAIN));
    const char *run = json_string_value(json_object_get(labels, RCE_LABEL_RUN));
    const char *aliases = json_string_value(json_object_get(labels, RCE_LABEL_ALIASES));
    const char *version = json_string_value(json_object_get(labels, RCE_LABEL_VERSION));
    const char *compile = json_string_value(json_object_get(labels, RCE_LABEL_COMPILE));
    const char *tests_compile = json_string_value(json_object_get(labels, RCE_LABEL_TESTS_COMPILE));
    const char *tests_run = json_string_value(json_object_get(labels, RCE_LABEL_TESTS_RUN));
    const char *limits = json_string_value(json_object_get(labels, RCE_LABEL_LIMITS));
    const char *cpus = json_string_value(json_object_get(labels, RCE_LABEL_CPUS));
    const char *libraries = json_string_value(json_object_get(labels, RCE_LABEL_LIBRARIES));

    memset(l, 0, sizeof *l);
    if (!name || !valid_name(name))
        return 0;           /* cannot be part of an image name, so no image of ours has it */
    size_t tag_len = strlen(prefix) + strlen(name) + sizeof ":latest";
    if (!(l->image = malloc(tag_len)))
        return -1;
    snprintf(l->image, tag_len, "%s%s:latest", prefix, name);
    if (!has_tag(image, l->image)) {
        lang_clear(l);      /* an older build or a differently named image: not ours to run */
        return 0;
    }
    if (!main_file || !valid_main_file(main_file)) {
        log_warn("image %s: unusable %s label", l->image, RCE_LABEL_MAIN);
        lang_clear(l);
        return 0;
    }
    if (!run || !(l->run_argv = parse_run(run, &l->run_argc))) {
        log_warn("image %s: %s must be a JSON array of strings", l->image, RCE_LABEL_RUN);
        lang_clear(l);
        return 0;
    }
    for (size_t i = 0; i < l->run_argc; i++)
        l->compiles_in_run |= strcmp(l->run_argv[i], RCE_RUN_COMPILE_MARKER) == 0;
    if (compile && *compile && !(l->compile_argv = parse_run(compile, &l->compile_argc))) {
        log_warn("image %s: %s must be a JSON array of strings", l->image, RCE_LABEL_COMPILE);
        lang_clear(l);
        return 0;
    }
    if ((tests_compile && !(l->tests_compile_argv = parse_run(tests_compile, &l->tests_compile_argc)))
        || (tests_run && !(l->tests_run_argv = parse_run(tests_run, &l->tests_run_argc)))) {
        log_warn("image %s: %s and %s must be JSON arrays of strings", l->image, RCE_LABEL_TESTS_COMPILE,
                 RCE_LABEL_TESTS_RUN);
        lang_clear(l);
        return 0;
    }
    if (parse_limits(limits, &l->limits) != 0) {
        log_warn("image %s: %s must be an object of positive integer limits", l->image,
                 RCE_LABEL_LIMITS);
        lang_clear(l);
        return 0;
    }
    if (cpus && config_parse_long(cpus, 1, LANG_CPUS_MAX, &l->cpus) != 0) {
        log_warn("image %s: %s must be a whole number of CPUs from 1 to %d", l->image, RCE_LABEL_CPUS,
                 LANG_CPUS_MAX);
        lang_clear(l);
        return 0;
    }
    if (libraries && !(l->libraries = parse_libraries(libraries)))
        log_warn("image %s: ignoring %s, not a JSON object of versions", l->image, RCE_LABEL_LIBRARIES);
    const char *id = json_string_value(json_object_get(image, "Id"));
    if (!(l->name = strdup(name)) || !(l->main_file = strdup(main_file))
        || !(l->image_id = strdup(id ? id : l->image))
        || !(l->aliases = parse_aliases(aliases, name, &l->n_aliases))
        || (version && *version && !(l->version = strdup(version)))) {
        lang_clear(l);
        return -1;
    }
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct lang *)a)->name, ((const struct lang *)b)->name);
}

struct lang_table *lang_table_from_images(json_t *images, const char *prefix)
{
    struct lang_table *t = calloc(1, sizeof *t);
    size_t i;
    json_t *image;
    if (!t || !(t->langs = calloc(json_array_size(images) + 1, sizeof *t->langs)))
        goto fail;
    json_array_foreach(images, i, image) {
        struct lang l;
        int rc = lang_from_image(image, prefix, &l);
        if (rc < 0)
            goto fail;
        if (rc == 0)
            continue;
        if (find_canonical(t, l.name)) {
            lang_clear(&l);     /* one tag names one image, so this cannot happen; be safe */
            continue;
        }
        t->langs[t->n++] = l;
    }
    /* Docker lists images in no fixed order; a sorted table reads and compares stably. */
    qsort(t->langs, t->n, sizeof *t->langs, by_name);
    return t;
fail:
    lang_table_free(t);
    return NULL;
}

struct lang_table *lang_table_load(struct docker *d, const char *prefix, char *err, size_t errlen)
{
    struct docker_response resp;
    struct lang_table *t = NULL;
    json_t *images = NULL;
    char path[256];
    char *filter = docker_label_filter(RCE_LABEL_LANGUAGE);
    if (!filter) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(path, sizeof path, "/images/json?filters=%s", filter);
    free(filter);
    if (docker_call(d, "GET", path, NULL, LANG_LIST_TIMEOUT_MS, &resp, err, errlen) != 0)
        goto done;
    if (resp.status != 200) {
        docker_describe(&resp, err, errlen);
        goto done;
    }
    images = docker_response_json(&resp);
    if (!json_is_array(images)) {
        snprintf(err, errlen, "image list is not a JSON array");
        goto done;
    }
    if (!(t = lang_table_from_images(images, prefix)))
        snprintf(err, errlen, "out of memory");
done:
    json_decref(images);
    docker_response_free(&resp);
    return t;
}

/* Whether name is one of the comma- or blank-separated words of list. */
static bool listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    const char *p = list;
    while (*p) {
        size_t n;
        p += strspn(p, ", \t");
        n = strcspn(p, ", \t");
        if (n == len && n > 0 && strncmp(p, name, n) == 0)
            return true;
        p += n;
    }
    return false;
}

void lang_table_keep(struct lang_table *t, const char *names)
{
    size_t kept = 0;
    if (!names || names[strspn(names, ", \t")] == '\0')
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (listed(names, t->langs[i].name))
            t->langs[kept++] = t->langs[i];
        else
            lang_clear(&t->langs[i]);
    }
    t->n = kept;
}

void lang_table_free(struct lang_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        lang_clear(&t->langs[i]);
    free(t->langs);
    free(t);
}

const struct lang *lang_table_find(const struct lang_table *t, const char *name)
{
    const struct lang *l = find_canonical(t, name);
    if (l || !t)
        return l;
    /* Aliases second, so a canonical name always means its own language. */
    for (size_t i = 0; i < t->n; i++)
        for (size_t a = 0; a < t->langs[i].n_aliases; a++)
            if (strcmp(t->langs[i].aliases[a], name) == 0)
                return &t->langs[i];
    return NULL;
}

int lang_table_describe(const struct lang_table *t, json_t *languages, json_t *aliases)
{
    for (size_t i = 0; t && i < t->n; i++) {
        const struct lang *l = &t->langs[i];
        if (json_array_append_new(languages, json_string(l->name)) != 0
            || json_object_set_new(aliases, l->name, json_string(l->name)) != 0)
            return -1;
    }
    for (size_t i = 0; t && i < t->n; i++)
        for (size_t a = 0; a < t->langs[i].n_aliases; a++) {
            const char *alias = t->langs[i].aliases[a];
            if (lang_table_find(t, alias) != &t->langs[i])
                continue;   /* taken by a canonical name or by a language earlier in name order */
            if (json_object_set_new(aliases, alias, json_string(t->langs[i].name)) != 0)
                return -1;
        }
    return 0;
}

static char **dup_strv(char *const *v, size_t n)
{
    char **copy = calloc(n + 1, sizeof *copy);
    for (size_t i = 0; copy && i < n; i++)
        if (!(copy[i] = strdup(v[i]))) {
            free_strv(copy);
            return NULL;
        }
    return copy;
}

struct lang *lang_dup(const struct lang *l)
{
    struct lang *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->run_argc = l->run_argc;
    c->n_aliases = l->n_aliases;
    c->compile_argc = l->compile_argc;
    c->tests_compile_argc = l->tests_compile_argc;
    c->tests_run_argc = l->tests_run_argc;
    c->compiles_in_run = l->compiles_in_run;
    c->limits = l->limits;
    c->cpus = l->cpus;
    if (!(c->name = strdup(l->name)) || !(c->image = strdup(l->image))
        || !(c->image_id = strdup(l->image_id))
        || !(c->main_file = strdup(l->main_file)) || !(c->run_argv = dup_strv(l->run_argv, l->run_argc))
        || !(c->aliases = dup_strv(l->aliases, l->n_aliases))
        || (l->version && !(c->version = strdup(l->version)))
        || (l->compile_argv && !(c->compile_argv = dup_strv(l->compile_argv, l->compile_argc)))
        || (l->tests_compile_argv
            && !(c->tests_compile_argv = dup_strv(l->tests_compile_argv, l->tests_compile_argc)))
        || (l->tests_run_argv && !(c->tests_run_argv = dup_strv(l->tests_run_argv, l->tests_run_argc)))) {
        lang_free(c);
        return NULL;
    }
    /* shared, not copied (every job takes a copy): never changed after parse_libraries, and
     * jansson's reference counts are atomic here */
    c->libraries = json_incref(l->libraries);
    return c;
}

void lang_free(struct lang *l)
{
    if (!l)
        return;
    lang_clear(l);
    free(l);
}

void lang_registry_init(struct lang_registry *r)
{
    pthread_mutex_init(&r->lock, NULL);
    r->table = NULL;
}

void lang_registry_destroy(struct lang_registry *r)
{
    lang_table_free(r->table);
    pthread_mutex_destroy(&r->lock);
}

void lang_registry_replace(struct lang_registry *r, struct lang_table *t)
{
    pthread_mutex_lock(&r->lock);
    struct lang_table *old = r->table;
    r->table = t;
    pthread_mutex_unlock(&r->lock);
    lang_table_free(old);
}

struct lang *lang_registry_lookup(struct lang_registry *r, const char *name)
{
    /* A copy, because the table may be replaced while the job runs. */
    pthread_mutex_lock(&r->lock);
    const struct lang *l = lang_table_find(r->table, name);
    struct lang *copy = l ? lang_dup(l) : NULL;
    pthread_mutex_unlock(&r->lock);
    return copy;
}

int lang_registry_describe(struct lang_registry *r, json_t *languages, json_t *aliases)
{
    pthread_mutex_lock(&r->lock);
    int rc = lang_table_describe(r->table, languages, aliases);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

char **lang_registry_names(struct lang_registry *r)
{
    char **names;
    pthread_mutex_lock(&r->lock);
    size_t n = r->table ? r->table->n : 0;
    if ((names = calloc(n + 1, sizeof *names)))
        for (size_t i = 0; i < n; i++)
            if (!(names[i] = strdup(r->table->langs[i].name))) {
                lang_names_free(names);
                names = NULL;
                break;
            }
    pthread_mutex_unlock(&r->lock);
    return names;
}

void lang_names_free(char **names)
{
    free_strv(names);
}

int lang_registry_details(struct lang_registry *r, json_t *versions, json_t *compiled,
                          json_t *libraries)
{
    int rc = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; r->table && i < r->table->n && rc == 0; i++) {
        const struct lang *l = &r->table->langs[i];
        if (l->version && json_object_set_new(versions, l->name, json_string(l->version)) != 0)
            rc = -1;
        if (lang_compiled(l) && json_array_append_new(compiled, json_string(l->name)) != 0)
            rc = -1;
        if (l->libraries && json_object_set(libraries, l->name, l->libraries) != 0)
            rc = -1;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}
