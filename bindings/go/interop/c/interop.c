/*
 * Interoperation check, C side: writes the interop data set into namespace NS, or reads it back
 * and prints it in the canonical form that the Go and Rust programs print too.
 *
 *   interop URL write NS
 *   interop URL read NS
 *
 * The Go tests (bindings/go/interop) build and run it against a throwaway redis-server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateful_executor.h"

#define UID_A "\xe7\x94\xa8\xe6\x88\xb7-\xf0\x9f\x8e\x89" /* 用户-🎉 */
#define DRAINING "\xe6\x8e\x92\xe7\xa9\xba\xe4\xb8\xad \xf0\x9f\x9a\xa7" /* 排空中 🚧 */
#define CHAT "\xe8\x81\x8a\xe5\xa4\xa9" /* 聊天 */
#define AVAILABLE "Available \xe2\x9c\x85" /* Available ✅ */

static sf_error err;

#define TRY(call)                                                                   \
  do {                                                                              \
    if ((call) != SF_OK) {                                                          \
      fprintf(stderr, "interop: %s: %s\n", sf_status_name(err.code), err.message); \
      exit(1);                                                                      \
    }                                                                               \
  } while (0)

static void write_set(sf_executor *ex, const char *ns) {
  int32_t previous;
  TRY(sf_set_service_state(ex, ns, CHAT, 0, "Running", &err));
  TRY(sf_set_service_state(ex, ns, CHAT, 1, DRAINING, &err));
  TRY(sf_set_workload_state(ex, ns, CHAT, AVAILABLE, &err));
  TRY(sf_set_workload_state(ex, ns, "game/room", "READY", &err));
  TRY(sf_set_linked_pod(ex, ns, UID_A, CHAT, 1, -1, &previous, &err));
  TRY(sf_set_linked_pod(ex, ns, "user-2", CHAT, 0, 3600, &previous, &err));
  TRY(sf_set_linked_pod(ex, ns, UID_A, "game/room", 7, -1, &previous, &err));
}

static void print_link(sf_executor *ex, const char *ns, const char *uid, const char *svc) {
  int32_t pod, persistent;
  TRY(sf_get_linked_pod(ex, ns, uid, svc, &pod, &err));
  TRY(sf_get_linked_pod_if_persist(ex, ns, uid, svc, &persistent, &err));
  printf("link %s %s %d %s\n", uid, svc, (int)pod,
         pod == SF_NO_POD ? "none" : persistent == pod ? "persistent" : "temporary");
}

static void print_services(sf_executor *ex, const char *ns, const char *uid) {
  sf_service_links *links = NULL;
  size_t i;
  TRY(sf_get_link_services(ex, ns, uid, &links, &err));
  printf("services %s", uid);
  for (i = 0; i < sf_service_links_len(links); i++)
    printf(" %s=%d", sf_service_links_service(links, i), (int)sf_service_links_pod(links, i));
  printf("\n");
  sf_service_links_free(links);
}

static void read_set(sf_executor *ex, const char *ns) {
  sf_pod_states *states = NULL;
  const char *services[] = {CHAT, "game/room", "nobody"};
  const char *uids[] = {UID_A, "user-2", "nobody"};
  char *workloads[3];
  int32_t pods[3];
  size_t i;
  TRY(sf_get_service_state(ex, ns, CHAT, &states, &err));
  for (i = 0; i < sf_pod_states_len(states); i++)
    printf("state " CHAT " %d %s\n", (int)sf_pod_states_pod(states, i), sf_pod_states_state(states, i));
  sf_pod_states_free(states);
  TRY(sf_get_workload_states(ex, ns, services, 3, workloads, &err));
  for (i = 0; i < 3; i++) {
    printf("workload %s %s\n", services[i], workloads[i] ? workloads[i] : "-");
    sf_string_free(workloads[i]);
  }
  print_link(ex, ns, UID_A, CHAT);
  print_link(ex, ns, "user-2", CHAT);
  print_link(ex, ns, UID_A, "game/room");
  print_link(ex, ns, "nobody", CHAT);
  print_services(ex, ns, UID_A);
  print_services(ex, ns, "user-2");
  TRY(sf_batch_get_linked_pods(ex, ns, CHAT, uids, 3, pods, &err));
  printf("batch " CHAT " %d %d %d\n", (int)pods[0], (int)pods[1], (int)pods[2]);
}

int main(int argc, char **argv) {
  sf_config *cfg = NULL;
  sf_executor *ex = NULL;
  if (argc != 4 || (strcmp(argv[2], "write") != 0 && strcmp(argv[2], "read") != 0)) {
    fprintf(stderr, "usage: interop URL write|read NS\n");
    return 2;
  }
  TRY(sf_config_new(argv[1], &cfg, &err));
  TRY(sf_executor_open(cfg, &ex, &err));
  sf_config_free(cfg);
  if (strcmp(argv[2], "write") == 0)
    write_set(ex, argv[3]);
  else
    read_set(ex, argv[3]);
  sf_executor_close(ex);
  return 0;
}
