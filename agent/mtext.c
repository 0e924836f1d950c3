#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mtext.h"
#include "text.h"
#include "util.h"

#define DEPTH_MAX 32 /* cards nest containers in columns in containers */

struct acc {
	char *buf;
	size_t len;
	char *(*to_text)(const char *html);
};

/* One part: its text, cleaned, after a separator. */
static void
add(struct acc *a, const char *raw)
{
	char *plain, *clean;
	size_t n;

	/* room for a separator, a byte of text at least, and the NUL (a cut
	 * at 0 would mean no limit) */
	if (!raw || !*raw || a->len + 2 >= MTEXT_MAX)
		return;
	plain = a->to_text(raw);
	clean = txt_clean(plain, MTEXT_MAX - a->len - (a->len > 0) - 1);
	free(plain);
	n = strlen(clean);
	if (n > 0) {
		a->buf = xrealloc(a->buf, a->len + n + 2);
		if (a->len > 0)
			a->buf[a->len++] = MTEXT_SEP;
		memcpy(a->buf + a->len, clean, n + 1);
		a->len += n;
	}
	free(clean);
}

/* An Adaptive Card (or a hero or thumbnail card): what a person reads, in
 * the order they read it. A fact's title comes before its value, so that
 * "Location:" and the place stay one part. */
static void
card_walk(struct acc *a, json_t *j, int depth)
{
	static const char *const shown[] = {"title", "subtitle", "text", "value", "fallbackText"};
	const char *key;
	json_t *v;
	size_t i;

	if (depth > DEPTH_MAX)
		return;
	if (json_is_array(j)) {
		json_array_foreach (j, i, v)
			card_walk(a, v, depth + 1);
		return;
	}
	if (!json_is_object(j))
		return;
	if (json_is_string(json_object_get(j, "title")) &&
	    json_is_string(json_object_get(j, "value"))) {
		char *fact = xprintf("%s %s", json_string_value(json_object_get(j, "title")),
				     json_string_value(json_object_get(j, "value")));
		add(a, fact);
		free(fact);
	} else {
		for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
			add(a, json_string_value(json_object_get(j, shown[i])));
	}
	json_object_foreach (j, key, v)
		if (json_is_array(v) || json_is_object(v))
			card_walk(a, v, depth + 1);
}

static void
attachments(struct acc *a, json_t *list)
{
	json_t *att;
	size_t i;

	json_array_foreach (list, i, att) {
		const char *type = json_string_value(json_object_get(att, "contentType"));
		json_t *content = json_object_get(att, "content");
		json_t *card = NULL;

		if (!type || strncmp(type, "application/vnd.microsoft.card.", 31) != 0) {
			/* a file or a link: its name is all there is to read */
			add(a, json_string_value(json_object_get(att, "name")));
			continue;
		}
		/* Graph gives a card's content as a JSON string */
		if (json_is_string(content))
			card = json_loads(json_string_value(content), 0, NULL);
		else if (json_is_object(content))
			card = json_incref(content);
		card_walk(a, card, 0);
		json_decref(card);
	}
}

/* A system event's detail: its words, not its identifiers. */
static void
event_walk(struct acc *a, json_t *j, int depth)
{
	const char *key;
	json_t *v;
	size_t i;

	if (depth > DEPTH_MAX)
		return;
	if (json_is_array(j)) {
		json_array_foreach (j, i, v)
			event_walk(a, v, depth + 1);
		return;
	}
	json_object_foreach (j, key, v) {
		size_t n = strlen(key);
		bool id = (n >= 2 && !strcmp(key + n - 2, "Id")) || !strcmp(key, "id") ||
			  !strcmp(key, "@odata.type") || !strcmp(key, "userIdentityType") ||
			  !strcmp(key, "applicationIdentityType");
		if (json_is_string(v) && !id)
			add(a, json_string_value(v));
		else if (json_is_array(v) || json_is_object(v))
			event_walk(a, v, depth + 1);
	}
}

char *
mtext_gather(json_t *m, char *(*html_to_text)(const char *html))
{
	struct acc a = {xstrdup(""), 0, html_to_text};

	add(&a, json_string_value(json_object_get(json_object_get(m, "body"), "content")));
	add(&a, json_string_value(json_object_get(m, "subject")));
	attachments(&a, json_object_get(m, "attachments"));
	event_walk(&a, json_object_get(m, "eventDetail"), 0);
	return a.buf;
}
