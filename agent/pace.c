/*
 * A small table of the chats read lately, and the start times of the
 * org's last PACE_ORG_RATE reads. Entries go once they constrain nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pace.h"
#include "util.h"

struct chat {
	char *id;
	double last_start;
	double hold_until;
	bool busy;
};

struct pace {
	struct chat *v;
	size_t n;
	double starts[PACE_ORG_RATE]; /* ring of the last reads' start times */
	size_t next;
};

struct pace *
pace_new(void)
{
	return xcalloc(1, sizeof(struct pace));
}

void
pace_free(struct pace *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].id);
	free(p->v);
	free(p);
}

static struct chat *
find(struct pace *p, const char *chat)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].id, chat))
			return &p->v[i];
	return NULL;
}

/* Forget chats that no longer hold anything back. */
static void
prune(struct pace *p, double now)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n; i++) {
		struct chat *c = &p->v[i];
		if (!c->busy && now >= c->hold_until && now - c->last_start >= PACE_CHAT_GAP)
			free(c->id);
		else
			p->v[k++] = *c;
	}
	p->n = k;
}

bool
pace_may_read(struct pace *p, const char *chat, double now, double *ret_when)
{
	struct chat *c = find(p, chat);
	/* the oldest of the org's last PACE_ORG_RATE starts: a second on */
	double when = p->starts[p->next] + 1.0;

	if (c) {
		when = fmax(when, fmax(c->hold_until, c->last_start + PACE_CHAT_GAP));
		/* one read of a chat at a time; its answer wakes the caller */
		if (c->busy)
			when = fmax(when, now + PACE_CHAT_GAP);
	}
	*ret_when = when;
	return when <= now;
}

void
pace_started(struct pace *p, const char *chat, double now)
{
	struct chat *c;

	prune(p, now);
	c = find(p, chat);
	if (!c) {
		p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
		c = &p->v[p->n++];
		*c = (struct chat){.id = xstrdup(chat)};
	}
	c->busy = true;
	c->last_start = now;
	p->starts[p->next] = now;
	p->next = (p->next + 1) % PACE_ORG_RATE;
}

void
pace_done(struct pace *p, const char *chat, double hold_until)
{
	struct chat *c = find(p, chat);

	if (!c)
		return;
	c->busy = false;
	if (hold_until > c->hold_until)
		c->hold_until = hold_until;
}

size_t
pace_held(const struct pace *p, double now)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += p->v[i].hold_until > now;
	return n;
}
