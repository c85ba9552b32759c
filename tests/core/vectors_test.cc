// Checks every committed vector in tests/vectors/ (v1 and v2): ok blobs decrypt to their
// plaintext with the recorded file key and nonce (and re-encrypting reproduces the payload,
// and a v2 trailer, byte for byte); bad blobs fail with exactly the named error.
#include <gtest/gtest.h>

#include <set>

#include "core/decryptor.h"
#include "core/encryptor.h"
#include "core/memory_file.h"
#include "core/x25519_recipient.h"
#include "tests/core/reference_card_identity.h"
#include "tests/core/vector_support.h"

namespace cardvault {
namespace {

const std::string kDir = std::string(CARDVAULT_SOURCE_DIR) + "/tests/vectors/";

Bytes Load(const std::string& name) {
  return ReadFileToBytes(*Env::Default(), kDir + name).value();
}

std::vector<Vector> AllVectors() {
  Bytes text = Load("vectors.txt");
  return ParseVectors(std::string(text.begin(), text.end()));
}

TEST(VectorsTest, ManifestCoversEveryErrorReason) {
  std::set<std::string> expects;
  for (const Vector& v : AllVectors()) expects.insert(v.at("expect"));
  for (const char* reason :
       {"ok", "bad_magic", "unsupported_version", "truncated_header", "header_too_large",
        "too_many_stanzas", "header_mac_mismatch", "no_matching_stanza", "stanza_unwrap_failed",
        "chunk_auth_failed", "chunk_out_of_order", "missing_final_chunk", "truncated",
        "trailing_data", "content_hash_mismatch", "trailer_corrupt", "metadata_malformed"}) {
    EXPECT_TRUE(expects.count(reason)) << "no vector expects " << reason;
  }
}

class VectorTest : public ::testing::TestWithParam<Vector> {};

TEST_P(VectorTest, DecryptsAsRecorded) {
  const Vector& v = GetParam();
  Bytes blob = Load(v.at("blob"));
  // X25519 vectors name a secret key; card vectors a software copy of a card key (PEM).
  std::unique_ptr<Identity> identity;
  if (v.count("card_key")) {
    identity = ReferenceCardIdentity::FromPem(Load(v.at("card_key"))).value();
  } else {
    identity = std::make_unique<X25519Identity>(X25519Identity::Parse(v.at("identity")).value());
  }
  MemorySequentialFile src(blob);
  Status status;
  Bytes plain;
  auto header = ReadHeader(src);
  if (!header.ok()) {
    status = header.status();
  } else {
    auto key = UnwrapFileKey(*header, *identity);
    if (!key.ok()) {
      status = key.status();
    } else {
      EXPECT_EQ(HexEncode(key->span()), v.at("file_key"));
      EXPECT_EQ(HexEncode(header->payload_nonce), v.at("payload_nonce"));
      auto d = Decryptor::New(&src, *header, std::move(*key));
      if (!d.ok()) {
        status = d.status();
      } else {
        MemoryWritableFile sink(&plain);
        status = (*d)->DecryptTo(sink);
        if (status.ok()) {
          EXPECT_EQ((*d)->metadata().path, v.at("path"));
          EXPECT_EQ(std::to_string((*d)->metadata().size), v.at("size"));
          // Vectors of a kind other than a file name it, and the mode they record.
          const format::Metadata& m = (*d)->metadata();
          EXPECT_EQ(std::to_string(static_cast<int>(m.kind)), v.count("kind") ? v.at("kind") : "1");
          EXPECT_EQ(m.recorded_ns.has_value() ? std::to_string(*m.recorded_ns) : "",
                    v.count("recorded") ? v.at("recorded") : "");
          if (v.count("mode")) {
            EXPECT_EQ(m.mode, std::stoul(v.at("mode"), nullptr, 8));
          }
        }
      }
    }
  }
  if (v.at("expect") != "ok") {
    EXPECT_EQ(status.reason(), v.at("expect")) << status.ToString();
    return;
  }
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(plain, Load(v.at("plaintext")));
  EXPECT_EQ(HexEncode(Sha256(plain)), v.at("sha256"));
}

// The writer still produces the committed payload bytes from the same key, nonce and
// plaintext: a change to the payload encoding cannot slip in unnoticed.
class OkVectorTest : public ::testing::TestWithParam<Vector> {};

TEST_P(OkVectorTest, EncryptorReproducesPayload) {
  const Vector& v = GetParam();
  Bytes blob = Load(v.at("blob"));
  Bytes plain = Load(v.at("plaintext"));
  Bytes prefix = HexDecode(v.at("file_key")).value();
  AppendBytes(prefix, HexDecode(v.at("payload_nonce")).value());
  FixedRandomEnv env(prefix, v.at("name"));
  // The payload depends on the file key, the nonce and the plaintext only: any recipient.
  X25519Recipient r = X25519Identity::Generate().value().recipient();
  Recipient* rs[] = {&r};
  MemorySequentialFile src(plain);
  Bytes again;
  MemoryWritableFile sink(&again);
  format::Metadata md;
  md.path = v.at("path");
  md.size = plain.size();
  if (v.count("kind")) md.kind = static_cast<format::Kind>(std::stoi(v.at("kind")));
  if (v.count("recorded")) md.recorded_ns = std::stoll(v.at("recorded"));
  EncryptOptions opts;
  opts.env = &env;
  opts.version = format::PreambleVersion(blob);
  ASSERT_TRUE(EncryptStream(src, sink, rs, md, opts).ok());
  // The payload, and a v2 blob's trailer (it depends on the same key, nonce and plaintext).
  const size_t payload = format::PayloadCiphertextSize(plain.size()) +
                         (opts.version == format::kVersion2 ? format::kTrailerSize : 0);
  ASSERT_GE(blob.size(), payload);
  EXPECT_TRUE(std::equal(blob.end() - static_cast<ptrdiff_t>(payload), blob.end(),
                         again.end() - static_cast<ptrdiff_t>(payload)));
}

std::vector<Vector> OkVectors() {
  std::vector<Vector> out;
  for (const Vector& v : AllVectors()) {
    if (v.at("expect") == "ok") out.push_back(v);
  }
  return out;
}

std::string VectorName(const ::testing::TestParamInfo<Vector>& info) {
  return info.param.at("name");
}

INSTANTIATE_TEST_SUITE_P(Committed, VectorTest, ::testing::ValuesIn(AllVectors()), VectorName);
INSTANTIATE_TEST_SUITE_P(Committed, OkVectorTest, ::testing::ValuesIn(OkVectors()), VectorName);

}  // namespace
}  // namespace cardvault
