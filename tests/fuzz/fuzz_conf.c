#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alarm.h"
#include "event.h"
#include "fuzz_conf.h"
#include "org.h"
#include "proc.h"
#include "seal.h"
#include "store.h"
#include "util.h"

struct conf *
fz_conf(void)
{
	char dir[] = "/tmp/fuzz-ctteamsd-XXXXXX", *path, *err = NULL;
	struct conf *c;
	FILE *f;

	if (!mkdtemp(dir))
		abort();
	path = xprintf("%s/secret", dir);
	f = fopen(path, "w");
	fputs("Qx8~fuzz.secret_0123456789abcdefghijkl\n", f);
	fclose(f);
	chmod(path, 0600);
	free(path);
	path = xprintf("%s/ctteamsd.conf", dir);
	f = fopen(path, "w");
	fprintf(f,
		"[agent]\npublic_url = https://agent.example\nlisten = 127.0.0.1:1\n"
		"state_dir = %s\ncontrol_socket = %s/c.sock\nagentx_socket = off\n"
		"log_level = error\n[org acme]\n"
		"tenant_id = 8f0d3f8e-1c4e-4a51-9a2f-5b2c8d7e6a10\n"
		"client_id = 4b7c9d2e-6f1a-4e3b-8c5d-0a9b8c7d6e5f\n"
		"client_secret_file = %s/secret\nservice_user = svc@contoso.example\n",
		dir, dir, dir);
	fclose(f);
	c = conf_load(path, &err);
	free(path);
	if (!c) {
		fprintf(stderr, "fuzz: %s\n", err ? err : "no configuration");
		abort();
	}
	return c;
}

struct store *
fz_agent(struct conf *c)
{
	char *err = NULL;
	struct seal *seal;
	struct store *st;

	if (seal_open(c->state_dir, &seal, &err) < 0 ||
	    store_open(c->state_dir, seal, &st, &err) < 0 || ev_init() < 0) {
		fprintf(stderr, "fuzz: %s\n", err ? err : "set-up failed");
		abort();
	}
	alarms_start(st);
	proc_start();
	orgs_start(c, st);
	return st;
}
