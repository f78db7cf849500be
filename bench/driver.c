/* Throughput driver for `make bench`: the same operations, key spread and output as
 * examples/bench_ops.rs, through the C API, from N pthreads, against $REDIS_URL.
 *
 * usage: driver <op> <threads> <seconds>      (data is prepared by `bench_ops setup`)
 * environment: SF_BENCH_PIPELINING=on|off (auto-pipelining; default: the library's)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stateful_executor.h"

#define NS "bench"
#define SERVICE "chat"
#define KEYSPACE 100000
#define PODS 32
#define WORKLOAD_SERVICES 100
#define MAX_BATCH 10000

static char *uids[KEYSPACE];
static char *services[WORKLOAD_SERVICES];
static int32_t candidate_pods[8];
static int64_t candidate_loads[8];

static sf_executor *executor;
static const char *op;
static atomic_int stop;
static atomic_ullong total_calls, total_items, total_errors;

static uint64_t next_random(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static int batch(uint64_t *rng, size_t n, int32_t *pods, size_t *items) {
    size_t start = (size_t)(next_random(rng) % (KEYSPACE - n + 1));
    *items = n;
    return sf_batch_get_linked_pods(executor, NS, SERVICE, (const char *const *)&uids[start], n,
                                    pods, NULL);
}

/* One call of the operation; returns its status and sets *items to the entries it handled. */
static sf_status one_call(uint64_t *rng, int32_t *pods, char **states, size_t *items) {
    const char *uid = uids[next_random(rng) % KEYSPACE];
    int32_t pod = (int32_t)(next_random(rng) % PODS), out = 0;
    bool flag = false;
    sf_status status;
    *items = 1;
    if (strcmp(op, "get") == 0) {
        return sf_get_linked_pod(executor, NS, uid, SERVICE, &out, NULL);
    } else if (strcmp(op, "set") == 0) {
        return sf_set_linked_pod(executor, NS, uid, SERVICE, pod, -1, &out, NULL);
    } else if (strcmp(op, "set_if_absent") == 0) {
        return sf_set_linked_pod_if_absent(executor, NS, uid, SERVICE, pod, -1, &out, NULL);
    } else if (strcmp(op, "try_set") == 0) {
        return sf_try_set_linked_pod(executor, NS, uid, SERVICE, pod, -1, &flag, &out, NULL);
    } else if (strcmp(op, "remove") == 0) {
        return sf_remove_linked_pod(executor, NS, uid, SERVICE, 0, &flag, NULL);
    } else if (strcmp(op, "compute8") == 0) {
        return sf_compute_linked_pod(executor, NS, uid, SERVICE, candidate_pods, candidate_loads, 8,
                                     -1, &out, NULL);
    } else if (strcmp(op, "service_state32") == 0) {
        sf_pod_states *result = NULL;
        status = sf_get_service_state(executor, NS, SERVICE, &result, NULL);
        sf_pod_states_free(result);
        return status;
    } else if (strcmp(op, "batch1000") == 0) {
        return batch(rng, 1000, pods, items);
    } else if (strcmp(op, "batch10000") == 0) {
        return batch(rng, 10000, pods, items);
    } else if (strcmp(op, "workload100") == 0) {
        *items = WORKLOAD_SERVICES;
        status = sf_get_workload_states(executor, NS, (const char *const *)services,
                                        WORKLOAD_SERVICES, states, NULL);
        for (size_t i = 0; i < WORKLOAD_SERVICES; i++) {
            sf_string_free(states[i]);
        }
        return status;
    }
    fprintf(stderr, "unknown op %s\n", op);
    exit(2);
}

static void *worker(void *arg) {
    uint64_t rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(uintptr_t)arg + 1);
    int32_t *pods = malloc(sizeof(int32_t) * MAX_BATCH);
    char *states[WORKLOAD_SERVICES];
    unsigned long long calls = 0, items = 0, errors = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        size_t n = 0;
        if (one_call(&rng, pods, states, &n) == SF_OK) {
            items += n;
        } else {
            errors++;
        }
        calls++;
    }
    free(pods);
    atomic_fetch_add(&total_calls, calls);
    atomic_fetch_add(&total_items, items);
    atomic_fetch_add(&total_errors, errors);
    return NULL;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: driver <op> <threads> <seconds>\n");
        return 2;
    }
    op = argv[1];
    int threads = atoi(argv[2]);
    double seconds = atof(argv[3]);
    const char *url = getenv("REDIS_URL");
    sf_error err;
    sf_config *config = NULL;
    if (threads < 1 || !url || sf_config_new(url, &config, &err) != SF_OK ||
        sf_config_set_pool_max_size(config, (uint32_t)threads, &err) != SF_OK ||
        (getenv("SF_BENCH_PIPELINING") &&
         sf_config_set_pipelining(config, strcmp(getenv("SF_BENCH_PIPELINING"), "off") != 0,
                                  &err) != SF_OK) ||
        sf_executor_open(config, &executor, &err) != SF_OK) {
        fprintf(stderr, "cannot open executor: %s\n", url ? err.message : "REDIS_URL not set");
        return 1;
    }
    sf_config_free(config);
    for (int i = 0; i < KEYSPACE; i++) {
        uids[i] = malloc(16);
        snprintf(uids[i], 16, "u%012d", i); /* as redis-benchmark's __rand_int__ */
    }
    for (int i = 0; i < WORKLOAD_SERVICES; i++) {
        services[i] = malloc(16);
        snprintf(services[i], 16, "svc-%d", i);
    }
    for (int p = 0; p < 8; p++) {
        candidate_pods[p] = p;
        candidate_loads[p] = 100 - p;
    }
    /* Warm up one connection so connection set-up is not measured. */
    int32_t *pods = malloc(sizeof(int32_t) * MAX_BATCH);
    char *states[WORKLOAD_SERVICES];
    uint64_t rng = 1;
    size_t n;
    if (one_call(&rng, pods, states, &n) != SF_OK) {
        fprintf(stderr, "first call of %s failed\n", op);
        return 1;
    }
    free(pods);

    pthread_t *ids = malloc(sizeof(pthread_t) * (size_t)threads);
    double started = now_seconds();
    for (int t = 0; t < threads; t++) {
        pthread_create(&ids[t], NULL, worker, (void *)(uintptr_t)t);
    }
    struct timespec pause = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&pause, NULL);
    atomic_store(&stop, 1);
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
    }
    double elapsed = now_seconds() - started;
    printf("{\"driver\":\"c\",\"op\":\"%s\",\"threads\":%d,\"calls\":%llu,\"errors\":%llu,"
           "\"ops_per_sec\":%.1f,\"items_per_sec\":%.1f}\n",
           op, threads, atomic_load(&total_calls), atomic_load(&total_errors),
           (double)atomic_load(&total_calls) / elapsed,
           (double)atomic_load(&total_items) / elapsed);
    free(ids);
    for (int i = 0; i < KEYSPACE; i++) free(uids[i]);
    for (int i = 0; i < WORKLOAD_SERVICES; i++) free(services[i]);
    sf_executor_close(executor);
    return 0;
}
