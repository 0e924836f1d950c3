#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "util.h"

static int
to16(const char *s, unsigned char out[16], bool *ret_v4)
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		*ret_v4 = true;
		return 0;
	}
	*ret_v4 = false;
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

int
cidr_parse(const char *s, struct cidr_list *ret, char **ret_bad)
{
	char *copy = xstrdup(s), *save = NULL;

	memset(ret, 0, sizeof(*ret));
	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		struct cidr c;
		char *slash = strchr(t, '/'), *end;
		bool v4;
		long bits;

		if (slash)
			*slash = '\0';
		if (to16(t, c.addr, &v4) < 0)
			goto bad;
		bits = v4 ? 32 : 128;
		if (slash) {
			bits = strtol(slash + 1, &end, 10);
			if (*end || end == slash + 1 || bits < 0 || bits > (v4 ? 32 : 128))
				goto bad;
		}
		c.bits = (int)bits + (v4 ? 96 : 0);
		ret->v = xrealloc(ret->v, (ret->n + 1) * sizeof(*ret->v));
		ret->v[ret->n++] = c;
		continue;
	bad:
		if (slash)
			*slash = '/';
		*ret_bad = xstrdup(t);
		free(copy);
		cidr_clear(ret);
		return -1;
	}
	free(copy);
	return 0;
}

bool
cidr_match(const struct cidr_list *l, const char *addr)
{
	unsigned char a[16];
	bool v4;

	if (!addr || to16(addr, a, &v4) < 0)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		int bits = l->v[i].bits, k = 0;
		for (; bits >= 8; k++, bits -= 8)
			if (a[k] != l->v[i].addr[k])
				break;
		if (bits >= 8)
			continue;
		if (bits == 0 || ((a[k] ^ l->v[i].addr[k]) & (0xff << (8 - bits)) & 0xff) == 0)
			return true;
	}
	return false;
}

void
cidr_clear(struct cidr_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

const char *
cidr_client(const struct cidr_list *trusted, const char *peer, const char *xff, char *buf,
	    size_t len)
{
	unsigned char addr[16];
	bool v4;

	snprintf(buf, len, "%s", peer ? peer : "");
	if (!xff || !trusted->n || !cidr_match(trusted, buf))
		return buf;
	/* from the right: each trusted hop vouches for the one before it */
	const char *end = xff + strlen(xff);
	while (end > xff) {
		const char *start = end;
		while (start > xff && start[-1] != ',')
			start--;
		const char *a = start, *b = end;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		snprintf(buf, len, "%.*s", (int)(b - a), a);
		/* what a client or a hop put there is not an address (or was
		 * cut to fit): no one is named, and allow_from admits no one */
		if ((size_t)(b - a) >= len || to16(buf, addr, &v4) < 0) {
			snprintf(buf, len, "%s", CIDR_BAD_CLIENT);
			return buf;
		}
		if (!cidr_match(trusted, buf))
			return buf;
		end = start > xff ? start - 1 : xff;
	}
	return buf;
}
