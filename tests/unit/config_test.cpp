// The config file for netmap's module parameters (RegionConfig::
// apply_config_text / apply_config_file / from_env, src/core/region.cpp):
// `key = value` lines with netmap's names, environment variables on top,
// unknown keys and bad values reported once and otherwise ignored.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/region.h"
#include "test_support.h"

using unetmap::RegionConfig;

namespace {

const char* const kEnv[] = {"UNETMAP_IF_NUM",   "UNETMAP_IF_SIZE", "UNETMAP_RING_NUM",
                            "UNETMAP_RING_SIZE", "UNETMAP_BUF_NUM", "UNETMAP_BUF_SIZE"};

bool same(const RegionConfig& a, const RegionConfig& b) {
    return a.if_num == b.if_num && a.if_size == b.if_size && a.ring_num == b.ring_num &&
           a.ring_size == b.ring_size && a.buf_num == b.buf_num && a.buf_size == b.buf_size;
}

std::string all(const std::vector<std::string>& d) {
    std::string s;
    for (const auto& m : d) s += m + "\n";
    return s;
}

// A private directory for config files (not the state directory, which
// must hold only what the library creates).
class ConfigFile : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/unetmap-conf.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        for (const char* v : kEnv) ::unsetenv(v);
        ::unsetenv("UNETMAP_CONFIG");
    }
    void TearDown() override {
        for (const auto& f : files_) ::unlink(f.c_str());
        ::rmdir(dir_.c_str());
        for (const char* v : kEnv) ::unsetenv(v);
        ::unsetenv("UNETMAP_CONFIG");
    }
    std::string write(const std::string& name, const std::string& text) {
        const std::string p = dir_ + "/" + name;
        std::ofstream(p, std::ios::binary) << text;
        files_.push_back(p);
        return p;
    }
    std::string dir_;
    std::vector<std::string> files_;
};

}  // namespace

TEST(ConfigText, EveryParameterCommentsAndSpacing) {
    RegionConfig c;
    std::vector<std::string> diag;
    c.apply_config_text(
        "# netmap module parameters\n"
        "\n"
        "if_num = 64\n"
        "  if_size=2048   # trailing comment\n"
        "\tring_num\t=\t100\r\n"
        "ring_size = 0x2000\n"
        "buf_num = 50000\n"
        "buf_size = 4096",  // no final newline
        "t.conf", diag);
    EXPECT_TRUE(diag.empty()) << all(diag);
    EXPECT_EQ(c.if_num, 64u);
    EXPECT_EQ(c.if_size, 2048u);
    EXPECT_EQ(c.ring_num, 100u);
    EXPECT_EQ(c.ring_size, 0x2000u);
    EXPECT_EQ(c.buf_num, 50000u);
    EXPECT_EQ(c.buf_size, 4096u);
    EXPECT_EQ(c.validate(), 0);
}

TEST(ConfigText, AdmodeChoosesHowNicsAreServed) {
    RegionConfig c;
    std::vector<std::string> diag;
    c.apply_config_text("admode = 2\n", "t", diag);
    EXPECT_TRUE(diag.empty()) << all(diag);
    EXPECT_EQ(c.admode, 2u);
    c.apply_config_text("admode = 3\n", "t", diag);  // 0 best, 1 native, 2 emulated: nothing else
    ASSERT_EQ(diag.size(), 1u);
    EXPECT_NE(diag[0].find("admode = '3': out of range"), std::string::npos) << diag[0];
    EXPECT_EQ(c.admode, 2u);
}

TEST(ConfigText, LaterLineWins) {
    RegionConfig c;
    std::vector<std::string> diag;
    c.apply_config_text("buf_num = 100\nbuf_num = 200\n", "t", diag);
    EXPECT_TRUE(diag.empty());
    EXPECT_EQ(c.buf_num, 200u);
}

TEST(ConfigText, UnknownKeysAreReportedAndIgnored) {
    RegionConfig c;
    const RegionConfig ref;
    std::vector<std::string> diag;
    c.apply_config_text("bufnum = 7\nmitigate = 1\nbuf_num = 1000\n", "my.conf", diag);
    ASSERT_EQ(diag.size(), 2u) << all(diag);
    EXPECT_NE(diag[0].find("my.conf:1: unknown parameter 'bufnum'"), std::string::npos) << diag[0];
    // A netmap parameter that means nothing here is named as such.
    EXPECT_NE(diag[1].find("my.conf:2: netmap parameter 'mitigate' has no effect"), std::string::npos)
        << diag[1];
    EXPECT_EQ(c.buf_num, 1000u);  // the good line still applies
    EXPECT_EQ(c.if_num, ref.if_num);
}

TEST(ConfigText, BadValuesKeepThePreviousValue) {
    struct Case {
        const char* line;
        const char* expect;  // in the message
    } cases[] = {
        {"buf_num = lots", "not a number"},
        {"buf_num = 12abc", "not a number"},
        {"buf_num =", "not a number"},
        {"buf_num = -5", "not a number"},
        {"buf_num = 99999999999", "not a number"},
        {"buf_num = 2", "out of range, must be 3..16777216"},
        {"buf_size = 2000", "must be a multiple of 64 in 64..65536"},
        {"ring_size = 4160", "must be a multiple of 128"},
        {"if_num = 0", "out of range"},
        {"buf_num 100", "expected 'key = value'"},
        {"= 100", "expected 'key = value'"},
    };
    for (const auto& tc : cases) {
        SCOPED_TRACE(tc.line);
        RegionConfig c;
        c.buf_num = 777;  // e.g. set by an earlier line
        const RegionConfig before = c;
        std::vector<std::string> diag;
        c.apply_config_text(std::string("\n") + tc.line + "\n", "f", diag);
        ASSERT_EQ(diag.size(), 1u) << all(diag);
        EXPECT_EQ(diag[0].rfind("f:2: ", 0), 0u) << diag[0];
        EXPECT_NE(diag[0].find(tc.expect), std::string::npos) << diag[0];
        EXPECT_TRUE(same(c, before));
    }
    RegionConfig c;
    std::vector<std::string> diag;
    c.buf_num = 777;
    c.apply_config_text("buf_num = 1\n", "f", diag);
    ASSERT_EQ(diag.size(), 1u);
    EXPECT_NE(diag[0].find("keeping 777"), std::string::npos) << diag[0];
}

TEST(ConfigText, GarbageNeverCrashes) {
    std::string junk;
    for (int i = 0; i < 4096; i++) junk += static_cast<char>((i * 7919) & 0xff);
    junk += std::string("buf_num\0= 5\n", 12);
    junk += std::string(100000, '=') + "\n" + std::string(100000, 'x');
    RegionConfig c;
    std::vector<std::string> diag;
    c.apply_config_text(junk, "junk", diag);
    EXPECT_FALSE(diag.empty());
    for (const auto& m : diag) {
        EXPECT_LT(m.size(), 400u);  // untrusted text is cut short in messages
        for (char ch : m) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << "unprintable in: " << m;
    }
    EXPECT_EQ(c.validate(), 0);
}

TEST_F(ConfigFile, MissingUnreadableOrHuge) {
    RegionConfig c;
    std::vector<std::string> diag;
    const std::string missing = dir_ + "/nope.conf";
    c.apply_config_file(missing.c_str(), true, diag);  // the default path may be absent
    EXPECT_TRUE(diag.empty());
    c.apply_config_file(missing.c_str(), false, diag);  // a path the user named must exist
    ASSERT_EQ(diag.size(), 1u);
    EXPECT_NE(diag[0].find("nope.conf: No such file or directory; using defaults"), std::string::npos)
        << diag[0];
    diag.clear();
    c.apply_config_file(dir_.c_str(), true, diag);  // a directory
    ASSERT_EQ(diag.size(), 1u);
    EXPECT_NE(diag[0].find("Is a directory"), std::string::npos) << diag[0];
    diag.clear();
    const std::string big = write("big.conf", "buf_num = 1000\n" + std::string(2 << 20, '#'));
    c.apply_config_file(big.c_str(), false, diag);
    ASSERT_EQ(diag.size(), 1u);
    EXPECT_NE(diag[0].find("too large"), std::string::npos) << diag[0];
    EXPECT_TRUE(same(c, RegionConfig{}));
}

TEST_F(ConfigFile, EnvironmentOverridesTheFile) {
    const std::string f = write("u.conf", "buf_num = 1000\nbuf_size = 4096\nring_num = 10\n");
    ::setenv("UNETMAP_CONFIG", f.c_str(), 1);
    RegionConfig c = RegionConfig::from_env();
    EXPECT_EQ(c.buf_num, 1000u);
    EXPECT_EQ(c.buf_size, 4096u);
    EXPECT_EQ(c.ring_num, 10u);
    EXPECT_EQ(c.if_num, RegionConfig{}.if_num);

    ::setenv("UNETMAP_BUF_NUM", "2000", 1);
    ::setenv("UNETMAP_RING_NUM", "junk", 1);  // not a number: the file's value stays
    c = RegionConfig::from_env();
    EXPECT_EQ(c.buf_num, 2000u);
    EXPECT_EQ(c.buf_size, 4096u);
    EXPECT_EQ(c.ring_num, 10u);

    ::setenv("UNETMAP_CONFIG", "", 1);  // empty: no file at all
    ::unsetenv("UNETMAP_RING_NUM");
    c = RegionConfig::from_env();
    EXPECT_EQ(c.buf_num, 2000u);
    EXPECT_EQ(c.buf_size, RegionConfig{}.buf_size);
}

TEST_F(ConfigFile, ProblemsReportedOnStderrOnce) {
    const std::string f = write("bad.conf", "buf_num = 1000\nfrobnicate = 3\nbuf_size = 100\n");
    ::setenv("UNETMAP_CONFIG", f.c_str(), 1);
    ::testing::internal::CaptureStderr();
    const RegionConfig c1 = RegionConfig::from_env();
    const RegionConfig c2 = RegionConfig::from_env();
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(c1.buf_num, 1000u);
    EXPECT_EQ(c1.buf_size, RegionConfig{}.buf_size);
    EXPECT_TRUE(same(c1, c2));
    auto count = [&](const std::string& needle) {
        size_t n = 0;
        for (size_t p = err.find(needle); p != std::string::npos; p = err.find(needle, p + 1)) n++;
        return n;
    };
    EXPECT_EQ(count("unetmap: " + f + ":2: unknown parameter 'frobnicate'"), 1u) << err;
    EXPECT_EQ(count(f + ":3: buf_size = '100': out of range"), 1u) << err;
    EXPECT_EQ(count("unetmap: "), 2u) << err;
}

// The file reaches the regions REGISTER creates: a null port's region
// has the configured buffer count and size.
TEST_F(ConfigFile, RegistrationUsesIt) {
    const std::string f = write("r.conf", "buf_num = 5000\nbuf_size = 4096\n");
    ::setenv("UNETMAP_CONFIG", f.c_str(), 1);
    {
        nmtest::Port p;
        ASSERT_EQ(p.open("null:cfg"), 0);
        netmap_ring* tx = p.tx();
        EXPECT_EQ(tx->nr_buf_size, 4096u);
        nmreq_pools_info pi{};
        nmreq_header h = nmtest::make_header("null:cfg", NETMAP_REQ_POOLS_INFO_GET, &pi);
        ASSERT_EQ(nmtest::xioctl(p.fd, NIOCCTRL, &h), 0);
        EXPECT_EQ(pi.nr_buf_pool_objtotal, 5000u);
        EXPECT_EQ(pi.nr_buf_pool_objsize, 4096u);
    }
    EXPECT_TRUE(nmtest::StateDirEmpty());
}
