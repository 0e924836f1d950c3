/* Unit tests: agent/gpage.c, Graph's list pages as the reconcile reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpage.h"

static void
page(const char *next, const char *endpoint, struct gpage *g)
{
	json_t *j = json_pack("{s:[], s:s}", "value", "@odata.nextLink", next);
	char *s = json_dumps(j, 0);

	assert_int_equal(gpage_parse(s, strlen(s), endpoint, g), 0);
	free(s);
	json_decref(j);
}

/* A next page is followed only on the endpoint the request went to, over
 * https: it carries the org's access token. */
static void
test_next_link(void **state)
{
	struct gpage g;
	const char *const refused[] = {
	    "https://graph.microsoft.com.evil.example/v1.0/chats",
	    "https://evil.example/v1.0/chats?x=https://graph.microsoft.com/",
	    "http://graph.microsoft.com/v1.0/chats",
	    "https://graph.microsoft.com",
	    "https://graph.microsoft.us/v1.0/chats",
	};

	(void)state;
	page("https://graph.microsoft.com/v1.0/users/u/chats?$skiptoken=a",
	     "https://graph.microsoft.com", &g);
	assert_string_equal(g.next, "https://graph.microsoft.com/v1.0/users/u/chats?$skiptoken=a");
	assert_false(g.bad_next);
	gpage_clear(&g);
	/* the endpoint as configured, with a trailing slash */
	page("https://graph.microsoft.com/v1.0/x", "https://graph.microsoft.com/", &g);
	assert_non_null(g.next);
	gpage_clear(&g);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		page(refused[i], "https://graph.microsoft.com", &g);
		assert_null(g.next);
		assert_true(g.bad_next);
		gpage_clear(&g);
	}
	assert_int_equal(gpage_parse("{\"value\": 3}", 12, "https://graph.microsoft.com", &g), -1);
	assert_int_equal(gpage_parse("[]", 2, "https://graph.microsoft.com", &g), -1);
}

/* Chats come in no order we rely on: every chat of a page whose last
 * message is in the window is kept, an older one ends nothing; one
 * without messages is skipped. */
static void
test_chats(void **state)
{
	const char *body =
	    "{\"value\": ["
	    "{\"id\": \"19:new@thread.v2\", \"lastMessagePreview\": {\"createdDateTime\": "
	    "\"2026-12-06T01:00:00Z\"}},"
	    "{\"id\": \"19:empty@thread.v2\", \"lastMessagePreview\": null},"
	    "{\"id\": \"\", \"lastMessagePreview\": {\"createdDateTime\": "
	    "\"2026-12-06T01:00:00Z\"}},"
	    "{\"id\": \"19:old@thread.v2\", \"lastMessagePreview\": {\"createdDateTime\": "
	    "\"2026-12-01T00:00:00Z\"}},"
	    "{\"id\": \"19:after@thread.v2\", \"lastMessagePreview\": {\"createdDateTime\": "
	    "\"2026-12-06T02:00:00Z\"}}]}";
	struct gpage g;
	json_t *ids = json_array(), *t = json_pack("{s:s}", "t", "2026-12-05T00:00:00Z");
	double from = gpage_time(t, "t");

	(void)state;
	json_decref(t);
	assert_true(from > 0);
	assert_int_equal(gpage_parse(body, strlen(body), "https://graph.microsoft.com", &g), 0);
	gpage_chats(&g, from, ids);
	assert_int_equal(json_array_size(ids), 2);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "19:new@thread.v2");
	assert_string_equal(json_string_value(json_array_get(ids, 1)), "19:after@thread.v2");
	json_decref(ids);
	gpage_clear(&g);
}

/* Messages come last modified first: the list ends at the first one last
 * touched before the window, whenever it was made; an old message with a
 * new reaction does not end it. */
static void
test_message_before(void **state)
{
	json_t *t = json_pack("{s:s}", "t", "2026-12-05T00:00:00Z");
	double from = gpage_time(t, "t");
	json_t *reacted = json_pack("{s:s, s:s}", "createdDateTime", "2026-11-01T00:00:00Z",
				    "lastModifiedDateTime", "2026-12-05T10:00:00Z");
	json_t *old = json_pack("{s:s, s:s}", "createdDateTime", "2026-11-01T00:00:00Z",
				"lastModifiedDateTime", "2026-11-02T00:00:00Z");
	json_t *no_modified = json_pack("{s:s}", "createdDateTime", "2026-11-01T00:00:00Z");
	json_t *no_times = json_object();

	(void)state;
	assert_false(gpage_message_before(reacted, from));
	assert_true(gpage_message_before(old, from));
	assert_true(gpage_message_before(no_modified, from));
	assert_false(gpage_message_before(no_times, from));
	json_decref(t);
	json_decref(reacted);
	json_decref(old);
	json_decref(no_modified);
	json_decref(no_times);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_next_link),
	    cmocka_unit_test(test_chats),
	    cmocka_unit_test(test_message_before),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
