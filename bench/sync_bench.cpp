// Cost of the sync path itself, in one process and one thread (Google
// Benchmark): no cache lines cross cores here, so this is the instruction
// cost of our txsync/rxsync per batch.  The two-process figures (what
// users see) come from pipe_rate and pipes_vs_memif.sh.
//
//   NullTxSync/B   fill B slots of a null port's TX ring, NIOCTXSYNC
//   PipeRound/B    B slots into a pipe's master end, NIOCTXSYNC, then the
//                  slave end takes them (NIOCRXSYNC) and releases them
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <net/netmap_user.h>

namespace {

struct Port {
    int fd = -1;
    void* mem = MAP_FAILED;
    nmreq_register reg{};
    netmap_if* nifp = nullptr;

    explicit Port(const std::string& name) {
        nmreq_header hdr{};
        hdr.nr_version = NETMAP_API;
        hdr.nr_reqtype = NETMAP_REQ_REGISTER;
        std::snprintf(hdr.nr_name, sizeof hdr.nr_name, "%s", name.c_str());
        hdr.nr_body = reinterpret_cast<uintptr_t>(&reg);
        reg.nr_mode = NR_REG_ALL_NIC;
        fd = open("/dev/netmap", O_RDWR);
        if (fd < 0 || ioctl(fd, NIOCCTRL, &hdr) != 0) std::abort();
        mem = mmap(nullptr, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mem == MAP_FAILED) std::abort();
        nifp = NETMAP_IF(mem, reg.nr_offset);
    }
    ~Port() {
        munmap(mem, reg.nr_memsize);
        close(fd);
    }
    netmap_ring* tx() const { return NETMAP_TXRING(nifp, 0); }
    netmap_ring* rx() const { return NETMAP_RXRING(nifp, 0); }
};

// Hand over n slots (never more than the ring has room for).
unsigned advance(netmap_ring* r, unsigned n) {
    if (n > nm_ring_space(r)) n = nm_ring_space(r);
    unsigned c = r->cur + n;
    if (c >= r->num_slots) c -= r->num_slots;
    r->head = r->cur = c;
    return n;
}

void NullTxSync(benchmark::State& st) {
    Port p("null:bench");
    const unsigned batch = static_cast<unsigned>(st.range(0));
    netmap_ring* tx = p.tx();
    for (unsigned i = 0; i < tx->num_slots; i++) tx->slot[i].len = 60;
    int64_t moved = 0;
    for (auto _ : st) {
        moved += advance(tx, batch);
        ioctl(p.fd, NIOCTXSYNC, nullptr);
    }
    st.SetItemsProcessed(moved);
}

void PipeRound(benchmark::State& st) {
    Port m("bench{0"), s("bench}0");
    const unsigned batch = static_cast<unsigned>(st.range(0));
    netmap_ring* tx = m.tx();
    netmap_ring* rx = s.rx();
    for (unsigned i = 0; i < tx->num_slots; i++) tx->slot[i].len = 60;
    int64_t moved = 0;
    for (auto _ : st) {
        moved += advance(tx, batch);
        ioctl(m.fd, NIOCTXSYNC, nullptr);
        ioctl(s.fd, NIOCRXSYNC, nullptr);
        advance(rx, nm_ring_space(rx));
        ioctl(s.fd, NIOCRXSYNC, nullptr);
    }
    st.SetItemsProcessed(moved);
}

}  // namespace

BENCHMARK(NullTxSync)->RangeMultiplier(4)->Range(1, 512);
BENCHMARK(PipeRound)->RangeMultiplier(4)->Range(1, 512);

int main(int argc, char** argv) {
    // A private state directory, removed by the library with the last port.
    if (!std::getenv("UNETMAP_DIR")) {
        std::string dir = "/dev/shm/unetmap-bench-" + std::to_string(getpid());
        setenv("UNETMAP_DIR", dir.c_str(), 1);
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    rmdir(std::getenv("UNETMAP_DIR"));
    return 0;
}
