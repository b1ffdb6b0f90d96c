// What the host rings do to the frames they take from the host stack
// before the kernel would have finished them (src/ports/partial_csum.h,
// src/ports/gso_split.h): complete partial TCP/UDP checksums and cut GSO
// super-frames into the frames the wire would have carried.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "ports/gso_split.h"
#include "ports/partial_csum.h"

namespace {

using unetmap::nic::complete_partial_checksum;
using unetmap::nic::gso_count;
using unetmap::nic::gso_split;

uint32_t be16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }
void put16(uint8_t* p, uint32_t v) { p[0] = static_cast<uint8_t>(v >> 8), p[1] = static_cast<uint8_t>(v); }

// Ones' complement sum of n bytes, folded (the reference, written plainly).
uint32_t sum(const uint8_t* p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) s += be16(p + i);
    if (n & 1) s += static_cast<uint32_t>(p[n - 1]) << 8;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s;
}

// Is the L4 checksum of this IPv4 (or IPv6) frame right?  The sum over the
// pseudo-header and the L4 bytes, field included, is 0xffff.
bool l4_ok(const std::vector<uint8_t>& f, bool v6 = false) {
    const size_t l3 = 14, l4 = v6 ? 54 : 14 + static_cast<size_t>(f[14] & 0xf) * 4;
    const uint8_t proto = v6 ? f[l3 + 6] : f[l3 + 9];
    const size_t l4len = v6 ? be16(&f[l3 + 4]) : be16(&f[l3 + 2]) - (l4 - l3);
    uint32_t s = v6 ? sum(&f[l3 + 8], 32) : sum(&f[l3 + 12], 8);
    s = sum(&f[l4], l4len, s + proto + static_cast<uint32_t>(l4len));
    return s == 0xffff;
}
bool ip_ok(const std::vector<uint8_t>& f) { return sum(&f[14], 20) == 0xffff; }

// Ethernet + IPv4 + TCP (seq 1000, ACK|PSH|FIN|CWR) + payload, checksums
// right (or the TCP one partial: the pseudo-header sum only).
std::vector<uint8_t> tcp4(const std::string& payload, bool partial, uint8_t flags = 0x10 | 0x08 | 0x01 | 0x80) {
    std::vector<uint8_t> f(54 + payload.size(), 0);
    std::memset(f.data(), 0xaa, 12);
    f[12] = 0x08;
    uint8_t* ip = &f[14];
    ip[0] = 0x45, ip[6] = 0x40, ip[8] = 64, ip[9] = 6;
    put16(ip + 2, static_cast<uint32_t>(40 + payload.size()));
    put16(ip + 4, 0x1234);
    const uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
    std::memcpy(ip + 12, addrs, 8);
    put16(ip + 10, ~sum(ip, 20) & 0xffff);
    uint8_t* tcp = &f[34];
    put16(tcp, 40000), put16(tcp + 2, 5001);
    put16(tcp + 4, 0), put16(tcp + 6, 1000);
    tcp[12] = 5 << 4, tcp[13] = flags;
    put16(tcp + 14, 512);
    std::memcpy(tcp + 20, payload.data(), payload.size());
    const uint32_t pseudo = sum(ip + 12, 8, 6 + static_cast<uint32_t>(20 + payload.size()));
    put16(tcp + 16, partial ? pseudo : ~sum(tcp, 20 + payload.size(), pseudo) & 0xffff);
    return f;
}

TEST(PartialChecksum, CompletesAPartialTcpChecksum) {
    auto f = tcp4("hello, host ring", true);
    const auto want = tcp4("hello, host ring", false);
    EXPECT_FALSE(l4_ok(f));
    EXPECT_TRUE(complete_partial_checksum(f.data(), f.size()));
    EXPECT_TRUE(l4_ok(f));
    EXPECT_EQ(f, want);
}

TEST(PartialChecksum, LeavesACompleteChecksumAlone) {
    auto f = tcp4("already done", false);
    const auto before = f;
    EXPECT_FALSE(complete_partial_checksum(f.data(), f.size()));
    EXPECT_EQ(f, before);
}

TEST(PartialChecksum, CompletesUdpOverIpv6BehindAVlanTag) {
    const std::string payload = "udp six";
    std::vector<uint8_t> f(18 + 40 + 8 + payload.size(), 0);
    f[12] = 0x81, f[13] = 0x00, f[14] = 0x00, f[15] = 0x07;  // 802.1Q, VLAN 7
    f[16] = 0x86, f[17] = 0xdd;
    uint8_t* ip = &f[18];
    ip[0] = 0x60, ip[6] = 17, ip[7] = 64;
    put16(ip + 4, static_cast<uint32_t>(8 + payload.size()));
    ip[23] = 1, ip[39] = 2;  // ::1 -> ::2
    uint8_t* udp = ip + 40;
    put16(udp, 53), put16(udp + 2, 5353), put16(udp + 4, static_cast<uint32_t>(8 + payload.size()));
    std::memcpy(udp + 8, payload.data(), payload.size());
    const uint32_t pseudo = sum(ip + 8, 32, 17 + static_cast<uint32_t>(8 + payload.size()));
    put16(udp + 6, pseudo);
    EXPECT_TRUE(complete_partial_checksum(f.data(), f.size()));
    EXPECT_EQ(sum(udp, 8 + payload.size(), pseudo), 0xffffu);
}

TEST(PartialChecksum, IgnoresWhatItCannotParse) {
    std::vector<uint8_t> arp(60, 0);
    arp[12] = 0x08, arp[13] = 0x06;
    const auto before = arp;
    EXPECT_FALSE(complete_partial_checksum(arp.data(), arp.size()));
    EXPECT_EQ(arp, before);
    auto cut = tcp4("truncated", true);
    EXPECT_FALSE(complete_partial_checksum(cut.data(), 40)) << "a frame shorter than its IP length";
}

TEST(GsoSplit, CutsATcpSuperFrameIntoSegments) {
    std::string payload(3000, 0);
    for (size_t i = 0; i < payload.size(); i++) payload[i] = static_cast<char>(i * 7);
    const auto big = tcp4(payload, true);
    ASSERT_EQ(gso_count(big.data(), big.size(), 1448), 3u);
    std::vector<std::vector<uint8_t>> segs;
    std::vector<uint8_t> scratch(54 + 1448);
    const uint32_t n = gso_split(big.data(), big.size(), 1448, scratch.data(),
                                 [&](const uint8_t* p, size_t l) { segs.emplace_back(p, p + l); });
    ASSERT_EQ(n, 3u);
    ASSERT_EQ(segs.size(), 3u);
    const size_t sizes[3] = {1448, 1448, 104};
    std::string joined;
    for (size_t i = 0; i < 3; i++) {
        const auto& s = segs[i];
        ASSERT_EQ(s.size(), 54 + sizes[i]) << "segment " << i;
        EXPECT_EQ(be16(&s[16]), 40 + sizes[i]) << "IPv4 total length";
        EXPECT_EQ(be16(&s[18]), 0x1234 + i) << "IPv4 id, one more per segment";
        EXPECT_TRUE(ip_ok(s)) << "IPv4 header checksum of segment " << i;
        EXPECT_TRUE(l4_ok(s)) << "TCP checksum of segment " << i;
        const uint32_t seq = be16(&s[38]) << 16 | be16(&s[40]);
        EXPECT_EQ(seq, 1000 + i * 1448);
        const uint8_t flags = s[47];
        EXPECT_EQ((flags & 0x09) != 0, i == 2) << "FIN and PSH on the last segment only";
        EXPECT_EQ((flags & 0x80) != 0, i == 0) << "CWR on the first only";
        EXPECT_TRUE(flags & 0x10) << "ACK on all";
        joined.append(s.begin() + 54, s.end());
    }
    EXPECT_EQ(joined, payload);
}

TEST(GsoSplit, RefusesWhatItCannotCut) {
    std::vector<uint8_t> arp(100, 0);
    arp[12] = 0x08, arp[13] = 0x06;
    EXPECT_EQ(gso_count(arp.data(), arp.size(), 1448), 0u);
    auto f = tcp4("x", false);
    EXPECT_EQ(gso_count(f.data(), f.size(), 0), 0u) << "gso_size 0";
    f[14 + 9] = 47;  // GRE: a tunnel, not ours to cut
    EXPECT_EQ(gso_count(f.data(), f.size(), 1448), 0u);
}

}  // namespace
