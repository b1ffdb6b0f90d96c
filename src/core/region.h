// Memory regions: the shared memory a netmap application maps.
//
// A region is one file `mem.<id>.<gen>` in the state directory, laid out as
// netmap lays out an allocator (three pools, one after the other), followed
// by a private tail the application is not told about:
//
//   offset 0                                                 memsize
//   +-----------------+------------------+----------------------+---------+
//   | if pool         | ring pool        | buffer pool          | meta    |
//   | if_num x if_sz  | ring_num x r_sz  | buf_num x buf_size   | bitmaps |
//   +-----------------+------------------+----------------------+---------+
//   ^ nr_offset points at a netmap_if     ^ buffer 0 (ring->buf_ofs is
//     inside the if pool                    relative to each ring)
//
// Everything is addressed by offsets and indices, never by pointers, so each
// process may map the file at any address.  Buffers 0 and 1 are reserved, as
// in netmap (0 is where invalid slots are pointed, and 0 terminates the
// ni_bufs_head list).  Allocation state (one bitmap per pool, 1 = free) is in
// the meta tail, under a robust mutex; the data path never allocates.
// `memsize` (what NETMAP_REQ_REGISTER reports in nr_memsize) covers only the
// pools: that is what the application mmaps.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/robust_mutex.h"
#include "core/shm.h"

namespace unetmap {

enum class Pool : uint32_t { If = 0, Ring = 1, Buf = 2 };
inline constexpr int kNumPools = 3;

/// What a region is made of; defaults follow netmap's global allocator
/// shapes, scaled down (files are sparse: untouched buffers cost nothing).
struct RegionConfig {
    uint32_t if_num = 128, if_size = 1024;
    uint32_t ring_num = 256, ring_size = 36864;  // 36864 = netmap's default: up to 2288 slots
    uint32_t buf_num = 40960, buf_size = 2048;
    /// Not a region parameter but read the same way: how NIC ports are
    /// served (netmap's admode): 0 best (AF_XDP, else AF_PACKET),
    /// 1 native only (AF_XDP), 2 emulated only (AF_PACKET).
    uint32_t admode = 0;

    /// The equivalent of netmap's module parameters: defaults, then the
    /// config file ($UNETMAP_CONFIG, default /etc/unetmap.conf; an empty
    /// $UNETMAP_CONFIG means none), then UNETMAP_{IF,RING,BUF}_{NUM,SIZE}.
    /// Problems are reported on stderr, each message once per process;
    /// a bad line or value changes nothing.  See docs/CONFIG.md.
    static RegionConfig from_env();
    /// Apply `key = value` lines using netmap's parameter names (buf_num,
    /// buf_size, ring_num, ring_size, if_num, if_size; `#` starts a
    /// comment).  Each problem appends one message, prefixed with
    /// "origin:LINE: ", to `diag`; an unknown key or bad value is skipped.
    void apply_config_text(std::string_view text, std::string_view origin,
                           std::vector<std::string>& diag);
    /// Read `path` and apply it as above.  A missing file adds a message
    /// unless `optional`.
    void apply_config_file(const char* path, bool optional, std::vector<std::string>& diag);
    /// 0 if usable, else EINVAL (sizes out of range / not aligned).
    [[nodiscard]] int validate() const;
};

struct PoolGeometry {
    uint64_t offset;    // from region start
    uint32_t objsize;
    uint32_t objtotal;
};

struct RegionMeta {
    static constexpr uint64_t kMagic = 0x756e6d6d656d3031ULL;  // "unmmem01"
    uint64_t magic;
    uint32_t mem_id;
    uint32_t pad0;
    uint64_t memsize;    // size of the user-visible part
    uint64_t filesize;
    PoolGeometry pool[kNumPools];
    uint64_t bitmap_ofs[kNumPools];  // from region start
    uint32_t free_count[kNumPools];
    uint32_t hint[kNumPools];        // word index where the next search starts
    RobustMutex lock;
};

/// One process's view of a region (a mapping of its file).
class Region {
public:
    /// Create a new region file.  Returns 0 or errno.
    static int create(const std::string& path, uint32_t mem_id, const RegionConfig& cfg,
                      Region& out);
    /// Map an existing region file whose pools end at `memsize` (recorded in
    /// the control table).  Returns 0 or errno (EINVAL if inconsistent).
    static int open(const std::string& path, uint64_t memsize, Region& out);

    [[nodiscard]] std::byte* base() const { return map_.data(); }
    [[nodiscard]] const RegionMeta& meta() const { return *meta_; }
    [[nodiscard]] uint64_t memsize() const { return meta_->memsize; }
    [[nodiscard]] uint32_t mem_id() const { return meta_->mem_id; }
    [[nodiscard]] uint32_t buf_size() const { return meta_->pool[2].objsize; }
    [[nodiscard]] uint32_t buf_total() const { return meta_->pool[2].objtotal; }
    [[nodiscard]] uint32_t free_count(Pool p) const;

    /// Offset of object `idx` in pool `p`, and a pointer to it.
    [[nodiscard]] uint64_t obj_offset(Pool p, uint32_t idx) const {
        const auto& g = meta_->pool[static_cast<int>(p)];
        return g.offset + static_cast<uint64_t>(idx) * g.objsize;
    }
    template <class T> T* obj(Pool p, uint32_t idx) const {
        return reinterpret_cast<T*>(base() + obj_offset(p, idx));
    }
    template <class T> T* at(uint64_t ofs) const { return reinterpret_cast<T*>(base() + ofs); }
    [[nodiscard]] std::byte* buf(uint32_t idx) const { return base() + obj_offset(Pool::Buf, idx); }
    /// A buffer index an application may legitimately use.
    [[nodiscard]] bool valid_buf(uint32_t idx) const { return idx >= 2 && idx < buf_total(); }

    /// Allocate `n` objects from pool `p` into `out` (all or nothing).
    /// Returns 0 or ENOMEM.  `zero` clears the objects (if/ring pools).
    int alloc(Pool p, std::span<uint32_t> out, bool zero);
    /// Return objects to their pool.  Indices out of range, reserved or
    /// already free are ignored and counted in the return value.
    uint32_t free(Pool p, std::span<const uint32_t> idx);
    /// Allocate a single object; returns 0 or ENOMEM.
    int alloc_one(Pool p, uint32_t& idx, bool zero) { return alloc(p, {&idx, 1}, zero); }

    /// Build a list of `n` extra buffers linked through their first 4 bytes
    /// (netmap's ni_bufs_head convention).  Returns how many were allocated
    /// (possibly fewer than asked when the pool is short) and the head.
    uint32_t alloc_buf_list(uint32_t n, uint32_t& head);
    /// Free a ni_bufs_head list.  Bounded by the pool size, so a corrupt
    /// (cyclic) list cannot loop forever.  Returns buffers freed.
    uint32_t free_buf_list(uint32_t head);

    explicit operator bool() const { return meta_ != nullptr; }

private:
    void recount();
    uint64_t* bitmap(Pool p) const {
        return reinterpret_cast<uint64_t*>(base() + meta_->bitmap_ofs[static_cast<int>(p)]);
    }
    Mapping map_;
    RegionMeta* meta_ = nullptr;
};

}  // namespace unetmap
