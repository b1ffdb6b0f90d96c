// What a NIC port needs to know of its interface, asked of the kernel over
// netlink (libmnl builds the messages and walks the attributes):
//
//   rtnetlink RTM_GETLINK by name    ifindex, IFF_UP, MTU, operational state
//   ethtool netlink CHANNELS_GET     the channels the driver runs (netmap's
//                                    ring count), when the driver has any
//
// Both are one request and one reply on a socket opened for the call: this
// runs when a port is created, never on a data path.  A driver without
// channels counts 1 (the device's allocated queue count, which rtnetlink
// has, can be far more than it runs).
#include "ports/nic.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <libmnl/libmnl.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <memory>
#include <unistd.h>

namespace unetmap::nic {
namespace {

struct MnlClose {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlClose>;

MnlSocket open_netlink(int bus) {
    MnlSocket s(mnl_socket_open2(bus, SOCK_CLOEXEC));
    if (s && mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0) s.reset();
    return s;
}

// A request's header in `buf`; the kernel's ack (NLMSG_ERROR 0) ends the reply.
nlmsghdr* request(char* buf, uint16_t type) {
    nlmsghdr* req = mnl_nlmsg_put_header(buf);
    req->nlmsg_type = type;
    req->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req->nlmsg_seq = 1;
    return req;
}

// Sends the request in `buf` and runs `cb` over the reply's messages; 0 or
// a positive errno (the kernel's, from an NLMSG_ERROR).
int round_trip(mnl_socket* s, nlmsghdr* req, mnl_cb_t cb, void* data) {
    const unsigned portid = mnl_socket_get_portid(s);
    if (mnl_socket_sendto(s, req, req->nlmsg_len) < 0) return errno;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    for (;;) {
        const ssize_t n = mnl_socket_recvfrom(s, buf, sizeof buf);
        if (n < 0) return errno;
        const int r = mnl_cb_run(buf, static_cast<size_t>(n), req->nlmsg_seq, portid, cb, data);
        if (r == MNL_CB_ERROR) return errno ? errno : EIO;
        if (r == MNL_CB_STOP) return 0;
    }
}

// ---- rtnetlink: the link

int link_attr(const nlattr* a, void* data) {
    auto* out = static_cast<Facts*>(data);
    switch (mnl_attr_get_type(a)) {
    case IFLA_MTU:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) out->mtu = mnl_attr_get_u32(a);
        break;
    case IFLA_OPERSTATE:
        // RFC 2863 states; an interface without carrier is "down" or
        // "lower layer down" while IFF_UP is set
        if (mnl_attr_validate(a, MNL_TYPE_U8) == 0) {
            const uint8_t st = mnl_attr_get_u8(a);
            out->carrier = st != IF_OPER_DOWN && st != IF_OPER_LOWERLAYERDOWN && st != IF_OPER_NOTPRESENT;
        }
        break;
    default:
        break;
    }
    return MNL_CB_OK;
}

int link_msg(const nlmsghdr* nlh, void* data) {
    auto* out = static_cast<Facts*>(data);
    if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(ifinfomsg)) return MNL_CB_OK;
    const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    out->ifindex = static_cast<unsigned>(ifi->ifi_index);
    out->up = (ifi->ifi_flags & IFF_UP) != 0;
    mnl_attr_parse(nlh, sizeof *ifi, link_attr, out);
    return MNL_CB_OK;
}

int read_link(std::string_view ifname, Facts& out) {
    MnlSocket s = open_netlink(NETLINK_ROUTE);
    if (!s) return errno;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* req = request(buf, RTM_GETLINK);
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(req, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    const std::string name(ifname);
    mnl_attr_put_strz(req, IFLA_IFNAME, name.c_str());
    mnl_attr_put_u32(req, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);  // the counters are not needed
    const int e = round_trip(s.get(), req, link_msg, &out);
    if (e) return e == ENODEV ? ENXIO : e;
    return out.ifindex == 0 ? ENXIO : 0;
}

// ---- generic netlink: ethtool's channels

int family_attr(const nlattr* a, void* data) {
    if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && mnl_attr_validate(a, MNL_TYPE_U16) == 0)
        *static_cast<uint16_t*>(data) = mnl_attr_get_u16(a);
    return MNL_CB_OK;
}

int family_msg(const nlmsghdr* nlh, void* data) {
    mnl_attr_parse(nlh, sizeof(genlmsghdr), family_attr, data);
    return MNL_CB_OK;
}

struct Channels {
    uint32_t rx = 0, tx = 0, combined = 0;
};

int channel_attr(const nlattr* a, void* data) {
    auto* c = static_cast<Channels*>(data);
    if (mnl_attr_validate(a, MNL_TYPE_U32) != 0) return MNL_CB_OK;
    switch (mnl_attr_get_type(a)) {
    case ETHTOOL_A_CHANNELS_RX_COUNT: c->rx = mnl_attr_get_u32(a); break;
    case ETHTOOL_A_CHANNELS_TX_COUNT: c->tx = mnl_attr_get_u32(a); break;
    case ETHTOOL_A_CHANNELS_COMBINED_COUNT: c->combined = mnl_attr_get_u32(a); break;
    default: break;
    }
    return MNL_CB_OK;
}

int channels_msg(const nlmsghdr* nlh, void* data) {
    mnl_attr_parse(nlh, sizeof(genlmsghdr), channel_attr, data);
    return MNL_CB_OK;
}

nlmsghdr* genl_request(char* buf, uint16_t family, uint8_t cmd, uint8_t version) {
    nlmsghdr* req = request(buf, family);
    auto* g = static_cast<genlmsghdr*>(mnl_nlmsg_put_extra_header(req, sizeof(genlmsghdr)));
    g->cmd = cmd;
    g->version = version;
    return req;
}

// The driver's channel count, 0 if it has none (EOPNOTSUPP) or the kernel
// has no ethtool netlink (before 5.6).
uint32_t read_channels(unsigned ifindex) {
    MnlSocket s = open_netlink(NETLINK_GENERIC);
    if (!s) return 0;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* req = genl_request(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
    mnl_attr_put_strz(req, CTRL_ATTR_FAMILY_NAME, ETHTOOL_GENL_NAME);
    uint16_t family = 0;
    if (round_trip(s.get(), req, family_msg, &family) || family == 0) return 0;

    req = genl_request(buf, family, ETHTOOL_MSG_CHANNELS_GET, ETHTOOL_GENL_VERSION);
    nlattr* hdr = mnl_attr_nest_start(req, ETHTOOL_A_CHANNELS_HEADER);
    mnl_attr_put_u32(req, ETHTOOL_A_HEADER_DEV_INDEX, ifindex);
    mnl_attr_nest_end(req, hdr);
    Channels c;
    if (round_trip(s.get(), req, channels_msg, &c)) return 0;
    return std::max(c.combined + c.rx, c.combined + c.tx);
}

}  // namespace

int read_facts(std::string_view ifname, Facts& out) {
    if (ifname.empty() || ifname.size() >= IFNAMSIZ) return EINVAL;
    if (int e = read_link(ifname, out)) return e;
    out.queues = std::max<uint32_t>(read_channels(out.ifindex), 1);
    return 0;
}

}  // namespace unetmap::nic
