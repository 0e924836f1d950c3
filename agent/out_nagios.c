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
#include <unistd.h>

#include "log.h"
#include "out_nagios.h"
#include "outbox.h"
#include "passive.h"
#include "util.h"

#define OUTPUT_MAX 2048 /* the plugin output in one command: well under PIPE_BUF */

static const struct conf *cfg;
static struct outbox_consumer *consumer;

static int
write_command(const char *line, char *why, size_t why_len)
{
	size_t len = strlen(line);
	ssize_t n;
	int fd = open(cfg->nagios_command_file, O_WRONLY | O_NONBLOCK | O_APPEND | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, why_len, "%s: %s", cfg->nagios_command_file,
			 errno == ENXIO ? "nobody reads it (is Nagios running?)" : strerror(errno));
		return -1;
	}
	n = write(fd, line, len);
	if (n != (ssize_t)len)
		snprintf(why, why_len, "%s: %s", cfg->nagios_command_file,
			 n < 0 && errno == EAGAIN ? "Nagios is not keeping up (the pipe is full)"
			 : n < 0                  ? strerror(errno)
						  : "written in part");
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static void
deliver(struct outbox_consumer *c, json_t *entry, void *arg)
{
	struct passive_result *r;
	size_t n = passive_results(entry, &r);
	char why[512] = "";
	bool ok = true;

	(void)arg;
	for (size_t i = 0; i < n && ok; i++) {
		char *line =
		    xprintf("[%.0f] PROCESS_SERVICE_CHECK_RESULT;%s;%s;%d;%.*s\n", r[i].at,
			    cfg->passive_host, r[i].service, r[i].state, OUTPUT_MAX, r[i].output);
		/* a failure part way through sends the whole entry again: a
		 * result twice is harmless, one lost is not */
		ok = write_command(line, why, sizeof(why)) == 0;
		free(line);
	}
	passive_results_free(r, n);
	outbox_done(c, ok, ok ? NULL : why);
}

static struct outbox_opts
opts_of(const struct conf *c)
{
	return (struct outbox_opts){
	    .backoff_min = 1, .backoff_max = 30, .max_age = c->passive_max_age};
}

void
outn_start(const struct conf *c, struct store *st)
{
	struct outbox_opts o = opts_of(c);

	cfg = c;
	if (!c->nagios_command_file)
		return;
	consumer = outbox_consumer_new(st, "nagios", &o, deliver, NULL);
	log_info("nagios", "passive results to %s, host %s", c->nagios_command_file,
		 c->passive_host);
}

void
outn_reload(const struct conf *c)
{
	struct outbox_opts o = opts_of(c);

	if (!consumer != !c->nagios_command_file)
		log_warnx("nagios", "nagios_command_file: turning it on or off takes a restart");
	if (!consumer || !c->nagios_command_file)
		return;
	cfg = c;
	outbox_consumer_set_opts(consumer, &o);
}

void
outn_stop(void)
{
	if (consumer)
		outbox_consumer_free(consumer);
	consumer = NULL;
}
