/*
 * libFuzzer target: agent/text.c on any bytes. What txt_clean makes is
 * always clean (valid UTF-8, no control characters), never longer than
 * asked, and a cut of the whole; txt_cut ends between characters; valid
 * text without control characters passes unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *whole, *cut;
	size_t max;

	if (size < 1)
		return 0;
	max = data[0]; /* 0: no limit */
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	whole = txt_clean(s, 0);
	cut = txt_clean(s, max);
	if (!txt_is_clean(whole) || !txt_is_clean(cut))
		abort();
	if (max && strlen(cut) > max)
		abort();
	if (strncmp(whole, cut, strlen(cut)) != 0) /* a prefix of the whole */
		abort();
	if (txt_is_clean(s) && strcmp(whole, s) != 0)
		abort();
	if (txt_is_clean(s) && txt_cut(s, max) > max)
		abort();
	free(whole);
	free(cut);
	free(s);
	return 0;
}
