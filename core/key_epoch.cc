// Key epochs: creation, key-object rewrapping, and the caching keyring used for restore.
#include "core/key_epoch.h"

#include <algorithm>

#include "core/decryptor.h"
#include "core/encryptor.h"
#include "core/memory_file.h"

namespace cardvault {
namespace {

constexpr size_t kEpochKeySize = 32;

// Decrypts a key object fully in memory and returns the epoch private key.
StatusOr<SecretData> OpenKeyObject(ByteView key_object, Identity& opener) {
  MemorySequentialFile src(key_object);
  CV_ASSIGN_OR_RETURN(auto decryptor, OpenBlob(&src, opener));
  if (decryptor->metadata().kind != format::Kind::kKeyObject ||
      decryptor->metadata().size != kEpochKeySize) {
    return CorruptError("not an epoch key object", "not_a_key_object");
  }
  // The plaintext is the epoch private key: decrypt into a wiping buffer.
  class SecretSink final : public WritableFile {
   public:
    explicit SecretSink(SecretData* out) : out_(out) {}
    Status Append(ByteView data) override {
      if (used_ + data.size() > out_->size()) return CorruptError("key object too long");
      std::copy(data.begin(), data.end(), out_->data() + used_);
      used_ += data.size();
      return Status::Ok();
    }
    Status WriteAt(uint64_t, ByteView) override { return InternalError("unsupported"); }
    Status Sync() override { return Status::Ok(); }
    Status Close() override { return Status::Ok(); }

   private:
    SecretData* out_;
    size_t used_ = 0;
  };
  SecretData key(kEpochKeySize);
  SecretSink sink(&key);
  CV_RETURN_IF_ERROR(decryptor->DecryptTo(sink));
  return key;
}

}  // namespace

StatusOr<NewEpoch> CreateEpoch(std::span<Recipient* const> recipients, int64_t created_ns,
                               Env* env) {
  if (recipients.empty()) return InvalidArgumentError("an epoch needs at least one recipient");
  CV_ASSIGN_OR_RETURN(X25519Identity epoch, X25519Identity::Generate());
  Bytes blob;
  {
    MemorySequentialFile src(epoch.private_key().span());
    MemoryWritableFile sink(&blob);
    format::Metadata m;
    m.kind = format::Kind::kKeyObject;
    m.mtime_ns = created_ns;
    EncryptOptions opts;
    opts.env = env;
    CV_ASSIGN_OR_RETURN(format::Metadata written, EncryptStream(src, sink, recipients, m, opts));
    (void)written;
  }
  X25519Recipient recipient = epoch.recipient();
  Bytes id = recipient.key_id();
  // `epoch` (and its private key) is destroyed and wiped on return.
  return NewEpoch{recipient, std::move(id), std::move(blob)};
}

StatusOr<Bytes> RewrapKeyObject(ByteView key_object, Identity& opener,
                                std::span<Recipient* const> recipients) {
  if (recipients.empty()) return InvalidArgumentError("a key object needs a recipient");
  MemorySequentialFile src(key_object);
  CV_ASSIGN_OR_RETURN(format::Header header, ReadHeader(src));
  const size_t header_size = format::SerializeHeader(header).size();
  CV_ASSIGN_OR_RETURN(SecretData file_key, UnwrapFileKey(header, opener));
  // Check the whole object before rewrapping it.
  CV_RETURN_IF_ERROR(OpenKeyObject(key_object, opener).status());
  header.stanzas.clear();
  for (Recipient* r : recipients) {
    CV_ASSIGN_OR_RETURN(std::vector<Stanza> stanzas, r->Wrap(file_key));
    for (Stanza& s : stanzas) header.stanzas.push_back(std::move(s));
  }
  CV_RETURN_IF_ERROR(format::SealHeader(file_key, header));
  Bytes out = format::SerializeHeader(header);
  out.insert(out.end(), key_object.begin() + static_cast<ptrdiff_t>(header_size), key_object.end());
  return out;
}

Status EpochKeyring::AddKeyObject(ByteView key_object, ByteView epoch_id_hint) {
  MemorySequentialFile src(key_object);
  CV_RETURN_IF_ERROR(ReadHeader(src).status());
  unopened_.push_back({Bytes(epoch_id_hint.begin(), epoch_id_hint.end()),
                       Bytes(key_object.begin(), key_object.end())});
  return Status::Ok();
}

StatusOr<X25519Identity*> EpochKeyring::Open(size_t i) {
  CV_ASSIGN_OR_RETURN(SecretData key, OpenKeyObject(unopened_[i].blob, *card_));
  CV_ASSIGN_OR_RETURN(X25519Identity epoch, X25519Identity::FromPrivateKey(std::move(key)));
  const Bytes id = epoch.recipient().key_id();
  const Bytes hint = unopened_[i].hint;
  unopened_.erase(unopened_.begin() + static_cast<ptrdiff_t>(i));
  if (!hint.empty() && hint != id) {
    return CorruptError("the key object listed for epoch " + HexEncode(hint) +
                            " holds the key of epoch " + HexEncode(id),
                        "key_object_mismatch");
  }
  auto& slot = opened_[id];
  slot = std::make_unique<X25519Identity>(std::move(epoch));
  return slot.get();
}

StatusOr<SecretData> EpochKeyring::UnwrapWithOpenedEpochs(std::span<const Stanza> stanzas) const {
  for (const Stanza& s : stanzas) {
    if (s.type != kX25519StanzaType) continue;
    auto it = opened_.find(s.key_id);
    if (it != opened_.end()) return it->second->Unwrap(stanzas);
  }
  return NotFoundError("no opened epoch key matches", "no_matching_stanza");
}

StatusOr<SecretData> EpochKeyring::Unwrap(std::span<const Stanza> stanzas) {
  std::vector<Bytes> wanted;
  for (const Stanza& s : stanzas) {
    if (s.type != kX25519StanzaType) continue;
    auto it = opened_.find(s.key_id);
    if (it != opened_.end()) return it->second->Unwrap(stanzas);
    wanted.push_back(s.key_id);
  }
  auto wants = [&](const Bytes& id) {
    return std::find(wanted.begin(), wanted.end(), id) != wanted.end();
  };
  // A key object listed for a wanted epoch first, then unlisted ones, each opened once.
  for (int pass = 0; pass < 2 && !wanted.empty(); ++pass) {
    for (size_t i = 0; i < unopened_.size();) {
      const Bytes& hint = unopened_[i].hint;
      if (pass == 0 ? !wants(hint) : !hint.empty()) {
        ++i;
        continue;
      }
      CV_ASSIGN_OR_RETURN(X25519Identity * epoch, Open(i));
      if (wants(epoch->recipient().key_id())) return epoch->Unwrap(stanzas);
    }
  }
  std::string ids;
  for (const Bytes& id : wanted) ids += (ids.empty() ? "" : ", ") + HexEncode(id);
  return NotFoundError(
      wanted.empty() ? "no stanza is addressed to an epoch key"
                     : "no key object is known for epoch " + ids + ": fetch the key objects first",
      "no_matching_stanza");
}

}  // namespace cardvault
