#include "core/crash_point.h"

#include <signal.h>

#include <cstdlib>
#include <string_view>

namespace unetmap::detail {

std::atomic<uint32_t> g_crash_point{0};

namespace {

std::atomic<uint64_t> g_passes_left{0};

struct Name {
    const char* text;
    CrashPoint point;
};
constexpr Name kNames[] = {{"zmon_exchange", CrashPoint::kZmonExchange}, {"ctl_remove", CrashPoint::kCtlRemove}};

// Read once, when the library loads: a crash point must not cost a getenv.
__attribute__((constructor)) void read_crash_point() {
    const char* v = std::getenv("UNETMAP_CRASH_AT");
    if (!v) return;
    const std::string_view spec(v);
    const size_t colon = spec.rfind(':');
    if (colon == std::string_view::npos) return;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v + colon + 1, &end, 10);
    if (n == 0 || *end != '\0') return;
    for (const Name& name : kNames)
        if (spec.substr(0, colon) == name.text) {
            g_passes_left.store(n, std::memory_order_relaxed);
            g_crash_point.store(static_cast<uint32_t>(name.point), std::memory_order_relaxed);
        }
}

}  // namespace

void crash_point_pass() {
    if (g_passes_left.fetch_sub(1, std::memory_order_relaxed) == 1) ::raise(SIGKILL);
}

}  // namespace unetmap::detail
