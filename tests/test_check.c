/* SPDX-License-Identifier: BSD-2-Clause */
/* test_check.c - unit tests of every event-sequence rule in src/check.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "randtape.h"
#include "tape-int.h"
#include "unit.h"

static char err[TAPE__ERRLEN];

/* ---- event builders ------------------------------------------------------- */

static struct tape_event ev_open(uint64_t t, uint64_t conn, int family)
{
	struct tape_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_OPEN;
	ev.time_ns = t;
	ev.conn = conn;
	ev.client.family = ev.server.family = (uint8_t)family;
	ev.client.addr[0] = 192;
	ev.server.addr[0] = 10;
	ev.client.port = 40000;
	ev.server.port = 80;
	return ev;
}

static struct tape_event ev_data(uint64_t t, uint64_t conn, enum tape_dir dir, const void *p,
				 size_t len)
{
	struct tape_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_DATA;
	ev.time_ns = t;
	ev.conn = conn;
	ev.dir = dir;
	ev.data = p;
	ev.len = len;
	return ev;
}

static struct tape_event ev_gap(uint64_t t, uint64_t conn, enum tape_dir dir, uint64_t gap)
{
	struct tape_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_GAP;
	ev.time_ns = t;
	ev.conn = conn;
	ev.dir = dir;
	ev.gap = gap;
	return ev;
}

static struct tape_event ev_simple(enum tape_event_kind kind, uint64_t t, uint64_t conn,
				   enum tape_dir dir)
{
	struct tape_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.time_ns = t;
	ev.conn = conn;
	ev.dir = dir;
	return ev;
}

static struct tape_event ev_close(uint64_t t, uint64_t conn, enum tape_close_reason reason)
{
	struct tape_event ev = ev_simple(TAPE_EV_CLOSE, t, conn, TAPE_C2S);

	ev.reason = reason;
	return ev;
}

static struct tape_event ev_note(uint64_t t, uint64_t conn, const void *p, size_t len)
{
	struct tape_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = TAPE_EV_NOTE;
	ev.time_ns = t;
	ev.conn = conn;
	ev.data = p;
	ev.len = len;
	return ev;
}

/* ---- helpers ---------------------------------------------------------------- */

#define OK(c, ev) ok_at(c, ev, __LINE__)
#define FAILS(c, ev, code, msg) fails_at(c, ev, code, msg, __LINE__)

static int ok_at(struct tape__check *c, struct tape_event ev, int line)
{
	uint64_t before = c->events;

	err[0] = '\0';
	int rc = tape__check_event(c, &ev, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "\nline %d: unexpected %s: %s\n", line, tape_err_name(rc), err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(c->events, before + 1);
	CU_ASSERT_EQUAL(c->last_time, ev.time_ns);
	return rc;
}

/* A rejected event leaves the checker exactly as it was. */
static void fails_at(struct tape__check *c, struct tape_event ev, int code, const char *msg,
		     int line)
{
	uint64_t events = c->events, last = c->last_time;
	size_t live = c->nlive, nclosed = c->nclosed;

	err[0] = '\0';
	int rc = tape__check_event(c, &ev, err, sizeof err);
	if (rc != code || strcmp(err, msg) != 0)
		fprintf(stderr, "\nline %d: got %s \"%s\"\n   wanted %s \"%s\"\n", line,
			tape_err_name(rc), err, tape_err_name(code), msg);
	CU_ASSERT_EQUAL(rc, code);
	CU_ASSERT_STRING_EQUAL(err, msg);
	CU_ASSERT_EQUAL(c->events, events);
	CU_ASSERT_EQUAL(c->last_time, last);
	CU_ASSERT_EQUAL(c->nlive, live);
	CU_ASSERT_EQUAL(c->nclosed, nclosed);
}

static const uint8_t payload[] = "hello";

/* ---- acceptance --------------------------------------------------------------- */

/* A complete conversation of every kind passes. */
static void test_check_valid_sequence(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_note(0, 0, "capture started", 15));
	OK(&c, ev_open(0, 1, 4));
	CU_ASSERT_EQUAL(tape__check_live(&c), 1);
	OK(&c, ev_data(0, 1, TAPE_C2S, payload, 5)); /* same time is fine */
	OK(&c, ev_data(10, 1, TAPE_S2C, payload, 1));
	OK(&c, ev_gap(10, 1, TAPE_S2C, 1));
	OK(&c, ev_gap(11, 1, TAPE_C2S, TAPE_MAX_GAP));
	OK(&c, ev_open(12, 2, 6));
	CU_ASSERT_EQUAL(tape__check_live(&c), 2);
	OK(&c, ev_note(12, 1, "", 0));
	OK(&c, ev_note(12, 2, NULL, 0)); /* an empty note needs no pointer */
	OK(&c, ev_simple(TAPE_EV_FIN, 13, 1, TAPE_C2S));
	OK(&c, ev_data(14, 1, TAPE_S2C, payload, 5));    /* the other side still sends */
	OK(&c, ev_simple(TAPE_EV_RST, 15, 1, TAPE_C2S)); /* rst after fin */
	OK(&c, ev_simple(TAPE_EV_RST, 15, 1, TAPE_S2C));
	OK(&c, ev_note(16, 1, "after both", 10)); /* notes still belong to it */
	OK(&c, ev_close(17, 1, TAPE_CLOSE_RST));
	CU_ASSERT_EQUAL(tape__check_live(&c), 1);
	OK(&c, ev_data(18, 2, TAPE_C2S, payload, 5));
	OK(&c, ev_simple(TAPE_EV_FIN, 18, 2, TAPE_S2C));
	OK(&c, ev_simple(TAPE_EV_FIN, 18, 2, TAPE_C2S));
	OK(&c, ev_close(TAPE_MAX_TIME, 2, TAPE_CLOSE_ABORTED));
	OK(&c, ev_note(TAPE_MAX_TIME, 0, "end", 3));
	CU_ASSERT_EQUAL(tape__check_live(&c), 0);
	CU_ASSERT_EQUAL(c.events, 20);
	tape__check_cleanup(&c);
	tape__check_cleanup(&c); /* twice is harmless */
}

/* Every flag, family, reason and limit at its edge is accepted. */
static void test_check_valid_edges(void)
{
	struct tape__check c;
	struct tape_event e;
	uint8_t *note = malloc(TAPE_MAX_NOTE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(note);
	memset(note, 'n', TAPE_MAX_NOTE);
	tape__check_init(&c);
	e = ev_open(0, 1, 4);
	e.flags = TAPE_OPEN_KNOWN_FLAGS;
	OK(&c, e);
	e = ev_open(0, 2, 6);
	e.dir = (enum tape_dir)77; /* not looked at for OPEN */
	OK(&c, e);
	e = ev_open(0, UINT64_MAX, 4);
	OK(&c, e);
	OK(&c, ev_note(0, 1, note, TAPE_MAX_NOTE));
	OK(&c, ev_note(0, 0, note, TAPE_MAX_NOTE));
	for (unsigned r = 0; r < TAPE_CLOSE__COUNT; r++) {
		OK(&c, ev_open(1, 10 + r, 4));
		OK(&c, ev_close(1, 10 + r, (enum tape_close_reason)r));
	}
	e = ev_close(2, 2, TAPE_CLOSE_END);
	e.dir = (enum tape_dir)77;
	OK(&c, e);
	tape__check_cleanup(&c);
	free(note);
}

/* DATA of exactly TAPE_MAX_DATA bytes is accepted, one more is not. */
static void test_check_data_limit(void)
{
	struct tape__check c;
	uint8_t *big = calloc(1, (size_t)TAPE_MAX_DATA + 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	tape__check_init(&c);
	OK(&c, ev_open(0, 1, 4));
	OK(&c, ev_data(0, 1, TAPE_C2S, big, TAPE_MAX_DATA));
	FAILS(&c, ev_data(0, 1, TAPE_S2C, big, (size_t)TAPE_MAX_DATA + 1), TAPE_EFORMAT,
	      "s2c data of 67108865 bytes on connection 1 exceeds the 67108864-byte limit");
	tape__check_cleanup(&c);
	free(big);
}

/* ---- rejections, one rule at a time ------------------------------------------ */

static void test_check_time_limit(void)
{
	struct tape__check c;

	tape__check_init(&c);
	FAILS(&c, ev_note(TAPE_MAX_TIME + 1, 0, "x", 1), TAPE_EFORMAT,
	      "time 4611686018427387905 ns is beyond the largest tape time");
	FAILS(&c, ev_note(UINT64_MAX, 0, "x", 1), TAPE_EFORMAT,
	      "time 18446744073709551615 ns is beyond the largest tape time");
	OK(&c, ev_note(TAPE_MAX_TIME, 0, "x", 1));
	tape__check_cleanup(&c);
}

static void test_check_time_backwards(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_open(2000, 1, 4));
	FAILS(&c, ev_data(1500, 1, TAPE_C2S, payload, 5), TAPE_ESEQ,
	      "time goes backwards: 1.500 us after 2.000 us");
	FAILS(&c, ev_note(1999, 0, "x", 1), TAPE_ESEQ,
	      "time goes backwards: 1.999 us after 2.000 us");
	FAILS(&c, ev_note(0, 0, "x", 1), TAPE_ESEQ, "time goes backwards: 0.000 us after 2.000 us");
	OK(&c, ev_note(2000, 0, "x", 1));
	OK(&c, ev_note(123456789, 0, "x", 1));
	FAILS(&c, ev_note(123456788, 0, "x", 1), TAPE_ESEQ,
	      "time goes backwards: 123456.788 us after 123456.789 us");
	tape__check_cleanup(&c);
}

/* A rejected event does not move the clock: a later, valid event with an
 * earlier time than the rejected one is still accepted. */
static void test_check_rejected_event_keeps_time(void)
{
	struct tape__check c;
	struct tape_event e;

	tape__check_init(&c);
	OK(&c, ev_open(100, 1, 4));
	e = ev_simple((enum tape_event_kind)0, 5000, 1, TAPE_C2S);
	FAILS(&c, e, TAPE_EFORMAT, "unknown event kind 0");
	OK(&c, ev_data(200, 1, TAPE_C2S, payload, 5));
	tape__check_cleanup(&c);
}

static void test_check_unknown_kind(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_open(0, 1, 4));
	FAILS(&c, ev_simple((enum tape_event_kind)0, 0, 1, TAPE_C2S), TAPE_EFORMAT,
	      "unknown event kind 0");
	FAILS(&c, ev_simple((enum tape_event_kind)8, 0, 1, TAPE_C2S), TAPE_EFORMAT,
	      "unknown event kind 8");
	FAILS(&c, ev_simple((enum tape_event_kind)(-3), 0, 0, TAPE_C2S), TAPE_EFORMAT,
	      "unknown event kind -3");
	/* The time rule is checked first. */
	FAILS(&c, ev_simple((enum tape_event_kind)8, TAPE_MAX_TIME + 1, 1, TAPE_C2S), TAPE_EFORMAT,
	      "time 4611686018427387905 ns is beyond the largest tape time");
	tape__check_cleanup(&c);
}

static void test_check_invalid_direction(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_open(0, 1, 4));
	FAILS(&c, ev_data(0, 1, (enum tape_dir)2, payload, 5), TAPE_EFORMAT, "invalid direction 2");
	FAILS(&c, ev_gap(0, 1, (enum tape_dir)(-1), 5), TAPE_EFORMAT, "invalid direction -1");
	FAILS(&c, ev_simple(TAPE_EV_FIN, 0, 1, (enum tape_dir)7), TAPE_EFORMAT,
	      "invalid direction 7");
	FAILS(&c, ev_simple(TAPE_EV_RST, 0, 1, (enum tape_dir)2), TAPE_EFORMAT,
	      "invalid direction 2");
	/* Notes have no direction. */
	struct tape_event e = ev_note(0, 1, "x", 1);
	e.dir = (enum tape_dir)9;
	OK(&c, e);
	tape__check_cleanup(&c);
}

static void test_check_conn0_notes_only(void)
{
	struct tape__check c;

	tape__check_init(&c);
	/* Notes on connection 0 need no OPEN, before or after anything. */
	OK(&c, ev_note(0, 0, "first", 5));
	OK(&c, ev_note(0, 0, "", 0));
	FAILS(&c, ev_open(0, 0, 4), TAPE_EFORMAT, "connection 0 carries only notes, not open");
	FAILS(&c, ev_data(0, 0, TAPE_C2S, payload, 5), TAPE_EFORMAT,
	      "connection 0 carries only notes, not data");
	FAILS(&c, ev_gap(0, 0, TAPE_S2C, 5), TAPE_EFORMAT,
	      "connection 0 carries only notes, not gap");
	FAILS(&c, ev_simple(TAPE_EV_FIN, 0, 0, TAPE_C2S), TAPE_EFORMAT,
	      "connection 0 carries only notes, not fin");
	FAILS(&c, ev_simple(TAPE_EV_RST, 0, 0, TAPE_C2S), TAPE_EFORMAT,
	      "connection 0 carries only notes, not rst");
	FAILS(&c, ev_close(0, 0, TAPE_CLOSE_END), TAPE_EFORMAT,
	      "connection 0 carries only notes, not close");
	FAILS(&c, ev_note(0, 0, "a\0b", 3), TAPE_EFORMAT, "note contains a NUL byte");
	OK(&c, ev_open(1, 1, 4));
	OK(&c, ev_close(2, 1, TAPE_CLOSE_FIN));
	OK(&c, ev_note(3, 0, "last", 4));
	CU_ASSERT_EQUAL(c.nclosed, 1);
	tape__check_cleanup(&c);
}

static void test_check_open_twice(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_open(0, 1, 4));
	FAILS(&c, ev_open(0, 1, 4), TAPE_ESEQ, "connection 1 opened twice");
	FAILS(&c, ev_open(0, 1, 6), TAPE_ESEQ, "connection 1 opened twice");
	CU_ASSERT_EQUAL(tape__check_live(&c), 1);
	tape__check_cleanup(&c);
}

/* Ids are unique within a tape: a closed id cannot come back. */
static void test_check_reuse_after_close(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_open(0, 7, 4));
	OK(&c, ev_close(1, 7, TAPE_CLOSE_FIN));
	FAILS(&c, ev_open(2, 7, 4), TAPE_ESEQ, "connection 7 opened twice");
	FAILS(&c, ev_data(2, 7, TAPE_C2S, payload, 5), TAPE_ESEQ,
	      "data on connection 7 after its close");
	FAILS(&c, ev_gap(2, 7, TAPE_C2S, 1), TAPE_ESEQ, "gap on connection 7 after its close");
	FAILS(&c, ev_simple(TAPE_EV_FIN, 2, 7, TAPE_C2S), TAPE_ESEQ,
	      "fin on connection 7 after its close");
	FAILS(&c, ev_simple(TAPE_EV_RST, 2, 7, TAPE_S2C), TAPE_ESEQ,
	      "rst on connection 7 after its close");
	FAILS(&c, ev_close(2, 7, TAPE_CLOSE_FIN), TAPE_ESEQ,
	      "close on connection 7 after its close");
	FAILS(&c, ev_note(2, 7, "x", 1), TAPE_ESEQ, "note on connection 7 after its close");
	/* Its neighbours are untouched. */
	OK(&c, ev_open(3, 6, 4));
	OK(&c, ev_open(3, 8, 4));
	tape__check_cleanup(&c);
}

static void test_check_before_open(void)
{
	struct tape__check c;

	tape__check_init(&c);
	FAILS(&c, ev_data(0, 5, TAPE_C2S, payload, 5), TAPE_ESEQ,
	      "data on connection 5 before its open");
	FAILS(&c, ev_gap(0, 5, TAPE_C2S, 1), TAPE_ESEQ, "gap on connection 5 before its open");
	FAILS(&c, ev_simple(TAPE_EV_FIN, 0, 5, TAPE_S2C), TAPE_ESEQ,
	      "fin on connection 5 before its open");
	FAILS(&c, ev_simple(TAPE_EV_RST, 0, 5, TAPE_S2C), TAPE_ESEQ,
	      "rst on connection 5 before its open");
	FAILS(&c, ev_close(0, 5, TAPE_CLOSE_END), TAPE_ESEQ,
	      "close on connection 5 before its open");
	FAILS(&c, ev_note(0, 5, "x", 1), TAPE_ESEQ, "note on connection 5 before its open");
	FAILS(&c, ev_note(0, UINT64_MAX, "x", 1), TAPE_ESEQ,
	      "note on connection 18446744073709551615 before its open");
	OK(&c, ev_open(0, 4, 4)); /* another id opened changes nothing for 5 */
	FAILS(&c, ev_close(0, 5, TAPE_CLOSE_END), TAPE_ESEQ,
	      "close on connection 5 before its open");
	tape__check_cleanup(&c);
}

static void test_check_open_fields(void)
{
	struct tape__check c;
	struct tape_event e;

	tape__check_init(&c);
	e = ev_open(0, 1, 4);
	e.client.family = 0;
	FAILS(&c, e, TAPE_EFORMAT, "open of connection 1: address family must be 4 or 6");
	e = ev_open(0, 1, 6);
	e.server.family = 5;
	FAILS(&c, e, TAPE_EFORMAT, "open of connection 1: address family must be 4 or 6");
	e = ev_open(0, 1, 10); /* AF_INET6 on Linux is not a tape family */
	FAILS(&c, e, TAPE_EFORMAT, "open of connection 1: address family must be 4 or 6");
	e = ev_open(0, 1, 4);
	e.server.family = 6;
	FAILS(&c, e, TAPE_EFORMAT, "open of connection 1 mixes IPv4 and IPv6 endpoints");
	e = ev_open(0, 1, 6);
	e.server.family = 4;
	FAILS(&c, e, TAPE_EFORMAT, "open of connection 1 mixes IPv4 and IPv6 endpoints");
	e = ev_open(0, 1, 4);
	e.flags = 0x10;
	FAILS(&c, e, TAPE_EFORMAT, "open of connection 1: unknown flags 0x10");
	e.flags = 0xf0000001u;
	FAILS(&c, e, TAPE_EFORMAT, "open of connection 1: unknown flags 0xf0000000");
	/* None of that opened it. */
	CU_ASSERT_EQUAL(tape__check_live(&c), 0);
	FAILS(&c, ev_close(0, 1, TAPE_CLOSE_END), TAPE_ESEQ,
	      "close on connection 1 before its open");
	OK(&c, ev_open(0, 1, 4));
	tape__check_cleanup(&c);
}

static void test_check_data_fields(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_open(0, 1, 4));
	FAILS(&c, ev_data(0, 1, TAPE_C2S, payload, 0), TAPE_EFORMAT,
	      "empty c2s data on connection 1");
	FAILS(&c, ev_data(0, 1, TAPE_S2C, NULL, 5), TAPE_EFORMAT, "empty s2c data on connection 1");
	FAILS(&c, ev_gap(0, 1, TAPE_C2S, 0), TAPE_EFORMAT,
	      "c2s gap of 0 bytes on connection 1 is out of range");
	FAILS(&c, ev_gap(0, 1, TAPE_S2C, TAPE_MAX_GAP + 1), TAPE_EFORMAT,
	      "s2c gap of 281474976710657 bytes on connection 1 is out of range");
	FAILS(&c, ev_gap(0, 1, TAPE_S2C, UINT64_MAX), TAPE_EFORMAT,
	      "s2c gap of 18446744073709551615 bytes on connection 1 is out of range");
	/* Data with a NUL byte is fine: only notes are text. */
	OK(&c, ev_data(0, 1, TAPE_C2S, "\0\0", 2));
	tape__check_cleanup(&c);
}

static void test_check_after_fin(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_open(0, 1, 4));
	OK(&c, ev_simple(TAPE_EV_FIN, 1, 1, TAPE_C2S));
	FAILS(&c, ev_data(2, 1, TAPE_C2S, payload, 5), TAPE_ESEQ,
	      "c2s data on connection 1 after its fin");
	FAILS(&c, ev_gap(2, 1, TAPE_C2S, 3), TAPE_ESEQ, "c2s gap on connection 1 after its fin");
	FAILS(&c, ev_simple(TAPE_EV_FIN, 2, 1, TAPE_C2S), TAPE_ESEQ,
	      "second c2s fin on connection 1");
	OK(&c, ev_data(2, 1, TAPE_S2C, payload, 5));
	OK(&c, ev_gap(2, 1, TAPE_S2C, 5));
	OK(&c, ev_simple(TAPE_EV_FIN, 3, 1, TAPE_S2C));
	FAILS(&c, ev_data(4, 1, TAPE_S2C, payload, 5), TAPE_ESEQ,
	      "s2c data on connection 1 after its fin");
	FAILS(&c, ev_simple(TAPE_EV_FIN, 4, 1, TAPE_S2C), TAPE_ESEQ,
	      "second s2c fin on connection 1");
	OK(&c, ev_simple(TAPE_EV_RST, 4, 1, TAPE_S2C));
	FAILS(&c, ev_simple(TAPE_EV_RST, 4, 1, TAPE_S2C), TAPE_ESEQ,
	      "second s2c rst on connection 1");
	OK(&c, ev_close(5, 1, TAPE_CLOSE_FIN));
	tape__check_cleanup(&c);
}

static void test_check_after_rst(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_open(0, 1, 6));
	OK(&c, ev_simple(TAPE_EV_RST, 1, 1, TAPE_S2C));
	FAILS(&c, ev_data(2, 1, TAPE_S2C, payload, 5), TAPE_ESEQ,
	      "s2c data on connection 1 after its rst");
	FAILS(&c, ev_gap(2, 1, TAPE_S2C, 9), TAPE_ESEQ, "s2c gap on connection 1 after its rst");
	FAILS(&c, ev_simple(TAPE_EV_FIN, 2, 1, TAPE_S2C), TAPE_ESEQ,
	      "s2c fin on connection 1 after its rst");
	FAILS(&c, ev_simple(TAPE_EV_RST, 2, 1, TAPE_S2C), TAPE_ESEQ,
	      "second s2c rst on connection 1");
	OK(&c, ev_data(2, 1, TAPE_C2S, payload, 5));
	OK(&c, ev_simple(TAPE_EV_RST, 2, 1, TAPE_C2S));
	FAILS(&c, ev_simple(TAPE_EV_FIN, 2, 1, TAPE_C2S), TAPE_ESEQ,
	      "c2s fin on connection 1 after its rst");
	FAILS(&c, ev_data(2, 1, TAPE_C2S, payload, 5), TAPE_ESEQ,
	      "c2s data on connection 1 after its rst");
	/* The state is per connection. */
	OK(&c, ev_open(3, 2, 6));
	OK(&c, ev_data(3, 2, TAPE_S2C, payload, 5));
	OK(&c, ev_simple(TAPE_EV_FIN, 3, 2, TAPE_S2C));
	tape__check_cleanup(&c);
}

static void test_check_close_reason(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_open(0, 1, 4));
	FAILS(&c, ev_close(0, 1, TAPE_CLOSE__COUNT), TAPE_EFORMAT,
	      "close of connection 1: unknown reason 8");
	FAILS(&c, ev_close(0, 1, (enum tape_close_reason)(-1)), TAPE_EFORMAT,
	      "close of connection 1: unknown reason -1");
	CU_ASSERT_EQUAL(tape__check_live(&c), 1); /* still open */
	OK(&c, ev_data(0, 1, TAPE_C2S, payload, 5));
	OK(&c, ev_close(0, 1, TAPE_CLOSE_EVICTED));
	tape__check_cleanup(&c);
}

static void test_check_note_fields(void)
{
	struct tape__check c;
	uint8_t *big = malloc((size_t)TAPE_MAX_NOTE + 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'x', (size_t)TAPE_MAX_NOTE + 1);
	tape__check_init(&c);
	OK(&c, ev_open(0, 1, 4));
	FAILS(&c, ev_note(0, 1, big, (size_t)TAPE_MAX_NOTE + 1), TAPE_EFORMAT,
	      "note of 65537 bytes exceeds the 65536-byte limit");
	FAILS(&c, ev_note(0, 0, big, (size_t)TAPE_MAX_NOTE + 1), TAPE_EFORMAT,
	      "note of 65537 bytes exceeds the 65536-byte limit");
	FAILS(&c, ev_note(0, 1, "ab\0", 3), TAPE_EFORMAT, "note contains a NUL byte");
	FAILS(&c, ev_note(0, 1, "\0", 1), TAPE_EFORMAT, "note contains a NUL byte");
	FAILS(&c, ev_note(0, 1, NULL, 3), TAPE_EFORMAT, "note contains a NUL byte");
	big[TAPE_MAX_NOTE - 1] = '\0';
	FAILS(&c, ev_note(0, 1, big, TAPE_MAX_NOTE), TAPE_EFORMAT, "note contains a NUL byte");
	big[TAPE_MAX_NOTE - 1] = 'x';
	OK(&c, ev_note(0, 1, big, TAPE_MAX_NOTE));
	OK(&c, ev_note(0, 1, "\x01\x7f\xff\\\t\n", 6)); /* every other byte is text */
	tape__check_cleanup(&c);
	free(big);
}

/* A message longer than the buffer is cut, not overflowed. */
static void test_check_short_error_buffer(void)
{
	struct tape__check c;
	struct tape_event e = ev_data(0, 12345, TAPE_C2S, payload, 5);
	char small[8];

	tape__check_init(&c);
	memset(small, 'z', sizeof small);
	CU_ASSERT_EQUAL(tape__check_event(&c, &e, small, sizeof small), TAPE_ESEQ);
	CU_ASSERT_STRING_EQUAL(small, "data on");
	tape__check_cleanup(&c);
}

/* ---- many connections ---------------------------------------------------------- */

static void shuffle(struct randtape_rng *rng, uint64_t *v, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)randtape_rng_below(rng, i);
		uint64_t t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* Thousands of connections opened and closed in random order: the closed
 * ranges end up as one, and every closed id is still refused. */
static void test_check_closed_ranges_coalesce(void)
{
	enum { N = 5000 };
	struct tape__check c;
	struct randtape_rng rng;
	uint64_t *ids = malloc(N * sizeof *ids);
	size_t most = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
	randtape_rng_seed(&rng, 5000);
	tape__check_init(&c);
	for (size_t i = 0; i < N; i++)
		ids[i] = i + 1;
	shuffle(&rng, ids, N);
	for (size_t i = 0; i < N; i++)
		if (OK(&c, ev_open(i, ids[i], (i & 1) ? 6 : 4)))
			goto out;
	CU_ASSERT_EQUAL(tape__check_live(&c), N);
	shuffle(&rng, ids, N);
	for (size_t i = 0; i < N; i++) {
		if (OK(&c,
		       ev_close(N + i, ids[i], (enum tape_close_reason)(i % TAPE_CLOSE__COUNT))))
			goto out;
		if (c.nclosed > most)
			most = c.nclosed;
	}
	CU_ASSERT(most > 100); /* random order really did fragment them */
	CU_ASSERT_EQUAL(tape__check_live(&c), 0);
	CU_ASSERT_EQUAL(c.nclosed, 1);
	CU_ASSERT_EQUAL(c.closed[0][0], 1);
	CU_ASSERT_EQUAL(c.closed[0][1], N);

	/* Every one of them is still closed for good. */
	uint64_t t = 2 * N;
	for (uint64_t id = 1; id <= N; id++) {
		struct tape_event e = ev_open(t, id, 4);
		if (tape__check_event(&c, &e, err, sizeof err) != TAPE_ESEQ) {
			CU_FAIL("a closed id could be opened again");
			goto out;
		}
		e = ev_data(t, id, TAPE_S2C, payload, 5);
		if (tape__check_event(&c, &e, err, sizeof err) != TAPE_ESEQ) {
			CU_FAIL("a closed id took data");
			goto out;
		}
	}
	char want[64];
	snprintf(want, sizeof want, "connection %d opened twice", N / 2);
	FAILS(&c, ev_open(t, N / 2, 4), TAPE_ESEQ, want);
	/* The next id is new, and joins the range when closed. */
	OK(&c, ev_open(t, N + 1, 4));
	OK(&c, ev_close(t, N + 1, TAPE_CLOSE_END));
	CU_ASSERT_EQUAL(c.nclosed, 1);
	CU_ASSERT_EQUAL(c.closed[0][1], N + 1);
	FAILS(&c, ev_open(t, N + 1, 4), TAPE_ESEQ, "connection 5001 opened twice");
	/* Id 0 is not part of it. */
	OK(&c, ev_note(t, 0, "x", 1));
out:
	tape__check_cleanup(&c);
	free(ids);
}

/* Closing every other id first leaves N/2 ranges that merge pairwise. */
static void test_check_closed_ranges_merge(void)
{
	enum { N = 2000 };
	struct tape__check c;

	tape__check_init(&c);
	for (uint64_t id = 1; id <= N; id++)
		if (OK(&c, ev_open(0, id, 4)))
			goto out;
	for (uint64_t id = 1; id <= N; id += 2)
		OK(&c, ev_close(0, id, TAPE_CLOSE_FIN));
	CU_ASSERT_EQUAL(c.nclosed, N / 2);
	for (size_t i = 0; i < c.nclosed; i++) {
		CU_ASSERT_EQUAL(c.closed[i][0], 2 * i + 1);
		CU_ASSERT_EQUAL(c.closed[i][1], 2 * i + 1);
	}
	/* Live even ids sit between closed ones and still work. */
	OK(&c, ev_data(1, 2, TAPE_C2S, payload, 5));
	OK(&c, ev_data(1, N, TAPE_C2S, payload, 5));
	FAILS(&c, ev_data(1, 3, TAPE_C2S, payload, 5), TAPE_ESEQ,
	      "data on connection 3 after its close");
	for (uint64_t id = N; id >= 2; id -= 2)
		OK(&c, ev_close(2, id, TAPE_CLOSE_FIN));
	CU_ASSERT_EQUAL(c.nclosed, 1);
	CU_ASSERT_EQUAL(c.closed[0][0], 1);
	CU_ASSERT_EQUAL(c.closed[0][1], N);
out:
	tape__check_cleanup(&c);
}

/* Ids at the top of the range: no wrap-around confuses the ranges. */
static void test_check_extreme_ids(void)
{
	struct tape__check c;

	tape__check_init(&c);
	OK(&c, ev_open(0, UINT64_MAX, 4));
	OK(&c, ev_open(0, UINT64_MAX - 1, 4));
	OK(&c, ev_open(0, 1, 4));
	OK(&c, ev_close(0, UINT64_MAX, TAPE_CLOSE_END));
	CU_ASSERT_EQUAL(c.nclosed, 1);
	OK(&c, ev_close(0, 1, TAPE_CLOSE_END));
	CU_ASSERT_EQUAL(c.nclosed, 2);
	OK(&c, ev_close(0, UINT64_MAX - 1, TAPE_CLOSE_END));
	CU_ASSERT_EQUAL(c.nclosed, 2);
	CU_ASSERT_EQUAL(c.closed[0][0], 1);
	CU_ASSERT_EQUAL(c.closed[0][1], 1);
	CU_ASSERT_EQUAL(c.closed[1][0], UINT64_MAX - 1);
	CU_ASSERT_EQUAL(c.closed[1][1], UINT64_MAX);
	FAILS(&c, ev_open(0, UINT64_MAX, 4), TAPE_ESEQ,
	      "connection 18446744073709551615 opened twice");
	FAILS(&c, ev_open(0, 1, 4), TAPE_ESEQ, "connection 1 opened twice");
	OK(&c, ev_open(0, 2, 4));
	OK(&c, ev_open(0, UINT64_MAX - 2, 4));
	tape__check_cleanup(&c);
}

/* Opening and closing one connection after another keeps the live table
 * and the closed ranges small: tombstones are swept, ranges coalesce. */
static void test_check_churn_bounded(void)
{
	struct tape__check c;

	tape__check_init(&c);
	for (uint64_t id = 1; id <= 100000; id++) {
		struct tape_event o = ev_open(id, id, 4), cl = ev_close(id, id, TAPE_CLOSE_FIN);
		if (tape__check_event(&c, &o, err, sizeof err) ||
		    tape__check_event(&c, &cl, err, sizeof err)) {
			CU_FAIL(err);
			break;
		}
	}
	CU_ASSERT_EQUAL(tape__check_live(&c), 0);
	CU_ASSERT_EQUAL(c.nclosed, 1);
	CU_ASSERT(c.nslots <= 64);
	CU_ASSERT(c.capclosed <= 16);
	tape__check_cleanup(&c);
}

/* Random operations on a few thousand ids against a simple model of the
 * rules: every verdict and the number of closed ranges must agree. */
static void test_check_random_against_model(void)
{
	enum { M = 3000, OPS = 60000 };
	enum { NEW, LIVE, CLOSED };
	struct tape__check c;
	struct randtape_rng rng;
	unsigned char *st = calloc(M + 2, 1), *bits = calloc(M + 2, 1);
	uint64_t t = 0;
	size_t live = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bits);
	randtape_rng_seed(&rng, 42);
	tape__check_init(&c);
	for (int op = 0; op < OPS; op++) {
		uint64_t id = 1 + randtape_rng_below(&rng, M);
		unsigned d = (unsigned)randtape_rng_below(&rng, 2);
		unsigned fin = d ? 1u : 2u, rst = d ? 4u : 8u;
		struct tape_event e;
		int want;

		t += randtape_rng_below(&rng, 3);
		switch (randtape_rng_below(&rng, 6)) {
		case 0:
			e = ev_open(t, id, 4);
			want = st[id] == NEW ? 0 : TAPE_ESEQ;
			break;
		case 1:
			e = ev_close(t, id, TAPE_CLOSE_END);
			want = st[id] == LIVE ? 0 : TAPE_ESEQ;
			break;
		case 2:
			e = ev_data(t, id, d ? TAPE_S2C : TAPE_C2S, payload, 1);
			want = st[id] == LIVE && !(bits[id] & (fin | rst)) ? 0 : TAPE_ESEQ;
			break;
		case 3:
			e = ev_simple(TAPE_EV_FIN, t, id, d ? TAPE_S2C : TAPE_C2S);
			want = st[id] == LIVE && !(bits[id] & (fin | rst)) ? 0 : TAPE_ESEQ;
			break;
		case 4:
			e = ev_simple(TAPE_EV_RST, t, id, d ? TAPE_S2C : TAPE_C2S);
			want = st[id] == LIVE && !(bits[id] & rst) ? 0 : TAPE_ESEQ;
			break;
		default:
			e = ev_note(t, id, "n", 1);
			want = st[id] == LIVE ? 0 : TAPE_ESEQ;
			break;
		}
		int rc = tape__check_event(&c, &e, err, sizeof err);
		if (rc != want) {
			fprintf(stderr, "\nop %d %s on %llu: got %d (%s), want %d\n", op,
				tape_event_kind_name(e.kind), (unsigned long long)id, rc, err,
				want);
			CU_FAIL("checker and model disagree");
			break;
		}
		if (rc == 0) {
			if (e.kind == TAPE_EV_OPEN) {
				st[id] = LIVE;
				live++;
			} else if (e.kind == TAPE_EV_CLOSE) {
				st[id] = CLOSED;
				live--;
			} else if (e.kind == TAPE_EV_FIN) {
				bits[id] |= (unsigned char)fin;
			} else if (e.kind == TAPE_EV_RST) {
				bits[id] |= (unsigned char)rst;
			}
		}
		if (op % 1000 == 999) {
			size_t runs = 0;
			for (uint64_t k = 1; k <= M; k++)
				if (st[k] == CLOSED && st[k - 1] != CLOSED)
					runs++;
			CU_ASSERT_EQUAL(c.nclosed, runs);
			CU_ASSERT_EQUAL(tape__check_live(&c), live);
			/* The ranges are sorted, disjoint and not adjacent. */
			for (size_t i = 0; i < c.nclosed; i++) {
				CU_ASSERT(c.closed[i][0] <= c.closed[i][1]);
				if (i > 0)
					CU_ASSERT(c.closed[i - 1][1] + 1 < c.closed[i][0]);
			}
		}
	}
	tape__check_cleanup(&c);
	free(st);
	free(bits);
}

void test_check_register(void)
{
	static const struct unit_test tests[] = {
		{"test_check_valid_sequence", test_check_valid_sequence},
		{"test_check_valid_edges", test_check_valid_edges},
		{"test_check_data_limit", test_check_data_limit},
		{"test_check_time_limit", test_check_time_limit},
		{"test_check_time_backwards", test_check_time_backwards},
		{"test_check_rejected_event_keeps_time", test_check_rejected_event_keeps_time},
		{"test_check_unknown_kind", test_check_unknown_kind},
		{"test_check_invalid_direction", test_check_invalid_direction},
		{"test_check_conn0_notes_only", test_check_conn0_notes_only},
		{"test_check_open_twice", test_check_open_twice},
		{"test_check_reuse_after_close", test_check_reuse_after_close},
		{"test_check_before_open", test_check_before_open},
		{"test_check_open_fields", test_check_open_fields},
		{"test_check_data_fields", test_check_data_fields},
		{"test_check_after_fin", test_check_after_fin},
		{"test_check_after_rst", test_check_after_rst},
		{"test_check_close_reason", test_check_close_reason},
		{"test_check_note_fields", test_check_note_fields},
		{"test_check_short_error_buffer", test_check_short_error_buffer},
		{"test_check_closed_ranges_coalesce", test_check_closed_ranges_coalesce},
		{"test_check_closed_ranges_merge", test_check_closed_ranges_merge},
		{"test_check_extreme_ids", test_check_extreme_ids},
		{"test_check_churn_bounded", test_check_churn_bounded},
		{"test_check_random_against_model", test_check_random_against_model},
		{NULL, NULL},
	};
	unit_add_suite("check", tests);
}
