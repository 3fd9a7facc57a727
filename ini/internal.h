/* Shared between the files of ini/: the schema types, the state of one load,
 * and the steps of loading. Not for use outside ini/. */
#ifndef RG_INI_INTERNAL_H
#define RG_INI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ini/arena.h"
#include "ini/config.h"
#include "ini/value.h"

/* ---- schema (schema.c) ------------------------------------------------- */

enum ini_vtype {
	INI_T_BOOL,        /* bool */
	INI_T_UINT,        /* unsigned, min..max */
	INI_T_SECONDS,     /* unsigned seconds: a bare number, or a duration of whole seconds */
	INI_T_DURATION,    /* uint64_t milliseconds, min..max (ms) */
	INI_T_SIZE,        /* uint64_t bytes, min..max */
	INI_T_WORKERS,     /* unsigned: auto = 0, or min..max */
	INI_T_STRING,      /* const char *, optional check() */
	INI_T_PATH,        /* const char *: a file name */
	INI_T_HOST,        /* const char *: DNS name (INI_F_WILDCARD: or *.suffix), lower-cased */
	INI_T_ADDR,        /* struct rg_cfg_addr, IP literal and port */
	INI_T_ADDR_LIST,   /* const struct rg_cfg_addr * + unsigned count at off2; iface allowed */
	INI_T_CIDR_LIST,   /* const struct rg_cidr * + unsigned count at off2; host bits
	                      cleared unless INI_F_HOST_BITS */
	INI_T_CPUSET,      /* struct rg_cpuset */
	INI_T_KEY,         /* uint8_t[RG_KEY_LEN] */
	INI_T_ENUM,        /* an enum (int-sized), names[] */
	INI_T_STRING_LIST, /* const char *const * + unsigned count at off2, check() per item */
	INI_T_SERVER,      /* backend server line: appends to rg_backend_cfg.servers */
	INI_T_ENDPOINT,    /* peer endpoint: fills the endpoint fields of rg_peer_cfg */
};

#define INI_F_REPEAT 0x1u    /* may appear many times; each occurrence appends */
#define INI_F_REQUIRED 0x2u  /* no default: the section needs it */
#define INI_F_EMPTY_OFF 0x4u /* an empty value means unset (NULL, none, off) */
#define INI_F_WILDCARD 0x8u  /* INI_T_HOST: *.suffix allowed */
#define INI_F_HOST_BITS 0x10u /* INI_T_CIDR_LIST: keep host bits (an interface's own addresses) */

struct ini_key {
	const char *name;
	enum ini_vtype type;
	size_t off;              /* the field in the section's struct */
	size_t off2;             /* lists: unsigned count */
	unsigned flags;
	const char *def;         /* default, parsed like a value from the file; NULL: none */
	uint64_t min, max;       /* numeric ranges (in the field's unit) */
	const struct ini_enum_name *names; /* INI_T_ENUM */
	int (*check)(const char *s, char *why); /* INI_T_STRING(_LIST): extra rule */
};

enum ini_sec_id {
	INI_SEC_APPLIANCE = 0,
	INI_SEC_QUIC,
	INI_SEC_VHOST,
	INI_SEC_BACKEND,
	INI_SEC_ROUTE,
	INI_SEC_TUNNEL,
	INI_SEC_PEER,
	INI_SEC_TLS, /* issue 20 */
	INI_SEC_HTTPS,
	INI_SEC_REDIRECT,
	INI_SEC_MAX
};

#define INI_MAX_KEYS 16

struct ini_section {
	const char *name;        /* as in the file: "vhost" */
	bool named;              /* [vhost NAME] (many) or [quic] (at most one) */
	bool hostname_name;      /* the NAME is a DNS name (vhost) */
	size_t size;             /* of the section's struct */
	size_t name_off;         /* const char *name (named sections) */
	size_t line_off;         /* unsigned line */
	const struct ini_key *keys;
	unsigned n_keys;
};

extern const struct ini_section ini_schema[INI_SEC_MAX];

/* ---- one load (load.c) ------------------------------------------------- */

/* A section as it appeared in the file. */
struct ini_inst {
	enum ini_sec_id sec;
	void *obj;                       /* struct rg_<sec>_cfg in the arena */
	const char *name;                /* NULL for unnamed sections */
	unsigned line;                   /* of the header; 0 when made up (absent [appliance]) */
	unsigned key_line[INI_MAX_KEYS]; /* line each key was (first) set on; 0: default */
	uint32_t bad;                    /* bit i: key i had a bad value (reported; default used) */
};

struct ini_load {
	const char *file;          /* for messages */
	struct ini_arena *arena;
	struct ini_diag *diag;     /* never NULL inside a load */
	unsigned errors;           /* messages reported by this load */
	const char **warns;        /* "FILE:LINE: warning: ..." in the arena, also in diag */
	unsigned n_warns;
	int oom;                   /* -ENOMEM once an allocation failed */

	/* reader state */
	const char *pos, *end;
	unsigned lineno;           /* the line last handed to libinih */
	bool expect_kv;            /* that line is a key line: libinih must call back */
	unsigned kv_line;          /* last line libinih called back for */

	struct ini_inst *cur;      /* section keys go to; NULL: skip (bad header) */
	bool in_section;           /* a header (good or bad) was seen */
	struct ini_inst **insts;   /* every good section, in file order (malloc'ed) */
	unsigned n_insts, cap_insts;
};

/* Report "FILE:LINE: message" for this load. */
void ini_load_error(struct ini_load *L, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Report "FILE:LINE: warning: message": the file loads, but something in
 * it does not do what it says (or is unsafe). Kept in the config too
 * (rg_config.warnings), so start-up and reload can log it and --strict can
 * refuse it. */
void ini_load_warn(struct ini_load *L, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Run libinih over text[0..len) and build L->insts. 0 or -ENOMEM (syntax
 * and value errors are reported through L, not returned). */
int ini_load_parse(struct ini_load *L, const char *text, size_t len);
/* The first instance of `sec`, or NULL. */
struct ini_inst *ini_load_find(const struct ini_load *L, enum ini_sec_id sec);

/* ---- schema operations (schema.c) -------------------------------------- */

/* Set `key = value` (line `line`) in section instance `in`. */
void ini_schema_set(struct ini_load *L, struct ini_inst *in, const char *key, const char *value,
                    unsigned line);
/* Defaults for every key not set; a message for every missing required key. */
void ini_schema_finish(struct ini_load *L, struct ini_inst *in);
/* The line `key` was set on in `in`, or the section's line when it was not. */
unsigned ini_schema_key_line(const struct ini_inst *in, const char *key);
/* Was `key` written in the file for `in`? */
bool ini_schema_key_given(const struct ini_inst *in, const char *key);
/* Did `key` have a bad value in `in` (already reported)? */
bool ini_schema_key_bad(const struct ini_inst *in, const char *key);
/* Is `name` a good name for a [backend]/[route]/[peer]? */
int ini_schema_check_name(const char *name, char *why);

/* ---- files and cross-checks (check.c) ---------------------------------- */

/* Every check that spans keys, sections or files; messages through L. */
void ini_check_all(struct ini_load *L);

/* ---- peers files (peers.c) --------------------------------------------- */

/* Parse a peers file's text into *out using arena `a`; messages through
 * diag with `name` as the file. Returns the number of errors, or -ENOMEM. */
int ini_peers_parse(struct ini_arena *a, const char *name, const char *text, size_t len,
                    struct rg_peer_list *out, struct ini_diag *diag);

/* ---- files the config names (files.c) ---------------------------------- */

/* Read a whole (small) file into a malloc'ed, NUL-terminated buffer.
 * 0 or negative errno; files over `max` bytes are -EFBIG, anything but a
 * regular file -EISDIR (a directory) or -EBADFD (FIFO, device, socket). */
int ini_file_read(const char *path, size_t max, char **out, size_t *len);
/* What went wrong in ini_file_read(), for a message. */
const char *ini_file_strerror(int err);
/* Free a buffer of ini_file_read() that held a secret, wiping it. */
void ini_file_wipe_free(char *buf, size_t len);
/* A file holding one base64 key (as `wg genkey` writes it). 0 or -errno,
 * with why set. */
int ini_file_key(const char *path, uint8_t key[RG_KEY_LEN], char *why);
/* The admin token file: one token of >= 32 visible characters, trailing
 * newline trimmed; *token in the arena. 0 or -errno with why. */
int ini_file_token(struct ini_arena *a, const char *path, const char **token, char *why);
/* Is a secret file open to anyone but its owner (any group or other
 * permission bit, what ssh refuses and wg warns about)? 1 (exposed) or 0
 * (private) with *mode its permission bits; negative errno when it cannot
 * be looked at (the read reports that). */
int ini_file_secret_mode(const char *path, unsigned *mode);
/* Certificate chain and private key (PEM) that gnutls accepts as a pair.
 * 0, or -errno with why and *bad_key set when the key file is at fault
 * (unreadable, not a key, or not the certificate's key). */
int ini_file_cert_pair(const char *cert, const char *key, bool *bad_key, char *why);
/* A CA bundle ([vhost] client_ca, issue 9 §3): a readable file of one or
 * more PEM certificates, as the TLS backends load it. 0, or -errno with
 * why. */
int ini_file_ca(const char *path, char *why);

#endif
