/*
 * Graph's cryptography as Microsoft documents it, written for the tests and
 * independent of graphsim: decrypting rich notifications and verifying
 * validationTokens. A misreading in graphsim's encryptor then shows up here.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th.h"

static unsigned char *
b64dec(const char *in, bool url, size_t *ret_len)
{
	size_t len = strlen(in), padded = (len + 3) / 4 * 4;
	char *buf = calloc(padded + 1, 1);
	unsigned char *out = malloc(padded / 4 * 3 + 1);
	int n;

	if (!buf || !out)
		abort();
	memcpy(buf, in, len);
	for (size_t i = 0; url && i < len; i++)
		buf[i] = buf[i] == '-' ? '+' : buf[i] == '_' ? '/' : buf[i];
	for (size_t i = len; i < padded; i++)
		buf[i] = '=';
	n = EVP_DecodeBlock(out, (unsigned char *)buf, (int)padded);
	if (n < 0) {
		free(buf);
		free(out);
		return NULL;
	}
	for (size_t i = padded; i > 0 && buf[i - 1] == '='; i--)
		n--;
	free(buf);
	*ret_len = (size_t)n;
	return out;
}

static X509 *
selfsigned(EVP_PKEY *key, const char *cn, bool ca)
{
	X509 *c = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), (long)(th_now() * 1000) & 0x7fffffff);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400 * 7);
	X509_set_pubkey(c, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c, X509_get_subject_name(c));
	X509V3_set_ctx(&ctx, c, c, NULL, NULL, 0);
	if (ca) {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
					  "IP:127.0.0.1,DNS:localhost");
		X509_add_ext(c, ext, -1);
		X509_EXTENSION_free(ext);
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(c, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(c, key, EVP_sha256());
	return c;
}

EVP_PKEY *
th_rsa_cert(int bits, char **ret_cert_b64)
{
	EVP_PKEY *k = EVP_RSA_gen((unsigned int)bits);
	X509 *c = selfsigned(k, "ctteams test subscription", false);
	unsigned char *der = NULL;
	int len = i2d_X509(c, &der);
	char *b64 = malloc(4 * ((size_t)len + 2) / 3 + 4);

	if (!b64)
		abort();
	EVP_EncodeBlock((unsigned char *)b64, der, len);
	*ret_cert_b64 = b64;
	OPENSSL_free(der);
	X509_free(c);
	return k;
}

int
th_selfsigned(const char *dir, char **ret_cert_file, char **ret_key_file)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *c = selfsigned(k, "127.0.0.1", true);
	FILE *f;

	if (asprintf(ret_cert_file, "%s/hook-cert.pem", dir) < 0 ||
	    asprintf(ret_key_file, "%s/hook-key.pem", dir) < 0)
		abort();
	f = fopen(*ret_cert_file, "w");
	PEM_write_X509(f, c);
	fclose(f);
	f = fopen(*ret_key_file, "w");
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(c);
	EVP_PKEY_free(k);
	return 0;
}

char *
th_rich_decrypt(EVP_PKEY *priv, json_t *enc, char **ret_err)
{
	const char *data_s = json_string_value(json_object_get(enc, "data"));
	const char *sig_s = json_string_value(json_object_get(enc, "dataSignature"));
	const char *key_s = json_string_value(json_object_get(enc, "dataKey"));
	unsigned char *data = NULL, *sig = NULL, *wrapped = NULL, key[512], mac[EVP_MAX_MD_SIZE];
	unsigned char *plain = NULL;
	size_t dlen, slen, wlen, klen = sizeof(key);
	unsigned int maclen;
	int l1 = 0, l2 = 0;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	char *out = NULL;

	*ret_err = NULL;
	if (!data_s || !sig_s || !key_s || !(data = b64dec(data_s, false, &dlen)) ||
	    !(sig = b64dec(sig_s, false, &slen)) || !(wrapped = b64dec(key_s, false, &wlen))) {
		*ret_err = strdup("encryptedContent lacks data, dataSignature or dataKey");
		goto out;
	}
	/* 1. unwrap the symmetric key: RSA-OAEP with SHA-1 */
	pctx = EVP_PKEY_CTX_new(priv, NULL);
	if (EVP_PKEY_decrypt_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha1()) != 1 ||
	    EVP_PKEY_decrypt(pctx, key, &klen, wrapped, wlen) != 1 || klen != 32) {
		*ret_err = strdup("dataKey does not unwrap with our private key");
		goto out;
	}
	/* 2. the HMAC over the ciphertext, compared in constant time */
	HMAC(EVP_sha256(), key, (int)klen, data, dlen, mac, &maclen);
	if (slen != maclen || CRYPTO_memcmp(mac, sig, maclen) != 0) {
		*ret_err = strdup("dataSignature does not match: payload tampered with");
		goto out;
	}
	/* 3. AES-256-CBC, PKCS7, IV = first 16 key bytes */
	plain = malloc(dlen + 1);
	cctx = EVP_CIPHER_CTX_new();
	if (!plain || EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key, key) != 1 ||
	    EVP_DecryptUpdate(cctx, plain, &l1, data, (int)dlen) != 1 ||
	    EVP_DecryptFinal_ex(cctx, plain + l1, &l2) != 1) {
		*ret_err = strdup("data does not decrypt");
		goto out;
	}
	out = strndup((char *)plain, (size_t)(l1 + l2));
out:
	OPENSSL_cleanse(key, sizeof(key));
	EVP_PKEY_CTX_free(pctx);
	EVP_CIPHER_CTX_free(cctx);
	free(data);
	free(sig);
	free(wrapped);
	free(plain);
	return out;
}

static EVP_PKEY *
jwk_key(json_t *jwk)
{
	size_t nlen, elen;
	unsigned char *n = b64dec(json_string_value(json_object_get(jwk, "n")), true, &nlen);
	unsigned char *e = b64dec(json_string_value(json_object_get(jwk, "e")), true, &elen);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *key = NULL;

	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be);
	params = OSSL_PARAM_BLD_to_param(bld);
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
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
seg_json(const char *s, size_t len)
{
	char *copy = strndup(s, len);
	size_t n;
	unsigned char *raw = b64dec(copy, true, &n);
	json_t *j = raw ? json_loadb((char *)raw, n, 0, NULL) : NULL;

	free(copy);
	free(raw);
	return j;
}

json_t *
th_jwt_claims_unverified(const char *jwt)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;

	return d2 ? seg_json(d1 + 1, (size_t)(d2 - d1 - 1)) : NULL;
}

int
th_jwt_verify(const char *jwt, json_t *jwks, json_t **ret_claims, char **ret_err)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	json_t *hdr = NULL, *k;
	const char *kid;
	unsigned char *sig = NULL;
	size_t slen, i;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	int rc = -1;

	*ret_claims = NULL;
	*ret_err = NULL;
	if (!d2 || !(hdr = seg_json(jwt, (size_t)(d1 - jwt)))) {
		*ret_err = strdup("not a JWT");
		goto out;
	}
	const char *alg = json_string_value(json_object_get(hdr, "alg"));
	if (!alg || strcmp(alg, "RS256") != 0) {
		*ret_err = strdup("alg is not RS256");
		goto out;
	}
	kid = json_string_value(json_object_get(hdr, "kid"));
	json_array_foreach (json_object_get(jwks, "keys"), i, k) {
		const char *k_kid = json_string_value(json_object_get(k, "kid"));
		if (kid && k_kid && !strcmp(k_kid, kid))
			key = jwk_key(k);
	}
	if (!key) {
		*ret_err = strdup("kid not in the JWKS");
		goto out;
	}
	sig = b64dec(d2 + 1, true, &slen);
	md = EVP_MD_CTX_new();
	if (!sig || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestVerify(md, sig, slen, (const unsigned char *)jwt, (size_t)(d2 - jwt)) != 1) {
		*ret_err = strdup("signature does not verify");
		goto out;
	}
	*ret_claims = seg_json(d1 + 1, (size_t)(d2 - d1 - 1));
	rc = *ret_claims ? 0 : -1;
	if (rc)
		*ret_err = strdup("claims are not JSON");
out:
	json_decref(hdr);
	free(sig);
	EVP_PKEY_free(key);
	EVP_MD_CTX_free(md);
	return rc;
}
