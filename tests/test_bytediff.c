/* SPDX-License-Identifier: BSD-2-Clause */
/* test_bytediff.c - unit tests of masked byte comparison and difference reports (src/bytediff.c). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tape-int.h"
#include "bytediff.h"
#include "unit.h"

#define B(s) (const uint8_t *)(s), sizeof(s) - 1

/* Prints both texts when they differ, for the test log. */
static int same_text(const char *what, const char *got, const char *want)
{
	if (got && strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "\n%s: got\n%s\n---- expected\n%s\n----\n", what, got ? got : "(null)", want);
	return 0;
}

static struct tape__mask *mask_of(const char *const *res)
{
	struct tape__mask *m = NULL;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(tape__mask_new(&m), 0);
	for (; res && *res; res++) {
		int rc = tape__mask_add(m, *res, err, sizeof err);
		if (rc)
			fprintf(stderr, "mask \"%s\": %s\n", *res, err);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
	}
	return m;
}

/* Compares under the expressions res (NULL: exact); returns the result and
 * the offsets through eo, go. */
static int cmp_masked(const char *const *res, const uint8_t *a, size_t al, const uint8_t *b, size_t bl,
		      size_t *eo, size_t *go)
{
	struct tape__mask *m = res ? mask_of(res) : NULL;
	int rc;

	*eo = *go = (size_t)-1;
	rc = tape__diff_compare(m, a, al, b, bl, eo, go);
	tape__mask_free(m);
	return rc;
}

static void test_bytediff_equal(void)
{
	size_t eo, go;

	CU_ASSERT_EQUAL(tape__diff_compare(NULL, B("hello"), B("hello"), &eo, &go), 1);
	CU_ASSERT_EQUAL(tape__diff_compare(NULL, B(""), B(""), &eo, &go), 1);
	CU_ASSERT_EQUAL(cmp_masked((const char *const[]){"x+", NULL}, B(""), B(""), &eo, &go), 1);
	CU_ASSERT_EQUAL(cmp_masked((const char *const[]){"x+", NULL}, B("axxb"), B("axxb"), &eo, &go), 1);
	/* An empty mask is an exact comparison. */
	CU_ASSERT_EQUAL(cmp_masked((const char *const[]){NULL}, B("ab"), B("ac"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 1);
	CU_ASSERT_EQUAL(go, 1);
}

static void test_bytediff_first_difference(void)
{
	size_t eo = 99, go = 99;

	CU_ASSERT_EQUAL(tape__diff_compare(NULL, B("hello world"), B("hello World"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 6);
	CU_ASSERT_EQUAL(go, 6);
	CU_ASSERT_EQUAL(tape__diff_compare(NULL, B("x"), B("y"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 0);
	CU_ASSERT_EQUAL(go, 0);

	/* Past the 4096-byte blocks the search narrows down in. */
	{
		size_t n = 10000;
		uint8_t *a = malloc(n), *b = malloc(n);
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] = (uint8_t)(i * 7);
		for (size_t at = 0; at < n; at += 1111) {
			b[at] ^= 1;
			CU_ASSERT_EQUAL(tape__diff_compare(NULL, a, n, b, n, &eo, &go), 0);
			CU_ASSERT_EQUAL(eo, at);
			CU_ASSERT_EQUAL(go, at);
			b[at] ^= 1;
		}
		CU_ASSERT_EQUAL(tape__diff_compare(NULL, a, n, b, n, &eo, &go), 1);
		free(a);
		free(b);
	}
}

static void test_bytediff_prefix(void)
{
	static const char *const digits[] = {"[0-9]+", NULL};
	size_t eo, go;

	CU_ASSERT_EQUAL(tape__diff_compare(NULL, B("abc"), B("abcdef"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 3);
	CU_ASSERT_EQUAL(go, 3);
	CU_ASSERT_EQUAL(tape__diff_compare(NULL, B("abcdef"), B("abc"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 3);
	CU_ASSERT_EQUAL(go, 3);
	CU_ASSERT_EQUAL(tape__diff_compare(NULL, B(""), B("a"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 0);
	CU_ASSERT_EQUAL(go, 0);
	/* Under a mask the shorter side's offset is its length, the other's
	 * where it goes on. */
	CU_ASSERT_EQUAL(cmp_masked(digits, B("id=1"), B("id=12345;x"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 4);
	CU_ASSERT_EQUAL(go, 8);
	CU_ASSERT_EQUAL(cmp_masked(digits, B("id=12345;x"), B("id=1"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 8);
	CU_ASSERT_EQUAL(go, 4);
}

static void test_bytediff_mask_lengths(void)
{
	static const char *const date[] = {"Date: .*\r\n", NULL};
	static const char exp[] = "HTTP/1.1 200 OK\r\nDate: Mon, 1 Jan\r\nServer: x\r\n\r\n";
	static const char got[] = "HTTP/1.1 200 OK\r\nDate: Tuesday, 22 February\r\nServer: x\r\n\r\n";
	static const char got2[] = "HTTP/1.1 200 OK\r\nDate: Tuesday, 22 February\r\nServer: y\r\n\r\n";
	size_t eo, go;

	/* Different dates of different lengths are equal; "." stays on its line. */
	CU_ASSERT_EQUAL(cmp_masked(date, B(exp), B(got), &eo, &go), 1);
	CU_ASSERT_EQUAL(cmp_masked(date, B(got), B(exp), &eo, &go), 1);
	/* A difference after the masked part is at its offset in each original. */
	CU_ASSERT_EQUAL(cmp_masked(date, B(exp), B(got2), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, (size_t)(strchr(exp, 'x') - exp));
	CU_ASSERT_EQUAL(go, (size_t)(strstr(got2, "Server: y") + 8 - got2));
	CU_ASSERT_EQUAL(eo, 43);
	CU_ASSERT_EQUAL(go, 53);
	/* Without the mask: where the dates part. */
	CU_ASSERT_EQUAL(cmp_masked(NULL, B(exp), B(got), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 23);
	/* A match on one side only: the difference is where it starts. */
	CU_ASSERT_EQUAL(cmp_masked(date, B("a\r\nDate: x\r\nb"), B("a\r\nDote: x\r\nb"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 3);
	CU_ASSERT_EQUAL(go, 3);
	CU_ASSERT_EQUAL(cmp_masked(date, B("a\r\nDote: x\r\nb"), B("a\r\nDate: yy\r\nb"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 3);
	CU_ASSERT_EQUAL(go, 3);
	/* Several matches of several expressions, each one placeholder. */
	{
		static const char *const two[] = {"id=[0-9]+", "t=[a-f0-9]+", NULL};
		CU_ASSERT_EQUAL(cmp_masked(two, B("id=1&t=ab&id=22&x"), B("id=333&t=0&id=4&x"), &eo, &go), 1);
		CU_ASSERT_EQUAL(cmp_masked(two, B("id=1&t=ab&id=22&x"), B("id=333&t=0&id=4&y"), &eo, &go), 0);
		CU_ASSERT_EQUAL(eo, 16);
		CU_ASSERT_EQUAL(go, 16);
		/* A placeholder equals a placeholder, whichever expression made it. */
		CU_ASSERT_EQUAL(cmp_masked(two, B("<id=1>"), B("<t=f>"), &eo, &go), 1);
	}
	/* Overlapping expressions: the leftmost wins, then the longest. */
	{
		static const char *const ov[] = {"ab", "abcd", "bcdef", NULL};
		/* "abcd" is chosen at 0 (longest), then "ef" is literal. */
		CU_ASSERT_EQUAL(cmp_masked(ov, B("abcdef"), B("abcdef"), &eo, &go), 1);
		CU_ASSERT_EQUAL(cmp_masked(ov, B("abcdef!"), B("ab!"), &eo, &go), 0);
		CU_ASSERT_EQUAL(eo, 4);
		CU_ASSERT_EQUAL(go, 2);
		CU_ASSERT_EQUAL(cmp_masked(ov, B("abcdef"), B("abcdef"), &eo, &go), 1);
		CU_ASSERT_EQUAL(cmp_masked(ov, B("xbcdefy"), B("xaby"), &eo, &go), 1);
	}
}

static void test_bytediff_mask_anchors(void)
{
	static const char *const bol[] = {"^X-Id: [0-9]+$", NULL};
	size_t eo, go;

	/* ^ and $ at line ends (REG_NEWLINE), also after earlier matches. */
	CU_ASSERT_EQUAL(cmp_masked(bol, B("a\nX-Id: 1\nX-Id: 2\nb"), B("a\nX-Id: 77\nX-Id: 8\nb"), &eo, &go),
			1);
	/* Not in the middle of a line. */
	CU_ASSERT_EQUAL(cmp_masked(bol, B("aX-Id: 1\n"), B("aX-Id: 2\n"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 7);
	/* At the very start and end of the buffer. */
	CU_ASSERT_EQUAL(cmp_masked(bol, B("X-Id: 1"), B("X-Id: 234"), &eo, &go), 1);
}

static void test_bytediff_nul_bytes(void)
{
	static const char *const id[] = {"id=[0-9]+", NULL};
	static const char *const dot[] = {"k=.+;", NULL};
	static const char *const neg[] = {"k=[^;]+;", NULL};
	size_t eo, go;

	/* Matches are found past NUL bytes, and NULs compare as bytes. */
	CU_ASSERT_EQUAL(cmp_masked(id, B("\0\0id=12\0id=3\0"), B("\0\0id=4\0id=567\0"), &eo, &go), 1);
	CU_ASSERT_EQUAL(cmp_masked(id, B("\0\0id=12\0id=3\0a"), B("\0\0id=4\0id=567\0b"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 13);
	CU_ASSERT_EQUAL(go, 14);
	CU_ASSERT_EQUAL(tape__diff_compare(NULL, B("a\0b"), B("a\0c"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 2);
	/* "." does not match NUL; a negated bracket does. */
	CU_ASSERT_EQUAL(cmp_masked(dot, B("k=\0\1;"), B("k=x;"), &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 0);
	CU_ASSERT_EQUAL(cmp_masked(neg, B("k=\0\1;"), B("k=x;"), &eo, &go), 1);
}

static void test_bytediff_bad_regex(void)
{
	struct tape__mask *m = NULL;
	char err[256], re[16];

	CU_ASSERT_EQUAL_FATAL(tape__mask_new(&m), 0);
	CU_ASSERT_EQUAL(tape__mask_add(m, "a(", err, sizeof err), TAPE_EUSAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid regular expression \"a(\": "));
	CU_ASSERT_EQUAL(tape__mask_add(m, "[z-a]", err, sizeof err), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__mask_add(m, "x*", err, sizeof err), TAPE_EUSAGE);
	CU_ASSERT_STRING_EQUAL(err, "regular expression \"x*\" matches the empty string, so it would mask "
				    "nothing (use + rather than *)");
	CU_ASSERT_EQUAL(tape__mask_add(m, "^", err, sizeof err), TAPE_EUSAGE);
	CU_ASSERT_EQUAL(tape__mask_count(m), 0);
	/* Failures leave the mask usable. */
	CU_ASSERT_EQUAL(tape__mask_add(m, "x+", err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL(tape__mask_count(m), 1);
	CU_ASSERT_STRING_EQUAL(tape__mask_regex(m, 0), "x+");
	CU_ASSERT_PTR_NULL(tape__mask_regex(m, 1));
	for (unsigned i = 1; i < TAPE__MASK_MAX; i++) {
		snprintf(re, sizeof re, "y%u", i);
		CU_ASSERT_EQUAL(tape__mask_add(m, re, err, sizeof err), 0);
	}
	CU_ASSERT_EQUAL(tape__mask_count(m), TAPE__MASK_MAX);
	CU_ASSERT_EQUAL(tape__mask_add(m, "z", err, sizeof err), TAPE_ELIMIT);
	CU_ASSERT_STRING_EQUAL(err, "too many masks: at most 64");
	tape__mask_free(m);
	tape__mask_free(NULL);
}

static void test_bytediff_report_hex(void)
{
	static const char want[] =
		"expected 37 bytes, received 37 bytes; first difference at offset 32\n"
		"expected, offset 32 (0x20): byte 0x61 'a'\n"
		"  00000010  48 54 54 50 2f 31 2e 31  0d 0a 48 6f 73 74 3a 20  |HTTP/1.1..Host: |\n"
		"  00000020  61 0d 0a 0d 0a                                    |a....           |\n"
		"            ^^                                                 ^\n"
		"received, offset 32 (0x20): byte 0x62 'b'\n"
		"  00000010  48 54 54 50 2f 31 2e 31  0d 0a 48 6f 73 74 3a 20  |HTTP/1.1..Host: |\n"
		"  00000020  62 0d 0a 0d 0a                                    |b....           |\n"
		"            ^^                                                 ^\n";
	static const char a[] = "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char b[] = "GET /index.html HTTP/1.1\r\nHost: b\r\n\r\n";
	size_t eo, go;
	char *r;

	CU_ASSERT_EQUAL(tape__diff_compare(NULL, B(a), B(b), &eo, &go), 0);
	r = tape__diff_report(B(a), B(b), eo, go, 0);
	CU_ASSERT(same_text("hex report", r, want));
	free(r);

	/* A byte in the middle of a row, context both sides, a non-printable one. */
	{
		static const char want2[] =
			"expected 40 bytes, received 40 bytes; first difference at offset 20\n"
			"expected, offset 20 (0x14): byte 0x00\n"
			"  00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|\n"
			"  00000010  10 11 12 13 00 15 16 17  18 19 1a 1b 1c 1d 1e 1f  |................|\n"
			"                        ^^                                         ^\n"
			"  00000020  20 21 22 23 24 25 26 27                           | !\"#$%&'        |\n"
			"received, offset 20 (0x14): byte 0x41 'A'\n"
			"  00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|\n"
			"  00000010  10 11 12 13 41 15 16 17  18 19 1a 1b 1c 1d 1e 1f  |....A...........|\n"
			"                        ^^                                         ^\n"
			"  00000020  20 21 22 23 24 25 26 27                           | !\"#$%&'        |\n";
		uint8_t x[40], y[40];
		for (int i = 0; i < 40; i++)
			x[i] = y[i] = (uint8_t)i;
		x[20] = 0;
		y[20] = 'A';
		CU_ASSERT_EQUAL(tape__diff_compare(NULL, x, 40, y, 40, &eo, &go), 0);
		r = tape__diff_report(x, 40, y, 40, eo, go, 0);
		CU_ASSERT(same_text("hex report, mid-row", r, want2));
		free(r);
	}
}

static void test_bytediff_report_end_of_data(void)
{
	static const char want[] =
		"expected 3 bytes, received 6 bytes; first difference at offset 3\n"
		"expected, offset 3 (0x3): end of data\n"
		"  00000000  61 62 63                                          |abc             |\n"
		"                     ^^ end of data\n"
		"received, offset 3 (0x3): byte 0x64 'd'\n"
		"  00000000  61 62 63 64 65 66                                 |abcdef          |\n"
		"                     ^^                                           ^\n";
	static const char want16[] =
		"expected 16 bytes, received 17 bytes; first difference at offset 16\n"
		"expected, offset 16 (0x10): end of data\n"
		"  00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n"
		"  00000010                                                    |                |\n"
		"            ^^ end of data\n"
		"received, offset 16 (0x10): byte 0x58 'X'\n"
		"  00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n"
		"  00000010  58                                                |X               |\n"
		"            ^^                                                 ^\n";
	static const char want0[] =
		"expected 0 bytes, received 1 byte; first difference at offset 0\n"
		"expected, offset 0 (0x0): end of data\n"
		"  00000000                                                    |                |\n"
		"            ^^ end of data\n"
		"received, offset 0 (0x0): byte 0x78 'x'\n"
		"  00000000  78                                                |x               |\n"
		"            ^^                                                 ^\n";
	char *r;

	r = tape__diff_report(B("abc"), B("abcdef"), 3, 3, 0);
	CU_ASSERT(same_text("end of data", r, want));
	free(r);
	r = tape__diff_report(B("0123456789abcdef"), B("0123456789abcdefX"), 16, 16, 0);
	CU_ASSERT(same_text("end of data at a row start", r, want16));
	free(r);
	r = tape__diff_report(B(""), B("x"), 0, 0, 0);
	CU_ASSERT(same_text("empty side", r, want0));
	free(r);
	/* Offsets past the end are clamped to it. */
	r = tape__diff_report(B("abc"), B("abcdef"), 30, 3, 0);
	CU_ASSERT(same_text("clamped offset", r, want));
	free(r);
}

static void test_bytediff_report_view(void)
{
	static const char want[] =
		"A 5 bytes, B 5 bytes; first difference at offset 4294967298 of A, 4294967299 of B\n"
		"A, offset 4294967298 (0x100000002): byte 0x63 'c'\n"
		"  100000000  61 62 63 64 65                                    |abcde           |\n"
		"                   ^^                                             ^\n"
		"B, offset 4294967299 (0x100000003): byte 0x43 'C'\n"
		"  100000000     61 62 43 64 65                                 | abCde          |\n"
		"                      ^^                                           ^\n";
	struct tape__diff_view v = {0};
	char *r;

	v.exp_base = UINT64_C(1) << 32;
	v.got_base = (UINT64_C(1) << 32) + 1;
	v.exp_name = "A";
	v.got_name = "B";
	r = tape__diff_report_ex(&v, B("abcde"), B("abCde"), 2, 2);
	CU_ASSERT(same_text("report with bases and names", r, want));
	free(r);
	/* NULL view: the plain report. */
	r = tape__diff_report_ex(NULL, B("abc"), B("abcdef"), 3, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(strncmp(r, "expected 3 bytes, received 6 bytes", 34), 0);
	free(r);
}

static void test_bytediff_text_diff(void)
{
	static const char a[] = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm";
	static const char b[] = "a\nb\nX\nd\ne\nf\ng\nh\ni\nj\nk\nY\nm\nn\n";
	static const char want[] = "expected 25 bytes, received 28 bytes; first difference at offset 4\n"
				   "--- expected\n"
				   "+++ received\n"
				   "@@ -1,6 +1,6 @@\n"
				   " a\n"
				   " b\n"
				   "-c\n"
				   "+X\n"
				   " d\n"
				   " e\n"
				   " f\n"
				   "@@ -9,5 +9,6 @@\n"
				   " i\n"
				   " j\n"
				   " k\n"
				   "-l\n"
				   "-m\n"
				   "\\ No newline at end of file\n"
				   "+Y\n"
				   "+m\n"
				   "+n\n";
	size_t eo, go;
	char *r;

	CU_ASSERT_EQUAL(tape__diff_compare(NULL, B(a), B(b), &eo, &go), 0);
	r = tape__diff_report(B(a), B(b), eo, go, 1);
	CU_ASSERT(same_text("text diff", r, want));
	free(r);

	/* Far into the text: earlier lines are skipped and numbered right;
	 * hunks 6 lines apart are merged; escapes. */
	{
		static const char x[] = "1\n2\n3\n4\n5\n6\n7\nGET / HTTP/1.1\r\nHost: a\\b\r\n8\n9\n10\n11\n12\n13\nq\t\x01\xff\n";
		static const char y[] = "1\n2\n3\n4\n5\n6\n7\nGET / HTTP/1.1\r\nHost: c\r\n8\n9\n10\n11\n12\n13\nr\n";
		static const char want2[] =
			"expected 62 bytes, received 57 bytes; first difference at offset 36\n"
			"--- expected\n"
			"+++ received\n"
			"(lines before 6 of expected and 6 of received are equal and not shown)\n"
			"@@ -6,11 +6,11 @@\n"
			" 6\n"
			" 7\n"
			" GET / HTTP/1.1\\r\n"
			"-Host: a\\\\b\\r\n"
			"+Host: c\\r\n"
			" 8\n"
			" 9\n"
			" 10\n"
			" 11\n"
			" 12\n"
			" 13\n"
			"-q\t\\x01\\xff\n"
			"+r\n";
		CU_ASSERT_EQUAL(tape__diff_compare(NULL, B(x), B(y), &eo, &go), 0);
		r = tape__diff_report(B(x), B(y), eo, go, 1);
		CU_ASSERT(same_text("text diff, later", r, want2));
		free(r);
	}
	/* Insertions only, and deletions only: empty ranges. */
	{
		r = tape__diff_report(B("a\nb\n"), B("x\na\nb\n"), 0, 0, 1);
		CU_ASSERT(same_text("insert at the start", r,
				    "expected 4 bytes, received 6 bytes; first difference at offset 0\n"
				    "--- expected\n"
				    "+++ received\n"
				    "@@ -1,2 +1,3 @@\n"
				    "+x\n"
				    " a\n"
				    " b\n"));
		free(r);
		r = tape__diff_report(B("a\nb\nc\n"), B("a\nb\n"), 4, 4, 1);
		CU_ASSERT(same_text("delete at the end", r,
				    "expected 6 bytes, received 4 bytes; first difference at offset 4\n"
				    "--- expected\n"
				    "+++ received\n"
				    "@@ -1,3 +1,2 @@\n"
				    " a\n"
				    " b\n"
				    "-c\n"));
		free(r);
		r = tape__diff_report(B(""), B("a\n"), 0, 0, 1);
		CU_ASSERT(same_text("from nothing", r,
				    "expected 0 bytes, received 2 bytes; first difference at offset 0\n"
				    "--- expected\n"
				    "+++ received\n"
				    "@@ -0,0 +1 @@\n"
				    "+a\n"));
		free(r);
	}
}

static void test_bytediff_text_diff_masked(void)
{
	static const char a[] = "HTTP/1.1 200 OK\r\nDate: Mon, 1 Jan\r\nServer: x\r\nContent-Length: 5\r\n\r\nhello";
	static const char b[] =
		"HTTP/1.1 200 OK\r\nDate: Tuesday, 22 February\r\nServer: y\r\nContent-Length: 5\r\n\r\nhello";
	static const char want[] = "expected 72 bytes, received 82 bytes; first difference at offset 43 of "
				   "expected, 53 of received\n"
				   "--- expected\n"
				   "+++ received\n"
				   "@@ -1,6 +1,6 @@\n"
				   " HTTP/1.1 200 OK\\r\n"
				   " Date: Mon, 1 Jan\\r\n"
				   "-Server: x\\r\n"
				   "+Server: y\\r\n"
				   " Content-Length: 5\\r\n"
				   " \\r\n"
				   " hello\n"
				   "\\ No newline at end of file\n";
	struct tape__mask *m = mask_of((const char *const[]){"Date: .*\r\n", NULL});
	struct tape__diff_view v = {0};
	size_t eo, go;
	char *r;

	CU_ASSERT_EQUAL(tape__diff_compare(m, B(a), B(b), &eo, &go), 0);
	v.mask = m;
	v.text_diff = 1;
	r = tape__diff_report_ex(&v, B(a), B(b), eo, go);
	CU_ASSERT(same_text("masked text diff", r, want));
	free(r);
	/* Without the mask the Date lines differ too. */
	v.mask = NULL;
	r = tape__diff_report_ex(&v, B(a), B(b), eo, go);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "-Date: Mon, 1 Jan\\r\n"));
	free(r);
	tape__mask_free(m);
}

/* ---- the text diff is a correct and shortest script -------------------- */

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* Random lines "a\n".."d\n". */
static size_t rand_lines(char *buf, size_t nl)
{
	for (size_t i = 0; i < nl; i++) {
		buf[2 * i] = (char)('a' + rnd() % 4);
		buf[2 * i + 1] = '\n';
	}
	return 2 * nl;
}

static size_t lcs(const char *a, size_t n, const char *b, size_t m)
{
	size_t t[41][41];

	for (size_t i = 0; i <= n; i++)
		for (size_t j = 0; j <= m; j++)
			t[i][j] = (i == 0 || j == 0) ? 0
				  : a[2 * (i - 1)] == b[2 * (j - 1)]
				  ? t[i - 1][j - 1] + 1
				  : (t[i - 1][j] > t[i][j - 1] ? t[i - 1][j] : t[i][j - 1]);
	return t[n][m];
}

/* Applies the unified diff in report r to a (n lines), into out; returns
 * the number of lines written, or -1 when the diff does not apply. */
static long apply(const char *r, const char *a, size_t n, char *out, size_t *changes)
{
	const char *p = strstr(r, "\n@@ ");
	size_t ai = 0, o = 0;

	*changes = 0;
	while (p) {
		unsigned long as = 0, an = 1;
		p++;
		if (sscanf(p, "@@ -%lu,%lu", &as, &an) < 2)
			sscanf(p, "@@ -%lu", &as);
		size_t start = an ? as - 1 : as; /* 0-based first line of the hunk */
		while (ai < start && ai < n) {
			out[o++] = a[2 * ai];
			ai++;
		}
		p = strchr(p, '\n') + 1;
		while (*p == ' ' || *p == '-' || *p == '+') {
			if (*p == ' ' || *p == '-') {
				if (ai >= n || a[2 * ai] != p[1])
					return -1;
				if (*p == ' ')
					out[o++] = p[1];
				else
					(*changes)++;
				ai++;
			} else {
				out[o++] = p[1];
				(*changes)++;
			}
			p = strchr(p, '\n') + 1;
		}
		p = *p == '@' ? p - 1 : NULL;
	}
	while (ai < n)
		out[o++] = a[2 * ai++];
	return (long)o;
}

static void test_bytediff_text_diff_shortest(void)
{
	char a[80], b[80], out[100];

	for (int iter = 0; iter < 3000; iter++) {
		size_t n = rnd() % 21, m = rnd() % 21, al, bl, eo, go, changes;
		char *r;
		long got;

		al = rand_lines(a, n);
		bl = rand_lines(b, m);
		if (tape__diff_compare(NULL, (uint8_t *)a, al, (uint8_t *)b, bl, &eo, &go) == 1)
			continue;
		r = tape__diff_report((uint8_t *)a, al, (uint8_t *)b, bl, eo, go, 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		got = apply(r, a, n, out, &changes);
		CU_ASSERT_EQUAL(got, (long)m);
		if (got == (long)m) {
			int ok = 1;
			for (size_t i = 0; i < m; i++)
				ok &= out[i] == b[2 * i];
			CU_ASSERT(ok);
			CU_ASSERT_EQUAL(changes, n + m - 2 * lcs(a, n, b, m));
			if (!ok || changes != n + m - 2 * lcs(a, n, b, m)) {
				fprintf(stderr, "iteration %d:\n%s\n", iter, r);
				free(r);
				return;
			}
		}
		free(r);
	}
}

/* ---- windowed search gives what the plain search gives ------------------ */

static void test_bytediff_windowed_search(void)
{
	static const char *const res[] = {"ab+c", "^x[0-9]+$", "q[^q]{0,6}q", NULL};
	uint8_t a[300], b[300];

	for (int iter = 0; iter < 1500; iter++) {
		struct tape__mask *plain = mask_of(res), *win = mask_of(res);
		size_t n = 50 + rnd() % 250, m, eo1, go1, eo2, go2;
		static const char alpha[] = "abcqx0123\n";
		int r1, r2;

		for (size_t i = 0; i < n; i++)
			a[i] = (uint8_t)alpha[rnd() % (sizeof alpha - 1)];
		memcpy(b, a, n);
		m = n;
		/* Change a few bytes, sometimes inside would-be matches. */
		for (int k = rnd() % 3; k > 0; k--)
			b[rnd() % m] = (uint8_t)alpha[rnd() % (sizeof alpha - 1)];
		tape__mask_set_window(win, 32); /* matches here are at most 8 bytes... mostly */
		r1 = tape__diff_compare(plain, a, n, b, m, &eo1, &go1);
		r2 = tape__diff_compare(win, a, n, b, m, &eo2, &go2);
		/* "ab+c" can be long; only compare when no long run exists. */
		{
			int longrun = 0;
			for (size_t i = 0, run = 0; i < n; i++) {
				run = a[i] == 'b' ? run + 1 : 0;
				longrun |= run > 10;
			}
			for (size_t i = 0, run = 0; i < m; i++) {
				run = b[i] == 'b' ? run + 1 : 0;
				longrun |= run > 10;
			}
			if (!longrun) {
				CU_ASSERT_EQUAL(r1, r2);
				if (r1 == 0 && r2 == 0) {
					CU_ASSERT_EQUAL(eo1, eo2);
					CU_ASSERT_EQUAL(go1, go2);
				}
			}
		}
		tape__mask_free(plain);
		tape__mask_free(win);
	}
}

/* ---- huge inputs stay bounded -------------------------------------------- */

static void test_bytediff_huge_bounded(void)
{
	const size_t n = 32u << 20;
	uint8_t *a = malloc(n), *b = malloc(n);
	size_t eo, go;
	char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	/* Lines of text, different near the end. */
	for (size_t i = 0; i < n; i++)
		a[i] = (i % 40 == 39) ? '\n' : (uint8_t)('a' + i % 26);
	memcpy(b, a, n);
	b[n - 100] = '#';
	CU_ASSERT_EQUAL(tape__diff_compare(NULL, a, n, b, n, &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, n - 100);
	r = tape__diff_report(a, n, b, n, eo, go, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strlen(r) < 2048);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "first difference at offset 33554332\n"));
	free(r);
	/* The text diff starts near the difference and numbers its lines. */
	r = tape__diff_report(a, n, b, n, eo, go, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strlen(r) < 4096);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "@@ -838856,6 +838856,6 @@\n"));
	free(r);

	/* Every line different: cut at the caps, and said so. */
	for (size_t i = 0; i < n; i++)
		b[i] = (i % 40 == 39) ? '\n' : (uint8_t)('A' + i % 26);
	CU_ASSERT_EQUAL(tape__diff_compare(NULL, a, n, b, n, &eo, &go), 0);
	CU_ASSERT_EQUAL(eo, 0);
	r = tape__diff_report(a, n, b, n, eo, go, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strlen(r) <= TAPE__DIFF_REPORT_MAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "[report truncated at "));
	free(r);

	/* Few lines but a long difference: the edit cap, not the line cap. */
	{
		size_t nn = 3000 * 2;
		for (size_t i = 0; i < nn; i += 2) {
			a[i] = (uint8_t)('a' + rnd() % 20);
			b[i] = (uint8_t)('a' + rnd() % 20);
			a[i + 1] = b[i + 1] = '\n';
		}
		CU_ASSERT_EQUAL(tape__diff_compare(NULL, a, nn, b, nn, &eo, &go), 0);
		r = tape__diff_report(a, nn, b, nn, eo, go, 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT(strlen(r) <= TAPE__DIFF_REPORT_MAX);
		free(r);
	}
	/* Masked comparison of the whole size. */
	{
		struct tape__mask *m = mask_of((const char *const[]){"[A-Z]+", "[a-z]+", NULL});
		CU_ASSERT_EQUAL(tape__diff_compare(m, a, n, b, n, &eo, &go), 1);
		tape__mask_free(m);
	}
	free(a);
	free(b);
}

static void test_bytediff_text_diff_caps(void)
{
	/* More lines than the line cap, differing at the start and the end: the
	 * diff says it looked at part of each side only. */
	size_t nl = TAPE__DIFF_TEXT_MAX_LINES + 100, n = 2 * nl;
	uint8_t *a = malloc(n), *b = malloc(n);
	size_t eo, go;
	char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	/* Numbered lines, so the alignment is unambiguous. */
	for (size_t i = 0; i < nl; i++) {
		a[2 * i] = b[2 * i] = (uint8_t)('0' + i % 10);
		a[2 * i + 1] = b[2 * i + 1] = '\n';
	}
	b[0] = 'y';
	b[n - 2] = 'z';
	CU_ASSERT_EQUAL(tape__diff_compare(NULL, a, n, b, n, &eo, &go), 0);
	r = tape__diff_report(a, n, b, n, eo, go, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(same_text("line cap", r,
			    "expected 40200 bytes, received 40200 bytes; first difference at offset 0\n"
			    "--- expected\n"
			    "+++ received\n"
			    "@@ -1,4 +1,4 @@\n"
			    "-0\n"
			    "+y\n"
			    " 1\n"
			    " 2\n"
			    " 3\n"
			    "(text diff limited to 20000 lines or 1048576 bytes of each side)\n"));
	free(r);
	/* Same text but different only past the caps: nothing to show. */
	b[0] = '0';
	CU_ASSERT_EQUAL(tape__diff_compare(NULL, a, n, b, n, &eo, &go), 0);
	r = tape__diff_report(a, n, b, n, 0, 0, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "(no line differs in the part compared)\n"));
	free(r);
	free(a);
	free(b);
}

void test_bytediff_register(void)
{
	static const struct unit_test tests[] = {
		{"test_bytediff_equal", test_bytediff_equal},
		{"test_bytediff_first_difference", test_bytediff_first_difference},
		{"test_bytediff_prefix", test_bytediff_prefix},
		{"test_bytediff_mask_lengths", test_bytediff_mask_lengths},
		{"test_bytediff_mask_anchors", test_bytediff_mask_anchors},
		{"test_bytediff_nul_bytes", test_bytediff_nul_bytes},
		{"test_bytediff_bad_regex", test_bytediff_bad_regex},
		{"test_bytediff_report_hex", test_bytediff_report_hex},
		{"test_bytediff_report_end_of_data", test_bytediff_report_end_of_data},
		{"test_bytediff_report_view", test_bytediff_report_view},
		{"test_bytediff_text_diff", test_bytediff_text_diff},
		{"test_bytediff_text_diff_masked", test_bytediff_text_diff_masked},
		{"test_bytediff_text_diff_shortest", test_bytediff_text_diff_shortest},
		{"test_bytediff_text_diff_caps", test_bytediff_text_diff_caps},
		{"test_bytediff_windowed_search", test_bytediff_windowed_search},
		{"test_bytediff_huge_bounded", test_bytediff_huge_bounded},
		{NULL, NULL},
	};

	unit_add_suite("bytediff", tests);
}
