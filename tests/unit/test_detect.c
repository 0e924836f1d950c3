/* Unit tests: agent/detect.c, the emergency-notice detector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect.h"
#include "text.h"
#include "util.h"

static json_t *
message(const char *content, const char *importance)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:{s:s, s:s}}, s:{s:s, s:s}}", "id",
			 "1795873981406", "chatId", "19:abc@thread.v2", "messageType", "message",
			 "importance", importance, "createdDateTime", "2026-11-28T13:50:00.123Z",
			 "from", "user", "id", "caller-id", "displayName", "Jane Doe", "body",
			 "contentType", "html", "content", content);
}

static void
test_normalise(void **state)
{
	char *t = detect_normalise("<div><p>Jane&nbsp;Doe  has&#32;placed</p>\n<p>an &amp; "
				   "&lt;b&gt; &#x41;&#66;</p></div>");

	(void)state;
	assert_string_equal(t, "Jane Doe has placed an & <b> AB");
	free(t);
}

static void
test_default_rule_and_extraction(void **state)
{
	struct detect_rules r;
	struct detect_result res;
	char *err = NULL;
	json_t *m = message("<p>Jane Doe has placed an <b>Emergency Call</b> to 911.</p>"
			    "<p>Location: Building 4, 1 Main St, Springfield, IL 62701</p>",
			    "high");

	(void)state;
	assert_int_equal(detect_rules_init(&r, NULL, NULL, NULL, &err), 0);
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	assert_string_equal(res.number, "911");
	assert_false(res.test_call);
	assert_string_equal(res.location, "Building 4, 1 Main St, Springfield, IL 62701");
	assert_string_equal(res.caller_name, "Jane Doe");
	assert_string_equal(res.caller_id, "caller-id");
	assert_string_equal(res.chat_id, "19:abc@thread.v2");
	assert_string_equal(res.message_id, "1795873981406");
	detect_result_clear(&res);
	json_decref(m);

	/* case does not matter; 933 is a test call */
	m = message("JANE DOE HAS PLACED AN EMERGENCY CALL TO 933", "normal");
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	assert_string_equal(res.number, "933");
	assert_true(res.test_call);
	assert_null(res.location);
	detect_result_clear(&res);
	json_decref(m);
	detect_rules_clear(&r);
}

static void
test_not_emergencies(void **state)
{
	struct detect_rules r;
	struct detect_result res;
	char *err = NULL;
	json_t *m;

	(void)state;
	assert_int_equal(detect_rules_init(&r, NULL, NULL, NULL, &err), 0);
	m = message("Lunch at noon?", "normal");
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_NONE);
	detect_result_clear(&res);
	json_decref(m);

	/* important but unknown wording: kept and counted, not dropped */
	m = message("Notruf: Jane Doe hat einen Notruf abgesetzt", "urgent");
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_UNRECOGNISED);
	assert_non_null(strstr(res.why, "no rule matches"));
	detect_result_clear(&res);
	json_decref(m);

	m = message("has placed an Emergency Call", "high");
	json_object_set_new(m, "deletedDateTime", json_string("2026-11-28T13:51:00Z"));
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_IGNORED);
	detect_result_clear(&res);
	json_decref(m);

	/* the service user's own replies */
	r.service_user_id = xstrdup("caller-id");
	m = message("has placed an Emergency Call", "high");
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_IGNORED);
	detect_result_clear(&res);
	json_decref(m);
	detect_rules_clear(&r);
}

/* The number dialled comes only from what the notice says about the call:
 * never from a street number, never guessed. */
static void
test_number_from_the_call_wording(void **state)
{
	static const struct {
		const char *text;
		const char *number;
		bool test_call;
	} cases[] = {
	    {"Jane Doe has placed an Emergency Call to 911. Location: 933 Elm St", "911", false},
	    {"Jane Doe has placed an Emergency Call. Location: 933 Elm St", NULL, false},
	    {"Jane Doe has placed an Emergency Call. Location: 100 Main St", NULL, false},
	    {"Jane Doe has placed an Emergency Call to 933. Location: 911 Oak Ave", "933", true},
	    {"Jane Doe has placed an Emergency Call (dialed 933) from floor 12", "933", true},
	    {"Jane Doe has placed an Emergency Call on floor 12", NULL, false},
	    {"Jane Doe has placed an Emergency Call to +4915112345678", "+4915112345678", false},
	};
	struct detect_rules r;
	struct detect_result res;
	char *err = NULL;

	(void)state;
	assert_int_equal(detect_rules_init(&r, NULL, NULL, NULL, &err), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *m = message(cases[i].text, "high");
		detect_run(&r, m, &res);
		assert_int_equal(res.verdict, DETECT_EMERGENCY);
		if (cases[i].number)
			assert_string_equal(res.number, cases[i].number);
		else
			assert_null(res.number);
		assert_int_equal(res.test_call, cases[i].test_call);
		detect_result_clear(&res);
		json_decref(m);
	}
	detect_rules_clear(&r);
}

/* Graph may deliver the notice as a system event or from an application:
 * every shape goes through the rules. */
static void
test_every_shape_is_judged(void **state)
{
	struct detect_rules r;
	struct detect_result res;
	char *err = NULL;
	json_t *m;

	(void)state;
	assert_int_equal(detect_rules_init(&r, NULL, NULL, NULL, &err), 0);
	m = message("Jane Doe has placed an Emergency Call to 911", "high");
	json_object_set_new(m, "messageType", json_string("systemEventMessage"));
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	detect_result_clear(&res);
	json_object_set_new(m, "messageType", json_string("unknownFutureValue"));
	json_object_set_new(m, "from",
			    json_pack("{s:n, s:{s:s, s:s}}", "user", "application", "id", "app-1",
				      "displayName", "Emergency Notifications"));
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	assert_string_equal(res.caller_name, "Emergency Notifications");
	detect_result_clear(&res);
	json_decref(m);
	detect_rules_clear(&r);
}

static void
test_configured_rules(void **state)
{
	struct detect_rules r;
	struct detect_result res;
	char *err = NULL;
	json_t *m;

	(void)state;
	assert_int_equal(detect_rules_init(&r, "has placed an Emergency Call | hat einen Notruf",
					   "emergency.*(call|notruf)", "933|999", &err),
			 0);
	m = message("Jane Doe hat einen Notruf (112) abgesetzt. Location: Halle 3", "high");
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	assert_string_equal(res.number, "112");
	assert_string_equal(res.location, "Halle 3");
	detect_result_clear(&res);
	json_decref(m);
	/* a number the wording does not tie to the call is not taken for it */
	m = message("Jane Doe hat einen Notruf abgesetzt: 112. Location: Halle 3", "high");
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	assert_null(res.number);
	detect_result_clear(&res);
	json_decref(m);
	m = message("an EMERGENCY voice call", "normal");
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	assert_non_null(strstr(res.why, "regex"));
	detect_result_clear(&res);
	json_decref(m);
	detect_rules_clear(&r);
	assert_int_equal(detect_rules_init(&r, NULL, "(unclosed", NULL, &err), -1);
	assert_non_null(err);
	free(err);
}

/* Real-world text: a long multi-byte location, emoji written as UTF-16
 * entities, a lone surrogate, control characters in a name. Every field
 * is valid UTF-8 (jansson takes it), cut only between characters. */
static void
test_real_world_text(void **state)
{
	struct detect_rules r;
	struct detect_result res;
	char *err = NULL, *html, *loc = NULL;
	json_t *m, *j;
	size_t n = 0;

	(void)state;
	assert_int_equal(detect_rules_init(&r, NULL, NULL, NULL, &err), 0);
	/* 300 x "東京" (6 bytes each): 1800 bytes, cut at 500 must not split one */
	for (int i = 0; i < 300; i++) {
		char *next = xprintf("%s東京", loc ? loc : "");
		free(loc);
		loc = next;
	}
	html = xprintf("<p>José Müller has placed an Emergency Call to 911 &#xD83D;&#xDEA8; "
		       "&#55357; &#xDE00;</p><p>Location: %s</p>",
		       loc);
	m = message(html, "high");
	json_object_set_new(json_object_get(json_object_get(m, "from"), "user"), "displayName",
			    json_string("Ayşe\x1b[31m\nYılmaz \u202e عربي"));
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	assert_string_equal(res.number, "911");
	/* the pair is one emoji; a surrogate alone is U+FFFD */
	assert_non_null(strstr(res.text, "911 \U0001F6A8 \uFFFD \uFFFD"));
	assert_true(txt_is_clean(res.text));
	/* cut between characters: 83 whole "東京" and nothing of the 84th */
	n = strlen(res.location);
	assert_true(n <= 500 && n > 490);
	assert_int_equal(n % 6, 0);
	assert_true(txt_is_clean(res.location));
	j = json_string(res.location);
	assert_non_null(j);
	json_decref(j);
	/* control characters in the name are spaces: no escape sequence, no
	 * new line reaches a log or a trap */
	assert_true(txt_is_clean(res.caller_name));
	assert_null(strchr(res.caller_name, 0x1b));
	assert_non_null(strstr(res.caller_name, "Ayşe [31m Yılmaz"));
	detect_result_clear(&res);
	json_decref(m);
	free(html);
	free(loc);
	detect_rules_clear(&r);
}

/* A notice carried in a card: an Adaptive Card's TextBlock and FactSet (as
 * Graph gives it, a JSON string), a hero card's title and text, and a
 * system event's detail are read as the body is; a fact's location ends
 * with its fact. A card no rule matches is as any message: unrecognised
 * when important. Content that is not JSON is passed over. */
static void
test_cards_and_event_detail(void **state)
{
	const char *adaptive =
	    "{\"type\": \"AdaptiveCard\", \"version\": \"1.4\", \"body\": ["
	    "{\"type\": \"TextBlock\", \"text\": \"Zoë Ångström has placed an Emergency "
	    "Call to 911\", \"weight\": \"bolder\"},"
	    "{\"type\": \"ColumnSet\", \"columns\": [{\"type\": \"Column\", \"items\": ["
	    "{\"type\": \"FactSet\", \"facts\": ["
	    "{\"title\": \"Location:\", \"value\": \"東京都千代田区 1-1, Floor 3\"},"
	    "{\"title\": \"Callback:\", \"value\": \"+1 555 0100\"}]}]}]}]}";
	struct detect_rules r;
	struct detect_result res;
	char *err = NULL;
	json_t *m;

	(void)state;
	assert_int_equal(detect_rules_init(&r, NULL, NULL, NULL, &err), 0);
	m = message("<attachment id=\"c1\"></attachment>", "normal");
	json_object_set_new(m, "attachments",
			    json_pack("[{s:s, s:s, s:s}]", "id", "c1", "contentType",
				      "application/vnd.microsoft.card.adaptive", "content",
				      adaptive));
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	assert_string_equal(res.number, "911");
	assert_string_equal(res.location, "東京都千代田区 1-1, Floor 3");
	assert_non_null(strstr(res.text, "Callback: +1 555 0100"));
	assert_null(strchr(res.text, '\n'));
	detect_result_clear(&res);
	json_decref(m);

	/* a hero card, its content an object */
	m = message("", "high");
	json_object_set_new(
	    m, "attachments",
	    json_pack("[{s:s, s:{s:s, s:s}}]", "contentType", "application/vnd.microsoft.card.hero",
		      "content", "title", "Emergency", "text",
		      "Jane Doe has placed an Emergency Call to 933. Location: Dock 2"));
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	assert_string_equal(res.number, "933");
	assert_string_equal(res.location, "Dock 2");
	detect_result_clear(&res);
	json_decref(m);

	/* a system event's detail: words read, identifiers not */
	m = message("", "normal");
	json_object_set_new(m, "messageType", json_string("systemEventMessage"));
	json_object_set_new(m, "eventDetail",
			    json_pack("{s:s, s:s, s:s}", "@odata.type",
				      "#microsoft.graph.unknownEventMessageDetail", "callId",
				      "has placed an Emergency Call", "summary",
				      "Jane Doe has placed an Emergency Call to 911"));
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_EMERGENCY);
	assert_string_equal(res.text, "Jane Doe has placed an Emergency Call to 911");
	detect_result_clear(&res);
	json_decref(m);

	/* a card no rule matches; content that is not JSON */
	m = message("", "urgent");
	json_object_set_new(
	    m, "attachments",
	    json_pack("[{s:s, s:s}, {s:s, s:s}]", "contentType",
		      "application/vnd.microsoft.card.adaptive", "content",
		      "{\"type\": \"AdaptiveCard\", \"body\": [{\"type\": \"TextBlock\", "
		      "\"text\": \"Fire drill at noon\"}]}",
		      "contentType", "application/vnd.microsoft.card.adaptive", "content",
		      "{not json"));
	detect_run(&r, m, &res);
	assert_int_equal(res.verdict, DETECT_UNRECOGNISED);
	assert_string_equal(res.text, "Fire drill at noon");
	detect_result_clear(&res);
	json_decref(m);
	detect_rules_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalise),
	    cmocka_unit_test(test_default_rule_and_extraction),
	    cmocka_unit_test(test_not_emergencies),
	    cmocka_unit_test(test_number_from_the_call_wording),
	    cmocka_unit_test(test_every_shape_is_judged),
	    cmocka_unit_test(test_configured_rules),
	    cmocka_unit_test(test_real_world_text),
	    cmocka_unit_test(test_cards_and_event_detail),
	};
	return cmocka_run_group_tests_name("detect", tests, NULL, NULL);
}
