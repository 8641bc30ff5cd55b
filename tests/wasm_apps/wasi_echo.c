// Prints its arguments and environment, one per line, so tests can check exactly what the
// runtime passed (argv[0], arguments that look like options, KEY=VALUE pairs).
#include <stdio.h>

extern char** environ;

int main(int argc, char** argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; ++i) printf("argv[%d]=%s\n", i, argv[i]);
  for (char** e = environ; *e; ++e) printf("env %s\n", *e);
  return 0;
}
