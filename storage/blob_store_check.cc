// IndexedBlobStore::Check: every live object's size and SHA-256 against its index record,
// and the quarantine of the damaged ones (`cardvault-server check`).
#include <array>
#include <optional>
#include <utility>
#include <vector>

#include "core/crypto.h"
#include "storage/indexed_blob_store.h"

namespace cardvault {
namespace {

// Index records read per call: a check running beside a server never holds a read
// transaction for long (the WAL can be checkpointed between pages).
constexpr size_t kPageRows = 256;

std::string Sizes(uint64_t found, uint64_t expected) {
  return std::to_string(found) + " bytes stored, " + std::to_string(expected) + " indexed";
}

}  // namespace

class IndexedBlobStore::Checker {
 public:
  Checker(ObjectIndex& index, ByteStore& bytes, const CheckOptions& options,
          const std::function<void(const DamagedObject&)>& on_damaged)
      : index_(index), bytes_(bytes), options_(options), on_damaged_(on_damaged) {}

  StatusOr<CheckSummary> Run() {
    CheckSummary summary;
    int64_t after = 0;
    while (true) {
      CV_ASSIGN_OR_RETURN(std::vector<IndexedVersion> page, index_.LivePage(after, kPageRows));
      if (page.empty()) return summary;
      after = page.back().version;
      for (const IndexedVersion& v : page) {
        ++summary.objects;
        CV_ASSIGN_OR_RETURN(std::optional<DamagedObject> damaged, Verify(v, summary.bytes));
        if (!damaged.has_value()) continue;
        if (options_.quarantine && damaged->problem != "quarantined") {
          CV_RETURN_IF_ERROR(Quarantine(v, *damaged));
        }
        if (on_damaged_) on_damaged_(*damaged);
        summary.damaged.push_back(std::move(*damaged));
      }
    }
  }

 private:
  static std::optional<DamagedObject> Damaged(const IndexedVersion& v, std::string problem,
                                              std::string detail) {
    return DamagedObject{v.user, v.info.id, std::move(problem), std::move(detail), false};
  }

  // The SHA-256 of stored bytes, read as a stream; `found` gets how many there were.
  static StatusOr<Sha256Digest> HashStored(ByteReader& reader, uint64_t& found) {
    Sha256Hasher hasher;
    std::vector<uint8_t> buf(64 * 1024);
    found = 0;
    while (true) {
      CV_ASSIGN_OR_RETURN(size_t n, reader.ReadAt(found, buf));
      if (n == 0) return hasher.Finish();
      hasher.Update(ByteView(buf.data(), n));
      found += n;
    }
  }

  // What is wrong with the object of `v`, or nullopt when it is whole. Adds the bytes
  // hashed to `hashed_bytes`.
  StatusOr<std::optional<DamagedObject>> Verify(const IndexedVersion& v, uint64_t& hashed_bytes) {
    const uint64_t size = v.info.size;
    if (!v.damaged.empty()) return Damaged(v, "quarantined", v.damaged);
    Sha256Digest digest;
    uint64_t found = 0;
    if (v.is_inline) {
      // Purged meanwhile: nothing to hash.
      CV_ASSIGN_OR_RETURN(std::optional<Bytes> data, index_.InlineData(v.version));
      const Bytes bytes = data.has_value() ? std::move(*data) : Bytes();
      found = bytes.size();
      if (found != size) return Damaged(v, "size", Sizes(found, size));
      digest = Sha256(bytes);
    } else {
      StatusOr<std::unique_ptr<ByteReader>> reader = bytes_.Open(v.byte_key);
      if (!reader.ok() && reader.status().code() == StatusCode::kNotFound) {
        return Damaged(v, "missing",
                       "its file is missing, " + std::to_string(size) + " bytes indexed");
      }
      CV_RETURN_IF_ERROR(reader.status());
      if ((*reader)->size() != size) return Damaged(v, "size", Sizes((*reader)->size(), size));
      CV_ASSIGN_OR_RETURN(digest, HashStored(**reader, found));
      if (found != size) return Damaged(v, "size", Sizes(found, size));
    }
    hashed_bytes += found;
    const std::string actual = HexEncode(digest);
    if (actual != v.info.sha256) {
      return Damaged(v, "sha256", "content SHA-256 " + actual + ", indexed " + v.info.sha256);
    }
    return std::optional<DamagedObject>();
  }

  // Marks the record damaged first (a server answers "object_damaged" from then on), then
  // moves the bytes aside; an inline object's bytes are copied aside first and leave the
  // record in the same update. A version retired meanwhile (replaced, deleted) is left alone.
  Status Quarantine(const IndexedVersion& v, DamagedObject& d) {
    const std::string what = d.problem + ": " + d.detail;
    if (v.is_inline) {
      CV_ASSIGN_OR_RETURN(std::optional<Bytes> data, index_.InlineData(v.version));
      const std::string name = std::to_string(v.version) + "-" + v.info.id + ".inline";
      CV_RETURN_IF_ERROR(bytes_.QuarantineCopy(name, data.has_value() ? *data : Bytes()));
      CV_ASSIGN_OR_RETURN(d.quarantined_now, index_.MarkDamaged(v.version, what, true));
      return Status::Ok();
    }
    CV_ASSIGN_OR_RETURN(bool marked, index_.MarkDamaged(v.version, what, false));
    if (!marked) return Status::Ok();
    d.quarantined_now = true;
    if (d.problem == "missing") return Status::Ok();
    return bytes_.Quarantine(v.byte_key);
  }

  ObjectIndex& index_;
  ByteStore& bytes_;
  const CheckOptions& options_;
  const std::function<void(const DamagedObject&)>& on_damaged_;
};

StatusOr<IndexedBlobStore::CheckSummary> IndexedBlobStore::Check(
    ObjectIndex& index, ByteStore& bytes, const CheckOptions& options,
    const std::function<void(const DamagedObject&)>& on_damaged) {
  return Checker(index, bytes, options, on_damaged).Run();
}

}  // namespace cardvault
