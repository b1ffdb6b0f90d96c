// Malformed control requests through the plain netmap API: open("/dev/netmap")
// and ioctl(NIOCCTRL).  Each one must fail with the errno netmap returns and
// leave no trace: no region file, no binding socket (the state directory
// is empty), and the very same descriptor can register afterwards.
#include <sys/mman.h>

#include <cstring>
#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <net/netmap.h>
#include <net/netmap_legacy.h>

#include "test_support.h"

using nmtest::Port;
using nmtest::StateDirEmpty;
using nmtest::xioctl;

namespace {

// An address nothing is mapped at (a PROT_NONE page kept for the program's
// lifetime, so no later allocation can land there).
uint64_t bad_address() {
    static void* p = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return reinterpret_cast<uint64_t>(p) + 128;
}

constexpr uint32_t kUnknownOpt = 1000;  // not a NETMAP_REQ_OPT_*

// A REGISTER request for "null:v" (valid as built), with room for options.
struct Req {
    nmreq_header hdr;
    nmreq_register reg;
    nmreq_option opt[3];
    Req() {
        std::memset(&reg, 0, sizeof reg);
        std::memset(opt, 0, sizeof opt);
        reg.nr_mode = NR_REG_ALL_NIC;
        hdr = nmtest::make_header("null:v", NETMAP_REQ_REGISTER, &reg);
    }
    void name(const char* n) {
        std::memset(hdr.nr_name, 0, sizeof hdr.nr_name);
        std::memcpy(hdr.nr_name, n, std::min(std::strlen(n), sizeof hdr.nr_name));
    }
    void chain(int n, uint32_t type = kUnknownOpt) {  // opt[0] -> ... -> opt[n-1]
        for (int i = 0; i < n; i++) {
            opt[i].nro_reqtype = type + static_cast<uint32_t>(i);
            opt[i].nro_next = i + 1 < n ? reinterpret_cast<uint64_t>(&opt[i + 1]) : 0;
        }
        hdr.nr_options = reinterpret_cast<uint64_t>(&opt[0]);
    }
};

struct BadCase {
    const char* name;
    std::function<void(Req&)> setup;
    int expect;
    std::function<void(const Req&)> check = {};  // extra assertions on the reply
    const char* retry = "null:v";                 // name registered afterwards on the same fd
};

const BadCase kBadCases[] = {
    // ---- header ------------------------------------------------------------
    {"VersionTooOld", [](Req& r) { r.hdr.nr_version = 13; }, EINVAL},
    {"VersionTooNew", [](Req& r) { r.hdr.nr_version = 16; }, EINVAL},
    {"VersionZero", [](Req& r) { r.hdr.nr_version = 0; }, EINVAL},
    {"ReservedNonZero", [](Req& r) { r.hdr.nr_reserved = 1; }, EINVAL},
    {"ReservedHighBit", [](Req& r) { r.hdr.nr_reserved = 0x80000000u; }, EINVAL},
    {"ReqtypeZero", [](Req& r) { r.hdr.nr_reqtype = 0; }, EINVAL},
    {"ReqtypeUnknown", [](Req& r) { r.hdr.nr_reqtype = 99; }, EINVAL},
    {"ReqtypeHuge", [](Req& r) { r.hdr.nr_reqtype = 0xffff; }, EINVAL},
    {"BodyNull", [](Req& r) { r.hdr.nr_body = 0; }, EINVAL},
    {"BodyBadPointer", [](Req& r) { r.hdr.nr_body = bad_address(); }, EFAULT},
    // ---- port name ---------------------------------------------------------
    {"NameEmpty", [](Req& r) { r.name(""); }, EINVAL},
    {"NameUnterminated", [](Req& r) { std::memset(r.hdr.nr_name, 'a', sizeof r.hdr.nr_name); }, EINVAL},
    {"NameUnterminatedNull",
     [](Req& r) {
         std::memset(r.hdr.nr_name, 'x', sizeof r.hdr.nr_name);
         std::memcpy(r.hdr.nr_name, "null:", 5);
     },
     EINVAL},
    {"NameWithSpace", [](Req& r) { r.name("null:a b"); }, EINVAL},
    {"NameLeadingSpace", [](Req& r) { r.name(" null"); }, EINVAL},
    {"NameWithSlash", [](Req& r) { r.name("null:a/b"); }, EINVAL},
    {"NameDotDotSlash", [](Req& r) { r.name("../ctl"); }, EINVAL},
    {"NameWithTab", [](Req& r) { r.name("null:a\tb"); }, EINVAL},
    {"NameWithNewline", [](Req& r) { r.name("null:a\n"); }, EINVAL},
    {"NameWithControlChar", [](Req& r) { r.name("null:\x01"); }, EINVAL},
    {"NameWithDel", [](Req& r) { r.name("null:\x7f"); }, EINVAL},
    {"NameWithHighBit", [](Req& r) { r.name("null:\xc3\xa9"); }, EINVAL},
    {"NameUnknownInterface", [](Req& r) { r.name("nosuchif0"); }, ENXIO},
    {"NameUnknownInterface2", [](Req& r) { r.name("nullx"); }, ENXIO},
    {"LegacyPipeNameTooLong",
     [](Req& r) {
         r.name("null:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");  // 60 chars
         r.reg.nr_mode = NR_REG_PIPE_MASTER;
         r.reg.nr_ringid = 12345;  // "...{12345" no longer fits in 64 bytes
     },
     EINVAL},
    // ---- mode, ring selection and flags -------------------------------------
    {"ModeUnknown", [](Req& r) { r.reg.nr_mode = 9; }, EINVAL},
    {"ModeHuge", [](Req& r) { r.reg.nr_mode = 0xffffffffu; }, EINVAL},
    {"TxOnlyAndRxOnly", [](Req& r) { r.reg.nr_flags = NR_TX_RINGS_ONLY | NR_RX_RINGS_ONLY; }, EINVAL},
    {"FlagUnused0x1000", [](Req& r) { r.reg.nr_flags = 0x1000; }, EINVAL},
    {"FlagUnknownHigh", [](Req& r) { r.reg.nr_flags = 1ull << 40; }, EINVAL},
    {"FlagUnknownLow", [](Req& r) { r.reg.nr_flags = 0x1; }, EINVAL},
    {"FlagUnknownWithValid", [](Req& r) { r.reg.nr_flags = NR_EXCLUSIVE | (1ull << 63); }, EINVAL},
    {"TxRings17", [](Req& r) { r.reg.nr_tx_rings = 17; }, EINVAL},
    {"RxRings17", [](Req& r) { r.reg.nr_rx_rings = 17; }, EINVAL},
    {"TxRingsMax", [](Req& r) { r.reg.nr_tx_rings = 0xffff; }, EINVAL},
    {"PipeTxRings17", [](Req& r) { r.name("pv{1"); r.reg.nr_tx_rings = 17; }, EINVAL, {}, "pv{1"},
    {"OneNicRingOutOfRange",
     [](Req& r) {
         r.reg.nr_mode = NR_REG_ONE_NIC;
         r.reg.nr_ringid = 1;  // the port has one ring pair: 0
     },
     EINVAL},
    {"OneNicRingOutOfRangeMulti",
     [](Req& r) {
         r.reg.nr_tx_rings = r.reg.nr_rx_rings = 4;
         r.reg.nr_mode = NR_REG_ONE_NIC;
         r.reg.nr_ringid = 4;
     },
     EINVAL},
    {"OneNicRingHuge",
     [](Req& r) {
         r.reg.nr_mode = NR_REG_ONE_NIC;
         r.reg.nr_ringid = 0xffff;
     },
     EINVAL},
    {"PipeOneNicRingOutOfRange",
     [](Req& r) {
         r.name("pv{1");
         r.reg.nr_mode = NR_REG_ONE_NIC;
         r.reg.nr_ringid = 3;
     },
     EINVAL, {}, "pv{1"},
    {"SwWithoutHostRings", [](Req& r) { r.reg.nr_mode = NR_REG_SW; }, EINVAL},
    {"OneSwWithoutHostRings", [](Req& r) { r.reg.nr_mode = NR_REG_ONE_SW; }, EINVAL},
    {"PipeSwWithoutHostRings", [](Req& r) { r.name("pv}1"); r.reg.nr_mode = NR_REG_SW; }, EINVAL, {}, "pv}1"},
    // ---- options --------------------------------------------------------------
    {"OptionUnknown", [](Req& r) { r.chain(1); }, EOPNOTSUPP,
     [](const Req& r) { EXPECT_EQ(r.opt[0].nro_status, static_cast<uint32_t>(EOPNOTSUPP)); }},
    {"OptionsUnknownTwo", [](Req& r) { r.chain(2); }, EOPNOTSUPP,
     [](const Req& r) {
         EXPECT_EQ(r.opt[0].nro_status, static_cast<uint32_t>(EOPNOTSUPP));
         EXPECT_EQ(r.opt[1].nro_status, static_cast<uint32_t>(EOPNOTSUPP));
     }},
    {"OptionUnknownOnPipe", [](Req& r) { r.name("pv{1"); r.chain(1); }, EOPNOTSUPP,
     [](const Req& r) { EXPECT_EQ(r.opt[0].nro_status, static_cast<uint32_t>(EOPNOTSUPP)); }, "pv{1"},
    {"OptionLoopSelf",
     [](Req& r) {
         r.chain(1);
         r.opt[0].nro_next = reinterpret_cast<uint64_t>(&r.opt[0]);  // a -> a
     },
     EINVAL},
    {"OptionLoopTwo",
     [](Req& r) {
         r.chain(2);
         r.opt[1].nro_next = reinterpret_cast<uint64_t>(&r.opt[0]);  // a -> b -> a
     },
     EINVAL},
    {"OptionLoopBackToSecond",
     [](Req& r) {
         r.chain(3);
         r.opt[2].nro_next = reinterpret_cast<uint64_t>(&r.opt[1]);  // a -> b -> c -> b
     },
     EINVAL},
    {"OptionDuplicateType",
     [](Req& r) {
         r.chain(2);
         r.opt[1].nro_reqtype = r.opt[0].nro_reqtype;
     },
     EINVAL, [](const Req& r) { EXPECT_EQ(r.opt[1].nro_status, static_cast<uint32_t>(EINVAL)); }},
    {"OptionDuplicateKnownType",
     [](Req& r) {
         r.chain(2, NETMAP_REQ_OPT_OFFSETS);
         r.opt[1].nro_reqtype = NETMAP_REQ_OPT_OFFSETS;
     },
     EINVAL},
    {"OptionBadPointer", [](Req& r) { r.hdr.nr_options = bad_address(); }, EFAULT},
    {"OptionBadNextPointer",
     [](Req& r) {
         r.chain(2);
         r.opt[1].nro_next = bad_address();
     },
     EFAULT},
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadRequest : public ::testing::TestWithParam<BadCase> {
protected:
    void TearDown() override { EXPECT_TRUE(StateDirEmpty()); }
};

TEST_P(BadRequest, FailsWithUpstreamErrnoAndLeavesNoTrace) {
    const BadCase& c = GetParam();
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    Req r;
    c.setup(r);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &r.hdr), c.expect) << strerror(c.expect) << " expected";
    if (c.check) c.check(r);
    EXPECT_TRUE(StateDirEmpty()) << "a failed request left state behind";
    // The descriptor is not half-registered: mmap and sync refuse it...
    EXPECT_EQ(::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0), MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(xioctl(fd, NIOCTXSYNC, nullptr), ENXIO);
    // ...and a valid registration of the same name on the same fd works.
    Req ok;
    ok.name(c.retry);
    ASSERT_EQ(xioctl(fd, NIOCCTRL, &ok.hdr), 0) << "retry with " << c.retry;
    EXPECT_GT(ok.reg.nr_memsize, 0u);
    EXPECT_EQ(nmtest::count_entries("b"), 1);
    EXPECT_EQ(nmtest::count_entries("mem."), 1);
    EXPECT_EQ(xioctl(fd, NIOCTXSYNC, nullptr), 0);
    ::close(fd);
}

INSTANTIATE_TEST_SUITE_P(Table, BadRequest, ::testing::ValuesIn(kBadCases),
                         [](const auto& info) { return std::string(info.param.name); });

// The same malformed requests against a port that already exists: the
// failure must not drop the existing port's reference or disturb its user.
TEST_P(BadRequest, FailsOnAnExistingPortWithoutDisturbingIt) {
    const BadCase& c = GetParam();
    Port keeper;
    ASSERT_EQ(keeper.open(c.retry), 0);
    const auto before = nmtest::state_entries();
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    Req r;
    c.setup(r);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &r.hdr), c.expect);
    EXPECT_EQ(nmtest::state_entries(), before);
    ::close(fd);
    EXPECT_EQ(keeper.txsync(), 0);
    Port second;
    ASSERT_EQ(second.open(c.retry), 0) << "the port survived the failed request";
    EXPECT_EQ(second.reg.nr_memsize, keeper.reg.nr_memsize);
    second.close();
    keeper.close();
}

// ---------------------------------------------------------------------------
// Requests that are bad only in context, and other entry points
// ---------------------------------------------------------------------------

class Validation : public ::testing::Test {
protected:
    void TearDown() override { EXPECT_TRUE(StateDirEmpty()); }
};

TEST_F(Validation, BadHeaderPointerIsEFAULT) {
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, reinterpret_cast<void*>(bad_address())), EFAULT);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, nullptr), EFAULT);
    EXPECT_EQ(xioctl(fd, NIOCREGIF, nullptr), EFAULT);
    EXPECT_EQ(xioctl(fd, NIOCGINFO, reinterpret_cast<void*>(bad_address())), EFAULT);
    ::close(fd);
}

TEST_F(Validation, UnknownIoctlIsENOTTY) {
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    int arg = 0;
    EXPECT_EQ(xioctl(fd, _IO('i', 199), nullptr), ENOTTY);
    EXPECT_EQ(xioctl(fd, _IOWR('i', 151, int), &arg), ENOTTY) << "NIOCCTRL's number with another size";
    EXPECT_EQ(xioctl(fd, _IOWR('z', 1, int), &arg), ENOTTY);
    ::close(fd);
}

TEST_F(Validation, SyncPollAndMmapOnUnregisteredDescriptor) {
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(xioctl(fd, NIOCTXSYNC, nullptr), ENXIO);
    EXPECT_EQ(xioctl(fd, NIOCRXSYNC, nullptr), ENXIO);
    pollfd p{fd, POLLIN | POLLOUT, 0};
    EXPECT_EQ(::poll(&p, 1, 100), 1);
    EXPECT_TRUE(p.revents & POLLERR) << "netmap_poll: POLLERR when not registered";
    errno = 0;
    EXPECT_EQ(::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
    ::close(fd);
}

TEST_F(Validation, MmapBeyondMemsizeIsEINVAL) {
    Port p;
    ASSERT_EQ(p.open("null:v"), 0);
    const size_t ms = p.reg.nr_memsize;
    errno = 0;
    EXPECT_EQ(::mmap(nullptr, ms + 4096, PROT_READ, MAP_SHARED, p.fd, 0), MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
    errno = 0;
    EXPECT_EQ(::mmap(nullptr, 8192, PROT_READ, MAP_SHARED, p.fd, ms - 4096), MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
    errno = 0;
    EXPECT_EQ(::mmap(nullptr, 0, PROT_READ, MAP_SHARED, p.fd, 0), MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
    // Exactly memsize, and a page-aligned window inside it, are fine.
    void* m = ::mmap(nullptr, ms, PROT_READ, MAP_SHARED, p.fd, 0);
    ASSERT_NE(m, MAP_FAILED);
    ::munmap(m, ms);
    m = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, p.fd, ms - 4096);
    ASSERT_NE(m, MAP_FAILED);
    ::munmap(m, 4096);
}

TEST_F(Validation, Version15IsAccepted) {
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    Req r;
    r.hdr.nr_version = NETMAP_MAX_API;
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &r.hdr), 0);
    ::close(fd);
}

TEST_F(Validation, RegisterTwiceOnTheSameFdIsEBUSY) {
    Port p;
    ASSERT_EQ(p.open("null:v"), 0);
    for (const char* other : {"null:v", "null:w", "pv{2"}) {
        Req r;
        r.name(other);
        EXPECT_EQ(xioctl(p.fd, NIOCCTRL, &r.hdr), EBUSY) << other;
    }
    nmreq q{};
    std::snprintf(q.nr_name, sizeof q.nr_name, "null:w");
    q.nr_version = NETMAP_API;
    EXPECT_EQ(xioctl(p.fd, NIOCREGIF, &q), EBUSY) << "legacy register, too";
    EXPECT_EQ(nmtest::count_entries("b"), 1);
    EXPECT_EQ(nmtest::count_entries("mem."), 1);
    // The first registration is intact.
    EXPECT_STREQ(p.nifp->ni_name, "null:v");
    EXPECT_EQ(p.txsync(), 0);
}

struct ExclusiveCase {
    const char* name;
    uint32_t mode1, ring1;
    uint64_t flags1;
    uint32_t mode2, ring2;
    uint64_t flags2;
    int expect;
};

void PrintTo(const ExclusiveCase& c, std::ostream* os) { *os << c.name; }

class Exclusive : public ::testing::TestWithParam<ExclusiveCase> {
protected:
    void TearDown() override { EXPECT_TRUE(StateDirEmpty()); }
};

TEST_P(Exclusive, ConflictsAreEBUSYInEitherOrder) {
    const ExclusiveCase& c = GetParam();
    auto shape = [](uint32_t mode, uint32_t ring, uint64_t flags) {
        return [=](nmreq_register& r) {
            r.nr_tx_rings = r.nr_rx_rings = 2;
            r.nr_mode = mode;
            r.nr_ringid = static_cast<uint16_t>(ring);
            r.nr_flags = flags;
        };
    };
    Port a, b;
    ASSERT_EQ(a.open("null:x", shape(c.mode1, c.ring1, c.flags1)), 0);
    EXPECT_EQ(b.open("null:x", shape(c.mode2, c.ring2, c.flags2)), c.expect);
    EXPECT_EQ(nmtest::count_entries("b"), c.expect ? 1 : 2);
    b.close();
    // Once the first is gone, the second request succeeds.
    a.close();
    EXPECT_TRUE(StateDirEmpty());
    EXPECT_EQ(b.open("null:x", shape(c.mode2, c.ring2, c.flags2)), 0);
}

const ExclusiveCase kExclusiveCases[] = {
    {"ExclusiveThenShared", NR_REG_ALL_NIC, 0, NR_EXCLUSIVE, NR_REG_ALL_NIC, 0, 0, EBUSY},
    {"SharedThenExclusive", NR_REG_ALL_NIC, 0, 0, NR_REG_ALL_NIC, 0, NR_EXCLUSIVE, EBUSY},
    {"ExclusiveThenExclusive", NR_REG_ALL_NIC, 0, NR_EXCLUSIVE, NR_REG_ALL_NIC, 0, NR_EXCLUSIVE, EBUSY},
    {"ExclusiveAllThenOneRing", NR_REG_ALL_NIC, 0, NR_EXCLUSIVE, NR_REG_ONE_NIC, 1, 0, EBUSY},
    {"OneRingThenExclusiveAll", NR_REG_ONE_NIC, 1, 0, NR_REG_ALL_NIC, 0, NR_EXCLUSIVE, EBUSY},
    {"ExclusiveTxOnlyThenShared", NR_REG_ALL_NIC, 0, NR_EXCLUSIVE | NR_TX_RINGS_ONLY, NR_REG_ALL_NIC, 0, 0,
     EBUSY},
    {"DisjointRingsExclusive", NR_REG_ONE_NIC, 0, NR_EXCLUSIVE, NR_REG_ONE_NIC, 1, NR_EXCLUSIVE, 0},
    {"DisjointDirectionsExclusive", NR_REG_ALL_NIC, 0, NR_EXCLUSIVE | NR_TX_RINGS_ONLY, NR_REG_ALL_NIC, 0,
     NR_EXCLUSIVE | NR_RX_RINGS_ONLY, 0},
    {"SharedThenShared", NR_REG_ALL_NIC, 0, 0, NR_REG_ALL_NIC, 0, 0, 0},
};

INSTANTIATE_TEST_SUITE_P(Table, Exclusive, ::testing::ValuesIn(kExclusiveCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(Validation, ExclusiveReleasedWhenTheHolderCloses) {
    Port a, b;
    ASSERT_EQ(a.open("null:x", [](nmreq_register& r) { r.nr_flags = NR_EXCLUSIVE; }), 0);
    EXPECT_EQ(b.open("null:x"), EBUSY);
    a.close();
    ASSERT_EQ(b.open("null:x"), 0);
    Port c;
    EXPECT_EQ(c.open("null:x"), 0) << "the exclusive flag went away with its holder";
}

// ---------------------------------------------------------------------------
// Other request types
// ---------------------------------------------------------------------------

TEST_F(Validation, PortInfoAndPoolsInfoErrors) {
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    nmreq_port_info_get pi{};
    nmreq_header h = nmtest::make_header("nosuchif0", NETMAP_REQ_PORT_INFO_GET, &pi);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &h), ENXIO);
    h = nmtest::make_header("bad name", NETMAP_REQ_PORT_INFO_GET, &pi);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &h), EINVAL);
    h = nmtest::make_header("", NETMAP_REQ_PORT_INFO_GET, &pi);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &h), EINVAL);
    h = nmtest::make_header("null", NETMAP_REQ_PORT_INFO_GET, nullptr);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &h), EINVAL);
    nmreq_option o{};
    o.nro_reqtype = kUnknownOpt;
    h = nmtest::make_header("null", NETMAP_REQ_PORT_INFO_GET, &pi);
    h.nr_options = reinterpret_cast<uint64_t>(&o);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &h), EOPNOTSUPP);
    EXPECT_EQ(o.nro_status, static_cast<uint32_t>(EOPNOTSUPP));

    nmreq_pools_info pools{};
    h = nmtest::make_header(nullptr, NETMAP_REQ_POOLS_INFO_GET, &pools);
    std::memset(h.nr_name, 'a', sizeof h.nr_name);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &h), EINVAL);
    h = nmtest::make_header("nosuchif0", NETMAP_REQ_POOLS_INFO_GET, &pools);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &h), ENXIO);
    h = nmtest::make_header("a/b", NETMAP_REQ_POOLS_INFO_GET, &pools);
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &h), EINVAL);
    h = nmtest::make_header("null", NETMAP_REQ_POOLS_INFO_GET, reinterpret_cast<void*>(bad_address()));
    EXPECT_EQ(xioctl(fd, NIOCCTRL, &h), EFAULT);
    EXPECT_TRUE(StateDirEmpty());
    ::close(fd);
}

TEST_F(Validation, LegacyRequestsValidateToo) {
    int fd = ::open("/dev/netmap", O_RDWR);
    ASSERT_GE(fd, 0);
    auto legacy = [](const char* name, uint32_t version) {
        nmreq q{};
        std::snprintf(q.nr_name, sizeof q.nr_name, "%s", name);
        q.nr_version = version;
        return q;
    };
    nmreq q = legacy("null:v", 10);
    EXPECT_EQ(xioctl(fd, NIOCREGIF, &q), EINVAL);
    q = legacy("null:v", 16);
    EXPECT_EQ(xioctl(fd, NIOCGINFO, &q), EINVAL);
    q = legacy("", NETMAP_API);
    EXPECT_EQ(xioctl(fd, NIOCREGIF, &q), EINVAL);
    q = legacy("a b", NETMAP_API);
    EXPECT_EQ(xioctl(fd, NIOCREGIF, &q), EINVAL);
    q = legacy("nosuchif0", NETMAP_API);
    EXPECT_EQ(xioctl(fd, NIOCREGIF, &q), ENXIO);
    EXPECT_EQ(xioctl(fd, NIOCGINFO, &q), ENXIO);
    q = legacy("null:v", NETMAP_API);
    std::memset(q.nr_name, 'n', sizeof q.nr_name);  // IFNAMSIZ bytes, no NUL
    EXPECT_EQ(xioctl(fd, NIOCREGIF, &q), EINVAL);
    q = legacy("null:v", NETMAP_API);
    q.nr_flags = NR_REG_ONE_NIC;
    q.nr_ringid = 5;
    EXPECT_EQ(xioctl(fd, NIOCREGIF, &q), EINVAL);
    q = legacy("null:v", NETMAP_API);
    q.nr_tx_rings = 17;
    EXPECT_EQ(xioctl(fd, NIOCREGIF, &q), EINVAL);
    EXPECT_TRUE(StateDirEmpty());
    q = legacy("null:v", NETMAP_API);
    EXPECT_EQ(xioctl(fd, NIOCREGIF, &q), 0);
    ::close(fd);
}

}  // namespace
