// Copying request structures from and to the application's memory with
// the kernel's checks: a pointer that does not map gives EFAULT.
#pragma once

#include <cstddef>
#include <cstdint>

namespace unetmap {

/// 0 or EFAULT.
int copy_in(void* dst, uint64_t user_src, std::size_t len);
int copy_out(uint64_t user_dst, const void* src, std::size_t len);

}  // namespace unetmap
