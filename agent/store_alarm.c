/*
 * The store's alarm table and outbox. An alarm's row and its outbox entry
 * are written in one transaction, as are an event and its entry (in
 * store_work.c): after any crash the outbox holds every transition that
 * happened, once, in order, and nothing that did not.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "util.h"

int
store_outbox_append(struct store *st, const char *kind, json_t *body)
{
	sqlite3_stmt *s = store_prep(st, "INSERT INTO outbox (at, kind, body) VALUES (?,?,?)");

	if (!s)
		return -1;
	sqlite3_bind_double(s, 1, now_wall());
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, json_dumps(body, JSON_COMPACT), -1, free);
	return store_step_done(st, s);
}

long
store_outbox_post(struct store *st, const char *kind, json_t *body)
{
	if (store_outbox_append(st, kind, body) < 0)
		return store_health(st, -1);
	store_health(st, 0);
	return (long)sqlite3_last_insert_rowid(st->db);
}

static int
alarm_row(struct store *st, const struct store_alarm *a, bool raise)
{
	sqlite3_stmt *s =
	    raise ? store_prep(st, "INSERT OR REPLACE INTO alarm (type, org, severity, raised, "
				   "text) VALUES (?,?,?,?,?)")
		  : store_prep(st, "DELETE FROM alarm WHERE type=? AND org=?");

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, a->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, a->org, -1, SQLITE_STATIC);
	if (raise) {
		sqlite3_bind_text(s, 3, a->severity, -1, SQLITE_STATIC);
		sqlite3_bind_double(s, 4, a->raised);
		sqlite3_bind_text(s, 5, a->text, -1, SQLITE_STATIC);
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

	if (store_exec(st, "BEGIN IMMEDIATE") < 0)
		rc = store_health(st, -1);
	else if (alarm_row(st, a, raise) < 0 || store_outbox_append(st, "alarm", body) < 0 ||
		 store_exec(st, "COMMIT") < 0)
		rc = store_rollback(st);
	else
		rc = store_health(st, 0);
	json_decref(body);
	return rc;
}

json_t *
store_alarms(struct store *st)
{
	sqlite3_stmt *s = store_prep(st, "SELECT type, org, severity, raised, text FROM alarm "
					 "ORDER BY raised, type, org");
	json_t *arr = json_array();

	if (!s)
		return arr;
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *a =
		    json_pack("{s:o, s:o, s:o, s:f, s:o}", "type", store_col_json(s, 0), "org",
			      store_col_json(s, 1), "severity", store_col_json(s, 2), "raised",
			      sqlite3_column_double(s, 3), "text", store_col_json(s, 4));
		json_array_append_new(arr, a);
	}
	sqlite3_finalize(s);
	return arr;
}

json_t *
store_outbox_since(struct store *st, long after, long limit)
{
	sqlite3_stmt *s = store_prep(st, "SELECT seq, at, kind, body FROM outbox WHERE seq>? "
					 "ORDER BY seq LIMIT ?");
	json_t *arr = json_array();

	if (!s)
		return arr;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, limit);
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *e = json_loads((const char *)sqlite3_column_text(s, 3), 0, NULL);
		char *at = time_iso(sqlite3_column_double(s, 1));
		if (!json_is_object(e)) {
			json_decref(e);
			e = json_object();
		}
		json_object_set_new(e, "seq", json_integer(sqlite3_column_int64(s, 0)));
		json_object_set_new(e, "at", json_string(at));
		json_object_set_new(e, "kind", store_col_json(s, 2));
		json_array_append_new(arr, e);
		free(at);
	}
	sqlite3_finalize(s);
	return arr;
}

long
store_outbox_last(struct store *st)
{
	sqlite3_stmt *s = store_prep(st, "SELECT coalesce(max(seq), 0) FROM outbox");
	long n = 0;

	if (!s)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

double
store_outbox_last_at(struct store *st, const char *kind)
{
	sqlite3_stmt *s = store_prep(st, "SELECT coalesce(max(at), 0) FROM outbox WHERE kind=?");
	double at = 0;

	if (!s)
		return 0;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		at = sqlite3_column_double(s, 0);
	sqlite3_finalize(s);
	return at;
}

int
store_cursor_get(struct store *st, const char *name, long *ret)
{
	sqlite3_stmt *s = store_prep(st, "SELECT seq FROM cursor WHERE name=?");
	int rc;

	*ret = 0;
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int
store_cursor_put(struct store *st, const char *name, long seq)
{
	return store_cursor_advance(st, name, seq, 0, 0);
}

int
store_cursor_advance(struct store *st, const char *name, long seq, long delivered, long given_up)
{
	sqlite3_stmt *s = store_prep(
	    st, "INSERT INTO cursor (name, seq, delivered, given_up) VALUES (?1,?2,?3,?4) "
		"ON CONFLICT (name) DO UPDATE SET seq=?2, delivered=delivered+?3, "
		"given_up=given_up+?4");
	int rc;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, seq);
	sqlite3_bind_int64(s, 3, delivered);
	sqlite3_bind_int64(s, 4, given_up);
	store_relaxed(st, true); /* lost: sent again (store_relaxed) */
	rc = store_health(st, store_step_done(st, s));
	store_relaxed(st, false);
	return rc;
}

int
store_cursor_counts(struct store *st, const char *name, long *ret_delivered, long *ret_given_up)
{
	sqlite3_stmt *s = store_prep(st, "SELECT delivered, given_up FROM cursor WHERE name=?");
	int rc;

	*ret_delivered = *ret_given_up = 0;
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ret_delivered = (long)sqlite3_column_int64(s, 0);
		*ret_given_up = (long)sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}
