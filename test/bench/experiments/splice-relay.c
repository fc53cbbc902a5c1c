// An experiment of the copy benchmark (BENCH_SPLICE=1, see test/bench/results/README.md), not part
// of orch: how fast a copier could go whose bytes never enter user space. GET -> PUT relays on
// 127.0.0.1 with splice(2) (socket -> pipe -> socket), one thread per object, blocking sockets, no
// timeouts, no error handling beyond exiting 1: a measurement, nothing more.
//
// stdin, one job per line: "<srcport> <dstport> <length> <GET head, hex> <PUT head, hex>" (heads
// signed by the node driver, copy.mjs `splice` mode). stdout: the PUT answer's status line per job.
// Build: gcc -O2 -pthread -o splice-relay splice-relay.c (Linux).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
typedef struct { int sp, dp; long len; char *gh, *ph; char out[256]; } job;
static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {0};
  a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(0x7f000001);
  if (connect(fd, (void *)&a, sizeof a)) { perror("connect"); exit(1); }
  int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}
static void wall(int fd, const char *b, long n) { while (n > 0) { long w = write(fd, b, n); if (w <= 0) { perror("write"); exit(1); } b += w; n -= w; } }
static char *unhex(const char *h) { size_t n = strlen(h) / 2; char *o = malloc(n + 1); for (size_t i = 0; i < n; i++) sscanf(h + 2 * i, "%2hhx", &o[i]); o[n] = 0; return o; }
static void *run(void *p) {
  job *j = p; int s = dial(j->sp); wall(s, j->gh, strlen(j->gh));
  static __thread char buf[65536]; long got = 0; char *end = NULL;
  while (!end) { long r = read(s, buf + got, sizeof buf - got); if (r <= 0) { perror("read head"); exit(1); } got += r; buf[got] = 0; end = memmem(buf, got, "\r\n\r\n", 4); }
  long hl = end + 4 - buf; long body0 = got - hl;
  int d = dial(j->dp); wall(d, j->ph, strlen(j->ph)); wall(d, buf + hl, body0);
  long left = j->len - body0; int pp[2]; pipe(pp); fcntl(pp[1], F_SETPIPE_SZ, 1 << 20);
  while (left > 0) {
    long n = splice(s, NULL, pp[1], NULL, left < (1 << 20) ? left : (1 << 20), SPLICE_F_MOVE | SPLICE_F_MORE);
    if (n <= 0) { perror("splice in"); exit(1); }
    left -= n;
    while (n > 0) { long m = splice(pp[0], NULL, d, NULL, n, SPLICE_F_MOVE | (left ? SPLICE_F_MORE : 0)); if (m <= 0) { perror("splice out"); exit(1); } n -= m; }
  }
  long r = read(d, buf, sizeof buf - 1); buf[r > 0 ? r : 0] = 0; char *nl = strstr(buf, "\r\n"); if (nl) *nl = 0;
  snprintf(j->out, sizeof j->out, "%s", buf); close(s); close(d); close(pp[0]); close(pp[1]); return NULL;
}
int main(void) {
  job js[64]; int n = 0; char gh[8192], ph[8192];
  while (n < 64 && scanf("%d %d %ld %8191s %8191s", &js[n].sp, &js[n].dp, &js[n].len, gh, ph) == 5) { js[n].gh = unhex(gh); js[n].ph = unhex(ph); n++; }
  pthread_t t[64]; for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, run, &js[i]);
  for (int i = 0; i < n; i++) { pthread_join(t[i], NULL); printf("%s\n", js[i].out); }
  return 0;
}
