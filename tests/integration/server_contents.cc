// ServerVersionsByPath: list, fetch and decrypt with core's decryptor and an EpochKeyring.
#include "tests/integration/server_contents.h"

#include <gtest/gtest.h>

#include "core/decryptor.h"
#include "core/key_epoch.h"
#include "core/memory_file.h"

namespace cardvault {
namespace {

Bytes Download(ObjectClient& client, const std::string& id) {
  Bytes blob;
  EXPECT_TRUE(client
                  .Get(id, {},
                       [&](ByteView b) {
                         blob.insert(blob.end(), b.begin(), b.end());
                         return Status::Ok();
                       })
                  .ok())
      << id;
  return blob;
}

}  // namespace

std::map<std::string, std::vector<ServerVersion>> ServerVersionsByPath(ObjectClient& client,
                                                                       Identity& card) {
  EpochKeyring keyring(&card);
  std::map<std::string, std::vector<ServerVersion>> out;
  for (ObjectKind kind : {ObjectKind::kKey, ObjectKind::kBlob}) {
    ListOptions lo;
    lo.kind = kind;
    lo.limit = kMaxListLimit;
    while (true) {
      StatusOr<ListPage> page = client.List(lo);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) return out;
      for (const ObjectInfo& o : page->objects) {
        const Bytes blob = Download(client, o.id);
        if (kind == ObjectKind::kKey) {
          EXPECT_TRUE(keyring.AddKeyObject(blob, HexDecode(o.id.substr(0, 16)).value()).ok());
          continue;
        }
        MemorySequentialFile src(blob);
        auto d = OpenBlob(&src, keyring);
        EXPECT_TRUE(d.ok()) << o.id << ": " << d.status().ToString();
        if (!d.ok()) continue;
        Bytes plain;
        MemoryWritableFile sink(&plain);
        EXPECT_TRUE((*d)->DecryptTo(sink).ok()) << o.id;
        out[(*d)->metadata().path].push_back(
            {(*d)->metadata(), std::string(plain.begin(), plain.end())});
      }
      if (!page->truncated || page->objects.empty()) break;
      lo.after = page->objects.back().id;
    }
  }
  return out;
}

}  // namespace cardvault
