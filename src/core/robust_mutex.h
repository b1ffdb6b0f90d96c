// A process-shared, robust mutex living in shared memory.
//
// The control plane (registry, allocator) is protected by these.  If a
// process dies holding one, the next locker gets EOWNERDEAD; we mark the
// mutex consistent and tell the caller, who must repair what the dead
// process may have left half-done (Registry runs its garbage collector).
// The data path never takes these, except VALE's per-destination-ring lease.
#pragma once

#include <pthread.h>

namespace unetmap {

class RobustMutex {
public:
    /// Initialise in place (only by the creator of the shared object).
    void init();
    /// Returns true if the previous owner died while holding the lock.
    bool lock();
    enum class Try { kBusy, kLocked, kRecovered };
    /// Without waiting: kBusy (held by a live owner), kLocked, or
    /// kRecovered (locked; the previous owner died holding it).
    Try try_lock();
    void unlock() { pthread_mutex_unlock(&m_); }

private:
    pthread_mutex_t m_;
};

/// RAII holder; `recovered()` says whether the last owner had died.
class RobustLock {
public:
    explicit RobustLock(RobustMutex& m) : m_(m), recovered_(m.lock()) {}
    ~RobustLock() { m_.unlock(); }
    RobustLock(const RobustLock&) = delete;
    RobustLock& operator=(const RobustLock&) = delete;
    [[nodiscard]] bool recovered() const { return recovered_; }

private:
    RobustMutex& m_;
    bool recovered_;
};

}  // namespace unetmap
