/*
 * graphsim: a simulator of the Microsoft identity platform (Entra ID v2
 * endpoints) and of Microsoft Graph v1.0 change notifications for Teams chat
 * messages. It is the stand-in for Microsoft's cloud in every ctteams test,
 * so it follows Microsoft's documented behaviour, not the agent's code: it
 * shares nothing with agent/.
 *
 * Threads: libmicrohttpd serves each connection on its own thread; one
 * scheduler thread runs timers (expiry, lifecycle events); a few delivery
 * threads POST notifications. All model state is guarded by gs_lock().
 */
#ifndef GS_H
#define GS_H

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GS_CHANGE_TRACKING_APP "0bf30f3b-4a52-48df-9a82-234910c4a086"

/* ---- gs_config.c: every lifetime, window and limit, all adjustable ---- */

struct gs_config {
	/* listener */
	char *listen_addr;
	int port;
	char *port_file;
	bool tls;
	char *ca_out;
	char *public_host;
	/* outbound (handshakes and deliveries) */
	char *notify_ca;
	bool allow_http_notify;
	/* identity platform */
	double access_lifetime;
	double code_lifetime;
	double rt_inactivity;
	double id_token_lifetime;
	/* subscriptions */
	double sub_max;
	double sub_min;
	double sub_grant_cap; /* grant at most this, whatever was asked; 0: as asked */
	double lifecycle_required_above;
	long subs_per_user;
	double handshake_timeout;
	/* delivery */
	double delivery_timeout;
	double retry_timeout;
	double retry_initial;
	double retry_window;
	double batch_window;
	long batch_max;
	double throttle_window;
	double throttle_delay;
	long throttle_min_samples;
	double reauth_lead;
	double reauth_interval;
	double validation_token_lifetime;
	long validation_token_version;
	/* reauthorizationRequired on the access token's clock */
	bool token_clock;
	double reauth_token_lead;
	/* reauthorizationRequired at the lifecycle page's cadence; 0: off */
	double reauth_cadence;
	/* notifications in a token pause are held for retry-window, not lost */
	bool hold_paused;
	/* Teams polling budget: first-page reads per collection per app */
	long poll_budget;
	double poll_period;
	/* Entra access-token lifetimes vary (x1.0..1.5) */
	bool access_lifetime_jitter;
	/* Graph rate limits on one chat: per app, and POSTs per user */
	long chat_get_limit;
	double chat_get_period;
	/* per app per tenant: chat message GETs, other Teams GETs; 0: off */
	long tenant_message_limit;
	long tenant_get_limit;
	/* $orderby per cloud: "honour" (global), "refuse" (400) or "ignore" */
	char *orderby_chats;
	char *orderby_messages;
	/* misc */
	char *seed_file;
	long verbose;
};

extern struct gs_config gs_cfg;

void gs_config_defaults(void);
int gs_config_parse_args(int argc, char **argv);
/* Apply {"name": value, ...} from the control API; ret_err gets a message. */
int gs_config_apply_json(json_t *obj, char **ret_err);
json_t *gs_config_to_json(void);
void gs_config_usage(FILE *out);

/* ---- gs_util.c ---- */

double gs_now(void);
void gs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *gs_strdup(const char *s);
char *gs_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gs_random_bytes(void *buf, size_t len);
void gs_uuid(char out[37]);
/* prefix, then base64url of nbytes random bytes */
char *gs_random_token(const char *prefix, size_t nbytes);
/* ISO 8601 UTC with `digits` fractional digits (0..7), e.g. 7 as Graph does. */
char *gs_time_iso(double t, int digits);
int gs_time_parse(const char *s, double *ret);
int gs_duration_parse(const char *s, double *ret);
char *gs_url_encode(const char *s);
char *gs_url_decode(const char *s, size_t len);
bool gs_streq_ci(const char *a, const char *b);
bool gs_is_loopback_host(const char *url);

/* A decoded application/x-www-form-urlencoded body. */
struct gs_form {
	size_t n;
	char **keys;
	char **vals;
};
int gs_form_parse(const char *body, size_t len, struct gs_form *ret);
const char *gs_form_get(const struct gs_form *f, const char *key);
void gs_form_free(struct gs_form *f);

/* Growable array of pointers. */
struct gs_vec {
	void **v;
	size_t n;
	size_t cap;
};
void gs_vec_push(struct gs_vec *vec, void *p);
void gs_vec_remove_at(struct gs_vec *vec, size_t i);

/* ---- gs_crypto.c ---- */

char *gs_b64(const unsigned char *in, size_t len);
char *gs_b64url(const unsigned char *in, size_t len);
unsigned char *gs_b64_decode(const char *in, size_t *ret_len);
EVP_PKEY *gs_rsa_generate(int bits);
/* A CA and a server certificate for the HTTPS listener (PEM strings). */
int gs_tls_make(const char *host, char **ret_cert_pem, char **ret_key_pem, char **ret_ca_pem);
/* JWKS signing keys: the current one signs, recent ones stay published. */
int gs_keys_init(void);
int gs_keys_rotate(void);
json_t *gs_keys_jwks(void);
char *gs_jwt_sign(json_t *claims); /* RS256 with the current key */
/* Forgeries for tests: sign with a key that is not published. */
char *gs_jwt_sign_unpublished(json_t *claims);
/* Subscription certificates: parse base64 DER, check RSA 2048..4096. */
EVP_PKEY *gs_cert_parse(const char *b64, char **ret_thumbprint, char **ret_err);
/* Rich payload per Graph: RSA-OAEP-SHA1 wrapped key, AES-256-CBC with
 * IV = key[0..16], HMAC-SHA256 over the ciphertext. */
json_t *gs_encrypt_content(EVP_PKEY *pub, const char *cert_id, const char *thumb,
			   const char *plaintext);

/* ---- gs_store.c: the model ---- */

struct gs_user {
	char id[37];
	char *upn;
	char *display_name;
	char *tenant;
	double sessions_revoked_at; /* 0 = never */
	/* refresh grants answer interaction_required until a code grant */
	int interaction_code; /* 0 = none; else an AADSTS number */
	char *interaction_suberror;
};

struct gs_app {
	char client_id[37];
	char *tenant;
	char *secret;
	bool secret_expired;
	struct gs_vec redirect_uris; /* char * */
};

struct gs_code {
	char *code;
	struct gs_app *app;
	struct gs_user *user;
	char *redirect_uri;
	char *challenge;
	char *method;
	char *scopes;
	char *nonce;
	double expires;
	bool used;
};

enum gs_token_kind { GS_ACCESS, GS_REFRESH };

struct gs_token {
	char *value;
	enum gs_token_kind kind;
	struct gs_app *app;
	struct gs_user *user;
	char *scopes;
	double issued;
	double expires;   /* access tokens */
	double last_used; /* refresh tokens: start of the inactivity window */
	int generation;   /* refresh tokens: 1 from a code, n+1 from generation n */
	int chain;        /* refresh tokens: which redeemed code they descend from */
	bool revoked;
};

struct gs_chat {
	char *id;
	char *tenant;
	char *chat_type;
	char *topic;
	double created;
	double last_updated;
	struct gs_vec members;  /* struct gs_user * */
	struct gs_vec messages; /* struct gs_message * */
};

struct gs_message {
	char *id;
	struct gs_chat *chat;
	double created;
	double modified;
	json_t *json; /* the chatMessage resource as Graph returns it */
};

enum gs_sub_kind { GS_SUB_USER_CHATS, GS_SUB_CHAT };

struct gs_sub {
	char id[37];
	struct gs_app *app;
	struct gs_user *user;
	char *resource;
	enum gs_sub_kind kind;
	/* created with Prefer: include-unknown-enum-members on a chat's
	 * messages: payloads carry systemEventMessage as it is */
	bool unknown_enums;
	char *target; /* user id or chat id */
	char *change_type;
	char *notification_url;
	char *lifecycle_url;
	char *client_state;
	double expires;
	double created;
	bool rich;
	EVP_PKEY *cert_key;
	char *cert_b64;
	char *cert_id;
	char *cert_thumb;
	double last_patch;
	double last_reauthorize;
	double last_reauth_notice;
	/* the access token's clock: expiry of the token used at create,
	 * PATCH or reauthorize; delivery pauses once it has passed */
	double token_expires;
	double last_token_notice;
	double last_cadence_notice;
	bool deleted;
	char *deleted_reason;
};

/* A sign-in override for a tenant's next authorize requests. */
struct gs_signin {
	char *tenant;
	struct gs_user *user; /* NULL = the tenant's default user */
	char *error;
	char *error_description;
	long count;
};

void gs_lock(void);
void gs_unlock(void);

struct gs_user *gs_user_add(const char *tenant, const char *id, const char *upn, const char *name,
			    char **ret_err);
struct gs_user *gs_user_find(const char *tenant, const char *id_or_upn);
struct gs_user *gs_user_default(const char *tenant);
struct gs_app *gs_app_add(const char *tenant, const char *client_id, const char *secret,
			  json_t *redirect_uris, char **ret_err);
struct gs_app *gs_app_find(const char *client_id);
bool gs_app_has_redirect(const struct gs_app *app, const char *uri);
struct gs_code *gs_code_add(struct gs_app *app, struct gs_user *user, const char *redirect_uri,
			    const char *challenge, const char *method, const char *scopes,
			    const char *nonce);
struct gs_code *gs_code_find(const char *code);
struct gs_token *gs_token_add(enum gs_token_kind kind, struct gs_app *app, struct gs_user *user,
			      const char *scopes);
struct gs_token *gs_token_find(const char *value, enum gs_token_kind kind);
void gs_user_revoke(struct gs_user *user);
void gs_user_expire_tokens(struct gs_user *user, bool access, bool refresh);
struct gs_chat *gs_chat_add(const char *tenant, const char *chat_type, const char *topic,
			    json_t *members, char **ret_err);
struct gs_chat *gs_chat_find(const char *id);
bool gs_chat_has_member(const struct gs_chat *chat, const struct gs_user *user);
struct gs_vec *gs_chats(void);
struct gs_message *gs_message_add(struct gs_chat *chat, struct gs_user *from, json_t *spec,
				  char **ret_err);
struct gs_message *gs_message_find(const struct gs_chat *chat, const char *id);
struct gs_sub *gs_sub_add(void);
struct gs_sub *gs_sub_find(const char *id); /* live ones only */
struct gs_vec *gs_subs(void);
void gs_sub_delete(struct gs_sub *sub, const char *reason);
json_t *gs_sub_to_json(const struct gs_sub *sub, bool with_secret);
json_t *gs_user_to_json(const struct gs_user *user);
json_t *gs_chat_to_json(const struct gs_chat *chat, bool with_preview, bool unknown_enums);
/* The most recently created message of a chat, or NULL. */
struct gs_message *gs_chat_last_message(const struct gs_chat *chat);
/* The chatMessage as a read returns it: the evolvable messageType is
 * mapped to unknownFutureValue unless the reader opted in. */
json_t *gs_message_render(const struct gs_message *m, bool unknown_enums);
/* The chat's topic or members changed: lastUpdatedDateTime moves. */
void gs_chat_touch(struct gs_chat *chat);
void gs_signin_set(const char *tenant, struct gs_user *user, const char *error,
		   const char *error_description, long count);
/* Consume one override for the tenant, if any (caller frees nothing). */
const struct gs_signin *gs_signin_take(const char *tenant);
int gs_seed_load(const char *path);

/* ---- gs_http.c: the listener, routing, logs and injected faults ---- */

struct gs_req {
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	const char *body;
	size_t body_len;
	char *params[4]; /* segments captured by '*' in the route */
	const char *peer;
};

struct gs_resp {
	unsigned int status;
	const char *content_type;
	char *body;
	char *location;
	char *retry_after;
	char *www_authenticate;
	char *note; /* for the request log: e.g. grant_type or error code */
	bool reset; /* close the connection without an answer */
};

const char *gs_req_arg(const struct gs_req *req, const char *name);
const char *gs_req_header(const struct gs_req *req, const char *name);
void gs_resp_json(struct gs_resp *resp, unsigned int status, json_t *body); /* steals body */
void gs_resp_text(struct gs_resp *resp, unsigned int status, const char *type, const char *text);
/* Graph's error shape: {"error":{"code","message","innerError":{...}}} */
void gs_resp_graph_error(struct gs_resp *resp, unsigned int status, const char *code,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
json_t *gs_req_json(const struct gs_req *req, struct gs_resp *resp);

int gs_http_start(const char *cert_pem, const char *key_pem);
void gs_http_stop(void);
int gs_http_port(void);
char *gs_base_url(void); /* https://host:port */

json_t *gs_requests_since(long seq);
int gs_fault_add(json_t *spec, char **ret_err);
void gs_faults_clear(void);

/* ---- gs_identity.c ---- */

void gs_identity_authorize(struct gs_req *req, struct gs_resp *resp);
void gs_identity_token(struct gs_req *req, struct gs_resp *resp);
void gs_identity_jwks(struct gs_req *req, struct gs_resp *resp);
void gs_identity_openid(struct gs_req *req, struct gs_resp *resp);
char *gs_issuer(const char *tenant); /* {base}/{tenant}/v2.0 */

/* ---- gs_graph.c ---- */

/* Checks the bearer token; on failure fills resp with 401 and returns NULL. */
struct gs_token *gs_graph_auth(struct gs_req *req, struct gs_resp *resp);
bool gs_scope_has(const char *scopes, const char *scope);
void gs_graph_me(struct gs_req *req, struct gs_resp *resp);
/* "Prefer: include-unknown-enum-members" on the request */
bool gs_prefers_unknown_enums(struct gs_req *req);
/* Teams polling budget: a first-page read of a collection (kind "chats"
 * with a user id, or "messages" with a chat id) by an app (lock held). */
void gs_poll_record(const struct gs_app *app, const char *kind, const char *id);
/* Forgets every read counted for the polling budget (lock held). */
void gs_polls_reset(void);
void gs_graph_user(struct gs_req *req, struct gs_resp *resp);
void gs_graph_chats(struct gs_req *req, struct gs_resp *resp);
void gs_graph_messages(struct gs_req *req, struct gs_resp *resp);
void gs_graph_message(struct gs_req *req, struct gs_resp *resp);
/* POST /chats/{id}/messages: Send message in a chat */
void gs_graph_send_message(struct gs_req *req, struct gs_resp *resp);

/* ---- gs_subs.c ---- */

void gs_subs_create(struct gs_req *req, struct gs_resp *resp);
void gs_subs_list(struct gs_req *req, struct gs_resp *resp);
void gs_subs_get(struct gs_req *req, struct gs_resp *resp);
void gs_subs_patch(struct gs_req *req, struct gs_resp *resp);
void gs_subs_delete(struct gs_req *req, struct gs_resp *resp);
void gs_subs_reauthorize(struct gs_req *req, struct gs_resp *resp);
json_t *gs_violations(void);
/* Records a client violation {time, rule, ...}; steals o (lock held). */
void gs_violation_add(json_t *o);

/* ---- gs_deliver.c ---- */

int gs_deliver_start(void);
void gs_deliver_stop(void);
/* The validation handshake; NULL on success, else a reason (free it).
 * Called without the lock held. */
char *gs_handshake(const char *url, const char *sub_hint);
/* Delivery is paused: the subscription's access token has expired. */
bool gs_sub_paused(const struct gs_sub *s, double now);
/* The subscription runs on a valid token again: what it held during the
 * pause goes out at its next retry. */
void gs_deliver_release(const char *sub_id);
/* Queue change notifications for a message event (lock held). */
int gs_notify_message(struct gs_message *msg, const char *change_type);
/* Queue a lifecycle event for a subscription (lock held). */
void gs_notify_lifecycle(struct gs_sub *sub, const char *event);
int gs_delivery_fault_add(json_t *spec, char **ret_err);
void gs_delivery_faults_clear(void);
/* Forgets every endpoint's slow/dropped state and samples (tests). */
void gs_endpoints_reset(void);
json_t *gs_deliveries_since(long seq);
json_t *gs_delivery_stats(void);
void gs_deliver_kick(void);

/* ---- gs_control.c: the test-only API under /_sim/ ---- */

void gs_control(struct gs_req *req, struct gs_resp *resp);

#endif
