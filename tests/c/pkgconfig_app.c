/* A user's program, built by scripts/c-install-check.sh with only what `make install` put in a
 * prefix and what pkg-config says. Needs no server. */
#include <stateful_executor.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  sf_error err;
  sf_config *cfg = NULL;
  if (sf_config_new("redis://127.0.0.1:1", &cfg, &err) != SF_OK) {
    fprintf(stderr, "sf_config_new: %s\n", err.message);
    return 1;
  }
  sf_config_free(cfg);
  if (sf_config_new("bogus", &cfg, &err) != SF_CONFIG || cfg != NULL) return 1;
  printf("stateful-executor %s linked; %s\n", sf_version(), sf_status_name(err.code));
  return 0;
}
