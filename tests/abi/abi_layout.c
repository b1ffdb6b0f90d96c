/*
 * C11 ABI check: sizes, alignments, member offsets/sizes and constant
 * values of the netmap headers against the literal numbers of
 * abi_expected.h (worked out from upstream netmap API 14, x86_64).
 * Prints every mismatch and exits non-zero if there is any.
 */
#define NETMAP_WITH_LIBS
#include <net/netmap_user.h>

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>

#include "abi_expected.h"

static int failures;
static int checks;

static void
expect(const char *what, unsigned long long got, unsigned long long want)
{
	checks++;
	if (got != want) {
		failures++;
		fprintf(stderr, "MISMATCH %s: got %llu (0x%llx), want %llu (0x%llx)\n",
		    what, got, got, want, want);
	}
}

#define CHECK_SIZE(type, n)						\
	expect("sizeof(struct " #type ")", sizeof(struct type), (n));
#define CHECK_ALIGN(type, n)						\
	expect("alignof(struct " #type ")", alignof(struct type), (n));
#define CHECK_OFFSET(type, member, n)					\
	expect("offsetof(struct " #type ", " #member ")",		\
	    offsetof(struct type, member), (n));
#define CHECK_MSIZE(type, member, n)					\
	expect("sizeof(struct " #type "." #member ")",			\
	    sizeof(((struct type *)0)->member), (n));
#define CHECK_CONST(name, v)						\
	expect(#name, (unsigned long long)(name), (unsigned long long)(v));

int
main(void)
{
	struct netmap_slot slot;

	ABI_SIZES(CHECK_SIZE)
	ABI_SIZES_LIBS(CHECK_SIZE)
	ABI_ALIGNS(CHECK_ALIGN)
	ABI_ALIGNS_LIBS(CHECK_ALIGN)
	ABI_OFFSETS(CHECK_OFFSET)
	ABI_OFFSETS_LIBS(CHECK_OFFSET)
	ABI_MSIZES(CHECK_MSIZE)
	ABI_MSIZES_LIBS(CHECK_MSIZE)
	ABI_CONSTS(CHECK_CONST)
	ABI_CONSTS_LIBS(CHECK_CONST)

	/* NS_RFRAGS reads the top byte of slot->flags. */
	slot.flags = 0x2a00 | NS_MOREFRAG;
	expect("NS_RFRAGS(0x2a20)", (unsigned long long)NS_RFRAGS(&slot), 0x2a);

	/* The four most critical sizes, also as compile-time checks. */
	_Static_assert(sizeof(struct netmap_slot) == 16, "netmap_slot");
	_Static_assert(sizeof(struct netmap_ring) == 256, "netmap_ring");
	_Static_assert(sizeof(struct nmreq_header) == 88, "nmreq_header");
	_Static_assert(sizeof(struct nmreq) == 60, "nmreq");

	printf("%d ABI checks, %d mismatches\n", checks, failures);
	return failures ? 1 : 0;
}
