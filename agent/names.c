#include <stdlib.h>
#include <string.h>

#include "names.h"

char *
names_fill(const char *tmpl, const char *org, const char *check)
{
	size_t most = strlen(tmpl) + 1, n = 0;
	char *out;

	/* each %o or %c may grow into the whole org or check */
	for (const char *t = tmpl; *t; t++)
		if (*t == '%')
			most += strlen(org) + strlen(check);
	out = malloc(most);
	if (!out)
		abort();
	for (const char *t = tmpl; *t; t++) {
		const char *put = NULL;
		if (*t == '%' && t[1] == 'o')
			put = org;
		else if (*t == '%' && t[1] == 'c')
			put = check;
		else if (*t == '%' && t[1] == '%')
			put = "%";
		if (put) {
			memcpy(out + n, put, strlen(put));
			n += strlen(put);
			t++;
		} else {
			out[n++] = *t;
		}
	}
	out[n] = '\0';
	return out;
}
