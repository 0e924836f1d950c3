/* A small blocking HTTP client for tests (libcurl), verifying TLS for real. */
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "th.h"

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct th_resp *r = userp;
	size_t n = size * nmemb;

	r->body = realloc(r->body, r->len + n + 1);
	if (!r->body)
		abort();
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct th_resp *r = userp;
	size_t n = size * nmemb;
	static const struct {
		const char *name;
		size_t off;
	} wanted[] = {
	    {"location:", offsetof(struct th_resp, location)},
	    {"retry-after:", offsetof(struct th_resp, retry_after)},
	    {"www-authenticate:", offsetof(struct th_resp, www_authenticate)},
	};

	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		size_t k = strlen(wanted[i].name);
		if (n > k && !strncasecmp(data, wanted[i].name, k)) {
			const char *v = data + k;
			size_t len = n - k;
			while (len && isspace((unsigned char)*v)) {
				v++;
				len--;
			}
			while (len && isspace((unsigned char)v[len - 1]))
				len--;
			char **slot = (char **)((char *)r + wanted[i].off);
			free(*slot);
			*slot = strndup(v, len);
		}
	}
	return n;
}

/* Options every request shares; the caller adds its own and performs. */
static CURL *
easy_new(const char *url, const char *ca, struct th_resp *ret)
{
	CURL *c = curl_easy_init();

	memset(ret, 0, sizeof(*ret));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, ret);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, ret);
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	return c;
}

static int
perform(CURL *c, struct th_resp *ret)
{
	char err[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	char *ct = NULL;

	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	rc = curl_easy_perform(c);
	/* kept for the test to say why, when a failed request is its failure
	 * (a wait for a daemon to answer fails many times on purpose) */
	if (rc != CURLE_OK)
		ret->error = strdup(*err ? err : curl_easy_strerror(rc));
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		ret->content_type = ct ? strdup(ct) : NULL;
	}
	if (!ret->body)
		ret->body = strdup("");
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

int
th_http(const char *method, const char *url, const char *ca, const char *const *headers,
	const char *body, struct th_resp *ret)
{
	CURL *c = easy_new(url, ca, ret);
	struct curl_slist *h = NULL;
	bool expect = false;
	int rc;

	for (; headers && *headers; headers++) {
		h = curl_slist_append(h, *headers);
		expect |= !strncasecmp(*headers, "Expect:", 7);
	}
	/* no 100-continue round trip unless the test asks for one */
	if (!expect)
		h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	/* a HEAD answer has no body, whatever its Content-Length says */
	curl_easy_setopt(c, CURLOPT_NOBODY, (long)!strcmp(method, "HEAD"));
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = perform(c, ret);
	curl_slist_free_all(h);
	return rc;
}

int
th_browse(const char *url, const char *ca, struct th_resp *ret)
{
	CURL *c = easy_new(url, ca, ret);

	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	return perform(c, ret);
}

void
th_resp_free(struct th_resp *r)
{
	free(r->body);
	free(r->location);
	free(r->retry_after);
	free(r->content_type);
	free(r->www_authenticate);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

json_t *
th_resp_json(const struct th_resp *r)
{
	return json_loadb(r->body ? r->body : "", r->len, 0, NULL);
}

char *
th_urlenc(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *out = strdup(e);

	curl_free(e);
	return out;
}

char *
th_url_param(const char *url, const char *name)
{
	const char *q = url ? strchr(url, '?') : NULL;
	size_t n = strlen(name);

	while (q) {
		q++;
		if (!strncmp(q, name, n) && q[n] == '=') {
			const char *v = q + n + 1, *end = strchr(v, '&');
			int outlen;
			char *d = curl_easy_unescape(NULL, v, end ? (int)(end - v) : 0, &outlen);
			char *out = strndup(d, (size_t)outlen);
			curl_free(d);
			return out;
		}
		q = strchr(q, '&');
	}
	return NULL;
}

int
th_graph_send(struct th_graphsim *gs, const char *method, const char *token, const char *path,
	      json_t *body, struct th_resp *ret)
{
	char *url, *auth = NULL, *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	const char *hdrs[3] = {NULL, NULL, NULL};
	int n = 0, rc;

	if (asprintf(&url, "%s%s", gs->base, path) < 0)
		abort();
	if (token) {
		if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
			abort();
		hdrs[n++] = auth;
	}
	if (body)
		hdrs[n++] = "Content-Type: application/json";
	rc = th_http(method, url, gs->ca, hdrs, text, ret);
	json_decref(body);
	free(text);
	free(url);
	free(auth);
	return rc;
}

int
th_graph_get(struct th_graphsim *gs, const char *token, const char *path, struct th_resp *ret)
{
	return th_graph_send(gs, "GET", token, path, NULL, ret);
}

static char *
b64url(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	size_t n;

	if (!out)
		abort();
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	n = strlen(out);
	while (n && out[n - 1] == '=')
		out[--n] = '\0';
	for (char *p = out; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return out;
}

void
th_pkce(char **ret_verifier, char **ret_challenge)
{
	unsigned char raw[32], h[SHA256_DIGEST_LENGTH];

	RAND_bytes(raw, sizeof(raw));
	*ret_verifier = b64url(raw, sizeof(raw));
	SHA256((unsigned char *)*ret_verifier, strlen(*ret_verifier), h);
	*ret_challenge = b64url(h, sizeof(h));
}
