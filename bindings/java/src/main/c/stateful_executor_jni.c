/*
 * JNI glue between io.statefulexecutor.Native and the stateful-executor C API. It only
 * translates: strings arrive as NUL-terminated UTF-8 packed in one byte[] (encoded in Java, so
 * never JNI's modified UTF-8), failures leave as a thrown StatefulExecutorException carrying the
 * status and the UTF-8 message, and multi-string results leave as one packed byte[] decoded in
 * Java (one JNI array instead of an object per entry).
 *
 * Linked with the static libstateful_executor.a into one self-contained shared library that
 * exports only the JNI entry points.
 */
#include <jni.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stateful_executor.h"

#define JNI_VERSION JNI_VERSION_1_8
#define FN(name) JNICALL Java_io_statefulexecutor_Native_##name

/* Argument buffers up to this size live on the stack. */
#define INLINE_BYTES 1024
#define INLINE_ITEMS 64
/* Packed results up to this size are written into a stack buffer (32 states of 100 bytes fit). */
#define PACKED_INLINE 4096

/* Packed results are decoded in Java as little-endian (StatefulExecutor.readInt). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the packed results are decoded as little-endian in Java"
#endif

static JavaVM *g_vm;
static jclass g_exception_class;   /* StatefulExecutorException */
static jmethodID g_exception_init; /* (I[B)V */
static jclass g_log_class;         /* LogBridge */
static jmethodID g_log_method;     /* static log(I[B[B)V */
static jclass g_oom_class;         /* OutOfMemoryError */
/* Threads the log callback attached to the JVM (library pool threads) detach when they exit. */
static pthread_key_t g_detach_key;

/* ---- errors ---- */

static void throw_status(JNIEnv *env, sf_status status, const char *message, size_t length) {
    if ((*env)->ExceptionCheck(env)) {
        return;
    }
    jbyteArray bytes = (*env)->NewByteArray(env, (jsize)length);
    if (bytes == NULL) {
        return; /* OutOfMemoryError pending */
    }
    (*env)->SetByteArrayRegion(env, bytes, 0, (jsize)length, (const jbyte *)message);
    jobject exception =
        (*env)->NewObject(env, g_exception_class, g_exception_init, (jint)status, bytes);
    if (exception != NULL) {
        (*env)->Throw(env, (jthrowable)exception);
    }
}

static void throw_error(JNIEnv *env, sf_status status, const sf_error *err) {
    const char *end = memchr(err->message, '\0', sizeof err->message);
    throw_status(env, status, err->message,
                 end == NULL ? sizeof err->message : (size_t)(end - err->message));
}

static void throw_oom(JNIEnv *env) {
    if (!(*env)->ExceptionCheck(env)) {
        (*env)->ThrowNew(env, g_oom_class, "stateful-executor: native allocation failed");
    }
}

/* ---- arguments ---- */

/* A copy of a packed argument array: NUL-terminated strings one after the other. */
typedef struct {
    char *data;
    size_t length;
    char inline_data[INLINE_BYTES];
} packed_args;

static const char *args_open(JNIEnv *env, jbyteArray array, packed_args *args) {
    jsize length = (*env)->GetArrayLength(env, array);
    args->data = length <= INLINE_BYTES ? args->inline_data : malloc((size_t)length);
    if (args->data == NULL) {
        throw_oom(env);
        return NULL;
    }
    (*env)->GetByteArrayRegion(env, array, 0, length, (jbyte *)args->data);
    args->length = (size_t)length;
    return args->data;
}

static void args_close(packed_args *args) {
    if (args->data != args->inline_data) {
        free(args->data);
    }
}

static const char *next(const char *s) {
    return s + strlen(s) + 1;
}

/* A NUL-terminated copy of a nullable byte[] (configuration only), or NULL. */
static char *copy_optional(JNIEnv *env, jbyteArray array, int *failed) {
    if (array == NULL) {
        return NULL;
    }
    jsize length = (*env)->GetArrayLength(env, array);
    char *copy = malloc((size_t)length + 1);
    if (copy == NULL) {
        throw_oom(env);
        *failed = 1;
        return NULL;
    }
    (*env)->GetByteArrayRegion(env, array, 0, length, (jbyte *)copy);
    copy[length] = '\0';
    return copy;
}

/*
 * Pointers to `count` consecutive NUL-terminated strings starting at `first`, all within `args`;
 * NULL with an exception pending when they are not there.
 */
static const char **split(JNIEnv *env, const packed_args *args, const char *first, jint count,
                          const char **inline_items) {
    const char **items =
        count <= INLINE_ITEMS ? inline_items : malloc((size_t)count * sizeof *items);
    if (items == NULL) {
        throw_oom(env);
        return NULL;
    }
    const char *end = args->data + args->length;
    const char *s = first;
    for (jint i = 0; i < count; i++) {
        const char *nul = s < end ? memchr(s, '\0', (size_t)(end - s)) : NULL;
        if (nul == NULL) {
            static const char message[] = "the list holds fewer strings than its count";
            throw_status(env, SF_INVALID_ARGUMENT, message, sizeof message - 1);
            if (items != inline_items) {
                free((void *)items);
            }
            return NULL;
        }
        items[i] = s;
        s = nul + 1;
    }
    return items;
}

static jsize as_jsize(size_t n) {
    return n > (size_t)INT32_MAX ? -1 : (jsize)n;
}

/* ---- logging ---- */

static void detach_thread(void *vm) {
    (*(JavaVM *)vm)->DetachCurrentThread((JavaVM *)vm);
}

static jbyteArray bytes_of(JNIEnv *env, const char *s) {
    size_t length = s == NULL ? 0 : strlen(s);
    jbyteArray array = (*env)->NewByteArray(env, as_jsize(length));
    if (array != NULL && length > 0) {
        (*env)->SetByteArrayRegion(env, array, 0, (jsize)length, (const jbyte *)s);
    }
    return array;
}

static void forward_log(void *user_data, int32_t level, const char *target, const char *message) {
    (void)user_data;
    JNIEnv *env = NULL;
    jint got = (*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION);
    if (got == JNI_EDETACHED) {
        JavaVMAttachArgs attach = {JNI_VERSION, "stateful-executor-native", NULL};
        if ((*g_vm)->AttachCurrentThreadAsDaemon(g_vm, (void **)&env, &attach) != JNI_OK) {
            return;
        }
        pthread_setspecific(g_detach_key, g_vm);
    } else if (got != JNI_OK) {
        return;
    }
    /* On a Java thread inside a native call with an exception already pending: drop it. */
    if ((*env)->ExceptionCheck(env)) {
        return;
    }
    jbyteArray target_bytes = bytes_of(env, target);
    jbyteArray message_bytes = target_bytes == NULL ? NULL : bytes_of(env, message);
    if (message_bytes != NULL) {
        (*env)->CallStaticVoidMethod(env, g_log_class, g_log_method, (jint)level, target_bytes,
                                     message_bytes);
    }
    if ((*env)->ExceptionCheck(env)) {
        (*env)->ExceptionClear(env);
    }
    if (message_bytes != NULL) {
        (*env)->DeleteLocalRef(env, message_bytes);
    }
    if (target_bytes != NULL) {
        (*env)->DeleteLocalRef(env, target_bytes);
    }
}

static jclass global_class(JNIEnv *env, const char *name) {
    jclass local = (*env)->FindClass(env, name);
    if (local == NULL) {
        return NULL;
    }
    jclass global = (jclass)(*env)->NewGlobalRef(env, local);
    (*env)->DeleteLocalRef(env, local);
    return global;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION) != JNI_OK) {
        return JNI_ERR;
    }
    g_vm = vm;
    g_exception_class = global_class(env, "io/statefulexecutor/StatefulExecutorException");
    g_log_class = global_class(env, "io/statefulexecutor/LogBridge");
    g_oom_class = global_class(env, "java/lang/OutOfMemoryError");
    if (g_exception_class == NULL || g_log_class == NULL || g_oom_class == NULL) {
        return JNI_ERR;
    }
    g_exception_init = (*env)->GetMethodID(env, g_exception_class, "<init>", "(I[B)V");
    g_log_method = (*env)->GetStaticMethodID(env, g_log_class, "log", "(I[B[B)V");
    if (g_exception_init == NULL || g_log_method == NULL) {
        return JNI_ERR;
    }
    if (pthread_key_create(&g_detach_key, detach_thread) != 0) {
        return JNI_ERR;
    }
    return JNI_VERSION;
}

JNIEXPORT jint FN(setLogger)(JNIEnv *env, jclass cls, jint max_level) {
    (void)env;
    (void)cls;
    sf_error err;
    if (max_level <= 0) {
        return (jint)sf_set_logger(NULL, NULL, 0, &err);
    }
    return (jint)sf_set_logger(forward_log, NULL, max_level, &err);
}

JNIEXPORT jbyteArray FN(version)(JNIEnv *env, jclass cls) {
    (void)cls;
    return bytes_of(env, sf_version());
}

/* ---- lifecycle ---- */

enum { TOPOLOGY_SINGLE = 0, TOPOLOGY_CLUSTER = 1, TOPOLOGY_SENTINEL = 2 };
/* The settings array Native.open receives: pool max, pool min idle, connect, command and
 * pool-wait timeouts (ms), pipelining (0/1), pipelining min in flight, client cache max entries
 * and max age (ms); -1 = the default. */
enum { SETTINGS_COUNT = 9 };

JNIEXPORT jlong FN(open)(JNIEnv *env, jclass cls, jint topology, jbyteArray urls, jint url_count,
                         jintArray settings, jbyteArray master_name, jboolean master_auth,
                         jbyteArray master_user, jbyteArray master_password, jbyteArray ca_file,
                         jbyteArray cert_file, jbyteArray key_file) {
    (void)cls;
    sf_error err;
    sf_status status = SF_OK;
    sf_config *cfg = NULL;
    sf_executor *ex = NULL;
    int failed = 0;
    packed_args url_args;
    const char *inline_urls[INLINE_ITEMS];
    const char **url_list = NULL;
    char *master = NULL, *user = NULL, *password = NULL, *ca = NULL, *cert = NULL, *key = NULL;
    jint values[SETTINGS_COUNT];

    const char *first = args_open(env, urls, &url_args);
    if (first == NULL) {
        return 0;
    }
    url_list = split(env, &url_args, first, url_count, inline_urls);
    master = copy_optional(env, master_name, &failed);
    user = copy_optional(env, master_user, &failed);
    password = copy_optional(env, master_password, &failed);
    ca = copy_optional(env, ca_file, &failed);
    cert = copy_optional(env, cert_file, &failed);
    key = copy_optional(env, key_file, &failed);
    (*env)->GetIntArrayRegion(env, settings, 0, SETTINGS_COUNT, values);
    if (url_list == NULL || failed || (*env)->ExceptionCheck(env)) {
        goto done;
    }

    switch (topology) {
    case TOPOLOGY_CLUSTER:
        status = sf_config_new_cluster(url_list, (size_t)url_count, &cfg, &err);
        break;
    case TOPOLOGY_SENTINEL:
        status = sf_config_new_sentinel(url_list, (size_t)url_count, master, &cfg, &err);
        if (status == SF_OK && master_auth) {
            status = sf_config_set_sentinel_master_auth(cfg, user, password, &err);
        }
        break;
    default:
        status = sf_config_new(url_list[0], &cfg, &err);
        break;
    }
    /* max size before min idle: the library checks min idle <= max size. */
    if (status == SF_OK && values[0] >= 0) {
        status = sf_config_set_pool_max_size(cfg, (uint32_t)values[0], &err);
    }
    if (status == SF_OK && values[1] >= 0) {
        status = sf_config_set_pool_min_idle(cfg, (uint32_t)values[1], &err);
    }
    if (status == SF_OK && values[2] >= 0) {
        status = sf_config_set_connect_timeout_ms(cfg, (uint32_t)values[2], &err);
    }
    if (status == SF_OK && values[3] >= 0) {
        status = sf_config_set_command_timeout_ms(cfg, (uint32_t)values[3], &err);
    }
    if (status == SF_OK && values[4] >= 0) {
        status = sf_config_set_pool_wait_timeout_ms(cfg, (uint32_t)values[4], &err);
    }
    if (status == SF_OK && values[5] >= 0) {
        status = sf_config_set_pipelining(cfg, values[5] != 0, &err);
    }
    if (status == SF_OK && values[6] >= 0) {
        status = sf_config_set_pipelining_min_in_flight(cfg, (uint32_t)values[6], &err);
    }
    if (status == SF_OK && values[7] >= 0) {
        status = sf_config_set_client_cache(cfg, (uint32_t)values[7],
                                            (uint32_t)(values[8] >= 0 ? values[8] : 0), &err);
    }
    if (status == SF_OK && ca != NULL) {
        status = sf_config_set_tls_ca_file(cfg, ca, &err);
    }
    if (status == SF_OK && cert != NULL) {
        status = sf_config_set_tls_client_cert(cfg, cert, key, &err);
    }
    if (status == SF_OK) {
        status = sf_executor_open(cfg, &ex, &err);
    }
    if (status != SF_OK) {
        throw_error(env, status, &err);
    }

done:
    sf_config_free(cfg);
    if (url_list != NULL && url_list != inline_urls) {
        free((void *)url_list);
    }
    args_close(&url_args);
    free(master);
    free(user);
    free(password);
    free(ca);
    free(cert);
    free(key);
    return (jlong)(intptr_t)ex;
}

#define EXECUTOR(handle) ((sf_executor *)(intptr_t)(handle))

JNIEXPORT void FN(close)(JNIEnv *env, jclass cls, jlong handle) {
    (void)env;
    (void)cls;
    sf_executor_close(EXECUTOR(handle));
}

JNIEXPORT void FN(ping)(JNIEnv *env, jclass cls, jlong handle) {
    (void)cls;
    sf_error err;
    sf_status status = sf_ping(EXECUTOR(handle), &err);
    if (status != SF_OK) {
        throw_error(env, status, &err);
    }
}

JNIEXPORT void FN(stats)(JNIEnv *env, jclass cls, jlong handle, jlongArray out) {
    (void)cls;
    sf_error err;
    sf_stats_ext ext;
    memset(&ext, 0, sizeof ext);
    ext.size = (uint32_t)sizeof ext;
    sf_status status = sf_executor_stats_ext(EXECUTOR(handle), &ext, &err);
    if (status != SF_OK) {
        throw_error(env, status, &err);
        return;
    }
    const sf_stats *base = &ext.base;
    jlong values[15] = {
        (jlong)base->connections,       (jlong)base->idle_connections,
        (jlong)base->calls,             (jlong)base->failed_calls,
        (jlong)base->retries,           (jlong)base->pool_timeouts,
        (jlong)base->connects,          (jlong)base->connect_failures,
        (jlong)base->script_reloads,    (jlong)ext.pipelined_calls,
        (jlong)ext.cache_hits,          (jlong)ext.cache_misses,
        (jlong)ext.cache_invalidations, (jlong)ext.cache_flushes,
        (jlong)ext.cache_evictions,
    };
    (*env)->SetLongArrayRegion(env, out, 0, 15, values);
}

/* ---- pod and workload states ---- */

JNIEXPORT void FN(setServiceState)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed,
                                   jint pod) {
    (void)cls;
    packed_args args;
    const char *ns = args_open(env, packed, &args);
    if (ns == NULL) {
        return;
    }
    const char *service = next(ns);
    const char *state = next(service);
    sf_error err;
    sf_status status = sf_set_service_state(EXECUTOR(handle), ns, service, pod, state, &err);
    args_close(&args);
    if (status != SF_OK) {
        throw_error(env, status, &err);
    }
}

/*
 * A packed result (sf_packed: int32 key, int32 length, the text's bytes and a NUL, per entry)
 * as one byte[] with the same bytes, which Java decodes; the library wrote them into the
 * caller's stack buffer, or into a block of its own when they did not fit (freed here). A
 * failed status is thrown instead.
 */
static jbyteArray packed_array(JNIEnv *env, sf_status status, const sf_error *err,
                               sf_packed *result) {
    if (status != SF_OK) {
        throw_error(env, status, err);
        return NULL;
    }
    jbyteArray out =
        as_jsize(result->size) < 0 ? NULL : (*env)->NewByteArray(env, (jsize)result->size);
    if (out == NULL) {
        throw_oom(env);
    } else if (result->size > 0) {
        (*env)->SetByteArrayRegion(env, out, 0, (jsize)result->size, (const jbyte *)result->data);
    }
    sf_packed_free(result);
    return out;
}

JNIEXPORT jbyteArray FN(getServiceState)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed) {
    (void)cls;
    packed_args args;
    const char *ns = args_open(env, packed, &args);
    if (ns == NULL) {
        return NULL;
    }
    sf_error err;
    unsigned char buffer[PACKED_INLINE];
    sf_packed result;
    sf_status status = sf_get_service_state_packed(EXECUTOR(handle), ns, next(ns), buffer,
                                                   sizeof buffer, &result, &err);
    args_close(&args);
    return packed_array(env, status, &err, &result);
}

JNIEXPORT void FN(setWorkloadState)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed) {
    (void)cls;
    packed_args args;
    const char *ns = args_open(env, packed, &args);
    if (ns == NULL) {
        return;
    }
    const char *service = next(ns);
    sf_error err;
    sf_status status = sf_set_workload_state(EXECUTOR(handle), ns, service, next(service), &err);
    args_close(&args);
    if (status != SF_OK) {
        throw_error(env, status, &err);
    }
}

JNIEXPORT jbyteArray FN(getWorkloadState)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed) {
    (void)cls;
    packed_args args;
    const char *ns = args_open(env, packed, &args);
    if (ns == NULL) {
        return NULL;
    }
    sf_error err;
    char *state = NULL;
    sf_status status = sf_get_workload_state(EXECUTOR(handle), ns, next(ns), &state, &err);
    args_close(&args);
    if (status != SF_OK) {
        throw_error(env, status, &err);
        return NULL;
    }
    jbyteArray out = NULL;
    if (state != NULL) {
        out = bytes_of(env, state);
        sf_string_free(state);
    }
    return out;
}

JNIEXPORT jbyteArray FN(getWorkloadStates)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed,
                                           jint count) {
    (void)cls;
    packed_args args;
    const char *ns = args_open(env, packed, &args);
    if (ns == NULL) {
        return NULL;
    }
    const char *inline_services[INLINE_ITEMS];
    const char **services = split(env, &args, next(ns), count, inline_services);
    jbyteArray out = NULL;
    if (services != NULL) {
        sf_error err;
        unsigned char buffer[PACKED_INLINE];
        sf_packed result;
        sf_status status = sf_get_workload_states_packed(
            EXECUTOR(handle), ns, services, (size_t)count, buffer, sizeof buffer, &result, &err);
        out = packed_array(env, status, &err, &result);
        if (services != inline_services) {
            free((void *)services);
        }
    }
    args_close(&args);
    return out;
}

/* ---- links ---- */

/* Opens ns, uid, service from a packed argument array; false with an exception pending. */
#define LINK_ARGS                                                                                  \
    packed_args args;                                                                              \
    const char *ns = args_open(env, packed, &args);                                                \
    if (ns == NULL) {                                                                              \
        return 0;                                                                                  \
    }                                                                                              \
    const char *uid = next(ns);                                                                    \
    const char *service = next(uid);                                                               \
    sf_error err;

#define LINK_DONE(status)                                                                          \
    args_close(&args);                                                                             \
    if ((status) != SF_OK) {                                                                       \
        throw_error(env, (status), &err);                                                          \
    }

JNIEXPORT jint FN(setLinkedPod)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed, jint pod,
                                jint persist_seconds) {
    (void)cls;
    LINK_ARGS
    int32_t previous = SF_NO_POD;
    sf_status status = sf_set_linked_pod(EXECUTOR(handle), ns, uid, service, pod, persist_seconds,
                                         &previous, &err);
    LINK_DONE(status)
    return previous;
}

JNIEXPORT jlong FN(trySetLinkedPod)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed,
                                    jint pod, jint persist_seconds) {
    (void)cls;
    LINK_ARGS
    bool linked = false;
    int32_t current = SF_NO_POD;
    sf_status status = sf_try_set_linked_pod(EXECUTOR(handle), ns, uid, service, pod,
                                             persist_seconds, &linked, &current, &err);
    LINK_DONE(status)
    return ((jlong)(linked ? 1 : 0) << 32) | (jlong)(uint32_t)current;
}

JNIEXPORT jint FN(setLinkedPodIfAbsent)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed,
                                        jint pod, jint persist_seconds) {
    (void)cls;
    LINK_ARGS
    int32_t current = SF_NO_POD;
    sf_status status = sf_set_linked_pod_if_absent(EXECUTOR(handle), ns, uid, service, pod,
                                                   persist_seconds, &current, &err);
    LINK_DONE(status)
    return current;
}

JNIEXPORT jint FN(getLinkedPod)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed) {
    (void)cls;
    LINK_ARGS
    int32_t pod = SF_NO_POD;
    sf_status status = sf_get_linked_pod(EXECUTOR(handle), ns, uid, service, &pod, &err);
    LINK_DONE(status)
    return pod;
}

JNIEXPORT jint FN(getLinkedPodIfPersist)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed) {
    (void)cls;
    LINK_ARGS
    int32_t pod = SF_NO_POD;
    sf_status status = sf_get_linked_pod_if_persist(EXECUTOR(handle), ns, uid, service, &pod, &err);
    LINK_DONE(status)
    return pod;
}

JNIEXPORT jboolean FN(removeLinkedPod)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed,
                                       jint keep_seconds) {
    (void)cls;
    LINK_ARGS
    bool removed = false;
    sf_status status =
        sf_remove_linked_pod(EXECUTOR(handle), ns, uid, service, keep_seconds, &removed, &err);
    LINK_DONE(status)
    return removed ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jboolean FN(removeLinkedPodWithId)(JNIEnv *env, jclass cls, jlong handle,
                                             jbyteArray packed, jint keep_seconds, jint pod) {
    (void)cls;
    LINK_ARGS
    bool removed = false;
    sf_status status = sf_remove_linked_pod_with_id(EXECUTOR(handle), ns, uid, service,
                                                    keep_seconds, pod, &removed, &err);
    LINK_DONE(status)
    return removed ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jboolean FN(touchLinkedPod)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed,
                                      jint pod, jint persist_seconds) {
    (void)cls;
    LINK_ARGS
    bool touched = false;
    sf_status status = sf_touch_linked_pod(EXECUTOR(handle), ns, uid, service, pod,
                                           persist_seconds, &touched, &err);
    LINK_DONE(status)
    return touched ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jint FN(computeLinkedPod)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed,
                                    jintArray pod_array, jlongArray load_array,
                                    jint persist_seconds) {
    (void)cls;
    jsize count = (*env)->GetArrayLength(env, pod_array);
    int32_t inline_pods[INLINE_ITEMS];
    int64_t inline_loads[INLINE_ITEMS];
    int32_t *pods = count <= INLINE_ITEMS ? inline_pods : malloc((size_t)count * sizeof *pods);
    int64_t *loads = count <= INLINE_ITEMS ? inline_loads : malloc((size_t)count * sizeof *loads);
    int32_t pod = SF_NO_POD;
    if (pods == NULL || loads == NULL) {
        throw_oom(env);
    } else {
        (*env)->GetIntArrayRegion(env, pod_array, 0, count, (jint *)pods);
        (*env)->GetLongArrayRegion(env, load_array, 0, count, (jlong *)loads);
        packed_args args;
        const char *ns = args_open(env, packed, &args);
        if (ns != NULL) {
            const char *uid = next(ns);
            const char *service = next(uid);
            sf_error err;
            sf_status status = sf_compute_linked_pod(EXECUTOR(handle), ns, uid, service, pods, loads,
                                                     (size_t)count, persist_seconds, &pod, &err);
            args_close(&args);
            if (status != SF_OK) {
                throw_error(env, status, &err);
            }
        }
    }
    if (pods != inline_pods) {
        free(pods);
    }
    if (loads != inline_loads) {
        free(loads);
    }
    return pod;
}

JNIEXPORT void FN(batchGetLinkedPods)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed,
                                      jint count, jintArray out_pods) {
    (void)cls;
    packed_args args;
    const char *ns = args_open(env, packed, &args);
    if (ns == NULL) {
        return;
    }
    const char *service = next(ns);
    const char *inline_uids[INLINE_ITEMS];
    int32_t inline_pods[INLINE_ITEMS];
    const char **uids = split(env, &args, next(service), count, inline_uids);
    int32_t *pods = count <= INLINE_ITEMS ? inline_pods : malloc((size_t)count * sizeof *pods);
    if (uids == NULL || pods == NULL) {
        throw_oom(env);
    } else {
        sf_error err;
        sf_status status = sf_batch_get_linked_pods(EXECUTOR(handle), ns, service, uids,
                                                    (size_t)count, pods, &err);
        if (status != SF_OK) {
            throw_error(env, status, &err);
        } else {
            (*env)->SetIntArrayRegion(env, out_pods, 0, count, (const jint *)pods);
        }
    }
    if (uids != NULL && uids != inline_uids) {
        free((void *)uids);
    }
    if (pods != NULL && pods != inline_pods) {
        free(pods);
    }
    args_close(&args);
}

JNIEXPORT jbyteArray FN(getLinkServices)(JNIEnv *env, jclass cls, jlong handle, jbyteArray packed) {
    (void)cls;
    packed_args args;
    const char *ns = args_open(env, packed, &args);
    if (ns == NULL) {
        return NULL;
    }
    sf_error err;
    unsigned char buffer[PACKED_INLINE];
    sf_packed result;
    sf_status status = sf_get_link_services_packed(EXECUTOR(handle), ns, next(ns), buffer,
                                                   sizeof buffer, &result, &err);
    args_close(&args);
    return packed_array(env, status, &err, &result);
}

/* ---- batches (Batcher.java) ---- */

/*
 * The buffers of executeBatch, laid out by Batcher.BatchBuffers. Request: per call four int32
 * (kind, pod, seconds, length of its strings), then every call's strings (NUL-terminated, in the
 * order Utf8.pack wrote them) one after the other. Outcome: per call four int32 (status, pod,
 * flag, length of its data, -1 for an absent text), then every call's data: the error message
 * when the status is not SF_OK, else the workload state's bytes, or the pod states / service
 * links as packed entries (the sf_packed layout: int32 key, int32 length, the bytes, a NUL).
 */
#define BATCH_HEADER 16

JNIEXPORT jint FN(batchOpSize)(JNIEnv *env, jclass cls) {
    (void)env;
    (void)cls;
    return (jint)sizeof(sf_batch_op);
}

static int32_t read_i32(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void write_i32(unsigned char *p, int32_t v) {
    memcpy(p, &v, sizeof v);
}

/* The bytes of one packed entry (key, length, text, NUL). */
static size_t entry_size(const char *text) {
    return 8 + strlen(text) + 1;
}

static unsigned char *put_entry(unsigned char *p, int32_t key, const char *text) {
    size_t length = strlen(text);
    write_i32(p, key);
    write_i32(p + 4, (int32_t)length);
    memcpy(p + 8, text, length + 1);
    return p + 8 + length + 1;
}

/* The size of an entry's data in the outcome buffer (0 for an absent text). */
static size_t outcome_size(const sf_batch_op *op) {
    size_t size = 0;
    if (op->status != SF_OK) {
        const char *end = memchr(op->error.message, '\0', sizeof op->error.message);
        return end == NULL ? sizeof op->error.message : (size_t)(end - op->error.message);
    }
    switch (op->kind) {
    case SF_BATCH_GET_WORKLOAD_STATE:
        return op->out_text == NULL ? 0 : strlen(op->out_text);
    case SF_BATCH_GET_SERVICE_STATE:
        for (size_t i = 0, n = sf_pod_states_len(op->out_states); i < n; i++) {
            size += entry_size(sf_pod_states_state(op->out_states, i));
        }
        return size;
    case SF_BATCH_GET_LINK_SERVICES:
        for (size_t i = 0, n = sf_service_links_len(op->out_links); i < n; i++) {
            size += entry_size(sf_service_links_service(op->out_links, i));
        }
        return size;
    default:
        return 0;
    }
}

/* Writes each entry's header and data at dst (room for all of them). */
static void write_outcomes(const sf_batch_op *ops, jint count, unsigned char *dst) {
    unsigned char *data = dst + (size_t)count * BATCH_HEADER;
    for (jint i = 0; i < count; i++) {
        const sf_batch_op *op = &ops[i];
        unsigned char *header = dst + (size_t)i * BATCH_HEADER;
        unsigned char *start = data;
        int32_t length;
        if (op->status != SF_OK) {
            size_t n = outcome_size(op);
            memcpy(data, op->error.message, n);
            data += n;
        } else if (op->kind == SF_BATCH_GET_WORKLOAD_STATE && op->out_text != NULL) {
            size_t n = strlen(op->out_text);
            memcpy(data, op->out_text, n);
            data += n;
        } else if (op->kind == SF_BATCH_GET_SERVICE_STATE) {
            for (size_t e = 0, n = sf_pod_states_len(op->out_states); e < n; e++) {
                data = put_entry(data, sf_pod_states_pod(op->out_states, e),
                                 sf_pod_states_state(op->out_states, e));
            }
        } else if (op->kind == SF_BATCH_GET_LINK_SERVICES) {
            for (size_t e = 0, n = sf_service_links_len(op->out_links); e < n; e++) {
                data = put_entry(data, sf_service_links_pod(op->out_links, e),
                                 sf_service_links_service(op->out_links, e));
            }
        }
        length = (int32_t)(data - start);
        if (op->status == SF_OK && op->kind == SF_BATCH_GET_WORKLOAD_STATE && op->out_text == NULL) {
            length = -1;
        }
        write_i32(header, op->status);
        write_i32(header + 4, op->out_pod);
        write_i32(header + 8, op->out_flag ? 1 : 0);
        write_i32(header + 12, length);
    }
}

static void free_outcomes(sf_batch_op *ops, jint count) {
    for (jint i = 0; i < count; i++) {
        sf_string_free(ops[i].out_text);
        sf_pod_states_free(ops[i].out_states);
        sf_service_links_free(ops[i].out_links);
    }
}

JNIEXPORT jbyteArray FN(executeBatch)(JNIEnv *env, jclass cls, jlong handle, jobject in, jint count,
                                      jobject out, jobject scratch) {
    (void)cls;
    unsigned char *request = (*env)->GetDirectBufferAddress(env, in);
    jlong request_size = (*env)->GetDirectBufferCapacity(env, in);
    unsigned char *outcome = (*env)->GetDirectBufferAddress(env, out);
    jlong outcome_capacity = (*env)->GetDirectBufferCapacity(env, out);
    sf_batch_op *ops = (*env)->GetDirectBufferAddress(env, scratch);
    jlong ops_capacity = (*env)->GetDirectBufferCapacity(env, scratch);
    if (request == NULL || outcome == NULL || ops == NULL || count <= 0 ||
        request_size < (jlong)count * BATCH_HEADER ||
        ops_capacity < (jlong)((size_t)count * sizeof *ops)) {
        static const char message[] = "executeBatch: buffers too small for the batch";
        throw_status(env, SF_INTERNAL, message, sizeof message - 1);
        return NULL;
    }

    /* Each call's strings lie within its own length, which ends in a NUL (Utf8.pack). */
    const unsigned char *strings = request + (size_t)count * BATCH_HEADER;
    const unsigned char *end = request + request_size;
    for (jint i = 0; i < count; i++) {
        const unsigned char *header = request + (size_t)i * BATCH_HEADER;
        int32_t length = read_i32(header + 12);
        if (length <= 0 || length > end - strings || strings[length - 1] != '\0') {
            static const char message[] = "executeBatch: a call's strings are not where they belong";
            throw_status(env, SF_INTERNAL, message, sizeof message - 1);
            return NULL;
        }
        sf_batch_op *op = &ops[i];
        const char *first = (const char *)strings;
        op->kind = read_i32(header);
        op->pod = read_i32(header + 4);
        op->seconds = read_i32(header + 8);
        op->ns = first;
        op->uid = NULL;
        op->service = NULL;
        op->state = NULL;
        switch (op->kind) {
        case SF_BATCH_SET_SERVICE_STATE:
        case SF_BATCH_SET_WORKLOAD_STATE: /* ns, service, state */
            op->service = next(first);
            op->state = next(op->service);
            break;
        case SF_BATCH_GET_SERVICE_STATE:
        case SF_BATCH_GET_WORKLOAD_STATE: /* ns, service */
            op->service = next(first);
            break;
        case SF_BATCH_GET_LINK_SERVICES: /* ns, uid */
            op->uid = next(first);
            break;
        default: /* ns, uid, service */
            op->uid = next(first);
            op->service = next(op->uid);
            break;
        }
        strings += length;
    }

    sf_execute_batch(EXECUTOR(handle), ops, (size_t)count, NULL);

    size_t total = (size_t)count * BATCH_HEADER;
    for (jint i = 0; i < count; i++) {
        total += outcome_size(&ops[i]);
    }
    jbyteArray spilled = NULL;
    if ((jlong)total <= outcome_capacity) {
        write_outcomes(ops, count, outcome);
    } else {
        /* Rare (large maps): one block of the exact size, handed back as an array. */
        unsigned char *block = as_jsize(total) < 0 ? NULL : malloc(total);
        if (block != NULL) {
            write_outcomes(ops, count, block);
            spilled = (*env)->NewByteArray(env, (jsize)total);
            if (spilled != NULL) {
                (*env)->SetByteArrayRegion(env, spilled, 0, (jsize)total, (const jbyte *)block);
            }
            free(block);
        } else {
            throw_oom(env);
        }
    }
    free_outcomes(ops, count);
    return spilled;
}
