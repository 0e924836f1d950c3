/* Unit tests: agent/rich.c, the claims of a validationToken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rich.h"
#include "util.h"

#define TID "8f0d3f8e-1c4e-4a51-9a2f-5b2c8d7e6a10"
#define APP "4b7c9d2e-6f1a-4e3b-8c5d-0a9b8c7d6e5f"

static struct conf_org
org(const char *authority)
{
	struct conf_org o = {.tenant_id = TID, .client_id = APP};

	o.authority_host = (char *)authority;
	return o;
}

static json_t *
claims(int ver, const char *iss, double exp)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "ver", ver == 1 ? "1.0" : "2.0", "tid",
			 TID, "aud", APP, ver == 1 ? "appid" : "azp", GRAPH_CHANGE_TRACKING_APP,
			 "iss", iss, "exp", exp);
}

static void
expect(const struct conf_org *o, json_t *c, double at, const char *want)
{
	char *got = rich_claims_wrong(o, c, TID, at);

	if (want)
		assert_string_equal(got, want);
	else
		assert_null(got);
	free(got);
	json_decref(c);
}

/* Each cloud's issuers, v1 and v2; the China cloud's are not its login
 * host; a look-alike host is refused. */
static void
test_issuers_per_cloud(void **state)
{
	struct conf_org g = org("https://login.microsoftonline.com");
	struct conf_org us = org("https://login.microsoftonline.us");
	struct conf_org cn = org("https://login.chinacloudapi.cn");
	double exp = now_wall() + 3600;

	(void)state;
	expect(&g, claims(1, "https://sts.windows.net/" TID "/", exp), now_wall(), NULL);
	expect(&g, claims(2, "https://login.microsoftonline.com/" TID "/v2.0", exp), now_wall(),
	       NULL);
	expect(&us, claims(1, "https://sts.windows.net/" TID "/", exp), now_wall(), NULL);
	expect(&us, claims(2, "https://login.microsoftonline.us/" TID "/v2.0", exp), now_wall(),
	       NULL);
	expect(&cn, claims(1, "https://sts.chinacloudapi.cn/" TID "/", exp), now_wall(), NULL);
	expect(&cn, claims(2, "https://login.partner.microsoftonline.cn/" TID "/v2.0", exp),
	       now_wall(), NULL);
	cn.authority_host = "https://login.partner.microsoftonline.cn";
	expect(&cn, claims(1, "https://sts.chinacloudapi.cn/" TID "/", exp), now_wall(), NULL);
	cn.authority_host = "https://login.chinacloudapi.cn";
	/* the login host is not the China cloud's v2 issuer */
	expect(&cn, claims(2, "https://login.chinacloudapi.cn/" TID "/v2.0", exp), now_wall(),
	       "rejected_token_issuer");
	expect(&g, claims(1, "https://sts.windows.net.evil.example/" TID "/", exp), now_wall(),
	       "rejected_token_issuer");
	expect(&g, claims(1, "https://sts.evil.example/" TID "/", exp), now_wall(),
	       "rejected_token_issuer");
	/* a v1 token with a v2 issuer, and another tenant's */
	expect(&g, claims(1, "https://login.microsoftonline.com/" TID "/v2.0", exp), now_wall(),
	       "rejected_token_issuer");
	expect(&g, claims(1, "https://sts.windows.net/00000000-0000-0000-0000-000000000000/", exp),
	       now_wall(), "rejected_token_issuer");
}

static void
test_token_issuers_override(void **state)
{
	struct conf_org o = org("https://login.example.net");
	double exp = now_wall() + 3600;

	(void)state;
	/* an unknown cloud: its own authority for v2 */
	expect(&o, claims(2, "https://login.example.net/" TID "/v2.0", exp), now_wall(), NULL);
	o.token_issuers = "https://sts.example.net/{tenant}/ https://id.example.net/{tenant}/v2.0";
	expect(&o, claims(1, "https://sts.example.net/" TID "/", exp), now_wall(), NULL);
	expect(&o, claims(2, "https://id.example.net/" TID "/v2.0", exp), now_wall(), NULL);
	/* the override replaces the table */
	expect(&o, claims(1, "https://sts.windows.net/" TID "/", exp), now_wall(),
	       "rejected_token_issuer");
}

/* Expiry is judged when the notification arrived: one that waited in the
 * inbox through an outage is still good; a stale one at arrival is not. */
static void
test_expiry_judged_at_arrival(void **state)
{
	struct conf_org g = org("https://login.microsoftonline.com");
	double now = now_wall();

	(void)state;
	/* expired an hour ago, arrived while valid */
	expect(&g, claims(1, "https://sts.windows.net/" TID "/", now - 3600), now - 3700, NULL);
	/* expired long before it arrived */
	expect(&g, claims(1, "https://sts.windows.net/" TID "/", now - 3600), now,
	       "rejected_token_expired");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issuers_per_cloud),
	    cmocka_unit_test(test_token_issuers_override),
	    cmocka_unit_test(test_expiry_judged_at_arrival),
	};
	return cmocka_run_group_tests_name("rich", tests, NULL, NULL);
}
