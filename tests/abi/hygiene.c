/*
 * Header hygiene: each build of this file includes one public header
 * configuration on its own, with -Wall -Wextra -Werror -pedantic and
 * strict ISO C (or C++ via hygiene.cpp). HYGIENE_CASE selects it:
 *   1 net/netmap.h            2 net/netmap_legacy.h
 *   3 net/netmap_user.h       4 net/netmap_user.h + NETMAP_WITH_LIBS
 *   5 net/netmap.h with NETMAP_NO_LEGACY
 *   6 everything, twice, in reverse order (include guards)
 */
#if HYGIENE_CASE == 1
#include <net/netmap.h>
#elif HYGIENE_CASE == 2
#include <net/netmap_legacy.h>
#elif HYGIENE_CASE == 3
#include <net/netmap_user.h>
#elif HYGIENE_CASE == 4
#define NETMAP_WITH_LIBS
#include <net/netmap_user.h>
#elif HYGIENE_CASE == 5
#define NETMAP_NO_LEGACY
#include <net/netmap.h>
#ifdef _NET_NETMAP_LEGACY_H_
#error "NETMAP_NO_LEGACY did not keep netmap_legacy.h out"
#endif
#elif HYGIENE_CASE == 6
#define NETMAP_WITH_LIBS
#include <net/netmap_user.h>
#include <net/netmap.h>
#include <net/netmap_legacy.h>
#include <net/netmap_legacy.h>
#include <net/netmap.h>
#include <net/netmap_user.h>
#else
#error "HYGIENE_CASE must be 1..6"
#endif

/* ISO C does not allow an empty translation unit. */
typedef int unetmap_hygiene_nonempty;
