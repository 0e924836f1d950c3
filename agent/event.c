/*
 * One epoll loop for every descriptor in ctteamsd (see event.h). Watchers
 * carry a kind; the loop dispatches on it. Timers are few (a handful per
 * org), so a linear scan for the earliest is enough.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "event.h"
#include "log.h"
#include "util.h"

#define CTL_MAX_CLIENTS 32
#define CTL_LINE_MAX    (64 * 1024)

enum watch_kind { W_SIGNAL, W_HTTP, W_CURL, W_CTL_LISTEN, W_CTL_CLIENT };

struct watch {
	enum watch_kind kind;
	int fd;
	/* W_CTL_CLIENT */
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
};

struct ev_timer {
	double due;
	bool armed;
	void (*cb)(void *);
	void *arg;
};

static int epfd = -1;
static bool running;
static struct watch sig_watch;
static void (*on_term_cb)(void), (*on_hup_cb)(void);
static struct ev_timer **timers;
static size_t n_timers;

static struct MHD_Daemon *http;
static struct watch http_watch;
static bool http_pending;

static CURLM *multi;
static double curl_due = -1;

static struct watch ctl_listen_watch = {.fd = -1};
static char *ctl_path;
static ev_ctl_handler ctl_handler;
static struct watch *ctl_clients[CTL_MAX_CLIENTS];

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

static void
watch_mod(struct watch *w, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = w};

	if (epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &e) != 0)
		log_warn("event", "epoll mod fd %d", w->fd);
}

static void
watch_del(struct watch *w)
{
	/* the fd may be closed already (curl closes after telling us) */
	epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

/* ---- timers ---- */

struct ev_timer *
ev_timer_new(void (*cb)(void *arg), void *arg)
{
	struct ev_timer *t = xcalloc(1, sizeof(*t));

	t->cb = cb;
	t->arg = arg;
	timers = xrealloc(timers, (n_timers + 1) * sizeof(*timers));
	timers[n_timers++] = t;
	return t;
}

void
ev_timer_arm(struct ev_timer *t, double seconds)
{
	t->due = now_mono() + (seconds > 0 ? seconds : 0);
	t->armed = true;
}

void
ev_timer_stop(struct ev_timer *t)
{
	t->armed = false;
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

	/* a callback may arm, stop or free timers: rescan after each */
	for (bool again = true; again;) {
		again = false;
		for (size_t i = 0; i < n_timers; i++) {
			struct ev_timer *t = timers[i];
			if (t->armed && t->due <= now) {
				t->armed = false;
				t->cb(t->arg);
				again = true;
				break;
			}
		}
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

/* ---- the HTTP listener ---- */

void
ev_http_attach(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);

	http = d;
	http_watch.kind = W_HTTP;
	http_watch.fd = di->epoll_fd;
	watch_add(&http_watch, EPOLLIN);
	http_pending = true;
}

void
ev_http_detach(void)
{
	if (http)
		watch_del(&http_watch);
	http = NULL;
}

void
ev_http_quiesce(void)
{
	if (http) {
		MHD_socket s = MHD_quiesce_daemon(http);
		if (s != MHD_INVALID_SOCKET)
			close(s);
	}
}

void
ev_http_kick(void)
{
	http_pending = true;
}

static void
http_run(void)
{
	http_pending = false;
	if (http)
		MHD_run(http);
}

/* ---- libcurl ---- */

struct curl_job {
	void (*done)(CURL *, CURLcode, void *);
	void *arg;
};

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
			free(w);
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
	struct curl_job *job = xcalloc(1, sizeof(*job));

	job->done = done;
	job->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, job);
	if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
		free(job);
		return -1;
	}
	return 0;
}

int
ev_curl_running(void)
{
	int n = 0;

	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &n);
	curl_check_done();
	return n;
}

/* ---- the control socket ---- */

static void
ctl_client_close(struct watch *w)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl_clients[i] == w)
			ctl_clients[i] = NULL;
	watch_del(w);
	close(w->fd);
	free(w->in);
	free(w->out);
	free(w);
}

static void
ctl_accept(void)
{
	int fd;

	while ((fd = accept4(ctl_listen_watch.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		int slot = -1;
		for (int i = 0; i < CTL_MAX_CLIENTS && slot < 0; i++)
			if (!ctl_clients[i])
				slot = i;
		if (slot < 0) {
			log_warnx("ctl", "too many control connections; refusing one");
			close(fd);
			continue;
		}
		struct watch *w = xcalloc(1, sizeof(*w));
		w->kind = W_CTL_CLIENT;
		w->fd = fd;
		ctl_clients[slot] = w;
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
	watch_mod(w, EPOLLIN | EPOLLOUT);
}

static bool
ctl_read(struct watch *w)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		if (w->in_len + (size_t)n > CTL_LINE_MAX) {
			ctl_queue(w, "{\"error\":\"request too long\"}");
			return false;
		}
		w->in = xrealloc(w->in, w->in_len + (size_t)n + 1);
		memcpy(w->in + w->in_len, buf, (size_t)n);
		w->in_len += (size_t)n;
		w->in[w->in_len] = '\0';
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		return w->out_len > w->out_off; /* peer closed: finish writing first */
	for (char *nl; w->in && (nl = memchr(w->in, '\n', w->in_len));) {
		*nl = '\0';
		char *answer = ctl_handler(w->in);
		ctl_queue(w, answer);
		free(answer);
		size_t rest = w->in_len - (size_t)(nl + 1 - w->in);
		memmove(w->in, nl + 1, rest);
		w->in_len = rest;
	}
	return true;
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
	watch_mod(w, EPOLLIN);
	return true;
}

int
ev_ctl_listen(const char *path, ev_ctl_handler handler, char **ret_err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
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
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0660) != 0 ||
	    listen(fd, 16) != 0) {
		*ret_err = xprintf("control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	ctl_listen_watch.kind = W_CTL_LISTEN;
	ctl_listen_watch.fd = fd;
	ctl_handler = handler;
	ctl_path = xstrdup(path);
	return watch_add(&ctl_listen_watch, EPOLLIN);
}

void
ev_ctl_close(void)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl_clients[i])
			ctl_client_close(ctl_clients[i]);
	if (ctl_listen_watch.fd >= 0) {
		watch_del(&ctl_listen_watch);
		close(ctl_listen_watch.fd);
		ctl_listen_watch.fd = -1;
		unlink(ctl_path);
	}
	free(ctl_path);
	ctl_path = NULL;
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
	MHD_UNSIGNED_LONG_LONG mhd_ms;

	if (http_pending)
		return 0;
	for (size_t i = 0; i < n_timers; i++)
		if (timers[i]->armed && timers[i]->due < next)
			next = timers[i]->due;
	if (curl_due >= 0 && curl_due < next)
		next = curl_due;
	if (http && MHD_get_timeout(http, &mhd_ms) == MHD_YES && now + (double)mhd_ms / 1000 < next)
		next = now + (double)mhd_ms / 1000;
	if (next <= now)
		return 0;
	return (int)((next - now) * 1000) + 1;
}

static void
dispatch(struct watch *w, uint32_t ev)
{
	switch (w->kind) {
	case W_SIGNAL:
		signal_read();
		break;
	case W_HTTP:
		http_pending = true;
		break;
	case W_CURL:
		curl_action(w->fd, (ev & EPOLLIN ? CURL_CSELECT_IN : 0) |
				       (ev & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
				       (ev & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0));
		break;
	case W_CTL_LISTEN:
		ctl_accept();
		break;
	case W_CTL_CLIENT: {
		bool keep = true;
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
			keep = ctl_read(w);
		if (keep && (ev & EPOLLOUT))
			keep = ctl_write(w);
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
		int n = epoll_wait(epfd, events, 64, next_timeout_ms());
		if (n < 0 && errno != EINTR) {
			log_warn("event", "epoll_wait");
			continue;
		}
		for (int i = 0; i < n; i++)
			dispatch(events[i].data.ptr, events[i].events);
		if (curl_due >= 0 && now_mono() >= curl_due) {
			curl_due = -1;
			curl_action(CURL_SOCKET_TIMEOUT, 0);
		}
		timers_run();
		/* MHD is run after timers and transfers so answers they queued
		 * (resumed connections) go out in this same turn */
		if (http)
			http_run();
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
	ev_ctl_close();
	ev_http_detach();
	if (multi)
		curl_multi_cleanup(multi);
	multi = NULL;
	for (size_t i = 0; i < n_timers; i++)
		free(timers[i]);
	free(timers);
	timers = NULL;
	n_timers = 0;
	if (sig_watch.fd >= 0)
		close(sig_watch.fd);
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}
