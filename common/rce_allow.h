/*
 * Where asynchronous jobs' callbacks may go (docs/api.md, "Callbacks"): the operator's list
 * of host names and address ranges.  Shared by the gateway, which refuses a callback_url
 * whose host is not listed, and workerd, which also checks every address a listed name
 * resolves to before it connects.  The SSRF rules: nothing is reachable unless listed; a
 * listed name that resolves to a loopback, link-local (cloud metadata), private or other
 * special-purpose address is refused unless that address's range is listed too.
 */

#ifndef RCE_ALLOW_H
#define RCE_ALLOW_H

#include <stddef.h>

#define RCE_ALLOW_MAX       32          /* entries in a list */
#define RCE_ALLOW_NAME_MAX  253         /* a DNS name's longest text form */

typedef struct {
    int              family;            /* AF_INET or AF_INET6 */
    unsigned char    addr[16];          /* network byte order; 4 bytes for AF_INET */
    int              bits;              /* prefix length */
} rce_allow_net_t;

typedef struct {
    size_t           n_names;
    size_t           n_nets;
    char             names[RCE_ALLOW_MAX][RCE_ALLOW_NAME_MAX + 1];  /* lower case; "*.x" */
    rce_allow_net_t  nets[RCE_ALLOW_MAX];
} rce_allow_t;

/*
 * Parses list: entries separated by commas or white space, each a host name
 * ("hooks.example.com"), a wildcard for a domain's subdomains ("*.example.com"), an address
 * range ("10.1.0.0/16", "2001:db8::/32") or one address ("127.0.0.1", "::1").  An empty list
 * allows nothing.  Returns 0, or -1 with a message naming the bad entry in err.
 */
int rce_allow_parse(rce_allow_t *a, const char *list, char *err, size_t errlen);

/* 1 if the list allows nothing at all (callbacks are off). */
int rce_allow_empty(const rce_allow_t *a);

/*
 * Whether a URL's host (an IPv6 literal without its brackets) is listed: a name equal to a
 * listed one (case aside) or under a listed wildcard, or an address literal inside a listed
 * range.  Returns 1 for a listed address literal (no resolving: connect to it), 2 for a
 * listed name (resolve it, then check each address with rce_allow_address), 0 if not listed.
 */
int rce_allow_host(const rce_allow_t *a, const char *host);

/*
 * Whether a listed name's resolved address may be connected to: 1 if it is inside a listed
 * range or outside every special-purpose range; 0 otherwise, with *why naming its kind
 * ("loopback", "link-local", ...).  family is AF_INET (addr: 4 bytes) or AF_INET6 (16).
 */
int rce_allow_address(const rce_allow_t *a, int family, const unsigned char *addr,
    const char **why);

#endif
