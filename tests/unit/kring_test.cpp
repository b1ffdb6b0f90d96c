// KRing prologues (netmap's nm_txsync_prologue / nm_rxsync_prologue),
// sync_finalize and ring_reinit, on a netmap_ring built in plain memory.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <net/netmap.h>

#include "core/kring.h"

using namespace unetmap;

namespace {

// A netmap_ring with `n` slots in malloc'd memory (its geometry fields are
// const in the ABI: we play the kernel and set them once).
struct TestRing {
    explicit TestRing(uint32_t n, uint32_t buf_size = 2048) {
        const size_t size = (sizeof(netmap_ring) + n * sizeof(netmap_slot) + 127) / 128 * 128;
        mem = std::aligned_alloc(128, size);
        std::memset(mem, 0, size);
        r = static_cast<netmap_ring*>(mem);
        const_cast<uint32_t&>(r->num_slots) = n;
        const_cast<uint32_t&>(r->nr_buf_size) = buf_size;
    }
    ~TestRing() { std::free(mem); }
    TestRing(const TestRing&) = delete;
    TestRing& operator=(const TestRing&) = delete;
    void* mem;
    netmap_ring* r;
};

std::unique_ptr<KRing> make_kring(uint32_t n, uint32_t dir, uint32_t rhead, uint32_t rtail) {
    auto k = std::make_unique<KRing>();
    k->num_slots = n;
    k->dir = dir;
    k->rhead = k->rcur = rhead;
    k->rtail = rtail;
    k->hwcur.store(rhead);
    k->hwtail.store(rtail);
    return k;
}

struct PrologueCase {
    const char* name;
    uint32_t n, rhead, rtail;  // cached state from the previous sync
    uint32_t head, cur;        // what the user wrote
    bool ok;
};

// head may move forward from rhead up to rtail (inclusive); cur must lie in
// [head, rtail]; both below num_slots.  Intervals are circular.
const PrologueCase kCases[] = {
    // Fresh TX ring: the user owns [0, 7).
    {"FreshTxNoChange", 8, 0, 7, 0, 0, true},
    {"FreshTxSendSome", 8, 0, 7, 3, 5, true},
    {"FreshTxSendAll", 8, 0, 7, 7, 7, true},
    {"FreshTxCurAtTail", 8, 0, 7, 0, 7, true},
    {"CurBehindHead", 8, 0, 7, 3, 2, false},
    {"HeadEqualsNumSlots", 8, 0, 7, 8, 8, false},
    {"CurEqualsNumSlots", 8, 0, 7, 0, 8, false},
    {"HeadHuge", 8, 0, 7, 0xffffffffu, 0, false},
    {"CurHuge", 8, 0, 7, 2, 0x80000002u, false},
    // Empty RX ring: nothing owned, nothing may move.
    {"EmptyRxNoChange", 8, 0, 0, 0, 0, true},
    {"EmptyRxHeadAdvances", 8, 0, 0, 1, 1, false},
    {"EmptyRxCurAdvances", 8, 0, 0, 0, 1, false},
    // Window [2, 5].
    {"MidHeadStays", 8, 2, 5, 2, 2, true},
    {"MidHeadToTail", 8, 2, 5, 5, 5, true},
    {"MidCurAtTail", 8, 2, 5, 4, 5, true},
    {"MidHeadBeyondTail", 8, 2, 5, 6, 6, false},
    {"MidHeadBackwards", 8, 2, 5, 1, 1, false},
    {"MidCurBeyondTail", 8, 2, 5, 2, 6, false},
    {"MidCurBehindHead", 8, 2, 5, 3, 2, false},
    // Window wrapping around: [6, 2] = {6, 7, 0, 1, 2}.
    {"WrapHeadStays", 8, 6, 2, 6, 6, true},
    {"WrapHeadAcrossZero", 8, 6, 2, 7, 0, true},
    {"WrapHeadPastZero", 8, 6, 2, 0, 1, true},
    {"WrapHeadToTail", 8, 6, 2, 2, 2, true},
    {"WrapCurAcrossZero", 8, 6, 2, 6, 2, true},
    {"WrapHeadBeyondTail", 8, 6, 2, 3, 3, false},
    {"WrapHeadBackwards", 8, 6, 2, 5, 5, false},
    {"WrapCurBeyondTail", 8, 6, 2, 7, 3, false},
    {"WrapCurBehindHead", 8, 6, 2, 0, 7, false},
    {"WrapHeadOutOfRange", 8, 6, 2, 9, 1, false},
    // TX with every slot free except one (tail == rhead - 1), wrapping.
    {"FullWindowWrap", 8, 3, 2, 1, 2, true},
    {"FullWindowCurWraps", 8, 3, 2, 3, 1, true},
    {"FullWindowCurBehind", 8, 3, 2, 2, 1, false},
    // Two slots, the smallest ring.
    {"TwoSlotsOk", 2, 0, 1, 1, 1, true},
    {"TwoSlotsHeadOut", 2, 0, 1, 2, 0, false},
    {"TwoSlotsWrap", 2, 1, 0, 0, 0, true},
};

void PrintTo(const PrologueCase& c, std::ostream* os) {
    *os << c.name << " n=" << c.n << " rhead=" << c.rhead << " rtail=" << c.rtail << " head=" << c.head
        << " cur=" << c.cur << (c.ok ? " ok" : " rejected");
}

class PrologueTest : public ::testing::TestWithParam<std::tuple<PrologueCase, uint32_t>> {};

TEST_P(PrologueTest, AcceptsOrRejects) {
    const auto& [c, dir] = GetParam();
    TestRing tr(c.n);
    auto k = make_kring(c.n, dir, c.rhead, c.rtail);
    tr.r->head = c.head;
    tr.r->cur = c.cur;
    tr.r->tail = c.rtail;
    const uint32_t got = dir == kTx ? txsync_prologue(*k, tr.r) : rxsync_prologue(*k, tr.r);
    if (c.ok) {
        EXPECT_EQ(got, c.head);
        EXPECT_EQ(k->rhead, c.head);
        EXPECT_EQ(k->rcur, c.cur);
    } else {
        EXPECT_EQ(got, c.n) << "invalid head/cur must give the num_slots sentinel";
        EXPECT_EQ(k->rhead, c.rhead) << "a rejected sync must not move the cached head";
        EXPECT_EQ(k->rcur, c.rhead);
    }
    EXPECT_EQ(k->rtail, c.rtail);
}

INSTANTIATE_TEST_SUITE_P(Cases, PrologueTest,
                         ::testing::Combine(::testing::ValuesIn(kCases), ::testing::Values(kTx, kRx)),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param).name) +
                                    (std::get<1>(info.param) == kTx ? "_Tx" : "_Rx");
                         });

TEST(Prologue, RestoresTailTheUserOverwrote) {
    for (uint32_t dir : {kTx, kRx}) {
        SCOPED_TRACE(dir);
        TestRing tr(16);
        auto k = make_kring(16, dir, 4, 9);
        tr.r->head = 5;
        tr.r->cur = 6;
        tr.r->tail = 15;  // scribbled
        const uint32_t got = dir == kTx ? txsync_prologue(*k, tr.r) : rxsync_prologue(*k, tr.r);
        EXPECT_EQ(got, 5u);
        EXPECT_EQ(tr.r->tail, 9u);
        tr.r->tail = 0xdeadbeef;  // even out of range
        const uint32_t again = dir == kTx ? txsync_prologue(*k, tr.r) : rxsync_prologue(*k, tr.r);
        EXPECT_EQ(again, 5u);
        EXPECT_EQ(tr.r->tail, 9u);
    }
}

TEST(Prologue, SuccessiveSyncsMoveTheWindow) {
    // A TX ring used normally: each sync's head becomes the next rhead.
    TestRing tr(8);
    auto k = make_kring(8, kTx, 0, 7);
    for (uint32_t step = 0; step < 20; step++) {
        const uint32_t head = (k->rhead + 3) % 8;
        tr.r->head = tr.r->cur = head;
        // Keep head within [rhead, rtail]: pretend everything sent is
        // completed at once (tail = head - 1), as the null port does.
        ASSERT_EQ(txsync_prologue(*k, tr.r), head) << "step " << step;
        k->hwcur.store(head);
        k->hwtail.store((head + 7) % 8);
        sync_finalize(*k, tr.r);
        EXPECT_EQ(tr.r->tail, (head + 7) % 8);
        EXPECT_EQ(k->rtail, (head + 7) % 8);
    }
}

TEST(SyncFinalize, PublishesHwtail) {
    TestRing tr(32);
    auto k = make_kring(32, kRx, 0, 0);
    k->hwtail.store(17);
    sync_finalize(*k, tr.r);
    EXPECT_EQ(tr.r->tail, 17u);
    EXPECT_EQ(k->rtail, 17u);
}

TEST(RingReinit, CleanRingIsResetToTheKernelView) {
    TestRing tr(8);
    for (uint32_t i = 0; i < 8; i++) {
        tr.r->slot[i].buf_idx = 10 + i;
        tr.r->slot[i].len = 60;
    }
    auto k = make_kring(8, kTx, 3, 2);
    k->hwcur.store(3);
    k->hwtail.store(2);
    tr.r->head = 3;
    tr.r->cur = 3;
    tr.r->tail = 2;
    const uint32_t clean = ring_reinit(*k, tr.r, 100, 2048);
    EXPECT_GE(clean, 1u) << "a reinit is reported as an error";
    for (uint32_t i = 0; i < 8; i++) {
        EXPECT_EQ(tr.r->slot[i].buf_idx, 10 + i);
        EXPECT_EQ(tr.r->slot[i].len, 60);
    }
}

TEST(RingReinit, RepairsBadSlotsAndResetsHeadCurTail) {
    TestRing tr(8);
    for (uint32_t i = 0; i < 8; i++) {
        tr.r->slot[i].buf_idx = 10 + i;
        tr.r->slot[i].len = 60;
    }
    tr.r->slot[0].buf_idx = 0;      // reserved
    tr.r->slot[1].buf_idx = 1;      // reserved
    tr.r->slot[2].buf_idx = 100;    // == buf_total: out of range
    tr.r->slot[3].len = 2049;       // longer than a buffer
    tr.r->slot[4].buf_idx = 0xffffffffu;
    auto k = make_kring(8, kTx, 0, 7);
    k->hwcur.store(5);
    k->hwtail.store(4);
    k->rcur = 6;
    tr.r->head = 9;                 // out of range
    tr.r->cur = 12;
    tr.r->tail = 42;
    TestRing clean(8);
    for (uint32_t i = 0; i < 8; i++) clean.r->slot[i].buf_idx = 10 + i;
    auto kc = make_kring(8, kTx, 0, 7);
    const uint32_t clean_errors = ring_reinit(*kc, clean.r, 100, 2048);

    const uint32_t errors = ring_reinit(*k, tr.r, 100, 2048);
    EXPECT_GT(errors, clean_errors) << "problems are counted";
    for (uint32_t i : {0u, 1u, 2u, 4u}) {
        EXPECT_EQ(tr.r->slot[i].buf_idx, 0u) << "slot " << i << " pointed at buffer 0";
        EXPECT_EQ(tr.r->slot[i].len, 0u) << "slot " << i;
    }
    EXPECT_EQ(tr.r->slot[3].buf_idx, 13u) << "a good buffer index is kept";
    EXPECT_EQ(tr.r->slot[3].len, 0u) << "an oversized length is cleared";
    for (uint32_t i = 5; i < 8; i++) {
        EXPECT_EQ(tr.r->slot[i].buf_idx, 10 + i);
        EXPECT_EQ(tr.r->slot[i].len, 60);
    }
    EXPECT_EQ(tr.r->head, 5u);
    EXPECT_EQ(tr.r->cur, 5u);
    EXPECT_EQ(tr.r->tail, 4u);
    EXPECT_EQ(k->rhead, 5u);
    EXPECT_EQ(k->rcur, 5u);
    EXPECT_EQ(k->rtail, 4u);
    // After the reinit the ring passes the prologue again.
    EXPECT_EQ(txsync_prologue(*k, tr.r), 5u);
}

TEST(RingHelpers, NextAndDistance) {
    EXPECT_EQ(ring_next(0, 8), 1u);
    EXPECT_EQ(ring_next(7, 8), 0u);
    EXPECT_EQ(ring_dist(2, 5, 8), 3u);
    EXPECT_EQ(ring_dist(6, 2, 8), 4u);
    EXPECT_EQ(ring_dist(3, 3, 8), 0u);
}

}  // namespace
