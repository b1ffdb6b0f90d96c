// Descriptor: one open of /dev/netmap in this process (netmap_priv_d).
//
// The application's file descriptor is a Unix datagram socket.  Before
// NETMAP_REQ_REGISTER it is unbound and only serves control requests; after
// it, it is bound to the binding's path (see registry.h), which both keeps
// the binding alive and receives wakeups: a peer that makes this
// descriptor's rings ready while we sleep sends it one datagram, so the
// descriptor is readable in the kernel's eyes while our poll()/select()
// sleep on it, even mixed with ordinary descriptors (src/abi/ does it for
// poll, select and epoll).
//
// Syncs run in the caller's thread, like a netmap system call, and touch
// only this binding's rings and (for pipes/VALE) the peers' shared state.
#pragma once

#include <cstdint>
#include <memory>

#include <net/netmap.h>

#include "core/kring.h"
#include "core/port_type.h"
#include "core/region.h"
#include "core/registry.h"

namespace unetmap {

class Descriptor {
public:
    explicit Descriptor(int fd) : fd_(fd) {}
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;

    [[nodiscard]] int fd() const { return fd_; }
    [[nodiscard]] bool registered() const { return binding_ != kNone; }
    [[nodiscard]] uint32_t binding() const { return binding_; }
    [[nodiscard]] uint32_t binding_gen() const { return binding_gen_; }
    [[nodiscard]] const std::shared_ptr<Region>& region() const { return region_; }
    [[nodiscard]] PortEntry* port() const { return port_; }
    [[nodiscard]] uint32_t qfirst(uint32_t d) const { return qfirst_[d]; }
    [[nodiscard]] uint32_t qlast(uint32_t d) const { return qlast_[d]; }
    [[nodiscard]] uint64_t flags() const { return flags_; }
    [[nodiscard]] uint64_t nifp_offset() const { return nifp_ofs_; }

    /// Record a successful registration (called by the control plane).
    void bind(uint32_t binding, uint32_t port, std::shared_ptr<Region> region,
              const uint32_t qfirst[2], const uint32_t qlast[2], uint64_t flags, uint64_t nifp_ofs,
              std::shared_ptr<LocalBinding> local = nullptr);
    /// Re-create the state of an existing binding (descriptor received over
    /// SCM_RIGHTS, inherited across exec, or duplicated).  `gen` must match
    /// the binding's generation.  Returns 0 or errno.
    int adopt(uint32_t binding, uint32_t gen);

    /// NIOCTXSYNC / NIOCRXSYNC: sync every bound ring of one direction.
    /// Returns 0, or EINVAL if some ring had to be reinitialised.
    int sync(uint32_t dir);

    /// poll() semantics for this descriptor (netmap_poll): implicit txsync
    /// (unless NR_NO_TX_POLL), rxsync when reading is wanted.  Returns the
    /// revents: POLLIN/POLLOUT as asked in `events`, POLLERR (always
    /// reported, as poll does) when a ring had to be reinitialised.
    short poll_ready(short events);
    /// Ask to be woken when a ring of the wanted directions may have become
    /// ready; `disarm` withdraws the request.  Between arm and sleeping, the
    /// caller must call poll_ready again (a wakeup may already be lost to
    /// the check that preceded arm otherwise).
    void arm(short events);
    void disarm();
    /// Discard pending wakeup datagrams (after sleeping).
    void drain_wakeups();
    /// The descriptor to sleep on: our socket, or for ports served by this
    /// process's kernel objects (NICs) one that also wakes on their traffic.
    [[nodiscard]] int wait_fd() const { return local_ ? local_->wait_fd() : fd_; }

    /// mmap of the region through this descriptor (offset 0, up to memsize).
    /// Returns the mapping or MAP_FAILED with errno set.
    void* map(void* addr, size_t len, int prot, int flags, off_t off);

    /// Called when the application closes its descriptor: if nobody holds
    /// the socket any more, release the binding.
    void on_close();

private:
    int sync_ring(uint32_t dir, uint32_t i);

    int fd_;
    uint32_t binding_ = kNone;
    uint32_t binding_gen_ = 0;
    uint32_t port_slot_ = kNone;
    PortEntry* port_ = nullptr;
    std::shared_ptr<Region> region_;
    uint32_t qfirst_[2] = {0, 0}, qlast_[2] = {0, 0};
    uint64_t flags_ = 0;
    uint64_t nifp_ofs_ = 0;
    std::shared_ptr<LocalBinding> local_;  // NIC ports: this process's sockets
};

/// Which thread is syncing a ring (the KRing busy word); unique per live thread.
uint32_t thread_tag();

}  // namespace unetmap
