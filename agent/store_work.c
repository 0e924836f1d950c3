/*
 * The store's work tables: the subscription per org, the inbox of
 * acknowledged notifications, events and counters. A notification is in
 * the inbox before Graph hears 202; it leaves the inbox in the same
 * transaction that records what it meant, so a crash at any point either
 * replays it (and dedup catches the replay) or has finished it.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "util.h"

static sqlite3_stmt *
prep(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_err("store", "%s", sqlite3_errmsg(st->db));
		return NULL;
	}
	return s;
}

static int
step_done(struct store *st, sqlite3_stmt *s)
{
	int rc = s ? sqlite3_step(s) : SQLITE_ERROR;

	if (rc != SQLITE_DONE && rc != SQLITE_ROW && s)
		log_err("store", "%s", sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int
exec(struct store *st, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_err("store", "%s: %s", sql, err);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

int
store_sub_get(struct store *st, const char *org, struct store_sub *ret)
{
	sqlite3_stmt *s = prep(st, "SELECT id, expires, client_state, created FROM subscription "
				   "WHERE org=?");
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ret->id = store_col_text(s, 0);
		ret->expires = sqlite3_column_double(s, 1);
		ret->client_state = store_col_unseal(st, s, 2, org, "client_state");
		ret->created = sqlite3_column_double(s, 3);
		rc = ret->client_state ? 0 : 1;
	} else {
		rc = rc == SQLITE_DONE ? 1 : -1;
	}
	sqlite3_finalize(s);
	if (rc != 0)
		store_sub_clear(ret);
	return rc;
}

int
store_sub_put(struct store *st, const char *org, const struct store_sub *sub)
{
	sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO subscription (org, id, expires, "
				   "client_state, created) VALUES (?,?,?,?,?)");

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sub->id, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 3, sub->expires);
	store_bind_sealed(st, s, 4, org, "client_state", sub->client_state);
	sqlite3_bind_double(s, 5, sub->created);
	return step_done(st, s);
}

int
store_sub_delete(struct store *st, const char *org)
{
	sqlite3_stmt *s = prep(st, "DELETE FROM subscription WHERE org=?");

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	return step_done(st, s);
}

void
store_sub_clear(struct store_sub *sub)
{
	free(sub->id);
	free_secret(sub->client_state);
	memset(sub, 0, sizeof(*sub));
}

int
store_inbox_add(struct store *st, const char *org, const char *kind, json_t *items)
{
	size_t i;
	json_t *it;

	if (exec(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	json_array_foreach (items, i, it) {
		sqlite3_stmt *s = prep(st, "INSERT INTO inbox (org, kind, item, received) VALUES "
					   "(?,?,?,?)");
		char *text = json_dumps(it, JSON_COMPACT);
		if (!s) {
			free(text);
			goto fail;
		}
		sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, text, -1, free);
		sqlite3_bind_double(s, 4, now_wall());
		if (step_done(st, s) < 0)
			goto fail;
	}
	/* synchronous=FULL: on disk when COMMIT returns, before the 202 */
	return exec(st, "COMMIT");
fail:
	exec(st, "ROLLBACK");
	return -1;
}

int
store_inbox_next(struct store *st, long after, struct store_inbox_row *ret)
{
	sqlite3_stmt *s = prep(st, "SELECT seq, org, kind, item, tries FROM inbox WHERE seq>? "
				   "ORDER BY seq LIMIT 1");
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, after);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ret->seq = (long)sqlite3_column_int64(s, 0);
		ret->org = store_col_text(s, 1);
		ret->kind = store_col_text(s, 2);
		ret->item = store_col_text(s, 3);
		ret->tries = (long)sqlite3_column_int64(s, 4);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 1 : -1;
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_inbox_done(struct store *st, long seq)
{
	sqlite3_stmt *s = prep(st, "DELETE FROM inbox WHERE seq=?");

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, seq);
	return step_done(st, s);
}

int
store_inbox_tried(struct store *st, long seq)
{
	sqlite3_stmt *s = prep(st, "UPDATE inbox SET tries=tries+1 WHERE seq=?");

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, seq);
	return step_done(st, s);
}

long
store_inbox_pending(struct store *st, const char *org)
{
	sqlite3_stmt *s = prep(st, "SELECT count(*) FROM inbox WHERE org=?");
	long n = 0;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

void
store_inbox_row_clear(struct store_inbox_row *r)
{
	free(r->org);
	free(r->kind);
	free(r->item);
	memset(r, 0, sizeof(*r));
}

int
store_event_add(struct store *st, const struct store_event *e, long inbox_seq, long *ret_id)
{
	sqlite3_stmt *s;
	int rc;

	if (exec(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	s = prep(st, "INSERT OR IGNORE INTO event (org, chat_id, message_id, kind, caller_name, "
		     "caller_id, number, test_call, location, importance, created, text, raw, "
		     "source, raised) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	if (!s)
		goto fail;
	const char *vals[] = {e->org,         e->chat_id,   e->message_id, e->kind,
			      e->caller_name, e->caller_id, e->number};
	for (int i = 0; i < 7; i++)
		sqlite3_bind_text(s, i + 1, vals[i], -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 8, e->test_call);
	sqlite3_bind_text(s, 9, e->location, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 10, e->importance, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 11, e->created, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 12, e->text, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 13, e->raw, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 14, e->source, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 15, now_wall());
	if (step_done(st, s) < 0)
		goto fail;
	rc = sqlite3_changes(st->db) == 1 ? 0 : 1;
	*ret_id = (long)sqlite3_last_insert_rowid(st->db);
	if (inbox_seq > 0 && store_inbox_done(st, inbox_seq) < 0)
		goto fail;
	if (exec(st, "COMMIT") < 0)
		goto fail;
	return rc;
fail:
	exec(st, "ROLLBACK");
	return -1;
}

static json_t *
text_or_null(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? json_string((const char *)t) : json_null();
}

json_t *
store_events(struct store *st, const char *org, long limit)
{
	sqlite3_stmt *s = prep(st, "SELECT id, org, kind, caller_name, caller_id, number, "
				   "test_call, location, importance, created, chat_id, message_id, "
				   "source, raised, text FROM event WHERE (?1 IS NULL OR org=?1) "
				   "ORDER BY id DESC LIMIT ?2");
	json_t *arr = json_array();

	if (!s)
		return arr;
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, limit);
	while (sqlite3_step(s) == SQLITE_ROW) {
		char *raised = time_iso(sqlite3_column_double(s, 13));
		json_array_append_new(
		    arr, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:o, "
				   "s:o, s:s}",
				   "id", (json_int_t)sqlite3_column_int64(s, 0), "org",
				   text_or_null(s, 1), "kind", text_or_null(s, 2), "caller",
				   text_or_null(s, 3), "caller_id", text_or_null(s, 4), "number",
				   text_or_null(s, 5), "test_call", sqlite3_column_int(s, 6),
				   "location", text_or_null(s, 7), "importance", text_or_null(s, 8),
				   "created", text_or_null(s, 9), "chat_id", text_or_null(s, 10),
				   "message_id", text_or_null(s, 11), "source", text_or_null(s, 12),
				   "raised", raised));
		json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "text",
				    text_or_null(s, 14));
		free(raised);
	}
	sqlite3_finalize(s);
	return arr;
}

int
store_count(struct store *st, const char *org, const char *name, long delta)
{
	sqlite3_stmt *s =
	    prep(st, "INSERT INTO counter (org, name, value) VALUES (?,?,?) "
		     "ON CONFLICT (org, name) DO UPDATE SET value=value+excluded.value");

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, delta);
	return step_done(st, s);
}

double
store_meta_get(struct store *st, const char *org, const char *key, double dflt)
{
	sqlite3_stmt *s = prep(st, "SELECT value FROM meta WHERE org=? AND key=?");
	double v = dflt;

	if (!s)
		return dflt;
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_double(s, 0);
	sqlite3_finalize(s);
	return v;
}

int
store_meta_put(struct store *st, const char *org, const char *key, double value)
{
	sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO meta (org, key, value) VALUES (?,?,?)");

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 3, value);
	return step_done(st, s);
}

json_t *
store_counters(struct store *st, const char *org)
{
	sqlite3_stmt *s = prep(st, "SELECT name, value FROM counter WHERE org=? ORDER BY name");
	json_t *o = json_object();

	if (!s)
		return o;
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW)
		json_object_set_new(o, (const char *)sqlite3_column_text(s, 0),
				    json_integer(sqlite3_column_int64(s, 1)));
	sqlite3_finalize(s);
	return o;
}
