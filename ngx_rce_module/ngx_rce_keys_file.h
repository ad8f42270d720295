
/*
 * The API key file, read (no nginx request, no nginx core function: unit
 * tested and fuzzed): "<name> <key>" a line, blank lines and comments
 * skipped.  ngx_rce_keys.c hashes the keys and checks that names and keys
 * are unique.
 */


#ifndef _NGX_RCE_KEYS_FILE_H_INCLUDED_
#define _NGX_RCE_KEYS_FILE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_RCE_KEYS_NAME_MAX     64
#define NGX_RCE_KEYS_KEY_MIN      16
#define NGX_RCE_KEYS_KEY_MAX      256


/* one line's name and key, pointing into the text */
typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   key;
    ngx_uint_t                  line;        /* from 1 */
} ngx_rce_keys_entry_t;


ngx_int_t ngx_rce_keys_file_next(u_char **pos, u_char *last,
    ngx_uint_t *line, ngx_rce_keys_entry_t *entry, const char **why);


#endif /* _NGX_RCE_KEYS_FILE_H_INCLUDED_ */
