/* gro: coalescing of TCP segments into virtio-net GSO super-packets.
 * Segments are built here from scratch (own header writer, naive one-word-
 * at-a-time checksums independent of vnet.c); runs are fed to tun_gro and
 * the output checked field by field: the vnet header, IP lengths, the IPv4
 * header checksum, the partial (pseudo-header) TCP checksum; then the
 * super-packet is cut again by tun_vnet_segment() and must give back the
 * original segments byte for byte. Then every reason a run must end or a
 * packet must pass alone, and that the order of packets is kept. */
#include <errno.h>
#include <netinet/in.h>

#include "datapath/tunnel/gro.h"
#include "datapath/tunnel/vnet.h"
#include "tests/tunnel/check.h"
#include "tests/tunnel/packets.h"

struct spec {
	int v6;
	uint8_t proto;     /* 0: TCP */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint16_t win, id;
	int no_df;
	uint8_t flags;     /* 0: ACK */
	size_t optlen;     /* TCP options, a multiple of 4 */
	uint8_t optbyte;
	int ip_opts;       /* IPv4: 4 bytes of IP options */
	uint8_t tos;
};

static uint32_t pseudo(const uint8_t *ip, int v6, uint8_t proto, size_t l4len)
{
	uint32_t s = v6 ? naive_sum(ip + 8, 32) : naive_sum(ip + 12, 8);
	return s + proto + (uint32_t)l4len;
}

/* A complete, correct packet of plen payload bytes (a pattern drawn from
 * the sequence number, so payloads differ). */
static size_t build(uint8_t *out, const struct spec *sp, size_t plen)
{
	uint8_t proto = sp->proto ? sp->proto : IPPROTO_TCP;
	size_t ipl = sp->v6 ? 40 : 20 + (sp->ip_opts ? 4 : 0);
	size_t thl = proto == IPPROTO_TCP ? 20 + sp->optlen : 8, len = ipl + thl + plen;
	memset(out, 0, ipl + thl);
	if (sp->v6) {
		out[0] = 0x60 | (sp->tos >> 4);
		out[1] = (uint8_t)(sp->tos << 4) | 0x0a; /* flow label bits */
		w16(out + 4, (unsigned)(thl + plen));
		out[6] = proto;
		out[7] = 64;
		out[8] = 0xfd;
		out[23] = 1;
		out[24] = 0xfd;
		out[39] = 2;
	} else {
		out[0] = (uint8_t)(0x40 | ipl / 4);
		out[1] = sp->tos;
		w16(out + 2, (unsigned)len);
		w16(out + 4, sp->id);
		out[6] = sp->no_df ? 0 : 0x40;
		out[8] = 64;
		out[9] = proto;
		out[12] = 10, out[13] = 8, out[15] = 1;
		out[16] = 10, out[17] = 8, out[19] = 2;
		if (sp->ip_opts)
			out[20] = 1, out[21] = 1, out[22] = 1, out[23] = 0; /* NOPs, EOL */
		w16(out + 10, (uint16_t)~naive_fold(naive_sum(out, ipl)));
	}
	uint8_t *l4 = out + ipl;
	w16(l4, sp->sport ? sp->sport : 40000);
	w16(l4 + 2, sp->dport ? sp->dport : 5201);
	size_t at;
	if (proto == IPPROTO_TCP) {
		w32(l4 + 4, sp->seq);
		w32(l4 + 8, sp->ack ? sp->ack : 0x11223344);
		l4[12] = (uint8_t)((thl / 4) << 4);
		l4[13] = sp->flags ? sp->flags : 0x10;
		w16(l4 + 14, sp->win ? sp->win : 501);
		for (size_t i = 0; i < sp->optlen; i++)
			l4[20 + i] = (uint8_t)(sp->optbyte + i);
		at = 16;
	} else {
		w16(l4 + 4, (unsigned)(thl + plen));
		at = 6;
	}
	for (size_t i = 0; i < plen; i++)
		l4[thl + i] = (uint8_t)(sp->seq * 7 + i * 13 + (i >> 8));
	uint16_t c = (uint16_t)~naive_fold(pseudo(out, sp->v6, proto, thl + plen) + naive_sum(l4, thl + plen));
	if (proto == IPPROTO_UDP && !c)
		c = 0xffff;
	w16(l4 + at, c);
	return len;
}

/* ---- input and capture ---- */

#define MAXP 160
static struct {
	uint8_t pkt[MAXP][2048];
	size_t len[MAXP];
	int n;
} in;

static struct {
	struct tun_vnet_hdr h[MAXP];
	uint8_t *pkt[MAXP];
	size_t len[MAXP];
	unsigned nseg[MAXP];
	int n;
} out;

static void emit(void *ctx, const struct tun_vnet_hdr *h, const uint8_t *p, size_t len, unsigned nseg)
{
	(void)ctx;
	if (out.n < MAXP) {
		out.h[out.n] = *h;
		out.pkt[out.n] = realloc(out.pkt[out.n], len ? len : 1);
		memcpy(out.pkt[out.n], p, len);
		out.len[out.n] = len;
		out.nseg[out.n] = nseg;
	}
	out.n++;
}

static struct tun_gro *gro;

/* Append one packet to the input. */
static void add(const struct spec *sp, size_t plen)
{
	if (in.n < MAXP) {
		in.len[in.n] = build(in.pkt[in.n], sp, plen);
		in.n++;
	}
}

/* n segments of plen from seq, ids consecutive. */
static void add_run(struct spec sp, unsigned n, size_t plen)
{
	for (unsigned i = 0; i < n; i++) {
		add(&sp, plen);
		sp.seq += (uint32_t)plen;
		sp.id++;
	}
}

/* Feed the input, flush, and leave it in out. */
static void run(void)
{
	out.n = 0;
	for (int i = 0; i < in.n; i++)
		tun_gro_add(gro, in.pkt[i], in.len[i], emit, NULL);
	tun_gro_flush(gro, emit, NULL);
	CHECK(!tun_gro_pending(gro), "a run is still pending after the flush");
}

static void reset(void)
{
	in.n = 0;
	out.n = 0;
}

/* ---- the output against the input ---- */

static struct capture seg;

static uint8_t scratch[70000], work[70000];

/* out.pkt[o] must be input packets [first, first + nseg), coalesced if
 * nseg > 1. */
static void check_out(const char *name, int o, int first, unsigned nseg)
{
	CHECK(o < out.n, "%s: output %d missing (%d outputs)", name, o, out.n);
	if (o >= out.n)
		return;
	CHECK(out.nseg[o] == nseg, "%s: output %d holds %u segments, want %u", name, o, out.nseg[o], nseg);
	const struct tun_vnet_hdr *h = &out.h[o];
	const uint8_t *p = out.pkt[o];
	size_t len = out.len[o];
	if (nseg == 1) {
		CHECK(h->flags == 0 && h->gso_type == 0 && h->gso_size == 0 && h->hdr_len == 0 && h->csum_start == 0 &&
		          h->csum_offset == 0,
		      "%s: output %d: a lone packet with a vnet header", name, o);
		CHECK(len == in.len[first] && !memcmp(p, in.pkt[first], len), "%s: output %d: not the packet as it came",
		      name, o);
		return;
	}
	int v6 = p[0] >> 4 == 6;
	size_t ipl = v6 ? 40 : (size_t)(p[0] & 15) * 4, thl = (size_t)(p[ipl + 12] >> 4) * 4;
	size_t want_len = in.len[first];
	for (unsigned i = 1; i < nseg; i++)
		want_len += in.len[first + (int)i] - ipl - thl;
	CHECK(len == want_len, "%s: super-packet of %zu bytes, want %zu", name, len, want_len);
	CHECK(h->flags == TUN_VNET_F_NEEDS_CSUM, "%s: flags %u", name, h->flags);
	CHECK(h->gso_type == (v6 ? TUN_VNET_GSO_TCPV6 : TUN_VNET_GSO_TCPV4), "%s: gso_type %u", name, h->gso_type);
	CHECK(h->gso_size == in.len[first] - ipl - thl, "%s: gso_size %u", name, h->gso_size);
	CHECK(h->hdr_len == ipl + thl, "%s: hdr_len %u", name, h->hdr_len);
	CHECK(h->csum_start == ipl && h->csum_offset == 16, "%s: csum_start %u offset %u", name, h->csum_start,
	      h->csum_offset);
	if (v6) {
		CHECK(r16(p + 4) == len - 40, "%s: IPv6 payload length %u", name, r16(p + 4));
	} else {
		CHECK(r16(p + 2) == len, "%s: IPv4 total length %u", name, r16(p + 2));
		CHECK(naive_fold(naive_sum(p, ipl)) == 0xffff, "%s: IPv4 header checksum wrong", name);
		CHECK(r16(p + 4) == r16(in.pkt[first] + 4), "%s: IPv4 id not the first segment's", name);
	}
	CHECK(r16(p + ipl + 16) == naive_fold(pseudo(p, v6, IPPROTO_TCP, len - ipl)),
	      "%s: TCP checksum field %#x is not the pseudo-header sum", name, r16(p + ipl + 16));
	/* what a device does with NEEDS_CSUM gives a valid checksum */
	memcpy(work, p, len);
	uint16_t c = (uint16_t)~naive_fold(naive_sum(work + ipl, len - ipl));
	w16(work + ipl + 16, c);
	CHECK(naive_fold(pseudo(work, v6, IPPROTO_TCP, len - ipl) + naive_sum(work + ipl, len - ipl)) == 0xffff,
	      "%s: completed checksum does not verify", name);
	/* cut again: the original segments byte for byte */
	memcpy(work, p, len);
	seg.n = 0;
	int n = tun_vnet_segment(h, work, len, scratch, sizeof(scratch), capture_emit, &seg);
	CHECK(n == (int)nseg && seg.n == (int)nseg, "%s: segmented into %d (%d), want %u", name, n, seg.n, nseg);
	for (int i = 0; i < seg.n && i < (int)nseg; i++)
		CHECK(seg.len[i] == in.len[first + i] && !memcmp(seg.pkt[i], in.pkt[first + i], seg.len[i]),
		      "%s: segment %d differs from the original", name, i);
}

/* ---- cases ---- */

static void merge_cases(void)
{
	for (int v6 = 0; v6 < 2; v6++) {
		const char *name = v6 ? "v6 run" : "v4 run";
		struct spec sp = {.v6 = v6, .seq = 1000, .id = 77};
		/* 10 full segments, a short PSH tail */
		reset();
		add_run(sp, 10, 1000);
		sp.seq += 10000;
		sp.id += 10;
		sp.flags = 0x18;
		add(&sp, 123);
		run();
		CHECK(out.n == 1, "%s: %d outputs", name, out.n);
		check_out(name, 0, 0, 11);
		/* with TCP options (timestamps-like, identical), seq wrapping */
		reset();
		struct spec so = {.v6 = v6, .seq = 0xfffff000u, .id = 0xfffe, .optlen = 12, .optbyte = 1};
		add_run(so, 8, 1388);
		run();
		CHECK(out.n == 1, "%s opts: %d outputs", name, out.n);
		check_out("options", 0, 0, 8);
		/* DF set and ids not consecutive: merged (the kernel rewrites) */
		if (!v6) {
			reset();
			struct spec sd = {.seq = 5, .id = 9};
			add(&sd, 500);
			sd.seq += 500;
			sd.id = 300;
			add(&sd, 500);
			run();
			CHECK(out.n == 1 && out.nseg[0] == 2, "DF with odd ids: not merged (%d outputs)", out.n);
		}
		/* random shapes */
		for (int r = 0; r < 30; r++) {
			reset();
			size_t mss = 100 + rnd_below(1300);
			unsigned n = 2 + rnd_below(40);
			struct spec sr = {.v6 = v6, .seq = (uint32_t)rnd64(), .id = (uint16_t)rnd64(), .optlen = 4 * rnd_below(4)};
			size_t hdr = (v6 ? 40 : 20) + 20 + sr.optlen;
			while (hdr + mss * n > TUN_GRO_MAX_LEN)
				n--;
			add_run(sr, n, mss);
			run();
			CHECK(out.n == 1, "random mss %zu n %u: %d outputs", mss, n, out.n);
			check_out("random", 0, 0, n);
		}
	}
}

static void limit_cases(void)
{
	for (int v6 = 0; v6 < 2; v6++) {
		/* 70 segments: 64, then 6 */
		reset();
		struct spec sp = {.v6 = v6, .seq = 1};
		add_run(sp, 70, 100);
		run();
		CHECK(out.n == 2, "64-segment limit: %d outputs", out.n);
		check_out("64 segments", 0, 0, 64);
		check_out("after 64", 1, 64, 6);
		/* 1400-byte segments: as many as fit 65535 bytes of packet */
		reset();
		add_run(sp, 50, 1400);
		unsigned fit = (unsigned)((65535 - (v6 ? 40 : 20) - 20) / 1400);
		run();
		CHECK(out.n == 2, "64 KB limit: %d outputs", out.n);
		check_out("64 KB", 0, 0, fit);
		check_out("after 64 KB", 1, (int)fit, 50 - fit);
		CHECK(out.len[0] <= 65535, "super-packet of %zu bytes", out.len[0]);
	}
}

static void split_cases(void)
{
	for (int v6 = 0; v6 < 2; v6++) {
		struct spec a = {.v6 = v6, .seq = 100, .id = 1};
		/* a gap in sequence numbers */
		reset();
		add_run(a, 3, 500);
		struct spec g = a;
		g.seq += 3 * 500 + 1;
		g.id += 3;
		add_run(g, 2, 500);
		run();
		CHECK(out.n == 2, "gap: %d outputs", out.n);
		check_out("gap a", 0, 0, 3);
		check_out("gap b", 1, 3, 2);
		/* another flow in between: runs end, order kept */
		reset();
		add_run(a, 2, 500);
		struct spec other = a;
		other.sport = 40001;
		add(&other, 500);
		struct spec c = a;
		c.seq += 1000;
		c.id += 2;
		add_run(c, 2, 500);
		run();
		CHECK(out.n == 3, "interleaved flow: %d outputs", out.n);
		check_out("flow a", 0, 0, 2);
		check_out("flow other", 1, 2, 1);
		check_out("flow a again", 2, 3, 2);
		/* SYN, FIN, RST, URG (and ECE, CWR) pass alone */
		static const uint8_t bad[] = {0x12, 0x11, 0x14, 0x30, 0x50, 0x90};
		for (unsigned f = 0; f < sizeof(bad); f++) {
			reset();
			add_run(a, 2, 500);
			struct spec x = a;
			x.seq += 1000;
			x.id += 2;
			x.flags = bad[f];
			add(&x, 500);
			x.seq += 500;
			x.id++;
			x.flags = 0;
			add_run(x, 2, 500);
			run();
			CHECK(out.n == 3, "flags %#x: %d outputs", bad[f], out.n);
			check_out("before flags", 0, 0, 2);
			check_out("flags", 1, 2, 1);
			check_out("after flags", 2, 3, 2);
		}
		/* PSH in the middle ends the run there */
		reset();
		add(&a, 500);
		struct spec p = a;
		p.seq += 500;
		p.id++;
		p.flags = 0x18;
		add(&p, 500);
		p.seq += 500;
		p.id++;
		p.flags = 0;
		add_run(p, 2, 500);
		run();
		CHECK(out.n == 2, "PSH: %d outputs", out.n);
		check_out("PSH ends", 0, 0, 2);
		check_out("after PSH", 1, 2, 2);
		/* differing TCP options */
		reset();
		struct spec o = a;
		o.optlen = 12;
		o.optbyte = 1;
		add_run(o, 2, 500);
		o.seq += 1000;
		o.id += 2;
		o.optbyte = 2;
		add_run(o, 2, 500);
		run();
		CHECK(out.n == 2, "options: %d outputs", out.n);
		check_out("options a", 0, 0, 2);
		check_out("options b", 1, 2, 2);
		/* a shorter segment in the middle ends the run; a longer one
		 * starts a new one */
		reset();
		add_run(a, 2, 1000);
		struct spec s = a;
		s.seq += 2000;
		s.id += 2;
		add(&s, 400);
		s.seq += 400;
		s.id++;
		add_run(s, 2, 1000);
		s.seq += 2000;
		s.id += 2;
		add(&s, 1200);
		run();
		CHECK(out.n == 3, "short middle: %d outputs", out.n);
		check_out("short ends", 0, 0, 3);
		check_out("after short", 1, 3, 2);
		check_out("longer", 2, 5, 1);
		/* different ACK number, window, TOS/traffic class */
		for (int k = 0; k < 3; k++) {
			reset();
			add_run(a, 2, 500);
			struct spec d = a;
			d.seq += 1000;
			d.id += 2;
			if (k == 0)
				d.ack = 0x11223345;
			else if (k == 1)
				d.win = 502;
			else
				d.tos = 0x10;
			add_run(d, 2, 500);
			run();
			CHECK(out.n == 2, "field %d differs: %d outputs", k, out.n);
			check_out("field a", 0, 0, 2);
			check_out("field b", 1, 2, 2);
		}
		/* UDP and a pure ACK between segments: passed as they came,
		 * in order */
		reset();
		add_run(a, 2, 500);
		struct spec u = a;
		u.proto = IPPROTO_UDP;
		add(&u, 300);
		add(&a, 0); /* pure ACK */
		struct spec b = a;
		b.seq += 1000;
		b.id += 2;
		add_run(b, 3, 500);
		run();
		CHECK(out.n == 4, "non-TCP between: %d outputs", out.n);
		check_out("before udp", 0, 0, 2);
		check_out("udp", 1, 2, 1);
		check_out("pure ack", 2, 3, 1);
		check_out("after udp", 3, 4, 3);
		/* only one segment: as it came */
		reset();
		add(&a, 700);
		run();
		CHECK(out.n == 1, "single: %d outputs", out.n);
		check_out("single", 0, 0, 1);
	}
	/* IPv4: no DF and ids not consecutive; IP options */
	struct spec n = {.seq = 1, .id = 10, .no_df = 1};
	reset();
	add(&n, 500);
	n.seq += 500;
	n.id = 12;
	add(&n, 500);
	run();
	CHECK(out.n == 2, "ids not consecutive without DF: %d outputs", out.n);
	reset();
	n.id = 11;
	n.seq = 1;
	add_run(n, 3, 500);
	run();
	CHECK(out.n == 1, "consecutive ids without DF: %d outputs", out.n);
	check_out("no DF", 0, 0, 3);
	reset();
	struct spec io = {.seq = 1, .ip_opts = 1};
	add_run(io, 3, 500);
	run();
	CHECK(out.n == 3, "IP options: %d outputs", out.n);
	for (int i = 0; i < 3; i++)
		check_out("IP options", i, i, 1);
	/* garbage and truncated packets pass unchanged */
	reset();
	struct spec t = {.seq = 1};
	add(&t, 500);
	in.len[0] = 30;
	in.len[1] = 3;
	memset(in.pkt[1], 0x45, 3);
	in.n = 2;
	run();
	CHECK(out.n == 2, "truncated: %d outputs", out.n);
	check_out("truncated", 0, 0, 1);
	check_out("short", 1, 1, 1);
}

int main(int argc, char **argv)
{
	test_seed(argc, argv);
	CHECK(!tun_gro_create(&gro), "create");
	merge_cases();
	limit_cases();
	split_cases();
	tun_gro_free(gro);
	for (int i = 0; i < MAXP; i++)
		free(out.pkt[i]);
	return check_report("gro");
}
