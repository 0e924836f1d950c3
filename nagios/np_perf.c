#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "np_perf.h"

static void
append(struct np_perf *p, const char *s, size_t n)
{
	char *t = realloc(p->text, p->len + n + 1);

	if (!t)
		abort();
	p->text = t;
	memcpy(p->text + p->len, s, n);
	p->len += n;
	p->text[p->len] = '\0';
}

static void
append_label(struct np_perf *p, const char *label)
{
	/* quoted always: the guidelines allow it, and a label with a space,
	 * '=' or quote needs it */
	append(p, "'", 1);
	for (const char *c = label; *c; c++) {
		if (*c == '\'')
			append(p, "''", 2);
		else if (*c == '\n' || *c == '\r' || *c == '|')
			append(p, "_", 1);
		else
			append(p, c, 1);
	}
	append(p, "'", 1);
}

/* A number as the guidelines write it: no exponent, no trailing zeros. */
static const char *
plain(double v, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "%.6f", v);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (!strcmp(buf, "-0"))
		strcpy(buf, "0");
	return buf;
}

void
np_perf_add(struct np_perf *p, const char *label, double value, const char *uom,
	    const struct np_range *warn, const struct np_range *crit, const char *min,
	    const char *max)
{
	char buf[256], num[64];
	int n;

	if (p->len)
		append(p, " ", 1);
	append_label(p, label);
	n = snprintf(buf, sizeof(buf), "=%s%s;%s;%s;%s;%s", plain(value, num, sizeof(num)),
		     uom ? uom : "", warn && warn->set ? warn->text : "",
		     crit && crit->set ? crit->text : "", min ? min : "", max ? max : "");
	append(p, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	/* unfilled trailing fields may be left out */
	while (p->len > 0 && p->text[p->len - 1] == ';')
		p->text[--p->len] = '\0';
}

void
np_perf_free(struct np_perf *p)
{
	free(p->text);
	p->text = NULL;
	p->len = 0;
}
