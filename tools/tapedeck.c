/* SPDX-License-Identifier: BSD-2-Clause */
/* tapedeck.c - main of the tapedeck command: everything else is in libtapedecktool. */
#include "config.h"

#include "tool.h"

int main(int argc, char **argv)
{
	return tool_main(argc, argv);
}
