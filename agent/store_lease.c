/*
 * Leases and fencing, for agents sharing one database. A lease is a row:
 * its holder, an epoch that grows at every change of hands, and when it
 * ends by the database's clock (one clock for every host, so no host's
 * skew moves a deadline). A duty's writes are made under the lease the
 * agent holds (store_fence): each transaction first reads the lease row
 * FOR SHARE, so a takeover waits for that transaction, and a holder that
 * lost the lease cannot commit anything a duty writes.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "util.h"

const char *
store_db_now(const struct store *st)
{
	return db_engine(st->db) == DB_POSTGRES
		   ? "CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)"
		   : "((julianday('now') - 2440587.5) * 86400.0)";
}

long
store_lease_take(struct store *st, const char *name, const char *holder, double ttl)
{
	/* free, run out, or this agent's own from before a restart: a new
	 * epoch each time, so no earlier process keeps acting on it */
	char *sql = xprintf("INSERT INTO lease (name, holder, epoch, expires) VALUES (?1, ?2, 1, "
			    "%s + ?3) ON CONFLICT (name) DO UPDATE SET holder=excluded.holder, "
			    "epoch=lease.epoch+1, expires=excluded.expires "
			    "WHERE lease.expires < %s OR lease.holder=excluded.holder "
			    "RETURNING epoch",
			    store_db_now(st), store_db_now(st));
	struct db_stmt *s = store_prep(st, sql);
	enum db_step rc = DB_ERROR;
	long epoch = -1;

	free(sql);
	if (!s)
		return -1;
	db_bind_text(s, 1, name);
	db_bind_text(s, 2, holder);
	db_bind_double(s, 3, ttl);
	rc = db_step(s);
	if (rc == DB_ROW)
		epoch = (long)db_col_int64(s, 0);
	else if (rc == DB_DONE)
		epoch = 0;
	else
		store_failed(st, "taking a lease");
	db_finalize(s);
	return epoch;
}

int
store_lease_renew(struct store *st, const char *name, const char *holder, long epoch, double ttl)
{
	/* only while it has not run out: once it has, another may hold it */
	char *sql = xprintf("UPDATE lease SET expires = %s + ? WHERE name=? AND holder=? AND "
			    "epoch=? AND expires >= %s",
			    store_db_now(st), store_db_now(st));
	struct db_stmt *s = store_prep(st, sql);
	long n;

	free(sql);
	if (!s)
		return -1;
	db_bind_double(s, 1, ttl);
	db_bind_text(s, 2, name);
	db_bind_text(s, 3, holder);
	db_bind_int64(s, 4, epoch);
	n = store_step_free(st, s);
	return n < 0 ? -1 : n == 1 ? 0 : 1;
}

int
store_lease_release(struct store *st, const char *name, const char *holder, long epoch)
{
	struct db_stmt *s = store_prep(st, "UPDATE lease SET expires = 0 WHERE name=? AND "
					   "holder=? AND epoch=?");

	if (!s)
		return -1;
	db_bind_text(s, 1, name);
	db_bind_text(s, 2, holder);
	db_bind_int64(s, 3, epoch);
	return store_step_free(st, s) < 0 ? -1 : 0;
}

int
store_lease_holder(struct store *st, const char *name, char **ret_holder, double *ret_left)
{
	char *sql =
	    xprintf("SELECT holder, expires - %s FROM lease WHERE name=?", store_db_now(st));
	struct db_stmt *s = store_prep(st, sql);
	enum db_step rc;

	free(sql);
	*ret_holder = NULL;
	*ret_left = 0;
	if (!s)
		return -1;
	db_bind_text(s, 1, name);
	rc = db_step(s);
	if (rc == DB_ROW) {
		*ret_holder = store_col_text(s, 0);
		*ret_left = db_col_double(s, 1);
	}
	db_finalize(s);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? 1 : -1;
}

void
store_fence(struct store *st, const char *name, const char *holder, long epoch,
	    void (*on_lost)(void))
{
	free(st->fence_name);
	free(st->fence_holder);
	st->fence_name = xstrdup(name);
	st->fence_holder = xstrdup(holder);
	st->fence_epoch = epoch;
	st->on_fence_lost = on_lost;
}

/* Inside a transaction just begun: is the lease still this agent's? The
 * row is locked for share until the commit, so a takeover waits. */
int
store_fence_check(struct store *st)
{
	char *sql;
	struct db_stmt *s;
	enum db_step rc;

	if (!st->fence_name)
		return 0;
	if (st->fence_epoch <= 0)
		goto lost;
	sql = xprintf("SELECT 1 FROM lease WHERE name=? AND holder=? AND epoch=? AND "
		      "expires >= %s FOR SHARE",
		      store_db_now(st));
	s = store_prep(st, sql);
	free(sql);
	if (!s)
		return -1;
	db_bind_text(s, 1, st->fence_name);
	db_bind_text(s, 2, st->fence_holder);
	db_bind_int64(s, 3, st->fence_epoch);
	rc = db_step(s);
	db_finalize(s);
	if (rc == DB_ERROR) {
		store_failed(st, "checking the lease");
		return -1;
	}
	if (rc == DB_ROW)
		return 0;
lost:
	free(st->failed_why);
	st->failed_why = xstrdup("this agent does not hold the lease");
	st->fenced_out = true;
	if (st->fence_epoch > 0 && st->on_fence_lost) {
		st->fence_epoch = 0;
		st->on_fence_lost();
	}
	return -1;
}

int
store_serialize(struct store *st, long what)
{
	struct db_stmt *s;
	enum db_step rc;

	if (db_engine(st->db) != DB_POSTGRES)
		return 0;
	s = store_prep(st, "SELECT pg_advisory_xact_lock(?)");
	if (!s)
		return -1;
	db_bind_int64(s, 1, what);
	rc = db_step(s);
	if (rc == DB_ERROR)
		store_failed(st, "waiting for the other agent's append");
	db_finalize(s);
	return rc == DB_ERROR ? -1 : 0;
}

int
store_agent_beat(struct store *st, const char *name, const char *instance, const char *role)
{
	char *sql = xprintf("INSERT INTO agent (name, role, seen, instance) VALUES (?, ?, %s, ?) "
			    "ON CONFLICT (name) DO UPDATE SET role=excluded.role, "
			    "seen=excluded.seen, instance=excluded.instance",
			    store_db_now(st));
	struct db_stmt *s = store_prep(st, sql);

	free(sql);
	if (!s)
		return -1;
	db_bind_text(s, 1, name);
	db_bind_text(s, 2, role);
	db_bind_text(s, 3, instance);
	return store_step_free(st, s) < 0 ? -1 : 0;
}

int
store_agents(struct store *st, store_agent_fn *fn, void *arg)
{
	char *sql = xprintf("SELECT name, instance, role, %s - seen FROM agent ORDER BY name",
			    store_db_now(st));
	struct db_stmt *s = store_prep(st, sql);
	enum db_step rc;

	free(sql);
	if (!s)
		return -1;
	while ((rc = db_step(s)) == DB_ROW)
		fn(arg, db_col_text(s, 0), db_col_text(s, 1), db_col_text(s, 2),
		   db_col_double(s, 3));
	db_finalize(s);
	return rc == DB_DONE ? 0 : -1;
}
