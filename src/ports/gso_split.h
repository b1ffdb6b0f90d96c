// Segmenting a GSO super-frame taken from the host stack, as the kernel
// would before the driver.
//
// TCP hands the device one large buffer per burst (GSO is always on for
// TCP; a device without TSO gets it cut by the kernel in
// validate_xmit_skb, after tc egress).  Host rings take frames at tc
// egress, so they see the large buffer: we cut it into the frames the
// wire would have carried: TCP segments of gso_size bytes (sequence
// numbers advanced, FIN/PSH on the last only, CWR on the first only, IPv4
// ids incremented), or UDP datagrams of gso_size bytes (UDP_SEGMENT),
// every checksum computed afresh.  Other super-frames (tunnels, IPv6
// extension headers) are not ours to cut: the caller drops them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ports/partial_csum.h"

namespace unetmap::nic {

struct GsoLayout {
    size_t l3 = 0, l4 = 0, hdr = 0;  // offsets: IP header, L4 header, payload
    bool v4 = false, tcp = false;
};

/// Parse an Ethernet (up to two VLAN tags) IPv4/IPv6 TCP/UDP frame.
inline bool gso_layout(const uint8_t* f, size_t len, GsoLayout& out) {
    using csum_detail::be16;
    if (len < 14) return false;
    size_t off = 14;
    uint32_t type = be16(f + 12);
    for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2 && off + 4 <= len; tags++) {
        type = be16(f + off + 2);
        off += 4;
    }
    out.l3 = off;
    uint32_t proto;
    if (type == 0x0800) {
        if (off + 20 > len || (f[off] >> 4) != 4) return false;
        const size_t ihl = static_cast<size_t>(f[off] & 0xf) * 4;
        if (ihl < 20 || (be16(f + off + 6) & 0x3fff)) return false;
        proto = f[off + 9];
        out.l4 = off + ihl;
        out.v4 = true;
    } else if (type == 0x86dd) {
        if (off + 40 > len) return false;
        proto = f[off + 6];
        out.l4 = off + 40;
        out.v4 = false;
    } else {
        return false;
    }
    if (proto == 6) {
        if (out.l4 + 20 > len) return false;
        const size_t doff = static_cast<size_t>(f[out.l4 + 12] >> 4) * 4;
        if (doff < 20) return false;
        out.hdr = out.l4 + doff;
        out.tcp = true;
    } else if (proto == 17) {
        out.hdr = out.l4 + 8;
        out.tcp = false;
    } else {
        return false;
    }
    return out.hdr <= len;
}

/// How many frames `len` bytes cut at `gso_size` make (0: not ours to cut).
inline uint32_t gso_count(const uint8_t* f, size_t len, uint32_t gso_size) {
    GsoLayout l;
    if (gso_size == 0 || !gso_layout(f, len, l) || len <= l.hdr) return 0;
    return static_cast<uint32_t>((len - l.hdr + gso_size - 1) / gso_size);
}

/// Cut the frame; `emit(const uint8_t*, size_t)` gets each piece, built in
/// `scratch` (room for the headers plus gso_size).  Returns the count.
template <class Emit>
uint32_t gso_split(const uint8_t* f, size_t len, uint32_t gso_size, uint8_t* scratch, Emit emit) {
    using csum_detail::add;
    using csum_detail::be16;
    using csum_detail::fold;
    GsoLayout l;
    if (gso_size == 0 || !gso_layout(f, len, l) || len <= l.hdr) return 0;
    const size_t payload = len - l.hdr;
    const uint32_t count = static_cast<uint32_t>((payload + gso_size - 1) / gso_size);
    const uint32_t seq0 = l.tcp ? (be16(f + l.l4 + 4) << 16 | be16(f + l.l4 + 6)) : 0;
    const uint32_t id0 = l.v4 ? be16(f + l.l3 + 4) : 0;
    auto put16 = [](uint8_t* p, uint32_t v) {
        p[0] = static_cast<uint8_t>(v >> 8);
        p[1] = static_cast<uint8_t>(v);
    };
    for (uint32_t i = 0; i < count; i++) {
        const size_t at = static_cast<size_t>(i) * gso_size;
        const size_t seg = payload - at < gso_size ? payload - at : gso_size;
        std::memcpy(scratch, f, l.hdr);
        std::memcpy(scratch + l.hdr, f + l.hdr + at, seg);
        uint8_t* ip = scratch + l.l3;
        uint8_t* l4 = scratch + l.l4;
        const size_t l4len = l.hdr - l.l4 + seg;
        uint32_t pseudo;
        if (l.v4) {
            put16(ip + 2, static_cast<uint32_t>(l.l4 - l.l3 + l4len));
            put16(ip + 4, (id0 + i) & 0xffff);
            ip[10] = ip[11] = 0;
            put16(ip + 10, static_cast<uint16_t>(~fold(add(ip, l.l4 - l.l3, 0))));
            pseudo = add(ip + 12, 8, (l.tcp ? 6u : 17u) + static_cast<uint32_t>(l4len));
        } else {
            put16(ip + 4, static_cast<uint32_t>(l4len));
            pseudo = add(ip + 8, 32, (l.tcp ? 6u : 17u) + static_cast<uint32_t>(l4len));
        }
        uint8_t* check;
        if (l.tcp) {
            const uint32_t seq = seq0 + static_cast<uint32_t>(at);
            put16(l4 + 4, seq >> 16);
            put16(l4 + 6, seq & 0xffff);
            if (i + 1 < count) l4[13] &= static_cast<uint8_t>(~0x09);  // FIN, PSH: the last segment's
            if (i > 0) l4[13] &= static_cast<uint8_t>(~0x80);          // CWR: the first's
            check = l4 + 16;
        } else {
            put16(l4 + 4, static_cast<uint32_t>(l4len));
            check = l4 + 6;
        }
        check[0] = check[1] = 0;
        uint16_t c = static_cast<uint16_t>(~fold(add(l4, l4len, pseudo)));
        if (!l.tcp && c == 0) c = 0xffff;
        put16(check, c);
        emit(static_cast<const uint8_t*>(scratch), l.hdr + seg);
    }
    return count;
}

}  // namespace unetmap::nic
