/*
 * Pages of Graph's list answers, as the reconcile reads them: the chats of
 * the service user (in no order we rely on) and the messages of a chat (in
 * Graph's default order, last modified first). Pure functions of the
 * answer's text, so that what Graph (or anything in its place) sends is
 * parsed in one place, and fuzzed.
 */
#ifndef CT_GPAGE_H
#define CT_GPAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct gpage {
	json_t *doc;      /* the parsed answer */
	json_t *value;    /* its "value" array (borrowed from doc) */
	const char *next; /* @odata.nextLink, when it is Graph's own; else NULL */
	bool bad_next;    /* a nextLink that is not on the endpoint: not followed */
};

/* Parses an answer: 0, or -1 when it is not a list page. A nextLink is
 * kept only when it is an https URL on the endpoint the request went to:
 * it is followed with the org's access token. */
int gpage_parse(const char *body, size_t len, const char *endpoint, struct gpage *ret);
void gpage_clear(struct gpage *g);
/* A chats page: appends to ids the chats whose last message is at or
 * after from (a chat without messages has nothing to read). Every chat of
 * the page is looked at: $orderby is not supported in every cloud, and
 * where Graph ignores it the chats come in no defined order. */
void gpage_chats(const struct gpage *g, double from, json_t *ids);
/* A message of a page in Graph's default order (lastModifiedDateTime
 * desc): true when it was last touched before from, so that every message
 * after it was created before from. A message without times is not. */
bool gpage_message_before(json_t *m, double from);
/* The time a field of an object gives (ISO 8601), or 0. */
double gpage_time(json_t *o, const char *key);

#endif
