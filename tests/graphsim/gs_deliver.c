/*
 * Graph's side of change notifications: the validation handshake, the queue
 * of notifications with Graph's delivery rules (2xx within 3 s, retries with
 * exponential backoff and a 10 s limit over a 4 h window, batching, nothing
 * after expiry, slow and drop throttling of tardy endpoints), rich payloads
 * with validationTokens, lifecycle events, and the faults tests inject
 * (skipped deliveries, tampered payloads, forged tokens).
 *
 * Lock order: the store lock may be held when the queue lock is taken,
 * never the other way round.
 */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs.h"

#define WORKERS  4
#define RESP_MAX (64 * 1024)

struct pending {
	char *url;
	bool lifecycle;
	char sub_id[37];
	json_t *item;
	char *app_id;
	char *tenant;
	bool rich;
	int attempt;
	double due;
	double first;
	bool held; /* made in a token pause: waits for a reauthorization */
};

struct endpoint {
	char *url;
	double window_start;
	long total, slow, very_slow;
	int state; /* 0 normal, 1 slow, 2 drop */
	double until;
};

struct dfault {
	char *kind; /* skip, tamper, token */
	char *what;
	long count;
};

struct dlog {
	long seq;
	double time;
	char *url;
	char *kind;
	long items;
	int attempt;
	long status;
	double latency_ms;
	char *outcome;
	json_t *subs;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct gs_vec queue, endpoints, dfaults, dlogs;
static long dlog_seq;
static bool running;
static pthread_t workers[WORKERS], scheduler;
static long n_delivered, n_failed, n_dropped_expired, n_dropped_window, n_dropped_throttle,
    n_skipped, n_paused;

static void
count(long *counter, long n)
{
	pthread_mutex_lock(&q_lock);
	*counter += n;
	pthread_mutex_unlock(&q_lock);
}

/* ---- outbound HTTP ---- */

struct buf {
	char *p;
	size_t n;
};

static size_t
on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct buf *b = userp;
	size_t len = size * nmemb;

	if (b->n + len > RESP_MAX)
		return 0;
	b->p = realloc(b->p, b->n + len + 1);
	if (!b->p)
		abort();
	memcpy(b->p + b->n, data, len);
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

/* POST; returns the HTTP status or 0 on a transport failure or timeout. */
static long
http_post(const char *url, const char *ctype, const char *body, double timeout,
	  struct buf *ret_body, char **ret_ctype, double *ret_latency, char **ret_err)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char *h = gs_printf("Content-Type: %s", ctype), errbuf[CURL_ERROR_SIZE] = "";
	double t0 = gs_now();
	long status = 0;
	CURLcode rc;

	hdrs = curl_slist_append(hdrs, h);
	hdrs = curl_slist_append(hdrs, "Expect:");
	free(h);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout * 1000));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "graphsim (Microsoft-Graph-Change-Tracking)");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, ret_body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (gs_cfg.notify_ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, gs_cfg.notify_ca);
	rc = curl_easy_perform(c);
	*ret_latency = gs_now() - t0;
	if (rc == CURLE_OK) {
		char *ct = NULL;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		if (ret_ctype)
			*ret_ctype = gs_strdup(ct);
	} else if (ret_err) {
		*ret_err = gs_strdup(*errbuf ? errbuf : curl_easy_strerror(rc));
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return status;
}

static void
dlog_add(const char *url, const char *kind, long items, int attempt, long status, double latency,
	 const char *outcome, json_t *subs)
{
	struct dlog *d = calloc(1, sizeof(*d));

	if (!d)
		abort();
	d->time = gs_now();
	d->url = gs_strdup(url);
	d->kind = gs_strdup(kind);
	d->items = items;
	d->attempt = attempt;
	d->status = status;
	d->latency_ms = latency * 1000;
	d->outcome = gs_strdup(outcome);
	d->subs = subs ? subs : json_array();
	pthread_mutex_lock(&q_lock);
	d->seq = ++dlog_seq;
	gs_vec_push(&dlogs, d);
	pthread_mutex_unlock(&q_lock);
	gs_log(1, "%s to %s: %s (attempt %d, status %ld, %.0f ms)", kind, url, outcome, attempt,
	       status, latency * 1000);
}

json_t *
gs_deliveries_since(long seq)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&q_lock);
	for (size_t i = 0; i < dlogs.n; i++) {
		struct dlog *d = dlogs.v[i];
		if (d->seq <= seq)
			continue;
		json_array_append_new(
		    arr, json_pack("{s:I, s:f, s:s, s:s, s:I, s:i, s:I, s:f, s:s, s:O}", "seq",
				   (json_int_t)d->seq, "time", d->time, "url", d->url, "kind",
				   d->kind, "items", (json_int_t)d->items, "attempt", d->attempt,
				   "status", (json_int_t)d->status, "latency_ms", d->latency_ms,
				   "outcome", d->outcome, "subscriptions", d->subs));
	}
	pthread_mutex_unlock(&q_lock);
	return arr;
}

/* ---- validation handshake ---- */

char *
gs_handshake(const char *url, const char *which)
{
	char reqid[37], *token, *enc, *full, *ctype = NULL, *err = NULL, *why = NULL;
	struct buf body = {0};
	double latency;
	long status;

	gs_uuid(reqid);
	/* Real tokens are opaque and may read like a sentence; spaces and
	 * colons make sure the receiver URL-decodes before echoing. */
	token = gs_printf("Validation: Testing client application reachability for "
			  "subscription Request-Id: %s",
			  reqid);
	enc = gs_url_encode(token);
	full = gs_printf("%s%svalidationToken=%s", url, strchr(url, '?') ? "&" : "?", enc);
	status = http_post(full, "text/plain; charset=utf-8", "", gs_cfg.handshake_timeout, &body,
			   &ctype, &latency, &err);
	if (status == 0)
		why = gs_printf("Subscription validation request failed for %s: %s", which,
				latency >= gs_cfg.handshake_timeout
				    ? "Subscription validation request timed out."
				    : err);
	else if (status != 200)
		why = gs_printf("Subscription validation request failed. Notification endpoint "
				"must respond with 200 OK to validation request (%s answered "
				"%ld).",
				which, status);
	else if (!ctype || strncasecmp(ctype, "text/plain", 10) != 0)
		why = gs_printf("Subscription validation request failed. The %s response must "
				"be text/plain, not %s.",
				which, ctype ? ctype : "(none)");
	else if (!body.p || strcmp(body.p, token) != 0)
		why = gs_printf("Subscription validation request failed. The %s response body "
				"must be the decoded validationToken.",
				which);
	dlog_add(url, "validation", 0, 0, status, latency, why ? "failed" : "validated", NULL);
	free(token);
	free(enc);
	free(full);
	free(ctype);
	free(err);
	free(body.p);
	return why;
}

/* ---- injected delivery faults ---- */

int
gs_delivery_fault_add(json_t *spec, char **ret_err)
{
	const char *kind = json_string_value(json_object_get(spec, "kind"));
	const char *what = json_string_value(json_object_get(spec, "what"));
	long count = (long)json_integer_value(json_object_get(spec, "count"));
	static const char *const tamper[] = {"data", "signature", "key", "certificate_id", NULL};
	static const char *const token[] = {"signature", "aud",    "azp",     "expired",
					    "tenant",    "issuer", "missing", NULL};
	const char *const *allowed = NULL;
	struct dfault *f;

	if (!kind || (strcmp(kind, "skip") && strcmp(kind, "tamper") && strcmp(kind, "token"))) {
		*ret_err = gs_strdup("kind must be skip, tamper or token");
		return -1;
	}
	allowed = !strcmp(kind, "tamper") ? tamper : !strcmp(kind, "token") ? token : NULL;
	if (allowed) {
		bool ok = false;
		for (const char *const *a = allowed; *a && what; a++)
			ok |= !strcmp(*a, what);
		if (!ok) {
			*ret_err =
			    gs_printf("what: not a %s fault: %s", kind, what ? what : "(none)");
			return -1;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		abort();
	f->kind = gs_strdup(kind);
	f->what = gs_strdup(what);
	f->count = count > 0 ? count : 1;
	pthread_mutex_lock(&q_lock);
	gs_vec_push(&dfaults, f);
	pthread_mutex_unlock(&q_lock);
	return 0;
}

void
gs_delivery_faults_clear(void)
{
	pthread_mutex_lock(&q_lock);
	for (size_t i = 0; i < dfaults.n; i++) {
		struct dfault *f = dfaults.v[i];
		free(f->kind);
		free(f->what);
		free(f);
	}
	dfaults.n = 0;
	pthread_mutex_unlock(&q_lock);
}

/* Takes one use of a fault of this kind; returns its "what" (free it). */
static char *
dfault_take(const char *kind, bool *ret_hit)
{
	char *what = NULL;

	*ret_hit = false;
	pthread_mutex_lock(&q_lock);
	for (size_t i = 0; i < dfaults.n; i++) {
		struct dfault *f = dfaults.v[i];
		if (strcmp(f->kind, kind) != 0)
			continue;
		*ret_hit = true;
		what = gs_strdup(f->what);
		if (--f->count == 0) {
			free(f->kind);
			free(f->what);
			free(f);
			gs_vec_remove_at(&dfaults, i);
		}
		break;
	}
	pthread_mutex_unlock(&q_lock);
	return what;
}

static void
tamper(json_t *enc, const char *what)
{
	const char *field = !strcmp(what, "data")        ? "data"
			    : !strcmp(what, "signature") ? "dataSignature"
			    : !strcmp(what, "key")       ? "dataKey"
							 : "encryptionCertificateId";
	char *v = gs_strdup(json_string_value(json_object_get(enc, field)));

	if (!strcmp(field, "encryptionCertificateId")) {
		json_object_set_new(enc, field, json_string("not-a-certificate-we-issued"));
	} else if (v && strlen(v) > 8) {
		/* flip one base64 character in the middle: still decodes */
		size_t i = strlen(v) / 2;
		v[i] = v[i] == 'A' ? 'B' : 'A';
		json_object_set_new(enc, field, json_string(v));
	}
	free(v);
}

/* ---- queueing ---- */

static struct endpoint *
endpoint_get(const char *url)
{
	struct endpoint *e;

	for (size_t i = 0; i < endpoints.n; i++)
		if (!strcmp(((struct endpoint *)endpoints.v[i])->url, url))
			return endpoints.v[i];
	e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	e->url = gs_strdup(url);
	e->window_start = gs_now();
	gs_vec_push(&endpoints, e);
	return e;
}

static void
enqueue(struct pending *p)
{
	struct endpoint *e;
	double now = gs_now();

	pthread_mutex_lock(&q_lock);
	e = endpoint_get(p->url);
	if (e->state && now >= e->until)
		e->state = 0;
	if (e->state == 2) {
		pthread_mutex_unlock(&q_lock);
		count(&n_dropped_throttle, 1);
		dlog_add(p->url, p->lifecycle ? "lifecycle" : "notification", 1, 0, 0, 0,
			 "dropped-throttle", json_pack("[s]", p->sub_id));
		json_decref(p->item);
		free(p->url);
		free(p->app_id);
		free(p->tenant);
		free(p);
		return;
	}
	p->first = now;
	p->due = p->held ? INFINITY
			 : now + gs_cfg.batch_window + (e->state == 1 ? gs_cfg.throttle_delay : 0);
	gs_vec_push(&queue, p);
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

static bool
sub_covers(const struct gs_sub *s, const struct gs_message *m, const char *change_type)
{
	struct gs_user *u;

	if (!strstr(s->change_type, change_type))
		return false;
	if (s->kind == GS_SUB_CHAT)
		return !strcmp(s->target, m->chat->id);
	u = gs_user_find(NULL, s->target);
	return u && gs_chat_has_member(m->chat, u);
}

/*
 * Change-notifications lifecycle events
 * (learn.microsoft.com/graph/change-notifications-lifecycle-events): a
 * subscription runs on the access token it was created, renewed or
 * reauthorized with. reauthorizationRequired comes before that token
 * expires; once it has, delivery pauses until the app reauthorizes or
 * renews with a valid token, and changes made meanwhile are not delivered.
 * Applied to subscriptions with a lifecycleNotificationUrl, which are the
 * ones Graph can warn.
 */
bool
gs_sub_paused(const struct gs_sub *s, double now)
{
	return gs_cfg.token_clock && s->lifecycle_url && s->token_expires > 0 &&
	       now >= s->token_expires;
}

int
gs_notify_message(struct gs_message *m, const char *change_type)
{
	int queued = 0;

	for (size_t i = 0; i < gs_subs()->n; i++) {
		struct gs_sub *s = gs_subs()->v[i];
		char nid[37], *res, *exp;
		struct pending *p;
		bool hit, paused;

		if (!gs_sub_find(s->id) || !sub_covers(s, m, change_type))
			continue;
		paused = gs_sub_paused(s, gs_now());
		if (paused) {
			count(&n_paused, 1);
			dlog_add(s->notification_url, "notification", 1, 0, 0, 0,
				 gs_cfg.hold_paused ? "held" : "paused", json_pack("[s]", s->id));
			if (!gs_cfg.hold_paused)
				continue;
		}
		free(dfault_take("skip", &hit));
		if (hit) {
			/* Graph sometimes never delivers; nothing says so */
			count(&n_skipped, 1);
			dlog_add(s->notification_url, "notification", 1, 0, 0, 0, "skipped",
				 json_pack("[s]", s->id));
			continue;
		}
		gs_uuid(nid);
		res = gs_printf("chats('%s')/messages('%s')", m->chat->id, m->id);
		exp = gs_time_iso(s->expires, 7);
		p = calloc(1, sizeof(*p));
		if (!p)
			abort();
		p->item = json_pack(
		    "{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:{s:s, s:s, s:s}, s:n}", "id", nid,
		    "subscriptionId", s->id, "subscriptionExpirationDateTime", exp, "changeType",
		    change_type, "clientState",
		    s->client_state ? json_string(s->client_state) : json_null(), "tenantId",
		    s->user->tenant, "resource", res, "resourceData", "id", m->id, "@odata.type",
		    "#Microsoft.Graph.chatMessage", "@odata.id", res, "encryptedContent");
		if (s->rich) {
			/* The payload is the chatMessage as a read returns it:
			 * evolvable enum members past the sentinel
			 * (systemEventMessage) read unknownFutureValue unless the
			 * subscription opted in with "Prefer:
			 * include-unknown-enum-members" where the chat message
			 * notifications page documents it (a chat's messages) */
			json_t *rendered = gs_message_render(m, s->unknown_enums);
			char *plain = json_dumps(rendered, JSON_COMPACT), *what;
			json_decref(rendered);
			json_t *enc =
			    gs_encrypt_content(s->cert_key, s->cert_id, s->cert_thumb, plain);
			what = dfault_take("tamper", &hit);
			if (hit)
				tamper(enc, what);
			free(what);
			json_object_set_new(p->item, "encryptedContent", enc);
			free(plain);
		}
		p->url = gs_strdup(s->notification_url);
		memcpy(p->sub_id, s->id, sizeof(p->sub_id));
		p->app_id = gs_strdup(s->app->client_id);
		p->tenant = gs_strdup(s->user->tenant);
		p->rich = s->rich;
		p->held = paused;
		free(res);
		free(exp);
		enqueue(p);
		queued++;
	}
	return queued;
}

void
gs_notify_lifecycle(struct gs_sub *s, const char *event)
{
	struct pending *p;
	char *exp;

	if (!s->lifecycle_url) {
		dlog_add(s->notification_url, "lifecycle", 1, 0, 0, 0, "no-lifecycle-url",
			 json_pack("[s]", s->id));
		return;
	}
	exp = gs_time_iso(s->expires, 7);
	p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->item = json_pack(
	    "{s:s, s:s, s:s, s:o, s:s}", "subscriptionId", s->id, "subscriptionExpirationDateTime",
	    exp, "tenantId", s->user->tenant, "clientState",
	    s->client_state ? json_string(s->client_state) : json_null(), "lifecycleEvent", event);
	p->url = gs_strdup(s->lifecycle_url);
	p->lifecycle = true;
	memcpy(p->sub_id, s->id, sizeof(p->sub_id));
	p->app_id = gs_strdup(s->app->client_id);
	p->tenant = gs_strdup(s->user->tenant);
	p->rich = s->rich;
	free(exp);
	enqueue(p);
}

void
gs_deliver_kick(void)
{
	pthread_mutex_lock(&q_lock);
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

/* ---- validation tokens ----
 * One JWT per app and tenant in a rich notification, signed with the
 * identity platform's keys: aud = the app, the caller is Graph change
 * tracking (0bf30f3b-...), tid, iss, exp (Set up change notifications that
 * include resource data, "Validation tokens in the change notification":
 * learn.microsoft.com/graph/change-notifications-with-resource-data).
 * version 1 (the default, as Microsoft's example and samples show):
 * iss https://sts.windows.net/{tid}/, appid, ver 1.0; version 2: iss
 * {authority}/{tid}/v2.0, azp, ver 2.0. */

static char *
validation_token(const char *app_id, const char *tenant, const char *forge)
{
	double now = gs_now();
	bool v1 = gs_cfg.validation_token_version == 1;
	char *base = gs_base_url();
	char *iss = v1 ? gs_printf("https://sts.windows.net/%s/", tenant)
		       : gs_printf("%s/%s/v2.0", base, tenant);
	const char *aud = app_id, *tid = tenant, *caller = GS_CHANGE_TRACKING_APP;
	double exp = now + gs_cfg.validation_token_lifetime;
	json_t *claims;
	char *tok;

	if (forge && !strcmp(forge, "aud"))
		aud = "00000000-0000-0000-0000-000000000000";
	if (forge && !strcmp(forge, "azp"))
		caller = "11111111-1111-1111-1111-111111111111";
	if (forge && !strcmp(forge, "tenant"))
		tid = "22222222-2222-2222-2222-222222222222";
	if (forge && !strcmp(forge, "expired"))
		exp = now - 600;
	if (forge && !strcmp(forge, "issuer")) {
		free(iss);
		iss = gs_strdup("https://issuer.invalid/v2.0");
	}
	claims = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s}", "aud", aud, "iss", iss,
			   "iat", (json_int_t)now - 5, "nbf", (json_int_t)now - 5, "exp",
			   (json_int_t)exp, v1 ? "appid" : "azp", caller,
			   v1 ? "appidacr" : "azpacr", "2", "tid", tid, "ver", v1 ? "1.0" : "2.0");
	json_object_set_new(claims, "oid", json_string("3e5a7c4b-graphsim-change-tracking"));
	tok = forge && !strcmp(forge, "signature") ? gs_jwt_sign_unpublished(claims)
						   : gs_jwt_sign(claims);
	json_decref(claims);
	free(iss);
	free(base);
	return tok;
}

/* One token per (app, tenant) pair among the rich items of a batch. */
static json_t *
validation_tokens(struct pending **batch, size_t n)
{
	json_t *arr = json_array(), *seen = json_object();
	bool hit;
	char *forge = dfault_take("token", &hit);

	for (size_t i = 0; i < n; i++) {
		char *key;
		if (!batch[i]->rich)
			continue;
		key = gs_printf("%s|%s", batch[i]->app_id, batch[i]->tenant);
		if (!json_object_get(seen, key)) {
			json_object_set_new(seen, key, json_true());
			if (!forge || strcmp(forge, "missing") != 0) {
				char *t =
				    validation_token(batch[i]->app_id, batch[i]->tenant, forge);
				json_array_append_new(arr, json_string(t));
				free(t);
			}
		}
		free(key);
	}
	free(forge);
	json_decref(seen);
	return arr;
}

/* ---- workers ---- */

static void
pending_free(struct pending *p)
{
	json_decref(p->item);
	free(p->url);
	free(p->app_id);
	free(p->tenant);
	free(p);
}

void
gs_endpoints_reset(void)
{
	pthread_mutex_lock(&q_lock);
	for (size_t i = 0; i < endpoints.n; i++) {
		struct endpoint *e = endpoints.v[i];
		e->state = 0;
		e->until = 0;
		e->window_start = gs_now();
		e->total = e->slow = e->very_slow = 0;
	}
	pthread_mutex_unlock(&q_lock);
}

static void
endpoint_record(const char *url, int attempt, double latency)
{
	struct endpoint *e;
	double now = gs_now();

	pthread_mutex_lock(&q_lock);
	e = endpoint_get(url);
	if (now - e->window_start > gs_cfg.throttle_window) {
		e->window_start = now;
		e->total = e->slow = e->very_slow = 0;
	}
	e->total++;
	/* slow means over the time allowance (timeouts included), not a fast
	 * error answer: those are retried but do not count against the endpoint */
	if (attempt == 0 && latency >= 0.95 * gs_cfg.delivery_timeout)
		e->slow++;
	if (attempt > 0 && latency >= 0.95 * gs_cfg.retry_timeout)
		e->very_slow++;
	if (e->total >= gs_cfg.throttle_min_samples) {
		int was = e->state;
		if (e->very_slow * 100 > 15 * e->total) {
			e->state = 2;
			e->until = now + gs_cfg.throttle_delay;
		} else if (e->slow * 100 > 10 * e->total) {
			e->state = 1;
			e->until = now + gs_cfg.throttle_delay;
		}
		if (e->state != was)
			gs_log(0, "endpoint %s is now %s", url, e->state == 2 ? "dropped" : "slow");
	}
	pthread_mutex_unlock(&q_lock);
}

void
gs_deliver_release(const char *sub_id)
{
	double now = gs_now();

	pthread_mutex_lock(&q_lock);
	for (size_t i = 0; i < queue.n; i++) {
		struct pending *p = queue.v[i];
		/* at the next of the retries it has been having all along
		 * (retry-initial, doubling); none left in the window: it
		 * stays held, and is dropped when the window ends */
		double slot = p->first + gs_cfg.retry_initial;
		int k = 1;
		if (!p->held || strcmp(p->sub_id, sub_id) != 0)
			continue;
		while (slot < now && k < 30)
			slot = p->first + gs_cfg.retry_initial * (pow(2, ++k) - 1);
		if (slot - p->first < gs_cfg.retry_window) {
			p->held = false;
			p->attempt = k;
			p->due = slot;
		}
	}
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

/* Held notifications past the retry window, or of a subscription that is
 * gone (a pause that ends with a new subscription loses them): dropped.
 * Called with the store locked. */
static void
held_expire(double now)
{
	struct gs_vec gone = {0};

	pthread_mutex_lock(&q_lock);
	for (size_t i = 0; i < queue.n;) {
		struct pending *p = queue.v[i];
		if (p->held && (now - p->first >= gs_cfg.retry_window || !gs_sub_find(p->sub_id))) {
			gs_vec_push(&gone, p);
			gs_vec_remove_at(&queue, i);
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&q_lock);
	for (size_t i = 0; i < gone.n; i++) {
		struct pending *p = gone.v[i];
		count(&n_dropped_window, 1);
		dlog_add(p->url, "notification", 1, p->attempt, 0, 0, "dropped-window",
			 json_pack("[s]", p->sub_id));
		pending_free(p);
	}
	free(gone.v);
}

/* Removes expired or deleted subscriptions' notifications from a batch. */
static size_t
drop_expired(struct pending **batch, size_t n)
{
	size_t kept = 0;

	gs_lock();
	for (size_t i = 0; i < n; i++) {
		if (!batch[i]->lifecycle && !gs_sub_find(batch[i]->sub_id)) {
			count(&n_dropped_expired, 1);
			dlog_add(batch[i]->url, "notification", 1, batch[i]->attempt, 0, 0,
				 "dropped-expired", json_pack("[s]", batch[i]->sub_id));
			pending_free(batch[i]);
			continue;
		}
		batch[kept++] = batch[i];
	}
	gs_unlock();
	return kept;
}

static void
send_batch(struct pending **batch, size_t n)
{
	json_t *value = json_array(), *body, *subs = json_array();
	bool any_rich = false, retry = false;
	const char *kind = batch[0]->lifecycle ? "lifecycle" : "notification";
	struct buf resp = {0};
	double latency, now;
	long status;
	char *text;
	bool ok;

	for (size_t i = 0; i < n; i++) {
		json_array_append(value, batch[i]->item);
		json_array_append_new(subs, json_string(batch[i]->sub_id));
		any_rich |= batch[i]->rich;
		retry |= batch[i]->attempt > 0;
	}
	body = json_pack("{s:o}", "value", value);
	/* lifecycle notifications carry value[] only (Reduce missing
	 * subscriptions and change notifications) */
	if (any_rich && !batch[0]->lifecycle)
		json_object_set_new(body, "validationTokens", validation_tokens(batch, n));
	text = json_dumps(body, JSON_COMPACT);
	status = http_post(batch[0]->url, "application/json; charset=utf-8", text,
			   retry ? gs_cfg.retry_timeout : gs_cfg.delivery_timeout, &resp, NULL,
			   &latency, NULL);
	ok = status >= 200 && status < 300;
	endpoint_record(batch[0]->url, retry ? 1 : 0, latency);
	now = gs_now();
	if (ok) {
		count(&n_delivered, (long)n);
		dlog_add(batch[0]->url, kind, (long)n, batch[0]->attempt, status, latency,
			 "delivered", subs);
		for (size_t i = 0; i < n; i++)
			pending_free(batch[i]);
	} else {
		count(&n_failed, (long)n);
		dlog_add(batch[0]->url, kind, (long)n, batch[0]->attempt, status, latency,
			 status ? "failed" : "timeout", subs);
		for (size_t i = 0; i < n; i++) {
			struct pending *p = batch[i];
			if (now - p->first >= gs_cfg.retry_window) {
				count(&n_dropped_window, 1);
				dlog_add(p->url, kind, 1, p->attempt, 0, 0, "dropped-window",
					 json_pack("[s]", p->sub_id));
				pending_free(p);
				continue;
			}
			p->due = now + gs_cfg.retry_initial * pow(2, p->attempt);
			p->attempt++;
			pthread_mutex_lock(&q_lock);
			gs_vec_push(&queue, p);
			pthread_cond_broadcast(&q_cond);
			pthread_mutex_unlock(&q_lock);
		}
	}
	json_decref(body);
	free(text);
	free(resp.p);
}

static void
cond_wait_until(double t)
{
	struct timespec ts;

	t = fmin(t, gs_now() + 0.2);
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	pthread_cond_timedwait(&q_cond, &q_lock, &ts);
}

static void *
worker_main(void *arg)
{
	struct pending **batch = calloc((size_t)gs_cfg.batch_max + 1, sizeof(*batch));
	size_t cap = (size_t)gs_cfg.batch_max + 1;

	(void)arg;
	if (!batch)
		abort();
	pthread_mutex_lock(&q_lock);
	while (running) {
		double now = gs_now(), next = now + 1;
		struct pending *first = NULL;
		size_t n = 0;

		for (size_t i = 0; i < queue.n; i++) {
			struct pending *p = queue.v[i];
			if (!first || p->due < first->due)
				first = p;
		}
		if (first)
			next = first->due;
		if (!first || first->due > now) {
			cond_wait_until(next);
			continue;
		}
		/* every due item for the same URL and kind rides in one POST */
		for (size_t i = 0; i < queue.n && n < cap - 1 && (long)n < gs_cfg.batch_max;) {
			struct pending *p = queue.v[i];
			/* due now, or queued within the batch window after the first */
			if (p->due <= now + gs_cfg.batch_window && !strcmp(p->url, first->url) &&
			    p->lifecycle == first->lifecycle) {
				batch[n++] = p;
				gs_vec_remove_at(&queue, i);
			} else {
				i++;
			}
		}
		pthread_mutex_unlock(&q_lock);
		n = drop_expired(batch, n);
		if (n > 0)
			send_batch(batch, n);
		pthread_mutex_lock(&q_lock);
	}
	pthread_mutex_unlock(&q_lock);
	free(batch);
	return NULL;
}

/* Timers: expiry and the reauthorizationRequired cadence before it. */
static void *
scheduler_main(void *arg)
{
	(void)arg;
	while (true) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		double now;

		pthread_mutex_lock(&q_lock);
		bool go = running;
		pthread_mutex_unlock(&q_lock);
		if (!go)
			break;
		nanosleep(&ts, NULL);
		now = gs_now();
		gs_lock();
		held_expire(now);
		for (size_t i = 0; i < gs_subs()->n; i++) {
			struct gs_sub *s = gs_subs()->v[i];
			if (!gs_sub_find(s->id))
				continue; /* expired ones are deleted silently, as Graph does */
			if (s->lifecycle_url && s->expires - now <= gs_cfg.reauth_lead &&
			    now - s->last_reauth_notice >= gs_cfg.reauth_interval) {
				s->last_reauth_notice = now;
				gs_notify_lifecycle(s, "reauthorizationRequired");
			}
			/* the access token's clock: ahead of its expiry, and again
			 * every reauth-interval while delivery is paused */
			if (gs_cfg.token_clock && s->lifecycle_url && s->token_expires > 0 &&
			    s->token_expires - now <= gs_cfg.reauth_token_lead &&
			    now - s->last_token_notice >= gs_cfg.reauth_interval) {
				s->last_token_notice = now;
				gs_notify_lifecycle(s, "reauthorizationRequired");
			}
			/* the cadence of Reduce missing subscriptions and change
			 * notifications (learn.microsoft.com/graph/
			 * change-notifications-lifecycle-events): every 15
			 * minutes once a quarter of the token's remaining life
			 * is under an hour, whether or not anything changed */
			if (gs_cfg.reauth_cadence > 0 && s->lifecycle_url &&
			    s->token_expires > now && (s->token_expires - now) / 4 < 3600 &&
			    now - s->last_cadence_notice >= gs_cfg.reauth_cadence) {
				s->last_cadence_notice = now;
				gs_notify_lifecycle(s, "reauthorizationRequired");
			}
		}
		gs_unlock();
	}
	return NULL;
}

int
gs_deliver_start(void)
{
	running = true;
	for (int i = 0; i < WORKERS; i++)
		if (pthread_create(&workers[i], NULL, worker_main, NULL) != 0)
			return -1;
	if (pthread_create(&scheduler, NULL, scheduler_main, NULL) != 0)
		return -1;
	return 0;
}

void
gs_deliver_stop(void)
{
	pthread_mutex_lock(&q_lock);
	running = false;
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_lock);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(workers[i], NULL);
	pthread_join(scheduler, NULL);
}

json_t *
gs_delivery_stats(void)
{
	json_t *eps = json_array(), *o;
	static const char *const states[] = {"normal", "slow", "drop"};

	pthread_mutex_lock(&q_lock);
	for (size_t i = 0; i < endpoints.n; i++) {
		struct endpoint *e = endpoints.v[i];
		int st = e->state && gs_now() < e->until ? e->state : 0;
		json_array_append_new(
		    eps, json_pack("{s:s, s:s, s:I, s:I, s:I}", "url", e->url, "state", states[st],
				   "responses", (json_int_t)e->total, "slow", (json_int_t)e->slow,
				   "very_slow", (json_int_t)e->very_slow));
	}
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "paused",
		      (json_int_t)n_paused, "delivered", (json_int_t)n_delivered, "failed_attempts",
		      (json_int_t)n_failed, "dropped_expired", (json_int_t)n_dropped_expired,
		      "dropped_window", (json_int_t)n_dropped_window, "dropped_throttle",
		      (json_int_t)n_dropped_throttle, "skipped", (json_int_t)n_skipped, "queued",
		      (json_int_t)queue.n, "endpoints", eps);
	pthread_mutex_unlock(&q_lock);
	return o;
}
