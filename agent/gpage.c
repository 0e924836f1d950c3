#include <math.h>
#include <string.h>

#include "gpage.h"
#include "util.h"

double
gpage_time(json_t *o, const char *key)
{
	double t;

	return time_parse(json_string_value(json_object_get(o, key)), &t) == 0 ? t : 0;
}

/* link is https on the endpoint's host (and port) */
static bool
same_endpoint(const char *endpoint, const char *link)
{
	size_t n = endpoint ? strlen(endpoint) : 0;

	while (n > 0 && endpoint[n - 1] == '/')
		n--;
	return n > 0 && !strncmp(link, endpoint, n) && link[n] == '/' &&
	       !strncmp(link, "https://", 8);
}

int
gpage_parse(const char *body, size_t len, const char *endpoint, struct gpage *ret)
{
	const char *next;

	memset(ret, 0, sizeof(*ret));
	ret->doc = json_loadb(body, len, 0, NULL);
	ret->value = json_object_get(ret->doc, "value");
	if (!json_is_array(ret->value)) {
		gpage_clear(ret);
		return -1;
	}
	next = json_string_value(json_object_get(ret->doc, "@odata.nextLink"));
	if (next && same_endpoint(endpoint, next))
		ret->next = next;
	else if (next)
		ret->bad_next = true;
	return 0;
}

void
gpage_clear(struct gpage *g)
{
	json_decref(g->doc);
	memset(g, 0, sizeof(*g));
}

void
gpage_chats(const struct gpage *g, double from, json_t *ids)
{
	size_t i;
	json_t *c;

	json_array_foreach (g->value, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		double last =
		    gpage_time(json_object_get(c, "lastMessagePreview"), "createdDateTime");
		if (id && *id && last > 0 && last >= from)
			json_array_append_new(ids, json_string(id));
	}
}

bool
gpage_message_before(json_t *m, double from)
{
	/* lastModifiedDateTime is never older than createdDateTime; should a
	 * message lack it, its creation is the time it was last touched */
	double t = fmax(gpage_time(m, "lastModifiedDateTime"), gpage_time(m, "createdDateTime"));

	return t > 0 && t < from;
}
