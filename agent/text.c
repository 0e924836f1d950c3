/*
 * UTF-8 checked as RFC 3629, section 4, defines it; bad input replaced as
 * the Unicode Standard's "U+FFFD substitution of maximal subparts" (chapter
 * 3, Best Practices for Using U+FFFD).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* The bounds of the second byte after a lead byte (RFC 3629's table), and
 * how many bytes the sequence has; 0: not a lead byte. */
static size_t
lead(unsigned char b, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80, *hi = 0xbf;
	if (b >= 0xc2 && b <= 0xdf)
		return 2;
	if (b >= 0xe0 && b <= 0xef) {
		if (b == 0xe0)
			*lo = 0xa0; /* no overlong forms */
		else if (b == 0xed)
			*hi = 0x9f; /* no surrogates */
		return 3;
	}
	if (b >= 0xf0 && b <= 0xf4) {
		if (b == 0xf0)
			*lo = 0x90;
		else if (b == 0xf4)
			*hi = 0x8f; /* nothing past U+10FFFF */
		return 4;
	}
	return 0;
}

/* The valid bytes of the sequence at s: its whole length when valid, else
 * the maximal subpart's (at least 1), with *valid false. */
static size_t
scan(const unsigned char *s, bool *valid)
{
	unsigned char lo, hi;
	size_t n, i;

	*valid = true;
	if (s[0] < 0x80)
		return 1;
	n = lead(s[0], &lo, &hi);
	if (n == 0) {
		*valid = false;
		return 1;
	}
	for (i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi) {
			*valid = false;
			return i;
		}
		lo = 0x80, hi = 0xbf;
	}
	return n;
}

size_t
txt_char(const unsigned char *s, unsigned long *cp)
{
	bool valid;
	size_t n;

	if (!s[0])
		return 0;
	n = scan(s, &valid);
	if (!valid)
		return 0;
	if (n == 1)
		*cp = s[0];
	else if (n == 2)
		*cp = ((unsigned long)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	else if (n == 3)
		*cp = ((unsigned long)(s[0] & 0x0f) << 12) | ((unsigned long)(s[1] & 0x3f) << 6) |
		      (s[2] & 0x3f);
	else
		*cp = ((unsigned long)(s[0] & 0x07) << 18) | ((unsigned long)(s[1] & 0x3f) << 12) |
		      ((unsigned long)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
	return n;
}

static bool
is_control(unsigned long cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
	       cp == 0x2029;
}

char *
txt_clean(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cap, len = 0;
	char *out;

	if (!s)
		return NULL;
	/* each bad byte may become 3 (U+FFFD) */
	cap = strlen(s) * 3 + 1;
	out = malloc(cap);
	if (!out)
		abort();
	while (*p) {
		unsigned long cp;
		size_t n = txt_char(p, &cp);
		const char *add;
		size_t add_len;

		if (n == 0) {
			bool valid;
			n = scan(p, &valid);
			add = "\xef\xbf\xbd", add_len = 3;
		} else if (is_control(cp)) {
			add = " ", add_len = 1;
		} else {
			add = (const char *)p, add_len = n;
		}
		if (max && len + add_len > max)
			break;
		memcpy(out + len, add, add_len);
		len += add_len;
		p += n;
	}
	out[len] = '\0';
	return out;
}

size_t
txt_cut(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0;

	while (p[len]) {
		bool valid;
		size_t n = scan(p + len, &valid);
		if (len + n > max)
			break;
		len += n;
	}
	return len;
}

int
txt_is_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned long cp;
		size_t n = txt_char(p, &cp);
		if (n == 0 || is_control(cp))
			return 0;
		p += n;
	}
	return 1;
}
