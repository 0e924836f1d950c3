/*
 * libFuzzer target: the validationTokens of rich notifications and the
 * key sets they are checked against (agent/jwks.c), then the claims'
 * judgement (agent/rich.c). The first byte picks what the rest is:
 *   0: a token, checked against a real RSA key: never valid (it cannot be
 *      forged), never a crash;
 *   1: the claims of a token the real key signs: valid exactly when they
 *      are JSON, then judged;
 *   2: a key set as an authority might publish it, against which a token
 *      the real key signed is checked.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz_conf.h"
#include "jwks.h"
#include "rich.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AUTH  "https://login.microsoftonline.com"
#define OTHER "https://login.example"

static EVP_PKEY *key;
static json_t *keys;
static struct conf *cf;

static char *
bn_b64(const char *name)
{
	BIGNUM *bn = NULL;
	unsigned char buf[512];
	int n;
	char *s;

	if (!EVP_PKEY_get_bn_param(key, name, &bn))
		abort();
	n = BN_bn2bin(bn, buf);
	s = b64url_encode(buf, (size_t)n);
	BN_free(bn);
	return s;
}

/* header.claims.signature with the real key */
static char *
signed_token(const char *claims, size_t len)
{
	const char *hdr = "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}";
	char *h = b64url_encode((const unsigned char *)hdr, strlen(hdr));
	char *c = b64url_encode((const unsigned char *)claims, len);
	char *input = xprintf("%s.%s", h, c), *sig, *tok;
	unsigned char s[512];
	size_t slen = sizeof(s);
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, s, &slen, (const unsigned char *)input, strlen(input)) != 1)
		abort();
	sig = b64url_encode(s, slen);
	tok = xprintf("%s.%s", input, sig);
	EVP_MD_CTX_free(md);
	free(h);
	free(c);
	free(input);
	free(sig);
	return tok;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *n, *e;

	(void)argc;
	(void)argv;
	key = EVP_RSA_gen(2048);
	if (!key)
		abort();
	n = bn_b64("n");
	e = bn_b64("e");
	keys = json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "kty", "RSA", "use", "sig", "kid", "k1",
			 "n", n, "e", e);
	free(n);
	free(e);
	cf = fz_conf();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rest, *tok, *why = NULL;
	json_t *claims = NULL, *set;
	enum jwks_result rc;

	if (size < 1)
		return 0;
	rest = xstrndup((const char *)data + 1, size - 1);
	/* as just fetched: a missing key is a forgery, never a fetch */
	jwks_put(AUTH, keys);
	switch (data[0] % 3) {
	case 0:
		rc = jwks_verify(AUTH, rest, &claims, &why);
		if (rc == JWKS_VALID)
			abort();
		break;
	case 1:
		tok = signed_token(rest, strlen(rest));
		rc = jwks_verify(AUTH, tok, &claims, &why);
		if ((rc == JWKS_VALID) != (claims != NULL))
			abort();
		if (claims)
			free(rich_claims_wrong(cf->orgs[0], claims,
					       "8f0d3f8e-1c4e-4a51-9a2f-5b2c8d7e6a10", 1796000000));
		free(tok);
		break;
	default:
		set = json_loads(rest, 0, NULL);
		jwks_put(OTHER, json_is_array(set) ? set : json_object_get(set, "keys"));
		json_decref(set);
		tok = signed_token("{\"aud\":\"x\"}", 11);
		jwks_verify(OTHER, tok, &claims, &why);
		free(tok);
		break;
	}
	json_decref(claims);
	free(why);
	free(rest);
	return 0;
}
