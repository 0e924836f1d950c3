#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "util.h"

int
store_open(const char *state_dir, struct seal *seal, struct store **ret, char **ret_err)
{
	char *path = xprintf("%s/ctteams.db", state_dir);
	struct db *db;
	int rc = db_open_sqlite(path, &db, ret_err);

	if (rc == 0 && (rc = store_schema(db, ret_err)) < 0)
		db_close(db);
	if (rc == 0)
		chmod(path, 0600);
	free(path);
	return rc < 0 ? -1 : store_attach(db, seal, ret);
}

int
store_open_pg(const char *target, const char *password_file, struct seal *seal, struct store **ret,
	      char **ret_err)
{
	struct db *db;
	int rc = db_open_pg(target, password_file, &db, ret_err);

	if (rc == 0 && (rc = store_schema(db, ret_err)) < 0)
		db_close(db);
	return rc < 0 ? -1 : store_attach(db, seal, ret);
}

int
store_attach(struct db *db, struct seal *seal, struct store **ret)
{
	struct store *st = xcalloc(1, sizeof(*st));

	/* short: a write that cannot get the lock fails fast and is retried
	 * later, rather than holding the event loop */
	db_lock_wait(db, STORE_BUSY_MS);
	st->db = db;
	st->seal = seal;
	*ret = st;
	return 0;
}

const char *
store_where(const struct store *st)
{
	return db_name(st->db);
}

bool
store_shared(const struct store *st)
{
	return db_engine(st->db) == DB_POSTGRES;
}

bool
store_connected(struct store *st)
{
	return db_connected(st->db);
}

void
store_close(struct store *st)
{
	if (st) {
		free(st->trouble_error);
		free(st->failed_why);
		free(st->fence_name);
		free(st->fence_holder);
		db_close(st->db);
		free(st);
	}
}

long long
store_rows_written(struct store *st)
{
	return st ? db_rows_written(st->db) : 0;
}

char *
store_col_text(struct db_stmt *s, int i)
{
	const char *t = db_col_text(s, i);

	return t ? xstrdup(t) : NULL;
}

char *
store_col_unseal(struct store *st, struct db_stmt *s, int i, const char *org, const char *field)
{
	size_t len;
	const void *blob = db_col_blob(s, i, &len);
	char *where, *plain;

	if (!blob || len == 0)
		return NULL;
	where = xprintf("ctteams/org/%s/%s", org, field);
	plain = seal_decrypt(st->seal, where, blob, len);
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
	struct db_stmt *s;
	enum db_step rc;

	memset(a, 0, sizeof(*a));
	s = store_prep(st,
		       "SELECT state, access, refresh, access_expires, last_refresh, user_id,"
		       " user_upn, failures, last_error, updated, gen FROM org_auth WHERE org=?");
	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	rc = db_step(s);
	if (rc == DB_ROW) {
		a->state = store_col_text(s, 0);
		a->access_token = store_col_unseal(st, s, 1, org, "access");
		a->refresh_token = store_col_unseal(st, s, 2, org, "refresh");
		a->access_expires = db_col_double(s, 3);
		a->last_refresh = db_col_double(s, 4);
		a->user_id = store_col_text(s, 5);
		a->user_upn = store_col_text(s, 6);
		a->failures = (long)db_col_int64(s, 7);
		a->last_error = store_col_text(s, 8);
		a->updated = db_col_double(s, 9);
		a->gen = (long)db_col_int64(s, 10);
	} else if (rc == DB_ERROR) {
		log_err("store", "read org %s: %s", org, db_errmsg(st->db));
	}
	db_finalize(s);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? 1 : -1;
}

int
store_auth_each(struct store *st, store_auth_fn *fn, void *arg)
{
	struct db_stmt *s = store_prep(st, "SELECT org, state, access_expires, last_refresh, "
					   "user_id, user_upn, failures, last_error, updated "
					   "FROM org_auth");
	enum db_step rc;

	if (!s)
		return -1;
	while ((rc = db_step(s)) == DB_ROW) {
		struct store_auth a = {.state = (char *)db_col_text(s, 1),
				       .access_expires = db_col_double(s, 2),
				       .last_refresh = db_col_double(s, 3),
				       .user_id = (char *)db_col_text(s, 4),
				       .user_upn = (char *)db_col_text(s, 5),
				       .failures = (long)db_col_int64(s, 6),
				       .last_error = (char *)db_col_text(s, 7),
				       .updated = db_col_double(s, 8)};
		fn(arg, db_col_text(s, 0), &a);
	}
	db_finalize(s);
	return rc == DB_DONE ? 0 : -1;
}

void
store_bind_sealed(struct store *st, struct db_stmt *s, int i, const char *org, const char *field,
		  const char *plain)
{
	char *where;
	unsigned char *blob;
	size_t len;

	if (!plain) {
		db_bind_blob(s, i, NULL, 0);
		return;
	}
	where = xprintf("ctteams/org/%s/%s", org, field);
	blob = seal_encrypt(st->seal, where, plain, &len);
	db_bind_blob(s, i, blob, len);
	free(blob);
	free(where);
}

/* The columns of a sign-in, bound from 1 in this order: org, state, access,
 * refresh, access_expires, last_refresh, user_id, user_upn, failures,
 * last_error, updated, gen, adopt. */
#define AUTH_INSERT                                                                                \
	"INSERT INTO org_auth (org, state, access, refresh, access_expires, last_refresh,"         \
	" user_id, user_upn, failures, last_error, updated, gen, adopt)"                           \
	" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (org) DO UPDATE SET"                      \
	" state=excluded.state, access=excluded.access, refresh=excluded.refresh,"                 \
	" access_expires=excluded.access_expires, last_refresh=excluded.last_refresh,"             \
	" user_id=excluded.user_id, user_upn=excluded.user_upn, failures=excluded.failures,"       \
	" last_error=excluded.last_error, updated=excluded.updated"

static void
auth_bind(struct store *st, struct db_stmt *s, const char *org, const struct store_auth *a,
	  bool adopt)
{
	db_bind_text(s, 1, org);
	db_bind_text(s, 2, a->state);
	store_bind_sealed(st, s, 3, org, "access", a->access_token);
	store_bind_sealed(st, s, 4, org, "refresh", a->refresh_token);
	db_bind_double(s, 5, a->access_expires);
	db_bind_double(s, 6, a->last_refresh);
	db_bind_text(s, 7, a->user_id);
	db_bind_text(s, 8, a->user_upn);
	db_bind_int64(s, 9, a->failures);
	db_bind_text(s, 10, a->last_error);
	db_bind_double(s, 11, now_wall());
	db_bind_int64(s, 12, a->gen);
	db_bind_int64(s, 13, adopt);
}

int
store_auth_put(struct store *st, const char *org, const struct store_auth *a)
{
	/* one statement is one transaction: both tokens change together; and
	 * only while the row is still the sign-in these tokens come from */
	struct db_stmt *s = store_prep(st, AUTH_INSERT " WHERE org_auth.gen = excluded.gen");
	long n;

	if (!s)
		return -1;
	auth_bind(st, s, org, a, false);
	n = store_step_count(st, s);
	return n < 0 ? -1 : n == 0 ? 1 : 0;
}

int
store_auth_signin(struct store *st, const char *org, const struct store_auth *a, bool adopt,
		  long *ret_gen)
{
	struct db_stmt *s =
	    store_prep(st, AUTH_INSERT ", gen=org_auth.gen+1, adopt=excluded.adopt RETURNING gen");
	struct store_auth first = *a;
	enum db_step rc;

	if (!s)
		return -1;
	first.gen = 1; /* the org's first sign-in; later ones count on */
	auth_bind(st, s, org, &first, adopt);
	rc = db_step(s);
	if (rc == DB_ROW)
		*ret_gen = (long)db_col_int64(s, 0);
	else
		store_failed(st, "storing a sign-in");
	db_finalize(s);
	return rc == DB_ROW ? 0 : -1;
}

int
store_auth_to_adopt(struct store *st, store_org_fn *fn, void *arg)
{
	struct db_stmt *s = store_prep(st, "SELECT org FROM org_auth WHERE adopt=1");
	int rc;

	if (!s)
		return -1;
	rc = store_each_org(s, fn, arg);
	db_finalize(s);
	return rc;
}

int
store_auth_adopted(struct store *st, const char *org, long gen)
{
	struct db_stmt *s =
	    store_prep(st, "UPDATE org_auth SET adopt=0 WHERE org=?1 AND (gen=?2 OR ?2 < 0)");

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	db_bind_int64(s, 2, gen);
	return store_step_done(st, s);
}

int
store_auth_delete(struct store *st, const char *org)
{
	struct db_stmt *s = store_prep(st, "DELETE FROM org_auth WHERE org=?");

	if (!s)
		return -1;
	db_bind_text(s, 1, org);
	return store_step_done(st, s) < 0 ? -1 : 0;
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
	db_relaxed(st->db, on);
}

int
store_rollback(struct store *st)
{
	/* quietly: a transaction that never began has nothing to undo, and
	 * the failure's own reason is what store_health() reports */
	db_rollback(st->db);
	st->in_tx = false;
	return store_health(st, -1);
}
