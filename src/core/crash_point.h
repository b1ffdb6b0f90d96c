// Crash points: places where a test may have the process killed, to check
// that what a process dying exactly there leaves half-done is repaired.
//
// Most kills are tested by sending SIGKILL from outside at random moments
// (tests/tools/chaos_test.sh), which cannot aim at a window of a few
// instructions.  A crash point can: with UNETMAP_CRASH_AT=NAME:N in the
// environment when the library loads, the N-th pass (N >= 1, counted over
// all threads) through crash point NAME raises SIGKILL.  Unset, a crash
// point costs one relaxed load.
#pragma once

#include <atomic>
#include <cstdint>

namespace unetmap {

enum class CrashPoint : uint32_t {
    kNone = 0,
    kZmonExchange = 1,  // "zmon_exchange": one zero-copy monitor exchange half-written (monitor_zcopy.cpp)
    kCtlRemove = 2,     // "ctl_remove": the control file marked dead, not removed yet (registry.cpp)
};

namespace detail {
extern std::atomic<uint32_t> g_crash_point;
void crash_point_pass();
}  // namespace detail

inline void crash_point(CrashPoint p) {
    if (detail::g_crash_point.load(std::memory_order_relaxed) == static_cast<uint32_t>(p)) [[unlikely]]
        detail::crash_point_pass();
}

}  // namespace unetmap
