// Writes the seed corpus of the fuzz targets: `fuzz_make_corpus DIR`
// creates DIR/<target>/<seed> (small binary files in each target's input
// layout, see ctl_input.h and the targets' header comments).  The files
// in fuzz/corpus/ were made with it; rerun it after a layout change.
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <net/netmap.h>
#include <net/netmap_legacy.h>

#include "ctl_input.h"
#include "fuzz_common.h"

namespace {

std::string g_dir;
using Bytes = std::vector<unsigned char>;

void put(Bytes& b, const void* p, size_t n) {
    auto* c = static_cast<const unsigned char*>(p);
    b.insert(b.end(), c, c + n);
}

void write(const std::string& target, const std::string& name, const Bytes& b) {
    const std::string d = g_dir + "/" + target;
    ::mkdir(d.c_str(), 0755);
    FILE* f = std::fopen((d + "/" + name).c_str(), "wb");
    if (!f) { std::perror(name.c_str()); return; }
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
}

// --- fuzz_ctl_request -------------------------------------------------------

struct Ctl {
    fuzz::CtlPrefix pre{};
    nmreq_header h{};
    unsigned char body[fuzz::kBodyBytes] = {};
    std::vector<nmreq_option> opts;
    Ctl(uint16_t type, const char* name) {
        h.nr_version = NETMAP_API;
        h.nr_reqtype = type;
        std::strncpy(h.nr_name, name, sizeof h.nr_name - 1);
    }
    template <class T> T& as() { return *reinterpret_cast<T*>(body); }
    void emit(const std::string& n) {
        Bytes b;
        pre.nopts = static_cast<uint8_t>(opts.size());
        put(b, &pre, sizeof pre);
        put(b, &h, sizeof h);
        // the body only as far as it is not zero (missing bytes read as zero)
        size_t blen = opts.empty() ? 0 : sizeof body;
        if (!blen)
            for (size_t i = 0; i < sizeof body; i++)
                if (body[i]) blen = i + 1;
        put(b, body, blen);
        for (auto& o : opts) {
            unsigned char raw[fuzz::kOptBytes] = {};
            std::memcpy(raw, &o, sizeof o);
            put(b, raw, sizeof raw);
        }
        write("fuzz_ctl_request", n, b);
    }
};

void ctl_seeds() {
    { Ctl c(NETMAP_REQ_REGISTER, "null"); c.as<nmreq_register>().nr_mode = NR_REG_ALL_NIC; c.emit("register_null"); }
    { Ctl c(NETMAP_REQ_REGISTER, "x{1");
      auto& r = c.as<nmreq_register>(); r.nr_tx_slots = 16; r.nr_tx_rings = 2;
      c.pre.flags = fuzz::kSyncAfter; c.emit("register_pipe_sync"); }
    { Ctl c(NETMAP_REQ_REGISTER, "vale0:a"); c.pre.flags = fuzz::kSyncAfter | fuzz::kKeepRegistered;
      c.as<nmreq_register>().nr_rx_slots = 8; c.emit("register_vale_keep"); }
    { Ctl c(NETMAP_REQ_REGISTER, "null:a");
      auto& r = c.as<nmreq_register>(); r.nr_mode = NR_REG_ONE_NIC; r.nr_ringid = 1; r.nr_tx_rings = 2;
      r.nr_flags = NR_EXCLUSIVE | NR_TX_RINGS_ONLY; r.nr_extra_bufs = 4; r.nr_mem_id = 3;
      c.emit("register_null_onenic_extra"); }
    { Ctl c(NETMAP_REQ_REGISTER, "p");
      auto& r = c.as<nmreq_register>(); r.nr_mode = NR_REG_PIPE_MASTER; r.nr_ringid = 3;
      c.emit("register_oldstyle_pipe"); }
    { Ctl c(NETMAP_REQ_PORT_INFO_GET, "vale1:b"); c.emit("port_info_vale"); }
    { Ctl c(NETMAP_REQ_PORT_INFO_GET, "y}2"); c.as<nmreq_port_info_get>().nr_rx_rings = 3; c.emit("port_info_pipe"); }
    { Ctl c(NETMAP_REQ_POOLS_INFO_GET, ""); c.as<nmreq_pools_info>().nr_mem_id = 2; c.emit("pools_info_memid"); }
    { Ctl c(NETMAP_REQ_POOLS_INFO_GET, "null"); c.emit("pools_info_null"); }
    { Ctl c(NETMAP_REQ_VALE_NEWIF, "v0"); c.as<nmreq_vale_newif>().nr_tx_rings = 2; c.emit("vale_newif"); }
    { Ctl c(NETMAP_REQ_VALE_LIST, ""); c.emit("vale_list"); }
    { Ctl c(NETMAP_REQ_VALE_LIST, "vale0:a"); c.emit("vale_list_name"); }
    { Ctl c(NETMAP_REQ_VALE_ATTACH, "vale0:null"); c.emit("vale_attach"); }
    { Ctl c(NETMAP_REQ_VALE_DETACH, "vale0:v0"); c.emit("vale_detach"); }
    { Ctl c(NETMAP_REQ_VALE_DELIF, "v0"); c.pre.body_mode = fuzz::kPtrNull; c.emit("vale_delif"); }
    { Ctl c(NETMAP_REQ_CSB_ENABLE, "null"); c.emit("csb_enable"); }
    { Ctl c(NETMAP_REQ_REGISTER, "null");
      nmreq_option o{}; o.nro_reqtype = NETMAP_REQ_OPT_EXTMEM; c.opts.push_back(o);
      o.nro_reqtype = NETMAP_REQ_OPT_OFFSETS; c.opts.push_back(o);
      c.emit("register_two_options"); }
    { Ctl c(NETMAP_REQ_REGISTER, "null");
      nmreq_option o{}; o.nro_reqtype = NETMAP_REQ_OPT_CSB; c.opts.push_back(o); c.opts.push_back(o);
      c.emit("register_duplicate_option"); }
    { Ctl c(NETMAP_REQ_REGISTER, "null");
      nmreq_option o{}; for (int i = 1; i <= 3; i++) { o.nro_reqtype = i; c.opts.push_back(o); }
      c.pre.opt_mode = 3; c.emit("register_option_loop"); }
    { Ctl c(NETMAP_REQ_PORT_INFO_GET, "null");
      nmreq_option o{}; o.nro_reqtype = 1; c.opts.push_back(o);
      c.pre.opt_mode = 2; c.pre.opt_wild = fuzz::kPtrStraddle; c.emit("option_straddle"); }
    { Ctl c(NETMAP_REQ_REGISTER, "null"); c.pre.body_mode = fuzz::kPtrStraddle; c.emit("body_straddle"); }
    { Ctl c(NETMAP_REQ_REGISTER, "null"); c.pre.body_mode = fuzz::kPtrReadOnly; c.emit("body_readonly"); }
    { Ctl c(NETMAP_REQ_VALE_LIST, ""); c.pre.hdr_mode = fuzz::kPtrReadOnly; c.emit("hdr_readonly_list"); }
    { Ctl c(NETMAP_REQ_REGISTER, "null"); c.pre.hdr_mode = fuzz::kPtrGuard; c.emit("hdr_guard"); }
}

// --- fuzz_legacy_nmreq ------------------------------------------------------

void legacy(const std::string& n, uint8_t cmd, const char* name, uint32_t version, void (*f)(nmreq&) = nullptr,
            uint8_t ptr_mode = 0, uint8_t flags = 0) {
    fuzz::LegacyPrefix pre{ptr_mode, cmd, flags, 0};
    nmreq q{};
    std::strncpy(q.nr_name, name, sizeof q.nr_name - 1);
    q.nr_version = version;
    if (f) f(q);
    Bytes b;
    put(b, &pre, sizeof pre);
    put(b, &q, sizeof q);
    write("fuzz_legacy_nmreq", n, b);
}

void legacy_seeds() {
    legacy("regif_null", 0, "null", NETMAP_API, nullptr, 0, fuzz::kSyncAfter);
    legacy("ginfo_pipe", 2, "x{2", NETMAP_API, [](nmreq& q) { q.nr_tx_rings = 2; q.nr_rx_slots = 32; });
    legacy("regif_pipe_master", 0, "p", 11, [](nmreq& q) { q.nr_flags = NR_REG_PIPE_MASTER; q.nr_ringid = 7; });
    legacy("regif_hw_ring", 0, "null:h", NETMAP_API,
           [](nmreq& q) { q.nr_tx_rings = 2; q.nr_ringid = NETMAP_HW_RING | 1 | NETMAP_NO_TX_POLL; });
    legacy("regif_sw_ring", 0, "null", NETMAP_API, [](nmreq& q) { q.nr_ringid = NETMAP_SW_RING; });
    legacy("regif_vale", 1, "vale0:l", NETMAP_API, [](nmreq& q) { q.nr_arg3 = 2; }, 0, fuzz::kSyncAfter);
    legacy("bdg_list", 0, "vale0:", NETMAP_API, [](nmreq& q) { q.nr_cmd = NETMAP_BDG_LIST; });
    legacy("bdg_list_ginfo", 2, "", NETMAP_API, [](nmreq& q) { q.nr_cmd = NETMAP_BDG_LIST; });
    legacy("bdg_newif", 0, "fz0", NETMAP_API, [](nmreq& q) { q.nr_cmd = NETMAP_BDG_NEWIF; q.nr_rx_rings = 2; });
    legacy("bdg_attach_null", 0, "vale0:null", NETMAP_API, [](nmreq& q) { q.nr_cmd = NETMAP_BDG_ATTACH; });
    legacy("bdg_vnet_hdr", 0, "vale0:l", NETMAP_API, [](nmreq& q) { q.nr_cmd = NETMAP_BDG_VNET_HDR; q.nr_arg1 = 12; });
    legacy("bdg_polling_on", 0, "vale0:l", NETMAP_API,
           [](nmreq& q) { q.nr_cmd = NETMAP_BDG_POLLING_ON; q.nr_flags = NR_REG_ONE_NIC; q.nr_arg1 = 1; });
    legacy("ginfo_readonly", 2, "null", NETMAP_API, nullptr, fuzz::kPtrReadOnly);
    legacy("regif_straddle", 0, "null", NETMAP_API, nullptr, fuzz::kPtrStraddle);
    legacy("config", 4, "null", NETMAP_API);
}

// --- fuzz_port_name ---------------------------------------------------------

void name_seeds() {
    const char* specs[] = {
        "netmap:eth0", "vale0:p", "vale1:x{3/T@2", "null:a}5-1", "netmap:x{1*", "netmap:eth0^2/Rz@3",
        "netmap:eth0@conf:rings=4,slots=64", "vale:a@share:vale0:b", "netmap:p@offset:initial=64",
        "netmap:eth0/NRTxze", "null:", "netmap:a@conf=2@share=null:x",
    };
    int i = 0;
    for (const char* s : specs) {
        Bytes b;
        b.push_back(i % 3 == 0 ? 0x82 : 0);
        put(b, s, std::strlen(s));
        write("fuzz_port_name", "spec" + std::to_string(i++), b);
    }
}

// --- fuzz_sync -------------------------------------------------------------

void sync_seed(const std::string& n, Bytes b) { write("fuzz_sync", n, b); }

void sync_seeds() {
    // which (1 null, 2 pipe, 4 vale), slots (0:4 1:16 2:64 3:2), then ops: op, endpoint, args
    sync_seed("pipe_send_receive", {2, 1,
        5, 0, 3, 10, 1, 20, 1, 30, 1,  // send 3 slots on the master
        2, 0,                          // TXSYNC master
        3, 1,                          // RXSYNC slave
        6, 1, 3, 1,                    // release, RXSYNC slave
        4, 0, 3,                       // poll both
        2, 0});
    sync_seed("pipe_wrap", {2, 0,
        5, 0, 3, 1, 1, 1, 1, 1, 1, 2, 0, 3, 1, 6, 1, 3, 1,
        5, 0, 3, 1, 1, 1, 1, 1, 1, 2, 0, 3, 1, 6, 1, 3, 1,
        5, 1, 2, 1, 1, 1, 1, 2, 1, 3, 0, 6, 0, 3, 0});
    sync_seed("pipe_bad_slot", {2, 1,
        0, 0, 2, 2, 0, 1, 0, 0x80, 0, 0,  // TX head 2, slot 0 names buffer 0
        2, 0, 3, 1});
    sync_seed("pipe_swap", {2, 1,
        5, 0, 4, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 3, 1,
        1, 1, 2, 2, 0, 3, 5, 3, 7,  // RX head 2: swap buffers into slots 0, 1
        3, 1, 2, 0});
    sync_seed("null_scribble", {1, 0,
        0, 0, 7, 9, 1, 7, 3, 1, 0xff, 0, 2, 0, 3, 0, 4, 0, 3});
    sync_seed("vale_broadcast", {4, 1,
        7, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 0,
        5, 0, 1, 10, 1,
        2, 0, 3, 1, 6, 1, 3, 1, 8, 1});
    sync_seed("all_three", {7, 2,
        5, 0, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0,
        5, 1, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 3, 2,
        5, 3, 2, 1, 1, 1, 1, 2, 3, 3, 4, 4, 3, 3, 8, 2});
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    ::mkdir(g_dir.c_str(), 0755);
    ctl_seeds();
    legacy_seeds();
    name_seeds();
    sync_seeds();
    return 0;
}
