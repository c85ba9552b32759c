// ObjectAudit implementation: paged listings, downloads hashed here (not by the client's
// own check), set differences.
#include "tests/engines/object_audit.h"

#include <map>

#include "core/crypto.h"
#include "storage/sqlite_db.h"

namespace cardvault {
namespace {

// Every object of one kind, page by page (bounded: 1000 pages).
StatusOr<std::vector<ObjectInfo>> ListAll(ObjectClient& client, ObjectKind kind) {
  std::vector<ObjectInfo> all;
  ListOptions o;
  o.kind = kind;
  for (int page = 0; page < 1000; ++page) {
    CV_ASSIGN_OR_RETURN(ListPage p, client.List(o));
    all.insert(all.end(), p.objects.begin(), p.objects.end());
    if (!p.truncated || p.objects.empty()) return all;
    o.after = p.objects.back().id;
  }
  return InternalError("more than 1000 pages listed");
}

// Downloads `info`'s object and compares its size and SHA-256 with the listing's.
void CheckReadable(ObjectClient& client, const ObjectInfo& info, AuditReport& report) {
  Sha256Hasher hasher;
  uint64_t size = 0;
  GetOptions o;
  o.verify_sha256 = false;  // hashed here, independently of the client
  auto got = client.Get(info.id, o, [&](ByteView b) {
    hasher.Update(b);
    size += b.size();
    return Status::Ok();
  });
  report.bytes += size;
  if (!got.ok()) {
    report.problems.push_back("listed but not readable: " + info.id + ": " +
                              got.status().ToString());
    return;
  }
  const std::string sha = HexEncode(hasher.Finish());
  if (size != info.size || sha != info.sha256) {
    report.problems.push_back("listed " + info.id + " (" + std::to_string(info.size) + " bytes, " +
                              info.sha256 + ") but read " + std::to_string(size) + " bytes, " +
                              sha);
  }
}

}  // namespace

std::string AuditReport::Summary() const {
  std::string s = std::to_string(listed) + " objects, " + std::to_string(bytes) + " bytes: ";
  if (problems.empty()) return s + "ok";
  s += std::to_string(problems.size()) + " problems";
  for (const auto& p : problems) s += "\n  " + p;
  return s;
}

StatusOr<AuditReport> AuditObjects(ObjectClient& client,
                                   const std::set<std::string>& acknowledged) {
  AuditReport report;
  std::map<std::string, int> seen;
  for (ObjectKind kind : {ObjectKind::kKey, ObjectKind::kBlob}) {
    CV_ASSIGN_OR_RETURN(auto objects, ListAll(client, kind));
    for (const auto& info : objects) {
      ++report.listed;
      if (++seen[info.id] == 2) report.problems.push_back("listed twice: " + info.id);
      CheckReadable(client, info, report);
    }
  }
  for (const auto& id : acknowledged) {
    if (seen.count(id) == 0) report.problems.push_back("acknowledged but not listed: " + id);
  }
  return report;
}

StatusOr<std::set<std::string>> AgentAcknowledgedIds(const std::string& state_db) {
  CV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(state_db));
  std::set<std::string> ids;
  for (const char* sql :
       {"SELECT object_id FROM versions WHERE state = 2 AND object_id IS NOT NULL",
        "SELECT object_id FROM epochs WHERE uploaded = 1"}) {
    CV_ASSIGN_OR_RETURN(Statement s, db->Prepare(sql));
    while (true) {
      CV_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ids.insert(s.ColumnText(0));
    }
  }
  return ids;
}

}  // namespace cardvault
