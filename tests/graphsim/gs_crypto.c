/*
 * Cryptography graphsim needs to play Microsoft's part: the listener's
 * certificates, the identity platform's token-signing keys (JWKS, with
 * rotation), RS256 JWTs, and Graph's rich-notification encryption.
 */
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gs.h"

char *
gs_b64(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (!out)
		abort();
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

char *
gs_b64url(const unsigned char *in, size_t len)
{
	char *s = gs_b64(in, len);
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '=')
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return s;
}

unsigned char *
gs_b64_decode(const char *in, size_t *ret_len)
{
	size_t len = strlen(in);
	unsigned char *out;
	int n;

	if (len % 4 != 0)
		return NULL;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		abort();
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as data */
	if (len >= 1 && in[len - 1] == '=')
		n--;
	if (len >= 2 && in[len - 2] == '=')
		n--;
	*ret_len = (size_t)n;
	return out;
}

EVP_PKEY *
gs_rsa_generate(int bits)
{
	EVP_PKEY *k = EVP_RSA_gen((unsigned int)bits);

	if (!k)
		abort();
	return k;
}

static char *
pem_of(int (*write)(BIO *, const void *), const void *obj)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	write(bio, obj);
	len = BIO_get_mem_data(bio, &data);
	out = malloc((size_t)len + 1);
	if (!out)
		abort();
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	BIO_free(bio);
	return out;
}

static int
write_x509(BIO *b, const void *x)
{
	return PEM_write_bio_X509(b, (X509 *)x);
}

static int
write_key(BIO *b, const void *k)
{
	return PEM_write_bio_PrivateKey(b, (EVP_PKEY *)k, NULL, NULL, 0, NULL, NULL);
}

static void
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		abort();
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
}

static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, long days)
{
	X509 *c = X509_new();
	unsigned char serial[16];
	BIGNUM *bn;

	X509_set_version(c, 2);
	gs_random_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), days * 86400);
	X509_set_pubkey(c, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(c));
	add_ext(c, issuer ? issuer : c, NID_subject_key_identifier, "hash");
	return c;
}

static EVP_PKEY *
ec_generate(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (!k)
		abort();
	return k;
}

int
gs_tls_make(const char *host, char **ret_cert_pem, char **ret_key_pem, char **ret_ca_pem)
{
	EVP_PKEY *ca_key = ec_generate(), *key = ec_generate();
	X509 *ca = make_cert(ca_key, "graphsim test CA", NULL, 30);
	X509 *srv;
	char *san;

	add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign");
	X509_sign(ca, ca_key, EVP_sha256());

	srv = make_cert(key, host, ca, 30);
	san = gs_printf("DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
			strcmp(host, "localhost") && strcmp(host, "127.0.0.1") ? ",DNS:" : "",
			strcmp(host, "localhost") && strcmp(host, "127.0.0.1") ? host : "");
	add_ext(srv, ca, NID_subject_alt_name, san);
	add_ext(srv, ca, NID_basic_constraints, "critical,CA:FALSE");
	add_ext(srv, ca, NID_ext_key_usage, "serverAuth");
	add_ext(srv, ca, NID_authority_key_identifier, "keyid");
	X509_sign(srv, ca_key, EVP_sha256());
	free(san);

	*ret_cert_pem = pem_of(write_x509, srv);
	*ret_key_pem = pem_of(write_key, key);
	*ret_ca_pem = pem_of(write_x509, ca);
	X509_free(ca);
	X509_free(srv);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return 0;
}

/* ---- token-signing keys ---- */

struct sign_key {
	EVP_PKEY *key;
	char *kid;
	char *x5c; /* base64 DER of a self-signed certificate */
	char *n;
	char *e;
};

#define KEYS_KEPT 3

static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sign_key *keys[KEYS_KEPT]; /* keys[0] signs */
static struct sign_key *unpublished;

static char *
bn_b64url(EVP_PKEY *k, const char *param)
{
	BIGNUM *bn = NULL;
	unsigned char *buf;
	char *out;
	int len;

	EVP_PKEY_get_bn_param(k, param, &bn);
	len = BN_num_bytes(bn);
	buf = malloc((size_t)len);
	if (!buf)
		abort();
	BN_bn2bin(bn, buf);
	out = gs_b64url(buf, (size_t)len);
	free(buf);
	BN_free(bn);
	return out;
}

static struct sign_key *
sign_key_new(void)
{
	struct sign_key *sk = calloc(1, sizeof(*sk));
	X509 *c;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	int len;

	if (!sk)
		abort();
	sk->key = gs_rsa_generate(2048);
	c = make_cert(sk->key, "graphsim token signing", NULL, 365);
	X509_sign(c, sk->key, EVP_sha256());
	len = i2d_X509(c, &der);
	sk->x5c = gs_b64(der, (size_t)len);
	/* Microsoft's kid is the base64url SHA-1 thumbprint, like x5t */
	X509_digest(c, EVP_sha1(), md, &mdlen);
	sk->kid = gs_b64url(md, mdlen);
	sk->n = bn_b64url(sk->key, OSSL_PKEY_PARAM_RSA_N);
	sk->e = bn_b64url(sk->key, OSSL_PKEY_PARAM_RSA_E);
	OPENSSL_free(der);
	X509_free(c);
	return sk;
}

static void
sign_key_free(struct sign_key *sk)
{
	if (!sk)
		return;
	EVP_PKEY_free(sk->key);
	free(sk->kid);
	free(sk->x5c);
	free(sk->n);
	free(sk->e);
	free(sk);
}

int
gs_keys_init(void)
{
	keys[0] = sign_key_new();
	unpublished = sign_key_new();
	return 0;
}

int
gs_keys_rotate(void)
{
	struct sign_key *fresh = sign_key_new();

	pthread_mutex_lock(&keys_lock);
	sign_key_free(keys[KEYS_KEPT - 1]);
	memmove(&keys[1], &keys[0], (KEYS_KEPT - 1) * sizeof(keys[0]));
	keys[0] = fresh;
	pthread_mutex_unlock(&keys_lock);
	return 0;
}

json_t *
gs_keys_jwks(void)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&keys_lock);
	for (int i = 0; i < KEYS_KEPT; i++) {
		if (!keys[i])
			continue;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s]}", "kty",
						     "RSA", "use", "sig", "kid", keys[i]->kid,
						     "x5t", keys[i]->kid, "n", keys[i]->n, "e",
						     keys[i]->e, "x5c", keys[i]->x5c));
	}
	pthread_mutex_unlock(&keys_lock);
	return json_pack("{s:o}", "keys", arr);
}

static char *
jwt_sign_with(struct sign_key *sk, json_t *claims)
{
	json_t *hdr = json_pack("{s:s, s:s, s:s, s:s}", "typ", "JWT", "alg", "RS256", "kid",
				sk->kid, "x5t", sk->kid);
	char *h = json_dumps(hdr, JSON_COMPACT), *p = json_dumps(claims, JSON_COMPACT);
	char *hb = gs_b64url((unsigned char *)h, strlen(h));
	char *pb = gs_b64url((unsigned char *)p, strlen(p));
	char *input = gs_printf("%s.%s", hb, pb), *out, *sb;
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, sk->key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)input, strlen(input)) != 1)
		abort();
	sb = gs_b64url(sig, siglen);
	out = gs_printf("%s.%s", input, sb);
	EVP_MD_CTX_free(ctx);
	json_decref(hdr);
	free(h);
	free(p);
	free(hb);
	free(pb);
	free(input);
	free(sb);
	return out;
}

char *
gs_jwt_sign(json_t *claims)
{
	char *out;

	pthread_mutex_lock(&keys_lock);
	out = jwt_sign_with(keys[0], claims);
	pthread_mutex_unlock(&keys_lock);
	return out;
}

char *
gs_jwt_sign_unpublished(json_t *claims)
{
	return jwt_sign_with(unpublished, claims);
}

/* ---- subscription certificates and rich payloads ---- */

EVP_PKEY *
gs_cert_parse(const char *b64, char **ret_thumbprint, char **ret_err)
{
	size_t len;
	unsigned char *der = gs_b64_decode(b64, &len), md[EVP_MAX_MD_SIZE];
	const unsigned char *p = der;
	unsigned int mdlen;
	X509 *c;
	EVP_PKEY *key;
	char *hex;

	if (!der) {
		*ret_err = gs_strdup("encryptionCertificate is not valid base64");
		return NULL;
	}
	c = d2i_X509(NULL, &p, (long)len);
	free(der);
	if (!c) {
		*ret_err = gs_strdup("encryptionCertificate is not a DER X.509 certificate");
		return NULL;
	}
	key = X509_get_pubkey(c);
	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 2048 ||
	    EVP_PKEY_get_bits(key) > 4096) {
		*ret_err = gs_strdup("encryptionCertificate must carry an RSA key of 2048 to "
				     "4096 bits");
		EVP_PKEY_free(key);
		X509_free(c);
		return NULL;
	}
	X509_digest(c, EVP_sha1(), md, &mdlen);
	hex = malloc(2 * mdlen + 1);
	if (!hex)
		abort();
	for (unsigned int i = 0; i < mdlen; i++)
		sprintf(hex + 2 * i, "%02X", md[i]);
	*ret_thumbprint = hex;
	X509_free(c);
	return key;
}

json_t *
gs_encrypt_content(EVP_PKEY *pub, const char *cert_id, const char *thumb, const char *plaintext)
{
	unsigned char key[32], wrapped[512], mac[EVP_MAX_MD_SIZE];
	size_t wlen = sizeof(wrapped), plen = strlen(plaintext);
	unsigned char *ct = malloc(plen + 32);
	int len1 = 0, len2 = 0;
	unsigned int maclen;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(pub, NULL);
	EVP_CIPHER_CTX *cctx = EVP_CIPHER_CTX_new();
	json_t *out;
	char *data, *sig, *dkey;

	if (!ct)
		abort();
	gs_random_bytes(key, sizeof(key));
	/* OAEP with SHA-1 and MGF1-SHA-1, as Graph wraps the key */
	if (EVP_PKEY_encrypt_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha1()) != 1 ||
	    EVP_PKEY_encrypt(pctx, wrapped, &wlen, key, sizeof(key)) != 1)
		abort();
	if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key, key) != 1 ||
	    EVP_EncryptUpdate(cctx, ct, &len1, (const unsigned char *)plaintext, (int)plen) != 1 ||
	    EVP_EncryptFinal_ex(cctx, ct + len1, &len2) != 1)
		abort();
	HMAC(EVP_sha256(), key, sizeof(key), ct, (size_t)(len1 + len2), mac, &maclen);

	data = gs_b64(ct, (size_t)(len1 + len2));
	sig = gs_b64(mac, maclen);
	dkey = gs_b64(wrapped, wlen);
	out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "data", data, "dataSignature", sig, "dataKey",
			dkey, "encryptionCertificateId", cert_id, "encryptionCertificateThumbprint",
			thumb);
	OPENSSL_cleanse(key, sizeof(key));
	free(data);
	free(sig);
	free(dkey);
	free(ct);
	EVP_PKEY_CTX_free(pctx);
	EVP_CIPHER_CTX_free(cctx);
	return out;
}
