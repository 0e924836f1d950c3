/*
 * The store's tables, per engine. SQLite's grew by ALTERs tried on every
 * start (a column already there is the one failure taken in stride);
 * PostgreSQL's are numbered steps, each applied once, in one transaction
 * with the number, under a lock, so that two agents starting together
 * upgrade a shared database once.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "store_priv.h"
#include "util.h"

static const char sqlite_schema[] =
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
    "  PRIMARY KEY (org, name));"
    /* leases and agents: for a shared database; here, one agent's */
    "CREATE TABLE IF NOT EXISTS lease ("
    "  name TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch INTEGER NOT NULL,"
    "  expires REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS agent ("
    "  name TEXT PRIMARY KEY, role TEXT, seen REAL NOT NULL, instance TEXT);";

static const char *const sqlite_migrations[] = {
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
    /* each sign-in's number, and whether the active has taken it up (a
     * pair: the browser's callback may land on the standby) */
    "ALTER TABLE org_auth ADD COLUMN gen INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE org_auth ADD COLUMN adopt INTEGER NOT NULL DEFAULT 0",
    /* sign-in links and OAuth states (store_signin.c) */
    ("CREATE TABLE IF NOT EXISTS signin ("
     "  hash TEXT PRIMARY KEY, kind TEXT NOT NULL, org TEXT NOT NULL, verifier BLOB,"
     "  expires REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0)"),
};

/* Step N brings a database at version N-1 to N. Never edit a step that
 * has shipped: add one. Times are seconds since 1970 (double precision,
 * as SQLite's REAL), flags 0/1 as in SQLite, so that one set of
 * statements serves both. */
static const char *const pg_steps[] = {
    /* 1: the tables as SQLite has them after its migrations */
    "CREATE TABLE org_auth ("
    "  org TEXT PRIMARY KEY, state TEXT NOT NULL, access BYTEA, refresh BYTEA,"
    "  access_expires DOUBLE PRECISION, last_refresh DOUBLE PRECISION,"
    "  user_id TEXT, user_upn TEXT, failures BIGINT NOT NULL DEFAULT 0,"
    "  last_error TEXT, updated DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE subscription ("
    "  org TEXT PRIMARY KEY, id TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL,"
    "  client_state BYTEA NOT NULL, created DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE inbox ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  org TEXT NOT NULL, kind TEXT NOT NULL, item TEXT NOT NULL,"
    "  received DOUBLE PRECISION NOT NULL, tries BIGINT NOT NULL DEFAULT 0,"
    "  next_try DOUBLE PRECISION NOT NULL DEFAULT 0, last_error TEXT,"
    "  msg_key TEXT, rich BIGINT);"
    "CREATE INDEX inbox_key ON inbox (org, msg_key);"
    "CREATE INDEX inbox_walk ON inbox (org, seq, next_try);"
    "CREATE INDEX inbox_due ON inbox (org, next_try);"
    "CREATE TABLE dead_letter ("
    "  seq BIGINT PRIMARY KEY, org TEXT NOT NULL, kind TEXT NOT NULL,"
    "  item TEXT NOT NULL, received DOUBLE PRECISION NOT NULL, tries BIGINT NOT NULL,"
    "  reason TEXT, dead_at DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE event ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  org TEXT NOT NULL, chat_id TEXT NOT NULL, message_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL, caller_name TEXT, caller_id TEXT, number TEXT,"
    "  test_call BIGINT NOT NULL, location TEXT, importance TEXT, created TEXT,"
    "  text TEXT, raw TEXT, source TEXT NOT NULL, raised DOUBLE PRECISION NOT NULL,"
    "  acked DOUBLE PRECISION, acked_by TEXT,"
    "  UNIQUE (org, chat_id, message_id));"
    "CREATE INDEX event_recent ON event (org, kind, raised);"
    "CREATE INDEX event_kind ON event (kind, raised);"
    "CREATE TABLE seen ("
    "  org TEXT NOT NULL, chat_id TEXT NOT NULL, message_id TEXT NOT NULL,"
    "  at DOUBLE PRECISION NOT NULL, PRIMARY KEY (org, chat_id, message_id));"
    "CREATE INDEX seen_at ON seen (at);"
    "CREATE TABLE alarm ("
    "  type TEXT NOT NULL, org TEXT NOT NULL, severity TEXT NOT NULL,"
    "  raised DOUBLE PRECISION NOT NULL, text TEXT, PRIMARY KEY (type, org));"
    "CREATE TABLE outbox ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  at DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE TABLE cursor ("
    "  name TEXT PRIMARY KEY, seq BIGINT NOT NULL,"
    "  delivered BIGINT NOT NULL DEFAULT 0, given_up BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE org_index (org TEXT PRIMARY KEY, idx BIGINT NOT NULL UNIQUE);"
    "CREATE TABLE meta ("
    "  org TEXT NOT NULL, key TEXT NOT NULL, value DOUBLE PRECISION NOT NULL,"
    "  PRIMARY KEY (org, key));"
    "CREATE TABLE counter ("
    "  org TEXT NOT NULL, name TEXT NOT NULL, value BIGINT NOT NULL,"
    "  PRIMARY KEY (org, name));",
    /* 2: leases (store_lease.c) and the agents sharing the database */
    "CREATE TABLE lease ("
    "  name TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL,"
    "  expires DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE agent ("
    "  name TEXT PRIMARY KEY, role TEXT, seen DOUBLE PRECISION NOT NULL, instance TEXT);",
    /* 3: sign-in on either agent: each sign-in's number and whether the
     * active has taken it up; links and OAuth states (store_signin.c) */
    "ALTER TABLE org_auth ADD COLUMN gen BIGINT NOT NULL DEFAULT 0,"
    "  ADD COLUMN adopt BIGINT NOT NULL DEFAULT 0;"
    "CREATE TABLE signin ("
    "  hash TEXT PRIMARY KEY, kind TEXT NOT NULL, org TEXT NOT NULL, verifier BYTEA,"
    "  expires DOUBLE PRECISION NOT NULL, used BIGINT NOT NULL DEFAULT 0);",
};

static int
sqlite_schema_apply(struct db *db, char **ret_err)
{
	if (db_exec(db, sqlite_schema) < 0) {
		*ret_err = xprintf("%s: %s", db_name(db), db_errmsg(db));
		return -1;
	}
	/* columns added since the first release: "duplicate column" means a
	 * database that has them already; any other failure is fatal */
	for (size_t i = 0; i < sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]); i++) {
		if (db_exec(db, sqlite_migrations[i]) == 0 ||
		    strstr(db_errmsg(db), "duplicate column"))
			continue;
		*ret_err = xprintf("%s: upgrading the database: %s", db_name(db), db_errmsg(db));
		return -1;
	}
	return 0;
}

/* The version the database is at, inside the caller's transaction. */
static long
pg_schema_version(struct db *db)
{
	struct db_stmt *s = db_prep(db, "SELECT coalesce(max(version), 0) FROM schema_version");
	long v = -1;

	if (s && db_step(s) == DB_ROW)
		v = (long)db_col_int64(s, 0);
	db_finalize(s);
	return v;
}

static int
pg_apply_step(struct db *db, size_t i)
{
	struct db_stmt *s;
	long rc;

	if (db_exec(db, pg_steps[i]) < 0)
		return -1;
	s = db_prep(db, "INSERT INTO schema_version (version, applied) VALUES (?, ?)");
	if (!s)
		return -1;
	db_bind_int64(s, 1, (long long)i + 1);
	db_bind_double(s, 2, now_wall());
	rc = db_step(s);
	db_finalize(s);
	return rc == DB_DONE ? 0 : -1;
}

static int
pg_schema_apply(struct db *db, char **ret_err)
{
	size_t n = sizeof(pg_steps) / sizeof(pg_steps[0]);
	long v;

	/* the lock: a second agent starting now waits, then finds it done */
	if (db_begin(db) < 0 || db_exec(db, "SELECT pg_advisory_xact_lock(7715064)") < 0 ||
	    db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
			"  version BIGINT PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)") < 0 ||
	    (v = pg_schema_version(db)) < 0)
		goto fail;
	if ((size_t)v > n) {
		db_rollback(db);
		*ret_err = xprintf("%s: the database is at schema version %ld, this ctteamsd "
				   "knows %zu: a newer ctteamsd wrote it",
				   db_name(db), v, n);
		return -1;
	}
	for (size_t i = (size_t)v; i < n; i++)
		if (pg_apply_step(db, i) < 0)
			goto fail;
	if (db_commit(db) == 0)
		return 0;
fail:
	*ret_err = xprintf("%s: preparing the database: %s", db_name(db), db_errmsg(db));
	db_rollback(db);
	return -1;
}

int
store_schema(struct db *db, char **ret_err)
{
	return db_engine(db) == DB_POSTGRES ? pg_schema_apply(db, ret_err)
					    : sqlite_schema_apply(db, ret_err);
}
