/*
 * One epoll loop for every descriptor in ctteamsd (see event.h). Watchers
 * carry a kind; the loop dispatches on it. Timers are few (a handful per
 * org), so a linear scan for the earliest is enough.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* net-snmp: its configuration header first, always */
#include <net-snmp/net-snmp-config.h>

#include <net-snmp/library/large_fd_set.h>
#include <net-snmp/net-snmp-includes.h>

#include "event.h"
#include "log.h"
#include "util.h"

#define CTL_MAX_CLIENTS 32
#define CTL_LINE_MAX    (64 * 1024)
#define CTL_IDLE        10.0 /* seconds a client may sit without a request */

enum watch_kind {
	W_SIGNAL,
	W_HTTP,
	W_METRICS,
	W_CURL,
	W_CTL_LISTEN,
	W_CTL_CLIENT,
	W_SNMP,
	W_PROBE
};

struct watch {
	enum watch_kind kind;
	int fd;
	/* W_CTL_CLIENT */
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	bool eof;     /* the client half-closed */
	bool closing; /* close once the answer is out */
	double active;
	struct ev_ctl_peer peer;
	bool dead; /* closed; freed after the batch */
	struct watch *next_dead;
	/* W_SNMP: which open file the fd was, so that a number net-snmp
	 * closed and reused is told from the one watched */
	dev_t dev;
	ino_t ino;
	bool ready;
};

struct ctl_listener {
	struct watch watch;
	char *path;
	bool readonly;
};

struct ev_timer {
	double due;
	bool armed;           /* in the heap */
	size_t at;            /* its place in the heap, while armed */
	unsigned long serial; /* made earlier runs first among timers due at once */
	void (*cb)(void *);
	void *arg;
};

static int epfd = -1;
static bool running;
static struct watch sig_watch;
static void (*on_term_cb)(void), (*on_hup_cb)(void);
/* Every timer (freed at shutdown), and the armed ones in a binary heap by
 * due time: with a thousand orgs there are thousands of timers, and a scan
 * of all of them at every turn of the loop cost more than an SNMP request
 * (a walk of the MIB took seconds). */
static struct ev_timer **timers, **heap;
static size_t n_timers, n_heap, cap_heap;
static unsigned long timer_serials;

/* A libmicrohttpd daemon in the loop (MHD_USE_EPOLL, no thread of its
 * own): the public listener, and the metrics listener when it is on. Each
 * is run on every turn (it keeps its own timeouts) and at once when its
 * epoll descriptor is ready. */
struct listener {
	struct MHD_Daemon *d;
	struct watch watch;
	bool pending;       /* run it before the loop sleeps */
	unsigned int limit; /* its connection limit */
	bool full;          /* at the limit after the last run */
	double rerun;       /* run it again then, without an event; -1: no */
};

static struct listener http = {.rerun = -1}, metrics = {.rerun = -1};
static bool (*http_batch)(void); /* after each run: true if it resumed any */

static CURLM *multi;
static double curl_due = -1;

/* [0] the admin socket, [1] the read-only monitoring socket */
static struct ctl_listener ctl_listeners[2] = {{.watch = {.fd = -1}}, {.watch = {.fd = -1}}};
static ev_ctl_handler ctl_handler;
static struct watch *ctl_clients[CTL_MAX_CLIENTS];
static struct ev_timer *ctl_sweeper;
static struct watch *graveyard;

#define PROBE_ANSWER_MAX 64

static struct {
	struct watch watch;
	struct ev_timer *timer;
	bool active;
	unsigned char *req;
	size_t len, sent;
	unsigned char answer[PROBE_ANSWER_MAX];
	size_t want, got;
	ev_probe_done done;
	void *arg;
} probe = {.watch = {.kind = W_PROBE, .fd = -1}};

static bool snmp_on;
static struct watch **snmp_watches;
static size_t n_snmp;
static double snmp_due = -1;

/* ---- epoll helpers ---- */

static int
watch_add(struct watch *w, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = w};

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &e) == 0)
		return 0;
	if (errno == EEXIST && epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &e) == 0)
		return 0;
	log_warn("event", "epoll add fd %d", w->fd);
	return -1;
}

static int
watch_mod(struct watch *w, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = w};

	if (epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &e) == 0)
		return 0;
	log_warn("event", "epoll mod fd %d", w->fd);
	return -1;
}

static void
watch_del(struct watch *w)
{
	/* the fd may be closed already (curl closes after telling us) */
	epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

/* ---- timers ---- */

static bool
earlier(const struct ev_timer *a, const struct ev_timer *b)
{
	return a->due < b->due || (a->due == b->due && a->serial < b->serial);
}

static void
heap_put(size_t i, struct ev_timer *t)
{
	heap[i] = t;
	t->at = i;
}

static void
sift_up(size_t i)
{
	struct ev_timer *t = heap[i];

	while (i > 0 && earlier(t, heap[(i - 1) / 2])) {
		heap_put(i, heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_put(i, t);
}

static void
sift_down(size_t i)
{
	struct ev_timer *t = heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n_heap)
			break;
		if (c + 1 < n_heap && earlier(heap[c + 1], heap[c]))
			c++;
		if (!earlier(heap[c], t))
			break;
		heap_put(i, heap[c]);
		i = c;
	}
	heap_put(i, t);
}

static void
heap_remove(struct ev_timer *t)
{
	size_t i = t->at;
	struct ev_timer *last = heap[--n_heap];

	t->armed = false;
	if (i == n_heap)
		return;
	heap_put(i, last);
	sift_up(i);
	sift_down(last->at);
}

struct ev_timer *
ev_timer_new(void (*cb)(void *arg), void *arg)
{
	struct ev_timer *t = xcalloc(1, sizeof(*t));

	t->cb = cb;
	t->arg = arg;
	t->serial = ++timer_serials;
	timers = xrealloc(timers, (n_timers + 1) * sizeof(*timers));
	timers[n_timers++] = t;
	return t;
}

void
ev_timer_arm(struct ev_timer *t, double seconds)
{
	t->due = now_mono() + (seconds > 0 ? seconds : 0);
	if (t->armed) {
		sift_up(t->at);
		sift_down(t->at);
		return;
	}
	if (n_heap == cap_heap) {
		cap_heap = cap_heap ? 2 * cap_heap : 64;
		heap = xrealloc(heap, cap_heap * sizeof(*heap));
	}
	t->armed = true;
	heap_put(n_heap++, t);
	sift_up(t->at);
}

void
ev_timer_stop(struct ev_timer *t)
{
	if (t->armed)
		heap_remove(t);
}

bool
ev_timer_armed(const struct ev_timer *t)
{
	return t->armed;
}

double
ev_timer_remaining(const struct ev_timer *t)
{
	return t->armed ? t->due - now_mono() : -1;
}

void
ev_timer_free(struct ev_timer *t)
{
	if (!t)
		return;
	ev_timer_stop(t);
	for (size_t i = 0; i < n_timers; i++) {
		if (timers[i] == t) {
			memmove(&timers[i], &timers[i + 1], (n_timers - i - 1) * sizeof(*timers));
			n_timers--;
			break;
		}
	}
	free(t);
}

static void
timers_run(void)
{
	double now = now_mono();

	/* the earliest first; a callback may arm, stop or free any timer
	 * (one armed again now is due after `now`: the next turn runs it) */
	while (n_heap > 0 && heap[0]->due <= now) {
		struct ev_timer *t = heap[0];
		heap_remove(t);
		t->cb(t->arg);
	}
}

/* ---- signals ---- */

void
ev_on_signals(void (*on_term)(void), void (*on_hup)(void))
{
	on_term_cb = on_term;
	on_hup_cb = on_hup;
}

static void
signal_read(void)
{
	struct signalfd_siginfo si;

	while (read(sig_watch.fd, &si, sizeof(si)) == sizeof(si)) {
		if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && on_term_cb)
			on_term_cb();
		else if (si.ssi_signo == SIGHUP && on_hup_cb)
			on_hup_cb();
	}
}

/* A watch closed while its epoll batch is being dispatched may still be
 * named by a later event of that batch (a control client, or a socket
 * libcurl let go of while another of its sockets was handled): it is
 * marked dead and freed after the batch. */
static void
entomb(struct watch *w)
{
	w->dead = true;
	w->next_dead = graveyard;
	graveyard = w;
}

static void
bury(void)
{
	while (graveyard) {
		struct watch *w = graveyard;
		graveyard = w->next_dead;
		free(w->in);
		free(w->out);
		free(w);
	}
}

/* ---- the HTTP listener ---- */

static void
listener_attach(struct listener *l, struct MHD_Daemon *d, unsigned int limit, enum watch_kind kind)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);

	l->d = d;
	l->limit = limit;
	l->watch.kind = kind;
	l->watch.fd = di->epoll_fd;
	watch_add(&l->watch, EPOLLIN);
	l->pending = true;
}

static void
listener_detach(struct listener *l)
{
	if (l->d)
		watch_del(&l->watch);
	l->d = NULL;
}

/* At its connection limit libmicrohttpd stops watching its listen socket,
 * and starts again only in a run after connections were freed; nothing
 * wakes the loop for that run. So while the limit is near, and once after
 * it was, the daemon runs again shortly on its own: a listener is never
 * left paused while the loop sleeps. */
static void
listener_ran(struct listener *l)
{
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	bool was_full = l->full;

	l->full = di && l->limit > 0 && di->num_connections + 1 >= l->limit;
	if (l->full || was_full)
		l->rerun = now_mono() + 0.05;
}

/* When the listener wants its next run, before `next`. */
static double
listener_due(const struct listener *l, double now, double next)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (!l->d)
		return next;
	if (l->rerun >= 0 && l->rerun < next)
		next = l->rerun;
	if (MHD_get_timeout(l->d, &ms) == MHD_YES && now + (double)ms / 1000 < next)
		next = now + (double)ms / 1000;
	return next;
}

void
ev_http_attach(struct MHD_Daemon *d, unsigned int max_connections)
{
	listener_attach(&http, d, max_connections, W_HTTP);
}

void
ev_metrics_attach(struct MHD_Daemon *d, unsigned int max_connections)
{
	listener_attach(&metrics, d, max_connections, W_METRICS);
}

void
ev_metrics_detach(void)
{
	listener_detach(&metrics);
}

void
ev_http_detach(void)
{
	listener_detach(&http);
}

void
ev_http_quiesce(void)
{
	if (http.d) {
		MHD_socket s = MHD_quiesce_daemon(http.d);
		if (s != MHD_INVALID_SOCKET)
			close(s);
	}
}

void
ev_http_kick(void)
{
	http.pending = true;
}

/* libmicrohttpd cannot close a connection from outside a callback; shutting
 * its socket down makes the next run see end-of-stream and close it. */
void
ev_http_drop(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (ci)
		shutdown(ci->connect_fd, SHUT_RDWR);
	http.pending = true;
}

void
ev_http_on_batch(bool (*fn)(void))
{
	http_batch = fn;
}

/* A run of the listener; batch, after each run (the public listener's
 * group commit), true when it resumed connections whose answers need
 * another run. */
static void
listener_run(struct listener *l, bool (*batch)(void))
{
	l->pending = false;
	l->rerun = -1;
	if (!l->d)
		return;
	MHD_run(l->d);
	/* what the run took in is committed together, and the answers go
	 * out in another run, this same turn. That run may take in more:
	 * a few rounds, then the rest of the loop has its turn and the
	 * listener comes straight back (what is held waits in memory,
	 * unacknowledged, by org name: a reload in between is safe) */
	for (int round = 0; batch && batch(); round++) {
		MHD_run(l->d);
		if (round == 3) {
			l->pending = true;
			break;
		}
	}
	listener_ran(l);
}

/* ---- libcurl ---- */

struct curl_job {
	CURL *easy;
	void (*done)(CURL *, CURLcode, void *);
	void *arg;
	struct curl_job *prev, *next;
};

static struct curl_job *jobs; /* transfers under way */
static int n_jobs;
static bool curl_closing; /* ev_shutdown: no new transfers */

static void
job_unlink(struct curl_job *job)
{
	if (job->prev)
		job->prev->next = job->next;
	else
		jobs = job->next;
	if (job->next)
		job->next->prev = job->prev;
	n_jobs--;
}

static int
curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct watch *w = socketp;
	uint32_t events =
	    (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);

	(void)easy;
	(void)userp;
	if (what == CURL_POLL_REMOVE) {
		if (w) {
			watch_del(w);
			entomb(w);
			curl_multi_assign(multi, s, NULL);
		}
		return 0;
	}
	if (!w) {
		w = xcalloc(1, sizeof(*w));
		w->kind = W_CURL;
		w->fd = s;
		curl_multi_assign(multi, s, w);
		watch_add(w, events);
	} else {
		watch_mod(w, events);
	}
	return 0;
}

static int
curl_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	(void)userp;
	curl_due = timeout_ms < 0 ? -1 : now_mono() + (double)timeout_ms / 1000.0;
	return 0;
}

static void
curl_check_done(void)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(multi, &left))) {
		struct curl_job *job = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&job);
		curl_multi_remove_handle(multi, easy);
		if (job) {
			job_unlink(job);
			job->done(easy, rc, job->arg);
			free(job);
		}
	}
}

static void
curl_action(curl_socket_t s, int flags)
{
	int still;

	curl_multi_socket_action(multi, s, flags, &still);
	curl_check_done();
}

int
ev_curl_add(CURL *easy, void (*done)(CURL *, CURLcode, void *), void *arg)
{
	struct curl_job *job;

	if (curl_closing)
		return -1;
	job = xcalloc(1, sizeof(*job));
	job->easy = easy;
	job->done = done;
	job->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, job);
	if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
		free(job);
		return -1;
	}
	job->next = jobs;
	if (jobs)
		jobs->prev = job;
	jobs = job;
	n_jobs++;
	return 0;
}

void
ev_curl_abort_all(void)
{
	curl_closing = true;
	while (jobs) {
		struct curl_job *job = jobs;
		job_unlink(job);
		curl_multi_remove_handle(multi, job->easy);
		job->done(job->easy, CURLE_ABORTED_BY_CALLBACK, job->arg);
		free(job);
	}
}

int
ev_curl_running(void)
{
	int n = 0;

	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &n);
	curl_check_done();
	/* counted after the callbacks: they may have started others */
	return n_jobs;
}

/* ---- the control sockets ----
 *
 * One request per line, one answer per line. A client gets its answer
 * before its next request is read, so one that never reads holds at most
 * one answer; one idle for CTL_IDLE seconds is closed, and when every slot
 * is taken the longest idle client makes room, so nobody can lock the
 * operator out. A client may half-close after its request: the answer
 * still goes out. */

static struct ctl_listener *
listener_of(int fd)
{
	for (int i = 0; i < 2; i++)
		if (ctl_listeners[i].watch.fd == fd)
			return &ctl_listeners[i];
	return NULL;
}

/* Closed now, freed after the current batch of events: another event of
 * the batch may still name it. */
static void
ctl_client_close(struct watch *w)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl_clients[i] == w)
			ctl_clients[i] = NULL;
	watch_del(w);
	close(w->fd);
	w->fd = -1;
	entomb(w);
}

/* Connections in slots [from, to) of the process the client in slot i
 * comes from. */
static int
same_process(int i, int from, int to)
{
	int n = 0;

	for (int k = from; k < to; k++)
		n += ctl_clients[k]->peer.pid == ctl_clients[i]->peer.pid;
	return n;
}

/* A free slot in the socket's own half of the table, or one made free:
 * monitoring clients can never push the operator out, nor the other way
 * round. The client closed is the longest idle of the process holding the
 * most connections, so a local process that floods the socket closes its
 * own connections, and a check plugin's one connection gets its answer. */
static int
ctl_slot(bool readonly)
{
	int from = readonly ? CTL_MAX_CLIENTS / 2 : 0, to = from + CTL_MAX_CLIENTS / 2;
	int victim = -1, most = 0;

	for (int i = from; i < to; i++)
		if (!ctl_clients[i])
			return i;
	for (int i = from; i < to; i++) {
		int n = same_process(i, from, to);
		if (victim < 0 || n > most ||
		    (n == most && ctl_clients[i]->active < ctl_clients[victim]->active)) {
			victim = i;
			most = n;
		}
	}
	log_warn_limited("ctl", readonly ? "evict-monitoring" : "evict-admin", 60,
			 "all %d %s connections taken; closing the longest idle of pid %ld, "
			 "which holds %d",
			 CTL_MAX_CLIENTS / 2, readonly ? "monitoring" : "admin",
			 ctl_clients[victim]->peer.pid, most);
	ctl_client_close(ctl_clients[victim]);
	return victim;
}

static void
ctl_accept(struct ctl_listener *l)
{
	int fd;

	while ((fd = accept4(l->watch.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct watch *w = xcalloc(1, sizeof(*w));
		struct ucred cred;
		socklen_t len = sizeof(cred);
		w->kind = W_CTL_CLIENT;
		w->fd = fd;
		w->active = now_mono();
		w->peer.readonly = l->readonly;
		w->peer.uid = -1;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
			w->peer.uid = (long)cred.uid;
			w->peer.pid = (long)cred.pid;
		}
		ctl_clients[ctl_slot(l->readonly)] = w;
		/* the idle sweep runs only while there are clients to sweep */
		if (!ev_timer_armed(ctl_sweeper))
			ev_timer_arm(ctl_sweeper, 1);
		watch_add(w, EPOLLIN);
	}
}

static void
ctl_queue(struct watch *w, const char *answer)
{
	size_t n = strlen(answer);

	w->out = xrealloc(w->out, w->out_len + n + 2);
	memcpy(w->out + w->out_len, answer, n);
	w->out[w->out_len + n] = '\n';
	w->out_len += n + 1;
	/* nothing more is read until this answer is out */
	watch_mod(w, EPOLLOUT);
}

/* Answers the first complete request in the buffer, if any. */
static void
ctl_answer_one(struct watch *w)
{
	char *nl = w->in ? memchr(w->in, '\n', w->in_len) : NULL;
	char *answer;
	size_t rest;

	if (!nl && w->eof && w->in_len > 0)
		nl = w->in + w->in_len; /* the last request, without its newline */
	if (!nl)
		return;
	*nl = '\0';
	answer = ctl_handler(w->in, &w->peer);
	ctl_queue(w, answer);
	free(answer);
	rest = nl < w->in + w->in_len ? w->in_len - (size_t)(nl + 1 - w->in) : 0;
	memmove(w->in, nl + (rest ? 1 : 0), rest);
	w->in_len = rest;
}

static bool
ctl_read(struct watch *w)
{
	char buf[4096];
	ssize_t n = -1;

	while (!w->eof && (n = read(w->fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return false;
		}
		if (w->in_len + (size_t)n > CTL_LINE_MAX) {
			/* said, then closed once said */
			ctl_queue(w, "{\"proto\":1,\"ok\":false,\"error\":\"request too long\"}");
			w->in_len = 0;
			w->eof = w->closing = true;
			return true;
		}
		w->in = xrealloc(w->in, w->in_len + (size_t)n + 1);
		memcpy(w->in + w->in_len, buf, (size_t)n);
		w->in_len += (size_t)n;
		w->in[w->in_len] = '\0';
	}
	if (n == 0)
		w->eof = true;
	w->active = now_mono();
	ctl_answer_one(w);
	/* half-closed with nothing more to answer: done */
	return !(w->eof && w->out_len == 0);
}

static bool
ctl_write(struct watch *w)
{
	while (w->out_off < w->out_len) {
		ssize_t n = write(w->fd, w->out + w->out_off, w->out_len - w->out_off);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		w->out_off += (size_t)n;
	}
	w->out_len = w->out_off = 0;
	w->active = now_mono();
	if (w->closing)
		return false;
	/* the next request, already read, or more to read */
	ctl_answer_one(w);
	if (w->out_len == 0) {
		if (w->eof)
			return false;
		watch_mod(w, EPOLLIN);
	}
	return true;
}

/* Called every second while there are clients: idle ones go. */
static void
ctl_sweep(void *arg)
{
	double now = now_mono();
	bool any = false;

	(void)arg;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (ctl_clients[i] && now - ctl_clients[i]->active > CTL_IDLE)
			ctl_client_close(ctl_clients[i]);
		any |= ctl_clients[i] != NULL;
	}
	if (any)
		ev_timer_arm(ctl_sweeper, 1);
}

int
ev_ctl_listen(const char *path, bool readonly, long group, ev_ctl_handler handler, char **ret_err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ctl_listener *l = &ctl_listeners[readonly ? 1 : 0];
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*ret_err = xprintf("control socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*ret_err = xprintf("socket: %s", strerror(errno));
		return -1;
	}
	/* a stale socket from a crash: remove it, but never another file */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0660) != 0 ||
	    (group >= 0 && chown(path, (uid_t)-1, (gid_t)group) != 0) || listen(fd, 16) != 0) {
		*ret_err = xprintf("control socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	l->watch.kind = W_CTL_LISTEN;
	l->watch.fd = fd;
	l->readonly = readonly;
	l->path = xstrdup(path);
	ctl_handler = handler;
	if (!ctl_sweeper)
		ctl_sweeper = ev_timer_new(ctl_sweep, NULL);
	return watch_add(&l->watch, EPOLLIN);
}

void
ev_ctl_close(void)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl_clients[i])
			ctl_client_close(ctl_clients[i]);
	for (int i = 0; i < 2; i++) {
		struct ctl_listener *l = &ctl_listeners[i];
		if (l->watch.fd >= 0) {
			watch_del(&l->watch);
			close(l->watch.fd);
			l->watch.fd = -1;
			unlink(l->path);
		}
		free(l->path);
		l->path = NULL;
	}
	ev_timer_free(ctl_sweeper);
	ctl_sweeper = NULL;
	bury();
}

/* ---- net-snmp ---- */

void
ev_snmp_attach(void)
{
	snmp_on = true;
}

static void
snmp_unwatch(size_t i, bool still_open)
{
	struct watch *w = snmp_watches[i];

	/* a descriptor net-snmp closed left epoll by itself; its number may
	 * belong to someone else now */
	if (still_open)
		watch_del(w);
	free(w);
	snmp_watches[i] = snmp_watches[--n_snmp];
}

void
ev_snmp_detach(void)
{
	while (n_snmp > 0)
		snmp_unwatch(n_snmp - 1, true);
	free(snmp_watches);
	snmp_watches = NULL;
	snmp_on = false;
	snmp_due = -1;
}

static bool
same_file(int fd, const struct watch *w)
{
	struct stat sb;

	return fstat(fd, &sb) == 0 && sb.st_dev == w->dev && sb.st_ino == w->ino;
}

static void
snmp_watch(int fd)
{
	struct watch *w = xcalloc(1, sizeof(*w));
	struct stat sb;

	w->kind = W_SNMP;
	w->fd = fd;
	if (fstat(fd, &sb) == 0) {
		w->dev = sb.st_dev;
		w->ino = sb.st_ino;
	}
	snmp_watches = xrealloc(snmp_watches, (n_snmp + 1) * sizeof(*snmp_watches));
	snmp_watches[n_snmp++] = w;
	watch_add(w, EPOLLIN);
}

/* Before each wait: watch what net-snmp wants watched now (its sessions
 * come and go as the master does), and learn when it next needs to run. */
static void
snmp_sync(void)
{
	netsnmp_large_fd_set set;
	struct timeval tv = {0, 0};
	int nfds = 0, block = 1;

	netsnmp_large_fd_set_init(&set, FD_SETSIZE);
	snmp_select_info2(&nfds, &set, &tv, &block);
	for (size_t i = n_snmp; i-- > 0;) {
		struct watch *w = snmp_watches[i];
		bool open = same_file(w->fd, w);
		if (!open || w->fd >= nfds || !NETSNMP_LARGE_FD_ISSET(w->fd, &set))
			snmp_unwatch(i, open);
	}
	for (int fd = 0; fd < nfds; fd++) {
		bool known = false;
		if (!NETSNMP_LARGE_FD_ISSET(fd, &set))
			continue;
		for (size_t i = 0; i < n_snmp && !known; i++)
			known = snmp_watches[i]->fd == fd;
		if (!known)
			snmp_watch(fd);
	}
	netsnmp_large_fd_set_cleanup(&set);
	snmp_due = block ? -1 : now_mono() + (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* A master that stops with our bytes unread resets the connection. net-snmp
 * 5.9.3's AF_UNIX read leaks the peer address it allocated when recvfrom()
 * fails (tests/netsnmp/unix_recv_leak.c shows it with libnetsnmp alone):
 * the pending error is taken here first, so its read sees the end of the
 * stream instead, which it handles (and frees) as the same "closed". */
static void
snmp_take_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
		log_debug("snmp", "AgentX: the master's connection: %s", strerror(err));
}

/* After each wait: net-snmp reads what arrived, then times out requests
 * and runs its alarms (the AgentX ping and reconnect among them). */
static void
snmp_run(void)
{
	netsnmp_large_fd_set set;
	bool any = false;

	netsnmp_large_fd_set_init(&set, FD_SETSIZE);
	for (size_t i = 0; i < n_snmp; i++) {
		if (snmp_watches[i]->ready) {
			snmp_watches[i]->ready = false;
			snmp_take_error(snmp_watches[i]->fd);
			NETSNMP_LARGE_FD_SET(snmp_watches[i]->fd, &set);
			any = true;
		}
	}
	if (any)
		snmp_read2(&set);
	netsnmp_large_fd_set_cleanup(&set);
	if (snmp_due >= 0 && now_mono() >= snmp_due) {
		snmp_due = -1;
		snmp_timeout();
		run_alarms();
	}
}

/* ---- the loop ---- */

int
ev_init(void)
{
	sigset_t set;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sig_watch.kind = W_SIGNAL;
	sig_watch.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig_watch.fd < 0 || watch_add(&sig_watch, EPOLLIN) < 0)
		return -1;
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	return 0;
}

static int
next_timeout_ms(void)
{
	double now = now_mono(), next = now + 60;

	if (http.pending || metrics.pending)
		return 0;
	if (n_heap > 0 && heap[0]->due < next)
		next = heap[0]->due;
	if (curl_due >= 0 && curl_due < next)
		next = curl_due;
	if (snmp_due >= 0 && snmp_due < next)
		next = snmp_due;
	next = listener_due(&http, now, next);
	next = listener_due(&metrics, now, next);
	if (next <= now)
		return 0;
	return (int)((next - now) * 1000) + 1;
}

/* ---- the probe ---- */

static void
probe_close(void)
{
	if (probe.watch.fd >= 0) {
		watch_del(&probe.watch);
		close(probe.watch.fd);
	}
	probe.watch.fd = -1;
	if (probe.timer)
		ev_timer_stop(probe.timer);
	free(probe.req);
	probe.req = NULL;
	probe.active = false;
}

static void
probe_end(const char *why)
{
	ev_probe_done done = probe.done;
	void *arg = probe.arg;
	bool answered = why == NULL;
	unsigned char answer[PROBE_ANSWER_MAX];
	size_t n = probe.got;

	memcpy(answer, probe.answer, n);
	probe_close();
	/* the callback may start the next probe */
	done(answered ? answer : NULL, n, why, arg);
}

static void
probe_timeout(void *arg)
{
	(void)arg;
	if (probe.active)
		probe_end("no answer in time");
}

/* An address as net-snmp writes it: /path, or tcp:A.B.C.D:PORT. */
static int
probe_address(const char *where, struct sockaddr_storage *sa, socklen_t *len)
{
	memset(sa, 0, sizeof(*sa));
	if (where[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)sa;
		if (strlen(where) >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, where);
		*len = sizeof(*un);
		return 0;
	}
	if (strncmp(where, "tcp:", 4) == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		const char *colon = strrchr(where + 4, ':');
		char host[64];
		long port;
		char *end;
		if (!colon || (size_t)(colon - (where + 4)) >= sizeof(host))
			return -1;
		memcpy(host, where + 4, (size_t)(colon - (where + 4)));
		host[colon - (where + 4)] = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end || port < 1 || port > 65535 ||
		    inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	}
	return -1;
}

int
ev_probe(const char *where, const void *req, size_t len, size_t want, double timeout,
	 ev_probe_done done, void *arg)
{
	struct sockaddr_storage sa;
	socklen_t sa_len;
	int fd;

	if (probe.active || want == 0 || want > PROBE_ANSWER_MAX ||
	    probe_address(where, &sa, &sa_len) < 0)
		return -1;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* a listener that is stopped, not gone, has a full backlog: EAGAIN
	 * at once (AF_UNIX), where a blocking connect would wait */
	if (connect(fd, (struct sockaddr *)&sa, sa_len) != 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e; /* for the caller's message */
		return -1;
	}
	probe.watch.fd = fd;
	probe.req = xcalloc(1, len);
	memcpy(probe.req, req, len);
	probe.len = len;
	probe.sent = probe.got = 0;
	probe.want = want;
	probe.done = done;
	probe.arg = arg;
	probe.active = true;
	if (!probe.timer)
		probe.timer = ev_timer_new(probe_timeout, NULL);
	ev_timer_arm(probe.timer, timeout);
	if (watch_add(&probe.watch, EPOLLOUT) < 0) {
		probe_close();
		return -1;
	}
	return 0;
}

void
ev_probe_cancel(void)
{
	if (probe.active)
		probe_close();
}

static void
probe_event(uint32_t ev)
{
	ssize_t n;
	int err = 0;
	socklen_t elen = sizeof(err);

	if (!probe.active)
		return;
	if (probe.sent < probe.len) {
		if (getsockopt(probe.watch.fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err) {
			probe_end(strerror(err));
			return;
		}
		n = send(probe.watch.fd, probe.req + probe.sent, probe.len - probe.sent,
			 MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			probe_end(strerror(errno));
			return;
		}
		probe.sent += n > 0 ? (size_t)n : 0;
		if (probe.sent == probe.len && watch_mod(&probe.watch, EPOLLIN) < 0)
			probe_end("cannot wait for the answer");
		return;
	}
	n = recv(probe.watch.fd, probe.answer + probe.got, probe.want - probe.got, 0);
	if (n > 0) {
		probe.got += (size_t)n;
		if (probe.got >= probe.want)
			probe_end(NULL);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR) || (ev & EPOLLERR)) {
		probe_end(n == 0 ? "closed without an answer" : strerror(errno));
	}
}

static void
dispatch(struct watch *w, uint32_t ev)
{
	switch (w->kind) {
	case W_SIGNAL:
		signal_read();
		break;
	case W_HTTP:
		http.pending = true;
		break;
	case W_METRICS:
		metrics.pending = true;
		break;
	case W_CURL:
		if (w->dead)
			break;
		curl_action(w->fd, (ev & EPOLLIN ? CURL_CSELECT_IN : 0) |
				       (ev & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
				       (ev & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0));
		break;
	case W_CTL_LISTEN:
		ctl_accept(listener_of(w->fd));
		break;
	case W_SNMP:
		w->ready = true;
		break;
	case W_PROBE:
		probe_event(ev);
		break;
	case W_CTL_CLIENT: {
		bool keep = true;
		if (w->dead)
			break;
		if (ev & EPOLLERR)
			keep = false;
		else if (w->out_len > 0 && (ev & (EPOLLOUT | EPOLLHUP)))
			keep = ctl_write(w);
		else if (ev & (EPOLLIN | EPOLLHUP))
			keep = ctl_read(w);
		if (!keep)
			ctl_client_close(w);
		break;
	}
	}
}

int
ev_run(void)
{
	struct epoll_event events[64];

	running = true;
	while (running) {
		int n;

		if (snmp_on)
			snmp_sync();
		n = epoll_wait(epfd, events, 64, next_timeout_ms());
		if (n < 0 && errno != EINTR) {
			log_warn("event", "epoll_wait");
			continue;
		}
		for (int i = 0; i < n; i++)
			dispatch(events[i].data.ptr, events[i].events);
		bury();
		if (snmp_on)
			snmp_run();
		if (curl_due >= 0 && now_mono() >= curl_due) {
			curl_due = -1;
			curl_action(CURL_SOCKET_TIMEOUT, 0);
		}
		timers_run();
		/* the listeners run after timers and transfers so answers they
		 * queued (resumed connections) go out in this same turn */
		listener_run(&http, http_batch);
		listener_run(&metrics, NULL); /* nothing to commit */
	}
	return 0;
}

void
ev_stop(void)
{
	running = false;
}

void
ev_shutdown(void)
{
	ev_probe_cancel();
	ev_ctl_close();
	ev_http_detach();
	ev_metrics_detach();
	ev_curl_abort_all();
	if (multi)
		curl_multi_cleanup(multi);
	multi = NULL;
	bury(); /* what libcurl let go of last */
	for (size_t i = 0; i < n_timers; i++)
		free(timers[i]);
	free(timers);
	free(heap);
	timers = heap = NULL;
	n_timers = n_heap = cap_heap = 0;
	probe.timer = NULL;
	if (sig_watch.fd >= 0)
		close(sig_watch.fd);
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}
