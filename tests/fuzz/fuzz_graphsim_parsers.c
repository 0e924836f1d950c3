/*
 * libFuzzer target: graphsim's parsers for what clients send it (form
 * bodies, timestamps, durations, URL escapes). A simulator that crashes on
 * odd input would hide agent bugs behind its own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct gs_form f;
	double t;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	gs_form_parse(s, size, &f);
	for (size_t i = 0; i < f.n; i++)
		(void)gs_form_get(&f, f.keys[i]);
	gs_form_free(&f);
	free(gs_url_decode(s, size));
	if (gs_time_parse(s, &t) == 0) {
		/* what parses must print and parse back to the same second */
		char *back = gs_time_iso(t, 7);
		double t2;
		if (gs_time_parse(back, &t2) != 0 || (long long)t2 != (long long)t)
			abort();
		free(back);
	}
	(void)gs_duration_parse(s, &t);
	free(s);
	return 0;
}
