// Helpers shared by the unit and integration tests.
//
// Every test process works in a state directory of its own (see
// test_main.cpp: a fresh mkdtemp directory under /dev/shm exported as
// UNETMAP_DIR before any netmap call), so tests can run in parallel and can
// assert that the directory is empty once everything is closed ("no leaked
// region, no half-registered port").
//
// Ports are opened with the plain netmap API only: open("/dev/netmap"),
// ioctl(NIOCCTRL), mmap; ring and buffer addresses are computed from the
// netmap_if as the ABI defines them (no netmap_user.h needed).
#pragma once

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <net/netmap.h>

namespace nmtest {

/// poll(2) as a netmap program calls it.  Under ThreadSanitizer, calls
/// libnetmap's poll directly: TSan's interceptors of blocking calls (poll,
/// select, epoll_wait) run the real function with the thread's
/// synchronisation ignored (`BlockingCall` raises `ignore_interceptors`,
/// which turns atomics into plain accesses and skips mutex interceptors),
/// and libnetmap's poll runs txsync/rxsync inside it.  Every ring handoff
/// made there would lose its release/acquire pair and be reported as a
/// race.  Called directly, our poll is instrumented like any other code
/// and sleeps in libc's poll.
inline int netmap_poll(pollfd* fds, nfds_t n, int timeout_ms) {
#if defined(__SANITIZE_THREAD__)
    using PollFn = int (*)(pollfd*, nfds_t, int);
    static const PollFn ours = [] {
        void* lib = dlopen("libnetmap.so.0", RTLD_NOW | RTLD_NOLOAD);
        return lib ? reinterpret_cast<PollFn>(dlsym(lib, "poll")) : nullptr;
    }();
    if (ours) return ours(fds, n, timeout_ms);
#endif
    return ::poll(fds, n, timeout_ms);
}

// ---------------------------------------------------------------------------
// The state directory
// ---------------------------------------------------------------------------

inline std::string state_dir() {
    const char* d = std::getenv("UNETMAP_DIR");
    return d ? d : "";
}

/// Names in the state directory (sorted), without "." and "..".
inline std::vector<std::string> state_entries() {
    std::vector<std::string> out;
    DIR* d = ::opendir(state_dir().c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

inline std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s;
}

/// Nothing at all left in the state directory (no ctl, no mem.*, no b*).
inline ::testing::AssertionResult StateDirEmpty() {
    const auto e = state_entries();
    if (e.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "state directory " << state_dir()
                                         << " still holds: " << join(e);
}

/// No region file and no binding socket (a control file may remain).
inline ::testing::AssertionResult NoRegionNoBinding() {
    std::vector<std::string> bad;
    for (const auto& n : state_entries())
        if (n != "ctl") bad.push_back(n);
    if (bad.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "leftovers in " << state_dir() << ": " << join(bad);
}

inline int count_entries(const char* prefix) {
    int n = 0;
    for (const auto& e : state_entries())
        if (e.rfind(prefix, 0) == 0) n++;
    return n;
}

/// Remove everything in the state directory (only between processes, at the
/// end of a test program).
inline void wipe_state_dir() {
    for (const auto& n : state_entries()) ::unlink((state_dir() + "/" + n).c_str());
}

// ---------------------------------------------------------------------------
// A port opened through /dev/netmap
// ---------------------------------------------------------------------------

inline nmreq_header make_header(const char* name, uint16_t reqtype, void* body) {
    nmreq_header h;
    std::memset(&h, 0, sizeof h);
    h.nr_version = NETMAP_API;
    h.nr_reqtype = reqtype;
    if (name) std::snprintf(h.nr_name, sizeof h.nr_name, "%s", name);
    h.nr_body = reinterpret_cast<uintptr_t>(body);
    return h;
}

/// ioctl returning 0 or errno.
inline int xioctl(int fd, unsigned long req, void* arg) {
    errno = 0;
    return ::ioctl(fd, req, arg) == 0 ? 0 : errno;
}

struct Port {
    int fd = -1;
    void* mem = nullptr;
    size_t mapped = 0;
    nmreq_register reg{};
    netmap_if* nifp = nullptr;

    Port() = default;
    Port(const Port&) = delete;
    Port& operator=(const Port&) = delete;
    ~Port() { close(); }

    /// open + NIOCCTRL REGISTER + mmap.  `tweak` adjusts the request body
    /// before it is sent.  Returns 0 or the errno of the failing step.
    int open(const char* name, const std::function<void(nmreq_register&)>& tweak = {}) {
        close();
        fd = ::open("/dev/netmap", O_RDWR);
        if (fd < 0) return errno;
        std::memset(&reg, 0, sizeof reg);
        reg.nr_mode = NR_REG_ALL_NIC;
        if (tweak) tweak(reg);
        nmreq_header h = make_header(name, NETMAP_REQ_REGISTER, &reg);
        if (int e = xioctl(fd, NIOCCTRL, &h)) {
            ::close(fd);
            fd = -1;
            return e;
        }
        return map();
    }

    /// mmap the region (after a successful registration).
    int map() {
        mem = ::mmap(nullptr, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mem == MAP_FAILED) {
            mem = nullptr;
            return errno;
        }
        mapped = reg.nr_memsize;
        nifp = reinterpret_cast<netmap_if*>(static_cast<char*>(mem) + reg.nr_offset);
        return 0;
    }

    void close() {
        if (mem) ::munmap(mem, mapped);
        mem = nullptr;
        nifp = nullptr;
        if (fd >= 0) ::close(fd);
        fd = -1;
    }

    netmap_ring* ring_at(uint32_t k) const {
        return reinterpret_cast<netmap_ring*>(reinterpret_cast<char*>(nifp) + nifp->ring_ofs[k]);
    }
    netmap_ring* tx(uint32_t i = 0) const { return ring_at(i); }
    netmap_ring* rx(uint32_t i = 0) const {
        return ring_at(i + nifp->ni_tx_rings + nifp->ni_host_tx_rings);
    }
    static char* buf(netmap_ring* r, uint32_t idx) {
        return reinterpret_cast<char*>(r) + r->buf_ofs + static_cast<uint64_t>(idx) * r->nr_buf_size;
    }
    int txsync() const { return xioctl(fd, NIOCTXSYNC, nullptr); }
    int rxsync() const { return xioctl(fd, NIOCRXSYNC, nullptr); }
    /// poll() on this descriptor alone; returns revents, 0 on timeout, -1 on error.
    int poll(short events, int timeout_ms) const {
        pollfd p{fd, events, 0};
        int r = netmap_poll(&p, 1, timeout_ms);
        return r < 0 ? -1 : r == 0 ? 0 : p.revents;
    }
};

inline uint32_t ring_next(const netmap_ring* r, uint32_t i) { return i + 1 == r->num_slots ? 0 : i + 1; }
inline uint32_t ring_space(const netmap_ring* r) {
    int64_t d = static_cast<int64_t>(r->tail) - r->cur;
    if (d < 0) d += r->num_slots;
    return static_cast<uint32_t>(d);
}

/// Fill the slot at tx->cur with `len` bytes of pattern `seed`, advance head/cur.
inline void put_frame(netmap_ring* tx, uint32_t len, uint32_t seed, uint16_t flags = 0) {
    netmap_slot& s = tx->slot[tx->cur];
    char* b = Port::buf(tx, s.buf_idx);
    for (uint32_t i = 0; i < len; i++) b[i] = static_cast<char>(seed * 31 + i);
    s.len = static_cast<uint16_t>(len);
    s.flags = flags;
    tx->head = tx->cur = ring_next(tx, tx->cur);
}

inline bool frame_ok(netmap_ring* rx, const netmap_slot& s, uint32_t len, uint32_t seed) {
    if (s.len != len) return false;
    const char* b = Port::buf(rx, s.buf_idx);
    for (uint32_t i = 0; i < len; i++)
        if (b[i] != static_cast<char>(seed * 31 + i)) return false;
    return true;
}

// ---------------------------------------------------------------------------
// The region's private allocation state, read from its file (tests only):
// the RegionMeta block sits right after the user-visible part (memsize).
// ---------------------------------------------------------------------------

/// Free-object counts of the region whose user-visible size is `memsize`
/// and whose id is `mem_id`: {if, ring, buf}; all -1 if not found.
struct FreeCounts {
    int64_t pool[3] = {-1, -1, -1};
    int64_t bufs() const { return pool[2]; }
};

// Defined by tests that include core/region.h (needs the internal header).
#ifdef UNETMAP_TEST_HAVE_REGION_META
inline FreeCounts region_free_counts(uint32_t mem_id, uint64_t memsize) {
    FreeCounts fc;
    const std::string prefix = "mem." + std::to_string(mem_id) + ".";
    for (const auto& n : state_entries()) {
        if (n.rfind(prefix, 0) != 0) continue;
        const std::string path = state_dir() + "/" + n;
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st {};
        ::fstat(fd, &st);
        if (static_cast<uint64_t>(st.st_size) < memsize + sizeof(unetmap::RegionMeta)) {
            ::close(fd);
            continue;
        }
        void* p = ::mmap(nullptr, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        ::close(fd);
        if (p == MAP_FAILED) continue;
        const auto* m = reinterpret_cast<const unetmap::RegionMeta*>(static_cast<char*>(p) + memsize);
        if (m->magic == unetmap::RegionMeta::kMagic && m->memsize == memsize)
            for (int i = 0; i < 3; i++) fc.pool[i] = __atomic_load_n(&m->free_count[i], __ATOMIC_ACQUIRE);
        ::munmap(p, st.st_size);
        if (fc.pool[0] >= 0) break;
    }
    return fc;
}
#endif

// ---------------------------------------------------------------------------
// Processes and time
// ---------------------------------------------------------------------------

inline double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/// Send / receive one value over a pipe descriptor (receive is bounded).
inline bool chan_send(int fd, uint32_t v) { return ::write(fd, &v, sizeof v) == sizeof v; }
inline bool chan_recv(int fd, uint32_t& v, int timeout_ms = 10000) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return false;
    return ::read(fd, &v, sizeof v) == sizeof v;
}

/// A one-way channel between parent and child (a pipe(2); both ends are
/// inherited by children, exec'd ones included: pass `r`/`w` as numbers).
struct Chan {
    int r = -1, w = -1;
    Chan() {
        int p[2];
        if (::pipe(p) == 0) r = p[0], w = p[1];
    }
    ~Chan() {
        if (r >= 0) ::close(r);
        if (w >= 0) ::close(w);
    }
    Chan(const Chan&) = delete;
    Chan& operator=(const Chan&) = delete;
    bool send(uint32_t v) const { return chan_send(w, v); }
    bool recv(uint32_t& v, int timeout_ms = 10000) const { return chan_recv(r, v, timeout_ms); }
    std::string rs() const { return std::to_string(r); }
    std::string ws() const { return std::to_string(w); }
};

/// Run `fn` in a forked child (no exec); its return value is the exit
/// status.  `normal_exit` uses exit() (atexit handlers run, as for a program
/// that returns from main), otherwise _exit().
inline pid_t spawn(const std::function<int()>& fn, bool normal_exit = false) {
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
        int code = 99;
        try {
            code = fn();
        } catch (...) {
        }
        if (normal_exit) std::exit(code);
        ::_exit(code);
    }
    return pid;
}

// ---------------------------------------------------------------------------
// Roles: child programs run by re-executing the test binary
// (`<binary> --nmtest-role=NAME args...`, dispatched by test_main.cpp).  A
// fresh exec'd process shares nothing with the parent but the descriptors
// it inherits and the environment (UNETMAP_DIR), like two netmap
// applications.  A role returns its exit status; returning from main runs
// the atexit handlers, as a program that never closed its descriptors.
// ---------------------------------------------------------------------------

using RoleFn = int (*)(const std::vector<std::string>& args);

inline std::vector<std::pair<std::string, RoleFn>>& roles() {
    static std::vector<std::pair<std::string, RoleFn>> r;
    return r;
}

struct RoleRegistrar {
    RoleRegistrar(const char* name, RoleFn fn) { roles().emplace_back(name, fn); }
};

#define NMTEST_ROLE(name)                                                       \
    static int nmtest_role_##name(const std::vector<std::string>& args);        \
    static ::nmtest::RoleRegistrar nmtest_role_reg_##name(#name, nmtest_role_##name); \
    static int nmtest_role_##name([[maybe_unused]] const std::vector<std::string>& args)

inline constexpr const char* kRoleFlag = "--nmtest-role=";

/// Called by main(): runs the role named in argv, if any; -1 otherwise.
inline int maybe_run_role(int argc, char** argv) {
    if (argc < 2 || std::strncmp(argv[1], kRoleFlag, std::strlen(kRoleFlag)) != 0) return -1;
    const std::string name = argv[1] + std::strlen(kRoleFlag);
    std::vector<std::string> args(argv + 2, argv + argc);
    for (const auto& [n, fn] : roles())
        if (n == name) return fn(args);
    std::fprintf(stderr, "unknown role %s\n", name.c_str());
    return 98;
}

/// Start role `name` in a new process (fork + exec of this binary).
inline pid_t spawn_role(const std::string& name, const std::vector<std::string>& args = {}) {
    std::vector<std::string> all = {"nmtest-child", kRoleFlag + name};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::execv("/proc/self/exe", argv.data());
        ::_exit(97);
    }
    return pid;
}

inline uint32_t arg_u32(const std::vector<std::string>& a, size_t i) {
    return i < a.size() ? static_cast<uint32_t>(std::strtoul(a[i].c_str(), nullptr, 0)) : 0;
}

/// Wait (bounded) for a child; returns its exit status, or -1 if it did
/// not exit normally / in time (it is then killed).
inline int wait_child(pid_t pid, int timeout_ms = 20000) {
    const double end = now_s() + timeout_ms / 1000.0;
    int st = 0;
    for (;;) {
        pid_t r = ::waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        if (r < 0) return -1;
        if (now_s() > end) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &st, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/// Kill a child with SIGKILL and reap it.
inline void kill_child(pid_t pid) {
    ::kill(pid, SIGKILL);
    int st;
    ::waitpid(pid, &st, 0);
}

}  // namespace nmtest
