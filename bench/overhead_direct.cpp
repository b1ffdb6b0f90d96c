// Way (c) of the interposition overhead benchmark (bench/overhead_loop.h):
// the core's own C++ API, what libnetmap's ioctl() calls once it has found
// the descriptor: ctl_request() to register, Descriptor::map() to map,
// Descriptor::sync() per sync.  No interposed libc call on the data path.
// Links the static library (the core's symbols are hidden in the .so).
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "core/descriptor.h"
#include "ctl/requests.h"

using unetmap::Descriptor;

#define OV_CTX Descriptor*
#define OV_TXSYNC(d) (d)->sync(unetmap::kTx)
#define OV_RXSYNC(d) (d)->sync(unetmap::kRx)
#include "overhead_loop.h"

namespace {

struct DirectPort {
    std::unique_ptr<Descriptor> d;
    netmap_if* nifp = nullptr;
    void* mem = nullptr;
    size_t size = 0;

    bool open(const char* name) {
        // A netmap descriptor is an unbound datagram socket until REGISTER.
        const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return false;
        d = std::make_unique<Descriptor>(fd);
        nmreq_register reg{};
        nmreq_header hdr{};
        hdr.nr_version = NETMAP_API;
        hdr.nr_reqtype = NETMAP_REQ_REGISTER;
        std::snprintf(hdr.nr_name, sizeof hdr.nr_name, "%s", name);
        hdr.nr_body = reinterpret_cast<uintptr_t>(&reg);
        reg.nr_mode = NR_REG_ALL_NIC;
        if (int e = unetmap::ctl_request(*d, &hdr)) {
            errno = e;
            return false;
        }
        mem = d->map(nullptr, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
        if (mem == MAP_FAILED) return false;
        size = reg.nr_memsize;
        nifp = NETMAP_IF(mem, reg.nr_offset);
        return true;
    }
    ~DirectPort() {
        if (mem && mem != MAP_FAILED) ::munmap(mem, size);
        if (d) {
            ::close(d->fd());
            d->on_close();
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    unsigned batch;
    double seconds;
    if (ov_args(argc, argv, &batch, &seconds) != 0) {
        std::fprintf(stderr, "usage: overhead_direct BATCH SECONDS\n");
        return 2;
    }
    ov_pin();
    int rc;
    {
        DirectPort m, s;
        if (!m.open("ovpipe{0") || !s.open("ovpipe}0")) {
            std::perror("register");
            return 1;
        }
        rc = ov_report(ov_run(m.d.get(), NETMAP_TXRING(m.nifp, 0), s.d.get(),
                              NETMAP_RXRING(s.nifp, 0), batch, seconds));
    }
    return rc;
}
