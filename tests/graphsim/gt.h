/*
 * Fixture for graphsim's conformance tests: a running graphsim with one
 * tenant (a service user, a caller, a colleague, an app registration) and a
 * webhook receiver. Tests drive graphsim only through HTTP, as a client of
 * Microsoft's cloud would.
 */
#ifndef GT_H
#define GT_H

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "th.h"

#define GT_TENANT   "8f0d3f8e-1c4e-4a51-9a2f-5b2c8d7e6a10"
#define GT_CLIENT   "4b7c9d2e-6f1a-4e3b-8c5d-0a9b8c7d6e5f"
#define GT_SECRET   "Qx8~s3cr3t.value-for_tests-only~0123456789"
#define GT_REDIRECT "https://agent.example.net/api/org/acme/ms-teams/callback"
#define GT_SCOPES   "offline_access openid profile User.Read Chat.Read Chat.ReadBasic"

struct gt {
	struct th_graphsim gs;
	struct th_hook *hook;
	char *svc;    /* service user id */
	char *caller; /* another user */
	char *desk;   /* a third */
};

/* cmocka group fixtures; extra graphsim options in `extra` may be NULL. */
int gt_setup(void **state, const char *const *extra);
int gt_teardown(void **state);

/* GET authorize with the fixture's app plus `query` (already encoded);
 * returns the HTTP status and the Location header (free it). */
long gt_authorize(struct gt *t, const char *query, char **ret_location);
/* POST the token endpoint with a form (already encoded). */
long gt_token(struct gt *t, const char *form, json_t **ret_body);
/* A full authorization code + PKCE sign-in; the token response. */
json_t *gt_signin(struct gt *t);
/* The same, asking for `scopes` (space-separated) instead of GT_SCOPES. */
json_t *gt_signin_scopes(struct gt *t, const char *scopes);
const char *gt_str(json_t *o, const char *key);
/* Control API calls that must succeed. */
json_t *gt_sim_ok(struct gt *t, const char *method, const char *path, json_t *body);
/* POST /v1.0/subscriptions; returns the status, the body in *ret. */
long gt_subscribe(struct gt *t, const char *token, json_t *body, json_t **ret);
/* Deletes every subscription the token's app holds for its user. */
void gt_delete_subs(struct gt *t, const char *token);
/* A valid subscription body for the service user with expiry `minutes`. */
json_t *gt_sub_body(struct gt *t, double minutes, const char *client_state);
char *gt_iso_in(double seconds);
/* Asserts the identity platform's error shape and returns error_codes[0]. */
long gt_entra_error(json_t *body, const char *error);

#endif
