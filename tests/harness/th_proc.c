/* Helper processes and waiting on conditions. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "th.h"

#ifndef TH_GRAPHSIM
#error "TH_GRAPHSIM must name the graphsim binary"
#endif

double
th_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *
th_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *path;

	if (asprintf(&path, "%s/ctteams-%s-XXXXXX", base, tag) < 0 || !mkdtemp(path))
		abort();
	return path;
}

void
th_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *p;
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
			abort();
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			th_rmtree(p);
		else
			unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

bool
th_wait_until(bool (*pred)(void *), void *arg, double timeout)
{
	double end = th_now() + timeout;

	for (;;) {
		if (pred(arg))
			return true;
		if (th_now() > end)
			return false;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static bool
file_exists(void *path)
{
	return access(path, F_OK) == 0;
}

bool
th_wait_file(const char *path, double timeout)
{
	return th_wait_until(file_exists, (void *)path, timeout);
}

char *
th_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

int
th_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int
th_free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static char *
drain_fd(int fd)
{
	char *buf = NULL, chunk[4096];
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		buf = realloc(buf, len + (size_t)n + 1);
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
		buf[len] = '\0';
	}
	return buf ? buf : strdup("");
}

int
th_run(const char *const *argv, char **ret_out, char **ret_err)
{
	char *dir = th_tmpdir("run"), *outp, *errp;
	int status = 0, fd;
	pid_t pid;

	if (asprintf(&outp, "%s/out", dir) < 0 || asprintf(&errp, "%s/err", dir) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		close(fd);
		fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		close(fd);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ret_out) {
		fd = open(outp, O_RDONLY);
		*ret_out = drain_fd(fd);
		close(fd);
	}
	if (ret_err) {
		fd = open(errp, O_RDONLY);
		*ret_err = drain_fd(fd);
		close(fd);
	}
	th_rmtree(dir);
	free(dir);
	free(outp);
	free(errp);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
th_graphsim_start(struct th_graphsim *gs, const char *const *extra)
{
	char *portfile, *args[64];
	int n = 0, fd;
	bool tls = true;

	memset(gs, 0, sizeof(*gs));
	gs->dir = th_tmpdir("graphsim");
	if (asprintf(&portfile, "%s/port", gs->dir) < 0 ||
	    asprintf(&gs->ca, "%s/ca.pem", gs->dir) < 0 ||
	    asprintf(&gs->log, "%s/graphsim.log", gs->dir) < 0)
		abort();
	args[n++] = TH_GRAPHSIM;
	args[n++] = "--port-file";
	args[n++] = portfile;
	args[n++] = "--ca-out";
	args[n++] = gs->ca;
	args[n++] = "--verbose=1";
	for (; extra && *extra && n < 62; extra++) {
		if (!strcmp(*extra, "--no-tls"))
			tls = false;
		args[n++] = (char *)*extra;
	}
	args[n] = NULL;

	gs->pid = fork();
	if (gs->pid < 0)
		abort();
	if (gs->pid == 0) {
		fd = open(gs->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execv(args[0], args);
		_exit(127);
	}
	if (!th_wait_file(portfile, 20)) {
		fprintf(stderr, "graphsim did not start; log %s\n", gs->log);
		free(portfile);
		return -1;
	}
	char *p = th_read_file(portfile);
	gs->port = atoi(p);
	free(p);
	free(portfile);
	if (asprintf(&gs->base, "%s://127.0.0.1:%d", tls ? "https" : "http", gs->port) < 0)
		abort();
	if (!tls) {
		free(gs->ca);
		gs->ca = NULL;
	}
	return 0;
}

int
th_graphsim_stop(struct th_graphsim *gs)
{
	int status = 0, rc = 0;

	if (gs->pid > 0) {
		kill(gs->pid, SIGTERM);
		while (waitpid(gs->pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			/* a sanitizer report or a crash: show the log */
			char *log = th_read_file(gs->log);
			fprintf(stderr, "graphsim exited abnormally (status %d):\n%s\n", status,
				log ? log : "");
			free(log);
			rc = -1;
		}
	}
	if (gs->dir && !getenv("TH_KEEP"))
		th_rmtree(gs->dir);
	free(gs->dir);
	free(gs->base);
	free(gs->ca);
	free(gs->log);
	memset(gs, 0, sizeof(*gs));
	return rc;
}

json_t *
th_sim(struct th_graphsim *gs, const char *method, const char *path, json_t *body, long *ret_status)
{
	char *url, *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	struct th_resp r;
	json_t *out = NULL;

	if (asprintf(&url, "%s/_sim%s", gs->base, path) < 0)
		abort();
	if (th_http(method, url, gs->ca, hdrs, text, &r) == 0) {
		out = th_resp_json(&r);
		if (ret_status)
			*ret_status = r.status;
		th_resp_free(&r);
	} else if (ret_status) {
		*ret_status = 0;
	}
	json_decref(body);
	free(text);
	free(url);
	return out;
}

char *
th_sim_user(struct th_graphsim *gs, const char *tenant, const char *upn, const char *name)
{
	json_t *u = th_sim(
	    gs, "POST", "/users",
	    json_pack("{s:s, s:s, s:s}", "tenant", tenant, "upn", upn, "display_name", name), NULL);
	char *id = u && json_string_value(json_object_get(u, "id"))
		       ? strdup(json_string_value(json_object_get(u, "id")))
		       : NULL;

	json_decref(u);
	return id;
}
