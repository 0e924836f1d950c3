/* Unit tests: agent/oauth.c, the classification of Entra's answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oauth.h"
#include "util.h"

static enum oauth_outcome
classify(long status, const char *body, struct oauth_result *r)
{
	oauth_classify(status, body, body ? strlen(body) : 0, -1, "connection refused", r);
	return r->outcome;
}

static void
test_success(void **state)
{
	struct oauth_result r;

	(void)state;
	assert_int_equal(classify(200,
				  "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":"
				  "\"at\",\"refresh_token\":\"rt\",\"id_token\":\"a.b.c\"}",
				  &r),
			 OAUTH_OK);
	assert_string_equal(r.access_token, "at");
	assert_string_equal(r.refresh_token, "rt");
	assert_true(r.expires_in == 3599);
	oauth_result_clear(&r);
	/* a 200 without a token is not a success */
	assert_int_equal(classify(200, "{\"token_type\":\"Bearer\"}", &r), OAUTH_TRANSIENT);
	oauth_result_clear(&r);
}

static void
test_errors(void **state)
{
	static const struct {
		long status;
		const char *body;
		enum oauth_outcome want;
		long aadsts;
	} cases[] = {
	    {400,
	     "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50173: revoked. "
	     "Trace ID: x\",\"error_codes\":[50173]}",
	     OAUTH_REAUTH, 50173},
	    {400, "{\"error\":\"invalid_grant\",\"error_codes\":[700082]}", OAUTH_REAUTH, 700082},
	    {400, "{\"error\":\"interaction_required\",\"error_codes\":[50076]}", OAUTH_REAUTH,
	     50076},
	    {400, "{\"error\":\"consent_required\",\"error_codes\":[65001]}", OAUTH_REAUTH, 65001},
	    {401, "{\"error\":\"invalid_client\",\"error_codes\":[7000222]}", OAUTH_CLIENT,
	     7000222},
	    {400, "{\"error\":\"unauthorized_client\",\"error_codes\":[700016]}", OAUTH_CLIENT,
	     700016},
	    {503, "{\"error\":\"temporarily_unavailable\",\"error_codes\":[90033]}",
	     OAUTH_TRANSIENT, 90033},
	    {429, "{\"error\":\"invalid_request\"}", OAUTH_TRANSIENT, 0},
	    {502, "<html>Bad gateway</html>", OAUTH_TRANSIENT, 0},
	    {200, "not json", OAUTH_TRANSIENT, 0},
	    {0, NULL, OAUTH_TRANSIENT, 0},
	};
	struct oauth_result r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(classify(cases[i].status, cases[i].body, &r), cases[i].want);
		assert_int_equal(r.aadsts, cases[i].aadsts);
		assert_non_null(r.description);
		/* the description is one line and stops before Entra's trace */
		assert_null(strchr(r.description, '\n'));
		assert_null(strstr(r.description, "Trace ID"));
		oauth_result_clear(&r);
	}
}

static void
test_id_claims(void **state)
{
	const char *payload = "{\"aud\":\"app\",\"iss\":\"https://x/t/v2.0\",\"tid\":\"t\",\"oid\":"
			      "\"u\",\"preferred_username\":\"svc@contoso.example\",\"exp\":2}";
	char *p = b64url_encode((const unsigned char *)payload, strlen(payload));
	char *jwt = xprintf("eyJhbGciOiJSUzI1NiJ9.%s.sig", p);
	struct oauth_claims c;

	(void)state;
	assert_int_equal(oauth_id_claims(jwt, &c), 0);
	assert_string_equal(c.tid, "t");
	assert_string_equal(c.oid, "u");
	assert_string_equal(c.preferred_username, "svc@contoso.example");
	oauth_claims_clear(&c);
	assert_int_equal(oauth_id_claims("not-a-jwt", &c), -1);
	assert_int_equal(oauth_id_claims("a.!!!.c", &c), -1);
	free(p);
	free(jwt);
}

static void
test_requests(void **state)
{
	struct conf_org o = {.name = "acme",
			     .tenant_id = "tid",
			     .client_id = "cid",
			     .service_user = "svc@contoso.example",
			     .authority_host = "https://login.microsoftonline.us"};
	char *v, *ch, *url, *form;

	(void)state;
	oauth_pkce(&v, &ch);
	assert_true(strlen(v) >= 43);
	url = oauth_authorize_url(&o, "https://a.example/api/org/acme/ms-teams/callback", "st", ch);
	assert_non_null(strstr(url, "https://login.microsoftonline.us/tid/oauth2/v2.0/authorize?"));
	assert_non_null(strstr(url, "code_challenge_method=S256"));
	assert_non_null(strstr(url, "redirect_uri=https%3A%2F%2Fa.example%2Fapi%2Forg%2Facme"));
	assert_non_null(strstr(url, "offline_access"));
	form = oauth_refresh_form(&o, "se&cret", "r+t");
	/* secrets are form-encoded, never raw */
	assert_non_null(strstr(form, "client_secret=se%26cret"));
	assert_non_null(strstr(form, "refresh_token=r%2Bt"));
	free(v);
	free(ch);
	free(url);
	free(form);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_success),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_id_claims),
	    cmocka_unit_test(test_requests),
	};
	return cmocka_run_group_tests_name("oauth", tests, NULL, NULL);
}
