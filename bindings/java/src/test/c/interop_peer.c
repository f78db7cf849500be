/*
 * The C side of the Java binding's interop tests: reads and writes through the C API what the
 * Java tests wrote and read, so that both sides are checked against each other on one server.
 *
 *   interop_peer URL set-link NS UID SVC POD PERSIST   prints the previous pod
 *   interop_peer URL get-link NS UID SVC               prints the pod (-1 when none)
 *   interop_peer URL set-state NS SVC POD STATE
 *   interop_peer URL get-states NS SVC                 prints "POD STATE" lines, pod order
 *   interop_peer URL set-workload NS SVC STATE
 *   interop_peer URL get-workload NS SVC               prints the state, or nothing when none
 *   interop_peer URL get-links NS UID                  prints "SVC POD" lines, service order
 *
 * Exits 0 on success; on failure prints the status and message to stderr and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateful_executor.h"

static int fail(sf_status status, const sf_error *err) {
    fprintf(stderr, "%s: %s\n", sf_status_name(status), err->message);
    return 1;
}

static int run(sf_executor *ex, int argc, char **argv) {
    const char *op = argv[2];
    sf_error err;
    sf_status st;
    if (strcmp(op, "set-link") == 0 && argc == 8) {
        int32_t previous;
        st = sf_set_linked_pod(ex, argv[3], argv[4], argv[5], atoi(argv[6]), atoi(argv[7]),
                               &previous, &err);
        if (st != SF_OK) {
            return fail(st, &err);
        }
        printf("%d\n", (int)previous);
    } else if (strcmp(op, "get-link") == 0 && argc == 6) {
        int32_t pod;
        st = sf_get_linked_pod(ex, argv[3], argv[4], argv[5], &pod, &err);
        if (st != SF_OK) {
            return fail(st, &err);
        }
        printf("%d\n", (int)pod);
    } else if (strcmp(op, "set-state") == 0 && argc == 7) {
        st = sf_set_service_state(ex, argv[3], argv[4], atoi(argv[5]), argv[6], &err);
        if (st != SF_OK) {
            return fail(st, &err);
        }
    } else if (strcmp(op, "get-states") == 0 && argc == 5) {
        sf_pod_states *states;
        st = sf_get_service_state(ex, argv[3], argv[4], &states, &err);
        if (st != SF_OK) {
            return fail(st, &err);
        }
        for (size_t i = 0; i < sf_pod_states_len(states); i++) {
            printf("%d %s\n", (int)sf_pod_states_pod(states, i), sf_pod_states_state(states, i));
        }
        sf_pod_states_free(states);
    } else if (strcmp(op, "set-workload") == 0 && argc == 6) {
        st = sf_set_workload_state(ex, argv[3], argv[4], argv[5], &err);
        if (st != SF_OK) {
            return fail(st, &err);
        }
    } else if (strcmp(op, "get-workload") == 0 && argc == 5) {
        char *state;
        st = sf_get_workload_state(ex, argv[3], argv[4], &state, &err);
        if (st != SF_OK) {
            return fail(st, &err);
        }
        if (state != NULL) {
            printf("%s\n", state);
        }
        sf_string_free(state);
    } else if (strcmp(op, "get-links") == 0 && argc == 5) {
        sf_service_links *links;
        st = sf_get_link_services(ex, argv[3], argv[4], &links, &err);
        if (st != SF_OK) {
            return fail(st, &err);
        }
        for (size_t i = 0; i < sf_service_links_len(links); i++) {
            printf("%s %d\n", sf_service_links_service(links, i), (int)sf_service_links_pod(links, i));
        }
        sf_service_links_free(links);
    } else {
        fprintf(stderr, "usage: see the comment at the top of interop_peer.c\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: interop_peer URL OP ARGS...\n");
        return 2;
    }
    sf_error err;
    sf_config *cfg;
    sf_status st = sf_config_new(argv[1], &cfg, &err);
    if (st != SF_OK) {
        return fail(st, &err);
    }
    sf_executor *ex;
    st = sf_executor_open(cfg, &ex, &err);
    sf_config_free(cfg);
    if (st != SF_OK) {
        return fail(st, &err);
    }
    int rc = run(ex, argc, argv);
    sf_executor_close(ex);
    return rc;
}
