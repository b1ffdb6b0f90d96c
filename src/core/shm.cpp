#include "core/shm.h"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/syscalls.h"

namespace unetmap {

const std::string& state_dir() {
    // Never destroyed: atexit handlers registered before its first use
    // (closing descriptors at exit) still need it.
    static const std::string& dir = *new std::string([] {
        const char* env = std::getenv("UNETMAP_DIR");
        std::string d = (env && *env) ? env : "/dev/shm/unetmap";
        // 0770 & ~umask: group members may be granted access (see docs).
        if (::mkdir(d.c_str(), 0770) != 0 && errno != EEXIST) {
            // Leave it: the first open in it reports the real error.
        }
        return d;
    }());
    return dir;
}

std::string state_path(const std::string& leaf) { return state_dir() + "/" + leaf; }

Mapping& Mapping::operator=(Mapping&& o) noexcept {
    if (this != &o) {
        reset();
        base_ = std::exchange(o.base_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

void Mapping::reset() {
    if (base_) sys::munmap(base_, size_);
    base_ = nullptr;
    size_ = 0;
}

static int map_fd(int fd, std::size_t size, Mapping& out) {
    void* p = sys::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return errno;
    out = Mapping(p, size);
    return 0;
}

int shm_create(const std::string& path, std::size_t size, Mapping& out) {
    int fd = sys::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
    if (fd < 0) return errno;
    int err = 0;
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) err = errno;
    if (!err) err = map_fd(fd, size, out);
    sys::close(fd);
    if (err) ::unlink(path.c_str());
    return err;
}

int shm_open_existing(const std::string& path, Mapping& out, FileId* id) {
    int fd = sys::open(path.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) return errno;
    struct stat st {};
    int err = 0;
    if (::fstat(fd, &st) != 0) err = errno;
    else if (st.st_size <= 0) err = EAGAIN;  // creator has not sized it yet
    if (!err && id) *id = FileId{st.st_dev, st.st_ino};
    if (!err) err = map_fd(fd, static_cast<std::size_t>(st.st_size), out);
    sys::close(fd);
    return err;
}

void shm_remove(const std::string& path) { ::unlink(path.c_str()); }

bool shm_is(const std::string& path, const FileId& id) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && FileId{st.st_dev, st.st_ino} == id;
}

}  // namespace unetmap
