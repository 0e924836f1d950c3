#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "auth.h"
#include "cidr.h"
#include "event.h"
#include "log.h"
#include "org.h"
#include "server.h"
#include "util.h"
#include "webhook.h"

/* Graph's URLs and ours carry a handful; the sign-in callback a few */
#define MAX_ARGS 32

/* TLS 1.2 and 1.3 only; in 1.2, ECDHE key exchange (forward secrecy) and
 * AEAD ciphers only: no RSA key transport, no CBC, no SHA-1 MACs */
#define TLS_PRIORITIES                                                                             \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"              \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD"

struct srv_req {
	struct MHD_Connection *conn;
	char *body;
	size_t len;
	size_t reserved; /* of the global body budget */
	bool too_big;
	bool routed;
	bool answered;
	bool want_suspend;
	bool suspended;
	const char *allow;
	unsigned int status;
	char *content_type;
	char *text;
	char *location;
	char peer[64];
	char org[80]; /* from the path, checked before the body is read */
	char action[32];
	struct srv_req *prev, *next; /* while suspended */
};

static struct MHD_Daemon *daemon_;
static const struct conf *cfg;
static long max_body;
static int n_suspended;
static struct srv_req *suspended; /* answered or not, all resumed before a stop */
static bool stopping;             /* srv_stop: nothing new is taken up */
static char *cert_pem, *key_pem;

const char *
srv_arg(struct srv_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
srv_header(struct srv_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
srv_body(struct srv_req *r, size_t *ret_len)
{
	*ret_len = r->len;
	return r->body ? r->body : "";
}

const char *
srv_peer(struct srv_req *r)
{
	return r->peer;
}

static void
answer(struct srv_req *r, unsigned int status, const char *ctype, char *text, char *location)
{
	if (r->answered) {
		free(text);
		free(location);
		return;
	}
	r->answered = true;
	r->status = status;
	r->content_type = xstrdup(ctype);
	r->text = text;
	r->location = location;
	if (r->suspended) {
		r->suspended = false;
		n_suspended--;
		if (r->prev)
			r->prev->next = r->next;
		else
			suspended = r->next;
		if (r->next)
			r->next->prev = r->prev;
		MHD_resume_connection(r->conn);
		ev_http_kick();
	}
}

void
srv_page(struct srv_req *r, unsigned int status, const char *title, const char *message)
{
	char *t = html_escape(title), *m = html_escape(message);

	answer(r, status, "text/html; charset=utf-8",
	       xprintf("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ctteams: %s"
		       "</title></head>\n<body><h1>%s</h1>\n<p>%s</p></body></html>\n",
		       t, t, m),
	       NULL);
	free(t);
	free(m);
}

void
srv_text(struct srv_req *r, unsigned int status, const char *ctype, const char *text)
{
	answer(r, status, ctype, xstrdup(text), NULL);
}

void
srv_redirect(struct srv_req *r, const char *location)
{
	answer(r, 302, "text/plain; charset=utf-8", xstrdup("Redirecting to sign-in\n"),
	       xstrdup(location));
}

void
srv_suspend(struct srv_req *r)
{
	r->want_suspend = true;
}

int
srv_busy(void)
{
	long n = adm_in_flight();

	/* a request whose body is still arriving is in flight too: a stop
	 * lets it finish, within the drain's limit */
	return n > n_suspended ? (int)n : n_suspended;
}

/* The path: /api/org/ORG/ms-teams/ACTION, for an org we serve. */
static struct org *
resolve(struct srv_req *r, const char *url)
{
	int n = 0;

	if (sscanf(url, "/api/org/%79[A-Za-z0-9_-]/ms-teams/%31[a-z]%n", r->org, r->action, &n) !=
		2 ||
	    url[n] != '\0')
		return NULL;
	return org_find(r->org);
}

static bool
is_webhook(const struct srv_req *r)
{
	return !strcmp(r->action, "notify") || !strcmp(r->action, "lifecycle");
}

static bool
is_signin(const struct srv_req *r)
{
	return !strcmp(r->action, "login") || !strcmp(r->action, "callback");
}

/* Behind a trusted proxy the client comes from X-Forwarded-For. */
static const char *
client_of(struct srv_req *r, char *buf, size_t len)
{
	return cidr_client(&cfg->trust_proxy, r->peer, srv_header(r, "X-Forwarded-For"), buf, len);
}

/* Decided from the request line and header alone, before a byte of body
 * is read or buffered: malformed framing, unknown paths, wrong methods,
 * sources that may not call, bodies that are too large. */
static void
early(struct srv_req *r, const char *method, const char *url, const char *version)
{
	const char *cl = srv_header(r, "Content-Length");
	struct org *o = resolve(r, url);
	char client[128];

	if (!strcmp(version, MHD_HTTP_VERSION_1_1) && !srv_header(r, "Host")) {
		srv_text(r, 400, "text/plain", "HTTP/1.1 needs a Host header\n");
	} else if (cl && srv_header(r, "Transfer-Encoding")) {
		/* RFC 9112 6.3: a request smuggling risk behind a proxy */
		srv_text(r, 400, "text/plain",
			 "Content-Length and Transfer-Encoding together are refused\n");
	} else if (MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) >
		   MAX_ARGS) {
		srv_page(r, 400, "Bad request", "Too many query parameters.");
	} else if (cl && strtoull(cl, NULL, 10) > (unsigned long long)cfg->max_body) {
		srv_page(r, 413, "Too large", "The request body is too large.");
	} else if (!o || (!is_webhook(r) && !is_signin(r))) {
		srv_page(r, 404, "Not found", "There is nothing here.");
	} else if (is_webhook(r) && strcmp(method, "POST") != 0) {
		r->allow = "POST";
		srv_page(r, 405, "Method not allowed", "Use POST.");
	} else if (is_webhook(r)) {
		wh_check_source(r, o);
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		srv_page(r, 405, "Method not allowed", "Use GET.");
	} else if (!cidr_match(&cfg->signin_from, client_of(r, client, sizeof(client)))) {
		log_warn_limited("auth", "signin-from", 60,
				 "org %s: sign-in page refused to %s (not in signin_from)", r->org,
				 client);
		srv_page(r, 403, "Not allowed from here",
			 "Sign-in is allowed from the addresses in signin_from only.");
	} else if (!strcmp(method, "HEAD")) {
		/* link checkers and proxies send HEAD: it must not spend a
		 * one-time link or a sign-in state */
		srv_page(r, 200, "ctteams sign-in", "Open this link in a browser.");
	}
}

/* The whole request is in: hand it to its owner. */
static void
route(struct srv_req *r)
{
	struct org *o = org_find(r->org);

	if (!o)
		srv_page(r, 404, "Not found", "There is nothing here.");
	else if (r->too_big)
		srv_page(r, 413, "Too large", "The request body is too large.");
	else if (!strcmp(r->action, "notify"))
		wh_notify(r, o);
	else if (!strcmp(r->action, "lifecycle"))
		wh_lifecycle(r, o);
	else if (!strcmp(r->action, "login"))
		auth_login(r, o);
	else
		auth_callback(r, o);
}

static enum MHD_Result
queue(struct srv_req *r)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(r->text), r->text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(resp, "Content-Type", r->content_type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Content-Security-Policy", "default-src 'none'");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	if (r->location)
		MHD_add_response_header(resp, "Location", r->location);
	if (r->status == 405)
		MHD_add_response_header(resp, "Allow", r->allow ? r->allow : "GET");
	ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
peer_of(struct srv_req *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->peer,
			  sizeof(r->peer));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->peer,
			  sizeof(r->peer));
}

/* A piece of body: buffered within max_body and the global budget. */
static enum MHD_Result
body_part(struct srv_req *r, const char *data, size_t size)
{
	if (r->answered || r->too_big)
		return MHD_YES; /* read and dropped */
	if (r->len + size > (size_t)max_body) {
		r->too_big = true;
		return MHD_YES;
	}
	if (!adm_body_reserve(size, r->len + size))
		return MHD_NO; /* no memory for it: close, the sender retries */
	r->reserved += size;
	r->body = xrealloc(r->body, r->len + size + 1);
	memcpy(r->body + r->len, data, size);
	r->len += size;
	r->body[r->len] = '\0';
	return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *data, size_t *size, void **con_cls)
{
	struct srv_req *r = *con_cls;
	size_t n = *size;

	(void)cls;
	if (!r) {
		/* the header is complete: decide what can be decided now */
		r = xcalloc(1, sizeof(*r));
		r->conn = conn;
		peer_of(r);
		*con_cls = r;
		adm_headers_done(conn);
		early(r, method, url, version);
		if (r->answered) {
			log_debug("http", "%s %s from %s: %u before the body", method, url, r->peer,
				  r->status);
			return queue(r);
		}
		return MHD_YES;
	}
	if (n) {
		*size = 0;
		return body_part(r, data, n);
	}
	if (!r->routed) {
		r->routed = true;
		adm_body_done(conn);
		if (stopping)
			srv_text(r, 503, "text/plain", "ctteamsd is stopping; try again\n");
		else
			route(r);
		log_debug("http", "%s %s from %s", method, url, r->peer);
	}
	if (r->answered)
		return queue(r);
	if (r->want_suspend && !r->suspended) {
		r->suspended = true;
		n_suspended++;
		r->prev = NULL;
		r->next = suspended;
		if (suspended)
			suspended->prev = r;
		suspended = r;
		MHD_suspend_connection(conn);
	}
	return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct srv_req *r = *con_cls;

	(void)cls;
	(void)toe;
	if (!r)
		return;
	adm_body_release(r->reserved);
	adm_request_done(conn);
	free(r->body);
	free(r->content_type);
	free(r->text);
	free(r->location);
	free(r);
	*con_cls = NULL;
}

static void __attribute__((format(printf, 2, 0))) mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* what libmicrohttpd says, an outsider can make it say as often as it
	 * likes (16,000 lines a second from one address over its limit):
	 * once a minute for each kind of message, with how many were held, so
	 * an emergency's line is never lost in journald's rate limit */
	log_warn_limited("http", fmt, 60, "%s", msg);
}

int
srv_start(const struct conf *c, char **ret_err)
{
	struct sockaddr_storage ss;
	bool v6;
	long hard_limit = c->max_connections + c->max_connections / 2 + 1;
	unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	cfg = c;
	max_body = c->max_body;
	stopping = false;
	adm_configure(c);
	if (sockaddr_of(c->listen_addr, c->listen_port, &ss, &v6) < 0)
		goto bad_addr;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (c->tls_cert) {
		cert_pem = file_read(c->tls_cert, 1 << 20);
		key_pem = file_read(c->tls_key, 1 << 20);
		if (!cert_pem || !key_pem) {
			*ret_err = xprintf("cannot read tls_cert %s or tls_key %s", c->tls_cert,
					   c->tls_key);
			return -1;
		}
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem opts[] = {
	    /* the logger first, so MHD's own start-up messages use it too */
	    {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
	    {MHD_OPTION_SOCK_ADDR, 0, &ss},
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
	    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)adm_notify, NULL},
	    /* admit.c keeps max_connections open; the headroom lets it
	     * accept while those it closed to make room are still going */
	    {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)hard_limit, NULL},
	    /* one address cannot take every slot; behind a proxy every
	     * connection comes from it, so no per-address limit there */
	    {c->trust_proxy.n == 0 && c->max_per_address > 0 ? MHD_OPTION_PER_IP_CONNECTION_LIMIT
							     : MHD_OPTION_CONNECTION_LIMIT,
	     c->trust_proxy.n == 0 && c->max_per_address > 0 ? (intptr_t)c->max_per_address
							     : (intptr_t)hard_limit,
	     NULL},
	    /* idle timeout; admit.c holds the real deadlines */
	    {MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL},
	    /* the per-connection pool bounds the request line and headers
	     * (early() refuses more than 32 query parameters; headers past
	     * the pool get libmicrohttpd's own 414 or 431, and parameters
	     * that fill it a closed connection).
	     * libmicrohttpd zeroes the pool for every request, so it is kept
	     * at its default size: at 128 KiB the zeroing was an eighth of
	     * the loop's time under load */
	    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32 * 1024, NULL},
	    {c->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert_pem},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, key_pem},
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES},
	    {MHD_OPTION_END, 0, NULL},
	};
	daemon_ = MHD_start_daemon(flags, (uint16_t)c->listen_port, adm_accept, NULL, on_request,
				   NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!daemon_) {
		*ret_err = xprintf("cannot listen on %s port %d", c->listen_addr, c->listen_port);
		return -1;
	}
	ev_http_attach(daemon_, (unsigned int)hard_limit);
	ev_http_on_batch(wh_flush);
	log_info("http", "listening on %s port %d (%s)", c->listen_addr, c->listen_port,
		 c->tls_cert ? "TLS 1.2+" : "plain HTTP behind a TLS proxy");
	return 0;
bad_addr:
	*ret_err = xprintf("listen: not an IP address: %s", c->listen_addr);
	return -1;
}

/* Deadlines, budgets and address lists; the connection limits and the
 * listen address take a restart. */
void
srv_reload(const struct conf *c)
{
	cfg = c;
	max_body = c->max_body;
	adm_configure(c);
}

void
srv_quiesce(void)
{
	ev_http_quiesce();
}

void
srv_stop(void)
{
	/* what the last runs took in is committed and answered, so no
	 * connection is left suspended when the daemon stops */
	stopping = true;
	/* what has arrived is read, answered (503, or 202 if held before)
	 * and sent: a few runs, nothing waited for */
	for (int i = 0; daemon_ && i < 16 && (n_suspended || adm_in_flight()); i++) {
		wh_finish();
		MHD_run(daemon_);
	}
	/* still waiting (a sign-in's token request, say): libmicrohttpd
	 * must not stop with a connection suspended */
	while (suspended)
		srv_text(suspended, 503, "text/plain", "ctteamsd is stopping; try again\n");
	if (daemon_)
		MHD_run(daemon_);
	ev_http_on_batch(NULL);
	ev_http_detach();
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
	adm_shutdown();
	free_secret(key_pem);
	free(cert_pem);
	key_pem = cert_pem = NULL;
}
