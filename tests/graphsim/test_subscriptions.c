/*
 * graphsim conformance: subscription rules as Graph documents them for
 * chatMessage resources under delegated permissions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gt.h"

static int
setup(void **state)
{
	return gt_setup(state, NULL);
}

static const struct th_hook_cfg good = {.validation = TH_VALIDATE_ECHO, .notify_status = 202};

/* No subscriptions left, and a receiver that behaves, for the next test. */
static void
cleanup(struct gt *t, const char *token)
{
	gt_delete_subs(t, token);
	th_hook_configure(t->hook, &good);
	th_hook_clear(t->hook);
}

static void
expect_error(struct gt *t, const char *token, json_t *body, long status, const char *needle)
{
	json_t *r;

	assert_int_equal(gt_subscribe(t, token, body, &r), status);
	json_t *err = json_object_get(r, "error");
	assert_non_null(gt_str(err, "code"));
	assert_non_null(gt_str(err, "message"));
	if (needle && !strstr(gt_str(err, "message"), needle)) {
		fprintf(stderr, "message '%s' lacks '%s'\n", gt_str(err, "message"), needle);
		fail();
	}
	json_decref(r);
}

static void
test_create_runs_both_handshakes(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *sub;
	const char *at = gt_str(tok, "access_token");

	cleanup(t, at);
	assert_int_equal(gt_subscribe(t, at, gt_sub_body(t, 4300, "cs-1"), &sub), 201);
	assert_int_equal(th_hook_validations(t->hook, "/notify"), 1);
	assert_int_equal(th_hook_validations(t->hook, "/lifecycle"), 1);
	assert_non_null(gt_str(sub, "id"));
	assert_string_equal(gt_str(sub, "clientState"), "cs-1");
	assert_string_equal(gt_str(sub, "creatorId"), t->svc);
	assert_string_equal(gt_str(sub, "applicationId"), GT_CLIENT);
	assert_string_equal(gt_str(sub, "changeType"), "created,updated");
	assert_non_null(gt_str(sub, "expirationDateTime"));
	json_decref(sub);
	cleanup(t, at);
	json_decref(tok);
}

static void
test_lifetime_rules(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *b, *sub;
	const char *at = gt_str(tok, "access_token");

	cleanup(t, at);
	expect_error(t, at, gt_sub_body(t, 4321, NULL), 400, "4320 minutes");
	/* above an hour, lifecycleNotificationUrl is required */
	b = gt_sub_body(t, 120, NULL);
	json_object_del(b, "lifecycleNotificationUrl");
	expect_error(t, at, b, 400, "lifecycleNotificationUrl is a required property");
	/* under 45 minutes is raised to 45; then no lifecycle URL is needed */
	b = gt_sub_body(t, 10, NULL);
	json_object_del(b, "lifecycleNotificationUrl");
	assert_int_equal(gt_subscribe(t, at, b, &sub), 201);
	char *min45 = gt_iso_in(44.9 * 60), *max46 = gt_iso_in(46 * 60);
	assert_true(strcmp(gt_str(sub, "expirationDateTime"), min45) > 0);
	assert_true(strcmp(gt_str(sub, "expirationDateTime"), max46) < 0);
	free(min45);
	free(max46);
	json_decref(sub);
	cleanup(t, at);
	/* in the past */
	expect_error(t, at, gt_sub_body(t, -5, NULL), 400, "future");
	json_decref(tok);
}

static void
test_field_rules(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *b;
	const char *at = gt_str(tok, "access_token");
	char long_state[130];

	cleanup(t, at);
	memset(long_state, 'x', 129);
	long_state[129] = '\0';
	expect_error(t, at, gt_sub_body(t, 60, long_state), 400, "128");
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "changeType", json_string("created,exploded"));
	expect_error(t, at, b, 400, "changeType");
	b = gt_sub_body(t, 60, NULL);
	json_object_del(b, "resource");
	expect_error(t, at, b, 400, "resource is a required property");
	/* Graph demands HTTPS; plain HTTP is a graphsim switch for loopback */
	json_decref(gt_sim_ok(t, "POST", "/config", json_pack("{s:b}", "allow_http_notify", 0)));
	expect_error(t, at, gt_sub_body(t, 60, NULL), 400, "HTTPS");
	json_decref(gt_sim_ok(t, "POST", "/config", json_pack("{s:b}", "allow_http_notify", 1)));
	json_decref(tok);
}

static void
test_handshake_failures(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *b;
	const char *at = gt_str(tok, "access_token");
	struct th_hook_cfg cfg = good;

	cleanup(t, at);
	cfg.validation = TH_VALIDATE_ECHO_RAW;
	th_hook_configure(t->hook, &cfg);
	expect_error(t, at, gt_sub_body(t, 60, NULL), 400, "decoded validationToken");
	cfg.validation = TH_VALIDATE_FAIL;
	th_hook_configure(t->hook, &cfg);
	expect_error(t, at, gt_sub_body(t, 60, NULL), 400, "200 OK");
	cfg.validation = TH_VALIDATE_WRONG_TYPE;
	th_hook_configure(t->hook, &cfg);
	expect_error(t, at, gt_sub_body(t, 60, NULL), 400, "text/plain");
	/* too slow: Graph gives 10 s; this graphsim gives 1 */
	json_decref(gt_sim_ok(t, "POST", "/config", json_pack("{s:s}", "handshake_timeout", "1s")));
	cfg.validation = TH_VALIDATE_ECHO;
	cfg.validation_delay_ms = 1500;
	th_hook_configure(t->hook, &cfg);
	expect_error(t, at, gt_sub_body(t, 60, NULL), 400, "timed out");
	json_decref(
	    gt_sim_ok(t, "POST", "/config", json_pack("{s:s}", "handshake_timeout", "10s")));
	th_hook_configure(t->hook, &good);
	/* the lifecycle URL is validated too */
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "lifecycleNotificationUrl",
			    json_string("http://127.0.0.1:9/nothing"));
	expect_error(t, at, b, 400, "lifecycleNotificationUrl");
	/* nothing was created by any of these */
	struct th_resp r;
	assert_int_equal(th_graph_get(&t->gs, at, "/v1.0/subscriptions", &r), 0);
	json_t *list = th_resp_json(&r);
	assert_int_equal(json_array_size(json_object_get(list, "value")), 0);
	json_decref(list);
	th_resp_free(&r);
	json_decref(tok);
}

static void
test_duplicate_and_quota(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *b, *sub;
	const char *at = gt_str(tok, "access_token");

	cleanup(t, at);
	assert_int_equal(gt_subscribe(t, at, gt_sub_body(t, 60, NULL), &sub), 201);
	json_decref(sub);
	expect_error(t, at, gt_sub_body(t, 60, NULL), 409, "already exists");
	/* ten per user in Graph; two here, to keep the test small */
	json_decref(gt_sim_ok(t, "POST", "/config", json_pack("{s:i}", "subs_per_user", 2)));
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "changeType", json_string("created"));
	assert_int_equal(gt_subscribe(t, at, b, &sub), 201);
	json_decref(sub);
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "changeType", json_string("updated"));
	expect_error(t, at, b, 403, "quota");
	json_decref(gt_sim_ok(t, "POST", "/config", json_pack("{s:i}", "subs_per_user", 10)));
	cleanup(t, at);
	json_decref(tok);
}

static void
test_resources(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *b, *sub, *chat;
	const char *at = gt_str(tok, "access_token");
	char *res;

	cleanup(t, at);
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "resource", json_string("/chats/getAllMessages"));
	expect_error(t, at, b, 403, "application permissions");
	b = gt_sub_body(t, 60, NULL);
	if (asprintf(&res, "/users/%s/chats/getAllMessages", t->caller) < 0)
		abort();
	json_object_set_new(b, "resource", json_string(res));
	free(res);
	expect_error(t, at, b, 403, NULL);
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "resource", json_string("/me/messages"));
	expect_error(t, at, b, 400, "not supported");
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "resource", json_string("/me/chats/getAllMessages"));
	assert_int_equal(gt_subscribe(t, at, b, &sub), 201);
	json_decref(sub);
	/* /me and /users/{own id} are the same resource */
	expect_error(t, at, gt_sub_body(t, 60, NULL), 409, NULL);

	chat =
	    gt_sim_ok(t, "POST", "/chats",
		      json_pack("{s:s, s:[s,s]}", "tenant", GT_TENANT, "members", t->svc, t->desk));
	b = gt_sub_body(t, 60, NULL);
	if (asprintf(&res, "/chats/%s/messages", gt_str(chat, "id")) < 0)
		abort();
	json_object_set_new(b, "resource", json_string(res));
	assert_int_equal(gt_subscribe(t, at, b, &sub), 201);
	json_decref(sub);
	free(res);
	json_decref(chat);
	/* a chat the service user is not in */
	chat = gt_sim_ok(
	    t, "POST", "/chats",
	    json_pack("{s:s, s:[s,s]}", "tenant", GT_TENANT, "members", t->caller, t->desk));
	b = gt_sub_body(t, 60, NULL);
	if (asprintf(&res, "/chats/%s/messages", gt_str(chat, "id")) < 0)
		abort();
	json_object_set_new(b, "resource", json_string(res));
	expect_error(t, at, b, 403, "not a member");
	free(res);
	json_decref(chat);
	cleanup(t, at);
	json_decref(tok);
}

static void
test_rich_requirements(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *b, *sub;
	const char *at = gt_str(tok, "access_token");
	char *small_cert, *cert;
	EVP_PKEY *small = th_rsa_cert(1024, &small_cert), *key = th_rsa_cert(2048, &cert);

	cleanup(t, at);
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "includeResourceData", json_true());
	expect_error(t, at, b, 400, "encryptionCertificate");
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "includeResourceData", json_true());
	json_object_set_new(b, "encryptionCertificate", json_string("bm90IGEgY2VydA=="));
	json_object_set_new(b, "encryptionCertificateId", json_string("k1"));
	expect_error(t, at, b, 400, "certificate");
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "includeResourceData", json_true());
	json_object_set_new(b, "encryptionCertificate", json_string(small_cert));
	json_object_set_new(b, "encryptionCertificateId", json_string("k1"));
	expect_error(t, at, b, 400, "2048");
	b = gt_sub_body(t, 60, NULL);
	json_object_set_new(b, "includeResourceData", json_true());
	json_object_set_new(b, "encryptionCertificate", json_string(cert));
	json_object_set_new(b, "encryptionCertificateId", json_string("k1"));
	assert_int_equal(gt_subscribe(t, at, b, &sub), 201);
	assert_true(json_is_true(json_object_get(sub, "includeResourceData")));
	assert_string_equal(gt_str(sub, "encryptionCertificateId"), "k1");
	json_decref(sub);
	cleanup(t, at);
	EVP_PKEY_free(small);
	EVP_PKEY_free(key);
	free(small_cert);
	free(cert);
	json_decref(tok);
}

static void
test_bearer_required(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t);
	char *path;

	expect_error(t, NULL, gt_sub_body(t, 60, NULL), 401, "empty");
	expect_error(t, "not-a-token", gt_sub_body(t, 60, NULL), 401, NULL);
	if (asprintf(&path, "/users/%s/expire-tokens", t->svc) < 0)
		abort();
	json_decref(gt_sim_ok(t, "POST", path, NULL));
	expect_error(t, gt_str(tok, "access_token"), gt_sub_body(t, 60, NULL), 401, "expired");
	free(path);
	json_decref(tok);
}

static long
sub_call(struct gt *t, const char *method, const char *at, const char *id, const char *suffix,
	 json_t *body, json_t **ret)
{
	char *path;
	struct th_resp r;
	long status;

	if (asprintf(&path, "/v1.0/subscriptions/%s%s", id, suffix ? suffix : "") < 0)
		abort();
	assert_int_equal(th_graph_send(&t->gs, method, at, path, body, &r), 0);
	status = r.status;
	if (ret)
		*ret = th_resp_json(&r);
	th_resp_free(&r);
	free(path);
	return status;
}

static void
test_list_get_renew_delete(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *sub, *got, *list;
	const char *at = gt_str(tok, "access_token");
	char *id, *later;
	struct th_resp r;

	cleanup(t, at);
	assert_int_equal(gt_subscribe(t, at, gt_sub_body(t, 60, "cs"), &sub), 201);
	id = strdup(gt_str(sub, "id"));
	assert_int_equal(th_graph_get(&t->gs, at, "/v1.0/subscriptions", &r), 0);
	list = th_resp_json(&r);
	th_resp_free(&r);
	assert_int_equal(json_array_size(json_object_get(list, "value")), 1);
	/* clientState is a secret: Graph does not read it back */
	assert_true(json_is_null(
	    json_object_get(json_array_get(json_object_get(list, "value"), 0), "clientState")));
	json_decref(list);
	assert_int_equal(sub_call(t, "GET", at, id, NULL, NULL, &got), 200);
	assert_string_equal(gt_str(got, "id"), id);
	json_decref(got);

	later = gt_iso_in(4000 * 60);
	assert_int_equal(sub_call(t, "PATCH", at, id, NULL,
				  json_pack("{s:s}", "expirationDateTime", later), &got),
			 200);
	assert_true(strncmp(gt_str(got, "expirationDateTime"), later, 19) == 0);
	json_decref(got);
	free(later);
	later = gt_iso_in(5000 * 60);
	assert_int_equal(sub_call(t, "PATCH", at, id, NULL,
				  json_pack("{s:s}", "expirationDateTime", later), NULL),
			 400);
	free(later);
	assert_int_equal(
	    sub_call(t, "PATCH", at, id, NULL, json_pack("{s:s}", "clientState", "x"), NULL), 400);
	assert_int_equal(
	    sub_call(t, "PATCH", at, id, NULL,
		     json_pack("{s:s}", "lifecycleNotificationUrl", "https://x.example/l"), NULL),
	    400);
	assert_int_equal(sub_call(t, "DELETE", at, id, NULL, NULL, NULL), 204);
	assert_int_equal(sub_call(t, "GET", at, id, NULL, NULL, NULL), 404);
	later = gt_iso_in(600 * 60);
	assert_int_equal(sub_call(t, "PATCH", at, id, NULL,
				  json_pack("{s:s}", "expirationDateTime", later), NULL),
			 404);
	free(later);
	free(id);
	json_decref(sub);
	json_decref(tok);
}

static void
test_expiry_deletes(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *sub;
	const char *at = gt_str(tok, "access_token");
	char *path;

	cleanup(t, at);
	assert_int_equal(gt_subscribe(t, at, gt_sub_body(t, 60, NULL), &sub), 201);
	if (asprintf(&path, "/subscriptions/%s/expire", gt_str(sub, "id")) < 0)
		abort();
	json_decref(gt_sim_ok(t, "POST", path, NULL));
	assert_int_equal(sub_call(t, "GET", at, gt_str(sub, "id"), NULL, NULL, NULL), 404);
	assert_int_equal(sub_call(t, "POST", at, gt_str(sub, "id"), "/reauthorize", NULL, NULL),
			 404);
	/* the slot is free again: the same subscription can be created */
	json_t *again;
	assert_int_equal(gt_subscribe(t, at, gt_sub_body(t, 60, NULL), &again), 201);
	json_decref(again);
	cleanup(t, at);
	free(path);
	json_decref(sub);
	json_decref(tok);
}

static void
test_reauthorize_and_patch_conflict(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *sub, *stats;
	const char *at = gt_str(tok, "access_token");
	char *later = gt_iso_in(3000 * 60);

	cleanup(t, at);
	stats = gt_sim_ok(t, "GET", "/stats", NULL);
	size_t before = json_array_size(json_object_get(stats, "violations"));
	json_decref(stats);
	assert_int_equal(gt_subscribe(t, at, gt_sub_body(t, 60, NULL), &sub), 201);
	assert_int_equal(sub_call(t, "POST", at, gt_str(sub, "id"), "/reauthorize", NULL, NULL),
			 204);
	stats = gt_sim_ok(t, "GET", "/stats", NULL);
	assert_int_equal(json_array_size(json_object_get(stats, "violations")), before);
	json_decref(stats);
	/* Graph warns: no PATCH within ten minutes of a reauthorize */
	assert_int_equal(sub_call(t, "PATCH", at, gt_str(sub, "id"), NULL,
				  json_pack("{s:s}", "expirationDateTime", later), NULL),
			 200);
	stats = gt_sim_ok(t, "GET", "/stats", NULL);
	assert_int_equal(json_array_size(json_object_get(stats, "violations")), before + 1);
	json_t *v = json_array_get(json_object_get(stats, "violations"), before);
	assert_string_equal(gt_str(v, "rule"), "reauthorize");
	assert_string_equal(gt_str(v, "subscriptionId"), gt_str(sub, "id"));
	json_decref(stats);
	cleanup(t, at);
	free(later);
	json_decref(sub);
	json_decref(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_runs_both_handshakes),
	    cmocka_unit_test(test_lifetime_rules),
	    cmocka_unit_test(test_field_rules),
	    cmocka_unit_test(test_handshake_failures),
	    cmocka_unit_test(test_duplicate_and_quota),
	    cmocka_unit_test(test_resources),
	    cmocka_unit_test(test_rich_requirements),
	    cmocka_unit_test(test_list_get_renew_delete),
	    cmocka_unit_test(test_expiry_deletes),
	    cmocka_unit_test(test_reauthorize_and_patch_conflict),
	    cmocka_unit_test(test_bearer_required),
	};

	return cmocka_run_group_tests_name("graphsim subscriptions", tests, setup, gt_teardown);
}
