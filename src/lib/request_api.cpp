// nmreq: decoding of port specifications into NETMAP_REQ_REGISTER requests,
// the generic "@option:key=value,..." parser, and option-list helpers.
// Grammar and error behaviour follow upstream libnetmap; see
// include/libnetmap.h for the grammar.
#include <libnetmap.h>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

/// [b, e) is a (possibly empty) identifier.
bool is_identifier(const char* b, const char* e) {
    for (; b != e; ++b)
        if (!is_ident_char(*b))
            return false;
    return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Reads a run of decimal digits at *p (at least one must be there),
/// saturating at UINT64_MAX, and advances *p past it.
uint64_t read_decimal(const char** p) {
    uint64_t v = 0;
    const char* s = *p;
    for (; is_digit(*s); ++s) {
        unsigned d = static_cast<unsigned>(*s - '0');
        v = (v > (UINT64_MAX - d) / 10) ? UINT64_MAX : v * 10 + d;
    }
    *p = s;
    return v;
}

/// A subsystem prefix ("netmap", "vale", ...) of a port specification.
struct Prefix {
    std::string_view text;
    bool id_allowed;  // may an identifier follow the prefix before ':'?
    bool strip;       // is "prefix:" left out of the name sent to netmap?
};

constexpr Prefix kPrefixes[] = {
    {"netmap", false, true},      // netmap:eth0 -> "eth0"
    {NM_BDG_NAME, true, false},   // vale0:p     -> "vale0:p"
    {"null", false, false},       // null:x      -> "null:x" (unetmap extension)
};

/// Characters that end the vpname (start of the mode or of the options).
constexpr const char* kModeStart = "-*^/@";

// State machine of nmreq_register_decode().
enum class RegState {
    Start,      // right after the name
    SuffixOk,   // a complete mode item was read: '/', '@' or the end may follow
    GetNum,     // a ring number must follow ("-" or "^" + digit)
    Flags,      // after '/': at least one flag must follow
    FlagsOk,    // after one or more flags
    MemId,      // after '@': digits (mem id) or an option name
    OneSw,      // after '^': optional host ring number
};

}  // namespace

extern "C" {

void nmreq_header_init(struct nmreq_header* h, uint16_t reqtype, void* body) {
    std::memset(h, 0, sizeof *h);
    h->nr_version = NETMAP_API;
    h->nr_reqtype = reqtype;
    h->nr_body = reinterpret_cast<uintptr_t>(body);
}

int nmreq_header_decode(const char** ppspec, struct nmreq_header* h, struct nmctx* ctx) {
    const char* spec = *ppspec;
    const Prefix* p = nullptr;
    for (const Prefix& c : kPrefixes) {
        if (std::strncmp(spec, c.text.data(), c.text.size()) == 0) {
            p = &c;
            break;
        }
    }
    if (p == nullptr) {
        nmctx_ferror(ctx, "%s: invalid request, prefix unknown or missing", spec);
        errno = EINVAL;
        return -1;
    }
    const char* after_prefix = spec + p->text.size();
    const char* colon = std::strchr(after_prefix, ':');
    if (colon == nullptr) {
        nmctx_ferror(ctx, "%s: missing ':'", spec);
        errno = EINVAL;
        return -1;
    }
    if (colon != after_prefix) {
        if (!p->id_allowed) {
            nmctx_ferror(ctx, "%s: no identifier allowed between '%.*s' and ':'", spec,
                         static_cast<int>(p->text.size()), p->text.data());
            errno = EINVAL;
            return -1;
        }
        if (!is_identifier(after_prefix, colon)) {
            nmctx_ferror(ctx, "%s: invalid identifier '%.*s'", spec,
                         static_cast<int>(colon - after_prefix), after_prefix);
            errno = EINVAL;
            return -1;
        }
    }
    const char* vpname = colon + 1;
    const char* end = vpname;
    while (*end != '\0' && std::strchr(kModeStart, *end) == nullptr)
        ++end;
    // vpname is "port", "port{pipe" or "port}pipe"
    const char* sep = vpname;
    while (sep != end && *sep != '{' && *sep != '}')
        ++sep;
    if (sep == vpname) {
        nmctx_ferror(ctx, "%s: invalid empty port name", spec);
        errno = EINVAL;
        return -1;
    }
    if (!is_identifier(vpname, sep)) {
        nmctx_ferror(ctx, "%s: invalid port name '%.*s'", spec, static_cast<int>(sep - vpname),
                     vpname);
        errno = EINVAL;
        return -1;
    }
    if (sep != end) {
        const char* pipe = sep + 1;
        if (pipe == end) {
            nmctx_ferror(ctx, "%s: invalid empty pipe name", spec);
            errno = EINVAL;
            return -1;
        }
        if (!is_identifier(pipe, end)) {
            nmctx_ferror(ctx, "%s: invalid pipe name '%.*s'", spec, static_cast<int>(end - pipe),
                         pipe);
            errno = EINVAL;
            return -1;
        }
    }
    const char* name = p->strip ? vpname : spec;
    size_t namelen = static_cast<size_t>(end - name);
    if (namelen >= sizeof h->nr_name) {
        nmctx_ferror(ctx, "name '%.*s' too long (at most %zu characters)",
                     static_cast<int>(namelen), name, sizeof h->nr_name - 1);
        errno = EINVAL;
        return -1;
    }
    std::memcpy(h->nr_name, name, namelen);
    h->nr_name[namelen] = '\0';
    *ppspec = end;
    return 0;
}

int32_t nmreq_get_mem_id(const char** pspec, struct nmctx* ctx) {
    if (pspec == nullptr || *pspec == nullptr) {
        errno = EINVAL;
        return -1;
    }
    const char* scan = *pspec;
    nmreq_header gh;
    nmreq_port_info_get gb;
    std::memset(&gb, 0, sizeof gb);
    nmreq_header_init(&gh, NETMAP_REQ_PORT_INFO_GET, &gb);
    if (nmreq_header_decode(&scan, &gh, ctx) < 0)
        return -1;
    int fd = open("/dev/netmap", O_RDWR);
    if (fd < 0) {
        int e = errno;
        nmctx_ferror(ctx, "cannot open /dev/netmap: %s", std::strerror(e));
        errno = e;
        return -1;
    }
    if (ioctl(fd, NIOCCTRL, &gh) < 0) {
        int e = errno;
        nmctx_ferror(ctx, "cannot get info for '%s': %s", *pspec, std::strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    close(fd);
    *pspec = scan;
    return gb.nr_mem_id;
}

int nmreq_register_decode(const char** pmode, struct nmreq_register* r, struct nmctx* ctx) {
    const char* scan = *pmode;
    RegState st = RegState::Start;
    uint32_t nr_mode = NR_REG_ALL_NIC;  // no suffix: all NIC rings
    uint16_t nr_ringid = 0;
    uint64_t nr_flags = 0;
    uint16_t nr_mem_id = r->nr_mem_id;  // if already set, may only be confirmed

    auto fail = [](void) {
        errno = EINVAL;
        return -1;
    };

    while (*scan != '\0') {
        switch (st) {
        case RegState::Start:
            switch (*scan) {
            case '^': nr_mode = NR_REG_SW; st = RegState::OneSw; break;
            case '*': nr_mode = NR_REG_NIC_SW; st = RegState::SuffixOk; break;
            case '-': nr_mode = NR_REG_ONE_NIC; st = RegState::GetNum; break;
            case '/': st = RegState::Flags; break;
            case '@': st = RegState::MemId; break;
            default:
                nmctx_ferror(ctx, "unknown modifier: '%c'", *scan);
                return fail();
            }
            ++scan;
            break;
        case RegState::SuffixOk:
            switch (*scan) {
            case '/': st = RegState::Flags; break;
            case '@': st = RegState::MemId; break;
            default:
                nmctx_ferror(ctx, "unexpected character: '%c'", *scan);
                return fail();
            }
            ++scan;
            break;
        case RegState::OneSw:
            if (is_digit(*scan)) {
                nr_mode = NR_REG_ONE_SW;
                st = RegState::GetNum;
            } else {
                st = RegState::SuffixOk;  // re-examine this character there
            }
            break;
        case RegState::GetNum: {
            if (!is_digit(*scan)) {
                nmctx_ferror(ctx, "got '%s' while expecting a number", scan);
                return fail();
            }
            uint64_t num = read_decimal(&scan);
            if (num >= NETMAP_RING_MASK) {
                nmctx_ferror(ctx, "'%" PRIu64 "' out of range [0, %d)", num, NETMAP_RING_MASK);
                return fail();
            }
            nr_ringid = static_cast<uint16_t>(num);
            st = RegState::SuffixOk;
            break;
        }
        case RegState::Flags:
        case RegState::FlagsOk:
            switch (*scan) {
            case '@': st = RegState::MemId; ++scan; continue;
            case 'x': nr_flags |= NR_EXCLUSIVE; break;
            case 'z': nr_flags |= NR_ZCOPY_MON; break;
            case 't': nr_flags |= NR_MONITOR_TX; break;
            case 'r': nr_flags |= NR_MONITOR_RX; break;
            case 'R': nr_flags |= NR_RX_RINGS_ONLY; break;
            case 'T': nr_flags |= NR_TX_RINGS_ONLY; break;
            default:
                nmctx_ferror(ctx, "unrecognized flag: '%c'", *scan);
                return fail();
            }
            ++scan;
            st = RegState::FlagsOk;
            break;
        case RegState::MemId: {
            if (!is_digit(*scan)) {
                --scan;  // back on the '@': the options start here
                goto out;
            }
            uint64_t num = read_decimal(&scan);
            if (num == 0 || num > UINT16_MAX) {
                nmctx_ferror(ctx, "invalid mem_id: '%" PRIu64 "'", num);
                return fail();
            }
            if (nr_mem_id != 0 && nr_mem_id != num) {
                nmctx_ferror(ctx,
                             "invalid setting of mem_id to %" PRIu64 " (already set to %" PRIu16
                             ")",
                             num, nr_mem_id);
                return fail();
            }
            nr_mem_id = static_cast<uint16_t>(num);
            st = RegState::SuffixOk;
            break;
        }
        }
    }
    if (st == RegState::MemId) {
        nmctx_ferror(ctx, "invalid empty mem_id");
        return fail();
    }
    if (st == RegState::GetNum || st == RegState::Flags) {
        nmctx_ferror(ctx, "unexpected end of request");
        return fail();
    }
out:
    // Upstream leaves this to the kernel; rejecting it here gives the same
    // errno earlier and with a clearer message.
    if ((nr_flags & NR_RX_RINGS_ONLY) && (nr_flags & NR_TX_RINGS_ONLY)) {
        nmctx_ferror(ctx, "flags 'R' (rx rings only) and 'T' (tx rings only) exclude each other");
        return fail();
    }
    r->nr_mode = nr_mode;
    r->nr_ringid = nr_ringid;
    r->nr_flags = nr_flags;
    r->nr_mem_id = nr_mem_id;
    *pmode = scan;
    return 0;
}

}  // extern "C"

namespace {

int option_error(int err) {
    errno = err;
    return -1;
}

/// Splits "key=value,key,..." (in place) into pctx->keys.
int parse_keys(const char* prefix, char* body, nmreq_opt_parser* p, nmreq_parse_ctx* pctx) {
    nmctx* ctx = pctx->ctx;
    char* scan = body;
    if (*scan == '\0')
        return 0;  // "option:" with no keys
    for (;;) {
        char* key = scan;
        for (; *scan != '\0' && *scan != '=' && *scan != ','; ++scan)
            if (*scan == '-')
                *scan = '_';  // "host-rings" is declared as "host_rings"
        char delim = *scan;
        *scan = '\0';
        if (delim != '\0')
            ++scan;
        if (*key == '\0') {
            nmctx_ferror(ctx, "option '%s': empty key", prefix);
            return option_error(EINVAL);
        }
        const nmreq_opt_key* k = nullptr;
        for (int i = 0; i < NMREQ_OPT_MAXKEYS && p->keys[i].key != nullptr; ++i) {
            if (std::strcmp(p->keys[i].key, key) == 0) {
                k = &p->keys[i];
                break;
            }
        }
        if (k == nullptr) {
            nmctx_ferror(ctx, "option '%s': unknown key '%s'", prefix, key);
            return option_error(EINVAL);
        }
        if (pctx->keys[k->id] != nullptr) {
            nmctx_ferror(ctx, "option '%s': duplicate key '%s', already set to '%s'", prefix, key,
                         pctx->keys[k->id]);
            return option_error(EINVAL);
        }
        if (delim == '=') {
            char* value = scan;
            for (; *scan != '\0' && *scan != ','; ++scan)
                ;
            delim = *scan;  // ',' or the end
            *scan = '\0';
            if (delim != '\0')
                ++scan;
            if (*value == '\0') {
                nmctx_ferror(ctx, "option '%s': empty value for key '%s'", prefix, key);
                return option_error(EINVAL);
            }
            pctx->keys[k->id] = value;
        } else {
            if (!(k->flags & NMREQ_OPTK_ALLOWEMPTY)) {
                nmctx_ferror(ctx, "option '%s': missing '=value' for key '%s'", prefix, key);
                return option_error(EINVAL);
            }
            pctx->keys[k->id] = key;
        }
        if (delim == '\0')
            return 0;
        // after a ',' another key must follow (checked as "empty key")
    }
}

/// Parses one option ("name", "name=value" or "name:k=v,...") held, writable,
/// in `opt`.
int decode_one(char* opt, nmreq_opt_parser* parsers, void* token, nmctx* ctx) {
    char* scan = opt;
    for (; *scan != '\0' && *scan != ':' && *scan != '='; ++scan)
        ;
    char delim = *scan;
    *scan = '\0';
    if (delim != '\0')
        ++scan;
    const char* prefix = opt;

    nmreq_opt_parser* p = parsers;
    for (; p != nullptr; p = p->next)
        if (std::strcmp(prefix, p->prefix) == 0)
            break;
    if (p == nullptr) {
        nmctx_ferror(ctx, "unknown option: '%s'", prefix);
        return option_error(EINVAL);
    }
    if (p->flags & NMREQ_OPTF_DISABLED) {
        nmctx_ferror(ctx, "option '%s' is not supported", prefix);
        return option_error(EOPNOTSUPP);
    }

    nmreq_parse_ctx pctx;
    pctx.ctx = ctx;
    pctx.token = token;
    for (auto& k : pctx.keys)
        k = nullptr;

    switch (delim) {
    case '\0':
        if (!(p->flags & NMREQ_OPTF_ALLOWEMPTY)) {
            nmctx_ferror(ctx, "syntax error: missing body after '%s'", prefix);
            return option_error(EINVAL);
        }
        break;
    case '=':
        if (p->default_key < 0 || p->default_key >= NMREQ_OPT_MAXKEYS) {
            nmctx_ferror(ctx, "syntax error: '=' not valid after '%s'", prefix);
            return option_error(EINVAL);
        }
        if (*scan == '\0') {
            nmctx_ferror(ctx, "missing value for option '%s'", prefix);
            return option_error(EINVAL);
        }
        pctx.keys[p->default_key] = scan;
        break;
    default:  // ':'
        if (parse_keys(prefix, scan, p, &pctx) < 0)
            return -1;
        break;
    }
    for (int i = 0; i < NMREQ_OPT_MAXKEYS && p->keys[i].key != nullptr; ++i) {
        const nmreq_opt_key& k = p->keys[i];
        if ((k.flags & NMREQ_OPTK_MUSTSET) && pctx.keys[k.id] == nullptr) {
            nmctx_ferror(ctx, "option '%s': mandatory key '%s' not assigned", prefix, k.key);
            return option_error(EINVAL);
        }
    }
    return p->parse(&pctx);
}

}  // namespace

extern "C" {

int nmreq_options_decode(const char* opt, struct nmreq_opt_parser* parsers, void* token,
                         struct nmctx* ctx) {
    if (*opt == '\0')
        return 0;  // no options
    if (*opt != '@') {
        nmctx_ferror(ctx, "option list does not start with '@': '%s'", opt);
        errno = EINVAL;
        return -1;
    }
    const char* scan = opt;
    while (*scan == '@') {
        const char* start = ++scan;
        while (*scan != '\0' && *scan != '@')
            ++scan;
        size_t len = static_cast<size_t>(scan - start);
        if (len == 0) {
            nmctx_ferror(ctx, "invalid empty option");
            errno = EINVAL;
            return -1;
        }
        auto* w = static_cast<char*>(nmctx_malloc(ctx, len + 1));
        if (w == nullptr) {
            nmctx_ferror(ctx, "out of memory");
            errno = ENOMEM;
            return -1;
        }
        std::memcpy(w, start, len);
        w[len] = '\0';
        int ret = decode_one(w, parsers, token, ctx);
        int e = errno;
        nmctx_free(ctx, w);
        if (ret < 0) {
            errno = e;
            return -1;
        }
    }
    return 0;
}

void nmreq_push_option(struct nmreq_header* h, struct nmreq_option* o) {
    o->nro_next = h->nr_options;
    h->nr_options = reinterpret_cast<uintptr_t>(o);
}

struct nmreq_option* nmreq_find_option(struct nmreq_header* h, uint32_t t) {
    nmreq_option* o;
    nmreq_foreach_option(h, o) {
        if (o->nro_reqtype == t)
            return o;
    }
    return nullptr;
}

void nmreq_remove_option(struct nmreq_header* h, struct nmreq_option* o) {
    // Walk the links (each a uint64_t holding a pointer) until one points at o.
    uint64_t* link = &h->nr_options;
    while (*link != 0) {
        auto* cur = reinterpret_cast<nmreq_option*>(static_cast<uintptr_t>(*link));
        if (cur == o) {
            *link = o->nro_next;
            o->nro_next = 0;
            return;
        }
        link = &cur->nro_next;
    }
}

void nmreq_free_options(struct nmreq_header* h) {
    auto* o = reinterpret_cast<nmreq_option*>(static_cast<uintptr_t>(h->nr_options));
    while (o != nullptr) {
        auto* next = reinterpret_cast<nmreq_option*>(static_cast<uintptr_t>(o->nro_next));
        std::free(o);
        o = next;
    }
    h->nr_options = 0;
}

const char* nmreq_option_name(uint32_t reqtype) {
    switch (reqtype) {
    case NETMAP_REQ_OPT_EXTMEM: return "extmem";
    case NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS: return "sync-kloop-eventfds";
    case NETMAP_REQ_OPT_CSB: return "csb";
    case NETMAP_REQ_OPT_SYNC_KLOOP_MODE: return "sync-kloop-mode";
    case NETMAP_REQ_OPT_OFFSETS: return "offsets";
    default: return "unknown";
    }
}

}  // extern "C"
