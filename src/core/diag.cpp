#include "core/diag.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace unetmap {

bool diag_allowed(DiagRate& r) {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    int64_t seen = r.second.load(std::memory_order_relaxed);
    if (seen != now.tv_sec && r.second.compare_exchange_strong(seen, now.tv_sec, std::memory_order_relaxed))
        r.count.store(0, std::memory_order_relaxed);
    return r.count.fetch_add(1, std::memory_order_relaxed) < kDiagPerSecond;
}

void diag_print(const char* fmt, ...) {
    char line[512];
    int n = std::snprintf(line, sizeof line, "unetmap: ");
    va_list ap;
    va_start(ap, fmt);
    const int m = std::vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : std::min<int>(n + m, static_cast<int>(sizeof line) - 2);
    line[n++] = '\n';
    // One write(2), so that lines of several threads or processes do not mix.
    [[maybe_unused]] const ssize_t w = ::write(STDERR_FILENO, line, static_cast<size_t>(n));
}

}  // namespace unetmap
