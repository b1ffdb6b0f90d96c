// Behaviour of the inline helpers of net/netmap_user.h (ring arithmetic,
// buffer addressing, nm_inject/nm_dispatch/nm_nextpkt/nm_parse) on a
// port laid out by hand in ordinary memory, the way netmap lays out the
// shared region: netmap_if, then the rings, then the buffers.
#define NETMAP_WITH_LIBS
#include <net/netmap_user.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Writes a value into a field the headers declare const (the kernel side
// fills those in; here the test plays the kernel).
template <typename T, typename F>
void poke(F *field, T value) {
  static_assert(sizeof(F) == sizeof(T));
  std::memcpy(const_cast<std::remove_const_t<F> *>(field), &value, sizeof(T));
}

class FakePort {
 public:
  static constexpr uint32_t kSlots = 8;
  static constexpr uint32_t kBufSize = 256;

  FakePort(uint32_t tx, uint32_t htx, uint32_t rx, uint32_t hrx)
      : nrings_(tx + htx + rx + hrx) {
    const size_t ring_size = 256 + kSlots * sizeof(struct netmap_slot);
    rings_ofs_ = 4096;
    bufs_ofs_ = rings_ofs_ + nrings_ * ring_size;
    size_ = bufs_ofs_ + size_t{nrings_} * kSlots * kBufSize;
    size_ = (size_ + 4095) / 4096 * 4096;  // aligned_alloc wants a multiple
    mem_ = static_cast<char *>(std::aligned_alloc(4096, size_));
    std::memset(mem_, 0, size_);

    nifp_ = NETMAP_IF(mem_, 0);
    std::strcpy(nifp_->ni_name, "fake0");
    poke(&nifp_->ni_version, uint32_t{NETMAP_API});
    poke(&nifp_->ni_tx_rings, tx);
    poke(&nifp_->ni_rx_rings, rx);
    poke(&nifp_->ni_host_tx_rings, htx);
    poke(&nifp_->ni_host_rx_rings, hrx);
    for (uint32_t r = 0; r < nrings_; r++) {
      const ssize_t ofs = static_cast<ssize_t>(rings_ofs_ + r * ring_size);
      poke(&nifp_->ring_ofs[r], ofs);
      auto *ring = reinterpret_cast<struct netmap_ring *>(mem_ + ofs);
      poke(&ring->buf_ofs, static_cast<int64_t>(bufs_ofs_) - ofs);
      poke(&ring->num_slots, kSlots);
      poke(&ring->nr_buf_size, kBufSize);
      poke(&ring->ringid, static_cast<uint16_t>(r));
      poke(&ring->dir, static_cast<uint16_t>(r >= tx + htx ? 1 : 0));
      for (uint32_t s = 0; s < kSlots; s++) {
        // a permuted buffer assignment, so that index != slot number
        ring->slot[s].buf_idx = r * kSlots + (kSlots - 1 - s);
      }
    }
    desc_ = static_cast<struct nm_desc *>(std::calloc(1, sizeof(*desc_)));
    desc_->self = desc_;
    desc_->fd = -1;
    desc_->mem = mem_;
    desc_->memsize = size_;
    poke(&desc_->nifp, nifp_);
  }
  ~FakePort() {
    std::free(desc_);
    std::free(mem_);
  }
  FakePort(const FakePort &) = delete;
  FakePort &operator=(const FakePort &) = delete;

  struct netmap_if *nifp() { return nifp_; }
  struct nm_desc *desc() { return desc_; }
  struct netmap_ring *ring(uint32_t r) {
    return reinterpret_cast<struct netmap_ring *>(mem_ + nifp_->ring_ofs[r]);
  }
  char *buf_base() { return mem_ + bufs_ofs_; }

  // Kernel side of an rx ring: append a packet made of the given
  // fragments (NS_MOREFRAG on all but the last) at tail.
  void deliver(struct netmap_ring *r, const std::vector<std::string> &frags) {
    for (size_t k = 0; k < frags.size(); k++) {
      struct netmap_slot *s = &r->slot[r->tail];
      std::memcpy(NETMAP_BUF(r, s->buf_idx), frags[k].data(), frags[k].size());
      s->len = static_cast<uint16_t>(frags[k].size());
      s->flags = k + 1 < frags.size() ? NS_MOREFRAG : 0;
      r->tail = nm_ring_next(r, r->tail);
    }
  }

 private:
  uint32_t nrings_;
  size_t rings_ofs_ = 0, bufs_ofs_ = 0, size_ = 0;
  char *mem_ = nullptr;
  struct netmap_if *nifp_ = nullptr;
  struct nm_desc *desc_ = nullptr;
};

TEST(UserHelpers, RingIndexArithmetic) {
  FakePort port(1, 1, 1, 1);
  struct netmap_ring *r = NETMAP_TXRING(port.nifp(), 0);
  EXPECT_EQ(nm_ring_next(r, 0), 1u);
  EXPECT_EQ(nm_ring_next(r, FakePort::kSlots - 1), 0u);

  r->head = r->cur = 2;
  r->tail = 6;
  EXPECT_EQ(nm_ring_space(r), 4u);
  EXPECT_FALSE(nm_ring_empty(r));
  r->tail = 1;  // wrapped
  EXPECT_EQ(nm_ring_space(r), FakePort::kSlots - 1);
  r->tail = 2;
  EXPECT_EQ(nm_ring_space(r), 0u);
  EXPECT_TRUE(nm_ring_empty(r));

  // tx completion: nothing pending once head == tail + 1
  r->tail = 1;
  EXPECT_FALSE(nm_tx_pending(r));
  r->tail = 5;
  EXPECT_TRUE(nm_tx_pending(r));
}

TEST(UserHelpers, RxRingsFollowHostTxRings) {
  // 2 NIC tx, 1 host tx, 3 NIC rx, 1 host rx
  FakePort port(2, 1, 3, 1);
  struct netmap_if *nifp = port.nifp();
  EXPECT_EQ(NETMAP_TXRING(nifp, 0), port.ring(0));
  EXPECT_EQ(NETMAP_TXRING(nifp, 2), port.ring(2));  // host tx ring
  EXPECT_EQ(NETMAP_RXRING(nifp, 0), port.ring(3));
  EXPECT_EQ(NETMAP_RXRING(nifp, 3), port.ring(6));  // host rx ring
  EXPECT_EQ(NETMAP_RXRING(nifp, 1)->ringid, 4);
}

TEST(UserHelpers, BufferAddressingAndOffsets) {
  FakePort port(1, 0, 1, 0);
  struct netmap_ring *r = port.ring(1);
  EXPECT_EQ(NETMAP_BUF(r, 0), port.buf_base());
  EXPECT_EQ(NETMAP_BUF(r, 5), port.buf_base() + 5 * FakePort::kBufSize);
  EXPECT_EQ(NETMAP_BUF_IDX(r, NETMAP_BUF(r, 11)), 11);

  struct netmap_slot *s = &r->slot[0];
  s->ptr = 0xabcd000000000000ull;
  // without the offsets option the mask is zero: offsets read as 0
  EXPECT_EQ(NETMAP_ROFFSET(r, s), 0u);
  poke(&r->offset_mask, uint64_t{0xfff});
  NETMAP_WOFFSET(r, s, 0x1040);  // cropped to the mask
  EXPECT_EQ(s->ptr, 0xabcd000000000040ull);
  EXPECT_EQ(NETMAP_ROFFSET(r, s), 0x40u);
  EXPECT_EQ(NETMAP_BUF_OFFSET(r, s), NETMAP_BUF(r, s->buf_idx) + 0x40);
}

TEST(UserHelpers, PktCopy) {
  alignas(8) unsigned char src[2048], dst[2048];
  for (size_t i = 0; i < sizeof(src); i++) src[i] = static_cast<unsigned char>(i * 7);
  for (int len : {0, 1, 60, 64, 128, 960, 1000, 1024, 1500}) {
    std::memset(dst, 0xee, sizeof(dst));
    nm_pkt_copy(src, dst, len);
    EXPECT_EQ(std::memcmp(src, dst, static_cast<size_t>(len)), 0) << len;
    EXPECT_EQ(dst[len], 0xee) << "overrun at " << len;
  }
}

TEST(UserHelpers, InjectFillsSlotsAndAdvancesHeadCur) {
  FakePort port(2, 0, 1, 0);
  struct nm_desc *d = port.desc();
  d->first_tx_ring = d->cur_tx_ring = 0;
  d->last_tx_ring = 1;
  struct netmap_ring *t0 = port.ring(0), *t1 = port.ring(1);
  t0->head = t0->cur = 0;
  t0->tail = 2;  // two free slots
  t1->head = t1->cur = 3;
  t1->tail = 2;  // seven free slots, wrapping

  const std::string small(100, 'a');
  EXPECT_EQ(nm_inject(d, small.data(), small.size()), 100);
  EXPECT_EQ(t0->slot[0].len, 100);
  EXPECT_EQ(t0->slot[0].flags, 0);
  EXPECT_EQ(std::memcmp(NETMAP_BUF(t0, t0->slot[0].buf_idx), small.data(), 100), 0);
  EXPECT_EQ(t0->head, 1u);
  EXPECT_EQ(t0->cur, 1u);

  // 600 bytes need 3 slots of 256: ring 0 has only one left, so ring 1
  // is used, fragments chained with NS_MOREFRAG.
  std::string big(600, '\0');
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i);
  EXPECT_EQ(nm_inject(d, big.data(), big.size()), 600);
  EXPECT_EQ(d->cur_tx_ring, 1);
  EXPECT_EQ(t0->head, 1u);
  EXPECT_EQ(t1->slot[3].len, 256);
  EXPECT_EQ(t1->slot[3].flags, NS_MOREFRAG);
  EXPECT_EQ(t1->slot[4].len, 256);
  EXPECT_EQ(t1->slot[4].flags, NS_MOREFRAG);
  EXPECT_EQ(t1->slot[5].len, 88);
  EXPECT_EQ(t1->slot[5].flags, 0);
  EXPECT_EQ(std::memcmp(NETMAP_BUF(t1, t1->slot[4].buf_idx), big.data() + 256, 256), 0);
  EXPECT_EQ(std::memcmp(NETMAP_BUF(t1, t1->slot[5].buf_idx), big.data() + 512, 88), 0);
  EXPECT_EQ(t1->head, 6u);
  EXPECT_EQ(t1->cur, 6u);

  // exactly one full buffer fits in one slot
  const std::string full(256, 'f');
  EXPECT_EQ(nm_inject(d, full.data(), full.size()), 256);
  EXPECT_EQ(t1->slot[6].len, 256);
  EXPECT_EQ(t1->slot[6].flags, 0);

  // no ring has room for 4 slots: nothing changes
  EXPECT_EQ(nm_inject(d, std::string(1000, 'x').data(), 1000), 0);
  EXPECT_EQ(t0->head, 1u);
  EXPECT_EQ(t1->head, 7u);
}

struct Seen {
  std::vector<std::string> data;  // caplen bytes of each packet
  std::vector<uint32_t> len;
  std::vector<uint64_t> flags;
};

void collect(unsigned char *arg, const struct nm_pkthdr *h, const unsigned char *buf) {
  auto *seen = reinterpret_cast<Seen *>(arg);
  seen->data.emplace_back(reinterpret_cast<const char *>(buf), h->caplen);
  seen->len.push_back(h->len);
  seen->flags.push_back(h->flags);
  EXPECT_EQ(h->buf, buf);
  EXPECT_NE(h->d, nullptr);
}

TEST(UserHelpers, DispatchWalksRingsAndJoinsFragments) {
  FakePort port(1, 0, 2, 0);
  struct nm_desc *d = port.desc();
  d->first_rx_ring = d->cur_rx_ring = 0;
  d->last_rx_ring = 1;
  struct netmap_ring *r0 = NETMAP_RXRING(port.nifp(), 0);
  struct netmap_ring *r1 = NETMAP_RXRING(port.nifp(), 1);

  port.deliver(r0, {"one"});
  port.deliver(r0, {std::string(256, 'A'), "tail"});  // 2 fragments
  port.deliver(r1, {"three"});

  Seen seen;
  EXPECT_EQ(nm_dispatch(d, 0, collect, reinterpret_cast<unsigned char *>(&seen)), 3);
  ASSERT_EQ(seen.data.size(), 3u);
  EXPECT_EQ(seen.data[0], "one");
  EXPECT_EQ(seen.len[1], 260u);
  // fragments live in non-adjacent buffers here: caplen is the first one
  EXPECT_EQ(seen.data[1], std::string(256, 'A'));
  EXPECT_EQ(seen.data[2], "three");
  EXPECT_EQ(seen.flags[0], uint64_t{NM_MORE_PKTS});
  EXPECT_EQ(seen.flags[1], uint64_t{NM_MORE_PKTS});
  EXPECT_EQ(seen.flags[2], 0u);
  EXPECT_TRUE(nm_ring_empty(r0));
  EXPECT_TRUE(nm_ring_empty(r1));
  EXPECT_EQ(r0->head, 3u);
  EXPECT_EQ(r0->cur, 3u);
  EXPECT_EQ(d->cur_rx_ring, 1);

  // nothing left: no callback
  Seen none;
  EXPECT_EQ(nm_dispatch(d, -1, collect, reinterpret_cast<unsigned char *>(&none)), 0);
  EXPECT_TRUE(none.data.empty());
}

TEST(UserHelpers, DispatchCaplenCoversContiguousFragments) {
  FakePort port(1, 0, 1, 0);
  struct nm_desc *d = port.desc();
  d->first_rx_ring = d->cur_rx_ring = d->last_rx_ring = 0;
  struct netmap_ring *r = NETMAP_RXRING(port.nifp(), 0);
  // slots 0..2 get adjacent buffers 13..15 (slots 3, 4 keep 12, 11)
  for (uint32_t s = 0; s < 3; s++) r->slot[s].buf_idx = 13 + s;
  port.deliver(r, {std::string(256, 'x'), std::string(256, 'y'), "zz"});
  // a packet whose NS_MOREFRAG chain runs into tail is cut there
  port.deliver(r, {"p", "q"});
  r->tail = 4;  // hide the last fragment from the application

  Seen seen;
  EXPECT_EQ(nm_dispatch(d, 0, collect, reinterpret_cast<unsigned char *>(&seen)), 2);
  ASSERT_EQ(seen.data.size(), 2u);
  EXPECT_EQ(seen.len[0], 514u);
  EXPECT_EQ(seen.data[0], std::string(256, 'x') + std::string(256, 'y') + "zz");
  EXPECT_EQ(seen.len[1], 1u);
  EXPECT_EQ(r->head, 4u);
}

TEST(UserHelpers, DispatchHonoursCount) {
  FakePort port(1, 0, 1, 0);
  struct nm_desc *d = port.desc();
  d->first_rx_ring = d->cur_rx_ring = d->last_rx_ring = 0;
  struct netmap_ring *r = NETMAP_RXRING(port.nifp(), 0);
  for (const char *p : {"a", "b", "c", "d"}) port.deliver(r, {p});

  Seen seen;
  EXPECT_EQ(nm_dispatch(d, 3, collect, reinterpret_cast<unsigned char *>(&seen)), 3);
  EXPECT_EQ(seen.data, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(seen.flags.back(), 0u);
  EXPECT_EQ(nm_ring_space(r), 1u);
}

TEST(UserHelpers, NextPktRoundRobinsFromCurrentRing) {
  FakePort port(1, 0, 3, 0);
  struct nm_desc *d = port.desc();
  d->first_rx_ring = 0;
  d->last_rx_ring = 2;
  d->cur_rx_ring = 1;
  port.deliver(NETMAP_RXRING(port.nifp(), 0), {"r0"});
  port.deliver(NETMAP_RXRING(port.nifp(), 2), {"r2"});

  struct nm_pkthdr h {};
  unsigned char *p = nm_nextpkt(d, &h);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<char *>(p), h.caplen), "r2");
  EXPECT_EQ(h.len, 2u);
  EXPECT_EQ(d->cur_rx_ring, 2);
  p = nm_nextpkt(d, &h);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<char *>(p), h.caplen), "r0");
  EXPECT_EQ(d->cur_rx_ring, 0);
  EXPECT_EQ(nm_nextpkt(d, &h), nullptr);
  EXPECT_TRUE(nm_ring_empty(NETMAP_RXRING(port.nifp(), 0)));
}

struct ParseCase {
  const char *name;
  const char *nr_name;
  uint32_t flags;
  uint16_t ringid;
  uint16_t memid;
};

TEST(UserHelpers, ParseAcceptsUpstreamNameSyntax) {
  const ParseCase cases[] = {
      {"netmap:eth0", "eth0", NR_REG_ALL_NIC, 0, 0},
      {"netmap:eth0^", "eth0", NR_REG_SW, 0, 0},
      {"netmap:eth0*", "eth0", NR_REG_NIC_SW, 0, 0},
      {"netmap:eth0-3", "eth0", NR_REG_ONE_NIC, 3, 0},
      {"netmap:eth0{7", "eth0", NR_REG_PIPE_MASTER, 7, 0},
      {"netmap:eth0}7", "eth0", NR_REG_PIPE_SLAVE, 7, 0},
      {"netmap:eth0/xT", "eth0", NR_REG_ALL_NIC | NR_EXCLUSIVE | NR_TX_RINGS_ONLY, 0, 0},
      {"netmap:eth0-2/rz@4", "eth0",
       NR_REG_ONE_NIC | NR_MONITOR_RX | NR_ZCOPY_MON, 2, 4},
      {"netmap:eth0@9", "eth0", NR_REG_ALL_NIC, 0, 9},
      {"vale0:p_1", "vale0:p_1", NR_REG_ALL_NIC, 0, 0},
      {"valeA:b{1/R", "valeA:b", NR_REG_PIPE_MASTER | NR_RX_RINGS_ONLY, 1, 0},
  };
  for (const ParseCase &c : cases) {
    struct nm_desc d {};
    char err[MAXERRMSG] = "";
    ASSERT_EQ(nm_parse(c.name, &d, err), 0) << c.name << ": " << err;
    EXPECT_STREQ(d.req.nr_name, c.nr_name) << c.name;
    EXPECT_EQ(d.req.nr_flags, c.flags) << c.name;
    EXPECT_EQ(d.req.nr_ringid, c.ringid) << c.name;
    EXPECT_EQ(d.req.nr_arg2, c.memid) << c.name;
    EXPECT_EQ(d.self, &d) << c.name;
  }
}

TEST(UserHelpers, ParseRejectsBadNames) {
  for (const char *bad :
       {"netmap:eth0-", "netmap:eth0-5000", "netmap:eth0/q", "netmap:eth0^3",
        "netmap:eth0@0", "netmap:eth0@1@2", "vale0p1", "vale-x:p", "vale0:p.1",
        "netmap:a_very_long_interface_name", "eth0", "netmap:eth0/"}) {
    struct nm_desc d {};
    char err[MAXERRMSG] = "";
    errno = 0;
    EXPECT_EQ(nm_parse(bad, &d, err), -1) << bad;
    EXPECT_EQ(errno, EINVAL) << bad;
    EXPECT_NE(err[0], '\0') << bad;
  }
}

}  // namespace
