// Shared by the libFuzzer targets: a private state directory, a bound on
// what it may hold, and a "user memory" arena with a guard page and a
// read-only page so requests can carry pointers that fault (EFAULT paths).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

// Always on (the fuzz build is RelWithDebInfo, so assert() would vanish).
#define FUZZ_CHECK(cond, ...)                                              \
    do {                                                                   \
        if (!(cond)) {                                                     \
            std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d): ", #cond, \
                         __FILE__, __LINE__);                              \
            std::fprintf(stderr, __VA_ARGS__);                             \
            std::fprintf(stderr, "\n");                                    \
            std::abort();                                                  \
        }                                                                  \
    } while (0)

namespace fuzz {

// UNETMAP_FUZZ_VERBOSE=1: the targets print what each input did.
inline bool verbose() {
    static const bool v = std::getenv("UNETMAP_FUZZ_VERBOSE") != nullptr;
    return v;
}

inline std::string& state_dir() {
    static std::string d;
    return d;
}

// Remove the private directory at exit (the library's own atexit handler,
// registered later at the first open("/dev/netmap"), runs before this one
// and closes our descriptors, which removes their files).
inline void remove_state_dir() {
    const std::string& d = state_dir();
    if (d.empty()) return;
    if (DIR* dir = ::opendir(d.c_str())) {
        while (dirent* e = ::readdir(dir)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") ::unlink((d + "/" + n).c_str());
        }
        ::closedir(dir);
    }
    ::rmdir(d.c_str());
}

// A fresh mkdtemp directory as UNETMAP_DIR (before any netmap call),
// smaller regions than the default so that creating one is cheap, and no
// NIC port outside a test namespace: a fuzzed name ("eth0") must never
// open one of the machine's interfaces.
inline void setup_state_dir(const char* tag) {
    const char* parent = std::getenv("UNETMAP_FUZZ_TMP");
    std::string tmpl = std::string(parent && *parent ? parent : "/dev/shm") + "/unetmap-fuzz-" + tag + "-XXXXXX";
    char* d = ::mkdtemp(tmpl.data());
    if (!d) {
        std::perror("mkdtemp");
        std::abort();
    }
    state_dir() = d;
    ::setenv("UNETMAP_DIR", d, 1);
    ::setenv("UNETMAP_BUF_NUM", "8192", 0);
    ::setenv("UNETMAP_RING_NUM", "128", 0);
    ::setenv("UNETMAP_IF_NUM", "64", 0);
    ::setenv("UNETMAP_POLL_SPIN_US", "0", 0);
    ::setenv("UNETMAP_NIC_NETNS_ONLY", "1", 1);
    std::atexit(remove_state_dir);
}

inline int count_state_files(std::string* names = nullptr) {
    int n = 0;
    if (DIR* dir = ::opendir(state_dir().c_str())) {
        while (dirent* e = ::readdir(dir)) {
            if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
            n++;
            if (names) *names += std::string(" ") + e->d_name;
        }
        ::closedir(dir);
    }
    return n;
}

// The state directory must stay small: ctl, a few regions, a few sockets.
inline void check_state_bounded(int limit) {
    const int n = count_state_files();
    if (n > limit) {
        std::string names;
        count_state_files(&names);
        FUZZ_CHECK(n <= limit, "%d files in %s:%s", n, state_dir().c_str(), names.c_str());
    }
}

// User memory for requests:
//   [ rw arena: kArenaPages pages ][ PROT_NONE guard ][ read-only page ][ PROT_NONE ]
struct Arena {
    static constexpr size_t kPage = 4096;
    static constexpr size_t kArenaPages = 4;
    unsigned char* base = nullptr;

    unsigned char* rw() const { return base; }
    size_t rw_size() const { return kArenaPages * kPage; }
    unsigned char* guard() const { return base + rw_size(); }  // faults
    unsigned char* ro() const { return guard() + kPage; }      // readable, not writable

    void init() {
        void* p = ::mmap(nullptr, (kArenaPages + 3) * kPage, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) std::abort();
        base = static_cast<unsigned char*>(p);
        ::mprotect(guard(), kPage, PROT_NONE);
        ::mprotect(ro(), kPage, PROT_READ);
        ::mprotect(ro() + kPage, kPage, PROT_NONE);
    }
    // Put `len` bytes at the start of the read-only page.
    void* put_ro(const void* src, size_t len) {
        if (len > kPage) len = kPage;
        ::mprotect(ro(), kPage, PROT_READ | PROT_WRITE);
        std::memset(ro(), 0, kPage);
        std::memcpy(ro(), src, len);
        ::mprotect(ro(), kPage, PROT_READ);
        return ro();
    }
    // Put the first `keep` bytes of an object just before the guard page,
    // so reading more than `keep` bytes faults.
    void* put_straddling(const void* src, size_t keep) {
        unsigned char* at = guard() - keep;
        std::memcpy(at, src, keep);
        return at;
    }
};

// Pointer choices for request fields, picked by one input byte.
enum PtrMode : uint8_t {
    kPtrArena = 0,  // where it belongs, inside the arena
    kPtrNull,       // 0
    kPtrGuard,      // inside the PROT_NONE page
    kPtrStraddle,   // readable start, faulting tail
    kPtrReadOnly,   // readable, not writable (copy_out fails)
    kPtrLow,        // small wild value (0x1000-ish)
    kPtrHigh,       // kernel-half / non-canonical address
    kPtrMisaligned, // inside the arena, odd address
    kNumPtrModes
};

}  // namespace fuzz
