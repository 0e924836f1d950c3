/*
 * The SQL engines under the store: SQLite (a file under state_dir, the
 * default) and PostgreSQL (a server two agents can share). The store writes
 * its statements once, in the SQL both accept, with `?` or `?N` for
 * parameters; this layer runs them on either. Each engine's library is
 * reached from its own file only (ctest store_boundary).
 */
#ifndef CT_DB_H
#define CT_DB_H

#include <stdbool.h>
#include <stddef.h>

struct db;
struct db_stmt;

enum db_engine { DB_SQLITE, DB_POSTGRES };
enum db_step { DB_ROW = 1, DB_DONE = 0, DB_ERROR = -1 };

/* SQLite: the file at path, made if absent. */
int db_open_sqlite(const char *path, struct db **ret, char **ret_err);
/* PostgreSQL: a libpq connection URI or key=value string; the password,
 * when not in a service or password file of libpq's own, read from
 * password_file (never passed on a command line). connect_timeout and TCP
 * keepalives are added when the target does not set them, so a vanished
 * server is noticed in seconds, not minutes. */
int db_open_pg(const char *target, const char *password_file, struct db **ret, char **ret_err);
void db_close(struct db *db);
enum db_engine db_engine(const struct db *db);
/* The target without any password in it, for messages. */
const char *db_name(const struct db *db);

/* A statement; sql must outlive it when kept. */
struct db_stmt *db_prep(struct db *db, const char *sql);
/* A statement of a hot path, made once and kept until db_close: release
 * it (db_release) instead of finalizing it. sql is a literal. */
struct db_stmt *db_keep(struct db *db, const char *sql);
void db_release(struct db_stmt *s);
void db_finalize(struct db_stmt *s);

/* Parameters, from 1. Text and blobs are copied. */
void db_bind_text(struct db_stmt *s, int i, const char *v);
void db_bind_int64(struct db_stmt *s, int i, long long v);
void db_bind_double(struct db_stmt *s, int i, double v);
void db_bind_blob(struct db_stmt *s, int i, const void *v, size_t len);

/* The next row, the end, or an error (db_errmsg says which). */
enum db_step db_step(struct db_stmt *s);
/* Columns of the current row, from 0. Text is borrowed until the next
 * step; NULL for SQL NULL. */
bool db_col_null(struct db_stmt *s, int i);
const char *db_col_text(struct db_stmt *s, int i);
long long db_col_int64(struct db_stmt *s, int i);
double db_col_double(struct db_stmt *s, int i);
/* Borrowed until the next step or the next blob read; *ret_len bytes. */
const void *db_col_blob(struct db_stmt *s, int i, size_t *ret_len);
/* Rows the last step of s inserted, changed or deleted. */
long db_changes(struct db_stmt *s);

/* Statements without parameters or rows; quiet: failure not logged. */
int db_exec(struct db *db, const char *sql);
/* A write transaction: SQLite takes the write lock at once. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
/* Why the last call failed (borrowed). */
const char *db_errmsg(struct db *db);
/* Rows written since open. */
long long db_rows_written(struct db *db);
/* How long a statement waits for another writer's lock (ms). */
void db_lock_wait(struct db *db, int ms);
/* on: commits need not reach the disk before they return (store_relaxed). */
void db_relaxed(struct db *db, bool on);
/* Is the connection up (PostgreSQL; SQLite: always)? */
bool db_connected(struct db *db);

#endif
