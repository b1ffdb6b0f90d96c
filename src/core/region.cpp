#include "core/region.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <net/netmap.h>

namespace unetmap {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

uint32_t env_u32(const char* name, uint32_t dflt) {
    const char* v = std::getenv(name);
    if (!v || !*v) return dflt;
    char* end = nullptr;
    unsigned long x = std::strtoul(v, &end, 0);
    if (*end != '\0' || x > 0xffffffffUL) return dflt;
    return static_cast<uint32_t>(x);
}

}  // namespace

RegionConfig RegionConfig::from_env() {
    RegionConfig c;
    c.if_num = env_u32("UNETMAP_IF_NUM", c.if_num);
    c.if_size = env_u32("UNETMAP_IF_SIZE", c.if_size);
    c.ring_num = env_u32("UNETMAP_RING_NUM", c.ring_num);
    c.ring_size = env_u32("UNETMAP_RING_SIZE", c.ring_size);
    c.buf_num = env_u32("UNETMAP_BUF_NUM", c.buf_num);
    c.buf_size = env_u32("UNETMAP_BUF_SIZE", c.buf_size);
    return c;
}

int RegionConfig::validate() const {
    // Buffers: at least the two reserved ones plus one; sizes a multiple of
    // 64 so every buffer starts on a cache line, as netmap requires.  Ring
    // objects hold a struct netmap_ring, declared aligned to NM_CACHE_ALIGN
    // (128): their size must keep every ring of the pool so aligned.
    if (buf_num < 3 || buf_num > (1u << 24)) return EINVAL;
    if (buf_size < 64 || buf_size > 65536 || buf_size % 64) return EINVAL;
    if (if_num < 1 || if_num > 65536 || if_size < 64 || if_size > 65536 || if_size % 64)
        return EINVAL;
    if (ring_num < 1 || ring_num > 65536 || ring_size < 512 || ring_size > (1u << 22) ||
        ring_size % alignof(netmap_ring))
        return EINVAL;
    return 0;
}

int Region::create(const std::string& path, uint32_t mem_id, const RegionConfig& cfg,
                   Region& out) {
    if (int e = cfg.validate()) return e;
    PoolGeometry g[kNumPools] = {
        {0, cfg.if_size, cfg.if_num},
        {0, cfg.ring_size, cfg.ring_num},
        {0, cfg.buf_size, cfg.buf_num},
    };
    uint64_t ofs = 0;
    for (auto& p : g) {
        ofs = align_up(ofs, kPage);
        p.offset = ofs;
        ofs += static_cast<uint64_t>(p.objsize) * p.objtotal;
    }
    const uint64_t memsize = align_up(ofs, kPage);
    uint64_t meta_ofs = memsize;
    uint64_t bm_ofs[kNumPools];
    uint64_t cur = align_up(meta_ofs + sizeof(RegionMeta), 64);
    for (int i = 0; i < kNumPools; i++) {
        bm_ofs[i] = cur;
        cur += align_up((g[i].objtotal + 63) / 64 * 8, 64);
    }
    const uint64_t filesize = align_up(cur, kPage);

    Mapping m;
    if (int e = shm_create(path, filesize, m)) return e;
    auto* meta = m.as<RegionMeta>(meta_ofs);
    meta->mem_id = mem_id;
    meta->memsize = memsize;
    meta->filesize = filesize;
    for (int i = 0; i < kNumPools; i++) {
        meta->pool[i] = g[i];
        meta->bitmap_ofs[i] = bm_ofs[i];
        auto* bm = m.as<uint64_t>(bm_ofs[i]);
        const uint32_t n = g[i].objtotal;
        for (uint32_t w = 0; w < n / 64; w++) bm[w] = ~0ULL;
        if (n % 64) bm[n / 64] = (1ULL << (n % 64)) - 1;
        meta->free_count[i] = n;
        meta->hint[i] = 0;
    }
    // Buffers 0 and 1 are never handed out.
    m.as<uint64_t>(bm_ofs[2])[0] &= ~3ULL;
    meta->free_count[2] -= 2;
    meta->lock.init();
    __atomic_store_n(&meta->magic, RegionMeta::kMagic, __ATOMIC_RELEASE);
    out.map_ = std::move(m);
    out.meta_ = meta;
    return 0;
}

int Region::open(const std::string& path, uint64_t memsize, Region& out) {
    Mapping m;
    if (int e = shm_open_existing(path, m)) return e;
    // The control table tells us where the meta block is (right after the
    // pools); cross-check everything we will rely on.
    if (memsize % kPage || memsize + sizeof(RegionMeta) > m.size()) return EINVAL;
    auto* meta = m.as<RegionMeta>(memsize);
    if (__atomic_load_n(&meta->magic, __ATOMIC_ACQUIRE) != RegionMeta::kMagic ||
        meta->memsize != memsize || meta->filesize != m.size())
        return EINVAL;
    for (const auto& p : meta->pool)
        if (p.offset + static_cast<uint64_t>(p.objsize) * p.objtotal > memsize) return EINVAL;
    out.map_ = std::move(m);
    out.meta_ = meta;
    return 0;
}

uint32_t Region::free_count(Pool p) const {
    return __atomic_load_n(&meta_->free_count[static_cast<int>(p)], __ATOMIC_RELAXED);
}

void Region::recount() {
    // A process died in the middle of an allocation: the bitmaps are the
    // truth (each bit flips in one store), the counters may lag.
    for (int pi = 0; pi < kNumPools; pi++) {
        const uint64_t* bm = bitmap(static_cast<Pool>(pi));
        uint32_t n = 0;
        for (uint32_t w = 0; w < (meta_->pool[pi].objtotal + 63) / 64; w++) n += std::popcount(bm[w]);
        meta_->free_count[pi] = n;
    }
}

int Region::alloc(Pool p, std::span<uint32_t> out, bool zero) {
    const int pi = static_cast<int>(p);
    RobustLock lk(meta_->lock);
    if (lk.recovered()) recount();
    if (meta_->free_count[pi] < out.size()) return ENOMEM;
    uint64_t* bm = bitmap(p);
    const uint32_t words = (meta_->pool[pi].objtotal + 63) / 64;
    uint32_t w = meta_->hint[pi] % words;
    size_t got = 0;
    for (uint32_t scanned = 0; got < out.size() && scanned <= words; ) {
        if (bm[w] == 0) {
            w = (w + 1) % words;
            scanned++;
            continue;
        }
        const int bit = std::countr_zero(bm[w]);
        bm[w] &= ~(1ULL << bit);
        out[got++] = w * 64 + static_cast<uint32_t>(bit);
    }
    if (got < out.size()) {  // free_count lied (corrupt meta): undo, report
        for (size_t i = 0; i < got; i++) bm[out[i] / 64] |= 1ULL << (out[i] % 64);
        return ENOMEM;
    }
    meta_->free_count[pi] -= static_cast<uint32_t>(got);
    meta_->hint[pi] = w;
    if (zero)
        for (uint32_t idx : out) std::memset(base() + obj_offset(p, idx), 0, meta_->pool[pi].objsize);
    return 0;
}

uint32_t Region::free(Pool p, std::span<const uint32_t> idx) {
    const int pi = static_cast<int>(p);
    RobustLock lk(meta_->lock);
    if (lk.recovered()) recount();
    uint64_t* bm = bitmap(p);
    const uint32_t total = meta_->pool[pi].objtotal;
    uint32_t bad = 0;
    for (uint32_t i : idx) {
        if (i >= total || (p == Pool::Buf && i < 2) || (bm[i / 64] & (1ULL << (i % 64)))) {
            bad++;
            continue;
        }
        bm[i / 64] |= 1ULL << (i % 64);
        meta_->free_count[pi]++;
    }
    return bad;
}

uint32_t Region::alloc_buf_list(uint32_t n, uint32_t& head) {
    head = 0;
    n = std::min(n, free_count(Pool::Buf));
    std::vector<uint32_t> idx(n);
    while (n > 0 && alloc(Pool::Buf, idx, false) != 0) {  // raced with another allocator
        n = std::min<uint32_t>(n - 1, free_count(Pool::Buf));
        idx.resize(n);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t next = (i + 1 < n) ? idx[i + 1] : 0;
        std::memcpy(buf(idx[i]), &next, sizeof next);
    }
    head = n ? idx[0] : 0;
    return n;
}

uint32_t Region::free_buf_list(uint32_t head) {
    std::vector<uint32_t> idx;
    for (uint32_t i = head, steps = 0; valid_buf(i) && steps < buf_total(); steps++) {
        idx.push_back(i);
        std::memcpy(&i, buf(i), sizeof i);
    }
    const uint32_t bad = free(Pool::Buf, idx);
    return static_cast<uint32_t>(idx.size()) - bad;
}

}  // namespace unetmap
