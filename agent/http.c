#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "http.h"
#include "log.h"
#include "util.h"

#define RESP_MAX (1024 * 1024)

static long connect_ms = 10000, total_ms = 30000;
static char *ca_file;

struct req {
	struct hc_resp resp;
	struct curl_slist *headers;
	char *form;    /* secret-bearing: wiped */
	char *token;   /* bearer: wiped */
	char *userpwd; /* basic: the password, wiped (libcurl's copy is its own) */
	char *body;
	hc_done done;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	bool too_big;
};

static char user_agent[96] = "ctteamsd/" CT_VERSION;

void
hc_configure(const struct conf *c)
{
	connect_ms = (long)(c->http_connect_timeout * 1000);
	total_ms = (long)(c->http_timeout * 1000);
	free(ca_file);
	ca_file = xstrdup(c->ca_file);
	/* which agent of a pair asked, for Microsoft's support and ours */
	if (c->agent_name)
		snprintf(user_agent, sizeof(user_agent), "ctteamsd/%s (%s)", CT_VERSION,
			 c->agent_name);
	else
		snprintf(user_agent, sizeof(user_agent), "ctteamsd/%s", CT_VERSION);
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct req *r = userp;
	size_t n = size * nmemb;

	if (r->resp.len + n > RESP_MAX) {
		r->too_big = true;
		return 0; /* aborts the transfer */
	}
	r->resp.body = xrealloc(r->resp.body, r->resp.len + n + 1);
	memcpy(r->resp.body + r->resp.len, data, n);
	r->resp.len += n;
	r->resp.body[r->resp.len] = '\0';
	return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct req *r = userp;
	size_t n = size * nmemb;

	if (n > 12 && !strncasecmp(data, "Retry-After:", 12)) {
		/* seconds; an HTTP date is not what Graph or Entra send */
		char *end;
		double v = strtod(data + 12, &end);
		if (end != data + 12 && v >= 0)
			r->resp.retry_after = v;
	}
	return n;
}

static void
finished(CURL *easy, CURLcode rc, void *arg)
{
	struct req *r = arg;
	char *ct = NULL;

	if (rc == CURLE_OK) {
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->resp.status);
		curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
		r->resp.content_type = xstrdup(ct);
	} else {
		r->resp.status = 0;
		r->resp.error = r->too_big     ? xstrdup("response larger than 1 MiB")
				: r->errbuf[0] ? xstrdup(r->errbuf)
					       : xstrdup(curl_easy_strerror(rc));
	}
	if (!r->resp.body)
		r->resp.body = xstrdup("");
	r->done(&r->resp, r->arg);
	curl_easy_cleanup(easy);
	curl_slist_free_all(r->headers);
	free_secret(r->form);
	free_secret(r->token);
	free_secret(r->userpwd);
	free(r->body);
	free(r->resp.body);
	free(r->resp.content_type);
	free(r->resp.error);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}

static CURL *
easy_new(const char *url, struct req *r)
{
	CURL *c = curl_easy_init();

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (ca_file) {
		/* ca_file adds anchors: the system store stays in use */
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
		curl_easy_setopt(c, CURLOPT_CAPATH, "/etc/ssl/certs");
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, user_agent);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
	return c;
}

static int
start(CURL *c, struct req *r)
{
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
	if (ev_curl_add(c, finished, r) < 0) {
		log_err("http", "cannot start a request");
		curl_easy_cleanup(c);
		curl_slist_free_all(r->headers);
		free_secret(r->form);
		free_secret(r->token);
		free_secret(r->userpwd);
		free(r->body);
		free(r);
		return -1;
	}
	return 0;
}

int
hc_post_form(const char *url, char *form, hc_done done, void *arg)
{
	struct req *r = xcalloc(1, sizeof(*r));
	CURL *c = easy_new(url, r);

	r->resp.retry_after = -1;
	r->done = done;
	r->arg = arg;
	r->form = form;
	r->headers = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	r->headers = curl_slist_append(r->headers, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->form);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(r->form));
	return start(c, r);
}

int
hc_graph(const char *method, const char *url, const char *token, const char *json_body,
	 hc_done done, void *arg)
{
	struct req *r = xcalloc(1, sizeof(*r));
	CURL *c = easy_new(url, r);

	r->resp.retry_after = -1;
	r->done = done;
	r->arg = arg;
	/* no token: a public document such as the JWKS */
	if (token) {
		r->token = xprintf("Authorization: Bearer %s", token);
		r->headers = curl_slist_append(NULL, r->token);
	}
	r->headers = curl_slist_append(r->headers, "Accept: application/json");
	/* messageType and other evolvable enums as they are (systemEventMessage),
	 * not folded into unknownFutureValue: every shape reaches the detector */
	r->headers = curl_slist_append(r->headers, "Prefer: include-unknown-enum-members");
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (json_body) {
		r->body = xstrdup(json_body);
		r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	}
	return start(c, r);
}

int
hc_post_json_basic(const char *url, const char *ca, const char *user, const char *password,
		   const char *json_body, hc_done done, void *arg)
{
	struct req *r = xcalloc(1, sizeof(*r));
	CURL *c = easy_new(url, r);

	r->resp.retry_after = -1;
	r->done = done;
	r->arg = arg;
	/* this receiver's CA alone: no public CA can speak for it */
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	/* apart, so a ':' in either is no separator */
	r->userpwd = xstrdup(password);
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(c, CURLOPT_USERNAME, user);
	curl_easy_setopt(c, CURLOPT_PASSWORD, r->userpwd);
	r->headers = curl_slist_append(NULL, "Accept: application/json");
	r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
	r->body = xstrdup(json_body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	return start(c, r);
}
