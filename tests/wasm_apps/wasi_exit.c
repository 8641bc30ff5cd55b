// Exits through proc_exit with the code given as argv[1] (after printing to stdout, to check
// that output written before an exit is not lost).
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  const int code = argc > 1 ? atoi(argv[1]) : 0;
  printf("exiting with %d\n", code);
  exit(code);
}
