/* db.h on SQLite: one file, WAL, commits on disk before they return. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "db_driver.h"
#include "util.h"

struct sq_stmt {
	struct db_stmt base; /* first: db.c's view */
	struct sq_db *db;
	sqlite3_stmt *stmt;
	long changes;
	bool kept; /* sq_keep's: finalized only at sq_close */
};

struct sq_db {
	struct db base; /* first: db.c's view */
	sqlite3 *conn;
	char *path;
	/* the last failure's reason, kept when it happened: a ROLLBACK after
	 * it resets sqlite3_errmsg() to "not an error" */
	char *why;
	struct {
		const char *sql;
		struct sq_stmt *s;
	} kept[16];
	size_t n_kept;
};

static void
note(struct sq_db *db)
{
	free(db->why);
	db->why = xstrdup(sqlite3_errmsg(db->conn));
}

int
sq_open(const char *path, struct sq_db **ret, char **ret_err)
{
	struct sq_db *db = xcalloc(1, sizeof(*db));

	db->base.engine = DB_SQLITE;

	db->path = xstrdup(path);
	if (sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		*ret_err = xprintf("%s: %s", path, sqlite3_errmsg(db->conn));
		sq_close(db);
		return -1;
	}
	*ret = db;
	return 0;
}

void
sq_close(struct sq_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n_kept; i++) {
		sqlite3_finalize(db->kept[i].s->stmt);
		free(db->kept[i].s);
	}
	sqlite3_close(db->conn);
	free(db->why);
	free(db->path);
	free(db);
}

const char *
sq_name(const struct sq_db *db)
{
	return db->path;
}

/* A kept statement is prepared for many runs (SQLite plans it so). */
static struct sq_stmt *
prepare(struct sq_db *db, const char *sql, bool kept)
{
	sqlite3_stmt *st = NULL;
	struct sq_stmt *s;

	if (sqlite3_prepare_v3(db->conn, sql, -1, kept ? SQLITE_PREPARE_PERSISTENT : 0, &st,
			       NULL) != SQLITE_OK) {
		note(db);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->base.db = &db->base;
	s->db = db;
	s->stmt = st;
	s->kept = kept;
	return s;
}

struct sq_stmt *
sq_prep(struct sq_db *db, const char *sql)
{
	return prepare(db, sql, false);
}

struct sq_stmt *
sq_keep(struct sq_db *db, const char *sql)
{
	struct sq_stmt *s;

	for (size_t i = 0; i < db->n_kept; i++)
		if (!strcmp(db->kept[i].sql, sql))
			return db->kept[i].s;
	if (db->n_kept == sizeof(db->kept) / sizeof(db->kept[0])) {
		free(db->why);
		db->why = xprintf("no room to keep another statement (a bug): %s", sql);
		return NULL;
	}
	if (!(s = prepare(db, sql, true)))
		return NULL;
	db->kept[db->n_kept].sql = sql;
	db->kept[db->n_kept++].s = s;
	return s;
}

void
sq_release(struct sq_stmt *s)
{
	if (s) {
		sqlite3_reset(s->stmt);
		sqlite3_clear_bindings(s->stmt);
	}
}

void
sq_finalize(struct sq_stmt *s)
{
	if (s && s->kept) {
		sq_release(s);
	} else if (s) {
		sqlite3_finalize(s->stmt);
		free(s);
	}
}

void
sq_bind_text(struct sq_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s->stmt, i, v, -1, SQLITE_TRANSIENT);
}

void
sq_bind_int64(struct sq_stmt *s, int i, long long v)
{
	sqlite3_bind_int64(s->stmt, i, v);
}

void
sq_bind_double(struct sq_stmt *s, int i, double v)
{
	sqlite3_bind_double(s->stmt, i, v);
}

void
sq_bind_blob(struct sq_stmt *s, int i, const void *v, size_t len)
{
	sqlite3_bind_blob(s->stmt, i, v, (int)len, SQLITE_TRANSIENT);
}

enum db_step
sq_step(struct sq_stmt *s)
{
	int rc = sqlite3_step(s->stmt);

	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE) {
		s->changes = sqlite3_changes(s->db->conn);
		return DB_DONE;
	}
	note(s->db);
	return DB_ERROR;
}

bool
sq_col_null(struct sq_stmt *s, int i)
{
	return sqlite3_column_type(s->stmt, i) == SQLITE_NULL;
}

const char *
sq_col_text(struct sq_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s->stmt, i);
}

long long
sq_col_int64(struct sq_stmt *s, int i)
{
	return sqlite3_column_int64(s->stmt, i);
}

double
sq_col_double(struct sq_stmt *s, int i)
{
	return sqlite3_column_double(s->stmt, i);
}

const void *
sq_col_blob(struct sq_stmt *s, int i, size_t *ret_len)
{
	const void *b = sqlite3_column_blob(s->stmt, i);
	int n = sqlite3_column_bytes(s->stmt, i);

	*ret_len = n > 0 ? (size_t)n : 0;
	return b;
}

long
sq_changes(struct sq_stmt *s)
{
	return s->changes;
}

int
sq_exec(struct sq_db *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db->conn, sql, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	free(db->why);
	db->why = xstrdup(err ? err : sqlite3_errmsg(db->conn));
	sqlite3_free(err);
	return -1;
}

int
sq_begin(struct sq_db *db)
{
	/* the write lock now, not at the first write: no deadlock between
	 * two writers that each read first */
	return sq_exec(db, "BEGIN IMMEDIATE");
}

int
sq_commit(struct sq_db *db)
{
	return sq_exec(db, "COMMIT");
}

void
sq_rollback(struct sq_db *db)
{
	/* keeps the failure's reason: sqlite3_exec() errors are not noted */
	sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
}

const char *
sq_errmsg(struct sq_db *db)
{
	return db->why ? db->why : sqlite3_errmsg(db->conn);
}

long long
sq_rows_written(struct sq_db *db)
{
	return (long long)sqlite3_total_changes64(db->conn);
}

void
sq_lock_wait(struct sq_db *db, int ms)
{
	sqlite3_busy_timeout(db->conn, ms);
}

void
sq_relaxed(struct sq_db *db, bool on)
{
	sqlite3_exec(db->conn, on ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", NULL,
		     NULL, NULL);
}

bool
sq_connected(struct sq_db *db)
{
	(void)db;
	return true;
}
