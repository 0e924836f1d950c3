/*
 * ctteamsd: start-up, reload and shutdown. The work happens in the event
 * loop (event.c) and the modules it calls.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alarm.h"
#include "auth.h"
#include "canary.h"
#include "conf.h"
#include "counter.h"
#include "ctl.h"
#include "event.h"
#include "ha.h"
#include "health.h"
#include "heartbeat.h"
#include "http.h"
#include "jwks.h"
#include "log.h"
#include "metrics.h"
#include "nkey.h"
#include "org.h"
#include "out_icinga.h"
#include "out_nagios.h"
#include "poll.h"
#include "proc.h"
#include "seal.h"
#include "server.h"
#include "snmp_agent.h"
#include "store.h"
#include "subs.h"
#include "util.h"
#include "webhook.h"

#define DRAIN_LIMIT 10.0
/* the outputs' moment to send the stop: a receiver that is down now will
 * not be up in time, and a stop must not wait on it */
#define STOP_SEND_LIMIT 2.0

static struct conf *conf;
static struct ev_timer *drain_timer;
static double drain_deadline, stop_send_deadline;

static void
usage(FILE *out)
{
	fprintf(out, "Usage: ctteamsd [--config FILE] [--foreground] [--check-config]\n"
		     "Carry Microsoft Teams emergency-call notices to SNMP and Nagios/Icinga.\n\n"
		     "  -c, --config FILE   configuration (default /etc/ctteams/ctteamsd.conf)\n"
		     "  -f, --foreground    stay in the foreground and log to stderr\n"
		     "  -t, --check-config  check the configuration and exit: 0 valid, 1 not\n"
		     "  -V, --version       print the version and exit\n"
		     "  -h, --help          print this help and exit\n\n"
		     "Signals: SIGHUP reloads the configuration, SIGTERM stops after in-flight\n"
		     "requests finish. See ctteamsd(8) and ctteamsd.conf(5).\n");
}

static void
drain_check(void *arg)
{
	(void)arg;
	bool in_flight = ev_curl_running() > 0 || srv_busy() > 0;
	bool stop_pending = !hb_stop_sent() && now_mono() < stop_send_deadline;

	if ((!in_flight && !stop_pending) || now_mono() > drain_deadline)
		ev_stop();
	else
		ev_timer_arm(drain_timer, 0.1);
}

static void
on_term(void)
{
	if (drain_timer && ev_timer_armed(drain_timer))
		return;
	log_info("main", "stopping: finishing in-flight requests (at most %.0f s)", DRAIN_LIMIT);
	srv_quiesce();
	hb_stopping("SIGTERM");
	drain_deadline = now_mono() + DRAIN_LIMIT;
	stop_send_deadline = now_mono() + STOP_SEND_LIMIT;
	drain_timer = ev_timer_new(drain_check, NULL);
	ev_timer_arm(drain_timer, 0);
}

/* Whatever depends on an org's sign-in hears of each change. */
static void
org_changed(struct org *o)
{
	/* a sign-in lost (not one never made, nor a logout) pauses delivery */
	if (o->auth == ORG_REAUTH_REQUIRED || o->auth == ORG_SECRET_INVALID)
		poll_auth_changed(o, false);
	else if (o->auth == ORG_VALID || o->auth == ORG_DEGRADED)
		poll_auth_changed(o, true);
	subs_org_changed(o);
	proc_kick();
	health_kick();
}

/* Writes failed for a while: whatever Graph was told 503 meanwhile may be
 * lost after its retries, so read that time back. */
static void
store_recovered(double since)
{
	poll_backfill_all(since - 300, now_wall(), "the store was failing");
}

static void
restart_needed(const char *what, const char *a, const char *b)
{
	if ((a || b) && (!a || !b || strcmp(a, b) != 0))
		log_warnx("main", "reload: %s changed; it takes effect at the next restart", what);
}

static void
on_hup(void)
{
	char *errors = NULL;
	struct conf *next = conf_load(conf->path, &errors);

	if (!next) {
		log_err("main", "reload refused; the running configuration stays:");
		for (char *line = strtok(errors, "\n"); line; line = strtok(NULL, "\n"))
			log_err("main", "%s", line);
		free(errors);
		return;
	}
	restart_needed("listen address", conf->listen_addr, next->listen_addr);
	restart_needed("tls_cert", conf->tls_cert, next->tls_cert);
	restart_needed("state_dir", conf->state_dir, next->state_dir);
	restart_needed("database", conf->database, next->database);
	restart_needed("control_socket", conf->control_socket, next->control_socket);
	restart_needed("monitor_socket", conf->monitor_socket, next->monitor_socket);
	if (conf->max_connections != next->max_connections ||
	    conf->max_per_address != next->max_per_address)
		log_warnx("main", "reload: max_connections and max_connections_per_address "
				  "change at the next restart");
	if (!conf->metrics_addr != !next->metrics_addr ||
	    (conf->metrics_addr && (strcmp(conf->metrics_addr, next->metrics_addr) != 0 ||
				    conf->metrics_port != next->metrics_port)))
		log_warnx("main", "reload: metrics_listen changes at the next restart");
	if (conf->monitor_group != next->monitor_group)
		log_warnx("main",
			  "reload: monitor_group changed; it takes effect at the next restart");
	log_set_level(next->log_level);
	hc_configure(next);
	auth_init(next->public_url);
	/* every org's state, and each of its parts, in one place */
	orgs_reload(next);
	proc_kick();
	health_kick();
	snmpa_reload(next);
	outn_reload(next);
	outi_reload(next);
	hb_reload(next);
	wh_configure(next);
	srv_reload(next);
	ctl_init(next, NULL);
	conf_free(conf);
	conf = next;
	log_info("main", "configuration reloaded: %zu org(s)", conf->n_orgs);
}

static int
make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "ctteamsd: cannot create %s: %s\n", path, strerror(errno));
	return -1;
}

static int
daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	setsid();
	if (chdir("/") != 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

static int
run(void)
{
	struct seal *seal = NULL;
	struct store *store = NULL;
	char *err = NULL, *sockdir;
	int rc = 1;

	now_started(); /* the agent's start, for status and heartbeats */
	umask(0077);
	if (make_dir(conf->state_dir, 0700) < 0)
		return 1;
	/* the sockets' own modes (0660, with their groups) guard them; their
	 * directory only needs to be passable */
	for (int i = 0; i < 2; i++) {
		const char *sock = i ? conf->monitor_socket : conf->control_socket;
		if (!sock)
			continue;
		sockdir = xstrdup(sock);
		if (make_dir(dirname(sockdir), 0755) < 0) {
			free(sockdir);
			return 1;
		}
		free(sockdir);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (seal_open(conf->state_dir, &seal, &err) < 0 ||
	    (conf->database
		 ? store_open_pg(conf->database, conf->database_password_file, seal, &store, &err)
		 : store_open(conf->state_dir, seal, &store, &err)) < 0 ||
	    ev_init() < 0) {
		log_err("main", "%s", err ? err : "cannot start the event loop");
		goto out;
	}
	/* the active of a pair does the duties; a standby's wait (ha.c) */
	ha_start(conf, store);
	if (nkey_init(conf->state_dir, conf->cert_rotation, &err) < 0) {
		log_err("main", "%s", err);
		goto out;
	}
	alarms_start(store);
	cnt_start(store);
	hc_configure(conf);
	jwks_init(proc_kick);
	auth_init(conf->public_url);
	ctl_init(conf, store);
	proc_start();
	orgs_start(conf, store);
	health_start();
	org_set_listener(org_changed);
	store_on_recover(store, store_recovered);
	wh_init(store, proc_kick);
	wh_configure(conf);
	ev_on_signals(on_term, on_hup);
	if (srv_start(conf, &err) < 0 ||
	    ev_ctl_listen(conf->control_socket, false, -1, ctl_handle, &err) < 0 ||
	    (conf->monitor_socket && ev_ctl_listen(conf->monitor_socket, true, conf->monitor_group,
						   ctl_handle, &err) < 0)) {
		log_err("main", "%s", err);
		goto out;
	}
	/* metrics are for a dashboard: a port taken by another program must not
	 * keep 911 notices from the NOC */
	if (met_start(conf, &err) < 0) {
		log_err("main", "%s; no Prometheus metrics, everything else is served", err);
		free(err);
		err = NULL;
	}
	/* one output among several: without it the agent still serves the rest */
	if (snmpa_start(conf, store) < 0)
		log_err("main", "SNMP is not served (see above); everything else is");
	outn_start(conf, store);
	outi_start(conf, store);
	hb_start(conf, store);
	log_info("main", "ctteamsd %s started: %zu org(s), control socket %s, monitoring socket %s",
		 CT_VERSION, conf->n_orgs, conf->control_socket,
		 conf->monitor_socket ? conf->monitor_socket : "off");
	ev_run();
	/* standing down: what it raised from memory, the next active clears */
	if (ha_lost())
		alarms_hand_over();
	log_info("main", "stopped");
	rc = 0;
out:
	free(err);
	ev_curl_abort_all();
	srv_stop();
	met_stop();
	wh_shutdown();
	hb_shutdown();
	snmpa_stop();
	outn_stop();
	outi_stop();
	health_stop();
	orgs_stop();
	proc_stop();
	auth_shutdown();
	jwks_shutdown();
	nkey_shutdown();
	/* the last counts, before the loop and its timers go */
	cnt_stop();
	/* the lease let go (a clean stop) while its timers still exist */
	ha_stop();
	ev_shutdown();
	alarms_stop();
	store_close(store);
	seal_close(seal);
	curl_global_cleanup();
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
	    {"check-config", no_argument, NULL, 't'}, {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *path = "/etc/ctteams/ctteamsd.conf";
	bool foreground = false, check = false;
	char *errors = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:ftVh", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			check = true;
			break;
		case 'V':
			printf("ctteamsd %s\n", CT_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	conf = conf_load(path, &errors);
	if (!conf) {
		fputs(errors, stderr);
		free(errors);
		return 1;
	}
	if (conf->warnings)
		fputs(conf->warnings, stderr);
	if (check) {
		printf("%s: configuration OK (%zu org%s)\n", path, conf->n_orgs,
		       conf->n_orgs == 1 ? "" : "s");
		conf_free(conf);
		return 0;
	}
	log_init("ctteamsd", !foreground, conf->log_level);
	for (char *w = conf->warnings ? strtok(conf->warnings, "\n") : NULL; w;
	     w = strtok(NULL, "\n"))
		log_warnx("main", "%s", w);
	if (!foreground && daemonize() < 0) {
		perror("ctteamsd: daemonize");
		return 1;
	}
	rc = run();
	conf_free(conf);
	/* the other role, afresh: every org's state read from the store again */
	if (rc == 0 && ha_lost()) {
		execv("/proc/self/exe", argv);
		perror("ctteamsd: starting again");
		return 1;
	}
	return rc;
}
