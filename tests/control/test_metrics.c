/* /metrics from the tables of control/metrics.c, rendered over fake
 * struct worker_stats whose every word holds a different value:
 *  - each metric has one HELP and one TYPE line, a valid and unique name,
 *    counters end in _total and nothing else does (Prometheus naming);
 *  - each row's samples carry the value of the word its offset names (the
 *    value identifies the worker and the word, so a wrong offset, element
 *    or worker shows), and no sample's label set appears twice;
 *  - every uint64_t of struct worker_stats is in the table or in
 *    not_exported[] below: a new counter without a row fails here;
 *  - every line the pre-table renderer printed (metrics_legacy.c, a frozen
 *    model) is still printed, in the same order: dashboards keep working. */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/metrics.h"
#include "tests/check.h"
#include "tests/control/metrics_legacy.h"

#define NW 3
#define WORDS (sizeof(struct worker_stats) / sizeof(uint64_t))
#define BASE 1000000ull
#define STRIDE 10000ull /* > WORDS */

/* Words of struct worker_stats deliberately not on /metrics (yet): adding
 * one of them to the table is fine, forgetting a new field is not. */
#define NX(f) {#f, offsetof(struct worker_stats, f)}
static const struct {
	const char *field;
	size_t off;
} not_exported[] = {
	/* the QUIC server's own datagram counts duplicate the ring's */
	NX(quic.rx_dgrams), NX(quic.rx_bytes), NX(quic.tx_dgrams), NX(quic.tx_bytes), NX(quic.tx_gso_bufs),
	NX(quic.sni_refused), NX(quic.conns_closed_idle), NX(quic.conns_closed_local),
	NX(quic.conns_closed_peer), NX(quic.streams_reset), NX(quic.retry_sent),
	NX(quic.version_negotiation_sent), NX(quic.stateless_reset_sent),
	NX(proxy.conns_failed), NX(proxy.headers_dropped),
};

static uint64_t fake_value(unsigned worker, size_t word)
{
	return BASE + worker * STRIDE + word;
}

static struct worker_stats st[NW];
static const struct metrics_proc proc = {
	.build_info = 1, .uptime_seconds = 7001, .workers = NW, .config_generation = 7002,
	.reloads_ok = 7003, .reloads_failed = 7004,
};

struct line {
	char *key; /* name{labels} */
	char *val;
	bool seen;
};
static struct line *lines;
static unsigned n_lines;

static void parse(char *text)
{
	for (char *s = text, *nl; *s; s = nl + 1) {
		nl = strchr(s, '\n');
		if (!nl)
			break;
		*nl = 0;
		if (s[0] == '#')
			continue;
		char *sp = strrchr(s, ' ');
		CHECK(sp, "sample without a value: %s", s);
		if (!sp)
			continue;
		*sp = 0;
		lines = realloc(lines, (n_lines + 1) * sizeof(*lines));
		lines[n_lines++] = (struct line){.key = s, .val = sp + 1};
	}
}

static unsigned count(const char *text, const char *needle)
{
	unsigned n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		if (p == text || p[-1] == '\n')
			n++;
	return n;
}

static bool valid_name(const char *n)
{
	if (!*n || !(isalpha((unsigned char)*n) || *n == '_' || *n == ':'))
		return false;
	for (; *n; n++)
		if (!(isalnum((unsigned char)*n) || *n == '_' || *n == ':'))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

/* The sample's value, or NULL; marks it seen (a second visit fails). */
static const char *lookup(const char *name, const char *suffix, long worker, const char *fixed,
                          const char *key, const char *val)
{
	char k[512], lab[256] = "";
	if (worker >= 0)
		snprintf(lab + strlen(lab), sizeof(lab) - strlen(lab), "worker=\"%ld\"", worker);
	if (fixed)
		snprintf(lab + strlen(lab), sizeof(lab) - strlen(lab), "%s%s", lab[0] ? "," : "", fixed);
	if (key)
		snprintf(lab + strlen(lab), sizeof(lab) - strlen(lab), "%s%s=\"%s\"", lab[0] ? "," : "", key, val);
	snprintf(k, sizeof(k), "ringgate_%s%s%s%s%s", name, suffix, lab[0] ? "{" : "", lab, lab[0] ? "}" : "");
	for (unsigned i = 0; i < n_lines; i++)
		if (!strcmp(lines[i].key, k)) {
			CHECK(!lines[i].seen, "%s: two rows print this sample", k);
			lines[i].seen = true;
			return lines[i].val;
		}
	CHECK(false, "no sample %s", k);
	return NULL;
}

static void check_u64(const char *got, uint64_t want, const char *what)
{
	CHECK(got && strtoull(got, NULL, 10) == want, "%s: printed %s, want %llu", what, got ? got : "nothing",
	      (unsigned long long)want);
}

/* A word of the per-worker table: its value must be worker w's word. */
static void check_word(const char *got, unsigned w, size_t off, const char *what)
{
	check_u64(got, fake_value(w, off / sizeof(uint64_t)), what);
	if (got) { /* say which field it did read, to find the wrong offset */
		uint64_t v = strtoull(got, NULL, 10);
		if (v != fake_value(w, off / sizeof(uint64_t)) && v >= BASE)
			fprintf(stderr, "  (%s read worker %llu's word at offset %llu)\n", what,
			        (unsigned long long)((v - BASE) / STRIDE),
			        (unsigned long long)((v - BASE) % STRIDE * sizeof(uint64_t)));
	}
}

static void check_table(const char *text, const struct metric_desc *t, unsigned nt, bool per_worker,
                        unsigned *cover, size_t n_cover)
{
	for (unsigned g = 0; g < nt;) {
		unsigned e = g + 1;
		while (e < nt && !strcmp(t[e].name, t[g].name))
			e++;
		const struct metric_desc *d = &t[g];
		char want[512];
		CHECK(valid_name(d->name), "invalid name %s", d->name);
		CHECK(d->help && d->help[0] && !strchr(d->help, '\n') && !strchr(d->help, '\\'), "%s: help", d->name);
		CHECK((d->type == METRIC_COUNTER) == ends_with(d->name, "_total"), "%s: counters and only they end in _total",
		      d->name);
		snprintf(want, sizeof(want), "# HELP ringgate_%s %s\n", d->name, d->help);
		CHECK(count(text, want) == 1, "%s: HELP printed %u times", d->name, count(text, want));
		snprintf(want, sizeof(want), "# HELP ringgate_%s ", d->name);
		CHECK(count(text, want) == 1, "%s: name not unique (%u HELP lines)", d->name, count(text, want));
		snprintf(want, sizeof(want), "# TYPE ringgate_%s %s\n", d->name, metric_type_name(d->type));
		CHECK(count(text, want) == 1, "%s: TYPE printed %u times", d->name, count(text, want));
		for (unsigned r = g; r < e; r++) {
			CHECK(t[r].type == d->type && !strcmp(t[r].help, d->help), "%s: rows disagree", d->name);
			CHECK(t[r].off % sizeof(uint64_t) == 0, "%s: offset %zu", d->name, t[r].off);
			CHECK((t[r].type == METRIC_HISTOGRAM) == !!t[r].hist, "%s: histogram row", d->name);
		}
		g = e;
	}
	for (unsigned r = 0; r < nt; r++) {
		const struct metric_desc *d = &t[r];
		unsigned n = d->hist ? d->hist->n : d->array ? d->array->n : 1;
		for (unsigned k = 0; k < n; k++) {
			size_t wi = d->off / sizeof(uint64_t) + k;
			CHECK(wi < n_cover, "%s: offset beyond the struct", d->name);
			if (wi < n_cover)
				cover[wi]++;
		}
		if (d->hist) {
			for (size_t off = d->hist->sum_off;; off = d->hist->count_off) {
				if (off / sizeof(uint64_t) < n_cover)
					cover[off / sizeof(uint64_t)]++;
				if (off == d->hist->count_off)
					break;
			}
		}
		for (unsigned w = 0; w < (per_worker ? NW : 1); w++) {
			long lw = per_worker ? (long)w : -1;
			const void *base = per_worker ? (const void *)&st[w] : (const void *)&proc;
			char what[160];
			if (d->hist) {
				uint64_t cum = 0;
				for (unsigned k = 0; k < d->hist->n; k++) {
					char le[32];
					cum += fake_value(w, d->off / sizeof(uint64_t) + k);
					if (k + 1 < d->hist->n)
						snprintf(le, sizeof(le), "%g", (double)d->hist->bounds[k] / d->hist->scale);
					else
						snprintf(le, sizeof(le), "+Inf");
					snprintf(what, sizeof(what), "%s worker %u le %s", d->name, w, le);
					check_u64(lookup(d->name, "_bucket", lw, d->fixed, "le", le), cum, what);
				}
				const char *sum = lookup(d->name, "_sum", lw, d->fixed, NULL, NULL);
				double want = (double)fake_value(w, d->hist->sum_off / sizeof(uint64_t)) / d->hist->scale;
				char ws[64];
				snprintf(ws, sizeof(ws), "%.6f", want);
				CHECK(sum && !strcmp(sum, ws), "%s worker %u sum %s, want %s", d->name, w, sum ? sum : "none", ws);
				snprintf(what, sizeof(what), "%s_count worker %u", d->name, w);
				check_word(lookup(d->name, "_count", lw, d->fixed, NULL, NULL), w, d->hist->count_off, what);
				continue;
			}
			unsigned ne = d->array ? d->array->n : 1;
			for (unsigned k = 0; k < ne; k++) {
				const char *lv = d->array ? d->array->name(k) : NULL;
				CHECK(!d->array || (lv && lv[0] && strcmp(lv, "?") && !strchr(lv, '"')),
				      "%s: element %u has no label value", d->name, k);
				snprintf(what, sizeof(what), "%s worker %u %s %s", d->name, w, d->fixed ? d->fixed : "",
				         lv ? lv : "");
				const char *got = lookup(d->name, "", lw, d->fixed, d->array ? d->array->key : NULL, lv);
				size_t off = d->off + k * sizeof(uint64_t);
				if (per_worker)
					check_word(got, w, off, what);
				else {
					uint64_t v;
					memcpy(&v, (const char *)base + off, sizeof(v));
					check_u64(got, v, what);
				}
			}
		}
	}
}

int main(void)
{
	for (unsigned w = 0; w < NW; w++)
		for (size_t i = 0; i < WORDS; i++)
			((uint64_t *)&st[w])[i] = fake_value(w, i);

	char *text;
	size_t len;
	CHECK(metrics_render(&proc, st, NW, &text, &len) == 0, "render");
	CHECK(strlen(text) == len, "length");
	char *copy = strdup(text);
	parse(copy);

	/* per-worker words: each in exactly one row, or knowingly left out */
	unsigned cover[WORDS] = {0};
	check_table(text, metrics_worker, metrics_worker_n, true, cover, WORDS);
	for (size_t i = 0; i < sizeof(not_exported) / sizeof(not_exported[0]); i++) {
		size_t wi = not_exported[i].off / sizeof(uint64_t);
		CHECK(cover[wi] == 0, "%s is exported and listed as not exported", not_exported[i].field);
		cover[wi] += 100;
	}
	for (size_t i = 0; i < WORDS; i++)
		CHECK(cover[i] == 1 || cover[i] == 100,
		      "word %zu of struct worker_stats (offset %zu) is %s: add a row to control/metrics.c "
		      "(or to not_exported in this test)",
		      i, i * sizeof(uint64_t), cover[i] ? "in two rows" : "neither exported nor listed");

	unsigned pcover[sizeof(proc) / sizeof(uint64_t)] = {0};
	check_table(text, metrics_process, metrics_process_n, false, pcover, sizeof(proc) / sizeof(uint64_t));
	for (size_t i = 0; i < sizeof(proc) / sizeof(uint64_t); i++)
		CHECK(pcover[i] == 1, "word %zu of struct metrics_proc in %u rows", i, pcover[i]);

	for (unsigned i = 0; i < n_lines; i++)
		CHECK(lines[i].seen, "sample %s printed by no row", lines[i].key);

	/* Every line of the frozen pre-table renderer, in order. */
	char *old = NULL;
	size_t old_len = 0;
	FILE *f = open_memstream(&old, &old_len);
	metrics_legacy_render(f, &proc, st, NW);
	fclose(f);
	unsigned n_old = 0, missing = 0;
	const char *at = text;
	for (char *s = old, *nl; (nl = strchr(s, '\n')); s = nl + 1) {
		*nl = 0;
		n_old++;
		char needle[600];
		snprintf(needle, sizeof(needle), "%s\n", s);
		const char *p = at;
		while ((p = strstr(p, needle)) && p != text && p[-1] != '\n')
			p++;
		CHECK(p, "legacy line missing or out of order: %s", s);
		if (p)
			at = p + strlen(needle);
		else
			missing++;
	}
	printf("rendered %zu bytes, %u samples, %u worker rows, %u process rows; %u legacy lines, %u missing\n",
	       len, n_lines, metrics_worker_n, metrics_process_n, n_old, missing);
	free(old);
	free(copy);
	free(lines);
	free(text);
	return check_report("metrics");
}
