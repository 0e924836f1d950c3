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
#include "fuzz_conf.h"
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
	struct conf *c = fz_conf();
	struct store *st = fz_agent(c);

	(void)argc;
	(void)argv;
	ctl_init(c, st);
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
