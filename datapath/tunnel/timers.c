/* timers: WireGuard's per-peer timer policy (paper §6) as deadlines in one
 * struct. See timers.h for the rules and the caller's contract.
 *
 * Each rule owns one deadline field; events arm or disarm fields and
 * recompute `next`, the earliest; timers_handle_expiry fires every field
 * that is due. Kernel timers are one-shot, and so are these: a field is
 * cleared (RG_NO_DEADLINE) when it fires and armed again only by a rule.
 * RG_NO_DEADLINE is later than any `now`, so "due" is a plain compare. */
#include "datapath/tunnel/timers.h"

#include <string.h>

static void recompute(struct timers *t)
{
	const uint64_t d[] = {t->retransmit_at, t->keepalive_at, t->new_handshake_at,
	                      t->zero_keys_at,  t->persistent_at, t->initiation_at};
	uint64_t next = RG_NO_DEADLINE;
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (d[i] < next)
			next = d[i];
	t->next = next;
}

/* Uniform-enough jitter in [0, REKEY_TIMEOUT_JITTER_MAX_NS): xorshift32 on
 * a seed from the caller. It only spreads retries of peers that started
 * together; nothing secret depends on it. */
static uint64_t jitter(struct timers *t)
{
	uint32_t x = t->prng;
	if (!x)
		return 0;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	t->prng = x;
	return (uint64_t)x * REKEY_TIMEOUT_JITTER_MAX_NS >> 32;
}

static bool expired(uint64_t birth, uint64_t age, uint64_t now)
{
	return now >= birth + age;
}

void timers_init(struct timers *t, uint32_t seed)
{
	memset(t, 0, sizeof(*t));
	t->retransmit_at = t->keepalive_at = t->new_handshake_at = RG_NO_DEADLINE;
	t->zero_keys_at = t->persistent_at = t->initiation_at = RG_NO_DEADLINE;
	t->next = RG_NO_DEADLINE;
	t->prng = seed;
}

/* A new initiation is wanted for reason `why` (not a retry). Paper §6.1:
 * at most one initiation per REKEY_TIMEOUT; a request inside that window is
 * dropped because the handshake in flight serves it. Like Linux, a
 * non-retry request restarts the attempt count even when dropped, so a
 * peer with traffic to send never gives up for good. */
static void want_initiation(struct timers *t, uint64_t now, unsigned why)
{
	t->attempts = 0;
	if (t->last_initiation && !expired(t->last_initiation, REKEY_TIMEOUT_NS, now))
		return;
	if (t->initiation_at == RG_NO_DEADLINE)
		t->initiation_at = now;
	t->initiation_why |= (uint8_t)why;
}

/* Any authenticated packet in either direction proves the path is alive:
 * the persistent keepalive starts over (paper §6.5). */
static void traversal(struct timers *t, uint64_t now)
{
	if (t->persistent_interval)
		t->persistent_at = now + (uint64_t)t->persistent_interval * NS_PER_SEC;
}

unsigned timers_handle_expiry(struct timers *t, uint64_t now)
{
	unsigned act = 0;

	if (t->retransmit_at <= now) {
		t->retransmit_at = RG_NO_DEADLINE;
		if (t->attempts >= MAX_TIMER_HANDSHAKES) {
			/* Paper §6.4: after REKEY_ATTEMPT_TIME of retries, stop;
			 * the queued packets are useless by now. Keys go
			 * REJECT_AFTER_TIME * 3 later unless already scheduled.
			 * 18 retries at REKEY_TIMEOUT: the last one leaves at
			 * about 90 s (Linux tests "> 18" and retries once more). */
			act |= TIMERS_ACT_GIVE_UP;
			t->keepalive_at = RG_NO_DEADLINE;
			t->need_another_keepalive = t->keepalive_owed = false;
			if (t->zero_keys_at == RG_NO_DEADLINE)
				t->zero_keys_at = now + ZERO_KEYS_AFTER_NS;
		} else {
			t->attempts++;
			act |= TIMERS_ACT_RETRANSMIT;
		}
	}
	if (t->new_handshake_at <= now) {
		t->new_handshake_at = RG_NO_DEADLINE;
		want_initiation(t, now, TIMERS_ACT_NEW_HANDSHAKE);
	}
	if (t->initiation_at <= now) {
		act |= t->initiation_why;
		t->initiation_at = RG_NO_DEADLINE;
		t->initiation_why = 0;
	}
	if (t->keepalive_at <= now) {
		t->keepalive_at = RG_NO_DEADLINE;
		act |= TIMERS_ACT_KEEPALIVE;
		if (t->need_another_keepalive) {
			/* Armed when this keepalive is reported sent: that
			 * report would otherwise cancel it. */
			t->need_another_keepalive = false;
			t->keepalive_owed = true;
		}
	}
	if (t->persistent_at <= now) {
		t->persistent_at = RG_NO_DEADLINE;
		if (t->persistent_interval)
			act |= TIMERS_ACT_PERSISTENT_KEEPALIVE;
	}
	if (t->zero_keys_at <= now) {
		t->zero_keys_at = RG_NO_DEADLINE;
		act |= TIMERS_ACT_ZERO_KEYS;
	}
	recompute(t);
	return act;
}

void timers_data_sent(struct timers *t, uint64_t now, const struct timers_key *k, size_t plain_len)
{
	/* Paper §6.2: data sent and nothing authenticated back within
	 * KEEPALIVE_TIMEOUT + REKEY_TIMEOUT means the session is dead. Armed
	 * once, not pushed back by later sends. */
	if (plain_len && t->new_handshake_at == RG_NO_DEADLINE)
		t->new_handshake_at = now + KEEPALIVE_TIMEOUT_NS + REKEY_TIMEOUT_NS + jitter(t);
	/* Paper §6.2: the sender of a keypair rekeys it after
	 * REKEY_AFTER_MESSAGES, and its initiator after REKEY_AFTER_TIME (only
	 * the initiator, so both sides do not rekey at once). */
	if (k && (k->send_counter > REKEY_AFTER_MESSAGES ||
	          (k->initiator && expired(k->birth, REKEY_AFTER_TIME_NS, now))))
		want_initiation(t, now, TIMERS_ACT_REKEY);
	recompute(t);
}

void timers_data_received(struct timers *t, uint64_t now, const struct timers_key *cur, size_t plain_len)
{
	if (plain_len) {
		/* Paper §6.5: a passive keepalive if we have nothing to say
		 * within KEEPALIVE_TIMEOUT. */
		if (t->keepalive_at == RG_NO_DEADLINE)
			t->keepalive_at = now + KEEPALIVE_TIMEOUT_NS;
		else
			t->need_another_keepalive = true;
	}
	/* Paper §6.2: an initiator that only receives would never rekey on
	 * send; near the end of the keypair's life, before REJECT_AFTER_TIME
	 * cuts the peer off, it starts a handshake, once per keypair. */
	if (cur && cur->initiator && !t->sent_lastminute && expired(cur->birth, REKEY_LASTMINUTE_AGE_NS, now)) {
		t->sent_lastminute = true;
		want_initiation(t, now, TIMERS_ACT_REKEY);
	}
	recompute(t);
}

void timers_keepalive_received(struct timers *t, uint64_t now, const struct timers_key *cur)
{
	timers_data_received(t, now, cur, 0);
}

void timers_any_authenticated_packet_sent(struct timers *t, uint64_t now)
{
	/* Whatever we sent tells the peer we are alive: no passive keepalive
	 * needed, except the second one owed for data received meanwhile. */
	if (t->keepalive_owed) {
		t->keepalive_owed = false;
		t->keepalive_at = now + KEEPALIVE_TIMEOUT_NS;
	} else {
		t->keepalive_at = RG_NO_DEADLINE;
	}
	traversal(t, now);
	recompute(t);
}

void timers_any_authenticated_packet_received(struct timers *t, uint64_t now)
{
	t->new_handshake_at = RG_NO_DEADLINE; /* the peer answered */
	traversal(t, now);
	recompute(t);
}

void timers_handshake_initiated(struct timers *t, uint64_t now)
{
	t->last_initiation = now;
	t->retransmit_at = now + REKEY_TIMEOUT_NS + jitter(t);
	recompute(t);
}

void timers_handshake_complete(struct timers *t, uint64_t now)
{
	(void)now;
	t->retransmit_at = RG_NO_DEADLINE;
	t->attempts = 0;
	t->sent_lastminute = false;
	recompute(t);
}

void timers_session_derived(struct timers *t, uint64_t now)
{
	/* Paper §6.3: keys live at most REJECT_AFTER_TIME * 3 after the last
	 * handshake; a newer session pushes the erasure back. */
	t->zero_keys_at = now + ZERO_KEYS_AFTER_NS;
	recompute(t);
}

void timers_handshake_wanted(struct timers *t, uint64_t now)
{
	want_initiation(t, now, TIMERS_ACT_HANDSHAKE_FOR_DATA);
	recompute(t);
}

void timers_persistent_keepalive_set(struct timers *t, uint64_t now, uint16_t interval_s)
{
	/* Turning it on sends one at once, so a peer behind NAT opens its
	 * mapping without waiting an interval (as wg(8) set does). */
	bool start = !t->persistent_interval && interval_s;
	t->persistent_interval = interval_s;
	if (!interval_s)
		t->persistent_at = RG_NO_DEADLINE;
	else if (start)
		t->persistent_at = now;
	else if (t->persistent_at != RG_NO_DEADLINE)
		t->persistent_at = now + (uint64_t)interval_s * NS_PER_SEC;
	recompute(t);
}

void timers_keys_zeroed(struct timers *t)
{
	t->zero_keys_at = RG_NO_DEADLINE;
	t->sent_lastminute = false;
	recompute(t);
}

bool timers_key_can_send(const struct timers_key *k, uint64_t now)
{
	return k->send_counter < REJECT_AFTER_MESSAGES && !expired(k->birth, REJECT_AFTER_TIME_NS, now);
}

bool timers_key_can_receive(uint64_t birth, uint64_t now)
{
	return !expired(birth, REJECT_AFTER_TIME_NS, now);
}

const char *timers_action_name(enum timers_action a)
{
	switch (a) {
	case TIMERS_ACT_RETRANSMIT:
		return "retransmit_initiation";
	case TIMERS_ACT_NEW_HANDSHAKE:
		return "new_handshake";
	case TIMERS_ACT_REKEY:
		return "rekey";
	case TIMERS_ACT_HANDSHAKE_FOR_DATA:
		return "handshake_for_data";
	case TIMERS_ACT_GIVE_UP:
		return "give_up";
	case TIMERS_ACT_KEEPALIVE:
		return "keepalive";
	case TIMERS_ACT_PERSISTENT_KEEPALIVE:
		return "persistent_keepalive";
	case TIMERS_ACT_ZERO_KEYS:
		return "zero_keys";
	}
	return "?";
}
