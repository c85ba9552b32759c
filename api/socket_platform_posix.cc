// POSIX sockets for the api client (api/socket_platform.h).
#include <poll.h>
#include <signal.h>

#include "api/socket_platform.h"

namespace cardvault {

void IgnoreBrokenPipes() { ::signal(SIGPIPE, SIG_IGN); }

bool SocketReadableNow(std::intptr_t socket) {
  pollfd p = {static_cast<int>(socket), POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 0) != 0;
}

}  // namespace cardvault
