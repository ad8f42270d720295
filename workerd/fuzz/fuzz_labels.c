/* libFuzzer target: the language table workerd builds from the engine's image list (lang.c):
 * any JSON in place of GET /images/json, labels and all; then every lookup and description
 * a node makes of it. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *images = json_loadb((const char *)data, size, 0, NULL);
    struct lang_table *t = images ? lang_table_from_images(images, "rce/") : NULL;
    if (t) {
        json_t *languages = json_array(), *aliases = json_object();
        lang_table_describe(t, languages, aliases);
        for (size_t i = 0; i < t->n; i++) {
            if (lang_table_find(t, t->langs[i].name) != &t->langs[i])
                abort();    /* a canonical name finds its own language */
            for (size_t k = 0; k < t->langs[i].n_aliases; k++)
                if (!lang_table_find(t, t->langs[i].aliases[k]))
                    abort();
            struct lang *copy = lang_dup(&t->langs[i]);
            lang_free(copy);
        }
        json_decref(languages);
        json_decref(aliases);
        lang_table_free(t);
    }
    json_decref(images);
    return 0;
}
