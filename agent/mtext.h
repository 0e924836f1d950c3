/*
 * The readable text of a chatMessage, wherever Teams may have put it: the
 * body, the subject, card attachments (an Adaptive Card's TextBlocks,
 * FactSets and containers; a hero or thumbnail card's title and text) and
 * a system event's eventDetail. What Teams posts for a 911 call is known
 * only in part: a notice carried in a card must not pass without a trace.
 */
#ifndef CT_MTEXT_H
#define CT_MTEXT_H

#include <jansson.h>

/* Separates the parts in mtext_gather's text. */
#define MTEXT_SEP '\n'

/* The parts of the message, each with its markup gone, its white space
 * folded and valid UTF-8, joined by MTEXT_SEP (so that a field read to its
 * end, such as a location, ends with its part). At most MTEXT_MAX bytes.
 * Never NULL. html_to_text is the detector's normaliser. */
#define MTEXT_MAX (64 * 1024)
char *mtext_gather(json_t *message, char *(*html_to_text)(const char *html));

#endif
