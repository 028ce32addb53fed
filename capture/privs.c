/* SPDX-License-Identifier: BSD-2-Clause */
/* privs.c - `tapedeck capture -Z USER`: giving up root once the capture device is open. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"

int capture_drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;
	char *end;

	errno = 0;
	pw = getpwnam(user);
	if (!pw && *user >= '0' && *user <= '9') {
		unsigned long uid = strtoul(user, &end, 10);
		if (!*end)
			pw = getpwuid((uid_t)uid);
	}
	if (!pw) {
		snprintf(err, errlen, "-Z: no such user \"%s\"", user);
		return -1;
	}
	/* Groups first: once the user id changes, they cannot be changed. */
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		snprintf(err, errlen, "-Z: cannot become user %s: %s%s", pw->pw_name, strerror(errno),
			 errno == EPERM ? " (only root can change user)" : "");
		return -1;
	}
	/* setuid() as root changes every user id; be sure there is no way back. */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
		snprintf(err, errlen, "-Z: still able to regain root after becoming %s", pw->pw_name);
		return -1;
	}
	return 0;
}
