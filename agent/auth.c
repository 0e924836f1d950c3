/*
 * Links and sign-in states are kept in the store (store_signin.c), so that
 * the link and the browser's callback may land on either agent of a pair.
 * Both are short-lived (ten minutes) and single use.
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "http.h"
#include "log.h"
#include "oauth.h"
#include "org.h"
#include "server.h"
#include "store.h"
#include "text.h"
#include "util.h"

#define STATE_TTL 600.0

static char *public_url;

struct pending_code {
	struct srv_req *req;
	char *org;
};

void
auth_init(const char *url)
{
	free(public_url);
	public_url = xstrdup(url);
}

/* Used links are kept a while past their end, to be told apart from
 * unknown ones; whatever ended longer ago goes. */
static void
prune(void)
{
	store_tickets_prune(orgs_store(), STATE_TTL);
}

char *
auth_link_new(struct org *o, const char *url)
{
	char *secret = random_id(24), *link = NULL;

	prune();
	if (store_ticket_put(orgs_store(), STORE_LINK, secret, o->conf->name, NULL,
			     AUTH_LINK_TTL) == 0) {
		link = xprintf("%s/api/org/%s/ms-teams/login?link=%s", url, o->conf->name, secret);
		log_info("auth", "org %s: sign-in link issued (valid %d minutes, once)",
			 o->conf->name, AUTH_LINK_TTL / 60);
	}
	free_secret(secret);
	return link;
}

static void
state_page(struct srv_req *r)
{
	srv_page(r, 503, "Sign-in not available",
		 "The agent could not reach its database to start the sign-in. Try again in a "
		 "minute; 'ctteamsctl status' says what is wrong.");
}

void
auth_login(struct srv_req *r, struct org *o)
{
	const char *given = srv_arg(r, "link");
	int used = given ? store_link_use(orgs_store(), given, o->conf->name) : 1;
	char *challenge, *redirect, *url, *state, *verifier;

	if (used < 0) {
		state_page(r);
		return;
	}
	if (used == 1) {
		log_warn_limited("auth", "bad-link", 60,
				 "org %s: sign-in refused from %s: unknown or expired link",
				 o->conf->name, srv_peer(r));
		srv_page(r, 403, "Sign-in link not valid",
			 "This link is unknown or has expired (links last 10 minutes). Run "
			 "'ctteamsctl login ORG' for a new one.");
		return;
	}
	if (used == 2) {
		log_warn_limited("auth", "used-link", 60,
				 "org %s: sign-in refused from %s: link already used",
				 o->conf->name, srv_peer(r));
		srv_page(r, 403, "Sign-in link already used",
			 "Each link works once. Run 'ctteamsctl login ORG' for a new one.");
		return;
	}
	prune();
	state = random_id(32);
	oauth_pkce(&verifier, &challenge);
	if (store_ticket_put(orgs_store(), STORE_STATE, state, o->conf->name, verifier, STATE_TTL) <
	    0) {
		/* the link is spent: a new one is needed */
		srv_page(r, 503, "Sign-in not available",
			 "The agent could not reach its database to start the sign-in, and the "
			 "link is used up. Run 'ctteamsctl login ORG' for a new one once "
			 "'ctteamsctl status' shows the database reached.");
	} else {
		redirect = oauth_redirect_uri(public_url, o->conf->name);
		url = oauth_authorize_url(o->conf, redirect, state, challenge);
		srv_redirect(r, url);
		log_info("auth", "org %s: sign-in started from %s", o->conf->name, srv_peer(r));
		free(redirect);
		free(url);
	}
	free(challenge);
	free_secret(verifier);
	free_secret(state);
}

static void
fail(struct srv_req *r, struct org *o, unsigned int status, const char *title, const char *why)
{
	org_signin_failed(o, why);
	srv_page(r, status, title, why);
}

static void
code_redeemed(const struct hc_resp *resp, void *arg)
{
	struct pending_code *pc = arg;
	struct org *o = org_find(pc->org);
	struct oauth_result res;
	struct oauth_claims cl;
	char *why = NULL;

	oauth_classify(resp->status, resp->body, resp->len, resp->retry_after, resp->error, &res);
	if (!o) {
		srv_page(pc->req, 404, "Not found", "This org is no longer configured.");
		goto out;
	}
	if (res.outcome != OAUTH_OK) {
		char *text = oauth_error_text(&res);
		why = xprintf("the token endpoint refused the code: %s", text);
		free(text);
		fail(pc->req, o, res.outcome == OAUTH_TRANSIENT ? 502 : 400, "Sign-in failed", why);
		goto out;
	}
	if (oauth_id_claims(res.id_token, &cl) < 0) {
		fail(pc->req, o, 502, "Sign-in failed",
		     "the token endpoint sent no usable id_token (is 'openid' consented?)");
		goto out;
	}
	if (strcmp(cl.aud, o->conf->client_id) != 0)
		why = xprintf("the id_token is for another app (%s)", cl.aud);
	else if (strchr(o->conf->tenant_id, '-') && strcasecmp(cl.tid, o->conf->tenant_id) != 0)
		why =
		    xprintf("the account belongs to tenant %s, not %s", cl.tid, o->conf->tenant_id);
	else if (!cl.preferred_username ||
		 strcasecmp(cl.preferred_username, o->conf->service_user) != 0)
		why = xprintf("%s signed in, but this org's service user is %s; nothing was "
			      "stored. Sign in again with the service user's account.",
			      cl.preferred_username ? cl.preferred_username : "an unnamed account",
			      o->conf->service_user);
	if (why) {
		fail(pc->req, o, 403, "Wrong account", why);
	} else if (org_signed_in(o, &res, cl.oid, cl.preferred_username) < 0) {
		fail(pc->req, o, 503, "Sign-in not stored",
		     "Microsoft signed the account in, but the agent could not store the sign-in "
		     "in its database, so it is not kept. Try again with a new link ('ctteamsctl "
		     "login ORG') once the database is reached.");
	} else {
		char *msg = xprintf("%s is signed in for org %s. ctteams keeps the sign-in fresh "
				    "from now on; you can close this window.",
				    cl.preferred_username, o->conf->name);
		srv_page(pc->req, 200, "Signed in", msg);
		free(msg);
	}
	oauth_claims_clear(&cl);
out:
	free(why);
	oauth_result_clear(&res);
	free(pc->org);
	free(pc);
}

void
auth_callback(struct srv_req *r, struct org *o)
{
	const char *state = srv_arg(r, "state"), *code = srv_arg(r, "code");
	const char *error = srv_arg(r, "error");
	char *err = NULL, *secret, *form, *url, *redirect, *why, *verifier = NULL;
	struct pending_code *pc;
	int taken;

	taken = state ? store_state_take(orgs_store(), state, o->conf->name, &verifier) : 1;
	if (taken < 0) {
		state_page(r);
		return;
	}
	if (taken == 1) {
		/* tampered, replayed, expired, or for another org: never redeem.
		 * Anyone can send this, so it is said at a bounded rate and
		 * leaves the org's last real sign-in error alone. */
		log_warn_limited("auth", "bad-state", 60,
				 "org %s: sign-in callback from %s refused: unknown, used or "
				 "expired state",
				 o->conf->name, srv_peer(r));
		srv_page(r, 400, "Sign-in not recognised",
			 "The sign-in state is unknown, already used, expired or for another "
			 "org; start again with 'ctteamsctl login ORG'.");
		return;
	}
	/* single use, whatever follows: the store no longer has it */
	if (error) {
		const char *desc = srv_arg(r, "error_description");
		char *d = txt_clean(desc ? desc : "", 300), *e = txt_clean(error, 64);
		why = xprintf("Microsoft sign-in answered %s: %s", e, d);
		free(d);
		free(e);
		fail(r, o, 400, "Sign-in failed", why);
		free(why);
		free_secret(verifier);
		return;
	}
	if (!code || !*code) {
		fail(r, o, 400, "Sign-in failed", "the callback carried neither code nor error");
		free_secret(verifier);
		return;
	}
	secret = org_secret(o, &err);
	if (!secret) {
		fail(r, o, 500, "Sign-in failed", err);
		free(err);
		free_secret(verifier);
		return;
	}
	redirect = oauth_redirect_uri(public_url, o->conf->name);
	form = oauth_code_form(o->conf, secret, code, redirect, verifier);
	url = oauth_token_url(o->conf);
	pc = xcalloc(1, sizeof(*pc));
	pc->req = r;
	pc->org = xstrdup(o->conf->name);
	if (hc_post_form(url, form, code_redeemed, pc) == 0) {
		srv_suspend(r);
	} else {
		fail(r, o, 500, "Sign-in failed", "could not reach the token endpoint");
		free(pc->org);
		free(pc);
	}
	free_secret(secret);
	free_secret(verifier);
	free(redirect);
	free(url);
}

void
auth_shutdown(void)
{
	free(public_url);
	public_url = NULL;
}
