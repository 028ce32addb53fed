/* SPDX-License-Identifier: BSD-2-Clause */
/* format.c - the table of tape formats, probed in order. */
#include "config.h"

#include <string.h>

#include "tape-int.h"

const struct tape__format *const tape__formats[] = {
	&tape__format_tape,
	&tape__format_tsv,
	&tape__format_tsp,
	&tape__format_pcap,
	&tape__format_pcapng,
	&tape__format_gogetway,
	NULL,
};

const struct tape__format *tape__format_by_name(const char *name)
{
	for (size_t i = 0; name && tape__formats[i]; i++)
		if (strcmp(tape__formats[i]->name, name) == 0)
			return tape__formats[i];
	return NULL;
}

const char *tape_format_from_path(const char *path)
{
	const char *dot, *slash;

	if (!path)
		return NULL;
	dot = strrchr(path, '.');
	slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash) || dot[1] == '\0')
		return NULL;
	for (size_t i = 0; tape__formats[i]; i++)
		for (const char *const *e = tape__formats[i]->exts; e && *e; e++)
			if (strcmp(*e, dot + 1) == 0)
				return tape__formats[i]->name;
	return NULL;
}

int tape_format_readable(const char *name)
{
	const struct tape__format *f = tape__format_by_name(name);
	return f && f->read_open;
}

int tape_format_writable(const char *name)
{
	const struct tape__format *f = tape__format_by_name(name);
	return f && f->write_open;
}
