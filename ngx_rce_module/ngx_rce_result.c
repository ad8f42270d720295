
/*
 * A message off the reply channel, read: a result JSON of the node's, its
 * job's id, and whether it can be answered as it is.  A message that cannot
 * be read but whose id can still be made out is answered IE by the job: an
 * engine fault must not wait out the deadline.
 */


#include "ngx_rce_result.h"


static ngx_int_t ngx_rce_result_id(const char *message, size_t len,
    ngx_str_t *id);


ngx_int_t
ngx_rce_result_read(const char *message, size_t len, ngx_rce_result_t *res)
{
    json_t        *id;
    json_error_t   err;

    res->json = NULL;
    res->why = NULL;
    res->event = 0;
    res->id.len = 0;
    res->id.data = NULL;

    if (len > RCE_RESULT_MAX_BYTES) {
        res->why = "larger than RCE_RESULT_MAX_BYTES";   /* not read at all */

    } else {
        /* output travels as text when it is UTF-8, and NUL is UTF-8 */
        res->json = json_loadb(message, len, JSON_ALLOW_NUL, &err);

        if (res->json == NULL) {
            ngx_memcpy(res->text, err.text, sizeof(res->text));
            res->text[sizeof(res->text) - 1] = '\0';
            res->why = res->text;
        }
    }

    id = json_object_get(res->json, RCE_RES_ID);

    if (json_is_string(id) && json_string_length(id) > 0) {
        res->id.data = (u_char *) json_string_value(id);
        res->id.len = json_string_length(id);

    } else if (ngx_rce_result_id(message, len, &res->id) != NGX_OK) {
        json_decref(res->json);
        res->json = NULL;
        res->why = (res->why == NULL) ? "no id" : res->why;
        return NGX_DECLINED;
    }

    if (json_is_string(json_object_get(res->json, RCE_EVENT_KIND))) {
        /* an event: a result never has this field */
        res->event = 1;

    } else if (res->json != NULL
               && !json_is_string(json_object_get(res->json, RCE_RES_STATUS)))
    {
        res->why = "no verdict";
    }

    return NGX_OK;
}


/* the id of a message that is not JSON, if its "id" field can be made out */
static ngx_int_t
ngx_rce_result_id(const char *message, size_t len, ngx_str_t *id)
{
    static const char  field[] = "\"" RCE_RES_ID "\":\"";

    u_char  *p, *end, *last;

    end = (u_char *) message + len;
    p = memmem(message, len, field, sizeof(field) - 1);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    p += sizeof(field) - 1;

    for (last = p; last < end && *last != '"'; last++) {
        if (!rce_name_char(*last) || last - p > 64) {
            return NGX_DECLINED;
        }
    }

    if (last == end || last == p) {
        return NGX_DECLINED;
    }

    id->data = p;
    id->len = last - p;

    return NGX_OK;
}
