/*
 * db.h on PostgreSQL (libpq). A statement runs at its first step, with its
 * parameters typed (text, bigint, double precision, bytea) so that the
 * server never has to guess; its rows are read from the result. A
 * connection that broke is made again from the next statement outside a
 * transaction on, with libpq's asynchronous steps (each statement waits
 * 20 ms for them at most), backing off from 1 s to 30 s between attempts:
 * while the server is away each write fails at once instead of holding
 * the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/poll.h> /* agent/poll.h is the reconcile's */
#include <unistd.h>

#include "db_driver.h"
#include "util.h"

#define MAX_PARAMS 24
/* pg_type's numbers for the types parameters are sent as */
#define OID_BYTEA  17
#define OID_INT8   20
#define OID_TEXT   25
#define OID_FLOAT8 701

struct pg_stmt {
	struct db_stmt base; /* first: db.c's view */
	struct pg_db *db;
	char *sql; /* with $N for each ?N or ? */
	bool kept;
	int n_params;
	char *values[MAX_PARAMS];
	int lengths[MAX_PARAMS];
	int formats[MAX_PARAMS];
	Oid types[MAX_PARAMS];
	PGresult *res;
	int row, n_rows;
	long changes;
	unsigned char *blob; /* the last blob column unescaped */
};

/* How long one attempt to connect again may wait on the server, in all
 * (libpq's connect_timeout, for the first connection, is 2 s), and how
 * long it may last: it moves on only while statements come, a few a
 * second on the active, a few every beat on the standby. */
#define PG_CONNECT_WAIT 2.0
#define PG_ATTEMPT_MAX  10.0

struct pg_db {
	struct db base; /* first: db.c's view */
	PGconn *conn;
	char *name;
	char *why;
	bool in_tx;
	double last_try;  /* the last connection attempt (monotonic) */
	double retry_gap; /* seconds before the next one */
	/* a connection being made again, a step at a time (usable) */
	bool connecting;
	PostgresPollingStatusType polling;
	double waited; /* seconds this attempt has waited on the server */
	int lock_ms;
	bool relaxed;
	long long written;
	struct {
		const char *sql;
		struct pg_stmt *s;
	} kept[16];
	size_t n_kept;
};

/* The first line of libpq's message: the DETAIL after it may quote a
 * row's values, and the log is not the place for them. */
static void
note(struct pg_db *db, const char *msg)
{
	char *m = xstrdup(msg && *msg ? msg : "unknown error");

	m[strcspn(m, "\n")] = '\0';
	free(db->why);
	db->why = m;
}

/* The session's settings, again after every (re)connection. */
static void
session_setup(struct pg_db *db)
{
	char sql[256];
	PGresult *r;

	/* no wait is unbounded: a lock held by the other agent (stopped in a
	 * transaction) fails the statement, and that agent's session is ended
	 * by the server once idle in a transaction for 2 s */
	snprintf(sql, sizeof(sql),
		 "SET lock_timeout = %d; SET synchronous_commit = %s; "
		 "SET client_min_messages = warning; SET statement_timeout = 10000; "
		 "SET idle_in_transaction_session_timeout = 2000",
		 db->lock_ms > 0 ? db->lock_ms : 1, db->relaxed ? "off" : "on");
	r = PQexec(db->conn, sql);
	PQclear(r);
}

static char *
read_password(const char *path, char **ret_err)
{
	/* read(2) into a buffer zeroed after: no stdio buffer keeps it */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[1024];
	ssize_t n;

	if (fd < 0) {
		*ret_err = xprintf("database_password_file %s: %s", path, strerror(errno));
		return NULL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!*buf) {
		*ret_err = xprintf("database_password_file %s: empty", path);
		explicit_bzero(buf, sizeof(buf));
		return NULL;
	}
	char *pw = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return pw;
}

/* postgresql://user@host:port/dbname, from what libpq made of the target:
 * never the password, wherever it was given. */
static char *
safe_name(PGconn *c)
{
	const char *host = PQhost(c), *port = PQport(c), *user = PQuser(c), *dbn = PQdb(c);

	return xprintf("postgresql://%s@%s:%s/%s", user ? user : "", host ? host : "",
		       port ? port : "", dbn ? dbn : "");
}

int
pg_open(const char *target, const char *password_file, struct pg_db **ret, char **ret_err)
{
	/* defaults first: what the target says wins, and the password file
	 * last of all */
	/* verify-full unless the target says otherwise: never a password
	 * sent where TLS could have been stripped */
	const char *keys[] = {"connect_timeout",
			      "keepalives_idle",
			      "keepalives_interval",
			      "keepalives_count",
			      "tcp_user_timeout",
			      "application_name",
			      "sslmode",
			      "dbname",
			      "password",
			      NULL};
	const char *vals[] = {"2",        "10",          "3",    "3",  "10000",
			      "ctteamsd", "verify-full", target, NULL, NULL};
	char *pw = NULL;
	struct pg_db *db;

	if (password_file && *password_file && !(pw = read_password(password_file, ret_err)))
		return -1;
	vals[8] = pw;
	if (!pw)
		keys[8] = NULL;
	db = xcalloc(1, sizeof(*db));
	db->base.engine = DB_POSTGRES;
	db->lock_ms = 200;
	db->retry_gap = 1;
	db->conn = PQconnectdbParams(keys, vals, 1);
	free_secret(pw);
	if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
		/* libpq's message names host and port, never the password */
		note(db, db->conn ? PQerrorMessage(db->conn) : "out of memory");
		*ret_err = xprintf("the database: %s", db->why);
		pg_close(db);
		return -1;
	}
	db->name = safe_name(db->conn);
	db->last_try = now_mono();
	session_setup(db);
	*ret = db;
	return 0;
}

static void
stmt_clear_result(struct pg_stmt *s)
{
	PQclear(s->res);
	s->res = NULL;
	PQfreemem(s->blob);
	s->blob = NULL;
	s->row = s->n_rows = 0;
}

static void
stmt_free(struct pg_stmt *s)
{
	stmt_clear_result(s);
	for (int i = 0; i < MAX_PARAMS; i++)
		free(s->values[i]);
	free(s->sql);
	free(s);
}

void
pg_close(struct pg_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n_kept; i++)
		stmt_free(db->kept[i].s);
	PQfinish(db->conn);
	free(db->name);
	free(db->why);
	free(db);
}

const char *
pg_name(const struct pg_db *db)
{
	return db->name;
}

/* ?N becomes $N, and each bare ? the next number; quoted text is left. */
static char *
placeholders(const char *sql, int *ret_n)
{
	size_t len = strlen(sql);
	char *out = xcalloc(1, len * 2 + 1), *o = out;
	bool quoted = false;
	int next = 0, max = 0;

	for (const char *p = sql; *p; p++) {
		if (*p == '\'')
			quoted = !quoted;
		if (quoted || *p != '?') {
			*o++ = *p;
			continue;
		}
		int n;
		if (p[1] >= '0' && p[1] <= '9') {
			n = (int)strtol(p + 1, (char **)&p, 10);
			p--;
		} else {
			n = ++next;
		}
		if (n > max)
			max = n;
		o += sprintf(o, "$%d", n);
	}
	*ret_n = max;
	return out;
}

struct pg_stmt *
pg_prep(struct pg_db *db, const char *sql)
{
	struct pg_stmt *s = xcalloc(1, sizeof(*s));

	s->base.db = &db->base;
	s->db = db;
	s->sql = placeholders(sql, &s->n_params);
	if (s->n_params > MAX_PARAMS) {
		note(db, "too many parameters (a bug)");
		stmt_free(s);
		return NULL;
	}
	for (int i = 0; i < MAX_PARAMS; i++)
		s->types[i] = OID_TEXT;
	return s;
}

struct pg_stmt *
pg_keep(struct pg_db *db, const char *sql)
{
	struct pg_stmt *s;

	for (size_t i = 0; i < db->n_kept; i++)
		if (!strcmp(db->kept[i].sql, sql))
			return db->kept[i].s;
	if (db->n_kept == sizeof(db->kept) / sizeof(db->kept[0])) {
		note(db, "no room to keep another statement (a bug)");
		return NULL;
	}
	if (!(s = pg_prep(db, sql)))
		return NULL;
	s->kept = true;
	db->kept[db->n_kept].sql = sql;
	db->kept[db->n_kept++].s = s;
	return s;
}

void
pg_release(struct pg_stmt *s)
{
	if (!s)
		return;
	stmt_clear_result(s);
	for (int i = 0; i < MAX_PARAMS; i++) {
		free(s->values[i]);
		s->values[i] = NULL;
		s->types[i] = OID_TEXT;
		s->formats[i] = s->lengths[i] = 0;
	}
}

void
pg_finalize(struct pg_stmt *s)
{
	if (s && !s->kept)
		stmt_free(s);
	else
		pg_release(s);
}

static void
bind(struct pg_stmt *s, int i, char *v, int len, int format, Oid type)
{
	if (i < 1 || i > MAX_PARAMS) {
		free(v);
		return;
	}
	/* a new binding after rows were read: the statement runs again */
	stmt_clear_result(s);
	free(s->values[i - 1]);
	s->values[i - 1] = v;
	s->lengths[i - 1] = len;
	s->formats[i - 1] = format;
	s->types[i - 1] = type;
}

void
pg_bind_text(struct pg_stmt *s, int i, const char *v)
{
	bind(s, i, v ? xstrdup(v) : NULL, 0, 0, OID_TEXT);
}

void
pg_bind_int64(struct pg_stmt *s, int i, long long v)
{
	bind(s, i, xprintf("%lld", v), 0, 0, OID_INT8);
}

void
pg_bind_double(struct pg_stmt *s, int i, double v)
{
	bind(s, i, xprintf("%.17g", v), 0, 0, OID_FLOAT8);
}

void
pg_bind_blob(struct pg_stmt *s, int i, const void *v, size_t len)
{
	char *copy;

	if (!v) {
		bind(s, i, NULL, 0, 1, OID_BYTEA);
		return;
	}
	copy = xcalloc(1, len + 1);
	memcpy(copy, v, len);
	bind(s, i, copy, (int)len, 1, OID_BYTEA);
}

/* The connection being made again: as far as it goes within `budget`
 * seconds of waiting on the server. libpq's asynchronous steps, so the
 * event loop is never held for long: connect_timeout applies only to
 * blocking connects, so this attempt keeps its own count of the time it
 * waited. */
static PostgresPollingStatusType
reconnect_step(struct pg_db *db, double budget)
{
	double began = now_mono();

	while (db->polling == PGRES_POLLING_READING || db->polling == PGRES_POLLING_WRITING) {
		struct pollfd p = {.fd = PQsocket(db->conn),
				   .events =
				       db->polling == PGRES_POLLING_READING ? POLLIN : POLLOUT};
		double left = budget - (now_mono() - began);
		int n = left > 0 ? poll(&p, 1, (int)(left * 1000) + 1) : 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* nothing yet: again at the next statement */
		db->polling = PQresetPoll(db->conn);
	}
	db->waited += now_mono() - began;
	return db->polling;
}

/* A broken connection is made again, outside a transaction and at most
 * once a second, backing off while the server stays away; in between,
 * and while it is being made, statements fail at once. */
static bool
usable(struct pg_db *db)
{
	double now = now_mono();
	PostgresPollingStatusType st;

	if (!db->connecting && PQstatus(db->conn) == CONNECTION_OK)
		return true;
	if (db->in_tx) {
		note(db, "the connection to the database was lost");
		return false;
	}
	if (!db->connecting) {
		if (now - db->last_try < db->retry_gap) {
			/* the last attempt's reason stands (it names host and port) */
			if (!db->why)
				note(db, "the database is unreachable");
			return false;
		}
		db->last_try = now;
		db->waited = 0;
		if (!PQresetStart(db->conn)) {
			note(db, PQerrorMessage(db->conn));
			db->retry_gap = db->retry_gap < 15 ? db->retry_gap * 2 : 30;
			return false;
		}
		db->connecting = true;
		/* libpq: begin as if the last step asked to write */
		db->polling = PGRES_POLLING_WRITING;
	}
	/* 20 ms at most per statement: a server on the network answers its
	 * handshake within a few; one that does not answer is not waited for */
	st = reconnect_step(db, 0.02);
	if (st == PGRES_POLLING_OK) {
		db->connecting = false;
		db->retry_gap = 1;
		free(db->why);
		db->why = NULL;
		session_setup(db);
		return true;
	}
	if (st == PGRES_POLLING_FAILED) {
		note(db, PQerrorMessage(db->conn));
	} else if (db->waited >= PG_CONNECT_WAIT || now - db->last_try >= PG_ATTEMPT_MAX) {
		char *m = xprintf("%s did not answer in time", db->name);
		note(db, m);
		free(m);
	} else {
		/* under way: the reason the connection was lost still stands */
		if (!db->why)
			note(db, "connecting to the database again");
		return false;
	}
	db->connecting = false;
	db->retry_gap = db->retry_gap < 15 ? db->retry_gap * 2 : 30;
	return false;
}

static int
run(struct pg_stmt *s)
{
	struct pg_db *db = s->db;
	ExecStatusType rc;

	if (!usable(db))
		return -1;
	s->res = PQexecParams(db->conn, s->sql, s->n_params, s->types,
			      (const char *const *)s->values, s->lengths, s->formats, 0);
	rc = PQresultStatus(s->res);
	if (rc != PGRES_TUPLES_OK && rc != PGRES_COMMAND_OK) {
		note(db, PQresultErrorMessage(s->res));
		stmt_clear_result(s);
		return -1;
	}
	/* rows an INSERT, UPDATE or DELETE touched, RETURNING or not; empty
	 * for a SELECT */
	s->changes = atol(PQcmdTuples(s->res));
	/* a SELECT's tag counts rows too: only what was written counts */
	if (!strncmp(PQcmdStatus(s->res), "INSERT", 6) ||
	    !strncmp(PQcmdStatus(s->res), "UPDATE", 6) ||
	    !strncmp(PQcmdStatus(s->res), "DELETE", 6))
		db->written += s->changes;
	s->n_rows = rc == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
	s->row = -1;
	return 0;
}

enum db_step
pg_step(struct pg_stmt *s)
{
	if (!s->res && run(s) < 0)
		return DB_ERROR;
	PQfreemem(s->blob);
	s->blob = NULL;
	if (s->row < s->n_rows)
		s->row++;
	return s->row < s->n_rows ? DB_ROW : DB_DONE;
}

bool
pg_col_null(struct pg_stmt *s, int i)
{
	return s->row < 0 || s->row >= s->n_rows || PQgetisnull(s->res, s->row, i);
}

const char *
pg_col_text(struct pg_stmt *s, int i)
{
	return pg_col_null(s, i) ? NULL : PQgetvalue(s->res, s->row, i);
}

long long
pg_col_int64(struct pg_stmt *s, int i)
{
	const char *t = pg_col_text(s, i);

	return t ? strtoll(t, NULL, 10) : 0;
}

double
pg_col_double(struct pg_stmt *s, int i)
{
	const char *t = pg_col_text(s, i);

	return t ? strtod(t, NULL) : 0;
}

const void *
pg_col_blob(struct pg_stmt *s, int i, size_t *ret_len)
{
	const char *t = pg_col_text(s, i);

	*ret_len = 0;
	if (!t)
		return NULL;
	PQfreemem(s->blob);
	s->blob = PQunescapeBytea((const unsigned char *)t, ret_len);
	return s->blob;
}

long
pg_changes(struct pg_stmt *s)
{
	return s->changes;
}

int
pg_exec(struct pg_db *db, const char *sql)
{
	PGresult *r;
	ExecStatusType rc;

	if (!usable(db))
		return -1;
	r = PQexec(db->conn, sql);
	rc = PQresultStatus(r);
	if (rc != PGRES_COMMAND_OK && rc != PGRES_TUPLES_OK)
		note(db, PQresultErrorMessage(r));
	PQclear(r);
	return rc == PGRES_COMMAND_OK || rc == PGRES_TUPLES_OK ? 0 : -1;
}

int
pg_begin(struct pg_db *db)
{
	if (pg_exec(db, "BEGIN") < 0)
		return -1;
	db->in_tx = true;
	return 0;
}

int
pg_commit(struct pg_db *db)
{
	PGresult *r;
	int rc = -1;

	if (!usable(db))
		return -1;
	r = PQexec(db->conn, "COMMIT");
	/* a COMMIT of a failed transaction succeeds, saying ROLLBACK */
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		note(db, PQresultErrorMessage(r));
	else if (strcmp(PQcmdStatus(r), "COMMIT"))
		note(db, "the transaction was rolled back");
	else
		rc = 0;
	PQclear(r);
	db->in_tx = false;
	return rc;
}

void
pg_rollback(struct pg_db *db)
{
	PGresult *r;

	if (PQstatus(db->conn) == CONNECTION_OK) {
		r = PQexec(db->conn, "ROLLBACK");
		PQclear(r);
	}
	db->in_tx = false;
}

const char *
pg_errmsg(struct pg_db *db)
{
	return db->why ? db->why : "no error";
}

long long
pg_rows_written(struct pg_db *db)
{
	return db->written;
}

void
pg_lock_wait(struct pg_db *db, int ms)
{
	if (db->lock_ms == ms)
		return;
	db->lock_ms = ms;
	if (PQstatus(db->conn) == CONNECTION_OK && !db->in_tx)
		session_setup(db);
}

void
pg_relaxed(struct pg_db *db, bool on)
{
	if (db->relaxed == on)
		return;
	db->relaxed = on;
	if (PQstatus(db->conn) == CONNECTION_OK && !db->in_tx)
		session_setup(db);
}

bool
pg_connected(struct pg_db *db)
{
	return PQstatus(db->conn) == CONNECTION_OK;
}
