// LD_PRELOAD shim for the benchmark: wrk speaks only TCP, so this redirects every IPv4 connect()
// to the unix socket named by UNIX_SHIM_PATH. Built by bench/run.mjs with the system cc.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real_connect)(int, const struct sockaddr *, socklen_t);
  if (!real_connect) real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
  const char *path = getenv("UNIX_SHIM_PATH");
  if (path == NULL || addr == NULL || addr->sa_family != AF_INET) return real_connect(fd, addr, len);
  int flags = fcntl(fd, F_GETFL);
  int unix_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (unix_fd < 0) return -1;
  fcntl(unix_fd, F_SETFL, flags);
  dup2(unix_fd, fd);
  close(unix_fd);
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
  return real_connect(fd, (const struct sockaddr *)&sun, sizeof(sun));
}
