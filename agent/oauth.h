/*
 * The OAuth 2.0 authorization code flow with PKCE against the Microsoft
 * identity platform v2.0: building requests and classifying answers. Pure
 * functions, no I/O: org.c and auth.c do the talking.
 */
#ifndef CT_OAUTH_H
#define CT_OAUTH_H

#include <stddef.h>

#include "conf.h"

#define OAUTH_SCOPES "offline_access openid profile User.Read Chat.Read Chat.ReadBasic"

/* How a token endpoint answer bears on the org's sign-in. */
enum oauth_outcome {
	OAUTH_OK,
	OAUTH_TRANSIENT, /* network, 5xx, 429, temporarily_unavailable: retry */
	OAUTH_REAUTH, /* invalid_grant, interaction_required, consent_required, ...: sign in again
		       */
	OAUTH_CLIENT, /* invalid_client, unauthorized_client: the app's credentials */
};

struct oauth_result {
	enum oauth_outcome outcome;
	char *access_token;
	char *refresh_token;
	char *id_token;
	double expires_in;
	double retry_after; /* -1: none given */
	char *error;        /* e.g. invalid_grant */
	long aadsts;        /* first of error_codes, 0 if none */
	char *suberror;     /* interaction_required: basic_action, message_only, ... */
	char *description;  /* for the operator: one line, no secrets */
};

struct oauth_claims {
	char *tid;
	char *oid;
	char *preferred_username;
	char *aud;
	char *iss;
	double exp;
};

void oauth_pkce(char **ret_verifier, char **ret_challenge);
char *oauth_redirect_uri(const char *public_url, const char *org);
char *oauth_authorize_url(const struct conf_org *o, const char *redirect_uri, const char *state,
			  const char *challenge);
char *oauth_token_url(const struct conf_org *o);
char *oauth_code_form(const struct conf_org *o, const char *secret, const char *code,
		      const char *redirect_uri, const char *verifier);
char *oauth_refresh_form(const struct conf_org *o, const char *secret, const char *refresh_token);
/* status 0 = no answer (transport error). */
void oauth_classify(long status, const char *body, size_t len, double retry_after,
		    const char *transport_error, struct oauth_result *ret);
void oauth_result_clear(struct oauth_result *r);
/* "invalid_grant: AADSTS50173: The provided grant ...", for operators. */
char *oauth_error_text(const struct oauth_result *r);
/* The id_token's claims. It came straight from the token endpoint over
 * verified TLS, so its signature need not be checked (OpenID Connect Core
 * 3.1.3.7); its audience, tenant and expiry still are, by the caller. */
int oauth_id_claims(const char *id_token, struct oauth_claims *ret);
void oauth_claims_clear(struct oauth_claims *c);

#endif
