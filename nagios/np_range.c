/*
 * The grammar is small enough to parse by hand: [@][start:][end], where
 * start may be "~" and an absent end after ':' is infinity.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "np_range.h"

static int
number(const char *s, const char *end, double *ret)
{
	char buf[48], *stop;
	size_t n = (size_t)(end - s);

	/* the guidelines' numbers: [-]digits[.digits], nothing strtod also
	 * takes (space, '+', exponents, hex, inf), which perfdata parsers
	 * would refuse when the range is printed there */
	if (n == 0 || n >= sizeof(buf) || strspn(s, "-0123456789.") < n ||
	    memchr(s + 1, '-', n - 1) || (s[0] == '-' && n == 1))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*ret = strtod(buf, &stop);
	return *stop == '\0' && isfinite(*ret) ? 0 : -1;
}

int
np_range_parse(const char *text, struct np_range *ret)
{
	struct np_range r = {.set = true};
	const char *p = text, *colon;

	if (!text || !*text || strlen(text) >= sizeof(r.text))
		return -1;
	strcpy(r.text, text);
	if (*p == '@') {
		r.inside = true;
		p++;
	}
	colon = strchr(p, ':');
	if (!colon) {
		/* "N": 0..N */
		if (number(p, p + strlen(p), &r.end) < 0)
			return -1;
		r.start = 0;
	} else {
		if (colon - p == 1 && *p == '~')
			r.no_start = true;
		else if (number(p, colon, &r.start) < 0)
			return -1;
		if (colon[1] == '\0')
			r.no_end = true;
		else if (number(colon + 1, colon + 1 + strlen(colon + 1), &r.end) < 0)
			return -1;
	}
	if (!r.no_start && !r.no_end && r.start > r.end)
		return -1;
	*ret = r;
	return 0;
}

bool
np_range_alert(const struct np_range *r, double value)
{
	bool within;

	if (!r->set)
		return false;
	within = (r->no_start || value >= r->start) && (r->no_end || value <= r->end);
	return r->inside ? within : !within;
}
