#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "util.h"

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS org_auth ("
    "  org TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL,"
    "  access BLOB,"
    "  refresh BLOB,"
    "  access_expires REAL,"
    "  last_refresh REAL,"
    "  user_id TEXT,"
    "  user_upn TEXT,"
    "  failures INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  updated REAL NOT NULL);"
    /* the org's Graph subscription; clientState sealed like a token */
    "CREATE TABLE IF NOT EXISTS subscription ("
    "  org TEXT PRIMARY KEY,"
    "  id TEXT NOT NULL,"
    "  expires REAL NOT NULL,"
    "  client_state BLOB NOT NULL,"
    "  created REAL NOT NULL);"
    /* notifications acknowledged to Graph, not yet processed */
    "CREATE TABLE IF NOT EXISTS inbox ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  org TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  item TEXT NOT NULL,"
    "  received REAL NOT NULL,"
    "  tries INTEGER NOT NULL DEFAULT 0);"
    /* notifications that kept failing: kept whole for an operator, never
     * silently deleted */
    "CREATE TABLE IF NOT EXISTS dead_letter ("
    "  seq INTEGER PRIMARY KEY,"
    "  org TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  item TEXT NOT NULL,"
    "  received REAL NOT NULL,"
    "  tries INTEGER NOT NULL,"
    "  reason TEXT,"
    "  dead_at REAL NOT NULL);"
    /* one row per message: a redelivery cannot raise a second event */
    "CREATE TABLE IF NOT EXISTS event ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  org TEXT NOT NULL,"
    "  chat_id TEXT NOT NULL,"
    "  message_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  caller_name TEXT, caller_id TEXT, number TEXT,"
    "  test_call INTEGER NOT NULL, location TEXT, importance TEXT,"
    "  created TEXT, text TEXT, raw TEXT, source TEXT NOT NULL, raised REAL NOT NULL,"
    "  UNIQUE (org, chat_id, message_id));"
    /* the active alarms: one row per (type, org) while raised */
    "CREATE TABLE IF NOT EXISTS alarm ("
    "  type TEXT NOT NULL, org TEXT NOT NULL, severity TEXT NOT NULL,"
    "  raised REAL NOT NULL, text TEXT,"
    "  PRIMARY KEY (type, org));"
    /* every alarm transition and event, in order, for the outputs; each
     * output keeps its own cursor */
    "CREATE TABLE IF NOT EXISTS outbox ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at REAL NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cursor ("
    "  name TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
    /* each org's number for tables that need one (the MIB's): given once,
     * kept for the name even while the org is out of the configuration */
    "CREATE TABLE IF NOT EXISTS org_index ("
    "  org TEXT PRIMARY KEY, idx INTEGER NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS meta ("
    "  org TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL,"
    "  PRIMARY KEY (org, key));"
    "CREATE TABLE IF NOT EXISTS counter ("
    "  org TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,"
    "  PRIMARY KEY (org, name));";

static const char *const migrations[] = {
    /* when the item may be tried again (per-item backoff) */
    "ALTER TABLE inbox ADD COLUMN next_try REAL NOT NULL DEFAULT 0",
    "ALTER TABLE inbox ADD COLUMN last_error TEXT",
    /* "chat|message", so the reconcile knows what the webhook brought */
    "ALTER TABLE inbox ADD COLUMN msg_key TEXT",
    "CREATE INDEX IF NOT EXISTS inbox_key ON inbox (org, msg_key)",
    /* who acknowledged an event, and when (ctteamsctl ack) */
    "ALTER TABLE event ADD COLUMN acked REAL",
    "ALTER TABLE event ADD COLUMN acked_by TEXT",
    /* what each output delivered and gave up, kept with its cursor */
    "ALTER TABLE cursor ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE cursor ADD COLUMN given_up INTEGER NOT NULL DEFAULT 0",
    /* the processing's walk over an org's rows, and its next retry:
     * without these, each step scanned every row of a long inbox */
    "CREATE INDEX IF NOT EXISTS inbox_walk ON inbox (org, seq, next_try)",
    "CREATE INDEX IF NOT EXISTS inbox_due ON inbox (org, next_try)",
    /* a rich notification carries its message (no Graph read to pace):
     * known without parsing the item again on every pass; NULL in rows
     * written before, which are parsed as they always were */
    "ALTER TABLE inbox ADD COLUMN rich INTEGER",
    /* the messages already raised, kept apart from the events: retention
     * may remove an event row (event_max), and a read-back that met its
     * message again must still know it, not raise it a second time */
    ("CREATE TABLE IF NOT EXISTS seen ("
     "  org TEXT NOT NULL, chat_id TEXT NOT NULL, message_id TEXT NOT NULL,"
     "  at REAL NOT NULL, PRIMARY KEY (org, chat_id, message_id)) WITHOUT ROWID"),
    "CREATE INDEX IF NOT EXISTS seen_at ON seen (at)",
    /* events from before the table (a no-op once they are in) */
    ("INSERT INTO seen SELECT org, chat_id, message_id, raised FROM event WHERE true "
     "ON CONFLICT DO NOTHING"),
    /* an org's recent events of a kind (ctteamsctl events, the checks) */
    "CREATE INDEX IF NOT EXISTS event_recent ON event (org, kind, raised)",
    /* the alarms' look at every org's recent events of a kind, every few
     * seconds, in one query */
    "CREATE INDEX IF NOT EXISTS event_kind ON event (kind, raised)",
};

int
store_open(const char *state_dir, struct seal *seal, struct store **ret, char **ret_err)
{
	char *path = xprintf("%s/ctteams.db", state_dir);
	struct store *st = xcalloc(1, sizeof(*st));
	char *err = NULL;

	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		*ret_err = xprintf("%s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	/* short: a write that cannot get the lock fails fast and is retried
	 * later, rather than holding the event loop */
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	if (sqlite3_exec(st->db, schema, NULL, NULL, &err) != SQLITE_OK) {
		*ret_err = xprintf("%s: %s", path, err);
		sqlite3_free(err);
		goto fail;
	}
	/* columns added since the first release: "duplicate column" means a
	 * database that has them already; any other failure is fatal */
	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		if (sqlite3_exec(st->db, migrations[i], NULL, NULL, &err) == SQLITE_OK)
			continue;
		if (err && strstr(err, "duplicate column")) {
			sqlite3_free(err);
			err = NULL;
			continue;
		}
		*ret_err = xprintf("%s: upgrading the database: %s", path, err ? err : "?");
		sqlite3_free(err);
		goto fail;
	}
	chmod(path, 0600);
	free(path);
	st->seal = seal;
	*ret = st;
	return 0;
fail:
	free(path);
	sqlite3_close(st->db);
	free(st);
	return -1;
}

void
store_close(struct store *st)
{
	if (st) {
		free(st->trouble_error);
		free(st->failed_why);
		for (size_t i = 0; i < st->n_kept; i++)
			sqlite3_finalize(st->kept[i].stmt);
		sqlite3_close(st->db);
		free(st);
	}
}

long long
store_rows_written(struct store *st)
{
	return st ? (long long)sqlite3_total_changes64(st->db) : 0;
}

char *
store_col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? xstrdup((const char *)t) : NULL;
}

char *
store_col_unseal(struct store *st, sqlite3_stmt *s, int i, const char *org, const char *field)
{
	const void *blob = sqlite3_column_blob(s, i);
	int len = sqlite3_column_bytes(s, i);
	char *where, *plain;

	if (!blob || len <= 0)
		return NULL;
	where = xprintf("ctteams/org/%s/%s", org, field);
	plain = seal_decrypt(st->seal, where, blob, (size_t)len);
	if (!plain)
		log_warnx("store",
			  "org %s: the sealed %s does not open with this key; treating "
			  "it as absent",
			  org, field);
	free(where);
	return plain;
}

int
store_auth_get(struct store *st, const char *org, struct store_auth *a)
{
	sqlite3_stmt *s;
	int rc;

	memset(a, 0, sizeof(*a));
	if (sqlite3_prepare_v2(
		st->db,
		"SELECT state, access, refresh, access_expires, last_refresh, user_id,"
		" user_upn, failures, last_error, updated FROM org_auth WHERE org=?",
		-1, &s, NULL) != SQLITE_OK) {
		log_err("store", "query: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		a->state = store_col_text(s, 0);
		a->access_token = store_col_unseal(st, s, 1, org, "access");
		a->refresh_token = store_col_unseal(st, s, 2, org, "refresh");
		a->access_expires = sqlite3_column_double(s, 3);
		a->last_refresh = sqlite3_column_double(s, 4);
		a->user_id = store_col_text(s, 5);
		a->user_upn = store_col_text(s, 6);
		a->failures = sqlite3_column_int64(s, 7);
		a->last_error = store_col_text(s, 8);
		a->updated = sqlite3_column_double(s, 9);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 1;
	} else {
		log_err("store", "read org %s: %s", org, sqlite3_errmsg(st->db));
		rc = -1;
	}
	sqlite3_finalize(s);
	return rc;
}

void
store_bind_sealed(struct store *st, sqlite3_stmt *s, int i, const char *org, const char *field,
		  const char *plain)
{
	char *where;
	unsigned char *blob;
	size_t len;

	if (!plain) {
		sqlite3_bind_null(s, i);
		return;
	}
	where = xprintf("ctteams/org/%s/%s", org, field);
	blob = seal_encrypt(st->seal, where, plain, &len);
	sqlite3_bind_blob(s, i, blob, (int)len, free);
	free(where);
}

int
store_auth_put(struct store *st, const char *org, const struct store_auth *a)
{
	sqlite3_stmt *s;
	int rc;

	/* one statement is one transaction: both tokens change together */
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO org_auth (org, state, access, refresh,"
			       " access_expires, last_refresh, user_id, user_upn, failures,"
			       " last_error, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &s, NULL) != SQLITE_OK) {
		log_err("store", "prepare: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, a->state, -1, SQLITE_STATIC);
	store_bind_sealed(st, s, 3, org, "access", a->access_token);
	store_bind_sealed(st, s, 4, org, "refresh", a->refresh_token);
	sqlite3_bind_double(s, 5, a->access_expires);
	sqlite3_bind_double(s, 6, a->last_refresh);
	sqlite3_bind_text(s, 7, a->user_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, a->user_upn, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, a->failures);
	sqlite3_bind_text(s, 10, a->last_error, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 11, now_wall());
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		log_err("store", "write org %s: %s", org, sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

int
store_auth_delete(struct store *st, const char *org)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM org_auth WHERE org=?", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, org, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
store_auth_clear(struct store_auth *a)
{
	free(a->state);
	free_secret(a->access_token);
	free_secret(a->refresh_token);
	free(a->user_id);
	free(a->user_upn);
	free(a->last_error);
	memset(a, 0, sizeof(*a));
}

/* Processing's writes about a row of the inbox (its event, its retry,
 * its end) need not be on disk before the next step: the row was written
 * durably before Graph was told 202, and these writes only consume or
 * annotate it. If the power fails before a later durable write's fsync
 * carries them along (WAL: one fsync covers every frame before it), the
 * row is still there and is processed again: at least once, as after a
 * crash. A read-back's event has no row behind it and stays durable. This
 * spares processing one fsync per notification. The outputs' cursors are
 * written so too: one lost sends its entries again, at least once. */
void
store_relaxed(struct store *st, bool on)
{
	sqlite3_exec(st->db, on ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", NULL,
		     NULL, NULL);
}

int
store_rollback(struct store *st)
{
	/* quietly: a transaction that never began has nothing to undo, and
	 * the failure's own reason is what store_health() reports */
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return store_health(st, -1);
}
