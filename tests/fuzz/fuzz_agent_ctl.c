/*
 * libFuzzer target: control-protocol requests, as a local member of the
 * monitoring group may send them, to an agent with an org, a store and
 * events. Every request gets one answer: one line of JSON with "ok";
 * nothing crashes, leaks or writes (the monitoring socket is read-only).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alarm.h"
#include "conf.h"
#include "ctl.h"
#include "event.h"
#include "org.h"
#include "proc.h"
#include "seal.h"
#include "store.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ev_ctl_peer peer = {.readonly = true, .uid = 1000, .pid = 1};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/fuzz-ctl-XXXXXX", *path, *err = NULL;
	struct conf *c;
	struct seal *seal;
	struct store *st;
	FILE *f;

	(void)argc;
	(void)argv;
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
	if (!c || seal_open(dir, &seal, &err) < 0 || store_open(dir, seal, &st, &err) < 0 ||
	    ev_init() < 0) {
		fprintf(stderr, "fuzz_agent_ctl: %s\n", err ? err : "set-up failed");
		abort();
	}
	alarms_start(st);
	ctl_init(c, st);
	proc_start();
	orgs_start(c, st);
	/* an event to list, an alarm to show */
	{
		struct store_event e = {.org = "acme",
					.chat_id = "19:a@thread.v2",
					.message_id = "1",
					.kind = "emergency",
					.caller_name = "José 山田",
					.location = "Bâtiment 3 🚨",
					.created = "2026-12-06T01:00:00Z",
					.source = "webhook"};
		long id;
		store_event_add(st, &e, 0, &id);
	}
	alarm_set(ALARM_NOT_SIGNED_IN, "acme", true, "not signed in");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1), *out;
	json_t *j;

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	out = ctl_handle(line, &peer);
	/* one line of JSON that says whether it worked */
	if (!out || strchr(out, '\n') != NULL)
		abort();
	j = json_loads(out, 0, NULL);
	if (!json_is_boolean(json_object_get(j, "ok")))
		abort();
	json_decref(j);
	free(out);
	free(line);
	return 0;
}
