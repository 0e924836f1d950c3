/*
 * Notice-to-output latency (a benchmark, not a test): n emergency notices
 * posted in graphsim, each in its own chat, at a steady pace; for each,
 * from the message's createdDateTime to (1) the event ctteamsd raised for
 * it (its `raised` time), (2) its trap as a real snmptrapd logged it, via
 * a real snmpd, and (3) its passive result read from a Nagios command
 * file (a named pipe), all on this machine's clock. Graph's batching
 * window is set to zero. The arrivals are timestamped by watchers: the
 * pipe's reader stamps each line it reads, and an inotify watch on
 * snmptrapd's log stamps each line as it is written.
 *
 *   bench_latency rich|basic N PER-SECOND
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Copies each complete line of in (read as it grows: wait() says when) to
 * out as "STAMP LINE", STAMP the wall time it was read at. */
static void
stamp_lines(int in, FILE *out, void (*wait)(void *), void *arg)
{
	char buf[65536], line[8192];
	size_t len = 0;
	ssize_t n;

	for (;;) {
		while ((n = read(in, buf, sizeof(buf))) > 0) {
			double at = wall();
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] != '\n') {
					if (len < sizeof(line) - 1)
						line[len++] = buf[i];
					continue;
				}
				line[len] = '\0';
				fprintf(out, "%.6f %s\n", at, line);
				len = 0;
			}
			fflush(out);
		}
		wait(arg);
	}
}

static void
no_wait(void *arg)
{
	(void)arg;
}

static void
inotify_wait(void *arg)
{
	char ev[4096];

	if (read(*(int *)arg, ev, sizeof(ev)) < 0)
		_exit(1);
}

/* The pipe Nagios would read, read as Nagios does, stamped. */
static pid_t
watch_fifo(const char *fifo, const char *out)
{
	pid_t pid;

	if (mkfifo(fifo, 0600) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int in = open(fifo, O_RDWR); /* a writer of its own: EOF never */
		stamp_lines(in, fopen(out, "w"), no_wait, NULL);
		_exit(0);
	}
	return pid;
}

/* snmptrapd's log, each line stamped as it is written. */
static pid_t
watch_log(const char *log, const char *out)
{
	pid_t pid = fork();

	if (pid == 0) {
		int ino = inotify_init(), in = open(log, O_RDONLY);
		if (ino < 0 || in < 0 || inotify_add_watch(ino, log, IN_MODIFY) < 0)
			_exit(1);
		stamp_lines(in, fopen(out, "w"), inotify_wait, &ino);
		_exit(0);
	}
	return pid;
}

/* The stamp of the first line holding want, or 0. Takes want. */
static double
arrived(const char *stamped, char *want)
{
	const char *at = stamped;
	double t = 0;

	while (at && *at) {
		const char *eol = strchr(at, '\n');
		const char *hit = strstr(at, want);
		if (hit && (!eol || hit < eol)) {
			t = strtod(at, NULL);
			break;
		}
		at = eol ? eol + 1 : NULL;
	}
	free(want);
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

/* One row of the table: p50, p99 and max of what arrived, in ms. */
static void
row(const char *sub, const char *what, double *lat, long n, long want)
{
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	if (n < want)
		printf("| %s | %s | %ld of %ld arrived | | | |\n", sub, what, n, want);
	else
		printf("| %s | %s | %ld | %.1f ms | %.1f ms | %.1f ms |\n", sub, what, n,
		       1000 * lat[n / 2], 1000 * lat[(long)ceil(0.99 * (double)n) - 1],
		       1000 * lat[n - 1]);
}

int
main(int argc, char **argv)
{
	struct ta *t = NULL;
	struct th_snmp snmp;
	sqlite3 *db = NULL;
	sqlite3_stmt *s;
	char *path, *conf, *fifo, *nagios_got, *traps_got;
	double *lat, *to_trap, *to_nagios;
	long n = 0, n_trap = 0, n_nagios = 0, want;
	double gap;
	pid_t fifo_reader, log_watcher;
	char *dir = th_tmpdir("bench");

	if (argc != 4 || (want = atol(argv[2])) <= 0 || atof(argv[3]) <= 0) {
		fprintf(stderr, "usage: bench_latency rich|basic N PER-SECOND\n");
		return 2;
	}
	gap = 1.0 / atof(argv[3]);
	if (asprintf(&fifo, "%s/nagios.cmd", dir) < 0 ||
	    asprintf(&nagios_got, "%s/nagios.got", dir) < 0 ||
	    asprintf(&traps_got, "%s/traps.got", dir) < 0)
		abort();
	if (th_snmp_start(&snmp, NULL, NULL) < 0 ||
	    (fifo_reader = watch_fifo(fifo, nagios_got)) < 0 ||
	    (log_watcher = watch_log(snmp.trap_log, traps_got)) < 0 ||
	    asprintf(&conf,
		     "log_level = warning\nagentx_socket = %s\nnagios_command_file = %s\n"
		     "passive_host = ctteams\nheartbeat_interval = 0",
		     snmp.agentx, fifo) < 0) {
		fprintf(stderr, "bench_latency: no snmpd, snmptrapd or command file\n");
		return 1;
	}
	if (ta_setup((void **)&t, NULL) < 0 ||
	    ta_start(t, conf, !strcmp(argv[1], "basic") ? "rich_notifications = no" : NULL) < 0 ||
	    ta_signin(t, "acme", NULL) != 200 || !th_wait_until(ta_sub_active, t, 20) ||
	    /* the AgentX session up: a trap queued while it connects is no
	     * measure of latency */
	    !th_wait_until(ta_snmp_connected, t, 20)) {
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
	/* the outputs' last arrivals: a few seconds after the last event */
	for (double end = th_now() + 5; th_now() < end;) {
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
	lat = calloc((size_t)want, sizeof(*lat));
	to_trap = calloc((size_t)want, sizeof(*lat));
	to_nagios = calloc((size_t)want, sizeof(*lat));
	char *traps = th_read_file(traps_got), *cmds = th_read_file(nagios_got);
	sqlite3_prepare_v2(db, "SELECT id, raised, created FROM event", -1, &s, NULL);
	while (sqlite3_step(s) == SQLITE_ROW && n < want) {
		long id = (long)sqlite3_column_int64(s, 0);
		double created = parse_time((const char *)sqlite3_column_text(s, 2));
		char *trap_key, *cmd_key;
		if (asprintf(&trap_key, "ctTeamsEventNumber.%ld ", id) < 0 ||
		    asprintf(&cmd_key, "(event %ld;", id) < 0)
			abort();
		double trap = arrived(traps, trap_key);
		double cmd = arrived(cmds, cmd_key);
		lat[n++] = sqlite3_column_double(s, 1) - created;
		if (trap > 0)
			to_trap[n_trap++] = trap - created;
		if (cmd > 0)
			to_nagios[n_nagios++] = cmd - created;
	}
	sqlite3_finalize(s);
	row(argv[1], "event", lat, n, want);
	row(argv[1], "trap logged by snmptrapd", to_trap, n_trap, want);
	row(argv[1], "passive result in the command file", to_nagios, n_nagios, want);
	free(lat);
	free(to_trap);
	free(to_nagios);
	free(traps);
	free(cmds);
	sqlite3_close(db);
	free(path);
	kill(fifo_reader, SIGKILL);
	kill(log_watcher, SIGKILL);
	waitpid(fifo_reader, NULL, 0);
	waitpid(log_watcher, NULL, 0);
	n = ta_teardown((void **)&t);
	th_snmp_stop(&snmp);
	th_rmtree(dir);
	return n == 0 ? 0 : 1;
}
