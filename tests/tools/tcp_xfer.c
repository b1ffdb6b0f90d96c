/* tcp_xfer: move a known byte stream over TCP and check it arrived intact.
 *   tcp_xfer listen PORT BYTES       accept one connection, read BYTES, check
 *   tcp_xfer send ADDR PORT BYTES    connect (5 s at most), write BYTES
 * The stream is a pattern of the byte offset, so a lost, duplicated or
 * reordered segment shows.  Exit 0 and "ok N" on success; every wait is
 * bounded (10 s without progress fails). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned char pattern(unsigned long off) { return (unsigned char)(off * 2654435761u >> 24); }

static int wait_fd(int fd, short ev, int ms) {
    struct pollfd p = {fd, ev, 0};
    return poll(&p, 1, ms) == 1;
}

int main(int argc, char** argv) {
    if (argc == 4 && !strcmp(argv[1], "listen")) {
        unsigned long want = strtoul(argv[3], NULL, 10), got = 0;
        int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(s, (struct sockaddr*)&a, sizeof a) || listen(s, 1)) { perror("listen"); return 2; }
        printf("listening\n");
        fflush(stdout);
        if (!wait_fd(s, POLLIN, 20000)) { fprintf(stderr, "no connection\n"); return 1; }
        int c = accept(s, NULL, NULL);
        unsigned char buf[65536];
        while (got < want) {
            if (!wait_fd(c, POLLIN, 10000)) { fprintf(stderr, "stalled at %lu\n", got); return 1; }
            ssize_t n = read(c, buf, sizeof buf);
            if (n <= 0) { fprintf(stderr, "closed at %lu\n", got); return 1; }
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] != pattern(got + (unsigned long)i)) { fprintf(stderr, "bad byte at %lu\n", got + i); return 1; }
            got += (unsigned long)n;
        }
        printf("ok %lu\n", got);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "send")) {
        unsigned long want = strtoul(argv[4], NULL, 10), sent = 0;
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3]))};
        inet_pton(AF_INET, argv[2], &a.sin_addr);
        if (connect(s, (struct sockaddr*)&a, sizeof a) && errno != EINPROGRESS) { perror("connect"); return 1; }
        int err = 0;
        socklen_t len = sizeof err;
        if (!wait_fd(s, POLLOUT, 5000) || getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
            fprintf(stderr, "cannot connect: %s\n", err ? strerror(err) : "timeout");
            return 1;
        }
        unsigned char buf[65536];
        while (sent < want) {
            size_t n = want - sent < sizeof buf ? want - sent : sizeof buf;
            for (size_t i = 0; i < n; i++) buf[i] = pattern(sent + i);
            if (!wait_fd(s, POLLOUT, 10000)) { fprintf(stderr, "stalled at %lu\n", sent); return 1; }
            ssize_t w = write(s, buf, n);
            if (w < 0 && errno == EAGAIN) continue;
            if (w <= 0) { perror("write"); return 1; }
            sent += (unsigned long)w;
        }
        shutdown(s, SHUT_WR);
        wait_fd(s, POLLIN, 5000);  /* the peer closes once it has everything */
        printf("ok %lu\n", sent);
        return 0;
    }
    fprintf(stderr, "usage: tcp_xfer listen PORT BYTES | send ADDR PORT BYTES\n");
    return 2;
}
