/*
 * libFuzzer target: what the agent reads from Graph about a message. The
 * detector's text normalisation and field extraction (caller, number,
 * location) on any body, in any message shape, and the resource string of
 * a change notification. Nothing here may crash, leak or read out of
 * bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "text.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the detector hands on goes to every output: valid UTF-8 without
 * control characters (entities decode to anything, surrogates included). */
static void
check_clean(const struct detect_result *res)
{
	const char *texts[] = {res->text, res->caller_name, res->location};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i] && !txt_is_clean(texts[i]))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct detect_rules rules;
	static int ready;
	struct detect_result res;
	char *s, *chat, *msg, *err = NULL;
	json_t *m;

	if (!ready) {
		ready = detect_rules_init(&rules, NULL, "emergency.*(call|notruf)", "933|999",
					  &err) == 0;
		free(err);
	}
	if (size < 1 || !ready)
		return 0;
	s = xstrndup((const char *)data + 1, size - 1);
	/* the whole chatMessage as Graph sends it, when the input is JSON */
	m = json_loads(s, 0, NULL);
	if (json_is_object(m)) {
		detect_run(&rules, m, &res);
		check_clean(&res);
		detect_result_clear(&res);
	}
	json_decref(m);
	/* the body content alone, in a message of a shape chosen by byte 0 */
	m = json_pack("{s:s, s:s, s:{s:s}, s:s}", "id", "1", "messageType",
		      data[0] & 1 ? "message" : "systemEventMessage", "body", "content", s,
		      "importance", data[0] & 2 ? "high" : "normal");
	if (m) {
		detect_run(&rules, m, &res);
		check_clean(&res);
		detect_result_clear(&res);
		json_decref(m);
	}
	if (graph_message_ids(s, &chat, &msg) == 0) {
		free(chat);
		free(msg);
	}
	free(s);
	return 0;
}
