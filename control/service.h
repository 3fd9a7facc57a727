/* Service manager integration: sd_notify states for systemd Type=notify
 * (a no-op outside systemd), and dropping root after binding. */
#ifndef RG_SERVICE_H
#define RG_SERVICE_H

void service_ready(unsigned long long generation);
void service_reloading(void);
void service_reloaded(unsigned long long generation);
void service_stopping(void);

/* Become `user` (name or numeric uid), keeping only CAP_NET_ADMIN and
 * CAP_NET_BIND_SERVICE on the calling (control) thread; other threads end
 * up with none. Returns 0 or negative errno; *why names the failed step. */
RG_MUST_CHECK int service_drop_root(const char *user, const char **why);

#endif
