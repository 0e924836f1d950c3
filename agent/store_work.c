/*
 * The store's work tables: the subscription per org, the inbox of
 * acknowledged notifications, events and counters. A notification is in
 * the inbox before Graph hears 202; it leaves the inbox in the same
 * transaction that records what it meant, so a crash at any point either
 * replays it (and dedup catches the replay) or has finished it.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "util.h"

json_t *
store_col_json(struct db_stmt *s, int i)
{
	const char *t = db_col_text(s, i);

	return t ? json_string(t) : json_null();
}

/* A statement failed: its reason is logged, and kept for store_health(). */
void
store_failed(struct store *st, const char *what)
{
	const char *why = db_errmsg(st->db);

	if (what)
		log_err("store", "%s: %s", what, why);
	else
		log_err("store", "%s", why);
	free(st->failed_why);
	st->failed_why = xstrdup(why);
}

struct db_stmt *
store_prep(struct store *st, const char *sql)
{
	struct db_stmt *s = db_prep(st->db, sql);

	if (!s)
		store_failed(st, NULL);
	return s;
}

struct db_stmt *
store_keep(struct store *st, const char *sql)
{
	struct db_stmt *s = db_keep(st->db, sql);

	if (!s)
		store_failed(st, NULL);
	return s;
}

void
store_release(struct db_stmt *s)
{
	db_release(s);
}

int
store_step_done(struct store *st, struct db_stmt *s)
{
	return store_step_count(st, s) < 0 ? -1 : 0;
}

/* One statement that writes; wrapped in a fenced transaction of its own
 * when a duty's write stands alone. */
static long
step_write(struct store *st, struct db_stmt *s, bool fenced)
{
	bool wrap = fenced && st->fence_name && !st->in_tx;
	enum db_step rc;
	long changes;

	if (wrap && store_begin(st) < 0) {
		db_finalize(s);
		return -1;
	}
	rc = s ? db_step(s) : DB_ERROR;
	changes = s ? db_changes(s) : 0;
	if (rc == DB_ERROR && s)
		store_failed(st, NULL);
	db_finalize(s);
	if (wrap && (rc == DB_ERROR || store_commit(st) < 0)) {
		db_rollback(st->db);
		st->in_tx = false;
		return -1;
	}
	return rc == DB_ERROR ? -1 : changes;
}

long
store_step_count(struct store *st, struct db_stmt *s)
{
	return step_write(st, s, true);
}

long
store_step_free(struct store *st, struct db_stmt *s)
{
	return step_write(st, s, false);
}

int
store_exec(struct store *st, const char *sql)
{
	if (db_exec(st->db, sql) < 0) {
		store_failed(st, sql);
		return -1;
	}
	return 0;
}

int
store_begin_free(struct store *st)
{
	/* a refusal for want of the lease is this transaction's to report,
	 * not a later one's */
	st->fenced_out = false;
	if (db_begin(st->db) < 0) {
		store_failed(st, "beginning a transaction");
		return -1;
	}
	st->in_tx = true;
	return 0;
}

int
store_begin(struct store *st)
{
	if (store_begin_free(st) < 0)
		return -1;
	if (store_fence_check(st) < 0) {
		db_rollback(st->db);
		st->in_tx = false;
		return -1;
	}
	return 0;
}

int
store_commit(struct store *st)
{
	st->in_tx = false;
	if (db_commit(st->db) < 0) {
		store_failed(st, "committing");
		return -1;
	}
	return 0;
}

int
store_sub_get(struct store *st, const char *org, struct store_sub *ret)
{
	struct db_stmt *s =
	    store_prep(st, "SELECT id, expires, client_state, created FROM subscription "
			   "WHERE org=?");
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	rc = db_step(s);
	if (rc == DB_ROW) {
		ret->id = store_col_text(s, 0);
		ret->expires = db_col_double(s, 1);
		ret->client_state = store_col_unseal(st, s, 2, org, "client_state");
		ret->created = db_col_double(s, 3);
		rc = ret->client_state ? 0 : 1;
	} else {
		rc = rc == DB_DONE ? 1 : -1;
	}
	db_finalize(s);
	if (rc != 0)
		store_sub_clear(ret);
	return rc;
}

int
store_sub_put(struct store *st, const char *org, const struct store_sub *sub)
{
	struct db_stmt *s =
	    store_prep(st, "INSERT INTO subscription (org, id, expires, client_state, created) "
			   "VALUES (?,?,?,?,?) ON CONFLICT (org) DO UPDATE SET id=excluded.id, "
			   "expires=excluded.expires, client_state=excluded.client_state, "
			   "created=excluded.created");

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	db_bind_text(s, 2, sub->id);
	db_bind_double(s, 3, sub->expires);
	store_bind_sealed(st, s, 4, org, "client_state", sub->client_state);
	db_bind_double(s, 5, sub->created);
	return store_step_done(st, s);
}

int
store_sub_delete(struct store *st, const char *org)
{
	struct db_stmt *s = store_prep(st, "DELETE FROM subscription WHERE org=?");

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	return store_step_done(st, s);
}

int
store_sub_each(struct store *st, store_sub_fn *fn, void *arg)
{
	struct db_stmt *s = store_prep(st, "SELECT org, id, expires FROM subscription");
	enum db_step rc;

	if (!s)
		return -1;
	while ((rc = db_step(s)) == DB_ROW)
		fn(arg, db_col_text(s, 0), db_col_text(s, 1), db_col_double(s, 2));
	db_finalize(s);
	return rc == DB_DONE ? 0 : -1;
}

void
store_sub_clear(struct store_sub *sub)
{
	free(sub->id);
	free_secret(sub->client_state);
	memset(sub, 0, sizeof(*sub));
}

/* Every write of the work tables reports here: the first failure starts
 * store trouble (an alarm), the first success after it ends it. */
int
store_health(struct store *st, int rc)
{
	/* a write refused for want of the lease: the store is healthy, this
	 * agent is not the one to write (ha.c stands down) */
	if (rc < 0 && st->fenced_out) {
		st->fenced_out = false;
		free(st->failed_why);
		st->failed_why = NULL;
		return rc;
	}
	if (rc < 0) {
		/* the reason noted where it failed, or SQLite's last */
		char *why = st->failed_why ? st->failed_why : xstrdup(db_errmsg(st->db));
		st->failed_why = NULL;
		if (!st->trouble_since) {
			st->trouble_since = now_wall();
			log_err("store", "writes to the database are failing: %s", why);
			db_lock_wait(st->db, 0);
		}
		st->trouble_failures++;
		free(st->trouble_error);
		st->trouble_error = why;
	} else {
		/* a failed read since the last write is not this write's */
		free(st->failed_why);
		st->failed_why = NULL;
	}
	if (rc >= 0 && st->trouble_since) {
		double since = st->trouble_since;
		log_info("store", "database writes work again after %.0f s and %ld failure(s)",
			 now_wall() - since, st->trouble_failures);
		st->trouble_since = 0;
		st->trouble_failures = 0;
		db_lock_wait(st->db, STORE_BUSY_MS);
		if (st->on_recover)
			st->on_recover(since);
	}
	return rc;
}

json_t *
store_trouble(struct store *st)
{
	char *t;
	json_t *j;

	if (!st->trouble_since)
		return json_null();
	t = time_iso(st->trouble_since);
	j = json_pack("{s:s, s:I, s:s}", "since", t, "failures", (json_int_t)st->trouble_failures,
		      "error", st->trouble_error ? st->trouble_error : "");
	free(t);
	return j;
}

const char *
store_trouble_why(const struct store *st)
{
	if (!st->trouble_since)
		return NULL;
	return st->trouble_error ? st->trouble_error : "writes fail";
}

void
store_on_recover(struct store *st, void (*fn)(double since))
{
	st->on_recover = fn;
}

/* One count(*) with the org as its parameter; -1 if the store failed. */
static long
count_for_org(struct store *st, const char *sql, const char *org)
{
	struct db_stmt *s = store_prep(st, sql);
	long n = 0;

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	if (db_step(s) == DB_ROW)
		n = (long)db_col_int64(s, 0);
	db_finalize(s);
	return n;
}

/* "chat|message" of a change notification's resource, or NULL. */
static char *
msg_key(json_t *item)
{
	char *chat, *msg, *key;

	if (graph_message_ids(json_string_value(json_object_get(item, "resource")), &chat, &msg) <
	    0)
		return NULL;
	key = xprintf("%s|%s", chat, msg);
	free(chat);
	free(msg);
	return key;
}

/* One statement for the whole batch: preparing it per item cost more
 * than the insert. */
static int
inbox_insert(struct store *st, struct db_stmt *s, const char *org, const char *kind, json_t *items,
	     double now)
{
	size_t i;
	json_t *it;

	json_array_foreach (items, i, it) {
		char *text = json_dumps(it, JSON_COMPACT), *key = msg_key(it);
		db_release(s);
		db_bind_text(s, 1, org);
		db_bind_text(s, 2, kind);
		db_bind_text(s, 3, text);
		db_bind_double(s, 4, now);
		db_bind_text(s, 5, key);
		db_bind_int64(s, 6, json_is_object(json_object_get(it, "encryptedContent")));
		free(text);
		free(key);
		if (db_step(s) != DB_DONE) {
			store_failed(st, "writing the inbox");
			return -1;
		}
	}
	return 0;
}

int
store_inbox_add_batch(struct store *st, const struct store_inbox_new *v, size_t n)
{
	double now = now_wall();

	struct db_stmt *s;

	if (store_begin_free(st) < 0)
		return store_health(st, -1);
	if (store_serialize(st, STORE_SEQ_INBOX) < 0)
		return store_rollback(st);
	s = store_keep(st, "INSERT INTO inbox (org, kind, item, received, msg_key, rich) "
			   "VALUES (?,?,?,?,?,?)");
	for (size_t i = 0; s && i < n; i++)
		if (inbox_insert(st, s, v[i].org, v[i].kind, v[i].items, now) < 0) {
			store_release(s);
			s = NULL;
		}
	if (!s)
		return store_rollback(st);
	store_release(s);
	/* synchronous=FULL: on disk when COMMIT returns, before any 202 */
	if (store_commit(st) == 0)
		return store_health(st, 0);
	return store_rollback(st);
}

int
store_inbox_add(struct store *st, const char *org, const char *kind, json_t *items)
{
	struct store_inbox_new one = {org, kind, items};

	return store_inbox_add_batch(st, &one, 1);
}

/* The columns row_read() reads, in its order. */
#define ROW_COLUMNS "seq, org, kind, item, tries, received, msg_key, rich, next_try"

static void
row_read(struct db_stmt *s, struct store_inbox_row *ret)
{
	ret->seq = (long)db_col_int64(s, 0);
	ret->org = store_col_text(s, 1);
	ret->kind = store_col_text(s, 2);
	ret->item = store_col_text(s, 3);
	ret->tries = (long)db_col_int64(s, 4);
	ret->received = db_col_double(s, 5);
	/* a row from before `rich` was kept: its msg_key alone cannot say
	 * whether it needs a read, so it is left to the item */
	ret->msg_key = db_col_null(s, 7) ? NULL : store_col_text(s, 6);
	ret->rich = (int)db_col_int64(s, 7) != 0;
	ret->next_try = db_col_double(s, 8);
}

long
store_inbox_keys(struct store *st, const char *org, long after, long limit, store_key_fn *fn,
		 void *arg)
{
	struct db_stmt *s = store_keep(st, "SELECT seq, msg_key, rich FROM inbox WHERE org=? AND "
					   "seq>? ORDER BY seq LIMIT ?");
	long n = 0;
	int rc;

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	db_bind_int64(s, 2, after);
	db_bind_int64(s, 3, limit);
	while ((rc = db_step(s)) == DB_ROW) {
		fn(arg, (long)db_col_int64(s, 0), db_col_text(s, 1), (int)db_col_int64(s, 2) != 0);
		n++;
	}
	if (rc != DB_DONE) {
		log_err("store", "reading the inbox's keys: %s", db_errmsg(st->db));
		n = -1;
	}
	store_release(s);
	return n;
}

/* Steps a statement bound to select one inbox row (ROW_COLUMNS): 0 found,
 * 1 none, -1 error. */
static int
inbox_row_step(struct store *st, struct db_stmt *s, struct store_inbox_row *ret)
{
	int rc = db_step(s);

	if (rc == DB_ROW) {
		row_read(s, ret);
		rc = 0;
	} else {
		if (rc != DB_DONE)
			log_err("store", "reading the inbox: %s", db_errmsg(st->db));
		rc = rc == DB_DONE ? 1 : -1;
	}
	store_release(s);
	return rc;
}

int
store_inbox_get(struct store *st, long seq, struct store_inbox_row *ret)
{
	struct db_stmt *s = store_keep(st, "SELECT " ROW_COLUMNS " FROM inbox WHERE seq=?");

	memset(ret, 0, sizeof(*ret));
	if (!s)
		return -1;
	db_bind_int64(s, 1, seq);
	return inbox_row_step(st, s, ret);
}

int
store_inbox_next(struct store *st, const char *org, long after, double now,
		 struct store_inbox_row *ret)
{
	struct db_stmt *s = store_keep(st, "SELECT " ROW_COLUMNS " FROM inbox WHERE org=? AND "
					   "seq>? AND next_try<=? ORDER BY seq LIMIT 1");

	memset(ret, 0, sizeof(*ret));
	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	db_bind_int64(s, 2, after);
	db_bind_double(s, 3, now);
	return inbox_row_step(st, s, ret);
}

int
store_inbox_due(struct store *st, const char *org, double after, const long *skip, size_t n_skip,
		double *ret)
{
	/* the rows being worked on are due already; look past them */
	struct db_stmt *s = store_prep(st, "SELECT seq, next_try FROM inbox WHERE org=? AND "
					   "next_try > ? ORDER BY next_try LIMIT ?");
	int rc = 1;

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	db_bind_double(s, 2, after);
	db_bind_int64(s, 3, (long long)n_skip + 1);
	while (rc == 1 && db_step(s) == DB_ROW) {
		long seq = (long)db_col_int64(s, 0);
		bool busy = false;
		for (size_t i = 0; i < n_skip && !busy; i++)
			busy = skip[i] == seq;
		if (!busy) {
			*ret = db_col_double(s, 1);
			rc = 0;
		}
	}
	db_finalize(s);
	return rc;
}

static int
inbox_delete(struct store *st, long seq)
{
	struct db_stmt *s = store_prep(st, "DELETE FROM inbox WHERE seq=?");

	if (!s)
		return -1;
	db_bind_int64(s, 1, seq);
	return store_step_done(st, s);
}

int
store_inbox_done(struct store *st, long seq)
{
	int rc;

	store_relaxed(st, true);
	rc = store_health(st, inbox_delete(st, seq));
	store_relaxed(st, false);
	return rc;
}

int
store_inbox_retry(struct store *st, long seq, double next_try, const char *error)
{
	struct db_stmt *s =
	    store_prep(st, "UPDATE inbox SET tries=tries+1, next_try=?, last_error=? WHERE seq=?");
	int rc;

	if (!s)
		return -1;
	db_bind_double(s, 1, next_try);
	db_bind_text(s, 2, error);
	db_bind_int64(s, 3, seq);
	store_relaxed(st, true);
	rc = store_health(st, store_step_done(st, s));
	store_relaxed(st, false);
	return rc;
}

int
store_inbox_dead(struct store *st, long seq, const char *reason)
{
	struct db_stmt *s;

	if (store_begin(st) < 0)
		return store_health(st, -1);
	s = store_prep(st,
		       "INSERT INTO dead_letter (seq, org, kind, item, received, tries, reason, "
		       "dead_at) SELECT seq, org, kind, item, received, tries+1, CAST(? AS TEXT), "
		       "CAST(? AS DOUBLE PRECISION) FROM inbox "
		       "WHERE seq=?");
	if (!s)
		goto fail;
	db_bind_text(s, 1, reason);
	db_bind_double(s, 2, now_wall());
	db_bind_int64(s, 3, seq);
	if (store_step_done(st, s) < 0 || inbox_delete(st, seq) < 0 || store_commit(st) < 0)
		goto fail;
	return store_health(st, 0);
fail:
	return store_rollback(st);
}

bool
store_inbox_has(struct store *st, const char *org, const char *chat_id, const char *message_id)
{
	struct db_stmt *s = store_prep(st, "SELECT 1 FROM inbox WHERE org=? AND msg_key=? LIMIT 1");
	bool found;

	if (!s)
		return false;
	db_bind_text(s, 1, org);
	char *key = xprintf("%s|%s", chat_id, message_id);
	db_bind_text(s, 2, key);
	free(key);
	found = db_step(s) == DB_ROW;
	db_finalize(s);
	return found;
}

long
store_dead_count(struct store *st, const char *org)
{
	return count_for_org(st, "SELECT count(*) FROM dead_letter WHERE org=?", org);
}

json_t *
store_dead_letters(struct store *st, const char *org, long limit)
{
	struct db_stmt *s =
	    store_prep(st, "SELECT seq, org, kind, item, received, tries, reason, dead_at "
			   "FROM dead_letter WHERE (?1 IS NULL OR org=?1) "
			   "ORDER BY seq DESC LIMIT ?2");
	json_t *arr = json_array();

	if (!s)
		return arr;
	db_bind_text(s, 1, org);
	db_bind_int64(s, 2, limit);
	while (db_step(s) == DB_ROW) {
		char *rec = time_iso(db_col_double(s, 4));
		char *dead = time_iso(db_col_double(s, 7));
		json_t *item = json_loads(db_col_text(s, 3), 0, NULL);
		json_array_append_new(
		    arr, json_pack("{s:I, s:o, s:o, s:s, s:I, s:o, s:s, s:o}", "seq",
				   (json_int_t)db_col_int64(s, 0), "org", store_col_json(s, 1),
				   "kind", store_col_json(s, 2), "received", rec, "tries",
				   (json_int_t)db_col_int64(s, 5), "reason", store_col_json(s, 6),
				   "dead_at", dead, "item", item ? item : json_null()));
		free(rec);
		free(dead);
	}
	db_finalize(s);
	return arr;
}

long
store_inbox_last(struct store *st)
{
	struct db_stmt *s = store_keep(st, "SELECT coalesce(max(seq), 0) FROM inbox");
	long n = -1;

	if (s && db_step(s) == DB_ROW)
		n = (long)db_col_int64(s, 0);
	store_release(s);
	return n;
}

int
store_each_org(struct db_stmt *s, store_org_fn *fn, void *arg)
{
	enum db_step rc;

	while ((rc = db_step(s)) == DB_ROW)
		fn(arg, db_col_text(s, 0));
	return rc == DB_DONE ? 0 : -1;
}

int
store_inbox_orgs(struct store *st, store_org_fn *fn, void *arg)
{
	/* one index probe per org with rows (neither engine skips through an
	 * index for DISTINCT: that read the whole inbox, a backlog too) */
	struct db_stmt *s =
	    store_keep(st, "WITH RECURSIVE o(org) AS (SELECT min(org) FROM inbox UNION ALL "
			   "SELECT (SELECT min(org) FROM inbox WHERE inbox.org > o.org) FROM o "
			   "WHERE o.org IS NOT NULL) SELECT org FROM o WHERE org IS NOT NULL");
	int rc;

	if (!s)
		return -1;
	rc = store_each_org(s, fn, arg);
	store_release(s);
	return rc;
}

long
store_inbox_pending(struct store *st, const char *org)
{
	return count_for_org(st, "SELECT count(*) FROM inbox WHERE org=?", org);
}

void
store_inbox_row_clear(struct store_inbox_row *r)
{
	free(r->org);
	free(r->kind);
	free(r->item);
	free(r->msg_key);
	memset(r, 0, sizeof(*r));
}

/* The org's emergencies nobody has acknowledged, as "open" (calls) and
 * "open_tests" (933 test calls) of an outbox entry: the passive result of
 * an event or an acknowledgement says the emergency service's state from
 * them, so a test call or an ack never hides an open 911. Read in the
 * entry's own transaction. */
static int
open_counts(struct store *st, const char *org, json_t *body)
{
	struct db_stmt *s = store_prep(st, "SELECT count(*) FILTER (WHERE test_call = 0), "
					   "count(*) FILTER (WHERE test_call <> 0) FROM event "
					   "WHERE org=? AND kind='emergency' AND acked IS NULL");

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	if (db_step(s) != DB_ROW) {
		db_finalize(s);
		return -1;
	}
	json_object_set_new(body, "open", json_integer(db_col_int64(s, 0)));
	json_object_set_new(body, "open_tests", json_integer(db_col_int64(s, 1)));
	db_finalize(s);
	return 0;
}

/* The org's oldest emergency still open after an acknowledgement (911s
 * before test calls), as "next" of the ack's entry: the emergency service
 * goes on showing it. None: no "next". */
static int
next_open(struct store *st, const char *org, json_t *body)
{
	struct db_stmt *s =
	    store_prep(st, "SELECT id, number, test_call, caller_name, location, "
			   "created FROM event WHERE org=? AND kind='emergency' AND "
			   "acked IS NULL ORDER BY test_call, id LIMIT 1");
	int rc;

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	rc = db_step(s);
	if (rc == DB_ROW)
		json_object_set_new(
		    body, "next",
		    json_pack("{s:I, s:o, s:b, s:o, s:o, s:o}", "id",
			      (json_int_t)db_col_int64(s, 0), "number", store_col_json(s, 1),
			      "test_call", (int)db_col_int64(s, 2), "caller", store_col_json(s, 3),
			      "location", store_col_json(s, 4), "created", store_col_json(s, 5)));
	db_finalize(s);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

static int
event_to_outbox(struct store *st, const struct store_event *e, long id)
{
	json_t *b = json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:b}", "id", (json_int_t)id, "org",
			      e->org, "event", e->kind, "chat_id", e->chat_id, "message_id",
			      e->message_id, "test_call", e->test_call);
	const char *opt[][2] = {{"caller", e->caller_name}, {"caller_id", e->caller_id},
				{"number", e->number},      {"location", e->location},
				{"created", e->created},    {"source", e->source}};
	int rc;

	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
		json_object_set_new(b, opt[i][0], opt[i][1] ? json_string(opt[i][1]) : json_null());
	rc = open_counts(st, e->org, b) < 0 ? -1 : store_outbox_append(st, "event", b);
	json_decref(b);
	return rc;
}

static int event_add(struct store *st, const struct store_event *e, long inbox_seq, long *ret_id);

int
store_event_add(struct store *st, const struct store_event *e, long inbox_seq, long *ret_id)
{
	int rc;

	/* an inbox row's event: relaxed (above); a read-back's: durable */
	store_relaxed(st, inbox_seq > 0);
	rc = event_add(st, e, inbox_seq, ret_id);
	store_relaxed(st, false);
	return rc;
}

/* The event's row; its id in *ret_id. 0 new, 1 known, -1 error. */
static int
event_insert(struct store *st, const struct store_event *e, long *ret_id)
{
	struct db_stmt *s = store_prep(
	    st, "INSERT INTO event (org, chat_id, message_id, kind, caller_name, "
		"caller_id, number, test_call, location, importance, created, text, raw, "
		"source, raised) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
		/* a message known already is the one conflict taken in stride;
		 * any other (a NOT NULL) is an error */
		"ON CONFLICT (org, chat_id, message_id) DO NOTHING RETURNING id");
	const char *vals[] = {e->org,         e->chat_id,   e->message_id, e->kind,
			      e->caller_name, e->caller_id, e->number};
	enum db_step rc;

	if (!s)
		return -1;
	for (int i = 0; i < 7; i++)
		db_bind_text(s, i + 1, vals[i]);
	db_bind_int64(s, 8, e->test_call);
	db_bind_text(s, 9, e->location);
	db_bind_text(s, 10, e->importance);
	db_bind_text(s, 11, e->created);
	db_bind_text(s, 12, e->text);
	db_bind_text(s, 13, e->raw);
	db_bind_text(s, 14, e->source);
	db_bind_double(s, 15, now_wall());
	rc = db_step(s);
	*ret_id = rc == DB_ROW ? (long)db_col_int64(s, 0) : 0;
	if (rc == DB_ERROR)
		store_failed(st, "recording an event");
	db_finalize(s);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? 1 : -1;
}

static int
event_add(struct store *st, const struct store_event *e, long inbox_seq, long *ret_id)
{
	struct db_stmt *s;
	long fresh;
	int rc;

	*ret_id = 0;
	if (store_begin(st) < 0)
		return store_health(st, -1);
	/* known already (its event may be gone to retention since)? */
	s = store_prep(st, "INSERT INTO seen (org, chat_id, message_id, at) VALUES (?,?,?,?) "
			   "ON CONFLICT DO NOTHING");
	if (!s)
		goto fail;
	db_bind_text(s, 1, e->org);
	db_bind_text(s, 2, e->chat_id);
	db_bind_text(s, 3, e->message_id);
	db_bind_double(s, 4, now_wall());
	if ((fresh = store_step_count(st, s)) < 0)
		goto fail;
	if (fresh == 0) {
		if (inbox_seq > 0 && inbox_delete(st, inbox_seq) < 0)
			goto fail;
		if (store_commit(st) < 0)
			goto fail;
		store_health(st, 0);
		return 1;
	}
	if ((rc = event_insert(st, e, ret_id)) < 0)
		goto fail;
	/* a new event goes to the outputs in the same transaction */
	if (rc == 0 && event_to_outbox(st, e, *ret_id) < 0)
		goto fail;
	if (inbox_seq > 0 && inbox_delete(st, inbox_seq) < 0)
		goto fail;
	if (store_commit(st) < 0)
		goto fail;
	store_health(st, 0);
	return rc;
fail:
	return store_rollback(st);
}

json_t *
store_events(struct store *st, const char *org, long limit)
{
	return store_events_open(st, org, false, 0, limit);
}

json_t *
store_events_open(struct store *st, const char *org, bool open_only, double since, long limit)
{
	struct db_stmt *s = store_prep(
	    st, "SELECT id, org, kind, caller_name, caller_id, number, "
		"test_call, location, importance, created, chat_id, message_id, "
		"source, raised, text, acked, acked_by FROM event WHERE (?1 IS NULL OR org=?1) "
		"AND (?3 = 0 OR (kind = 'emergency' AND acked IS NULL AND raised >= ?4)) "
		"ORDER BY id DESC LIMIT ?2");
	json_t *arr = json_array();

	if (!s)
		return arr;
	db_bind_text(s, 1, org);
	db_bind_int64(s, 2, limit);
	db_bind_int64(s, 3, open_only);
	db_bind_double(s, 4, since);
	while (db_step(s) == DB_ROW) {
		char *raised = time_iso(db_col_double(s, 13));
		json_array_append_new(
		    arr, json_pack(
			     "{s:I, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:o, "
			     "s:o, s:s}",
			     "id", (json_int_t)db_col_int64(s, 0), "org", store_col_json(s, 1),
			     "kind", store_col_json(s, 2), "caller", store_col_json(s, 3),
			     "caller_id", store_col_json(s, 4), "number", store_col_json(s, 5),
			     "test_call", (int)db_col_int64(s, 6), "location", store_col_json(s, 7),
			     "importance", store_col_json(s, 8), "created", store_col_json(s, 9),
			     "chat_id", store_col_json(s, 10), "message_id", store_col_json(s, 11),
			     "source", store_col_json(s, 12), "raised", raised));
		json_t *ev = json_array_get(arr, json_array_size(arr) - 1);
		json_object_set_new(ev, "text", store_col_json(s, 14));
		json_object_set_new(ev, "acked", json_boolean(!db_col_null(s, 15)));
		if (!db_col_null(s, 15)) {
			char *at = time_iso(db_col_double(s, 15));
			json_object_set_new(ev, "acked_at", json_string(at));
			free(at);
		} else {
			json_object_set_new(ev, "acked_at", json_null());
		}
		json_object_set_new(ev, "acked_by", store_col_json(s, 16));
		free(raised);
	}
	db_finalize(s);
	return arr;
}

int
store_counters_add(struct store *st, json_t *deltas)
{
	const char *org, *name;
	json_t *d, *v;

	if (store_begin_free(st) < 0)
		return store_health(st, -1);
	json_object_foreach (deltas, org, d) {
		json_object_foreach (d, name, v) {
			struct db_stmt *s =
			    store_prep(st, "INSERT INTO counter (org, name, value) VALUES (?,?,?) "
					   "ON CONFLICT (org, name) DO UPDATE SET "
					   "value=counter.value+excluded.value");
			if (!s)
				goto fail;
			db_bind_text(s, 1, org);
			db_bind_text(s, 2, name);
			db_bind_int64(s, 3, json_integer_value(v));
			if (store_step_done(st, s) < 0)
				goto fail;
		}
	}
	if (store_commit(st) == 0)
		return store_health(st, 0);
fail:
	return store_rollback(st);
}

int
store_org_forget(struct store *st, const char *org)
{
	static const char *const sql[] = {"DELETE FROM org_auth WHERE org=?",
					  "DELETE FROM subscription WHERE org=?",
					  "DELETE FROM meta WHERE org=?"};

	if (store_begin(st) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		struct db_stmt *s = store_prep(st, sql[i]);
		if (!s)
			return store_rollback(st);
		db_bind_text(s, 1, org);
		if (store_step_done(st, s) < 0)
			return store_rollback(st);
	}
	return store_commit(st) == 0 ? 0 : store_rollback(st);
}

double
store_meta_get(struct store *st, const char *org, const char *key, double dflt)
{
	struct db_stmt *s = store_prep(st, "SELECT value FROM meta WHERE org=? AND key=?");
	double v = dflt;

	if (!s)
		return dflt;
	db_bind_text(s, 1, org);
	db_bind_text(s, 2, key);
	if (db_step(s) == DB_ROW)
		v = db_col_double(s, 0);
	db_finalize(s);
	return v;
}

int
store_meta_put(struct store *st, const char *org, const char *key, double value)
{
	struct db_stmt *s =
	    store_prep(st, "INSERT INTO meta (org, key, value) VALUES (?,?,?) "
			   "ON CONFLICT (org, key) DO UPDATE SET value=excluded.value");

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	db_bind_text(s, 2, key);
	db_bind_double(s, 3, value);
	return store_step_done(st, s);
}

json_t *
store_counters(struct store *st, const char *org)
{
	struct db_stmt *s =
	    store_prep(st, "SELECT name, value FROM counter WHERE org=? ORDER BY name");
	json_t *o = json_object();

	if (!s)
		return o;
	db_bind_text(s, 1, org);
	while (db_step(s) == DB_ROW)
		json_object_set_new(o, db_col_text(s, 0), json_integer(db_col_int64(s, 1)));
	db_finalize(s);
	return o;
}

/* Runs a "SELECT org, count(*) ... GROUP BY org" already bound. */
static int
count_by_org(struct store *st, struct db_stmt *s, store_count_fn *fn, void *arg)
{
	int rc;

	while ((rc = db_step(s)) == DB_ROW)
		fn(arg, db_col_text(s, 0), (long)db_col_int64(s, 1));
	if (rc != DB_DONE)
		log_err("store", "counting per org: %s", db_errmsg(st->db));
	store_release(s);
	return rc == DB_DONE ? 0 : -1;
}

int
store_count_dead(struct store *st, store_count_fn *fn, void *arg)
{
	struct db_stmt *s = store_keep(st, "SELECT org, count(*) FROM dead_letter GROUP BY org");

	return s ? count_by_org(st, s, fn, arg) : -1;
}

int
store_count_events(struct store *st, const char *kind, double since, store_count_fn *fn, void *arg)
{
	/* event_kind: the recent rows of one kind, not the whole table */
	struct db_stmt *s = store_keep(st, "SELECT org, count(*) FROM event WHERE kind=? AND "
					   "raised>=? GROUP BY org");

	if (!s)
		return -1;
	db_bind_text(s, 1, kind);
	db_bind_double(s, 2, since);
	return count_by_org(st, s, fn, arg);
}

int
store_dead_clear(struct store *st, const char *org)
{
	struct db_stmt *s = store_prep(st, "DELETE FROM dead_letter WHERE org=?");
	long n;

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	n = store_step_count(st, s);
	return store_health(st, n < 0 ? -1 : 0) < 0 ? -1 : (int)n;
}

/* What the acknowledgement's notification and passive result say: the
 * event's row, as ack_select() reads it, and who and when. */
static json_t *
ack_body(struct db_stmt *row, long id, const char *by, double at)
{
	char *when = time_iso(at);
	json_t *b =
	    json_pack("{s:I, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:s, s:s}", "id", (json_int_t)id,
		      "org", store_col_json(row, 0), "event", store_col_json(row, 1), "number",
		      store_col_json(row, 2), "test_call", (int)db_col_int64(row, 3), "caller",
		      store_col_json(row, 4), "location", store_col_json(row, 5), "created",
		      store_col_json(row, 6), "acked_by", by, "acked_at", when);

	free(when);
	return b;
}

/* Inside the ack's transaction: the entry's body in *ret, or 1 (no such
 * event) or 2 (acknowledged before, by *ret_by), or -1. */
static int
ack_select(struct store *st, long id, const char *by, double at, json_t **ret, char **ret_by)
{
	struct db_stmt *row =
	    store_prep(st, "SELECT org, kind, number, test_call, caller_name, "
			   "location, created, acked, acked_by FROM event WHERE id=?");
	int rc;

	if (!row)
		return -1;
	db_bind_int64(row, 1, id);
	rc = db_step(row);
	if (rc == DB_ROW && db_col_null(row, 7)) {
		*ret = ack_body(row, id, by, at);
		rc = 0;
	} else if (rc == DB_ROW) {
		/* the first acknowledgement stands; nothing is sent again */
		const char *who = db_col_text(row, 8);
		*ret_by = xstrdup(who ? who : "");
		rc = 2;
	} else {
		rc = rc == DB_DONE ? 1 : -1;
	}
	db_finalize(row);
	return rc;
}

int
store_event_ack(struct store *st, long id, const char *by, char **ret_by)
{
	double at = now_wall();
	json_t *body = NULL;
	struct db_stmt *s;
	int rc;

	*ret_by = NULL;
	if (store_begin_free(st) < 0)
		return store_health(st, -1);
	rc = ack_select(st, id, by, at, &body, ret_by);
	if (rc != 0) {
		db_rollback(st->db);
		st->in_tx = false;
		return rc < 0 ? store_health(st, -1) : rc;
	}
	s = store_prep(st, "UPDATE event SET acked=?, acked_by=? WHERE id=?");
	if (s) {
		db_bind_double(s, 1, at);
		db_bind_text(s, 2, by);
		db_bind_int64(s, 3, id);
	}
	/* the event and its entry for the outputs change together; the open
	 * count is the one after this acknowledgement */
	if (!s || store_step_done(st, s) < 0 ||
	    open_counts(st, json_string_value(json_object_get(body, "org")), body) < 0 ||
	    next_open(st, json_string_value(json_object_get(body, "org")), body) < 0 ||
	    store_outbox_append(st, "ack", body) < 0 || store_commit(st) < 0)
		rc = store_rollback(st);
	else
		rc = store_health(st, 0);
	json_decref(body);
	return rc;
}

long
store_org_index(struct store *st, const char *org)
{
	struct db_stmt *s;
	long idx = -1;

	for (int pass = 0; pass < 2 && idx < 0; pass++) {
		s = store_prep(st, "SELECT idx FROM org_index WHERE org=?");
		if (!s)
			return -1;
		db_bind_text(s, 1, org);
		if (db_step(s) == DB_ROW)
			idx = (long)db_col_int64(s, 0);
		db_finalize(s);
		if (idx >= 0 || pass)
			break;
		/* a new org: the next number, never one another org had */
		s = store_prep(st,
			       "INSERT INTO org_index (org, idx) "
			       "SELECT CAST(? AS TEXT), coalesce(max(idx), 0) + 1 FROM org_index");
		if (!s)
			return -1;
		db_bind_text(s, 1, org);
		if (store_health(st, store_step_done(st, s)) < 0)
			return -1;
	}
	return idx;
}

long
store_prune(struct store *st, double older_than, long keep_events, long min_cursor,
	    long *ret_unsent)
{
	struct db_stmt *s;
	long gone = 0;

	*ret_unsent = 0;
	if (store_begin(st) < 0)
		return store_health(st, -1);
	/* outbox entries an output configured now has not taken yet are
	 * counted as lost (the cursor of one no longer configured is not) */
	s = store_prep(st, "SELECT count(*) FROM outbox WHERE at<?1 AND ?2 >= 0 AND seq>?2");
	if (!s)
		goto fail;
	db_bind_double(s, 1, older_than);
	db_bind_int64(s, 2, min_cursor);
	if (db_step(s) == DB_ROW)
		*ret_unsent = (long)db_col_int64(s, 0);
	db_finalize(s);
	s = store_prep(st, "DELETE FROM outbox WHERE at<?");
	if (!s)
		goto fail;
	db_bind_double(s, 1, older_than);
	if (store_step_done(st, s) < 0)
		goto fail;
	/* an emergency nobody has acknowledged stays, however old or many */
	s = store_prep(st, "DELETE FROM event WHERE (raised<?1 OR id NOT IN "
			   "(SELECT id FROM event ORDER BY id DESC LIMIT ?2)) "
			   "AND NOT (kind='emergency' AND acked IS NULL)");
	if (!s)
		goto fail;
	db_bind_double(s, 1, older_than);
	db_bind_int64(s, 2, keep_events);
	if ((gone = store_step_count(st, s)) < 0)
		goto fail;
	/* what was raised is known for as long as events are kept by age */
	s = store_prep(st, "DELETE FROM seen WHERE at<?1");
	if (!s)
		goto fail;
	db_bind_double(s, 1, older_than);
	if (store_step_done(st, s) < 0)
		goto fail;
	if (store_commit(st) == 0)
		return store_health(st, 0) == 0 ? gone : -1;
fail:
	return store_rollback(st);
}
