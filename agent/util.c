#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util.h"

static void
oom(void)
{
	fputs("out of memory\n", stderr);
	abort();
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		oom();
	return d;
}

char *
xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		oom();
	return d;
}

char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	return s;
}

void
free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

double
now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
now_started(void)
{
	static double started;

	if (!started)
		started = now_wall();
	return started;
}

static double
clock_seconds(clockid_t which)
{
	struct timespec ts;

	clock_gettime(which, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
now_mono(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

double
now_boot(void)
{
	return clock_seconds(CLOCK_BOOTTIME);
}

char *
time_iso(double t)
{
	time_t secs = (time_t)t;
	struct tm tm;
	char buf[32];

	gmtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

int
time_parse(const char *s, double *ret)
{
	struct tm tm = {0};
	int n = 0;
	double frac = 0, scale = 0.1;
	long off = 0;

	if (!s ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return -1;
	s += n;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++, scale /= 10)
			frac += (*s - '0') * scale;
	if (*s == '+' || *s == '-') {
		int hh, mm;
		if (sscanf(s + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = (hh * 3600L + mm * 60L) * (*s == '+' ? 1 : -1);
		s += 6;
	} else if (*s == 'Z') {
		s++;
	} else {
		return -1;
	}
	if (*s || tm.tm_mon < 1 || tm.tm_mon > 12)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ret = (double)timegm(&tm) - (double)off + frac;
	return 0;
}

void
random_bytes(void *buf, size_t len)
{
	/* no entropy is not a state to run in */
	if (RAND_bytes(buf, (int)len) != 1)
		abort();
}

double
backoff_delay(double min, double max, long n, bool jitter)
{
	double d = min;
	uint32_t r;

	for (long i = 0; i < n && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	if (!jitter)
		return d;
	random_bytes(&r, sizeof(r));
	return d * (0.5 + 0.5 * ((double)r / (double)UINT32_MAX));
}

char *
b64url_encode(const unsigned char *in, size_t len)
{
	char *out = xcalloc(4 * ((len + 2) / 3) + 1, 1);
	size_t n;

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	n = strlen(out);
	while (n > 0 && out[n - 1] == '=')
		out[--n] = '\0';
	for (char *p = out; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return out;
}

unsigned char *
b64url_decode(const char *in, size_t *ret_len)
{
	size_t len = strlen(in), padded = (len + 3) / 4 * 4;
	char *buf = xcalloc(padded + 1, 1);
	unsigned char *out = xcalloc(padded / 4 * 3 + 1, 1);
	int n;

	for (size_t i = 0; i < len; i++) {
		char ch = in[i];
		if (ch == '-')
			ch = '+';
		else if (ch == '_')
			ch = '/';
		else if (ch == '+' || ch == '/' || ch == '=')
			goto bad; /* not base64url */
		buf[i] = ch;
	}
	for (size_t i = len; i < padded; i++)
		buf[i] = '=';
	n = EVP_DecodeBlock(out, (unsigned char *)buf, (int)padded);
	if (n < 0 || len % 4 == 1)
		goto bad;
	n -= (int)(padded - len);
	free(buf);
	*ret_len = (size_t)n;
	return out;
bad:
	free(buf);
	free(out);
	return NULL;
}

unsigned char *
b64_decode(const char *in, size_t *ret_len)
{
	size_t len = strlen(in);
	unsigned char *out;
	int n;

	if (len == 0 || len % 4 != 0 ||
	    strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		       "vwxyz0123456789+/=") != len)
		return NULL;
	out = xcalloc(len / 4 * 3 + 1, 1);
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	if (in[len - 1] == '=')
		n--;
	if (in[len - 2] == '=')
		n--;
	*ret_len = (size_t)n;
	return out;
}

char *
random_id(size_t len)
{
	unsigned char buf[64];

	if (len > sizeof(buf))
		len = sizeof(buf);
	random_bytes(buf, len);
	return b64url_encode(buf, len);
}

bool
secret_equal(const char *a, const char *b)
{
	size_t la, lb;
	unsigned char diff;

	if (!a || !b)
		return false;
	la = strlen(a);
	lb = strlen(b);
	/* compare b's length worth of bytes whatever a is, then the lengths */
	diff = (unsigned char)(la != lb);
	for (size_t i = 0; i < lb; i++)
		diff |= (unsigned char)((i < la ? (unsigned char)a[i] : 0) ^ (unsigned char)b[i]);
	return diff == 0;
}

int
url_parse(const char *s, struct url *u)
{
	const char *p = strstr(s, "://"), *host, *end, *colon;

	memset(u, 0, sizeof(*u));
	if (!p || (size_t)(p - s) >= sizeof(u->scheme))
		return -1;
	memcpy(u->scheme, s, (size_t)(p - s));
	for (char *c = u->scheme; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	host = p + 3;
	end = host + strcspn(host, "/?#");
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));
		if (!rb)
			return -1;
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if ((size_t)(rb - host + 1) >= sizeof(u->host))
			return -1;
		memcpy(u->host, host, (size_t)(rb - host + 1));
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
		size_t hl = (size_t)((colon ? colon : end) - host);
		if (hl == 0 || hl >= sizeof(u->host))
			return -1;
		memcpy(u->host, host, hl);
	}
	for (const char *c = u->host; *c; c++)
		if (isspace((unsigned char)*c) || *c == '@')
			return -1;
	if (colon) {
		char *e;
		long port = strtol(colon + 1, &e, 10);
		if (e != end || port < 1 || port > 65535)
			return -1;
		u->port = (int)port;
	} else {
		u->port = !strcmp(u->scheme, "http") ? 80 : 443;
	}
	if (strlen(end) >= sizeof(u->path))
		return -1;
	snprintf(u->path, sizeof(u->path), "%s", end);
	return 0;
}

bool
url_host_is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcmp(host, "localhost") || !strcmp(host, "[::1]");
}

char *
url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xcalloc(3 * strlen(s) + 1, 1), *p = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	return out;
}

int
sockaddr_of(const char *addr, int port, struct sockaddr_storage *ss, bool *ret_v6)
{
	memset(ss, 0, sizeof(*ss));
	*ret_v6 = strchr(addr, ':') != NULL;
	if (*ret_v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, addr, &s4->sin_addr) == 1 ? 0 : -1;
}

int
addr_parse(const char *s, char **ret_host, int *ret_port)
{
	const char *colon;
	char *end;
	long port;

	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -1;
		*ret_host = xstrndup(s + 1, (size_t)(rb - s - 1));
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s)
			return -1;
		*ret_host = xstrndup(s, (size_t)(colon - s));
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535) {
		free(*ret_host);
		*ret_host = NULL;
		return -1;
	}
	*ret_port = (int)port;
	return 0;
}

char *
html_escape(const char *s)
{
	size_t n = 0;
	char *out, *p;

	for (const char *c = s; *c; c++)
		n += strchr("&<>\"'", *c) ? 6 : 1;
	out = p = xcalloc(n + 1, 1);
	for (; *s; s++) {
		switch (*s) {
		case '&':
			p = stpcpy(p, "&amp;");
			break;
		case '<':
			p = stpcpy(p, "&lt;");
			break;
		case '>':
			p = stpcpy(p, "&gt;");
			break;
		case '"':
			p = stpcpy(p, "&quot;");
			break;
		case '\'':
			p = stpcpy(p, "&#39;");
			break;
		default:
			*p++ = *s;
		}
	}
	return out;
}

char *
file_read(const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = xcalloc(max + 1, 1);
	n = fread(buf, 1, max, f);
	if (ferror(f) || !feof(f)) {
		int saved = ferror(f) ? errno : EFBIG;
		OPENSSL_cleanse(buf, max);
		free(buf);
		fclose(f);
		errno = saved;
		return NULL;
	}
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return buf;
}

int
graph_message_ids(const char *res, char **ret_chat, char **ret_msg)
{
	const char *a = res ? strstr(res, "chats('") : NULL, *b, *c, *d;

	if (!a)
		return -1;
	a += 7;
	b = strstr(a, "')/messages('");
	if (!b)
		return -1;
	c = b + 13;
	d = strstr(c, "')");
	if (!d || d == c || b == a)
		return -1;
	*ret_chat = xstrndup(a, (size_t)(b - a));
	*ret_msg = xstrndup(c, (size_t)(d - c));
	return 0;
}

json_t *
json_time(double t)
{
	char *s;
	json_t *j;

	if (t <= 0)
		return json_null();
	s = time_iso(t);
	j = json_string(s);
	free(s);
	return j;
}
