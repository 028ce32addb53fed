/* SPDX-License-Identifier: BSD-2-Clause */
/* test_reasm.c - placeholder, being written. */
#include "unit.h"

static const struct unit_test tests[] = {{NULL, NULL}};

void test_reasm_register(void)
{
	unit_add_suite("reasm", tests);
}
