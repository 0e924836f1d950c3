/*
 * A TCP load balancer on loopback, as a site puts in front of two agents:
 * each connection goes to the next backend in turn (or always the first
 * that answers), and to the other when that one refuses. Bytes are copied
 * both ways untouched (TLS passes through). One thread, poll(2).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "th.h"

#define MAX_PAIRS 256

struct th_proxy {
	int lfd;
	int ports[2];
	bool round_robin;
	int first; /* the backend tried first, when not in turn */
	int next;
	int stop[2]; /* a pipe: the thread ends when it is readable */
	pthread_t thread;
	int fds[MAX_PAIRS][2]; /* client, backend */
	size_t n;
	long served[2];
};

static int
dial(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static void
accept_one(struct th_proxy *p)
{
	int c = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC), b = -1, first;

	if (c < 0)
		return;
	first = __atomic_load_n(&p->round_robin, __ATOMIC_SEQ_CST)
		    ? p->next
		    : __atomic_load_n(&p->first, __ATOMIC_SEQ_CST);
	p->next = 1 - p->next;
	for (int k = 0; k < 2 && b < 0; k++) {
		int which = (first + k) % 2;
		if ((b = dial(p->ports[which])) >= 0)
			p->served[which]++;
	}
	if (b < 0 || p->n == MAX_PAIRS) {
		close(c);
		if (b >= 0)
			close(b);
		return;
	}
	p->fds[p->n][0] = c;
	p->fds[p->n][1] = b;
	p->n++;
}

static void
drop(struct th_proxy *p, size_t i)
{
	close(p->fds[i][0]);
	close(p->fds[i][1]);
	p->fds[i][0] = p->fds[p->n - 1][0];
	p->fds[i][1] = p->fds[p->n - 1][1];
	p->n--;
}

static void *
run(void *arg)
{
	struct th_proxy *p = arg;
	struct pollfd pf[2 + 2 * MAX_PAIRS];
	char buf[65536];

	for (;;) {
		size_t n = 0;
		pf[n++] = (struct pollfd){.fd = p->stop[0], .events = POLLIN};
		pf[n++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
		for (size_t i = 0; i < p->n; i++) {
			pf[n++] = (struct pollfd){.fd = p->fds[i][0], .events = POLLIN};
			pf[n++] = (struct pollfd){.fd = p->fds[i][1], .events = POLLIN};
		}
		if (poll(pf, n, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		/* pairs first: accepting moves the array */
		for (size_t i = p->n; i-- > 0;) {
			for (int side = 0; side < 2; side++) {
				short ev = pf[2 + 2 * i + (size_t)side].revents;
				ssize_t r;
				if (!ev)
					continue;
				r = read(p->fds[i][side], buf, sizeof(buf));
				if (r <= 0 || write(p->fds[i][1 - side], buf, (size_t)r) != r) {
					drop(p, i);
					break;
				}
			}
		}
		if (pf[1].revents)
			accept_one(p);
	}
	for (size_t i = p->n; i-- > 0;)
		drop(p, i);
	return NULL;
}

struct th_proxy *
th_proxy_start(int port, int a, int b, bool round_robin)
{
	struct th_proxy *p = calloc(1, sizeof(*p));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;

	if (!p)
		abort();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->ports[0] = a;
	p->ports[1] = b;
	p->round_robin = round_robin;
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(p->lfd, 128) < 0 || pipe(p->stop) < 0 ||
	    pthread_create(&p->thread, NULL, run, p) != 0) {
		if (p->lfd >= 0)
			close(p->lfd);
		free(p);
		return NULL;
	}
	return p;
}

void
th_proxy_mode(struct th_proxy *p, bool round_robin)
{
	/* read by the thread at its next accept: a word, set whole */
	__atomic_store_n(&p->round_robin, round_robin, __ATOMIC_SEQ_CST);
}

void
th_proxy_prefer(struct th_proxy *p, int which)
{
	__atomic_store_n(&p->round_robin, false, __ATOMIC_SEQ_CST);
	__atomic_store_n(&p->first, which, __ATOMIC_SEQ_CST);
}

long
th_proxy_served(struct th_proxy *p, int which)
{
	return __atomic_load_n(&p->served[which], __ATOMIC_SEQ_CST);
}

void
th_proxy_stop(struct th_proxy *p)
{
	if (!p)
		return;
	if (write(p->stop[1], "x", 1) != 1)
		abort();
	pthread_join(p->thread, NULL);
	close(p->stop[0]);
	close(p->stop[1]);
	close(p->lfd);
	free(p);
}
