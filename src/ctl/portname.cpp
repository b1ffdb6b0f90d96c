#include "ctl/portname.h"

#include <cerrno>
#include <cstring>

namespace unetmap {

int check_port_name(const char* name, std::size_t cap, std::string_view& out) {
    const std::size_t len = strnlen(name, cap);
    if (len == 0 || len == cap) return EINVAL;  // empty, or not terminated
    for (std::size_t i = 0; i < len; i++) {
        const unsigned char c = static_cast<unsigned char>(name[i]);
        if (c <= 0x20 || c >= 0x7f || c == '/') return EINVAL;
    }
    out = std::string_view(name, len);
    return 0;
}

}  // namespace unetmap
