// The control plane: what NIOCCTRL (and the legacy NIOCREGIF/NIOCGINFO)
// do.  Requests arrive as user pointers; everything is copied in with
// process_vm_readv so a bad pointer yields EFAULT instead of a crash, is
// validated in full, and only then acts.  A failing request leaves no
// trace: nothing allocated, nothing half-registered.
#pragma once

namespace unetmap {

class Descriptor;

/// NIOCCTRL.  Returns 0 or a positive errno.
int ctl_request(Descriptor& d, void* user_hdr);
/// NIOCREGIF / NIOCGINFO with a legacy struct nmreq.  Returns 0 or errno.
int ctl_legacy(Descriptor& d, unsigned long cmd, void* user_req);

}  // namespace unetmap
