#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "jwks.h"
#include "log.h"
#include "util.h"

#define REFETCH_GAP 60.0

struct cache {
	char *authority;
	json_t *keys; /* the JWKS "keys" array */
	double fetched;
	double tried;
	bool fetching;
	struct cache *next;
};

static struct cache *caches;
static void (*on_ready)(void);

void
jwks_init(void (*ready)(void))
{
	on_ready = ready;
}

void
jwks_shutdown(void)
{
	while (caches) {
		struct cache *c = caches;
		caches = c->next;
		json_decref(c->keys);
		free(c->authority);
		free(c);
	}
}

static struct cache *
cache_for(const char *authority)
{
	struct cache *c;

	for (c = caches; c; c = c->next)
		if (!strcmp(c->authority, authority))
			return c;
	c = xcalloc(1, sizeof(*c));
	c->authority = xstrdup(authority);
	c->next = caches;
	caches = c;
	return c;
}

static void
fetched(const struct hc_resp *resp, void *arg)
{
	char *authority = arg;
	struct cache *c = cache_for(authority);
	json_t *j = json_loadb(resp->body, resp->len, 0, NULL);

	c->fetching = false;
	if (resp->status == 200 && json_is_array(json_object_get(j, "keys"))) {
		jwks_put(authority, json_object_get(j, "keys"));
		log_debug("jwks", "%s: %zu signing keys", authority, json_array_size(c->keys));
	} else {
		log_warnx("jwks", "%s: cannot fetch the signing keys (HTTP %ld%s%s)", authority,
			  resp->status, resp->error ? ", " : "", resp->error ? resp->error : "");
	}
	json_decref(j);
	free(authority);
	if (on_ready)
		on_ready();
}

void
jwks_put(const char *authority, json_t *keys)
{
	struct cache *c = cache_for(authority);

	json_decref(c->keys);
	c->keys = json_incref(keys);
	c->fetched = now_mono();
}

static void
fetch(struct cache *c)
{
	char *url = xprintf("%s/common/discovery/v2.0/keys", c->authority);
	char *arg = xstrdup(c->authority);

	c->fetching = true;
	c->tried = now_mono();
	/* not started: no answer will come to free its argument */
	if (hc_graph("GET", url, NULL, NULL, fetched, arg) < 0) {
		c->fetching = false;
		free(arg);
	}
	free(url);
}

static EVP_PKEY *
rsa_key(json_t *jwk)
{
	const char *ns = json_string_value(json_object_get(jwk, "n"));
	const char *es = json_string_value(json_object_get(jwk, "e"));
	size_t nl, el;
	unsigned char *n = ns ? b64url_decode(ns, &nl) : NULL;
	unsigned char *e = es ? b64url_decode(es, &el) : NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *key = NULL;
	BIGNUM *bn = NULL, *be = NULL;

	if (n && e) {
		bn = BN_bin2bn(n, (int)nl, NULL);
		be = BN_bin2bn(e, (int)el, NULL);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be);
		params = OSSL_PARAM_BLD_to_param(bld);
		if (EVP_PKEY_fromdata_init(ctx) != 1 ||
		    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
			key = NULL;
	}
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return key;
}

static json_t *
segment(const char *s, size_t len)
{
	char *copy = xstrndup(s, len);
	size_t n;
	unsigned char *raw = b64url_decode(copy, &n);
	json_t *j = raw ? json_loadb((char *)raw, n, 0, NULL) : NULL;

	free(copy);
	free(raw);
	return json_is_object(j) ? j : (json_decref(j), NULL);
}

enum jwks_result
jwks_verify(const char *authority, const char *jwt, json_t **ret_claims, char **ret_why)
{
	const char *d1 = jwt ? strchr(jwt, '.') : NULL, *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	struct cache *c = cache_for(authority);
	json_t *hdr = NULL, *jwk = NULL, *k;
	const char *kid, *alg;
	unsigned char *sig = NULL;
	size_t i, slen;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	enum jwks_result rc = JWKS_INVALID;

	*ret_claims = NULL;
	*ret_why = NULL;
	if (!d2 || !(hdr = segment(jwt, (size_t)(d1 - jwt)))) {
		*ret_why = xstrdup("not a JWT");
		goto out;
	}
	alg = json_string_value(json_object_get(hdr, "alg"));
	kid = json_string_value(json_object_get(hdr, "kid"));
	if (!alg || strcmp(alg, "RS256") != 0 || !kid) {
		*ret_why = xstrdup("not an RS256 token with a key id");
		goto out;
	}
	json_array_foreach (c->keys, i, k) {
		const char *id = json_string_value(json_object_get(k, "kid"));
		if (id && !strcmp(id, kid))
			jwk = k;
	}
	if (!jwk) {
		/* a key set under a minute old that lacks it: the token is forged */
		if (c->keys && c->fetched > 0 && now_mono() - c->fetched < REFETCH_GAP) {
			*ret_why =
			    xstrdup("signed by a key the identity platform does not publish");
			goto out;
		}
		/* keys rotate, and a fetch may have failed: fetch (again), and let
		 * the work wait rather than drop a notice for want of keys */
		if (!c->fetching && (!c->tried || now_mono() - c->tried >= REFETCH_GAP))
			fetch(c);
		rc = JWKS_WAIT;
		goto out;
	}
	key = rsa_key(jwk);
	sig = b64url_decode(d2 + 1, &slen);
	md = EVP_MD_CTX_new();
	if (!key || !sig || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestVerify(md, sig, slen, (const unsigned char *)jwt, (size_t)(d2 - jwt)) != 1) {
		*ret_why = xstrdup("the signature does not verify");
		goto out;
	}
	*ret_claims = segment(d1 + 1, (size_t)(d2 - d1 - 1));
	if (*ret_claims)
		rc = JWKS_VALID;
	else
		*ret_why = xstrdup("the claims are not JSON");
out:
	json_decref(hdr);
	EVP_PKEY_free(key);
	EVP_MD_CTX_free(md);
	free(sig);
	return rc;
}
