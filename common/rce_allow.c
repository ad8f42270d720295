/*
 * The callback destinations list (rce_allow.h): parsing, and the checks of a URL's host and
 * of the addresses a listed name resolves to.
 */

#include "rce_allow.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>


typedef struct {
    const char  *text;              /* the range, parsed on use */
    const char  *kind;              /* what an address inside it is */
} rce_allow_special_t;


/* never connected to unless listed (RFC 6890's special-purpose registries, the parts a
 * callback could be turned against: this host, its networks and the cloud's metadata) */
static const rce_allow_special_t  rce_allow_special4[] = {
    { "0.0.0.0/8",          "unspecified" },
    { "10.0.0.0/8",         "private" },
    { "100.64.0.0/10",      "shared (carrier-grade NAT)" },
    { "127.0.0.0/8",        "loopback" },
    { "169.254.0.0/16",     "link-local (cloud metadata)" },
    { "172.16.0.0/12",      "private" },
    { "192.0.0.0/24",       "IETF protocol assignment" },
    { "192.168.0.0/16",     "private" },
    { "198.18.0.0/15",      "benchmarking" },
    { "224.0.0.0/4",        "multicast" },
    { "240.0.0.0/4",        "reserved" }
};

static const rce_allow_special_t  rce_allow_special6[] = {
    { "::1/128",            "loopback" },
    { "64:ff9b::/96",       "NAT64" },
    { "64:ff9b:1::/48",     "NAT64 (local use)" },
    { "::/8",               "reserved" },
    { "fc00::/7",           "private (unique local)" },
    { "fe80::/10",          "link-local" },
    { "fec0::/10",          "site-local" },
    { "ff00::/8",           "multicast" }
};


static int rce_allow_parse_net(rce_allow_net_t *net, const char *text);
static int rce_allow_in(const rce_allow_net_t *net, int family,
    const unsigned char *addr);
static const unsigned char *rce_allow_mapped(int *family,
    const unsigned char *addr);
static int rce_allow_listed(const rce_allow_t *a, int family,
    const unsigned char *addr);
static int rce_allow_special(int family, const unsigned char *addr,
    const char **why);
static int rce_allow_name_ok(const char *name);


int
rce_allow_parse(rce_allow_t *a, const char *list, char *err, size_t errlen)
{
    char        entry[RCE_ALLOW_NAME_MAX + 2];
    const char *p, *end;
    size_t      len, i;

    memset(a, 0, sizeof(*a));

    for (p = list; *p != '\0'; p = end) {
        while (*p == ',' || isspace((unsigned char) *p)) {
            p++;
        }

        for (end = p; *end != '\0' && *end != ',' && !isspace((unsigned char) *end); end++) {
            /* void */
        }

        len = (size_t) (end - p);
        if (len == 0) {
            continue;
        }

        if (len > RCE_ALLOW_NAME_MAX) {
            snprintf(err, errlen, "an entry of %zu characters (at most %d)", len,
                     RCE_ALLOW_NAME_MAX);
            return -1;
        }

        memcpy(entry, p, len);
        entry[len] = '\0';

        if (a->n_names + a->n_nets == RCE_ALLOW_MAX) {
            snprintf(err, errlen, "more than %d entries", RCE_ALLOW_MAX);
            return -1;
        }

        if (rce_allow_parse_net(&a->nets[a->n_nets], entry) == 0) {
            a->n_nets++;
            continue;
        }

        for (i = 0; i < len; i++) {
            entry[i] = (char) tolower((unsigned char) entry[i]);
        }

        if (!rce_allow_name_ok(entry)) {
            snprintf(err, errlen, "\"%s\" is neither a host name, a *.domain nor an "
                     "address range", entry);
            return -1;
        }

        memcpy(a->names[a->n_names++], entry, len + 1);
    }

    return 0;
}


int
rce_allow_empty(const rce_allow_t *a)
{
    return a->n_names == 0 && a->n_nets == 0;
}


int
rce_allow_host(const rce_allow_t *a, const char *host)
{
    unsigned char  addr[16];
    size_t         i, len, suffix;
    const char    *name;

    if (inet_pton(AF_INET, host, addr) == 1) {
        return rce_allow_listed(a, AF_INET, addr);
    }

    if (inet_pton(AF_INET6, host, addr) == 1) {
        return rce_allow_listed(a, AF_INET6, addr);
    }

    len = strlen(host);
    if (len > 0 && host[len - 1] == '.') {
        len--;                          /* the root's dot: the same name */
    }

    for (i = 0; i < a->n_names; i++) {
        name = a->names[i];

        if (name[0] == '*') {
            /* "*.example.com": a name that ends in ".example.com" */
            suffix = strlen(name) - 1;
            if (len > suffix
                && strncasecmp(host + len - suffix, name + 1, suffix) == 0)
            {
                return 2;
            }

            continue;
        }

        if (strlen(name) == len && strncasecmp(host, name, len) == 0) {
            return 2;
        }
    }

    return 0;
}


int
rce_allow_address(const rce_allow_t *a, int family, const unsigned char *addr,
    const char **why)
{
    if (rce_allow_listed(a, family, addr)) {
        return 1;
    }

    return !rce_allow_special(family, addr, why);
}


/* "a.b.c.d", "a.b.c.d/n", an IPv6 address with or without "/n": 0, or -1 if it is none */
static int
rce_allow_parse_net(rce_allow_net_t *net, const char *text)
{
    char   buf[64], *slash, *end;
    long   bits;
    int    max;

    if (strlen(text) >= sizeof(buf)) {
        return -1;
    }

    strcpy(buf, text);
    slash = strchr(buf, '/');
    if (slash != NULL) {
        *slash = '\0';
    }

    memset(net, 0, sizeof(*net));

    if (inet_pton(AF_INET, buf, net->addr) == 1) {
        net->family = AF_INET;
        max = 32;

    } else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
        net->family = AF_INET6;
        max = 128;

    } else {
        return -1;
    }

    net->bits = max;

    if (slash != NULL) {
        bits = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > max) {
            return -1;
        }

        net->bits = (int) bits;
    }

    return 0;
}


static int
rce_allow_in(const rce_allow_net_t *net, int family, const unsigned char *addr)
{
    int            whole, rest;
    unsigned char  mask;

    if (net->family != family) {
        return 0;
    }

    whole = net->bits / 8;
    rest = net->bits % 8;

    if (memcmp(net->addr, addr, (size_t) whole) != 0) {
        return 0;
    }

    if (rest == 0) {
        return 1;
    }

    mask = (unsigned char) (0xff << (8 - rest));

    return (net->addr[whole] & mask) == (addr[whole] & mask);
}


/* an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address */
static const unsigned char *
rce_allow_mapped(int *family, const unsigned char *addr)
{
    static const unsigned char  prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    if (*family == AF_INET6 && memcmp(addr, prefix, sizeof(prefix)) == 0) {
        *family = AF_INET;
        return addr + 12;
    }

    return addr;
}


static int
rce_allow_listed(const rce_allow_t *a, int family, const unsigned char *addr)
{
    size_t  i;

    addr = rce_allow_mapped(&family, addr);

    for (i = 0; i < a->n_nets; i++) {
        if (rce_allow_in(&a->nets[i], family, addr)) {
            return 1;
        }
    }

    return 0;
}


static int
rce_allow_special(int family, const unsigned char *addr, const char **why)
{
    const rce_allow_special_t  *table;
    rce_allow_net_t             net;
    size_t                      i, n;

    addr = rce_allow_mapped(&family, addr);

    table = family == AF_INET ? rce_allow_special4 : rce_allow_special6;
    n = family == AF_INET
        ? sizeof(rce_allow_special4) / sizeof(rce_allow_special4[0])
        : sizeof(rce_allow_special6) / sizeof(rce_allow_special6[0]);

    for (i = 0; i < n; i++) {
        if (rce_allow_parse_net(&net, table[i].text) == 0
            && rce_allow_in(&net, family, addr))
        {
            *why = table[i].kind;
            return 1;
        }
    }

    return 0;
}


/* a DNS name of letters, digits, hyphens and dots, or "*." and one */
static int
rce_allow_name_ok(const char *name)
{
    const char  *p;

    if (name[0] == '*') {
        if (name[1] != '.' || name[2] == '\0') {
            return 0;
        }

        name += 2;
    }

    if (name[0] == '.' || name[0] == '-' || name[0] == '\0') {
        return 0;
    }

    for (p = name; *p != '\0'; p++) {
        if (!isalnum((unsigned char) *p) && *p != '-' && *p != '.') {
            return 0;
        }
    }

    return 1;
}
