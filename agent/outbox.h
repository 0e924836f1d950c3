/*
 * Outbox consumers: each output (SNMP traps, the Nagios command file, the
 * Icinga API) reads the outbox in order with a durable cursor of its own.
 * An entry is handed to the output's deliver function; the output says
 * outbox_done(ok) when its receiver took it, or not. A failure is tried
 * again with backoff, never skipped while it is young; an entry older than
 * max_age is given up, counted and logged, so a receiver gone for days does
 * not hold back what comes after. Nothing here blocks the loop: deliver
 * starts the work and returns.
 */
#ifndef CT_OUTBOX_H
#define CT_OUTBOX_H

#include <jansson.h>
#include <stdbool.h>

#include "store.h"

struct outbox_consumer;

/* entry: {seq, at, kind, ...} as in docs/control-protocol.md; borrowed
 * until outbox_done. */
typedef void (*outbox_deliver_fn)(struct outbox_consumer *c, json_t *entry, void *arg);

struct outbox_opts {
	double backoff_min; /* first retry after this; doubles to backoff_max */
	double backoff_max;
	double max_age; /* an entry older than this is given up */
};

struct outbox_consumer *outbox_consumer_new(struct store *st, const char *name,
					    const struct outbox_opts *opts, outbox_deliver_fn fn,
					    void *arg);
void outbox_consumer_free(struct outbox_consumer *c);
/* A reload: the next retry and age check use these. */
void outbox_consumer_set_opts(struct outbox_consumer *c, const struct outbox_opts *opts);
/* The receiver took the entry handed out last (ok) or not. */
void outbox_done(struct outbox_consumer *c, bool ok, const char *why);
/* Moves past the entry handed out last without sending it: nothing to
 * send for it (not counted), or give_up: the receiver refused it for
 * good (logged with why, counted as given up). */
void outbox_pass(struct outbox_consumer *c, bool give_up, const char *why);
/* An entry that cannot wait for the store (an alarm about the store,
 * raised while it cannot be written): every output is handed a copy from
 * memory before the store's next entry. Lost in a crash, as the alarm's
 * memory is; its transition is written with "early" once the store works,
 * and the outputs pass that copy over. body is not taken. */
void outbox_post_early(const char *kind, json_t *body);
/* Has every output taken (or given up) the entries up to seq? */
bool outbox_all_past(long seq);
/* Is an entry posted early still waiting for an output? */
bool outbox_early_pending(void);
/* New entries were appended: every consumer looks now. */
void outbox_kick(void);
/* {name, cursor, pending, delivered, failures, given_up, last_error};
 * delivered and given_up count from the output's first start. */
json_t *outbox_consumer_status(const struct outbox_consumer *c);
/* Every output's status, for the control protocol's agent.outputs. */
json_t *outbox_status_all(void);
/* The least cursor of the outputs configured now (0 for one that has
 * taken nothing yet): what retention may remove untaken; -1 with none, or
 * with one whose cursor the store could not give. */
long outbox_min_cursor(void);
const struct outbox_consumer *outbox_consumer_find(const char *name);
/* The outputs whose receiver has refused the entry in front of them for
 * `after` seconds or more, said in one line (free it); NULL: none. */
char *outbox_stuck(double after);

#endif
