/*
 * A real Icinga 2 daemon (Debian's icinga2), run from a temporary directory:
 * its own CA and node certificate (made with the openssl tool), an API
 * listener on a free loopback port, one API user, and the objects file
 * under test. No checker feature is loaded, so no active check runs: what
 * a service shows is what was submitted to it.
 */
#include <grp.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "th.h"

#define NODE "ctteams-test-icinga"

/* A CA, and a node certificate it signed for NODE and 127.0.0.1. */
static int
make_pki(const char *dir)
{
	char *cmd;
	int rc;

	if (asprintf(&cmd,
		     "cd '%s/data/certs' && "
		     "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
		     "-days 2 -subj '/CN=ctteams test Icinga CA' && "
		     "openssl req -newkey rsa:2048 -nodes -keyout " NODE ".key -out node.csr "
		     "-subj '/CN=" NODE "' && "
		     "printf 'subjectAltName=DNS:" NODE ",IP:127.0.0.1\\n' > node.ext && "
		     "openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		     "-out " NODE ".crt -days 2 -extfile node.ext",
		     dir) < 0)
		abort();
	rc = th_run((const char *const[]){"/bin/sh", "-c", cmd, NULL}, NULL, NULL);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static int
write_config(struct th_icinga *ic, const char *objects_file, const char *user, const char *password,
	     bool checker)
{
	char *path, *text;
	int rc;

	if (asprintf(&text,
		     "const NodeName = \"" NODE "\"\n"
		     "const ZoneName = \"master\"\n"
		     "const PluginDir = \"/usr/lib/nagios/plugins\"\n"
		     "include <itl>\n"
		     "include <plugins>\n"
		     "object Endpoint NodeName { }\n"
		     "object Zone ZoneName { endpoints = [ NodeName ] }\n"
		     "object ApiListener \"api\" {\n"
		     "  bind_host = \"127.0.0.1\"\n"
		     "  bind_port = %d\n"
		     "}\n"
		     "object ApiUser \"%s\" {\n"
		     "  password = \"%s\"\n"
		     "  permissions = [ \"actions/process-check-result\", \"objects/query/*\",\n"
		     "    \"actions/remove-acknowledgement\", \"actions/acknowledge-problem\" ]\n"
		     "}\n"
		     "include \"%s\"\n"
		     "%s",
		     ic->port, user, password, objects_file,
		     checker ? "object CheckerComponent \"checker\" { }\n"
			       "object NotificationComponent \"notification\" { }\n"
			     : "") < 0 ||
	    asprintf(&path, "%s/icinga2.conf", ic->dir) < 0)
		abort();
	rc = th_write_file(path, text);
	free(path);
	free(text);
	return rc;
}

static bool
api_up(void *arg)
{
	json_t *j = th_icinga_get(arg, "/v1/objects/zones");
	bool up = j != NULL;

	json_decref(j);
	return up;
}

static int
start(struct th_icinga *ic, const char *objects_file, const char *user, const char *password,
      bool checker)
{
	static const char *const subdirs[] = {"data", "data/certs", "log", "cache", "spool", "run"};
	char *sub;

	memset(ic, 0, sizeof(*ic));
	ic->dir = th_tmpdir("icinga2");
	ic->port = th_free_port();
	ic->user = strdup(user);
	ic->password = strdup(password);
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (asprintf(&sub, "%s/%s", ic->dir, subdirs[i]) < 0)
			abort();
		mkdir(sub, 0700);
		free(sub);
	}
	if (asprintf(&ic->ca, "%s/data/certs/ca.crt", ic->dir) < 0 ||
	    asprintf(&ic->url, "https://127.0.0.1:%d", ic->port) < 0)
		abort();
	if (make_pki(ic->dir) < 0 || write_config(ic, objects_file, user, password, checker) < 0)
		return -1;
	ic->pid = fork();
	if (ic->pid == 0) {
		char *conf, *out, *d[5];
		if (asprintf(&conf, "%s/icinga2.conf", ic->dir) < 0 ||
		    asprintf(&out, "%s/stdout", ic->dir) < 0 ||
		    asprintf(&d[0], "-DDataDir=%s/data", ic->dir) < 0 ||
		    asprintf(&d[1], "-DLogDir=%s/log", ic->dir) < 0 ||
		    asprintf(&d[2], "-DCacheDir=%s/cache", ic->dir) < 0 ||
		    asprintf(&d[3], "-DSpoolDir=%s/spool", ic->dir) < 0 ||
		    asprintf(&d[4], "-DInitRunDir=%s/run", ic->dir) < 0 ||
		    !freopen(out, "a", stdout) || !freopen(out, "a", stderr))
			_exit(127);
		/* run as whoever runs the tests, not Debian's nagios user */
		const struct passwd *pw = getpwuid(getuid());
		const struct group *gr = getgrgid(getgid());
		char *as_user, *as_group;
		if (!pw || !gr || asprintf(&as_user, "-DRunAsUser=%s", pw->pw_name) < 0 ||
		    asprintf(&as_group, "-DRunAsGroup=%s", gr->gr_name) < 0)
			_exit(127);
		execl("/usr/sbin/icinga2", "icinga2", "daemon", "-c", conf, d[0], d[1], d[2], d[3],
		      d[4], as_user, as_group, (char *)NULL);
		_exit(127);
	}
	return ic->pid > 0 && th_wait_until(api_up, ic, 30) ? 0 : -1;
}

int
th_icinga_start(struct th_icinga *ic, const char *objects_file, const char *user,
		const char *password)
{
	return start(ic, objects_file, user, password, false);
}

int
th_icinga_start_checking(struct th_icinga *ic, const char *objects_file, const char *user,
			 const char *password)
{
	return start(ic, objects_file, user, password, true);
}

static json_t *
request(struct th_icinga *ic, const char *method, const char *path, json_t *body)
{
	char *url, *auth, *basic = NULL, *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct th_resp r;
	json_t *j = NULL;

	if (asprintf(&url, "%s%s", ic->url, path) < 0 ||
	    asprintf(&auth, "%s:%s", ic->user, ic->password) < 0)
		abort();
	basic = calloc(1, 4 * strlen(auth) / 3 + 8);
	EVP_EncodeBlock((unsigned char *)basic, (const unsigned char *)auth, (int)strlen(auth));
	free(auth);
	if (asprintf(&auth, "Authorization: Basic %s", basic) < 0)
		abort();
	const char *headers[] = {auth, "Accept: application/json",
				 body ? "Content-Type: application/json" : NULL, NULL};
	/* the answer is freed whether or not one came (a refused connection
	 * while Icinga starts leaves an empty body) */
	if (th_http(method, url, ic->ca, headers, text, &r) == 0 && r.status == 200)
		j = th_resp_json(&r);
	th_resp_free(&r);
	free(text);
	free(url);
	free(auth);
	free(basic);
	return j;
}

json_t *
th_icinga_get(struct th_icinga *ic, const char *path)
{
	return request(ic, "GET", path, NULL);
}

json_t *
th_icinga_post(struct th_icinga *ic, const char *path, json_t *body)
{
	json_t *j = request(ic, "POST", path, body);

	json_decref(body);
	return j;
}

void
th_icinga_stop(struct th_icinga *ic)
{
	if (ic->pid > 0) {
		kill(ic->pid, SIGTERM);
		waitpid(ic->pid, NULL, 0);
		ic->pid = 0;
	}
	if (ic->dir && !getenv("TH_KEEP"))
		th_rmtree(ic->dir);
	free(ic->dir);
	free(ic->ca);
	free(ic->url);
	free(ic->user);
	free(ic->password);
	memset(ic, 0, sizeof(*ic));
}
