/*
 * agent_proto.h - what libnetmap and unetmap-vale-agent (agent.c) say to
 * each other while an interface is being attached to a VALE switch
 * (NETMAP_REQ_VALE_ATTACH "valeS:IF"; src/ctl/vale_nic.cpp).  C, so that
 * both sides include it.
 *
 * The library starts the agent with a SOCK_SEQPACKET socket as descriptor
 * UNETMAP_AGENT_FD.  On it:
 *
 *   agent -> library   HELLO  (pid: the agent's final pid, after it forked)
 *   agent -> library   RESULT (error 0, or an errno and a text saying why)
 *   library -> agent   UNETMAP_AGENT_GO, once the library recorded the
 *                      agent's pid in the switch state
 *
 * An agent that reads anything else, or EOF, before GO closes its ports
 * and exits: the attach failed, and the library cleans up.
 */
#ifndef UNETMAP_AGENT_PROTO_H
#define UNETMAP_AGENT_PROTO_H

#include <stdint.h>

#define UNETMAP_AGENT_FD	3
#define UNETMAP_AGENT_NAME	"unetmap-vale-agent"
#define UNETMAP_AGENT_GO	'G'

enum { UNETMAP_AGENT_HELLO = 1, UNETMAP_AGENT_RESULT = 2 };

struct unetmap_agent_msg {
	int32_t kind;	/* UNETMAP_AGENT_HELLO or _RESULT */
	int32_t error;	/* RESULT: 0 or an errno */
	int32_t pid;	/* HELLO: the agent's pid */
	char text[244];	/* RESULT: why it failed (NUL-terminated) */
};

#endif /* UNETMAP_AGENT_PROTO_H */
