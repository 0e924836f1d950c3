/*
 * A real Nagios 4 core for the tests and the demo, in a temporary
 * directory: the shipped nagios/ctteams.cfg (with the agent's monitoring
 * socket added to each command line, and $USER1$ the plugins' build
 * directory) and Debian's standard objects and plugin commands, run as root, checks scheduled
 * at once, the status file written each second, external commands read
 * as soon as they come.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "th.h"

int
th_nagios_init(struct th_nagios *n)
{
	memset(n, 0, sizeof(*n));
	n->dir = th_tmpdir("nagios");
	if (asprintf(&n->cfg, "%s/nagios.cfg", n->dir) < 0 ||
	    asprintf(&n->cmd, "%s/nagios.cmd", n->dir) < 0 ||
	    asprintf(&n->status, "%s/status.dat", n->dir) < 0 ||
	    asprintf(&n->log, "%s/nagios.log", n->dir) < 0)
		return -1;
	return 0;
}

/* The shipped objects with "-S SOCKET" before each $ARG2$. */
static char *
objects_for(const char *shipped, const char *sock)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const char *at = shipped, *m;

	while ((m = strstr(at, "$ARG2$"))) {
		fprintf(f, "%.*s-S %s $ARG2$", (int)(m - at), at, sock);
		at = m + 6;
	}
	fputs(at, f);
	fclose(f);
	return out;
}

int
th_nagios_configure(struct th_nagios *n, const char *objects_file, const char *plugins,
		    const char *monitor_socket)
{
	char *shipped = th_read_file(objects_file), *objects, *path, *text;
	int rc = 0;

	if (!shipped || asprintf(&path, "%s/ctteams.cfg", n->dir) < 0)
		return -1;
	objects = objects_for(shipped, monitor_socket);
	rc |= th_write_file(path, objects);
	free(objects);
	free(shipped);
	if (asprintf(&text,
		     "log_file=%s\n"
		     "cfg_dir=/etc/nagios-plugins/config\n"
		     "cfg_file=/etc/nagios4/objects/commands.cfg\n"
		     "cfg_file=/etc/nagios4/objects/contacts.cfg\n"
		     "cfg_file=/etc/nagios4/objects/timeperiods.cfg\n"
		     "cfg_file=/etc/nagios4/objects/templates.cfg\n"
		     "cfg_file=%s\n"
		     "resource_file=%s/resource.cfg\n"
		     "status_file=%s\n"
		     "status_update_interval=1\n"
		     "command_file=%s\n"
		     "check_external_commands=1\n"
		     "command_check_interval=-1\n"
		     "check_result_path=%s\n"
		     "check_result_reaper_frequency=1\n"
		     "lock_file=%s/nagios.pid\n"
		     "temp_file=%s/nagios.tmp\n"
		     "temp_path=%s\n"
		     "query_socket=%s/nagios.qh\n"
		     "state_retention_file=%s/retention.dat\n"
		     "object_cache_file=%s/objects.cache\n"
		     "precached_object_file=%s/objects.precache\n"
		     "nagios_user=root\n"
		     "nagios_group=root\n"
		     "log_external_commands=1\n"
		     "log_passive_checks=1\n"
		     "max_service_check_spread=1\n"
		     /* freshness as the tests compress time: looked at each
		      * second, no latency added to a threshold */
		     "service_freshness_check_interval=1\n"
		     "additional_freshness_latency=0\n"
		     "max_host_check_spread=1\n"
		     "service_inter_check_delay_method=n\n"
		     "host_inter_check_delay_method=n\n"
		     "enable_notifications=%d\n"
		     "illegal_macro_output_chars=`~$&|'\"<>\n",
		     n->log, path, n->dir, n->status, n->cmd, n->dir, n->dir, n->dir, n->dir,
		     n->dir, n->dir, n->dir, n->dir, n->notify ? 1 : 0) < 0)
		return -1;
	rc |= th_write_file(n->cfg, text);
	free(text);
	free(path);
	if (asprintf(&path, "%s/resource.cfg", n->dir) < 0 ||
	    asprintf(&text, "$USER1$=%s\n", plugins) < 0)
		return -1;
	rc |= th_write_file(path, text);
	free(path);
	free(text);
	return rc;
}

int
th_nagios_start(struct th_nagios *n)
{
	n->pid = fork();
	if (n->pid == 0) {
		char *log;
		if (asprintf(&log, "%s/stdout", n->dir) < 0 || !freopen(log, "a", stdout) ||
		    !freopen(log, "a", stderr))
			_exit(127);
		execl("/usr/sbin/nagios4", "nagios4", n->cfg, (char *)NULL);
		_exit(127);
	}
	/* the command file exists once Nagios reads commands */
	return n->pid > 0 && th_wait_file(n->cmd, 20) ? 0 : -1;
}

void
th_nagios_stop(struct th_nagios *n)
{
	if (n->pid <= 0)
		return;
	kill(n->pid, SIGTERM);
	waitpid(n->pid, NULL, 0);
	n->pid = 0;
}

void
th_nagios_free(struct th_nagios *n)
{
	th_nagios_stop(n);
	if (n->dir && !getenv("TH_KEEP"))
		th_rmtree(n->dir);
	free(n->dir);
	free(n->cfg);
	free(n->cmd);
	free(n->status);
	free(n->log);
	memset(n, 0, sizeof(*n));
}

char *
th_nagios_service(struct th_nagios *n, const char *service)
{
	char *text = th_read_file(n->status), *at, *end, *svc, *block = NULL;

	if (!text || asprintf(&svc, "service_description=%s\n", service) < 0) {
		free(text);
		return NULL;
	}
	if ((at = strstr(text, svc))) {
		end = strstr(at, "}");
		block = strndup(at, end ? (size_t)(end - at) : strlen(at));
	}
	free(svc);
	free(text);
	return block;
}

int
th_nagios_command(struct th_nagios *n, const char *line)
{
	/* Nagios holds the pipe open for reading while it runs */
	int fd = open(n->cmd, O_WRONLY | O_NONBLOCK);
	ssize_t len = (ssize_t)strlen(line);
	int rc = fd >= 0 && write(fd, line, (size_t)len) == len ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return rc;
}
