#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "nkey.h"
#include "util.h"

struct nkey {
	char *id; /* ctteams-YYYYMMDDhhmmss-RANDOM: sorts by age */
	double created;
	EVP_PKEY *key;
	char *cert_b64;
};

static struct nkey *keys;
static size_t n_keys;
static char *dir;
static double period;
static char *rotate_error; /* the last rotation failure, until one works */

static char *
path_for(const char *id, const char *ext)
{
	return xprintf("%s/notify-%s.%s", dir, id, ext);
}

static char *
cert_b64(X509 *c)
{
	unsigned char *der = NULL;
	int len = i2d_X509(c, &der);
	char *out = xcalloc(4 * ((size_t)len + 2) / 3 + 4, 1);

	EVP_EncodeBlock((unsigned char *)out, der, len);
	OPENSSL_free(der);
	return out;
}

static int
load(const char *id)
{
	char *kp = path_for(id, "key"), *cp = path_for(id, "crt");
	FILE *kf = fopen(kp, "r"), *cf = fopen(cp, "r");
	EVP_PKEY *k = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
	X509 *c = cf ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL;
	struct stat st;
	int rc = -1;

	if (k && c && stat(kp, &st) == 0) {
		keys = xrealloc(keys, (n_keys + 1) * sizeof(*keys));
		keys[n_keys].id = xstrdup(id);
		keys[n_keys].created = (double)st.st_mtime;
		keys[n_keys].key = k;
		keys[n_keys].cert_b64 = cert_b64(c);
		n_keys++;
		k = NULL;
		rc = 0;
	} else {
		log_warnx("nkey", "%s: not a usable key and certificate pair; ignored", kp);
	}
	EVP_PKEY_free(k);
	X509_free(c);
	if (kf)
		fclose(kf);
	if (cf)
		fclose(cf);
	free(kp);
	free(cp);
	return rc;
}

static int
make(char **ret_err)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	X509 *c = X509_new();
	char stamp[32], *rnd = random_id(6), *id, *kp, *cp;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	int fd, rc = -1;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	id = xprintf("ctteams-%s-%s", stamp, rnd);
	kp = path_for(id, "key");
	cp = path_for(id, "crt");
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), (long)now);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), (long)(3 * period + 86400));
	X509_set_pubkey(c, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
				   (const unsigned char *)"ctteams change notifications", -1, -1,
				   0);
	X509_set_issuer_name(c, X509_get_subject_name(c));
	X509_sign(c, k, EVP_sha256());
	fd = open(kp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0) {
		*ret_err = xprintf("cannot write %s: %s", kp, strerror(errno));
		goto out;
	}
	f = fopen(cp, "w");
	if (!f || !PEM_write_X509(f, c) || fclose(f) != 0) {
		*ret_err = xprintf("cannot write %s: %s", cp, strerror(errno));
		goto out;
	}
	rc = load(id);
	if (rc == 0)
		log_info("nkey", "new encryption certificate %s for rich notifications", id);
out:
	EVP_PKEY_free(k);
	X509_free(c);
	free(rnd);
	free(id);
	free(kp);
	free(cp);
	return rc;
}

static int
by_id(const void *a, const void *b)
{
	return strcmp(((const struct nkey *)a)->id, ((const struct nkey *)b)->id);
}

int
nkey_init(const char *state_dir, double rotation, char **ret_err)
{
	DIR *d;
	struct dirent *e;

	dir = xstrdup(state_dir);
	period = rotation;
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n > 11 && !strncmp(e->d_name, "notify-", 7) &&
		    !strcmp(e->d_name + n - 4, ".key")) {
			char *id = xstrndup(e->d_name + 7, n - 11);
			load(id);
			free(id);
		}
	}
	if (d)
		closedir(d);
	if (n_keys > 1)
		qsort(keys, n_keys, sizeof(*keys), by_id);
	if (n_keys == 0 && make(ret_err) < 0)
		return -1;
	nkey_rotate_if_due();
	return 0;
}

int
nkey_rotate_if_due(void)
{
	double now = now_wall();
	char *err = NULL;
	int made = 0;

	if (n_keys && now - keys[n_keys - 1].created >= period) {
		if (make(&err) == 0) {
			made = 1;
			free(rotate_error);
			rotate_error = NULL;
		} else {
			/* said once per change; the alarm carries it meanwhile */
			if (!rotate_error || strcmp(rotate_error, err) != 0)
				log_err("nkey", "cannot rotate the encryption certificate: %s",
					err);
			free(rotate_error);
			rotate_error = err;
		}
	}
	/* retire keys no payload can still be wrapped with */
	while (n_keys > 1 && now - keys[0].created >= 2 * period) {
		char *kp = path_for(keys[0].id, "key"), *cp = path_for(keys[0].id, "crt");
		log_info("nkey", "retiring encryption certificate %s", keys[0].id);
		unlink(kp);
		unlink(cp);
		free(kp);
		free(cp);
		EVP_PKEY_free(keys[0].key);
		free(keys[0].id);
		free(keys[0].cert_b64);
		memmove(&keys[0], &keys[1], (n_keys - 1) * sizeof(*keys));
		n_keys--;
	}
	return made;
}

char *
nkey_problem(void)
{
	double age = n_keys ? now_wall() - keys[n_keys - 1].created : 0;

	if (rotate_error)
		return xprintf("the encryption certificate cannot be rotated: %s", rotate_error);
	/* valid for three periods and a day: past two, rotation is long overdue */
	if (n_keys && age > 2 * period)
		return xprintf("the encryption certificate %s is %.0f day(s) old and was not "
			       "rotated; it expires in %.0f day(s)",
			       keys[n_keys - 1].id, age / 86400,
			       (3 * period + 86400 - age) / 86400);
	return NULL;
}

json_t *
nkey_status(void)
{
	const struct nkey *k = n_keys ? &keys[n_keys - 1] : NULL;
	/* made valid for three periods and a day (make_pair) */
	double expires = k ? k->created + 3 * period + 86400 : 0;

	if (!k)
		return json_null();
	return json_pack("{s:s, s:o, s:o, s:I, s:o}", "id", k->id, "created", json_time(k->created),
			 "expires", json_time(expires), "days_left",
			 (json_int_t)floor((expires - now_wall()) / 86400), "last_error",
			 rotate_error ? json_string(rotate_error) : json_null());
}

const char *
nkey_current_id(void)
{
	return n_keys ? keys[n_keys - 1].id : NULL;
}

const char *
nkey_current_cert(void)
{
	return n_keys ? keys[n_keys - 1].cert_b64 : NULL;
}

EVP_PKEY *
nkey_find(const char *id)
{
	for (size_t i = 0; id && i < n_keys; i++)
		if (!strcmp(keys[i].id, id))
			return keys[i].key;
	return NULL;
}

void
nkey_shutdown(void)
{
	for (size_t i = 0; i < n_keys; i++) {
		EVP_PKEY_free(keys[i].key);
		free(keys[i].id);
		free(keys[i].cert_b64);
	}
	free(keys);
	keys = NULL;
	n_keys = 0;
	free(dir);
	dir = NULL;
	free(rotate_error);
	rotate_error = NULL;
}
