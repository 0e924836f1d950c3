/*
 * Known chats are two generations of a set (jansson objects as hash
 * tables): a chat is looked up in both and noted in the newer; when the
 * newer is full it becomes the older and the oldest knowledge goes. So
 * memory stays bounded for an org with any number of chats, and a chat
 * still talked in stays known.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "triage.h"
#include "util.h"

#define CHATS_MAX  5000 /* chats per generation */
#define LIKELY_MAX 64   /* likely rows kept; more wait for room, in order */
#define SCAN_ROWS  256  /* rows looked at per scan */

enum { CHAT_NEW, CHAT_READ, CHAT_NOTICE };

struct triage {
	json_t *chats, *older; /* chat id -> CHAT_READ | CHAT_NOTICE */
	long scanned_to;       /* rows up to this seq were looked at */
	bool full;             /* this scan met a likely row with no room left */
	bool fresh;            /* rows may have arrived since the last look */
	long seen;             /* rows the current scan looked at */
	long likely[LIKELY_MAX];
	size_t n_likely;
};

struct triage *
triage_new(void)
{
	struct triage *t = xcalloc(1, sizeof(*t));

	t->chats = json_object();
	t->older = json_object();
	t->fresh = true; /* what the inbox held before the start */
	return t;
}

void
triage_free(struct triage *t)
{
	if (!t)
		return;
	json_decref(t->chats);
	json_decref(t->older);
	free(t);
}

static int
chat_kind(const struct triage *t, const char *chat)
{
	json_int_t a = json_integer_value(json_object_get(t->chats, chat));
	json_int_t b = json_integer_value(json_object_get(t->older, chat));

	return (int)(a > b ? a : b);
}

void
triage_chat_read(struct triage *t, const char *chat, bool notice)
{
	int kind = notice ? CHAT_NOTICE : CHAT_READ;

	if (!chat || !*chat)
		return;
	if (chat_kind(t, chat) > kind)
		kind = chat_kind(t, chat);
	if (json_object_size(t->chats) >= CHATS_MAX && !json_object_get(t->chats, chat)) {
		json_decref(t->older);
		t->older = t->chats;
		t->chats = json_object();
	}
	json_object_set_new(t->chats, chat, json_integer(kind));
}

/* A basic notification's row: likely if its chat is new or had a notice. */
static void
look(void *arg, long seq, const char *msg_key, bool rich)
{
	struct triage *t = arg;
	const char *bar = msg_key ? strchr(msg_key, '|') : NULL;
	char *chat;

	t->seen++;
	/* a likely row with no room: it and those after it are looked at
	 * again once room is made, never passed over unseen */
	if (t->full)
		return;
	/* a rich row is not read (nothing to order), and a lifecycle or
	 * old row has no chat to judge by */
	if (!rich && bar) {
		chat = xstrndup(msg_key, (size_t)(bar - msg_key));
		if (chat_kind(t, chat) != CHAT_READ) {
			if (t->n_likely == LIKELY_MAX)
				t->full = true;
			else
				t->likely[t->n_likely++] = seq;
		}
		free(chat);
	}
	if (!t->full)
		t->scanned_to = seq;
}

int
triage_scan(struct triage *t, struct store *st, const char *org)
{
	/* an idle org costs no query: an agent of a thousand orgs looks at
	 * each on every turn of the processing */
	if (!t->fresh || t->n_likely == LIKELY_MAX)
		return 0; /* nothing new, or no room: nothing would be kept */
	t->full = false;
	t->seen = 0;
	if (store_inbox_keys(st, org, t->scanned_to, SCAN_ROWS, look, t) < 0)
		return -1;
	/* caught up: nothing more until new rows come (triage_kick) */
	if (!t->full && t->seen < SCAN_ROWS)
		t->fresh = false;
	return 0;
}

void
triage_kick(struct triage *t)
{
	t->fresh = true;
}

size_t
triage_count(const struct triage *t)
{
	return t->n_likely;
}

long
triage_at(const struct triage *t, size_t i)
{
	return t->likely[i];
}

void
triage_drop(struct triage *t, long seq)
{
	for (size_t i = 0; i < t->n_likely; i++)
		if (t->likely[i] == seq) {
			memmove(&t->likely[i], &t->likely[i + 1],
				(t->n_likely - i - 1) * sizeof(t->likely[0]));
			t->n_likely--;
			return;
		}
}
