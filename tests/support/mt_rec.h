/*
 * A recording listener for the listener tests: each callback appends one
 * word to a log ("begin", "add(r@1000)", ...), words separated by one space,
 * so a test compares everything a listener heard with one expected line.
 * With `shared`, a listener writes into the shared recorder's log with its
 * tag in front ("L1:add(r@0)"), which shows the order across listeners.
 * The recorder sets the section and log callbacks; a test adds any other
 * callback it needs and writes its words with mt_rec_put and mt_rec_section.
 */
#ifndef MT_REC_H
#define MT_REC_H

#include "mt_test.h"

/* How sections are written: NAME@START[+OFFSET], plus ":SIZE" (in bytes)
 * with MT_REC_SIZES, which also leaves the start out of log_start/log_stop
 * words. */
enum { MT_REC_SIZES = 1 };

typedef struct mt_rec {
    mt_listener l; /* first: callbacks cast the listener back */
    const char *tag;
    struct mt_rec *shared; /* log there instead, when set */
    unsigned style;
    char log[8192];
} mt_rec;

/* begin, commit, region add/del/nop and log start/stop, at `priority`. */
void mt_rec_init(mt_rec *r, int priority, const char *tag, mt_rec *shared, unsigned style);
/* Registers on `as` and clears the log the listener writes to. */
void mt_rec_attach(mt_rec *r, mt_address_space *as);
/* Appends one word (printf format) to the log of the listener `l`. */
__attribute__((format(printf, 2, 3)))
void mt_rec_put(mt_listener *l, const char *fmt, ...);
/* Appends WHAT(section), in the listener's style. */
void mt_rec_section(mt_listener *l, const char *what, const mt_section *s);
/* The name of a section's region, "(null)" when it has none. */
const char *mt_rec_name(const mt_section *s);
/* Fails unless the log is `expected`; then clears it. */
void mt_rec_check(mt_rec *r, const char *expected);
/* Unregisters (when registered). */
void mt_rec_free(mt_rec *r);

#endif /* MT_REC_H */
