/*
 * Notice-to-event latency (a benchmark, not a test): n emergency notices
 * posted in graphsim, each in its own chat, at a steady pace; for each,
 * the time from the message's createdDateTime to the event ctteamsd
 * raised for it (its `raised` time), both on this machine's clock. Graph's
 * batching window is set to zero, so the figure is delivery over loopback
 * plus the agent's intake, processing and commit.
 *
 *   bench_latency rich|basic N PER-SECOND
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ta.h"

/* "2026-11-29T04:14:17.1234567Z" as seconds since the epoch. */
static double
parse_time(const char *s)
{
	struct tm tm = {0};
	const char *frac = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	double t = (double)timegm(&tm);

	if (frac && *frac == '.')
		t += strtod(frac, NULL);
	return t;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long
events(sqlite3 *db)
{
	sqlite3_stmt *s;
	long n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM event", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

int
main(int argc, char **argv)
{
	struct ta *t = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *s;
	char *path;
	double *lat;
	long n, want;
	double gap;

	if (argc != 4 || (want = atol(argv[2])) <= 0 || atof(argv[3]) <= 0) {
		fprintf(stderr, "usage: bench_latency rich|basic N PER-SECOND\n");
		return 2;
	}
	gap = 1.0 / atof(argv[3]);
	if (ta_setup((void **)&t, NULL) < 0 ||
	    ta_start(t, "log_level = warning",
		     !strcmp(argv[1], "basic") ? "rich_notifications = no" : NULL) < 0 ||
	    ta_signin(t, "acme", NULL) != 200 || !th_wait_until(ta_sub_active, t, 20)) {
		fprintf(stderr, "bench_latency: could not get a subscription going\n");
		return 1;
	}
	json_decref(
	    th_sim(&t->gs, "POST", "/config", json_pack("{s:s}", "batch_window", "0s"), NULL));
	if (asprintf(&path, "%s/state/ctteams.db", t->dir) < 0 ||
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return 1;
	sqlite3_busy_timeout(db, 5000);
	for (long i = 0; i < want; i++) {
		double next = th_now() + gap;
		json_decref(th_sim(&t->gs, "POST", "/emergency",
				   json_pack("{s:s, s:[s], s:s}", "caller", t->caller, "members",
					     t->svc, "number", "911"),
				   NULL));
		while (th_now() < next) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	for (double end = th_now() + 120; events(db) < want && th_now() < end;) {
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
	lat = calloc((size_t)want, sizeof(*lat));
	n = 0;
	sqlite3_prepare_v2(db, "SELECT raised, created FROM event", -1, &s, NULL);
	while (sqlite3_step(s) == SQLITE_ROW && n < want)
		lat[n++] = sqlite3_column_double(s, 0) -
			   parse_time((const char *)sqlite3_column_text(s, 1));
	sqlite3_finalize(s);
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	if (n < want)
		printf("| %s | %ld of %ld raised | | | |\n", argv[1], n, want);
	else
		printf("| %s | %ld | %.1f ms | %.1f ms | %.1f ms |\n", argv[1], n,
		       1000 * lat[n / 2], 1000 * lat[(long)ceil(0.99 * (double)n) - 1],
		       1000 * lat[n - 1]);
	free(lat);
	sqlite3_close(db);
	free(path);
	return ta_teardown((void **)&t) == 0 ? 0 : 1;
}
