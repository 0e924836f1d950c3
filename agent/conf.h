/*
 * ctteamsd.conf: one [agent] section and one [org NAME] section per tenant.
 * Every problem is reported with the file and line; nothing half-loaded is
 * ever used. docs/configuration.md documents each key.
 */
#ifndef CT_CONF_H
#define CT_CONF_H

#include <stdbool.h>
#include <time.h>

#include "cidr.h"
#include "log.h"

struct conf_org {
	char *name;                   /* [org NAME]: the {org} of the public URLs */
	char *tenant_id;              /* Directory (tenant) ID */
	char *client_id;              /* Application (client) ID */
	char *client_secret_file;     /* holds the client secret value; 0600 or 0640 */
	time_t client_secret_expires; /* 0: not given */
	char *service_user;           /* UPN that must sign in */
	char *authority_host;         /* the org's, or the agent's */
	char *graph_endpoint;
	char *emergency_phrases; /* '|'-separated; NULL: the default phrase */
	char *emergency_regex;   /* POSIX ERE, case-insensitive; NULL: none */
	char *test_numbers;      /* '|'-separated dial strings; NULL: 933 */
	bool rich_notifications; /* encrypted payloads (default) or basic + GET */
	bool rich_given;         /* set in the file, not by default */
	char *token_issuers;     /* validationToken issuers ({tenant}); NULL: the cloud's */
	char *canary_chat;       /* the delivery canary's chat; NULL: no canary */
	double canary_interval;  /* a marker this often */
	double canary_timeout;   /* the webhook must bring it back within this */
};

struct conf {
	char *path;
	char *warnings;   /* valid but doubtful settings, one per line; NULL: none */
	char *public_url; /* scheme://host[:port], no trailing slash */
	char *listen_addr;
	int listen_port;
	char *metrics_addr; /* NULL: no metrics listener */
	int metrics_port;
	char *tls_cert;
	char *tls_key;
	char *state_dir;
	char *database; /* postgresql://...; NULL: SQLite under state_dir */
	char *database_password_file;
	char *agent_name;  /* this agent among those sharing a database */
	double lease_time; /* a duty's holder that stops renewing loses it after */
	char *control_socket;
	char *monitor_socket; /* read-only: status, alarms, events; NULL: none */
	long monitor_group;   /* its group id; -1: the daemon's */
	bool monitor_ack;     /* may it acknowledge events (the consoles)? */
	char *authority_host;
	char *graph_endpoint;
	char *ca_file;
	enum log_level log_level;
	double refresh_margin;        /* seconds before access-token expiry */
	double subscription_lifetime; /* asked of Graph at create and renew */
	double renew_margin;          /* renew this long before expiry */
	double reconcile_interval;    /* the reconcile's sweep; Microsoft allows ~1/day */
	double backfill_delay;        /* a window is read this long after it ends */
	double event_alarm_hold;      /* an alarm an event raised stays this long */
	double throttle_alarm_after;  /* Graph's throttling this long is an alarm */
	double output_stuck_after;    /* an output failing this long is an alarm */
	double heartbeat_interval;    /* a heartbeat to every output this often; 0: none */
	char *runbook_base_url;       /* where the NOC reads docs/: alarms.md, ... */
	double event_retention;       /* events and outbox entries kept this long */
	long event_max;               /* and at most this many events */
	long dead_letter_after;       /* failed tries before an item is set aside */
	double cert_rotation;         /* encryption certificate for rich notifications */
	struct cidr_list allow_from;  /* webhook sources; empty: anyone */
	struct cidr_list trust_proxy; /* whose X-Forwarded-For is believed */
	struct cidr_list signin_from; /* who may open the sign-in pages */
	double http_connect_timeout;
	double http_timeout;
	long max_connections;
	long max_per_address;  /* connections from one address; 0: no limit */
	long max_body;         /* bytes accepted in one request */
	long max_body_total;   /* bytes of request bodies buffered at once */
	double header_timeout; /* accept to last header byte, TLS included */
	double body_timeout;   /* last header byte to last body byte */
	/* SNMP (plugin/): the AgentX master, or NULL for no SNMP */
	char *agentx_socket;     /* a path, or tcp:HOST:PORT */
	double agentx_timeout;   /* a request to the master */
	long agentx_retries;     /* and its retries */
	double agentx_reconnect; /* how often to try an absent master */
	double trap_max_age;     /* a notification the master did not take is given up */
	long snmp_events;        /* rows of the recent-event table */
	/* passive check results (agent/passive.c) */
	char *passive_host;         /* the services' host: %o the org */
	char *service_name;         /* the services' names: %c the check, %o the org */
	double passive_max_age;     /* a result not taken by then is given up */
	char *nagios_command_file;  /* Nagios' external command file; NULL: off */
	char *icinga_url;           /* Icinga 2's API, https://HOST:5665; NULL: off */
	char *icinga_user;          /* an ApiUser with actions/process-check-result */
	char *icinga_password_file; /* its password, 0600 */
	char *icinga_ca_file;       /* the Icinga CA that signed the API's certificate */
	double icinga_ttl;          /* the result's ttl; 0: none */
	struct conf_org **orgs;
	size_t n_orgs;
};

/* Loads and checks a file; NULL with every problem, one per line, in
 * *ret_errors (free it). */
struct conf *conf_load(const char *path, char **ret_errors);
void conf_free(struct conf *c);
struct conf_org *conf_org_find(const struct conf *c, const char *name);
bool conf_org_name_valid(const char *name);
/* Parses "90s", "15m", "4h", "3d" (a bare number is seconds). */
int conf_duration(const char *s, double *ret);

#endif
