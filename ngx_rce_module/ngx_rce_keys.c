
/*
 * API keys, "rce_api_keys <file> | off" (http, server, location; off by
 * default).  The file is read when nginx reads its configuration, so
 * "nginx -s reload" re-reads it and a file that cannot be used fails the
 * reload (the old configuration keeps serving):
 *
 *     # name  key
 *     alice   4f1c...                 one key per line, the name first
 *
 * (ngx_rce_keys_file.c reads it: the rules of names and keys are there).
 * Only the SHA-256 of each key is kept.  A request presents its key as
 * "Authorization: Bearer <key>" or "X-API-Key: <key>", or, where a browser
 * can set neither (a WebSocket), as the subprotocol "rce.key.<the key in
 * base64url>" of its Sec-WebSocket-Protocol (beside "rce", which the
 * upgrade answers: ngx_rce_ws.c); the presented key is
 * hashed and compared with every stored digest by CRYPTO_memcmp, so neither
 * its length nor its bytes show in the time taken.  A missing or unknown key
 * is 401 with WWW-Authenticate, in the access phase of the locations that
 * have keys (never of an rce_error location: it only answers refusals).
 *
 * $rce_client is who a request is: the name of its valid key where keys are
 * on, else the client's address, for limit_req_zone, limit_conn_zone, the
 * access log and rce_limit.  A name begins with a letter and holds no ':',
 * so it is never mistaken for an address.
 */


#include "ngx_rce_module.h"
#include "ngx_rce_keys_file.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>


#define NGX_RCE_KEYS_FILE_MAX     (1024 * 1024)

#define NGX_RCE_KEYS_CHALLENGE    "Bearer realm=\"rce\""
#define NGX_RCE_KEYS_INVALID                                                  \
    "Bearer realm=\"rce\", error=\"invalid_token\""
#define NGX_RCE_KEYS_PROTOCOL     "rce.key."


typedef struct {
    ngx_str_t                   name;
    u_char                      digest[SHA256_DIGEST_LENGTH];
} ngx_rce_key_t;


struct ngx_rce_keys_s {
    ngx_str_t                   file;        /* as configured, for logs */
    ngx_array_t                 keys;        /* ngx_rce_key_t */
};


static ngx_int_t ngx_rce_keys_parse(ngx_conf_t *cf, ngx_rce_keys_t *keys,
    u_char *text, size_t len);
static ngx_int_t ngx_rce_keys_presented(ngx_http_request_t *r,
    ngx_str_t *key);
static ngx_int_t ngx_rce_keys_protocol(ngx_http_request_t *r,
    ngx_str_t *key);
static ngx_rce_key_t *ngx_rce_keys_find(ngx_rce_keys_t *keys,
    ngx_str_t *presented);
static ngx_int_t ngx_rce_keys_client_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_rce_keys_challenge = ngx_string(NGX_RCE_KEYS_CHALLENGE);
static ngx_str_t  ngx_rce_keys_invalid = ngx_string(NGX_RCE_KEYS_INVALID);
static ngx_str_t  ngx_rce_keys_variable = ngx_string("rce_client");


/* rce_api_keys <file> | off */
char *
ngx_rce_keys_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rce_loc_conf_t  *rlcf = conf;

    ngx_str_t        *value, file;
    ngx_rce_keys_t   *keys;
    ngx_file_info_t   fi;
    ngx_fd_t          fd;
    ssize_t           n;
    size_t            size;
    u_char           *text;
    ngx_int_t         rc;

    if (rlcf->keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        rlcf->keys = NULL;
        return NGX_CONF_OK;
    }

    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"rce_api_keys\": cannot open the key file "
                           "\"%V\"", &file);
        return NGX_CONF_ERROR;
    }

    text = NULL;
    size = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"rce_api_keys\": cannot stat \"%V\"", &file);
        goto failed;
    }

    size = (size_t) ngx_file_size(&fi);

    if (size > NGX_RCE_KEYS_FILE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"rce_api_keys\": the key file \"%V\" is larger "
                           "than 1m", &file);
        goto failed;
    }

    text = ngx_alloc(size + 1, cf->log);
    if (text == NULL) {
        goto failed;
    }

    n = ngx_read_fd(fd, text, size);
    if (n == -1 || (size_t) n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"rce_api_keys\": cannot read \"%V\"", &file);
        goto failed;
    }

    ngx_close_file(fd);
    fd = NGX_INVALID_FILE;

    keys = ngx_pcalloc(cf->pool, sizeof(ngx_rce_keys_t));
    if (keys == NULL
        || ngx_array_init(&keys->keys, cf->pool, 8, sizeof(ngx_rce_key_t))
           != NGX_OK)
    {
        goto failed;
    }

    keys->file = file;

    rc = ngx_rce_keys_parse(cf, keys, text, size);

    /* the keys themselves are kept nowhere but in the file */
    ngx_explicit_memzero(text, size);
    ngx_free(text);

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    rlcf->keys = keys;

    return NGX_CONF_OK;

failed:

    if (fd != NGX_INVALID_FILE) {
        ngx_close_file(fd);
    }

    if (text != NULL) {
        ngx_explicit_memzero(text, size);
        ngx_free(text);
    }

    return NGX_CONF_ERROR;
}


/*
 * Each entry of the file (ngx_rce_keys_file.c reads it), its key hashed;
 * names and keys are unique.  Errors name the file and the line, never the
 * key.
 */
static ngx_int_t
ngx_rce_keys_parse(ngx_conf_t *cf, ngx_rce_keys_t *keys, u_char *text,
    size_t len)
{
    u_char                *pos;
    ngx_uint_t             line, k;
    ngx_int_t              rc;
    ngx_rce_key_t         *rk, *all;
    ngx_rce_keys_entry_t   entry;
    const char            *why;

    pos = text;
    line = 0;
    why = NULL;

    for ( ;; ) {
        rc = ngx_rce_keys_file_next(&pos, text + len, &line, &entry, &why);

        if (rc == NGX_DONE) {
            break;
        }

        if (rc != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"rce_api_keys\": \"%V\", line %ui: %s",
                               &keys->file, line, why);
            return NGX_ERROR;
        }

        rk = ngx_array_push(&keys->keys);
        if (rk == NULL) {
            return NGX_ERROR;
        }

        rk->name.len = entry.name.len;
        rk->name.data = ngx_pstrdup(cf->pool, &entry.name);
        if (rk->name.data == NULL) {
            return NGX_ERROR;
        }

        SHA256(entry.key.data, entry.key.len, rk->digest);

        all = keys->keys.elts;

        for (k = 0; k + 1 < keys->keys.nelts; k++) {
            if (all[k].name.len == rk->name.len
                && ngx_strncmp(all[k].name.data, rk->name.data,
                               rk->name.len) == 0)
            {
                why = "the name is listed twice";
            }

            if (CRYPTO_memcmp(all[k].digest, rk->digest,
                              SHA256_DIGEST_LENGTH) == 0)
            {
                why = "the key is listed twice";
            }
        }

        if (why != NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"rce_api_keys\": \"%V\", line %ui: %s",
                               &keys->file, line, why);
            return NGX_ERROR;
        }
    }

    if (keys->keys.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"rce_api_keys\": \"%V\" lists no key (to turn "
                           "keys off, \"rce_api_keys off;\")", &keys->file);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_rce_keys_add_variable(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_rce_keys_variable, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_rce_keys_client_variable;

    return NGX_OK;
}


/* $rce_client's index, for the handlers that read it */
ngx_int_t
ngx_rce_keys_init(ngx_conf_t *cf)
{
    ngx_rce_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_rce_module);

    rmcf->client_index = ngx_http_get_variable_index(cf,
                                                     &ngx_rce_keys_variable);

    return (rmcf->client_index == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


/* the access phase: 401 unless a listed key is presented */
ngx_int_t
ngx_rce_keys_access_handler(ngx_http_request_t *r)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_str_t            presented;
    ngx_int_t            rc;
    ngx_uint_t           missing;
    const char          *message;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    /* the module's routes only: static files (the playground, the OpenAPI
       document) stay open, and rce_error answers nginx's own refusals */
    if (rlcf->keys == NULL || rlcf->handler == NGX_RCE_OFF
        || rlcf->handler == NGX_RCE_ERROR || r != r->main)
    {
        return NGX_DECLINED;
    }

    missing = (ngx_rce_keys_presented(r, &presented) != NGX_OK);

    if (!missing && ngx_rce_keys_find(rlcf->keys, &presented) != NULL) {
        return NGX_DECLINED;
    }

    if (ngx_rce_add_header(r, "WWW-Authenticate",
                           missing ? &ngx_rce_keys_challenge
                                   : &ngx_rce_keys_invalid)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "rce: %s API key", missing ? "no" : "an unknown");

    message = missing ? "an API key is required: send it as "
                        "\"Authorization: Bearer <key>\" or "
                        "\"X-API-Key: <key>\" (a WebSocket: the "
                        "subprotocol \"rce.key.<base64url key>\")"
                      : "the API key is not valid";

    /* Piston's clients read its errors' "message" */
    rc = ngx_rce_refuse(r, NGX_HTTP_UNAUTHORIZED, message,
                        rlcf->handler == NGX_RCE_API_PISTON
                        ? json_pack("{s:s}", "message", message) : NULL);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * The key r presents: "Authorization: Bearer <key>", else the first
 * "X-API-Key: <key>" (an empty one is none).  NGX_DECLINED: none.
 */
static ngx_int_t
ngx_rce_keys_presented(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_table_elt_t  *h;
    u_char           *p, *last;

    h = r->headers_in.authorization;

    if (h != NULL && h->value.len > sizeof("Bearer ") - 1
        && ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1) == 0)
    {
        p = h->value.data + sizeof("Bearer ") - 1;
        last = h->value.data + h->value.len;

        while (p < last && *p == ' ') {
            p++;
        }

        while (last > p && last[-1] == ' ') {
            last--;
        }

        if (p < last) {
            key->data = p;
            key->len = last - p;
            return NGX_OK;
        }
    }

    h = ngx_rce_header_in(r, "X-API-Key");

    if (h == NULL || h->value.len == 0) {
        return ngx_rce_keys_protocol(r, key);
    }

    *key = h->value;

    return NGX_OK;
}


/*
 * The key of a WebSocket's subprotocol "rce.key.<base64url>", decoded into
 * the request's pool; NGX_DECLINED when there is none.  One that does not
 * decode, or is longer than any key, is an empty key, which no key
 * matches: the 401 says "not valid"
 */
static ngx_int_t
ngx_rce_keys_protocol(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_table_elt_t  *h;
    ngx_str_t         item, encoded;
    u_char           *p;
    size_t            prefix;

    h = ngx_rce_header_in(r, "Sec-WebSocket-Protocol");
    if (h == NULL) {
        return NGX_DECLINED;
    }

    prefix = sizeof(NGX_RCE_KEYS_PROTOCOL) - 1;
    p = h->value.data;

    while (ngx_rce_list_next(&p, h->value.data + h->value.len, &item)) {

        if (item.len <= prefix
            || ngx_strncmp(item.data, NGX_RCE_KEYS_PROTOCOL, prefix) != 0)
        {
            continue;
        }

        encoded.data = item.data + prefix;
        encoded.len = item.len - prefix;

        /* longer than any key: presented, and wrong */
        key->data = encoded.data;
        key->len = 0;

        if (encoded.len > ngx_base64_encoded_length(NGX_RCE_KEYS_KEY_MAX)) {
            return NGX_OK;
        }

        key->data = ngx_pnalloc(r->pool,
                                ngx_base64_decoded_length(encoded.len));
        if (key->data == NULL
            || ngx_decode_base64url(key, &encoded) != NGX_OK)
        {
            key->len = 0;
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * The listed key whose digest is the presented key's: every digest is
 * compared, each in constant time, so the time taken says nothing of which
 * key, if any, matched, nor of the presented key's length or bytes.
 */
static ngx_rce_key_t *
ngx_rce_keys_find(ngx_rce_keys_t *keys, ngx_str_t *presented)
{
    u_char          digest[SHA256_DIGEST_LENGTH];
    ngx_rce_key_t  *k, *found;
    ngx_uint_t      i;

    SHA256(presented->data, presented->len, digest);

    k = keys->keys.elts;
    found = NULL;

    for (i = 0; i < keys->keys.nelts; i++) {
        if (CRYPTO_memcmp(k[i].digest, digest, SHA256_DIGEST_LENGTH) == 0) {
            found = &k[i];
        }
    }

    return found;
}


/* $rce_client: the valid key's name where keys are on, else the address */
static ngx_int_t
ngx_rce_keys_client_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_rce_loc_conf_t  *rlcf;
    ngx_rce_key_t       *k;
    ngx_str_t            presented;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);
    k = NULL;

    if (rlcf->keys != NULL
        && ngx_rce_keys_presented(r, &presented) == NGX_OK)
    {
        k = ngx_rce_keys_find(rlcf->keys, &presented);
    }

    if (k != NULL) {
        v->data = k->name.data;
        v->len = k->name.len;

    } else {
        v->data = r->connection->addr_text.data;
        v->len = r->connection->addr_text.len;
    }

    /* it depends on the location's keys: an internal redirect to another
       location must read it again */
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* $rce_client of r, the string the limits count by */
ngx_int_t
ngx_rce_keys_client(ngx_http_request_t *r, ngx_str_t *client)
{
    ngx_rce_main_conf_t        *rmcf;
    ngx_http_variable_value_t  *v;

    rmcf = ngx_http_get_module_main_conf(r, ngx_rce_module);

    v = ngx_http_get_flushed_variable(r, rmcf->client_index);
    if (v == NULL || v->not_found) {
        return NGX_ERROR;
    }

    client->data = v->data;
    client->len = v->len;

    return NGX_OK;
}


/*
 * Who owns the asynchronous jobs r submits or reads: its key's name where
 * keys are on (the access phase let it in), "" where they are off
 */
ngx_int_t
ngx_rce_keys_owner(ngx_http_request_t *r, ngx_str_t *owner)
{
    ngx_rce_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rce_module);

    if (rlcf->keys == NULL) {
        ngx_str_set(owner, "");
        return NGX_OK;
    }

    return ngx_rce_keys_client(r, owner);
}
