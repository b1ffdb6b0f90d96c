// The list of port types, in the order names are matched (a name no type
// matches is an unknown interface: ENXIO).  Adding a port type means adding
// its file in this directory and one line here.
#include <array>

#include "core/port_type.h"
#include "core/registry.h"
#include "ctl/requests.h"
#include "ports/vale.h"

namespace unetmap {

extern const PortType pipe_port_type;
extern const PortType null_port_type;
extern const PortType vale_port_type;
extern const PortType nic_port_type;
extern const PortType monitor_port_type;

std::span<const PortType* const> port_types() {
    // Pipes first: "vale0:x{1" and "null:a{2" are pipes of those parents.
    // Then VALE ("vale*", and persistent VALE ports by their own name),
    // null, and last NICs: any other plain name is an interface name.
    static constexpr std::array<const PortType*, 4> types = {&pipe_port_type, &vale_port_type,
                                                             &null_port_type, &nic_port_type};
    return types;
}

const PortType* port_type_for(std::string_view name) {
    for (const PortType* t : port_types())
        if (t->match(name)) return t;
    return nullptr;
}

const PortType& port_type_of(const PortEntry& p) {
    switch (p.kind) {
        case PortKind::PipeMaster:
        case PortKind::PipeSlave:
            return pipe_port_type;
        case PortKind::Vale:
            return vale_port_type;
        case PortKind::Nic:
            return nic_port_type;
        case PortKind::Monitor:  // created by REGISTER with NR_MONITOR_*, never by name
            return monitor_port_type;
        default:
            return null_port_type;
    }
}

}  // namespace unetmap

namespace unetmap {

// Control requests implemented by port types (VALE's NEWIF, ATTACH, ...).
std::span<const ExtraRequest> extra_requests() { return vale::requests(); }

}  // namespace unetmap
