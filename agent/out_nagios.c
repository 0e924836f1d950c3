/*
 * The command file is a named pipe that Nagios reads. It is opened
 * non-blocking for each entry: with no reader the open fails at once
 * (ENXIO) rather than waiting, and a full pipe fails the write (EAGAIN);
 * either way the entry is tried again later and the loop never waits.
 * Each command is one write below PIPE_BUF, so it reaches Nagios whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "out_nagios.h"
#include "outbox.h"
#include "passive.h"
#include "util.h"

#define OUTPUT_MAX 2048 /* the plugin output in one command: well under PIPE_BUF */

/* Copies of the keys in use: a reload that turns the output off must not
 * leave the consumer reading a configuration that is gone. */
static char *command_file;
static struct outbox_consumer *consumer;

static int
write_command(const char *line, char *why, size_t why_len)
{
	size_t len = strlen(line);
	ssize_t n;
	int fd = open(command_file, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		snprintf(why, why_len, "%s: %s", command_file,
			 errno == ENXIO ? "nobody reads it (is Nagios running?)" : strerror(errno));
		return -1;
	}
	/* a plain file would take the line and nobody would ever read it */
	if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
		snprintf(why, why_len, "%s: not a named pipe (Nagios' command_file?)",
			 command_file);
		close(fd);
		return -1;
	}
	n = write(fd, line, len);
	if (n != (ssize_t)len)
		snprintf(why, why_len, "%s: %s", command_file,
			 n < 0 && errno == EAGAIN ? "Nagios is not keeping up (the pipe is full)"
			 : n < 0                  ? strerror(errno)
						  : "written in part");
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* Nagios takes "\\n" in a result's output for a line break and "\\\\" for
 * a backslash: a backslash from Graph's text is doubled. Quotes, backquotes
 * and '$' become their typographic kin (3 bytes each): Nagios hands the
 * output to notification commands through a shell, and only its
 * illegal_macro_output_chars, which an operator may change, would keep a
 * caller's name from breaking out of their quotes. Cut at a UTF-8
 * character's start. */
static char *
escaped(const char *s)
{
	char *out = xcalloc(3 * strlen(s) + 1, 1), *o = out;

	for (; *s && o - out < OUTPUT_MAX; s++) {
		const char *kin = *s == '\''  ? "\u2019"
				  : *s == '"' ? "\u201d"
				  : *s == '`' ? "\u2018"
				  : *s == '$' ? "\uff04"
					      : NULL;
		if (kin) {
			memcpy(o, kin, strlen(kin));
			o += strlen(kin);
			continue;
		}
		if (*s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	if (((unsigned char)*s & 0xc0) == 0x80) {
		/* cut inside a character: drop its first bytes too */
		while (o > out && ((unsigned char)o[-1] & 0xc0) == 0x80)
			o--;
		if (o > out)
			o--;
	}
	*o = '\0';
	return out;
}

static void
deliver(struct outbox_consumer *c, json_t *entry, void *arg)
{
	struct passive_result *r;
	size_t n = passive_results(entry, &r);
	char why[512] = "";
	bool ok = true;

	(void)arg;
	if (n == 0) {
		passive_results_free(r, 0);
		outbox_pass(c, false, NULL); /* nothing for Nagios: not counted */
		return;
	}
	for (size_t i = 0; i < n && ok; i++) {
		char *out = escaped(r[i].output);
		/* both commands in one write, so Nagios reads them together */
		char *unack = r[i].clear_ack ? xprintf("[%.0f] REMOVE_SVC_ACKNOWLEDGEMENT;%s;%s\n",
						       r[i].at, r[i].host, r[i].service)
					     : xstrdup("");
		char *line = xprintf("%s[%.0f] PROCESS_SERVICE_CHECK_RESULT;%s;%s;%d;%s\n", unack,
				     r[i].at, r[i].host, r[i].service, r[i].state, out);
		/* a failure part way through sends the whole entry again: a
		 * result twice is harmless, one lost is not */
		ok = write_command(line, why, sizeof(why)) == 0;
		free(line);
		free(unack);
		free(out);
	}
	passive_results_free(r, n);
	outbox_done(c, ok, ok ? NULL : why);
}

static void
keep(const struct conf *c)
{
	free(command_file);
	command_file = xstrdup(c->nagios_command_file);
}

void
outn_start(const struct conf *c, struct store *st)
{
	struct outbox_opts o = passive_opts(c);

	if (!c->nagios_command_file)
		return;
	keep(c);
	consumer = outbox_consumer_new(st, "nagios", &o, deliver, NULL);
	log_info("nagios", "passive results to %s, host %s, services %s", c->nagios_command_file,
		 c->passive_host, c->service_name);
}

void
outn_reload(const struct conf *c)
{
	struct outbox_opts o = passive_opts(c);

	if (!consumer != !c->nagios_command_file)
		log_warnx("nagios", "nagios_command_file: turning it on or off takes a restart");
	if (!consumer || !c->nagios_command_file)
		return;
	keep(c);
	outbox_consumer_set_opts(consumer, &o);
}

void
outn_stop(void)
{
	if (consumer)
		outbox_consumer_free(consumer);
	consumer = NULL;
	free(command_file);
	command_file = NULL;
}
