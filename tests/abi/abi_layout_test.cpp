// C++20 ABI check of the netmap headers: the same literal table as the
// C11 program (abi_expected.h, derived from upstream netmap API 14 on
// x86_64), checked from C++ so that the C++ view of the structs (flexible
// arrays, const members, alignment attribute) is verified as well.
#define NETMAP_WITH_LIBS
#include <net/netmap_user.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "abi_expected.h"

namespace {

// Compile-time checks of the sizes every other layout depends on.
static_assert(sizeof(struct netmap_slot) == 16);
static_assert(sizeof(struct netmap_ring) == 256);
static_assert(alignof(struct netmap_ring) == 128);
static_assert(sizeof(struct netmap_if) == 56);
static_assert(sizeof(struct nmreq_header) == 88);
static_assert(sizeof(struct nmreq_option) == 24);
static_assert(sizeof(struct nmreq_register) == 56);
static_assert(sizeof(struct nmreq) == 60);
static_assert(sizeof(struct nm_desc) == 760);

#define CHECK_SIZE(type, n) \
  EXPECT_EQ(sizeof(struct type), std::size_t{n}) << "sizeof(struct " #type ")";
#define CHECK_ALIGN(type, n) \
  EXPECT_EQ(alignof(struct type), std::size_t{n}) << "alignof(struct " #type ")";
#define CHECK_OFFSET(type, member, n)                   \
  EXPECT_EQ(offsetof(struct type, member), std::size_t{n}) \
      << "offsetof(struct " #type ", " #member ")";
#define CHECK_MSIZE(type, member, n)                                  \
  EXPECT_EQ(sizeof(static_cast<struct type *>(nullptr)->member),     \
            std::size_t{n})                                           \
      << "sizeof(struct " #type "." #member ")";
#define CHECK_CONST(name, v)                                        \
  EXPECT_EQ(static_cast<unsigned long long>(name),                  \
            static_cast<unsigned long long>(v))                     \
      << #name;

TEST(AbiLayout, StructSizes) {
  ABI_SIZES(CHECK_SIZE)
  ABI_SIZES_LIBS(CHECK_SIZE)
}

TEST(AbiLayout, StructAlignment) {
  ABI_ALIGNS(CHECK_ALIGN)
  ABI_ALIGNS_LIBS(CHECK_ALIGN)
}

TEST(AbiLayout, MemberOffsets) {
  ABI_OFFSETS(CHECK_OFFSET)
  ABI_OFFSETS_LIBS(CHECK_OFFSET)
}

TEST(AbiLayout, MemberSizes) {
  ABI_MSIZES(CHECK_MSIZE)
  ABI_MSIZES_LIBS(CHECK_MSIZE)
}

TEST(AbiLayout, ConstantValues) {
  ABI_CONSTS(CHECK_CONST)
  ABI_CONSTS_LIBS(CHECK_CONST)
}

TEST(AbiLayout, SlotFlagHelpers) {
  struct netmap_slot slot {};
  slot.flags = (7 << NS_PORT_SHIFT) | NS_MOREFRAG;
  EXPECT_EQ(NS_RFRAGS(&slot), 7);
  EXPECT_EQ(slot.flags & NS_PORT_MASK, 7 << 8);
}

TEST(AbiLayout, DeclaredLibraryFunctionsHaveUpstreamSignatures) {
  // nm_open/nm_close/nm_mmap are only declared here (libnetmap defines
  // them); check the exact upstream types without referencing symbols.
  using open_t = struct nm_desc *(const char *, const struct nmreq *,
                                  uint64_t, const struct nm_desc *);
  using close_t = int(struct nm_desc *);
  using mmap_t = int(struct nm_desc *, const struct nm_desc *);
  static_assert(std::is_same_v<decltype(nm_open), open_t>);
  static_assert(std::is_same_v<decltype(nm_close), close_t>);
  static_assert(std::is_same_v<decltype(nm_mmap), mmap_t>);
  using cb_t = void (*)(unsigned char *, const struct nm_pkthdr *,
                        const unsigned char *);
  static_assert(std::is_same_v<nm_cb_t, cb_t>);
  SUCCEED();
}

}  // namespace
