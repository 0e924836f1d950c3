/*
 * The store's SQL, handed to the engine a handle belongs to (db.h). The
 * drivers' handles begin with struct db, their statements with struct
 * db_stmt (db_driver.h).
 */
#include <stdlib.h>

#include "db_driver.h"

int
db_open_sqlite(const char *path, struct db **ret, char **ret_err)
{
	struct sq_db *d;
	int rc = sq_open(path, &d, ret_err);

	*ret = rc == 0 ? (struct db *)d : NULL;
	return rc;
}

int
db_open_pg(const char *target, const char *password_file, struct db **ret, char **ret_err)
{
	struct pg_db *d;
	int rc = pg_open(target, password_file, &d, ret_err);

	*ret = rc == 0 ? (struct db *)d : NULL;
	return rc;
}

enum db_engine
db_engine(const struct db *db)
{
	return db->engine;
}

void
db_close(struct db *db)
{
	if (!db)
		return;
	if (db->engine == DB_POSTGRES)
		pg_close((struct pg_db *)db);
	else
		sq_close((struct sq_db *)db);
}

const char *
db_name(const struct db *db)
{
	if (db->engine == DB_POSTGRES)
		return pg_name((const struct pg_db *)db);
	return sq_name((const struct sq_db *)db);
}

struct db_stmt *
db_prep(struct db *db, const char *sql)
{
	if (db->engine == DB_POSTGRES)
		return (struct db_stmt *)pg_prep((struct pg_db *)db, sql);
	return (struct db_stmt *)sq_prep((struct sq_db *)db, sql);
}

struct db_stmt *
db_keep(struct db *db, const char *sql)
{
	if (db->engine == DB_POSTGRES)
		return (struct db_stmt *)pg_keep((struct pg_db *)db, sql);
	return (struct db_stmt *)sq_keep((struct sq_db *)db, sql);
}

void
db_release(struct db_stmt *s)
{
	if (!s)
		return;
	if (s->db->engine == DB_POSTGRES)
		pg_release((struct pg_stmt *)s);
	else
		sq_release((struct sq_stmt *)s);
}

void
db_finalize(struct db_stmt *s)
{
	if (!s)
		return;
	if (s->db->engine == DB_POSTGRES)
		pg_finalize((struct pg_stmt *)s);
	else
		sq_finalize((struct sq_stmt *)s);
}

void
db_bind_text(struct db_stmt *s, int i, const char *v)
{
	if (s->db->engine == DB_POSTGRES)
		pg_bind_text((struct pg_stmt *)s, i, v);
	else
		sq_bind_text((struct sq_stmt *)s, i, v);
}

void
db_bind_int64(struct db_stmt *s, int i, long long v)
{
	if (s->db->engine == DB_POSTGRES)
		pg_bind_int64((struct pg_stmt *)s, i, v);
	else
		sq_bind_int64((struct sq_stmt *)s, i, v);
}

void
db_bind_double(struct db_stmt *s, int i, double v)
{
	if (s->db->engine == DB_POSTGRES)
		pg_bind_double((struct pg_stmt *)s, i, v);
	else
		sq_bind_double((struct sq_stmt *)s, i, v);
}

void
db_bind_blob(struct db_stmt *s, int i, const void *v, size_t len)
{
	if (s->db->engine == DB_POSTGRES)
		pg_bind_blob((struct pg_stmt *)s, i, v, len);
	else
		sq_bind_blob((struct sq_stmt *)s, i, v, len);
}

enum db_step
db_step(struct db_stmt *s)
{
	if (s->db->engine == DB_POSTGRES)
		return pg_step((struct pg_stmt *)s);
	return sq_step((struct sq_stmt *)s);
}

bool
db_col_null(struct db_stmt *s, int i)
{
	if (s->db->engine == DB_POSTGRES)
		return pg_col_null((struct pg_stmt *)s, i);
	return sq_col_null((struct sq_stmt *)s, i);
}

const char *
db_col_text(struct db_stmt *s, int i)
{
	if (s->db->engine == DB_POSTGRES)
		return pg_col_text((struct pg_stmt *)s, i);
	return sq_col_text((struct sq_stmt *)s, i);
}

long long
db_col_int64(struct db_stmt *s, int i)
{
	if (s->db->engine == DB_POSTGRES)
		return pg_col_int64((struct pg_stmt *)s, i);
	return sq_col_int64((struct sq_stmt *)s, i);
}

double
db_col_double(struct db_stmt *s, int i)
{
	if (s->db->engine == DB_POSTGRES)
		return pg_col_double((struct pg_stmt *)s, i);
	return sq_col_double((struct sq_stmt *)s, i);
}

const void *
db_col_blob(struct db_stmt *s, int i, size_t *ret_len)
{
	if (s->db->engine == DB_POSTGRES)
		return pg_col_blob((struct pg_stmt *)s, i, ret_len);
	return sq_col_blob((struct sq_stmt *)s, i, ret_len);
}

long
db_changes(struct db_stmt *s)
{
	if (s->db->engine == DB_POSTGRES)
		return pg_changes((struct pg_stmt *)s);
	return sq_changes((struct sq_stmt *)s);
}

int
db_exec(struct db *db, const char *sql)
{
	if (db->engine == DB_POSTGRES)
		return pg_exec((struct pg_db *)db, sql);
	return sq_exec((struct sq_db *)db, sql);
}

int
db_begin(struct db *db)
{
	if (db->engine == DB_POSTGRES)
		return pg_begin((struct pg_db *)db);
	return sq_begin((struct sq_db *)db);
}

int
db_commit(struct db *db)
{
	if (db->engine == DB_POSTGRES)
		return pg_commit((struct pg_db *)db);
	return sq_commit((struct sq_db *)db);
}

void
db_rollback(struct db *db)
{
	if (db->engine == DB_POSTGRES)
		pg_rollback((struct pg_db *)db);
	else
		sq_rollback((struct sq_db *)db);
}

const char *
db_errmsg(struct db *db)
{
	if (db->engine == DB_POSTGRES)
		return pg_errmsg((struct pg_db *)db);
	return sq_errmsg((struct sq_db *)db);
}

long long
db_rows_written(struct db *db)
{
	if (db->engine == DB_POSTGRES)
		return pg_rows_written((struct pg_db *)db);
	return sq_rows_written((struct sq_db *)db);
}

void
db_lock_wait(struct db *db, int ms)
{
	if (db->engine == DB_POSTGRES)
		pg_lock_wait((struct pg_db *)db, ms);
	else
		sq_lock_wait((struct sq_db *)db, ms);
}

void
db_relaxed(struct db *db, bool on)
{
	if (db->engine == DB_POSTGRES)
		pg_relaxed((struct pg_db *)db, on);
	else
		sq_relaxed((struct sq_db *)db, on);
}

bool
db_connected(struct db *db)
{
	if (db->engine == DB_POSTGRES)
		return pg_connected((struct pg_db *)db);
	return sq_connected((struct sq_db *)db);
}
