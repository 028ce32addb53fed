/* SPDX-License-Identifier: BSD-2-Clause */
/* bytediff.h - comparing expected and received bytes: masks, first difference, human reports. */
#ifndef TAPE_BYTEDIFF_H
#define TAPE_BYTEDIFF_H

#include <stddef.h>
#include <stdint.h>

/* Caps. */
#define TAPE__MASK_MAX 64u            /* --ignore expressions */
#define TAPE__MASK_WINDOW (4u << 20)   /* bytes searched at once (a NUL-terminated copy) */
#define TAPE__DIFF_CONTEXT 16u        /* bytes of context shown on each side */
#define TAPE__DIFF_REPORT_MAX (64u << 10) /* longest rendered report */
#define TAPE__DIFF_TEXT_MAX_BYTES (1u << 20) /* text diff: bytes of each side looked at */
#define TAPE__DIFF_TEXT_MAX_LINES 20000u  /* text diff: lines of each side looked at */
#define TAPE__DIFF_TEXT_MAX_EDITS 1000u   /* text diff: changed lines before giving up on the shortest diff */

/*
 * A mask is a set of POSIX extended regular expressions (--ignore) whose
 * matches stand for bytes that legitimately change between a recording and
 * a replay (dates, ids, nonces).  Comparison replaces every match, in both
 * the expected and the received bytes, by one placeholder, then compares
 * what is left; so "Date: .*\r\n" makes two responses with different dates
 * (even of different lengths) equal.
 */
struct tape__mask;

int tape__mask_new(struct tape__mask **out);
void tape__mask_free(struct tape__mask *m);
/* Adds one expression; TAPE_EUSAGE with the reason in err when it does
 * not compile, TAPE_ELIMIT past TAPE__MASK_MAX.  Expressions are compiled
 * with REG_EXTENDED | REG_NEWLINE in the C locale, so matching is bytewise,
 * "." and bracket expressions never cross a newline ("Date: .*\r\n" stays
 * on its line), ^ and $ match at line ends too, and "." does not match NUL
 * (a negated bracket like "[^;]" does).  An expression that matches the
 * empty string is refused (TAPE_EUSAGE): it would mask nothing. */
int tape__mask_add(struct tape__mask *m, const char *regex, char *err, size_t errlen);
size_t tape__mask_count(const struct tape__mask *m);

/* Compares exp[0..elen) with got[0..glen) under mask m (NULL: exact).
 * Returns 1 when equal, 0 when they differ, with *exp_off and *got_off the
 * offsets of the first difference in each (equal offsets without a mask;
 * when one is a prefix of the other, the offset is the shorter length), or
 * -ENOMEM. */
int tape__diff_compare(const struct tape__mask *m, const uint8_t *exp, size_t elen,
		       const uint8_t *got, size_t glen, size_t *exp_off, size_t *got_off);

/* Renders a report of a difference found by tape__diff_compare():
 * "expected (N bytes) / received (M bytes)" with hex+ASCII rows of
 * TAPE__DIFF_CONTEXT bytes around the offsets, the differing byte marked;
 * or, with text_diff, a unified line diff of the two as text.  Returns a
 * malloc'd NUL-terminated string (the caller frees; at most
 * TAPE__DIFF_REPORT_MAX bytes, truncation said in the text) or NULL. */
char *tape__diff_report(const uint8_t *exp, size_t elen, const uint8_t *got, size_t glen,
			size_t exp_off, size_t got_off, int text_diff);

/* Additions for callers that show slices of a longer stream or compare
 * under a mask. */

/* The i-th expression as given, or NULL. */
const char *tape__mask_regex(const struct tape__mask *m, size_t i);
/* For tests: search in windows of bytes (at most TAPE__MASK_WINDOW)
 * instead.  Inputs are searched in windows overlapping by half their size,
 * copied with a NUL after them: a match shorter than half a window is found
 * as in one piece; a longer one may be cut to a window. */
void tape__mask_set_window(struct tape__mask *m, size_t bytes);

struct tape__diff_view {
	const struct tape__mask *mask; /* text diff: lines equal under it count as equal */
	uint64_t exp_base, got_base;   /* added to every offset shown */
	const char *exp_name, *got_name; /* NULL: "expected", "received" */
	int text_diff;
};

/*
 * tape__diff_report() with more control (v may be NULL).  The report is:
 *
 *   expected 40 bytes, received 40 bytes; first difference at offset 20
 *   expected, offset 20 (0x14): byte 0x68 'h'
 *     00000000  47 45 ...                                |GET /index.html |
 *     00000010  48 54 54 50 ...                          |HTTP/1.1....    |
 *                           ^^                                ^
 *   received, offset 20 (0x14): byte 0x48 'H'
 *     ...
 *
 * rows of 16 bytes covering TAPE__DIFF_CONTEXT bytes either side of the
 * offset, a caret line under the differing byte ("^^ end of data" when
 * the offset is the length).  With text_diff the rows are replaced by a
 * unified diff ("--- expected", "+++ received", hunks with 3 lines of
 * context) of the lines from 3 before the first difference on, at most
 * TAPE__DIFF_TEXT_MAX_LINES lines / TAPE__DIFF_TEXT_MAX_BYTES bytes of
 * each side (said when cut); in it CR, backslash, control and non-ASCII
 * bytes are escaped (\r, \\, \xHH), and past TAPE__DIFF_TEXT_MAX_EDITS
 * changed lines the rest is shown as removed and added wholesale.
 */
char *tape__diff_report_ex(const struct tape__diff_view *v, const uint8_t *exp, size_t elen,
			   const uint8_t *got, size_t glen, size_t exp_off, size_t got_off);

#endif
