#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth.h"
#include "text.h"
#include "util.h"

void
oauth_pkce(char **ret_verifier, char **ret_challenge)
{
	unsigned char h[SHA256_DIGEST_LENGTH];

	/* 32 random bytes: a 43-character verifier, RFC 7636's minimum length
	 * and 256 bits of entropy */
	*ret_verifier = random_id(32);
	SHA256((const unsigned char *)*ret_verifier, strlen(*ret_verifier), h);
	*ret_challenge = b64url_encode(h, sizeof(h));
}

char *
oauth_redirect_uri(const char *public_url, const char *org)
{
	return xprintf("%s/api/org/%s/ms-teams/callback", public_url, org);
}

/* The canary posts its marker as the service user: only then is
 * ChatMessage.Send asked for, and only at the interactive sign-in, where a
 * person can consent. A refresh never widens the scopes: if the extra one
 * were refused there, the optional canary would cost the 911 path its
 * sign-in. Entra puts every consented Graph permission in the access token
 * a refresh returns, so the canary's comes along. */
static char *
scopes(const struct conf_org *o)
{
	return url_encode(o->canary_chat ? OAUTH_SCOPES " ChatMessage.Send" : OAUTH_SCOPES);
}

char *
oauth_authorize_url(const struct conf_org *o, const char *redirect_uri, const char *state,
		    const char *challenge)
{
	char *r = url_encode(redirect_uri), *s = scopes(o);
	char *hint = url_encode(o->service_user), *st = url_encode(state);
	char *url =
	    xprintf("%s/%s/oauth2/v2.0/authorize?client_id=%s&response_type=code"
		    "&redirect_uri=%s&response_mode=query&scope=%s&state=%s"
		    "&code_challenge=%s&code_challenge_method=S256&login_hint=%s"
		    "&prompt=select_account",
		    o->authority_host, o->tenant_id, o->client_id, r, s, st, challenge, hint);

	free(r);
	free(s);
	free(hint);
	free(st);
	return url;
}

char *
oauth_token_url(const struct conf_org *o)
{
	return xprintf("%s/%s/oauth2/v2.0/token", o->authority_host, o->tenant_id);
}

char *
oauth_code_form(const struct conf_org *o, const char *secret, const char *code,
		const char *redirect_uri, const char *verifier)
{
	char *es = url_encode(secret), *ec = url_encode(code), *er = url_encode(redirect_uri);
	char *scope = scopes(o);
	char *form = xprintf("client_id=%s&grant_type=authorization_code&code=%s&redirect_uri=%s"
			     "&code_verifier=%s&scope=%s&client_secret=%s",
			     o->client_id, ec, er, verifier, scope, es);

	free_secret(es);
	free_secret(ec);
	free(er);
	free(scope);
	return form;
}

char *
oauth_refresh_form(const struct conf_org *o, const char *secret, const char *refresh_token)
{
	char *es = url_encode(secret), *er = url_encode(refresh_token);
	char *scope = url_encode(OAUTH_SCOPES);
	char *form = xprintf("client_id=%s&grant_type=refresh_token&refresh_token=%s&scope=%s"
			     "&client_secret=%s",
			     o->client_id, er, scope, es);

	free_secret(es);
	free_secret(er);
	free(scope);
	return form;
}

/* The first line of Entra's description, without its trace trailer. */
static char *
short_description(const char *d)
{
	const char *end = d + strcspn(d, "\r\n");
	const char *trace = strstr(d, " Trace ID:");

	char *line, *clean;

	if (trace && trace < end)
		end = trace;
	/* cut between characters: Entra's text may be in any language */
	line = xstrndup(d, (size_t)(end - d));
	clean = txt_clean(line, 300);
	free(line);
	return clean;
}

void
oauth_classify(long status, const char *body, size_t len, double retry_after,
	       const char *transport_error, struct oauth_result *r)
{
	json_t *j = NULL;
	const char *err;

	memset(r, 0, sizeof(*r));
	r->retry_after = retry_after;
	if (status == 0) {
		r->outcome = OAUTH_TRANSIENT;
		r->description = xprintf("token endpoint unreachable: %s",
					 transport_error ? transport_error : "no answer");
		return;
	}
	j = body ? json_loadb(body, len, 0, NULL) : NULL;
	if (status == 200 && json_is_object(j)) {
		const char *at = json_string_value(json_object_get(j, "access_token"));
		json_t *exp = json_object_get(j, "expires_in");
		if (at && json_is_number(exp) && json_number_value(exp) > 0) {
			r->outcome = OAUTH_OK;
			r->access_token = xstrdup(at);
			r->refresh_token =
			    xstrdup(json_string_value(json_object_get(j, "refresh_token")));
			r->id_token = xstrdup(json_string_value(json_object_get(j, "id_token")));
			r->expires_in = json_number_value(exp);
			json_decref(j);
			return;
		}
	}
	err = json_is_object(j) ? json_string_value(json_object_get(j, "error")) : NULL;
	if (!err) {
		/* junk, HTML or a 5xx from something in between: try again later */
		r->outcome = OAUTH_TRANSIENT;
		r->description = xprintf("token endpoint answered HTTP %ld without an OAuth error "
					 "(%s)",
					 status, status == 200 ? "malformed success" : "not JSON");
		json_decref(j);
		return;
	}
	r->error = xstrdup(err);
	r->aadsts = (long)json_integer_value(json_array_get(json_object_get(j, "error_codes"), 0));
	const char *d = json_string_value(json_object_get(j, "error_description"));
	const char *sub = json_string_value(json_object_get(j, "suberror"));
	/* a short token from Entra's documented set; anything else is dropped */
	if (sub && strlen(sub) < 40 && strspn(sub, "abcdefghijklmnopqrstuvwxyz_") == strlen(sub))
		r->suberror = xstrdup(sub);
	r->description = d ? short_description(d) : xstrdup(err);
	if (status == 429 || status >= 500 || !strcmp(err, "temporarily_unavailable"))
		r->outcome = OAUTH_TRANSIENT;
	else if (!strcmp(err, "invalid_client") || !strcmp(err, "unauthorized_client"))
		r->outcome = OAUTH_CLIENT;
	else
		/* invalid_grant, interaction_required, consent_required,
		 * invalid_scope, ...: only a person signing in again mends these */
		r->outcome = OAUTH_REAUTH;
	json_decref(j);
}

char *
oauth_error_text(const struct oauth_result *r)
{
	/* interaction_required says why in its suberror: MFA (basic_action),
	 * a Conditional Access block (message_only), ... */
	char *what = r->error && r->suberror ? xprintf("%s (%s)", r->error, r->suberror)
					     : xstrdup(r->error ? r->error : "error");
	char *out;

	/* Entra's descriptions begin with their AADSTS code; others may not */
	if (r->aadsts && strncmp(r->description, "AADSTS", 6) != 0)
		out = xprintf("%s: AADSTS%ld: %s", what, r->aadsts, r->description);
	else if (r->error)
		out = xprintf("%s: %s", what, r->description);
	else
		out = xstrdup(r->description);
	free(what);
	return out;
}

void
oauth_result_clear(struct oauth_result *r)
{
	free_secret(r->access_token);
	free_secret(r->refresh_token);
	free_secret(r->id_token);
	free(r->error);
	free(r->suberror);
	free(r->description);
	memset(r, 0, sizeof(*r));
}

int
oauth_id_claims(const char *id_token, struct oauth_claims *c)
{
	const char *d1 = id_token ? strchr(id_token, '.') : NULL;
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	char *seg;
	unsigned char *raw;
	size_t n;
	json_t *j;

	memset(c, 0, sizeof(*c));
	if (!d2)
		return -1;
	seg = xstrndup(d1 + 1, (size_t)(d2 - d1 - 1));
	raw = b64url_decode(seg, &n);
	free(seg);
	if (!raw)
		return -1;
	j = json_loadb((char *)raw, n, 0, NULL);
	free(raw);
	if (!json_is_object(j)) {
		json_decref(j);
		return -1;
	}
	c->tid = xstrdup(json_string_value(json_object_get(j, "tid")));
	c->oid = xstrdup(json_string_value(json_object_get(j, "oid")));
	c->preferred_username =
	    xstrdup(json_string_value(json_object_get(j, "preferred_username")));
	c->aud = xstrdup(json_string_value(json_object_get(j, "aud")));
	c->iss = xstrdup(json_string_value(json_object_get(j, "iss")));
	c->exp = json_number_value(json_object_get(j, "exp"));
	json_decref(j);
	return c->tid && c->oid && c->aud ? 0 : -1;
}

void
oauth_claims_clear(struct oauth_claims *c)
{
	free(c->tid);
	free(c->oid);
	free(c->preferred_username);
	free(c->aud);
	free(c->iss);
	memset(c, 0, sizeof(*c));
}
