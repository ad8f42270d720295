
/*
 * The API key file, read: a line is "<name> <key>", separated by blanks
 * (spaces or tabs); blank lines and lines whose first visible byte is '#'
 * say nothing; a line may end in CRLF.  A name: a letter, then letters,
 * digits, '.', '_' or '-', at most NGX_RCE_KEYS_NAME_MAX bytes (never a
 * ':' nor a leading digit: a name is never mistaken for an address); a key:
 * NGX_RCE_KEYS_KEY_MIN to NGX_RCE_KEYS_KEY_MAX visible ASCII bytes.  No
 * nginx core function is used: the unit test and the fuzz target link it
 * alone.
 */


#include "ngx_rce_keys_file.h"


static u_char *ngx_rce_keys_file_skip(u_char *p, u_char *end);
static u_char *ngx_rce_keys_file_word(u_char *p, u_char *end);
static const char *ngx_rce_keys_file_check(ngx_rce_keys_entry_t *entry);


/*
 * The entry of the next line that has one, from *pos to last: NGX_OK; at
 * the end, NGX_DONE; a line that is wrong, NGX_ERROR with *why (it never
 * quotes the line: a key may be in it).  *line counts the lines read.
 */
ngx_int_t
ngx_rce_keys_file_next(u_char **pos, u_char *last, ngx_uint_t *line,
    ngx_rce_keys_entry_t *entry, const char **why)
{
    u_char  *p, *eol, *end;

    for (p = *pos; p < last; p = eol + 1) {
        (*line)++;

        for (eol = p; eol < last && *eol != '\n'; eol++) {
            /* void */
        }

        *pos = (eol < last) ? eol + 1 : last;

        end = eol;
        if (end > p && end[-1] == '\r') {
            end--;
        }

        p = ngx_rce_keys_file_skip(p, end);

        if (p == end || *p == '#') {
            if (eol == last) {
                break;
            }

            continue;
        }

        entry->line = *line;
        entry->name.data = p;
        p = ngx_rce_keys_file_word(p, end);
        entry->name.len = p - entry->name.data;

        p = ngx_rce_keys_file_skip(p, end);

        entry->key.data = p;
        p = ngx_rce_keys_file_word(p, end);
        entry->key.len = p - entry->key.data;

        p = ngx_rce_keys_file_skip(p, end);

        if (entry->key.len == 0) {
            *why = "a line is \"<name> <key>\": the key is missing";
            return NGX_ERROR;
        }

        if (p != end) {
            *why = "a line is \"<name> <key>\": more follows the key";
            return NGX_ERROR;
        }

        *why = ngx_rce_keys_file_check(entry);

        return (*why == NULL) ? NGX_OK : NGX_ERROR;
    }

    *pos = last;

    return NGX_DONE;
}


static u_char *
ngx_rce_keys_file_skip(u_char *p, u_char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p;
}


static u_char *
ngx_rce_keys_file_word(u_char *p, u_char *end)
{
    while (p < end && *p != ' ' && *p != '\t') {
        p++;
    }

    return p;
}


/* NULL, or why the entry's name or key is not one */
static const char *
ngx_rce_keys_file_check(ngx_rce_keys_entry_t *entry)
{
    u_char  *n, *k;
    size_t   i;

    n = entry->name.data;
    k = entry->key.data;

    if (entry->name.len > NGX_RCE_KEYS_NAME_MAX
        || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z')))
    {
        return "a name begins with a letter and has at most 64 bytes";
    }

    for (i = 1; i < entry->name.len; i++) {
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z')
              || (n[i] >= '0' && n[i] <= '9')
              || n[i] == '.' || n[i] == '_' || n[i] == '-'))
        {
            return "a name has letters, digits, '.', '_' and '-' only";
        }
    }

    if (entry->key.len < NGX_RCE_KEYS_KEY_MIN
        || entry->key.len > NGX_RCE_KEYS_KEY_MAX)
    {
        return "a key has 16 to 256 bytes";
    }

    for (i = 0; i < entry->key.len; i++) {
        if (k[i] < 0x21 || k[i] > 0x7e) {
            return "a key is visible ASCII";
        }
    }

    return NULL;
}
