/* Unit tests: agent/client/ctlclient.c, the control protocol's client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctlclient.h"
#include "th.h"

static int
listen_at(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* A child that takes one connection and does `what` with it. */
static pid_t
serve_once(int lfd, const char *what)
{
	pid_t pid = fork();

	if (pid == 0) {
		int c = accept(lfd, NULL, NULL);
		char buf[256];
		size_t got = 0;
		ssize_t n;
		/* the whole request line: closing with some of it unread would
		 * reset the connection (AF_UNIX), and the answer with it */
		while (got < sizeof(buf) && (n = read(c, buf + got, sizeof(buf) - got)) > 0 &&
		       !memchr(buf, '\n', got + (size_t)n))
			got += (size_t)n;
		if (!strcmp(what, "answer"))
			(void)!write(c, "{\"proto\":1,\"ok\":true}\n", 22);
		else if (!strcmp(what, "junk"))
			(void)!write(c, "hello\n", 6);
		close(c);
		_exit(0);
	}
	return pid;
}

static void
test_results(void **state)
{
	char *dir = th_tmpdir("cc"), *path, why[256];
	json_t *req = json_pack("{s:s}", "cmd", "ping"), *ans = NULL;
	int lfd, status;
	pid_t pid;

	(void)state;
	if (asprintf(&path, "%s/s.sock", dir) < 0)
		abort();
	assert_int_equal(cc_call(path, req, 500, &ans, why, sizeof(why)), CC_NO_DAEMON);
	assert_non_null(strstr(why, "cannot reach"));
	lfd = listen_at(path);
	/* listening, never answering: the deadline holds */
	assert_int_equal(cc_call(path, req, 200, &ans, why, sizeof(why)), CC_TIMEOUT);
	/* nor accepting (a stopped daemon): once its backlog is full, the
	 * connect itself waits, and the deadline holds for it too */
	{
		int held[64], n = 0;
		double start;
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		while (n < 64) {
			held[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (connect(held[n], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
				close(held[n]);
				break;
			}
			n++;
		}
		assert_true(n < 64); /* the backlog is full */
		start = th_now();
		assert_int_equal(cc_call(path, req, 300, &ans, why, sizeof(why)), CC_TIMEOUT);
		assert_true(th_now() - start < 2.0);
		assert_non_null(strstr(why, "takes no connection"));
		while (n > 0)
			close(held[--n]);
	}
	close(lfd);
	unlink(path);
	lfd = listen_at(path);
	pid = serve_once(lfd, "answer");
	assert_int_equal(cc_call(path, req, 5000, &ans, why, sizeof(why)), CC_OK);
	assert_true(json_is_true(json_object_get(ans, "ok")));
	json_decref(ans);
	waitpid(pid, &status, 0);
	pid = serve_once(lfd, "close");
	assert_int_equal(cc_call(path, req, 5000, &ans, why, sizeof(why)), CC_DROPPED);
	assert_non_null(strstr(why, "dropped"));
	waitpid(pid, &status, 0);
	pid = serve_once(lfd, "junk");
	assert_int_equal(cc_call(path, req, 5000, &ans, why, sizeof(why)), CC_BAD_ANSWER);
	waitpid(pid, &status, 0);
	close(lfd);
	json_decref(req);
	free(path);
	th_rmtree(dir);
	free(dir);
}

/* The client and ctteamsctl load neither OpenSSL nor libcurl. */
static void
test_no_heavy_libraries(void **state)
{
	const char *argv[] = {"/usr/bin/ldd", CTTEAMSCTL, NULL};
	char *out = NULL;

	(void)state;
	assert_int_equal(th_run(argv, &out, NULL), 0);
	assert_null(strstr(out, "libcrypto"));
	assert_null(strstr(out, "libssl"));
	assert_null(strstr(out, "libcurl"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_results),
	    cmocka_unit_test(test_no_heavy_libraries),
	};
	return cmocka_run_group_tests_name("ctlclient", tests, NULL, NULL);
}
