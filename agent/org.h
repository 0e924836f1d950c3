/*
 * One org (tenant) at run time: its sign-in state, tokens and refresh timer.
 * Orgs are independent: each has its own timer and requests, and one org's
 * failure never waits on another's.
 *
 *   not_signed_in --sign-in--> valid --refresh fails, transient--> degraded
 *   valid|degraded --invalid_grant etc.--> reauth_required --sign-in--> valid
 *   valid|degraded --invalid_client--> secret_invalid --secret fixed--> valid
 */
#ifndef CT_ORG_H
#define CT_ORG_H

#include <jansson.h>
#include <stdbool.h>

#include "conf.h"
#include "oauth.h"
#include "store.h"

enum org_auth {
	ORG_NOT_SIGNED_IN,
	ORG_VALID,
	ORG_DEGRADED,
	ORG_REAUTH_REQUIRED,
	ORG_SECRET_INVALID,
};

struct ev_timer;

struct org {
	struct conf_org *conf;
	long index; /* stable: see store_org_index() */
	enum org_auth auth;
	char *access_token;
	char *refresh_token;
	double access_expires;
	double last_refresh;
	char *user_id;
	char *user_upn;
	long failures;
	char *last_error;
	double last_error_at;
	char *last_signin_error;
	bool in_flight;
	struct ev_timer *timer;
};

const char *org_auth_name(enum org_auth a);
int orgs_start(struct conf *c, struct store *st);
/* SIGHUP: keep the state of orgs that stay, start new ones, drop old ones. */
void orgs_reload(struct conf *c);
void orgs_stop(void);
struct org *org_find(const char *name);
size_t orgs_count(void);
struct org *org_at(size_t i);
/* The client secret, read fresh from its file so a replaced secret is used
 * without a restart. NULL with *ret_err on failure. */
char *org_secret(struct org *o, char **ret_err);
/* Sign-in finished with these tokens for this user. */
void org_signed_in(struct org *o, const struct oauth_result *r, const char *user_id,
		   const char *upn);
void org_signin_failed(struct org *o, const char *why);
/* Graph said 401: get a fresh access token now. */
void org_token_rejected(struct org *o);
/* A fresh access token is wanted (e.g. one with a longer life to hand
 * Graph with a reauthorization): refresh now unless one is under way. */
void org_refresh_now(struct org *o);
void org_logout(struct org *o);
json_t *org_status(const struct org *o);
/* Called after every change of an org's sign-in (state or tokens). */
void org_set_listener(void (*fn)(struct org *o));
/* An access token good for at least `margin` more seconds, or NULL. */
const char *org_access_token(const struct org *o, double margin);

#endif
