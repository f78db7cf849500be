/*
 * A small test harness for the C API: checks and a test registry, throwaway redis-server
 * processes on free loopback ports in temporary directories, and raw commands (through the
 * RESP client of resp.h, shared with the fuzzer) for setting up data behind the library's back.
 */
#ifndef SF_TEST_HARNESS_H
#define SF_TEST_HARNESS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- checks ---- */

extern int harness_failures; /* failed checks in the current test */

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      harness_failures++;                                                             \
      fprintf(stderr, "    %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
    }                                                                                 \
  } while (0)

/* Checks a status; on mismatch prints both names and the error message. */
#define CHECK_STATUS(expr, expected, errp)                                            \
  do {                                                                                \
    sf_status got_ = (expr);                                                          \
    check_status_at(__FILE__, __LINE__, #expr, got_, (expected), (errp));             \
  } while (0)

struct sf_error;
void check_status_at(const char *file, int line, const char *expr, int got, int expected,
                     const struct sf_error *err);

/* Timing: monotonic milliseconds, and a factor (> 1 under valgrind) for time bounds. */
long long now_ms(void);
int slow_factor(void);
void sleep_ms(long ms);

/* ---- redis-server processes ---- */

typedef struct server {
  pid_t pid;
  int port;
  char dir[256];
  char password[64]; /* empty: none */
} server;

/* Starts redis-server on a free loopback port with the extra arguments (NULL-terminated list,
 * may be NULL); "--requirepass X" is remembered for raw commands. Returns 0 on success. */
int server_start(server *s, const char *const *extra_args);
/* Stops the process (SIGKILL) and removes its directory. Safe to call twice. */
void server_stop(server *s);
/* Kills the process but keeps the port and directory record (the port is then closed). */
void server_kill(server *s);
/* "redis://127.0.0.1:PORT" (no credentials) into buf. */
void server_url(const server *s, char *buf, size_t size);
/* Stops every server still running (atexit). */
void servers_stop_all(void);

/* A free TCP port on 127.0.0.1 with nothing listening on it. */
int free_port(void);

/* ---- raw RESP commands ---- */

/* Sends one command (argv with explicit lengths; lens may be NULL for C strings) to the server
 * on its own connection (authenticating when the server has a password) and reads one reply.
 * Writes the reply's first token into `reply` ("+OK" -> "OK", ":5" -> "5", bulk -> its bytes,
 * nil -> "(nil)", "-ERR x" -> "ERR x", arrays -> "(array N)"). Returns the type character
 * ('+', '-', ':', '$', '*') or 0 on I/O failure. */
char raw_commandv(const server *s, int argc, const char *const *argv, const size_t *lens,
                  char *reply, size_t reply_size);
/* Same with C-string arguments, terminated by NULL. */
char raw(const server *s, char *reply, size_t reply_size, ...);

/* ---- registry ---- */

typedef void (*test_fn)(void);
void run_test(const char *name, test_fn fn);
int harness_summary(void); /* prints "N passed, M failed"; returns the exit code */

#endif
