/* engine: the I/O-free WireGuard tunnel engine of one worker.
 *
 * It glues the building blocks together (crypto/noise.h handshake,
 * crypto/cookie.h MACs, crypto/keypair.h transport, and the tunnel's
 * session, timers, replay, allowedips and ratelimit modules) into the
 * three entry points a worker drives (STYLE.md convention 1, the ngtcp2
 * model):
 *
 *   tunnel_engine_recv()          a datagram from the network arrived
 *   tunnel_engine_send()          an inner IP packet from the TUN queue
 *   tunnel_engine_handle_expiry() the engine's one deadline passed
 *
 * Nothing here reads a clock, touches a socket or allocates after
 * tunnel_engine_init(): `now` (monotonic ns, never 0, as in tunnel_types.h)
 * and `wall_ns` (wall clock, ns since the Unix epoch, only for the TAI64N
 * timestamp of initiations, paper §5.4.2) come in on each call; output
 * leaves through struct tunnel_out, which the worker maps onto its send
 * batch and TUN queue and which the tests capture.
 *
 * Model (WireGuard paper §2, §5, §6):
 *  - One session per remote socket address (session.h): reuseport already
 *    shards remotes between workers by 4-tuple.
 *  - One struct tunnel_peer per authorized static key. The responder
 *    learns the initiator's key from the initiation (paper §5.4.2, "s" is
 *    encrypted under es/ss) and asks the authorization layer
 *    is_authorized(ctx, key, now); a NULL answer refuses the handshake. A
 *    peer is created from the answer on the first handshake, or from a
 *    [peer] section with an endpoint by tunnel_engine_add_initiator().
 *  - tunnel_engine_authorization_changed() asks again for every peer
 *    (after a reload) and removes the peers whose key was withdrawn, with
 *    their sessions and keys, at once: their data then finds no session.
 *  - DoS (paper §5.3): mac1 is always checked. Under load a handshake
 *    message without a valid mac2 gets a cookie reply and goes no further.
 *    Every handshake message that passed those checks then takes a token
 *    from its source's bucket (ratelimit.h, 20/s, burst 5) before any
 *    Curve25519 work. Under load, only mac2-proven sources reach the
 *    buckets, so a spoofer cannot drain an honest source's bucket then.
 *  - "Under load" is the OR of two inputs: the worker's own judgement
 *    (tunnel_engine_set_under_load(), e.g. ratelimit_under_load() of its
 *    handshake backlog) and the engine's count of handshake messages seen
 *    in the current and previous second, compared with
 *    cfg.load_handshakes_per_sec. The engine's count needs no help from
 *    the worker; the worker's flag lets it react to CPU pressure too.
 *  - Keypairs rotate previous/current/next (session.h), every timer rule
 *    lives in timers.c; the engine only reports events and performs the
 *    actions it gets back (STYLE.md convention 3).
 *  - Roaming (paper §2.1): an authenticated packet (data, or a handshake
 *    message that decrypted) from a new address moves the session there.
 *  - Cryptokey routing (paper §2): on send the destination picks the peer
 *    by longest prefix; on receive the decrypted packet's source address
 *    must map back to the peer it came from.
 *  - Data padding (paper §5.4.6): the plaintext is padded with zeros to a
 *    multiple of 16, but not past the MTU; a keepalive is an empty data
 *    message (paper §6.5).
 *  - At most one packet waits per peer for a handshake (a newer one
 *    replaces it, counted), as a bounded stand-in for Linux's staged queue.
 *
 * The callbacks of struct tunnel_out must not call back into the engine
 * (queue the datagram and feed it later). The engine is not thread-safe:
 * one per worker. */
#ifndef RG_TUNNEL_ENGINE_H
#define RG_TUNNEL_ENGINE_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cookie.h"
#include "crypto/keypair.h"
#include "crypto/noise.h"
#include "datapath/tunnel/allowedips.h"
#include "datapath/tunnel/pool.h"
#include "datapath/tunnel/ratelimit.h"
#include "datapath/tunnel/session.h"
#include "datapath/tunnel/tunnel_types.h"

struct tunnel_peer;

/* A peer as the configuration (or the authorization layer) describes it.
 * The engine copies what it keeps; the pointers need only live for the
 * call that hands the config over. */
struct tunnel_peer_config {
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t psk[NOISE_SYMMETRIC_KEY_LEN];
	bool has_psk;                            /* false: the all-zero psk */
	const struct allowedips_prefix *allowed_ips;
	size_t n_allowed_ips;
	rg_sockaddr endpoint;                    /* sa_family 0: none (responder only) */
	uint16_t persistent_keepalive;           /* seconds, 0: off */
	/* DH(our static private key, public_key), computed once by whoever
	 * builds the configs (tunnel_peer_config_precompute) so a handshake
	 * saves one of its four Curve25519 operations (noise.h). Used only
	 * while static_static_for is the engine's own public key (a config
	 * built for another key computes it per handshake instead). */
	uint8_t static_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t static_static_for[NOISE_PUBLIC_KEY_LEN];
	bool has_static_static;
};

/* Fill c's static_static for the key pair (private_key, public_key). 0, or
 * -EINVAL when c's key is of small order (left unset: such a handshake
 * fails anyway). */
RG_MUST_CHECK int tunnel_peer_config_precompute(struct tunnel_peer_config *c, const uint8_t private_key[NOISE_PUBLIC_KEY_LEN],
                                  const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);

/* The authorization layer: the config of the peer with static key `key`,
 * or NULL when that key may not connect. Called on every handshake
 * initiation that passed the MAC, rate and Noise checks, and for every
 * peer from tunnel_engine_authorization_changed(). */
typedef const struct tunnel_peer_config *(*tunnel_authorize_fn)(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN],
                                                                uint64_t now);

/* Where the engine's output goes. Must not re-enter the engine. */
struct tunnel_out {
	void *ctx;
	/* Send len bytes to `to` from local address `from` (sa_family 0:
	 * whatever the socket picks) by socket `sock`: the caller's index of
	 * the socket the peer last reached us on (tunnel_engine_recv), -1 when
	 * none yet (an initiation to a configured endpoint: the caller picks).
	 * The bytes live until the call returns. */
	void (*send_datagram)(void *ctx, int sock, const rg_sockaddr *to, const rg_sockaddr *from,
	                      const uint8_t *bytes, size_t len);
	/* Hand an authenticated inner IP packet (padding removed) to the TUN
	 * side; it came from `peer`. Lives until the call returns. */
	void (*deliver_packet)(void *ctx, struct tunnel_peer *peer, const uint8_t *bytes, size_t len);
};

struct tunnel_engine_config {
	const uint8_t *private_key;      /* NOISE_PUBLIC_KEY_LEN bytes, required */
	const struct crypto_rng *rng;    /* NULL: crypto_rng_system */
	uint32_t capacity;               /* peers and sessions, required */
	uint32_t max_allowed_ips;        /* prefixes over all peers; 0: 8 * capacity */
	uint32_t mtu;                    /* largest inner packet; 0: 1420 */
	uint32_t ratelimit_entries;      /* 0: RATELIMIT_DEFAULT_ENTRIES (sized by
	                                    handshake rate, not capacity) */
	uint32_t load_handshakes_per_sec;/* 0: 1000 */
	/* Our receiver indices carry this tag in the bits of the mask (the
	 * worker id, so another worker can tell whose a message is); 0, 0:
	 * none. See tunnel_receiver_index(). */
	uint32_t index_tag, index_tag_mask;
	tunnel_authorize_fn is_authorized; /* required */
	void *auth_ctx;
	struct tunnel_out out;           /* required */
};

/* Verdict of tunnel_engine_recv(); the engine counts each one
 * (struct tunnel_engine.rx_count). Everything from TUNNEL_RX_DROP_MALFORMED
 * on is a drop. */
enum tunnel_rx_verdict {
	TUNNEL_RX_DATA = 0,           /* data delivered to the TUN side */
	TUNNEL_RX_KEEPALIVE,          /* empty data message, authenticated */
	TUNNEL_RX_HANDSHAKE,          /* initiation answered or response consumed */
	TUNNEL_RX_COOKIE,             /* cookie reply consumed: next initiation carries mac2 */
	TUNNEL_RX_COOKIE_SENT,        /* under load without mac2: answered with a cookie */
	TUNNEL_RX_DROP_MALFORMED,     /* unknown type, wrong length, reserved bytes */
	TUNNEL_RX_DROP_MAC,           /* mac1 wrong */
	TUNNEL_RX_DROP_RATELIMIT,     /* the source's handshake bucket is empty */
	TUNNEL_RX_DROP_HANDSHAKE,     /* Noise refused it (decrypt, bad point, state) */
	TUNNEL_RX_DROP_UNAUTHORIZED,  /* is_authorized said no */
	TUNNEL_RX_DROP_HS_REPLAY,     /* initiation timestamp not newer (paper §5.1) */
	TUNNEL_RX_DROP_NO_SESSION,    /* receiver index unknown (or peer withdrawn) */
	TUNNEL_RX_DROP_KEY_EXPIRED,   /* keypair older than REJECT_AFTER_TIME */
	TUNNEL_RX_DROP_REPLAY,        /* counter seen or too old (replay.h) */
	TUNNEL_RX_DROP_AUTH,          /* AEAD tag wrong */
	TUNNEL_RX_DROP_COOKIE,        /* cookie reply unexpected or forged */
	TUNNEL_RX_DROP_INNER,         /* decrypted packet is not a valid IP packet */
	TUNNEL_RX_DROP_ALLOWED_IPS,   /* inner source not in the peer's allowed IPs */
	TUNNEL_RX_DROP_NO_ROOM,       /* peer or session table full */
	TUNNEL_RX_DROP_INTERNAL,      /* randomness or crypto library failure */
	TUNNEL_RX__COUNT
};

/* Verdict of tunnel_engine_send(), counted in tx_count. */
enum tunnel_tx_verdict {
	TUNNEL_TX_SENT = 0,           /* encrypted and sent */
	TUNNEL_TX_QUEUED,             /* waits for a handshake (started if allowed) */
	TUNNEL_TX_DROP_MALFORMED,     /* not an IPv4/IPv6 packet */
	TUNNEL_TX_DROP_TOO_BIG,       /* longer than the MTU */
	TUNNEL_TX_DROP_NO_ROUTE,      /* no peer's allowed IPs hold the destination */
	TUNNEL_TX_DROP_NO_ENDPOINT,   /* peer has no session and no endpoint */
	TUNNEL_TX_DROP_REPLACED,      /* a queued packet pushed out by a newer one (counted only) */
	TUNNEL_TX_DROP_GIVE_UP,       /* queued packet dropped: handshake gave up (counted only) */
	TUNNEL_TX_DROP_NO_ROOM,       /* session table full */
	TUNNEL_TX_DROP_INTERNAL,
	TUNNEL_TX__COUNT
};

const char *tunnel_rx_verdict_name(enum tunnel_rx_verdict v);

/* The receiver index a datagram is addressed to (a response, a cookie
 * reply or a data message: the index we handed out), or 0 for an
 * initiation or anything that is not a well-formed message. */
static inline uint32_t tunnel_receiver_index(const uint8_t *d, size_t len)
{
	switch (message_type_of(d, len)) {
	case MESSAGE_HANDSHAKE_RESPONSE:
		return noise_response_receiver_index(d);
	case MESSAGE_HANDSHAKE_COOKIE:
		return le32toh(((const struct message_handshake_cookie *)d)->receiver_index);
	case MESSAGE_DATA:
		return crypto_keypair_index_of(d);
	default:
		return 0;
	}
}
const char *tunnel_tx_verdict_name(enum tunnel_tx_verdict v);

/* Kept small: a worker holds one per authorized key that connected, and
 * an idle session (peer, session, one keypair, table slots) has a budget
 * of 1 KiB. What only a handshake in flight needs lives in the engine's
 * handshake pool meanwhile (hs1), the packet waiting for a handshake in
 * its queue pool (tunnel_peer_queued). */
struct tunnel_peer {
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN]; /* first bytes: pool link when free */
	uint8_t psk[NOISE_SYMMETRIC_KEY_LEN];
	struct cookie_maker cookie;          /* MACs of what we send to it */
	uint8_t last_timestamp[NOISE_TIMESTAMP_LEN]; /* paper §5.1 replay guard */
	bool have_timestamp;
	bool in_use;
	bool has_endpoint;                   /* configured initiator */
	bool may_have_routes;                /* false: no prefix in the trie is ours, so
	                                        allowedips_remove_by_peer (a scan of the
	                                        trie's nodes) can be skipped */
	uint16_t persistent_keepalive;
	uint16_t queued_len;                 /* the waiting packet's length, 0: none */
	uint32_t hs1;                        /* our initiation in flight: handshake
	                                        pool id + 1, 0: none */
	rg_sockaddr endpoint;
	rg_sockaddr local;                   /* our address it last reached */
	int sock;                            /* and the caller's socket there, -1: none */
	struct session *session;             /* NULL: none yet */
	uint64_t rx_packets, tx_packets;
	uint64_t last_handshake;             /* now of the last completed handshake */
	uint64_t routes_fp;                  /* keyed hash of the allowed IPs configured
	                                        last: a reload that leaves them alone
	                                        leaves the trie alone */
};

struct tunnel_engine {
	struct noise_local local;
	struct cookie_checker checker;
	struct session_table sessions;
	struct allowedips routes;
	struct ratelimit limiter;
	struct crypto_aead *aead;
	/* Pools of capacity objects, touched only as used (pool.h). */
	struct tunnel_peer *peers;
	struct pool peer_pool;
	struct noise_handshake *hs_pool;     /* initiations in flight */
	struct pool hs_alloc;
	uint8_t *queue_pool;                 /* capacity * mtu: one waiting packet per peer */
	/* Peers by public key: open addressing, linear probing, backward-shift
	 * removal, at most half full; SipHash-2-4 under a random key. */
	uint32_t *peer_slots;                /* peer id + 1, 0: empty */
	uint32_t peer_mask;
	uint8_t peer_hash_key[16];
	uint8_t *buf;                        /* seal scratch: header + padded mtu + tag */
	uint32_t capacity, npeers, mtu;
	uint32_t load_threshold;
	bool forced_load;
	uint64_t load_window_start;          /* ns; handshake count windows of 1 s */
	uint32_t load_count, load_prev_count;
	tunnel_authorize_fn is_authorized;
	void *auth_ctx;
	struct tunnel_out out;
	uint64_t rx_count[TUNNEL_RX__COUNT];
	uint64_t tx_count[TUNNEL_TX__COUNT];
};

/* 0, -EINVAL (missing key, callback or capacity), -ENOMEM, or the rng's
 * error. On error nothing is left allocated. */
RG_MUST_CHECK int tunnel_engine_init(struct tunnel_engine *e, const struct tunnel_engine_config *cfg);
/* Wipes every secret, then frees. */
void tunnel_engine_free(struct tunnel_engine *e);

/* Our static public key (for the peers' configs). */
const uint8_t *tunnel_engine_public_key(const struct tunnel_engine *e);

/* A datagram arrived from `from` at our address `local` (the socket's
 * pktinfo; answers are sent from it) on the caller's socket `sock` (handed
 * back in send_datagram; -1: none). data is modified in place (decrypted).
 * Whatever is to be sent or delivered goes through cfg.out before this
 * returns. The verdict is also counted. */
enum tunnel_rx_verdict tunnel_engine_recv(struct tunnel_engine *e, int sock, const rg_sockaddr *from,
                                          const rg_sockaddr *local, uint8_t *data, size_t len, uint64_t now,
                                          uint64_t wall_ns);

/* An inner packet from the TUN side: route by destination, encrypt and
 * send, or queue it and start a handshake. packet is copied, never
 * modified. wall_ns: for the initiation this may start. */
enum tunnel_tx_verdict tunnel_engine_send(struct tunnel_engine *e, const uint8_t *packet, size_t len, uint64_t now,
                                          uint64_t wall_ns);

/* The earliest deadline of any peer (ns; never later than the true one,
 * possibly earlier), RG_NO_DEADLINE when nothing is armed. O(1): sessions with a
 * deadline sit in a timer wheel (session.h), so a worker with thousands of
 * idle peers may call it every loop turn. */
uint64_t tunnel_engine_next_expiry(struct tunnel_engine *e);
/* Fire every peer timer due at `now`: keepalives, initiations,
 * retransmissions, key erasure. */
void tunnel_engine_handle_expiry(struct tunnel_engine *e, uint64_t now, uint64_t wall_ns);

/* The worker's judgement of load (sticky until set again). */
void tunnel_engine_set_under_load(struct tunnel_engine *e, bool loaded);
/* Whether handshakes now need mac2 (the worker's flag or the rate). */
bool tunnel_engine_under_load(struct tunnel_engine *e, uint64_t now);

/* Ask is_authorized again for every peer: withdrawn keys lose their peer,
 * session and keys at once; the others get their psk, allowed IPs,
 * endpoint and persistent keepalive refreshed. */
void tunnel_engine_authorization_changed(struct tunnel_engine *e, uint64_t now);

/* A [peer] with an endpoint: this side initiates. Creates the peer and its
 * session at the endpoint; a persistent keepalive, if set, starts the
 * handshake on the next tunnel_engine_handle_expiry(). *out (may be NULL)
 * is the peer. 0, -EINVAL (no endpoint), -EEXIST (key known), -ENOSPC,
 * -EAFNOSUPPORT. */
RG_MUST_CHECK int tunnel_engine_add_initiator(struct tunnel_engine *e, const struct tunnel_peer_config *cfg, uint64_t now,
                                struct tunnel_peer **out);

/* The peer with that static key, or NULL. A hash lookup. */
struct tunnel_peer *tunnel_peer_find(struct tunnel_engine *e, const uint8_t key[NOISE_PUBLIC_KEY_LEN]);

/* The static key of the peer whose session speaks from `remote` (one
 * session per remote address), or NULL. A hash lookup; the pointer is valid
 * until the engine next runs. */
const uint8_t *tunnel_engine_peer_key_at(const struct tunnel_engine *e, const rg_sockaddr *remote);

/* What a caller may know of a peer (GET /peers, metrics), filled by the
 * engine so the caller does not read its internals. Times are the engine's
 * `now` (0: never). */
struct tunnel_peer_view {
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	rg_sockaddr endpoint;   /* the session's remote, else the configured
	                           endpoint, else sa_family 0 */
	bool has_session;
	uint64_t last_handshake;
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
};
/* Call fn for every peer in use, in slot order, until it returns false.
 * fn must not add or remove peers. Returns how many were visited. */
unsigned tunnel_engine_foreach_peer(const struct tunnel_engine *e,
                                    bool (*fn)(void *ctx, const struct tunnel_peer_view *v), void *ctx);

/* Every peer slot ever used is below this bound (check in_use). */
static inline uint32_t tunnel_engine_peer_bound(const struct tunnel_engine *e)
{
	return e->peer_pool.high;
}

/* ---- between engine*.c only (not an API) ---- */
/* An inner packet's family and IP length (header says), -EINVAL if not IP. */
int tunnel_engine_inner(const uint8_t *pkt, size_t len, int *family, size_t *ip_len);
void tunnel_engine_count_rx(struct tunnel_engine *e, enum tunnel_rx_verdict v);
/* Fire p's due timers, then tunnel_peer_sync. */
void tunnel_peer_service(struct tunnel_engine *e, struct tunnel_peer *p, uint64_t now, uint64_t wall_ns);
/* After changing p's session timers outside tunnel_peer_service: keep the
 * wheel's view of its deadline right (session_timer_sync). */
void tunnel_peer_sync(struct tunnel_engine *e, struct tunnel_peer *p, uint64_t now);
int tunnel_peer_initiate(struct tunnel_engine *e, struct tunnel_peer *p, uint64_t now, uint64_t wall_ns);
int tunnel_peer_send_keepalive(struct tunnel_engine *e, struct tunnel_peer *p, uint64_t now);
void tunnel_peer_flush(struct tunnel_engine *e, struct tunnel_peer *p, uint64_t now);
struct tunnel_peer *tunnel_peer_create(struct tunnel_engine *e, const struct tunnel_peer_config *cfg);
/* 0, or -ENOSPC when the allowed IPs do not fit the trie (p then has none). */
RG_MUST_CHECK int tunnel_peer_configure(struct tunnel_engine *e, struct tunnel_peer *p,
                                        const struct tunnel_peer_config *cfg, uint64_t now);
void tunnel_peer_remove(struct tunnel_engine *e, struct tunnel_peer *p);
/* p's initiation in flight, or NULL; _get takes one from the pool. */
struct noise_handshake *tunnel_peer_hs(const struct tunnel_engine *e, const struct tunnel_peer *p);
struct noise_handshake *tunnel_peer_hs_get(struct tunnel_engine *e, struct tunnel_peer *p);
void tunnel_peer_hs_clear(struct tunnel_engine *e, struct tunnel_peer *p);
/* The packet waiting for a handshake: mtu bytes, queued_len of them used. */
uint8_t *tunnel_peer_queued(const struct tunnel_engine *e, const struct tunnel_peer *p);
RG_MUST_CHECK int tunnel_peer_move(struct tunnel_engine *e, struct tunnel_peer *p, const rg_sockaddr *to, uint64_t now);

#endif
