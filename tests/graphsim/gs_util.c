/* Small helpers: time, ids, URL and form encoding, logging. */
#include <ctype.h>
#include <math.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs.h"

double
gs_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
gs_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > gs_cfg.verbose)
		return;
	va_start(ap, fmt);
	flockfile(stderr);
	fprintf(stderr, "graphsim: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

char *
gs_strdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		abort();
	return d;
}

char *
gs_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

void
gs_random_bytes(void *buf, size_t len)
{
	if (RAND_bytes(buf, (int)len) != 1)
		abort();
}

void
gs_uuid(char out[37])
{
	unsigned char b[16];

	gs_random_bytes(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

char *
gs_random_token(const char *prefix, size_t nbytes)
{
	unsigned char buf[128];
	char *enc, *out;

	if (nbytes > sizeof(buf))
		nbytes = sizeof(buf);
	gs_random_bytes(buf, nbytes);
	enc = gs_b64url(buf, nbytes);
	out = gs_printf("%s%s", prefix, enc);
	free(enc);
	return out;
}

char *
gs_time_iso(double t, int digits)
{
	time_t secs = (time_t)floor(t);
	double frac = t - (double)secs;
	struct tm tm;
	char base[32], fracs[32] = "";

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (digits > 0) {
		long scale = 1;
		for (int i = 0; i < digits; i++)
			scale *= 10;
		long f = (long)(frac * (double)scale);
		if (f >= scale)
			f = scale - 1;
		snprintf(fracs, sizeof(fracs), ".%0*ld", digits & 7, f);
	}
	return gs_printf("%s%sZ", base, fracs);
}

/* Accepts YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm), as Graph does. */
int
gs_time_parse(const char *s, double *ret)
{
	struct tm tm = {0};
	int n = 0;
	double frac = 0;

	if (!s ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return -1;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	s += n;
	if (*s == '.') {
		double scale = 0.1;
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		while (isdigit((unsigned char)*s)) {
			frac += (*s - '0') * scale;
			scale /= 10;
			s++;
		}
	}
	long offset = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int hh, mm, m2 = 0;
		if (sscanf(s + 1, "%2d:%2d%n", &hh, &mm, &m2) != 2 || m2 != 5 || hh > 23 || mm > 59)
			return -1;
		offset = (hh * 3600L + mm * 60L) * (*s == '+' ? 1 : -1);
		s += 6;
	} else {
		return -1;
	}
	if (*s)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ret = (double)timegm(&tm) - (double)offset + frac;
	return 0;
}

int
gs_duration_parse(const char *s, double *ret)
{
	char *end;
	double v = strtod(s, &end);
	double mult = 1;

	if (end == s || v < 0 || !isfinite(v))
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		mult = 1;
	else if (!strcmp(end, "ms"))
		mult = 0.001;
	else if (!strcmp(end, "m"))
		mult = 60;
	else if (!strcmp(end, "h"))
		mult = 3600;
	else if (!strcmp(end, "d"))
		mult = 86400;
	else
		return -1;
	*ret = v * mult;
	return 0;
}

char *
gs_url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s);
	char *out = malloc(3 * len + 1), *p = out;

	if (!out)
		abort();
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
	*p = '\0';
	return out;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Form decoding: '+' is a space, %XX a byte. A bad escape stays literal. */
char *
gs_url_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *p = out;

	if (!out)
		abort();
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			*p++ = ' ';
		} else if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 &&
			   hexval(s[i + 2]) >= 0) {
			*p++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*p++ = s[i];
		}
	}
	*p = '\0';
	return out;
}

bool
gs_streq_ci(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

bool
gs_is_loopback_host(const char *url)
{
	const char *h = strstr(url, "://");

	if (!h)
		return false;
	h += 3;
	return !strncmp(h, "127.", 4) || !strncmp(h, "localhost", 9) || !strncmp(h, "[::1]", 5);
}

int
gs_form_parse(const char *body, size_t len, struct gs_form *ret)
{
	struct gs_form f = {0};
	size_t i = 0;

	while (i < len) {
		size_t j = i;
		while (j < len && body[j] != '&')
			j++;
		if (j > i) {
			const char *eq = memchr(body + i, '=', j - i);
			size_t klen = eq ? (size_t)(eq - (body + i)) : j - i;
			f.keys = realloc(f.keys, (f.n + 1) * sizeof(char *));
			f.vals = realloc(f.vals, (f.n + 1) * sizeof(char *));
			if (!f.keys || !f.vals)
				abort();
			f.keys[f.n] = gs_url_decode(body + i, klen);
			f.vals[f.n] =
			    eq ? gs_url_decode(eq + 1, (size_t)(body + j - eq - 1)) : gs_strdup("");
			f.n++;
		}
		i = j + 1;
	}
	*ret = f;
	return 0;
}

const char *
gs_form_get(const struct gs_form *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->keys[i], key))
			return f->vals[i];
	return NULL;
}

void
gs_form_free(struct gs_form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->keys[i]);
		free(f->vals[i]);
	}
	free(f->keys);
	free(f->vals);
	memset(f, 0, sizeof(*f));
}

void
gs_vec_push(struct gs_vec *vec, void *p)
{
	if (vec->n == vec->cap) {
		vec->cap = vec->cap ? vec->cap * 2 : 8;
		vec->v = realloc(vec->v, vec->cap * sizeof(void *));
		if (!vec->v)
			abort();
	}
	vec->v[vec->n++] = p;
}

void
gs_vec_remove_at(struct gs_vec *vec, size_t i)
{
	memmove(&vec->v[i], &vec->v[i + 1], (vec->n - i - 1) * sizeof(void *));
	vec->n--;
}
