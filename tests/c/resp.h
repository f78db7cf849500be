/*
 * A minimal blocking RESP client for the C tests and the fuzzer: commands sent to a
 * redis-server behind the library's back (setting up data, reading statistics). IPv4 TCP only;
 * one connection per resp_conn, reused for any number of commands.
 */
#ifndef SF_TEST_RESP_H
#define SF_TEST_RESP_H

#include <stddef.h>

typedef struct resp_conn {
  int fd;
  size_t len, pos; /* unread bytes: buf[pos..len) */
  char buf[1 << 16];
} resp_conn;

/* Connects to ipv4:port (e.g. "127.0.0.1"); timeout_ms > 0 bounds every send and receive.
 * Returns 0 on success, -1 on failure (c->fd is then -1). */
int resp_connect(resp_conn *c, const char *ipv4, int port, int timeout_ms);

/* Closes the connection (safe to call twice). */
void resp_close(resp_conn *c);

/* Sends one command (argv with explicit lengths; lens may be NULL for C strings) and reads its
 * reply. Returns the reply's type character ('+', '-', ':', '$', '*'), or 0 on an I/O or
 * protocol failure (the connection is then unusable). `reply` (NUL-terminated, truncated to
 * reply_size) gets the line after the type character ("+OK" -> "OK", ":5" -> "5", "-ERR x" ->
 * "ERR x"), a bulk string's bytes, "(nil)" for a nil, or "(array N)" for an array (whose
 * elements are read and dropped). *reply_len, when not NULL, gets a bulk string's full length,
 * -1 for a nil, 0 otherwise. */
char resp_commandv(resp_conn *c, int argc, const char *const *argv, const size_t *lens,
                   char *reply, size_t reply_size, long *reply_len);

#endif
