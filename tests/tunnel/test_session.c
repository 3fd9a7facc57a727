/* session: the memory budget (printed), address and index tables against
 * naive models under random churn, and the keypair rotation of paper
 * §5.4.7 as tables of steps. */
#include <errno.h>

#include "datapath/tunnel/session.h"
#include "tests/tunnel/check.h"

static char peers[8];

static struct crypto_keypair make_kp(uint32_t local_index, bool initiator, uint8_t tag)
{
	struct crypto_keypair kp;
	memset(&kp, 0, sizeof(kp));
	memset(kp.send_key, tag, sizeof(kp.send_key));
	memset(kp.recv_key, tag ^ 0xff, sizeof(kp.recv_key));
	kp.local_index = local_index;
	kp.remote_index = 0x1000u + tag;
	kp.is_initiator = initiator;
	return kp;
}

static void test_sizes(void)
{
	struct session_table t;
	CHECK(session_table_init(&t, 4096, &test_rng) == 0, "init");
	size_t per = session_table_memory(&t) / 4096;
	printf("sizeof(struct session) = %zu (two inline keypair slots)\n", sizeof(struct session));
	printf("sizeof(struct session_keypair) = %zu (crypto_keypair %zu + replay %zu + birth)\n",
	       sizeof(struct session_keypair), sizeof(struct crypto_keypair), sizeof(struct replay));
	printf("sizeof(struct timers) = %zu\n", sizeof(struct timers));
	printf("session table: %zu bytes per session with both tables (4096 sessions)\n", per);
	CHECK(per <= 1024, "per-session memory %zu <= 1 KiB", per);
	session_table_free(&t);
}

/* ---- address table vs a flat list ---- */

static rg_sockaddr rand_remote(void)
{
	/* Few hosts, few ports: collisions of address with different ports
	 * and of ports with different families are frequent. */
	static const char *hosts[] = {"192.0.2.1", "192.0.2.2", "198.51.100.7", "2001:db8::1", "2001:db8::2",
	                              "::ffff:192.0.2.1", "fe80::1"};
	rg_sockaddr sa = sa_parse(hosts[rnd_below(7)], (uint16_t)(1 + rnd_below(300)));
	if (sa.sa.sa_family == AF_INET6) {
		if (sa.in6.sin6_addr.s6_addr[0] == 0xfe)
			sa.in6.sin6_scope_id = 1 + rnd_below(2);
		sa.in6.sin6_flowinfo = (uint32_t)rnd64(); /* must not matter */
	}
	return sa;
}

static void test_addr_table(void)
{
	enum { CAP = 700, OPS = 200000 };
	struct session_table t;
	CHECK(session_table_init(&t, CAP, &test_rng) == 0, "init");
	static rg_sockaddr model[CAP];
	static struct session *model_s[CAP];
	size_t n = 0;
	unsigned creates = 0, removes = 0, hits = 0, full = 0;

	for (int op = 0; op < OPS; op++) {
		rg_sockaddr a = rand_remote();
		size_t mi = n;
		for (size_t i = 0; i < n; i++)
			if (tunnel_sockaddr_equal(&model[i], &a)) {
				mi = i;
				break;
			}
		struct session *s = session_lookup_addr(&t, &a);
		CHECK((mi < n) == (s != NULL), "op %d: lookup presence", op);
		if (mi < n) {
			hits++;
			CHECK(s == model_s[mi], "op %d: lookup finds the right session", op);
		}
		switch (rnd_below(3)) {
		case 0:
		case 1: {
			struct session *ns = NULL;
			int err = session_create(&t, &a, peers, &ns);
			if (mi < n) {
				CHECK(err == -EEXIST, "op %d: create existing: %d", op, err);
			} else if (n == CAP) {
				CHECK(err == -ENOSPC, "op %d: create when full: %d", op, err);
				full++;
			} else {
				CHECK(err == 0 && ns, "op %d: create: %d", op, err);
				if (!err) {
					model[n] = a;
					model_s[n++] = ns;
					creates++;
				}
			}
			break;
		}
		default:
			if (mi < n) {
				session_remove(&t, model_s[mi]);
				model[mi] = model[n - 1];
				model_s[mi] = model_s[--n];
				removes++;
			} else if (n) { /* remove a random live one to keep churn up */
				size_t k = rnd_below((uint32_t)n);
				session_remove(&t, model_s[k]);
				CHECK(session_lookup_addr(&t, &model[k]) == NULL, "removed is gone");
				model[k] = model[n - 1];
				model_s[k] = model_s[--n];
				removes++;
			}
		}
		CHECK(t.count == n, "count %u model %zu", t.count, n);
	}
	/* Every live session is found under its address, and only it. */
	for (size_t i = 0; i < n; i++)
		CHECK(session_lookup_addr(&t, &model[i]) == model_s[i], "final lookup %zu", i);
	printf("address table: %u creates, %u removes, %u hits, %u refused full, %zu live\n", creates, removes, hits,
	       full, n);
	CHECK(full > 0 && removes > 1000, "the test filled the table and churned");

	/* Roaming: the session moves to the new address. */
	if (n >= 2) {
		rg_sockaddr fresh = sa_parse("203.0.113.9", 4242);
		CHECK(session_set_remote(&t, model_s[0], &model[1]) == -EEXIST, "roam onto a taken address");
		CHECK(session_set_remote(&t, model_s[0], &fresh) == 0, "roam");
		CHECK(session_lookup_addr(&t, &fresh) == model_s[0], "found at the new address");
		CHECK(session_lookup_addr(&t, &model[0]) == NULL, "not at the old one");
	}
	rg_sockaddr bad;
	memset(&bad, 0, sizeof(bad));
	bad.sa.sa_family = AF_UNIX;
	struct session *s;
	CHECK(session_create(&t, &bad, peers, &s) == -EAFNOSUPPORT, "bad family");
	CHECK(session_lookup_addr(&t, &bad) == NULL, "bad family lookup");
	session_table_free(&t);
}

/* ---- indices vs a list ---- */

static void test_indices(void)
{
	enum { CAP = 64 };
	struct session_table t;
	CHECK(session_table_init(&t, CAP, &test_rng) == 0, "init");
	struct session *ss[CAP];
	for (int i = 0; i < CAP; i++) {
		rg_sockaddr a = sa_parse("10.0.0.1", (uint16_t)(1000 + i));
		CHECK(session_create(&t, &a, peers, &ss[i]) == 0, "create %d", i);
	}
	/* Each session takes an index, some release, some replace theirs. */
	uint32_t idx[CAP] = {0};
	for (int round = 0; round < 2000; round++) {
		int i = (int)rnd_below(CAP);
		if (rnd_below(3) == 0 && idx[i]) {
			session_index_release(&t, idx[i]);
			ss[i]->hs_index = 0;
			idx[i] = 0;
		} else {
			uint32_t v;
			CHECK(session_index_new(&t, ss[i], &v) == 0, "index_new");
			CHECK(v != 0, "never 0");
			idx[i] = v; /* the old one was released by index_new */
		}
		if (round % 100 == 0) {
			unsigned live = 0;
			for (int k = 0; k < CAP; k++) {
				if (!idx[k])
					continue;
				live++;
				struct session_keypair *kp = (void *)1;
				CHECK(session_lookup_index(&t, idx[k], &kp) == ss[k] && kp == NULL, "index maps to its session");
			}
			CHECK(t.index_count == live, "index count %u live %u", t.index_count, live);
		}
	}
	for (int i = 0; i < CAP; i++)
		for (int k = i + 1; k < CAP; k++)
			CHECK(!idx[i] || idx[i] != idx[k], "indices unique");
	CHECK(session_lookup_index(&t, 0, NULL) == NULL, "0 is nobody's");

	/* Removing a session releases its indices. */
	uint32_t v;
	CHECK(session_index_new(&t, ss[0], &v) == 0, "index");
	session_remove(&t, ss[0]);
	CHECK(session_lookup_index(&t, v, NULL) == NULL, "released with the session");
	session_table_free(&t);
}

/* A generator stuck on one value: the second index cannot be found. */
static int stuck_fill(void *opaque, uint8_t *buf, size_t len)
{
	(void)opaque;
	memset(buf, 0x5a, len);
	return 0;
}

static void test_index_exhaustion(void)
{
	struct crypto_rng stuck = {.fill = stuck_fill};
	struct session_table t;
	CHECK(session_table_init(&t, 4, &stuck) == 0, "init");
	struct session *a = NULL, *b = NULL;
	rg_sockaddr x = sa_parse("10.0.0.1", 1), y = sa_parse("10.0.0.2", 1);
	CHECK(session_create(&t, &x, peers, &a) == 0 && session_create(&t, &y, peers, &b) == 0, "create");
	uint32_t v;
	CHECK(session_index_new(&t, a, &v) == 0 && v == 0x5a5a5a5a, "first index");
	CHECK(session_index_new(&t, b, &v) == -EAGAIN, "taken every time: -EAGAIN");
	session_table_free(&t);
}

/* ---- keypair rotation ---- */

static uint32_t new_index(struct session_table *t, struct session *s)
{
	uint32_t v = 0;
	CHECK(session_index_new(t, s, &v) == 0, "index");
	return v;
}

static uint32_t idx_of(struct session *s, uint8_t role)
{
	return role == SESSION_SLOT_NONE ? 0 : s->slot[role]->kp.local_index;
}

static void test_rotation(void)
{
	struct session_table t;
	CHECK(session_table_init(&t, 8, &test_rng) == 0, "init");
	struct session *s;
	rg_sockaddr a = sa_parse("2001:db8::7", 51820);
	CHECK(session_create(&t, &a, peers, &s) == 0, "create");
	uint64_t now = 1000 * NS_PER_SEC;
	CHECK(session_keypair_for_send(s, now) == NULL, "no keys yet");

	/* Responder: the new keypair waits as next. */
	uint32_t r1 = new_index(&t, s);
	struct crypto_keypair kp = make_kp(r1, false, 1);
	CHECK(session_keypair_install(&t, s, &kp, now) == 0, "install r1");
	CHECK(s->hs_index == 0, "the keypair took the index over");
	CHECK(idx_of(s, s->next) == r1 && s->current == SESSION_SLOT_NONE, "r1 is next");
	CHECK(session_keypair_for_send(s, now) == NULL, "a responder may not send on next (§5.4.7)");
	struct session_keypair *got;
	CHECK(session_lookup_index(&t, r1, &got) == s && got == s->slot[s->next], "r1 found as a keypair");
	/* Its own index can not be installed twice. */
	CHECK(session_keypair_install(&t, s, &kp, now) == -EINVAL, "index already a keypair's");
	/* The first data on next confirms it. */
	CHECK(session_keypair_received(&t, s, got) == true, "confirmed");
	CHECK(idx_of(s, s->current) == r1 && s->next == SESSION_SLOT_NONE, "r1 current");
	CHECK(session_keypair_received(&t, s, got) == false, "confirmed once");
	CHECK(session_keypair_for_send(s, now) == s->slot[s->current], "now it sends");

	/* Another responder handshake: r2 next, r1 stays current. */
	uint32_t r2 = new_index(&t, s);
	kp = make_kp(r2, false, 2);
	CHECK(session_keypair_install(&t, s, &kp, now + 1) == 0, "install r2");
	CHECK(idx_of(s, s->current) == r1 && idx_of(s, s->next) == r2, "r1 current, r2 next");
	/* And one more before r2 was used: r2 is dropped, r3 next. */
	uint32_t r3 = new_index(&t, s);
	kp = make_kp(r3, false, 3);
	CHECK(session_keypair_install(&t, s, &kp, now + 2) == 0, "install r3");
	CHECK(idx_of(s, s->current) == r1 && idx_of(s, s->next) == r3 && s->previous == SESSION_SLOT_NONE,
	      "r2 dropped");
	CHECK(session_lookup_index(&t, r2, NULL) == NULL, "r2's index released");
	session_lookup_index(&t, r3, &got);
	CHECK(session_keypair_received(&t, s, got), "r3 confirmed");
	CHECK(idx_of(s, s->current) == r3 && idx_of(s, s->previous) == r1, "r3 current, r1 previous");

	/* Initiator: confirmed at once; current becomes previous. */
	uint32_t i1 = new_index(&t, s);
	kp = make_kp(i1, true, 4);
	CHECK(session_keypair_install(&t, s, &kp, now + 3) == 0, "install i1");
	CHECK(idx_of(s, s->current) == i1 && idx_of(s, s->previous) == r3 && s->next == SESSION_SLOT_NONE,
	      "i1 current, r3 previous");
	CHECK(session_lookup_index(&t, r1, NULL) == NULL, "r1 released");
	CHECK(session_keypair_for_send(s, now + 3) == s->slot[s->current], "initiator sends at once");

	/* A pending next when our own handshake completes goes to previous. */
	uint32_t r4 = new_index(&t, s);
	kp = make_kp(r4, false, 5);
	CHECK(session_keypair_install(&t, s, &kp, now + 4) == 0, "install r4");
	CHECK(idx_of(s, s->current) == i1 && idx_of(s, s->next) == r4 && s->previous == SESSION_SLOT_NONE,
	      "r3 dropped, r4 next");
	uint32_t i2 = new_index(&t, s);
	kp = make_kp(i2, true, 6);
	CHECK(session_keypair_install(&t, s, &kp, now + 5) == 0, "install i2");
	CHECK(idx_of(s, s->current) == i2 && idx_of(s, s->previous) == r4 && s->next == SESSION_SLOT_NONE,
	      "i2 current, r4 previous, i1 dropped");
	CHECK(session_lookup_index(&t, i1, NULL) == NULL, "i1 released");
	CHECK(!memcmp(s->slot[s->current]->kp.send_key, make_kp(0, 0, 6).send_key, 32), "i2's keys in place");
	CHECK(s->slot[s->current]->birth == now + 5, "keypair born at the handshake");

	/* Timer view of a keypair. */
	struct timers_key tk;
	session_keypair_timers_key(session_keypair_current(s), &tk);
	CHECK(tk.birth == now + 5 && tk.initiator && tk.send_counter == 0, "timers key");
	/* REJECT_AFTER_TIME ends sending on it. */
	CHECK(session_keypair_for_send(s, now + 5 + REJECT_AFTER_TIME_NS - 1) != NULL, "still valid");
	CHECK(session_keypair_for_send(s, now + 5 + REJECT_AFTER_TIME_NS) == NULL, "expired");
	s->slot[s->current]->kp.send_counter = REJECT_AFTER_MESSAGES;
	CHECK(session_keypair_for_send(s, now + 6) == NULL, "counter exhausted");

	/* Zeroing keys releases every index and wipes the slots. */
	uint32_t h = new_index(&t, s);
	session_keys_zero(&t, s);
	CHECK(s->current == SESSION_SLOT_NONE && s->previous == SESSION_SLOT_NONE && s->next == SESSION_SLOT_NONE,
	      "no keys");
	CHECK(crypto_is_zero(s->slot, sizeof(s->slot)), "slots wiped");
	CHECK(session_lookup_index(&t, i2, NULL) == NULL && session_lookup_index(&t, r4, NULL) == NULL &&
	          session_lookup_index(&t, h, NULL) == NULL, "indices released");
	CHECK(t.index_count == 0, "index table empty: %u", t.index_count);

	/* An index of another session is refused. */
	struct session *o;
	rg_sockaddr b = sa_parse("2001:db8::8", 51820);
	CHECK(session_create(&t, &b, peers, &o) == 0, "create other");
	uint32_t oi = new_index(&t, o);
	kp = make_kp(oi, true, 7);
	CHECK(session_keypair_install(&t, s, &kp, now) == -EINVAL, "someone else's index");
	kp = make_kp(12345, true, 7);
	CHECK(session_keypair_install(&t, s, &kp, now) == -EINVAL, "unallocated index");
	session_table_free(&t);
}

int main(int argc, char **argv)
{
	test_seed(argc, argv);
	test_sizes();
	test_addr_table();
	test_indices();
	test_index_exhaustion();
	test_rotation();
	return check_report("session");
}
