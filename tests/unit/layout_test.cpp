// Layout of the structures unetmap shares between processes through its
// files (control file and region meta block).  Different processes (and
// different builds: sanitized or not) map the same bytes, so these layouts
// must not depend on anything but the source, and the data-path fields
// must be grouped by writer on separate cache lines as kring.h promises.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include <gtest/gtest.h>
#include <net/netmap.h>

#include "core/kring.h"
#include "core/region.h"
#include "core/registry.h"

using namespace unetmap;

namespace {

template <class T, class M> size_t offset_in(const T& obj, const M& member) {
    return static_cast<size_t>(reinterpret_cast<const char*>(&member) - reinterpret_cast<const char*>(&obj));
}

size_t line(size_t ofs) { return ofs / 64; }

}  // namespace

TEST(SharedLayout, AtomicsAreLockFreeAndPlain) {
    // Atomics in shared memory must be lock-free (address-free) and have
    // the size of the plain integer, or two processes would not agree.
    static_assert(std::atomic<uint32_t>::is_always_lock_free);
    static_assert(std::atomic<uint64_t>::is_always_lock_free);
    EXPECT_EQ(sizeof(std::atomic<uint32_t>), sizeof(uint32_t));
    EXPECT_EQ(sizeof(std::atomic<uint64_t>), sizeof(uint64_t));
    EXPECT_TRUE(std::is_trivially_destructible_v<CtlHeader>);
    EXPECT_TRUE(std::is_trivially_destructible_v<RegionMeta>);
}

TEST(SharedLayout, KRingGroupsFieldsByWriterOnSeparateCacheLines) {
    EXPECT_EQ(alignof(KRing), 64u);
    EXPECT_EQ(sizeof(KRing) % 64, 0u);
    auto k = std::make_unique<KRing>();
    const size_t ro = offset_in(*k, k->num_slots);
    const size_t busy = offset_in(*k, k->busy);
    const size_t hwcur = offset_in(*k, k->hwcur);
    const size_t hwtail = offset_in(*k, k->hwtail);
    const size_t packets = offset_in(*k, k->packets);
    const size_t lease = offset_in(*k, k->lease);
    EXPECT_EQ(ro, 0u);
    for (size_t o : {busy, hwtail, packets, lease}) EXPECT_EQ(o % 64, 0u) << o;
    // Read-only, syncing-owner, feeder, statistics and lease lines differ.
    EXPECT_NE(line(ro), line(busy));
    EXPECT_EQ(line(busy), line(hwcur)) << "hwcur is written by the owner, with busy";
    EXPECT_NE(line(hwcur), line(hwtail)) << "hwcur (consumer) and hwtail (producer) share a line";
    EXPECT_NE(line(hwtail), line(packets));
    EXPECT_NE(line(packets), line(lease));
    EXPECT_EQ(offset_in(*k, k->ring_ofs) % 8, 0u);
}

TEST(SharedLayout, ControlTablesKeepKRingsAligned) {
    EXPECT_EQ(alignof(PortEntry) % 64, 0u);
    EXPECT_EQ(sizeof(PortEntry) % 64, 0u);
    auto h = std::make_unique<CtlHeader>();
    EXPECT_EQ(offset_in(*h, h->ports[0]) % 64, 0u);
    EXPECT_EQ(offset_in(*h, h->ports[1].kring[0][0]) % 64, 0u);
    EXPECT_EQ(offset_in(*h, h->ports[1].kring[1][kMaxRingsAll - 1]) % 64, 0u);
    EXPECT_EQ(offset_in(*h, h->magic), 0u) << "magic first: read before anything else";
    EXPECT_EQ(sizeof(h->ports) / sizeof(h->ports[0]), kMaxPorts);
    EXPECT_EQ(sizeof(h->bindings) / sizeof(h->bindings[0]), kMaxBindings);
    EXPECT_EQ(sizeof(h->regions) / sizeof(h->regions[0]), kMaxRegions);
    EXPECT_EQ(sizeof(PortEntry{}.name), static_cast<size_t>(NETMAP_REQ_IFNAMSIZ));
    EXPECT_EQ(offset_in(*h, h->bindings[0].nifp_ofs) % 8, 0u);
    // A port has room for every ring a request may ask for, plus a host ring.
    EXPECT_EQ(sizeof(PortEntry{}.kring[0]) / sizeof(KRing), kMaxRings + kMaxHostRings);
    EXPECT_LE(kMaxRings, 0xffffu) << "ring counts travel in uint16_t fields";
}

TEST(SharedLayout, RegionMetaBeginsWithMagic) {
    auto m = std::make_unique<RegionMeta>();
    EXPECT_EQ(offset_in(*m, m->magic), 0u);
    EXPECT_EQ(offset_in(*m, m->pool[0]) % 8, 0u);
    EXPECT_EQ(sizeof(PoolGeometry), 16u);
}

TEST(SharedLayout, RingSlotCapacityOfTheDefaultRingSize) {
    // The default ring object holds at least the default slot count.
    const RegionConfig c;
    const size_t slots = (c.ring_size - sizeof(netmap_ring)) / sizeof(netmap_slot);
    EXPECT_GE(slots, kDefaultSlots);
    EXPECT_EQ(sizeof(netmap_slot), 16u);
}
