// Log on Linux: whole lines on stderr, each with one write(2), so lines never interleave.
#include <unistd.h>

#include <cstdlib>

#include "agent/sync/log.h"

namespace cardvault {

bool LogToJournal() {
  static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  return journal;
}

void WriteLogLine(std::string_view line) {
  ssize_t n = ::write(2, line.data(), line.size());
  (void)n;
}

std::string AgentLogPath() { return {}; }

Status StartLogFile() { return Status::Ok(); }

std::string LogDestinationHelp() { return "Logs go to stderr (with priorities under systemd)."; }

}  // namespace cardvault
