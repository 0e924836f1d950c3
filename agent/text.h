/*
 * Outside text (names, locations, Entra's and Graph's error texts) made fit
 * for every output: the event store, logs, SNMP, traps, passive results and
 * the plugins' status lines all need valid UTF-8 and no control characters,
 * and any cut must fall between characters. jansson refuses a string that is
 * not UTF-8, so one bad byte would otherwise make a 911 vanish from the
 * outputs that carry JSON. libc only; the plugins link it too.
 */
#ifndef CT_TEXT_H
#define CT_TEXT_H

#include <stddef.h>

/* A copy of s with what is not valid UTF-8 (a byte that starts nothing, a
 * sequence cut short, overlong forms, UTF-16 surrogates, code points past
 * U+10FFFF) replaced by U+FFFD, one for each maximal bad subpart as Unicode
 * recommends; control characters (C0, DEL, C1, U+2028, U+2029) become a
 * space; and at most max bytes kept, cut between characters (max 0: no
 * limit). NULL gives NULL. */
char *txt_clean(const char *s, size_t max);

/* The length of the longest prefix of s (valid UTF-8) that is at most max
 * bytes and ends between characters. */
size_t txt_cut(const char *s, size_t max);

/* Whether s is valid UTF-8 with no control characters. */
int txt_is_clean(const char *s);

/* The length of the valid UTF-8 character at s (1 to 4) and its code point
 * in *cp; 0 when s does not start one (including at its end). */
size_t txt_char(const unsigned char *s, unsigned long *cp);

#endif
