/* Small helpers shared by the agent and ctteamsctl. */
#ifndef CT_UTIL_H
#define CT_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Frees a string after overwriting it, for anything secret. */
void free_secret(char *s);

double now_wall(void); /* seconds since the epoch */
double now_mono(void); /* seconds, monotonic */
/* seconds, monotonic, counting while the process is stopped and the host
 * suspended (CLOCK_BOOTTIME): a lease's deadline (ha.c) */
double now_boot(void);
/* When the agent started (the first call: main's, at the start). */
double now_started(void);
char *time_iso(double t); /* 2026-11-28T13:50:00Z */
/* Graph's DateTimeOffset, e.g. 2026-12-01T13:33:01.1234567Z; -1 if not one. */
int time_parse(const char *s, double *ret);

void random_bytes(void *buf, size_t len);
/* The one backoff policy: min doubled n times (n from 0), at most max;
 * with jitter, a random point of its upper half, so that what failed
 * together (orgs after an outage) does not come back together. */
double backoff_delay(double min, double max, long n, bool jitter);
/* base64url of len random bytes: unguessable identifiers (state, links). */
char *random_id(size_t len);
char *b64url_encode(const unsigned char *in, size_t len);
unsigned char *b64url_decode(const char *in, size_t *ret_len);
/* Standard base64 with padding; NULL when it is not. */
unsigned char *b64_decode(const char *in, size_t *ret_len);
/* Constant-time comparison of secrets: time depends on b's length only. */
bool secret_equal(const char *a, const char *b);

struct url {
	char scheme[8];
	char host[256];
	int port;
	char path[512];
};
int url_parse(const char *s, struct url *ret);
bool url_host_is_loopback(const char *host);
char *url_encode(const char *s);
/* "host:port" or "[v6]:port" */
int addr_parse(const char *s, char **ret_host, int *ret_port);
/* An IP address (no name) and port as a socket address; -1 if addr is not
 * one. *ret_v6: an IPv6 address. */
struct sockaddr_storage;
int sockaddr_of(const char *addr, int port, struct sockaddr_storage *ss, bool *ret_v6);
/* Escapes &<>"' for HTML. */
char *html_escape(const char *s);
/* Reads a whole small file; NULL on error (errno set). Trailing newlines
 * are dropped. */
char *file_read(const char *path, size_t max);

/* The chat and message ids of a change notification's resource,
 * "chats('19:x@thread.v2')/messages('1795873981406')"; -1 if it is not one. */
int graph_message_ids(const char *resource, char **ret_chat, char **ret_msg);

/* A time as JSON: its ISO 8601 string, or null when not known (t <= 0). */
json_t *json_time(double t);

#endif
