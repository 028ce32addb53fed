/* SPDX-License-Identifier: BSD-2-Clause */
/* meta.c - tape metadata: the start time and ordered "key: value" pairs. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tape-int.h"

struct tape_meta {
	uint64_t start_ns;
	size_t n;
	char *keys[TAPE_MAX_META_COUNT];
	char *values[TAPE_MAX_META_COUNT];
};

int tape_meta_new(struct tape_meta **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : -ENOMEM;
}

void tape_meta_free(struct tape_meta *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->values[i]);
	}
	free(m);
}

int tape_meta_dup(struct tape_meta **out, const struct tape_meta *src)
{
	struct tape_meta *m;
	int rc = tape_meta_new(&m);

	if (rc)
		return rc;
	if (src) {
		m->start_ns = src->start_ns;
		for (size_t i = 0; i < src->n; i++) {
			rc = tape_meta_set(m, src->keys[i], src->values[i]);
			if (rc) {
				tape_meta_free(m);
				return rc;
			}
		}
	}
	*out = m;
	return 0;
}

uint64_t tape_meta_start(const struct tape_meta *m)
{
	return m ? m->start_ns : 0;
}

void tape_meta_set_start(struct tape_meta *m, uint64_t start_ns)
{
	m->start_ns = start_ns;
}

static int key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > TAPE_MAX_META_KEY || strcmp(k, "start") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int tape_meta_set(struct tape_meta *m, const char *key, const char *value)
{
	char *v;

	if (!key_ok(key) || strlen(value) > TAPE_MAX_META_VALUE)
		return TAPE_EFORMAT;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->keys[i], key) == 0) {
			v = strdup(value);
			if (!v)
				return -ENOMEM;
			free(m->values[i]);
			m->values[i] = v;
			return 0;
		}
	if (m->n == TAPE_MAX_META_COUNT)
		return TAPE_ELIMIT;
	m->keys[m->n] = strdup(key);
	m->values[m->n] = strdup(value);
	if (!m->keys[m->n] || !m->values[m->n]) {
		free(m->keys[m->n]);
		free(m->values[m->n]);
		return -ENOMEM;
	}
	m->n++;
	return 0;
}

const char *tape_meta_get(const struct tape_meta *m, const char *key)
{
	for (size_t i = 0; m && i < m->n; i++)
		if (strcmp(m->keys[i], key) == 0)
			return m->values[i];
	return NULL;
}

size_t tape_meta_count(const struct tape_meta *m)
{
	return m ? m->n : 0;
}

int tape_meta_at(const struct tape_meta *m, size_t i, const char **key, const char **value)
{
	if (!m || i >= m->n)
		return TAPE_EUSAGE;
	*key = m->keys[i];
	*value = m->values[i];
	return 0;
}
