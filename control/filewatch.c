#include "control/filewatch.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "control/log.h"

#define FW_MAX 64

struct fw_entry {
	int wd;
	char dir[PATH_MAX];
	char name[NAME_MAX + 1];
};

struct filewatch {
	int fd;
	struct fw_entry e[FW_MAX];
	unsigned n;
	uint64_t changed_at; /* 0: nothing pending */
};

int filewatch_open(struct filewatch **out)
{
	struct filewatch *fw = calloc(1, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	fw->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fw->fd < 0) {
		int err = -errno;
		free(fw);
		return err;
	}
	*out = fw;
	return 0;
}

void filewatch_close(struct filewatch *fw)
{
	if (!fw)
		return;
	close(fw->fd); /* drops every watch */
	free(fw);
}

int filewatch_fd(const struct filewatch *fw)
{
	return fw->fd;
}

int filewatch_set(struct filewatch *fw, const char *const *paths, unsigned n)
{
	for (unsigned i = 0; i < fw->n; i++) {
		bool shared = false; /* several files of one directory share a wd */
		for (unsigned j = 0; j < i; j++)
			shared |= fw->e[j].wd == fw->e[i].wd;
		if (!shared && fw->e[i].wd >= 0)
			inotify_rm_watch(fw->fd, fw->e[i].wd);
	}
	fw->n = 0;
	for (unsigned i = 0; i < n && fw->n < FW_MAX; i++) {
		if (!paths[i] || !paths[i][0])
			continue;
		char a[PATH_MAX], b[PATH_MAX];
		snprintf(a, sizeof(a), "%s", paths[i]);
		snprintf(b, sizeof(b), "%s", paths[i]);
		struct fw_entry *e = &fw->e[fw->n];
		snprintf(e->dir, sizeof(e->dir), "%s", dirname(a));
		snprintf(e->name, sizeof(e->name), "%s", basename(b));
		e->wd = inotify_add_watch(fw->fd, e->dir,
		                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB);
		if (e->wd < 0) {
			log_warn("cannot watch %s for changes: %s", e->dir, strerror(errno));
			continue;
		}
		fw->n++;
	}
	return 0;
}

void filewatch_process(struct filewatch *fw, uint64_t now)
{
	_Alignas(struct inotify_event) char buf[8192];
	for (;;) {
		ssize_t len = read(fw->fd, buf, sizeof(buf));
		if (len <= 0)
			return;
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				fw->changed_at = now;
				continue;
			}
			for (unsigned i = 0; i < fw->n; i++) {
				if (fw->e[i].wd != ev->wd)
					continue;
				/* a symlink swap (..data in Kubernetes) changes another name
				 * of the directory: any change there counts when the watched
				 * name is a link */
				if ((ev->len && !strcmp(ev->name, fw->e[i].name)) ||
				    (ev->len && ev->name[0] == '.')) {
					log_debug("%s/%s changed", fw->e[i].dir, ev->len ? ev->name : "");
					fw->changed_at = now;
				}
			}
		}
	}
}

bool filewatch_due(struct filewatch *fw, uint64_t now)
{
	if (!fw->changed_at || now - fw->changed_at < FILEWATCH_SETTLE_NS)
		return false;
	fw->changed_at = 0;
	return true;
}
