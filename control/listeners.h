/* control/listeners.c: the listen sockets of the control thread, opened
 * per worker and handed over to the workers. Everything here runs on the
 * control thread. */
#ifndef RG_LISTENERS_H
#define RG_LISTENERS_H

#include <stdbool.h>

#include "control/app.h"
#include "control/netlink.h"

struct rg_config;

/* A listener set in two steps, so that nothing changes when a bind fails:
 * prepare opens what is new (the workers see nothing yet), commit hands the
 * new sockets over and closes what is gone. */
struct listeners_next {
	struct app_listener *l;
	unsigned n;
	bool *kept; /* per current listener: still wanted */
};

/* Open what cfg wants that a->listeners does not hold yet (a kept listener
 * moves into nx with its sockets); the workers see nothing yet. On failure
 * nothing it opened stays open, nx is empty and, when an address could not
 * be bound, *errors says which (malloc'ed text). */
int listeners_prepare(struct app *a, const struct rg_config *cfg, struct listeners_next *nx, char **errors);
/* Hand the new sockets over, close the listeners no longer wanted, and make
 * nx the listener set of a. */
void listeners_commit(struct app *a, struct listeners_next *nx);
/* Free nx; close_new: also close the sockets it opened (not yet handed over). */
void listeners_next_free(struct app *a, struct listeners_next *nx, bool close_new);

/* Close one listener: a worker closes a socket it was handed, the control
 * thread the ones it still holds. */
void listener_close(struct app *a, struct app_listener *l);

/* The netlink watcher's callbacks (ctx: the struct app): bind an iface
 * listener into a->dyn when its address appears, close it when it goes. */
extern const struct nlwatch_ops listeners_iface_ops;

#endif
