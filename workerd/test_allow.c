/* Where callbacks may go (common/rce_allow.c): the list's syntax, which hosts it lists, and
 * which resolved addresses a listed name may lead to. */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "delivery.h"
#include "rce_allow.h"
#include "test.h"

static rce_allow_t allow;
static char err[256];

/* Whether text (an address) may be connected to under list; *why says why not. */
static int reachable(const char *list, const char *text, const char **why)
{
    unsigned char addr[16];
    int family = strchr(text, ':') ? AF_INET6 : AF_INET;
    assert(rce_allow_parse(&allow, list, err, sizeof err) == 0);
    assert(inet_pton(family, text, addr) == 1);
    *why = "";
    return rce_allow_address(&allow, family, addr, why);
}

static void test_allow_parse(void)
{
    assert(rce_allow_parse(&allow, "", err, sizeof err) == 0 && rce_allow_empty(&allow));
    assert(rce_allow_parse(&allow, " , ,", err, sizeof err) == 0 && rce_allow_empty(&allow));
    assert(rce_allow_parse(&allow, "Hooks.Example.com, *.corp.example 10.1.0.0/16,::1,2001:db8::/32", err,
                           sizeof err) == 0);
    assert(allow.n_names == 2 && allow.n_nets == 3);
    assert(STREQ(allow.names[0], "hooks.example.com"));
    const char *bad[] = { "bad_name!", "*.", "*x.com", "10.0.0.0/33", "::/129", "1.2.3.4/", "-x.com", "a b/c" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert(rce_allow_parse(&allow, bad[i], err, sizeof err) == -1 && strlen(err) > 0);
}

static void test_allow_host(void)
{
    assert(rce_allow_parse(&allow, "hooks.example.com,*.corp.example,10.1.0.0/16,::1", err, sizeof err) == 0);
    assert(rce_allow_host(&allow, "hooks.example.com") == 2);
    assert(rce_allow_host(&allow, "HOOKS.example.com.") == 2);      /* case, the root's dot */
    assert(rce_allow_host(&allow, "evil-hooks.example.com") == 0);
    assert(rce_allow_host(&allow, "hooks.example.com.evil") == 0);
    assert(rce_allow_host(&allow, "a.corp.example") == 2);
    assert(rce_allow_host(&allow, "a.b.corp.example") == 2);
    assert(rce_allow_host(&allow, "corp.example") == 0);            /* the wildcard is for subdomains */
    assert(rce_allow_host(&allow, "xcorp.example") == 0);
    assert(rce_allow_host(&allow, "10.1.200.3") == 1);
    assert(rce_allow_host(&allow, "10.2.0.1") == 0);
    assert(rce_allow_host(&allow, "::1") == 1);
    assert(rce_allow_host(&allow, "::ffff:10.1.0.9") == 1);         /* IPv4-mapped is its IPv4 */
    assert(rce_allow_host(&allow, "127.0.0.1") == 0);
    assert(rce_allow_host(&allow, "169.254.169.254") == 0);
}

static void test_allow_address(void)
{
    const char *why;
    assert(reachable("hooks.example.com", "93.184.216.34", &why) == 1);
    assert(reachable("hooks.example.com", "2606:2800:220:1::1", &why) == 1);
    const char *special[][2] = {
        { "127.0.0.1", "loopback" }, { "169.254.169.254", "link-local (cloud metadata)" },
        { "10.0.0.5", "private" }, { "172.20.1.1", "private" }, { "192.168.1.1", "private" },
        { "100.64.0.1", "shared (carrier-grade NAT)" }, { "0.0.0.0", "unspecified" },
        { "224.0.0.1", "multicast" }, { "255.255.255.255", "reserved" }, { "::1", "loopback" },
        { "::", "reserved" }, { "fe80::1", "link-local" }, { "fd00:ec2::254", "private (unique local)" },
        { "ff02::1", "multicast" }, { "::ffff:127.0.0.1", "loopback" }, { "::ffff:169.254.169.254",
        "link-local (cloud metadata)" }, { "64:ff9b::a9fe:a9fe", "NAT64" },
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        assert(reachable("hooks.example.com", special[i][0], &why) == 0);
        assert(STREQ(why, special[i][1]));
    }
    /* listed explicitly, a special range is reachable */
    assert(reachable("localhost,127.0.0.0/8", "127.0.0.1", &why) == 1);
    assert(reachable("localhost,127.0.0.1", "::ffff:127.0.0.1", &why) == 1);
    assert(reachable("localhost,127.0.0.1", "127.0.0.2", &why) == 0);
    assert(reachable("x.internal,10.0.0.0/8", "10.200.0.1", &why) == 1);
}

static void test_delivery_sign(void)
{
    /* HMAC-SHA256("key", "1700000000.{}"), as `printf '1700000000.{}' | openssl dgst -sha256 -hmac key` */
    char out[160];
    assert(delivery_sign((const unsigned char *)"key", 3, 1700000000LL, "{}", 2, out, sizeof out) == 0);
    assert(STREQ(out, "t=1700000000,sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"));
    assert(delivery_sign((const unsigned char *)"key", 3, 1700000000LL, "{}", 2, out, 40) == -1);
}

int main(void)
{
    RUN(test_allow_parse);
    RUN(test_allow_host);
    RUN(test_allow_address);
    RUN(test_delivery_sign);
    return REPORT("test_allow");
}
