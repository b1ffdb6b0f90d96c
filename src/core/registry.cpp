#include "core/registry.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <new>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include <net/netmap.h>

#include "core/crash_point.h"
#include "core/diag.h"
#include "core/port_type.h"
#include "core/syscalls.h"
#include "ports/monitor.h"

namespace unetmap {

namespace {

void nap_ms(long ms) {
    struct timespec ts {0, ms * 1000000L};
    nanosleep(&ts, nullptr);
}

// netmap_ring's geometry fields are const in the ABI (the application must
// not write them); we are the kernel here and initialise them once.
template <class T> void set_const(const T& field, T value) { const_cast<T&>(field) = value; }

}  // namespace

Registry& Registry::get() {
    // Never destroyed: used from atexit handlers.  Around fork(), hold the
    // process-local mutex so the child does not inherit it locked by a
    // thread that does not exist there.
    static Registry* r = [] {
        auto* reg = new Registry();
        // The child gets a fresh mutex: the inherited one records the
        // parent thread as its owner.
        pthread_atfork([] { get().local_.lock(); }, [] { get().local_.unlock(); },
                       [] { new (&get().local_) std::mutex(); });
        return reg;
    }();
    return *r;
}

CtlGuard::CtlGuard(Registry& r) : r_(r), err_(r.lock()) {}
CtlGuard::CtlGuard(Registry& r, Existing) : r_(r), err_(r.lock(false)) {}
CtlGuard::CtlGuard(Registry& r, Collect) : r_(r), err_(r.lock()) {
    if (!err_) r_.gc();
}
CtlGuard::~CtlGuard() {
    if (!err_) r_.unlock();
}

int Registry::attach(bool create) {
    const std::string path = state_path("ctl");
    for (int attempt = 0; attempt < 2000; attempt++) {
        Mapping m;
        FileId id;
        int e = shm_open_existing(path, m, &id);
        if (e == ENOENT && !create) return ENOENT;
        if (e == ENOENT) {
            // Build the file complete under a private name, then link it
            // into place: `ctl` is never seen half-initialised, even if
            // its creator dies halfway (the private file is swept later).
            const std::string tmp = state_path("ctl.tmp." + std::to_string(::getpid()));
            shm_remove(tmp);  // from an earlier process with our pid
            e = shm_create(tmp, sizeof(CtlHeader), m);
            if (e) return e;
            auto* h = m.as<CtlHeader>();
            h->layout_size = sizeof(CtlHeader);
            // Generations must not repeat when the file is recreated: this
            // process (and others) may still cache state keyed by them.
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            h->gen_counter = static_cast<uint32_t>(now.tv_nsec ^ (now.tv_sec << 20) ^ (::getpid() << 8));
            h->lock.init();
            for (auto& p : h->ports)
                for (auto& dir : p.kring)
                    for (auto& k : dir) k.lease.init();
            __atomic_store_n(&h->magic, CtlHeader::kMagic, __ATOMIC_RELEASE);
            const int linked = ::link(tmp.c_str(), path.c_str()) == 0 ? 0 : errno;
            shm_remove(tmp);
            if (linked == EEXIST) continue;  // someone else won: use theirs
            if (linked) return linked;
            map_ = std::move(m);
            set_hdr(h);
            return 0;
        }
        if (e == EAGAIN) {  // creator has not sized it yet
            nap_ms(1);
            continue;
        }
        if (e) return e;
        auto* h = m.as<CtlHeader>();
        if (m.size() < sizeof(CtlHeader)) return EPROTO;  // another unetmap build's file
        // Wait (bounded) for the creator to finish initialising.
        for (int i = 0; i < 1000 && __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == 0; i++) nap_ms(1);
        if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != CtlHeader::kMagic ||
            h->layout_size != sizeof(CtlHeader))
            return EPROTO;
        if (h->dead.load(std::memory_order_acquire)) {  // being removed: wait for it to go
            // Its remover unlinks it before it releases the lock.  Holding
            // the lock ourselves, with the file still in place, means the
            // remover died in between (the robust lock says so, or someone
            // already made it consistent): finish the removal.  Only under
            // this lock, and only if the path still names this file, so
            // two of us never remove a successor.
            if (h->lock.try_lock() != RobustMutex::Try::kBusy) {
                if (shm_is(path, id)) shm_remove(path);
                h->lock.unlock();
            }
            nap_ms(1);
            continue;
        }
        map_ = std::move(m);
        set_hdr(h);
        return 0;
    }
    return EAGAIN;
}

int Registry::lock(bool create) {
    local_.lock();
    for (int attempt = 0; attempt < 100; attempt++) {
        if (!hdr_) {
            if (int e = attach(create)) {
                local_.unlock();
                return e;
            }
        }
        bool recovered = hdr_->lock.lock();
        if (hdr_->dead.load(std::memory_order_acquire)) {
            // Someone removed the file after we mapped it: map the new one.
            hdr_->lock.unlock();
            set_hdr(nullptr);
            map_.reset();
            continue;
        }
        if (recovered) repair();
        return 0;
    }
    local_.unlock();
    return EAGAIN;
}

void Registry::unlock() {
    maybe_remove();
    hdr_->lock.unlock();
    local_.unlock();
}

void Registry::maybe_remove() {
    for (const auto& r : hdr_->regions)
        if (r.in_use) return;
    for (const auto& p : hdr_->ports)
        if (p.in_use) return;
    for (const auto& b : hdr_->bindings)
        if (b.in_use) return;
    // Nothing left: remove the file so an idle machine keeps no state.  Those
    // who still map it see `dead` at their next lock and map a fresh one.
    sweep_orphans();
    hdr_->dead.store(1, std::memory_order_release);
    crash_point(CrashPoint::kCtlRemove);
    shm_remove(state_path("ctl"));
}

// Built with append rather than operator+ on a literal: GCC 12 warns
// falsely (-Wrestrict, bug 105329) about the latter.
std::string Registry::binding_path(uint32_t b, uint32_t gen) const {
    std::string leaf("b");
    leaf.append(std::to_string(b)).append(".").append(std::to_string(gen));
    return state_path(leaf);
}

std::string Registry::region_file(uint32_t slot) const {
    const RegionEntry& e = hdr_->regions[slot];
    std::string leaf("mem.");
    leaf.append(std::to_string(e.mem_id)).append(".").append(std::to_string(e.gen));
    return state_path(leaf);
}

Region* Registry::thread_region(uint32_t slot) {
    struct Cache {
        uint32_t gen[kMaxRegions] = {};
        std::shared_ptr<Region> r[kMaxRegions];
        uint32_t uses = 0;
    };
    thread_local Cache c;
    if (slot >= kMaxRegions) return nullptr;
    const RegionEntry* regions = hdr().regions;
    if (++c.uses % 4096 == 0)  // let go of regions that went away
        for (uint32_t i = 0; i < kMaxRegions; i++)
            if (c.r[i] && (!regions[i].in_use || regions[i].gen != c.gen[i])) c.r[i].reset();
    const uint32_t gen = __atomic_load_n(&regions[slot].gen, __ATOMIC_RELAXED);
    if (!c.r[slot] || c.gen[slot] != gen) {
        c.r[slot] = region(slot);
        c.gen[slot] = gen;
    }
    return c.r[slot].get();
}

bool Registry::binding_alive(uint32_t b) {
    const BindingEntry& e = hdr_->bindings[b];
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    const std::string path = binding_path(b, e.gen);
    if (path.size() >= sizeof sa.sun_path) return true;  // cannot tell: keep it
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return true;
    int r = ::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    int err = errno;
    sys::close(s);
    if (r == 0) return true;
    return !(err == ECONNREFUSED || err == ENOENT);
}

void Registry::gc() {
    // First: a dead process's half-written exchange names a buffer twice
    // until it is completed, and releasing its bindings may free one side.
    monitor_collect_dead_feeders(*this);
    for (uint32_t b = 0; b < kMaxBindings; b++)
        if (hdr_->bindings[b].in_use && !binding_alive(b)) release_binding(b);
}

void Registry::repair() {
    // The previous holder of the lock died in the middle of a control
    // operation.  Bindings are committed last (in_use), so they are the
    // truth: drop the dead ones, then rebuild every count derived from
    // them and free what nothing references any more.
    gc();
    uint32_t port_refs[kMaxPorts] = {};
    for (auto& p : hdr_->ports) {
        if (!p.in_use) continue;
        p.nlisteners = 0;
        for (auto& dir : p.kring)
            for (auto& k : dir) {
                k.users = 0;
                k.flags &= ~KRing::kExclusive;
            }
    }
    for (uint32_t b = 0; b < kMaxBindings; b++) {
        BindingEntry& e = hdr_->bindings[b];
        if (!e.in_use) continue;
        if (e.port >= kMaxPorts || !hdr_->ports[e.port].in_use) {  // half-made binding
            shm_remove(binding_path(b, e.gen));
            e.in_use = 0;
            continue;
        }
        PortEntry& p = hdr_->ports[e.port];
        port_refs[e.port]++;
        if (p.nlisteners < kMaxListeners) p.listeners[p.nlisteners++] = b;
        for (uint32_t d = 0; d < 2; d++)
            for (uint32_t i = e.qfirst[d]; i < e.qlast[d] && i < kMaxRingsAll; i++) {
                p.kring[d][i].users++;
                if (e.flags & NR_EXCLUSIVE) p.kring[d][i].flags |= KRing::kExclusive;
            }
    }
    monitor_repair(*this, port_refs);  // monitors hold a reference on what they watch
    for (uint32_t i = 0; i < kMaxPorts; i++) {
        PortEntry& p = hdr_->ports[i];
        if (!p.in_use) continue;
        p.refs = port_refs[i] + ((p.flags & PortEntry::kPersistent) ? 1 : 0);
        uint32_t sleeping = 0;
        for (uint32_t l = 0; l < p.nlisteners; l++)
            sleeping += std::popcount(hdr_->bindings[p.listeners[l]].armed.load());
        p.sleepers.store(sleeping);
    }
    for (uint32_t i = 0; i < kMaxPorts; i++) {
        PortEntry& p = hdr_->ports[i];
        if (p.in_use && p.refs == 0) port_type_of(p).destroy(*this, i);
    }
    // Region references come from ports.
    uint32_t region_refs[kMaxRegions] = {};
    for (const auto& p : hdr_->ports)
        if (p.in_use && p.region < kMaxRegions) region_refs[p.region]++;
    for (uint32_t r = 0; r < kMaxRegions; r++) {
        RegionEntry& e = hdr_->regions[r];
        if (!e.in_use) continue;
        e.refs = region_refs[r];
        if (e.refs == 0) {
            shm_remove(region_file(r));
            e.in_use = 0;
        }
    }
    sweep_orphans();
}

void Registry::sweep_orphans() {
    // Files are created under the control lock before their table entry is
    // committed; a process killed in between leaves a file no entry
    // claims.  Only our own name patterns are touched.
    DIR* dir = ::opendir(state_dir().c_str());
    if (!dir) return;
    while (const dirent* de = ::readdir(dir)) {
        unsigned long idx = 0, gen = 0;
        char tail = 0;
        bool claimed = true;
        if (std::sscanf(de->d_name, "b%lu.%lu%c", &idx, &gen, &tail) == 2) {
            claimed = idx < kMaxBindings && hdr_->bindings[idx].in_use && hdr_->bindings[idx].gen == gen;
        } else if (std::sscanf(de->d_name, "ctl.tmp.%lu%c", &idx, &tail) == 1) {
            claimed = ::kill(static_cast<pid_t>(idx), 0) == 0 || errno != ESRCH;  // its creator lives
        } else if (std::sscanf(de->d_name, "mem.%lu.%lu%c", &idx, &gen, &tail) == 2) {
            claimed = false;
            for (const auto& r : hdr_->regions)
                if (r.in_use && r.mem_id == idx && r.gen == gen) claimed = true;
        }
        if (!claimed) shm_remove(state_path(de->d_name));
    }
    ::closedir(dir);
}

uint32_t Registry::find_port(std::string_view name) {
    for (uint32_t i = 0; i < kMaxPorts; i++) {
        const PortEntry& p = hdr_->ports[i];
        if (p.in_use && name == std::string_view(p.name, strnlen(p.name, kNameMax))) return i;
    }
    return kNone;
}

int Registry::get_region(uint32_t mem_id, uint32_t& slot) {
    if (mem_id == 0) mem_id = kGlobalMemId;
    uint32_t free_slot = kNone;
    for (uint32_t i = 0; i < kMaxRegions; i++) {
        RegionEntry& e = hdr_->regions[i];
        if (e.in_use && e.mem_id == mem_id) {
            e.refs++;
            slot = i;
            return 0;
        }
        if (!e.in_use && free_slot == kNone) free_slot = i;
    }
    if (free_slot == kNone)
        return UNETMAP_REFUSE(ENOMEM, "memory region %u: no free region entry (all %u in use)", mem_id, kMaxRegions);
    RegionEntry& e = hdr_->regions[free_slot];
    e.mem_id = mem_id;
    e.gen = next_gen();
    Region r;
    const std::string path = region_file(free_slot);
    shm_remove(path);  // a stale file from a crashed creator
    if (int err = Region::create(path, mem_id, RegionConfig::from_env(), r)) return err;
    e.memsize = r.memsize();
    e.refs = 1;
    e.in_use = 1;
    slot = free_slot;
    return 0;
}

void Registry::put_region(uint32_t slot) {
    RegionEntry& e = hdr_->regions[slot];
    if (!e.in_use || --e.refs > 0) return;
    shm_remove(region_file(slot));
    e.in_use = 0;
}

std::shared_ptr<Region> Registry::region(uint32_t slot) {
    if (slot >= kMaxRegions) return nullptr;
    const RegionEntry& e = hdr_->regions[slot];
    const uint32_t gen = e.gen;
    std::lock_guard lk(regions_mu_);
    if (auto r = regions_[slot].lock(); r && region_gen_[slot] == gen) return r;
    auto r = std::make_shared<Region>();
    if (Region::open(region_file(slot), e.memsize, *r) != 0) return nullptr;
    regions_[slot] = r;
    region_gen_[slot] = gen;
    return r;
}

int Registry::new_port(std::string_view name, PortKind kind, uint32_t region_slot,
                       const uint32_t nrings[2], const uint32_t nslots[2], const bool fill[2],
                       uint32_t& out, const uint32_t* nhost) {
    if (name.empty() || name.size() >= kNameMax) return EINVAL;
    uint32_t slot = kNone;
    for (uint32_t i = 0; i < kMaxPorts && slot == kNone; i++)
        if (!hdr_->ports[i].in_use) slot = i;
    if (slot == kNone)
        return UNETMAP_REFUSE(ENOMEM, "port '%.*s': no free port entry (all %u in use)", static_cast<int>(name.size()),
                              name.data(), kMaxPorts);
    auto region = this->region(region_slot);
    if (!region) return ENOMEM;

    PortEntry& p = hdr_->ports[slot];
    // Clear everything but the KRing locks' storage, which we re-init below.
    p.gen = next_gen();
    std::memset(p.name, 0, sizeof p.name);
    std::memcpy(p.name, name.data(), name.size());
    p.kind = kind;
    p.region = static_cast<uint16_t>(region_slot);
    p.refs = 0;
    p.flags = 0;
    p.peer = kNone;
    p.nlisteners = 0;
    p.sleepers.store(0);
    monitor_port_init(p);
    for (uint32_t d = 0; d < 2; d++) {
        p.nrings[d] = nrings[d];
        p.nhost[d] = nhost ? nhost[d] : 0;
        p.nslots[d] = nslots[d];
    }
    const uint32_t slot_room = (region->meta().pool[1].objsize - sizeof(netmap_ring)) / sizeof(netmap_slot);

    std::vector<uint32_t> ring_objs;
    std::vector<uint32_t> bufs;
    auto undo = [&] {
        region->free(Pool::Ring, ring_objs);
        region->free(Pool::Buf, bufs);
    };
    // What the port takes from each pool, for the message when one is short.
    const auto short_of = [&](const char* pool, Pool which, uint32_t need) {
        return UNETMAP_REFUSE(ENOMEM, "port '%.*s': %s pool of memory region %u exhausted (%u free of %u, the port needs %u)",
                              static_cast<int>(name.size()), name.data(), pool, region->mem_id(),
                              region->free_count(which), region->meta().pool[static_cast<int>(which)].objtotal, need);
    };
    uint32_t need_rings = 0, need_bufs = 0;
    for (uint32_t d = 0; d < 2; d++) {
        need_rings += nrings[d] + p.nhost[d];
        need_bufs += fill[d] ? (nrings[d] + p.nhost[d]) * nslots[d] : 0;
    }
    for (uint32_t d = 0; d < 2; d++) {
        if (nslots[d] < 2 || nslots[d] > slot_room || p.nhost[d] > kMaxHostRings || nrings[d] > kMaxRings ||
            nrings[d] + p.nhost[d] > kMaxRingsAll) {
            undo();
            return EINVAL;
        }
        for (uint32_t i = 0; i < p.total_rings(d); i++) {
            uint32_t obj;
            if (region->alloc_one(Pool::Ring, obj, true) != 0) {
                undo();
                return short_of("ring", Pool::Ring, need_rings);
            }
            ring_objs.push_back(obj);
            std::vector<uint32_t> rb(fill[d] ? nslots[d] : 0);
            if (!rb.empty() && region->alloc(Pool::Buf, rb, false) != 0) {
                undo();
                return short_of("buffer", Pool::Buf, need_bufs);
            }
            bufs.insert(bufs.end(), rb.begin(), rb.end());

            KRing& k = p.kring[d][i];
            const uint32_t n = nslots[d];
            k.num_slots = n;
            k.dir = d;
            k.ring_id = i;
            k.ring_obj = obj;
            k.ring_ofs = region->obj_offset(Pool::Ring, obj);
            k.port = slot;
            k.flags = 0;
            k.busy.store(0);
            k.users = 0;
            const uint32_t tail = d == kTx ? n - 1 : 0;
            k.rhead = k.rcur = 0;
            k.rtail = tail;
            k.hwcur.store(0);
            k.hwtail.store(tail);
            k.packets.store(0);
            k.bytes.store(0);
            k.drops.store(0);
            // k.lease was initialised with the control file: a sender that
            // looked up the previous port in this slot may still be inside it.

            auto* ring = region->at<netmap_ring>(k.ring_ofs);
            set_const(ring->buf_ofs, static_cast<int64_t>(region->obj_offset(Pool::Buf, 0)) -
                                         static_cast<int64_t>(k.ring_ofs));
            set_const(ring->num_slots, n);
            set_const(ring->nr_buf_size, region->buf_size());
            set_const(ring->ringid, static_cast<uint16_t>(i));
            set_const(ring->dir, static_cast<uint16_t>(d));
            ring->head = ring->cur = 0;
            ring->tail = tail;
            for (uint32_t s = 0; s < n; s++) {
                ring->slot[s].buf_idx = rb.empty() ? 0 : rb[s];
                ring->slot[s].len = 0;
                ring->slot[s].flags = 0;
                ring->slot[s].ptr = 0;
            }
        }
    }
    hdr_->regions[region_slot].refs++;
    p.in_use = 1;
    out = slot;
    return 0;
}

void Registry::free_ports(std::span<const uint32_t> ports) {
    std::vector<uint32_t> bufs, rings;
    for (uint32_t pi : ports) {
        PortEntry& p = hdr_->ports[pi];
        auto region = this->region(p.region);
        if (!region) continue;
        for (uint32_t d = 0; d < 2; d++)
            for (uint32_t i = 0; i < p.total_rings(d); i++) {
                const KRing& k = p.kring[d][i];
                auto* ring = region->at<netmap_ring>(k.ring_ofs);
                for (uint32_t s = 0; s < k.num_slots; s++) bufs.push_back(ring->slot[s].buf_idx);
                rings.push_back(k.ring_obj);
            }
    }
    if (!ports.empty()) {
        // All ports freed together share one region (pipe ends do).
        PortEntry& p0 = hdr_->ports[ports[0]];
        if (auto region = this->region(p0.region)) {
            region->free(Pool::Buf, bufs);  // duplicates and 0s are ignored
            region->free(Pool::Ring, rings);
        }
    }
    for (uint32_t pi : ports) {
        PortEntry& p = hdr_->ports[pi];
        p.in_use = 0;
        put_region(p.region);
    }
}

void Registry::put_port(uint32_t pi) {
    PortEntry& p = hdr_->ports[pi];
    if (!p.in_use || p.refs == 0 || --p.refs > 0) return;
    port_type_of(p).destroy(*this, pi);
}

void Registry::release_binding(uint32_t b) {
    BindingEntry& e = hdr_->bindings[b];
    if (!e.in_use) return;
    PortEntry& p = hdr_->ports[e.port];
    if (auto region = this->region(p.region)) {
        auto* nifp = region->at<netmap_if>(e.nifp_ofs);
        region->free_buf_list(__atomic_load_n(&nifp->ni_bufs_head, __ATOMIC_RELAXED));
        region->free(Pool::If, std::span<const uint32_t>(&e.nif_obj, 1));
    }
    for (uint32_t d = 0; d < 2; d++)
        for (uint32_t i = e.qfirst[d]; i < e.qlast[d]; i++) {
            KRing& k = p.kring[d][i];
            if (k.users) k.users--;
            if (e.flags & NR_EXCLUSIVE) k.flags &= ~KRing::kExclusive;
        }
    for (uint32_t i = 0; i < p.nlisteners; i++)
        if (p.listeners[i] == b) {
            p.listeners[i] = p.listeners[--p.nlisteners];
            break;
        }
    const uint32_t armed = e.armed.exchange(0);
    if (armed) p.sleepers.fetch_sub(std::popcount(armed));
    shm_remove(binding_path(b, e.gen));
    e.in_use = 0;
    put_port(e.port);
}

void Registry::notify(PortEntry& p, uint32_t d, uint32_t ring) {
    if (p.sleepers.load(std::memory_order_acquire) == 0) return;  // fast path: nobody asleep
    const uint32_t bit = 1u << d;
    const uint32_t n = std::min(__atomic_load_n(&p.nlisteners, __ATOMIC_RELAXED), kMaxListeners);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t b = __atomic_load_n(&p.listeners[i], __ATOMIC_RELAXED);
        if (b >= kMaxBindings) continue;
        BindingEntry& e = hdr_->bindings[b];
        if (!(e.armed.load(std::memory_order_relaxed) & bit)) continue;
        if (ring < e.qfirst[d] || ring >= e.qlast[d]) continue;
        if (!(e.armed.fetch_and(~bit) & bit)) continue;  // someone else woke it
        p.sleepers.fetch_sub(1);
        // One unbound sending socket per thread (created on first wakeup).
        thread_local int notify_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        const std::string path = binding_path(b, e.gen);
        if (path.size() >= sizeof sa.sun_path) continue;
        std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
        const char byte = 1;
        // Non-blocking: a sleeper with a full queue is already awake.
        ::sendto(notify_fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL,
                 reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
}

}  // namespace unetmap
