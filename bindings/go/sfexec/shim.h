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
  sf_packed packed;  // a packed read's result, in the slot's arena or a library block
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

static void sfgo_pod_states_fill(const sf_pod_states *s, size_t n, int32_t *pods, size_t *lens,
                                 const char **ptrs) {
  size_t i;
  for (i = 0; i < n; i++) {
    pods[i] = sf_pod_states_pod(s, i);
    ptrs[i] = sf_pod_states_state(s, i);
    lens[i] = ptrs[i] ? strlen(ptrs[i]) : 0;
  }
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
