/*
 * The event loop. event.c is the only file that touches file descriptors:
 * the public HTTP listener (libmicrohttpd, external epoll mode), outbound
 * HTTP (libcurl's multi socket API), the control socket, signals and timers
 * all meet in one epoll loop on one thread. Nothing in the agent blocks on
 * the network.
 */
#ifndef CT_EVENT_H
#define CT_EVENT_H

#include <curl/curl.h>
#include <microhttpd.h>
#include <stdbool.h>

int ev_init(void);
/* Runs until ev_stop(); returns 0. */
int ev_run(void);
void ev_stop(void);
void ev_shutdown(void);
void ev_on_signals(void (*on_term)(void), void (*on_hup)(void));

struct ev_timer;
struct ev_timer *ev_timer_new(void (*cb)(void *arg), void *arg);
void ev_timer_arm(struct ev_timer *t, double seconds);
void ev_timer_stop(struct ev_timer *t);
bool ev_timer_armed(const struct ev_timer *t);
double ev_timer_remaining(const struct ev_timer *t);
void ev_timer_free(struct ev_timer *t);

/* The public listener: a daemon started with MHD_USE_EPOLL and no thread,
 * and its connection limit. */
void ev_http_attach(struct MHD_Daemon *d, unsigned int max_connections);
void ev_http_detach(void);
/* Stop accepting connections; those open finish. */
void ev_http_quiesce(void);
/* Something was resumed: run MHD on the next turn. */
void ev_http_kick(void);
/* Close a connection of the listener (a deadline passed). */
void ev_http_drop(struct MHD_Connection *conn);
/* fn runs after every MHD_run, to finish what the run took in as one batch
 * (the webhook's group commit); it returns true when it resumed
 * connections, and MHD runs again at once to send their answers. */
void ev_http_on_batch(bool (*fn)(void));

/* The metrics listener (metrics.c): another daemon started with
 * MHD_USE_EPOLL and no thread; nothing is admitted or batched for it. */
void ev_metrics_attach(struct MHD_Daemon *d, unsigned int max_connections);
void ev_metrics_detach(void);

/* Outbound HTTP: done() runs on the loop once the transfer ends; the easy
 * handle is removed from the multi handle first and belongs to the caller. */
int ev_curl_add(CURL *easy, void (*done)(CURL *easy, CURLcode rc, void *arg), void *arg);
int ev_curl_running(void);
/* After the loop: the transfers still under way (the drain's time ran out)
 * end as aborted, so their owners free what they hold; from then on no
 * transfer starts. Call it while the owners are still there. */
void ev_curl_abort_all(void);

/* net-snmp's sessions (the AgentX subagent, plugin/): the loop watches
 * the descriptors snmp_select_info2 names and runs net-snmp's reads,
 * timeouts and alarms (NETSNMP_DS_LIB_ALARM_DONT_USE_SIG). */
void ev_snmp_attach(void);
void ev_snmp_detach(void);

/* A one-shot question on a fresh stream connection, asked without
 * blocking: connect to `where` (an absolute AF_UNIX path, or
 * tcp:IPV4-ADDRESS:PORT), send req, and wait for `want` bytes of answer,
 * all within `timeout`. done() runs once, on the loop, with the answer, or
 * with NULL and why. For a peer that a library would talk to synchronously
 * (net-snmp's AgentX Open): ask first, so that one that does not answer
 * never holds the loop. One probe at a time; -1 if one is under way or
 * `where` is not usable. */
typedef void (*ev_probe_done)(const unsigned char *answer, size_t n, const char *why, void *arg);
int ev_probe(const char *where, const void *req, size_t len, size_t want, double timeout,
	     ev_probe_done done, void *arg);
/* The probe under way ends without its callback. */
void ev_probe_cancel(void);

/* The control sockets: one JSON request per line, one answer per line.
 * The handler learns who asks (SO_PEERCRED) and on which socket. */
struct ev_ctl_peer {
	long uid; /* -1: unknown */
	long pid;
	bool readonly; /* the monitoring socket */
};
typedef char *(*ev_ctl_handler)(const char *line, const struct ev_ctl_peer *peer);
/* readonly: the monitoring socket. group: its group id (-1: the daemon's). */
int ev_ctl_listen(const char *path, bool readonly, long group, ev_ctl_handler handler,
		  char **ret_err);
void ev_ctl_close(void);

#endif
