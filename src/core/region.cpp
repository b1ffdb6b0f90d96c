#include "core/region.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <set>
#include <unistd.h>
#include <vector>

#include <net/netmap.h>

#include "core/syscalls.h"

namespace unetmap {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Print a diagnostic once per process (regions are created repeatedly; a
// bad config file should not repeat itself every time).
void report_once(const std::string& msg) {
    static std::mutex mu;
    static std::set<std::string>* seen = new std::set<std::string>;  // never destroyed
    std::lock_guard<std::mutex> l(mu);
    if (!seen->insert(msg).second) return;
    std::fprintf(stderr, "unetmap: %s\n", msg.c_str());
}

bool parse_u32(std::string_view v, uint32_t& out) {
    if (v.empty() || v.size() > 32) return false;
    const std::string s(v);
    if (s[0] == '-' || s[0] == '+') return false;
    char* end = nullptr;
    errno = 0;
    const unsigned long long x = std::strtoull(s.c_str(), &end, 0);
    if (errno != 0 || *end != '\0' || x > 0xffffffffULL) return false;
    out = static_cast<uint32_t>(x);
    return true;
}

// Printable form of untrusted text for a message (at most 64 characters).
std::string printable(std::string_view v) {
    std::string o;
    for (char c : v.substr(0, 64)) o += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (v.size() > 64) o += "...";
    return o;
}

std::string_view trim(std::string_view v) {
    const auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
    while (!v.empty() && sp(v.front())) v.remove_prefix(1);
    while (!v.empty() && sp(v.back())) v.remove_suffix(1);
    return v;
}

// The parameters, by netmap's names (/sys/module/netmap/parameters/*),
// with the environment variable that overrides each and the range
// RegionConfig::validate() accepts.
struct Param {
    const char* key;
    const char* env;
    uint32_t RegionConfig::*field;
    const char* range;
};
constexpr Param kParams[] = {
    {"if_num", "UNETMAP_IF_NUM", &RegionConfig::if_num, "1..65536"},
    {"if_size", "UNETMAP_IF_SIZE", &RegionConfig::if_size, "a multiple of 64 in 64..65536"},
    {"ring_num", "UNETMAP_RING_NUM", &RegionConfig::ring_num, "1..65536"},
    {"ring_size", "UNETMAP_RING_SIZE", &RegionConfig::ring_size, "a multiple of 128 in 512..4194304"},
    {"buf_num", "UNETMAP_BUF_NUM", &RegionConfig::buf_num, "3..16777216"},
    {"buf_size", "UNETMAP_BUF_SIZE", &RegionConfig::buf_size, "a multiple of 64 in 64..65536"},
    {"admode", "UNETMAP_ADMODE", &RegionConfig::admode, "0 (best), 1 (native) or 2 (emulated)"},
};

// netmap parameters that mean nothing here (no NICs, no generic adapter,
// one kind of allocator): accepted with a note, so a file written for
// netmap does not read as wrong.
constexpr const char* kInert[] = {
    "verbose", "no_timestamp", "mitigate", "no_pendintr", "txsync_retry", "fwd",
    "generic_mit", "generic_ringsize", "generic_rings", "generic_txqdisc", "generic_hwcsum",
    "ptnet_vnet_hdr", "priv_if_num", "priv_if_size", "priv_ring_num", "priv_ring_size",
    "priv_buf_num", "priv_buf_size", "max_bridges", "bridge_batch", "port_numa_affinity",
    "iommu", "debug_lib",
};

constexpr size_t kMaxConfigBytes = 1 << 20;

}  // namespace

void RegionConfig::apply_config_text(std::string_view text, std::string_view origin,
                                     std::vector<std::string>& diag) {
    unsigned lineno = 0;
    while (!text.empty()) {
        lineno++;
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (const size_t h = line.find('#'); h != std::string_view::npos) line = line.substr(0, h);
        line = trim(line);
        if (line.empty()) continue;
        const std::string where = std::string(origin) + ":" + std::to_string(lineno) + ": ";
        const size_t eq = line.find('=');
        const std::string_view key = eq == std::string_view::npos ? line : trim(line.substr(0, eq));
        const std::string_view val = eq == std::string_view::npos ? "" : trim(line.substr(eq + 1));
        if (eq == std::string_view::npos || key.empty()) {
            diag.push_back(where + "expected 'key = value', got '" + printable(line) + "'; line ignored");
            continue;
        }
        const Param* p = nullptr;
        for (const Param& q : kParams)
            if (key == q.key) p = &q;
        if (!p) {
            bool inert = false;
            for (const char* k : kInert) inert = inert || key == k;
            diag.push_back(where + (inert ? "netmap parameter '" + std::string(key) +
                                                "' has no effect in unetmap; ignored"
                                          : "unknown parameter '" + printable(key) +
                                                "'; ignored (known: if_num, if_size, ring_num, "
                                                "ring_size, buf_num, buf_size, admode)"));
            continue;
        }
        uint32_t v = 0;
        RegionConfig trial;  // defaults: validate() checks each field on its own
        const bool number = parse_u32(val, v);
        if (number) trial.*(p->field) = v;
        if (!number || trial.validate() != 0) {
            diag.push_back(where + p->key + " = '" + printable(val) + "': " +
                           (number ? "out of range" : "not a number") + ", must be " + p->range +
                           "; keeping " + std::to_string(this->*(p->field)));
            continue;
        }
        this->*(p->field) = v;
    }
}

void RegionConfig::apply_config_file(const char* path, bool optional, std::vector<std::string>& diag) {
    const int fd = sys::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
    if (fd < 0) {
        if (!(optional && errno == ENOENT))
            diag.push_back(std::string("config file ") + path + ": " + std::strerror(errno) +
                           "; using defaults");
        return;
    }
    std::string text;
    char chunk[4096];
    int err = 0;
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) err = errno;
        if (n <= 0) break;
        text.append(chunk, static_cast<size_t>(n));
        if (text.size() > kMaxConfigBytes) {
            err = EFBIG;
            break;
        }
    }
    sys::close(fd);
    if (err) {
        diag.push_back(std::string("config file ") + path + ": " + std::strerror(err) +
                       "; using defaults");
        return;
    }
    apply_config_text(text, path, diag);
}

RegionConfig RegionConfig::from_env() {
    RegionConfig c;
    std::vector<std::string> diag;
    const char* file = std::getenv("UNETMAP_CONFIG");
    if (!file) c.apply_config_file("/etc/unetmap.conf", true, diag);
    else if (*file) c.apply_config_file(file, false, diag);
    for (const Param& p : kParams) {
        const char* v = std::getenv(p.env);
        if (!v || !*v) continue;
        uint32_t x = 0;
        if (parse_u32(v, x)) c.*(p.field) = x;  // ranges: validate(), when the region is made
        else diag.push_back(std::string(p.env) + "='" + printable(v) + "' is not a number; ignored");
    }
    if (c.admode > 2) {  // only NIC ports read it: a bad value must not stop regions
        diag.push_back("UNETMAP_ADMODE=" + std::to_string(c.admode) +
                       " must be 0 (best), 1 (native) or 2 (emulated); using 0");
        c.admode = 0;
    }
    for (const auto& m : diag) report_once(m);
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
    if (admode > 2) return EINVAL;
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
