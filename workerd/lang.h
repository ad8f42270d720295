/* The node's languages, learned from the labels of local images named <prefix><language>. */
#ifndef WORKERD_LANG_H
#define WORKERD_LANG_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "docker.h"

#define LANG_CPUS_MAX 1024         /* a bound on rce.cpus; the node clamps it to its --max-cpus */
#define LANG_MAIN_MAX 64           /* bytes in rce.main, a file name */

struct lang {
    char *name;             /* canonical, from rce.language */
    char *image;            /* <prefix><name>:latest */
    char *image_id;         /* the image that tag named when the table was read ("sha256:...") */
    char *main_file;        /* rce.main */
    char **run_argv;        /* rce.run, NULL-terminated */
    size_t run_argc;
    char **aliases;         /* rce.aliases, NULL-terminated, canonical name not included */
    size_t n_aliases;
    char *version;          /* rce.version, or NULL */
    char **compile_argv;    /* rce.compile, NULL-terminated; NULL for an interpreted language */
    size_t compile_argc;
    bool compiles_in_run;   /* rce.run holds RCE_RUN_COMPILE_MARKER: it compiles, then runs */
    char **tests_compile_argv;  /* rce.tests_compile, or NULL: judge mode's compile command */
    size_t tests_compile_argc;
    char **tests_run_argv;  /* rce.tests_run, or NULL: judge mode's run command */
    size_t tests_run_argc;
    struct limits limits;   /* rce.limits: run keys say what a run needs at least, compile_*
                             * keys are the compile step's defaults (0: absent) */
    long cpus;              /* rce.cpus: CPUs its containers may use at once (0: one) */
    json_t *libraries;      /* rce.libraries: {library: version}, or NULL; a reference of its
                             * own, to an object never changed once read (lang_dup shares it) */
};

/* A language with a compile step: a compile command, or a run command that compiles. */
static inline bool lang_compiled(const struct lang *l)
{
    return l->compile_argv != NULL || l->compiles_in_run;
}

/* Whether judge mode can run lang: its run command runs the program alone (a run command that
 * compiles too needs rce.tests_run). */
static inline bool lang_judges(const struct lang *l)
{
    return !l->compiles_in_run || l->tests_run_argv != NULL;
}

struct lang_table {
    struct lang *langs;
    size_t n;
};

/* Settles the compile step's limits of a job of lang in *l: those the job did not name (bit i
 * of named: limit i of RCE_LIMITS) are the language's, else the node's defaults (a compile
 * memory of 0: the run's); all are held to the node's maxima. A language without a compile
 * step gets 0 for them, so that its result names none. */
void lang_limits(const struct lang *lang, const struct config *cfg, unsigned named, struct limits *l);

/* Builds a table from the JSON array GET /images/json returns. Images without a tag
 * <prefix><language>:latest or with unusable labels are skipped with a warning. NULL only
 * when out of memory. */
struct lang_table *lang_table_from_images(json_t *images, const char *prefix);

/* Lists the labelled local images through d and builds the table; NULL with err on failure. */
struct lang_table *lang_table_load(struct docker *d, const char *prefix, char *err, size_t errlen);

/* Keeps in t only the languages named in names (canonical names separated by commas or
 * blanks); an empty or NULL names keeps them all. Names without an image are ignored. */
void lang_table_keep(struct lang_table *t, const char *names);

void lang_table_free(struct lang_table *t);

/* Finds a language by canonical name, else by alias. */
const struct lang *lang_table_find(const struct lang_table *t, const char *name);

/* Fills the node JSON's "languages" array and "aliases" object (every alias and every
 * canonical name mapped to its canonical name). */
int lang_table_describe(const struct lang_table *t, json_t *languages, json_t *aliases);

struct lang *lang_dup(const struct lang *l);
void lang_free(struct lang *l);     /* frees a lang_dup copy */

/* The current table, shared by the threads: the housekeeper replaces it, slots look up in it. */
struct lang_registry {
    pthread_mutex_t lock;
    struct lang_table *table;   /* NULL until the first successful load */
};

void lang_registry_init(struct lang_registry *r);
void lang_registry_destroy(struct lang_registry *r);
void lang_registry_replace(struct lang_registry *r, struct lang_table *t);   /* takes t */
struct lang *lang_registry_lookup(struct lang_registry *r, const char *name); /* a copy, or NULL */
int lang_registry_describe(struct lang_registry *r, json_t *languages, json_t *aliases);

/* The canonical names of the current table, in name order: a NULL-terminated array of
 * malloc'd copies (free with lang_names_free), or NULL if out of memory. */
char **lang_registry_names(struct lang_registry *r);
void lang_names_free(char **names);

/* Fills the node JSON's "versions" object (language -> version), "compiled" array and
 * "libraries" object (language -> {library: version}, for those that declare some). */
int lang_registry_details(struct lang_registry *r, json_t *versions, json_t *compiled,
                          json_t *libraries);

#endif
