/*
 * ctteamsd --check-config: every problem reported with file and line, exit
 * codes 0 (valid), 1 (not valid), 2 (usage).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ta.h"

struct cfg {
	char *dir;
	char *secret;
	char *open_secret;
	char *path;
};

static int
setup(void **state)
{
	struct cfg *c = calloc(1, sizeof(*c));
	FILE *f;

	c->dir = th_tmpdir("config");
	if (asprintf(&c->secret, "%s/secret", c->dir) < 0 ||
	    asprintf(&c->open_secret, "%s/open-secret", c->dir) < 0 ||
	    asprintf(&c->path, "%s/ctteamsd.conf", c->dir) < 0)
		abort();
	f = fopen(c->secret, "w");
	fputs("s3cret\n", f);
	fclose(f);
	chmod(c->secret, 0600);
	f = fopen(c->open_secret, "w");
	fputs("s3cret\n", f);
	fclose(f);
	chmod(c->open_secret, 0644);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct cfg *c = *state;

	th_rmtree(c->dir);
	free(c->dir);
	free(c->secret);
	free(c->open_secret);
	free(c->path);
	free(c);
	return 0;
}

/* Writes text (with %s for the secret file) and runs --check-config. */
static int
check(struct cfg *c, const char *text, const char *secret, char **ret_err)
{
	FILE *f = fopen(c->path, "w");
	const char *argv[] = {TA_CTTEAMSD, "--check-config", "--config", c->path, NULL};

	/* the template's %s stands for the secret file's path */
	for (const char *p = text; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			fputs(secret ? secret : c->secret, f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
	fclose(f);
	return th_run(argv, NULL, ret_err);
}

#define GOOD_AGENT                                                                                 \
	"[agent]\n"                                                                                \
	"public_url = https://ctteams.example.net\n"

#define GOOD_ORG                                                                                   \
	"[org acme]\n"                                                                             \
	"tenant_id = 8f0d3f8e-1c4e-4a51-9a2f-5b2c8d7e6a10\n"                                       \
	"client_id = 4b7c9d2e-6f1a-4e3b-8c5d-0a9b8c7d6e5f\n"                                       \
	"client_secret_file = %s\n"                                                                \
	"service_user = svc-911@contoso.example\n"

static void
expect_error(struct cfg *c, const char *text, const char *secret, const char *where,
	     const char *what)
{
	char *err = NULL, *needle;

	assert_int_equal(check(c, text, secret, &err), 1);
	if (asprintf(&needle, "%s:%s", c->path, where) < 0)
		abort();
	if (!strstr(err, needle) || !strstr(err, what)) {
		fprintf(stderr, "wanted '%s' and '%s' in:\n%s", needle, what, err);
		fail();
	}
	free(needle);
	free(err);
}

static void
test_valid(void **state)
{
	struct cfg *c = *state;
	char *err = NULL;

	assert_int_equal(check(c,
			       GOOD_AGENT "log_level = debug\nrefresh_margin = 15m\n\n" GOOD_ORG
					  "client_secret_expires = 2027-06-01\n"
					  "authority_host = https://login.microsoftonline.us\n"
					  "graph_endpoint = https://graph.microsoft.us\n",
			       NULL, &err),
			 0);
	free(err);
}

static void
test_errors_name_file_and_line(void **state)
{
	struct cfg *c = *state;

	expect_error(c, GOOD_AGENT "colour = blue\n" GOOD_ORG, NULL, "3:", "unknown key 'colour'");
	expect_error(c, GOOD_AGENT GOOD_ORG "tenant_id = x\n", NULL, "8:", "given twice");
	expect_error(c, GOOD_AGENT "refresh_margin = soon\n" GOOD_ORG, NULL,
		     "3:", "refresh_margin");
	expect_error(c, GOOD_AGENT "log_level = loud\n" GOOD_ORG, NULL, "3:", "log_level");
	expect_error(c, GOOD_AGENT "allow_from = 52.96.0.0/14, graph.microsoft.com\n" GOOD_ORG,
		     NULL, "3:", "'graph.microsoft.com' is not an address");
	expect_error(c, GOOD_AGENT GOOD_ORG "emergency_regex = (unclosed\n", NULL,
		     "8:", "emergency_regex");
	expect_error(c, GOOD_AGENT "subscription_lifetime = 5000m\n" GOOD_ORG, NULL, "3:", "4320m");
	expect_error(c, "[agent]\npublic_url = ftp://x\n" GOOD_ORG, NULL, "2:", "public_url");
	expect_error(c, "[agent]\npublic_url = http://example.net\n" GOOD_ORG, NULL, "2:", "https");
	expect_error(c, GOOD_AGENT "[org acme]\nclient_id = nope\n", NULL, "4:", "client_id");
	expect_error(c, GOOD_AGENT GOOD_ORG "client_secret_expires = 1 June\n", NULL,
		     "8:", "YYYY-MM-DD");
	expect_error(c, GOOD_AGENT "[org a/b]\n", NULL, "3:", "names use letters");
	/* an org with no keys at all is still named, with what it lacks */
	expect_error(c, GOOD_AGENT "[org empty]\n", NULL, " ", "[org empty] tenant_id is required");
	expect_error(c, GOOD_AGENT "[orgs]\nx = 1\n", NULL, "3:", "unknown section");
	expect_error(c, GOOD_AGENT GOOD_ORG GOOD_ORG, NULL, "8:", "appears twice");
	expect_error(c, "public_url = https://x.example\n", NULL, "1:", "outside any section");
	expect_error(c, GOOD_AGENT "this is not ini\n" GOOD_ORG, NULL, "3:", "not INI syntax");
}

static void
test_missing_and_unsafe(void **state)
{
	struct cfg *c = *state;

	expect_error(c, GOOD_AGENT "[org acme]\ntenant_id = 8f0d3f8e-1c4e-4a51-9a2f-5b2c8d7e6a10\n",
		     NULL, " ", "[org acme] client_id is required");
	expect_error(c, "[agent]\nlog_level = info\n" GOOD_ORG, NULL, " ",
		     "public_url is required");
	expect_error(c, GOOD_AGENT, NULL, " ", "no [org NAME] section");
	/* a client secret others can read is refused */
	expect_error(c, GOOD_AGENT GOOD_ORG, c->open_secret, "6:", "readable by others");
	expect_error(c, GOOD_AGENT GOOD_ORG, "/nonexistent/secret", "6:", "No such file");
	expect_error(c, GOOD_AGENT "tls_cert = /nonexistent/cert.pem\n" GOOD_ORG, NULL,
		     "3:", "cannot read");
}

static void
test_several_errors_at_once(void **state)
{
	struct cfg *c = *state;
	char *err = NULL;

	assert_int_equal(check(c, GOOD_AGENT "a = 1\nb = 2\n" GOOD_ORG, NULL, &err), 1);
	assert_non_null(strstr(err, ":3: unknown key 'a'"));
	assert_non_null(strstr(err, ":4: unknown key 'b'"));
	free(err);
}

static void
test_exit_codes(void **state)
{
	struct cfg *c = *state;
	const char *usage[] = {TA_CTTEAMSD, "--no-such-option", NULL};
	const char *missing[] = {TA_CTTEAMSD, "--check-config", "--config", "/nonexistent.conf",
				 NULL};
	const char *version[] = {TA_CTTEAMSD, "--version", NULL};
	char *out = NULL;

	(void)c;
	assert_int_equal(th_run(usage, NULL, NULL), 2);
	assert_int_equal(th_run(missing, NULL, NULL), 1);
	assert_int_equal(th_run(version, &out, NULL), 0);
	assert_non_null(strstr(out, "ctteamsd"));
	free(out);
	const char *ctl_usage[] = {TA_CTTEAMSCTL, "frobnicate", NULL};
	const char *ctl_nodaemon[] = {TA_CTTEAMSCTL, "-S", "/nonexistent.sock", "status", NULL};
	assert_int_equal(th_run(ctl_usage, NULL, NULL), 2);
	assert_int_equal(th_run(ctl_nodaemon, NULL, NULL), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_errors_name_file_and_line),
	    cmocka_unit_test(test_missing_and_unsafe),
	    cmocka_unit_test(test_several_errors_at_once),
	    cmocka_unit_test(test_exit_codes),
	};

	return cmocka_run_group_tests_name("ctteamsd configuration", tests, setup, teardown);
}
