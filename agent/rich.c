#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jwks.h"
#include "nkey.h"
#include "rich.h"
#include "util.h"

#define SKEW 300.0

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The issuers a validationToken of this cloud may name, v1 and v2: the
 * v1 host is the cloud's secure token service, not its login host, and
 * the China cloud's v2 host is not its login host either (Microsoft Q&A
 * "token issuers for the sovereign clouds"; access-token claims reference).
 * token_issuers in the org's configuration replaces the table. */
static const struct {
	const char *authority;
	const char *v1;
	const char *v2;
} clouds[] = {
    {"https://login.microsoftonline.com", "https://sts.windows.net/{tenant}/",
     "https://login.microsoftonline.com/{tenant}/v2.0"},
    {"https://login.microsoftonline.us", "https://sts.windows.net/{tenant}/",
     "https://login.microsoftonline.us/{tenant}/v2.0"},
    {"https://login.chinacloudapi.cn", "https://sts.chinacloudapi.cn/{tenant}/",
     "https://login.partner.microsoftonline.cn/{tenant}/v2.0"},
    {"https://login.partner.microsoftonline.cn", "https://sts.chinacloudapi.cn/{tenant}/",
     "https://login.partner.microsoftonline.cn/{tenant}/v2.0"},
};

/* One template with {tenant} filled in, compared with iss. */
static bool
issuer_is(const char *tmpl, size_t len, const char *tid, const char *iss)
{
	const char *at = memmem(tmpl, len, "{tenant}", 8);
	char *want = at ? xprintf("%.*s%s%.*s", (int)(at - tmpl), tmpl, tid,
				  (int)(len - (size_t)(at - tmpl) - 8), at + 8)
			: xstrndup(tmpl, len);
	bool ok = !strcmp(want, iss);

	free(want);
	return ok;
}

bool
rich_issuer_ok(const struct conf_org *o, const char *iss, const char *tid, bool v1)
{
	const char *v1_tmpl = "https://sts.windows.net/{tenant}/";
	char *v2_tmpl;
	bool ok;

	if (!iss || !tid)
		return false;
	if (o->token_issuers) {
		for (const char *p = o->token_issuers; *p;) {
			size_t n = strcspn(p, " ");
			if (n && issuer_is(p, n, tid, iss))
				return true;
			p += n;
			p += strspn(p, " ");
		}
		return false;
	}
	v2_tmpl = xprintf("%s/{tenant}/v2.0", o->authority_host);
	for (size_t i = 0; i < sizeof(clouds) / sizeof(clouds[0]); i++) {
		if (!strcmp(o->authority_host, clouds[i].authority)) {
			v1_tmpl = clouds[i].v1;
			free(v2_tmpl);
			v2_tmpl = xstrdup(clouds[i].v2);
		}
	}
	ok = v1 ? issuer_is(v1_tmpl, strlen(v1_tmpl), tid, iss)
		: issuer_is(v2_tmpl, strlen(v2_tmpl), tid, iss);
	free(v2_tmpl);
	return ok;
}

/* The claims of one validationToken; NULL when they are right. Its expiry
 * is judged at `at`, when the notification was acknowledged, so a notice
 * that waited in the inbox through an outage is not thrown away. */
char *
rich_claims_wrong(const struct conf_org *o, json_t *c, const char *tenant, double at)
{
	json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
	const char *ver = str(c, "ver"), *tid = str(c, "tid"), *iss = str(c, "iss");
	bool v1 = ver && !strcmp(ver, "1.0");
	const char *caller = str(c, v1 ? "appid" : "azp");

	if (!json_is_number(exp) || json_number_value(exp) < at - SKEW)
		return xstrdup("rejected_token_expired");
	if (json_is_number(nbf) && json_number_value(nbf) > at + SKEW)
		return xstrdup("rejected_token_expired");
	if (!str(c, "aud") || strcmp(str(c, "aud"), o->client_id) != 0)
		return xstrdup("rejected_token_audience");
	if (!caller || strcmp(caller, GRAPH_CHANGE_TRACKING_APP) != 0)
		return xstrdup("rejected_token_caller");
	if (!tid || (tenant && strcasecmp(tid, tenant) != 0) ||
	    (strchr(o->tenant_id, '-') && strcasecmp(tid, o->tenant_id) != 0))
		return xstrdup("rejected_token_tenant");
	return rich_issuer_ok(o, iss, tid, v1) ? NULL : xstrdup("rejected_token_issuer");
}

static enum rich_result
tokens_check(const struct conf_org *o, json_t *item, double at, const char **ret_counter,
	     char **ret_why)
{
	json_t *tokens = json_object_get(item, "validationTokens"), *t;
	const char *tenant = str(item, "tenantId");
	size_t i;

	if (!json_is_array(tokens) || json_array_size(tokens) == 0) {
		*ret_counter = "rejected_token_missing";
		*ret_why = xstrdup("no validationTokens came with the rich notification");
		return RICH_REJECT;
	}
	json_array_foreach (tokens, i, t) {
		json_t *claims = NULL;
		char *why = NULL, *wrong;
		enum jwks_result v =
		    jwks_verify(o->authority_host, json_string_value(t), &claims, &why);

		if (v == JWKS_WAIT) {
			free(why);
			return RICH_WAIT;
		}
		if (v == JWKS_INVALID) {
			*ret_counter = "rejected_token_signature";
			*ret_why = why;
			return RICH_REJECT;
		}
		wrong = rich_claims_wrong(o, claims, tenant, at);
		json_decref(claims);
		if (wrong) {
			static const char *const names[] = {
			    "rejected_token_expired", "rejected_token_audience",
			    "rejected_token_caller", "rejected_token_tenant",
			    "rejected_token_issuer"};
			for (size_t k = 0; k < 5; k++)
				if (!strcmp(wrong, names[k]))
					*ret_counter = names[k];
			*ret_why = xprintf("a validationToken failed: %s", wrong + 9);
			free(wrong);
			return RICH_REJECT;
		}
	}
	return RICH_OK;
}

static unsigned char *
field(json_t *enc, const char *name, size_t *len)
{
	const char *v = str(enc, name);

	return v ? b64_decode(v, len) : NULL;
}

/* RSA-OAEP-SHA1 unwrap, HMAC-SHA256 check, AES-256-CBC with IV = key[0..16]. */
char *
rich_decrypt(json_t *enc, const char **ret_counter)
{
	EVP_PKEY *priv = nkey_find(str(enc, "encryptionCertificateId"));
	size_t dlen = 0, slen = 0, wlen = 0, klen = 512;
	unsigned char *data = field(enc, "data", &dlen), *sig = field(enc, "dataSignature", &slen);
	unsigned char *wrapped = field(enc, "dataKey", &wlen), key[512], mac[EVP_MAX_MD_SIZE];
	unsigned char *plain = NULL;
	unsigned int maclen = 0;
	int l1 = 0, l2 = 0;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	char *out = NULL;

	if (!priv) {
		*ret_counter = "rejected_certificate";
		goto done;
	}
	*ret_counter = "rejected_payload";
	if (!data || !sig || !wrapped)
		goto done;
	pctx = EVP_PKEY_CTX_new(priv, NULL);
	if (EVP_PKEY_decrypt_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha1()) != 1 ||
	    EVP_PKEY_decrypt(pctx, key, &klen, wrapped, wlen) != 1 || klen != 32)
		goto done;
	HMAC(EVP_sha256(), key, (int)klen, data, dlen, mac, &maclen);
	if (slen != maclen || CRYPTO_memcmp(mac, sig, maclen) != 0) {
		*ret_counter = "rejected_signature";
		goto done;
	}
	plain = xcalloc(dlen + 1, 1);
	cctx = EVP_CIPHER_CTX_new();
	if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key, key) != 1 ||
	    EVP_DecryptUpdate(cctx, plain, &l1, data, (int)dlen) != 1 ||
	    EVP_DecryptFinal_ex(cctx, plain + l1, &l2) != 1)
		goto done;
	out = xstrndup((char *)plain, (size_t)(l1 + l2));
	*ret_counter = NULL;
done:
	OPENSSL_cleanse(key, sizeof(key));
	EVP_PKEY_CTX_free(pctx);
	EVP_CIPHER_CTX_free(cctx);
	free(data);
	free(sig);
	free(wrapped);
	free(plain);
	return out;
}

enum rich_result
rich_open(const struct conf_org *o, json_t *item, double received, json_t **ret_message,
	  const char **ret_counter, char **ret_why)
{
	enum rich_result rc = tokens_check(o, item, received, ret_counter, ret_why);
	char *plain;
	json_t *msg;

	*ret_message = NULL;
	if (rc != RICH_OK)
		return rc;
	plain = rich_decrypt(json_object_get(item, "encryptedContent"), ret_counter);
	if (!plain) {
		*ret_why = xprintf("the encrypted payload did not open (%s)", *ret_counter + 9);
		return RICH_REJECT;
	}
	msg = json_loads(plain, 0, NULL);
	free(plain);
	if (!json_is_object(msg)) {
		json_decref(msg);
		*ret_counter = "rejected_payload";
		*ret_why = xstrdup("the decrypted payload is not a chatMessage");
		return RICH_REJECT;
	}
	*ret_message = msg;
	return RICH_OK;
}
