/* SPDX-License-Identifier: BSD-2-Clause */
/* pcapout.c - writes frames as a pcap (nanosecond) or pcapng capture file. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"
#include "tape-int.h"

/*
 * Both formats are written in the host's byte order, as libpcap and
 * Wireshark write them; readers recognise the order from the magic numbers.
 *
 * pcap (draft-ietf-opsawg-pcap, "PCAP Capture File Format"), file header:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *  0|                 Magic Number = 0xA1B23C4D (ns)                |
 *   +-------------------------------+-------------------------------+
 *  4|       Major Version = 2       |       Minor Version = 4       |
 *   +-------------------------------+-------------------------------+
 *  8|                     Reserved1 (thiszone) = 0                  |
 *   +---------------------------------------------------------------+
 * 12|                     Reserved2 (sigfigs) = 0                   |
 *   +---------------------------------------------------------------+
 * 16|                            SnapLen                            |
 *   +---------------------------------------------------------------+
 * 20|     FCS/f bits = 0            |           LinkType            |
 *   +---------------------------------------------------------------+
 *
 * and per packet:
 *
 *   +---------------------------------------------------------------+
 *  0|                      Timestamp (Seconds)                      |
 *   +---------------------------------------------------------------+
 *  4|                    Timestamp (Nanoseconds)                    |
 *   +---------------------------------------------------------------+
 *  8|              Captured Packet Length (<= SnapLen)              |
 *   +---------------------------------------------------------------+
 * 12|                    Original Packet Length                     |
 *   +---------------------------------------------------------------+
 * 16/                 Packet Data (Captured Length bytes)           /
 *   +---------------------------------------------------------------+
 *
 * Seconds are unsigned 32-bit in the format (good until 2106), but libpcap
 * reads them as signed, so it shows times after 2038-01-19 as 1901+.
 */
#define PCAP_HDR_LEN 24u
#define PCAP_REC_LEN 16u

/*
 * pcapng (draft-ietf-opsawg-pcapng).  Every block is
 *
 *   +---------------------------------------------------------------+
 *  0|                          Block Type                           |
 *   +---------------------------------------------------------------+
 *  4|                      Block Total Length                       |
 *   +---------------------------------------------------------------+
 *  8/                          Block Body                           /
 *   +---------------------------------------------------------------+
 *   |                      Block Total Length                       |
 *   +---------------------------------------------------------------+
 *
 * with the total length (a multiple of 4) at both ends.  Options are
 * code (2 bytes), length (2), value padded to 4 bytes, ended by
 * opt_endofopt (code 0, length 0).  We write:
 *
 * Section Header Block, type 0x0A0D0D0A:
 *   byte-order magic 0x1A2B3C4D (4), major 1 (2), minor 0 (2),
 *   section length -1 = unknown (8), shb_userappl (code 4) "tapedeck X.Y.Z",
 *   opt_endofopt.
 * Interface Description Block, type 1:
 *   LinkType (2), reserved 0 (2), SnapLen (4),
 *   if_tsresol (code 9, length 1) = 9: timestamps count nanoseconds,
 *   opt_endofopt.
 * Enhanced Packet Block, type 6, per frame:
 *   Interface ID 0 (4), Timestamp upper 32 bits (4), lower 32 bits (4),
 *   Captured Packet Length (4), Original Packet Length (4),
 *   Packet Data padded with zeros to 4 bytes; no options.
 */
#define NG_SHB 0x0A0D0D0Au
#define NG_IDB 0x00000001u
#define NG_EPB 0x00000006u
#define NG_BOM 0x1A2B3C4Du
#define NG_OPT_END 0u
#define NG_OPT_SHB_USERAPPL 4u
#define NG_OPT_IF_TSRESOL 9u
#define NG_EPB_FIXED 28u /* header up to the packet data */

struct tape__pcapout {
	struct tape__out *o;
	int ng;
	uint32_t snaplen;
	char err[TAPE__ERRLEN];
};

static int perr(struct tape__pcapout *p, int code, const char *fmt, ...) TAPE__PRINTF(3, 4);
static int perr(struct tape__pcapout *p, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof p->err, fmt, ap);
	va_end(ap);
	return code;
}

/* Host byte order stores. */
static void h16(uint8_t *b, uint16_t v)
{
	memcpy(b, &v, 2);
}

static void h32(uint8_t *b, uint32_t v)
{
	memcpy(b, &v, 4);
}

static void h64(uint8_t *b, uint64_t v)
{
	memcpy(b, &v, 8);
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static int put(struct tape__pcapout *p, const void *b, size_t n)
{
	int rc = tape__out_write(p->o, b, n);

	if (rc)
		return perr(p, rc, "cannot write %zu bytes: %s", n, tape_strerror(rc));
	return 0;
}

static int write_pcap_header(struct tape__pcapout *p, int linktype)
{
	uint8_t b[PCAP_HDR_LEN];

	h32(b, TAPE__PCAP_MAGIC_NS);
	h16(b + 4, 2);
	h16(b + 6, 4);
	h32(b + 8, 0);
	h32(b + 12, 0);
	h32(b + 16, p->snaplen);
	h32(b + 20, (uint32_t)linktype);
	return put(p, b, sizeof b);
}

static int write_ng_header(struct tape__pcapout *p, int linktype)
{
	uint8_t b[256];
	char appl[64];
	size_t n, alen;
	int rc;

	/* Section Header Block. */
	snprintf(appl, sizeof appl, "tapedeck %s", tape_version());
	alen = strlen(appl);
	memset(b, 0, sizeof b);
	h32(b, NG_SHB);
	h32(b + 8, NG_BOM);
	h16(b + 12, 1);
	h16(b + 14, 0);
	h64(b + 16, UINT64_MAX); /* -1: section length not given */
	n = 24;
	h16(b + n, NG_OPT_SHB_USERAPPL);
	h16(b + n + 2, (uint16_t)alen);
	memcpy(b + n + 4, appl, alen);
	n += 4 + pad4(alen);
	h16(b + n, NG_OPT_END);
	h16(b + n + 2, 0);
	n += 4;
	h32(b + n, (uint32_t)(n + 4));
	n += 4;
	h32(b + 4, (uint32_t)n);
	rc = put(p, b, n);
	if (rc)
		return rc;

	/* Interface Description Block. */
	memset(b, 0, sizeof b);
	h32(b, NG_IDB);
	h16(b + 8, (uint16_t)linktype);
	h16(b + 10, 0);
	h32(b + 12, p->snaplen);
	n = 16;
	h16(b + n, NG_OPT_IF_TSRESOL);
	h16(b + n + 2, 1);
	b[n + 4] = 9; /* 10^-9 s; padding bytes stay 0 */
	n += 8;
	h16(b + n, NG_OPT_END);
	h16(b + n + 2, 0);
	n += 4;
	h32(b + n, (uint32_t)(n + 4));
	n += 4;
	h32(b + 4, (uint32_t)n);
	return put(p, b, n);
}

/* Allocates the writer and writes the file header (pcap) or the SHB and
 * the one IDB (pcapng) through o.  See pkt.h for arguments and errors. */
int tape__pcapout_open(struct tape__pcapout **out, struct tape__out *o, int ng, int linktype,
		       uint32_t snaplen)
{
	struct tape__pcapout *p;
	int rc;

	*out = NULL;
	if (!o || (ng != 0 && ng != 1) || linktype < 0 || linktype > 0xffff ||
	    snaplen > TAPE__PCAP_SNAPLEN)
		return TAPE_EUSAGE;
	p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->o = o;
	p->ng = ng;
	p->snaplen = snaplen ? snaplen : TAPE__PCAP_SNAPLEN;
	rc = ng ? write_ng_header(p, linktype) : write_pcap_header(p, linktype);
	*out = p;
	return rc;
}

/* Writes one record (pcap) or EPB (pcapng).  The frame is only read
 * during the call.  A failed write may leave a partial record in o; the
 * file is then to be discarded, as with any failed writer. */
int tape__pcapout_frame(struct tape__pcapout *p, uint64_t ts_ns, const uint8_t *frame,
			size_t len)
{
	static const uint8_t zero[4];
	uint8_t h[NG_EPB_FIXED];
	uint32_t caplen;
	int rc;

	if (len > UINT32_MAX)
		return perr(p, TAPE_ELIMIT, "frame of %zu bytes does not fit a 32-bit length", len);
	caplen = len < p->snaplen ? (uint32_t)len : p->snaplen;
	if (!p->ng) {
		uint64_t sec = ts_ns / 1000000000u;
		if (sec > UINT32_MAX)
			return perr(p, TAPE_EUNSUP,
				    "timestamp %" PRIu64 " ns is past 2106, beyond pcap's 32-bit "
				    "seconds (use pcapng)",
				    ts_ns);
		h32(h, (uint32_t)sec);
		h32(h + 4, (uint32_t)(ts_ns % 1000000000u));
		h32(h + 8, caplen);
		h32(h + 12, (uint32_t)len);
		rc = put(p, h, PCAP_REC_LEN);
		if (!rc && caplen)
			rc = put(p, frame, caplen);
		return rc;
	}
	uint32_t total = NG_EPB_FIXED + (uint32_t)pad4(caplen) + 4u;
	h32(h, NG_EPB);
	h32(h + 4, total);
	h32(h + 8, 0);
	h32(h + 12, (uint32_t)(ts_ns >> 32));
	h32(h + 16, (uint32_t)ts_ns);
	h32(h + 20, caplen);
	h32(h + 24, (uint32_t)len);
	rc = put(p, h, NG_EPB_FIXED);
	if (!rc && caplen)
		rc = put(p, frame, caplen);
	if (!rc && pad4(caplen) != caplen)
		rc = put(p, zero, pad4(caplen) - caplen);
	if (!rc) {
		h32(h, total);
		rc = put(p, h, 4);
	}
	return rc;
}

/* The detail text of the last error; never NULL. */
const char *tape__pcapout_error(const struct tape__pcapout *p)
{
	return p ? p->err : "";
}

/* Frees the handle; the output it wrote to is the caller's. */
void tape__pcapout_free(struct tape__pcapout *p)
{
	free(p);
}
