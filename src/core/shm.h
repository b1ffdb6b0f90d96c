// Named shared-memory files and their mappings.
//
// Everything unetmap shares between processes lives in plain files in one
// directory on a tmpfs (default /dev/shm/unetmap, or $UNETMAP_DIR): the
// control file `ctl`, one file per memory region, and one Unix
// socket per registered descriptor `b<slot>.<gen>`.  A directory of our own
// (rather than shm_open names) lets tests isolate themselves by pointing
// UNETMAP_DIR elsewhere, and lets an administrator see and remove everything
// with ls/rm.  Regions are `mem.<id>.<gen>`.  Files are created with mode
// 0660 filtered by the umask.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace unetmap {

/// The directory holding all shared state; created on first use.
const std::string& state_dir();
/// Path of a file inside state_dir().
std::string state_path(const std::string& leaf);

/// A read-write MAP_SHARED mapping of a whole file; unmapped on destruction.
class Mapping {
public:
    Mapping() = default;
    Mapping(void* base, std::size_t size) : base_(base), size_(size) {}
    Mapping(Mapping&& o) noexcept { *this = std::move(o); }
    Mapping& operator=(Mapping&& o) noexcept;
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() { reset(); }

    void reset();
    void* release() { void* b = base_; base_ = nullptr; size_ = 0; return b; }
    [[nodiscard]] std::byte* data() const { return static_cast<std::byte*>(base_); }
    [[nodiscard]] std::size_t size() const { return size_; }
    explicit operator bool() const { return base_ != nullptr; }
    template <class T> T* as(std::size_t ofs = 0) const {
        return reinterpret_cast<T*>(data() + ofs);
    }

private:
    void* base_ = nullptr;
    std::size_t size_ = 0;
};

/// Create `path` exclusively with the given size (sparse) and map it.
/// Returns 0 or a positive errno.
int shm_create(const std::string& path, std::size_t size, Mapping& out);
/// Which file a path named when it was opened (device and inode).
struct FileId {
    uint64_t dev = 0, ino = 0;
    bool operator==(const FileId&) const = default;
};
/// Map an existing file whole.  Returns 0 or a positive errno (ENOENT if
/// absent).  `id`, if given, gets the file's identity.
int shm_open_existing(const std::string& path, Mapping& out, FileId* id = nullptr);
/// Does `path` still name file `id`?
bool shm_is(const std::string& path, const FileId& id);
/// Remove a file from the state directory (ignores ENOENT).
void shm_remove(const std::string& path);

}  // namespace unetmap
