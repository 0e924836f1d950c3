#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "text.h"

static const char *prog = "ctteamsd";
static bool to_syslog;
static enum log_level max_level = LOG_LVL_INFO;
static void (*log_sink)(enum log_level, const char *, const char *);

void
log_init(const char *progname, bool use_syslog, enum log_level level)
{
	prog = progname;
	to_syslog = use_syslog;
	max_level = level;
	if (use_syslog)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	max_level = level;
}

void
log_set_sink(void (*sink)(enum log_level, const char *, const char *))
{
	log_sink = sink;
}

int
log_level_parse(const char *s, enum log_level *ret)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};

	for (int i = 0; i < 4; i++) {
		if (!strcmp(s, names[i])) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* A log line is one line, whatever the text it carries: a caller's name
 * or a header cannot forge another record. Control characters (C0, DEL)
 * and bytes that are not UTF-8 are written as \n, \r, \t or \xNN. */
static void
escape(const char *in, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	while (*p && o + 5 < size) {
		unsigned long cp;
		size_t n = txt_char(p, &cp);
		if (n == 0 || cp < 0x20 || cp == 0x7f) {
			const char *named = *p == '\n'   ? "\\n"
					    : *p == '\r' ? "\\r"
					    : *p == '\t' ? "\\t"
							 : NULL;
			o += named ? (size_t)snprintf(out + o, size - o, "%s", named)
				   : (size_t)snprintf(out + o, size - o, "\\x%02x", *p);
			p++;
			continue;
		}
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
}

static void __attribute__((format(printf, 4, 0)))
vlog(enum log_level level, const char *sub, const char *suffix, const char *fmt, va_list ap)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	static const char *const tag[] = {"error", "warning", "info", "debug"};
	char raw[1024], msg[1024];
	int n;

	if (level > max_level && !log_sink)
		return;
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (suffix && n >= 0 && (size_t)n < sizeof(raw))
		snprintf(raw + n, sizeof(raw) - (size_t)n, ": %s", suffix);
	escape(raw, msg, sizeof(msg));
	if (log_sink)
		log_sink(level, sub, msg);
	if (level > max_level)
		return;
	if (to_syslog) {
		syslog(prio[level], "[%s] %s", sub, msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(stderr, "%s %s[%s] %s: %s\n", when, prog, sub, tag[level], msg);
	}
}

#define LOG_FN(name, level, with_errno)                                                            \
	void name(const char *sub, const char *fmt, ...)                                           \
	{                                                                                          \
		va_list ap;                                                                        \
		int saved = errno;                                                                 \
		va_start(ap, fmt);                                                                 \
		vlog(level, sub, with_errno ? strerror(saved) : NULL, fmt, ap);                    \
		va_end(ap);                                                                        \
		errno = saved;                                                                     \
	}

LOG_FN(log_err, LOG_LVL_ERROR, false)
LOG_FN(log_warnx, LOG_LVL_WARNING, false)
LOG_FN(log_warn, LOG_LVL_WARNING, true)
LOG_FN(log_info, LOG_LVL_INFO, false)
LOG_FN(log_debug, LOG_LVL_DEBUG, false)

/* A few dozen kinds of flood at most: a small table, oldest slot reused. */
#define LIMITED_SLOTS 32

static struct {
	char key[96];
	double last;
	long held; /* lines not written since */
} limited[LIMITED_SLOTS];

void
log_warn_limited(const char *sub, const char *key, double every, const char *fmt, ...)
{
	struct timespec ts;
	double now;
	size_t i, oldest = 0;
	char held[64] = "";
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	for (i = 0; i < LIMITED_SLOTS; i++) {
		if (!strcmp(limited[i].key, key))
			break;
		if (limited[i].last < limited[oldest].last)
			oldest = i;
	}
	if (i == LIMITED_SLOTS) {
		i = oldest;
		snprintf(limited[i].key, sizeof(limited[i].key), "%s", key);
		limited[i].last = -1e9;
		limited[i].held = 0;
	}
	if (now - limited[i].last < every) {
		limited[i].held++;
		return;
	}
	if (limited[i].held)
		snprintf(held, sizeof(held), "(%ld more like it since the last)", limited[i].held);
	limited[i].last = now;
	limited[i].held = 0;
	va_start(ap, fmt);
	vlog(LOG_LVL_WARNING, sub, *held ? held : NULL, fmt, ap);
	va_end(ap);
}
