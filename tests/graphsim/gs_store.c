/*
 * The simulated directory and Teams data: apps, users, codes, tokens, chats,
 * messages and subscriptions. Everything here is called with gs_lock() held.
 * Sizes in tests are small, so plain arrays and linear search do.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs.h"

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gs_vec users, apps, codes, tokens, chats, subs, signins;

void
gs_lock(void)
{
	pthread_mutex_lock(&store_lock);
}

void
gs_unlock(void)
{
	pthread_mutex_unlock(&store_lock);
}

static bool
valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '/' || *s == '?' || *s == '#' || *s == '%')
			return false;
	return true;
}

struct gs_user *
gs_user_add(const char *tenant, const char *id, const char *upn, const char *name, char **ret_err)
{
	struct gs_user *u;

	if (!valid_name(tenant) || !valid_name(upn) || (id && !valid_name(id))) {
		*ret_err = gs_strdup("tenant and upn are required; names may not hold spaces, "
				     "'/', '?', '#' or '%'");
		return NULL;
	}
	if (gs_user_find(tenant, upn) || (id && gs_user_find(tenant, id))) {
		*ret_err = gs_printf("user %s already exists", upn);
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		abort();
	if (id)
		snprintf(u->id, sizeof(u->id), "%s", id);
	else
		gs_uuid(u->id);
	u->upn = gs_strdup(upn);
	u->display_name = gs_strdup(name ? name : upn);
	u->tenant = gs_strdup(tenant);
	gs_vec_push(&users, u);
	return u;
}

struct gs_user *
gs_user_find(const char *tenant, const char *id_or_upn)
{
	for (size_t i = 0; i < users.n; i++) {
		struct gs_user *u = users.v[i];
		if (tenant && strcmp(u->tenant, tenant) != 0)
			continue;
		if (!strcmp(u->id, id_or_upn) || gs_streq_ci(u->upn, id_or_upn))
			return u;
	}
	return NULL;
}

struct gs_user *
gs_user_default(const char *tenant)
{
	for (size_t i = 0; i < users.n; i++) {
		struct gs_user *u = users.v[i];
		if (!strcmp(u->tenant, tenant))
			return u;
	}
	return NULL;
}

struct gs_app *
gs_app_add(const char *tenant, const char *client_id, const char *secret, json_t *redirect_uris,
	   char **ret_err)
{
	struct gs_app *a;
	size_t i;
	json_t *v;

	if (!valid_name(tenant) || (client_id && !valid_name(client_id))) {
		*ret_err = gs_strdup("tenant is required; client_id must be a plain name");
		return NULL;
	}
	if (client_id && gs_app_find(client_id)) {
		*ret_err = gs_printf("app %s already exists", client_id);
		return NULL;
	}
	if (!json_is_array(redirect_uris) || json_array_size(redirect_uris) == 0) {
		*ret_err = gs_strdup("redirect_uris must be a non-empty array of strings");
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		abort();
	if (client_id)
		snprintf(a->client_id, sizeof(a->client_id), "%s", client_id);
	else
		gs_uuid(a->client_id);
	a->tenant = gs_strdup(tenant);
	/* Azure's generated secrets are 40 characters with a '~' in them */
	a->secret = secret ? gs_strdup(secret) : gs_random_token("gs~", 27);
	json_array_foreach (redirect_uris, i, v) {
		if (json_is_string(v))
			gs_vec_push(&a->redirect_uris, gs_strdup(json_string_value(v)));
	}
	gs_vec_push(&apps, a);
	return a;
}

struct gs_app *
gs_app_find(const char *client_id)
{
	for (size_t i = 0; client_id && i < apps.n; i++) {
		struct gs_app *a = apps.v[i];
		if (!strcmp(a->client_id, client_id))
			return a;
	}
	return NULL;
}

bool
gs_app_has_redirect(const struct gs_app *app, const char *uri)
{
	/* Entra compares redirect URIs exactly (scheme, host, port and path) */
	for (size_t i = 0; uri && i < app->redirect_uris.n; i++)
		if (!strcmp(app->redirect_uris.v[i], uri))
			return true;
	return false;
}

struct gs_code *
gs_code_add(struct gs_app *app, struct gs_user *user, const char *redirect_uri,
	    const char *challenge, const char *method, const char *scopes, const char *nonce)
{
	struct gs_code *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	/* real codes are long opaque strings; length matters to URL handling */
	c->code = gs_random_token("1.gs", 96);
	c->app = app;
	c->user = user;
	c->redirect_uri = gs_strdup(redirect_uri);
	c->challenge = gs_strdup(challenge);
	c->method = gs_strdup(method);
	c->scopes = gs_strdup(scopes);
	c->nonce = gs_strdup(nonce);
	c->expires = gs_now() + gs_cfg.code_lifetime;
	gs_vec_push(&codes, c);
	return c;
}

struct gs_code *
gs_code_find(const char *code)
{
	for (size_t i = 0; code && i < codes.n; i++) {
		struct gs_code *c = codes.v[i];
		if (!strcmp(c->code, code))
			return c;
	}
	return NULL;
}

struct gs_token *
gs_token_add(enum gs_token_kind kind, struct gs_app *app, struct gs_user *user, const char *scopes)
{
	struct gs_token *t = calloc(1, sizeof(*t));
	double now = gs_now();

	if (!t)
		abort();
	/* opaque to clients, as Microsoft asks; the prefix only helps humans */
	t->value = gs_random_token(kind == GS_ACCESS ? "gsat." : "gsrt.", 64);
	t->kind = kind;
	t->app = app;
	t->user = user;
	t->scopes = gs_strdup(scopes);
	t->issued = now;
	if (kind == GS_ACCESS) {
		/* Entra gives access tokens a random lifetime between 60 and 90
		 * minutes (Access tokens, "Token lifetime":
		 * learn.microsoft.com/entra/identity-platform/access-tokens): a factor
		 * 1.0-1.5 on the configured lifetime */
		double f = 1.0;
		if (gs_cfg.access_lifetime_jitter) {
			uint32_t r;
			gs_random_bytes(&r, sizeof(r));
			f += 0.5 * ((double)r / 4294967295.0);
		}
		t->expires = now + gs_cfg.access_lifetime * f;
	}
	t->last_used = now;
	gs_vec_push(&tokens, t);
	return t;
}

struct gs_token *
gs_token_find(const char *value, enum gs_token_kind kind)
{
	for (size_t i = 0; value && i < tokens.n; i++) {
		struct gs_token *t = tokens.v[i];
		if (t->kind == kind && !strcmp(t->value, value))
			return t;
	}
	return NULL;
}

void
gs_user_revoke(struct gs_user *user)
{
	/* revokeSignInSessions: refresh tokens die; access tokens live on */
	for (size_t i = 0; i < tokens.n; i++) {
		struct gs_token *t = tokens.v[i];
		if (t->user == user && t->kind == GS_REFRESH)
			t->revoked = true;
	}
	user->sessions_revoked_at = gs_now();
}

void
gs_user_expire_tokens(struct gs_user *user, bool access, bool refresh)
{
	double now = gs_now();

	for (size_t i = 0; i < tokens.n; i++) {
		struct gs_token *t = tokens.v[i];
		if (t->user != user)
			continue;
		if (access && t->kind == GS_ACCESS && t->expires > now)
			t->expires = now - 1;
		if (refresh && t->kind == GS_REFRESH)
			t->last_used = now - gs_cfg.rt_inactivity - 1;
	}
}

static void
chat_id_new(const char *chat_type, char **ret)
{
	unsigned char b[16];
	char hex[33];

	gs_random_bytes(b, sizeof(b));
	for (int i = 0; i < 16; i++)
		sprintf(hex + 2 * i, "%02x", b[i]);
	/* the shapes Teams uses; both hold ':' and '@' that clients must encode */
	*ret = !strcmp(chat_type, "oneOnOne") ? gs_printf("19:%s@unq.gbl.spaces", hex)
					      : gs_printf("19:%s@thread.v2", hex);
}

struct gs_chat *
gs_chat_add(const char *tenant, const char *chat_type, const char *topic, json_t *members,
	    char **ret_err)
{
	struct gs_chat *c;
	size_t i;
	json_t *v;

	if (!chat_type)
		chat_type = "group";
	if (strcmp(chat_type, "group") && strcmp(chat_type, "oneOnOne") &&
	    strcmp(chat_type, "meeting")) {
		*ret_err = gs_strdup("chat_type must be group, oneOnOne or meeting");
		return NULL;
	}
	if (!json_is_array(members) || json_array_size(members) < 1) {
		*ret_err = gs_strdup("members must be a non-empty array of user ids or UPNs");
		return NULL;
	}
	json_array_foreach (members, i, v) {
		if (!json_is_string(v) || !gs_user_find(tenant, json_string_value(v))) {
			*ret_err = gs_printf("member %zu is not a user of tenant %s", i,
					     tenant ? tenant : "(any)");
			return NULL;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	chat_id_new(chat_type, &c->id);
	c->chat_type = gs_strdup(chat_type);
	c->topic = gs_strdup(topic);
	c->created = c->last_updated = gs_now();
	json_array_foreach (members, i, v) {
		struct gs_user *u = gs_user_find(tenant, json_string_value(v));
		if (!gs_chat_has_member(c, u))
			gs_vec_push(&c->members, u);
	}
	c->tenant = gs_strdup(((struct gs_user *)c->members.v[0])->tenant);
	gs_vec_push(&chats, c);
	return c;
}

struct gs_chat *
gs_chat_find(const char *id)
{
	for (size_t i = 0; id && i < chats.n; i++) {
		struct gs_chat *c = chats.v[i];
		if (!strcmp(c->id, id))
			return c;
	}
	return NULL;
}

bool
gs_chat_has_member(const struct gs_chat *chat, const struct gs_user *user)
{
	for (size_t i = 0; i < chat->members.n; i++)
		if (chat->members.v[i] == user)
			return true;
	return false;
}

struct gs_vec *
gs_chats(void)
{
	return &chats;
}

static json_t *
identity_of(const struct gs_user *u)
{
	return json_pack("{s:n, s:n, s:n, s:{s:s, s:s, s:s, s:s}}", "application", "device",
			 "conversation", "user", "id", u->id, "displayName", u->display_name,
			 "userIdentityType", "aadUser", "tenantId", u->tenant);
}

/*
 * spec: {content, content_type, importance, message_type, attachments,
 * subject}. The result has the chatMessage shape of Graph v1.0.
 */
struct gs_message *
gs_message_add(struct gs_chat *chat, struct gs_user *from, json_t *spec, char **ret_err)
{
	const char *content = json_string_value(json_object_get(spec, "content"));
	const char *ctype = json_string_value(json_object_get(spec, "content_type"));
	const char *importance = json_string_value(json_object_get(spec, "importance"));
	const char *mtype = json_string_value(json_object_get(spec, "message_type"));
	json_t *att = json_object_get(spec, "attachments");
	json_t *app = json_object_get(spec, "from_app");
	struct gs_message *m;
	double now = gs_now();
	char *ts, *etag;
	long long idnum;

	if (!content)
		content = "";
	if (!ctype)
		ctype = "html";
	if (!importance)
		importance = "normal";
	if (!mtype)
		mtype = "message";
	if (strcmp(ctype, "html") && strcmp(ctype, "text")) {
		*ret_err = gs_strdup("content_type must be html or text");
		return NULL;
	}
	if (strcmp(importance, "normal") && strcmp(importance, "high") &&
	    strcmp(importance, "urgent")) {
		*ret_err = gs_strdup("importance must be normal, high or urgent");
		return NULL;
	}
	/* chatMessageType: message, chatEvent, typing, systemEventMessage
	 * (unknownFutureValue is the sentinel, not a real type) */
	if (strcmp(mtype, "message") && strcmp(mtype, "chatEvent") && strcmp(mtype, "typing") &&
	    strcmp(mtype, "systemEventMessage")) {
		*ret_err = gs_strdup("message_type must be message, chatEvent, typing or "
				     "systemEventMessage");
		return NULL;
	}
	if (app && (!json_is_object(app) || !json_is_string(json_object_get(app, "id")))) {
		*ret_err = gs_strdup("from_app must be {\"id\", \"display_name\"}");
		return NULL;
	}
	if (att && !json_is_array(att)) {
		*ret_err = gs_strdup("attachments must be an array");
		return NULL;
	}
	if (from && !gs_chat_has_member(chat, from)) {
		*ret_err = gs_printf("%s is not a member of the chat", from->upn);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	/* Teams message ids are epoch milliseconds, unique within the chat */
	idnum = (long long)(now * 1000);
	for (size_t i = 0; i < chat->messages.n; i++) {
		long long other = atoll(((struct gs_message *)chat->messages.v[i])->id);
		if (other >= idnum)
			idnum = other + 1;
	}
	m->id = gs_printf("%lld", idnum);
	m->chat = chat;
	m->created = m->modified = now;
	ts = gs_time_iso(now, 3);
	etag = gs_printf("%lld", idnum);
	m->json = json_pack(
	    "{s:s, s:s, s:n, s:s, s:s, s:s, s:n, s:n, s:n, s:s, s:n, s:s, s:s, s:n, "
	    "s:n, s:o, s:{s:s, s:s}, s:o, s:[], s:[], s:[], s:n, s:n, s:n}",
	    "id", m->id, "etag", etag, "replyToId", "messageType", mtype, "createdDateTime", ts,
	    "lastModifiedDateTime", ts, "lastEditedDateTime", "deletedDateTime", "subject",
	    "chatId", chat->id, "summary", "importance", importance, "locale", "en-us", "webUrl",
	    "channelIdentity", "from", from ? identity_of(from) : json_null(), "body",
	    "contentType", ctype, "content", content, "attachments",
	    att ? json_deep_copy(att) : json_array(), "mentions", "reactions", "messageHistory",
	    "policyViolation", "eventDetail", "onBehalfOf");
	if (!m->json)
		abort();
	free(ts);
	free(etag);
	/* A new message does not move the chat's lastUpdatedDateTime: that is
	 * the time the chat was renamed or its members changed (chat resource
	 * type, learn.microsoft.com/graph/api/resources/chat;
	 * microsoftgraph/microsoft-graph-docs-contrib#6421). */
	if (app) {
		json_object_set_new(
		    m->json, "from",
		    json_pack("{s:{s:s, s:s, s:s}, s:n, s:n, s:n}", "application", "id",
			      json_string_value(json_object_get(app, "id")), "displayName",
			      json_string_value(json_object_get(app, "display_name"))
				  ? json_string_value(json_object_get(app, "display_name"))
				  : json_string_value(json_object_get(app, "id")),
			      "applicationIdentityType", "bot", "device", "user", "conversation"));
	}
	gs_vec_push(&chat->messages, m);
	return m;
}

struct gs_message *
gs_message_find(const struct gs_chat *chat, const char *id)
{
	for (size_t i = 0; id && i < chat->messages.n; i++) {
		struct gs_message *m = chat->messages.v[i];
		if (!strcmp(m->id, id))
			return m;
	}
	return NULL;
}

struct gs_sub *
gs_sub_add(void)
{
	struct gs_sub *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	gs_uuid(s->id);
	s->created = gs_now();
	gs_vec_push(&subs, s);
	return s;
}

struct gs_sub *
gs_sub_find(const char *id)
{
	double now = gs_now();

	for (size_t i = 0; id && i < subs.n; i++) {
		struct gs_sub *s = subs.v[i];
		if (!strcmp(s->id, id)) {
			/* Graph deletes a subscription the moment it expires */
			if (!s->deleted && s->expires <= now)
				gs_sub_delete(s, "expired");
			return s->deleted ? NULL : s;
		}
	}
	return NULL;
}

struct gs_vec *
gs_subs(void)
{
	return &subs;
}

void
gs_sub_delete(struct gs_sub *sub, const char *reason)
{
	if (sub->deleted)
		return;
	sub->deleted = true;
	sub->deleted_reason = gs_strdup(reason);
	gs_log(1, "subscription %s deleted: %s", sub->id, reason);
}

json_t *
gs_sub_to_json(const struct gs_sub *s, bool with_secret)
{
	char *exp = gs_time_iso(s->expires, 7);
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:s, s:b, s:s, s:o, s:o, s:n, "
	    "s:n, s:n}",
	    "id", s->id, "resource", s->resource, "applicationId", s->app->client_id, "changeType",
	    s->change_type, "notificationUrl", s->notification_url, "lifecycleNotificationUrl",
	    s->lifecycle_url ? json_string(s->lifecycle_url) : json_null(), "expirationDateTime",
	    exp, "clientState",
	    with_secret && s->client_state ? json_string(s->client_state) : json_null(),
	    "creatorId", s->user->id, "latestSupportedTlsVersion", "v1_2", "includeResourceData",
	    s->rich, "notificationContentType", "application/json", "encryptionCertificate",
	    with_secret && s->cert_b64 ? json_string(s->cert_b64) : json_null(),
	    "encryptionCertificateId", s->cert_id ? json_string(s->cert_id) : json_null(),
	    "notificationUrlAppId", "notificationQueryOptions", "lastModifiedDateTime");
	free(exp);
	return o;
}

json_t *
gs_user_to_json(const struct gs_user *u)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:n, s:n, s:n, s:n}", "id", u->id,
			 "displayName", u->display_name, "userPrincipalName", u->upn, "mail",
			 u->upn, "preferredLanguage", "en-US", "businessPhones", "mobilePhone",
			 "jobTitle", "officeLocation", "surname");
}

struct gs_message *
gs_chat_last_message(const struct gs_chat *c)
{
	struct gs_message *last = NULL;

	for (size_t i = 0; i < c->messages.n; i++) {
		struct gs_message *m = c->messages.v[i];
		if (!last || m->created >= last->created)
			last = m;
	}
	return last;
}

/*
 * chatMessage.messageType is an evolvable enum: message, chatEvent, typing,
 * unknownFutureValue, systemEventMessage. Members after the
 * unknownFutureValue sentinel (systemEventMessage) are returned only to a
 * request carrying "Prefer: include-unknown-enum-members"; others read
 * unknownFutureValue. Sources: chatMessage resource type
 * (learn.microsoft.com/graph/api/resources/chatmessage, messageType) and
 * "Best practices for working with Microsoft Graph", evolvable enums
 * (learn.microsoft.com/graph/best-practices-concept#handling-future-members-in-evolvable-enumerations).
 */
static const char *
message_type_for(const char *stored, bool unknown_enums)
{
	if (!unknown_enums && stored && !strcmp(stored, "systemEventMessage"))
		return "unknownFutureValue";
	return stored;
}

json_t *
gs_message_render(const struct gs_message *m, bool unknown_enums)
{
	json_t *o = json_deep_copy(m->json);
	const char *t = json_string_value(json_object_get(o, "messageType"));

	json_object_set_new(o, "messageType", json_string(message_type_for(t, unknown_enums)));
	return o;
}

void
gs_chat_touch(struct gs_chat *chat)
{
	chat->last_updated = gs_now();
}

json_t *
gs_chat_to_json(const struct gs_chat *c, bool with_preview, bool unknown_enums)
{
	char *created = gs_time_iso(c->created, 3), *updated = gs_time_iso(c->last_updated, 3);
	char *url = gs_printf("https://teams.microsoft.com/l/chat/%s/0", c->id);
	json_t *o = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:n}", "id", c->id, "topic",
			      c->topic ? json_string(c->topic) : json_null(), "createdDateTime",
			      created, "lastUpdatedDateTime", updated, "chatType", c->chat_type,
			      "webUrl", url, "tenantId", c->tenant, "onlineMeetingInfo");

	if (with_preview) {
		/* chatMessageInfo (learn.microsoft.com/graph/api/resources/chatmessageinfo):
		 * id, createdDateTime, isDeleted, messageType, body, from, eventDetail */
		json_t *prev = json_null();
		struct gs_message *m = gs_chat_last_message(c);
		if (m) {
			json_t *del = json_object_get(m->json, "deletedDateTime");
			prev = json_pack(
			    "{s:s, s:O, s:b, s:s, s:O, s:O, s:O}", "id", m->id, "createdDateTime",
			    json_object_get(m->json, "createdDateTime"), "isDeleted",
			    del && !json_is_null(del), "messageType",
			    message_type_for(
				json_string_value(json_object_get(m->json, "messageType")),
				unknown_enums),
			    "body", json_object_get(m->json, "body"), "from",
			    json_object_get(m->json, "from"), "eventDetail",
			    json_object_get(m->json, "eventDetail"));
		}
		json_object_set_new(o, "lastMessagePreview", prev);
	}
	free(created);
	free(updated);
	free(url);
	return o;
}

void
gs_signin_set(const char *tenant, struct gs_user *user, const char *error,
	      const char *error_description, long count)
{
	struct gs_signin *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	s->tenant = gs_strdup(tenant);
	s->user = user;
	s->error = gs_strdup(error);
	s->error_description = gs_strdup(error_description);
	s->count = count > 0 ? count : 1;
	gs_vec_push(&signins, s);
}

const struct gs_signin *
gs_signin_take(const char *tenant)
{
	for (size_t i = 0; i < signins.n; i++) {
		struct gs_signin *s = signins.v[i];
		if (strcmp(s->tenant, tenant) != 0 || s->count <= 0)
			continue;
		/* spent overrides stay allocated: callers read them after the take */
		s->count--;
		return s;
	}
	return NULL;
}

/* {"apps":[{tenant, client_id, client_secret, redirect_uris}],
 *  "users":[{tenant, id, upn, display_name}],
 *  "chats":[{tenant, chat_type, topic, members}]} */
int
gs_seed_load(const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *v;
	size_t i;
	char *err = NULL;
	int rc = 0;

	if (!root) {
		fprintf(stderr, "graphsim: %s:%d: %s\n", path, jerr.line, jerr.text);
		return -1;
	}
	gs_lock();
	json_array_foreach (json_object_get(root, "users"), i, v) {
		if (!gs_user_add(json_string_value(json_object_get(v, "tenant")),
				 json_string_value(json_object_get(v, "id")),
				 json_string_value(json_object_get(v, "upn")),
				 json_string_value(json_object_get(v, "display_name")), &err))
			goto fail;
	}
	json_array_foreach (json_object_get(root, "apps"), i, v) {
		if (!gs_app_add(json_string_value(json_object_get(v, "tenant")),
				json_string_value(json_object_get(v, "client_id")),
				json_string_value(json_object_get(v, "client_secret")),
				json_object_get(v, "redirect_uris"), &err))
			goto fail;
	}
	json_array_foreach (json_object_get(root, "chats"), i, v) {
		if (!gs_chat_add(json_string_value(json_object_get(v, "tenant")),
				 json_string_value(json_object_get(v, "chat_type")),
				 json_string_value(json_object_get(v, "topic")),
				 json_object_get(v, "members"), &err))
			goto fail;
	}
	goto out;
fail:
	fprintf(stderr, "graphsim: %s: %s\n", path, err);
	free(err);
	rc = -1;
out:
	gs_unlock();
	json_decref(root);
	return rc;
}
