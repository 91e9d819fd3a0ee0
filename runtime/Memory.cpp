// Large zero-filled arrays: reserve, advise huge pages, then fill.
#include "runtime/Memory.h"

#include <sys/mman.h>

#include <cstdint>

namespace tp {

std::vector<double> hugePageZeros(size_t n) {
  constexpr uintptr_t kHugePage = uintptr_t(1) << 21;
  std::vector<double> v;
  v.reserve(n);
  uintptr_t begin = (reinterpret_cast<uintptr_t>(v.data()) + kHugePage - 1) & ~(kHugePage - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(v.data() + n) & ~(kHugePage - 1);
#ifdef MADV_HUGEPAGE
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // advice only
#endif
  v.resize(n, 0.0);
  return v;
}

}  // namespace tp
