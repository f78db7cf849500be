/*
 * libFuzzer harness for the C API (make fuzz; a short run is part of make test).
 *
 * Each input is decoded into a sequence of calls: which function, names as raw bytes (invalid
 * UTF-8, control characters, braces, lengths at and past the limits, NULL), numbers (negative,
 * extreme), arrays and their counts (NULL arrays with huge counts), NULL or non-NULL outputs and
 * `err`. The calls run against a live redis-server (REDIS_URL, a loopback address; its database
 * is flushed before every input, so never point this at data you want to keep), through one
 * executor opened in LLVMFuzzerInitialize.
 *
 * Beyond "no crash" (AddressSanitizer and UBSan on this side; the library can be built with
 * coverage instrumentation, see the Makefile), every call is checked against invariants, and any
 * violation aborts with a message:
 *  - the status is a valid sf_status, never SF_INTERNAL, and equals err->code; err->message is
 *    NUL-terminated within SF_ERROR_MESSAGE_SIZE bytes, valid UTF-8, empty exactly on SF_OK;
 *  - the status is the one an independent model predicts: SF_INVALID_ARGUMENT exactly when an
 *    argument breaks the documented rules (re-implemented here), SF_OK otherwise (the server is
 *    healthy, so nothing else may come back);
 *  - on SF_INVALID_ARGUMENT nothing at all was sent to Redis (the server's command counts,
 *    INFO commandstats, move only by the harness's own INFO and the PING a pool connection
 *    sends while it opens in the background), and outputs hold their
 *    documented failure values (SF_NO_POD, false, NULL);
 *  - on SF_OK the outputs are sane (pods >= -1, strings valid UTF-8, lists sorted and unique,
 *    accessors bounded) and equal what a model of the data predicts: the model follows
 *    data-model.md, including temporary links (a link whose TTL may have run out is accepted
 *    present or absent);
 *  - batches with count 0 succeed without sending anything;
 *  - packed reads (sf_*_packed, into a caller buffer of fuzzed capacity, NULL or too small
 *    included) give the entries their non-packed twin gives, walked with sf_packed_next
 *    (headers, NUL-terminated UTF-8 texts, count and size, the buffer-or-block rule), and
 *    sf_packed_free zeroes them; sf_execute_batch gives each entry the outcome its single call
 *    would (an invalid entry, unknown kinds included, fails alone; a batch of only invalid
 *    entries sends nothing);
 *  - every log record (all levels, every thread) has a valid level, target and UTF-8 message;
 *    the executor's statistics only grow and stay consistent; a closed executor is refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "resp.h"
#include "stateful_executor.h"

/* ---- failing ---------------------------------------------------------------------------- */

static const char *current_op = "(none)";

static void fail(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "\n==fuzz_c_api== INVARIANT VIOLATED in %s: ", current_op);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  abort();
}

#define REQUIRE(cond, ...)        \
  do {                            \
    if (!(cond)) fail(__VA_ARGS__); \
  } while (0)

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- UTF-8 and the identifier rules (data-model.md), re-implemented --------------------- */

/* Strict UTF-8 as Rust's str::from_utf8 accepts it: no overlongs, surrogates or > U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len, k;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

/* A service (data-model.md, revised in 0.2): 1-253 bytes of UTF-8 without '{', '}' or an
 * ASCII control character. */
static bool valid_service(const char *s) {
  size_t i, n;
  if (s == NULL) return false;
  n = strlen(s);
  if (n == 0 || n > 253 || !utf8_valid((const unsigned char *)s, n)) return false;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '{' || c == '}' || c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

/* A namespace: as a service, and no ':'. */
static bool valid_namespace(const char *s) { return valid_service(s) && strchr(s, ':') == NULL; }

static bool valid_uid(const char *s) {
  size_t i, n;
  if (s == NULL) return false;
  n = strlen(s);
  if (n == 0 || n > 512 || !utf8_valid((const unsigned char *)s, n)) return false;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '{' || c == '}' || c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

static bool valid_state(const char *s) {
  size_t n;
  if (s == NULL) return false;
  n = strlen(s);
  return n >= 1 && n <= 4096 && utf8_valid((const unsigned char *)s, n);
}

static bool valid_persist(int32_t seconds) { return seconds == -1 || seconds >= 1; }
static bool valid_keep(int32_t seconds) { return seconds >= -1; }

/* ---- a raw RESP connection to the same server ------------------------------------------- */

static resp_conn raw_conn;
static sf_executor *ex;

/* Sends a command (arguments with explicit lengths) on the raw connection and returns its
 * reply's type character; see resp_commandv. */
static char raw_commandv(int argc, const char *const *argv, const size_t *lens, char *reply,
                         size_t size, long *reply_len) {
  char type = resp_commandv(&raw_conn, argc, argv, lens, reply, size, reply_len);
  REQUIRE(type != 0, "raw connection: %s", strerror(errno));
  return type;
}

/* The same with C-string arguments, terminated by NULL. */
static char raw_command(char *reply, size_t size, ...) {
  const char *argv[8];
  size_t lens[8];
  int argc = 0;
  va_list ap;
  va_start(ap, size);
  while (argc < 8 && (argv[argc] = va_arg(ap, const char *)) != NULL) {
    lens[argc] = strlen(argv[argc]);
    argc++;
  }
  va_end(ap);
  return raw_commandv(argc, argv, lens, reply, size, NULL);
}

static char info_reply[1 << 15];

/* The server's count of processed commands, less INFO (the harness's own) and PING: every new
 * pool connection PINGs once while it opens, in the background (min idle), at any moment. */
static long long commands_processed(void) {
  const char *at;
  long long total = 0;
  REQUIRE(raw_command(info_reply, sizeof info_reply, "INFO", "commandstats", NULL) == '$',
          "INFO commandstats");
  for (at = strstr(info_reply, "cmdstat_"); at != NULL; at = strstr(at + 1, "cmdstat_")) {
    const char *calls = strstr(at, ":calls=");
    if (calls == NULL) break;
    if (strncmp(at, "cmdstat_info:", 13) == 0 || strncmp(at, "cmdstat_ping:", 13) == 0) continue;
    total += strtoll(calls + strlen(":calls="), NULL, 10);
  }
  return total;
}

static long long baseline = -1; /* the count as of the last INFO, or -1 when unknown */

/* Before a call: a fresh count. */
static void mark(void) {
  if (baseline < 0) baseline = commands_processed();
}

/* After a call that must not have sent anything. */
static void nothing_sent(const char *why) {
  long long now = commands_processed();
  REQUIRE(now == baseline, "%s, yet %lld command(s) reached the server", why, now - baseline);
  baseline = now;
}

/* After a call that may have sent commands. */
static void maybe_sent(void) { baseline = -1; }

static void raw_connect(const char *url) {
  /* redis://HOST:PORT[/], HOST on loopback; the fuzzer flushes the database it is given. */
  char host[64];
  int port = 0;
  if (sscanf(url, "redis://%63[^:/]:%d", host, &port) != 2 || port <= 0 || port > 65535 ||
      (strncmp(host, "127.", 4) != 0 && strcmp(host, "localhost") != 0)) {
    fprintf(stderr, "fuzz_c_api: REDIS_URL must be redis://127.x.y.z:PORT or "
                    "redis://localhost:PORT (got %s)\n", url);
    exit(2);
  }
  if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
  if (resp_connect(&raw_conn, host, port, 0) != 0) {
    fprintf(stderr, "fuzz_c_api: cannot connect to %s\n", url);
    exit(2);
  }
}

/* ---- the input -------------------------------------------------------------------------- */

typedef struct {
  const uint8_t *data;
  size_t size, pos;
} input;

static uint8_t u8(input *in) { return in->pos < in->size ? in->data[in->pos++] : 0; }

static uint32_t u32(input *in) {
  uint32_t v = 0;
  int i;
  for (i = 0; i < 4; i++) v = (v << 8) | u8(in);
  return v;
}

static uint64_t u64(input *in) { return ((uint64_t)u32(in) << 32) | u32(in); }

static int32_t gen_i32(input *in) {
  switch (u8(in) % 10) {
    case 0: return -1;
    case 1: return INT32_MAX;
    case 2: return INT32_MIN;
    case 3: return -2;
    case 4: return (int32_t)u32(in);
    case 5: return 0;
    default: return u8(in) % 8;
  }
}

static int64_t gen_i64(input *in) {
  switch (u8(in) % 6) {
    case 0: return INT64_MIN;
    case 1: return INT64_MAX;
    case 2: return (int64_t)u64(in);
    default: return (int64_t)(u8(in) % 4) - 1;
  }
}

/* Strings of one call: each in its own exact-size allocation (so that a read past the NUL is
 * an ASan report), freed after the call. */
#define MAX_STRINGS 64
static char *strings[MAX_STRINGS];
static int nstrings;

static char *keep_string(const char *bytes, size_t len) {
  char *s;
  if (nstrings == MAX_STRINGS) return NULL;
  s = malloc(len + 1);
  REQUIRE(s != NULL, "out of memory");
  memcpy(s, bytes, len);
  s[len] = '\0';
  strings[nstrings++] = s;
  return s;
}

static void free_strings(void) {
  while (nstrings > 0) free(strings[--nstrings]);
}

enum kind { K_NS, K_SVC, K_UID, K_STATE, K_URL };

static const char *const dict[5][4] = {
    {"a", "ns-1", "prod.eu_2", "Z"},
    {"chat", "video", "s.1", "Q_q-9"},
    {"u1", "user:42/\xc3\xa9", "room 7", "a|b"},
    {"Running", "Pending", "3-100", "\xe2\x9c\x93 ok"},
    {"redis://127.0.0.1:1", "unix:///tmp/sf.sock", "rediss://127.0.0.1:1/3", "redis://u:p@h:1"}};

/* A string argument: mostly from a small dictionary (so calls meet the same keys), else raw
 * bytes, NULL, or lengths around the limits. */
static const char *gen_string(input *in, enum kind kind) {
  uint8_t sel = u8(in);
  char buf[5000];
  size_t len, i;
  switch (sel % 16) {
    case 10:
    case 11:
    case 12: /* raw bytes, any value (a NUL ends the C string early) */
      len = u8(in);
      for (i = 0; i < len; i++) buf[i] = (char)u8(in);
      return keep_string(buf, len);
    case 13:
      return NULL;
    case 14: { /* around the length limits, ASCII or with a 2-byte character at the end */
      static const size_t lens[] = {252, 253, 254, 511, 512, 513, 4095, 4096, 4097, 0};
      uint8_t how = u8(in);
      len = lens[how % 10];
      memset(buf, kind == K_UID ? 'u' : 'x', len);
      if ((how & 0x10) && len >= 2) {
        buf[len - 2] = (char)0xC3;
        buf[len - 1] = (char)0xA9;
      }
      if ((how & 0x20) && len >= 1) buf[len - 1] = (char)"{}:\x7f\x01 \xff"[(how >> 6) % 7];
      return keep_string(buf, len);
    }
    case 15: { /* a dictionary word with one byte appended */
      const char *word = dict[kind][(sel >> 4) % 4];
      len = strlen(word);
      memcpy(buf, word, len);
      buf[len++] = (char)u8(in);
      return keep_string(buf, len);
    }
    default:
      return dict[kind][(sel >> 4) % 4];
  }
}

static const char *gen_url(input *in) { return gen_string(in, K_URL); }

/* ---- the model of the data -------------------------------------------------------------- */

#define MAX_ENTRIES 256
static bool model_lost; /* too much to track this input: stop comparing */
/* Whether the current call touches keys that op_corrupt filled with foreign data: then it may
 * also fail with SF_UNEXPECTED_REPLY, and its results are not compared with the model. */
static bool call_tainted;
/* Whether the server may lack one of the library's scripts (at start, and after SCRIPT FLUSH
 * until the next input reloads them all): a batch then sends the entries whose script the
 * server lost once more, after the others (one more round trip), so an entry placed after a
 * script entry of the same uid in one batch may run before it (the entries are meant to be
 * independent): such pairs are not compared with the model. */
static bool scripts_flushed = true;

static char *dup_string(const char *s) {
  char *d = strdup(s);
  REQUIRE(d != NULL, "out of memory");
  return d;
}

/* Keys that op_corrupt wrote behind the library's back: 'L' (ns, uid): the uid's link keys;
 * 'S' (ns, service): the pod-state hash; 'W' (ns, service): the workload key. */
#define MAX_TAINTS 32
struct taint {
  char kind;
  const char *a, *b; /* dictionary words: static storage */
};
static struct taint taints[MAX_TAINTS];
static int n_taints;

/* Pod states: (ns, service, pod) -> state. */
struct pod_state {
  char *ns, *svc, *state;
  int32_t pod;
};
static struct pod_state pod_states[MAX_ENTRIES];
static int n_pod_states;

/* Workload states: (ns, service) -> state. */
struct workload {
  char *ns, *svc, *state;
};
static struct workload workloads[MAX_ENTRIES];
static int n_workloads;

/* Links: (ns, uid, service) -> what is known of the link. */
enum link_known {
  L_ABSENT,  /* no link */
  L_PRESENT, /* a link to `pod`: persistent, or temporary until at least `deadline` */
  L_UNKNOWN  /* not known (the outcome of a call could not tell): not compared */
};
struct link {
  char *ns, *uid, *svc;
  enum link_known known;
  int32_t pod;
  bool persistent;
  long long deadline; /* temporary: present for sure until this monotonic time */
};
static struct link links[MAX_ENTRIES];
static int n_links;

static void model_reset(void) {
  int i;
  for (i = 0; i < n_pod_states; i++) {
    free(pod_states[i].ns);
    free(pod_states[i].svc);
    free(pod_states[i].state);
  }
  for (i = 0; i < n_workloads; i++) {
    free(workloads[i].ns);
    free(workloads[i].svc);
    free(workloads[i].state);
  }
  for (i = 0; i < n_links; i++) {
    free(links[i].ns);
    free(links[i].uid);
    free(links[i].svc);
  }
  n_pod_states = n_workloads = n_links = n_taints = 0;
  model_lost = false;
}

static struct workload *find_workload(const char *ns, const char *svc, bool create) {
  int i;
  for (i = 0; i < n_workloads; i++)
    if (strcmp(workloads[i].ns, ns) == 0 && strcmp(workloads[i].svc, svc) == 0)
      return &workloads[i];
  if (!create) return NULL;
  if (n_workloads == MAX_ENTRIES) {
    model_lost = true;
    return NULL;
  }
  workloads[n_workloads].ns = dup_string(ns);
  workloads[n_workloads].svc = dup_string(svc);
  workloads[n_workloads].state = NULL;
  return &workloads[n_workloads++];
}

static void set_pod_state(const char *ns, const char *svc, int32_t pod, const char *state) {
  int i;
  for (i = 0; i < n_pod_states; i++)
    if (pod_states[i].pod == pod && strcmp(pod_states[i].ns, ns) == 0 &&
        strcmp(pod_states[i].svc, svc) == 0) {
      free(pod_states[i].state);
      pod_states[i].state = dup_string(state);
      return;
    }
  if (n_pod_states == MAX_ENTRIES) {
    model_lost = true;
    return;
  }
  pod_states[n_pod_states].ns = dup_string(ns);
  pod_states[n_pod_states].svc = dup_string(svc);
  pod_states[n_pod_states].state = dup_string(state);
  pod_states[n_pod_states].pod = pod;
  n_pod_states++;
}

static struct link *find_link(const char *ns, const char *uid, const char *svc) {
  int i;
  for (i = 0; i < n_links; i++)
    if (strcmp(links[i].ns, ns) == 0 && strcmp(links[i].uid, uid) == 0 &&
        strcmp(links[i].svc, svc) == 0)
      return &links[i];
  if (n_links == MAX_ENTRIES) {
    model_lost = true;
    return NULL;
  }
  links[n_links].ns = dup_string(ns);
  links[n_links].uid = dup_string(uid);
  links[n_links].svc = dup_string(svc);
  links[n_links].known = L_ABSENT; /* the database was flushed at the start of the input */
  return &links[n_links++];
}

static bool tainted(char kind, const char *a, const char *b) {
  int i;
  if (a == NULL || b == NULL) return false;
  for (i = 0; i < n_taints; i++)
    if (taints[i].kind == kind && strcmp(taints[i].a, a) == 0 && strcmp(taints[i].b, b) == 0)
      return true;
  return false;
}

static void taint(char kind, const char *a, const char *b) {
  if (tainted(kind, a, b)) return;
  if (n_taints == MAX_TAINTS) {
    model_lost = true;
    return;
  }
  taints[n_taints].kind = kind;
  taints[n_taints].a = a;
  taints[n_taints].b = b;
  n_taints++;
}

/* What a link is as of now: present for sure, absent for sure, maybe expired, or unknown. */
enum link_now { N_ABSENT, N_PRESENT, N_MAYBE, N_UNKNOWN };

static enum link_now link_now(const struct link *l) {
  if (l == NULL || model_lost || call_tainted) return N_UNKNOWN;
  switch (l->known) {
    case L_ABSENT: return N_ABSENT;
    case L_UNKNOWN: return N_UNKNOWN;
    default: return l->persistent || now_ms() < l->deadline ? N_PRESENT : N_MAYBE;
  }
}

/* Records a link written by a call that started at `started`. */
static void link_written(struct link *l, int32_t pod, int32_t persist_seconds,
                         long long started) {
  if (l == NULL) return;
  l->known = L_PRESENT;
  l->pod = pod;
  l->persistent = persist_seconds == -1;
  l->deadline = started + (long long)persist_seconds * 1000;
}

static void link_unknown(struct link *l) {
  if (l != NULL) l->known = L_UNKNOWN;
}

static void link_absent(struct link *l) {
  if (l != NULL) l->known = L_ABSENT;
}

/* ---- checking a call's status and error ------------------------------------------------- */

static sf_error err_storage;

/* err for the next call: NULL now and then, else filled with garbage the call must replace. */
static sf_error *gen_err(input *in) {
  if (u8(in) % 8 == 0) return NULL;
  memset(&err_storage, 'x', sizeof err_storage);
  err_storage.code = SF_INTERNAL;
  return &err_storage;
}

/* Outcomes per function, printed at exit when FUZZ_STATS is set. */
#define MAX_NAMED 64
static const char *named[MAX_NAMED];
static unsigned long outcomes[MAX_NAMED][10];

static void count_outcome(sf_status status) {
  int i;
  if ((int)status < 0 || (int)status > 9) return;
  for (i = 0; i < MAX_NAMED; i++) {
    if (named[i] == NULL) named[i] = current_op;
    if (named[i] == current_op) {
      outcomes[i][status]++;
      return;
    }
  }
}

/* Where the packed results landed: the caller's buffer, the library's block. */
static unsigned long packed_in_buffer, packed_in_block;

static void print_outcomes(void) {
  int i;
  fprintf(stderr, "packed results: %lu in the caller's buffer, %lu in the library's block\n",
          packed_in_buffer, packed_in_block);
  fprintf(stderr, "%-42s %10s %10s %10s\n", "calls", "SF_OK", "INVALID", "other");
  for (i = 0; i < MAX_NAMED && named[i] != NULL; i++) {
    unsigned long other = 0;
    int k;
    for (k = 2; k < 10; k++) other += outcomes[i][k];
    fprintf(stderr, "%-42s %10lu %10lu %10lu\n", named[i], outcomes[i][0], outcomes[i][1], other);
  }
}

static void check_error(sf_status status, const sf_error *err) {
  const char *nul;
  size_t len;
  REQUIRE((int)status >= 0 && (int)status <= 9, "status %d is not an sf_status", (int)status);
  REQUIRE(status != SF_INTERNAL, "SF_INTERNAL: %s", err != NULL ? err->message : "(err NULL)");
  count_outcome(status);
  if (err == NULL) return;
  REQUIRE(err->code == status, "err->code %d differs from the returned %d", (int)err->code,
          (int)status);
  nul = memchr(err->message, '\0', sizeof err->message);
  REQUIRE(nul != NULL, "err->message is not NUL-terminated within %zu bytes",
          sizeof err->message);
  len = (size_t)(nul - err->message);
  REQUIRE(utf8_valid((const unsigned char *)err->message, len),
          "err->message is not valid UTF-8");
  REQUIRE((status == SF_OK) == (len == 0), "%s with message \"%s\"", sf_status_name(status),
          err->message);
}

/* The status must be the predicted one; an invalid argument must have sent nothing. */
static void check_status(sf_status status, const sf_error *err, bool invalid) {
  check_error(status, err);
  if (invalid) {
    REQUIRE(status == SF_INVALID_ARGUMENT, "expected SF_INVALID_ARGUMENT, got %s: %s",
            sf_status_name(status), err != NULL ? err->message : "");
    nothing_sent("SF_INVALID_ARGUMENT");
  } else if (call_tainted) {
    REQUIRE(status == SF_OK || status == SF_UNEXPECTED_REPLY,
            "foreign data: expected SF_OK or SF_UNEXPECTED_REPLY, got %s: %s",
            sf_status_name(status), err != NULL ? err->message : "");
    maybe_sent();
  } else {
    REQUIRE(status == SF_OK, "expected SF_OK, got %s: %s", sf_status_name(status),
            err != NULL ? err->message : "");
    maybe_sent();
  }
}

static bool string_sane(const char *s) {
  return s != NULL && utf8_valid((const unsigned char *)s, strlen(s));
}

/* ---- the operations --------------------------------------------------------------------- */

/* A sentinel value outputs must overwrite. */
#define GARBAGE_POD 0x5EED

static sf_executor *gen_ex(input *in) { return u8(in) % 32 == 0 ? NULL : ex; }

/* Most outputs are real; now and then one is NULL (which must give SF_INVALID_ARGUMENT). */
static bool gen_out(input *in) { return u8(in) % 24 != 0; }

static void op_ping(input *in) {
  sf_executor *e = gen_ex(in);
  sf_error *err = gen_err(in);
  current_op = "sf_ping";
  mark();
  check_status(sf_ping(e, err), err, e == NULL);
}

static void check_pod_states(const sf_pod_states *s, const char *ns, const char *svc);

/* Reads the pod states of (ns, svc) and compares them with the model. */
static void read_pod_states(sf_executor *e, const char *ns, const char *svc, bool has_out,
                            sf_error *err) {
  sf_pod_states *s = (sf_pod_states *)&err_storage; /* garbage the call must replace */
  bool invalid = e == NULL || !valid_namespace(ns) || !valid_service(svc) || !has_out;
  sf_status status;
  current_op = "sf_get_service_state";
  call_tainted = !invalid && tainted('S', ns, svc);
  mark();
  status = sf_get_service_state(e, ns, svc, has_out ? &s : NULL, err);
  check_status(status, err, invalid);
  if (!has_out) return;
  if (status != SF_OK) {
    REQUIRE(s == NULL, "*out not NULL after a failure");
    return;
  }
  REQUIRE(s != NULL, "*out NULL after SF_OK");
  check_pod_states(s, ns, svc);
  sf_pod_states_free(s);
}

/* Pod states read for (ns, svc): sane, and equal to the model. */
static void check_pod_states(const sf_pod_states *s, const char *ns, const char *svc) {
  size_t n, i;
  int expected = 0, j;
  n = sf_pod_states_len(s);
  for (i = 0; i < n; i++) {
    int32_t pod = sf_pod_states_pod(s, i);
    const char *state = sf_pod_states_state(s, i);
    REQUIRE(pod >= 0, "entry %zu: pod %d", i, pod);
    REQUIRE(string_sane(state), "entry %zu: state not valid UTF-8", i);
    REQUIRE(i == 0 || sf_pod_states_pod(s, i - 1) < pod, "entries not sorted by pod");
    if (!model_lost && !call_tainted) {
      bool found = false;
      for (j = 0; j < n_pod_states; j++)
        if (pod_states[j].pod == pod && strcmp(pod_states[j].ns, ns) == 0 &&
            strcmp(pod_states[j].svc, svc) == 0) {
          REQUIRE(strcmp(pod_states[j].state, state) == 0,
                  "pod %d: state \"%s\", expected \"%s\"", pod, state, pod_states[j].state);
          found = true;
        }
      REQUIRE(found, "pod %d has state \"%s\" but none was set", pod, state);
    }
  }
  for (j = 0; j < n_pod_states; j++)
    if (strcmp(pod_states[j].ns, ns) == 0 && strcmp(pod_states[j].svc, svc) == 0) expected++;
  REQUIRE(model_lost || call_tainted || (size_t)expected == n, "%zu pod states, expected %d", n,
          expected);
  REQUIRE(sf_pod_states_pod(s, n) == SF_NO_POD && sf_pod_states_state(s, n) == NULL &&
              sf_pod_states_pod(s, SIZE_MAX) == SF_NO_POD &&
              sf_pod_states_state(s, SIZE_MAX) == NULL,
          "accessor out of range");
}

static void op_set_service_state(input *in) {
  sf_executor *e = gen_ex(in);
  const char *ns = gen_string(in, K_NS), *svc = gen_string(in, K_SVC);
  int32_t pod = gen_i32(in);
  const char *state = gen_string(in, K_STATE);
  sf_error *err = gen_err(in);
  bool invalid = e == NULL || !valid_namespace(ns) || !valid_service(svc) || pod < 0 ||
                 !valid_state(state);
  current_op = "sf_set_service_state";
  call_tainted = !invalid && tainted('S', ns, svc);
  mark();
  check_status(sf_set_service_state(e, ns, svc, pod, state, err), err, invalid);
  if (!invalid) {
    set_pod_state(ns, svc, pod, state);
    read_pod_states(ex, ns, svc, true, err); /* read your write */
  }
}

static void op_get_service_state(input *in) {
  sf_executor *e = gen_ex(in);
  const char *ns = gen_string(in, K_NS), *svc = gen_string(in, K_SVC);
  bool has_out = gen_out(in);
  read_pod_states(e, ns, svc, has_out, gen_err(in));
}

static void check_workload(const char *ns, const char *svc, const char *got) {
  struct workload *w;
  if (model_lost || call_tainted) return;
  w = find_workload(ns, svc, false);
  if (w == NULL || w->state == NULL)
    REQUIRE(got == NULL, "workload %s/%s: \"%s\", expected none", ns, svc, got);
  else
    REQUIRE(got != NULL && strcmp(got, w->state) == 0, "workload %s/%s: \"%s\", expected \"%s\"",
            ns, svc, got != NULL ? got : "(none)", w->state);
}

static void read_workload(sf_executor *e, const char *ns, const char *svc, bool has_out,
                          sf_error *err) {
  char *state = (char *)&err_storage;
  bool invalid = e == NULL || !valid_namespace(ns) || !valid_service(svc) || !has_out;
  sf_status status;
  current_op = "sf_get_workload_state";
  call_tainted = !invalid && tainted('W', ns, svc);
  mark();
  status = sf_get_workload_state(e, ns, svc, has_out ? &state : NULL, err);
  check_status(status, err, invalid);
  if (!has_out) return;
  if (status != SF_OK) {
    REQUIRE(state == NULL, "*out_state not NULL after a failure");
    return;
  }
  REQUIRE(state == NULL || string_sane(state), "state not valid UTF-8");
  check_workload(ns, svc, state);
  sf_string_free(state);
}

static void op_set_workload_state(input *in) {
  sf_executor *e = gen_ex(in);
  const char *ns = gen_string(in, K_NS), *svc = gen_string(in, K_SVC);
  const char *state = gen_string(in, K_STATE);
  sf_error *err = gen_err(in);
  bool invalid = e == NULL || !valid_namespace(ns) || !valid_service(svc) || !valid_state(state);
  current_op = "sf_set_workload_state";
  call_tainted = !invalid && tainted('W', ns, svc);
  mark();
  check_status(sf_set_workload_state(e, ns, svc, state, err), err, invalid);
  if (!invalid) {
    struct workload *w = find_workload(ns, svc, true);
    if (w != NULL) {
      free(w->state);
      w->state = dup_string(state);
    }
    read_workload(ex, ns, svc, true, err);
  }
}

static void op_get_workload_state(input *in) {
  sf_executor *e = gen_ex(in);
  const char *ns = gen_string(in, K_NS), *svc = gen_string(in, K_SVC);
  bool has_out = gen_out(in);
  read_workload(e, ns, svc, has_out, gen_err(in));
}

#define MAX_BATCH 8

/* A count for a batch of `n` real elements: usually n, now and then a huge count with a NULL
 * array (the only way to pass a count that does not match the array). */
static size_t gen_batch(input *in, size_t *count, bool *null_array) {
  size_t n = u8(in) % (MAX_BATCH + 1);
  uint8_t how = u8(in);
  *null_array = false;
  *count = n;
  if (how % 16 == 0) {
    static const size_t huge[] = {1, 2, SIZE_MAX, SIZE_MAX / 4, (size_t)1 << 62, 0};
    *null_array = true;
    *count = huge[(how >> 4) % 6];
    return 0;
  }
  return n;
}

static void op_get_workload_states(input *in) {
  sf_executor *e = gen_ex(in);
  const char *ns = gen_string(in, K_NS);
  const char *services[MAX_BATCH];
  char *out[MAX_BATCH];
  size_t count, n, i;
  bool null_array, null_out, invalid;
  sf_error *err;
  sf_status status;
  n = gen_batch(in, &count, &null_array);
  for (i = 0; i < n; i++) services[i] = gen_string(in, K_SVC);
  null_out = null_array || u8(in) % 16 == 0;
  err = gen_err(in);
  invalid = e == NULL || !valid_namespace(ns) || (count > 0 && (null_array || null_out));
  for (i = 0; i < n && !null_array; i++) invalid = invalid || !valid_service(services[i]);
  for (i = 0; i < MAX_BATCH; i++) out[i] = (char *)&err_storage;
  for (i = 0; i < n && !null_array; i++) call_tainted = call_tainted || tainted('W', ns, services[i]);
  current_op = "sf_get_workload_states";
  mark();
  status = sf_get_workload_states(e, ns, null_array ? NULL : services, count,
                                  null_out ? NULL : out, err);
  if (count == 0 && !invalid) {
    check_error(status, err);
    REQUIRE(status == SF_OK, "count 0: %s", sf_status_name(status));
    nothing_sent("count 0");
    return;
  }
  check_status(status, err, invalid);
  if (null_out) return;
  for (i = 0; i < n; i++) {
    if (status != SF_OK) {
      REQUIRE(out[i] == NULL, "out_states[%zu] not NULL after a failure", i);
      continue;
    }
    REQUIRE(out[i] == NULL || string_sane(out[i]), "out_states[%zu] not valid UTF-8", i);
    check_workload(ns, services[i], out[i]);
    sf_string_free(out[i]);
  }
}

/* Reads a link back with sf_get_linked_pod and sf_get_linked_pod_if_persist, and compares. */
static void check_link(struct link *l, const char *ns, const char *uid, const char *svc) {
  int32_t pod = GARBAGE_POD, persistent_pod = GARBAGE_POD;
  enum link_now known;
  sf_error err;
  current_op = "sf_get_linked_pod (read back)";
  mark();
  check_status(sf_get_linked_pod(ex, ns, uid, svc, &pod, &err), &err, false);
  known = link_now(l);
  REQUIRE(pod >= -1, "pod %d", pod);
  switch (known) {
    case N_ABSENT: REQUIRE(pod == SF_NO_POD, "pod %d, expected no link", pod); break;
    case N_PRESENT: REQUIRE(pod == l->pod, "pod %d, expected %d", pod, l->pod); break;
    case N_MAYBE:
      REQUIRE(pod == SF_NO_POD || pod == l->pod, "pod %d, expected %d or expired", pod, l->pod);
      if (pod == SF_NO_POD) link_absent(l);
      break;
    case N_UNKNOWN: break;
  }
  current_op = "sf_get_linked_pod_if_persist (read back)";
  mark();
  check_status(sf_get_linked_pod_if_persist(ex, ns, uid, svc, &persistent_pod, &err), &err,
               false);
  known = link_now(l);
  REQUIRE(persistent_pod >= -1, "pod %d", persistent_pod);
  if (known == N_ABSENT || ((known == N_PRESENT || known == N_MAYBE) && !l->persistent))
    REQUIRE(persistent_pod == SF_NO_POD, "persistent pod %d, expected none", persistent_pod);
  else if (known == N_PRESENT)
    REQUIRE(persistent_pod == l->pod, "persistent pod %d, expected %d", persistent_pod, l->pod);
}

struct link_call {
  sf_executor *e;
  const char *ns, *uid, *svc;
  int32_t pod, seconds;
  sf_error *err;
  bool invalid;
  struct link *model;
};

static void gen_link_call(input *in, struct link_call *c, bool persist) {
  c->e = gen_ex(in);
  c->ns = gen_string(in, K_NS);
  c->uid = gen_string(in, K_UID);
  c->svc = gen_string(in, K_SVC);
  c->pod = gen_i32(in);
  c->seconds = gen_i32(in);
  c->err = gen_err(in);
  c->invalid = c->e == NULL || !valid_namespace(c->ns) || !valid_uid(c->uid) ||
               !valid_service(c->svc) ||
               (persist ? !valid_persist(c->seconds) : !valid_keep(c->seconds));
  c->model = c->invalid ? NULL : find_link(c->ns, c->uid, c->svc);
  call_tainted = tainted('L', c->ns, c->uid);
}

/* Foreign data: a failed write on a uid whose keys hold it must leave both keys as they were
 * (never half overwritten). A digest of DUMP of both keys, taken when the call is tainted. */
static uint64_t fnv(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  while (n-- > 0) h = (h ^ *p++) * 1099511628211ULL;
  return h;
}

static uint64_t link_keys_digest(const char *ns, const char *uid, const char *svc) {
  static char reply[1 << 14];
  char key[1200];
  const char *argv[2];
  size_t lens[2];
  uint64_t h = 1469598103934665603ULL;
  int k;
  for (k = 0; k < 2; k++) {
    long len;
    char type;
    snprintf(key, sizeof key, "sf:{%s:lk:%s}%s", ns, uid, k == 0 ? "" : svc);
    argv[0] = "DUMP";
    argv[1] = key;
    lens[0] = 4;
    lens[1] = strlen(key);
    type = raw_commandv(2, argv, lens, reply, sizeof reply, &len);
    h = fnv(h, &type, 1);
    h = fnv(h, &len, sizeof len);
    if (len > 0) h = fnv(h, reply, (size_t)len < sizeof reply - 1 ? (size_t)len : sizeof reply - 1);
  }
  maybe_sent();
  return h;
}

static uint64_t untouched_before(const struct link_call *c) {
  return c->invalid || !call_tainted ? 0 : link_keys_digest(c->ns, c->uid, c->svc);
}

static void untouched_after(const struct link_call *c, sf_status status, uint64_t before) {
  if (c->invalid || !call_tainted || status == SF_OK) return;
  REQUIRE(link_keys_digest(c->ns, c->uid, c->svc) == before,
          "%s failed on foreign data, yet changed the uid's keys", sf_status_name(status));
}

static void op_set_linked_pod(input *in) {
  struct link_call c;
  int32_t previous = GARBAGE_POD;
  bool has_out;
  enum link_now before;
  long long started;
  uint64_t snapshot;
  sf_status status;
  gen_link_call(in, &c, true);
  has_out = gen_out(in);
  c.invalid = c.invalid || c.pod < 0 || !has_out;
  if (c.invalid) c.model = NULL;
  current_op = "sf_set_linked_pod";
  mark();
  before = link_now(c.model);
  started = now_ms();
  snapshot = untouched_before(&c);
  status = sf_set_linked_pod(c.e, c.ns, c.uid, c.svc, c.pod, c.seconds,
                             has_out ? &previous : NULL, c.err);
  check_status(status, c.err, c.invalid);
  untouched_after(&c, status, snapshot);
  if (!has_out) return;
  REQUIRE(previous >= -1, "previous %d", previous);
  if (status != SF_OK) {
    REQUIRE(previous == SF_NO_POD, "previous %d after a failure", previous);
    return;
  }
  if (before == N_ABSENT) REQUIRE(previous == SF_NO_POD, "previous %d, expected none", previous);
  if (before == N_PRESENT)
    REQUIRE(previous == c.model->pod, "previous %d, expected %d", previous, c.model->pod);
  if (before == N_MAYBE)
    REQUIRE(previous == SF_NO_POD || previous == c.model->pod, "previous %d", previous);
  link_written(c.model, c.pod, c.seconds, started);
  check_link(c.model, c.ns, c.uid, c.svc);
}

static void op_try_set_linked_pod(input *in) {
  struct link_call c;
  int32_t current = GARBAGE_POD;
  bool linked = true, has_linked, has_current;
  enum link_now before;
  long long started;
  uint64_t snapshot;
  sf_status status;
  gen_link_call(in, &c, true);
  has_linked = gen_out(in);
  has_current = gen_out(in);
  c.invalid = c.invalid || c.pod < 0 || !has_linked || !has_current;
  if (c.invalid) c.model = NULL;
  current_op = "sf_try_set_linked_pod";
  mark();
  before = link_now(c.model);
  started = now_ms();
  snapshot = untouched_before(&c);
  status = sf_try_set_linked_pod(c.e, c.ns, c.uid, c.svc, c.pod, c.seconds,
                                 has_linked ? &linked : NULL, has_current ? &current : NULL,
                                 c.err);
  check_status(status, c.err, c.invalid);
  untouched_after(&c, status, snapshot);
  if (status != SF_OK) {
    REQUIRE(!has_linked || !linked, "linked after a failure");
    REQUIRE(!has_current || current == SF_NO_POD, "current %d after a failure", current);
    return;
  }
  REQUIRE(current >= 0, "current %d", current);
  /* Refused only for a persistent link to another pod; persistent links never expire. */
  if (before == N_PRESENT && c.model->persistent && c.model->pod != c.pod) {
    REQUIRE(!linked && current == c.model->pod, "(%d, %d), expected refusal with %d", linked,
            current, c.model->pod);
  } else if (before != N_UNKNOWN) {
    REQUIRE(linked && current == c.pod, "(%d, %d), expected (1, %d)", linked, current, c.pod);
  } else {
    REQUIRE(linked ? current == c.pod : current != c.pod, "(%d, %d) for pod %d", linked, current,
            c.pod);
  }
  if (linked)
    link_written(c.model, c.pod, c.seconds, started);
  else if (c.model != NULL) {
    c.model->known = L_PRESENT;
    c.model->persistent = true;
    c.model->pod = current;
  }
  check_link(c.model, c.ns, c.uid, c.svc);
}

/* The outcome of a set-if-absent write of `pod` (also compute's), given what was known. */
static void if_absent_outcome(struct link *l, enum link_now before, int32_t pod,
                              int32_t seconds, long long started, int32_t current) {
  switch (before) {
    case N_ABSENT:
      REQUIRE(current == pod, "current %d, expected the new %d", current, pod);
      link_written(l, pod, seconds, started);
      break;
    case N_PRESENT:
      REQUIRE(current == l->pod, "current %d, expected the existing %d", current, l->pod);
      break;
    case N_MAYBE:
      REQUIRE(current == l->pod || current == pod, "current %d, expected %d or %d", current,
              l->pod, pod);
      if (current != l->pod)
        link_written(l, pod, seconds, started);
      else if (current == pod)
        link_unknown(l); /* kept, or expired and written again: cannot tell */
      break;
    case N_UNKNOWN: break;
  }
}

static void op_set_linked_pod_if_absent(input *in) {
  struct link_call c;
  int32_t current = GARBAGE_POD;
  bool has_out;
  enum link_now before;
  long long started;
  uint64_t snapshot;
  sf_status status;
  gen_link_call(in, &c, true);
  has_out = gen_out(in);
  c.invalid = c.invalid || c.pod < 0 || !has_out;
  if (c.invalid) c.model = NULL;
  current_op = "sf_set_linked_pod_if_absent";
  mark();
  before = link_now(c.model);
  started = now_ms();
  snapshot = untouched_before(&c);
  status = sf_set_linked_pod_if_absent(c.e, c.ns, c.uid, c.svc, c.pod, c.seconds,
                                       has_out ? &current : NULL, c.err);
  check_status(status, c.err, c.invalid);
  untouched_after(&c, status, snapshot);
  if (!has_out) return;
  if (status != SF_OK) {
    REQUIRE(current == SF_NO_POD, "current %d after a failure", current);
    return;
  }
  REQUIRE(current >= 0, "current %d", current);
  if (c.model != NULL) if_absent_outcome(c.model, before, c.pod, c.seconds, started, current);
  check_link(c.model, c.ns, c.uid, c.svc);
}

static void op_get_linked_pod(input *in, bool if_persist) {
  struct link_call c;
  int32_t pod = GARBAGE_POD;
  bool has_out;
  enum link_now before;
  sf_status status;
  gen_link_call(in, &c, true);
  has_out = gen_out(in);
  /* Reads take no pod or seconds. */
  c.invalid = c.e == NULL || !valid_namespace(c.ns) || !valid_uid(c.uid) || !valid_service(c.svc) ||
              !has_out;
  c.model = c.invalid ? NULL : find_link(c.ns, c.uid, c.svc);
  current_op = if_persist ? "sf_get_linked_pod_if_persist" : "sf_get_linked_pod";
  mark();
  status = if_persist
               ? sf_get_linked_pod_if_persist(c.e, c.ns, c.uid, c.svc, has_out ? &pod : NULL,
                                              c.err)
               : sf_get_linked_pod(c.e, c.ns, c.uid, c.svc, has_out ? &pod : NULL, c.err);
  check_status(status, c.err, c.invalid);
  if (!has_out) return;
  REQUIRE(pod >= -1, "pod %d", pod);
  if (status != SF_OK) {
    REQUIRE(pod == SF_NO_POD, "pod %d after a failure", pod);
    return;
  }
  before = link_now(c.model);
  if (before == N_UNKNOWN) return;
  if (before == N_ABSENT || (if_persist && !c.model->persistent)) {
    REQUIRE(pod == SF_NO_POD, "pod %d, expected none", pod);
  } else if (before == N_PRESENT) {
    REQUIRE(pod == c.model->pod, "pod %d, expected %d", pod, c.model->pod);
  } else {
    REQUIRE(pod == SF_NO_POD || pod == c.model->pod, "pod %d, expected %d or none", pod,
            c.model->pod);
    if (pod == SF_NO_POD) link_absent(c.model);
  }
}

static void op_batch_get_linked_pods(input *in) {
  sf_executor *e = gen_ex(in);
  const char *ns = gen_string(in, K_NS), *svc = gen_string(in, K_SVC);
  const char *uids[MAX_BATCH];
  int32_t pods[MAX_BATCH];
  size_t count, n, i;
  bool null_array, null_out, invalid;
  sf_error *err;
  sf_status status;
  n = gen_batch(in, &count, &null_array);
  for (i = 0; i < n; i++) uids[i] = gen_string(in, K_UID);
  null_out = null_array || u8(in) % 16 == 0;
  err = gen_err(in);
  invalid = e == NULL || !valid_namespace(ns) || !valid_service(svc) ||
            (count > 0 && (null_array || null_out));
  for (i = 0; i < n && !null_array; i++) invalid = invalid || !valid_uid(uids[i]);
  for (i = 0; i < MAX_BATCH; i++) pods[i] = GARBAGE_POD;
  for (i = 0; i < n && !null_array; i++) call_tainted = call_tainted || tainted('L', ns, uids[i]);
  current_op = "sf_batch_get_linked_pods";
  mark();
  status = sf_batch_get_linked_pods(e, ns, svc, null_array ? NULL : uids, count,
                                    null_out ? NULL : pods, err);
  if (count == 0 && !invalid) {
    check_error(status, err);
    REQUIRE(status == SF_OK, "count 0: %s", sf_status_name(status));
    nothing_sent("count 0");
    return;
  }
  check_status(status, err, invalid);
  if (null_out) return;
  for (i = 0; i < n; i++) {
    struct link *l;
    enum link_now known;
    REQUIRE(pods[i] >= -1, "pods[%zu] = %d", i, pods[i]);
    if (status != SF_OK) {
      REQUIRE(pods[i] == SF_NO_POD, "pods[%zu] = %d after a failure", i, pods[i]);
      continue;
    }
    l = find_link(ns, uids[i], svc);
    known = link_now(l);
    if (known == N_ABSENT) REQUIRE(pods[i] == SF_NO_POD, "pods[%zu] = %d, expected none", i, pods[i]);
    if (known == N_PRESENT)
      REQUIRE(pods[i] == l->pod, "pods[%zu] = %d, expected %d", i, pods[i], l->pod);
    if (known == N_MAYBE)
      REQUIRE(pods[i] == SF_NO_POD || pods[i] == l->pod, "pods[%zu] = %d", i, pods[i]);
  }
  for (i = n; i < MAX_BATCH; i++)
    REQUIRE(pods[i] == GARBAGE_POD, "pods[%zu] written past count", i);
}

static void op_remove_linked_pod(input *in, bool with_id) {
  struct link_call c;
  int32_t only_pod = with_id ? gen_i32(in) : 0;
  bool removed = true, has_out;
  enum link_now before;
  long long started;
  uint64_t snapshot;
  sf_status status;
  gen_link_call(in, &c, false);
  has_out = gen_out(in);
  c.invalid = c.invalid || only_pod < 0 || !has_out;
  if (c.invalid) c.model = NULL;
  current_op = with_id ? "sf_remove_linked_pod_with_id" : "sf_remove_linked_pod";
  mark();
  before = link_now(c.model);
  started = now_ms();
  snapshot = untouched_before(&c);
  status = with_id ? sf_remove_linked_pod_with_id(c.e, c.ns, c.uid, c.svc, c.seconds, only_pod,
                                                  has_out ? &removed : NULL, c.err)
                   : sf_remove_linked_pod(c.e, c.ns, c.uid, c.svc, c.seconds,
                                          has_out ? &removed : NULL, c.err);
  check_status(status, c.err, c.invalid);
  untouched_after(&c, status, snapshot);
  if (!has_out) return;
  if (status != SF_OK) {
    REQUIRE(!removed, "removed after a failure");
    return;
  }
  if (c.model == NULL) return;
  {
    struct link *l = c.model;
    bool matches = !with_id || (before != N_UNKNOWN && l->pod == only_pod);
    if (before == N_ABSENT) REQUIRE(!removed, "removed a link that did not exist");
    if (before == N_PRESENT) REQUIRE(removed == matches, "removed %d, expected %d", removed, matches);
    if (before == N_MAYBE) REQUIRE(!removed || matches, "removed a link to another pod");
    if (removed) {
      if (c.seconds > 0 && before != N_UNKNOWN)
        link_written(l, l->pod, c.seconds, started); /* kept as a temporary link */
      else if (c.seconds > 0 && with_id)
        link_written(l, only_pod, c.seconds, started);
      else if (c.seconds > 0)
        link_unknown(l);
      else
        link_absent(l);
    } else if (before == N_MAYBE && matches) {
      link_absent(l); /* it had expired */
    } else if (before == N_UNKNOWN && !with_id) {
      link_absent(l);
    }
  }
  check_link(c.model, c.ns, c.uid, c.svc);
}

/* The outcome of a touch of `pod` (0.3), given what was known: a temporary link to the pod now
 * expires `seconds` after the call started at the earliest, a persistent one stays; another pod
 * or no link: untouched. */
static void touch_outcome(struct link *l, enum link_now before, int32_t pod, int32_t seconds,
                          long long started, bool touched) {
  if (l == NULL) return;
  if (before == N_ABSENT) REQUIRE(!touched, "touched a link that did not exist");
  if (before == N_PRESENT)
    REQUIRE(touched == (l->pod == pod), "touched %d, linked to %d, touching %d", touched, l->pod,
            pod);
  if (before == N_MAYBE) REQUIRE(!touched || l->pod == pod, "touched a link to another pod");
  if (touched && before == N_UNKNOWN)
    link_unknown(l); /* linked to the pod, but persistent or not: cannot tell */
  else if (touched && !l->persistent)
    link_written(l, pod, seconds, started);
  else if (!touched && before == N_MAYBE && l->pod == pod)
    link_absent(l); /* it had expired */
}

static void op_touch_linked_pod(input *in) {
  struct link_call c;
  bool touched = true, has_out;
  enum link_now before;
  long long started;
  uint64_t snapshot;
  sf_status status;
  gen_link_call(in, &c, true);
  has_out = gen_out(in);
  /* persist_seconds is the new TTL: 1..=INT32_MAX, never -1. */
  c.invalid = c.invalid || c.pod < 0 || c.seconds < 1 || !has_out;
  if (c.invalid) c.model = NULL;
  current_op = "sf_touch_linked_pod";
  mark();
  before = link_now(c.model);
  started = now_ms();
  snapshot = untouched_before(&c);
  status = sf_touch_linked_pod(c.e, c.ns, c.uid, c.svc, c.pod, c.seconds,
                               has_out ? &touched : NULL, c.err);
  check_status(status, c.err, c.invalid);
  untouched_after(&c, status, snapshot);
  if (!has_out) return;
  if (status != SF_OK) {
    REQUIRE(!touched, "touched after a failure");
    return;
  }
  touch_outcome(c.model, before, c.pod, c.seconds, started, touched);
  check_link(c.model, c.ns, c.uid, c.svc);
}

static void check_service_links(const sf_service_links *l, const char *ns, const char *uid);

static void op_get_link_services(input *in) {
  sf_executor *e = gen_ex(in);
  const char *ns = gen_string(in, K_NS), *uid = gen_string(in, K_UID);
  bool has_out = gen_out(in);
  sf_error *err = gen_err(in);
  sf_service_links *l = (sf_service_links *)&err_storage;
  bool invalid = e == NULL || !valid_namespace(ns) || !valid_uid(uid) || !has_out;
  sf_status status;
  current_op = "sf_get_link_services";
  call_tainted = !invalid && tainted('L', ns, uid);
  mark();
  status = sf_get_link_services(e, ns, uid, has_out ? &l : NULL, err);
  check_status(status, err, invalid);
  if (!has_out) return;
  if (status != SF_OK) {
    REQUIRE(l == NULL, "*out not NULL after a failure");
    return;
  }
  REQUIRE(l != NULL, "*out NULL after SF_OK");
  check_service_links(l, ns, uid);
  sf_service_links_free(l);
}

/* The service links read for (ns, uid): sane, and equal to the model. */
static void check_service_links(const sf_service_links *l, const char *ns, const char *uid) {
  size_t n, i;
  int j;
  n = sf_service_links_len(l);
  for (i = 0; i < n; i++) {
    const char *svc = sf_service_links_service(l, i);
    int32_t pod = sf_service_links_pod(l, i);
    struct link *m;
    REQUIRE(svc != NULL && valid_service(svc), "entry %zu: bad service name", i);
    REQUIRE(pod >= 0, "entry %zu: pod %d", i, pod);
    REQUIRE(i == 0 || strcmp(sf_service_links_service(l, i - 1), svc) < 0,
            "entries not sorted by service");
    m = find_link(ns, uid, svc);
    switch (link_now(m)) {
      case N_PRESENT:
      case N_MAYBE:
        REQUIRE(m->persistent && m->pod == pod, "service %s: %d listed, expected %s %d", svc, pod,
                m->persistent ? "persistent" : "temporary", m->pod);
        break;
      case N_ABSENT: fail("service %s listed, but it has no link", svc); break;
      case N_UNKNOWN: break;
    }
  }
  if (!model_lost && !call_tainted)
    for (j = 0; j < n_links; j++) {
      const struct link *m = &links[j];
      bool listed = false;
      if (strcmp(m->ns, ns) != 0 || strcmp(m->uid, uid) != 0) continue;
      if (m->known != L_PRESENT || !m->persistent) continue;
      for (i = 0; i < n; i++) listed = listed || strcmp(sf_service_links_service(l, i), m->svc) == 0;
      REQUIRE(listed, "persistent link to %s not listed", m->svc);
    }
  REQUIRE(sf_service_links_service(l, n) == NULL && sf_service_links_pod(l, n) == SF_NO_POD &&
              sf_service_links_service(l, SIZE_MAX) == NULL,
          "accessor out of range");
}

static void op_compute_linked_pod(input *in) {
  struct link_call c;
  int32_t cpods[MAX_BATCH];
  int64_t cloads[MAX_BATCH];
  size_t count, n, i, best = 0;
  bool null_array, null_loads, has_out;
  int32_t pod = GARBAGE_POD;
  enum link_now before;
  long long started;
  uint64_t snapshot;
  sf_status status;
  gen_link_call(in, &c, true);
  n = gen_batch(in, &count, &null_array);
  for (i = 0; i < n; i++) {
    cpods[i] = u8(in) % 64 == 0 ? gen_i32(in) : (int32_t)(u8(in) % 8);
    cloads[i] = gen_i64(in);
  }
  null_loads = null_array || u8(in) % 32 == 0;
  has_out = gen_out(in);
  c.invalid = c.invalid || !has_out || (count > 0 && (null_array || null_loads));
  for (i = 0; i < n && !null_array; i++) c.invalid = c.invalid || cpods[i] < 0;
  if (c.invalid) c.model = NULL;
  for (i = 1; i < n; i++)
    if (cloads[i] < cloads[best] || (cloads[i] == cloads[best] && cpods[i] < cpods[best]))
      best = i;
  current_op = "sf_compute_linked_pod";
  mark();
  before = link_now(c.model);
  started = now_ms();
  snapshot = untouched_before(&c);
  status = sf_compute_linked_pod(c.e, c.ns, c.uid, c.svc, null_array ? NULL : cpods,
                                 null_loads ? NULL : cloads, count, c.seconds,
                                 has_out ? &pod : NULL, c.err);
  check_status(status, c.err, c.invalid);
  untouched_after(&c, status, snapshot);
  if (!has_out) return;
  REQUIRE(pod >= -1, "pod %d", pod);
  if (status != SF_OK) {
    REQUIRE(pod == SF_NO_POD, "pod %d after a failure", pod);
    return;
  }
  if (c.model == NULL) return;
  if (count == 0) {
    /* No candidates: the existing link, or none and nothing written. */
    if (before == N_ABSENT) REQUIRE(pod == SF_NO_POD, "pod %d, expected none", pod);
    if (before == N_PRESENT) REQUIRE(pod == c.model->pod, "pod %d, expected %d", pod, c.model->pod);
    if (before == N_MAYBE && pod == SF_NO_POD) link_absent(c.model);
    if (before == N_UNKNOWN && pod == SF_NO_POD) link_absent(c.model);
  } else {
    REQUIRE(pod >= 0, "pod %d with %zu candidates", pod, count);
    if_absent_outcome(c.model, before, cpods[best], c.seconds, started, pod);
  }
  check_link(c.model, c.ns, c.uid, c.svc);
}

/* Configuration: parsing and setters only (never sf_executor_open: a fuzzed URL could point
 * anywhere). */
static void op_config(input *in) {
  const char *url = gen_url(in);
  sf_config *cfg = (sf_config *)&err_storage;
  bool has_out = gen_out(in);
  sf_error *err = gen_err(in);
  sf_status status;
  int k;
  current_op = "sf_config_new";
  status = sf_config_new(url, has_out ? &cfg : NULL, err);
  check_error(status, err);
  REQUIRE(status == SF_OK || status == SF_INVALID_ARGUMENT || status == SF_CONFIG,
          "sf_config_new: %s", sf_status_name(status));
  if (url == NULL || !has_out || !utf8_valid((const unsigned char *)url, strlen(url)))
    REQUIRE(status == SF_INVALID_ARGUMENT, "expected SF_INVALID_ARGUMENT");
  if (!has_out) return;
  if (status != SF_OK) {
    REQUIRE(cfg == NULL, "*out not NULL after a failure");
    return;
  }
  REQUIRE(cfg != NULL, "*out NULL after SF_OK");
  for (k = u8(in) % 6; k > 0; k--) {
    uint32_t value = u8(in) % 4 == 0 ? u32(in) : u8(in) % 20;
    sf_config *target = u8(in) % 16 == 0 ? NULL : cfg;
    err = gen_err(in);
    current_op = "sf_config_set_*";
    switch (u8(in) % 7) {
      case 0: status = sf_config_set_pool_max_size(target, value, err); break;
      case 1: status = sf_config_set_pool_min_idle(target, value, err); break;
      case 2: status = sf_config_set_connect_timeout_ms(target, value, err); break;
      case 3: status = sf_config_set_command_timeout_ms(target, value, err); break;
      case 4: status = sf_config_set_pool_wait_timeout_ms(target, value, err); break;
      case 5:
        status = sf_config_set_sentinel_master_auth(target, gen_string(in, K_UID),
                                                    gen_string(in, K_STATE), err);
        break;
      default: {
        /* Only fixed paths: a fuzzed path could name a FIFO or /dev/zero. */
        static const char *const paths[] = {"/nonexistent/ca.pem", "", "/dev/null",
                                            "/etc/hostname", "ab\xff", NULL};
        status = sf_config_set_tls_ca_file(target, paths[u8(in) % 6], err);
        break;
      }
    }
    check_error(status, err);
    if (target == NULL)
      REQUIRE(status == SF_INVALID_ARGUMENT, "a NULL config gave %s", sf_status_name(status));
  }
  sf_config_free(cfg);
}

static void op_config_topology(input *in) {
  const char *urls[MAX_BATCH];
  size_t count, n, i;
  bool null_array, sentinel = u8(in) & 1, has_out = gen_out(in);
  const char *master = sentinel ? gen_string(in, K_SVC) : NULL;
  sf_config *cfg = (sf_config *)&err_storage;
  sf_error *err;
  sf_status status;
  n = gen_batch(in, &count, &null_array);
  for (i = 0; i < n; i++) urls[i] = gen_url(in);
  err = gen_err(in);
  current_op = sentinel ? "sf_config_new_sentinel" : "sf_config_new_cluster";
  status = sentinel ? sf_config_new_sentinel(null_array ? NULL : urls, count, master,
                                             has_out ? &cfg : NULL, err)
                    : sf_config_new_cluster(null_array ? NULL : urls, count,
                                            has_out ? &cfg : NULL, err);
  check_error(status, err);
  REQUIRE(status == SF_OK || status == SF_INVALID_ARGUMENT || status == SF_CONFIG, "%s",
          sf_status_name(status));
  if (!has_out || (null_array && count > 0))
    REQUIRE(status == SF_INVALID_ARGUMENT, "expected SF_INVALID_ARGUMENT, got %s",
            sf_status_name(status));
  if (!has_out) return;
  if (status != SF_OK) {
    REQUIRE(cfg == NULL, "*out not NULL after a failure");
    return;
  }
  sf_config_free(cfg);
}

/* The statistics of the shared executor: counters never decrease, failures never exceed calls,
 * idle connections never exceed open ones (at most the pool's default size); NULLs refused. */
static void check_stats(void) {
  static sf_stats last;
  sf_stats now;
  sf_error err;
  sf_status status;
  current_op = "sf_executor_stats";
  status = sf_executor_stats(ex, &now, &err);
  check_error(status, &err);
  REQUIRE(status == SF_OK, "stats: %s", err.message);
  REQUIRE(now.failed_calls <= now.calls && now.pool_timeouts <= now.failed_calls,
          "stats: %llu failed of %llu calls, %llu pool timeouts",
          (unsigned long long)now.failed_calls, (unsigned long long)now.calls,
          (unsigned long long)now.pool_timeouts);
  REQUIRE(now.idle_connections <= now.connections && now.connections <= 16,
          "stats: %u idle of %u connections", now.idle_connections, now.connections);
  REQUIRE(now.calls >= last.calls && now.failed_calls >= last.failed_calls &&
              now.retries >= last.retries && now.connects >= last.connects &&
              now.connect_failures >= last.connect_failures &&
              now.script_reloads >= last.script_reloads && now.connects >= 1,
          "stats: a counter went down");
  last = now;
  REQUIRE(sf_executor_stats(NULL, &now, NULL) == SF_INVALID_ARGUMENT, "stats of NULL");
  REQUIRE(sf_executor_stats(ex, NULL, NULL) == SF_INVALID_ARGUMENT, "stats into NULL");
}

static void op_misc(input *in) {
  int value = (int)u32(in);
  const char *name = sf_status_name((sf_status)value);
  current_op = "sf_status_name / accessors on NULL";
  REQUIRE(name != NULL && string_sane(name), "sf_status_name(%d)", value);
  REQUIRE((value >= 0 && value <= 9) == (strcmp(name, "SF_UNKNOWN") != 0), "sf_status_name(%d) = %s",
          value, name);
  REQUIRE(sf_version() != NULL && string_sane(sf_version()), "sf_version");
  REQUIRE(sf_pod_states_len(NULL) == 0 && sf_pod_states_pod(NULL, 0) == SF_NO_POD &&
              sf_pod_states_state(NULL, (size_t)u32(in)) == NULL,
          "pod states accessors on NULL");
  REQUIRE(sf_service_links_len(NULL) == 0 && sf_service_links_pod(NULL, 0) == SF_NO_POD &&
              sf_service_links_service(NULL, (size_t)u32(in)) == NULL,
          "service links accessors on NULL");
  sf_pod_states_free(NULL);
  sf_service_links_free(NULL);
  sf_string_free(NULL);
  sf_config_free(NULL);
  sf_executor_close(NULL);
  check_stats();
}

/* The scripts vanish from the server's cache (as after a restart or SCRIPT FLUSH): the next
 * script call must load them again and succeed. */
static void op_script_flush(input *in) {
  char reply[64];
  (void)in;
  current_op = "SCRIPT FLUSH";
  REQUIRE(raw_command(reply, sizeof reply, "SCRIPT", "FLUSH", NULL) == '+', "SCRIPT FLUSH");
  scripts_flushed = true;
  maybe_sent();
}

/* Writes foreign data behind the library's back into keys the dictionary names meet: a link
 * that is not a pod ordinal, keys of the wrong type, pod-state fields that are not ordinals,
 * states that are not UTF-8 or hold a NUL. Calls on those keys may then also fail with
 * SF_UNEXPECTED_REPLY (and their results are not compared with the model). */
static void op_corrupt(input *in) {
  static const char *const values[] = {"",   "abc", "-1", "+3", "3.0", "2147483648", "99999999999",
                                       " 3", "\xff\xfe", "7", "03", "x"};
  const char *ns = dict[K_NS][u8(in) % 4], *uid = dict[K_UID][u8(in) % 4];
  const char *svc = dict[K_SVC][u8(in) % 4];
  uint8_t kind = u8(in), sel = u8(in);
  const char *field = values[u8(in) % 12];
  char key[700], value[32], reply[256];
  const char *argv[4];
  size_t lens[4], vlen, i;
  if (sel % 16 < 12) {
    vlen = strlen(values[sel % 16]);
    memcpy(value, values[sel % 16], vlen);
  } else if (sel % 16 == 12) {
    vlen = 3;
    memcpy(value, "3\0x", 3);
  } else {
    vlen = u8(in) % 16;
    for (i = 0; i < vlen; i++) value[i] = (char)u8(in);
  }
  current_op = "corrupt (raw write)";
  switch (kind % 8) {
    case 0:
    case 1:
      snprintf(key, sizeof key, "sf:{%s:lk:%s}%s", ns, uid, svc);
      taint('L', ns, uid);
      break;
    case 2:
    case 3:
      snprintf(key, sizeof key, "sf:{%s:lk:%s}", ns, uid);
      taint('L', ns, uid);
      break;
    case 4:
    case 5:
      snprintf(key, sizeof key, "sf:{%s:state:%s}", ns, svc);
      taint('S', ns, svc);
      break;
    default:
      snprintf(key, sizeof key, "sf:{%s:workload:%s}", ns, svc);
      taint('W', ns, svc);
      break;
  }
  argv[1] = key;
  lens[1] = strlen(key);
  if ((kind >> 3) & 1) { /* replace the key whatever its type */
    argv[0] = "DEL";
    lens[0] = 3;
    raw_commandv(2, argv, lens, reply, sizeof reply, NULL);
  }
  /* Links and workload states are strings, the others hashes; odd kinds use the other type. */
  if ((kind % 8 == 0 || kind % 8 == 3 || kind % 8 == 5 || kind % 8 == 6)) {
    argv[0] = "SET";
    lens[0] = 3;
    argv[2] = value;
    lens[2] = vlen;
    raw_commandv(3, argv, lens, reply, sizeof reply, NULL);
  } else {
    argv[0] = "HSET";
    lens[0] = 4;
    argv[2] = kind % 8 == 2 ? svc : field;
    lens[2] = strlen(argv[2]);
    argv[3] = value;
    lens[3] = vlen;
    raw_commandv(4, argv, lens, reply, sizeof reply, NULL); /* WRONGTYPE on a string: fine */
  }
  maybe_sent();
}

/* Opens a second executor on the same server with fuzzed pool sizes and timeouts (the URL
 * stays REDIS_URL: a fuzzed URL could point anywhere). The setters' outcomes are predicted; a
 * valid config must open (or, with timeouts of a few milliseconds, time out) and answer. */
static const char *redis_url;

static bool transient(sf_status status) {
  return status == SF_TIMEOUT || status == SF_CONNECTION || status == SF_POOL_TIMEOUT;
}

static void op_open(input *in) {
  sf_config *cfg = NULL;
  sf_executor *e2 = (sf_executor *)&err_storage;
  sf_error err;
  sf_status status;
  uint32_t max_size = 16, min_idle = 0, shortest = 1000;
  int k;
  current_op = "sf_config_new (REDIS_URL)";
  REQUIRE(sf_config_new(redis_url, &cfg, &err) == SF_OK, "%s", err.message);
  for (k = u8(in) % 6; k > 0; k--) {
    uint8_t which = u8(in) % 5, how = u8(in) % 4;
    uint32_t value = how == 0 ? u32(in) : how == 1 ? 0 : how == 2 ? u8(in) * 64u : u8(in) % 8;
    bool invalid;
    current_op = "sf_config_set_* (then opened)";
    switch (which) {
      case 0:
        invalid = value == 0 || value > 10000 || value < min_idle;
        status = sf_config_set_pool_max_size(cfg, value, &err);
        if (!invalid) max_size = value;
        break;
      case 1:
        invalid = value > max_size;
        status = sf_config_set_pool_min_idle(cfg, value, &err);
        if (!invalid) min_idle = value;
        break;
      default:
        invalid = value == 0;
        status = which == 2   ? sf_config_set_connect_timeout_ms(cfg, value, &err)
                 : which == 3 ? sf_config_set_command_timeout_ms(cfg, value, &err)
                              : sf_config_set_pool_wait_timeout_ms(cfg, value, &err);
        if (!invalid && value < shortest) shortest = value;
        break;
    }
    check_error(status, &err);
    REQUIRE(status == (invalid ? SF_INVALID_ARGUMENT : SF_OK), "setter %d with %u: %s", which,
            value, sf_status_name(status));
  }
  if (min_idle > 4) { /* keep the server's connection count small */
    sf_config_free(cfg);
    return;
  }
  current_op = "sf_executor_open (fuzzed config)";
  status = sf_executor_open(cfg, &e2, &err);
  sf_config_free(cfg);
  maybe_sent();
  check_error(status, &err);
  REQUIRE(status == SF_OK || (shortest < 100 && transient(status)), "open: %s: %s",
          sf_status_name(status), err.message);
  if (status != SF_OK) {
    REQUIRE(e2 == NULL, "*out not NULL after a failure");
    return;
  }
  current_op = "sf_ping (fuzzed config)";
  status = sf_ping(e2, &err);
  check_error(status, &err);
  REQUIRE(status == SF_OK || (shortest < 100 && transient(status)), "ping: %s: %s",
          sf_status_name(status), err.message);
  sf_executor_close(e2);
  /* A closed handle is refused, not used (it stays allocated for the next open). */
  current_op = "sf_ping (closed executor)";
  status = sf_ping(e2, &err);
  check_error(status, &err);
  REQUIRE(status == SF_INVALID_ARGUMENT, "ping after close: %s", sf_status_name(status));
  {
    sf_batch_op op;
    sf_packed p = {(const uint8_t *)&err_storage, 1, 1, NULL};
    memset(&op, 0x5A, sizeof op);
    op.kind = SF_BATCH_GET_LINKED_POD;
    op.ns = "a";
    op.uid = "u1";
    op.service = "chat";
    current_op = "sf_execute_batch (closed executor)";
    status = sf_execute_batch(e2, &op, 1, &err);
    check_error(status, &err);
    current_op = "sf_execute_batch entry (closed executor)";
    check_error(op.status, &op.error);
    REQUIRE(status == SF_INVALID_ARGUMENT && op.status == SF_INVALID_ARGUMENT &&
                op.out_pod == SF_NO_POD && op.out_text == NULL && op.out_states == NULL &&
                op.out_links == NULL,
            "batch after close: %s, entry %s", sf_status_name(status), sf_status_name(op.status));
    current_op = "sf_get_link_services_packed (closed executor)";
    status = sf_get_link_services_packed(e2, "a", "u1", NULL, 0, &p, &err);
    check_error(status, &err);
    REQUIRE(status == SF_INVALID_ARGUMENT && p.data == NULL && p.size == 0 && p.count == 0,
            "packed read after close: %s", sf_status_name(status));
  }
}

/* ---- packed reads (extras of 0.2) ------------------------------------------------------- */

static uint8_t no_bytes; /* a non-NULL buffer of capacity 0 when malloc(0) gives NULL */

/* The caller's buffer of a packed read: NULL with capacity 0 (always the library's block,
 * unless there are no entries), NULL with a capacity > 0 (SF_INVALID_ARGUMENT), or an
 * exact-size allocation of a fuzzed capacity (0, too small, or roomy), so that a write past it
 * is an ASan report. Freed by release_buffer. */
static uint8_t *gen_packed_buffer(input *in, size_t *capacity, bool *invalid) {
  uint8_t how = u8(in);
  uint8_t *buffer;
  *invalid = false;
  switch (how % 8) {
    case 0:
      *capacity = 0;
      return NULL;
    case 1:
      *capacity = how & 0x80 ? SIZE_MAX : (size_t)1 + (how >> 4);
      *invalid = true;
      return NULL;
    case 2: *capacity = 0; break;
    case 3: *capacity = (size_t)u8(in) % 24; break;
    case 4: *capacity = (size_t)u8(in) * 16; break;
    default: *capacity = (size_t)u8(in) + 8; break;
  }
  buffer = malloc(*capacity);
  if (buffer == NULL && *capacity == 0) return &no_bytes;
  REQUIRE(buffer != NULL, "out of memory");
  memset(buffer, 0xA5, *capacity);
  return buffer;
}

static void release_buffer(uint8_t *buffer) {
  if (buffer != &no_bytes) free(buffer);
}

/* A result the call must overwrite (zeroed on failure, filled on success). */
static void garbage_packed(sf_packed *p) {
  p->data = (const uint8_t *)&err_storage;
  p->size = 77;
  p->count = 7;
  p->allocated = (uint8_t *)&err_storage;
}

static bool packed_zeroed(const sf_packed *p) {
  return p->data == NULL && p->size == 0 && p->count == 0 && p->allocated == NULL;
}

#define MAX_PACKED 512
struct packed_entry {
  int32_t key;
  const char *text; /* NULL: absent */
  size_t length;
};
static struct packed_entry packed_entries[MAX_PACKED];

/* Walks a filled result with sf_packed_next and checks it against its own bytes and the
 * buffer rules: where it lives (the caller's buffer exactly when it fits), each entry's
 * header, NUL-terminated UTF-8 texts inside the result, `count` entries filling `size` bytes,
 * the end, NULL arguments, and cursors that are not at an entry (bounds checked). The entries
 * land in packed_entries; returns their number. */
static size_t walk_packed(const sf_packed *p, const uint8_t *buffer, size_t capacity) {
  size_t cursor = 0, n = 0, at, first_next = 0;
  int32_t key;
  const char *text;
  size_t length;
  if (p->size <= capacity)
    REQUIRE(p->data == buffer && p->allocated == NULL,
            "%zu bytes fit in the buffer of %zu, yet data %p, allocated %p (buffer %p)", p->size,
            capacity, (const void *)p->data, (void *)p->allocated, (const void *)buffer);
  else
    REQUIRE(p->data != NULL && p->allocated == p->data,
            "%zu bytes do not fit in %zu, yet data %p, allocated %p", p->size, capacity,
            (const void *)p->data, (void *)p->allocated);
  if (p->allocated != NULL)
    packed_in_block++;
  else
    packed_in_buffer++;
  REQUIRE(p->count <= MAX_PACKED && p->count <= p->size / 8, "count %zu in %zu bytes", p->count,
          p->size);
  for (;;) {
    size_t before = cursor;
    int32_t head_key, head_length;
    key = GARBAGE_POD;
    text = (const char *)&err_storage;
    length = 12345;
    if (!sf_packed_next(p, &cursor, &key, &text, &length)) {
      REQUIRE(cursor == before && key == SF_NO_POD && text == NULL && length == 0,
              "after the last entry: cursor %zu (was %zu), key %d, text %p, length %zu", cursor,
              before, key, (const void *)text, length);
      break;
    }
    REQUIRE(n < p->count, "more entries than count %zu", p->count);
    REQUIRE(before + 8 <= p->size, "entry %zu at %zu past size %zu", n, before, p->size);
    memcpy(&head_key, p->data + before, 4);
    memcpy(&head_length, p->data + before + 4, 4);
    REQUIRE(head_key == key, "entry %zu: key %d, bytes say %d", n, key, head_key);
    if (text == NULL) {
      REQUIRE(head_length == -1 && length == 0 && cursor == before + 8,
              "entry %zu: absent text with length %d/%zu, next at %zu", n, head_length, length,
              cursor);
    } else {
      REQUIRE(head_length >= 0 && (size_t)head_length == length, "entry %zu: length %zu, bytes say %d",
              n, length, head_length);
      REQUIRE(text == (const char *)p->data + before + 8 && cursor == before + 8 + length + 1 &&
                  cursor <= p->size,
              "entry %zu: text at %p, next at %zu of %zu", n, (const void *)text, cursor, p->size);
      REQUIRE(text[length] == '\0' && strlen(text) == length &&
                  utf8_valid((const unsigned char *)text, length),
              "entry %zu: text not NUL-terminated UTF-8 of %zu bytes", n, length);
    }
    if (n == 0) first_next = cursor;
    packed_entries[n].key = key;
    packed_entries[n].text = text;
    packed_entries[n].length = length;
    n++;
  }
  REQUIRE(n == p->count && cursor == p->size, "%zu entries ending at %zu; count %zu, size %zu", n,
          cursor, p->count, p->size);
  /* NULL arguments, optional outputs, the end and beyond. */
  at = 0;
  REQUIRE(!sf_packed_next(NULL, &at, &key, &text, &length) && at == 0 && key == SF_NO_POD &&
              text == NULL && length == 0,
          "sf_packed_next(NULL)");
  REQUIRE(!sf_packed_next(p, NULL, NULL, NULL, NULL), "sf_packed_next with a NULL cursor");
  REQUIRE(sf_packed_next(p, &at, NULL, NULL, NULL) == (n > 0) && at == first_next,
          "sf_packed_next without outputs");
  for (at = 0; at <= p->size && at < 96; at++) { /* cursors inside entries: bounds only */
    size_t moved = at;
    if (sf_packed_next(p, &moved, &key, &text, &length)) {
      REQUIRE(moved > at && moved <= p->size, "cursor %zu moved to %zu of %zu", at, moved,
              p->size);
      REQUIRE(text == NULL || ((const uint8_t *)text >= p->data &&
                               (const uint8_t *)text + length < p->data + p->size &&
                               text[length] == '\0'),
              "cursor %zu: text outside the result", at);
    } else {
      REQUIRE(moved == at, "refused cursor %zu moved to %zu", at, moved);
    }
  }
  at = SIZE_MAX;
  REQUIRE(!sf_packed_next(p, &at, NULL, NULL, NULL) && at == SIZE_MAX, "cursor SIZE_MAX");
  return n;
}

/* Frees a result, and checks that the free zeroed it and that a second one is harmless. */
static void free_packed(sf_packed *p) {
  sf_packed_free(p);
  REQUIRE(packed_zeroed(p), "sf_packed_free did not zero the result");
  sf_packed_free(p);
  sf_packed_free(NULL);
}

/* The common checks of a packed read's outcome; true when `*p` holds entries to compare. */
static bool packed_outcome(sf_status status, bool has_out, const sf_packed *p,
                           const uint8_t *buffer, size_t capacity, size_t *n) {
  if (!has_out) return false;
  if (status != SF_OK) {
    REQUIRE(packed_zeroed(p), "*out not zeroed after a failure");
    return false;
  }
  *n = walk_packed(p, buffer, capacity);
  return true;
}

static void op_get_service_state_packed(input *in) {
  sf_executor *e = gen_ex(in);
  const char *ns = gen_string(in, K_NS), *svc = gen_string(in, K_SVC);
  bool has_out = gen_out(in), bad_buffer, invalid, filled;
  size_t capacity, n = 0, i;
  uint8_t *buffer = gen_packed_buffer(in, &capacity, &bad_buffer);
  sf_error *err = gen_err(in), err2;
  sf_packed p;
  sf_pod_states *s = NULL;
  sf_status status, status2;
  garbage_packed(&p);
  invalid = e == NULL || !valid_namespace(ns) || !valid_service(svc) || !has_out || bad_buffer;
  current_op = "sf_get_service_state_packed";
  call_tainted = !invalid && tainted('S', ns, svc);
  mark();
  status = sf_get_service_state_packed(e, ns, svc, buffer, capacity, has_out ? &p : NULL, err);
  check_status(status, err, invalid);
  filled = packed_outcome(status, has_out, &p, buffer, capacity, &n);
  if (!invalid) {
    /* The same read, not packed: the same status, the same entries (and those equal the
     * model). Pod states carry no TTL, so nothing changes in between. */
    current_op = "sf_get_service_state_packed (vs sf_get_service_state)";
    status2 = sf_get_service_state(ex, ns, svc, &s, &err2);
    check_error(status2, &err2);
    maybe_sent();
    REQUIRE(status2 == status, "packed %s, not packed %s", sf_status_name(status),
            sf_status_name(status2));
    if (filled) {
      check_pod_states(s, ns, svc);
      REQUIRE(sf_pod_states_len(s) == n, "%zu packed entries, %zu not packed", n,
              sf_pod_states_len(s));
      for (i = 0; i < n; i++)
        REQUIRE(packed_entries[i].key == sf_pod_states_pod(s, i) && packed_entries[i].text != NULL &&
                    strcmp(packed_entries[i].text, sf_pod_states_state(s, i)) == 0,
                "entry %zu: packed (%d, %s), not packed (%d, %s)", i, packed_entries[i].key,
                packed_entries[i].text ? packed_entries[i].text : "(absent)",
                sf_pod_states_pod(s, i), sf_pod_states_state(s, i));
    }
    sf_pod_states_free(s);
  }
  if (has_out) free_packed(&p);
  release_buffer(buffer);
}

static void op_get_link_services_packed(input *in) {
  sf_executor *e = gen_ex(in);
  const char *ns = gen_string(in, K_NS), *uid = gen_string(in, K_UID);
  bool has_out = gen_out(in), bad_buffer, invalid, filled;
  size_t capacity, n = 0, i;
  uint8_t *buffer = gen_packed_buffer(in, &capacity, &bad_buffer);
  sf_error *err = gen_err(in), err2;
  sf_packed p;
  sf_service_links *l = NULL;
  sf_status status, status2;
  garbage_packed(&p);
  invalid = e == NULL || !valid_namespace(ns) || !valid_uid(uid) || !has_out || bad_buffer;
  current_op = "sf_get_link_services_packed";
  call_tainted = !invalid && tainted('L', ns, uid);
  mark();
  status = sf_get_link_services_packed(e, ns, uid, buffer, capacity, has_out ? &p : NULL, err);
  check_status(status, err, invalid);
  filled = packed_outcome(status, has_out, &p, buffer, capacity, &n);
  if (!invalid) {
    /* Only persistent links are listed, so no TTL runs out in between. */
    current_op = "sf_get_link_services_packed (vs sf_get_link_services)";
    status2 = sf_get_link_services(ex, ns, uid, &l, &err2);
    check_error(status2, &err2);
    maybe_sent();
    REQUIRE(status2 == status, "packed %s, not packed %s", sf_status_name(status),
            sf_status_name(status2));
    if (filled) {
      check_service_links(l, ns, uid);
      REQUIRE(sf_service_links_len(l) == n, "%zu packed entries, %zu not packed", n,
              sf_service_links_len(l));
      for (i = 0; i < n; i++)
        REQUIRE(packed_entries[i].key == sf_service_links_pod(l, i) &&
                    packed_entries[i].text != NULL &&
                    strcmp(packed_entries[i].text, sf_service_links_service(l, i)) == 0,
                "entry %zu: packed (%d, %s), not packed (%d, %s)", i, packed_entries[i].key,
                packed_entries[i].text ? packed_entries[i].text : "(absent)",
                sf_service_links_pod(l, i), sf_service_links_service(l, i));
    }
    sf_service_links_free(l);
  }
  if (has_out) free_packed(&p);
  release_buffer(buffer);
}

static void op_get_workload_states_packed(input *in) {
  sf_executor *e = gen_ex(in);
  const char *ns = gen_string(in, K_NS);
  const char *services[MAX_BATCH];
  char *plain[MAX_BATCH];
  size_t count, n, i, got = 0, capacity;
  bool null_array, has_out, bad_buffer, invalid;
  uint8_t *buffer;
  sf_error *err, err2;
  sf_packed p;
  sf_status status, status2;
  n = gen_batch(in, &count, &null_array);
  for (i = 0; i < n; i++) services[i] = gen_string(in, K_SVC);
  has_out = gen_out(in);
  buffer = gen_packed_buffer(in, &capacity, &bad_buffer);
  err = gen_err(in);
  garbage_packed(&p);
  invalid = e == NULL || !valid_namespace(ns) || !has_out || bad_buffer ||
            (count > 0 && null_array);
  for (i = 0; i < n && !null_array; i++) invalid = invalid || !valid_service(services[i]);
  for (i = 0; i < n && !invalid; i++) call_tainted = call_tainted || tainted('W', ns, services[i]);
  current_op = "sf_get_workload_states_packed";
  mark();
  status = sf_get_workload_states_packed(e, ns, null_array ? NULL : services, count, buffer,
                                         capacity, has_out ? &p : NULL, err);
  if (count == 0 && !invalid) {
    check_error(status, err);
    REQUIRE(status == SF_OK, "count 0: %s", sf_status_name(status));
    nothing_sent("count 0");
  } else {
    check_status(status, err, invalid);
  }
  if (packed_outcome(status, has_out, &p, buffer, capacity, &got)) {
    REQUIRE(got == n, "%zu entries for %zu services", got, n);
    for (i = 0; i < n; i++) {
      REQUIRE(packed_entries[i].key == (int32_t)i, "entry %zu has key %d", i, packed_entries[i].key);
      check_workload(ns, services[i], packed_entries[i].text);
    }
  }
  if (!invalid && n > 0) {
    /* The same read, not packed: the same status and states. */
    current_op = "sf_get_workload_states_packed (vs sf_get_workload_states)";
    status2 = sf_get_workload_states(ex, ns, services, n, plain, &err2);
    check_error(status2, &err2);
    maybe_sent();
    REQUIRE(status2 == status, "packed %s, not packed %s", sf_status_name(status),
            sf_status_name(status2));
    for (i = 0; i < n && status2 == SF_OK; i++) {
      if (got == n)
        REQUIRE((plain[i] == NULL) == (packed_entries[i].text == NULL) &&
                    (plain[i] == NULL || strcmp(plain[i], packed_entries[i].text) == 0),
                "service %zu: packed %s, not packed %s", i,
                packed_entries[i].text ? packed_entries[i].text : "(absent)",
                plain[i] ? plain[i] : "(absent)");
      sf_string_free(plain[i]);
    }
  }
  if (has_out) free_packed(&p);
  release_buffer(buffer);
}

/* ---- sf_execute_batch ------------------------------------------------------------------- */


static const char *const batch_kind_names[14] = {
    "sf_execute_batch (unknown kind)", "batch: SET_SERVICE_STATE", "batch: GET_SERVICE_STATE",
    "batch: SET_WORKLOAD_STATE", "batch: GET_WORKLOAD_STATE", "batch: SET_LINKED_POD",
    "batch: TRY_SET_LINKED_POD", "batch: SET_LINKED_POD_IF_ABSENT", "batch: GET_LINKED_POD",
    "batch: GET_LINKED_POD_IF_PERSIST", "batch: REMOVE_LINKED_POD",
    "batch: REMOVE_LINKED_POD_WITH_ID", "batch: GET_LINK_SERVICES", "batch: TOUCH_LINKED_POD"};

/* An entry: mostly a valid kind, now and then 0, 14, negative or any value; every string
 * field from the generator (those its kind ignores too: they may hold anything, NULL or bad
 * names included); outputs filled with garbage the call must replace. */
static void gen_batch_op(input *in, sf_batch_op *op) {
  uint8_t k = u8(in);
  memset(op, 0x5A, sizeof *op);
  op->out_text = (char *)&err_storage;
  op->out_states = (sf_pod_states *)&err_storage;
  op->out_links = (sf_service_links *)&err_storage;
  op->status = SF_INTERNAL;
  op->out_pod = GARBAGE_POD;
  op->out_flag = true;
  if (k < 240)
    op->kind = 1 + k % 13;
  else if (k < 244)
    op->kind = (int32_t[]){0, 14, -1, INT32_MIN}[k - 240];
  else
    op->kind = (int32_t)u32(in);
  op->ns = gen_string(in, K_NS);
  op->uid = gen_string(in, K_UID);
  op->service = gen_string(in, K_SVC);
  op->state = gen_string(in, K_STATE);
  op->pod = gen_i32(in);
  op->seconds = gen_i32(in);
}

static bool batch_kind_valid(int32_t kind) { return kind >= 1 && kind <= 13; }
static bool batch_link_kind(int32_t kind) { return kind >= 5 && kind <= 13; }
/* Script kinds (the link writes, the touch and the persistent read) vs plain commands. */
static bool batch_script_kind(int32_t kind) {
  return (kind >= 5 && kind <= 7) || (kind >= 9 && kind <= 11) || kind == 13;
}

/* Whether an entry breaks the rules of its single function. */
static bool batch_op_invalid(const sf_batch_op *op) {
  switch (op->kind) {
    case 1:
      return !valid_namespace(op->ns) || !valid_service(op->service) || op->pod < 0 ||
             !valid_state(op->state);
    case 2:
    case 4: return !valid_namespace(op->ns) || !valid_service(op->service);
    case 3:
      return !valid_namespace(op->ns) || !valid_service(op->service) || !valid_state(op->state);
    case 5:
    case 6:
    case 7:
      return !valid_namespace(op->ns) || !valid_uid(op->uid) || !valid_service(op->service) ||
             op->pod < 0 || !valid_persist(op->seconds);
    case 8:
    case 9: return !valid_namespace(op->ns) || !valid_uid(op->uid) || !valid_service(op->service);
    case 10:
    case 11:
      return !valid_namespace(op->ns) || !valid_uid(op->uid) || !valid_service(op->service) ||
             !valid_keep(op->seconds) || (op->kind == 11 && op->pod < 0);
    case 12: return !valid_namespace(op->ns) || !valid_uid(op->uid);
    case 13:
      return !valid_namespace(op->ns) || !valid_uid(op->uid) || !valid_service(op->service) ||
             op->pod < 0 || op->seconds < 1;
    default: return true;
  }
}

/* The outputs a failed entry holds, and those its kind does not produce. */
static void check_batch_outputs(const sf_batch_op *op, bool ok) {
  int32_t kind = op->kind;
  bool pod_kind = ok && kind >= 5 && kind <= 9;
  bool flag_kind = ok && (kind == 6 || kind == 10 || kind == 11 || kind == 13);
  REQUIRE(op->out_pod >= -1 && (pod_kind || op->out_pod == SF_NO_POD), "out_pod %d", op->out_pod);
  REQUIRE(flag_kind || !op->out_flag, "out_flag set");
  REQUIRE((ok && kind == 4) || op->out_text == NULL, "out_text not NULL");
  REQUIRE((ok && kind == 2) || op->out_states == NULL, "out_states not NULL");
  REQUIRE((ok && kind == 12) || op->out_links == NULL, "out_links not NULL");
  if (ok && kind == 2) REQUIRE(op->out_states != NULL, "out_states NULL after SF_OK");
  if (ok && kind == 12) REQUIRE(op->out_links != NULL, "out_links NULL after SF_OK");
}

/* A successful entry against the model, which it then updates, as its single call does. */
static void expect_batch_entry(sf_batch_op *op, long long started) {
  struct link *l = NULL;
  enum link_now before;
  int32_t pod = op->out_pod;
  bool flag = op->out_flag;
  if (batch_link_kind(op->kind) && op->kind != 12) l = find_link(op->ns, op->uid, op->service);
  before = link_now(l);
  switch (op->kind) {
    case 1: set_pod_state(op->ns, op->service, op->pod, op->state); break;
    case 2:
      check_pod_states(op->out_states, op->ns, op->service);
      break;
    case 3: {
      struct workload *w = find_workload(op->ns, op->service, true);
      if (w != NULL) {
        free(w->state);
        w->state = dup_string(op->state);
      }
      break;
    }
    case 4:
      REQUIRE(op->out_text == NULL || string_sane(op->out_text), "out_text not valid UTF-8");
      check_workload(op->ns, op->service, op->out_text);
      break;
    case 5:
      if (before == N_ABSENT) REQUIRE(pod == SF_NO_POD, "previous %d, expected none", pod);
      if (before == N_PRESENT) REQUIRE(pod == l->pod, "previous %d, expected %d", pod, l->pod);
      if (before == N_MAYBE) REQUIRE(pod == SF_NO_POD || pod == l->pod, "previous %d", pod);
      link_written(l, op->pod, op->seconds, started);
      break;
    case 6:
      REQUIRE(pod >= 0, "current %d", pod);
      if (before == N_PRESENT && l->persistent && l->pod != op->pod)
        REQUIRE(!flag && pod == l->pod, "(%d, %d), expected refusal with %d", flag, pod, l->pod);
      else if (before != N_UNKNOWN)
        REQUIRE(flag && pod == op->pod, "(%d, %d), expected (1, %d)", flag, pod, op->pod);
      else
        REQUIRE(flag ? pod == op->pod : pod != op->pod, "(%d, %d) for pod %d", flag, pod, op->pod);
      if (flag)
        link_written(l, op->pod, op->seconds, started);
      else if (l != NULL) {
        l->known = L_PRESENT;
        l->persistent = true;
        l->pod = pod;
      }
      break;
    case 7:
      REQUIRE(pod >= 0, "current %d", pod);
      if (l != NULL) if_absent_outcome(l, before, op->pod, op->seconds, started, pod);
      break;
    case 8:
    case 9:
      if (before == N_UNKNOWN) break;
      if (before == N_ABSENT || (op->kind == 9 && !l->persistent)) {
        REQUIRE(pod == SF_NO_POD, "pod %d, expected none", pod);
      } else if (before == N_PRESENT) {
        REQUIRE(pod == l->pod, "pod %d, expected %d", pod, l->pod);
      } else {
        REQUIRE(pod == SF_NO_POD || pod == l->pod, "pod %d, expected %d or none", pod, l->pod);
        if (pod == SF_NO_POD) link_absent(l);
      }
      break;
    case 10:
    case 11: {
      bool with_id = op->kind == 11;
      bool matches = !with_id || (before != N_UNKNOWN && l->pod == op->pod);
      if (l == NULL) break;
      if (before == N_ABSENT) REQUIRE(!flag, "removed a link that did not exist");
      if (before == N_PRESENT) REQUIRE(flag == matches, "removed %d, expected %d", flag, matches);
      if (before == N_MAYBE) REQUIRE(!flag || matches, "removed a link to another pod");
      if (flag) {
        if (op->seconds > 0 && before != N_UNKNOWN)
          link_written(l, l->pod, op->seconds, started);
        else if (op->seconds > 0 && with_id)
          link_written(l, op->pod, op->seconds, started);
        else if (op->seconds > 0)
          link_unknown(l);
        else
          link_absent(l);
      } else if (before == N_MAYBE && matches) {
        link_absent(l);
      } else if (before == N_UNKNOWN && !with_id) {
        link_absent(l);
      }
      break;
    }
    case 12:
      check_service_links(op->out_links, op->ns, op->uid);
      break;
    case 13: touch_outcome(l, before, op->pod, op->seconds, started, flag); break;
  }
}

static void free_batch_outputs(sf_batch_op *op) {
  sf_string_free(op->out_text);
  sf_pod_states_free(op->out_states);
  sf_service_links_free(op->out_links);
}

static void op_execute_batch(input *in) {
  sf_executor *e = gen_ex(in);
  sf_batch_op ops[MAX_BATCH];
  bool invalid[MAX_BATCH], reordered[MAX_BATCH];
  size_t count, n, i, j, accepted = 0;
  bool null_array, unusable;
  long long started;
  sf_error *err;
  sf_status status;
  n = gen_batch(in, &count, &null_array);
  for (i = 0; i < n; i++) gen_batch_op(in, &ops[i]);
  err = gen_err(in);
  unusable = e == NULL || (count > 0 && null_array);
  for (i = 0; i < n; i++) {
    invalid[i] = batch_op_invalid(&ops[i]);
    reordered[i] = false;
    if (!invalid[i]) accepted++;
  }
  for (i = 0; i < n && scripts_flushed; i++)
    for (j = i + 1; j < n; j++)
      if (!invalid[i] && !invalid[j] && batch_script_kind(ops[i].kind) &&
          batch_link_kind(ops[j].kind) && strcmp(ops[i].ns, ops[j].ns) == 0 &&
          strcmp(ops[i].uid, ops[j].uid) == 0)
        reordered[i] = reordered[j] = true;
  current_op = "sf_execute_batch";
  mark();
  started = now_ms();
  status = sf_execute_batch(e, null_array ? NULL : ops, count, err);
  check_error(status, err);
  if (unusable) {
    REQUIRE(status == SF_INVALID_ARGUMENT, "unusable batch: %s", sf_status_name(status));
    nothing_sent("an unusable batch");
    for (i = 0; i < n; i++) {
      current_op = "sf_execute_batch (entry of an unusable batch)";
      check_error(ops[i].status, &ops[i].error);
      REQUIRE(ops[i].status == SF_INVALID_ARGUMENT, "entry %zu: %s", i,
              sf_status_name(ops[i].status));
      check_batch_outputs(&ops[i], false);
    }
    return;
  }
  REQUIRE(status == SF_OK, "batch: %s", sf_status_name(status));
  if (accepted == 0)
    nothing_sent(n == 0 ? "an empty batch" : "a batch of invalid entries");
  else
    maybe_sent();
  for (i = 0; i < n; i++) {
    sf_batch_op *op = &ops[i];
    current_op = batch_kind_names[batch_kind_valid(op->kind) ? op->kind : 0];
    check_error(op->status, &op->error);
    if (invalid[i]) {
      REQUIRE(op->status == SF_INVALID_ARGUMENT, "entry %zu: expected SF_INVALID_ARGUMENT, got %s",
              i, sf_status_name(op->status));
      check_batch_outputs(op, false);
      continue;
    }
    call_tainted = false;
    switch (op->kind) {
      case 1:
      case 2: call_tainted = tainted('S', op->ns, op->service); break;
      case 3:
      case 4: call_tainted = tainted('W', op->ns, op->service); break;
      default: call_tainted = tainted('L', op->ns, op->uid); break;
    }
    if (call_tainted)
      REQUIRE(op->status == SF_OK || op->status == SF_UNEXPECTED_REPLY,
              "entry %zu on foreign data: %s: %s", i, sf_status_name(op->status), op->error.message);
    else
      REQUIRE(op->status == SF_OK, "entry %zu: expected SF_OK, got %s: %s", i,
              sf_status_name(op->status), op->error.message);
    check_batch_outputs(op, op->status == SF_OK);
    if (op->status == SF_OK && !reordered[i]) {
      expect_batch_entry(op, started);
    } else if (batch_link_kind(op->kind) && op->kind != 12) {
      link_unknown(find_link(op->ns, op->uid, op->service));
    }
    free_batch_outputs(op);
  }
  /* Read the links the batch touched back, one by one. */
  for (i = 0; i < n; i++)
    if (!invalid[i] && batch_link_kind(ops[i].kind) && ops[i].kind != 12) {
      call_tainted = tainted('L', ops[i].ns, ops[i].uid);
      check_link(find_link(ops[i].ns, ops[i].uid, ops[i].service), ops[i].ns, ops[i].uid,
                 ops[i].service);
    }
  call_tainted = false;
}

/* ---- libFuzzer entry points ------------------------------------------------------------- */

/* Every record the library logs (at every level, from every thread) is checked. */
static long log_records;

static void check_record(void *user_data, int32_t level, const char *target, const char *message) {
  REQUIRE(user_data == &log_records, "log: user_data %p", user_data);
  REQUIRE(level >= SF_LOG_ERROR && level <= SF_LOG_TRACE, "log: level %d", (int)level);
  REQUIRE(target != NULL && strncmp(target, "stateful_executor", 17) == 0, "log: target %s",
          target == NULL ? "NULL" : target);
  REQUIRE(message != NULL && utf8_valid((const unsigned char *)message, strlen(message)),
          "log: message not UTF-8");
  __atomic_add_fetch(&log_records, 1, __ATOMIC_RELAXED);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *url = getenv("REDIS_URL");
  sf_config *cfg = NULL;
  sf_error err;
  int i;
  (void)argc;
  (void)argv;
  if (url == NULL || url[0] == '\0') {
    fprintf(stderr, "fuzz_c_api: set REDIS_URL (make fuzz starts a throwaway redis-server)\n");
    exit(2);
  }
  raw_connect(url);
  redis_url = url;
  if (sf_set_logger(check_record, &log_records, SF_LOG_TRACE, &err) != SF_OK) {
    fprintf(stderr, "fuzz_c_api: sf_set_logger: %s\n", err.message);
    exit(2);
  }
  if (sf_config_new(url, &cfg, &err) != SF_OK ||
      /* Generous timeouts: on a healthy local server every call must succeed or be rejected. */
      sf_config_set_command_timeout_ms(cfg, 10000, &err) != SF_OK ||
      sf_config_set_pool_wait_timeout_ms(cfg, 10000, &err) != SF_OK ||
      sf_config_set_connect_timeout_ms(cfg, 10000, &err) != SF_OK ||
      sf_executor_open(cfg, &ex, &err) != SF_OK) {
    fprintf(stderr, "fuzz_c_api: cannot open an executor on %s: %s\n", url, err.message);
    exit(2);
  }
  sf_config_free(cfg);
  if (getenv("FUZZ_STATS") != NULL) atexit(print_outcomes);
  for (i = 0; i < 4; i++) sf_ping(ex, NULL); /* the pool holds its connection from now on */
  return 0;
}

#define MAX_OPS 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input in = {data, size, 0};
  char reply[64];
  int ops = 0;
  if (scripts_flushed) { /* every script the batches use, loaded again by its single call */
    int32_t pod;
    bool flag;
    current_op = "loading the scripts";
    REQUIRE(sf_set_linked_pod(ex, "warm", "u", "s", 1, -1, &pod, NULL) == SF_OK &&
                sf_try_set_linked_pod(ex, "warm", "u", "s", 1, -1, &flag, &pod, NULL) == SF_OK &&
                sf_set_linked_pod_if_absent(ex, "warm", "u", "s", 1, -1, &pod, NULL) == SF_OK &&
                sf_get_linked_pod_if_persist(ex, "warm", "u", "s", &pod, NULL) == SF_OK &&
                sf_remove_linked_pod(ex, "warm", "u", "s", 0, &flag, NULL) == SF_OK &&
                sf_touch_linked_pod(ex, "warm", "u", "s", 1, 1, &flag, NULL) == SF_OK,
            "a single call failed");
    scripts_flushed = false;
  }
  current_op = "FLUSHDB";
  REQUIRE(raw_command(reply, sizeof reply, "FLUSHDB", NULL) == '+', "FLUSHDB: %s", reply);
  baseline = -1;
  model_reset();
  while (in.pos < in.size && ops++ < MAX_OPS) {
    uint8_t op = u8(&in);
    call_tainted = false;
    /* 27 kinds: op bytes below 22 keep the meaning they had before the extras of 0.2, below
     * 26 the meaning they had before 0.3. */
    switch (op % 27) {
      case 0: op_ping(&in); break;
      case 1: op_set_service_state(&in); break;
      case 2: op_get_service_state(&in); break;
      case 3: op_set_workload_state(&in); break;
      case 4: op_get_workload_state(&in); break;
      case 5: op_get_workload_states(&in); break;
      case 6: op_set_linked_pod(&in); break;
      case 7: op_try_set_linked_pod(&in); break;
      case 8: op_set_linked_pod_if_absent(&in); break;
      case 9: op_get_linked_pod(&in, false); break;
      case 10: op_get_linked_pod(&in, true); break;
      case 11: op_batch_get_linked_pods(&in); break;
      case 12: op_remove_linked_pod(&in, false); break;
      case 13: op_remove_linked_pod(&in, true); break;
      case 14: op_get_link_services(&in); break;
      case 15: op_compute_linked_pod(&in); break;
      case 16: op_config(&in); break;
      case 17: op_config_topology(&in); break;
      case 18: op_misc(&in); break;
      case 19: op_script_flush(&in); break;
      case 20: op_corrupt(&in); break;
      case 21: op_open(&in); break;
      case 22: op_get_service_state_packed(&in); break;
      case 23: op_get_workload_states_packed(&in); break;
      case 24: op_get_link_services_packed(&in); break;
      case 26: op_touch_linked_pod(&in); break;
      default: op_execute_batch(&in); break;
    }
    free_strings();
  }
  free_strings();
  model_reset();
  return 0;
}
