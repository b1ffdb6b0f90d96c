// One thread per ring (NR_REG_ONE_NIC), each on a descriptor of its own,
// all syncing at once: the "multi-threaded programs" case.
//
// Two VALE ports of one switch, each with 4 TX and 4 RX rings.  Port a has
// one sender thread per TX ring, port b one receiver thread per RX ring;
// unicast from a's TX ring i lands on b's RX ring i (i mod 4, as netmap
// does), so every ring pair carries its own stream.  Each receiver checks
// that its ring gets exactly its sender's frames, in order, with their
// contents; the switch's drop counters must stay at zero (senders hold
// back to a window of what their receiver confirmed, since a VALE switch
// drops rather than waits).  Threads wait in poll() on their own
// descriptor when their ring is full/empty, so per-ring wakeups are
// exercised too.  Also built and run under the tsan preset (no data race
// may be reported; see kUsePoll for what tsan cannot check).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <algorithm>
#include <cstdio>
#include <unetmap/stats.h>

#include "test_support.h"

namespace {

using nmtest::Port;

constexpr uint32_t kRings = 4;
constexpr uint32_t kSlots = 1024;
constexpr uint32_t kWindow = 512;  // frames a sender may have ahead of its receiver
constexpr double kDeadlineS = 90;  // tsan builds are ~10x slower

#if defined(__SANITIZE_THREAD__)
#define MULTIRING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MULTIRING_TSAN 1
#endif
#endif

// Under ThreadSanitizer the threads wait by syncing and yielding, not in
// poll(): tsan's own poll() interceptor runs the call it wraps (ours, in
// libnetmap.so) as a "blocking call" with its interceptors and atomic
// tracking switched off (ignore_interceptors), so the acquire/release
// pairs our poll path performs are invisible to it and every later access
// to the rings they order is reported as a race.  Same for epoll/select.
#ifdef MULTIRING_TSAN
constexpr uint32_t kFramesPerRing = 20000;
constexpr bool kUsePoll = false;
#else
constexpr uint32_t kFramesPerRing = 200000;
constexpr bool kUsePoll = true;
#endif

const uint8_t kMacA[6] = {0x02, 0, 0, 0, 0, 0xa};
const uint8_t kMacB[6] = {0x02, 0, 0, 0, 0, 0xb};
const uint8_t kBcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

uint16_t frame_len(uint32_t seq) { return static_cast<uint16_t>(60 + seq % 64); }

// dst, src, ethertype 0x88b5, then ring and sequence number, then a
// pattern derived from both up to the frame's length.
void write_frame(char* b, const uint8_t* dst, const uint8_t* src, uint32_t ring, uint32_t seq) {
    std::memcpy(b, dst, 6);
    std::memcpy(b + 6, src, 6);
    b[12] = static_cast<char>(0x88);
    b[13] = static_cast<char>(0xb5);
    std::memcpy(b + 14, &ring, 4);
    std::memcpy(b + 18, &seq, 4);
    for (uint32_t k = 22; k < frame_len(seq); k++) b[k] = static_cast<char>(seq * 7 + ring * 13 + k);
}

bool frame_ok(const char* b, uint16_t len, uint32_t ring, uint32_t seq) {
    if (len != frame_len(seq) || std::memcmp(b, kMacB, 6) != 0 || std::memcmp(b + 6, kMacA, 6) != 0)
        return false;
    uint32_t r, s;
    std::memcpy(&r, b + 14, 4);
    std::memcpy(&s, b + 18, 4);
    if (r != ring || s != seq) return false;
    for (uint32_t k = 22; k < len; k++)
        if (b[k] != static_cast<char>(seq * 7 + ring * 13 + k)) return false;
    return true;
}

int open_ring(Port& p, const char* name, uint32_t ring) {
    return p.open(name, [ring](nmreq_register& r) {
        r.nr_mode = NR_REG_ONE_NIC;
        r.nr_ringid = static_cast<uint16_t>(ring);
        r.nr_tx_rings = r.nr_rx_rings = kRings;
        r.nr_tx_slots = r.nr_rx_slots = kSlots;
    });
}

struct RingResult {
    uint32_t count = 0;        // frames received (receivers) / sent (senders)
    uint32_t bad = 0;          // frames out of order or corrupt
    uint32_t sync_errors = 0;  // failed NIOC*SYNC / poll errors
    bool timed_out = false;
    std::string first_error;
};

}  // namespace

TEST(MultiRing, OneThreadPerRingExactCounts) {
    const char* kA = "valeT:a";
    const char* kB = "valeT:b";
    Port a[kRings], b[kRings];
    for (uint32_t i = 0; i < kRings; i++) {
        ASSERT_EQ(open_ring(a[i], kA, i), 0) << "a ring " << i;
        ASSERT_EQ(open_ring(b[i], kB, i), 0) << "b ring " << i;
        // NR_REG_ONE_NIC binds TX and RX ring i only.
        EXPECT_EQ(a[i].reg.nr_tx_rings, kRings);
        EXPECT_NE(a[i].nifp->ring_ofs[i], 0);
        EXPECT_EQ(a[i].nifp->ring_ofs[(i + 1) % kRings], 0);
    }

    // Teach the switch where kMacB lives: one broadcast from b (ring 0),
    // flooded to a's RX ring 0.
    {
        netmap_ring* tx = b[0].tx(0);
        netmap_slot& s = tx->slot[tx->cur];
        char* buf = Port::buf(tx, s.buf_idx);
        std::memset(buf, 0, 60);
        std::memcpy(buf, kBcast, 6);
        std::memcpy(buf + 6, kMacB, 6);
        s.len = 60;
        tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
        ASSERT_EQ(b[0].txsync(), 0);
        ASSERT_EQ(a[0].rxsync(), 0);
        netmap_ring* rx = a[0].rx(0);
        ASSERT_EQ(nmtest::ring_space(rx), 1u);
        rx->head = rx->cur = rx->tail;
        ASSERT_EQ(a[0].rxsync(), 0);
    }

    std::atomic<uint32_t> confirmed[kRings];
    for (auto& c : confirmed) c.store(0);
    std::atomic<bool> go{false};
    RingResult sent[kRings], got[kRings];
    const double deadline = nmtest::now_s() + kDeadlineS;

    auto sender = [&](uint32_t i) {
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        Port& p = a[i];
        netmap_ring* tx = p.tx(i);
        RingResult& res = sent[i];
        uint32_t seq = 0;
        while (seq < kFramesPerRing) {
            if (nmtest::now_s() > deadline) {
                res.timed_out = true;
                break;
            }
            uint32_t room = nmtest::ring_space(tx);
            const uint32_t credit = kWindow - (seq - confirmed[i].load(std::memory_order_acquire));
            room = std::min({room, credit, kFramesPerRing - seq, 64u});
            if (room == 0) {
                if (nmtest::ring_space(tx) == 0) {
                    if (kUsePoll) {
                        const int r = p.poll(POLLOUT, 100);
                        if (r < 0 || (r & POLLERR)) res.sync_errors++;
                    } else {
                        std::this_thread::yield();
                        if (p.txsync() != 0) res.sync_errors++;
                    }
                } else {
                    std::this_thread::yield();  // waiting for the receiver
                }
                continue;
            }
            for (uint32_t k = 0; k < room; k++, seq++) {
                netmap_slot& s = tx->slot[tx->cur];
                write_frame(Port::buf(tx, s.buf_idx), kMacB, kMacA, i, seq);
                s.len = frame_len(seq);
                s.flags = 0;
                tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
            }
            if (p.txsync() != 0) res.sync_errors++;
        }
        res.count = seq;
    };

    auto receiver = [&](uint32_t i) {
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        Port& p = b[i];
        netmap_ring* rx = p.rx(i);
        RingResult& res = got[i];
        while (res.count < kFramesPerRing) {
            if (nmtest::now_s() > deadline) {
                res.timed_out = true;
                break;
            }
            if (nmtest::ring_space(rx) == 0) {
                if (kUsePoll) {
                    const int r = p.poll(POLLIN, 100);
                    if (r < 0 || (r & POLLERR)) res.sync_errors++;
                } else {
                    std::this_thread::yield();
                    if (p.rxsync() != 0) res.sync_errors++;
                }
                continue;
            }
            while (nmtest::ring_space(rx) != 0) {
                const netmap_slot& s = rx->slot[rx->cur];
                if (!frame_ok(Port::buf(rx, s.buf_idx), s.len, i, res.count)) {
                    if (res.bad++ == 0)
                        res.first_error = "ring " + std::to_string(i) + ": frame " +
                                          std::to_string(res.count) + " wrong (len " +
                                          std::to_string(s.len) + ")";
                }
                res.count++;
                rx->head = rx->cur = nmtest::ring_next(rx, rx->cur);
            }
            if (p.rxsync() != 0) res.sync_errors++;
            confirmed[i].store(res.count, std::memory_order_release);
        }
    };

    std::vector<std::thread> threads;
    for (uint32_t i = 0; i < kRings; i++) {
        threads.emplace_back(sender, i);
        threads.emplace_back(receiver, i);
    }
    const double t0 = nmtest::now_s();
    go.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();
    const double dt = nmtest::now_s() - t0;

    for (uint32_t i = 0; i < kRings; i++) {
        SCOPED_TRACE("ring " + std::to_string(i));
        EXPECT_FALSE(sent[i].timed_out);
        EXPECT_FALSE(got[i].timed_out);
        EXPECT_EQ(sent[i].count, kFramesPerRing);
        EXPECT_EQ(got[i].count, kFramesPerRing);
        EXPECT_EQ(got[i].bad, 0u) << got[i].first_error;
        EXPECT_EQ(sent[i].sync_errors, 0u);
        EXPECT_EQ(got[i].sync_errors, 0u);
        // Nothing more arrived on the ring, and nothing on a's RX rings.
        ASSERT_EQ(b[i].rxsync(), 0);
        EXPECT_EQ(nmtest::ring_space(b[i].rx(i)), 0u);
        ASSERT_EQ(a[i].rxsync(), 0);
        EXPECT_EQ(nmtest::ring_space(a[i].rx(i)), 0u);
        // Every TX ring drained by the switch.
        ASSERT_EQ(a[i].txsync(), 0);
        EXPECT_EQ(nmtest::ring_space(a[i].tx(i)), kSlots - 1);
    }

    struct unetmap_port_stats sa{}, sb{};
    ASSERT_EQ(unetmap_port_stats(kA, &sa), 0);
    ASSERT_EQ(unetmap_port_stats(kB, &sb), 0);
    EXPECT_EQ(sa.tx_packets, uint64_t{kRings} * kFramesPerRing);
    EXPECT_EQ(sa.tx_drops, 0u);
    EXPECT_EQ(sb.rx_packets, uint64_t{kRings} * kFramesPerRing);
    EXPECT_EQ(sb.rx_drops, 0u);
    std::printf("4 rings x %u frames in %.3f s (%.2f Mpps total)\n", kFramesPerRing, dt,
                kRings * kFramesPerRing / dt / 1e6);

    for (auto& p : a) p.close();
    for (auto& p : b) p.close();
    EXPECT_TRUE(nmtest::StateDirEmpty());
}
