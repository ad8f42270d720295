/* The language table learned from image labels. */
#include <jansson.h>
#include <stdlib.h>

#include "lang.h"
#include "rce_protocol.h"
#include "test.h"

static const char images_json[] =
    "[{\"Id\":\"sha256:1\",\"RepoTags\":[\"rce/python:latest\",\"rce/python:3.11\"],"
    "  \"Labels\":{\"rce.language\":\"python\",\"rce.aliases\":\"py python3 python\","
    "             \"rce.main\":\"main.py\",\"rce.run\":\"[\\\"python3\\\",\\\"main.py\\\"]\","
    "             \"rce.libraries\":\"{\\\"numpy\\\":\\\"1.24.2\\\",\\\"pandas\\\":\\\"1.5.3\\\"}\"}},"
    " {\"Id\":\"sha256:2\",\"RepoTags\":[\"rce/java:latest\"],"
    "  \"Labels\":{\"rce.language\":\"java\",\"rce.aliases\":\"\",\"rce.main\":\"Main.java\","
    "             \"rce.run\":\"[\\\"java\\\",\\\"Main.java\\\"]\",\"rce.cpus\":\"2\","
    "             \"rce.libraries\":\"{\\\"junit\\\":4}\"}},"     /* not versions: ignored */
    /* not named <prefix><language>:latest: an old build, another prefix */
    " {\"Id\":\"sha256:3\",\"RepoTags\":[\"<none>:<none>\"],"
    "  \"Labels\":{\"rce.language\":\"python\",\"rce.main\":\"main.py\",\"rce.run\":\"[\\\"python3\\\"]\"}},"
    " {\"Id\":\"sha256:4\",\"RepoTags\":[\"other/ruby:latest\"],"
    "  \"Labels\":{\"rce.language\":\"ruby\",\"rce.main\":\"main.rb\",\"rce.run\":\"[\\\"ruby\\\"]\"}},"
    /* unusable labels */
    " {\"Id\":\"sha256:5\",\"RepoTags\":[\"rce/go:latest\"],"
    "  \"Labels\":{\"rce.language\":\"go\",\"rce.main\":\"main.go\",\"rce.run\":\"go run main.go\"}},"
    " {\"Id\":\"sha256:8\",\"RepoTags\":[\"rce/kotlin:latest\"],"
    "  \"Labels\":{\"rce.language\":\"kotlin\",\"rce.main\":\"main.kt\",\"rce.run\":\"[\\\"java\\\"]\","
    "             \"rce.cpus\":\"0\"}},"
    " {\"Id\":\"sha256:6\",\"RepoTags\":[\"rce/c:latest\"],"
    "  \"Labels\":{\"rce.language\":\"c\",\"rce.main\":\"../etc/x\",\"rce.run\":\"[\\\"cc\\\"]\"}},"
    /* an alias that a canonical name already owns */
    " {\"Id\":\"sha256:7\",\"RepoTags\":[\"rce/javascript:latest\"],"
    "  \"Labels\":{\"rce.language\":\"javascript\",\"rce.aliases\":\"js node java\","
    "             \"rce.main\":\"main.js\",\"rce.run\":\"[\\\"node\\\",\\\"main.js\\\"]\"}}]";

static struct lang_table *load(void)
{
    json_t *images = json_loads(images_json, 0, NULL);
    assert(images);
    struct lang_table *t = lang_table_from_images(images, "rce/");
    json_decref(images);
    assert(t);
    return t;
}

static void test_table_from_labels(void)
{
    struct lang_table *t = load();
    assert(t->n == 3);
    assert(STREQ(t->langs[0].name, "java") && STREQ(t->langs[1].name, "javascript")
           && STREQ(t->langs[2].name, "python"));      /* sorted by name */
    const struct lang *py = lang_table_find(t, "python");
    assert(py && STREQ(py->image, "rce/python:latest") && STREQ(py->main_file, "main.py"));
    assert(py->run_argc == 2 && STREQ(py->run_argv[0], "python3") && py->run_argv[2] == NULL);
    assert(py->n_aliases == 2);     /* "python" itself is not an alias */
    assert(lang_table_find(t, "py") == py && lang_table_find(t, "python3") == py);
    assert(lang_table_find(t, "java") == lang_table_find(t, "java") && STREQ(lang_table_find(t, "java")->name, "java"));
    assert(STREQ(lang_table_find(t, "node")->name, "javascript"));
    assert(!lang_table_find(t, "ruby") && !lang_table_find(t, "go") && !lang_table_find(t, "c"));
    assert(!lang_table_find(t, "kotlin"));                  /* rce.cpus 0 */
    assert(lang_table_find(t, "java")->cpus == 2 && py->cpus == 0);
    assert(json_object_size(py->libraries) == 2
           && STREQ(json_string_value(json_object_get(py->libraries, "pandas")), "1.5.3"));
    assert(lang_table_find(t, "java")->libraries == NULL);   /* the language stays, its list not */
    lang_table_free(t);
}

/* An operator's subset (--languages): only the named ones stay, aliases of the others go. */
static void test_keep_subset(void)
{
    struct lang_table *t = load();
    lang_table_keep(t, "");
    assert(t->n == 3);
    lang_table_keep(t, " python,, ruby  java ");     /* ruby has no image: ignored */
    assert(t->n == 2 && STREQ(t->langs[0].name, "java") && STREQ(t->langs[1].name, "python"));
    assert(!lang_table_find(t, "node") && lang_table_find(t, "py"));
    lang_table_keep(t, "pyth");                       /* whole names only */
    assert(t->n == 0 && !lang_table_find(t, "python"));
    lang_table_free(t);
}

static void test_describe_for_node_json(void)
{
    struct lang_table *t = load();
    json_t *names = json_array(), *aliases = json_object();
    assert(lang_table_describe(t, names, aliases) == 0);
    assert(json_array_size(names) == 3);
    assert(STREQ(json_string_value(json_object_get(aliases, "python")), "python"));
    assert(STREQ(json_string_value(json_object_get(aliases, "py")), "python"));
    assert(STREQ(json_string_value(json_object_get(aliases, "js")), "javascript"));
    assert(STREQ(json_string_value(json_object_get(aliases, "java")), "java"));   /* canonical wins */
    assert(json_object_size(aliases) == 3 + 2 + 2);
    json_decref(names);
    json_decref(aliases);
    lang_table_free(t);
}

static void test_registry_copies(void)
{
    struct lang_registry r;
    lang_registry_init(&r);
    assert(lang_registry_lookup(&r, "python") == NULL);  /* before the first load */
    lang_registry_replace(&r, load());
    struct lang *py = lang_registry_lookup(&r, "py");
    lang_registry_replace(&r, load());      /* the copy outlives the table it came from */
    assert(py && STREQ(py->name, "python") && STREQ(py->run_argv[1], "main.py"));
    lang_free(py);
    struct lang *java = lang_registry_lookup(&r, "java");
    assert(java && java->cpus == 2);
    lang_free(java);
    json_t *versions = json_object(), *compiled = json_array(), *libraries = json_object();
    assert(lang_registry_details(&r, versions, compiled, libraries) == 0);
    assert(json_object_size(libraries) == 1            /* python's: java declares none usable */
           && STREQ(json_string_value(json_object_get(json_object_get(libraries, "python"), "numpy")),
                    "1.24.2"));
    json_decref(versions);
    json_decref(compiled);
    json_decref(libraries);
    py = lang_registry_lookup(&r, "python");
    lang_registry_replace(&r, load());
    assert(py && json_object_size(py->libraries) == 2);  /* copied with the rest */
    lang_free(py);
    lang_registry_destroy(&r);
}

static void test_registry_names(void)
{
    struct lang_registry r;
    lang_registry_init(&r);
    char **names = lang_registry_names(&r);
    assert(names && names[0] == NULL);                  /* before the first load: none */
    lang_names_free(names);
    lang_registry_replace(&r, load());
    names = lang_registry_names(&r);
    assert(names && STREQ(names[0], "java") && STREQ(names[1], "javascript") && STREQ(names[2], "python")
           && names[3] == NULL);
    lang_names_free(names);
    lang_registry_destroy(&r);
}

/* One rule for names and aliases (rce_protocol.h): RCE_NAME_MAX bytes, the same characters as
 * the gateway's route. */
static void test_name_rules(void)
{
    char name[RCE_NAME_MAX + 2], json[1024];
    for (int over = 0; over < 2; over++) {
        memset(name, 'a', sizeof name);
        name[RCE_NAME_MAX + over] = '\0';
        snprintf(json, sizeof json, "[{\"Id\":\"sha256:9\",\"RepoTags\":[\"rce/%s:latest\"],"
                 "\"Labels\":{\"rce.language\":\"%s\",\"rce.aliases\":\"c# a/b %s\",\"rce.main\":\"m\","
                 "\"rce.run\":\"[\\\"x\\\"]\"}}]", name, name, name);
        json_t *images = json_loads(json, 0, NULL);
        assert(images);
        struct lang_table *t = lang_table_from_images(images, "rce/");
        assert(t && t->n == (over ? 0u : 1u));
        if (!over) {
            assert(lang_table_find(t, "c#") && !lang_table_find(t, "a/b"));    /* '/' is no alias */
            assert(t->langs[0].n_aliases == 1);
        }
        lang_table_free(t);
        json_decref(images);
    }
}

int main(void)
{
    RUN(test_table_from_labels);
    RUN(test_keep_subset);
    RUN(test_describe_for_node_json);
    RUN(test_registry_copies);
    RUN(test_registry_names);
    RUN(test_name_rules);
    return REPORT("test_lang");
}
