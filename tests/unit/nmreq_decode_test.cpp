// Port-specification grammar of the userspace library (nmport_parse and the
// nmreq_*_decode helpers), option parsing, option lists, nmport_clone,
// nmport_inject on an in-memory ring, and the legacy nm_open name filter.
// Nothing here needs /dev/netmap.
#define NETMAP_WITH_LIBS  // for nm_open/nm_close (before netmap_user.h is first seen)
#include <libnetmap.h>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::vector<std::string> g_msgs;

void capture_error(nmctx*, const char* msg) { g_msgs.emplace_back(msg); }

/// Installs a default context whose errors are captured in g_msgs.
class Decode : public ::testing::Test {
protected:
    void SetUp() override {
        ctx_ = *nmctx_get();
        ctx_.verbose = 1;
        ctx_.error = capture_error;
        ctx_.lock = nullptr;
        ctx_.mem_descs = nullptr;
        old_ = nmctx_set_default(&ctx_);
        g_msgs.clear();
    }
    void TearDown() override { nmctx_set_default(old_); }

    nmctx ctx_{};
    nmctx* old_ = nullptr;
};

constexpr uint64_t kNoFlags = 0;

struct Good {
    const char* spec;
    const char* name;  // expected hdr.nr_name
    uint32_t mode;
    uint16_t ringid;
    uint64_t flags;
    uint16_t mem_id;
};

const Good kGood[] = {
    {"netmap:eth0", "eth0", NR_REG_ALL_NIC, 0, kNoFlags, 0},
    {"netmap:eth0-3", "eth0", NR_REG_ONE_NIC, 3, kNoFlags, 0},
    {"netmap:eth0-0", "eth0", NR_REG_ONE_NIC, 0, kNoFlags, 0},
    {"netmap:eth0-4094", "eth0", NR_REG_ONE_NIC, 4094, kNoFlags, 0},
    {"netmap:eth0^", "eth0", NR_REG_SW, 0, kNoFlags, 0},
    {"netmap:eth0^1", "eth0", NR_REG_ONE_SW, 1, kNoFlags, 0},
    {"netmap:eth0*", "eth0", NR_REG_NIC_SW, 0, kNoFlags, 0},
    {"netmap:em_1", "em_1", NR_REG_ALL_NIC, 0, kNoFlags, 0},
    // VALE: the whole "valeX:port" is the name netmap receives
    {"vale0:p", "vale0:p", NR_REG_ALL_NIC, 0, kNoFlags, 0},
    {"vale:p", "vale:p", NR_REG_ALL_NIC, 0, kNoFlags, 0},
    {"valeSw_1:port_2", "valeSw_1:port_2", NR_REG_ALL_NIC, 0, kNoFlags, 0},
    // pipes: the "{id" / "}id" suffix stays in the name; ids are identifiers
    {"vale0:p{3", "vale0:p{3", NR_REG_ALL_NIC, 0, kNoFlags, 0},
    {"vale1:x}7", "vale1:x}7", NR_REG_ALL_NIC, 0, kNoFlags, 0},
    {"netmap:pipe{abc", "pipe{abc", NR_REG_ALL_NIC, 0, kNoFlags, 0},
    {"netmap:pipe}abc", "pipe}abc", NR_REG_ALL_NIC, 0, kNoFlags, 0},
    {"netmap:pipe{abc/T", "pipe{abc", NR_REG_ALL_NIC, 0, NR_TX_RINGS_ONLY, 0},
    {"netmap:eth0{1-2", "eth0{1", NR_REG_ONE_NIC, 2, kNoFlags, 0},
    // unetmap's null ports keep their prefix
    {"null:n0", "null:n0", NR_REG_ALL_NIC, 0, kNoFlags, 0},
    // flags
    {"netmap:eth0/rt", "eth0", NR_REG_ALL_NIC, 0, NR_MONITOR_RX | NR_MONITOR_TX, 0},
    {"netmap:eth0/r", "eth0", NR_REG_ALL_NIC, 0, NR_MONITOR_RX, 0},
    {"netmap:eth0/t", "eth0", NR_REG_ALL_NIC, 0, NR_MONITOR_TX, 0},
    {"netmap:eth0/z", "eth0", NR_REG_ALL_NIC, 0, NR_ZCOPY_MON, 0},
    {"netmap:eth0/x", "eth0", NR_REG_ALL_NIC, 0, NR_EXCLUSIVE, 0},
    {"netmap:eth0/R", "eth0", NR_REG_ALL_NIC, 0, NR_RX_RINGS_ONLY, 0},
    {"netmap:eth0/T", "eth0", NR_REG_ALL_NIC, 0, NR_TX_RINGS_ONLY, 0},
    {"netmap:eth0/xx", "eth0", NR_REG_ALL_NIC, 0, NR_EXCLUSIVE, 0},
    {"netmap:eth0-2/xT", "eth0", NR_REG_ONE_NIC, 2, NR_EXCLUSIVE | NR_TX_RINGS_ONLY, 0},
    {"netmap:eth0^/R", "eth0", NR_REG_SW, 0, NR_RX_RINGS_ONLY, 0},
    {"netmap:eth0^3/x", "eth0", NR_REG_ONE_SW, 3, NR_EXCLUSIVE, 0},
    {"netmap:eth0*/z", "eth0", NR_REG_NIC_SW, 0, NR_ZCOPY_MON, 0},
    // memory region ids
    {"netmap:eth0@2", "eth0", NR_REG_ALL_NIC, 0, kNoFlags, 2},
    {"vale0:p@65535", "vale0:p", NR_REG_ALL_NIC, 0, kNoFlags, 65535},
    {"netmap:eth0-1@3", "eth0", NR_REG_ONE_NIC, 1, kNoFlags, 3},
    {"netmap:eth0/R@3", "eth0", NR_REG_ALL_NIC, 0, NR_RX_RINGS_ONLY, 3},
    {"netmap:eth0*@2/x", "eth0", NR_REG_NIC_SW, 0, NR_EXCLUSIVE, 2},
    {"netmap:eth0@2@2", "eth0", NR_REG_ALL_NIC, 0, kNoFlags, 2},
    {"netmap:eth0^@7", "eth0", NR_REG_SW, 0, kNoFlags, 7},
};

class GoodNames : public Decode, public ::testing::WithParamInterface<Good> {};

TEST_P(GoodNames, FillsHeaderAndRegister) {
    const Good& g = GetParam();
    nmport_d* d = nmport_prepare(g.spec);
    ASSERT_NE(d, nullptr) << g.spec << ": " << (g_msgs.empty() ? "" : g_msgs.back());
    EXPECT_TRUE(g_msgs.empty());
    EXPECT_EQ(d->hdr.nr_version, NETMAP_API);
    EXPECT_EQ(d->hdr.nr_reqtype, NETMAP_REQ_REGISTER);
    EXPECT_EQ(d->hdr.nr_reserved, 0u);
    EXPECT_EQ(d->hdr.nr_body, reinterpret_cast<uintptr_t>(&d->reg));
    EXPECT_EQ(d->hdr.nr_options, 0u);
    EXPECT_STREQ(d->hdr.nr_name, g.name);
    EXPECT_EQ(d->reg.nr_mode, g.mode);
    EXPECT_EQ(d->reg.nr_ringid, g.ringid);
    EXPECT_EQ(d->reg.nr_flags, g.flags);
    EXPECT_EQ(d->reg.nr_mem_id, g.mem_id);
    // nothing else of the request is touched by the name
    EXPECT_EQ(d->reg.nr_tx_rings, 0);
    EXPECT_EQ(d->reg.nr_rx_rings, 0);
    EXPECT_EQ(d->reg.nr_tx_slots, 0u);
    EXPECT_EQ(d->reg.nr_rx_slots, 0u);
    EXPECT_EQ(d->reg.nr_host_tx_rings, 0);
    EXPECT_EQ(d->reg.nr_host_rx_rings, 0);
    EXPECT_EQ(d->reg.nr_extra_bufs, 0u);
    // prepared, not opened
    EXPECT_EQ(d->fd, -1);
    EXPECT_EQ(d->register_done, 0);
    EXPECT_EQ(d->mmap_done, 0);
    EXPECT_EQ(d->nifp, nullptr);
    EXPECT_EQ(d->mem, nullptr);
    EXPECT_EQ(d->extmem, nullptr);
    EXPECT_EQ(d->ctx, &ctx_);
    nmport_undo_prepare(d);
}

INSTANTIATE_TEST_SUITE_P(Grammar, GoodNames, ::testing::ValuesIn(kGood));

struct Bad {
    const char* spec;
    int err;
};

const std::string kName63 = "netmap:" + std::string(63, 'a');
const std::string kName64 = "netmap:" + std::string(64, 'a');
const std::string kVale64 = "vale0:" + std::string(58, 'p');  // 64 characters
const std::string kVale63 = "vale0:" + std::string(57, 'p');  // 63 characters

const Bad kBad[] = {
    // prefix and name
    {"", EINVAL},
    {"eth0", EINVAL},
    {"pipe{abc", EINVAL},  // a pipe needs its subsystem too
    {"netmap", EINVAL},
    {"netmap:", EINVAL},
    {"netmap:-1", EINVAL},
    {"netmap0:eth0", EINVAL},  // no identifier after "netmap"
    {"vale", EINVAL},
    {"vale0", EINVAL},
    {"vale0:", EINVAL},
    {"vale-0:p", EINVAL},
    {"vale0.1:p", EINVAL},
    {"netmap:eth0.5", EINVAL},  // not an identifier
    {"netmap:eth 0", EINVAL},
    {"nullx:p", EINVAL},
    {kName64.c_str(), EINVAL},  // 64 characters do not fit nr_name
    {kVale64.c_str(), EINVAL},
    // pipes
    {"netmap:p{", EINVAL},
    {"netmap:p}", EINVAL},
    {"netmap:p{/x", EINVAL},
    {"netmap:{a", EINVAL},
    {"netmap:p{a.b", EINVAL},
    {"netmap:p{a{b", EINVAL},
    {"netmap:p{a}b", EINVAL},
    // mode
    {"netmap:eth0-", EINVAL},  // '-' needs a number
    {"netmap:eth0-/x", EINVAL},
    {"netmap:eth0-a", EINVAL},
    {"netmap:eth0-4095", EINVAL},  // NETMAP_RING_MASK is out of range
    {"netmap:eth0-99999999999999999999999", EINVAL},
    {"netmap:eth0^4095", EINVAL},
    {"netmap:eth0^x", EINVAL},
    {"netmap:eth0*3", EINVAL},
    {"netmap:eth0**", EINVAL},
    {"netmap:eth0-1-2", EINVAL},
    {"netmap:eth0-1^", EINVAL},
    {"netmap:eth0/", EINVAL},
    {"netmap:eth0/q", EINVAL},  // unknown flag
    {"netmap:eth0/R/T", EINVAL},
    {"netmap:eth0/RT", EINVAL},  // rx-only and tx-only together
    {"netmap:eth0/xTzR", EINVAL},
    {"netmap:eth0@", EINVAL},
    {"netmap:eth0@0", EINVAL},
    {"netmap:eth0@65536", EINVAL},
    {"netmap:eth0@2@3", EINVAL},
    {"netmap:eth0@2x", EINVAL},
    // options
    {"netmap:eth0@nope", EINVAL},
    {"netmap:eth0@conf", EINVAL},
    {"netmap:eth0@conf:bogus=1", EINVAL},
    {"netmap:eth0@conf:rings", EINVAL},
    {"netmap:eth0@conf:rings=", EINVAL},
    {"netmap:eth0@conf:rings=x", EINVAL},
    {"netmap:eth0@conf:rings=-1", EINVAL},
    {"netmap:eth0@conf:rings=65536", EINVAL},
    {"netmap:eth0@conf:slots=4294967296", EINVAL},
    {"netmap:eth0@conf:rings=1,rings=2", EINVAL},
    {"netmap:eth0@conf:rings=1,", EINVAL},
    {"netmap:eth0@conf:,rings=1", EINVAL},
    {"netmap:eth0@conf=", EINVAL},
    {"netmap:eth0@conf:rings=1@", EINVAL},
    {"netmap:eth0@conf:rings=1@@conf:slots=2", EINVAL},
    {"netmap:eth0@share", EINVAL},
    {"netmap:eth0@extmem", EINVAL},
    {"netmap:eth0@extmem:if-num=3", EINVAL},  // "file" is mandatory
    {"netmap:eth0@extmem:file=/nonexistent/unetmap-extmem", ENOENT},
    {"netmap:eth0@extmem:file=/dev/null,if-num=x", EINVAL},
    {"netmap:eth0@offset=0", EOPNOTSUPP},  // disabled unless enabled
};

class BadNames : public Decode, public ::testing::WithParamInterface<Bad> {};

TEST_P(BadNames, FailWithErrnoAndMessage) {
    const Bad& b = GetParam();
    errno = 0;
    nmport_d* d = nmport_prepare(b.spec);
    int e = errno;
    EXPECT_EQ(d, nullptr) << b.spec << " parsed as " << (d ? d->hdr.nr_name : "");
    if (d != nullptr)
        nmport_undo_prepare(d);
    EXPECT_EQ(e, b.err) << b.spec << ": " << std::strerror(e);
    EXPECT_FALSE(g_msgs.empty()) << b.spec << ": no error message";
}

INSTANTIATE_TEST_SUITE_P(Grammar, BadNames, ::testing::ValuesIn(kBad));

TEST_F(Decode, LongestNamesFit) {
    for (const std::string* s : {&kName63, &kVale63}) {
        nmport_d* d = nmport_prepare(s->c_str());
        ASSERT_NE(d, nullptr) << *s;
        EXPECT_EQ(std::strlen(d->hdr.nr_name), size_t{NETMAP_REQ_IFNAMSIZ - 1});
        nmport_undo_prepare(d);
    }
}

TEST_F(Decode, SilentWhenNotVerbose) {
    ctx_.verbose = 0;
    errno = 0;
    EXPECT_EQ(nmport_prepare("netmap:eth0/q"), nullptr);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_TRUE(g_msgs.empty());
}

TEST_F(Decode, ErrorMessagesSayWhatIsWrong) {
    EXPECT_EQ(nmport_prepare("netmap:eth0/q"), nullptr);
    ASSERT_FALSE(g_msgs.empty());
    EXPECT_NE(g_msgs.back().find("'q'"), std::string::npos) << g_msgs.back();
    EXPECT_EQ(nmport_prepare("netmap:eth0@conf:bogus=1"), nullptr);
    EXPECT_NE(g_msgs.back().find("bogus"), std::string::npos) << g_msgs.back();
    EXPECT_EQ(nmport_prepare("netmap:eth0-4095"), nullptr);
    EXPECT_NE(g_msgs.back().find("4095"), std::string::npos) << g_msgs.back();
}

// --- the decode helpers one by one -----------------------------------------

TEST_F(Decode, HeaderDecodeAdvancesPastTheName) {
    nmreq_header h;
    nmreq_header_init(&h, NETMAP_REQ_REGISTER, nullptr);
    const char* spec = "netmap:eth0-3/x@conf:rings=1";
    const char* p = spec;
    ASSERT_EQ(nmreq_header_decode(&p, &h, &ctx_), 0);
    EXPECT_STREQ(h.nr_name, "eth0");
    EXPECT_STREQ(p, "-3/x@conf:rings=1");
    EXPECT_EQ(h.nr_version, NETMAP_API);  // other fields untouched
    EXPECT_EQ(h.nr_reqtype, NETMAP_REQ_REGISTER);

    p = "vale0:a{b@2";
    ASSERT_EQ(nmreq_header_decode(&p, &h, &ctx_), 0);
    EXPECT_STREQ(h.nr_name, "vale0:a{b");
    EXPECT_STREQ(p, "@2");
}

TEST_F(Decode, HeaderDecodeLeavesEverythingAloneOnError) {
    nmreq_header h;
    std::memset(&h, 0x5a, sizeof h);
    nmreq_header before = h;
    const char* spec = "netmap:bad.name";
    const char* p = spec;
    errno = 0;
    EXPECT_EQ(nmreq_header_decode(&p, &h, &ctx_), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(p, spec);
    EXPECT_EQ(std::memcmp(&h, &before, sizeof h), 0);
}

TEST_F(Decode, RegisterDecodeStopsAtOptions) {
    nmreq_register r;
    std::memset(&r, 0, sizeof r);
    const char* p = "-1/x@conf:rings=1";
    ASSERT_EQ(nmreq_register_decode(&p, &r, &ctx_), 0);
    EXPECT_STREQ(p, "@conf:rings=1");
    EXPECT_EQ(r.nr_mode, static_cast<uint32_t>(NR_REG_ONE_NIC));
    EXPECT_EQ(r.nr_ringid, 1);
    EXPECT_EQ(r.nr_flags, static_cast<uint64_t>(NR_EXCLUSIVE));

    p = "@4@conf:rings=1";
    ASSERT_EQ(nmreq_register_decode(&p, &r, &ctx_), 0);
    EXPECT_STREQ(p, "@conf:rings=1");
    EXPECT_EQ(r.nr_mode, static_cast<uint32_t>(NR_REG_ALL_NIC));
    EXPECT_EQ(r.nr_mem_id, 4);

    p = "";
    ASSERT_EQ(nmreq_register_decode(&p, &r, &ctx_), 0);
    EXPECT_EQ(r.nr_mode, static_cast<uint32_t>(NR_REG_ALL_NIC));
    EXPECT_EQ(r.nr_ringid, 0);
    EXPECT_EQ(r.nr_flags, 0u);
}

TEST_F(Decode, RegisterDecodeKeepsAPresetMemId) {
    nmreq_register r;
    std::memset(&r, 0, sizeof r);
    r.nr_mem_id = 5;
    const char* p = "@5";
    EXPECT_EQ(nmreq_register_decode(&p, &r, &ctx_), 0);
    EXPECT_EQ(r.nr_mem_id, 5);
    p = "";
    EXPECT_EQ(nmreq_register_decode(&p, &r, &ctx_), 0);
    EXPECT_EQ(r.nr_mem_id, 5);
    const char* spec = "-2@6";
    p = spec;
    nmreq_register before = r;
    errno = 0;
    EXPECT_EQ(nmreq_register_decode(&p, &r, &ctx_), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(p, spec);
    EXPECT_EQ(std::memcmp(&r, &before, sizeof r), 0);  // unchanged on error
}

// --- options ---------------------------------------------------------------

struct Conf {
    const char* spec;
    uint16_t tx_rings, rx_rings, host_tx_rings, host_rx_rings;
    uint32_t tx_slots, rx_slots;
};

const Conf kConf[] = {
    {"netmap:eth0@conf:rings=4,slots=1024", 4, 4, 0, 0, 1024, 1024},
    {"netmap:eth0@conf:host-rings=2", 0, 0, 2, 2, 0, 0},
    {"netmap:eth0@conf:host_rings=2", 0, 0, 2, 2, 0, 0},
    {"netmap:eth0@conf=8", 8, 8, 0, 0, 0, 0},
    {"netmap:eth0@conf:rings=4,tx-rings=2", 2, 4, 0, 0, 0, 0},
    {"netmap:eth0@conf:tx-rings=2,rings=4", 2, 4, 0, 0, 0, 0},
    {"netmap:eth0@conf:host-rings=3,host-rx-rings=1", 0, 0, 3, 1, 0, 0},
    {"netmap:eth0@conf:slots=256,rx-slots=512", 0, 0, 0, 0, 256, 512},
    {"netmap:eth0@conf:tx-slots=64,rx-rings=5", 0, 5, 0, 0, 64, 0},
    {"netmap:eth0@conf:rings=2@conf:slots=64", 2, 2, 0, 0, 64, 64},
    {"vale0:p-1/T@conf:rings=65535,slots=4294967295", 65535, 65535, 0, 0, 4294967295u,
     4294967295u},
    {"netmap:eth0@conf:", 0, 0, 0, 0, 0, 0},
};

class ConfOption : public Decode, public ::testing::WithParamInterface<Conf> {};

TEST_P(ConfOption, SetsRingsAndSlots) {
    const Conf& c = GetParam();
    nmport_d* d = nmport_prepare(c.spec);
    ASSERT_NE(d, nullptr) << c.spec << ": " << (g_msgs.empty() ? "" : g_msgs.back());
    EXPECT_EQ(d->reg.nr_tx_rings, c.tx_rings);
    EXPECT_EQ(d->reg.nr_rx_rings, c.rx_rings);
    EXPECT_EQ(d->reg.nr_host_tx_rings, c.host_tx_rings);
    EXPECT_EQ(d->reg.nr_host_rx_rings, c.host_rx_rings);
    EXPECT_EQ(d->reg.nr_tx_slots, c.tx_slots);
    EXPECT_EQ(d->reg.nr_rx_slots, c.rx_slots);
    EXPECT_EQ(d->hdr.nr_options, 0u);  // conf is not a netmap option
    nmport_undo_prepare(d);
}

INSTANTIATE_TEST_SUITE_P(Options, ConfOption, ::testing::ValuesIn(kConf));

TEST_F(Decode, ConfKeepsTheMode) {
    nmport_d* d = nmport_prepare("netmap:eth0-1/T@2@conf:rings=3");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->reg.nr_mode, static_cast<uint32_t>(NR_REG_ONE_NIC));
    EXPECT_EQ(d->reg.nr_ringid, 1);
    EXPECT_EQ(d->reg.nr_flags, static_cast<uint64_t>(NR_TX_RINGS_ONLY));
    EXPECT_EQ(d->reg.nr_mem_id, 2);
    EXPECT_EQ(d->reg.nr_tx_rings, 3);
    nmport_undo_prepare(d);
}

/// A temporary file of `size` bytes, removed at the end of the test.
class TempFile {
public:
    explicit TempFile(size_t size) {
        char tmpl[] = "/tmp/unetmap-extmem-XXXXXX";
        int fd = mkstemp(tmpl);
        if (fd >= 0) {
            path_ = tmpl;
            ok_ = ftruncate(fd, static_cast<off_t>(size)) == 0;
            close(fd);
        }
    }
    ~TempFile() {
        if (!path_.empty())
            unlink(path_.c_str());
    }
    bool ok() const { return ok_; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    bool ok_ = false;
};

TEST_F(Decode, ExtmemMapsTheFileAndAddsTheOption) {
    constexpr size_t kSize = 1 << 20;
    TempFile f(kSize);
    ASSERT_TRUE(f.ok());
    std::string spec = "netmap:eth0@extmem:file=" + f.path() +
                       ",if-num=4,if-size=1024,ring-num=8,ring-size=36864,buf-num=1000,"
                       "buf-size=2048";
    nmport_d* d = nmport_prepare(spec.c_str());
    ASSERT_NE(d, nullptr) << (g_msgs.empty() ? "" : g_msgs.back());
    ASSERT_NE(d->extmem, nullptr);
    nmreq_option* o = nmreq_find_option(&d->hdr, NETMAP_REQ_OPT_EXTMEM);
    EXPECT_EQ(o, &d->extmem->nro_opt);
    EXPECT_EQ(d->extmem->nro_opt.nro_reqtype, static_cast<uint32_t>(NETMAP_REQ_OPT_EXTMEM));
    EXPECT_EQ(d->extmem->nro_opt.nro_next, 0u);
    EXPECT_EQ(nmport_extmem_getinfo(d), &d->extmem->nro_info);
    const nmreq_pools_info& pi = d->extmem->nro_info;
    EXPECT_EQ(pi.nr_memsize, kSize);
    EXPECT_EQ(pi.nr_if_pool_objtotal, 4u);
    EXPECT_EQ(pi.nr_if_pool_objsize, 1024u);
    EXPECT_EQ(pi.nr_ring_pool_objtotal, 8u);
    EXPECT_EQ(pi.nr_ring_pool_objsize, 36864u);
    EXPECT_EQ(pi.nr_buf_pool_objtotal, 1000u);
    EXPECT_EQ(pi.nr_buf_pool_objsize, 2048u);
    auto* base = reinterpret_cast<unsigned char*>(static_cast<uintptr_t>(d->extmem->nro_usrptr));
    ASSERT_NE(base, nullptr);
    base[0] = 1;  // a shared, writable mapping of the whole file
    base[kSize - 1] = 2;
    // the option list is cleaned up with the descriptor
    nmport_undo_parse(d);
    EXPECT_EQ(d->extmem, nullptr);
    EXPECT_EQ(d->hdr.nr_options, 0u);
    EXPECT_EQ(d->hdr.nr_version, NETMAP_API);
    nmport_delete(d);
}

TEST_F(Decode, ExtmemDefaultKeyAndCloneRule) {
    TempFile f(4096);
    ASSERT_TRUE(f.ok());
    std::string spec = "vale0:x@extmem=" + f.path() + "@conf:slots=32";
    nmport_d* d = nmport_prepare(spec.c_str());
    ASSERT_NE(d, nullptr) << (g_msgs.empty() ? "" : g_msgs.back());
    ASSERT_NE(d->extmem, nullptr);
    EXPECT_EQ(d->extmem->nro_info.nr_memsize, 4096u);
    EXPECT_EQ(d->reg.nr_tx_slots, 32u);
    // extmem ports can only be cloned once registered
    errno = 0;
    EXPECT_EQ(nmport_clone(d), nullptr);
    EXPECT_EQ(errno, EINVAL);
    // a second extmem is refused
    EXPECT_EQ(nmport_extmem(d, reinterpret_cast<void*>(0x1000), 4096), -1);
    EXPECT_EQ(errno, EINVAL);
    nmport_undo_prepare(d);
}

TEST_F(Decode, ExtmemTwiceInTheSpecIsRefused) {
    TempFile f(4096);
    ASSERT_TRUE(f.ok());
    std::string spec = "netmap:eth0@extmem=" + f.path() + "@extmem=" + f.path();
    errno = 0;
    EXPECT_EQ(nmport_prepare(spec.c_str()), nullptr);
    EXPECT_EQ(errno, EINVAL);
}

TEST_F(Decode, OffsetOptionWhenEnabled) {
    EXPECT_EQ(nmport_enable_option("no-such-option"), -1);
    EXPECT_EQ(errno, EOPNOTSUPP);
    ASSERT_EQ(nmport_enable_option("offset"), 0);
    nmport_d* d = nmport_prepare("netmap:eth0@offset:initial=64,bits=16");
    nmport_disable_option("offset");
    ASSERT_NE(d, nullptr) << (g_msgs.empty() ? "" : g_msgs.back());
    auto* o = reinterpret_cast<nmreq_opt_offsets*>(
        nmreq_find_option(&d->hdr, NETMAP_REQ_OPT_OFFSETS));
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->nro_initial_offset, 64u);
    EXPECT_EQ(o->nro_max_offset, 64u);
    EXPECT_EQ(o->nro_offset_bits, 16u);
    EXPECT_EQ(o->nro_min_gap, 0u);
    nmport_undo_prepare(d);
    errno = 0;
    EXPECT_EQ(nmport_prepare("netmap:eth0@offset=64"), nullptr);
    EXPECT_EQ(errno, EOPNOTSUPP);
}

TEST_F(Decode, DisabledOptionIsRejected) {
    nmport_disable_option("conf");
    errno = 0;
    nmport_d* d = nmport_prepare("netmap:eth0@conf:rings=1");
    int e = errno;
    ASSERT_EQ(nmport_enable_option("conf"), 0);
    EXPECT_EQ(d, nullptr);
    EXPECT_EQ(e, EOPNOTSUPP);
    nmport_disable_option("no-such-option");  // a no-op
}

TEST_F(Decode, ParseFailureLeavesAFreshDescriptor) {
    nmport_d* d = nmport_new();
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(nmport_parse(d, "netmap:eth0-2@conf:rings=3,bogus=1"), -1);
    EXPECT_EQ(d->hdr.nr_version, NETMAP_API);
    EXPECT_EQ(d->hdr.nr_reqtype, NETMAP_REQ_REGISTER);
    EXPECT_EQ(d->hdr.nr_body, reinterpret_cast<uintptr_t>(&d->reg));
    EXPECT_EQ(d->hdr.nr_name[0], '\0');
    EXPECT_EQ(d->reg.nr_mode, 0u);
    EXPECT_EQ(d->reg.nr_tx_rings, 0);
    // and it can be parsed again
    ASSERT_EQ(nmport_parse(d, "vale0:q^"), 0);
    EXPECT_STREQ(d->hdr.nr_name, "vale0:q");
    EXPECT_EQ(d->reg.nr_mode, static_cast<uint32_t>(NR_REG_SW));
    nmport_undo_prepare(d);
}

TEST_F(Decode, CloneCopiesTheRequestButNotTheOptions) {
    nmport_d* d = nmport_prepare("vale0:p{3-1/x@5@conf:rings=2");
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(nmport_offset(d, 0, 128, 8, 0), 0);
    ASSERT_NE(d->hdr.nr_options, 0u);
    nmport_d* c = nmport_clone(d);
    ASSERT_NE(c, nullptr);
    EXPECT_STREQ(c->hdr.nr_name, "vale0:p{3");
    EXPECT_EQ(c->hdr.nr_version, NETMAP_API);
    EXPECT_EQ(c->hdr.nr_reqtype, NETMAP_REQ_REGISTER);
    EXPECT_EQ(c->hdr.nr_body, reinterpret_cast<uintptr_t>(&c->reg));
    EXPECT_EQ(c->hdr.nr_options, 0u);
    EXPECT_EQ(std::memcmp(&c->reg, &d->reg, sizeof c->reg), 0);
    EXPECT_EQ(c->reg.nr_mem_id, 5);
    EXPECT_EQ(c->fd, -1);
    EXPECT_EQ(c->ctx, d->ctx);
    EXPECT_EQ(c->clist, nullptr);
    nmport_undo_prepare(c);
    nmport_undo_prepare(d);
}

TEST_F(Decode, NothingIsOpenedWhenUndone) {
    nmport_d* d = nmport_prepare("netmap:eth0");
    ASSERT_NE(d, nullptr);
    // undo functions are safe on a descriptor that was never opened
    nmport_undo_mmap(d);
    nmport_undo_register(d);
    nmport_undo_open_desc(d);
    EXPECT_EQ(d->fd, -1);
    errno = 0;
    EXPECT_EQ(nmport_mmap(d), -1);  // not registered
    EXPECT_EQ(errno, EINVAL);
    nmport_close(d);
    nmport_close(nullptr);
}

// --- option lists ----------------------------------------------------------

TEST(OptionList, PushFindRemoveFree) {
    nmreq_header h;
    nmreq_header_init(&h, NETMAP_REQ_REGISTER, nullptr);
    EXPECT_EQ(h.nr_version, NETMAP_API);
    EXPECT_EQ(h.nr_reqtype, NETMAP_REQ_REGISTER);
    EXPECT_EQ(h.nr_body, 0u);
    auto* a = static_cast<nmreq_option*>(std::calloc(1, sizeof(nmreq_opt_extmem)));
    auto* b = static_cast<nmreq_option*>(std::calloc(1, sizeof(nmreq_opt_offsets)));
    auto* c = static_cast<nmreq_option*>(std::calloc(1, sizeof(nmreq_option)));
    a->nro_reqtype = NETMAP_REQ_OPT_EXTMEM;
    b->nro_reqtype = NETMAP_REQ_OPT_OFFSETS;
    c->nro_reqtype = NETMAP_REQ_OPT_CSB;
    nmreq_push_option(&h, a);
    nmreq_push_option(&h, b);
    nmreq_push_option(&h, c);
    EXPECT_EQ(h.nr_options, reinterpret_cast<uintptr_t>(c));  // last pushed first
    EXPECT_EQ(nmreq_find_option(&h, NETMAP_REQ_OPT_EXTMEM), a);
    EXPECT_EQ(nmreq_find_option(&h, NETMAP_REQ_OPT_OFFSETS), b);
    EXPECT_EQ(nmreq_find_option(&h, NETMAP_REQ_OPT_SYNC_KLOOP_MODE), nullptr);
    nmreq_remove_option(&h, b);  // from the middle
    EXPECT_EQ(b->nro_next, 0u);
    EXPECT_EQ(nmreq_find_option(&h, NETMAP_REQ_OPT_OFFSETS), nullptr);
    EXPECT_EQ(c->nro_next, reinterpret_cast<uintptr_t>(a));
    nmreq_remove_option(&h, b);  // not in the list: no-op
    int n = 0;
    nmreq_option* o;
    nmreq_foreach_option(&h, o) ++n;
    EXPECT_EQ(n, 2);
    std::free(b);
    nmreq_free_options(&h);
    EXPECT_EQ(h.nr_options, 0u);
}

TEST(OptionList, Names) {
    EXPECT_STREQ(nmreq_option_name(NETMAP_REQ_OPT_EXTMEM), "extmem");
    EXPECT_STREQ(nmreq_option_name(NETMAP_REQ_OPT_OFFSETS), "offsets");
    EXPECT_STREQ(nmreq_option_name(NETMAP_REQ_OPT_CSB), "csb");
    EXPECT_STREQ(nmreq_option_name(12345), "unknown");
}

// --- generic option parser ---------------------------------------------------

struct Seen {
    int calls = 0;
    std::string keys[NMREQ_OPT_MAXKEYS];
};

int record_keys(nmreq_parse_ctx* p) {
    auto* s = static_cast<Seen*>(p->token);
    s->calls++;
    for (int i = 0; i < NMREQ_OPT_MAXKEYS; ++i)
        s->keys[i] = p->keys[i] ? p->keys[i] : "(null)";
    return 0;
}

TEST_F(Decode, OptionsDecodeWithCustomParsers) {
    nmreq_opt_parser flag{};
    flag.prefix = "flag";
    flag.parse = record_keys;
    flag.default_key = -1;
    flag.flags = NMREQ_OPTF_ALLOWEMPTY;
    nmreq_opt_parser kv{};
    kv.prefix = "kv";
    kv.parse = record_keys;
    kv.default_key = 0;
    kv.nr_keys = 3;
    kv.keys[0] = {"main", 0, NMREQ_OPTK_DEFAULT};
    kv.keys[1] = {"opt_in", 1, NMREQ_OPTK_ALLOWEMPTY};
    kv.keys[2] = {"other", 2, 0};
    flag.next = &kv;

    Seen s;
    ASSERT_EQ(nmreq_options_decode("", &flag, &s, &ctx_), 0);
    EXPECT_EQ(s.calls, 0);
    ASSERT_EQ(nmreq_options_decode("@flag", &flag, &s, &ctx_), 0);
    EXPECT_EQ(s.calls, 1);
    ASSERT_EQ(nmreq_options_decode("@kv=hello", &flag, &s, &ctx_), 0);
    EXPECT_EQ(s.keys[0], "hello");
    EXPECT_EQ(s.keys[1], "(null)");
    ASSERT_EQ(nmreq_options_decode("@kv:opt-in,other=x y", &flag, &s, &ctx_), 0);
    EXPECT_EQ(s.keys[0], "(null)");
    EXPECT_EQ(s.keys[1], "opt_in");  // a bare key gets its own name
    EXPECT_EQ(s.keys[2], "x y");
    EXPECT_EQ(s.calls, 3);

    errno = 0;
    EXPECT_EQ(nmreq_options_decode("@flag=1", &flag, &s, &ctx_), -1);  // no default key
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(nmreq_options_decode("@kv", &flag, &s, &ctx_), -1);  // body required
    EXPECT_EQ(nmreq_options_decode("@kv:other", &flag, &s, &ctx_), -1);  // needs =value
    EXPECT_EQ(nmreq_options_decode("kv=1", &flag, &s, &ctx_), -1);  // no leading '@'
    EXPECT_EQ(s.calls, 3);
}

// --- nmport_inject on an in-memory port ---------------------------------------

/// One tx ring of kSlots slots with kBuf-byte buffers, laid out as netmap
/// does: netmap_if, then the ring, then the buffers.
class FakePort : public Decode {
protected:
    static constexpr uint32_t kSlots = 4;
    static constexpr uint32_t kBuf = 64;
    static constexpr size_t kIfOfs = 0, kRingOfs = 1024, kBufOfs = 8192;
    static constexpr size_t kMemSize = 3 * 4096;  // a multiple of the alignment
    static_assert(kBufOfs + kSlots * kBuf <= kMemSize);

    void SetUp() override {
        Decode::SetUp();
        mem_ = static_cast<char*>(std::aligned_alloc(4096, kMemSize));
        ASSERT_NE(mem_, nullptr);
        std::memset(mem_, 0, kMemSize);
        auto* nifp = reinterpret_cast<netmap_if*>(mem_ + kIfOfs);
        put(nifp, offsetof(netmap_if, ni_tx_rings), uint32_t{1});
        put(nifp, offsetof(netmap_if, ni_rx_rings), uint32_t{1});
        ssize_t ofs = kRingOfs - kIfOfs;
        put(nifp, offsetof(netmap_if, ring_ofs), ofs);  // tx ring 0; rx ring 0 unbound
        ring_ = reinterpret_cast<netmap_ring*>(mem_ + kRingOfs);
        put(ring_, offsetof(netmap_ring, buf_ofs), int64_t{kBufOfs - kRingOfs});
        put(ring_, offsetof(netmap_ring, num_slots), kSlots);
        put(ring_, offsetof(netmap_ring, nr_buf_size), kBuf);
        for (uint32_t i = 0; i < kSlots; ++i)
            ring_->slot[i].buf_idx = i;
        ring_->head = ring_->cur = 0;
        ring_->tail = kSlots - 1;  // three free slots

        d_ = nmport_new();
        ASSERT_NE(d_, nullptr);
        d_->nifp = nifp;
        d_->mmap_done = 1;
        d_->first_tx_ring = d_->last_tx_ring = d_->cur_tx_ring = 0;
    }
    void TearDown() override {
        d_->mmap_done = 0;
        d_->nifp = nullptr;
        nmport_delete(d_);
        std::free(mem_);
        Decode::TearDown();
    }
    template <class T>
    static void put(void* base, size_t off, T v) {
        std::memcpy(static_cast<char*>(base) + off, &v, sizeof v);
    }
    const char* buf(uint32_t idx) const { return mem_ + kBufOfs + idx * kBuf; }

    char* mem_ = nullptr;
    netmap_ring* ring_ = nullptr;
    nmport_d* d_ = nullptr;
};

TEST_F(FakePort, InjectCopiesAndAdvances) {
    const char pkt[] = "hello, ring";
    EXPECT_EQ(nmport_inject(d_, pkt, sizeof pkt), static_cast<int>(sizeof pkt));
    EXPECT_EQ(ring_->head, 1u);
    EXPECT_EQ(ring_->cur, 1u);
    EXPECT_EQ(ring_->slot[0].len, sizeof pkt);
    EXPECT_EQ(ring_->slot[0].flags, 0);
    EXPECT_EQ(std::memcmp(buf(0), pkt, sizeof pkt), 0);
}

TEST_F(FakePort, InjectSplitsLongPacketsOverSlots) {
    std::vector<char> pkt(kBuf * 2 + 10);
    for (size_t i = 0; i < pkt.size(); ++i)
        pkt[i] = static_cast<char>(i * 7);
    EXPECT_EQ(nmport_inject(d_, pkt.data(), pkt.size()), static_cast<int>(pkt.size()));
    EXPECT_EQ(ring_->head, 3u);
    EXPECT_EQ(ring_->slot[0].len, uint16_t{kBuf});
    EXPECT_EQ(ring_->slot[0].flags, NS_MOREFRAG);
    EXPECT_EQ(ring_->slot[1].len, uint16_t{kBuf});
    EXPECT_EQ(ring_->slot[1].flags, NS_MOREFRAG);
    EXPECT_EQ(ring_->slot[2].len, 10);
    EXPECT_EQ(ring_->slot[2].flags, 0);
    EXPECT_EQ(std::memcmp(buf(0), pkt.data(), kBuf), 0);
    EXPECT_EQ(std::memcmp(buf(1), pkt.data() + kBuf, kBuf), 0);
    EXPECT_EQ(std::memcmp(buf(2), pkt.data() + 2 * kBuf, 10), 0);
}

TEST_F(FakePort, InjectFailsWithoutRoom) {
    std::vector<char> big(kBuf * 3 + 1);  // needs 4 slots, 3 are free
    EXPECT_EQ(nmport_inject(d_, big.data(), big.size()), 0);
    EXPECT_EQ(ring_->head, 0u);
    char small[60] = {};
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(nmport_inject(d_, small, sizeof small), static_cast<int>(sizeof small));
    EXPECT_EQ(ring_->head, 3u);
    EXPECT_EQ(nmport_inject(d_, small, sizeof small), 0);  // ring full
    EXPECT_EQ(ring_->head, 3u);
}

// --- legacy API ----------------------------------------------------------------

TEST(LegacyOpen, NonNetmapNamesFailWithErrnoZero) {
    for (const char* name : {"eth0", "pcap:x", "", "netmap", "vaxe0:p"}) {
        errno = EBADF;
        EXPECT_EQ(nm_open(name, nullptr, 0, nullptr), nullptr) << name;
        EXPECT_EQ(errno, 0) << name;
    }
}

TEST(LegacyOpen, CloseRejectsNonDescriptors) {
    EXPECT_EQ(nm_close(nullptr), EINVAL);
    nm_desc* fake = static_cast<nm_desc*>(std::calloc(1, sizeof(nm_desc)));
    EXPECT_EQ(nm_close(fake), EINVAL);  // self != fake
    std::free(fake);
}

}  // namespace
