// The control plane: what NIOCCTRL (and the legacy NIOCREGIF/NIOCGINFO)
// do.  Requests arrive as user pointers; everything is copied in with
// process_vm_readv so a bad pointer yields EFAULT instead of a crash, is
// validated in full, and only then acts.  A failing request leaves no
// trace: nothing allocated, nothing half-registered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace unetmap {

class Descriptor;

/// A handler for one NETMAP_REQ_* type implemented outside requests.cpp
/// (VALE control lives with the switch).  It runs after the header and
/// option chain were validated and the body copied in (`body_size`
/// bytes, 0 for requests without a body, whose nr_body may be NULL); it
/// fills the body in place for the reply.  `name` is nmreq_header.nr_name,
/// already checked by check_port_name (empty if the request allows no name
/// and none was given); `name_out` (NETMAP_REQ_IFNAMSIZ bytes, starting as
/// a copy of nr_name) is written back to the header on success, for
/// requests that return a name (VALE_LIST).  No option is supported by
/// such handlers yet: requests carrying options fail with EOPNOTSUPP before
/// reaching them.  Returns 0 or a positive errno.
struct ExtraRequest {
    uint16_t reqtype;
    std::size_t body_size;
    bool name_required;
    int (*handle)(Descriptor& d, std::string_view name, void* body, char* name_out);
};

/// The requests port types implement, listed in src/ports/port_types.cpp.
std::span<const ExtraRequest> extra_requests();

/// NIOCCTRL.  Returns 0 or a positive errno.
int ctl_request(Descriptor& d, void* user_hdr);
/// NIOCREGIF / NIOCGINFO with a legacy struct nmreq.  Returns 0 or errno.
int ctl_legacy(Descriptor& d, unsigned long cmd, void* user_req);

}  // namespace unetmap
