// Guest side of the runtime tests (wasm_runtime_test.cpp): calls host functions of a test
// module `nnbridge_test` with every value type, grows memory and asks the host to read the new
// part, and triggers the host's failure modes. The host picks what to do through mode().
#include <stdint.h>

#define IMPORT(n) __attribute__((import_module("nnbridge_test"), import_name(n)))
IMPORT("mode") int32_t mode(void);
IMPORT("add_i32") int32_t add_i32(int32_t a, int32_t b);
IMPORT("add_i64") int64_t add_i64(int64_t a, int64_t b);
IMPORT("mul_f32") float mul_f32(float a, float b);
IMPORT("mul_f64") double mul_f64(double a, double b);
IMPORT("report") void report(int32_t id, int64_t value);
IMPORT("sum_bytes") int64_t sum_bytes(uint32_t ptr, uint32_t len);
IMPORT("fail") void fail(void);

int main(void) {
  switch (mode()) {
    case 0:  // values of every type cross the boundary both ways, bit-exact
      report(1, add_i32(40, 2));
      report(2, add_i32(-7, 3));
      report(3, add_i64(1ll << 40, -5));
      report(4, (int64_t)(mul_f32(1.5f, -4.0f) * 1000));
      report(5, (int64_t)(mul_f64(2.25, 1e6)));
      return 0;
    case 1: {  // memory.grow moves the buffer: the host must see the new pages
      const uint32_t old_pages = (uint32_t)__builtin_wasm_memory_grow(0, 64);
      volatile uint8_t* base = (volatile uint8_t*)(uintptr_t)(old_pages * 65536u);
      for (uint32_t i = 0; i < 64u * 65536u; ++i) base[i] = (uint8_t)(i % 251);
      report(6, sum_bytes(old_pages * 65536u, 64u * 65536u));
      report(7, (int64_t)old_pages);
      return 0;
    }
    default:  // the host's fail() throws what the test chose
      fail();
      report(99, 0);  // never reached
      return 0;
  }
}
