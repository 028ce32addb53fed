/* SPDX-License-Identifier: BSD-2-Clause */
/* test_model.c - unit tests of names, endpoints, flags, times, escapes and metadata. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "randtape.h"
#include "tape-int.h"
#include "unit.h"

#define SEC UINT64_C(1000000000)
/* 2026-11-21T10:00:00Z */
#define T2026 (UINT64_C(1795255200) * SEC)

/* ---- errors and names ------------------------------------------------------ */

static void test_model_error_names(void)
{
	CU_ASSERT_STRING_EQUAL(tape_err_name(TAPE_EFORMAT), "EFORMAT");
	CU_ASSERT_STRING_EQUAL(tape_err_name(TAPE_ECRC), "ECRC");
	CU_ASSERT_STRING_EQUAL(tape_err_name(TAPE_ETRUNC), "ETRUNC");
	CU_ASSERT_STRING_EQUAL(tape_err_name(TAPE_EVERSION), "EVERSION");
	CU_ASSERT_STRING_EQUAL(tape_err_name(TAPE_ELIMIT), "ELIMIT");
	CU_ASSERT_STRING_EQUAL(tape_err_name(TAPE_ESEQ), "ESEQ");
	CU_ASSERT_STRING_EQUAL(tape_err_name(TAPE_EUNSUP), "EUNSUP");
	CU_ASSERT_STRING_EQUAL(tape_err_name(TAPE_EUSAGE), "EUSAGE");
	CU_ASSERT_STRING_EQUAL(tape_err_name(TAPE_EUNKNOWN), "EUNKNOWN");
	CU_ASSERT_STRING_EQUAL(tape_err_name(0), "OK");
	CU_ASSERT_STRING_EQUAL(tape_err_name(-ENOENT), "ENOENT");
	CU_ASSERT_STRING_EQUAL(tape_err_name(-ENOMEM), "ENOMEM");
	CU_ASSERT_STRING_EQUAL(tape_err_name(-EPIPE), "EPIPE");
	CU_ASSERT_STRING_EQUAL(tape_err_name(-ECONNREFUSED), "ECONNREFUSED");
	CU_ASSERT_STRING_EQUAL(tape_err_name(-ETIMEDOUT), "ETIMEDOUT");
	CU_ASSERT_STRING_EQUAL(tape_err_name(-ECONNRESET), "ECONNRESET");
	CU_ASSERT_STRING_EQUAL(tape_err_name(-5000), "EOTHER");

	CU_ASSERT_STRING_EQUAL(tape_strerror(TAPE_EFORMAT), "malformed input");
	CU_ASSERT_STRING_EQUAL(tape_strerror(TAPE_ESEQ), "event out of sequence");
	CU_ASSERT_STRING_EQUAL(tape_strerror(TAPE_EUNKNOWN), "unknown format");
	CU_ASSERT_STRING_EQUAL(tape_strerror(0), "success");
	CU_ASSERT_STRING_EQUAL(tape_strerror(-ENOENT), strerror(ENOENT));
	CU_ASSERT_STRING_EQUAL(tape_strerror(-5000), "unknown error");
	CU_ASSERT_STRING_EQUAL(tape_strerror(1), "unknown error");
	CU_ASSERT_STRING_EQUAL(tape_version(), PACKAGE_VERSION);
}

static void test_model_event_kind_names(void)
{
	CU_ASSERT_STRING_EQUAL(tape_event_kind_name(TAPE_EV_OPEN), "open");
	CU_ASSERT_STRING_EQUAL(tape_event_kind_name(TAPE_EV_DATA), "data");
	CU_ASSERT_STRING_EQUAL(tape_event_kind_name(TAPE_EV_GAP), "gap");
	CU_ASSERT_STRING_EQUAL(tape_event_kind_name(TAPE_EV_FIN), "fin");
	CU_ASSERT_STRING_EQUAL(tape_event_kind_name(TAPE_EV_RST), "rst");
	CU_ASSERT_STRING_EQUAL(tape_event_kind_name(TAPE_EV_CLOSE), "close");
	CU_ASSERT_STRING_EQUAL(tape_event_kind_name(TAPE_EV_NOTE), "note");
	CU_ASSERT_STRING_EQUAL(tape_event_kind_name((enum tape_event_kind)0), "?");
	CU_ASSERT_STRING_EQUAL(tape_event_kind_name((enum tape_event_kind)8), "?");
}

static void test_model_dir_names(void)
{
	enum tape_dir d = TAPE_S2C;

	CU_ASSERT_STRING_EQUAL(tape_dir_name(TAPE_C2S), "c2s");
	CU_ASSERT_STRING_EQUAL(tape_dir_name(TAPE_S2C), "s2c");
	CU_ASSERT_EQUAL(tape_dir_parse("c2s", 3, &d), 0);
	CU_ASSERT_EQUAL(d, TAPE_C2S);
	CU_ASSERT_EQUAL(tape_dir_parse("s2c", 3, &d), 0);
	CU_ASSERT_EQUAL(d, TAPE_S2C);
	CU_ASSERT_EQUAL(tape_dir_parse("c2sx", 3, &d), 0); /* n bounds the name */
	CU_ASSERT_EQUAL(d, TAPE_C2S);
	d = TAPE_S2C;
	CU_ASSERT_EQUAL(tape_dir_parse("c2sx", 4, &d), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_dir_parse("C2S", 3, &d), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_dir_parse("c2", 2, &d), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_dir_parse("", 0, &d), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_dir_parse("s2s", 3, &d), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(d, TAPE_S2C); /* untouched on failure */
}

static void test_model_close_reason_names(void)
{
	static const char *const names[] = {"fin",     "rst",   "timeout", "end",
					    "evicted", "error", "aborted", "rotated"};
	enum tape_close_reason r;

	/* The numbers are the binary format's: new reasons only ever go last. */
	CU_ASSERT_EQUAL(TAPE_CLOSE__COUNT, 8);
	CU_ASSERT_EQUAL(TAPE_CLOSE_FIN, 0);
	CU_ASSERT_EQUAL(TAPE_CLOSE_ABORTED, 6);
	CU_ASSERT_EQUAL(TAPE_CLOSE_ROTATED, 7);
	for (unsigned i = 0; i < 8; i++) {
		CU_ASSERT_STRING_EQUAL(tape_close_reason_name((enum tape_close_reason)i), names[i]);
		r = (enum tape_close_reason)99;
		CU_ASSERT_EQUAL(tape_close_reason_parse(names[i], strlen(names[i]), &r), 0);
		CU_ASSERT_EQUAL(r, (enum tape_close_reason)i);
	}
	CU_ASSERT_STRING_EQUAL(tape_close_reason_name(TAPE_CLOSE__COUNT), "?");
	CU_ASSERT_STRING_EQUAL(tape_close_reason_name((enum tape_close_reason)(-1)), "?");
	r = TAPE_CLOSE_END;
	CU_ASSERT_EQUAL(tape_close_reason_parse("FIN", 3, &r), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_close_reason_parse("fi", 2, &r), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_close_reason_parse("finx", 4, &r), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_close_reason_parse("", 0, &r), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_close_reason_parse("time out", 8, &r), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(r, TAPE_CLOSE_END);
	CU_ASSERT_EQUAL(tape_close_reason_parse("rstxyz", 3, &r), 0);
	CU_ASSERT_EQUAL(r, TAPE_CLOSE_RST);
}

/* ---- endpoints ----------------------------------------------------------- */

static int parse_ep(const char *s, struct tape_endpoint *ep)
{
	return tape_endpoint_parse(s, strlen(s), ep);
}

/* Parses s, expects the given family, address bytes and port, and that it
 * formats back to canon (s itself when canon is NULL). */
static void check_ep(const char *s, int family, const char *addr, uint16_t port, const char *canon)
{
	struct tape_endpoint ep;
	char buf[TAPE_ENDPOINT_STRLEN];
	uint8_t want[16] = {0};

	memset(&ep, 0xa5, sizeof ep);
	CU_ASSERT_EQUAL_FATAL(parse_ep(s, &ep), 0);
	memcpy(want, addr, family == 4 ? 4 : 16);
	CU_ASSERT_EQUAL(ep.family, family);
	CU_ASSERT_EQUAL(memcmp(ep.addr, want, 16), 0); /* IPv4: the rest is zero */
	CU_ASSERT_EQUAL(ep.port, port);
	tape_endpoint_format(&ep, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, canon ? canon : s);
}

static void test_model_endpoint_parse_ipv4(void)
{
	check_ep("192.0.2.1:80", 4, "\xc0\x00\x02\x01", 80, NULL);
	check_ep("0.0.0.0:0", 4, "\0\0\0\0", 0, NULL);
	check_ep("255.255.255.255:65535", 4, "\xff\xff\xff\xff", 65535, NULL);
	check_ep("10.1.2.3:443", 4, "\x0a\x01\x02\x03", 443, NULL);
}

static void test_model_endpoint_parse_ipv6(void)
{
	check_ep("[2001:db8::1]:80", 6, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 80, NULL);
	check_ep("[::]:0", 6, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 0, NULL);
	check_ep("[::1]:65535", 6, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 65535, NULL);
	check_ep("[::ffff:192.0.2.1]:8080", 6, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x01", 8080,
		 NULL);
	/* Non-canonical spellings parse and format canonically. */
	check_ep("[2001:DB8:0:0:0:0:0:1]:80", 6, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 80,
		 "[2001:db8::1]:80");
	check_ep("[0:0:0:0:0:0:0:1]:1", 6, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 1, "[::1]:1");
	check_ep("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", 6,
		 "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 65535, NULL);
}

/* The longest endpoint fits TAPE_ENDPOINT_STRLEN with its NUL. */
static void test_model_endpoint_longest(void)
{
	struct tape_endpoint ep = {.family = 6, .port = 65535};
	char buf[TAPE_ENDPOINT_STRLEN];

	memset(ep.addr, 0xff, 16);
	memset(buf, 'x', sizeof buf);
	tape_endpoint_format(&ep, buf, sizeof buf);
	CU_ASSERT_EQUAL(strlen(buf), TAPE_ENDPOINT_STRLEN - 1);
	/* A short buffer gets a truncated, terminated string. */
	tape_endpoint_format(&ep, buf, 8);
	CU_ASSERT_STRING_EQUAL(buf, "[ffff:f");
}

static void test_model_endpoint_reject(void)
{
	static const char *const bad[] = {
		"1.2.3.4",       /* no port */
		"1.2.3.4:65536", /* port too big */
		"1.2.3.4:080",   /* leading zero: one spelling per port */
		"[::1]:00",      /* leading zero */
		"1.2.3.4:99999",
		"1.2.3.4:100000", /* six digits */
		"[::1]80",        /* no colon after ']' */
		"1.2.3.4:-1",     /* sign */
		"1.2.3.4:+80",
		"::1:80", /* IPv6 without brackets */
		"",
		":80",
		"1.2.3.4:",
		"1.2.3.4: 80",
		"1.2.3.4:80 ",
		" 1.2.3.4:80",
		"1.2.3.4:8o",
		"1.2.3.4:0x50",
		"1.2.3:80",
		"1.2.3.4.5:80",
		"256.1.1.1:80",
		"1.2.3.04:80",
		"a.b.c.d:80",
		"localhost:80",
		"1.2.3.4:80:90",
		"[::1]",
		"[::1]:",
		"[::1]:65536",
		"[::1]:-1",
		"[]:80",
		"[1.2.3.4]:80", /* IPv4 in brackets */
		"[::1:80",
		"::1]:80",
		"[::1]]:80",
		"[::1%eth0]:80", /* no scope ids */
		"[2001:db8::1::2]:80",
		"[12345::1]:80",
		"[::1]:80x",
		"[",
		"[]",
		":",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct tape_endpoint ep = {.family = 9, .port = 7};
		int rc = parse_ep(bad[i], &ep);
		if (rc != TAPE_EFORMAT)
			fprintf(stderr, "\nendpoint \"%s\" gave %d\n", bad[i], rc);
		CU_ASSERT_EQUAL(rc, TAPE_EFORMAT);
		CU_ASSERT_EQUAL(ep.family, 9); /* untouched on failure */
		CU_ASSERT_EQUAL(ep.port, 7);
	}
}

/* Only n bytes are read: text fields in a line are not NUL-terminated. */
static void test_model_endpoint_parse_length(void)
{
	struct tape_endpoint ep;

	CU_ASSERT_EQUAL(tape_endpoint_parse("192.0.2.1:80\t[::1]:1", 12, &ep), 0);
	CU_ASSERT_EQUAL(ep.family, 4);
	CU_ASSERT_EQUAL(ep.port, 80);
	CU_ASSERT_EQUAL(tape_endpoint_parse("[::1]:4433333", 9, &ep), 0);
	CU_ASSERT_EQUAL(ep.family, 6);
	CU_ASSERT_EQUAL(ep.port, 443);
	CU_ASSERT_EQUAL(tape_endpoint_parse("[::1]:443", 8, &ep), 0);
	CU_ASSERT_EQUAL(ep.port, 44);
	CU_ASSERT_EQUAL(tape_endpoint_parse("[::1]:443", 6, &ep), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_endpoint_parse("[::1]:443", 5, &ep), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_endpoint_parse("1.2.3.4:5", 7, &ep), TAPE_EFORMAT);
	/* An over-long host is refused without overflowing anything. */
	char big[200];
	memset(big, '1', sizeof big);
	big[0] = '[';
	memcpy(big + 150, "]:80", 4);
	CU_ASSERT_EQUAL(tape_endpoint_parse(big, 154, &ep), TAPE_EFORMAT);
	big[0] = '1';
	big[150] = ':';
	CU_ASSERT_EQUAL(tape_endpoint_parse(big, 154, &ep), TAPE_EFORMAT);
}

static void test_model_endpoint_equal(void)
{
	struct tape_endpoint a, b;

	CU_ASSERT_EQUAL_FATAL(parse_ep("192.0.2.1:80", &a), 0);
	b = a;
	CU_ASSERT_TRUE(tape_endpoint_equal(&a, &b));
	b.addr[7] = 1; /* beyond an IPv4 address: ignored */
	CU_ASSERT_TRUE(tape_endpoint_equal(&a, &b));
	b = a;
	b.port = 81;
	CU_ASSERT_FALSE(tape_endpoint_equal(&a, &b));
	b = a;
	b.addr[3] = 2;
	CU_ASSERT_FALSE(tape_endpoint_equal(&a, &b));
	b = a;
	b.family = 6;
	CU_ASSERT_FALSE(tape_endpoint_equal(&a, &b));
	CU_ASSERT_EQUAL_FATAL(parse_ep("[2001:db8::1]:80", &a), 0);
	CU_ASSERT_EQUAL_FATAL(parse_ep("[2001:db8::2]:80", &b), 0);
	CU_ASSERT_FALSE(tape_endpoint_equal(&a, &b));
	CU_ASSERT_EQUAL_FATAL(parse_ep("[2001:db8::1]:80", &b), 0);
	CU_ASSERT_TRUE(tape_endpoint_equal(&a, &b));
}

/* Random endpoints of both families format and parse back equal. */
static void test_model_endpoint_round_trip(void)
{
	struct randtape_rng rng;
	char buf[TAPE_ENDPOINT_STRLEN];

	randtape_rng_seed(&rng, 6);
	for (int i = 0; i < 5000; i++) {
		struct tape_endpoint ep, back;
		memset(&ep, 0, sizeof ep);
		ep.family = (i & 1) ? 6 : 4;
		randtape_rng_bytes(&rng, ep.addr, ep.family == 4 ? 4 : 16);
		if (ep.family == 6 && (i & 2)) {
			size_t a = 2 * randtape_rng_below(&rng, 8);
			size_t b = a + 2 * randtape_rng_below(&rng, 9 - a / 2);
			memset(ep.addr + a, 0, b - a);
		}
		ep.port = (uint16_t)randtape_rng_next(&rng);
		tape_endpoint_format(&ep, buf, sizeof buf);
		memset(&back, 0x5a, sizeof back);
		CU_ASSERT_EQUAL_FATAL(tape_endpoint_parse(buf, strlen(buf), &back), 0);
		CU_ASSERT_EQUAL(memcmp(&ep.addr, &back.addr, 16), 0);
		CU_ASSERT_EQUAL(back.family, ep.family);
		CU_ASSERT_EQUAL(back.port, ep.port);
		CU_ASSERT_TRUE(tape_endpoint_equal(&ep, &back));
	}
}

/* ---- flags ------------------------------------------------------------------ */

static void test_model_flags_format(void)
{
	char buf[TAPE_FLAGS_STRLEN];

	tape_open_flags_format(0, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "");
	tape_open_flags_format(TAPE_OPEN_MIDSTREAM, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "midstream");
	tape_open_flags_format(TAPE_OPEN_INFERRED, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "inferred");
	tape_open_flags_format(TAPE_OPEN_REUSED, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "reused");
	tape_open_flags_format(TAPE_OPEN_MIDSTREAM | TAPE_OPEN_REUSED, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "midstream,reused");
	tape_open_flags_format(TAPE_OPEN_CONTINUED, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "continued");
	tape_open_flags_format(TAPE_OPEN_KNOWN_FLAGS, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "midstream,inferred,reused,continued");
	tape_open_flags_format(0x10 | TAPE_OPEN_INFERRED, buf,
			       sizeof buf); /* unknown bits skipped */
	CU_ASSERT_STRING_EQUAL(buf, "inferred");
	buf[0] = 'x';
	tape_open_flags_format(TAPE_OPEN_KNOWN_FLAGS, buf, 0); /* no room: untouched */
	CU_ASSERT_EQUAL(buf[0], 'x');
	tape_open_flags_format(TAPE_OPEN_KNOWN_FLAGS, buf, 1);
	CU_ASSERT_STRING_EQUAL(buf, "");
}

static void test_model_flags_parse(void)
{
	uint32_t f = 99;

	CU_ASSERT_EQUAL(tape_open_flags_parse("", 0, &f), 0);
	CU_ASSERT_EQUAL(f, 0);
	CU_ASSERT_EQUAL(tape_open_flags_parse("midstream", 9, &f), 0);
	CU_ASSERT_EQUAL(f, TAPE_OPEN_MIDSTREAM);
	CU_ASSERT_EQUAL(tape_open_flags_parse("reused,midstream", 16, &f), 0); /* any order */
	CU_ASSERT_EQUAL(f, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_REUSED);
	CU_ASSERT_EQUAL(tape_open_flags_parse("midstream,inferred,reused", 25, &f), 0);
	CU_ASSERT_EQUAL(f, TAPE_OPEN_MIDSTREAM | TAPE_OPEN_INFERRED | TAPE_OPEN_REUSED);
	CU_ASSERT_EQUAL(tape_open_flags_parse("midstream,inferred,reused,continued", 35, &f), 0);
	CU_ASSERT_EQUAL(f, TAPE_OPEN_KNOWN_FLAGS);
	CU_ASSERT_EQUAL(tape_open_flags_parse("continued,midstream", 19, &f), 0);
	CU_ASSERT_EQUAL(f, TAPE_OPEN_CONTINUED | TAPE_OPEN_MIDSTREAM);
	CU_ASSERT_EQUAL(tape_open_flags_parse("inferred,xyz", 8, &f), 0); /* n bounds it */
	CU_ASSERT_EQUAL(f, TAPE_OPEN_INFERRED);

	static const char *const bad[] = {
		"midstream,",
		",midstream",
		"midstream,,inferred",
		"midstream,midstream",
		"Midstream",
		"foo",
		"midstream inferred",
		" midstream",
		"midstream ",
		",",
		"mid",
		"midstreams",
		"inferred,reused,inferred",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		f = 1234;
		CU_ASSERT_EQUAL(tape_open_flags_parse(bad[i], strlen(bad[i]), &f), TAPE_EFORMAT);
		CU_ASSERT_EQUAL(f, 1234);
	}
}

static void test_model_flags_round_trip(void)
{
	char buf[TAPE_FLAGS_STRLEN];

	for (uint32_t flags = 0; flags <= TAPE_OPEN_KNOWN_FLAGS; flags++) {
		uint32_t back = 99;
		tape_open_flags_format(flags, buf, sizeof buf);
		CU_ASSERT_EQUAL(tape_open_flags_parse(buf, strlen(buf), &back), 0);
		CU_ASSERT_EQUAL(back, flags);
	}
}

/* ---- times -------------------------------------------------------------------- */

static void check_time_format(uint64_t ns, const char *want)
{
	char buf[TAPE_TIME_STRLEN];

	memset(buf, 'x', sizeof buf);
	tape_time_format(ns, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, want);
}

static void test_model_time_format(void)
{
	check_time_format(0, "1970-01-01T00:00:00.000000000Z");
	check_time_format(1, "1970-01-01T00:00:00.000000001Z");
	check_time_format(SEC - 1, "1970-01-01T00:00:00.999999999Z");
	check_time_format(T2026, "2026-11-21T10:00:00.000000000Z");
	check_time_format(T2026 + 123456789, "2026-11-21T10:00:00.123456789Z");
	check_time_format(UINT64_C(1709251199) * SEC + 999999999, "2024-02-29T23:59:59.999999999Z");
	check_time_format(UINT64_C(946684800) * SEC, "2000-01-01T00:00:00.000000000Z");
	check_time_format(UINT64_MAX, "2554-07-21T23:34:33.709551615Z");

	char small[11];
	tape_time_format(T2026, small, sizeof small);
	CU_ASSERT_STRING_EQUAL(small, "2026-11-21");
}

static int parse_time(const char *s, uint64_t *out)
{
	return tape_time_parse(s, strlen(s), out);
}

static void check_time(const char *s, uint64_t want)
{
	uint64_t v = 0xdeadbeef;
	int rc = parse_time(s, &v);

	if (rc != 0 || v != want)
		fprintf(stderr, "\ntime \"%s\": rc %d, %llu (want %llu)\n", s, rc,
			(unsigned long long)v, (unsigned long long)want);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(v, want);
}

static void test_model_time_parse_rfc3339(void)
{
	check_time("2026-11-21T10:00:00Z", T2026);
	check_time("2026-11-21T10:00:00.000000000Z", T2026);
	check_time("2026-11-21T10:00:00.000000001Z", T2026 + 1);
	check_time("2026-11-21T10:00:00.5Z", T2026 + 500000000);
	check_time("2026-11-21T10:00:00.05Z", T2026 + 50000000);
	check_time("2026-11-21T10:00:00.123Z", T2026 + 123000000);
	check_time("2026-11-21T10:00:00.123456789Z", T2026 + 123456789);
	check_time("2026-11-21T10:00:00.999999999Z", T2026 + 999999999);
	check_time("2026-11-21T10:00:00z", T2026);
	check_time("2026-11-21 10:00:00Z", T2026);
	check_time("1970-01-01T00:00:00Z", 0);
	check_time("1970-01-01T00:00:00.000000001Z", 1);
	check_time("2024-02-29T23:59:59.999999999Z", UINT64_C(1709251199) * SEC + 999999999);
	check_time("2000-01-01T00:00:00Z", UINT64_C(946684800) * SEC);
	check_time("2554-07-21T23:34:33.709551615Z", UINT64_MAX);
	/* A leap second is taken as the first second of the next minute. */
	check_time("2016-12-31T23:59:60Z", UINT64_C(1483228800) * SEC);
}

static void test_model_time_parse_offsets(void)
{
	check_time("2026-11-21T11:00:00+01:00", T2026);
	check_time("2026-11-21T04:30:00-05:30", T2026);
	check_time("2026-11-21T10:00:00+00:00", T2026);
	check_time("2026-11-21T10:00:00-00:00", T2026);
	check_time("2026-11-22T09:59:00+23:59", T2026);
	check_time("2026-11-20T10:01:00-23:59", T2026);
	check_time("2026-11-21T12:00:00.25+02:00", T2026 + 250000000);
	check_time("1970-01-01T01:00:00+01:00", 0);
}

static void test_model_time_parse_epoch(void)
{
	check_time("0", 0);
	check_time("1", SEC);
	check_time("1795255200", T2026);
	check_time("1795255200.5", T2026 + 500000000);
	check_time("1795255200.000000001", T2026 + 1);
	check_time("0.000000001", 1);
	check_time("0.1", 100000000);
	check_time("000000000000000000001", SEC); /* leading zeros are digits */
	check_time("18446744073", UINT64_C(18446744073) * SEC);
	check_time("18446744073.709551615", UINT64_MAX);
}

/* Only n bytes are read. */
static void test_model_time_parse_length(void)
{
	uint64_t v = 0;

	CU_ASSERT_EQUAL(tape_time_parse("1795255200junk", 10, &v), 0);
	CU_ASSERT_EQUAL(v, T2026);
	CU_ASSERT_EQUAL(tape_time_parse("2026-11-21T10:00:00Zjunk", 20, &v), 0);
	CU_ASSERT_EQUAL(v, T2026);
	CU_ASSERT_EQUAL(tape_time_parse("2026-11-21T10:00:00Z", 19, &v), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_time_parse("1.5", 2, &v), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_time_parse("", 0, &v), TAPE_EFORMAT);
}

static void test_model_time_parse_reject(void)
{
	static const char *const bad[] = {
		"",
		"Z",
		"now",
		"2026-11-21T10:00:00", /* no zone */
		"2026-11-21T10:00",
		"2026-11-21",
		"2026-11-21T10:00:00+01",
		"2026-11-21T10:00:00+0100",
		"2026-11-21T10:00:00+1:00",
		"2026-11-21T10:00:00+01:0",
		"2026-11-21T10:00:00 +01:00",
		"2026-11-21T10:00:00+24:00",
		"2026-11-21T10:00:00+01:60",
		"2026-11-21T10:00:00ZZ",
		"2026-11-21T10:00:00Z ",
		"2026-11-21T10:00:00.Z",           /* empty fraction */
		"2026-11-21T10:00:00.1234567890Z", /* ten digits */
		"2026-11-21T10:00:00,5Z",
		"2026-11-21t10:00:00Z",
		"2026-11-21T10:00:00UTC",
		"2026-13-21T10:00:00Z",
		"2026-00-21T10:00:00Z",
		"2026-11-00T10:00:00Z",
		"2026-11-32T10:00:00Z",
		"2026-11-21T24:00:00Z",
		"2026-11-21T10:60:00Z",
		"2026-11-21T10:00:61Z",
		"2026-02-29T00:00:00Z", /* not a leap year */
		"2026-02-30T00:00:00Z",
		"2026-04-31T00:00:00Z",
		"2100-02-29T00:00:00Z", /* century, not a leap year */
		"2026-1a-21T10:00:00Z",
		"2026-11-21T1a:00:00Z",
		"+026-11-21T10:00:00Z",
		"1969-12-31T23:59:59Z", /* before the epoch */
		"1970-01-01T00:00:00+00:01",
		"1970-01-01T00:59:59+01:00",
		"2554-07-21T23:34:34Z", /* past UINT64_MAX ns */
		"2554-07-21T23:34:33.709551616Z",
		"2600-01-01T00:00:00Z",
		"9999-12-31T23:59:59Z",
		/* Seconds since the epoch. */
		"-1",
		"+1",
		"1.",
		".5",
		"1.1234567890",
		"1e9",
		" 1",
		"1 ",
		"0x10",
		"1,5",
		"1.5.",
		"18446744074",
		"18446744073.709551616",
		"180000000000",
		"99999999999999999999999",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t v = 4242;
		int rc = parse_time(bad[i], &v);
		if (rc != TAPE_EFORMAT)
			fprintf(stderr, "\ntime \"%s\" gave %d, %llu\n", bad[i], rc,
				(unsigned long long)v);
		CU_ASSERT_EQUAL(rc, TAPE_EFORMAT);
		CU_ASSERT_EQUAL(v, 4242);
	}
}

/* The 29th of February of leap years is a date. */
static void test_model_time_parse_leap_days(void)
{
	uint64_t v;

	CU_ASSERT_EQUAL(parse_time("2024-02-29T00:00:00Z", &v), 0);
	CU_ASSERT_EQUAL(parse_time("2000-02-29T00:00:00Z", &v), 0);
	CU_ASSERT_EQUAL(parse_time("2400-02-29T00:00:00Z", &v), 0);
	CU_ASSERT_EQUAL(parse_time("2026-01-31T00:00:00Z", &v), 0);
	CU_ASSERT_EQUAL(parse_time("2026-12-31T23:59:59Z", &v), 0);
}

static void test_model_time_round_trip(void)
{
	struct randtape_rng rng;
	char buf[TAPE_TIME_STRLEN];

	randtape_rng_seed(&rng, 3339);
	for (int i = 0; i < 20000; i++) {
		uint64_t ns = randtape_rng_next(&rng), back = 0;
		if (i % 3 == 0)
			ns %= UINT64_C(4000000000) * SEC; /* the nearer centuries */
		if (i == 0)
			ns = 0;
		if (i == 1)
			ns = UINT64_MAX;
		tape_time_format(ns, buf, sizeof buf);
		CU_ASSERT_EQUAL(strlen(buf), 30);
		CU_ASSERT_EQUAL(tape_time_parse(buf, strlen(buf), &back), 0);
		CU_ASSERT_EQUAL(back, ns);
		if (back != ns) {
			fprintf(stderr, "\n%llu -> %s -> %llu\n", (unsigned long long)ns, buf,
				(unsigned long long)back);
			return;
		}
	}
}

/* ---- escapes ---------------------------------------------------------------- */

/* What escaping one byte must give. */
static const char *expected_escape(unsigned c, char *buf)
{
	switch (c) {
	case '\\':
		return "\\\\";
	case '\t':
		return "\\t";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	}
	if (c < 0x20 || c == 0x7f)
		snprintf(buf, 8, "\\x%02x", c);
	else
		snprintf(buf, 8, "%c", (char)c);
	return buf;
}

static void test_model_escape_each_byte(void)
{
	for (unsigned c = 1; c < 256; c++) {
		uint8_t in = (uint8_t)c, back[4];
		char out[8], want[8];
		const char *w = expected_escape(c, want);
		size_t n = tape__escape(out, &in, 1);
		CU_ASSERT_EQUAL(n, strlen(w));
		CU_ASSERT_EQUAL(memcmp(out, w, n), 0);
		CU_ASSERT_EQUAL(tape__unescape(back, out, n), 1);
		CU_ASSERT_EQUAL(back[0], c);
	}
}

/* All 255 non-NUL byte values in one text round-trip, and the escaped form
 * has no control bytes at all (so it fits a TSV column and a line). */
static void test_model_escape_round_trip(void)
{
	uint8_t in[255 * 3], back[sizeof in];
	char out[4 * sizeof in];
	struct randtape_rng rng;

	for (size_t i = 0; i < 255; i++)
		in[i] = (uint8_t)(i + 1);
	randtape_rng_seed(&rng, 255);
	for (size_t i = 255; i < sizeof in; i++)
		in[i] = (uint8_t)(1 + randtape_rng_below(&rng, 255));
	size_t n = tape__escape(out, in, sizeof in);
	CU_ASSERT(n <= 4 * sizeof in);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_FALSE((unsigned char)out[i] < 0x20 || (unsigned char)out[i] == 0x7f);
	CU_ASSERT_EQUAL(tape__unescape(back, out, n), (long)sizeof in);
	CU_ASSERT_EQUAL(memcmp(back, in, sizeof in), 0);
	CU_ASSERT_EQUAL(tape__escape(out, in, 0), 0);
	CU_ASSERT_EQUAL(tape__unescape(back, "", 0), 0);
}

/* Decoding never grows the text, so it works in place. */
static void test_model_unescape_in_place(void)
{
	char buf[] = "a\\tb\\\\c\\x01\\n\\xffz";

	CU_ASSERT_EQUAL(tape__unescape((uint8_t *)buf, buf, strlen(buf)), 9);
	CU_ASSERT_EQUAL(memcmp(buf, "a\tb\\c\x01\n\xffz", 9), 0);
}

static void test_model_unescape_reject(void)
{
	static const struct {
		const char *s;
		long want;
	} cases[] = {
		{"\\", -1},   {"ab\\", -3},     {"\\q", -1},   {"x\\0", -2},   {"\\x", -1},
		{"\\x4", -1}, {"ab\\x4", -3},   {"\\xg1", -1}, {"\\x4g", -1},  {"\\X41", -1},
		{"\\T", -1},  {"ok\\n\\e", -5}, {"\\ ", -1},   {"\\\\\\", -3},
	};
	uint8_t out[16];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CU_ASSERT_EQUAL(tape__unescape(out, cases[i].s, strlen(cases[i].s)), cases[i].want);
	/* Upper-case hex digits are read, though never written. */
	CU_ASSERT_EQUAL(tape__unescape(out, "\\x1F\\x7F", 8), 2);
	CU_ASSERT_EQUAL(out[0], 0x1f);
	CU_ASSERT_EQUAL(out[1], 0x7f);
	/* Raw bytes pass through unchanged: the caller decides what is allowed. */
	CU_ASSERT_EQUAL(tape__unescape(out, "\t\x01", 2), 2);
	CU_ASSERT_EQUAL(out[0], '\t');
}

/* ---- metadata ----------------------------------------------------------------- */

static void test_model_meta_basics(void)
{
	struct tape_meta *m = NULL;
	const char *k, *v;

	CU_ASSERT_EQUAL_FATAL(tape_meta_new(&m), 0);
	CU_ASSERT_EQUAL(tape_meta_count(m), 0);
	CU_ASSERT_EQUAL(tape_meta_start(m), 0);
	CU_ASSERT_PTR_NULL(tape_meta_get(m, "source"));
	CU_ASSERT_EQUAL(tape_meta_at(m, 0, &k, &v), TAPE_EUSAGE);

	tape_meta_set_start(m, T2026);
	CU_ASSERT_EQUAL(tape_meta_start(m), T2026);
	CU_ASSERT_EQUAL(tape_meta_set(m, "source", "pcap"), 0);
	CU_ASSERT_EQUAL(tape_meta_set(m, "tool", "tapedeck 0.1"), 0);
	CU_ASSERT_EQUAL(tape_meta_set(m, "empty", ""), 0);
	CU_ASSERT_EQUAL(tape_meta_count(m), 3);
	CU_ASSERT_STRING_EQUAL(tape_meta_get(m, "source"), "pcap");
	CU_ASSERT_STRING_EQUAL(tape_meta_get(m, "tool"), "tapedeck 0.1");
	CU_ASSERT_STRING_EQUAL(tape_meta_get(m, "empty"), "");
	CU_ASSERT_PTR_NULL(tape_meta_get(m, "Source")); /* keys are case-sensitive */
	CU_ASSERT_PTR_NULL(tape_meta_get(m, "start"));

	/* Replacing keeps the position; new keys append. */
	CU_ASSERT_EQUAL(tape_meta_set(m, "source", "live\tcapture\n"), 0);
	CU_ASSERT_EQUAL(tape_meta_set(m, "zeta", "last"), 0);
	CU_ASSERT_EQUAL(tape_meta_count(m), 4);
	static const char *const order[][2] = {{"source", "live\tcapture\n"},
					       {"tool", "tapedeck 0.1"},
					       {"empty", ""},
					       {"zeta", "last"}};
	for (size_t i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL_FATAL(tape_meta_at(m, i, &k, &v), 0);
		CU_ASSERT_STRING_EQUAL(k, order[i][0]);
		CU_ASSERT_STRING_EQUAL(v, order[i][1]);
	}
	CU_ASSERT_EQUAL(tape_meta_at(m, 4, &k, &v), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape_meta_at(m, (size_t)-1, &k, &v), TAPE_EUSAGE);
	tape_meta_free(m);
}

static void test_model_meta_null(void)
{
	const char *k, *v;

	tape_meta_free(NULL);
	CU_ASSERT_EQUAL(tape_meta_start(NULL), 0);
	CU_ASSERT_EQUAL(tape_meta_count(NULL), 0);
	CU_ASSERT_PTR_NULL(tape_meta_get(NULL, "source"));
	CU_ASSERT_EQUAL(tape_meta_at(NULL, 0, &k, &v), TAPE_EUSAGE);
}

static void test_model_meta_invalid_keys(void)
{
	struct tape_meta *m = NULL;
	char key[TAPE_MAX_META_KEY + 2];
	static const char *const bad[] = {
		"",    "start", "a b", "a:b", "key\t", "\xc3\xa9t\xc3\xa9",
		"a/b", "a=b",   "#",   "k\n", "a,b",   "[x]"};

	CU_ASSERT_EQUAL_FATAL(tape_meta_new(&m), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_EQUAL(tape_meta_set(m, bad[i], "v"), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_meta_count(m), 0);
	CU_ASSERT_PTR_NULL(tape_meta_get(m, "start"));

	/* Every allowed character, and only "start" itself is reserved. */
	CU_ASSERT_EQUAL(tape_meta_set(m, "azAZ09_.-", "v"), 0);
	CU_ASSERT_EQUAL(tape_meta_set(m, "Start", "v"), 0);
	CU_ASSERT_EQUAL(tape_meta_set(m, "start2", "v"), 0);
	CU_ASSERT_EQUAL(tape_meta_set(m, "x", "v"), 0);

	/* Key length limit. */
	memset(key, 'k', sizeof key);
	key[TAPE_MAX_META_KEY] = '\0';
	CU_ASSERT_EQUAL(tape_meta_set(m, key, "v"), 0);
	key[TAPE_MAX_META_KEY] = 'k';
	key[TAPE_MAX_META_KEY + 1] = '\0';
	CU_ASSERT_EQUAL(tape_meta_set(m, key, "v"), TAPE_EFORMAT);
	CU_ASSERT_EQUAL(tape_meta_count(m), 5);

	/* Every byte value but NUL is allowed in a value. */
	char val[256];
	for (int i = 0; i < 255; i++)
		val[i] = (char)(i + 1);
	val[255] = '\0';
	CU_ASSERT_EQUAL(tape_meta_set(m, "bytes", val), 0);
	CU_ASSERT_STRING_EQUAL(tape_meta_get(m, "bytes"), val);
	tape_meta_free(m);
}

static void test_model_meta_limits(void)
{
	struct tape_meta *m = NULL, *d = NULL;
	char *val = malloc(TAPE_MAX_META_VALUE + 2);
	char key[16];

	CU_ASSERT_PTR_NOT_NULL_FATAL(val);
	CU_ASSERT_EQUAL_FATAL(tape_meta_new(&m), 0);
	memset(val, 'v', TAPE_MAX_META_VALUE + 1);
	val[TAPE_MAX_META_VALUE + 1] = '\0';
	CU_ASSERT_EQUAL(tape_meta_set(m, "long", val), TAPE_EFORMAT);
	val[TAPE_MAX_META_VALUE] = '\0';
	CU_ASSERT_EQUAL(tape_meta_set(m, "long", val), 0);
	CU_ASSERT_EQUAL(strlen(tape_meta_get(m, "long")), TAPE_MAX_META_VALUE);

	for (unsigned i = 1; i < TAPE_MAX_META_COUNT; i++) {
		snprintf(key, sizeof key, "k%u", i);
		CU_ASSERT_EQUAL(tape_meta_set(m, key, key), 0);
	}
	CU_ASSERT_EQUAL(tape_meta_count(m), TAPE_MAX_META_COUNT);
	CU_ASSERT_EQUAL(tape_meta_set(m, "one-too-many", "x"), TAPE_ELIMIT);
	CU_ASSERT_EQUAL(tape_meta_count(m), TAPE_MAX_META_COUNT);
	CU_ASSERT_PTR_NULL(tape_meta_get(m, "one-too-many"));
	/* Replacing is still possible when full. */
	CU_ASSERT_EQUAL(tape_meta_set(m, "k7", "seven"), 0);
	CU_ASSERT_STRING_EQUAL(tape_meta_get(m, "k7"), "seven");
	/* An invalid value is refused before the count is looked at. */
	CU_ASSERT_EQUAL(tape_meta_set(m, "bad key", "x"), TAPE_EFORMAT);

	/* A copy is deep and keeps start and order. */
	tape_meta_set_start(m, 17);
	CU_ASSERT_EQUAL_FATAL(tape_meta_dup(&d, m), 0);
	CU_ASSERT_EQUAL(tape_meta_count(d), TAPE_MAX_META_COUNT);
	CU_ASSERT_EQUAL(tape_meta_start(d), 17);
	for (size_t i = 0; i < TAPE_MAX_META_COUNT; i++) {
		const char *k1, *v1, *k2, *v2;
		CU_ASSERT_EQUAL_FATAL(tape_meta_at(m, i, &k1, &v1), 0);
		CU_ASSERT_EQUAL_FATAL(tape_meta_at(d, i, &k2, &v2), 0);
		CU_ASSERT_STRING_EQUAL(k1, k2);
		CU_ASSERT_STRING_EQUAL(v1, v2);
		CU_ASSERT_PTR_NOT_EQUAL(k1, k2);
		CU_ASSERT_PTR_NOT_EQUAL(v1, v2);
	}
	CU_ASSERT_EQUAL(tape_meta_set(m, "k1", "changed"), 0);
	CU_ASSERT_STRING_EQUAL(tape_meta_get(d, "k1"), "k1");
	tape_meta_free(m);
	tape_meta_free(d);
	free(val);
}

static void test_model_meta_dup_null(void)
{
	struct tape_meta *d = NULL;

	CU_ASSERT_EQUAL_FATAL(tape_meta_dup(&d, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(tape_meta_count(d), 0);
	CU_ASSERT_EQUAL(tape_meta_start(d), 0);
	tape_meta_free(d);
}

void test_model_register(void)
{
	static const struct unit_test tests[] = {
		{"test_model_error_names", test_model_error_names},
		{"test_model_event_kind_names", test_model_event_kind_names},
		{"test_model_dir_names", test_model_dir_names},
		{"test_model_close_reason_names", test_model_close_reason_names},
		{"test_model_endpoint_parse_ipv4", test_model_endpoint_parse_ipv4},
		{"test_model_endpoint_parse_ipv6", test_model_endpoint_parse_ipv6},
		{"test_model_endpoint_longest", test_model_endpoint_longest},
		{"test_model_endpoint_reject", test_model_endpoint_reject},
		{"test_model_endpoint_parse_length", test_model_endpoint_parse_length},
		{"test_model_endpoint_equal", test_model_endpoint_equal},
		{"test_model_endpoint_round_trip", test_model_endpoint_round_trip},
		{"test_model_flags_format", test_model_flags_format},
		{"test_model_flags_parse", test_model_flags_parse},
		{"test_model_flags_round_trip", test_model_flags_round_trip},
		{"test_model_time_format", test_model_time_format},
		{"test_model_time_parse_rfc3339", test_model_time_parse_rfc3339},
		{"test_model_time_parse_offsets", test_model_time_parse_offsets},
		{"test_model_time_parse_epoch", test_model_time_parse_epoch},
		{"test_model_time_parse_length", test_model_time_parse_length},
		{"test_model_time_parse_reject", test_model_time_parse_reject},
		{"test_model_time_parse_leap_days", test_model_time_parse_leap_days},
		{"test_model_time_round_trip", test_model_time_round_trip},
		{"test_model_escape_each_byte", test_model_escape_each_byte},
		{"test_model_escape_round_trip", test_model_escape_round_trip},
		{"test_model_unescape_in_place", test_model_unescape_in_place},
		{"test_model_unescape_reject", test_model_unescape_reject},
		{"test_model_meta_basics", test_model_meta_basics},
		{"test_model_meta_null", test_model_meta_null},
		{"test_model_meta_invalid_keys", test_model_meta_invalid_keys},
		{"test_model_meta_limits", test_model_meta_limits},
		{"test_model_meta_dup_null", test_model_meta_dup_null},
		{NULL, NULL},
	};
	unit_add_suite("model", tests);
}
