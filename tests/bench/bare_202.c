/*
 * The yardstick for scripts/bench (not a test): libmicrohttpd on one
 * thread, reading each request's body and answering 202, with nothing
 * else. ctteamsd's intake is measured against it on the same machine, in
 * the same run.
 *
 *   bare_202 PORT
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *data, size_t *size, void **con_cls)
{
	static int started;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)data;
	if (!*con_cls) {
		*con_cls = &started;
		return MHD_YES;
	}
	if (*size) {
		*size = 0;
		return MHD_YES;
	}
	r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(conn, 202, r);
	MHD_destroy_response(r);
	return ret;
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	if (argc != 2) {
		fprintf(stderr, "usage: bare_202 PORT\n");
		return 2;
	}
	d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, (uint16_t)atoi(argv[1]), NULL, NULL,
			     on_request, NULL, MHD_OPTION_CONNECTION_LIMIT, 256U, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "bare_202: cannot listen on port %s\n", argv[1]);
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
