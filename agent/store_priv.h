/* Shared by store.c and store_work.c: the database handle and helpers. */
#ifndef CT_STORE_PRIV_H
#define CT_STORE_PRIV_H

#include <jansson.h>

#include "db.h"
#include "seal.h"
#include "store.h"

struct store {
	struct db *db;
	struct seal *seal;
	/* writes failing since (0: healthy), how often, the last reason */
	double trouble_since;
	long trouble_failures;
	char *trouble_error;
	/* the last failure's reason, kept when it happened */
	char *failed_why;
	void (*on_recover)(double since);
	bool in_tx;
	/* the lease the duties' writes are made under (store_fence) */
	char *fence_name, *fence_holder;
	long fence_epoch;
	void (*on_fence_lost)(void);
	bool fenced_out; /* the last write failed for want of the lease */
};

/* store.c: a store around an open database */
int store_attach(struct db *db, struct seal *seal, struct store **ret);
/* store_schema.c: the tables made or brought up to date */
int store_schema(struct db *db, char **ret_err);

char *store_col_text(struct db_stmt *s, int i);
char *store_col_unseal(struct store *st, struct db_stmt *s, int i, const char *org,
		       const char *field);
void store_bind_sealed(struct store *st, struct db_stmt *s, int i, const char *org,
		       const char *field, const char *plain);

/* store_work.c: statements that log their own errors */
struct db_stmt *store_prep(struct store *st, const char *sql);
/* Steps a statement that returns no rows, and finalizes it: 0 or -1. */
int store_step_done(struct store *st, struct db_stmt *s);
/* The same, with the rows it changed, or -1. A duty's write standing
 * alone is fenced (a transaction of its own); store_step_free is not. */
long store_step_count(struct store *st, struct db_stmt *s);
long store_step_free(struct store *st, struct db_stmt *s);
/* A statement of a hot path, prepared once and kept until store_close:
 * reset it (store_release) instead of finalizing it. sql is a literal. */
struct db_stmt *store_keep(struct store *st, const char *sql);
void store_release(struct db_stmt *s);
int store_exec(struct store *st, const char *sql);
/* A transaction: fenced (store_fence) unless free. */
int store_begin(struct store *st);
int store_begin_free(struct store *st);
/* Inside a transaction that appends to a sequence (the inbox, the
 * outbox): no other agent's append commits in between, so seqs become
 * visible in the order they were given, and a reader going on "after the
 * last seq it saw" never passes one still uncommitted. SQLite's write
 * lock does this already; PostgreSQL takes an advisory lock until the
 * commit. */
enum { STORE_SEQ_INBOX = 911001, STORE_SEQ_OUTBOX = 911002 };
int store_serialize(struct store *st, long what);
/* store_lease.c: the database's clock, in seconds since 1970, as SQL (one
 * clock for every agent sharing the database). */
const char *store_db_now(const struct store *st);
/* store_lease.c: inside a transaction, is the fence's lease still held?
 * 0 yes, -1 no (fenced_out set) or error. */
int store_fence_check(struct store *st);
int store_commit(struct store *st);
/* A statement failed: logged (what, and the engine's reason), kept for
 * store_health(). */
void store_failed(struct store *st, const char *what);
json_t *store_col_json(struct db_stmt *s, int i); /* text or null */
/* Steps a query whose first column names an org, calling fn for each
 * row; the caller finalizes (or releases) s. 0, or -1 if it failed. */
int store_each_org(struct db_stmt *s, store_org_fn *fn, void *arg);
/* store_alarm.c: appends an outbox entry (inside the caller's transaction) */
int store_outbox_append(struct store *st, const char *kind, json_t *body);
/* How long a write waits for another process's lock, while writes work.
 * While they fail, none waits: the several writes of one turn of the loop
 * (intake, alarms, processing, an output's cursor) would each wait it. */
#define STORE_BUSY_MS 200

/* A write's outcome: the first failure starts store trouble, the first
 * success after it ends it. Returns rc. */
int store_health(struct store *st, int rc);
/* on: the next writes need not reach the disk at their commit (store.c
 * says which may); off: back to synchronous=FULL. */
void store_relaxed(struct store *st, bool on);
/* Undoes the transaction under way after a failure: -1, health noted. */
int store_rollback(struct store *st);

#endif
