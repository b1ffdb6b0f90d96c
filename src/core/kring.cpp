#include "core/kring.h"

#include <net/netmap.h>

namespace unetmap {

namespace {

// Read a user-writable 32-bit field exactly once (the compiler must not
// re-load it after we checked it).
inline uint32_t read_once(const uint32_t& f) { return __atomic_load_n(&f, __ATOMIC_RELAXED); }

// Shared by both prologues: head may advance from rhead up to rtail, and
// cur must lie in [head, rtail].  Written as range membership on the
// circular interval [from, to] so wrap-around needs no special case.
inline bool in_range(uint32_t x, uint32_t from, uint32_t to, uint32_t n) {
    return ring_dist(from, x, n) <= ring_dist(from, to, n);
}

uint32_t prologue(KRing& k, netmap_ring* ring) {
    const uint32_t n = k.num_slots;
    const uint32_t head = read_once(ring->head);
    const uint32_t cur = read_once(ring->cur);
    if (head >= n || cur >= n) return n;
    if (!in_range(head, k.rhead, k.rtail, n)) return n;
    if (!in_range(cur, head, k.rtail, n)) return n;
    if (read_once(ring->tail) != k.rtail) ring->tail = k.rtail;  // user overwrote it
    k.rhead = head;
    k.rcur = cur;
    return head;
}

}  // namespace

uint32_t txsync_prologue(KRing& k, netmap_ring* ring) { return prologue(k, ring); }
uint32_t rxsync_prologue(KRing& k, netmap_ring* ring) { return prologue(k, ring); }

void sync_finalize(KRing& k, netmap_ring* ring) {
    // Acquire: on RX rings hwtail is published by the feeder (pipe peer,
    // VALE sender) after it wrote the slots we are about to expose.
    const uint32_t t = k.hwtail.load(std::memory_order_acquire);
    k.rtail = t;
    // Release: the slots up to the new tail must be visible before it.
    __atomic_store_n(&ring->tail, t, __ATOMIC_RELEASE);
}

uint32_t ring_reinit(KRing& k, netmap_ring* ring, uint32_t buf_total, uint32_t buf_size) {
    const uint32_t n = k.num_slots;
    uint32_t errors = 0;
    if (read_once(ring->cur) >= n) errors++;
    if (read_once(ring->head) >= n) errors++;
    if (read_once(ring->tail) >= n) errors++;
    for (uint32_t i = 0; i < n; i++) {
        netmap_slot& s = ring->slot[i];
        const uint32_t idx = read_once(s.buf_idx);
        if (idx < 2 || idx >= buf_total) {
            s.buf_idx = 0;
            s.len = 0;
            errors++;
        } else if (s.len > buf_size) {
            s.len = 0;
            errors++;
        }
    }
    const uint32_t hwcur = k.hwcur.load(std::memory_order_relaxed);
    const uint32_t hwtail = k.hwtail.load(std::memory_order_acquire);
    k.rhead = k.rcur = hwcur;
    k.rtail = hwtail;
    ring->head = ring->cur = hwcur;
    __atomic_store_n(&ring->tail, hwtail, __ATOMIC_RELEASE);
    return errors + 1;  // a reinit is itself an error to report
}

}  // namespace unetmap
