/*
 * CIDR lists for allow_from and trust_proxy: IPv4 and IPv6, with IPv4
 * addresses also matching their IPv4-mapped IPv6 form (a listener on [::]
 * sees IPv4 peers as ::ffff:a.b.c.d).
 */
#ifndef CT_CIDR_H
#define CT_CIDR_H

#include <stdbool.h>
#include <stddef.h>

struct cidr {
	unsigned char addr[16]; /* IPv4 stored mapped: ::ffff:a.b.c.d */
	int bits;               /* prefix length over the 128-bit form */
};

struct cidr_list {
	struct cidr *v;
	size_t n;
};

/* "192.0.2.0/24, 2001:db8::/32 10.0.0.1": commas or spaces between. -1
 * with *ret_bad naming the first bad entry. */
int cidr_parse(const char *s, struct cidr_list *ret, char **ret_bad);
bool cidr_match(const struct cidr_list *l, const char *addr);
void cidr_clear(struct cidr_list *l);
/* The client: the peer, or, when the peer is a trusted proxy, the last
 * X-Forwarded-For entry that is not one; CIDR_BAD_CLIENT when that entry
 * is not an address (it matches no allow_from). Returns a pointer into
 * buf (at least 46 bytes: an IPv6 address). */
#define CIDR_BAD_CLIENT "malformed-X-Forwarded-For"
const char *cidr_client(const struct cidr_list *trusted, const char *peer, const char *xff,
			char *buf, size_t len);

#endif
