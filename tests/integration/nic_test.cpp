// NIC ports on a veth pair in two network namespaces of the test's own:
// "netmap:<a>" in namespace A (where the test runs) and an ordinary
// AF_PACKET socket on the peer <b> in namespace B.  Every test runs in both
// modes, native (AF_XDP, admode 1) and emulated (AF_PACKET, admode 2).
// Needs root (namespaces, XDP); skipped otherwise.  The namespaces and the
// veth pair are deleted after each test.
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include "test_support.h"

namespace {

using nmtest::Port;

constexpr uint16_t kEtherType = 0x88b5;  // IEEE local experimental: nothing else sends it

int sh(const std::string& cmd) {
    const int r = std::system((cmd + " >/dev/null 2>&1").c_str());
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

std::string sh_out(const std::string& cmd) {
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
        char buf[512];
        while (std::fgets(buf, sizeof buf, f)) out += buf;
        ::pclose(f);
    }
    return out;
}

// A frame of ours: broadcast, our ethertype, a sequence number, a pattern.
std::vector<uint8_t> make_frame(uint32_t seq, uint32_t len) {
    std::vector<uint8_t> f(len);
    std::memset(f.data(), 0xff, 6);
    const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x01};
    std::memcpy(f.data() + 6, src, 6);
    f[12] = kEtherType >> 8;
    f[13] = kEtherType & 0xff;
    std::memcpy(f.data() + 14, &seq, 4);
    for (uint32_t i = 18; i < len; i++) f[i] = static_cast<uint8_t>(seq * 7 + i);
    return f;
}

// An IPv4/UDP frame whose source port varies: spreads over a multi-queue
// veth's queues (the sender hashes flows to its transmit queue, which is
// the receive queue on the other side).
std::vector<uint8_t> make_udp_frame(uint32_t seq) {
    std::vector<uint8_t> f(64, 0);
    std::memset(f.data(), 0xff, 6);
    f[6] = 0x02, f[11] = 0x02;
    f[12] = 0x08, f[13] = 0x00;
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x45, ip[3] = 50, ip[8] = 64, ip[9] = 17;
    ip[12] = 10, ip[15] = 2, ip[16] = 10, ip[19] = 1;
    uint8_t* udp = ip + 20;
    udp[0] = static_cast<uint8_t>(0x80 + (seq >> 8)), udp[1] = static_cast<uint8_t>(seq);
    udp[2] = 0x30, udp[3] = 0x39, udp[5] = 30;
    std::memcpy(udp + 8, &seq, 4);
    return f;
}

uint32_t frame_seq(const uint8_t* p) {
    uint32_t s;
    std::memcpy(&s, p + 14, 4);
    return s;
}

class Nic : public ::testing::TestWithParam<int> {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, XDP)";
        if (sh("ip -V") != 0) GTEST_SKIP() << "needs iproute2";
        const std::string id = std::to_string(::getpid());
        ns_a_ = "unmnic" + id + "a", ns_b_ = "unmnic" + id + "b";
        if_a_ = "nt" + id + "a", if_b_ = "nt" + id + "b";
        ASSERT_EQ(sh("ip netns add " + ns_a_), 0);
        ASSERT_EQ(sh("ip netns add " + ns_b_), 0);
        made_ = true;
        ASSERT_EQ(make_veth(1), 0);
        orig_ns_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        ASSERT_GE(orig_ns_, 0);
        ASSERT_EQ(enter(ns_a_), 0);
        ::setenv("UNETMAP_ADMODE", std::to_string(GetParam()).c_str(), 1);
    }

    void TearDown() override {
        peer_close();
        if (orig_ns_ >= 0) {
            ::setns(orig_ns_, CLONE_NEWNET);
            ::close(orig_ns_);
        }
        if (made_) {
            sh("ip netns del " + ns_a_);  // deletes the veth pair with it
            sh("ip netns del " + ns_b_);
        }
        ::unsetenv("UNETMAP_ADMODE");
    }

    // A veth pair with `queues` queues, <a> in A and <b> in B, both up,
    // without IPv6 (no router solicitations in the way).
    int make_veth(int queues) {
        const std::string q = " numtxqueues " + std::to_string(queues) + " numrxqueues " + std::to_string(queues);
        int e = sh("ip link add " + if_a_ + q + " type veth peer name " + if_b_ + q);
        e |= sh("ip link set " + if_a_ + " netns " + ns_a_);
        e |= sh("ip link set " + if_b_ + " netns " + ns_b_);
        for (const auto& [ns, ifn] : {std::pair{ns_a_, if_a_}, std::pair{ns_b_, if_b_}}) {
            sh("ip netns exec " + ns + " sysctl -w net.ipv6.conf." + ifn + ".disable_ipv6=1");
            e |= sh("ip -n " + ns + " link set " + ifn + " up");
        }
        return e;
    }

    int enter(const std::string& ns) {
        const int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return errno;
        const int r = ::setns(fd, CLONE_NEWNET) == 0 ? 0 : errno;
        ::close(fd);
        return r;
    }

    // An AF_PACKET socket on <b>, made in B (a socket keeps its namespace).
    void peer_open() {
        ASSERT_EQ(enter(ns_b_), 0);
        peer_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kEtherType));
        const int ifindex = static_cast<int>(if_nametoindex(if_b_.c_str()));
        ASSERT_EQ(enter(ns_a_), 0);
        ASSERT_GE(peer_, 0) << std::strerror(errno);
        ASSERT_GT(ifindex, 0);
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(kEtherType);
        sll.sll_ifindex = ifindex;
        ASSERT_EQ(::bind(peer_, reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0);
        const int big = 8 << 20;
        ::setsockopt(peer_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    }
    void peer_close() {
        if (peer_ >= 0) ::close(peer_);
        peer_ = -1;
    }
    void peer_send(const std::vector<uint8_t>& f) {
        ASSERT_EQ(::send(peer_, f.data(), f.size(), 0), static_cast<ssize_t>(f.size())) << std::strerror(errno);
    }
    // Frames of ours the peer received, waiting up to `ms` for `want` of them.
    std::vector<std::vector<uint8_t>> peer_recv(size_t want, int ms) {
        std::vector<std::vector<uint8_t>> out;
        const double end = nmtest::now_s() + ms / 1000.0;
        static uint8_t buf[65536];
        while (out.size() < want && nmtest::now_s() < end) {
            pollfd p{peer_, POLLIN, 0};
            if (nmtest::netmap_poll(&p, 1, 50) <= 0) continue;
            const ssize_t n = ::recv(peer_, buf, sizeof buf, MSG_DONTWAIT);
            if (n >= 14 && buf[12] == (kEtherType >> 8) && buf[13] == (kEtherType & 0xff))
                out.emplace_back(buf, buf + n);
        }
        return out;
    }

    std::string a_link() { return sh_out("ip -d -n " + ns_a_ + " link show " + if_a_); }
    bool xdp_attached() { return a_link().find("prog/xdp") != std::string::npos; }

    // Receive up to `want` frames of `ethertype` on every bound RX ring of
    // `p` (host ring included), NS_MOREFRAG chains joined into one frame.
    std::vector<std::vector<uint8_t>> port_recv(Port& p, size_t want, int ms, uint16_t ethertype = kEtherType) {
        std::vector<std::vector<uint8_t>> out;
        const double end = nmtest::now_s() + ms / 1000.0;
        const uint32_t nrx = p.nifp->ni_rx_rings + p.nifp->ni_host_rx_rings;
        const uint32_t ntx = p.nifp->ni_tx_rings + p.nifp->ni_host_tx_rings;
        std::vector<uint8_t> frame;
        while (out.size() < want && nmtest::now_s() < end) {
            p.poll(POLLIN, 50);
            for (uint32_t r = 0; r < nrx; r++) {
                if (!p.nifp->ring_ofs[ntx + r]) continue;
                netmap_ring* rx = p.rx(r);
                while (rx->cur != rx->tail) {
                    const netmap_slot& s = rx->slot[rx->cur];
                    const auto* b = reinterpret_cast<const uint8_t*>(Port::buf(rx, s.buf_idx));
                    frame.insert(frame.end(), b, b + s.len);
                    rx->head = rx->cur = nmtest::ring_next(rx, rx->cur);
                    if (s.flags & NS_MOREFRAG) continue;
                    if (frame.size() >= 14 && frame[12] == (ethertype >> 8) && frame[13] == (ethertype & 0xff))
                        out.push_back(frame);
                    frame.clear();
                }
            }
        }
        return out;
    }

    std::string name(const std::string& suffix = "") { return "netmap:" + if_a_ + suffix; }

    std::string ns_a_, ns_b_, if_a_, if_b_;
    bool made_ = false;
    int orig_ns_ = -1;
    int peer_ = -1;
};

// Ports are opened with the kernel's name (libnetmap strips "netmap:").
int open_nic(Port& p, const std::string& ifname, uint32_t mode = NR_REG_ALL_NIC, uint32_t ringid = 0) {
    return p.open(ifname.c_str(), [&](nmreq_register& r) {
        r.nr_mode = mode;
        r.nr_ringid = ringid;
    });
}

// A child process that opens `ifname` with `mode` and holds it until
// killed; returns its pid once the registration is known, or -1 if it
// failed.
pid_t fork_holder(const std::string& ifname, uint32_t mode) {
    int ready[2];
    if (::pipe(ready) != 0) return -1;
    const pid_t child = ::fork();
    if (child == 0) {
        Port p;
        char c = open_nic(p, ifname, mode) == 0 ? 'y' : 'n';
        (void)!::write(ready[1], &c, 1);
        ::pause();
        _exit(0);
    }
    char c = 0;
    const bool ok = child > 0 && ::read(ready[0], &c, 1) == 1 && c == 'y';
    ::close(ready[0]);
    ::close(ready[1]);
    if (!ok && child > 0) {
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
    }
    return ok ? child : -1;
}

TEST_P(Nic, ReceivesWhatThePeerSendsByteForByte) {
    Port p;
    ASSERT_EQ(open_nic(p, if_a_), 0);
    EXPECT_EQ(p.nifp->ni_rx_rings, 1u);
    if (GetParam() == 1) EXPECT_TRUE(xdp_attached()) << a_link();
    else EXPECT_FALSE(xdp_attached()) << a_link();
    peer_open();
    std::vector<std::vector<uint8_t>> sent;
    for (uint32_t i = 0; i < 200; i++) {
        sent.push_back(make_frame(i, 60 + (i * 37) % 1440));  // 60 .. 1499 bytes
        peer_send(sent.back());
    }
    const auto got = port_recv(p, sent.size(), 5000);
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < sent.size(); i++) EXPECT_EQ(got[i], sent[i]) << "frame " << i;
    p.close();
    EXPECT_FALSE(xdp_attached()) << "the XDP program must go with the last descriptor";
}

TEST_P(Nic, TransmitsFramesThePeerReceives) {
    Port p;
    ASSERT_EQ(open_nic(p, if_a_), 0);
    peer_open();
    netmap_ring* tx = p.tx(0);
    std::vector<std::vector<uint8_t>> sent;
    for (uint32_t batch = 0; batch < 20; batch++) {
        for (uint32_t i = 0; i < 50; i++) {
            const uint32_t seq = batch * 50 + i;
            auto f = make_frame(seq, 60 + (seq * 13) % 1400);
            ASSERT_NE(tx->cur, tx->tail) << "no room on the TX ring";
            netmap_slot& s = tx->slot[tx->cur];
            std::memcpy(Port::buf(tx, s.buf_idx), f.data(), f.size());
            s.len = static_cast<uint16_t>(f.size());
            tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
            sent.push_back(std::move(f));
        }
        ASSERT_EQ(p.txsync(), 0);
        // Drain as we go: the peer's socket buffer is finite.
        auto got = peer_recv(50, 3000);
        ASSERT_EQ(got.size(), 50u) << "batch " << batch;
        for (size_t i = 0; i < got.size(); i++) EXPECT_EQ(got[i], sent[batch * 50 + i]);
    }
    // Completed: the whole ring is the user's again.
    for (int i = 0; i < 100 && nmtest::ring_space(tx) < tx->num_slots - 1; i++) {
        p.txsync();
        usleep(1000);
    }
    EXPECT_EQ(nmtest::ring_space(tx), tx->num_slots - 1);
}

TEST_P(Nic, PollWakesOnAFrameFromThePeer) {
    Port p;
    ASSERT_EQ(open_nic(p, if_a_), 0);
    peer_open();
    std::atomic<bool> go{false};
    std::thread t([&] {
        while (!go) usleep(1000);
        usleep(100000);  // the main thread is asleep in poll by now
        peer_send(make_frame(7, 100));
    });
    go = true;
    const double t0 = nmtest::now_s();
    const int r = p.poll(POLLIN, 5000);
    const double waited = nmtest::now_s() - t0;
    t.join();
    ASSERT_EQ(r, 1);
    EXPECT_LT(waited, 4.0) << "woken by the frame, not by the timeout";
    const auto got = port_recv(p, 1, 1000);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(frame_seq(got[0].data()), 7u);
}

TEST_P(Nic, BadRequestsLeaveTheInterfaceAsItWas) {
    const std::string before = a_link();
    Port p;
    EXPECT_EQ(open_nic(p, "nosuch0"), ENXIO);
    EXPECT_EQ(open_nic(p, if_a_, NR_REG_ONE_NIC, 5), EINVAL);  // one queue only
    EXPECT_EQ(open_nic(p, if_a_, NR_REG_ONE_SW, 1), EINVAL);   // one host ring pair only
    ASSERT_EQ(sh("ip -n " + ns_a_ + " link set " + if_a_ + " down"), 0);
    const std::string down = a_link();
    EXPECT_EQ(open_nic(p, if_a_), ENETDOWN);
    EXPECT_EQ(a_link(), down);
    ASSERT_EQ(sh("ip -n " + ns_a_ + " link set " + if_a_ + " up"), 0);
    EXPECT_FALSE(xdp_attached());
    EXPECT_TRUE(nmtest::NoRegionNoBinding());
    (void)before;
}

TEST_P(Nic, KilledOwnerLeavesTheInterfaceUsable) {
    const pid_t child = fork_holder(if_a_, NR_REG_ALL_NIC);
    ASSERT_GT(child, 0);
    if (GetParam() == 1) {
        EXPECT_TRUE(xdp_attached());
        Port busy;
        EXPECT_EQ(open_nic(busy, if_a_), EBUSY) << "one process at a time serves a NIC natively";
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    EXPECT_FALSE(xdp_attached()) << a_link();
    // And it works again, for us.
    Port p;
    ASSERT_EQ(open_nic(p, if_a_), 0);
    peer_open();
    peer_send(make_frame(1, 80));
    EXPECT_EQ(port_recv(p, 1, 3000).size(), 1u);
}

TEST_P(Nic, EveryQueueIsARingPair) {
    if (GetParam() == 2) GTEST_SKIP() << "emulated mode has one ring pair";
    // Rebuild the pair with 4 queues.
    ASSERT_EQ(sh("ip -n " + ns_a_ + " link del " + if_a_), 0);
    ASSERT_EQ(make_veth(4), 0);
    Port all;
    ASSERT_EQ(open_nic(all, if_a_), 0);
    EXPECT_EQ(all.nifp->ni_rx_rings, 4u);
    EXPECT_EQ(all.nifp->ni_tx_rings, 4u);
    all.close();

    // One thread per queue, each with its own descriptor (-N).
    constexpr uint32_t kFrames = 400;
    std::atomic<uint32_t> total{0};
    std::atomic<int> ready{0}, opened_ok{0};
    std::atomic<bool> stop{false};
    uint32_t per_queue[4] = {};
    std::vector<std::thread> th;
    for (uint32_t q = 0; q < 4; q++)
        th.emplace_back([&, q] {
            Port p;
            const bool ok = open_nic(p, if_a_, NR_REG_ONE_NIC, q) == 0;
            opened_ok += ok;
            ready++;
            if (!ok) return;
            netmap_ring* rx = p.rx(q);
            while (!stop) {
                p.poll(POLLIN, 20);
                while (rx->cur != rx->tail) {
                    per_queue[q]++;
                    total++;
                    rx->head = rx->cur = nmtest::ring_next(rx, rx->cur);
                }
            }
        });
    while (ready < 4) usleep(1000);
    ASSERT_EQ(opened_ok.load(), 4);
    // The peer sends IPv4/UDP (not our ethertype): open a socket for that.
    ASSERT_EQ(enter(ns_b_), 0);
    const int s = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = static_cast<int>(if_nametoindex(if_b_.c_str()));
    ASSERT_EQ(enter(ns_a_), 0);
    ASSERT_GE(s, 0);
    for (uint32_t i = 0; i < kFrames; i++) {
        const auto f = make_udp_frame(i);
        ASSERT_EQ(::sendto(s, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&sll), sizeof sll),
                  static_cast<ssize_t>(f.size()));
    }
    ::close(s);
    for (int i = 0; i < 300 && total < kFrames; i++) usleep(10000);
    stop = true;
    for (auto& t : th) t.join();
    EXPECT_EQ(total.load(), kFrames);
    int used = 0;
    for (uint32_t q = 0; q < 4; q++) used += per_queue[q] > 0;
    EXPECT_GE(used, 2) << "flows should spread over the queues: " << per_queue[0] << " " << per_queue[1] << " "
                       << per_queue[2] << " " << per_queue[3];
}

TEST_P(Nic, MonitorSeesWhatTheNicReceives) {
    Port p, mon;
    ASSERT_EQ(open_nic(p, if_a_), 0);
    ASSERT_EQ(mon.open(if_a_.c_str(), [](nmreq_register& r) { r.nr_flags = NR_MONITOR_RX; }), 0);
    peer_open();
    for (uint32_t i = 0; i < 20; i++) peer_send(make_frame(i, 64 + i));
    const auto got = port_recv(p, 20, 3000);
    ASSERT_EQ(got.size(), 20u);
    const auto copies = port_recv(mon, 20, 3000);
    ASSERT_EQ(copies.size(), 20u);
    for (size_t i = 0; i < copies.size(); i++) EXPECT_EQ(copies[i], got[i]) << "copy " << i;
}

// --- host rings ("^", "*") ---------------------------------------------------

// An IPv4/UDP frame to `dst_mac`, 10.79.0.2:4000 -> 10.79.0.1:`dport`.
std::vector<uint8_t> udp_to_host(const uint8_t dst_mac[6], uint16_t dport, const std::string& payload) {
    std::vector<uint8_t> f(14 + 20 + 8 + payload.size(), 0);
    std::memcpy(f.data(), dst_mac, 6);
    const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x02};
    std::memcpy(f.data() + 6, src, 6);
    f[12] = 0x08;
    uint8_t* ip = f.data() + 14;
    const uint16_t tot = static_cast<uint16_t>(20 + 8 + payload.size());
    ip[0] = 0x45, ip[2] = static_cast<uint8_t>(tot >> 8), ip[3] = static_cast<uint8_t>(tot), ip[8] = 64, ip[9] = 17;
    ip[12] = 10, ip[13] = 79, ip[15] = 2, ip[16] = 10, ip[17] = 79, ip[19] = 1;
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = static_cast<uint8_t>(~sum >> 8), ip[11] = static_cast<uint8_t>(~sum);
    uint8_t* udp = ip + 20;
    udp[0] = 4000 >> 8, udp[1] = 4000 & 0xff, udp[2] = static_cast<uint8_t>(dport >> 8),
    udp[3] = static_cast<uint8_t>(dport);
    udp[4] = static_cast<uint8_t>((8 + payload.size()) >> 8), udp[5] = static_cast<uint8_t>(8 + payload.size());
    std::memcpy(udp + 8, payload.data(), payload.size());  // checksum 0: none (IPv4)
    return f;
}

class NicHost : public Nic {
protected:
    void SetUp() override {
        Nic::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        ASSERT_EQ(sh("ip -n " + ns_a_ + " addr add 10.79.0.1/24 dev " + if_a_), 0);
        ASSERT_EQ(sh("ip -n " + ns_a_ + " neigh add 10.79.0.2 lladdr 02:00:00:00:00:02 nud permanent dev " + if_a_), 0);
        ASSERT_EQ(sh("ip netns exec " + ns_a_ + " ethtool -K " + if_a_ + " tx off tso off gso off"), 0);
        udp_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // made in A: the host stack of <a>
        ASSERT_GE(udp_, 0);
        sockaddr_in me{};
        me.sin_family = AF_INET;
        me.sin_port = htons(7778);
        me.sin_addr.s_addr = htonl(0x0a4f0001);  // 10.79.0.1
        ASSERT_EQ(::bind(udp_, reinterpret_cast<sockaddr*>(&me), sizeof me), 0) << std::strerror(errno);
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, if_a_.c_str(), IFNAMSIZ - 1);
        ASSERT_EQ(::ioctl(udp_, SIOCGIFHWADDR, &ifr), 0);
        std::memcpy(mac_a_, ifr.ifr_hwaddr.sa_data, 6);
        // What reaches <b> as IPv4 (the host's frames when no host ring takes them).
        ASSERT_EQ(enter(ns_b_), 0);
        peer_ip_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(ETH_P_IP);
        sll.sll_ifindex = static_cast<int>(if_nametoindex(if_b_.c_str()));
        ASSERT_EQ(enter(ns_a_), 0);
        ASSERT_GE(peer_ip_, 0);
        ASSERT_EQ(::bind(peer_ip_, reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0);
    }
    void TearDown() override {
        if (udp_ >= 0) ::close(udp_);
        if (peer_ip_ >= 0) ::close(peer_ip_);
        Nic::TearDown();
    }
    // The host stack sends a datagram to 10.79.0.2:7777.
    void host_send(const std::string& payload) {
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(7777);
        to.sin_addr.s_addr = htonl(0x0a4f0002);
        ASSERT_EQ(::sendto(udp_, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                  static_cast<ssize_t>(payload.size()))
            << std::strerror(errno);
    }
    // IPv4 frames to UDP port 7777 that reached <b> within `ms`.
    int peer_ip_count(int ms) {
        int n = 0;
        const double end = nmtest::now_s() + ms / 1000.0;
        uint8_t buf[2048];
        while (nmtest::now_s() < end) {
            pollfd p{peer_ip_, POLLIN, 0};
            if (nmtest::netmap_poll(&p, 1, 20) <= 0) continue;
            const ssize_t len = ::recv(peer_ip_, buf, sizeof buf, MSG_DONTWAIT);
            if (len >= 42 && buf[14 + 9] == 17 && buf[36] == (7777 >> 8) && buf[37] == (7777 & 0xff)) n++;
        }
        return n;
    }
    // Datagrams the host stack delivered to 10.79.0.1:7778, within `ms`.
    std::vector<std::string> host_recv(size_t want, int ms) {
        std::vector<std::string> out;
        const double end = nmtest::now_s() + ms / 1000.0;
        char buf[2048];
        while (out.size() < want && nmtest::now_s() < end) {
            pollfd p{udp_, POLLIN, 0};
            if (nmtest::netmap_poll(&p, 1, 20) <= 0) continue;
            const ssize_t n = ::recv(udp_, buf, sizeof buf, MSG_DONTWAIT);
            if (n >= 0) out.emplace_back(buf, static_cast<size_t>(n));
        }
        return out;
    }
    int udp_ = -1, peer_ip_ = -1;
    uint8_t mac_a_[6] = {};
};

TEST_P(NicHost, HostRxRingTakesWhatTheHostSends) {
    Port p;
    ASSERT_EQ(open_nic(p, if_a_, NR_REG_SW), 0);
    ASSERT_EQ(p.nifp->ni_host_rx_rings, 1u);
    ASSERT_EQ(p.nifp->ni_host_tx_rings, 1u);
    const uint32_t ntx = p.nifp->ni_tx_rings + 1;
    EXPECT_EQ(p.nifp->ring_ofs[ntx + 0], 0) << "'^' binds the host rings only";
    EXPECT_NE(p.nifp->ring_ofs[ntx + p.nifp->ni_rx_rings], 0);
    for (int i = 0; i < 20; i++) host_send("to the host ring " + std::to_string(i) + std::string(i * 50, 'x'));
    const auto got = port_recv(p, 20, 3000, ETH_P_IP);
    ASSERT_EQ(got.size(), 20u);
    for (size_t i = 0; i < got.size(); i++) {
        const std::string want = "to the host ring " + std::to_string(i) + std::string(i * 50, 'x');
        ASSERT_EQ(got[i].size(), 42 + want.size()) << "frame " << i;
        EXPECT_EQ(std::memcmp(got[i].data(), "\x02\x00\x00\x00\x00\x02", 6), 0) << "to the neighbour's address";
        EXPECT_EQ(std::string(got[i].begin() + 42, got[i].end()), want);
    }
    EXPECT_EQ(peer_ip_count(300), 0) << "the host's frames went to the host ring, not to the wire";
    p.close();
    host_send("after close");
    EXPECT_EQ(peer_ip_count(1000), 1) << "with the host rings closed the host reaches the wire again";
}

TEST_P(NicHost, HostTxRingDeliversToTheHostStack) {
    Port p;
    ASSERT_EQ(open_nic(p, if_a_, NR_REG_SW), 0);
    netmap_ring* tx = p.tx(p.nifp->ni_tx_rings);  // the host TX ring follows the NIC rings
    for (uint32_t i = 0; i < 30; i++) {
        const auto f = udp_to_host(mac_a_, 7778, "from the host ring " + std::to_string(i));
        netmap_slot& s = tx->slot[tx->cur];
        std::memcpy(Port::buf(tx, s.buf_idx), f.data(), f.size());
        s.len = static_cast<uint16_t>(f.size());
        tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
    }
    ASSERT_EQ(p.txsync(), 0);
    const auto got = host_recv(30, 3000);
    ASSERT_EQ(got.size(), 30u) << "the stack received them as if from the wire";
    for (size_t i = 0; i < got.size(); i++) EXPECT_EQ(got[i], "from the host ring " + std::to_string(i));
    EXPECT_EQ(peer_ip_count(300), 0) << "into the stack, not out to the peer";
}

TEST_P(NicHost, StarBindsNicAndHostRings) {
    Port p;
    ASSERT_EQ(open_nic(p, if_a_, NR_REG_NIC_SW), 0);
    peer_open();
    for (uint32_t i = 0; i < 5; i++) peer_send(make_frame(i, 100));
    EXPECT_EQ(port_recv(p, 5, 3000).size(), 5u) << "the NIC ring is bound";
    host_send("host");  // (port_recv skips frames of other types: one kind at a time)
    EXPECT_EQ(port_recv(p, 1, 3000, ETH_P_IP).size(), 1u) << "so is the host ring";
}

TEST_P(NicHost, HostRingsGoWithAKilledOwner) {
    const pid_t child = fork_holder(if_a_, NR_REG_SW);
    ASSERT_GT(child, 0);
    host_send("held");
    EXPECT_EQ(peer_ip_count(300), 0);
    Port busy;
    EXPECT_EQ(open_nic(busy, if_a_, NR_REG_SW), EBUSY) << "one process at a time serves the host rings";
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    host_send("free");
    EXPECT_EQ(peer_ip_count(1000), 1) << "the interface is back to normal";
    Port again;
    EXPECT_EQ(open_nic(again, if_a_, NR_REG_SW), 0);
}

TEST_P(NicHost, MonitorOfTheHostRingsSeesBothWays) {
    Port p, mon;
    ASSERT_EQ(open_nic(p, if_a_, NR_REG_SW), 0);
    ASSERT_EQ(mon.open(if_a_.c_str(),
                       [](nmreq_register& r) {
                           r.nr_mode = NR_REG_SW;
                           r.nr_flags = NR_MONITOR_TX | NR_MONITOR_RX;
                       }),
              0);
    ASSERT_EQ(mon.nifp->ni_host_rx_rings, 1u) << "the monitor mirrors the host ring";
    host_send("seen by the monitor");
    const auto got = port_recv(p, 1, 3000, ETH_P_IP);
    ASSERT_EQ(got.size(), 1u);
    // And the other way: a frame the application puts on the host TX ring.
    netmap_ring* tx = p.tx(p.nifp->ni_tx_rings);
    const auto f = udp_to_host(mac_a_, 7778, "into the stack");
    netmap_slot& s = tx->slot[tx->cur];
    std::memcpy(Port::buf(tx, s.buf_idx), f.data(), f.size());
    s.len = static_cast<uint16_t>(f.size());
    tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
    ASSERT_EQ(p.txsync(), 0);
    ASSERT_EQ(host_recv(1, 3000).size(), 1u);
    const auto copies = port_recv(mon, 2, 3000, ETH_P_IP);
    ASSERT_EQ(copies.size(), 2u);
    EXPECT_EQ(copies[0], got[0]) << "host RX copied";
    EXPECT_EQ(copies[1], f) << "host TX copied";
}

INSTANTIATE_TEST_SUITE_P(Modes, NicHost, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& i) {
                             return i.param == 1 ? std::string("Native") : std::string("Emulated");
                         });

// --- several host rings ("@conf:host-rings=N", "^N") -------------------------

// Open the host rings of `ifname` in `mode`/`ringid`, asking for `host`
// host ring pairs (what matters only to the registration creating the port).
int open_host(Port& p, const std::string& ifname, uint32_t mode, uint32_t ringid, uint16_t host) {
    return p.open(ifname.c_str(), [&](nmreq_register& r) {
        r.nr_mode = mode;
        r.nr_ringid = ringid;
        r.nr_host_tx_rings = r.nr_host_rx_rings = host;
    });
}

// The host RX rings `p` binds: (host ring index, payload) of every UDP
// datagram to port 7777 received within `ms`, until `want` of them.
std::vector<std::pair<uint32_t, std::string>> host_ring_recv(Port& p, size_t want, int ms) {
    std::vector<std::pair<uint32_t, std::string>> out;
    const uint32_t nic = p.nifp->ni_rx_rings, nhost = p.nifp->ni_host_rx_rings;
    const uint32_t ntx = p.nifp->ni_tx_rings + p.nifp->ni_host_tx_rings;
    const double end = nmtest::now_s() + ms / 1000.0;
    while (out.size() < want && nmtest::now_s() < end) {
        p.poll(POLLIN, 50);
        for (uint32_t h = 0; h < nhost; h++) {
            if (!p.nifp->ring_ofs[ntx + nic + h]) continue;
            netmap_ring* rx = p.rx(nic + h);
            for (; rx->cur != rx->tail; rx->head = rx->cur = nmtest::ring_next(rx, rx->cur)) {
                const netmap_slot& s = rx->slot[rx->cur];
                const auto* b = reinterpret_cast<const uint8_t*>(Port::buf(rx, s.buf_idx));
                if (s.len > 42 && b[12] == 0x08 && b[13] == 0 && b[14 + 9] == 17 && b[36] == (7777 >> 8) &&
                    b[37] == (7777 & 0xff))
                    out.emplace_back(h, std::string(reinterpret_cast<const char*>(b) + 42, s.len - 42u));
            }
        }
    }
    return out;
}

class NicHostRings : public NicHost {
protected:
    void TearDown() override {
        for (int s : flows_) ::close(s);
        NicHost::TearDown();
    }
    // `n` UDP flows of the host stack to 10.79.0.2:7777, each from its own
    // source port; flow f sends "flow f seq s" for s in [0, per_flow).
    void send_flows(int n, int per_flow) {
        for (int f = static_cast<int>(flows_.size()); f < n; f++) {
            const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            ASSERT_GE(s, 0);
            flows_.push_back(s);
        }
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(7777);
        to.sin_addr.s_addr = htonl(0x0a4f0002);
        for (int seq = 0; seq < per_flow; seq++)
            for (int f = 0; f < n; f++) {
                const std::string m = "flow " + std::to_string(f) + " seq " + std::to_string(seq);
                ASSERT_EQ(::sendto(flows_[static_cast<size_t>(f)], m.data(), m.size(), 0,
                                   reinterpret_cast<sockaddr*>(&to), sizeof to),
                          static_cast<ssize_t>(m.size()))
                    << std::strerror(errno);
            }
    }
    // Every datagram of send_flows(n, per_flow) is in `got` exactly once,
    // each flow on one ring and in order; returns the rings used per flow.
    std::vector<uint32_t> check_flows(const std::vector<std::pair<uint32_t, std::string>>& got, int n, int per_flow) {
        std::vector<uint32_t> ring_of(static_cast<size_t>(n), ~0u);
        std::vector<int> next(static_cast<size_t>(n), 0);
        for (const auto& [ring, m] : got) {
            int f = -1, seq = -1;
            if (std::sscanf(m.c_str(), "flow %d seq %d", &f, &seq) != 2 || f < 0 || f >= n) {
                ADD_FAILURE() << "not ours: " << m;
                continue;
            }
            auto fi = static_cast<size_t>(f);
            EXPECT_EQ(seq, next[fi]) << "flow " << f << ": in order, each datagram once";
            next[fi] = seq + 1;
            if (ring_of[fi] == ~0u) ring_of[fi] = ring;
            EXPECT_EQ(ring, ring_of[fi]) << "flow " << f << " stays on one host ring";
        }
        for (int f = 0; f < n; f++) EXPECT_EQ(next[static_cast<size_t>(f)], per_flow) << "flow " << f << " complete";
        return ring_of;
    }
    std::vector<int> flows_;
};

TEST_P(NicHostRings, FlowsSpreadOverTheHostRings) {
    Port p;
    ASSERT_EQ(open_host(p, if_a_, NR_REG_SW, 0, 4), 0);
    EXPECT_EQ(p.reg.nr_host_rx_rings, 4u);
    EXPECT_EQ(p.reg.nr_host_tx_rings, 4u);
    ASSERT_EQ(p.nifp->ni_host_rx_rings, 4u);
    ASSERT_EQ(p.nifp->ni_host_tx_rings, 4u);
    const uint32_t ntx = p.nifp->ni_tx_rings + 4, nic = p.nifp->ni_rx_rings;
    for (uint32_t h = 0; h < 4; h++) {
        EXPECT_NE(p.nifp->ring_ofs[nic + h], 0) << "host TX ring " << h << " bound";
        EXPECT_NE(p.nifp->ring_ofs[ntx + nic + h], 0) << "host RX ring " << h << " bound";
    }
    constexpr int kFlows = 32, kPer = 4;
    send_flows(kFlows, kPer);
    const auto got = host_ring_recv(p, kFlows * kPer, 5000);
    ASSERT_EQ(got.size(), static_cast<size_t>(kFlows * kPer));
    const auto rings = check_flows(got, kFlows, kPer);
    std::set<uint32_t> used(rings.begin(), rings.end());
    EXPECT_GE(used.size(), 2u) << "32 flows over 4 rings all on one ring: the hash is not used";
    EXPECT_EQ(peer_ip_count(300), 0) << "nothing reached the wire";
    // Every host TX ring injects into the stack.
    for (uint32_t h = 0; h < 4; h++) {
        netmap_ring* tx = p.tx(nic + h);
        const auto f = udp_to_host(mac_a_, 7778, "from host TX ring " + std::to_string(h));
        netmap_slot& s = tx->slot[tx->cur];
        std::memcpy(Port::buf(tx, s.buf_idx), f.data(), f.size());
        s.len = static_cast<uint16_t>(f.size());
        tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
    }
    ASSERT_EQ(p.txsync(), 0);
    auto in = host_recv(4, 3000);
    ASSERT_EQ(in.size(), 4u);
    std::sort(in.begin(), in.end());
    for (uint32_t h = 0; h < 4; h++) EXPECT_EQ(in[h], "from host TX ring " + std::to_string(h));
}

TEST_P(NicHostRings, OneDescriptorPerHostRing) {
    // The first registration decides the count; "^0" and "^1" each bind
    // one pair, as a multi-threaded capture opens them.
    Port r0, r1;
    ASSERT_EQ(open_host(r0, if_a_, NR_REG_ONE_SW, 0, 2), 0);
    ASSERT_EQ(open_host(r1, if_a_, NR_REG_ONE_SW, 1, 0), 0);
    EXPECT_EQ(r1.reg.nr_host_rx_rings, 2u) << "the port's count comes back";
    const uint32_t nic = r1.nifp->ni_rx_rings, ntx = r1.nifp->ni_tx_rings + 2;
    for (uint32_t i = 0; i < nic; i++) {
        EXPECT_EQ(r1.nifp->ring_ofs[i], 0);
        EXPECT_EQ(r1.nifp->ring_ofs[ntx + i], 0);
    }
    EXPECT_EQ(r1.nifp->ring_ofs[nic + 0], 0) << "^1 does not bind host TX ring 0";
    EXPECT_EQ(r1.nifp->ring_ofs[ntx + nic + 0], 0) << "nor host RX ring 0";
    EXPECT_NE(r1.nifp->ring_ofs[nic + 1], 0);
    EXPECT_NE(r1.nifp->ring_ofs[ntx + nic + 1], 0);
    EXPECT_EQ(r0.nifp->ring_ofs[ntx + nic + 1], 0) << "^0 does not bind host RX ring 1";
    EXPECT_NE(r0.nifp->ring_ofs[ntx + nic + 0], 0);

    constexpr int kFlows = 32, kPer = 3;
    send_flows(kFlows, kPer);
    auto got = host_ring_recv(r0, kFlows * kPer, 1500);
    const size_t on0 = got.size();
    for (const auto& [ring, m] : got) EXPECT_EQ(ring, 0u);
    const auto got1 = host_ring_recv(r1, kFlows * kPer - on0, 3000);
    for (const auto& [ring, m] : got1) EXPECT_EQ(ring, 1u);
    got.insert(got.end(), got1.begin(), got1.end());
    ASSERT_EQ(got.size(), static_cast<size_t>(kFlows * kPer)) << on0 << " on ^0, " << got1.size() << " on ^1";
    check_flows(got, kFlows, kPer);
    EXPECT_GT(on0, 0u);
    EXPECT_GT(got1.size(), 0u);

    // Closing ^0 leaves ^1 served (the programs are shared).
    r0.close();
    send_flows(kFlows, 1);  // flows_ already made: one more datagram each ("seq 0" again)
    const auto again = host_ring_recv(r1, got1.size() / kPer, 3000);
    EXPECT_EQ(again.size(), got1.size() / kPer) << "the flows of ring 1 still arrive there";
}

TEST_P(NicHostRings, BadHostRingRequestsAreRefused) {
    Port p;
    ASSERT_EQ(open_host(p, if_a_, NR_REG_SW, 0, 2), 0);
    Port bad;
    EXPECT_EQ(open_host(bad, if_a_, NR_REG_ONE_SW, 2, 0), EINVAL) << "the port has host rings 0 and 1";
    EXPECT_EQ(open_host(bad, if_a_, NR_REG_ONE_SW, 1000, 0), EINVAL);
    EXPECT_EQ(open_host(bad, if_a_, NR_REG_SW, 0, 17), EINVAL) << "more host rings than a port can have";
    Port other;
    EXPECT_EQ(open_host(other, if_a_, NR_REG_ALL_NIC, 0, 3), 0) << "a different count is no error";
    EXPECT_EQ(other.reg.nr_host_rx_rings, 2u) << "netmap: the port keeps the count it was created with";
    EXPECT_EQ(other.nifp->ni_host_tx_rings, 2u);
    other.close();
    // Still served as before.
    send_flows(8, 1);
    EXPECT_EQ(host_ring_recv(p, 8, 3000).size(), 8u);
    p.close();
    // A fresh port takes the count of its first registration; too many on
    // a fresh port leaves no port behind.
    EXPECT_EQ(open_host(bad, if_a_, NR_REG_SW, 0, 17), EINVAL);
    EXPECT_EQ(open_host(p, if_a_, NR_REG_SW, 0, 3), 0);
    EXPECT_EQ(p.nifp->ni_host_rx_rings, 3u);
}

INSTANTIATE_TEST_SUITE_P(Modes, NicHostRings, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& i) {
                             return i.param == 1 ? std::string("Native") : std::string("Emulated");
                         });

// --- jumbo frames: NS_MOREFRAG chains (emulated mode) -------------------------

TEST_P(Nic, JumboFramesAreChains) {
    ASSERT_EQ(sh("ip -n " + ns_a_ + " link set " + if_a_ + " mtu 9000"), 0);
    ASSERT_EQ(sh("ip -n " + ns_b_ + " link set " + if_b_ + " mtu 9000"), 0);
    Port p;
    if (GetParam() == 1) {
        EXPECT_EQ(open_nic(p, if_a_), EOPNOTSUPP) << "native mode cannot take frames beyond a buffer";
        return;
    }
    ASSERT_EQ(open_nic(p, if_a_), 0);
    peer_open();
    const auto big = make_frame(1, 9014);
    peer_send(big);
    const auto got = port_recv(p, 1, 3000);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], big);
    // And out: a 6000-byte frame in three slots.
    const auto out = make_frame(2, 6000);
    netmap_ring* tx = p.tx(0);
    const uint32_t bsz = tx->nr_buf_size;
    for (uint32_t off = 0; off < out.size(); off += bsz) {
        netmap_slot& s = tx->slot[tx->cur];
        const uint32_t n = std::min<uint32_t>(bsz, static_cast<uint32_t>(out.size()) - off);
        std::memcpy(Port::buf(tx, s.buf_idx), out.data() + off, n);
        s.len = static_cast<uint16_t>(n);
        s.flags = off + n < out.size() ? NS_MOREFRAG : 0;
        tx->head = tx->cur = nmtest::ring_next(tx, tx->cur);
    }
    ASSERT_EQ(p.txsync(), 0);
    const auto seen = peer_recv(1, 3000);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], out);
}

// The tests' safety net: with UNETMAP_NIC_NETNS_ONLY=1 (test_main sets
// it) no NIC of the machine's own namespace can be opened, whatever name
// a test or a fuzzer comes up with.
TEST(NicGuard, RefusedInTheMachinesOwnNamespace) {
    if (::geteuid() != 0) GTEST_SKIP() << "without root every NIC is refused anyway";
    ASSERT_STREQ(std::getenv("UNETMAP_NIC_NETNS_ONLY"), "1");
    Port p;
    EXPECT_EQ(open_nic(p, "lo"), EPERM);
    EXPECT_TRUE(nmtest::NoRegionNoBinding());
}

INSTANTIATE_TEST_SUITE_P(Modes, Nic, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& i) {
                             return i.param == 1 ? std::string("Native") : std::string("Emulated");
                         });

}  // namespace
