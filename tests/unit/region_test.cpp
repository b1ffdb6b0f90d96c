// Memory regions (core/region.h): geometry, the three pool allocators,
// all-or-nothing allocation, exhaustion and recovery, bad frees, the
// ni_bufs_head lists, configuration validation and environment overrides.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/region.h"
#include "test_support.h"

using namespace unetmap;

namespace {

constexpr uint64_t kPage = 4096;

RegionConfig small_config() {
    RegionConfig c;
    c.if_num = 4;
    c.if_size = 1024;
    c.ring_num = 3;
    c.ring_size = 4096 + 128;  // not a page multiple: the next pool must still be page aligned
    c.buf_num = 130;          // two reserved + 128
    c.buf_size = 2048;
    return c;
}

class RegionTest : public ::testing::Test {
protected:
    std::string new_path() {
        paths_.push_back(nmtest::state_dir() + "/regiontest." + std::to_string(paths_.size()));
        return paths_.back();
    }
    void create(Region& r, const RegionConfig& c = small_config(), uint32_t mem_id = 7) {
        ASSERT_EQ(Region::create(new_path(), mem_id, c, r), 0);
        ASSERT_TRUE(static_cast<bool>(r));
    }
    void TearDown() override {
        for (const auto& p : paths_) ::unlink(p.c_str());
        EXPECT_TRUE(nmtest::StateDirEmpty());
    }
    std::vector<std::string> paths_;
};

uint32_t pool_total(const Region& r, Pool p) { return r.meta().pool[static_cast<int>(p)].objtotal; }

// Objects a pool can hand out (buffers 0 and 1 are reserved).
uint32_t usable(const Region& r, Pool p) { return pool_total(r, p) - (p == Pool::Buf ? 2 : 0); }

}  // namespace

TEST_F(RegionTest, GeometryIsPageAlignedAndCoversThePools) {
    Region r;
    create(r);
    const RegionMeta& m = r.meta();
    const RegionConfig c = small_config();
    EXPECT_EQ(m.magic, RegionMeta::kMagic);
    EXPECT_EQ(r.mem_id(), 7u);
    const uint32_t sizes[3] = {c.if_size, c.ring_size, c.buf_size};
    const uint32_t nums[3] = {c.if_num, c.ring_num, c.buf_num};
    uint64_t prev_end = 0;
    for (int i = 0; i < kNumPools; i++) {
        SCOPED_TRACE(i);
        EXPECT_EQ(m.pool[i].objsize, sizes[i]);
        EXPECT_EQ(m.pool[i].objtotal, nums[i]);
        EXPECT_EQ(m.pool[i].offset % kPage, 0u);
        EXPECT_GE(m.pool[i].offset, prev_end);        // pools do not overlap
        EXPECT_LT(m.pool[i].offset, prev_end + kPage);  // and are packed
        prev_end = m.pool[i].offset + uint64_t{m.pool[i].objsize} * m.pool[i].objtotal;
    }
    EXPECT_EQ(m.pool[0].offset, 0u);
    EXPECT_EQ(r.memsize() % kPage, 0u);
    EXPECT_GE(r.memsize(), prev_end);
    EXPECT_LT(r.memsize(), prev_end + kPage);
    // The allocator's private state lives past memsize, inside the file.
    struct stat st {};
    ASSERT_EQ(::stat(paths_[0].c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), m.filesize);
    EXPECT_GT(m.filesize, r.memsize());
    EXPECT_EQ(m.filesize % kPage, 0u);
    EXPECT_EQ(reinterpret_cast<const std::byte*>(&m), r.base() + r.memsize());

    EXPECT_EQ(r.buf_size(), c.buf_size);
    EXPECT_EQ(r.buf_total(), c.buf_num);
    EXPECT_EQ(r.obj_offset(Pool::Buf, 5), m.pool[2].offset + 5u * c.buf_size);
    EXPECT_EQ(r.buf(5), r.base() + r.obj_offset(Pool::Buf, 5));
    EXPECT_EQ(r.free_count(Pool::If), c.if_num);
    EXPECT_EQ(r.free_count(Pool::Ring), c.ring_num);
    EXPECT_EQ(r.free_count(Pool::Buf), c.buf_num - 2);
    EXPECT_FALSE(r.valid_buf(0));
    EXPECT_FALSE(r.valid_buf(1));
    EXPECT_TRUE(r.valid_buf(2));
    EXPECT_TRUE(r.valid_buf(c.buf_num - 1));
    EXPECT_FALSE(r.valid_buf(c.buf_num));
}

TEST_F(RegionTest, DefaultConfigurationIsValidAndMatchesNetmapShapes) {
    const RegionConfig c;
    EXPECT_EQ(c.validate(), 0);
    EXPECT_EQ(c.buf_size, 2048u);
    EXPECT_EQ(c.ring_size, 36864u);
    Region r;
    create(r, c, 1);
    EXPECT_EQ(r.buf_total(), c.buf_num);
    EXPECT_EQ(r.memsize() % kPage, 0u);
}

TEST_F(RegionTest, CreateIsExclusive) {
    Region a;
    create(a);
    Region b;
    EXPECT_EQ(Region::create(paths_[0], 8, small_config(), b), EEXIST);
    EXPECT_FALSE(static_cast<bool>(b));
}

TEST_F(RegionTest, OpenSharesAllocationStateAndChecksMemsize) {
    Region a;
    create(a);
    Region b;
    ASSERT_EQ(Region::open(paths_[0], a.memsize(), b), 0);
    EXPECT_EQ(b.mem_id(), a.mem_id());
    EXPECT_EQ(b.memsize(), a.memsize());
    uint32_t idx[5];
    ASSERT_EQ(a.alloc(Pool::Buf, idx, false), 0);
    EXPECT_EQ(b.free_count(Pool::Buf), usable(a, Pool::Buf) - 5);
    // Data written through one mapping is seen through the other.
    std::memcpy(a.buf(idx[0]), "hello", 6);
    EXPECT_STREQ(reinterpret_cast<const char*>(b.buf(idx[0])), "hello");
    EXPECT_EQ(b.free(Pool::Buf, idx), 0u);
    EXPECT_EQ(a.free_count(Pool::Buf), usable(a, Pool::Buf));

    Region c;
    EXPECT_EQ(Region::open(paths_[0], a.memsize() + kPage, c), EINVAL);
    EXPECT_EQ(Region::open(paths_[0], a.memsize() - kPage, c), EINVAL);
    EXPECT_EQ(Region::open(paths_[0], a.memsize() + 8, c), EINVAL);
    EXPECT_EQ(Region::open(nmtest::state_dir() + "/no-such-region", a.memsize(), c), ENOENT);
    EXPECT_FALSE(static_cast<bool>(c));
}

class RegionPoolTest : public RegionTest, public ::testing::WithParamInterface<Pool> {};

TEST_P(RegionPoolTest, AllocatesEveryObjectOnceThenENOMEMThenRecovers) {
    const Pool p = GetParam();
    Region r;
    create(r);
    const uint32_t n = usable(r, p);
    std::vector<uint32_t> all(n);
    ASSERT_EQ(r.alloc(p, all, false), 0);
    EXPECT_EQ(r.free_count(p), 0u);
    std::set<uint32_t> distinct(all.begin(), all.end());
    EXPECT_EQ(distinct.size(), n);
    for (uint32_t i : all) {
        EXPECT_LT(i, pool_total(r, p));
        if (p == Pool::Buf) {
            EXPECT_GE(i, 2u) << "reserved buffer handed out";
        }
    }
    uint32_t one = 12345;
    EXPECT_EQ(r.alloc_one(p, one, false), ENOMEM);
    EXPECT_EQ(r.free_count(p), 0u);

    // Free one: exactly that one comes back.
    const uint32_t victim = all[n / 2];
    EXPECT_EQ(r.free(p, std::span<const uint32_t>(&victim, 1)), 0u);
    EXPECT_EQ(r.free_count(p), 1u);
    ASSERT_EQ(r.alloc_one(p, one, false), 0);
    EXPECT_EQ(one, victim);
    EXPECT_EQ(r.alloc_one(p, one, false), ENOMEM);

    EXPECT_EQ(r.free(p, all), 0u);
    EXPECT_EQ(r.free_count(p), n);
}

TEST_P(RegionPoolTest, AllocationIsAllOrNothing) {
    const Pool p = GetParam();
    Region r;
    create(r);
    const uint32_t n = usable(r, p);
    std::vector<uint32_t> too_many(n + 1, 0xdeadbeef);
    EXPECT_EQ(r.alloc(p, too_many, false), ENOMEM);
    EXPECT_EQ(r.free_count(p), n) << "a failed allocation must not take anything";
    // Take a few, then ask for one more than what is left.
    uint32_t some[2];
    ASSERT_EQ(r.alloc(p, some, false), 0);
    std::vector<uint32_t> rest(n - 2 + 1);
    EXPECT_EQ(r.alloc(p, rest, false), ENOMEM);
    EXPECT_EQ(r.free_count(p), n - 2);
    rest.pop_back();
    EXPECT_EQ(r.alloc(p, rest, false), 0);
    EXPECT_EQ(r.free_count(p), 0u);
    EXPECT_EQ(r.free(p, rest), 0u);
    EXPECT_EQ(r.free(p, some), 0u);
    EXPECT_EQ(r.free_count(p), n);
}

TEST_P(RegionPoolTest, ExhaustionInChunksThenRecoveryAfterFree) {
    const Pool p = GetParam();
    Region r;
    create(r);
    const uint32_t n = usable(r, p);
    std::vector<std::vector<uint32_t>> chunks;
    uint32_t got = 0;
    for (int guard = 0; guard < 1000; guard++) {
        std::vector<uint32_t> c(2);
        if (r.alloc(p, c, false) != 0) break;
        got += 2;
        chunks.push_back(c);
    }
    EXPECT_EQ(got, n - n % 2);
    EXPECT_EQ(r.free_count(p), n % 2);
    ASSERT_FALSE(chunks.empty());
    EXPECT_EQ(r.free(p, chunks.back()), 0u);
    chunks.pop_back();
    std::vector<uint32_t> again(2);
    EXPECT_EQ(r.alloc(p, again, false), 0) << "freed objects are reusable";
    chunks.push_back(again);
    for (const auto& c : chunks) EXPECT_EQ(r.free(p, c), 0u);
    EXPECT_EQ(r.free_count(p), n);
}

TEST_P(RegionPoolTest, FreeIgnoresOutOfRangeAndDoubleFrees) {
    const Pool p = GetParam();
    Region r;
    create(r);
    const uint32_t n = usable(r, p), total = pool_total(r, p);
    uint32_t x;
    ASSERT_EQ(r.alloc_one(p, x, false), 0);
    // Out of range, and (for buffers) the reserved ones.
    std::vector<uint32_t> bad = {total, total + 1, 0xffffffffu};
    if (p == Pool::Buf) {
        bad.push_back(0);
        bad.push_back(1);
    }
    EXPECT_EQ(r.free(p, bad), bad.size());
    EXPECT_EQ(r.free_count(p), n - 1);
    // x twice in one call: the second is a double free.
    const uint32_t twice[2] = {x, x};
    EXPECT_EQ(r.free(p, twice), 1u);
    EXPECT_EQ(r.free_count(p), n);
    // And once more later.
    EXPECT_EQ(r.free(p, std::span<const uint32_t>(&x, 1)), 1u);
    EXPECT_EQ(r.free_count(p), n);
    if (p == Pool::Buf) {
        // Reserved buffers were never handed out and still are not.
        std::vector<uint32_t> all(n);
        ASSERT_EQ(r.alloc(p, all, false), 0);
        EXPECT_EQ(std::count_if(all.begin(), all.end(), [](uint32_t i) { return i < 2; }), 0);
        EXPECT_EQ(r.free(p, all), 0u);
    }
}

TEST_P(RegionPoolTest, ZeroedAllocationClearsObjects) {
    const Pool p = GetParam();
    Region r;
    create(r);
    const uint32_t n = usable(r, p);
    const uint32_t size = r.meta().pool[static_cast<int>(p)].objsize;
    std::vector<uint32_t> all(n);
    ASSERT_EQ(r.alloc(p, all, false), 0);
    for (uint32_t i : all) std::memset(r.obj<char>(p, i), 0xa5, size);
    ASSERT_EQ(r.free(p, all), 0u);
    ASSERT_EQ(r.alloc(p, all, true), 0);
    for (uint32_t i : all) {
        const char* o = r.obj<char>(p, i);
        EXPECT_TRUE(std::all_of(o, o + size, [](char c) { return c == 0; })) << "object " << i;
    }
    EXPECT_EQ(r.free(p, all), 0u);
}

INSTANTIATE_TEST_SUITE_P(Pools, RegionPoolTest, ::testing::Values(Pool::If, Pool::Ring, Pool::Buf),
                         [](const auto& info) {
                             switch (info.param) {
                                 case Pool::If: return std::string("If");
                                 case Pool::Ring: return std::string("Ring");
                                 default: return std::string("Buf");
                             }
                         });

TEST_F(RegionTest, ConcurrentAllocFreeThroughTwoMappingsKeepsCountsExact) {
    Region a;
    create(a);
    Region b;
    ASSERT_EQ(Region::open(paths_[0], a.memsize(), b), 0);
    const uint32_t n = usable(a, Pool::Buf);
    std::atomic<int> failures{0};
    auto worker = [&](Region& r) {
        for (int it = 0; it < 2000; it++) {
            uint32_t idx[7];
            if (r.alloc(Pool::Buf, idx, false) != 0) continue;  // the other thread holds many
            for (uint32_t i : idx) std::memset(r.buf(i), 0, 4);
            if (r.free(Pool::Buf, idx) != 0) failures++;
        }
    };
    std::thread t1(worker, std::ref(a)), t2(worker, std::ref(b));
    t1.join();
    t2.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(a.free_count(Pool::Buf), n);
}

// ---------------------------------------------------------------------------
// ni_bufs_head lists
// ---------------------------------------------------------------------------

namespace {

std::vector<uint32_t> walk_list(const Region& r, uint32_t head, uint32_t limit) {
    std::vector<uint32_t> v;
    for (uint32_t i = head; i != 0 && v.size() < limit;) {
        v.push_back(i);
        if (!r.valid_buf(i)) break;
        std::memcpy(&i, r.buf(i), sizeof i);
    }
    return v;
}

void set_next(Region& r, uint32_t buf, uint32_t next) { std::memcpy(r.buf(buf), &next, sizeof next); }

}  // namespace

TEST_F(RegionTest, BufListIsLinkedThroughFirstFourBytesAndFreedWhole) {
    Region r;
    create(r);
    const uint32_t n = usable(r, Pool::Buf);
    uint32_t head = 0xffff;
    ASSERT_EQ(r.alloc_buf_list(10, head), 10u);
    EXPECT_EQ(r.free_count(Pool::Buf), n - 10);
    const auto list = walk_list(r, head, 1000);
    ASSERT_EQ(list.size(), 10u) << "the list ends with 0 after exactly 10 buffers";
    EXPECT_EQ(std::set<uint32_t>(list.begin(), list.end()).size(), 10u);
    for (uint32_t i : list) EXPECT_TRUE(r.valid_buf(i)) << i;
    EXPECT_EQ(list.front(), head);
    EXPECT_EQ(r.free_buf_list(head), 10u);
    EXPECT_EQ(r.free_count(Pool::Buf), n);
}

TEST_F(RegionTest, BufListOfZeroAndFreeOfEmptyList) {
    Region r;
    create(r);
    uint32_t head = 77;
    EXPECT_EQ(r.alloc_buf_list(0, head), 0u);
    EXPECT_EQ(head, 0u);
    EXPECT_EQ(r.free_buf_list(0), 0u);
    EXPECT_EQ(r.free_buf_list(1), 0u) << "reserved buffer 1 is not a list";
    EXPECT_EQ(r.free_buf_list(r.buf_total()), 0u) << "out-of-range head";
    EXPECT_EQ(r.free_count(Pool::Buf), usable(r, Pool::Buf));
}

TEST_F(RegionTest, BufListGetsWhatIsLeftWhenThePoolIsShort) {
    Region r;
    create(r);
    const uint32_t n = usable(r, Pool::Buf);
    std::vector<uint32_t> most(n - 3);
    ASSERT_EQ(r.alloc(Pool::Buf, most, false), 0);
    uint32_t head = 0;
    EXPECT_EQ(r.alloc_buf_list(10, head), 3u);
    EXPECT_EQ(walk_list(r, head, 100).size(), 3u);
    uint32_t head2 = 55;
    EXPECT_EQ(r.alloc_buf_list(5, head2), 0u);
    EXPECT_EQ(head2, 0u);
    EXPECT_EQ(r.free_buf_list(head), 3u);
    EXPECT_EQ(r.free(Pool::Buf, most), 0u);
    EXPECT_EQ(r.free_count(Pool::Buf), n);
}

TEST_F(RegionTest, CyclicBufListIsFreedOnceAndDoesNotHang) {
    Region r;
    create(r);
    const uint32_t n = usable(r, Pool::Buf);
    uint32_t head = 0;
    ASSERT_EQ(r.alloc_buf_list(3, head), 3u);
    const auto list = walk_list(r, head, 10);
    ASSERT_EQ(list.size(), 3u);
    set_next(r, list[2], list[0]);  // a -> b -> c -> a
    const double t0 = nmtest::now_s();
    r.free_buf_list(head);
    EXPECT_LT(nmtest::now_s() - t0, 2.0);
    EXPECT_EQ(r.free_count(Pool::Buf), n) << "each buffer of the cycle freed exactly once";
    // A self-loop too.
    ASSERT_EQ(r.alloc_buf_list(1, head), 1u);
    set_next(r, head, head);
    r.free_buf_list(head);
    EXPECT_EQ(r.free_count(Pool::Buf), n);
}

// free_buf_list() is documented to return the number of buffers freed; on a
// cyclic list it returns the number of steps walked (buf_total) instead.
TEST_F(RegionTest, CyclicBufListReturnsBuffersFreed) {
    Region r;
    create(r);
    uint32_t head = 0;
    ASSERT_EQ(r.alloc_buf_list(3, head), 3u);
    const auto list = walk_list(r, head, 10);
    set_next(r, list[2], list[0]);
    EXPECT_EQ(r.free_buf_list(head), 3u);
}

TEST_F(RegionTest, BufListStopsAtAnInvalidLink) {
    Region r;
    create(r);
    const uint32_t n = usable(r, Pool::Buf);
    uint32_t head = 0;
    ASSERT_EQ(r.alloc_buf_list(3, head), 3u);
    const auto list = walk_list(r, head, 10);
    set_next(r, list[1], r.buf_total() + 1000);  // a -> b -> (garbage); c unreachable
    EXPECT_EQ(r.free_buf_list(head), 2u);
    EXPECT_EQ(r.free_count(Pool::Buf), n - 1);
    EXPECT_EQ(r.free(Pool::Buf, std::span<const uint32_t>(&list[2], 1)), 0u);
    // A link to reserved buffer 1 also ends the list.
    ASSERT_EQ(r.alloc_buf_list(2, head), 2u);
    const auto two = walk_list(r, head, 10);
    ASSERT_EQ(two.size(), 2u);
    set_next(r, two[0], 1);  // h -> 1: the list is just h
    EXPECT_EQ(r.free_buf_list(head), 1u);
    EXPECT_EQ(r.free_count(Pool::Buf), n - 1);
    EXPECT_EQ(r.free(Pool::Buf, std::span<const uint32_t>(&two[1], 1)), 0u);
    EXPECT_EQ(r.free_count(Pool::Buf), n);
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

struct ConfigCase {
    const char* name;
    void (*tweak)(RegionConfig&);
    int expect;
};

void PrintTo(const ConfigCase& c, std::ostream* os) { *os << c.name; }

class RegionConfigTest : public RegionTest, public ::testing::WithParamInterface<ConfigCase> {};

TEST_P(RegionConfigTest, Validate) {
    RegionConfig c = small_config();
    GetParam().tweak(c);
    EXPECT_EQ(c.validate(), GetParam().expect);
    // An invalid configuration creates nothing.
    Region r;
    const std::string path = new_path();
    EXPECT_EQ(Region::create(path, 3, c, r), GetParam().expect);
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st) == 0, GetParam().expect == 0);
}

const ConfigCase kConfigCases[] = {
    {"Small", [](RegionConfig&) {}, 0},
    {"MinimalBuffers", [](RegionConfig& c) { c.buf_num = 3; }, 0},
    {"TwoBuffersOnlyReserved", [](RegionConfig& c) { c.buf_num = 2; }, EINVAL},
    {"ZeroBuffers", [](RegionConfig& c) { c.buf_num = 0; }, EINVAL},
    {"HugeBufferCount", [](RegionConfig& c) { c.buf_num = (1u << 24) + 1; }, EINVAL},
    {"BufSizeTooSmall", [](RegionConfig& c) { c.buf_size = 32; }, EINVAL},
    {"BufSizeNotMultipleOf64", [](RegionConfig& c) { c.buf_size = 2000; }, EINVAL},
    {"BufSizeTooLarge", [](RegionConfig& c) { c.buf_size = 65536 + 64; }, EINVAL},
    {"BufSizeMax", [](RegionConfig& c) { c.buf_size = 65536; c.buf_num = 4; }, 0},
    {"ZeroIfs", [](RegionConfig& c) { c.if_num = 0; }, EINVAL},
    {"IfSizeTooSmall", [](RegionConfig& c) { c.if_size = 32; }, EINVAL},
    {"IfSizeUnaligned", [](RegionConfig& c) { c.if_size = 1000; }, EINVAL},
    {"ZeroRings", [](RegionConfig& c) { c.ring_num = 0; }, EINVAL},
    {"RingSizeTooSmall", [](RegionConfig& c) { c.ring_size = 256; }, EINVAL},
    {"RingSizeUnaligned", [](RegionConfig& c) { c.ring_size = 4100; }, EINVAL},
    // netmap_ring is aligned to NM_CACHE_ALIGN (128): a multiple of 64 is not enough.
    {"RingSizeNotMultipleOf128", [](RegionConfig& c) { c.ring_size = 4096 + 64; }, EINVAL},
    {"RingSizeTooLarge", [](RegionConfig& c) { c.ring_size = (1u << 22) + 64; }, EINVAL},
};

INSTANTIATE_TEST_SUITE_P(Cases, RegionConfigTest, ::testing::ValuesIn(kConfigCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RegionConfigEnv, OverridesDefaultsAndIgnoresGarbage) {
    const char* vars[] = {"UNETMAP_IF_NUM",   "UNETMAP_IF_SIZE",  "UNETMAP_RING_NUM",
                          "UNETMAP_RING_SIZE", "UNETMAP_BUF_NUM", "UNETMAP_BUF_SIZE"};
    for (const char* v : vars) ::unsetenv(v);
    const RegionConfig d = RegionConfig::from_env();
    const RegionConfig ref;
    EXPECT_EQ(d.buf_num, ref.buf_num);
    EXPECT_EQ(d.buf_size, ref.buf_size);

    ::setenv("UNETMAP_IF_NUM", "9", 1);
    ::setenv("UNETMAP_IF_SIZE", "2048", 1);
    ::setenv("UNETMAP_RING_NUM", "11", 1);
    ::setenv("UNETMAP_RING_SIZE", "0x2000", 1);
    ::setenv("UNETMAP_BUF_NUM", "1000", 1);
    ::setenv("UNETMAP_BUF_SIZE", "4096", 1);
    RegionConfig c = RegionConfig::from_env();
    EXPECT_EQ(c.if_num, 9u);
    EXPECT_EQ(c.if_size, 2048u);
    EXPECT_EQ(c.ring_num, 11u);
    EXPECT_EQ(c.ring_size, 0x2000u);
    EXPECT_EQ(c.buf_num, 1000u);
    EXPECT_EQ(c.buf_size, 4096u);

    ::setenv("UNETMAP_BUF_NUM", "12abc", 1);      // not a number: default
    ::setenv("UNETMAP_BUF_SIZE", "", 1);          // empty: default
    ::setenv("UNETMAP_RING_NUM", "99999999999", 1);  // out of range: default
    c = RegionConfig::from_env();
    EXPECT_EQ(c.buf_num, ref.buf_num);
    EXPECT_EQ(c.buf_size, ref.buf_size);
    EXPECT_EQ(c.ring_num, ref.ring_num);
    EXPECT_EQ(c.if_num, 9u);

    // An override producing a bad geometry is caught by validate().
    ::setenv("UNETMAP_BUF_SIZE", "100", 1);
    EXPECT_EQ(RegionConfig::from_env().validate(), EINVAL);
    for (const char* v : vars) ::unsetenv(v);
}
