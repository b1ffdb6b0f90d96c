// Completing the TCP/UDP checksum of a frame taken from the host stack
// before the kernel finished it.
//
// The stack hands TCP segments (and UDP datagrams, when the device claims
// checksum offload) to the device "CHECKSUM_PARTIAL": the checksum field
// holds only the pseudo-header sum, and the device, or the kernel just
// before the driver when the device cannot (validate_xmit_skb), completes
// it.  Host rings take frames at tc egress, before that point.  netmap
// takes them in the driver, after it, and asks users to turn checksum
// offload off so that they are complete: we complete them ourselves, so
// the frames on the host RX ring are the ones the wire would have seen.
//
// A field holding exactly the folded pseudo-header sum is taken as
// partial.  A complete checksum can be equal to it by chance (1 in 65536);
// recomputing it then gives the same value, so nothing is lost.
#pragma once

#include <cstddef>
#include <cstdint>

namespace unetmap::nic {

namespace csum_detail {

inline uint32_t be16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }

inline uint32_t add(const uint8_t* p, size_t n, uint32_t sum) {
    for (; n > 1; n -= 2, p += 2) sum += be16(p);
    if (n) sum += static_cast<uint32_t>(p[0]) << 8;
    return sum;
}

inline uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

}  // namespace csum_detail

/// Complete a checksum as a device does for a virtio-net header's
/// VIRTIO_NET_HDR_F_NEEDS_CSUM: the 16-bit field at `start + offset` holds
/// the pseudo-header sum, and the ones' complement of the sum of
/// [start, len) goes there.  Returns false, changing nothing, if the field
/// lies outside the frame.  A UDP result of 0 (field at offset 6) is sent
/// as 0xffff, since 0 means "no checksum".
inline bool complete_checksum_at(uint8_t* frame, size_t len, size_t start, size_t offset) {
    using namespace csum_detail;
    if (start > len || offset > len - start || len - start - offset < 2) return false;
    uint8_t* check = frame + start + offset;
    uint16_t c = static_cast<uint16_t>(~fold(add(frame + start, len - start, 0)));
    if (offset == 6 && c == 0) c = 0xffff;
    check[0] = static_cast<uint8_t>(c >> 8);
    check[1] = static_cast<uint8_t>(c);
    return true;
}

/// If `frame` (Ethernet, up to two VLAN tags, IPv4 or IPv6 without
/// extension headers, TCP or UDP, not a fragment) carries a partial
/// checksum, complete it in place.  Returns true if it did.
inline bool complete_partial_checksum(uint8_t* frame, size_t len) {
    using namespace csum_detail;
    if (len < 14) return false;
    size_t off = 14;
    uint32_t type = be16(frame + 12);
    for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2 && off + 4 <= len; tags++) {
        type = be16(frame + off + 2);
        off += 4;
    }
    uint32_t proto, pseudo;
    size_t l4, l4len;
    if (type == 0x0800) {
        if (off + 20 > len) return false;
        const uint8_t* ip = frame + off;
        const size_t ihl = static_cast<size_t>(ip[0] & 0xf) * 4;
        const size_t total = be16(ip + 2);
        if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || off + total > len) return false;
        if (be16(ip + 6) & 0x3fff) return false;  // a fragment: no L4 checksum here
        proto = ip[9];
        l4 = off + ihl;
        l4len = total - ihl;
        pseudo = add(ip + 12, 8, proto + static_cast<uint32_t>(l4len));
    } else if (type == 0x86dd) {
        if (off + 40 > len) return false;
        const uint8_t* ip = frame + off;
        proto = ip[6];
        l4 = off + 40;
        l4len = be16(ip + 4);
        if (l4 + l4len > len) return false;
        pseudo = add(ip + 8, 32, proto + static_cast<uint32_t>(l4len));
    } else {
        return false;
    }
    const size_t field = proto == 6 ? 16 : proto == 17 ? 6 : 0;
    if (!field || l4len < field + 2) return false;
    uint8_t* check = frame + l4 + field;
    if (be16(check) != fold(pseudo)) return false;
    check[0] = check[1] = 0;
    uint16_t c = static_cast<uint16_t>(~fold(add(frame + l4, l4len, pseudo)));
    if (proto == 17 && c == 0) c = 0xffff;  // 0 means "no checksum" for UDP
    check[0] = static_cast<uint8_t>(c >> 8);
    check[1] = static_cast<uint8_t>(c);
    return true;
}

}  // namespace unetmap::nic
