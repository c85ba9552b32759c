// ObjectAudit: the guarantees the multi-instance tests check after every fault, over the
// public API only (what any client sees through the load balancer):
// - every object listed is readable, and its bytes have the listed size and SHA-256;
// - nothing acknowledged was lost: every object id a client was told is stored is listed;
// - no object is stored twice: no id is listed twice, and (for agents' blobs, checked by
//   the caller with the card) no file version is on the server under two ids.
#ifndef CARDVAULT_TESTS_ENGINES_OBJECT_AUDIT_H_
#define CARDVAULT_TESTS_ENGINES_OBJECT_AUDIT_H_

#include <set>
#include <string>
#include <vector>

#include "api/object_client.h"
#include "core/status_or.h"

namespace cardvault {

struct AuditReport {
  size_t listed = 0;                  // objects listed (both kinds)
  uint64_t bytes = 0;                 // bytes downloaded and hashed
  std::vector<std::string> problems;  // one line per broken guarantee; empty: all hold
  std::string Summary() const;        // "N objects, B bytes: ok" or the problems
};

// Lists every object of the client's user (every page, blobs and keys), downloads each
// and checks the guarantees above against `acknowledged`. An error only when the listing
// itself fails; an object that cannot be read is a problem in the report.
StatusOr<AuditReport> AuditObjects(ObjectClient& client, const std::set<std::string>& acknowledged);

// The object ids an agent recorded as uploaded in its state database (`state_db`, the
// agent's state.db): versions in state "uploaded" and epoch key objects marked uploaded.
StatusOr<std::set<std::string>> AgentAcknowledgedIds(const std::string& state_db);

}  // namespace cardvault

#endif  // CARDVAULT_TESTS_ENGINES_OBJECT_AUDIT_H_
