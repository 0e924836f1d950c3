/*
 * Prometheus metrics (metrics_listen): a scrape of a signed-in agent with
 * an active alarm and an emergency passes promtool's check, shows what the
 * control socket shows, and carries no secret and no message text; the
 * listener serves /metrics alone.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ta.h"

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static char *
metrics_url(int port, const char *path)
{
	char *url;

	if (asprintf(&url, "http://127.0.0.1:%d%s", port, path) < 0)
		abort();
	return url;
}

/* promtool's lint of a scrape: its exit status, its complaints in *out */
static int
promtool(const char *dir, const char *scrape, char **out)
{
	char *file, *cmd;
	int rc;

	if (asprintf(&file, "%s/scrape.txt", dir) < 0 ||
	    asprintf(&cmd, "promtool check metrics < '%s' 2>&1", file) < 0)
		abort();
	assert_int_equal(th_write_file(file, scrape), 0);
	{
		const char *const argv[] = {"/bin/sh", "-c", cmd, NULL};
		rc = th_run(argv, out, NULL);
	}
	free(file);
	free(cmd);
	return rc;
}

struct scrape_wait {
	int port;
	const char *want;
};

/* the scrape shows want (the model changes on the loop's next turns) */
static bool
scrape_shows(void *arg)
{
	struct scrape_wait *w = arg;
	char *url = metrics_url(w->port, "/metrics");
	struct th_resp r = {0};
	bool ok = th_http("GET", url, NULL, NULL, NULL, &r) == 0 && r.status == 200 && r.body &&
		  strstr(r.body, w->want);

	th_resp_free(&r);
	free(url);
	return ok;
}

static void
test_scrape_of_a_signed_in_agent(void **state)
{
	struct ta *t = *state;
	int port = th_free_port();
	char extra[256], org[64], *url, *lint = NULL;
	time_t soon = time(NULL) + 10 * 86400;
	struct tm tm;
	struct th_resp r = {0};
	struct scrape_wait w = {port, NULL};

	/* an SNMP master that is not there: the traps wait in the outbox */
	snprintf(extra, sizeof(extra),
		 "metrics_listen = %d\nagentx_socket = /nonexistent/ctteams-test/master", port);
	gmtime_r(&soon, &tm);
	strftime(org, sizeof(org), "client_secret_expires = %Y-%m-%d\n", &tm);
	assert_int_equal(ta_start(t, extra, org), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	ta_emergency(t);
	w.want = "ctteams_emergencies_total{org=\"acme\"} 1\n";
	assert_true(th_wait_until(scrape_shows, &w, 20));
	/* the secret expires in 10 days: clientSecretExpiring is active */
	w.want = "ctteams_alarm_active{alarm=\"clientSecretExpiring\",org=\"acme\"";
	assert_true(th_wait_until(scrape_shows, &w, 10));

	url = metrics_url(port, "/metrics");
	assert_int_equal(th_http("GET", url, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	if (promtool(t->dir, r.body, &lint) != 0)
		fail_msg("promtool check metrics: %s", lint);
	free(lint);

	/* what the control socket shows */
	assert_non_null(strstr(r.body, "ctteams_org_auth_state{org=\"acme\",state=\"valid\"} 1\n"));
	assert_non_null(
	    strstr(r.body, "ctteams_org_auth_state{org=\"acme\",state=\"not_signed_in\"} 0\n"));
	assert_non_null(
	    strstr(r.body, "ctteams_subscription_state{org=\"acme\",state=\"active\"} 1\n"));
	assert_non_null(
	    strstr(r.body, "ctteams_subscription_expiry_timestamp_seconds{org=\"acme\"} "));
	assert_non_null(strstr(
	    r.body, "ctteams_subscription_last_notification_timestamp_seconds{org=\"acme\"} "));
	assert_non_null(
	    strstr(r.body, "ctteams_org_access_token_expiry_timestamp_seconds{org=\"acme\"} "));
	assert_non_null(
	    strstr(r.body, "ctteams_org_client_secret_expiry_timestamp_seconds{org=\"acme\"} "));
	assert_non_null(strstr(r.body, "ctteams_notifications_received_total{org=\"acme\"} "));
	/* the emergency's trap and the alarm's wait for the absent master */
	assert_non_null(strstr(r.body, "ctteams_outbox_backlog{output=\"snmp\"} "));
	assert_null(strstr(r.body, "ctteams_outbox_backlog{output=\"snmp\"} 0\n"));
	assert_non_null(strstr(r.body, "# TYPE ctteams_emergencies_total counter\n"));
	/* no secret, token, account or message text */
	assert_null(strstr(r.body, TA_SECRET));
	assert_null(strstr(r.body, TA_UPN));
	assert_null(strstr(r.body, TA_TENANT));
	assert_null(strstr(r.body, "eyJ")); /* a JWT's header */
	assert_null(strstr(r.body, "Emergency Call"));
	assert_null(strstr(r.body, t->caller));
	th_resp_free(&r);
	free(url);
	assert_int_equal(ta_stop(t), 0);
}

/* /metrics with GET or HEAD; nothing else, and none of the public
 * listener's paths */
static void
test_listener_serves_metrics_alone(void **state)
{
	struct ta *t = *state;
	int port = th_free_port();
	char extra[64];
	static const char *const paths[] = {"/", "/api/org/acme/ms-teams/notify",
					    "/api/org/acme/ms-teams/login", "/metrics/x"};
	struct th_resp r = {0};
	char *url;

	snprintf(extra, sizeof(extra), "metrics_listen = 127.0.0.1:%d", port);
	assert_int_equal(ta_start(t, extra, NULL), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		url = metrics_url(port, paths[i]);
		assert_int_equal(th_http("GET", url, NULL, NULL, NULL, &r), 0);
		assert_int_equal(r.status, 404);
		th_resp_free(&r);
		free(url);
	}
	url = metrics_url(port, "/metrics");
	assert_int_equal(th_http("POST", url, NULL, NULL, "{}", &r), 0);
	assert_int_equal(r.status, 405);
	th_resp_free(&r);
	assert_int_equal(th_http("HEAD", url, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	/* not signed in yet: the state set says so */
	assert_int_equal(th_http("GET", url, NULL, NULL, NULL, &r), 0);
	assert_non_null(
	    strstr(r.body, "ctteams_org_auth_state{org=\"acme\",state=\"not_signed_in\"} 1\n"));
	th_resp_free(&r);
	free(url);
	assert_int_equal(ta_stop(t), 0);
}

/* A connection from a loopback address of its own (the listener allows 4
 * per address), connected and idle. */
static int
idle_connection(int port, int from)
{
	struct sockaddr_in a = {.sin_family = AF_INET}, me = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	me.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)from);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Filled to its connection limit by idle clients, the listener answers
 * again once they go (libmicrohttpd stops watching its listening socket
 * at the limit, and takes it up again only when it is run). */
static void
test_listener_recovers_from_its_limit(void **state)
{
	struct ta *t = *state;
	int port = th_free_port(), fds[16];
	char extra[64];
	struct scrape_wait w = {port, "# TYPE ctteams_build_info gauge\n"};

	snprintf(extra, sizeof(extra), "metrics_listen = %d", port);
	assert_int_equal(ta_start(t, extra, NULL), 0);
	assert_true(scrape_shows(&w));
	for (int i = 0; i < 16; i++)
		fds[i] = idle_connection(port, 2 + i / 4);
	/* the agent took them in: its control socket still answers */
	json_decref(ta_ctl(t, "ping", NULL));
	/* one goes: a scrape gets its place, well before the idle ones time
	 * out (10 s) */
	close(fds[0]);
	assert_true(th_wait_until(scrape_shows, &w, 5));
	for (int i = 1; i < 16; i++)
		close(fds[i]);
	assert_true(th_wait_until(scrape_shows, &w, 5));
	assert_int_equal(ta_stop(t), 0);
}

/* a bad metrics_listen is a configuration error with its line */
static void
test_bad_metrics_listen(void **state)
{
	struct ta *t = *state;
	char *conf, *out = NULL, *err = NULL;
	int rc;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	assert_int_equal(ta_stop(t), 0);
	ta_replace_in_file(t->conf, "[agent]\n", "[agent]\nmetrics_listen = localhost:9911\n");
	conf = t->conf;
	{
		const char *const argv[] = {TA_CTTEAMSD, "--check-config", "--config", conf, NULL};
		rc = th_run(argv, &out, &err);
	}
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "metrics_listen: off, a port"));
	free(out);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_scrape_of_a_signed_in_agent, ta_test_teardown),
	    cmocka_unit_test_teardown(test_listener_serves_metrics_alone, ta_test_teardown),
	    cmocka_unit_test_teardown(test_listener_recovers_from_its_limit, ta_test_teardown),
	    cmocka_unit_test_teardown(test_bad_metrics_listen, ta_test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, ta_teardown);
}
