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

/* Chats come newest last message first: the first one older than the
 * window ends the list; one without messages is skipped. */
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
	assert_true(gpage_chats(&g, from, ids));
	assert_int_equal(json_array_size(ids), 1);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "19:new@thread.v2");
	json_decref(ids);
	gpage_clear(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_next_link),
	    cmocka_unit_test(test_chats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
