
/*
 * Unit test of ngx_rce_keys_file.c, without nginx (make check): the API
 * key file's lines, comments, line ends and what is refused, with the line
 * it is on.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>

#include "../ngx_rce_keys_file.h"


#define KEY  "0123456789abcdef0123"


static int  failed;


static void
ok(int cond, const char *what)
{
    printf("%s - %s\n", cond ? "ok" : "not ok", what);
    failed += !cond;
}


static int
eq(ngx_str_t *s, const char *text)
{
    return s->len == strlen(text) && memcmp(s->data, text, s->len) == 0;
}


/* the file's entries, "name=key;" each, or "ERROR <line>: <why>" */
static const char *
read_all(const char *text)
{
    static char            out[4096];
    u_char                *pos, *last;
    ngx_uint_t             line;
    ngx_rce_keys_entry_t   e;
    const char            *why;
    ngx_int_t              rc;
    size_t                 n;

    pos = (u_char *) text;
    last = pos + strlen(text);
    line = 0;
    n = 0;
    out[0] = '\0';

    for ( ;; ) {
        rc = ngx_rce_keys_file_next(&pos, last, &line, &e, &why);

        if (rc == NGX_DONE) {
            return out;
        }

        if (rc != NGX_OK) {
            snprintf(out, sizeof(out), "ERROR %lu: %s", (unsigned long) line,
                     why);
            return out;
        }

        n += snprintf(out + n, sizeof(out) - n, "%.*s@%lu=%.*s;",
                      (int) e.name.len, e.name.data, (unsigned long) e.line,
                      (int) e.key.len, e.key.data);
    }
}


int
main(void)
{
    ngx_rce_keys_entry_t   e;
    u_char                *pos, text[] = "alice " KEY;
    ngx_uint_t             line;
    const char            *why;

    line = 0;
    pos = text;
    ok(ngx_rce_keys_file_next(&pos, text + sizeof(text) - 1, &line, &e, &why)
       == NGX_OK && eq(&e.name, "alice") && eq(&e.key, KEY) && e.line == 1,
       "one line without a newline: its name and key");
    ok(ngx_rce_keys_file_next(&pos, text + sizeof(text) - 1, &line, &e, &why)
       == NGX_DONE, "... then the end");

    ok(strcmp(read_all(""), "") == 0, "an empty file: no entry");
    ok(strcmp(read_all("# keys\n\n   \t\n  # indented\n"), "") == 0,
       "comments and blank lines: no entry");
    ok(strcmp(read_all("# keys\nalice " KEY "\n\nbob\t\t" KEY "x\r\n"
                       "  carol.b_c-1   " KEY "  \n"),
              "alice@2=" KEY ";bob@4=" KEY "x;carol.b_c-1@5=" KEY ";") == 0,
       "entries with their lines: tabs, CRLF, blanks around");
    ok(strcmp(read_all("alice " KEY "\r\n\r\n"), "alice@1=" KEY ";") == 0,
       "a blank CRLF line");
    ok(strcmp(read_all("A " KEY "\n"), "A@1=" KEY ";") == 0,
       "a one-letter name");

    ok(strcmp(read_all("alice " KEY "\nbob\n"),
              "ERROR 2: a line is \"<name> <key>\": the key is missing") == 0,
       "a name alone: the key is missing, line 2");
    ok(strcmp(read_all("alice " KEY " # comment\n"),
              "ERROR 1: a line is \"<name> <key>\": more follows the key")
       == 0, "a comment after the key is more after the key");
    ok(strcmp(read_all("9lives " KEY "\n"),
              "ERROR 1: a name begins with a letter and has at most 64 bytes")
       == 0, "a name that begins with a digit");
    ok(strcmp(read_all("a:b " KEY "\n"),
              "ERROR 1: a name has letters, digits, '.', '_' and '-' only")
       == 0, "a name with ':' (it could be an address)");
    ok(strcmp(read_all("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                       "aaaaaaaaa " KEY "\n"),
              "ERROR 1: a name begins with a letter and has at most 64 bytes")
       == 0, "a name of 65 bytes");
    ok(strcmp(read_all("alice 0123456789abcde\n"),
              "ERROR 1: a key has 16 to 256 bytes") == 0,
       "a key of 15 bytes");
    ok(strcmp(read_all("alice 0123456789abcdef\n"),
              "alice@1=0123456789abcdef;") == 0, "a key of 16 bytes");
    ok(strcmp(read_all("alice " KEY "\x01\n"),
              "ERROR 1: a key is visible ASCII") == 0,
       "a key with a control byte");
    ok(strcmp(read_all("alice " KEY "\xc3\xa9\n"),
              "ERROR 1: a key is visible ASCII") == 0,
       "a key with UTF-8");
    ok(strcmp(read_all("al\xc3\xa9 " KEY "\n"),
              "ERROR 1: a name has letters, digits, '.', '_' and '-' only")
       == 0, "a name with UTF-8");

    printf("%d failed\n", failed);

    return failed ? 1 : 0;
}
