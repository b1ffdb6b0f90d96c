// fuzz_port_name: port names, both sides.
//   user side (src/lib/request_api.cpp, port_api.cpp): nmreq_header_decode,
//     nmreq_register_decode, nmport_prepare + nmport_undo_prepare on an
//     arbitrary string;
//   core side: check_port_name on a raw 64-byte nr_name, port_type_for
//     (every type's match), vale::split_name.
// Cross-check: a name the user library builds must pass check_port_name.
//
// Input: byte 0 = initial nr_mem_id for nmreq_register_decode (0 or the
// byte), then the port specification (NUL-terminated copy).  The same
// bytes, truncated/padded to 64, are the raw nr_name for the core checks.
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include <libnetmap.h>
#include <net/netmap.h>

#include "core/port_type.h"
#include "core/registry.h"
#include "ctl/portname.h"
#include "ports/vale.h"

#include "fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::setup_state_dir("name");
    nmctx_get()->verbose = 0;  // errors are expected, don't print them
    return 0;
}

namespace {

// nmport_prepare's @extmem:file=PATH would open and map any file: keep the
// option name unrecognisable (everything else of the grammar is exercised).
void neutralise_extmem(std::string& s) {
    for (size_t p = s.find("extmem"); p != std::string::npos; p = s.find("extmem", p + 1)) s[p] = 'E';
}

void check_user_name(const char* nr_name, const char* what) {
    std::string_view v;
    FUZZ_CHECK(unetmap::check_port_name(nr_name, NETMAP_REQ_IFNAMSIZ, v) == 0,
               "%s produced a name the core rejects: '%.64s'", what, nr_name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t mem_byte = data[0];
    std::string spec(reinterpret_cast<const char*>(data + 1), size - 1);
    spec = spec.c_str();  // up to the first NUL
    neutralise_extmem(spec);

    // --- user side -----------------------------------------------------
    {
        nmreq_header h;
        nmreq_register r;
        nmreq_header_init(&h, NETMAP_REQ_REGISTER, &r);
        std::memset(&r, 0, sizeof r);
        r.nr_mem_id = (mem_byte & 0x80) ? (mem_byte & 0x7f) : 0;
        const nmreq_register r0 = r;
        const char* p = spec.c_str();
        errno = 0;
        if (nmreq_header_decode(&p, &h, nmctx_get()) == 0) {
            FUZZ_CHECK(p >= spec.c_str() && p <= spec.c_str() + spec.size(), "header_decode moved out of the string");
            check_user_name(h.nr_name, "nmreq_header_decode");
            const char* before = p;
            if (nmreq_register_decode(&p, &r, nmctx_get()) == 0) {
                FUZZ_CHECK(p >= before && p <= spec.c_str() + spec.size(), "register_decode moved out of the string");
                FUZZ_CHECK(*p == '\0' || *p == '@', "register_decode stopped at '%c'", *p);
                FUZZ_CHECK(r0.nr_mem_id == 0 || r.nr_mem_id == r0.nr_mem_id, "mem_id %u changed to %u",
                           r0.nr_mem_id, r.nr_mem_id);
            } else {
                FUZZ_CHECK(errno == EINVAL, "register_decode: errno %d", errno);
                FUZZ_CHECK(std::memcmp(&r, &r0, sizeof r) == 0, "register_decode failed but modified reg");
                FUZZ_CHECK(p == before, "register_decode failed but advanced");
            }
        } else {
            FUZZ_CHECK(errno == EINVAL, "header_decode: errno %d", errno);
            FUZZ_CHECK(p == spec.c_str(), "header_decode failed but advanced");
        }
    }
    if (nmport_d* d = nmport_prepare(spec.c_str())) {
        check_user_name(d->hdr.nr_name, "nmport_prepare");
        FUZZ_CHECK(d->hdr.nr_version == NETMAP_API && d->hdr.nr_reqtype == NETMAP_REQ_REGISTER,
                   "nmport_prepare: bad header");
        nmport_undo_prepare(d);
    }

    // --- core side -----------------------------------------------------
    char raw[NETMAP_REQ_IFNAMSIZ];
    std::memset(raw, 0, sizeof raw);
    std::memcpy(raw, data + 1, std::min<size_t>(size - 1, sizeof raw));
    std::string_view name;
    const int e = unetmap::check_port_name(raw, sizeof raw, name);
    FUZZ_CHECK(e == 0 || e == EINVAL, "check_port_name: %d", e);
    if (e == 0) {
        FUZZ_CHECK(!name.empty() && name.size() < sizeof raw && name.data() == raw, "bad view");
        using namespace unetmap;
        Registry& reg = Registry::get();
        CtlGuard g(reg);  // vale_match looks up persistent ports in the tables
        if (!g.error()) {
            const PortType* t = port_type_for(name);
            int matches = 0;
            for (const PortType* pt : port_types()) matches += pt->match(name);
            FUZZ_CHECK((t != nullptr) == (matches > 0), "port_type_for disagrees with match()");
            std::string_view sw, port;
            if (vale::split_name(name, sw, port) == 0) {
                FUZZ_CHECK(sw.size() + 1 + port.size() == name.size(), "split_name lost characters");
                FUZZ_CHECK(t != nullptr, "a VALE name no type matches");
            }
        }
    }
    // The control file was created by Registry::get(); nothing else may appear.
    fuzz::check_state_bounded(2);
    return 0;
}
