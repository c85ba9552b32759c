// What the api client needs from the operating system's sockets, one .cc per platform
// (socket_platform_posix.cc, socket_platform_windows.cc; chosen in api/CMakeLists.txt).
#ifndef CARDVAULT_API_SOCKET_PLATFORM_H_
#define CARDVAULT_API_SOCKET_PLATFORM_H_

#include <cstdint>

namespace cardvault {

// Makes a write to a connection the peer closed fail with an error instead of ending the
// process (POSIX: SIGPIPE ignored, process-wide; Windows has no such signal). Idempotent.
void IgnoreBrokenPipes();

// Whether `socket` (an fd on POSIX, a SOCKET on Windows) has anything to read right now:
// data, the peer's FIN or a reset. MUST NOT block.
bool SocketReadableNow(std::intptr_t socket);

}  // namespace cardvault

#endif  // CARDVAULT_API_SOCKET_PLATFORM_H_
