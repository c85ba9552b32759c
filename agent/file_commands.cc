// The single-file commands: generate a software identity, encrypt a file to recipients,
// decrypt a blob, and show a blob's header without any key.
#include "agent/file_commands.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "core/decryptor.h"
#include "core/encryptor.h"
#include "core/x25519_recipient.h"

namespace cardvault {
namespace {

int Fail(const Status& s) {
  std::cerr << "cardvault: error: " << s.message();
  if (!s.reason().empty()) std::cerr << " [" << s.reason() << "]";
  std::cerr << "\n";
  return 1;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

StatusOr<std::vector<X25519Recipient>> LoadRecipients(Env& env,
                                                      const std::vector<std::string>& given,
                                                      const std::vector<std::string>& files) {
  std::vector<X25519Recipient> out;
  for (const std::string& r : given) {
    CV_ASSIGN_OR_RETURN(X25519Recipient rec, X25519Recipient::Parse(r));
    out.push_back(rec);
  }
  for (const std::string& f : files) {
    CV_ASSIGN_OR_RETURN(Bytes text, ReadFileToBytes(env, f));
    std::string s(text.begin(), text.end());
    size_t pos = 0;
    while (pos < s.size()) {
      size_t nl = s.find('\n', pos);
      std::string line = s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? s.size() : nl + 1;
      size_t start = line.find("cv-x25519-");
      if (line.empty() || line[0] == '#' || start == std::string::npos) continue;
      auto rec = X25519Recipient::Parse(line.substr(start));
      if (!rec.ok()) return rec.status().WithContext(f);
      out.push_back(*rec);
    }
  }
  if (out.empty()) {
    return InvalidArgumentError("no recipient given: use -r cv-x25519-... or -R FILE");
  }
  return out;
}

StatusOr<X25519Identity> LoadIdentity(Env& env, const std::string& path) {
  CV_ASSIGN_OR_RETURN(Bytes text, ReadFileToBytes(env, path));
  SecretData secret = SecretData::CopyFrom(text);
  std::fill(text.begin(), text.end(), 0);
  auto id = X25519Identity::Parse(secret.AsStringView());
  if (!id.ok()) return id.status().WithContext(path);
  return id;
}

}  // namespace

void AddFileCommands(CLI::App& app, int& exit_code) {
  // keygen
  auto* keygen = app.add_subcommand(
      "keygen",
      "Generate a software X25519 identity file (for tests and development: the private key "
      "is in the file, not on a card).");
  auto out_path = std::make_shared<std::string>();
  keygen->add_option("-o,--output", *out_path, "Identity file to create (mode 0600)")->required();
  keygen->callback([&exit_code, out_path] {
    Env& env = *Env::Default();
    if (env.Stat(*out_path).ok()) {
      exit_code = Fail(AlreadyExistsError(*out_path + " exists; refusing to overwrite a key"));
      return;
    }
    auto id = X25519Identity::Generate();
    if (!id.ok()) {
      exit_code = Fail(id.status());
      return;
    }
    Status s = WriteFileAtomically(env, *out_path, id->Serialize().span(), 0600);
    if (!s.ok()) {
      exit_code = Fail(s);
      return;
    }
    std::cout << id->recipient().ToString() << "\n";
    std::cerr << "cardvault: wrote " << *out_path << "; the line above is its public recipient\n";
    exit_code = 0;
  });

  // encrypt
  struct EncryptArgs {
    std::vector<std::string> recipients, recipient_files;
    std::string input, output, name;
  };
  auto ea = std::make_shared<EncryptArgs>();
  auto* enc = app.add_subcommand("encrypt", "Encrypt one file into a cardvault blob.");
  enc->add_option("-r,--recipient", ea->recipients, "Recipient public key (cv-x25519-...)");
  enc->add_option("-R,--recipients-file", ea->recipient_files,
                  "File with one recipient per line ('#' comments allowed)");
  enc->add_option("input", ea->input, "Plaintext file")->required()->check(CLI::ExistingFile);
  enc->add_option("-o,--output", ea->output, "Blob to write (written atomically)")->required();
  enc->add_option("--name", ea->name,
                  "Relative path stored (encrypted) in the blob; default: the input's base name");
  enc->footer(
      "Example:\n  cardvault encrypt -R recipients.txt -o notes.cvb notes.txt\n"
      "Encrypting needs only public keys: no PIN, no card.");
  enc->callback([&exit_code, ea] {
    Env& env = *Env::Default();
    auto recs = LoadRecipients(env, ea->recipients, ea->recipient_files);
    if (!recs.ok()) {
      exit_code = Fail(recs.status());
      return;
    }
    std::vector<Recipient*> ptrs;
    for (auto& r : *recs) ptrs.push_back(&r);
    auto m = EncryptFile(env, ea->input, ea->output, ptrs,
                         ea->name.empty() ? BaseName(ea->input) : ea->name);
    if (!m.ok()) {
      exit_code = Fail(m.status());
      return;
    }
    std::cerr << "cardvault: encrypted " << m->size << " bytes to " << ea->output << " ("
              << ptrs.size() << " recipient" << (ptrs.size() == 1 ? "" : "s") << ")\n";
    exit_code = 0;
  });

  // decrypt
  struct DecryptArgs {
    std::string identity, input, output;
  };
  auto da = std::make_shared<DecryptArgs>();
  auto* dec = app.add_subcommand("decrypt", "Decrypt one cardvault blob.");
  dec->add_option("-i,--identity", da->identity, "Identity file (from cardvault keygen)")
      ->required()
      ->check(CLI::ExistingFile);
  dec->add_option("input", da->input, "Blob to decrypt")->required()->check(CLI::ExistingFile);
  dec->add_option("-o,--output", da->output,
                  "Plaintext file to write; it appears only once fully verified")
      ->required();
  dec->callback([&exit_code, da] {
    Env& env = *Env::Default();
    auto id = LoadIdentity(env, da->identity);
    if (!id.ok()) {
      exit_code = Fail(id.status());
      return;
    }
    auto m = DecryptFile(env, da->input, da->output, *id);
    if (!m.ok()) {
      exit_code = Fail(m.status().WithContext(da->input));
      return;
    }
    std::cerr << "cardvault: decrypted " << m->path << " (" << m->size << " bytes) to "
              << da->output << "\n";
    exit_code = 0;
  });

  // inspect
  auto blob = std::make_shared<std::string>();
  auto* ins = app.add_subcommand(
      "inspect", "Show a blob's header (version, recipients' key ids) without any key.");
  ins->add_option("blob", *blob, "Blob to inspect")->required()->check(CLI::ExistingFile);
  ins->callback([&exit_code, blob] {
    Env& env = *Env::Default();
    auto f = env.NewSequentialFile(*blob);
    if (!f.ok()) {
      exit_code = Fail(f.status());
      return;
    }
    auto h = ReadHeader(**f);
    if (!h.ok()) {
      exit_code = Fail(h.status().WithContext(*blob));
      return;
    }
    std::cout << "format: cardvault v" << h->version << "\n"
              << "payload nonce: " << HexEncode(h->payload_nonce) << "\n"
              << "metadata: " << h->metadata_ciphertext.size() << " bytes, encrypted\n"
              << "recipients: " << h->stanzas.size() << "\n";
    for (const Stanza& s : h->stanzas) {
      std::cout << "  " << s.type << " key " << HexEncode(s.key_id) << "\n";
    }
    exit_code = 0;
  });
}

}  // namespace cardvault
