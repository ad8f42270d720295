/* libFuzzer target: the callback destinations list (common/rce_allow.c), as an operator types it
 * for --callback-allow and a client's URL host meets it. The input is "<list>\n<host>\n<16 bytes>":
 * any list parses or is refused with a message; a parsed list says something of any host and any
 * address, and what it says of a listed address literal agrees with what it says of that address. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rce_allow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rce_allow_t allow;
    char *text = malloc(size + 1), err[256], host[300];
    unsigned char addr[16] = { 0 };
    const char *why;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    if (nl)
        *nl = '\0';
    err[0] = '\0';
    if (rce_allow_parse(&allow, text, err, sizeof err) != 0) {
        if (!err[0])
            abort();                /* a refusal says why */
        free(text);
        return 0;
    }
    snprintf(host, sizeof host, "%s", nl ? nl + 1 : "");
    char *end = strchr(host, '\n');
    if (end)
        *end = '\0';
    int kind = rce_allow_host(&allow, host);
    if (kind < 0 || kind > 2)
        abort();
    int family = strchr(host, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, host, addr) == 1) {
        why = NULL;
        if (kind == 2 || (kind == 1 && !rce_allow_address(&allow, family, addr, &why)))
            abort();                /* a listed literal is reachable, and never taken for a name */
    }
    size_t used = (nl ? (size_t)(nl - text) + 1 : size) + strlen(host) + 1;
    if (used + 16 <= size) {
        memcpy(addr, data + used, 16);
        why = NULL;
        if (!rce_allow_address(&allow, AF_INET6, addr, &why) && !why)
            abort();                /* a refused address is named */
        why = NULL;
        if (!rce_allow_address(&allow, AF_INET, addr, &why) && !why)
            abort();
    }
    free(text);
    return 0;
}
