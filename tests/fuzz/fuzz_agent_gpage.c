/*
 * libFuzzer target: pages of Graph's list answers as the reconcile reads
 * them (agent/gpage.c): a page is a list or refused; every chat id kept is
 * a non-empty string; a next page is followed only when it is on the
 * endpoint, over https (it carries the org's token).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENDPOINT "https://graph.microsoft.com"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gpage g;
	json_t *ids, *id, *m;
	size_t i;

	if (gpage_parse((const char *)data, size, ENDPOINT, &g) < 0)
		return 0;
	if (g.next && strncmp(g.next, ENDPOINT "/", strlen(ENDPOINT) + 1) != 0)
		abort();
	ids = json_array();
	gpage_chats(&g, 1700000000, ids);
	json_array_foreach (ids, i, id)
		if (!json_string_value(id) || !*json_string_value(id))
			abort();
	json_array_foreach (g.value, i, m)
		gpage_message_before(m, 1700000000);
	json_decref(ids);
	gpage_clear(&g);
	return 0;
}
