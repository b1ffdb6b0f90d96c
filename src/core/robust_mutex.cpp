#include "core/robust_mutex.h"

#include <cerrno>
#include <cstdlib>

namespace unetmap {

void RobustMutex::init() {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&m_, &a);
    pthread_mutexattr_destroy(&a);
}

bool RobustMutex::lock() {
    int r = pthread_mutex_lock(&m_);
    if (r == EOWNERDEAD) {
        pthread_mutex_consistent(&m_);
        return true;
    }
    if (r != 0) std::abort();  // ENOTRECOVERABLE: cannot happen, we always mark consistent
    return false;
}

RobustMutex::Try RobustMutex::try_lock() {
    const int r = pthread_mutex_trylock(&m_);
    if (r == EOWNERDEAD) {
        pthread_mutex_consistent(&m_);
        return Try::kRecovered;
    }
    return r == 0 ? Try::kLocked : Try::kBusy;
}

}  // namespace unetmap
