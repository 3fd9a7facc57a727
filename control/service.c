#include "control/service.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif
#ifdef HAVE_LIBCAP
#include <sys/capability.h>
#endif

static void notify(const char *msg)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, msg);
#else
	(void)msg;
#endif
}

void service_ready(unsigned long long generation)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=serving, config generation %llu", generation);
	notify(buf);
}

void service_reloading(void)
{
	struct timespec ts;
	char buf[128];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* systemd's Type=notify-reload wants MONOTONIC_USEC with RELOADING=1 */
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
	notify(buf);
}

void service_reloaded(unsigned long long generation)
{
	service_ready(generation);
}

void service_stopping(void)
{
	notify("STOPPING=1");
}

int service_drop_root(const char *user, const char **why)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		char *end;
		unsigned long uid = strtoul(user, &end, 10);
		if (*user && !*end)
			pw = getpwuid((uid_t)uid);
	}
	if (!pw) {
		*why = "no such user";
		return -ENOENT;
	}
	if (getuid() != 0) {
		*why = "not running as root";
		return -EPERM;
	}
	/* Keep the permitted set of this thread across setuid; the others lose
	 * everything, which is what the workers need (they only use sockets
	 * they were handed). */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
		*why = "prctl(PR_SET_KEEPCAPS)";
		return -errno;
	}
	if (setgroups(1, &pw->pw_gid) < 0) {
		*why = "setgroups";
		return -errno;
	}
	if (setgid(pw->pw_gid) < 0) {
		*why = "setgid";
		return -errno;
	}
	if (setuid(pw->pw_uid) < 0) {
		*why = "setuid";
		return -errno;
	}
#ifdef HAVE_LIBCAP
	cap_t caps = cap_init();
	cap_value_t keep[] = {CAP_NET_ADMIN, CAP_NET_BIND_SERVICE};
	int err = 0;
	if (!caps || cap_set_flag(caps, CAP_PERMITTED, 2, keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 2, keep, CAP_SET) < 0 || cap_set_proc(caps) < 0) {
		*why = "cap_set_proc";
		err = -errno;
	}
	if (caps)
		cap_free(caps);
	if (err)
		return err;
#endif
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	/* setuid cleared the dumpable flag; keep it cleared: secrets live here */
	return 0;
}
