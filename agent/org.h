/*
 * One org (tenant) at run time: the one object that holds everything of an
 * org. Its sign-in state, tokens and refresh timer are kept here; its other
 * parts (subscription, reconcile, inbox processing with the detector's
 * rules, canary) are kept by their modules, made with the org, freed with
 * it, and told of a reload by orgs_reload(), the one reload path. Nothing
 * else keeps per-org state of its own. Orgs are independent: each has its
 * own timers and requests, and one org's failure never waits on another's.
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
struct sub;
struct poller;
struct porg;
struct canary;

struct org {
	struct conf_org *conf;
	long index;           /* stable: see store_org_index() */
	unsigned long serial; /* this org object, never reused: see org_ref() */
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
	long gen; /* the stored sign-in the tokens come from (store_auth_put) */
	/* changes whenever the tokens are replaced (a sign-in, a logout): a
	 * refresh answered after that was made with the old ones */
	unsigned long tokens_serial, flight_serial;
	struct ev_timer *timer;
	/* its parts, each private to the module named */
	struct sub *sub;       /* subs.c: the Graph subscription */
	struct poller *poll;   /* poll.c: the reconcile (backfill) */
	struct porg *proc;     /* proc.c: inbox processing, the detector's rules */
	struct canary *canary; /* canary.c: the delivery canary */
	double sub_bad_since;  /* health.c: the subscription not delivering since */
	double degraded_since; /* health.c: refreshes failing (degraded) since */
};

const char *org_auth_name(enum org_auth a);
int orgs_start(struct conf *c, struct store *st);
/* SIGHUP, the one reload path of org state: orgs that stay keep their
 * state, and their parts are told of the new configuration; new ones are
 * made, removed ones freed (an org whose tenant or app changed is made
 * afresh, and must sign in again). */
void orgs_reload(struct conf *c);
void orgs_stop(void);
/* The configuration and store the orgs run with, for their parts. */
const struct conf *orgs_conf(void);
struct store *orgs_store(void);
struct org *org_find(const char *name);
/* The standby (ha.c): every org's sign-in and subscription as the active
 * last wrote them, for its status, plugins and MIB. Tokens stay unread. */
void orgs_standby_sync(void);
/* For an answer that comes later: a reference to this org object, and the
 * org again from it, or NULL when the org was removed or replaced (a new
 * object under the same name: its tenant changed) meanwhile. An answer
 * must never reach the wrong org. The reference is a number: nothing to
 * free. */
void *org_ref(const struct org *o);
struct org *org_deref(void *ref);
size_t orgs_count(void);
/* Changes whenever the set of orgs may have (a start, a reload). */
unsigned long orgs_generation(void);
struct org *org_at(size_t i);
/* The client secret, read fresh from its file so a replaced secret is used
 * without a restart. NULL with *ret_err on failure. */
char *org_secret(struct org *o, char **ret_err);
/* Sign-in finished with these tokens for this user: stored, on whichever
 * agent of a pair the browser reached (the active takes up one made on the
 * other: orgs_adopt). -1 when this agent could neither store it nor keep
 * it (not the active): the sign-in is lost, and must be made again. */
int org_signed_in(struct org *o, const struct oauth_result *r, const char *user_id,
		  const char *upn);
/* The active: takes up the sign-ins the other agent stored (ha.c, at each
 * beat). */
void orgs_adopt(void);
void org_signin_failed(struct org *o, const char *why);
/* Graph said 401: get a fresh access token now. */
void org_token_rejected(struct org *o);
/* A fresh access token is wanted (e.g. one with a longer life to hand
 * Graph with a reauthorization): refresh now unless one is under way. */
void org_refresh_now(struct org *o);
void org_logout(struct org *o);
/* Its state for the control socket (its number asked of the store again
 * when the store could not give it at the start). */
json_t *org_status(struct org *o);
/* Called after every change of an org's sign-in (state or tokens). */
void org_set_listener(void (*fn)(struct org *o));
/* An access token good for at least `margin` more seconds, or NULL. */
const char *org_access_token(const struct org *o, double margin);

#endif
