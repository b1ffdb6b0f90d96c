// Interfaces attached to VALE switches (NETMAP_REQ_VALE_ATTACH/DETACH of
// "valeS:IFNAME"): the forwarding agent's lifecycle.  See vale_nic.cpp.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/port_type.h"

namespace unetmap {

class Registry;

namespace vale {

/// Attach interface IF of "valeS:IF" to switch S (`host`: with its host
/// rings, NR_REG_NIC_SW): create the member port(s), start the agent, wait
/// until it forwards.  Takes the control lock itself (not held on entry).
/// 0 or an errno; on error nothing is left (no member, no agent).
int attach_interface(std::string_view full_name, bool host, const PortShape& shape, uint32_t& member);

/// Detach "valeS:IF" if it is an attached interface: stop its agent, remove
/// its member(s).  `handled` false (and 0 returned) if the name is not one.
/// Takes the control lock itself.
int detach_interface(std::string_view full_name, uint32_t& member, bool& handled);

/// Remove the members of interfaces whose agent is gone (killed) or whose
/// attach never finished (the attaching process died).  Control lock held,
/// after gc() (so that a dead agent's descriptors are released).  Run
/// before every attach.
void reap_dead_agents(Registry& reg);

/// The pid of the agent serving member port `port`, 0 if none runs.
/// Control lock held.
int32_t agent_pid(Registry& reg, uint32_t port);

}  // namespace vale
}  // namespace unetmap
