/* SPDX-License-Identifier: BSD-2-Clause */
/* error.c - error codes to names and messages, and the handles' error buffers. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tape-int.h"

const char *tape_strerror(int err)
{
	switch (err) {
#define TAPE__ERR_MSG(name, value, msg) \
	case TAPE_##name:               \
		return msg;
		TAPE_ERRNO_MAP(TAPE__ERR_MSG)
#undef TAPE__ERR_MSG
	case 0:
		return "success";
	default:
		break;
	}
	if (err < 0 && err > -1000)
		return strerror(-err);
	return "unknown error";
}

const char *tape_err_name(int err)
{
	switch (err) {
#define TAPE__ERR_NAME(name, value, msg) \
	case TAPE_##name:                \
		return #name;
		TAPE_ERRNO_MAP(TAPE__ERR_NAME)
#undef TAPE__ERR_NAME
	case 0:
		return "OK";
	case -ENOENT:
		return "ENOENT";
	case -EACCES:
		return "EACCES";
	case -ENOMEM:
		return "ENOMEM";
	case -EIO:
		return "EIO";
	case -ENOSPC:
		return "ENOSPC";
	case -EPIPE:
		return "EPIPE";
	case -ECONNREFUSED:
		return "ECONNREFUSED";
	case -ECONNRESET:
		return "ECONNRESET";
	case -ECONNABORTED:
		return "ECONNABORTED";
	case -ETIMEDOUT:
		return "ETIMEDOUT";
	case -EHOSTUNREACH:
		return "EHOSTUNREACH";
	case -ENETUNREACH:
		return "ENETUNREACH";
	case -ENETDOWN:
		return "ENETDOWN";
	case -EADDRINUSE:
		return "EADDRINUSE";
	case -EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case -EAFNOSUPPORT:
		return "EAFNOSUPPORT";
	case -EMFILE:
		return "EMFILE";
	case -ENFILE:
		return "ENFILE";
	case -ENOBUFS:
		return "ENOBUFS";
	case -EPERM:
		return "EPERM";
	case -EINVAL:
		return "EINVAL";
	case -EINTR:
		return "EINTR";
	case -EAGAIN:
		return "EAGAIN";
	case -EEXIST:
		return "EEXIST";
	case -EISDIR:
		return "EISDIR";
	case -ENOTDIR:
		return "ENOTDIR";
	case -EROFS:
		return "EROFS";
	case -EFBIG:
		return "EFBIG";
	case -EDQUOT:
		return "EDQUOT";
	default:
		return "EOTHER";
	}
}

const char *tape_version(void)
{
	return PACKAGE_VERSION;
}

/* Formats "PREFIX" + message into buf; never overflows, always terminated. */
TAPE__PRINTF(4, 0) static void vfmt(char *buf, size_t size, const char *prefix, const char *fmt, va_list ap)
{
	int n = snprintf(buf, size, "%s", prefix);
	if (n < 0)
		n = 0;
	if ((size_t)n < size)
		vsnprintf(buf + n, size - (size_t)n, fmt, ap);
}

TAPE__PRINTF(4, 0) static int rset(struct tape_reader *r, int code, const char *prefix, const char *fmt, va_list ap)
{
	if (r->err_code)
		return r->err_code; /* keep the first error */
	vfmt(r->err, sizeof r->err, prefix, fmt, ap);
	r->err_code = code;
	return code;
}

int tape__rerr(struct tape_reader *r, int code, const char *fmt, ...)
{
	char prefix[TAPE__NAMELEN + 8];
	va_list ap;
	int rc;

	snprintf(prefix, sizeof prefix, "%s: ", r->name);
	va_start(ap, fmt);
	rc = rset(r, code, prefix, fmt, ap);
	va_end(ap);
	return rc;
}

int tape__rerr_at(struct tape_reader *r, int code, uint64_t off, const char *fmt, ...)
{
	char prefix[TAPE__NAMELEN + 40];
	va_list ap;
	int rc;

	snprintf(prefix, sizeof prefix, "%s: offset %llu: ", r->name, (unsigned long long)off);
	va_start(ap, fmt);
	rc = rset(r, code, prefix, fmt, ap);
	va_end(ap);
	return rc;
}

int tape__rerr_line(struct tape_reader *r, int code, uint64_t line, const char *fmt, ...)
{
	char prefix[TAPE__NAMELEN + 40];
	va_list ap;
	int rc;

	snprintf(prefix, sizeof prefix, "%s:%llu: ", r->name, (unsigned long long)line);
	va_start(ap, fmt);
	rc = rset(r, code, prefix, fmt, ap);
	va_end(ap);
	return rc;
}

int tape__werr(struct tape_writer *w, int code, const char *fmt, ...)
{
	char prefix[TAPE__NAMELEN + 8];
	va_list ap;

	if (w->err_code)
		return w->err_code;
	snprintf(prefix, sizeof prefix, "%s: ", w->name);
	va_start(ap, fmt);
	vfmt(w->err, sizeof w->err, prefix, fmt, ap);
	va_end(ap);
	w->err_code = code;
	return code;
}

void tape__reader_dropped(struct tape_reader *r, uint64_t bytes, const char *fmt, ...)
{
	va_list ap;

	r->st.dropped_bytes = bytes;
	va_start(ap, fmt);
	vsnprintf(r->st.dropped_why, sizeof r->st.dropped_why, fmt, ap);
	va_end(ap);
}
