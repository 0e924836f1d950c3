/*
 * Connection admission and deadlines for the public listener. Every
 * connection is in one phase: waiting for its header (from accept, or
 * from the end of the previous request on a kept-alive connection),
 * receiving its body, or busy (being processed or answered, which is our
 * doing and never cut short). A sweep closes the ones past their phase's
 * deadline; near the connection limit the deadlines shrink to what a
 * prompt client needs, so slow and idle connections go first.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "cidr.h"
#include "event.h"
#include "log.h"
#include "util.h"

/* Near the limit: what a prompt client needs for its header and body on
 * any network Graph uses; a slower connection loses its slot. */
#define PRESSURE_HEADER 0.5
#define PRESSURE_BODY   1.0
#define SWEEP_CALM      1.0
#define SWEEP_PRESSED   0.1
#define SMALL_BODY      (16 * 1024)
#define MIN_AGE         0.05 /* with TLS, never closed to make room before this */

enum phase { PH_HEADER, PH_BODY, PH_BUSY };

struct adm_conn {
	struct MHD_Connection *conn;
	enum phase phase;
	double since; /* the phase began (monotonic) */
	bool dropped;
	struct adm_conn *prev, *next;
};

static const struct conf *cfg;
static struct adm_conn *head, *tail;
static struct ev_timer *sweeper;
static struct adm_counts counts;
static size_t body_used;
static long n_dropping; /* shut down, not yet closed by MHD */
static long conn_limit; /* max_connections at start: MHD's own is fixed then */

/* Connections open and not yet being closed. */
static long
live(void)
{
	return counts.connections - n_dropping;
}

/* Short of slots or of body memory: deadlines shrink to what a prompt
 * client needs. libmicrohttpd's own limit is half as much again
 * (server.c), so it never stops accepting while the connections closed
 * to make room are on their way out. */
static long
soft_limit(void)
{
	return conn_limit;
}

static bool
pressed(void)
{
	return cfg && (live() > soft_limit() || body_used > (size_t)cfg->max_body_total / 4 * 3);
}

static struct adm_conn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void
enter(struct MHD_Connection *conn, enum phase ph)
{
	struct adm_conn *ac = conn_of(conn);

	if (ac) {
		ac->phase = ph;
		ac->since = now_mono();
	}
}

void
adm_headers_done(struct MHD_Connection *conn)
{
	enter(conn, PH_BODY);
}

void
adm_body_done(struct MHD_Connection *conn)
{
	enter(conn, PH_BUSY);
}

void
adm_request_done(struct MHD_Connection *conn)
{
	enter(conn, PH_HEADER);
}

/* How long this connection may stay in its phase. */
static double
allowed(const struct adm_conn *ac, bool pressure)
{
	switch (ac->phase) {
	case PH_HEADER:
		return pressure && PRESSURE_HEADER < cfg->header_timeout ? PRESSURE_HEADER
									 : cfg->header_timeout;
	case PH_BODY:
		return pressure && PRESSURE_BODY < cfg->body_timeout ? PRESSURE_BODY
								     : cfg->body_timeout;
	case PH_BUSY:
		break;
	}
	return -1;
}

static void
drop(struct adm_conn *ac, bool pressure)
{
	ac->dropped = true;
	n_dropping++;
	if (pressure)
		counts.evicted++;
	else if (ac->phase == PH_HEADER)
		counts.header_deadline++;
	else
		counts.body_deadline++;
	ev_http_drop(ac->conn);
}

/* Over max_connections: close the connection that has waited longest
 * for its header (an idle keep-alive included) or its body. A prompt
 * client's request arrives in one piece, so it is never the oldest; a
 * request already in is never cut short. */
static long
make_room(void)
{
	double now = now_mono(), min_age = cfg->tls_cert ? MIN_AGE : 0;
	long n = 0;

	while (live() > soft_limit()) {
		struct adm_conn *victim = NULL;
		for (struct adm_conn *ac = head; ac; ac = ac->next) {
			/* with TLS, a newcomer gets the time of a handshake and
			 * a request, even against a flood of reconnections
			 * (over plain HTTP a prompt request comes in one piece) */
			if (ac->dropped || ac->phase == PH_BUSY || now - ac->since < min_age)
				continue;
			if (!victim || ac->since < victim->since)
				victim = ac;
		}
		if (!victim)
			break;
		drop(victim, true);
		n++;
	}
	return n;
}

static void
said(long deadline, long evicted)
{
	if (evicted)
		log_warn_limited("http", "pressure", 60,
				 "%ld connections open (max_connections %ld): closed %ld that "
				 "were slow or idle to make room",
				 counts.connections, cfg->max_connections, evicted);
	if (deadline)
		log_warn_limited("http", "deadline", 60,
				 "closed %ld connection(s) that did not send a whole request in "
				 "time (header_timeout %.0f s, body_timeout %.0f s)",
				 deadline, cfg->header_timeout, cfg->body_timeout);
}

static void
sweep(void *arg)
{
	double now = now_mono();
	bool pressure = pressed();
	long late = 0, evicted = 0;

	(void)arg;
	for (struct adm_conn *ac = head; ac; ac = ac->next) {
		double limit = allowed(ac, pressure);
		if (!ac->dropped && limit >= 0 && now - ac->since > limit) {
			drop(ac, pressure);
			pressure ? evicted++ : late++;
		}
	}
	evicted += make_room();
	said(late, evicted);
	/* with no connection there is nothing to sweep: the next one arms it */
	if (head)
		ev_timer_arm(sweeper, pressed() ? SWEEP_PRESSED : SWEEP_CALM);
}

enum MHD_Result
adm_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	char ip[INET6_ADDRSTRLEN] = "";

	(void)cls;
	(void)addrlen;
	if (!cfg || cfg->allow_from.n == 0)
		return MHD_YES;
	if (addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, ip, sizeof(ip));
	else if (addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, ip,
			  sizeof(ip));
	/* Graph, the browsers that sign in, and the proxies in front of
	 * either: nobody else is read from at all */
	if (cidr_match(&cfg->allow_from, ip) || cidr_match(&cfg->signin_from, ip) ||
	    cidr_match(&cfg->trust_proxy, ip))
		return MHD_YES;
	counts.refused_source++;
	log_warn_limited("http", "accept", 60,
			 "refused a connection from %s: not in allow_from, signin_from or "
			 "trust_proxy",
			 ip);
	return MHD_NO;
}

void
adm_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
	   enum MHD_ConnectionNotificationCode code)
{
	struct adm_conn *ac = *socket_context;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ac = xcalloc(1, sizeof(*ac));
		ac->conn = conn;
		ac->phase = PH_HEADER;
		ac->since = now_mono();
		ac->prev = tail;
		if (tail)
			tail->next = ac;
		else
			head = ac;
		tail = ac;
		*socket_context = ac;
		counts.connections++;
		said(0, make_room());
		if (sweeper && (!ev_timer_armed(sweeper) ||
				(pressed() && ev_timer_remaining(sweeper) > SWEEP_PRESSED)))
			ev_timer_arm(sweeper, pressed() ? SWEEP_PRESSED : SWEEP_CALM);
	} else if (ac) {
		if (ac->dropped)
			n_dropping--;
		if (ac->prev)
			ac->prev->next = ac->next;
		else
			head = ac->next;
		if (ac->next)
			ac->next->prev = ac->prev;
		else
			tail = ac->prev;
		counts.connections--;
		free(ac);
		*socket_context = NULL;
	}
}

bool
adm_body_reserve(size_t n, size_t body_len)
{
	/* a quarter of the budget is kept for small bodies (a notification
	 * from Graph is a few KiB): large ones, forged or slow, cannot take
	 * it all while they wait to be decided */
	size_t room = (size_t)(cfg ? cfg->max_body_total : 0);

	if (cfg && body_len > SMALL_BODY)
		room -= room / 4;
	if (cfg && body_used + n > room) {
		counts.body_budget++;
		log_warn_limited("http", "body-budget", 60,
				 "request bodies buffered reached max_body_total (%ld bytes): "
				 "connections whose bodies do not fit are closed until they drain",
				 cfg->max_body_total);
		return false;
	}
	body_used += n;
	return true;
}

void
adm_body_release(size_t n)
{
	body_used -= n < body_used ? n : body_used;
}

long
adm_in_flight(void)
{
	long n = 0;

	for (struct adm_conn *ac = head; ac; ac = ac->next)
		n += !ac->dropped && ac->phase != PH_HEADER;
	return n;
}

void
adm_counts(struct adm_counts *ret)
{
	*ret = counts;
	ret->body_bytes = (long)body_used;
}

void
adm_configure(const struct conf *c)
{
	cfg = c;
	if (!conn_limit)
		conn_limit = c->max_connections;
	if (!sweeper)
		sweeper = ev_timer_new(sweep, NULL);
	if (head)
		ev_timer_arm(sweeper, SWEEP_CALM);
}

void
adm_shutdown(void)
{
	if (sweeper)
		ev_timer_free(sweeper);
	sweeper = NULL;
	/* MHD_stop_daemon closed every connection and told adm_notify */
	cfg = NULL;
	conn_limit = 0;
}
