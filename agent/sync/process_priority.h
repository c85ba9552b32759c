// Background priority for the agent: lower CPU and I/O priority so that the desktop (and on a
// shared machine, everything else) goes first while the agent encrypts and uploads.
#ifndef CARDVAULT_AGENT_SYNC_PROCESS_PRIORITY_H_
#define CARDVAULT_AGENT_SYNC_PROCESS_PRIORITY_H_

#include "core/status.h"

namespace cardvault {

// The nice value and the best-effort I/O priority level (0 highest, 7 lowest) of an agent
// with `low_priority` on, as Syncthing's setLowPriority does.
inline constexpr int kLowPriorityNice = 9;
inline constexpr int kLowPriorityIoLevel = 7;

// Linux: lowers the calling thread's CPU priority to at least kLowPriorityNice and its I/O
// priority to best-effort kLowPriorityIoLevel. Threads it starts afterwards inherit both,
// so the agent's commands call it before starting any thread. Never raises a priority: a
// thread that is already nicer, or in the idle I/O class, keeps that (raising it back would
// need privileges, so there is no inverse).
// Windows (process_priority_windows.cc): the whole process enters background mode
// (SetPriorityClass PROCESS_MODE_BACKGROUND_BEGIN: low CPU, I/O and memory priority); where
// the system refuses that (Wine 8 does), the process gets IDLE_PRIORITY_CLASS instead. A
// process already in the idle class keeps it.
// Errors: kInternal with the system's reason.
Status LowerThreadPriority();

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_SYNC_PROCESS_PRIORITY_H_
