// LowerThreadPriority on Linux: setpriority and ioprio_set act on the calling thread.
#include "agent/sync/process_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace cardvault {
namespace {

// From linux/ioprio.h, which glibc does not wrap.
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioClassBestEffort = 2;
constexpr int kIoprioClassIdle = 3;

Status SystemError(const std::string& what) {
  return InternalError(what + ": " + std::strerror(errno));
}

}  // namespace

Status LowerThreadPriority() {
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
  if (nice == -1 && errno != 0) return SystemError("cannot read the thread's priority");
  if (nice < kLowPriorityNice &&
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), kLowPriorityNice) != 0) {
    return SystemError("cannot lower the thread's CPU priority");
  }
  const long io = ::syscall(SYS_ioprio_get, kIoprioWhoProcess, tid);
  if (io < 0) return SystemError("cannot read the thread's I/O priority");
  const long io_class = io >> kIoprioClassShift;
  const long io_level = io & ((1 << kIoprioClassShift) - 1);
  if (io_class == kIoprioClassIdle ||
      (io_class == kIoprioClassBestEffort && io_level >= kLowPriorityIoLevel)) {
    return Status::Ok();
  }
  const long low =
      (static_cast<long>(kIoprioClassBestEffort) << kIoprioClassShift) | kLowPriorityIoLevel;
  if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, tid, low) != 0) {
    return SystemError("cannot lower the thread's I/O priority");
  }
  return Status::Ok();
}

}  // namespace cardvault
