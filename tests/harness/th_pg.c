/*
 * A PostgreSQL server of the test's own: a new cluster under $TMPDIR, on a
 * free loopback port, TLS on with a certificate for 127.0.0.1, password
 * (SCRAM) authentication only. The server never runs as root: when the
 * test is root, it runs as the `postgres` user Debian's package made.
 */
#include <glob.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "th.h"

static char *
pg_bin(const char *name)
{
	glob_t g;
	char *pattern, *path = NULL;

	if (asprintf(&pattern, "/usr/lib/postgresql/*/bin/%s", name) < 0)
		abort();
	/* sorted: the last is the newest major version */
	if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0)
		path = strdup(g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	free(pattern);
	return path;
}

/* Runs argv as the server's user: itself, or postgres when root. */
static int
run_as(struct th_pg *pg, const char *const *argv, char **ret_err)
{
	const char *v[24];
	size_t n = 0;

	if (pg->as_postgres) {
		v[n++] = "/sbin/runuser";
		v[n++] = "-u";
		v[n++] = "postgres";
		v[n++] = "--";
	}
	for (size_t i = 0; argv[i] && n < 23; i++)
		v[n++] = argv[i];
	v[n] = NULL;
	return th_run(v, NULL, ret_err);
}

static void
own(struct th_pg *pg, const char *path)
{
	struct passwd *pw;

	if (pg->as_postgres && (pw = getpwnam("postgres")) && chown(path, pw->pw_uid, pw->pw_gid))
		perror(path);
}

static char *
secret(void)
{
	unsigned char b[12];
	char *s = calloc(1, sizeof(b) * 2 + 4);
	FILE *f = fopen("/dev/urandom", "rb");

	if (!s || !f || fread(b, 1, sizeof(b), f) != sizeof(b))
		abort();
	fclose(f);
	strcpy(s, "pw-");
	for (size_t i = 0; i < sizeof(b); i++)
		sprintf(s + 3 + 2 * i, "%02x", b[i]);
	return s;
}

static int
pg_init(struct th_pg *pg)
{
	char *initdb = pg_bin("initdb"), *data, *err = NULL, *pw = secret();
	const char *argv[] = {
	    initdb,     "-D",       NULL, "-U",   "ctteams",    "--auth=scram-sha-256",
	    "--pwfile", pg->pwfile, "-E", "UTF8", "--locale=C", "--no-sync",
	    NULL};
	int rc;

	if (asprintf(&data, "%s/data", pg->dir) < 0)
		abort();
	argv[2] = data;
	th_write_file(pg->pwfile, pw);
	chmod(pg->pwfile, 0600);
	own(pg, pg->pwfile);
	free(pw);
	rc = initdb ? run_as(pg, argv, &err) : -1;
	if (rc != 0)
		fprintf(stderr, "th_pg: initdb failed (%d): %s\n", rc, err ? err : "no initdb");
	free(err);
	free(initdb);
	free(data);
	return rc == 0 ? 0 : -1;
}

int
th_pg_start(struct th_pg *pg)
{
	struct passwd *pw = getpwnam("postgres");
	char *key;

	memset(pg, 0, sizeof(*pg));
	pg->as_postgres = geteuid() == 0;
	if (pg->as_postgres && !pw) {
		fprintf(stderr,
			"th_pg: running as root and no postgres user to run the server as\n");
		return -1;
	}
	pg->dir = th_tmpdir("pg");
	own(pg, pg->dir);
	if (asprintf(&pg->pwfile, "%s/password", pg->dir) < 0)
		abort();
	th_selfsigned(pg->dir, &pg->ca, &key);
	own(pg, pg->ca);
	chmod(key, 0600);
	own(pg, key);
	free(key);
	if (pg_init(pg) < 0)
		return -1;
	pg->port = th_free_port();
	return th_pg_resume(pg);
}

int
th_pg_resume(struct th_pg *pg)
{
	char *ctl = pg_bin("pg_ctl"), *data, *log, *opts, *err = NULL;
	int rc;

	if (asprintf(&data, "%s/data", pg->dir) < 0 ||
	    asprintf(&log, "%s/server.log", pg->dir) < 0 ||
	    asprintf(&opts,
		     "-p %d -k %s -c listen_addresses=127.0.0.1 -c ssl=on "
		     "-c ssl_cert_file=%s/hook-cert.pem -c ssl_key_file=%s/hook-key.pem",
		     pg->port, pg->dir, pg->dir, pg->dir) < 0)
		abort();
	const char *argv[] = {ctl,  "-D", data, "-l", log,     "-w",
			      "-t", "60", "-o", opts, "start", NULL};
	rc = ctl ? run_as(pg, argv, &err) : -1;
	if (rc != 0)
		fprintf(stderr, "th_pg: pg_ctl start failed (%d): %s\n", rc, err ? err : "");
	free(err);
	free(ctl);
	free(data);
	free(log);
	free(opts);
	return rc == 0 ? 0 : -1;
}

int
th_pg_halt(struct th_pg *pg)
{
	char *ctl = pg_bin("pg_ctl"), *data;
	int rc;

	if (asprintf(&data, "%s/data", pg->dir) < 0)
		abort();
	const char *argv[] = {ctl, "-D", data, "-w", "-m", "fast", "stop", NULL};
	rc = ctl ? run_as(pg, argv, NULL) : -1;
	free(ctl);
	free(data);
	return rc == 0 ? 0 : -1;
}

void
th_pg_stop(struct th_pg *pg)
{
	if (!pg->dir)
		return;
	th_pg_halt(pg);
	if (!getenv("TH_KEEP"))
		th_rmtree(pg->dir);
	free(pg->dir);
	free(pg->pwfile);
	free(pg->ca);
	memset(pg, 0, sizeof(*pg));
}

char *
th_pg_uri(struct th_pg *pg, const char *db)
{
	char *uri;

	if (asprintf(&uri,
		     "postgresql://ctteams@127.0.0.1:%d/%s?sslmode=verify-full&sslrootcert=%s",
		     pg->port, db, pg->ca) < 0)
		abort();
	return uri;
}

int
th_pg_sql(struct th_pg *pg, const char *db, const char *sql, char **ret_out)
{
	char *psql = pg_bin("psql"), *uri = th_pg_uri(pg, db), *err = NULL;
	/* the password from a file named in psql's environment, never argv */
	char *pass, *passfile, *env;
	int rc;

	if (asprintf(&passfile, "%s/pgpass", pg->dir) < 0 ||
	    asprintf(&env, "PGPASSFILE=%s", passfile) < 0)
		abort();
	pass = th_read_file(pg->pwfile);
	if (pass) {
		char *line;
		pass[strcspn(pass, "\n")] = '\0';
		if (asprintf(&line, "127.0.0.1:%d:*:ctteams:%s\n", pg->port, pass) < 0)
			abort();
		th_write_file(passfile, line);
		chmod(passfile, 0600);
		free(line);
	}
	const char *argv[] = {"/usr/bin/env",    env,  psql, "-X", "-q", "-A", "-t", "-v",
			      "ON_ERROR_STOP=1", "-d", uri,  "-c", sql,  NULL};
	rc = psql ? th_run(argv, ret_out, &err) : -1;
	if (rc != 0)
		fprintf(stderr, "th_pg: %s: %s\n", sql, err ? err : "");
	free(err);
	free(pass);
	free(passfile);
	free(env);
	free(uri);
	free(psql);
	return rc == 0 ? 0 : -1;
}

char *
th_pg_newdb(struct th_pg *pg, const char *name)
{
	char *sql;
	int rc;

	if (asprintf(&sql, "CREATE DATABASE %s", name) < 0)
		abort();
	rc = th_pg_sql(pg, "postgres", sql, NULL);
	free(sql);
	return rc == 0 ? th_pg_uri(pg, name) : NULL;
}
