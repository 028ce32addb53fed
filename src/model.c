/* SPDX-License-Identifier: BSD-2-Clause */
/* model.c - names, endpoints, flags, times and escapes of the tape model. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tape-int.h"

const char *tape_event_kind_name(enum tape_event_kind kind)
{
	switch (kind) {
	case TAPE_EV_OPEN:
		return "open";
	case TAPE_EV_DATA:
		return "data";
	case TAPE_EV_GAP:
		return "gap";
	case TAPE_EV_FIN:
		return "fin";
	case TAPE_EV_RST:
		return "rst";
	case TAPE_EV_CLOSE:
		return "close";
	case TAPE_EV_NOTE:
		return "note";
	}
	return "?";
}

const char *tape_dir_name(enum tape_dir dir)
{
	return dir == TAPE_S2C ? "s2c" : "c2s";
}

int tape_dir_parse(const char *s, size_t n, enum tape_dir *out)
{
	if (n == 3 && memcmp(s, "c2s", 3) == 0)
		*out = TAPE_C2S;
	else if (n == 3 && memcmp(s, "s2c", 3) == 0)
		*out = TAPE_S2C;
	else
		return TAPE_EFORMAT;
	return 0;
}

static const char *const reason_names[] = {
#define TAPE__CR_NAME(name, str) str,
	TAPE_CLOSE_REASON_MAP(TAPE__CR_NAME)
#undef TAPE__CR_NAME
};

const char *tape_close_reason_name(enum tape_close_reason reason)
{
	if ((unsigned)reason >= TAPE_CLOSE__COUNT)
		return "?";
	return reason_names[reason];
}

int tape_close_reason_parse(const char *s, size_t n, enum tape_close_reason *out)
{
	for (unsigned i = 0; i < TAPE_CLOSE__COUNT; i++)
		if (strlen(reason_names[i]) == n && memcmp(reason_names[i], s, n) == 0) {
			*out = (enum tape_close_reason)i;
			return 0;
		}
	return TAPE_EFORMAT;
}

/* ---- endpoints ---------------------------------------------------------- */

void tape_endpoint_format(const struct tape_endpoint *ep, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (ep->family == 6) {
		inet_ntop(AF_INET6, ep->addr, a, sizeof a);
		snprintf(buf, size, "[%s]:%u", a, (unsigned)ep->port);
	} else {
		inet_ntop(AF_INET, ep->addr, a, sizeof a);
		snprintf(buf, size, "%s:%u", a, (unsigned)ep->port);
	}
}

/* Accepts exactly "A.B.C.D:PORT" or "[IPV6]:PORT", PORT 0..65535 without
 * sign or leading garbage; anything else is TAPE_EFORMAT. */
int tape_endpoint_parse(const char *s, size_t n, struct tape_endpoint *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *ps;
	size_t hl, pl;
	unsigned long port = 0;
	struct tape_endpoint ep;

	memset(&ep, 0, sizeof ep);
	if (n == 0)
		return TAPE_EFORMAT;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close + 1 >= s + n || close[1] != ':')
			return TAPE_EFORMAT;
		hl = (size_t)(close - s - 1);
		if (hl == 0 || hl >= sizeof host)
			return TAPE_EFORMAT;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, ep.addr) != 1)
			return TAPE_EFORMAT;
		ep.family = 6;
		ps = close + 2;
	} else {
		colon = NULL;
		for (size_t i = n; i-- > 0;)
			if (s[i] == ':') {
				colon = s + i;
				break;
			}
		if (!colon)
			return TAPE_EFORMAT;
		hl = (size_t)(colon - s);
		if (hl == 0 || hl >= sizeof host)
			return TAPE_EFORMAT;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, ep.addr) != 1)
			return TAPE_EFORMAT;
		ep.family = 4;
		ps = colon + 1;
	}
	pl = (size_t)(s + n - ps);
	if (pl == 0 || pl > 5 || (pl > 1 && ps[0] == '0'))
		return TAPE_EFORMAT; /* one spelling per port: no leading zeros */
	for (size_t i = 0; i < pl; i++) {
		if (ps[i] < '0' || ps[i] > '9')
			return TAPE_EFORMAT;
		port = port * 10 + (unsigned long)(ps[i] - '0');
	}
	if (port > 65535)
		return TAPE_EFORMAT;
	ep.port = (uint16_t)port;
	*out = ep;
	return 0;
}

int tape_endpoint_equal(const struct tape_endpoint *a, const struct tape_endpoint *b)
{
	size_t alen = a->family == 6 ? 16 : 4;

	return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, alen) == 0;
}

/* ---- open flags ----------------------------------------------------------- */

static const struct {
	uint32_t bit;
	const char *name;
} flag_names[] = {
#define TAPE__OF_NAME(name, bit, str) {bit, str},
	TAPE_OPEN_FLAG_MAP(TAPE__OF_NAME)
#undef TAPE__OF_NAME
};
#define NFLAGS (sizeof flag_names / sizeof flag_names[0])

void tape_open_flags_format(uint32_t flags, char *buf, size_t size)
{
	size_t len = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < NFLAGS; i++) {
		if (!(flags & flag_names[i].bit))
			continue;
		int n = snprintf(buf + len, size - len, "%s%s", len ? "," : "", flag_names[i].name);
		if (n < 0 || (size_t)n >= size - len)
			return;
		len += (size_t)n;
	}
}

int tape_open_flags_parse(const char *s, size_t n, uint32_t *out)
{
	uint32_t flags = 0;
	size_t i = 0;

	if (n == 0) {
		*out = 0;
		return 0;
	}
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		size_t k;
		for (k = 0; k < NFLAGS; k++)
			if (strlen(flag_names[k].name) == j - i &&
			    memcmp(flag_names[k].name, s + i, j - i) == 0)
				break;
		if (k == NFLAGS || (flags & flag_names[k].bit))
			return TAPE_EFORMAT; /* unknown, empty or repeated */
		flags |= flag_names[k].bit;
		i = j + 1;
	}
	*out = flags;
	return 0;
}

/* ---- times ---------------------------------------------------------------- */

void tape_time_format(uint64_t ns, char *buf, size_t size)
{
	time_t secs = (time_t)(ns / 1000000000u);
	struct tm tm;

	if (!gmtime_r(&secs, &tm)) {
		snprintf(buf, size, "%llu.%09u", (unsigned long long)(ns / 1000000000u),
			 (unsigned)(ns % 1000000000u));
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ns % 1000000000u));
}

/* Reads exactly len decimal digits at s into *v. */
static int digits_n(const char *s, size_t len, unsigned *v)
{
	unsigned x = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	*v = x;
	return 0;
}

/* Parses ".ddd" (1-9 digits) at s; returns the characters used (0 if no '.'). */
static long fraction(const char *s, size_t n, uint64_t *ns)
{
	size_t i = 1;
	uint64_t f = 0;

	*ns = 0;
	if (n == 0 || s[0] != '.')
		return 0;
	while (i < n && s[i] >= '0' && s[i] <= '9' && i <= 9)
		f = f * 10 + (uint64_t)(s[i++] - '0');
	if (i == 1 || (i < n && s[i] >= '0' && s[i] <= '9'))
		return -1;
	for (size_t k = i; k <= 9; k++)
		f *= 10;
	*ns = f;
	return (long)i;
}

static unsigned days_in_month(unsigned y, unsigned mo)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mo >= 1 && mo <= 12 ? days[mo - 1] : 0;
}

int tape_time_parse(const char *s, size_t n, uint64_t *out)
{
	uint64_t frac;
	long fl;

	if (n >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') &&
	    s[13] == ':' && s[16] == ':') {
		unsigned y, mo, d, h, mi, se;
		struct tm tm;
		long off = 0;
		size_t i = 19;

		if (digits_n(s, 4, &y) || digits_n(s + 5, 2, &mo) || digits_n(s + 8, 2, &d) ||
		    digits_n(s + 11, 2, &h) || digits_n(s + 14, 2, &mi) || digits_n(s + 17, 2, &se))
			return TAPE_EFORMAT;
		if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
		    mi > 59 || se > 60)
			return TAPE_EFORMAT;
		fl = fraction(s + i, n - i, &frac);
		if (fl < 0)
			return TAPE_EFORMAT;
		i += (size_t)fl;
		if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
			off = 0;
		} else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
			unsigned oh, om;
			if (digits_n(s + i + 1, 2, &oh) || digits_n(s + i + 4, 2, &om) || oh > 23 ||
			    om > 59)
				return TAPE_EFORMAT;
			off = (long)(oh * 3600 + om * 60);
			if (s[i] == '-')
				off = -off;
		} else {
			return TAPE_EFORMAT;
		}
		memset(&tm, 0, sizeof tm);
		tm.tm_year = (int)y - 1900;
		tm.tm_mon = (int)mo - 1;
		tm.tm_mday = (int)d;
		tm.tm_hour = (int)h;
		tm.tm_min = (int)mi;
		tm.tm_sec = (int)se;
		time_t t = timegm(&tm);
		if (t == (time_t)-1 || (long long)t - off < 0)
			return TAPE_EFORMAT;
		/* Past UINT64_MAX nanoseconds (2554-07-21T23:34:33.709551615Z). */
		if ((uint64_t)((long long)t - off) > (UINT64_MAX - frac) / 1000000000u)
			return TAPE_EFORMAT;
		*out = (uint64_t)((long long)t - off) * 1000000000u + frac;
		return 0;
	}
	/* Plain seconds since the epoch. */
	uint64_t secs = 0;
	size_t i = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		secs = secs * 10 + (uint64_t)(s[i++] - '0');
		if (secs > UINT64_MAX / 1000000000u)
			return TAPE_EFORMAT; /* and secs * 10 cannot overflow */
	}
	if (i == 0)
		return TAPE_EFORMAT;
	fl = fraction(s + i, n - i, &frac);
	if (fl < 0 || i + (size_t)fl != n || secs > (UINT64_MAX - frac) / 1000000000u)
		return TAPE_EFORMAT;
	*out = secs * 1000000000u + frac;
	return 0;
}

uint64_t tape__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- escapes -------------------------------------------------------------- */

size_t tape__escape(char *dst, const uint8_t *src, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = src[i];
		switch (c) {
		case '\\':
			dst[o++] = '\\';
			dst[o++] = '\\';
			break;
		case '\t':
			dst[o++] = '\\';
			dst[o++] = 't';
			break;
		case '\n':
			dst[o++] = '\\';
			dst[o++] = 'n';
			break;
		case '\r':
			dst[o++] = '\\';
			dst[o++] = 'r';
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				dst[o++] = '\\';
				dst[o++] = 'x';
				dst[o++] = hexd[c >> 4];
				dst[o++] = hexd[c & 0xf];
			} else {
				dst[o++] = (char)c;
			}
		}
	}
	return o;
}

long tape__unescape(uint8_t *dst, const char *src, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (src[i] != '\\') {
			dst[o++] = (uint8_t)src[i];
			continue;
		}
		if (i + 1 >= n)
			return -1 - (long)i;
		switch (src[i + 1]) {
		case '\\':
			dst[o++] = '\\';
			break;
		case 't':
			dst[o++] = '\t';
			break;
		case 'n':
			dst[o++] = '\n';
			break;
		case 'r':
			dst[o++] = '\r';
			break;
		case 'x': {
			uint8_t b;
			if (i + 3 >= n || tape__hex_decode(&b, src + i + 2, 1) != 0)
				return -1 - (long)i;
			dst[o++] = b;
			i += 2;
			break;
		}
		default:
			return -1 - (long)i;
		}
		i++;
	}
	return (long)o;
}

const char *tape__quote(char *buf, size_t size, const char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t o = 0, lim = n > TAPE__QUOTE_MAX ? TAPE__QUOTE_MAX : n;

	for (size_t i = 0; i < lim && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hexd[c >> 4];
			buf[o++] = hexd[c & 0xf];
		}
	}
	if (lim < n && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}
