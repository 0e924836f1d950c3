/*
 * The listener: libmicrohttpd with a thread per connection (handshakes and
 * injected delays block a handler, never the server), the route table, the
 * request log tests assert on, and faults injected by path.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gs.h"

#define BODY_MAX (4u * 1024 * 1024)

static struct MHD_Daemon *daemon_;
static int bound_port;

/* ---- request log ---- */

struct reqlog {
	long seq;
	double time;
	char *method;
	char *path;
	unsigned int status;
	char *note;
	char *agent; /* the client's User-Agent: which of two agents asked */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gs_vec reqlogs;
static long reqlog_seq;

static void
reqlog_add(const char *method, const char *path, unsigned int status, const char *note,
	   const char *agent)
{
	struct reqlog *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->time = gs_now();
	r->method = gs_strdup(method);
	r->path = gs_strdup(path);
	r->status = status;
	r->note = gs_strdup(note);
	r->agent = gs_strdup(agent);
	pthread_mutex_lock(&log_lock);
	r->seq = ++reqlog_seq;
	gs_vec_push(&reqlogs, r);
	pthread_mutex_unlock(&log_lock);
}

json_t *
gs_requests_since(long seq)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&log_lock);
	for (size_t i = 0; i < reqlogs.n; i++) {
		struct reqlog *r = reqlogs.v[i];
		if (r->seq <= seq)
			continue;
		json_array_append_new(arr, json_pack("{s:I, s:f, s:s, s:s, s:i, s:o, s:s?}", "seq",
						     (json_int_t)r->seq, "time", r->time, "method",
						     r->method, "path", r->path, "status",
						     (int)r->status, "note",
						     r->note ? json_string(r->note) : json_null(),
						     "agent", r->agent));
	}
	pthread_mutex_unlock(&log_lock);
	return arr;
}

/* ---- injected faults ---- */

struct fault {
	char *path; /* prefix */
	char *method;
	long count;
	unsigned int status;
	long retry_after;
	long delay_ms;
	long delay_after_ms; /* the request is served, its answer held back */
	bool reset;
	char *body;
};

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gs_vec faults;

int
gs_fault_add(json_t *spec, char **ret_err)
{
	struct fault *f;
	const char *path = json_string_value(json_object_get(spec, "path"));
	json_int_t status = json_integer_value(json_object_get(spec, "status"));

	if (!path || path[0] != '/') {
		*ret_err = gs_strdup("path (a prefix starting with '/') is required");
		return -1;
	}
	if (status && (status < 100 || status > 599)) {
		*ret_err = gs_strdup("status must be an HTTP status code");
		return -1;
	}
	if (!status && !json_is_true(json_object_get(spec, "reset")) &&
	    !json_integer_value(json_object_get(spec, "delay_ms")) &&
	    !json_integer_value(json_object_get(spec, "delay_after_ms"))) {
		*ret_err = gs_strdup("a fault needs status, reset, delay_ms or delay_after_ms");
		return -1;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		abort();
	f->path = gs_strdup(path);
	f->method = gs_strdup(json_string_value(json_object_get(spec, "method")));
	f->count = json_integer_value(json_object_get(spec, "count"));
	if (f->count <= 0)
		f->count = 1;
	f->status = (unsigned int)status;
	f->retry_after = json_integer_value(json_object_get(spec, "retry_after"));
	f->delay_ms = json_integer_value(json_object_get(spec, "delay_ms"));
	f->delay_after_ms = json_integer_value(json_object_get(spec, "delay_after_ms"));
	f->reset = json_is_true(json_object_get(spec, "reset"));
	f->body = gs_strdup(json_string_value(json_object_get(spec, "body")));
	pthread_mutex_lock(&fault_lock);
	gs_vec_push(&faults, f);
	pthread_mutex_unlock(&fault_lock);
	return 0;
}

void
gs_faults_clear(void)
{
	pthread_mutex_lock(&fault_lock);
	for (size_t i = 0; i < faults.n; i++) {
		struct fault *f = faults.v[i];
		free(f->path);
		free(f->method);
		free(f->body);
		free(f);
	}
	faults.n = 0;
	pthread_mutex_unlock(&fault_lock);
}

/* Takes one use of the first matching fault into *ret (a copy). */
static bool
fault_take(const char *method, const char *path, struct fault *ret)
{
	bool hit = false;

	pthread_mutex_lock(&fault_lock);
	for (size_t i = 0; i < faults.n; i++) {
		struct fault *f = faults.v[i];
		if (strncmp(path, f->path, strlen(f->path)) != 0)
			continue;
		if (f->method && strcmp(f->method, method) != 0)
			continue;
		*ret = *f;
		ret->body = gs_strdup(f->body);
		hit = true;
		if (--f->count == 0) {
			free(f->path);
			free(f->method);
			free(f->body);
			free(f);
			gs_vec_remove_at(&faults, i);
		}
		break;
	}
	pthread_mutex_unlock(&fault_lock);
	return hit;
}

/* ---- request and response helpers ---- */

const char *
gs_req_arg(const struct gs_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
gs_req_header(const struct gs_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void
gs_resp_json(struct gs_resp *resp, unsigned int status, json_t *body)
{
	resp->status = status;
	resp->content_type = "application/json; charset=utf-8";
	free(resp->body);
	resp->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
}

void
gs_resp_text(struct gs_resp *resp, unsigned int status, const char *type, const char *text)
{
	resp->status = status;
	resp->content_type = type;
	free(resp->body);
	resp->body = gs_strdup(text);
}

void
gs_resp_graph_error(struct gs_resp *resp, unsigned int status, const char *code, const char *fmt,
		    ...)
{
	va_list ap;
	char *msg, *date, reqid[37], cid[37];

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	gs_uuid(reqid);
	gs_uuid(cid);
	date = gs_time_iso(gs_now(), 0);
	gs_resp_json(resp, status,
		     json_pack("{s:{s:s, s:s, s:{s:s, s:s, s:s}}}", "error", "code", code,
			       "message", msg, "innerError", "date", date, "request-id", reqid,
			       "client-request-id", cid));
	free(resp->note);
	resp->note = gs_strdup(code);
	free(msg);
	free(date);
}

json_t *
gs_req_json(const struct gs_req *req, struct gs_resp *resp)
{
	json_error_t jerr;
	json_t *j;
	const char *ct = gs_req_header(req, "Content-Type");

	if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
		gs_resp_graph_error(resp, 415, "UnsupportedMediaType",
				    "Content-Type must be application/json");
		return NULL;
	}
	j = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
	if (!j || !json_is_object(j)) {
		gs_resp_graph_error(resp, 400, "BadRequest", "Invalid JSON body: %s",
				    j ? "not an object" : jerr.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- routing ---- */

typedef void (*handler_fn)(struct gs_req *, struct gs_resp *);

struct route {
	const char *method;
	const char *pattern; /* '*' matches one segment and is captured */
	handler_fn fn;
};

static const struct route routes[] = {
    {"GET", "/*/oauth2/v2.0/authorize", gs_identity_authorize},
    {"POST", "/*/oauth2/v2.0/token", gs_identity_token},
    {"GET", "/*/discovery/v2.0/keys", gs_identity_jwks},
    {"GET", "/*/discovery/keys", gs_identity_jwks},
    {"GET", "/*/v2.0/.well-known/openid-configuration", gs_identity_openid},
    {"GET", "/v1.0/me", gs_graph_me},
    {"GET", "/v1.0/users/*", gs_graph_user},
    {"GET", "/v1.0/me/chats", gs_graph_chats},
    {"GET", "/v1.0/users/*/chats", gs_graph_chats},
    {"GET", "/v1.0/chats/*/messages", gs_graph_messages},
    {"POST", "/v1.0/chats/*/messages", gs_graph_send_message},
    {"GET", "/v1.0/me/chats/*/messages", gs_graph_messages},
    {"GET", "/v1.0/users/*/chats/*/messages", gs_graph_messages},
    {"GET", "/v1.0/chats/*/messages/*", gs_graph_message},
    {"GET", "/v1.0/me/chats/*/messages/*", gs_graph_message},
    {"GET", "/v1.0/users/*/chats/*/messages/*", gs_graph_message},
    {"POST", "/v1.0/subscriptions", gs_subs_create},
    {"GET", "/v1.0/subscriptions", gs_subs_list},
    {"GET", "/v1.0/subscriptions/*", gs_subs_get},
    {"PATCH", "/v1.0/subscriptions/*", gs_subs_patch},
    {"DELETE", "/v1.0/subscriptions/*", gs_subs_delete},
    {"POST", "/v1.0/subscriptions/*/reauthorize", gs_subs_reauthorize},
};

/* Returns 1 on a match, 2 when the path matches but the method does not. */
static int
route_match(const struct route *r, struct gs_req *req)
{
	const char *p = r->pattern, *s = req->path;
	int np = 0;

	while (*p && *s) {
		if (*p == '*') {
			const char *end = strchr(s, '/');
			size_t len = end ? (size_t)(end - s) : strlen(s);
			if (len == 0 || np >= 4)
				return 0;
			req->params[np++] = strndup(s, len);
			s += len;
			p++;
		} else if (*p == *s) {
			p++;
			s++;
		} else {
			break;
		}
	}
	if (*p || *s) {
		for (int i = 0; i < np; i++) {
			free(req->params[i]);
			req->params[i] = NULL;
		}
		return 0;
	}
	return strcmp(r->method, req->method) == 0 ? 1 : 2;
}

static void
dispatch(struct gs_req *req, struct gs_resp *resp)
{
	bool wrong_method = false;

	if (!strncmp(req->path, "/_sim/", 6)) {
		gs_control(req, resp);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		int m = route_match(&routes[i], req);
		if (m == 1) {
			routes[i].fn(req, resp);
			return;
		}
		if (m == 2) {
			wrong_method = true;
			for (int k = 0; k < 4; k++) {
				free(req->params[k]);
				req->params[k] = NULL;
			}
		}
	}
	if (wrong_method)
		gs_resp_graph_error(resp, 405, "Request_BadRequest",
				    "The HTTP method '%s' is not allowed for this resource",
				    req->method);
	else
		gs_resp_graph_error(resp, 404, "UnknownError",
				    "No HTTP resource was found that matches the request URI");
}

/* ---- libmicrohttpd glue ---- */

struct conn_state {
	char *body;
	size_t len;
	bool too_big;
};

static enum MHD_Result
queue(struct MHD_Connection *conn, struct gs_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *body = resp->body ? resp->body : "";

	r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp->content_type)
		MHD_add_response_header(r, "Content-Type", resp->content_type);
	if (resp->location)
		MHD_add_response_header(r, "Location", resp->location);
	if (resp->retry_after)
		MHD_add_response_header(r, "Retry-After", resp->retry_after);
	if (resp->www_authenticate)
		MHD_add_response_header(r, "WWW-Authenticate", resp->www_authenticate);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void
resp_clear(struct gs_resp *resp)
{
	free(resp->body);
	free(resp->location);
	free(resp->retry_after);
	free(resp->www_authenticate);
	free(resp->note);
}

static const char *
peer_of(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	buf[0] = '\0';
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
			  (socklen_t)len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			  (socklen_t)len);
	return buf;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A fault for the request: true when it answers in the request's place;
 * *ret_after: how long to hold back the answer of a request served. */
static bool
apply_fault(struct MHD_Connection *conn, const char *method, const char *url, struct gs_resp *resp,
	    long *ret_after)
{
	struct fault f;

	*ret_after = 0;
	if (!strncmp(url, "/_sim/", 6) || !fault_take(method, url, &f))
		return false;
	*ret_after = f.delay_after_ms;
	if (f.delay_ms > 0)
		sleep_ms(f.delay_ms);
	if (f.reset) {
		resp->reset = true;
	} else if (f.status) {
		const char *code = f.status == 429   ? "TooManyRequests"
				   : f.status == 503 ? "ServiceUnavailable"
				   : f.status == 504 ? "GatewayTimeout"
						     : "InjectedFault";
		if (f.body)
			gs_resp_text(resp, f.status, "text/html", f.body);
		else if (strstr(url, "/oauth2/"))
			/* the identity platform's shape for a transient failure */
			gs_resp_json(resp, f.status,
				     json_pack("{s:s, s:s, s:[i]}", "error",
					       "temporarily_unavailable", "error_description",
					       "AADSTS90033: A transient error has occurred. "
					       "Please try again.",
					       "error_codes", 90033));
		else
			gs_resp_graph_error(resp, f.status, code, "Injected fault");
		if (f.retry_after > 0)
			resp->retry_after = gs_printf("%ld", f.retry_after);
		free(resp->note);
		resp->note = gs_strdup("fault");
	}
	free(f.body);
	(void)conn;
	/* a delay alone lets the request through */
	return f.reset || f.status;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct conn_state *cs = *con_cls;
	struct gs_resp resp = {0};
	struct gs_req req = {0};
	char peer[64];
	long after = 0;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			abort();
		*con_cls = cs;
		return MHD_YES;
	}
	if (*upload_size) {
		if (cs->len + *upload_size > BODY_MAX) {
			cs->too_big = true;
		} else {
			cs->body = realloc(cs->body, cs->len + *upload_size + 1);
			if (!cs->body)
				abort();
			memcpy(cs->body + cs->len, upload_data, *upload_size);
			cs->len += *upload_size;
			cs->body[cs->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}

	if (cs->too_big) {
		gs_resp_graph_error(&resp, 413, "RequestEntityTooLarge", "Request body too large");
	} else if (!apply_fault(conn, method, url, &resp, &after)) {
		req.conn = conn;
		req.method = method;
		req.path = url;
		req.body = cs->body;
		req.body_len = cs->len;
		req.peer = peer_of(conn, peer, sizeof(peer));
		dispatch(&req, &resp);
		for (int i = 0; i < 4; i++)
			free(req.params[i]);
		/* done, and the answer late: what it started (a subscription's
		 * notifications) may reach the client before the answer does */
		if (after > 0)
			sleep_ms(after);
	}
	if (strncmp(url, "/_sim/", 6) != 0)
		reqlog_add(method, url, resp.reset ? 0 : resp.status, resp.note,
			   MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent"));
	gs_log(1, "%s %s -> %u%s%s", method, url, resp.status, resp.note ? " " : "",
	       resp.note ? resp.note : "");
	if (resp.reset) {
		resp_clear(&resp);
		return MHD_NO; /* MHD closes the connection without an answer */
	}
	ret = queue(conn, &resp);
	resp_clear(&resp);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (cs) {
		free(cs->body);
		free(cs);
		*con_cls = NULL;
	}
}

int
gs_http_start(const char *cert_pem, const char *key_pem)
{
	struct sockaddr_storage ss = {0};
	unsigned int flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;

	if (strchr(gs_cfg.listen_addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)gs_cfg.port);
		if (inet_pton(AF_INET6, gs_cfg.listen_addr, &s6->sin6_addr) != 1)
			goto bad_addr;
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)gs_cfg.port);
		if (inet_pton(AF_INET, gs_cfg.listen_addr, &s4->sin_addr) != 1)
			goto bad_addr;
	}
	if (gs_cfg.tls)
		flags |= MHD_USE_TLS;
	daemon_ = MHD_start_daemon(
	    flags, (uint16_t)gs_cfg.port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_HTTPS_MEM_CERT,
	    gs_cfg.tls ? cert_pem : NULL, MHD_OPTION_HTTPS_MEM_KEY, gs_cfg.tls ? key_pem : NULL,
	    MHD_OPTION_END);
	if (!daemon_) {
		fprintf(stderr, "graphsim: cannot listen on %s port %d\n", gs_cfg.listen_addr,
			gs_cfg.port);
		return -1;
	}
	di = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
	bound_port = di ? di->port : gs_cfg.port;
	return 0;
bad_addr:
	fprintf(stderr, "graphsim: --listen: not an IP address: %s\n", gs_cfg.listen_addr);
	return -1;
}

void
gs_http_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
}

int
gs_http_port(void)
{
	return bound_port;
}

char *
gs_base_url(void)
{
	const char *h = gs_cfg.public_host;

	return gs_printf("%s://%s%s%s:%d", gs_cfg.tls ? "https" : "http", strchr(h, ':') ? "[" : "",
			 h, strchr(h, ':') ? "]" : "", bound_port);
}
