/*
 * Options. One table drives the command line, --help and the control API's
 * /_sim/config, so every lifetime and window can be changed the same way
 * before start or while running.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs.h"

struct gs_config gs_cfg;

enum opt_type { OPT_STR, OPT_INT, OPT_DUR, OPT_BOOL };

struct opt {
	const char *name;
	enum opt_type type;
	size_t off;
	bool runtime; /* may change through /_sim/config */
	const char *help;
};

/* "Teams API implementation differences in national clouds"
 * (learn.microsoft.com/graph/teamwork-national-cloud-differences): where $orderby is not supported
 * Graph refuses it, or may ignore it and answer in no defined order. */
static const char *const orderby_modes[] = {"honour", "refuse", "ignore", NULL};

#define O(field) offsetof(struct gs_config, field)

static const struct opt opts[] = {
    {"listen", OPT_STR, O(listen_addr), false, "address to bind (default 127.0.0.1)"},
    {"port", OPT_INT, O(port), false, "port to bind; 0 picks a free one (default 0)"},
    {"port-file", OPT_STR, O(port_file), false, "write the bound port here once ready"},
    {"tls", OPT_BOOL, O(tls), false, "serve HTTPS with a generated CA (default on)"},
    {"ca-out", OPT_STR, O(ca_out), false, "write the generated CA certificate (PEM) here"},
    {"public-host", OPT_STR, O(public_host), false,
     "host name used in URLs and the server certificate (default 127.0.0.1)"},
    {"notify-ca", OPT_STR, O(notify_ca), true,
     "CA file used to verify notification URLs (default: system store)"},
    {"allow-http-notify", OPT_BOOL, O(allow_http_notify), true,
     "accept http:// notification URLs on loopback hosts (Graph requires HTTPS)"},
    {"access-token-lifetime", OPT_DUR, O(access_lifetime), true,
     "access token lifetime (default 3599s)"},
    {"access-lifetime-jitter", OPT_BOOL, O(access_lifetime_jitter), true,
     "vary each access token's lifetime by a random factor 1.0-1.5, as Entra's 60-90 "
     "minutes (default on)"},
    {"code-lifetime", OPT_DUR, O(code_lifetime), true, "authorization code lifetime (default 10m)"},
    {"refresh-inactivity", OPT_DUR, O(rt_inactivity), true,
     "refresh token inactivity window (default 90d)"},
    {"id-token-lifetime", OPT_DUR, O(id_token_lifetime), true, "id_token lifetime (default 1h)"},
    {"sub-max", OPT_DUR, O(sub_max), true, "maximum subscription lifetime (default 4320m)"},
    {"sub-grant-cap", OPT_DUR, O(sub_grant_cap), true,
     "grant at most this lifetime, silently, whatever was asked (Graph may grant less than "
     "requested and says so only in the answer's expirationDateTime); 0: as asked (default)"},
    {"sub-min", OPT_DUR, O(sub_min), true,
     "shorter requested lifetimes are raised to this (default 45m)"},
    {"lifecycle-required-above", OPT_DUR, O(lifecycle_required_above), true,
     "lifetimes above this need lifecycleNotificationUrl (default 1h)"},
    {"subs-per-user", OPT_INT, O(subs_per_user), true,
     "user-level chat message subscriptions per user (default 10)"},
    {"handshake-timeout", OPT_DUR, O(handshake_timeout), true,
     "validation handshake time limit (default 10s)"},
    {"delivery-timeout", OPT_DUR, O(delivery_timeout), true,
     "first delivery attempt must get a 2xx within this (default 3s)"},
    {"retry-timeout", OPT_DUR, O(retry_timeout), true, "time limit on retries (default 10s)"},
    {"retry-initial", OPT_DUR, O(retry_initial), true,
     "first retry delay, doubled each time (default 60s)"},
    {"retry-window", OPT_DUR, O(retry_window), true,
     "give up on a notification after this (default 4h)"},
    {"batch-window", OPT_DUR, O(batch_window), true,
     "notifications for one URL queued within this share a POST (default 50ms)"},
    {"batch-max", OPT_INT, O(batch_max), true, "most notifications in one POST (default 100)"},
    {"throttle-window", OPT_DUR, O(throttle_window), true,
     "window over which slow and dropped responses are counted (default 10m)"},
    {"throttle-delay", OPT_DUR, O(throttle_delay), true,
     "delay for a slow endpoint, and length of a drop period (default 10m)"},
    {"throttle-min-samples", OPT_INT, O(throttle_min_samples), true,
     "responses in a window before an endpoint can be throttled (default 10)"},
    {"reauth-lead", OPT_DUR, O(reauth_lead), true,
     "send reauthorizationRequired when a subscription has this left (default 1h)"},
    {"reauth-interval", OPT_DUR, O(reauth_interval), true,
     "repeat reauthorizationRequired this often until renewed (default 15m)"},
    {"token-clock", OPT_BOOL, O(token_clock), true,
     "follow each subscription's access token: reauthorizationRequired before it expires, "
     "delivery paused once it has (default on)"},
    {"reauth-token-lead", OPT_DUR, O(reauth_token_lead), true,
     "send reauthorizationRequired when the subscription's access token has this left "
     "(default 10m)"},
    {"hold-paused", OPT_BOOL, O(hold_paused), true,
     "hold notifications made while a subscription's token has expired and deliver them, "
     "at their next retry, once it is reauthorized within retry-window; off: they are lost "
     "(default on)"},
    {"reauth-cadence", OPT_DUR, O(reauth_cadence), true,
     "send reauthorizationRequired this often while a quarter of the subscription's token's "
     "remaining life is under an hour, as the lifecycle page's illustrative algorithm does "
     "(15m there; from the start for a 60-90 minute delegated token); 0: off (default)"},
    {"validation-token-lifetime", OPT_DUR, O(validation_token_lifetime), true,
     "lifetime of validationTokens in rich notifications (default 1h)"},
    {"validation-token-version", OPT_INT, O(validation_token_version), true,
     "1 (appid, sts.windows.net issuer; default) or 2 (azp, v2.0 issuer)"},
    {"chat-get-limit", OPT_INT, O(chat_get_limit), true,
     "requests on one chat (GETs of its messages, POSTs of one) per app, and POSTs to "
     "one chat per user, per period before 429 (default 1)"},
    {"chat-get-period", OPT_DUR, O(chat_get_period), true, "rate limit period (default 1s)"},
    {"tenant-message-limit", OPT_INT, O(tenant_message_limit), true,
     "GETs of chat messages per app per tenant per chat-get-period before 429 (Graph "
     "documents 20 a second); 0: not limited (default)"},
    {"tenant-get-limit", OPT_INT, O(tenant_get_limit), true,
     "other Teams GETs (List chats) per app per tenant per chat-get-period before 429 (Graph "
     "documents 30 a second); 0: not limited (default)"},
    {"poll-budget", OPT_INT, O(poll_budget), true,
     "first-page reads of one collection (a user's chats, a chat's messages) per app per "
     "poll-period before each further read is a violation; 0 = off (default 2)"},
    {"poll-period", OPT_DUR, O(poll_period), true, "polling budget period (default 1d)"},
    {"orderby-chats", OPT_STR, O(orderby_chats), true,
     "$orderby on List chats: honour (the global cloud; default), refuse (400, as the US "
     "Government clouds and China may) or ignore (chats in no defined order)"},
    {"orderby-messages", OPT_STR, O(orderby_messages), true,
     "$orderby on List messages in a chat: honour (default), refuse (400, as GCC may) or "
     "ignore (the default order, lastModifiedDateTime desc; $filter ignored with it)"},
    {"seed", OPT_STR, O(seed_file), false, "JSON file of apps, users and chats to create"},
    {"verbose", OPT_INT, O(verbose), true, "log level: 0 errors, 1 requests, 2 detail"},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

/* The values a text option takes, when not any text. */
static const char *const *
opt_choices(const struct opt *o)
{
	if (o->off == O(orderby_chats) || o->off == O(orderby_messages))
		return orderby_modes;
	return NULL;
}

void
gs_config_defaults(void)
{
	memset(&gs_cfg, 0, sizeof(gs_cfg));
	gs_cfg.listen_addr = gs_strdup("127.0.0.1");
	gs_cfg.public_host = gs_strdup("127.0.0.1");
	gs_cfg.tls = true;
	gs_cfg.access_lifetime = 3599;
	gs_cfg.access_lifetime_jitter = true;
	gs_cfg.code_lifetime = 600;
	gs_cfg.rt_inactivity = 90 * 86400.0;
	gs_cfg.id_token_lifetime = 3600;
	gs_cfg.sub_max = 4320 * 60.0;
	gs_cfg.sub_min = 45 * 60.0;
	gs_cfg.lifecycle_required_above = 3600;
	gs_cfg.subs_per_user = 10;
	gs_cfg.handshake_timeout = 10;
	gs_cfg.delivery_timeout = 3;
	gs_cfg.retry_timeout = 10;
	gs_cfg.retry_initial = 60;
	gs_cfg.retry_window = 4 * 3600.0;
	gs_cfg.batch_window = 0.05;
	gs_cfg.batch_max = 100;
	gs_cfg.throttle_window = 600;
	gs_cfg.throttle_delay = 600;
	gs_cfg.throttle_min_samples = 10;
	gs_cfg.reauth_lead = 3600;
	gs_cfg.reauth_interval = 900;
	gs_cfg.validation_token_lifetime = 3600;
	gs_cfg.token_clock = true;
	gs_cfg.reauth_token_lead = 600;
	/* Receive change notifications through webhooks: while Graph holds an
	 * expired token it retries each notification for up to 4 hours and
	 * delivers them once the token is refreshed
	 * (learn.microsoft.com/graph/change-notifications-delivery-webhooks) */
	gs_cfg.hold_paused = true;
	/* Microsoft's example and samples show v1 validationTokens (issuer
	 * https://sts.windows.net/{tid}/, appid): Set up change notifications
	 * that include resource data, "Validation tokens"
	 * (learn.microsoft.com/graph/change-notifications-with-resource-data) */
	gs_cfg.validation_token_version = 1;
	gs_cfg.chat_get_limit = 1;
	gs_cfg.chat_get_period = 1;
	/* Teams: poll a resource for changes about once a day. Two reads a day
	 * leave room for the daily sweep plus one read-back after a known
	 * interruption without flagging a well-behaved client. */
	gs_cfg.poll_budget = 2;
	gs_cfg.poll_period = 86400;
	gs_cfg.orderby_chats = gs_strdup("honour");
	gs_cfg.orderby_messages = gs_strdup("honour");
}

static const struct opt *
opt_find(const char *name)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		/* the control API spells names with '_' as JSON keys usually do */
		const char *a = opts[i].name, *b = name;
		while (*a && (*a == *b || (*a == '-' && *b == '_'))) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0')
			return &opts[i];
	}
	return NULL;
}

static int
opt_set(const struct opt *o, const char *val, char **ret_err)
{
	char *field = (char *)&gs_cfg + o->off;
	char *end;

	switch (o->type) {
	case OPT_STR:
		if (opt_choices(o)) {
			const char *const *c = opt_choices(o);
			while (*c && strcmp(*c, val) != 0)
				c++;
			if (!*c) {
				*ret_err =
				    gs_printf("--%s: not one of its values: %s", o->name, val);
				return -1;
			}
		}
		free(*(char **)field);
		*(char **)field = gs_strdup(val);
		return 0;
	case OPT_INT: {
		errno = 0;
		long v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < 0) {
			*ret_err = gs_printf("--%s: not a non-negative integer: %s", o->name, val);
			return -1;
		}
		if (o->off == O(port))
			*(int *)field = (int)v;
		else
			*(long *)field = v;
		return 0;
	}
	case OPT_DUR:
		if (gs_duration_parse(val, (double *)field) < 0) {
			*ret_err = gs_printf("--%s: not a duration (e.g. 90s, 15m, 4h, 3d): %s",
					     o->name, val);
			return -1;
		}
		return 0;
	case OPT_BOOL:
		if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes") ||
		    !strcmp(val, "on"))
			*(bool *)field = true;
		else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no") ||
			 !strcmp(val, "off"))
			*(bool *)field = false;
		else {
			*ret_err = gs_printf("--%s: not a boolean: %s", o->name, val);
			return -1;
		}
		return 0;
	}
	return -1;
}

void
gs_config_usage(FILE *out)
{
	fprintf(out, "Usage: graphsim [OPTION]...\n"
		     "Simulate the Microsoft identity platform and Microsoft Graph change\n"
		     "notifications for Teams chat messages, for tests of ctteams.\n\n"
		     "Durations take a unit: ms, s, m, h or d (a bare number is seconds).\n"
		     "Booleans: --NAME turns on, --no-NAME off, --NAME=VALUE sets.\n\n");
	for (size_t i = 0; i < N_OPTS; i++) {
		const char *arg = opts[i].type == OPT_STR   ? "=TEXT"
				  : opts[i].type == OPT_INT ? "=N"
				  : opts[i].type == OPT_DUR ? "=DURATION"
							    : "";
		char left[64];
		snprintf(left, sizeof(left), "--%s%s", opts[i].name, arg);
		fprintf(out, "  %-34s %s%s\n", left, opts[i].help,
			opts[i].runtime ? " [runtime]" : "");
	}
	fprintf(out, "  %-34s %s\n", "-h, --help", "show this help and exit");
	fprintf(out, "\nOptions marked [runtime] can also be changed while running with\n"
		     "POST /_sim/config {\"name\": value}. The control API is described in\n"
		     "docs/testing.md.\n");
}

int
gs_config_parse_args(int argc, char **argv)
{
	struct option *lo = calloc(2 * N_OPTS + 2, sizeof(*lo));
	size_t n = 0;
	char *err = NULL;
	int rc = 0;

	for (size_t i = 0; i < N_OPTS; i++) {
		lo[n++] = (struct option){
		    opts[i].name, opts[i].type == OPT_BOOL ? optional_argument : required_argument,
		    NULL, (int)(1000 + i)};
		if (opts[i].type == OPT_BOOL)
			lo[n++] = (struct option){gs_printf("no-%s", opts[i].name), no_argument,
						  NULL, (int)(2000 + i)};
	}
	lo[n++] = (struct option){"help", no_argument, NULL, 'h'};

	int c;
	while (rc == 0 && (c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			gs_config_usage(stdout);
			rc = 1;
		} else if (c >= 2000) {
			*(bool *)((char *)&gs_cfg + opts[c - 2000].off) = false;
		} else if (c >= 1000) {
			const struct opt *o = &opts[c - 1000];
			if (opt_set(o, optarg ? optarg : "true", &err) < 0) {
				fprintf(stderr, "graphsim: %s\n", err);
				free(err);
				rc = -1;
			}
		} else {
			fprintf(stderr, "Try 'graphsim --help'.\n");
			rc = -1;
		}
	}
	if (rc == 0 && optind < argc) {
		fprintf(stderr, "graphsim: unexpected argument: %s\n", argv[optind]);
		rc = -1;
	}
	for (size_t i = 0; i < n; i++)
		if (lo[i].val >= 2000)
			free((char *)lo[i].name);
	free(lo);
	return rc;
}

int
gs_config_apply_json(json_t *obj, char **ret_err)
{
	const char *key;
	json_t *val;

	if (!json_is_object(obj)) {
		*ret_err = gs_strdup("expected a JSON object of option names and values");
		return -1;
	}
	/* check everything first so a bad request changes nothing */
	json_object_foreach (obj, key, val) {
		const struct opt *o = opt_find(key);
		if (!o || !o->runtime) {
			*ret_err = gs_printf("%s: not an option that can change at runtime", key);
			return -1;
		}
		if (!json_is_string(val) && !json_is_number(val) && !json_is_boolean(val)) {
			*ret_err = gs_printf("%s: value must be a string, number or boolean", key);
			return -1;
		}
	}
	json_object_foreach (obj, key, val) {
		const struct opt *o = opt_find(key);
		char *s = json_is_string(val)    ? gs_strdup(json_string_value(val))
			  : json_is_boolean(val) ? gs_strdup(json_is_true(val) ? "true" : "false")
			  : json_is_integer(val) ? gs_printf("%lld", json_integer_value(val))
						 : gs_printf("%.6f", json_real_value(val));
		int rc = opt_set(o, s, ret_err);
		free(s);
		if (rc < 0)
			return -1;
	}
	return 0;
}

json_t *
gs_config_to_json(void)
{
	json_t *obj = json_object();

	for (size_t i = 0; i < N_OPTS; i++) {
		const char *field = (const char *)&gs_cfg + opts[i].off;
		json_t *v = NULL;
		switch (opts[i].type) {
		case OPT_STR:
			v = *(char *const *)field ? json_string(*(char *const *)field)
						  : json_null();
			break;
		case OPT_INT:
			v = json_integer(opts[i].off == O(port) ? *(const int *)field
								: *(const long *)field);
			break;
		case OPT_DUR:
			v = json_real(*(const double *)field);
			break;
		case OPT_BOOL:
			v = json_boolean(*(const bool *)field);
			break;
		}
		json_object_set_new(obj, opts[i].name, v);
	}
	return obj;
}
