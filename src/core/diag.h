// Why a control request was refused, on standard error.
//
// An errno alone ("Cannot allocate memory") does not say which table or
// pool is full; netmap says it in the kernel log (nm_prerr).  Refusals at
// a limit print one line "unetmap: <what>" here, rate-limited as netmap's
// nm_prlim: at most kDiagPerSecond lines per second per call site.  Only
// control operations call this, never the data path.
#pragma once

#include <atomic>
#include <cstdint>

namespace unetmap {

inline constexpr int kDiagPerSecond = 5;

struct DiagRate {
    std::atomic<int64_t> second{0};
    std::atomic<int> count{0};
};

/// True if this call site may print now (and counts the line).
bool diag_allowed(DiagRate& r);

/// "unetmap: " + the formatted text + newline, in one write.
[[gnu::format(printf, 1, 2)]] void diag_print(const char* fmt, ...);

}  // namespace unetmap

/// Print why (rate-limited per call site) and evaluate to `err`:
///     if (slot == kNone) return UNETMAP_REFUSE(ENOMEM, "no free port entry (%u in use)", kMaxPorts);
#define UNETMAP_REFUSE(err, ...)                                              \
    ([&]() -> int {                                                           \
        static ::unetmap::DiagRate unetmap_rate_;                             \
        if (::unetmap::diag_allowed(unetmap_rate_)) ::unetmap::diag_print(__VA_ARGS__); \
        return (err);                                                         \
    }())
