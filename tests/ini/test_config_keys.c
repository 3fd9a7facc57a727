/* The configuration loader, key by key: a table of bad inputs each
 * asserting the exact "FILE:LINE:" and a recognizable message, and the
 * [quic] and [tls] keys read back as given. Fixtures: config_fixtures.c. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ini/config_test.h"

/* ---- bad inputs ---------------------------------------------------------- */

struct bad {
	const char *text;
	const char *where;  /* exact prefix, "t.ini:LINE:" (or another file's) */
	const char *what;   /* a piece of the message */
	unsigned n;         /* how many messages in all; 0 means 1 */
};

/* A valid [quic] + [vhost] to build on (lines 1-4). */
#define VH "[quic]\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n"
/* The same with [quic] last, so its keys follow on line 5. */
#define VHQ "[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n[quic]\n"
/* A valid [tunnel] (lines 1-2). */
#define TUN "[tunnel]\nprivate_key_file = @D@/tunnel.key\n"

static const struct bad bads[] = {
	/* structure */
	{"[foo]\nx = 1\n", "t.ini:1:", "unknown section [foo]"},
	{"[appliance]\nbogus = 1\n", "t.ini:2:", "unknown key 'bogus' in [appliance]"},
	{"workers = 2\n[appliance]\n", "t.ini:1:", "outside any section"},
	{"[appliance\nworkers = 2\n", "t.ini:1:", "without ']'"},
	{"[appliance] junk\n", "t.ini:1:", "text after section header"},
	{"[appliance]\nworkers\n", "t.ini:2:", "expected KEY = VALUE"},
	{"[appliance]\nworkers : 2\n", "t.ini:2:", "expected KEY = VALUE"},
	{"[appliance]\n = 2\n", "t.ini:2:", "missing key name"},
	{"[appliance]\nlog_level = info\nlog_level = debug\n", "t.ini:3:", "duplicate key 'log_level' (first set on line 2)"},
	{"[appliance]\n[appliance]\n", "t.ini:2:", "duplicate section [appliance] (first on line 1)"},
	{"[backend a]\nserver = 10.0.0.1:80\n[backend a]\nserver = 10.0.0.2:80\n", "t.ini:3:",
	 "duplicate section [backend a] (first on line 1)"},
	{VH "[vhost A.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n", "t.ini:5:", "duplicate section [vhost a.example]"},
	{"[backend b]\nserver=10.0.0.1:1\n[route r]\nhost=a.b\nbackend=b\n[route r]\nhost=c.d\nbackend=b\n", "t.ini:6:",
	 "duplicate section [route r]"},
	{TUN "[peer p]\npublic_key=@K1@\n[peer p]\npublic_key=@K2@\n", "t.ini:5:", "duplicate section [peer p]"},
	{"[vhost]\n", "t.ini:1:", "[vhost] needs a name"},
	{"[quic main]\n", "t.ini:1:", "[quic] takes no name"},
	{"[backend a/b]\nserver = 10.0.0.1:80\n", "t.ini:1:", "bad name 'a/b'"},
	{"[vhost bad_name]\n", "t.ini:1:", "bad host name"},
	{"[appliance]\nworkers = 1\n\n\nlog_level = "
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	 "t.ini:5:", "line too long (more than "},
	/* values */
	{"[appliance]\nworkers = 0\n", "t.ini:2:", "workers = 0: out of range 1..1024 (or auto)"},
	{"[appliance]\nworkers = 1025\n", "t.ini:2:", "out of range 1..1024"},
	{"[appliance]\nworkers = many\n", "t.ini:2:", "not a whole number"},
	{"[appliance]\ncpus = 3-1\n", "t.ini:2:", "runs backwards"},
	{"[appliance]\ncpus = 0-4096\n", "t.ini:2:", "out of range 0..1023"},
	{"[appliance]\ncpus = some\n", "t.ini:2:", "bad CPU list item"},
	{"[appliance]\nadmin = 127.0.0.1\n", "t.ini:2:", "want ADDRESS:PORT"},
	{"[appliance]\nadmin = 127.0.0.1:0\n", "t.ini:2:", "port out of range 1..65535"},
	{"[appliance]\nadmin = 127.0.0.1:65536\n", "t.ini:2:", "port out of range 1..65535"},
	{"[appliance]\nadmin = ::1:8082\n", "t.ini:2:", "IPv6 addresses need brackets"},
	{"[appliance]\nadmin = [::1:8082\n", "t.ini:2:", "missing ']'"},
	{"[appliance]\nadmin = 300.1.1.1:80\n", "t.ini:2:", "bad IPv4 address"},
	{"[appliance]\nadmin = iface lo:8082\n", "t.ini:2:", "interface listener is not allowed here"},
	{"[appliance]\nlog_level = loud\n", "t.ini:2:", "want one of: error | warn | info | debug"},
	{"[appliance]\nuser = 9bad\n", "t.ini:2:", "not a user name"},
	{VHQ "retry = maybe\n", "t.ini:5:", "want one of: on | off | auto"},
	{VHQ "zero_rtt = perhaps\n", "t.ini:5:", "not a boolean"},
	{VHQ "idle_timeout = 30\n", "t.ini:5:", "duration needs a unit"},
	{VHQ "idle_timeout = 5x\n", "t.ini:5:", "unknown duration unit"},
	{"[quic]\nidle_timeout = 0\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n", "t.ini:2:",
	 "out of range"},
	/* [quic] max_connections: per worker, 16..1000000 (issue 17) */
	{VHQ "max_connections = 15\n", "t.ini:5:", "out of range"},
	{VHQ "max_connections = 1000001\n", "t.ini:5:", "out of range"},
	{VHQ "max_connections = 16k\n", "t.ini:5:", "not a whole number"},
	{"[quic]\nbacklog = -1\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n", "t.ini:2:",
	 "not a whole number"},
	{"[quic]\nlisten = iface averyveryverylongname:443\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n",
	 "t.ini:2:", "bad interface name"},
	{"[quic]\nlisten = 0.0.0.0:443,\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n", "t.ini:2:",
	 "trailing ','"},
	{"[quic]\nlisten =\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n", "t.ini:2:", "empty value"},
	{"[quic]\nlisten = 0.0.0.0:443, 0.0.0.0:443\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n",
	 "t.ini:2:", "0.0.0.0:443 given twice"},
	{VHQ "alpn = h3 x\n", "t.ini:5:", "not an ALPN protocol id"},
	/* issue 18: versions, transport limits, handshake timeout, preferred address */
	{VHQ "versions = v3\n", "t.ini:5:", "not a QUIC version ringgate speaks (v1, v2)"},
	{VHQ "versions = v1, v2, v1\n", "t.ini:5:", "versions: v1 given twice"},
	{VHQ "versions =\n", "t.ini:5:", "empty value"},
	{VHQ "max_streams_bidi = 0\n", "t.ini:5:", "out of range 1..1048576"},
	{VHQ "max_streams_uni = 2\n", "t.ini:5:", "out of range 3..1048576"},
	{VHQ "initial_max_data = 1k\n", "t.ini:5:", "out of range 16384..1073741824 bytes"},
	{VHQ "initial_max_stream_data = 512k\n", "t.ini:5:", "out of range 16384..262144 bytes"},
	{VHQ "handshake_timeout = 500ms\n", "t.ini:5:", "out of range 1000ms..86400s"},
	{VHQ "handshake_timeout = 10\n", "t.ini:5:", "duration needs a unit"},
	{VHQ "preferred_address = 127.0.0.2\n", "t.ini:5:", "want ADDRESS:PORT"},
	/* issue 20: [tls] and the [vhost] overrides (what the build can do is
	 * control/appcfg.c's check, tests/quic/tls_groups.sh) */
	{VH "[tls]\ngroups = X25519; secp256r1\n", "t.ini:6:", "not a list of key-exchange group names"},
	{VH "[tls]\ngroups = ,\n", "t.ini:6:", "not a list of key-exchange group names"},
	{VH "[tls]\npq = maybe\n", "t.ini:6:", "want one of: prefer | require | off"},
	{VH "[tls]\npq =\n", "t.ini:6:", "empty value"},
	{VH "[tls]\n[tls]\n", "t.ini:6:", "duplicate section [tls]"},
	{VH "[tls x]\n", "t.ini:5:", "[tls] takes no name"},
	{VH "pq = always\n", "t.ini:5:", "want one of: prefer | require | off"},
	{VH "groups = X25519 MLKEM/768\n", "t.ini:5:", "not a list of key-exchange group names"},
	{VHQ "listen = 127.0.0.1:4433\npreferred_address = 127.0.0.2:4433\n", "t.ini:6:",
	 "127.0.0.2:4433 is not a [quic] listen address"},
	/* only what the datapath serves (HTTP/0.9 and draft h3 are not) */
	{VHQ "alpn = hq-interop, h3\n", "t.ini:5:", "does not serve 'hq-interop'"},
	{VHQ "alpn = h3, h3-29\n", "t.ini:5:", "does not serve 'h3-29'"},
	{"[backend a]\nserver = 10.0.0.1:80\nalgorithm = fastest\n", "t.ini:3:", "least_connections | round_robin"},
	{"[backend a]\nserver = 10.0.0.1:80 bogus=1\n", "t.ini:2:", "unknown server attribute 'bogus'"},
	{"[backend a]\nserver = 10.0.0.1:80 weight=0\n", "t.ini:2:", "weight=0: out of range 1..65535"},
	{"[backend a]\nserver = 10.0.0.1:80 weight=1 weight=2\n", "t.ini:2:", "weight= given twice"},
	{"[backend a]\nserver = backend.local:80\n", "t.ini:2:", "host names are not allowed here"},
	{"[backend a]\nserver = 10.0.0.1:80\nhealth_check = health\n", "t.ini:3:", "must start with '/'"},
	{"[backend a]\nserver = 10.0.0.1:80\nhealth_interval = 1h2\n", "t.ini:3:", "unknown duration unit"},
	{"[backend a]\nserver = 10.0.0.1:80\ntimeout = 2d\n", "t.ini:3:", "out of range"},
	{"[backend b]\nserver=10.0.0.1:1\n[route r]\nhost = *example.com\nbackend = b\n", "t.ini:4:", "wildcard"},
	{"[backend b]\nserver=10.0.0.1:1\n[route r]\nhost = a..example.com\nbackend = b\n", "t.ini:4:", "empty label"},
	{"[backend b]\nserver=10.0.0.1:1\n[route r]\nhost = a.b\nbackend = b\npath_prefix = api\n", "t.ini:6:",
	 "must start with '/'"},
	{"[backend b]\nserver=10.0.0.1:1\n[route r]\nhost = a.b\nbackend = b\nallow_0rtt = maybe\n", "t.ini:6:",
	 "not a boolean"},
	{TUN "address = 10.8.0.1/33\n", "t.ini:3:", "bad prefix length"},
	{TUN "mtu = 100\n", "t.ini:3:", "out of range 576..9000"},
	{TUN "mtu = 9001\n", "t.ini:3:", "out of range 576..9000"},
	{TUN "mtu = 1200\naddress = fd00::1/64\n", "t.ini:3:", "IPv6, which needs at least 1280"},
	{TUN "mtu = 1200\n[peer p]\npublic_key = @K1@\nallowed_ips = fd00::5/128\n", "t.ini:3:", "needs at least 1280"},
	{TUN "tun = a/b\n", "t.ini:3:", "not an interface name"},
	{TUN "[peer p]\npublic_key = abc\n", "t.ini:4:", "not a key"},
	{TUN "[peer p]\npublic_key = AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH*8=\n", "t.ini:4:", "bad base64"},
	{TUN "[peer p]\npublic_key = @K1@\nallowed_ips = 10.0.0.0/8,,10.1.0.0/16\n", "t.ini:5:", "empty item"},
	{TUN "[peer p]\npublic_key = @K1@\npersistent_keepalive = 70000\n", "t.ini:5:", "out of range 0..65535"},
	{TUN "[peer p]\npublic_key = @K1@\npersistent_keepalive = 1500ms\n", "t.ini:5:", "whole seconds"},
	{TUN "[peer p]\npublic_key = @K1@\nendpoint = vpn.example.com\n", "t.ini:5:", "want HOST:PORT"},
	{TUN "[peer p]\npublic_key = @K1@\nendpoint = ::1:51820\n", "t.ini:5:", "need brackets"},
	/* cross-checks */
	{"[backend b]\nserver=10.0.0.1:1\n[route r]\nhost = a.b\nbackend = nope\n", "t.ini:5:",
	 "backend = nope: no [backend nope]"},
	/* and a warning for algorithm = random (not built yet) */
	{"[backend empty]\nalgorithm = random\n", "t.ini:1:", "[backend empty] needs at least one 'server'", 2},
	{"[backend a]\nserver = 10.0.0.1:80\nserver = 169.254.169.254:80\n", "t.ini:3:", "link-local"},
	{"[backend a]\nserver = [fe80::1]:80\n", "t.ini:2:", "cloud metadata"},
	{"[backend a]\nserver = [::ffff:169.254.169.254]:80\n", "t.ini:2:", "link-local"},
	{"[backend a]\nserver = 0.0.0.0:80\n", "t.ini:2:", "unspecified address"},
	{"[backend a]\nserver = 10.0.0.1:80\nserver = 10.0.0.1:80 weight=5\n", "t.ini:3:", "given twice (first on line 2)"},
	{"[backend b]\nserver=10.0.0.1:1\n[route r]\nhost=a.b\nbackend=b\n[route s]\nhost=A.b\nbackend=b\n", "t.ini:7:",
	 "same host and path_prefix as [route r]"},
	{"[backend b]\nserver=10.0.0.1:1\n[route r]\nbackend=b\n", "t.ini:3:", "[route r] needs 'host'"},
	{"[quic]\n[vhost a.example]\ncert = @D@/missing.pem\nkey = @D@/key.pem\n", "t.ini:3:", "cert: cannot read"},
	{"[quic]\n[vhost a.example]\ncert = @D@/garbage.pem\nkey = @D@/key.pem\n", "t.ini:3:", "not a PEM certificate"},
	{"[quic]\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/other.key\n", "t.ini:4:", "does not match the certificate"},
	{"[quic]\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/garbage.pem\n", "t.ini:4:", "not an unencrypted PEM private key"},
	{"[quic]\n[vhost a.example]\nkey = @D@/key.pem\n", "t.ini:2:", "[vhost a.example] needs 'cert'"},
	{VH "[vhost b.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\nlisten = 127.0.0.1:9\n", "t.ini:8:",
	 "127.0.0.1:9 is not a [quic] listen address"},
	{"[quic]\n", "t.ini:1:", "[quic] needs at least one [vhost NAME]"},
	{"[tunnel]\nprivate_key_file = @D@/nothere.key\n", "t.ini:2:", "private_key_file: cannot read"},
	{"[tunnel]\nprivate_key_file = @D@/bad.key\n", "t.ini:2:", "not a key"},
	{"[tunnel]\nprivate_key_file = @D@\n", "t.ini:2:", "Is a directory"},
	{"[tunnel]\nprivate_key_file = /dev/null\n", "t.ini:2:", "not a regular file"},
	{"[tunnel]\nmtu = 1420\n", "t.ini:1:", "[tunnel] needs 'private_key_file'"},
	{"[appliance]\nadmin = 0.0.0.0:8082\n", "t.ini:2:", "not a loopback address: admin_token_file is required"},
	{"[appliance]\nadmin = [::]:8082\nadmin_token_file =\n", "t.ini:2:", "admin_token_file is required"},
	{"[appliance]\nadmin = 10.0.0.1:8082\nadmin_token_file = @D@/short.token\n", "t.ini:3:",
	 "token too short (10 characters, want at least 32)"},
	{"[appliance]\nadmin_token_file = @D@/space.token\n", "t.ini:2:", "without spaces"},
	{"[appliance]\nadmin_token_file = @D@/none.token\n", "t.ini:2:", "admin_token_file: cannot read"},
	{"[appliance]\nuser = nosuchuser-rg\n", "t.ini:2:", "no such user"},
	{TUN "[peer a]\npublic_key = @K1@\n[peer b]\n\npublic_key = @K1@\n", "t.ini:7:",
	 "duplicate peer public key (also at t.ini:4)"},
	{TUN "[peer a]\npublic_key = @K1@\nallowed_ips = 10.9.0.0/16\n[peer b]\npublic_key = @K2@\nallowed_ips = 10.9.0.0/16\n",
	 "t.ini:8:", "allowed ip 10.9.0.0/16 already belongs to the peer at t.ini:4"},
	{TUN "[peer a]\npublic_key = @K1@\npreshared_key_file = @D@/bad.key\n", "t.ini:5:", "preshared_key_file:"},
	{"[peer a]\npublic_key = @K1@\n", "t.ini:1:", "[peer] needs a [tunnel] section"},
	{TUN "peers_file = @D@/nope\n", "t.ini:3:", "peers_file: cannot read"},
	{TUN "peers_file = @D@/peers_dup\n[peer a]\npublic_key = @K0@\n", "@D@/peers_dup:1:",
	 "duplicate peer public key (also at t.ini:5)"},
	{TUN "peers_file = @D@/peers_bad\n", "@D@/peers_bad:2:", "allowed-ips missing", 4},
	{TUN "peers_file = @D@/peers_bad\n", "@D@/peers_bad:3:", "bad prefix length", 4},
	{TUN "peers_file = @D@/peers_bad\n", "@D@/peers_bad:5:", "duplicate public key (first on line 4)", 4},
	{TUN "peers_file = @D@/peers_bad\n", "@D@/peers_bad:6:", "public key: not a key", 4},
};

static void test_bad(void)
{
	for (unsigned i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		char *text = subst(b->text), *where = subst(b->where);
		struct ini_diag d;
		struct rg_config *c = (struct rg_config *)(uintptr_t)0x1;
		ini_diag_init(&d);
		int r = ini_config_load_string("t.ini", text, &c, &d);
		bool found = false;
		for (unsigned j = 0; j < ini_diag_count(&d); j++) {
			const char *m = ini_diag_get(&d, j);
			found |= !strncmp(m, where, strlen(where)) && m[strlen(where)] == ' ' && strstr(m, b->what);
		}
		unsigned want_n = b->n ? b->n : 1;
		CHECK(r == -EINVAL && c == (struct rg_config *)(uintptr_t)0x1, "bad #%u: r=%d, *out touched", i, r);
		CHECK(found && ini_diag_count(&d) == want_n, "bad #%u: want '%s ...%s...' (%u message(s)), got %u:", i,
		      where, b->what, want_n, ini_diag_count(&d));
		if (!found || ini_diag_count(&d) != want_n)
			ini_diag_print(&d, stderr);
		ini_diag_free(&d);
		free(text);
		free(where);
	}
	printf("%zu bad-input cases\n", sizeof(bads) / sizeof(bads[0]));
}

/* [quic] max_connections takes both ends of its range (issue 17). */
static void test_max_connections(void)
{
	static const struct {
		const char *text;
		unsigned want;
	} ok[] = {
		{VHQ "max_connections = 16\n", 16},
		{VHQ "max_connections = 16384\n", 16384},
		{VHQ "max_connections = 1000000\n", 1000000},
	};
	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct ini_diag d;
		struct rg_config *c = load_ok(ok[i].text, &d);
		CHECK(c && c->quic && c->quic->max_connections == ok[i].want, "max_connections = %u", ok[i].want);
		CHECK(ini_diag_count(&d) == 0, "max_connections = %u: no warning", ok[i].want);
		ini_config_free(c);
		ini_diag_free(&d);
	}
}

/* Issue 18: every [quic] transport key set, read back as given. */
static void test_quic_transport(void)
{
	struct ini_diag d;
	struct rg_config *c = load_ok(VHQ "listen = 127.0.0.1:4433, 127.0.0.2:4433\nversions = v1\n"
	                                  "max_streams_bidi = 7\nmax_streams_uni = 5\ninitial_max_data = 1m\n"
	                                  "initial_max_stream_data = 64k\nhandshake_timeout = 2500ms\n"
	                                  "preferred_address = 127.0.0.2:4433\n",
	                              &d);
	const struct rg_quic_cfg *q = c ? c->quic : NULL;
	char pa[64] = "";
	if (q)
		ini_addr_format(&q->preferred_address, pa, sizeof(pa));
	CHECK(q && q->n_versions == 1 && !strcmp(q->versions[0], "v1"), "versions = v1");
	CHECK(q && q->max_streams_bidi == 7 && q->max_streams_uni == 5, "max_streams_*");
	CHECK(q && q->initial_max_data == 1u << 20 && q->initial_max_stream_data == 64u << 10, "initial_max_*");
	CHECK(q && q->handshake_timeout_ms == 2500, "handshake_timeout = 2500ms");
	CHECK(!strcmp(pa, "127.0.0.2:4433"), "preferred_address = %s", pa);
	CHECK(ini_diag_count(&d) == 0, "issue 18 keys: no warning");
	ini_config_free(c);
	ini_diag_free(&d);
}

/* Issue 20: [tls] and [vhost] groups / pq read, with their lines. */
static void test_tls_keys(void)
{
	struct ini_diag d;
	struct rg_config *c = load_ok(VH "[tls]\ngroups = X25519MLKEM768, X25519\npq = require\n"
	                                 "[vhost b.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n"
	                                 "pq = off\ngroups = secp384r1\n",
	                              &d);
	const struct rg_tls_cfg *t = c ? c->tls : NULL;
	CHECK(t && t->groups && !strcmp(t->groups, "X25519MLKEM768, X25519") && t->pq == RG_TLS_PQ_REQUIRE &&
	      t->groups_line == 6 && t->pq_line == 7 && t->line == 5, "[tls] keys and lines");
	CHECK(c && c->n_vhosts == 2 && !c->vhosts[0].groups && c->vhosts[0].pq == RG_TLS_PQ_UNSET &&
	      !c->vhosts[0].groups_line && !c->vhosts[0].pq_line, "a vhost without overrides");
	CHECK(c && c->n_vhosts == 2 && c->vhosts[1].groups && !strcmp(c->vhosts[1].groups, "secp384r1") &&
	      c->vhosts[1].pq == RG_TLS_PQ_OFF && c->vhosts[1].pq_line == 11 && c->vhosts[1].groups_line == 12,
	      "[vhost] overrides and lines");
	ini_config_free(c);
	ini_diag_free(&d);
	c = load_ok(VH, &d);
	CHECK(c && !c->tls, "no [tls]: NULL (the build's defaults)");
	ini_config_free(c);
	ini_diag_free(&d);
	c = load_ok(VH "[tls]\n", &d);
	CHECK(c && c->tls && !c->tls->groups && c->tls->pq == RG_TLS_PQ_PREFER && !c->tls->groups_line,
	      "[tls] defaults: the build's groups, pq = prefer");
	ini_config_free(c);
	ini_diag_free(&d);
}

int main(void)
{
	make_fixtures();
	test_bad();
	test_quic_transport();
	test_tls_keys();
	test_max_connections();
	remove_fixtures();
	printf("%d checks, %d failed\n", checks_run, checks_failed);
	return checks_failed ? 1 : 0;
}
