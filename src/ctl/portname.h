// Names as the "kernel" receives them in nmreq_header.nr_name (after
// libnetmap stripped "netmap:" and turned -N ^ * /rt @id into nr_mode,
// nr_ringid, nr_flags and nr_mem_id): "vale0:p", "x{3", "null", "eth0".
#pragma once

#include <cstddef>
#include <string_view>

namespace unetmap {

/// 0 if `name` (the nr_name buffer, `cap` bytes) is NUL-terminated,
/// non-empty and made of printable characters without spaces or '/';
/// EINVAL otherwise.  On success `out` views the name.
int check_port_name(const char* name, std::size_t cap, std::string_view& out);

}  // namespace unetmap
