#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctlclient.h"

#define ANSWER_MAX (16 * 1024 * 1024)

static long
ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Waits for fd to be ready for ev before the deadline. */
static enum cc_result
await(int fd, short ev, const struct timespec *deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	long left = ms_left(deadline);
	int n;

	if (left <= 0)
		return CC_TIMEOUT;
	while ((n = poll(&p, 1, (int)left)) < 0 && errno == EINTR)
		left = ms_left(deadline) > 0 ? ms_left(deadline) : 0;
	return n == 1 ? CC_OK : CC_TIMEOUT;
}

static enum cc_result
send_all(int fd, const char *buf, size_t len, const struct timespec *deadline)
{
	while (len > 0) {
		ssize_t n;
		enum cc_result r = await(fd, POLLOUT, deadline);
		if (r != CC_OK)
			return r;
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return CC_DROPPED;
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		}
	}
	return CC_OK;
}

/* Connects within the deadline. A daemon that is stopped or hung leaves
 * its listening socket's backlog full, and a blocking connect would wait
 * for ever; an AF_UNIX socket that cannot connect at once says EAGAIN, so
 * the connect is asked again until the deadline. */
static enum cc_result
connect_by(int fd, const struct sockaddr_un *sa, const struct timespec *deadline)
{
	for (;;) {
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			return CC_OK;
		if (errno == EINPROGRESS) {
			int err = 0;
			socklen_t len = sizeof(err);
			if (await(fd, POLLOUT, deadline) != CC_OK)
				return CC_TIMEOUT;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
				return CC_OK;
			errno = err;
			return CC_NO_DAEMON;
		}
		if (errno != EAGAIN && errno != EINTR)
			return CC_NO_DAEMON;
		if (ms_left(deadline) <= 0)
			return CC_TIMEOUT;
		poll(NULL, 0, 10);
	}
}

/* Reads up to the first newline. */
static enum cc_result
read_line(int fd, char **ret, const struct timespec *deadline)
{
	char *buf = NULL, chunk[4096];
	size_t len = 0;

	for (;;) {
		enum cc_result r = await(fd, POLLIN, deadline);
		ssize_t n;
		char *grown;
		if (r != CC_OK) {
			free(buf);
			return r;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || len + (size_t)n > ANSWER_MAX) {
			free(buf);
			return CC_DROPPED;
		}
		grown = realloc(buf, len + (size_t)n + 1);
		if (!grown) {
			free(buf);
			return CC_DROPPED;
		}
		buf = grown;
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf, '\n', len)) {
			*ret = buf;
			return CC_OK;
		}
	}
}

enum cc_result
cc_call(const char *path, json_t *req, int timeout_ms, json_t **ret, char *why, size_t why_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timespec deadline;
	char *line = NULL, *answer = NULL;
	enum cc_result r;
	int fd;

	*ret = NULL;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, why_len, "socket path too long: %s", path);
		return CC_NO_DAEMON;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	r = fd < 0 ? CC_NO_DAEMON : connect_by(fd, &sa, &deadline);
	if (r != CC_OK) {
		if (r == CC_TIMEOUT)
			snprintf(why, why_len,
				 "ctteamsd at %s takes no connection within %d ms (stopped or "
				 "hung?)",
				 path, timeout_ms);
		else
			snprintf(why, why_len, "cannot reach ctteamsd at %s: %s", path,
				 strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	line = json_dumps(req, JSON_COMPACT);
	r = line ? send_all(fd, line, strlen(line), &deadline) : CC_BAD_ANSWER;
	if (r == CC_OK)
		r = send_all(fd, "\n", 1, &deadline);
	if (r == CC_OK)
		r = read_line(fd, &answer, &deadline);
	if (r == CC_OK && !(*ret = json_loads(answer, JSON_DISABLE_EOF_CHECK, NULL)))
		r = CC_BAD_ANSWER;
	if (r == CC_DROPPED)
		snprintf(why, why_len, "the connection to ctteamsd at %s dropped before an answer",
			 path);
	else if (r == CC_TIMEOUT)
		snprintf(why, why_len, "no answer from ctteamsd at %s within %d ms", path,
			 timeout_ms);
	else if (r == CC_BAD_ANSWER)
		snprintf(why, why_len, "ctteamsd at %s answered something that is not JSON", path);
	close(fd);
	free(line);
	free(answer);
	return r;
}
