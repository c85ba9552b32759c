// The single-file commands: generate a software identity, encrypt a file to recipients,
// decrypt a blob (with a software identity or a card), and show a blob's header.
#include "agent/cli/file_commands.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "agent/card/card_backends.h"
#include "agent/card/card_identity_set.h"
#include "agent/cli/card_backend_flags.h"
#include "agent/cli/card_commands.h"
#include "agent/cli/cli_errors.h"
#include "core/card/card_reasons.h"
#include "core/card/card_stanza.h"
#include "core/card/recipient_parser.h"
#include "core/decryptor.h"
#include "core/encryptor.h"
#include "core/x25519_recipient.h"

namespace cardvault {
namespace {

int Fail(const Status& s) { return ReportError(s); }

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

StatusOr<std::vector<std::unique_ptr<Recipient>>> LoadRecipients(
    Env& env, const std::vector<std::string>& given, const std::vector<std::string>& files) {
  std::vector<std::unique_ptr<Recipient>> out;
  for (const std::string& r : given) {
    CV_ASSIGN_OR_RETURN(std::unique_ptr<Recipient> rec, ParseRecipient(r));
    out.push_back(std::move(rec));
  }
  for (const std::string& f : files) {
    CV_ASSIGN_OR_RETURN(Bytes text, ReadFileToBytes(env, f));
    std::string s(text.begin(), text.end());
    size_t pos = 0;
    while (pos < s.size()) {
      size_t nl = s.find('\n', pos);
      std::string line = s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? s.size() : nl + 1;
      size_t start = line.find("cv-");
      if (line.empty() || line[0] == '#' || start == std::string::npos) continue;
      auto rec = ParseRecipient(line.substr(start));
      if (!rec.ok()) return rec.status().WithContext(f);
      out.push_back(std::move(rec).value());
    }
  }
  if (out.empty()) {
    return InvalidArgumentError(
        "no recipient given: use -r cv-x25519-... / -r cv-p11-... or -R FILE");
  }
  return out;
}

struct CardDecryptArgs {
  CardBackendOptions backend;
  std::string token_label, key_label, pin_file;
  bool verbose = false;
};

// The distinct card key ids the blob at `path` is wrapped to, in header order.
StatusOr<std::vector<Bytes>> CardKeyIds(Env& env, const std::string& path) {
  CV_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file, env.NewSequentialFile(path));
  CV_ASSIGN_OR_RETURN(format::Header header, ReadHeader(*file));
  std::vector<Bytes> ids;
  std::string others;
  for (const Stanza& stanza : header.stanzas) {
    if (stanza.type != kStanzaTypeRsaOaepSha1 && stanza.type != kStanzaTypeEcdhP256) {
      others += (others.empty() ? "" : ", ") + stanza.type + " " + HexEncode(stanza.key_id);
      continue;
    }
    if (std::find(ids.begin(), ids.end(), stanza.key_id) == ids.end()) {
      ids.push_back(stanza.key_id);
    }
  }
  if (ids.empty()) {
    return NotFoundError(path + " is not encrypted to any card (its recipients: " + others +
                             "); decrypt it with -i IDENTITY_FILE",
                         "no_matching_stanza");
  }
  return ids;
}

// Decrypts with the card keys the blob names; `--verbose` reports the card operations.
Status DecryptWithCard(Env& env, const CardDecryptArgs& args, const std::string& input,
                       const std::string& output) {
  CV_ASSIGN_OR_RETURN(std::vector<Bytes> key_ids, CardKeyIds(env, input));
  CV_ASSIGN_OR_RETURN(std::unique_ptr<CardBackend> backend, OpenCardBackend(args.backend));
  CardIdentityRequest request;
  request.card.label = args.token_label;
  request.key.label = args.key_label;
  request.pin_source = ChoosePinSource(args.pin_file);
  CV_ASSIGN_OR_RETURN(std::unique_ptr<CardIdentitySet> identity,
                      CardIdentitySet::New(std::move(backend), request, key_ids));
  StatusOr<format::Metadata> m = DecryptFile(env, input, output, *identity);
  if (args.verbose) {
    std::cerr << "cardvault: card private-key operations: " << identity->private_key_operations()
              << "\n";
  }
  if (!m.ok()) {
    Status status = m.status().WithContext(input);
    const std::string& reason = status.reason();
    // A PIN failure already names the card and its PIN state (the backend): nothing is
    // read from the card again here.
    if (reason == kReasonCardAbsent || reason == kReasonNoKeyOnCard) {
      std::string ids;
      for (const Bytes& id : key_ids) ids += (ids.empty() ? "" : " or ") + HexEncode(id);
      status = Status(status.code(),
                      status.message() + "; this file needs the card holding key id " + ids,
                      status.reason());
    }
    return status;
  }
  std::cerr << "cardvault: decrypted " << m->path << " (" << m->size << " bytes) to " << output
            << " with the card\n";
  return Status::Ok();
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
  enc->add_option("-r,--recipient", ea->recipients,
                  "Recipient: cv-p11-... (a card key, from `cardvault card list`) or "
                  "cv-x25519-... (a software key); repeat for several");
  enc->add_option("-R,--recipients-file", ea->recipient_files,
                  "File with one recipient per line ('#' comments allowed)");
  enc->add_option("input", ea->input, "Plaintext file")->required()->check(CLI::ExistingFile);
  enc->add_option("-o,--output", ea->output, "Blob to write (written atomically)")->required();
  enc->add_option("--name", ea->name,
                  "Relative path stored (encrypted) in the blob; default: the input's base name");
  enc->footer(
      "Examples:\n  cardvault encrypt -R recipients.txt -o notes.cvb notes.txt\n"
      "  cardvault encrypt -r cv-p11-3059... -r cv-p11-3082... -o k.cvb key.pem   # two cards\n"
      "Encrypting needs only public keys: no PIN, and the card may be absent.");
  enc->callback([&exit_code, ea] {
    Env& env = *Env::Default();
    auto recs = LoadRecipients(env, ea->recipients, ea->recipient_files);
    if (!recs.ok()) {
      exit_code = Fail(recs.status());
      return;
    }
    std::vector<Recipient*> ptrs;
    for (auto& r : *recs) ptrs.push_back(r.get());
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
    bool card = false;
    CardDecryptArgs card_args;
  };
  auto da = std::make_shared<DecryptArgs>();
  auto* dec = app.add_subcommand("decrypt", "Decrypt one cardvault blob.");
  auto* identity_opt =
      dec->add_option("-i,--identity", da->identity, "Identity file (from cardvault keygen)")
          ->check(CLI::ExistingFile);
  dec->add_flag("--card", da->card,
                "Unwrap with a smartcard key (PKCS#11): the card the blob was encrypted to")
      ->excludes(identity_opt);
  AddCardBackendFlags(*dec, da->card_args.backend, "With --card: ");
  dec->add_option("--token", da->card_args.token_label, "With --card: the card's label");
  dec->add_option("--key-label", da->card_args.key_label,
                  "With --card: the key on the card, by its label, its certificate's or private "
                  "key's label, its CKA_ID or its key id (hex, as `cardvault card list` shows)");
  dec->add_option("--pin-file", da->card_args.pin_file,
                  "With --card: file holding the PIN (mode 0600); default: "
                  "$CARDVAULT_PIN_FILE, else a pinentry prompt. Never a PIN on the command line.");
  dec->add_flag("-v,--verbose", da->card_args.verbose,
                "With --card: print how many private-key operations the card did");
  dec->add_option("input", da->input, "Blob to decrypt")->required()->check(CLI::ExistingFile);
  dec->add_option("-o,--output", da->output,
                  "Plaintext file to write; it appears only once fully verified")
      ->required();
  dec->footer(
      "Examples:\n  cardvault decrypt -i me.key -o notes.txt notes.cvb\n"
      "  cardvault decrypt --card -o notes.txt notes.cvb          # PIN via pinentry\n"
      "  cardvault decrypt --card --token \"My card\" --pin-file ~/.pin -o k.pem k.cvb\n"
      "With --card the PIN is asked at most once and never retried.");
  dec->callback([&exit_code, da] {
    Env& env = *Env::Default();
    if (da->card) {
      Status s = DecryptWithCard(env, da->card_args, da->input, da->output);
      exit_code = s.ok() ? 0 : Fail(s);
      return;
    }
    if (da->identity.empty()) {
      exit_code = Fail(InvalidArgumentError(
          "say how to decrypt: -i IDENTITY_FILE (software key) or --card (smartcard)"));
      return;
    }
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
