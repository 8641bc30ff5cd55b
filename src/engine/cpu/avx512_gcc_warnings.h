// Included by the AVX-512 kernel files after their other headers: GCC 12 warns inside its own
// avx512fintrin.h (the deliberately uninitialized operand of _mm512_undefined_*); the warning is
// about the header, not these files, so it is switched off for the rest of each of them.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
