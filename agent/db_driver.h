/*
 * What db.c sees of the two engines: each driver's handle and statement
 * begin with db.c's own (struct db, struct db_stmt), so db.c hands a call
 * to the engine the handle names.
 */
#ifndef CT_DB_DRIVER_H
#define CT_DB_DRIVER_H

#include "db.h"

struct db {
	enum db_engine engine;
};

struct db_stmt {
	struct db *db;
};

#define DB_DRIVER(p)                                                                               \
	struct p##_db;                                                                             \
	struct p##_stmt;                                                                           \
	void p##_close(struct p##_db *db);                                                         \
	const char *p##_name(const struct p##_db *db);                                             \
	struct p##_stmt *p##_prep(struct p##_db *db, const char *sql);                             \
	struct p##_stmt *p##_keep(struct p##_db *db, const char *sql);                             \
	void p##_release(struct p##_stmt *s);                                                      \
	void p##_finalize(struct p##_stmt *s);                                                     \
	void p##_bind_text(struct p##_stmt *s, int i, const char *v);                              \
	void p##_bind_int64(struct p##_stmt *s, int i, long long v);                               \
	void p##_bind_double(struct p##_stmt *s, int i, double v);                                 \
	void p##_bind_blob(struct p##_stmt *s, int i, const void *v, size_t len);                  \
	enum db_step p##_step(struct p##_stmt *s);                                                 \
	bool p##_col_null(struct p##_stmt *s, int i);                                              \
	const char *p##_col_text(struct p##_stmt *s, int i);                                       \
	long long p##_col_int64(struct p##_stmt *s, int i);                                        \
	double p##_col_double(struct p##_stmt *s, int i);                                          \
	const void *p##_col_blob(struct p##_stmt *s, int i, size_t *ret_len);                      \
	long p##_changes(struct p##_stmt *s);                                                      \
	int p##_exec(struct p##_db *db, const char *sql);                                          \
	int p##_begin(struct p##_db *db);                                                          \
	int p##_commit(struct p##_db *db);                                                         \
	void p##_rollback(struct p##_db *db);                                                      \
	const char *p##_errmsg(struct p##_db *db);                                                 \
	long long p##_rows_written(struct p##_db *db);                                             \
	void p##_lock_wait(struct p##_db *db, int ms);                                             \
	void p##_relaxed(struct p##_db *db, bool on);                                              \
	bool p##_connected(struct p##_db *db)

DB_DRIVER(sq);
DB_DRIVER(pg);
int sq_open(const char *path, struct sq_db **ret, char **ret_err);
int pg_open(const char *target, const char *password_file, struct pg_db **ret, char **ret_err);

#endif
