/*
 * A webhook receiver for tests: answers validation handshakes (correctly or,
 * on request, in the ways real receivers get wrong) and records every
 * notification POST. libmicrohttpd, one thread per connection, loopback.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "th.h"

struct th_hook {
	struct MHD_Daemon *d;
	int port;
	bool tls;
	char *cert;
	char *key;
	pthread_mutex_t lock;
	struct th_hook_cfg cfg;
	json_t *posts;       /* notifications */
	json_t *validations; /* {path: count} */
};

struct body {
	char *p;
	size_t n;
};

static void
nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (ms > 0 && nanosleep(&ts, &ts) != 0)
		;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, const char *ctype, const char *text)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_validation(struct th_hook *h, struct MHD_Connection *c, const char *url, const char *token)
{
	struct th_hook_cfg cfg;
	json_t *n;

	pthread_mutex_lock(&h->lock);
	cfg = h->cfg;
	n = json_object_get(h->validations, url);
	json_object_set_new(h->validations, url, json_integer(json_integer_value(n) + 1));
	pthread_mutex_unlock(&h->lock);
	nap(cfg.validation_delay_ms);
	switch (cfg.validation) {
	case TH_VALIDATE_ECHO:
		return reply(c, 200, "text/plain; charset=utf-8", token);
	case TH_VALIDATE_ECHO_RAW: {
		/* what a receiver that forgot to decode would send back */
		char *enc = th_urlenc(token);
		enum MHD_Result r = reply(c, 200, "text/plain", enc);
		free(enc);
		return r;
	}
	case TH_VALIDATE_FAIL:
		return reply(c, 500, "text/plain", "broken");
	case TH_VALIDATE_WRONG_TYPE:
		return reply(c, 200, "text/html", token);
	}
	return MHD_NO;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	   const char *version, const char *data, size_t *size, void **con_cls)
{
	struct th_hook *h = cls;
	struct body *b = *con_cls;
	const char *token;
	struct th_hook_cfg cfg;
	unsigned int status;
	bool fail = false;

	(void)version;
	if (!b) {
		b = calloc(1, sizeof(*b));
		*con_cls = b;
		return MHD_YES;
	}
	if (*size) {
		b->p = realloc(b->p, b->n + *size + 1);
		memcpy(b->p + b->n, data, *size);
		b->n += *size;
		b->p[b->n] = '\0';
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "POST") != 0)
		return reply(c, 405, "text/plain", "POST only");
	token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "validationToken");
	if (token)
		return on_validation(h, c, url, token);

	pthread_mutex_lock(&h->lock);
	cfg = h->cfg;
	if (h->cfg.notify_fail_first > 0) {
		h->cfg.notify_fail_first--;
		fail = true;
	}
	json_t *j = json_loadb(b->p ? b->p : "", b->n, 0, NULL);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	{
		const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
		json_array_append_new(
		    h->posts,
		    json_pack("{s:s, s:f, s:o, s:b, s:s, s:s}", "path", url, "time",
			      (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, "body",
			      j ? j : json_null(), "answered_error", fail, "authorization",
			      auth ? auth : "", "accept", accept ? accept : ""));
	}
	pthread_mutex_unlock(&h->lock);
	nap(cfg.notify_delay_ms);
	status = fail ? 503 : cfg.notify_status ? cfg.notify_status : 202;
	if (!fail && cfg.notify_body)
		return reply(c, status, "application/json", cfg.notify_body);
	return reply(c, status, "text/plain", "");
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct body *b = *con_cls;

	(void)cls;
	(void)c;
	(void)t;
	if (b) {
		free(b->p);
		free(b);
	}
	*con_cls = NULL;
}

struct th_hook *
th_hook_start(const char *cert_file, const char *key_file)
{
	struct th_hook *h = calloc(1, sizeof(*h));
	struct sockaddr_in sa = {0};
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
	const union MHD_DaemonInfo *di;

	if (!h)
		abort();
	pthread_mutex_init(&h->lock, NULL);
	h->posts = json_array();
	h->validations = json_object();
	if (cert_file) {
		h->cert = th_read_file(cert_file);
		h->key = th_read_file(key_file);
		h->tls = true;
		flags |= MHD_USE_TLS;
	}
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
				(struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
				MHD_OPTION_HTTPS_MEM_CERT, h->cert, MHD_OPTION_HTTPS_MEM_KEY,
				h->key, MHD_OPTION_END);
	if (!h->d) {
		th_hook_stop(h);
		return NULL;
	}
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di->port;
	return h;
}

void
th_hook_stop(struct th_hook *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	json_decref(h->posts);
	json_decref(h->validations);
	free(h->cert);
	free(h->key);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

char *
th_hook_url(struct th_hook *h, const char *path)
{
	char *u;

	if (asprintf(&u, "%s://127.0.0.1:%d%s", h->tls ? "https" : "http", h->port, path) < 0)
		abort();
	return u;
}

void
th_hook_configure(struct th_hook *h, const struct th_hook_cfg *cfg)
{
	pthread_mutex_lock(&h->lock);
	h->cfg = *cfg;
	pthread_mutex_unlock(&h->lock);
}

size_t
th_hook_validations(struct th_hook *h, const char *path)
{
	size_t n;

	pthread_mutex_lock(&h->lock);
	n = (size_t)json_integer_value(json_object_get(h->validations, path));
	pthread_mutex_unlock(&h->lock);
	return n;
}

json_t *
th_hook_posts(struct th_hook *h)
{
	json_t *copy;

	pthread_mutex_lock(&h->lock);
	copy = json_deep_copy(h->posts);
	pthread_mutex_unlock(&h->lock);
	return copy;
}

struct wait_arg {
	struct th_hook *h;
	const char *path;
	size_t n;
};

static bool
enough_posts(void *arg)
{
	struct wait_arg *w = arg;
	size_t count = 0, i;
	json_t *p;

	pthread_mutex_lock(&w->h->lock);
	json_array_foreach (w->h->posts, i, p) {
		if (!w->path || !strcmp(json_string_value(json_object_get(p, "path")), w->path))
			count++;
	}
	pthread_mutex_unlock(&w->h->lock);
	return count >= w->n;
}

bool
th_hook_wait(struct th_hook *h, const char *path, size_t n, double timeout)
{
	struct wait_arg w = {h, path, n};

	return th_wait_until(enough_posts, &w, timeout);
}

void
th_hook_clear(struct th_hook *h)
{
	pthread_mutex_lock(&h->lock);
	json_array_clear(h->posts);
	json_object_clear(h->validations);
	pthread_mutex_unlock(&h->lock);
}
