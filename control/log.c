#include "control/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = LOG_INFO;
static _Atomic bool log_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(enum log_level level, bool json)
{
	atomic_store(&log_level, (int)level);
	atomic_store(&log_json, json);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&log_level);
}

bool log_json_enabled(void)
{
	return atomic_load(&log_json);
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

/* Append s to buf as the inside of a JSON string. */
static size_t json_escape(char *buf, size_t cap, size_t at, const char *s)
{
	for (; *s && at + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[at++] = '\\';
			buf[at++] = (char)c;
		} else if (c == '\n') {
			buf[at++] = '\\';
			buf[at++] = 'n';
		} else if (c < 0x20) {
			at += (size_t)snprintf(buf + at, cap - at, "\\u%04x", c);
		} else {
			buf[at++] = (char)c;
		}
	}
	return at;
}

void log_vmsg(enum log_level l, const char *fmt, va_list ap)
{
	if ((int)l > atomic_load(&log_level))
		return;
	char msg[2048], line[4500];
	vsnprintf(msg, sizeof(msg), fmt, ap);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[40];
	size_t w = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + w, sizeof(when) - w, ".%03ldZ", ts.tv_nsec / 1000000);

	size_t n;
	if (atomic_load(&log_json)) {
		n = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", when,
		                     level_names[l]);
		n = json_escape(line, sizeof(line), n, msg);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\"}\n");
	} else {
		n = (size_t)snprintf(line, sizeof(line), "%s %-5s %s\n", when, level_names[l], msg);
	}
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	/* one write per line so lines of different threads never interleave */
	ssize_t r = write(STDERR_FILENO, line, n);
	(void)r;
}

void log_msg(enum log_level l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(l, fmt, ap);
	va_end(ap);
}
