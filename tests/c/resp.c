#define _GNU_SOURCE
#include "resp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int resp_connect(resp_conn *c, const char *ipv4, int port, int timeout_ms) {
  struct sockaddr_in addr;
  int one = 1;
  c->len = c->pos = 0;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -1;
  if (timeout_ms > 0) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, ipv4, &addr.sin_addr) != 1 ||
      connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    resp_close(c);
    return -1;
  }
  return 0;
}

void resp_close(resp_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->len = c->pos = 0;
}

static int write_all(resp_conn *c, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(c->fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The next byte, or -1 on failure. */
static int next_byte(resp_conn *c) {
  if (c->pos == c->len) {
    ssize_t n;
    do n = read(c->fd, c->buf, sizeof c->buf);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return -1;
    c->len = (size_t)n;
    c->pos = 0;
  }
  return (unsigned char)c->buf[c->pos++];
}

/* One CRLF-terminated line without the CRLF (truncated to size). 0 on success. */
static int read_line(resp_conn *c, char *line, size_t size) {
  size_t used = 0;
  for (;;) {
    int b = next_byte(c);
    if (b < 0) return -1;
    if (b == '\n') break;
    if (b != '\r' && used + 1 < size) line[used++] = (char)b;
  }
  line[used] = '\0';
  return 0;
}

/* Reads one whole reply of any type and drops it (for array elements). 0 on success. */
static int skip_reply(resp_conn *c, int depth) {
  char line[128];
  long n, i;
  if (depth > 64 || read_line(c, line, sizeof line) != 0) return -1;
  n = strtol(line + 1, NULL, 10);
  switch (line[0]) {
    case '$':
      for (i = 0; n >= 0 && i < n + 2; i++)
        if (next_byte(c) < 0) return -1;
      return 0;
    case '*':
      for (i = 0; i < n; i++)
        if (skip_reply(c, depth + 1) != 0) return -1;
      return 0;
    default:
      return 0;
  }
}

char resp_commandv(resp_conn *c, int argc, const char *const *argv, const size_t *lens,
                   char *reply, size_t reply_size, long *reply_len) {
  char header[32], line[512];
  int i;
  if (reply_len != NULL) *reply_len = 0;
  if (reply_size > 0) reply[0] = '\0';
  snprintf(header, sizeof header, "*%d\r\n", argc);
  if (write_all(c, header, strlen(header)) != 0) return 0;
  for (i = 0; i < argc; i++) {
    size_t len = lens != NULL ? lens[i] : strlen(argv[i]);
    snprintf(header, sizeof header, "$%zu\r\n", len);
    if (write_all(c, header, strlen(header)) != 0 || write_all(c, argv[i], len) != 0 ||
        write_all(c, "\r\n", 2) != 0)
      return 0;
  }
  if (read_line(c, line, sizeof line) != 0) return 0;
  switch (line[0]) {
    case '$': {
      long len = strtol(line + 1, NULL, 10), k;
      size_t kept = 0;
      if (reply_len != NULL) *reply_len = len;
      if (len < 0) {
        snprintf(reply, reply_size, "(nil)");
        return '$';
      }
      for (k = 0; k < len + 2; k++) {
        int b = next_byte(c);
        if (b < 0) return 0;
        if (k < len && kept + 1 < reply_size) reply[kept++] = (char)b;
      }
      if (reply_size > 0) reply[kept] = '\0';
      return '$';
    }
    case '*': {
      long n = strtol(line + 1, NULL, 10), k;
      for (k = 0; k < n; k++)
        if (skip_reply(c, 1) != 0) return 0;
      snprintf(reply, reply_size, "(array %s)", line + 1);
      return '*';
    }
    case '+':
    case '-':
    case ':':
      snprintf(reply, reply_size, "%s", line + 1);
      return line[0];
    default:
      return 0;
  }
}
