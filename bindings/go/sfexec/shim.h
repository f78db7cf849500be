/* C helpers of the Go package (static: each cgo file that includes it gets its own copy). */
#ifndef SFEXEC_SHIM_H
#define SFEXEC_SHIM_H
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "stateful_executor.h"

// The C-side half of a call slot: the error record and the scalar outputs, in C memory, so
// that no Go pointer is ever passed to the library (nothing escapes, nothing is pinned).
typedef struct sfgo_scratch {
  sf_error err;
  int32_t pod;
  bool flag;
  size_t count;
  char *str;
  void *obj;
} sfgo_scratch;

// The helpers below do in one cgo call what would otherwise take one per accessor.

// A workload state: copied into dst when it fits (and freed here), else left in s->str for Go
// to copy and free. s->flag tells whether there was a state.
static sf_status sfgo_get_workload_state(sf_executor *ex, const char *ns, const char *svc,
                                         sfgo_scratch *s, char *dst, size_t dst_cap) {
  char *state = NULL;
  sf_status st = sf_get_workload_state(ex, ns, svc, &state, &s->err);
  s->str = NULL;
  s->count = 0;
  s->flag = false;
  if (st != SF_OK || state == NULL) return st;
  s->flag = true;
  s->count = strlen(state);
  if (s->count <= dst_cap) {
    memcpy(dst, state, s->count);
    sf_string_free(state);
  } else {
    s->str = state;
  }
  return st;
}

static sf_status sfgo_get_workload_states(sf_executor *ex, const char *ns,
                                          const char *const *services, size_t count,
                                          char **out, size_t *lens, sf_error *err) {
  sf_status st = sf_get_workload_states(ex, ns, services, count, out, err);
  size_t i;
  if (st == SF_OK)
    for (i = 0; i < count; i++) lens[i] = out[i] ? strlen(out[i]) : 0;
  return st;
}

static void sfgo_free_strings(char **strings, size_t count) {
  size_t i;
  for (i = 0; i < count; i++) sf_string_free(strings[i]);
}

static void sfgo_pod_states_fill(const sf_pod_states *s, size_t n, int32_t *pods, size_t *lens,
                                 const char **ptrs) {
  size_t i;
  for (i = 0; i < n; i++) {
    pods[i] = sf_pod_states_pod(s, i);
    ptrs[i] = sf_pod_states_state(s, i);
    lens[i] = ptrs[i] ? strlen(ptrs[i]) : 0;
  }
}

// Reads the pod states into s->obj (freed by the caller) and, when at most cap entries, fills
// the arrays too. s->count receives the number of entries.
static sf_status sfgo_get_service_state(sf_executor *ex, const char *ns, const char *svc,
                                        sfgo_scratch *s, int32_t *pods, size_t *lens,
                                        const char **ptrs, size_t cap) {
  sf_pod_states *states = NULL;
  sf_status st = sf_get_service_state(ex, ns, svc, &states, &s->err);
  s->obj = states;
  s->count = 0;
  if (st != SF_OK) return st;
  s->count = sf_pod_states_len(states);
  if (s->count <= cap) sfgo_pod_states_fill(states, s->count, pods, lens, ptrs);
  return st;
}

static void sfgo_service_links_fill(const sf_service_links *l, size_t n, int32_t *pods,
                                    size_t *lens, const char **ptrs) {
  size_t i;
  for (i = 0; i < n; i++) {
    pods[i] = sf_service_links_pod(l, i);
    ptrs[i] = sf_service_links_service(l, i);
    lens[i] = ptrs[i] ? strlen(ptrs[i]) : 0;
  }
}

static sf_status sfgo_get_link_services(sf_executor *ex, const char *ns, const char *uid,
                                        sfgo_scratch *s, int32_t *pods, size_t *lens,
                                        const char **ptrs, size_t cap) {
  sf_service_links *links = NULL;
  sf_status st = sf_get_link_services(ex, ns, uid, &links, &s->err);
  s->obj = links;
  s->count = 0;
  if (st != SF_OK) return st;
  s->count = sf_service_links_len(links);
  if (s->count <= cap) sfgo_service_links_fill(links, s->count, pods, lens, ptrs);
  return st;
}

static void sfgo_pod_states_free(void *s) { sf_pod_states_free((sf_pod_states *)s); }
static void sfgo_service_links_free(void *l) { sf_service_links_free((sf_service_links *)l); }

// Frees what a batch's entries received, once Go has copied it.
static void sfgo_batch_free(sf_batch_op *ops, size_t count) {
  size_t i;
  for (i = 0; i < count; i++) {
    sf_string_free(ops[i].out_text);
    sf_pod_states_free(ops[i].out_states);
    sf_service_links_free(ops[i].out_links);
    ops[i].out_text = NULL;
    ops[i].out_states = NULL;
    ops[i].out_links = NULL;
  }
}

// The Go function that receives the library's log records (logger.go).
extern void sfgoLogRecord(void *user_data, int32_t level, char *target, char *message);

static sf_status sfgo_set_logger(int32_t max_level, sf_error *err) {
  return sf_set_logger(max_level > 0 ? (sf_log_fn)sfgoLogRecord : NULL, NULL, max_level, err);
}

#endif
