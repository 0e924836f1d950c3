/*
 * The store's alarm table and outbox. An alarm's row and its outbox entry
 * are written in one transaction, as are an event and its entry (in
 * store_work.c): after any crash the outbox holds every transition that
 * happened, once, in order, and nothing that did not.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "util.h"

/* The entry's seq, or -1. */
static long
outbox_insert(struct store *st, const char *kind, json_t *body)
{
	struct db_stmt *s = store_prep(st, "INSERT INTO outbox (at, kind, body) VALUES (?,?,?) "
					   "RETURNING seq");
	char *text = json_dumps(body, JSON_COMPACT);
	long seq = -1;

	if (!s || store_serialize(st, STORE_SEQ_OUTBOX) < 0) {
		db_finalize(s);
		free(text);
		return -1;
	}
	db_bind_double(s, 1, now_wall());
	db_bind_text(s, 2, kind);
	db_bind_text(s, 3, text);
	free(text);
	if (db_step(s) == DB_ROW)
		seq = (long)db_col_int64(s, 0);
	else
		store_failed(st, "appending to the outbox");
	db_finalize(s);
	return seq;
}

int
store_outbox_append(struct store *st, const char *kind, json_t *body)
{
	return outbox_insert(st, kind, body) < 0 ? -1 : 0;
}

long
store_outbox_post(struct store *st, const char *kind, json_t *body)
{
	long seq;

	/* a duty's write (the heartbeat, the stop): fenced */
	if (store_begin(st) < 0)
		return store_health(st, -1);
	seq = outbox_insert(st, kind, body);
	if (seq < 0 || store_commit(st) < 0)
		return store_rollback(st);
	store_health(st, 0);
	return seq;
}

static int
alarm_row(struct store *st, const struct store_alarm *a, bool raise)
{
	struct db_stmt *s =
	    raise ? store_prep(st, "INSERT INTO alarm (type, org, severity, raised, text) "
				   "VALUES (?,?,?,?,?) ON CONFLICT (type, org) DO UPDATE SET "
				   "severity=excluded.severity, raised=excluded.raised, "
				   "text=excluded.text")
		  : store_prep(st, "DELETE FROM alarm WHERE type=? AND org=?");

	if (!s)
		return -1;
	db_bind_text(s, 1, a->type);
	db_bind_text(s, 2, a->org);
	if (raise) {
		db_bind_text(s, 3, a->severity);
		db_bind_double(s, 4, a->raised);
		db_bind_text(s, 5, a->text);
	}
	return store_step_done(st, s);
}

json_t *
store_alarm_body(const struct store_alarm *a, bool raise)
{
	char *raised = time_iso(a->raised);
	json_t *body =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "transition", raise ? "raise" : "clear",
		      "type", a->type, "org", a->org, "severity", raise ? a->severity : "cleared",
		      "raised", raised, "text", a->text ? a->text : "");

	free(raised);
	if (a->early)
		json_object_set_new(body, "early", json_true());
	return body;
}

int
store_alarm_transition(struct store *st, const struct store_alarm *a, bool raise)
{
	json_t *body = store_alarm_body(a, raise);
	int rc;

	if (store_begin(st) < 0)
		rc = store_health(st, -1);
	else if (alarm_row(st, a, raise) < 0 || store_outbox_append(st, "alarm", body) < 0 ||
		 store_commit(st) < 0)
		rc = store_rollback(st);
	else
		rc = store_health(st, 0);
	json_decref(body);
	return rc;
}

int
store_alarm_hand_over(struct store *st, const struct store_alarm *a)
{
	json_t *up = store_alarm_body(a, true), *down = store_alarm_body(a, false);
	int rc;

	/* the outbox only: the alarm table is the new active's */
	if (store_begin_free(st) < 0)
		rc = store_health(st, -1);
	else if (store_outbox_append(st, "alarm", up) < 0 ||
		 store_outbox_append(st, "alarm", down) < 0 || store_commit(st) < 0)
		rc = store_rollback(st);
	else
		rc = store_health(st, 0);
	json_decref(up);
	json_decref(down);
	return rc;
}

json_t *
store_alarms(struct store *st)
{
	struct db_stmt *s = store_prep(st, "SELECT type, org, severity, raised, text FROM alarm "
					   "ORDER BY raised, type, org");
	json_t *arr;
	enum db_step rc;

	if (!s)
		return NULL;
	arr = json_array();
	while ((rc = db_step(s)) == DB_ROW) {
		json_t *a = json_pack("{s:o, s:o, s:o, s:f, s:o}", "type", store_col_json(s, 0),
				      "org", store_col_json(s, 1), "severity", store_col_json(s, 2),
				      "raised", db_col_double(s, 3), "text", store_col_json(s, 4));
		json_array_append_new(arr, a);
	}
	db_finalize(s);
	if (rc == DB_ERROR) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *
store_outbox_since(struct store *st, long after, long limit)
{
	struct db_stmt *s = store_prep(st, "SELECT seq, at, kind, body FROM outbox WHERE seq>? "
					   "ORDER BY seq LIMIT ?");
	json_t *arr = json_array();

	if (!s)
		return arr;
	db_bind_int64(s, 1, after);
	db_bind_int64(s, 2, limit);
	while (db_step(s) == DB_ROW) {
		json_t *e = json_loads(db_col_text(s, 3), 0, NULL);
		char *at = time_iso(db_col_double(s, 1));
		if (!json_is_object(e)) {
			json_decref(e);
			e = json_object();
		}
		json_object_set_new(e, "seq", json_integer(db_col_int64(s, 0)));
		json_object_set_new(e, "at", json_string(at));
		json_object_set_new(e, "kind", store_col_json(s, 2));
		json_array_append_new(arr, e);
		free(at);
	}
	db_finalize(s);
	return arr;
}

long
store_outbox_last(struct store *st)
{
	struct db_stmt *s = store_prep(st, "SELECT coalesce(max(seq), 0) FROM outbox");
	long n = 0;

	if (!s)
		return -1;
	if (db_step(s) == DB_ROW)
		n = (long)db_col_int64(s, 0);
	db_finalize(s);
	return n;
}

double
store_outbox_last_at(struct store *st, const char *kind)
{
	struct db_stmt *s = store_prep(st, "SELECT coalesce(max(at), 0) FROM outbox WHERE kind=?");
	double at = 0;

	if (!s)
		return 0;
	db_bind_text(s, 1, kind);
	if (db_step(s) == DB_ROW)
		at = db_col_double(s, 0);
	db_finalize(s);
	return at;
}

int
store_cursor_get(struct store *st, const char *name, long *ret)
{
	struct db_stmt *s = store_prep(st, "SELECT seq FROM cursor WHERE name=?");
	int rc;

	*ret = 0;
	if (!s)
		return -1;
	db_bind_text(s, 1, name);
	rc = db_step(s);
	if (rc == DB_ROW)
		*ret = (long)db_col_int64(s, 0);
	db_finalize(s);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? 1 : -1;
}

int
store_cursor_put(struct store *st, const char *name, long seq)
{
	return store_cursor_advance(st, name, seq, 0, 0);
}

int
store_cursor_advance(struct store *st, const char *name, long seq, long delivered, long given_up)
{
	struct db_stmt *s = store_prep(
	    st, "INSERT INTO cursor (name, seq, delivered, given_up) VALUES (?1,?2,?3,?4) "
		"ON CONFLICT (name) DO UPDATE SET seq=?2, delivered=cursor.delivered+?3, "
		"given_up=cursor.given_up+?4");
	int rc;

	if (!s)
		return -1;
	db_bind_text(s, 1, name);
	db_bind_int64(s, 2, seq);
	db_bind_int64(s, 3, delivered);
	db_bind_int64(s, 4, given_up);
	store_relaxed(st, true); /* lost: sent again (store_relaxed) */
	rc = store_health(st, store_step_done(st, s));
	store_relaxed(st, false);
	return rc;
}

int
store_cursor_counts(struct store *st, const char *name, long *ret_delivered, long *ret_given_up)
{
	struct db_stmt *s = store_prep(st, "SELECT delivered, given_up FROM cursor WHERE name=?");
	int rc;

	*ret_delivered = *ret_given_up = 0;
	if (!s)
		return -1;
	db_bind_text(s, 1, name);
	rc = db_step(s);
	if (rc == DB_ROW) {
		*ret_delivered = (long)db_col_int64(s, 0);
		*ret_given_up = (long)db_col_int64(s, 1);
	}
	db_finalize(s);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? 1 : -1;
}
