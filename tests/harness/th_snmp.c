/*
 * Real snmpd and snmptrapd for the tests, on loopback with free ports and
 * files under a temporary directory: snmpd is an AgentX master on a unix
 * socket there and sends its notifications to the snmptrapd, which logs
 * each on one line (trap OID and every varbind by name, CT-TEAMS-MIB and
 * the IETF MIBs on its path). Neither reads the host's configuration.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "th.h"

/* The IETF MIBs come from the npm package net-snmp at test time (the
 * ctest fixture snmp_mibs); Debian ships net-snmp's own. */
const char *
th_snmp_mibdirs(void)
{
	static char dirs[4096];

	snprintf(dirs, sizeof(dirs), "%s:/usr/share/snmp/mibs:%s", TH_IETF_MIBS, TH_CT_MIBS);
	return dirs;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* Each "@TRAPSINK@" in text becomes snmptrapd's address. */
static char *
with_sink(const char *text, int port)
{
	char sink[64], *out;
	const char *at;
	size_t n = 0;

	snprintf(sink, sizeof(sink), "127.0.0.1:%d", port);
	out = calloc(1, strlen(text) * 2 + 64 * 8 + 1);
	while ((at = strstr(text, "@TRAPSINK@"))) {
		memcpy(out + n, text, (size_t)(at - text));
		n += (size_t)(at - text);
		memcpy(out + n, sink, strlen(sink));
		n += strlen(sink);
		text = at + strlen("@TRAPSINK@");
	}
	strcpy(out + n, text);
	return out;
}

static pid_t
spawn(const char *const *argv, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		FILE *f = fopen(log, "a");
		if (f) {
			dup2(fileno(f), 1);
			dup2(fileno(f), 2);
		}
		/* the tools resolve names with these MIBs, nothing else */
		setenv("MIBDIRS", th_snmp_mibdirs(), 1);
		setenv("MIBS", "SNMPv2-MIB:CT-TEAMS-MIB", 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static void
reap(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGCONT); /* a test may have stopped it */
	kill(*pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

static bool
snmpd_answers(void *arg)
{
	struct th_snmp *s = arg;
	char *out = th_snmp_get(s, "SNMPv2-MIB::sysUpTime.0");
	bool ok = out && strstr(out, "sysUpTime");

	free(out);
	return ok;
}

int
th_snmpd_start(struct th_snmp *s)
{
	char *addr = xasprintf("udp:127.0.0.1:%d", s->port);
	const char *argv[] = {"/usr/sbin/snmpd", "-f", "-C",         "-c", s->snmpd_conf, "-Lf",
			      s->snmpd_log,      "-p", s->snmpd_pid, addr, NULL};

	s->snmpd = spawn(argv, s->snmpd_log);
	free(addr);
	if (!th_wait_until(snmpd_answers, s, 20) || !th_wait_file(s->agentx, 5)) {
		fprintf(stderr, "snmpd did not start; its log:\n%s\n", th_read_file(s->snmpd_log));
		return -1;
	}
	return 0;
}

void
th_snmpd_stop(struct th_snmp *s)
{
	reap(&s->snmpd);
}

static bool
trapd_ready(void *arg)
{
	struct th_snmp *s = arg;
	char *log = th_read_file(s->trap_log);
	bool ok = log && strstr(log, "NET-SNMP version");

	free(log);
	return ok;
}

int
th_snmp_start(struct th_snmp *s, const char *snmpd_extra, const char *trapd_extra)
{
	char *trapd_conf, *text, *addr, *extra;
	FILE *f;

	memset(s, 0, sizeof(*s));
	s->dir = th_tmpdir("snmp");
	s->port = th_free_port();
	s->trap_port = th_free_port();
	s->agentx = xasprintf("%s/agentx.sock", s->dir);
	s->snmpd_conf = xasprintf("%s/snmpd.conf", s->dir);
	s->snmpd_log = xasprintf("%s/snmpd.log", s->dir);
	s->snmpd_pid = xasprintf("%s/snmpd.pid", s->dir);
	s->trap_log = xasprintf("%s/traps.log", s->dir);
	trapd_conf = xasprintf("%s/snmptrapd.conf", s->dir);

	extra = with_sink(snmpd_extra ? snmpd_extra : "", s->trap_port);
	text = xasprintf("[snmp] persistentDir %s/persist\n"
			 "master agentx\n"
			 "agentXSocket %s\n"
			 "agentXPerms 0600 0700\n"
			 "rocommunity public 127.0.0.1\n"
			 "trap2sink 127.0.0.1:%d public\n"
			 "%s\n",
			 s->dir, s->agentx, s->trap_port, extra);
	free(extra);
	f = fopen(s->snmpd_conf, "w");
	fputs(text, f);
	fclose(f);
	free(text);
	/* one line per notification: trap OID, then each varbind */
	text = xasprintf("[snmp] persistentDir %s/persist-trapd\n"
			 "authCommunity log,execute public\n"
			 "format2 TRAP %%P\\t%%v\\n\n"
			 "%s\n",
			 s->dir, trapd_extra ? trapd_extra : "");
	f = fopen(trapd_conf, "w");
	fputs(text, f);
	fclose(f);
	free(text);

	addr = xasprintf("udp:127.0.0.1:%d", s->trap_port);
	{
		/* -Os: names without their module, as the tests read them */
		const char *argv[] = {"/usr/sbin/snmptrapd", "-f",  "-C", "-c", trapd_conf, "-Lf",
				      s->trap_log,           "-Os", addr, NULL};
		s->trapd = spawn(argv, s->trap_log);
	}
	free(addr);
	free(trapd_conf);
	if (!th_wait_until(trapd_ready, s, 20)) {
		fprintf(stderr, "snmptrapd did not start; its log:\n%s\n",
			th_read_file(s->trap_log));
		return -1;
	}
	return th_snmpd_start(s);
}

void
th_snmp_stop(struct th_snmp *s)
{
	reap(&s->snmpd);
	reap(&s->trapd);
	if (s->dir && !getenv("TH_KEEP"))
		th_rmtree(s->dir);
	free(s->dir);
	free(s->agentx);
	free(s->snmpd_conf);
	free(s->snmpd_log);
	free(s->snmpd_pid);
	free(s->trap_log);
	memset(s, 0, sizeof(*s));
}

static char *
tool(struct th_snmp *s, const char *cmd, const char *oid)
{
	char *addr = xasprintf("127.0.0.1:%d", s->port);
	const char *argv[] = {cmd,    "-v2c",
			      "-c",   "public",
			      "-t",   "2",
			      "-r",   "1",
			      "-M",   th_snmp_mibdirs(),
			      "-m",   "SNMPv2-MIB:CT-TEAMS-MIB",
			      "-OQs", addr,
			      oid,    NULL};
	char *out = NULL;
	int rc = th_run(argv, &out, NULL);

	free(addr);
	if (rc != 0) {
		free(out);
		return NULL;
	}
	return out;
}

char *
th_snmp_walk(struct th_snmp *s, const char *oid)
{
	return tool(s, "/usr/bin/snmpwalk", oid);
}

char *
th_snmp_bulkwalk(struct th_snmp *s, const char *oid)
{
	return tool(s, "/usr/bin/snmpbulkwalk", oid);
}

char *
th_snmp_get(struct th_snmp *s, const char *oid)
{
	return tool(s, "/usr/bin/snmpget", oid);
}

char *
th_snmp_traps(struct th_snmp *s)
{
	char *log = th_read_file(s->trap_log);

	return log ? log : strdup("");
}

char *
th_snmp_value(const char *text, const char *name)
{
	char *want, *at, *end;

	if (asprintf(&want, "%s = ", name) < 0)
		abort();
	for (at = strstr(text, want); at && at != text && at[-1] != '\n' && at[-1] != '\t';
	     at = strstr(at + 1, want))
		;
	if (!at) {
		free(want);
		return NULL;
	}
	at += strlen(want);
	free(want);
	/* snmptrapd names the type; a walk with -OQ does not */
	if (!strncmp(at, "STRING: ", 8))
		at += 8;
	if (*at == '"')
		at++;
	end = at + strcspn(at, "\t\n");
	if (end > at && end[-1] == '"')
		end--;
	return strndup(at, (size_t)(end - at));
}
