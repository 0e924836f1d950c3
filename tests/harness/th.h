/*
 * Test harness shared by ctteams' tests: start graphsim and other helper
 * processes on loopback with free ports, speak HTTP(S) to them, receive
 * webhooks, and check Graph's cryptography independently of both graphsim
 * and the agent. Every wait polls a condition with a deadline; none sleeps
 * a fixed time in place of synchronisation.
 */
#ifndef TH_H
#define TH_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- th_proc.c ---- */

double th_now(void);
char *th_tmpdir(const char *tag); /* mkdtemp under $TMPDIR; free() it */
void th_rmtree(const char *dir);
/* Polls pred(arg) every 10 ms until it holds or timeout seconds pass. */
bool th_wait_until(bool (*pred)(void *), void *arg, double timeout);
bool th_wait_file(const char *path, double timeout);
char *th_read_file(const char *path);
/* Writes text to path (replacing it); 0 or -1. */
int th_write_file(const char *path, const char *text);
/* A loopback TCP port that was free a moment ago. */
int th_free_port(void);
/* Runs argv, waits, returns the exit status (-1 if killed); output in
 * *ret_out and *ret_err when not NULL. */
int th_run(const char *const *argv, char **ret_out, char **ret_err);

struct th_graphsim {
	pid_t pid;
	int port;
	char *dir;
	char *base; /* https://127.0.0.1:PORT */
	char *ca;   /* CA file to verify it with; NULL with --no-tls */
	char *log;  /* its stderr */
};

/* Starts graphsim with extra options (NULL-terminated); 0 when it is ready. */
int th_graphsim_start(struct th_graphsim *gs, const char *const *extra);
/* Stops it; -1 when it did not exit cleanly (a crash or sanitizer report). */
int th_graphsim_stop(struct th_graphsim *gs);
/* Calls the control API; body is stolen; returns the parsed answer. */
json_t *th_sim(struct th_graphsim *gs, const char *method, const char *path, json_t *body,
	       long *ret_status);
/* Creates a user in a tenant; returns the user's id (free it). */
char *th_sim_user(struct th_graphsim *gs, const char *tenant, const char *upn, const char *name);

/* ---- th_http.c ---- */

struct th_resp {
	long status;
	char *body;
	size_t len;
	char *location;
	char *retry_after;
	char *content_type;
	char *www_authenticate;
	char *error; /* why no answer came (curl's words), or NULL */
};

/* One request; headers is NULL-terminated ("Name: value"). 0 when an answer
 * came, whatever its status. */
int th_http(const char *method, const char *url, const char *ca, const char *const *headers,
	    const char *body, struct th_resp *ret);
void th_resp_free(struct th_resp *r);
json_t *th_resp_json(const struct th_resp *r);
char *th_urlenc(const char *s);
/* The value of a query parameter in a URL, decoded; NULL if absent. */
char *th_url_param(const char *url, const char *name);
/* GET url as a browser would: following redirects across hosts, trusting
 * ca (and the system store) for HTTPS. The last answer is in *ret. */
int th_browse(const char *url, const char *ca, struct th_resp *ret);
/* GET url with a bearer token. */
int th_graph_get(struct th_graphsim *gs, const char *token, const char *path, struct th_resp *ret);
int th_graph_send(struct th_graphsim *gs, const char *method, const char *token, const char *path,
		  json_t *body, struct th_resp *ret); /* body stolen */

/* PKCE S256: a random verifier and its challenge (both free()). */
void th_pkce(char **ret_verifier, char **ret_challenge);

/* ---- th_hook.c: a webhook receiver ---- */

enum th_validation {
	TH_VALIDATE_ECHO,       /* 200 text/plain, the decoded token: correct */
	TH_VALIDATE_ECHO_RAW,   /* the token still URL-encoded: wrong */
	TH_VALIDATE_FAIL,       /* 500 */
	TH_VALIDATE_WRONG_TYPE, /* the token as text/html */
};

struct th_hook_cfg {
	enum th_validation validation;
	long validation_delay_ms;
	unsigned int notify_status; /* default 202 */
	long notify_delay_ms;
	long notify_fail_first;  /* answer 503 to this many notification POSTs */
	const char *notify_body; /* the answer's JSON body (static), or NULL */
};

struct th_hook;

/* cert_file/key_file both NULL for plain HTTP. */
struct th_hook *th_hook_start(const char *cert_file, const char *key_file);
void th_hook_stop(struct th_hook *h);
char *th_hook_url(struct th_hook *h, const char *path);
void th_hook_configure(struct th_hook *h, const struct th_hook_cfg *cfg);
size_t th_hook_validations(struct th_hook *h, const char *path);
/* Notification POSTs received so far: [{path, time, body, answered_error,
 * authorization, accept}] (a copy). */
json_t *th_hook_posts(struct th_hook *h);
/* Waits until n notification POSTs to path (NULL: any) have arrived. */
bool th_hook_wait(struct th_hook *h, const char *path, size_t n, double timeout);
void th_hook_clear(struct th_hook *h);
/* Writes a self-signed certificate and key for 127.0.0.1 into dir. */
int th_selfsigned(const char *dir, char **ret_cert_file, char **ret_key_file);

/* ---- th_crypto.c: Graph's cryptography, checked independently ---- */

/* An RSA key and a self-signed certificate (base64 DER) for subscriptions. */
EVP_PKEY *th_rsa_cert(int bits, char **ret_cert_b64);
/* Decrypts encryptedContent; NULL with *ret_err set when anything is off
 * (bad key, HMAC mismatch, bad padding). */
char *th_rich_decrypt(EVP_PKEY *priv, json_t *enc, char **ret_err);
/* Verifies an RS256 JWT against a JWKS; fills the claims. */
int th_jwt_verify(const char *jwt, json_t *jwks, json_t **ret_claims, char **ret_err);
json_t *th_jwt_claims_unverified(const char *jwt);

/* ---- th_snmp.c: real snmpd (AgentX master) and snmptrapd ---- */

struct th_snmp {
	char *dir;
	int port;      /* snmpd's UDP port */
	int trap_port; /* snmptrapd's */
	char *agentx;  /* the master's unix socket */
	char *snmpd_conf, *snmpd_log, *snmpd_pid;
	char *trap_log; /* one line per notification: "TRAP <security>\t<varbinds>" */
	pid_t snmpd, trapd;
};

/* -M for the net-snmp tools: the IETF MIBs, Debian's, CT-TEAMS-MIB. */
const char *th_snmp_mibdirs(void);
/* Both daemons; extra lines for snmpd.conf (where "@TRAPSINK@" is
 * snmptrapd's address) and snmptrapd.conf, or NULL. */
int th_snmp_start(struct th_snmp *s, const char *snmpd_extra, const char *trapd_extra);
void th_snmp_stop(struct th_snmp *s);
/* snmpd alone, with the same configuration (a restart). */
int th_snmpd_start(struct th_snmp *s);
void th_snmpd_stop(struct th_snmp *s);
/* snmpwalk / snmpget -v2c -OQs: "name.index = value" lines; NULL on failure. */
char *th_snmp_walk(struct th_snmp *s, const char *oid);
/* The same with GETBULK (snmpbulkwalk's default of 10 per request), as a
 * manager would walk a table. */
char *th_snmp_bulkwalk(struct th_snmp *s, const char *oid);
char *th_snmp_get(struct th_snmp *s, const char *oid);
/* What snmptrapd logged so far. */
char *th_snmp_traps(struct th_snmp *s);
/* The value of name in "name = value" lines (a walk with -OQs, a trap line
 * from snmptrapd): after a line start or a tab, without "STRING: " and
 * quotes, up to the next tab or line end; NULL when absent. */
char *th_snmp_value(const char *text, const char *name);

/* ---- th_icinga.c: a real Icinga 2 daemon ---- */

struct th_icinga {
	pid_t pid;
	char *dir;
	int port;
	char *ca;  /* the CA that signed the API's certificate */
	char *url; /* https://127.0.0.1:PORT */
	char *user;
	char *password;
};

/* Starts icinga2 with objects_file and an API user that may submit check
 * results and read objects; 0 once its API answers. */
int th_icinga_start(struct th_icinga *ic, const char *objects_file, const char *user,
		    const char *password);
/* The same with Icinga's checker and notification features, as in a real
 * installation: the objects' active checks and notifications run too. */
int th_icinga_start_checking(struct th_icinga *ic, const char *objects_file, const char *user,
			     const char *password);
/* GET path from the API as that user; the parsed answer, NULL unless 200. */
json_t *th_icinga_get(struct th_icinga *ic, const char *path);
/* POST body (taken) to path; the parsed answer, NULL unless 200. */
json_t *th_icinga_post(struct th_icinga *ic, const char *path, json_t *body);
void th_icinga_stop(struct th_icinga *ic);

/* ---- th_nagios.c: a real Nagios 4 core ---- */

struct th_nagios {
	char *dir, *cfg, *cmd, *status, *log;
	pid_t pid;
	bool notify; /* notifications on (set before th_nagios_configure) */
};

/* The directory and the command file's path, before the agent starts. */
int th_nagios_init(struct th_nagios *n);
/* nagios.cfg with Debian's standard objects and objects_file, whose
 * commands get "-S monitor_socket" and $USER1$ = plugins. */
int th_nagios_configure(struct th_nagios *n, const char *objects_file, const char *plugins,
			const char *monitor_socket);
/* 0 once it reads its command file. */
int th_nagios_start(struct th_nagios *n);
void th_nagios_stop(struct th_nagios *n);
/* Stops it and removes its directory (kept with TH_KEEP). */
void th_nagios_free(struct th_nagios *n);
/* The service's block of status.dat (free it), or NULL. */
char *th_nagios_service(struct th_nagios *n, const char *service);
/* One external command into Nagios' command file, as an operator's web
 * interface writes it ("[time] ACKNOWLEDGE_SVC_PROBLEM;..."); 0 done. */
int th_nagios_command(struct th_nagios *n, const char *line);

/* ---- th_show.c: narration for the demo programs ---- */

/* th_proxy.c: a TCP load balancer on 127.0.0.1:port for backends a and b
 * (ports): in turn (round_robin), or a while it answers; the other when
 * one refuses. */
struct th_proxy;
struct th_proxy *th_proxy_start(int port, int a, int b, bool round_robin);
void th_proxy_mode(struct th_proxy *p, bool round_robin);
/* Backend which (0: a, 1: b) first, the other when it refuses: what a
 * balancer's health check does when one stops answering. */
void th_proxy_prefer(struct th_proxy *p, int which);
/* Connections given to backend which (0: a, 1: b). */
long th_proxy_served(struct th_proxy *p, int which);
void th_proxy_stop(struct th_proxy *p);

/* th_pg.c: a PostgreSQL server of the test's own (TLS, SCRAM password) */
struct th_pg {
	char *dir;
	int port;
	char *pwfile; /* the password of user ctteams, alone in the file */
	char *ca;     /* the server's certificate, to verify it with */
	bool as_postgres;
};
int th_pg_start(struct th_pg *pg);
/* Stops the server, keeping its data (th_pg_resume starts it again). */
int th_pg_halt(struct th_pg *pg);
int th_pg_resume(struct th_pg *pg);
void th_pg_stop(struct th_pg *pg);
/* A URI for database db: user ctteams, TLS verified (sslmode=verify-full). */
char *th_pg_uri(struct th_pg *pg, const char *db);
/* A new database: its URI, or NULL. */
char *th_pg_newdb(struct th_pg *pg, const char *name);
/* Runs sql with psql; its rows, unaligned, in *ret_out. */
int th_pg_sql(struct th_pg *pg, const char *db, const char *sql, char **ret_out);

void th_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void th_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends the program with status 1 when ok is false. */
void th_check(bool ok, const char *what);

#endif
