// nmport: opening netmap ports from a port specification, on top of the plain
// netmap system calls (open /dev/netmap, ioctl NIOCCTRL, mmap, close).
// Behaviour follows upstream libnetmap; see include/libnetmap.h.
//
// What this code expects from netmap (the kernel, or unetmap's core):
//  * NIOCCTRL/NETMAP_REQ_REGISTER fills nr_offset, nr_memsize, nr_mem_id and
//    the ring counts in nmreq_register;
//  * mmap(NULL, nr_memsize, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) maps the
//    whole region, the netmap_if being at offset nr_offset;
//  * in that netmap_if, ring_ofs[] is non-zero for the rings bound to this
//    file descriptor and zero for the others (the ring ranges are the
//    bound rings within what nr_mode, nr_ringid and the R/T flags select);
//  * two registrations reporting the same nr_mem_id share one region, so
//    one mapping per region and context is enough.
#include <libnetmap.h>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>

// ---------------------------------------------------------------------------
// Cleanup stack: every step that allocates or maps something pushes an undo
// record; nmport_undo_parse() runs them all, last first.

struct nmport_cleanup_d {
    nmport_cleanup_d* next;
    void (*cleanup)(nmport_cleanup_d*, nmport_d*);
};

namespace {

void push_cleanup(nmport_d* d, nmport_cleanup_d* c) {
    c->next = d->clist;
    d->clist = c;
}

void pop_cleanup(nmport_d* d) {
    nmport_cleanup_d* top = d->clist;
    d->clist = top->next;
    top->cleanup(top, d);
    nmctx_free(d->ctx, top);
}

void run_cleanups(nmport_d* d) {
    while (d->clist != nullptr)
        pop_cleanup(d);
}

/// Keeps errno across cleanup calls on an error path.
struct ErrnoKeeper {
    int saved = errno;
    ~ErrnoKeeper() { errno = saved; }
};

nmport_d* new_with_ctx(nmctx* ctx) {
    auto* d = static_cast<nmport_d*>(nmctx_malloc(ctx, sizeof(nmport_d)));
    if (d == nullptr) {
        nmctx_ferror(ctx, "cannot allocate nmport descriptor");
        errno = ENOMEM;
        return nullptr;
    }
    std::memset(d, 0, sizeof *d);
    nmreq_header_init(&d->hdr, NETMAP_REQ_REGISTER, &d->reg);
    d->ctx = ctx;
    d->fd = -1;
    return d;
}

// --- extmem ----------------------------------------------------------------

void extmem_cleanup(nmport_cleanup_d*, nmport_d* d) {
    if (d->extmem == nullptr)
        return;
    nmreq_remove_option(&d->hdr, &d->extmem->nro_opt);
    nmctx_free(d->ctx, d->extmem);
    d->extmem = nullptr;
}

struct FileMapCleanup {
    nmport_cleanup_d up;  // first member: the stack holds &up
    void* base;
    size_t size;
};

void filemap_cleanup(nmport_cleanup_d* c, nmport_d*) {
    auto* f = reinterpret_cast<FileMapCleanup*>(c);
    munmap(f->base, f->size);
}

// --- offsets ---------------------------------------------------------------

struct OffsetCleanup {
    nmport_cleanup_d up;
    nmreq_opt_offsets* opt;
};

void offset_cleanup(nmport_cleanup_d* c, nmport_d* d) {
    auto* oc = reinterpret_cast<OffsetCleanup*>(c);
    nmreq_remove_option(&d->hdr, &oc->opt->nro_opt);
    nmctx_free(d->ctx, oc->opt);
}

// --- option parsers --------------------------------------------------------

/// Reads a decimal number no larger than `max` for key `key` of option `opt`.
bool parse_number(nmctx* ctx, const char* opt, const char* key, const char* v, uint64_t max,
                  uint64_t* out) {
    uint64_t n = 0;
    const char* s = v;
    if (*s == '\0')
        goto bad;
    for (; *s != '\0'; ++s) {
        if (*s < '0' || *s > '9')
            goto bad;
        unsigned dig = static_cast<unsigned>(*s - '0');
        if (n > (max - dig) / 10)
            goto big;
        n = n * 10 + dig;
    }
    *out = n;
    return true;
bad:
    nmctx_ferror(ctx, "option '%s': key '%s': '%s' is not a number", opt, key, v);
    errno = EINVAL;
    return false;
big:
    nmctx_ferror(ctx, "option '%s': key '%s': '%s' is larger than %" PRIu64, opt, key, v, max);
    errno = EINVAL;
    return false;
}

int parse_share(nmreq_parse_ctx* p);
int parse_extmem(nmreq_parse_ctx* p);
int parse_conf(nmreq_parse_ctx* p);
int parse_offset(nmreq_parse_ctx* p);

enum { kShareOpt, kExtmemOpt, kConfOpt, kOffsetOpt, kNumOpts };

enum ShareKey { kSharePort };
enum ExtmemKey { kExFile, kExIfNum, kExIfSize, kExRingNum, kExRingSize, kExBufNum, kExBufSize };
enum ConfKey {
    kCfRings,
    kCfHostRings,
    kCfSlots,
    kCfTxRings,
    kCfRxRings,
    kCfHostTxRings,
    kCfHostRxRings,
    kCfTxSlots,
    kCfRxSlots,
};
enum OffsetKey { kOfInitial, kOfBits };

constexpr unsigned kDefMust = NMREQ_OPTK_DEFAULT | NMREQ_OPTK_MUSTSET;

// The options nmport_parse() understands, as a linked list (the order of the
// keys matches the enums above: a key's id is its index).
nmreq_opt_parser g_parsers[kNumOpts] = {
    {"share", parse_share, kSharePort, 1, 0, &g_parsers[kExtmemOpt],
     {{"port", kSharePort, kDefMust}}},
    {"extmem", parse_extmem, kExFile, 7, 0, &g_parsers[kConfOpt],
     {{"file", kExFile, kDefMust},
      {"if_num", kExIfNum, 0},
      {"if_size", kExIfSize, 0},
      {"ring_num", kExRingNum, 0},
      {"ring_size", kExRingSize, 0},
      {"buf_num", kExBufNum, 0},
      {"buf_size", kExBufSize, 0}}},
    // "rings" is the default key, as upstream documents ("@conf=4").
    {"conf", parse_conf, kCfRings, 9, 0, &g_parsers[kOffsetOpt],
     {{"rings", kCfRings, NMREQ_OPTK_DEFAULT},
      {"host_rings", kCfHostRings, 0},
      {"slots", kCfSlots, 0},
      {"tx_rings", kCfTxRings, 0},
      {"rx_rings", kCfRxRings, 0},
      {"host_tx_rings", kCfHostTxRings, 0},
      {"host_rx_rings", kCfHostRxRings, 0},
      {"tx_slots", kCfTxSlots, 0},
      {"rx_slots", kCfRxSlots, 0}}},
    // Offsets change the meaning of slot->ptr: opt-in, as upstream.
    {"offset", parse_offset, kOfInitial, 2, NMREQ_OPTF_DISABLED, nullptr,
     {{"initial", kOfInitial, kDefMust}, {"bits", kOfBits, 0}}},
};

int parse_share(nmreq_parse_ctx* p) {
    nmctx* ctx = p->ctx;
    auto* d = static_cast<nmport_d*>(p->token);
    const char* v = p->keys[kSharePort];
    int32_t mem_id = nmreq_get_mem_id(&v, ctx);
    if (mem_id < 0)
        return -1;
    if (*v != '\0') {
        nmctx_ferror(ctx, "option 'share': unexpected '%s' after the port name", v);
        errno = EINVAL;
        return -1;
    }
    if (d->reg.nr_mem_id != 0 && d->reg.nr_mem_id != mem_id) {
        nmctx_ferror(ctx, "cannot set mem_id to %" PRId32 ", already set to %" PRIu16, mem_id,
                     d->reg.nr_mem_id);
        errno = EINVAL;
        return -1;
    }
    d->reg.nr_mem_id = static_cast<uint16_t>(mem_id);
    return 0;
}

int parse_extmem(nmreq_parse_ctx* p) {
    nmctx* ctx = p->ctx;
    auto* d = static_cast<nmport_d*>(p->token);
    static const char* const names[] = {"file",      "if-num",  "if-size", "ring-num",
                                        "ring-size", "buf-num", "buf-size"};
    uint64_t v[7] = {};
    for (int k = kExIfNum; k <= kExBufSize; ++k)
        if (p->keys[k] != nullptr &&
            !parse_number(ctx, "extmem", names[k], p->keys[k], UINT32_MAX, &v[k]))
            return -1;
    if (nmport_extmem_from_file(d, p->keys[kExFile]) < 0)
        return -1;
    nmreq_pools_info* pi = &d->extmem->nro_info;
    if (p->keys[kExIfNum]) pi->nr_if_pool_objtotal = static_cast<uint32_t>(v[kExIfNum]);
    if (p->keys[kExIfSize]) pi->nr_if_pool_objsize = static_cast<uint32_t>(v[kExIfSize]);
    if (p->keys[kExRingNum]) pi->nr_ring_pool_objtotal = static_cast<uint32_t>(v[kExRingNum]);
    if (p->keys[kExRingSize]) pi->nr_ring_pool_objsize = static_cast<uint32_t>(v[kExRingSize]);
    if (p->keys[kExBufNum]) pi->nr_buf_pool_objtotal = static_cast<uint32_t>(v[kExBufNum]);
    if (p->keys[kExBufSize]) pi->nr_buf_pool_objsize = static_cast<uint32_t>(v[kExBufSize]);
    return 0;
}

int parse_conf(nmreq_parse_ctx* p) {
    nmctx* ctx = p->ctx;
    auto* d = static_cast<nmport_d*>(p->token);
    static const char* const names[] = {"rings",         "host-rings",    "slots",
                                        "tx-rings",      "rx-rings",      "host-tx-rings",
                                        "host-rx-rings", "tx-slots",      "rx-slots"};
    static const uint64_t maxv[] = {UINT16_MAX, UINT16_MAX, UINT32_MAX, UINT16_MAX, UINT16_MAX,
                                    UINT16_MAX, UINT16_MAX, UINT32_MAX, UINT32_MAX};
    uint64_t v[9] = {};
    for (int k = kCfRings; k <= kCfRxSlots; ++k)
        if (p->keys[k] != nullptr && !parse_number(ctx, "conf", names[k], p->keys[k], maxv[k], &v[k]))
            return -1;
    nmreq_register& r = d->reg;
    // the general keys first, so that the specific ones override them
    if (p->keys[kCfRings]) r.nr_tx_rings = r.nr_rx_rings = static_cast<uint16_t>(v[kCfRings]);
    if (p->keys[kCfHostRings])
        r.nr_host_tx_rings = r.nr_host_rx_rings = static_cast<uint16_t>(v[kCfHostRings]);
    if (p->keys[kCfSlots]) r.nr_tx_slots = r.nr_rx_slots = static_cast<uint32_t>(v[kCfSlots]);
    if (p->keys[kCfTxRings]) r.nr_tx_rings = static_cast<uint16_t>(v[kCfTxRings]);
    if (p->keys[kCfRxRings]) r.nr_rx_rings = static_cast<uint16_t>(v[kCfRxRings]);
    if (p->keys[kCfHostTxRings]) r.nr_host_tx_rings = static_cast<uint16_t>(v[kCfHostTxRings]);
    if (p->keys[kCfHostRxRings]) r.nr_host_rx_rings = static_cast<uint16_t>(v[kCfHostRxRings]);
    if (p->keys[kCfTxSlots]) r.nr_tx_slots = static_cast<uint32_t>(v[kCfTxSlots]);
    if (p->keys[kCfRxSlots]) r.nr_rx_slots = static_cast<uint32_t>(v[kCfRxSlots]);
    return 0;
}

int parse_offset(nmreq_parse_ctx* p) {
    nmctx* ctx = p->ctx;
    auto* d = static_cast<nmport_d*>(p->token);
    uint64_t initial = 0, bits = 0;
    if (!parse_number(ctx, "offset", "initial", p->keys[kOfInitial], UINT64_MAX, &initial))
        return -1;
    if (p->keys[kOfBits] != nullptr &&
        !parse_number(ctx, "offset", "bits", p->keys[kOfBits], 64, &bits))
        return -1;
    return nmport_offset(d, initial, initial, bits, 0);
}

/// Empty ring interval: first > last (and first stays a valid uint16_t).
void set_empty(uint16_t& first, uint16_t& last) {
    first = 1;
    last = 0;
}

/// Ring indexes [lo, hi) of one direction (NIC rings first, then host
/// rings) that a registration with this mode binds, as netmap computes them.
struct RingSpan {
    unsigned lo, hi;
};

RingSpan mode_span(const nmreq_register& r, unsigned nic, unsigned host, bool excluded) {
    if (excluded)
        return {0, 0};
    switch (r.nr_mode) {
    case NR_REG_ALL_NIC:
    case NR_REG_NULL: return {0, nic};
    case NR_REG_SW: return {nic, nic + host};
    case NR_REG_NIC_SW: return {0, nic + host};
    case NR_REG_ONE_NIC: return {r.nr_ringid, r.nr_ringid + 1u};
    case NR_REG_ONE_SW: return {nic + r.nr_ringid, nic + r.nr_ringid + 1u};
    default: return {0, nic + host};  // unknown mode: trust ring_ofs alone
    }
}

/// Sets [first, last] to the first run of rings, within `span`, that the
/// netmap_if shows as present (non-zero ring_ofs; netmap zeroes the entries
/// of rings not bound to this descriptor).  `base` is the index in ring_ofs
/// of this direction's ring 0.
void find_bound(const netmap_if* nifp, unsigned base, RingSpan span, uint16_t& first,
                uint16_t& last) {
    unsigned i = span.lo;
    while (i < span.hi && nifp->ring_ofs[base + i] == 0)
        ++i;
    if (i >= span.hi) {
        set_empty(first, last);
        return;
    }
    first = static_cast<uint16_t>(i);
    while (i < span.hi && nifp->ring_ofs[base + i] != 0)
        ++i;
    last = static_cast<uint16_t>(i - 1);
}

}  // namespace

extern "C" {

struct nmport_d* nmport_new(void) { return new_with_ctx(nmctx_get()); }

void nmport_delete(struct nmport_d* d) {
    if (d != nullptr)
        nmctx_free(d->ctx, d);
}

int nmport_extmem(struct nmport_d* d, void* base, size_t size) {
    nmctx* ctx = d->ctx;
    if (d->register_done) {
        nmctx_ferror(ctx, "%s: cannot set extmem of an already registered port", d->hdr.nr_name);
        errno = EINVAL;
        return -1;
    }
    if (d->extmem != nullptr) {
        nmctx_ferror(ctx, "%s: extmem already in use", d->hdr.nr_name);
        errno = EINVAL;
        return -1;
    }
    auto* c = static_cast<nmport_cleanup_d*>(nmctx_malloc(ctx, sizeof(nmport_cleanup_d)));
    auto* e = static_cast<nmreq_opt_extmem*>(nmctx_malloc(ctx, sizeof(nmreq_opt_extmem)));
    if (c == nullptr || e == nullptr) {
        if (c) nmctx_free(ctx, c);
        if (e) nmctx_free(ctx, e);
        nmctx_ferror(ctx, "%s: cannot allocate extmem option", d->hdr.nr_name);
        errno = ENOMEM;
        return -1;
    }
    std::memset(e, 0, sizeof *e);
    e->nro_opt.nro_reqtype = NETMAP_REQ_OPT_EXTMEM;
    e->nro_usrptr = reinterpret_cast<uintptr_t>(base);
    e->nro_info.nr_memsize = size;
    d->extmem = e;
    nmreq_push_option(&d->hdr, &e->nro_opt);
    c->cleanup = extmem_cleanup;
    push_cleanup(d, c);
    return 0;
}

int nmport_extmem_from_file(struct nmport_d* d, const char* fname) {
    nmctx* ctx = d->ctx;
    auto* c = static_cast<FileMapCleanup*>(nmctx_malloc(ctx, sizeof(FileMapCleanup)));
    if (c == nullptr) {
        nmctx_ferror(ctx, "cannot allocate cleanup descriptor");
        errno = ENOMEM;
        return -1;
    }
    int fd = open(fname, O_RDWR);
    if (fd < 0) {
        int e = errno;
        nmctx_ferror(ctx, "cannot open '%s': %s", fname, std::strerror(e));
        nmctx_free(ctx, c);
        errno = e;
        return -1;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0) {
        int e = size < 0 ? errno : EINVAL;
        if (size < 0)
            nmctx_ferror(ctx, "failed to obtain filesize of '%s': %s", fname, std::strerror(e));
        else
            nmctx_ferror(ctx, "'%s' is empty: cannot use it as extmem", fname);
        close(fd);
        nmctx_free(ctx, c);
        errno = e;
        return -1;
    }
    void* p = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        nmctx_ferror(ctx, "cannot mmap '%s': %s", fname, std::strerror(e));
        nmctx_free(ctx, c);
        errno = e;
        return -1;
    }
    c->base = p;
    c->size = static_cast<size_t>(size);
    c->up.cleanup = filemap_cleanup;
    push_cleanup(d, &c->up);
    if (nmport_extmem(d, p, static_cast<size_t>(size)) < 0) {
        ErrnoKeeper keep;
        pop_cleanup(d);  // unmaps the file
        return -1;
    }
    return 0;
}

struct nmreq_pools_info* nmport_extmem_getinfo(struct nmport_d* d) {
    return d->extmem != nullptr ? &d->extmem->nro_info : nullptr;
}

int nmport_offset(struct nmport_d* d, uint64_t initial, uint64_t maxoff, uint64_t bits,
                  uint64_t mingap) {
    nmctx* ctx = d->ctx;
    if (mingap > UINT32_MAX || bits > 64) {
        nmctx_ferror(ctx, "%s: invalid offset parameters (bits %" PRIu64 ", mingap %" PRIu64 ")",
                     d->hdr.nr_name, bits, mingap);
        errno = EINVAL;
        return -1;
    }
    auto* c = static_cast<OffsetCleanup*>(nmctx_malloc(ctx, sizeof(OffsetCleanup)));
    auto* o = static_cast<nmreq_opt_offsets*>(nmctx_malloc(ctx, sizeof(nmreq_opt_offsets)));
    if (c == nullptr || o == nullptr) {
        if (c) nmctx_free(ctx, c);
        if (o) nmctx_free(ctx, o);
        nmctx_ferror(ctx, "%s: cannot allocate offset option", d->hdr.nr_name);
        errno = ENOMEM;
        return -1;
    }
    std::memset(o, 0, sizeof *o);
    o->nro_opt.nro_reqtype = NETMAP_REQ_OPT_OFFSETS;
    o->nro_offset_bits = static_cast<uint32_t>(bits);
    o->nro_initial_offset = initial;
    o->nro_max_offset = maxoff;
    o->nro_min_gap = static_cast<uint32_t>(mingap);
    nmreq_push_option(&d->hdr, &o->nro_opt);
    c->opt = o;
    c->up.cleanup = offset_cleanup;
    push_cleanup(d, &c->up);
    return 0;
}

void nmport_disable_option(const char* opt) {
    for (nmreq_opt_parser* p = &g_parsers[0]; p != nullptr; p = p->next)
        if (std::strcmp(p->prefix, opt) == 0)
            p->flags |= NMREQ_OPTF_DISABLED;
}

int nmport_enable_option(const char* opt) {
    for (nmreq_opt_parser* p = &g_parsers[0]; p != nullptr; p = p->next) {
        if (std::strcmp(p->prefix, opt) == 0) {
            p->flags &= ~NMREQ_OPTF_DISABLED;
            return 0;
        }
    }
    errno = EOPNOTSUPP;
    return -1;
}

int nmport_parse(struct nmport_d* d, const char* spec) {
    const char* scan = spec;
    if (nmreq_header_decode(&scan, &d->hdr, d->ctx) < 0 ||
        nmreq_register_decode(&scan, &d->reg, d->ctx) < 0 ||
        nmreq_options_decode(scan, &g_parsers[0], d, d->ctx) < 0) {
        ErrnoKeeper keep;
        nmport_undo_parse(d);
        return -1;
    }
    return 0;
}

void nmport_undo_parse(struct nmport_d* d) {
    run_cleanups(d);
    std::memset(&d->reg, 0, sizeof d->reg);
    // back to the state nmport_new() left (upstream zeroes the header, which
    // would make a second nmport_parse() send version 0)
    nmreq_header_init(&d->hdr, NETMAP_REQ_REGISTER, &d->reg);
}

struct nmport_d* nmport_prepare(const char* spec) {
    nmport_d* d = nmport_new();
    if (d == nullptr)
        return nullptr;
    if (nmport_parse(d, spec) < 0) {
        ErrnoKeeper keep;
        nmport_delete(d);
        return nullptr;
    }
    return d;
}

void nmport_undo_prepare(struct nmport_d* d) {
    if (d == nullptr)
        return;
    nmport_undo_parse(d);
    nmport_delete(d);
}

int nmport_register(struct nmport_d* d) {
    nmctx* ctx = d->ctx;
    if (d->register_done) {
        nmctx_ferror(ctx, "%s: already registered", d->hdr.nr_name);
        errno = EINVAL;
        return -1;
    }
    d->fd = open("/dev/netmap", O_RDWR);
    if (d->fd < 0) {
        int e = errno;
        nmctx_ferror(ctx, "/dev/netmap: %s", std::strerror(e));
        errno = e;
        return -1;
    }
    if (ioctl(d->fd, NIOCCTRL, &d->hdr) < 0) {
        ErrnoKeeper keep;
        int option_errors = 0;
        nmreq_option* o;
        nmreq_foreach_option(&d->hdr, o) {
            if (o->nro_status != 0) {
                nmctx_ferror(ctx, "%s: option %s: %s", d->hdr.nr_name,
                             nmreq_option_name(o->nro_reqtype),
                             std::strerror(static_cast<int>(o->nro_status)));
                ++option_errors;
            }
        }
        if (option_errors == 0)
            nmctx_ferror(ctx, "%s: %s", d->hdr.nr_name, std::strerror(keep.saved));
        nmport_undo_register(d);
        return -1;
    }
    d->register_done = 1;
    return 0;
}

void nmport_undo_register(struct nmport_d* d) {
    if (d->fd >= 0) {
        ErrnoKeeper keep;
        close(d->fd);
    }
    d->fd = -1;
    d->register_done = 0;
}

int nmport_mmap(struct nmport_d* d) {
    nmctx* ctx = d->ctx;
    if (d->mmap_done) {
        nmctx_ferror(ctx, "%s: already mapped", d->hdr.nr_name);
        errno = EINVAL;
        return -1;
    }
    if (!d->register_done) {
        nmctx_ferror(ctx, "cannot map unregistered port");
        errno = EINVAL;
        return -1;
    }

    nmctx_lock(ctx);
    nmem_d* m = ctx->mem_descs;
    while (m != nullptr && m->mem_id != d->reg.nr_mem_id)
        m = m->next;
    if (m == nullptr) {
        m = static_cast<nmem_d*>(nmctx_malloc(ctx, sizeof(nmem_d)));
        if (m == nullptr) {
            nmctx_unlock(ctx);
            nmctx_ferror(ctx, "cannot allocate memory descriptor");
            errno = ENOMEM;
            return -1;
        }
        std::memset(m, 0, sizeof *m);
        if (d->extmem != nullptr) {
            m->mem = reinterpret_cast<void*>(static_cast<uintptr_t>(d->extmem->nro_usrptr));
            m->size = d->extmem->nro_info.nr_memsize;
            m->is_extmem = 1;
        } else {
            m->size = d->reg.nr_memsize;
            m->mem = mmap(nullptr, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, 0);
            if (m->mem == MAP_FAILED) {
                int e = errno;
                nmctx_free(ctx, m);
                nmctx_unlock(ctx);
                nmctx_ferror(ctx, "%s: mmap of %zu bytes: %s", d->hdr.nr_name,
                             static_cast<size_t>(d->reg.nr_memsize), std::strerror(e));
                errno = e;
                return -1;
            }
        }
        m->mem_id = d->reg.nr_mem_id;
        m->prev = nullptr;
        m->next = ctx->mem_descs;
        if (m->next != nullptr)
            m->next->prev = m;
        ctx->mem_descs = m;
    }
    m->refcount++;
    nmctx_unlock(ctx);

    d->mem = m;
    d->nifp = NETMAP_IF(m->mem, d->reg.nr_offset);

    // Bound rings: those of the registration mode (R/T excluding a
    // direction) whose ring_ofs is non-zero.  Upstream relies on ring_ofs
    // alone, which netmap restricts to the bound rings anyway.
    const netmap_if* nifp = d->nifp;
    const nmreq_register& r = d->reg;
    RingSpan tx = mode_span(r, nifp->ni_tx_rings, nifp->ni_host_tx_rings,
                            (r.nr_flags & NR_RX_RINGS_ONLY) != 0);
    RingSpan rx = mode_span(r, nifp->ni_rx_rings, nifp->ni_host_rx_rings,
                            (r.nr_flags & NR_TX_RINGS_ONLY) != 0);
    tx.hi = std::min(tx.hi, nifp->ni_tx_rings + nifp->ni_host_tx_rings);
    rx.hi = std::min(rx.hi, nifp->ni_rx_rings + nifp->ni_host_rx_rings);
    find_bound(nifp, 0, tx, d->first_tx_ring, d->last_tx_ring);
    find_bound(nifp, nifp->ni_tx_rings + nifp->ni_host_tx_rings, rx, d->first_rx_ring,
               d->last_rx_ring);
    d->cur_tx_ring = d->first_tx_ring;
    d->cur_rx_ring = d->first_rx_ring;
    d->mmap_done = 1;
    return 0;
}

void nmport_undo_mmap(struct nmport_d* d) {
    nmem_d* m = d->mem;
    if (m != nullptr) {
        nmctx* ctx = d->ctx;
        ErrnoKeeper keep;
        nmctx_lock(ctx);
        if (--m->refcount <= 0) {
            if (!m->is_extmem)
                munmap(m->mem, m->size);
            if (m->next != nullptr)
                m->next->prev = m->prev;
            if (m->prev != nullptr)
                m->prev->next = m->next;
            else
                ctx->mem_descs = m->next;
            nmctx_free(ctx, m);
        }
        nmctx_unlock(ctx);
    }
    d->mem = nullptr;
    d->nifp = nullptr;
    d->mmap_done = 0;
    d->first_tx_ring = d->last_tx_ring = 0;
    d->first_rx_ring = d->last_rx_ring = 0;
    d->cur_tx_ring = d->cur_rx_ring = 0;
}

int nmport_open_desc(struct nmport_d* d) {
    if (nmport_register(d) < 0)
        return -1;
    if (nmport_mmap(d) < 0) {
        ErrnoKeeper keep;
        nmport_undo_register(d);
        return -1;
    }
    return 0;
}

void nmport_undo_open_desc(struct nmport_d* d) {
    nmport_undo_mmap(d);
    nmport_undo_register(d);
}

struct nmport_d* nmport_open(const char* spec) {
    nmport_d* d = nmport_prepare(spec);
    if (d == nullptr)
        return nullptr;
    if (nmport_open_desc(d) < 0) {
        ErrnoKeeper keep;
        nmport_close(d);
        return nullptr;
    }
    return d;
}

void nmport_close(struct nmport_d* d) {
    if (d == nullptr)
        return;
    nmport_undo_open_desc(d);
    nmport_undo_prepare(d);
}

struct nmport_d* nmport_clone(struct nmport_d* d) {
    nmctx* ctx = d->ctx;
    if (d->extmem != nullptr && !d->register_done) {
        nmctx_ferror(ctx, "cannot clone unregistered port that is using extmem");
        errno = EINVAL;
        return nullptr;
    }
    nmport_d* c = new_with_ctx(ctx);
    if (c == nullptr)
        return nullptr;
    c->hdr = d->hdr;
    c->hdr.nr_body = reinterpret_cast<uintptr_t>(&c->reg);
    c->hdr.nr_options = 0;  // options are not cloned
    c->reg = d->reg;        // includes nr_mem_id: the clone shares d's region
    return c;
}

int nmport_inject(struct nmport_d* d, const void* buf, size_t size) {
    if (!d->mmap_done || d->first_tx_ring > d->last_tx_ring)
        return 0;
    const unsigned first = d->first_tx_ring, last = d->last_tx_ring;
    const unsigned nrings = last - first + 1;
    unsigned ri = d->cur_tx_ring;
    for (unsigned tried = 0; tried < nrings; ++tried, ++ri) {
        if (ri > last || ri < first)
            ri = first;
        netmap_ring* ring = NETMAP_TXRING(d->nifp, ri);
        const size_t bsz = ring->nr_buf_size;
        if (bsz == 0)
            continue;
        // Find the slot that will hold the last fragment, checking that
        // every fragment has a slot before tail.
        size_t rem = size;
        uint32_t j = ring->cur;
        if (j == ring->tail)
            continue;
        while (rem > bsz) {
            uint32_t nj = nm_ring_next(ring, j);
            if (nj == ring->tail)
                break;
            rem -= bsz;
            j = nj;
        }
        if (rem > bsz)
            continue;  // not enough room in this ring
        const char* src = static_cast<const char*>(buf);
        for (uint32_t i = ring->cur; i != j; i = nm_ring_next(ring, i)) {
            netmap_slot* s = &ring->slot[i];
            std::memcpy(NETMAP_BUF(ring, s->buf_idx), src, bsz);
            s->len = static_cast<uint16_t>(bsz);
            s->flags = NS_MOREFRAG;
            src += bsz;
        }
        netmap_slot* s = &ring->slot[j];
        std::memcpy(NETMAP_BUF(ring, s->buf_idx), src, rem);
        s->len = static_cast<uint16_t>(rem);
        s->flags = 0;
        ring->head = ring->cur = nm_ring_next(ring, j);
        d->cur_tx_ring = static_cast<uint16_t>(ri);
        return static_cast<int>(size);
    }
    return 0;
}

}  // extern "C"
