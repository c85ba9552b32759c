// LowerThreadPriority on Windows (agent/sync/process_priority.h): background mode for the
// process, or the idle priority class where background mode is refused. Compiled only for
// Windows (agent/CMakeLists.txt).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>

#include "agent/sync/process_priority.h"
#include "core/windows_util.h"

namespace cardvault {

// winerror.h's ERROR_PROCESS_MODE_ALREADY_BACKGROUND, which MinGW's headers lack.
constexpr DWORD kErrorProcessModeAlreadyBackground = 402;

Status LowerThreadPriority() {
  HANDLE self = ::GetCurrentProcess();
  if (::GetPriorityClass(self) == IDLE_PRIORITY_CLASS) return Status::Ok();  // lower already
  if (::SetPriorityClass(self, PROCESS_MODE_BACKGROUND_BEGIN) != 0) return Status::Ok();
  const DWORD background_error = ::GetLastError();
  if (background_error == kErrorProcessModeAlreadyBackground) return Status::Ok();
  if (::SetPriorityClass(self, IDLE_PRIORITY_CLASS) != 0) return Status::Ok();
  return InternalError("cannot lower the process's priority: background mode: " +
                       WindowsErrorText(background_error) +
                       "; idle class: " + WindowsErrorText(::GetLastError()));
}

}  // namespace cardvault
