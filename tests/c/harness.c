#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resp.h"
#include "stateful_executor.h"

int harness_failures = 0;
static int tests_passed = 0;
static int tests_failed = 0;

void check_status_at(const char *file, int line, const char *expr, int got, int expected,
                     const struct sf_error *err) {
  if (got == expected) {
    if (err != NULL && (int)err->code != got) {
      harness_failures++;
      fprintf(stderr, "    %s:%d: %s: err->code %s differs from the returned %s\n", file, line,
              expr, sf_status_name((sf_status)err->code), sf_status_name((sf_status)got));
    }
    if (err != NULL && got == SF_OK && err->message[0] != '\0') {
      harness_failures++;
      fprintf(stderr, "    %s:%d: %s: SF_OK with a message: %s\n", file, line, expr,
              err->message);
    }
    if (err != NULL && got != SF_OK && err->message[0] == '\0') {
      harness_failures++;
      fprintf(stderr, "    %s:%d: %s: %s without a message\n", file, line, expr,
              sf_status_name((sf_status)got));
    }
    return;
  }
  harness_failures++;
  fprintf(stderr, "    %s:%d: %s returned %s, expected %s%s%s\n", file, line, expr,
          sf_status_name((sf_status)got), sf_status_name((sf_status)expected),
          err != NULL ? ": " : "", err != NULL ? err->message : "");
}

long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int slow_factor(void) {
  const char *slow = getenv("SF_TEST_SLOW");
  return (slow != NULL && slow[0] != '\0' && strcmp(slow, "0") != 0) ? 10 : 1;
}

void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- servers ---- */

#define MAX_SERVERS 16
static server *running[MAX_SERVERS];

int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  int port = -1;
  if (fd < 0) return -1;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
      getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

char raw_commandv(const server *s, int argc, const char *const *argv, const size_t *lens,
                  char *reply, size_t reply_size) {
  resp_conn *conn = malloc(sizeof *conn); /* a large buffer; any thread may call this */
  char type = 0;
  if (conn == NULL) return 0;
  if (resp_connect(conn, "127.0.0.1", s->port, 10000) == 0) {
    const char *auth[2];
    char scratch[256];
    auth[0] = "AUTH";
    auth[1] = s->password;
    if (s->password[0] == '\0' ||
        resp_commandv(conn, 2, auth, NULL, scratch, sizeof scratch, NULL) == '+')
      type = resp_commandv(conn, argc, argv, lens, reply, reply_size, NULL);
    resp_close(conn);
  }
  free(conn);
  return type;
}

char raw(const server *s, char *reply, size_t reply_size, ...) {
  const char *argv[32];
  int argc = 0;
  va_list ap;
  va_start(ap, reply_size);
  while (argc < 32) {
    const char *arg = va_arg(ap, const char *);
    if (arg == NULL) break;
    argv[argc++] = arg;
  }
  va_end(ap);
  return raw_commandv(s, argc, argv, NULL, reply, reply_size);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_dir(const char *dir) {
  if (dir[0] != '\0') nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void forget(server *s) {
  int i;
  for (i = 0; i < MAX_SERVERS; i++)
    if (running[i] == s) running[i] = NULL;
}

void server_kill(server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    s->pid = 0;
  }
}

void server_stop(server *s) {
  server_kill(s);
  remove_dir(s->dir);
  s->dir[0] = '\0';
  forget(s);
}

void servers_stop_all(void) {
  int i;
  for (i = 0; i < MAX_SERVERS; i++)
    if (running[i] != NULL) server_stop(running[i]);
}

void server_url(const server *s, char *buf, size_t size) {
  snprintf(buf, size, "redis://127.0.0.1:%d", s->port);
}

static int spawn(server *s, const char *const *extra_args) {
  const char *binary = getenv("REDIS_SERVER");
  const char *argv[64];
  char port[16], logfile[300];
  int argc = 0, i;
  long long deadline;
  pid_t parent = getpid();
  if (binary == NULL || binary[0] == '\0') {
    /* SF_TEST_SERVER=valkey: the one switch for running the suite against Valkey. */
    const char *which = getenv("SF_TEST_SERVER");
    binary = which != NULL && strcmp(which, "valkey") == 0 ? "valkey-server" : "redis-server";
  }
  snprintf(port, sizeof port, "%d", s->port);
  snprintf(logfile, sizeof logfile, "%s/redis.log", s->dir);
  argv[argc++] = binary;
  argv[argc++] = "--port";
  argv[argc++] = port;
  argv[argc++] = "--bind";
  argv[argc++] = "127.0.0.1";
  argv[argc++] = "--save";
  argv[argc++] = "";
  argv[argc++] = "--appendonly";
  argv[argc++] = "no";
  argv[argc++] = "--daemonize";
  argv[argc++] = "no";
  argv[argc++] = "--dir";
  argv[argc++] = s->dir;
  argv[argc++] = "--logfile";
  argv[argc++] = logfile;
  for (i = 0; extra_args != NULL && extra_args[i] != NULL && argc < 62; i++)
    argv[argc++] = extra_args[i];
  argv[argc] = NULL;

  s->pid = fork();
  if (s->pid < 0) return -1;
  if (s->pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    /* Die with the test runner, whatever happens to it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execvp(binary, (char *const *)argv);
    _exit(127);
  }
  deadline = now_ms() + 10000L * slow_factor();
  while (now_ms() < deadline) {
    char reply[64];
    int status;
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
      s->pid = 0;
      return -1; /* exited: most likely the port was taken meanwhile */
    }
    if (raw(s, reply, sizeof reply, "PING", NULL) == '+' && strcmp(reply, "PONG") == 0) return 0;
    sleep_ms(20);
  }
  server_kill(s);
  return -1;
}

int server_start(server *s, const char *const *extra_args) {
  int attempt, i;
  memset(s, 0, sizeof *s);
  snprintf(s->dir, sizeof s->dir, "%s/sf-ctest-XXXXXX",
           getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(s->dir) == NULL) {
    s->dir[0] = '\0';
    return -1;
  }
  for (i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    if (strcmp(extra_args[i], "--requirepass") == 0 && extra_args[i + 1] != NULL)
      snprintf(s->password, sizeof s->password, "%s", extra_args[i + 1]);
  for (attempt = 0; attempt < 5; attempt++) {
    s->port = free_port();
    if (s->port > 0 && s->port != 6379 && spawn(s, extra_args) == 0) {
      for (i = 0; i < MAX_SERVERS; i++)
        if (running[i] == NULL) {
          running[i] = s;
          break;
        }
      return 0;
    }
  }
  fprintf(stderr, "    redis-server did not start\n");
  remove_dir(s->dir);
  s->dir[0] = '\0';
  return -1;
}

/* ---- registry ---- */

void run_test(const char *name, test_fn fn) {
  long long started = now_ms();
  harness_failures = 0;
  fprintf(stderr, "test %s ...\n", name);
  fn();
  if (harness_failures == 0) {
    tests_passed++;
    printf("ok     %s (%lld ms)\n", name, now_ms() - started);
  } else {
    tests_failed++;
    printf("FAILED %s (%d failed checks)\n", name, harness_failures);
  }
  fflush(stdout);
}

int harness_summary(void) {
  printf("\n%d passed, %d failed\n", tests_passed, tests_failed);
  return tests_failed == 0 && tests_passed > 0 ? 0 : 1;
}
