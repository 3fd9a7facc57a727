/* Logging to stderr, plain or one JSON object per line (--json-logs).
 * Thread-safe: each line is formatted into a buffer and written with one
 * write(2). */
#ifndef RG_LOG_H
#define RG_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "datapath/worker.h" /* enum log_level */

void log_setup(enum log_level level, bool json);
enum log_level log_get_level(void);
bool log_json_enabled(void);
/* "error" | "warn" | "info" | "debug" -> level; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out);
void log_vmsg(enum log_level l, const char *fmt, va_list ap);
void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
