// Winsock for the api client (api/socket_platform.h). Compiled only for Windows.
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <winsock2.h>

#include "api/socket_platform.h"

namespace cardvault {

// Windows raises no signal on a write to a closed connection: send() returns an error.
void IgnoreBrokenPipes() {}

bool SocketReadableNow(std::intptr_t socket) {
  WSAPOLLFD p = {static_cast<SOCKET>(socket), POLLRDNORM, 0};
  return ::WSAPoll(&p, 1, 0) != 0;
}

}  // namespace cardvault
