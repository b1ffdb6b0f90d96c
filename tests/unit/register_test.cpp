// Registration through /dev/netmap on null ports and pipes: the reply, the
// netmap_if and rings found in the mapped region, extra buffers, the info
// requests, the legacy API, bad head/cur handling, and the removal of all
// state when the last user goes (close, or process exit).
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <net/netmap.h>
#include <net/netmap_legacy.h>

#include "core/region.h"
#define UNETMAP_TEST_HAVE_REGION_META 1
#include "test_support.h"

using nmtest::Port;
using nmtest::StateDirEmpty;
using nmtest::xioctl;

namespace {

constexpr uint32_t kDefaultSlots = 1024;

class Register : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(StateDirEmpty()); }
    void TearDown() override { EXPECT_TRUE(StateDirEmpty()); }
};

// Every slot of every ring of `p` names a distinct, valid buffer inside the
// mapped region; returns the set of buffers.
std::set<uint32_t> check_ring_buffers(const Port& p) {
    std::set<uint32_t> seen;
    const uint32_t nt = p.nifp->ni_tx_rings + p.nifp->ni_host_tx_rings;
    const uint32_t nr = p.nifp->ni_rx_rings + p.nifp->ni_host_rx_rings;
    for (uint32_t k = 0; k < nt + nr; k++) {
        netmap_ring* r = p.ring_at(k);
        for (uint32_t s = 0; s < r->num_slots; s++) {
            const uint32_t idx = r->slot[s].buf_idx;
            EXPECT_GE(idx, 2u) << "ring " << k << " slot " << s;
            EXPECT_TRUE(seen.insert(idx).second) << "buffer " << idx << " used twice";
            const char* b = Port::buf(r, idx);
            EXPECT_GE(b, static_cast<const char*>(p.mem));
            EXPECT_LE(b + r->nr_buf_size, static_cast<const char*>(p.mem) + p.reg.nr_memsize);
        }
    }
    return seen;
}

std::vector<uint32_t> extra_list(const Port& p, uint32_t limit) {
    std::vector<uint32_t> v;
    netmap_ring* r = p.tx(0);
    for (uint32_t i = p.nifp->ni_bufs_head; i != 0 && v.size() < limit;) {
        v.push_back(i);
        std::memcpy(&i, Port::buf(r, i), sizeof i);
    }
    return v;
}

int64_t free_bufs(const Port& p) { return nmtest::region_free_counts(p.reg.nr_mem_id, p.reg.nr_memsize).bufs(); }

}  // namespace

// ---------------------------------------------------------------------------
// Null ports
// ---------------------------------------------------------------------------

class NullRegister : public Register, public ::testing::WithParamInterface<const char*> {};

TEST_P(NullRegister, ReplyNetmapIfAndRings) {
    const char* name = GetParam();
    Port p;
    ASSERT_EQ(p.open(name), 0);
    const nmreq_register& r = p.reg;
    EXPECT_GT(r.nr_memsize, 0u);
    EXPECT_LT(r.nr_offset, r.nr_memsize);
    EXPECT_EQ(r.nr_tx_rings, 1);
    EXPECT_EQ(r.nr_rx_rings, 1);
    EXPECT_EQ(r.nr_host_tx_rings, 0);
    EXPECT_EQ(r.nr_host_rx_rings, 0);
    EXPECT_EQ(r.nr_tx_slots, kDefaultSlots);
    EXPECT_EQ(r.nr_rx_slots, kDefaultSlots);
    EXPECT_EQ(r.nr_mem_id, 1);
    EXPECT_EQ(r.nr_extra_bufs, 0u);

    const netmap_if* nifp = p.nifp;
    EXPECT_STREQ(nifp->ni_name, name);
    EXPECT_EQ(nifp->ni_version, static_cast<uint32_t>(NETMAP_API));
    EXPECT_EQ(nifp->ni_flags & NI_PRIV_MEM, 0u) << "global region";
    EXPECT_EQ(nifp->ni_tx_rings, 1u);
    EXPECT_EQ(nifp->ni_rx_rings, 1u);
    EXPECT_EQ(nifp->ni_host_tx_rings, 0u);
    EXPECT_EQ(nifp->ni_host_rx_rings, 0u);
    EXPECT_EQ(nifp->ni_bufs_head, 0u);

    netmap_ring* tx = p.tx(0);
    netmap_ring* rx = p.rx(0);
    ASSERT_NE(tx, rx);
    for (netmap_ring* ring : {tx, rx}) {
        const char* end = reinterpret_cast<const char*>(&ring->slot[ring->num_slots]);
        EXPECT_LE(end, static_cast<const char*>(p.mem) + r.nr_memsize) << "ring inside the region";
        EXPECT_GE(reinterpret_cast<const char*>(ring), static_cast<const char*>(p.mem));
        EXPECT_EQ(ring->num_slots, kDefaultSlots);
        EXPECT_EQ(ring->nr_buf_size, 2048u);
        EXPECT_EQ(ring->ringid, 0);
        EXPECT_EQ(ring->head, 0u);
        EXPECT_EQ(ring->cur, 0u);
    }
    EXPECT_EQ(tx->dir, 0);
    EXPECT_EQ(rx->dir, 1);
    EXPECT_EQ(tx->tail, kDefaultSlots - 1) << "a fresh TX ring is all free";
    EXPECT_EQ(rx->tail, 0u) << "a fresh RX ring is empty";
    EXPECT_EQ(check_ring_buffers(p).size(), 2 * kDefaultSlots);
    // One region and one binding socket.
    EXPECT_EQ(nmtest::count_entries("mem."), 1);
    EXPECT_EQ(nmtest::count_entries("b"), 1);
}

INSTANTIATE_TEST_SUITE_P(Names, NullRegister, ::testing::Values("null", "null:x"),
                         [](const auto& info) { return std::string(info.param[4] ? "NullX" : "Null"); });

TEST_F(Register, RequestedSlotsAndRingsAreHonored) {
    Port p;
    ASSERT_EQ(p.open("null:shape",
                     [](nmreq_register& r) {
                         r.nr_tx_slots = 512;
                         r.nr_tx_rings = 3;
                         r.nr_rx_rings = 2;
                     }),
              0);
    EXPECT_EQ(p.reg.nr_tx_slots, 512u);
    EXPECT_EQ(p.reg.nr_rx_slots, kDefaultSlots);
    EXPECT_EQ(p.reg.nr_tx_rings, 3);
    EXPECT_EQ(p.reg.nr_rx_rings, 2);
    EXPECT_EQ(p.nifp->ni_tx_rings, 3u);
    EXPECT_EQ(p.nifp->ni_rx_rings, 2u);
    std::set<netmap_ring*> rings;
    for (uint32_t i = 0; i < 3; i++) {
        EXPECT_EQ(p.tx(i)->num_slots, 512u);
        EXPECT_EQ(p.tx(i)->ringid, i);
        EXPECT_EQ(p.tx(i)->dir, 0);
        EXPECT_EQ(p.tx(i)->tail, 511u);
        rings.insert(p.tx(i));
    }
    for (uint32_t i = 0; i < 2; i++) {
        EXPECT_EQ(p.rx(i)->num_slots, kDefaultSlots);
        EXPECT_EQ(p.rx(i)->ringid, i);
        EXPECT_EQ(p.rx(i)->dir, 1);
        rings.insert(p.rx(i));
    }
    EXPECT_EQ(rings.size(), 5u);
    EXPECT_EQ(check_ring_buffers(p).size(), 3 * 512 + 2 * kDefaultSlots);
    // A second registration gets the existing port's shape, whatever it asks.
    Port q;
    ASSERT_EQ(q.open("null:shape", [](nmreq_register& r) { r.nr_tx_slots = 64; }), 0);
    EXPECT_EQ(q.reg.nr_tx_slots, 512u);
    EXPECT_EQ(q.reg.nr_tx_rings, 3);
    EXPECT_EQ(q.reg.nr_offset == p.reg.nr_offset, false) << "one netmap_if per registration";
}

TEST_F(Register, NullTxsyncConsumesEverything) {
    Port p;
    ASSERT_EQ(p.open("null:sink", [](nmreq_register& r) { r.nr_tx_slots = 64; }), 0);
    netmap_ring* tx = p.tx(0);
    const uint32_t n = tx->num_slots;
    uint32_t sent = 0;
    for (int round = 0; round < 10; round++) {
        const uint32_t batch = 1 + (round * 17) % (n - 1);  // wraps several times
        ASSERT_GE(nmtest::ring_space(tx), batch);
        for (uint32_t i = 0; i < batch; i++) nmtest::put_frame(tx, 60 + i, sent + i);
        sent += batch;
        ASSERT_EQ(p.txsync(), 0);
        EXPECT_EQ(tx->tail, (tx->head + n - 1) % n) << "everything sent is completed at once";
        EXPECT_EQ(nmtest::ring_space(tx), n - 1);
    }
    // Nothing is ever received.
    ASSERT_EQ(p.rxsync(), 0);
    EXPECT_EQ(p.rx(0)->tail, p.rx(0)->head);
    EXPECT_EQ(p.poll(POLLIN, 50), 0) << "no packet ever arrives on a null port";
    EXPECT_EQ(p.poll(POLLOUT, 0), POLLOUT);
}

TEST_F(Register, OneNicBindsOnlyThatRing) {
    Port p;
    ASSERT_EQ(p.open("null:multi",
                     [](nmreq_register& r) {
                         r.nr_tx_rings = r.nr_rx_rings = 3;
                         r.nr_mode = NR_REG_ONE_NIC;
                         r.nr_ringid = 1;
                         r.nr_tx_slots = 32;
                     }),
              0);
    EXPECT_EQ(p.nifp->ni_tx_rings, 3u) << "the netmap_if counts every ring";
    EXPECT_EQ(p.nifp->ni_rx_rings, 3u);
    // As upstream: only the bound rings have an offset; the others are 0.
    for (uint32_t k : {0u, 2u, 3u, 5u}) EXPECT_EQ(p.nifp->ring_ofs[k], 0) << "ring_ofs[" << k << "]";
    ASSERT_NE(p.nifp->ring_ofs[1], 0);
    ASSERT_NE(p.nifp->ring_ofs[4], 0);
    EXPECT_EQ(p.tx(1)->ringid, 1);
    EXPECT_EQ(p.rx(1)->ringid, 1);
    EXPECT_EQ(p.rx(1)->dir, 1);
    nmtest::put_frame(p.tx(1), 60, 1);
    ASSERT_EQ(p.txsync(), 0);
    EXPECT_EQ(p.tx(1)->tail, 0u) << "ring 1 synced: head 1, tail 0";
    // A second registration binds ring 0 and sees ring 1 as unbound.
    Port q;
    ASSERT_EQ(q.open("null:multi",
                     [](nmreq_register& r) {
                         r.nr_mode = NR_REG_ONE_NIC;
                         r.nr_ringid = 0;
                     }),
              0);
    ASSERT_NE(q.nifp->ring_ofs[0], 0);
    EXPECT_EQ(q.tx(0)->tail, 31u) << "ring 0 untouched by the sync of ring 1";
    nmtest::put_frame(q.tx(0), 60, 2);
    ASSERT_EQ(q.txsync(), 0);
    EXPECT_EQ(q.tx(0)->tail, 0u);
    EXPECT_EQ(p.tx(1)->head, 1u) << "and ring 1 untouched by the sync of ring 0";
}

// ---------------------------------------------------------------------------
// Extra buffers
// ---------------------------------------------------------------------------

TEST_F(Register, ExtraBuffersAreListedAndReturnedOnClose) {
    Port keeper;  // keeps the region alive so its free count can be watched
    ASSERT_EQ(keeper.open("null:keep", [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 64; }), 0);
    const int64_t f0 = free_bufs(keeper);
    ASSERT_GT(f0, 0);
    {
        Port p;
        ASSERT_EQ(p.open("null:x",
                         [](nmreq_register& r) {
                             r.nr_tx_slots = r.nr_rx_slots = 64;
                             r.nr_extra_bufs = 10;
                         }),
                  0);
        EXPECT_EQ(p.reg.nr_extra_bufs, 10u);
        EXPECT_EQ(free_bufs(keeper), f0 - 128 - 10);
        const auto list = extra_list(p, 1000);
        ASSERT_EQ(list.size(), 10u) << "ni_bufs_head lists exactly the extra buffers, 0-terminated";
        std::set<uint32_t> distinct(list.begin(), list.end());
        EXPECT_EQ(distinct.size(), 10u);
        const auto ring_bufs = check_ring_buffers(p);
        const auto keeper_bufs = check_ring_buffers(keeper);
        for (uint32_t b : list) {
            EXPECT_GE(b, 2u);
            EXPECT_EQ(ring_bufs.count(b), 0u) << "extra buffer " << b << " is also in a ring";
            EXPECT_EQ(keeper_bufs.count(b), 0u) << "extra buffer " << b << " belongs to another port";
            std::memset(Port::buf(p.tx(0), b) + 4, 0x5a, 2044);  // usable memory
        }
    }
    EXPECT_EQ(free_bufs(keeper), f0) << "ring and extra buffers go back to the pool on close";
}

TEST_F(Register, ExtraBuffersReturnedEvenIfTheListWasShortened) {
    // The application may take buffers off its list (to swap them into
    // rings); whatever is still listed at close is returned.
    Port keeper;
    ASSERT_EQ(keeper.open("null:keep", [](nmreq_register& r) { r.nr_tx_slots = r.nr_rx_slots = 64; }), 0);
    const int64_t f0 = free_bufs(keeper);
    {
        Port p;
        ASSERT_EQ(p.open("null:x",
                         [](nmreq_register& r) {
                             r.nr_tx_slots = r.nr_rx_slots = 64;
                             r.nr_extra_bufs = 4;
                         }),
                  0);
        const auto list = extra_list(p, 10);
        ASSERT_EQ(list.size(), 4u);
        p.nifp->ni_bufs_head = list[2];  // drop the first two from the list
        EXPECT_EQ(free_bufs(keeper), f0 - 128 - 4);
    }
    // The two buffers taken off the list are the application's business
    // (netmap frees what ni_bufs_head lists at close); the rest came back.
    EXPECT_GE(free_bufs(keeper), f0 - 2);
    EXPECT_LE(free_bufs(keeper), f0);
}

TEST_F(Register, PoolExhaustionWithSmallRegionIsENOMEMAndRecovers) {
    // 3000 buffers: 2998 usable; a null port with 2 x 1024 slots takes 2048.
    ::setenv("UNETMAP_BUF_NUM", "3000", 1);
    {
        Port a;
        ASSERT_EQ(a.open("null:a", [](nmreq_register& r) { r.nr_extra_bufs = 1000000; }), 0);
        EXPECT_EQ(a.reg.nr_extra_bufs, 3000u - 2 - 2048) << "extra buffers: as many as are left";
        EXPECT_EQ(extra_list(a, 5000).size(), a.reg.nr_extra_bufs);
        const auto before = nmtest::state_entries();
        Port b;
        EXPECT_EQ(b.open("null:b"), ENOMEM);
        EXPECT_EQ(nmtest::state_entries(), before) << "a failed registration leaves nothing";
        Port c;
        EXPECT_EQ(c.open("null:a", [](nmreq_register& r) { r.nr_extra_bufs = 5; }), 0)
            << "the existing port needs no new ring buffers";
        EXPECT_EQ(c.reg.nr_extra_bufs, 0u);
        EXPECT_EQ(c.nifp->ni_bufs_head, 0u);
    }
    EXPECT_TRUE(StateDirEmpty());
    {
        Port b;
        EXPECT_EQ(b.open("null:b", [](nmreq_register& r) { r.nr_extra_bufs = 10; }), 0);
        EXPECT_EQ(b.reg.nr_extra_bufs, 10u);
    }
    ::unsetenv("UNETMAP_BUF_NUM");
}

TEST_F(Register, RegionGeometryFollowsEnvironment) {
    ::setenv("UNETMAP_BUF_NUM", "4100", 1);
    ::setenv("UNETMAP_BUF_SIZE", "4096", 1);
    {
        Port p;
        ASSERT_EQ(p.open("null:e"), 0);
        EXPECT_EQ(p.tx(0)->nr_buf_size, 4096u);
        nmreq_pools_info pi{};
        nmreq_header h = nmtest::make_header("", NETMAP_REQ_POOLS_INFO_GET, &pi);
        ASSERT_EQ(xioctl(p.fd, NIOCCTRL, &h), 0);
        EXPECT_EQ(pi.nr_buf_pool_objtotal, 4100u);
        EXPECT_EQ(pi.nr_buf_pool_objsize, 4096u);
    }
    ::unsetenv("UNETMAP_BUF_NUM");
    ::unsetenv("UNETMAP_BUF_SIZE");
}

// ---------------------------------------------------------------------------
// PORT_INFO_GET / POOLS_INFO_GET
// ---------------------------------------------------------------------------

TEST_F(Register, PortInfoGet) {
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    nmreq_port_info_get pi{};
    nmreq_header h = nmtest::make_header("null:info", NETMAP_REQ_PORT_INFO_GET, &pi);
    ASSERT_EQ(xioctl(fd, NIOCCTRL, &h), 0);
    EXPECT_GT(pi.nr_memsize, 0u);
    EXPECT_EQ(pi.nr_tx_slots, kDefaultSlots);
    EXPECT_EQ(pi.nr_rx_slots, kDefaultSlots);
    EXPECT_EQ(pi.nr_tx_rings, 1);
    EXPECT_EQ(pi.nr_rx_rings, 1);
    EXPECT_EQ(pi.nr_host_tx_rings, 0);
    EXPECT_EQ(pi.nr_host_rx_rings, 0);
    EXPECT_EQ(pi.nr_mem_id, 1);
    EXPECT_TRUE(StateDirEmpty()) << "asking about a port does not keep it";

    // On a registered port: its actual geometry.
    Port p;
    ASSERT_EQ(p.open("null:info",
                     [](nmreq_register& r) {
                         r.nr_tx_rings = 4;
                         r.nr_rx_slots = 256;
                     }),
              0);
    nmreq_port_info_get pi2{};
    h = nmtest::make_header("null:info", NETMAP_REQ_PORT_INFO_GET, &pi2);
    ASSERT_EQ(xioctl(fd, NIOCCTRL, &h), 0);
    EXPECT_EQ(pi2.nr_tx_rings, 4);
    EXPECT_EQ(pi2.nr_rx_rings, 1);
    EXPECT_EQ(pi2.nr_rx_slots, 256u);
    EXPECT_EQ(pi2.nr_memsize, p.reg.nr_memsize);
    // And on a pipe end.
    nmreq_port_info_get pi3{};
    h = nmtest::make_header("pinfo{0", NETMAP_REQ_PORT_INFO_GET, &pi3);
    ASSERT_EQ(xioctl(fd, NIOCCTRL, &h), 0);
    EXPECT_EQ(pi3.nr_tx_rings, 1);
    EXPECT_EQ(pi3.nr_tx_slots, kDefaultSlots);
    ::close(fd);
}

TEST_F(Register, PoolsInfoGet) {
    Port p;
    ASSERT_EQ(p.open("null:pools"), 0);
    nmreq_pools_info pi{};
    nmreq_header h = nmtest::make_header("", NETMAP_REQ_POOLS_INFO_GET, &pi);
    ASSERT_EQ(xioctl(p.fd, NIOCCTRL, &h), 0);
    const unetmap::RegionConfig dflt;
    EXPECT_EQ(pi.nr_memsize, p.reg.nr_memsize);
    EXPECT_EQ(pi.nr_mem_id, 1);
    EXPECT_EQ(pi.nr_if_pool_offset, 0u);
    EXPECT_EQ(pi.nr_if_pool_objtotal, dflt.if_num);
    EXPECT_EQ(pi.nr_if_pool_objsize, dflt.if_size);
    EXPECT_EQ(pi.nr_ring_pool_objtotal, dflt.ring_num);
    EXPECT_EQ(pi.nr_ring_pool_objsize, dflt.ring_size);
    EXPECT_EQ(pi.nr_buf_pool_objtotal, dflt.buf_num);
    EXPECT_EQ(pi.nr_buf_pool_objsize, 2048u);
    for (uint64_t o : {pi.nr_if_pool_offset, pi.nr_ring_pool_offset, pi.nr_buf_pool_offset})
        EXPECT_EQ(o % 4096, 0u);
    EXPECT_GE(pi.nr_ring_pool_offset, pi.nr_if_pool_offset + uint64_t{pi.nr_if_pool_objtotal} * pi.nr_if_pool_objsize);
    EXPECT_GE(pi.nr_buf_pool_offset,
              pi.nr_ring_pool_offset + uint64_t{pi.nr_ring_pool_objtotal} * pi.nr_ring_pool_objsize);
    EXPECT_LE(pi.nr_buf_pool_offset + uint64_t{pi.nr_buf_pool_objtotal} * pi.nr_buf_pool_objsize, pi.nr_memsize);
    // The objects the registration handed out lie in their pools.
    EXPECT_LT(p.reg.nr_offset, pi.nr_if_pool_offset + uint64_t{pi.nr_if_pool_objtotal} * pi.nr_if_pool_objsize);
    EXPECT_EQ((p.reg.nr_offset - pi.nr_if_pool_offset) % pi.nr_if_pool_objsize, 0u);
    for (netmap_ring* r : {p.tx(0), p.rx(0)}) {
        const uint64_t ro = reinterpret_cast<char*>(r) - static_cast<char*>(p.mem);
        EXPECT_GE(ro, pi.nr_ring_pool_offset);
        EXPECT_EQ((ro - pi.nr_ring_pool_offset) % pi.nr_ring_pool_objsize, 0u);
        EXPECT_EQ(static_cast<int64_t>(ro) + r->buf_ofs, static_cast<int64_t>(pi.nr_buf_pool_offset))
            << "buffer 0 is the start of the buffer pool";
    }

    // Through an unregistered descriptor: by port name, or the global region.
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    nmreq_pools_info byname{};
    h = nmtest::make_header("null:other", NETMAP_REQ_POOLS_INFO_GET, &byname);
    ASSERT_EQ(xioctl(fd, NIOCCTRL, &h), 0);
    EXPECT_EQ(byname.nr_memsize, pi.nr_memsize);
    EXPECT_EQ(byname.nr_buf_pool_offset, pi.nr_buf_pool_offset);
    nmreq_pools_info global{};
    h = nmtest::make_header("", NETMAP_REQ_POOLS_INFO_GET, &global);
    ASSERT_EQ(xioctl(fd, NIOCCTRL, &h), 0);
    EXPECT_EQ(global.nr_mem_id, 1);
    EXPECT_EQ(global.nr_memsize, pi.nr_memsize);
    EXPECT_EQ(nmtest::count_entries("mem."), 1);
    p.close();
    EXPECT_TRUE(StateDirEmpty());
    // With nobody around, the global region is made just to answer.
    nmreq_pools_info alone{};
    h = nmtest::make_header("", NETMAP_REQ_POOLS_INFO_GET, &alone);
    ASSERT_EQ(xioctl(fd, NIOCCTRL, &h), 0);
    EXPECT_EQ(alone.nr_memsize, pi.nr_memsize);
    EXPECT_TRUE(StateDirEmpty());
    ::close(fd);
}

// ---------------------------------------------------------------------------
// Legacy API (struct nmreq)
// ---------------------------------------------------------------------------

namespace {

nmreq legacy_req(const char* name) {
    nmreq q{};
    std::snprintf(q.nr_name, sizeof q.nr_name, "%s", name);
    q.nr_version = NETMAP_API;
    return q;
}

// NIOCREGIF + mmap on a fresh descriptor; fills `p` as Port::open would.
int legacy_open(Port& p, nmreq& q) {
    p.close();
    p.fd = ::open("/dev/netmap", O_RDWR);
    if (p.fd < 0) return errno;
    if (int e = xioctl(p.fd, NIOCREGIF, &q)) return e;
    p.reg.nr_memsize = q.nr_memsize;
    p.reg.nr_offset = q.nr_offset;
    return p.map();
}

}  // namespace

TEST_F(Register, LegacyGinfoAndRegifOnNull) {
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    nmreq info = legacy_req("null:legacy");
    ASSERT_EQ(xioctl(fd, NIOCGINFO, &info), 0);
    EXPECT_GT(info.nr_memsize, 0u);
    EXPECT_EQ(info.nr_tx_slots, kDefaultSlots);
    EXPECT_EQ(info.nr_rx_slots, kDefaultSlots);
    EXPECT_EQ(info.nr_tx_rings, 1);
    EXPECT_EQ(info.nr_rx_rings, 1);
    EXPECT_EQ(info.nr_arg2, 1) << "memory id";
    ::close(fd);
    EXPECT_TRUE(StateDirEmpty());

    Port p;
    nmreq q = legacy_req("null:legacy");
    q.nr_tx_slots = 128;
    q.nr_arg3 = 3;  // extra buffers
    ASSERT_EQ(legacy_open(p, q), 0);
    EXPECT_EQ(q.nr_memsize, info.nr_memsize);
    EXPECT_LT(q.nr_offset, q.nr_memsize);
    EXPECT_EQ(q.nr_tx_slots, 128u);
    EXPECT_EQ(q.nr_tx_rings, 1);
    EXPECT_EQ(q.nr_arg3, 3u);
    EXPECT_STREQ(p.nifp->ni_name, "null:legacy");
    EXPECT_EQ(extra_list(p, 10).size(), 3u);
    EXPECT_EQ(p.tx(0)->num_slots, 128u);
    nmtest::put_frame(p.tx(0), 100, 1);
    EXPECT_EQ(p.txsync(), 0);
    EXPECT_EQ(p.tx(0)->tail, 0u);

    // Deprecated ring selection in nr_ringid: NETMAP_HW_RING | 0.
    Port one;
    nmreq q1 = legacy_req("null:legacy");
    q1.nr_ringid = NETMAP_HW_RING | 0;
    EXPECT_EQ(legacy_open(one, q1), 0);
    // NETMAP_SW_RING on a port without host rings.
    Port sw;
    nmreq q2 = legacy_req("null:legacy");
    q2.nr_ringid = NETMAP_SW_RING;
    EXPECT_EQ(legacy_open(sw, q2), EINVAL);
}

class LegacyPipe : public Register, public ::testing::WithParamInterface<bool> {};

TEST_P(LegacyPipe, PipeEndsByModeAndId) {
    const bool new_api = GetParam();  // NIOCCTRL with NR_REG_PIPE_* vs NIOCREGIF
    Port m, s;
    if (new_api) {
        ASSERT_EQ(m.open("lp",
                         [](nmreq_register& r) {
                             r.nr_mode = NR_REG_PIPE_MASTER;
                             r.nr_ringid = 3;
                         }),
                  0);
        ASSERT_EQ(s.open("lp",
                         [](nmreq_register& r) {
                             r.nr_mode = NR_REG_PIPE_SLAVE;
                             r.nr_ringid = 3;
                         }),
                  0);
    } else {
        nmreq qm = legacy_req("lp");
        qm.nr_flags = NR_REG_PIPE_MASTER;
        qm.nr_ringid = 3;
        ASSERT_EQ(legacy_open(m, qm), 0);
        nmreq qs = legacy_req("lp");
        qs.nr_flags = NR_REG_PIPE_SLAVE;
        qs.nr_ringid = 3;
        ASSERT_EQ(legacy_open(s, qs), 0);
    }
    EXPECT_STREQ(m.nifp->ni_name, "lp{3");
    EXPECT_STREQ(s.nifp->ni_name, "lp}3");
    // The same pipe as the "lp{3" / "lp}3" names.
    Port m2;
    ASSERT_EQ(m2.open("lp}3"), 0);
    auto ofs = [](const Port& p, netmap_ring* r) { return reinterpret_cast<char*>(r) - static_cast<char*>(p.mem); };
    EXPECT_EQ(ofs(m2, m2.rx(0)), ofs(s, s.rx(0))) << "same port, same rings";
    m2.close();
    // Connected: master -> slave and slave -> master.
    nmtest::put_frame(m.tx(0), 77, 5);
    ASSERT_EQ(m.txsync(), 0);
    ASSERT_EQ(s.rxsync(), 0);
    ASSERT_EQ(s.rx(0)->tail, 1u);
    EXPECT_TRUE(nmtest::frame_ok(s.rx(0), s.rx(0)->slot[0], 77, 5));
    nmtest::put_frame(s.tx(0), 99, 6);
    ASSERT_EQ(s.txsync(), 0);
    ASSERT_EQ(m.rxsync(), 0);
    ASSERT_EQ(m.rx(0)->tail, 1u);
    EXPECT_TRUE(nmtest::frame_ok(m.rx(0), m.rx(0)->slot[0], 99, 6));
}

INSTANTIATE_TEST_SUITE_P(Api, LegacyPipe, ::testing::Values(false, true),
                         [](const auto& info) { return std::string(info.param ? "Nmreq14Modes" : "NIOCREGIF"); });

// ---------------------------------------------------------------------------
// Bad head / cur / slots: EINVAL, ring reinitialised, POLLERR
// ---------------------------------------------------------------------------

TEST_F(Register, BadHeadOnTxsyncIsEINVALAndReinitialisesTheRing) {
    Port p;
    ASSERT_EQ(p.open("null:bad", [](nmreq_register& r) { r.nr_tx_slots = 32; }), 0);
    netmap_ring* tx = p.tx(0);
    for (int i = 0; i < 5; i++) nmtest::put_frame(tx, 60, i);
    ASSERT_EQ(p.txsync(), 0);
    ASSERT_EQ(tx->head, 5u);
    ASSERT_EQ(tx->tail, 4u);

    tx->head = 32 + 3;  // beyond num_slots
    tx->cur = 32 + 3;
    tx->tail = 17;      // and scribble on tail too
    EXPECT_EQ(p.txsync(), EINVAL);
    EXPECT_EQ(tx->head, 5u) << "head reset to hwcur";
    EXPECT_EQ(tx->cur, 5u);
    EXPECT_EQ(tx->tail, 4u) << "tail restored";
    // The ring works again.
    nmtest::put_frame(tx, 60, 9);
    EXPECT_EQ(p.txsync(), 0);
    EXPECT_EQ(tx->tail, 5u);

    // cur behind head.
    nmtest::put_frame(tx, 60, 10);
    nmtest::put_frame(tx, 60, 11);
    tx->cur = 6;  // head is 8
    EXPECT_EQ(p.txsync(), EINVAL);
    EXPECT_EQ(tx->head, 6u);
    EXPECT_EQ(tx->cur, 6u);
    EXPECT_EQ(tx->tail, 5u);

    // poll() runs the same prologue: POLLERR, and the ring is repaired.
    tx->head = tx->cur = 1000;
    const int rev = p.poll(POLLOUT, 100);
    ASSERT_GT(rev, 0);
    EXPECT_TRUE(rev & POLLERR) << "revents " << rev;
    EXPECT_EQ(tx->head, 6u);
    EXPECT_EQ(tx->cur, 6u);
    EXPECT_EQ(tx->tail, 5u);
    EXPECT_EQ(p.poll(POLLOUT, 100), POLLOUT) << "no error once repaired";
}

TEST_F(Register, BadSlotOnTxsyncIsEINVALAndTheSlotIsRepaired) {
    Port p;
    ASSERT_EQ(p.open("null:badslot", [](nmreq_register& r) { r.nr_tx_slots = 32; }), 0);
    netmap_ring* tx = p.tx(0);
    const uint32_t good = tx->slot[1].buf_idx;
    nmtest::put_frame(tx, 60, 0);
    tx->slot[0].buf_idx = 0xfffffff0u;  // not a buffer
    nmtest::put_frame(tx, 60, 1);
    tx->slot[1].len = 4000;  // longer than a buffer
    EXPECT_EQ(p.txsync(), EINVAL);
    EXPECT_EQ(tx->head, 0u);
    EXPECT_EQ(tx->slot[0].buf_idx, 0u) << "a bad index points at buffer 0";
    EXPECT_EQ(tx->slot[0].len, 0);
    EXPECT_EQ(tx->slot[1].buf_idx, good);
    EXPECT_EQ(tx->slot[1].len, 0);
    // Sending slot 0 now (buffer 0) is still refused; slot 1 alone is fine.
    tx->head = tx->cur = 1;
    EXPECT_EQ(p.txsync(), EINVAL);
}

TEST_F(Register, BadHeadOnPipeRxsyncIsEINVALAndReinitialisesTheRing) {
    Port m, s;
    ASSERT_EQ(m.open("bh{1", [](nmreq_register& r) { r.nr_tx_slots = 16; }), 0);
    ASSERT_EQ(s.open("bh}1"), 0);
    for (int i = 0; i < 5; i++) nmtest::put_frame(m.tx(0), 60, i);
    ASSERT_EQ(m.txsync(), 0);
    netmap_ring* rx = s.rx(0);
    ASSERT_EQ(rx->num_slots, 16u);
    ASSERT_EQ(s.rxsync(), 0);
    ASSERT_EQ(rx->tail, 5u);

    rx->head = rx->cur = 7;  // beyond tail: releasing what was never received
    EXPECT_EQ(s.rxsync(), EINVAL);
    EXPECT_EQ(rx->head, 0u);
    EXPECT_EQ(rx->cur, 0u);
    EXPECT_EQ(rx->tail, 5u);
    // A head moving backwards on the sender's TX ring.
    netmap_ring* tx = m.tx(0);
    ASSERT_EQ(tx->head, 5u);
    tx->head = tx->cur = 2;
    EXPECT_EQ(m.txsync(), EINVAL);
    EXPECT_EQ(tx->head, 5u);
    EXPECT_EQ(tx->cur, 5u);
    // Both sides still work: the 5 frames are intact.
    for (uint32_t i = 0; i < 5; i++) EXPECT_TRUE(nmtest::frame_ok(rx, rx->slot[i], 60, i)) << i;
    rx->head = rx->cur = 5;
    EXPECT_EQ(s.rxsync(), 0);
    EXPECT_EQ(m.txsync(), 0);
    EXPECT_EQ(tx->tail, 4u) << "the sender sees the released slots";
}

// poll(POLLIN) with an invalid RX head must run the rxsync prologue and
// report POLLERR, as netmap_poll does (Linux always syncs; FreeBSD syncs
// when ring->head != kring->rhead).  unetmap's shortcut "cur != tail:
// readable" skips the sync, so the error goes unnoticed.
TEST_F(Register, BadHeadOnRxPollIsPOLLERR) {
    Port m, s;
    ASSERT_EQ(m.open("bp{1", [](nmreq_register& r) { r.nr_tx_slots = 16; }), 0);
    ASSERT_EQ(s.open("bp}1"), 0);
    for (int i = 0; i < 5; i++) nmtest::put_frame(m.tx(0), 60, i);
    ASSERT_EQ(m.txsync(), 0);
    netmap_ring* rx = s.rx(0);
    ASSERT_EQ(s.rxsync(), 0);
    rx->head = 9;  // beyond tail (5); cur stays 0
    const int rev = s.poll(POLLIN, 100);
    EXPECT_TRUE(rev & POLLERR) << "revents " << rev;
    EXPECT_EQ(rx->head, 0u);
}

// ---------------------------------------------------------------------------
// State goes away with the last user
// ---------------------------------------------------------------------------

TEST_F(Register, RegionsRemovedWhenTheLastUserCloses) {
    Port a, b, m, s, q;
    ASSERT_EQ(a.open("null:a"), 0);
    ASSERT_EQ(b.open("null:b"), 0);
    ASSERT_EQ(m.open("gone{1"), 0);
    ASSERT_EQ(s.open("gone}1"), 0);
    ASSERT_EQ(q.open("null:a"), 0);
    EXPECT_EQ(nmtest::count_entries("mem."), 1) << "one global region";
    EXPECT_EQ(nmtest::count_entries("b"), 5);
    EXPECT_EQ(nmtest::count_entries("ctl"), 1);
    Port* order[] = {&m, &a, &s, &q, &b};
    int open_left = 5;
    for (Port* p : order) {
        p->close();
        open_left--;
        EXPECT_EQ(nmtest::count_entries("b"), open_left);
        if (open_left) {
            EXPECT_EQ(nmtest::count_entries("mem."), 1) << "region still in use";
        }
    }
    EXPECT_TRUE(StateDirEmpty());
}

TEST_F(Register, PrivateRegionRemovedWithItsLastPort) {
    Port g, priv;
    ASSERT_EQ(g.open("null:g"), 0);
    ASSERT_EQ(priv.open("null:p", [](nmreq_register& r) { r.nr_mem_id = 5; }), 0);
    EXPECT_EQ(priv.reg.nr_mem_id, 5);
    EXPECT_NE(priv.nifp->ni_flags & NI_PRIV_MEM, 0u);
    EXPECT_EQ(nmtest::count_entries("mem.1."), 1);
    EXPECT_EQ(nmtest::count_entries("mem.5."), 1);
    Port other;
    EXPECT_EQ(other.open("null:p", [](nmreq_register& r) { r.nr_mem_id = 1; }), EINVAL)
        << "the port lives in region 5";
    priv.close();
    EXPECT_EQ(nmtest::count_entries("mem.5."), 0);
    EXPECT_EQ(nmtest::count_entries("mem.1."), 1);
}

// Child processes are started with fork + exec of this binary (roles):
// they share nothing with the parent but the descriptors they inherit.

// args: ready_fd name...  Registers each name, sends one frame on each,
// reports, and exits (returns from main) without closing anything.
NMTEST_ROLE(exit_without_close) {
    // Never destroyed, so still reachable when LeakSanitizer looks at exit.
    static auto* keep = new std::vector<Port*>;
    for (size_t i = 1; i < args.size(); i++) {
        keep->push_back(new Port);
        if (keep->back()->open(args[i].c_str(), [](nmreq_register& r) { r.nr_extra_bufs = 3; })) return 10 + i;
        nmtest::put_frame(keep->back()->tx(0), 60, 1);
        if (keep->back()->txsync()) return 20 + i;
    }
    nmtest::chan_send(std::stoi(args[0]), 1);
    return 0;
}

// args: fd memsize offset go_fd.  Uses an inherited, registered descriptor
// (after exec: the library adopts it), sends a frame, and closes it.
NMTEST_ROLE(use_inherited) {
    const int fd = std::stoi(args[0]);
    uint32_t go;
    if (!nmtest::chan_recv(std::stoi(args[3]), go)) return 2;
    Port p;
    p.fd = fd;
    p.reg.nr_memsize = nmtest::arg_u32(args, 1);
    p.reg.nr_offset = nmtest::arg_u32(args, 2);
    if (p.map()) return 3;
    netmap_ring* tx = p.tx(0);
    const uint32_t head = tx->head;
    nmtest::put_frame(tx, 60, 1);
    if (p.txsync()) return 4;
    if (tx->tail != head) return 5;  // null port: everything completed at once
    p.close();
    return 0;
}

// A program that returns from main without closing its descriptors: the
// library's atexit handler (close_all_at_exit) must release everything.
// It runs after the function-local `static const std::string dir` of
// state_dir() (core/shm.cpp) has been destroyed (that static is constructed
// after the handler is registered, so it is destroyed first): every path
// it builds is garbage ("5\231\213..."), so nothing is unlinked and the
// bindings, the region and ctl stay behind (a use-after-free, too).
TEST_F(Register, ChildExitingWithoutClosingLeavesNothing) {
    nmtest::Chan ready;
    const pid_t pid = nmtest::spawn_role("exit_without_close", {ready.ws(), "null:child", "cx{2", "cx}2"});
    ASSERT_GT(pid, 0);
    uint32_t v = 0;
    EXPECT_TRUE(ready.recv(v));
    EXPECT_EQ(nmtest::wait_child(pid), 0);
    EXPECT_TRUE(StateDirEmpty());
}

TEST_F(Register, ChildExitingWithoutClosingLeavesOthersAlone) {
    Port mine;
    ASSERT_EQ(mine.open("cy{1"), 0);
    nmtest::Chan ready;
    const pid_t pid = nmtest::spawn_role("exit_without_close", {ready.ws(), "null:child", "cy}1"});
    uint32_t v = 0;
    EXPECT_TRUE(ready.recv(v));
    EXPECT_EQ(nmtest::wait_child(pid), 0);
    EXPECT_EQ(nmtest::count_entries("b"), 1) << "only our binding is left";
    EXPECT_EQ(nmtest::count_entries("mem."), 1);
    // The pipe lives on with its remaining end; the child's frame is there.
    ASSERT_EQ(mine.rxsync(), 0);
    EXPECT_EQ(mine.rx(0)->tail, 1u);
    EXPECT_TRUE(nmtest::frame_ok(mine.rx(0), mine.rx(0)->slot[0], 60, 1));
    Port peer;
    EXPECT_EQ(peer.open("cy}1"), 0);
}

TEST_F(Register, InheritedDescriptorKeepsTheBindingUntilTheLastHolderCloses) {
    Port p;
    ASSERT_EQ(p.open("null:inh", [](nmreq_register& r) { r.nr_tx_slots = 32; }), 0);
    nmtest::Chan go;
    const pid_t pid = nmtest::spawn_role(
        "use_inherited", {std::to_string(p.fd), std::to_string(p.reg.nr_memsize),
                          std::to_string(p.reg.nr_offset), go.rs()});
    go.send(1);
    EXPECT_EQ(nmtest::wait_child(pid), 0);
    EXPECT_EQ(nmtest::count_entries("b"), 1) << "the parent still holds the binding";
    nmtest::put_frame(p.tx(0), 60, 2);
    EXPECT_EQ(p.txsync(), 0);
    EXPECT_EQ(p.tx(0)->head, 2u) << "the child's frame went through the same ring";
    EXPECT_EQ(p.tx(0)->tail, 1u);
    p.close();
    EXPECT_TRUE(StateDirEmpty());
}

TEST_F(Register, ParentClosingFirstLeavesTheBindingToTheChild) {
    Port p;
    ASSERT_EQ(p.open("null:inh2", [](nmreq_register& r) { r.nr_tx_slots = 32; }), 0);
    nmtest::Chan go;
    const pid_t pid = nmtest::spawn_role(
        "use_inherited", {std::to_string(p.fd), std::to_string(p.reg.nr_memsize),
                          std::to_string(p.reg.nr_offset), go.rs()});
    ASSERT_GT(pid, 0);
    p.close();  // the child still holds the descriptor
    EXPECT_EQ(nmtest::count_entries("b"), 1);
    EXPECT_EQ(nmtest::count_entries("mem."), 1);
    go.send(1);
    EXPECT_EQ(nmtest::wait_child(pid), 0);
    EXPECT_TRUE(StateDirEmpty()) << "the child's close released the binding";
}

// fork() without exec: the child of a process that used netmap can use it
// too (raw_api_pipe does exactly this).  Regression: the pthread_atfork
// child handler once unlocked a mutex owned by the parent's thread, and the
// child's first control operation deadlocked.
TEST_F(Register, ForkedChildCanRegister) {
    Port p;
    ASSERT_EQ(p.open("null:f"), 0);
    const pid_t pid = nmtest::spawn([] {
        Port q;
        if (q.open("null:g")) return 1;
        q.close();
        return 0;
    });
    EXPECT_EQ(nmtest::wait_child(pid, 5000), 0) << "child deadlocked (killed after 5 s)";
}

// Same bug as ChildExitingWithoutClosingLeavesNothing (state_dir()'s static
// destroyed before the atexit handler runs), in a forked child.
TEST_F(Register, ForkedChildExitingWithoutClosingLeavesNothing) {
    Port warmup;  // the parent has used netmap before forking
    ASSERT_EQ(warmup.open("null:w"), 0);
    warmup.close();
    const pid_t pid = nmtest::spawn(
        [] {
            static Port* keep[2];
            for (Port*& k : keep) k = new Port;
            return keep[0]->open("null:child") || keep[1]->open("fx{1") ? 1 : 0;
        },
        /*normal_exit=*/true);
    EXPECT_EQ(nmtest::wait_child(pid, 5000), 0);
    EXPECT_TRUE(StateDirEmpty());
}

TEST_F(Register, ForkedChildClosingInheritedDescriptor) {
    Port p;
    ASSERT_EQ(p.open("null:inh3", [](nmreq_register& r) { r.nr_tx_slots = 32; }), 0);
    const pid_t pid = nmtest::spawn([&] {
        nmtest::put_frame(p.tx(0), 60, 1);
        if (p.txsync() != 0) return 2;
        p.close();  // on_close takes the control lock
        return 0;
    });
    EXPECT_EQ(nmtest::wait_child(pid, 5000), 0);
    EXPECT_EQ(nmtest::count_entries("b"), 1);
    p.close();
    EXPECT_TRUE(StateDirEmpty());
}

// A descriptor whose binding an earlier closer already collected (with
// everything else, so that the control file went away) closes without
// creating a control file only to remove it again.
TEST_F(Register, LateCloserDoesNotRecreateTheControlFile) {
    Port a, b;
    ASSERT_EQ(a.open("null:a"), 0);
    ASSERT_EQ(b.open("null:b"), 0);
    const int in = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    ASSERT_GE(in, 0);
    // b's socket goes behind the library's back, so a's close collects
    // both bindings and removes the control file.
    ASSERT_EQ(::syscall(SYS_close, b.fd), 0);
    a.close();
    EXPECT_TRUE(StateDirEmpty());
    ASSERT_GE(::inotify_add_watch(in, nmtest::state_dir().c_str(), IN_CREATE), 0);
    b.close();  // the library's close of b: its real close fails (EBADF), then on_close
    char ev[4096];
    const ssize_t n = ::read(in, ev, sizeof ev);
    EXPECT_EQ(n, -1) << "something was created in the state directory: "
                     << (n > 0 ? reinterpret_cast<inotify_event*>(ev)->name : "");
    ::close(in);
    EXPECT_TRUE(StateDirEmpty());
}
