/*
 * The agent's durable state: SQLite in WAL mode under state_dir, or a
 * PostgreSQL database (`database = postgresql://...`) that two agents can
 * share. Tokens are sealed before they are written; a write of an org's
 * tokens is one transaction, so a crash leaves either the old pair or the
 * new one. docs/scaling.md says what every call promises on both.
 */
#ifndef CT_STORE_H
#define CT_STORE_H

#include <jansson.h>
#include <stdbool.h>

#include "seal.h"

struct store;
/* A callback for each org a query names (its name borrowed for the call). */
typedef void store_org_fn(void *arg, const char *org);

struct store_auth {
	char *state; /* see org.h */
	char *access_token;
	char *refresh_token;
	double access_expires;
	double last_refresh; /* last successful token grant */
	char *user_id;
	char *user_upn;
	long failures;
	char *last_error;
	double updated;
	long gen; /* the sign-in these tokens come from: each sign-in adds one */
};

int store_open(const char *state_dir, struct seal *seal, struct store **ret, char **ret_err);
/* PostgreSQL: target is a libpq URI or key=value string; the password
 * from password_file (or libpq's own password or service file). */
int store_open_pg(const char *target, const char *password_file, struct seal *seal,
		  struct store **ret, char **ret_err);
/* Where the state is, for messages: a path, or the database without any
 * password. */
const char *store_where(const struct store *st);
/* Is the state shared with other agents (PostgreSQL)? */
bool store_shared(const struct store *st);
/* Is the connection to it up (always, for SQLite)? */
bool store_connected(struct store *st);
void store_close(struct store *st);
/* 0 found, 1 nothing stored, -1 error (logged). */
int store_auth_get(struct store *st, const char *org, struct store_auth *ret);
/* The org's tokens after a refresh (or its failure), written only while
 * the stored row is still the sign-in a->gen: 0 written, 1 a newer sign-in
 * is stored (nothing written: take it up), -1 error. A duty's write:
 * fenced. */
int store_auth_put(struct store *st, const char *org, const struct store_auth *a);
/* A new sign-in replaces what is stored, whatever it was: its number in
 * *ret_gen (one more than the row's). Not fenced: either agent of a pair
 * takes the browser's callback. adopt: made by an agent not doing the
 * duties, for the active to take up (store_auth_to_adopt). */
int store_auth_signin(struct store *st, const char *org, const struct store_auth *a, bool adopt,
		      long *ret_gen);
/* The orgs whose stored sign-in the active has yet to take up. */
int store_auth_to_adopt(struct store *st, store_org_fn *fn, void *arg);
/* Taken up, unless a newer sign-in came meanwhile (gen < 0: whatever is
 * stored, for an org no longer configured). Fenced. */
int store_auth_adopted(struct store *st, const char *org, long gen);
int store_auth_delete(struct store *st, const char *org);
void store_auth_clear(struct store_auth *a);
/* Every org's sign-in as stored, without its tokens (the standby's view,
 * ha.c): fn is called with a borrowed row. 0, or -1 if the store failed. */
typedef void store_auth_fn(void *arg, const char *org, const struct store_auth *a);
int store_auth_each(struct store *st, store_auth_fn *fn, void *arg);

/* ---- store_work.c: the subscription, the inbox, events, counters ---- */

struct store_sub {
	char *id;
	double expires;
	char *client_state;
	double created;
};

int store_sub_get(struct store *st, const char *org, struct store_sub *ret);
int store_sub_put(struct store *st, const char *org, const struct store_sub *s);
int store_sub_delete(struct store *st, const char *org);
void store_sub_clear(struct store_sub *s);
/* Every org's subscription id and end, without its clientState. */
typedef void store_sub_fn(void *arg, const char *org, const char *id, double expires);
int store_sub_each(struct store *st, store_sub_fn *fn, void *arg);

/* Adds items (a JSON array) in one transaction: all or none. */
int store_inbox_add(struct store *st, const char *org, const char *kind, json_t *items);
/* Several POSTs' items in one transaction (the intake's group commit):
 * all durable when it returns 0, none stored when it returns -1. */
struct store_inbox_new {
	const char *org;
	const char *kind;
	json_t *items;
};
int store_inbox_add_batch(struct store *st, const struct store_inbox_new *v, size_t n);

struct store_inbox_row {
	long seq;
	char *org;
	char *kind;
	char *item;
	long tries;
	double received; /* when Graph's POST was acknowledged */
	char *msg_key;   /* "chat|message" of a change notification, or NULL (also
			  * in rows written before `rich` was kept) */
	bool rich;       /* it carries its message: nothing to read from Graph */
	double next_try; /* when it may be tried again */
};

/* The org's rows after seq, oldest first, at most limit, as the key of
 * each (msg_key may be NULL): how many, or -1. */
typedef void store_key_fn(void *arg, long seq, const char *msg_key, bool rich);
long store_inbox_keys(struct store *st, const char *org, long after, long limit, store_key_fn *fn,
		      void *arg);
/* One row by its seq: 0 found, 1 gone (done meanwhile), -1 error. */
int store_inbox_get(struct store *st, long seq, struct store_inbox_row *ret);
/* The org's oldest row after seq that is due at `now`: 0 found, 1 none,
 * -1 error. */
int store_inbox_next(struct store *st, const char *org, long after, double now,
		     struct store_inbox_row *ret);
/* When the org's earliest row not in skip[] and due after `after` is due;
 * 1 when there is none. */
int store_inbox_due(struct store *st, const char *org, double after, const long *skip,
		    size_t n_skip, double *ret);
int store_inbox_done(struct store *st, long seq);
/* One more failed try; not again before next_try. */
int store_inbox_retry(struct store *st, long seq, double next_try, const char *error);
/* Moves the row to the dead-letter table, in one transaction. */
int store_inbox_dead(struct store *st, long seq, const char *reason);
/* Is a notification for this message waiting in the org's inbox? */
bool store_inbox_has(struct store *st, const char *org, const char *chat_id,
		     const char *message_id);
long store_inbox_pending(struct store *st, const char *org);
/* The orgs that have any row in the inbox: 0, or -1 if the store failed. */
int store_inbox_orgs(struct store *st, store_org_fn *fn, void *arg);
void store_inbox_row_clear(struct store_inbox_row *r);
/* Store trouble: writes of the inbox and events failing. NULL when
 * healthy, else {since, failures, error}. on_recover runs when writes work
 * again, with the time they began to fail. */
json_t *store_trouble(struct store *st);
/* Why writes are failing (borrowed until the next write); NULL: they work. */
const char *store_trouble_why(const struct store *st);
/* Rows the agent has written (inserted, changed, deleted) since start. */
long long store_rows_written(struct store *st);
void store_on_recover(struct store *st, void (*fn)(double since));
long store_dead_count(struct store *st, const char *org);
/* An operator has dealt with the org's dead letters: how many went. */
int store_dead_clear(struct store *st, const char *org);
/* Counts per org, for the alarms of every org in one query each: fn is
 * called for each org that has any (its name borrowed for the call).
 * 0, or -1 if the store failed. */
typedef void store_count_fn(void *arg, const char *org, long n);
int store_count_dead(struct store *st, store_count_fn *fn, void *arg);
/* events of a kind raised since a time */
int store_count_events(struct store *st, const char *kind, double since, store_count_fn *fn,
		       void *arg);
json_t *store_dead_letters(struct store *st, const char *org, long limit);

struct store_event {
	const char *org;
	const char *chat_id;
	const char *message_id;
	const char *kind; /* emergency | unrecognised */
	const char *caller_name;
	const char *caller_id;
	const char *number;
	int test_call;
	const char *location;
	const char *importance;
	const char *created;
	const char *text;
	const char *raw;    /* the chatMessage JSON, for unrecognised ones */
	const char *source; /* webhook | poll */
};

/* Records an event and spends the inbox row (seq, or 0) in one
 * transaction. 0: new event (id in *ret_id), 1: already known, -1: error. */
int store_event_add(struct store *st, const struct store_event *e, long inbox_seq, long *ret_id);
json_t *store_events(struct store *st, const char *org, long limit);
/* With open_only, the emergencies raised since then that nobody has
 * acknowledged, however many newer events there are. */
json_t *store_events_open(struct store *st, const char *org, bool open_only, double since,
			  long limit);
/* Someone has taken an event in hand: the event and an "ack" outbox entry
 * in one transaction. 0 done, 1 no such event, 2 acknowledged before (by
 * *ret_by, to free; the first acknowledgement stands and nothing is sent
 * again), -1 error. */
int store_event_ack(struct store *st, long id, const char *by, char **ret_by);
/* Adds {org: {name: delta}} in one transaction (counter.c flushes so). */
int store_counters_add(struct store *st, json_t *deltas);
json_t *store_counters(struct store *st, const char *org);
/* Retention: events raised before older_than, or beyond the newest
 * keep_events, and outbox entries before older_than go. Returns how many
 * events went (-1: error); *ret_unsent: outbox entries an output had not
 * taken yet. An event is deduplicated only while it is kept. */
/* ret_unsent: outbox entries removed past min_cursor (the outputs
 * configured now, outbox_min_cursor; -1: none to count). */
long store_prune(struct store *st, double older_than, long keep_events, long min_cursor,
		 long *ret_unsent);
/* The org's stable number (1, 2, ...): the same across reloads and
 * restarts, never reused for another name; -1 if the store failed. */
long store_org_index(struct store *st, const char *org);
/* The org's app, tenant or service user changed: its tokens, subscription
 * and numbers kept (watermarks, windows) go, in one transaction. Its
 * index, counters, events and inbox stay. */
int store_org_forget(struct store *st, const char *org);
/* A number kept per org (the poll's watermark); dflt when absent. */
double store_meta_get(struct store *st, const char *org, const char *key, double dflt);
int store_meta_put(struct store *st, const char *org, const char *key, double value);

/* ---- store_alarm.c: the alarm table and the outbox ---- */

struct store_alarm {
	const char *type; /* alarm_defs[].name */
	const char *org;  /* "" for the agent's own */
	const char *severity;
	double raised;
	const char *text;
	/* handed to the outputs from memory when it happened, while the store
	 * could not write it (outbox_post_early): the outputs pass its outbox
	 * entry over */
	bool early;
};

/* Raises (or clears) an alarm and appends the transition to the outbox,
 * in one transaction. */
int store_alarm_transition(struct store *st, const struct store_alarm *a, bool raise);
/* An alarm an agent raised from memory, and has now to leave to another
 * (it lost the duties' lease): its raise (early, as the outputs had it)
 * and its clear, to the outbox in one transaction; not fenced. */
int store_alarm_hand_over(struct store *st, const struct store_alarm *a);
/* The transition's outbox entry: {transition, type, org, severity, raised,
 * text[, early]}. */
json_t *store_alarm_body(const struct store_alarm *a, bool raise);
/* The active alarms, oldest first: [{type, org, severity, raised, text}];
 * NULL if the store failed. */
json_t *store_alarms(struct store *st);
/* Outbox entries after seq, oldest first: [{seq, at, kind, ...body}]. */
json_t *store_outbox_since(struct store *st, long after, long limit);
/* When the newest entry of a kind was written; 0: none kept. */
double store_outbox_last_at(struct store *st, const char *kind);
/* An entry of its own (a heartbeat, the stop): its seq, or -1. */
long store_outbox_post(struct store *st, const char *kind, json_t *body);
long store_outbox_last(struct store *st);
/* An output's cursor: the last seq it delivered. 0 found, 1 no such
 * output yet, -1 error. */
int store_cursor_get(struct store *st, const char *name, long *ret);
int store_cursor_put(struct store *st, const char *name, long seq);
/* Moves the cursor to seq, adding to what the output delivered and gave
 * up (kept with the cursor, so they survive restarts). */
int store_cursor_advance(struct store *st, const char *name, long seq, long delivered,
			 long given_up);
int store_cursor_counts(struct store *st, const char *name, long *ret_delivered,
			long *ret_given_up);

/* ---- store_signin.c: sign-in links and OAuth states ---- */

/* A one-time sign-in link or an OAuth state (with its PKCE verifier),
 * kept by its SHA-256 only, the verifier sealed, for ttl seconds of the
 * database's clock (one clock for both agents of a pair). Not fenced:
 * either agent issues and takes them. */
enum store_ticket { STORE_LINK, STORE_STATE };
int store_ticket_put(struct store *st, enum store_ticket kind, const char *secret, const char *org,
		     const char *verifier, double ttl);
/* Uses a link once: 0 now used; 1 unknown, expired or another org's;
 * 2 used before; -1 error. */
int store_link_use(struct store *st, const char *secret, const char *org);
/* Takes a state (it is gone after, whatever follows): 0 with its verifier
 * (*ret_verifier, free_secret it); 1 unknown, used, expired or another
 * org's; -1 error. */
int store_state_take(struct store *st, const char *secret, const char *org, char **ret_verifier);
/* Forgets tickets that ended more than `kept` seconds ago (a used link is
 * kept a while to be told apart from an unknown one). */
int store_tickets_prune(struct store *st, double kept);

/* ---- store_lease.c: duties one agent at a time (a shared store) ---- */

/* Takes the lease if it is free, has run out, or is holder's own: its new
 * epoch (> 0); 0 while another holds it; -1 on error. ttl in seconds of
 * the database's clock. */
long store_lease_take(struct store *st, const char *name, const char *holder, double ttl);
/* 0 renewed, 1 lost (run out, or taken), -1 error. */
int store_lease_renew(struct store *st, const char *name, const char *holder, long epoch,
		      double ttl);
/* Lets it go at once (a clean stop): the other agent need not wait. */
int store_lease_release(struct store *st, const char *name, const char *holder, long epoch);
/* 0: *ret_holder (to free) holds it for *ret_left more seconds (negative:
 * run out); 1: never taken; -1 error. */
int store_lease_holder(struct store *st, const char *name, char **ret_holder, double *ret_left);
/* The duties' writes are made under this lease from now on: each of their
 * transactions fails, changing nothing, unless holder still holds it at
 * epoch (0: this agent holds none). on_lost runs the first time one finds
 * it gone. Intake (the inbox), counters and the calls above are not
 * fenced. */
void store_fence(struct store *st, const char *name, const char *holder, long epoch,
		 void (*on_lost)(void));
/* This agent's beat, and every agent's role and the seconds since its
 * last beat (by the database's clock). */
int store_agent_beat(struct store *st, const char *name, const char *instance, const char *role);
typedef void store_agent_fn(void *arg, const char *name, const char *instance, const char *role,
			    double age);
int store_agents(struct store *st, store_agent_fn *fn, void *arg);
/* The newest inbox row's seq (rows another agent took in), -1 on error. */
long store_inbox_last(struct store *st);

#endif
