// Tests for the agent configuration: defaults, round trip, and errors that name the key.
#include "agent/sync/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace cardvault {
namespace {

const char* kValid = R"({
  "vault_dir": "/home/ann/secrets",
  "server_url": "https://vault.example.com:8443",
  "token_file": "/home/ann/.config/cardvault/token",
  "server_fingerprint": "AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89",
  "card": {"module": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "ann", "key_label": "cardvault"},
  "ignore": ["*.bak"]
})";

TEST(ConfigTest, ParsesWithDefaultsAndRoundTrips) {
  auto c = AgentConfig::Parse(kValid, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->vault_dir, "/home/ann/secrets");
  EXPECT_EQ(c->server_fingerprint,
            "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(c->settle_delay_ms, 2000);
  EXPECT_EQ(c->card.idle_timeout_s, 300);
  EXPECT_TRUE(c->low_priority);
  EXPECT_EQ(c->ignore, std::vector<std::string>{"*.bak"});
  EXPECT_FALSE(c->state_dir.empty());
  auto again = AgentConfig::Parse(c->ToJson(), "again");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->ToJson(), c->ToJson());
}

TEST(ConfigTest, LowPriorityCanBeTurnedOff) {
  std::string text = kValid;
  text.insert(text.rfind('}'), ", \"low_priority\": false");
  auto c = AgentConfig::Parse(text, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->low_priority);
  auto again = AgentConfig::Parse(c->ToJson(), "again");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->low_priority);
}

std::string ErrorOf(const std::string& text) {
  auto c = AgentConfig::Parse(text, "cfg.json");
  EXPECT_FALSE(c.ok()) << text;
  EXPECT_EQ(c.status().reason(), "config_invalid");
  return c.status().message();
}

std::string With(const std::string& replace_from, const std::string& replace_to) {
  std::string s = kValid;
  size_t at = s.find(replace_from);
  EXPECT_NE(at, std::string::npos) << replace_from;
  return s.replace(at, replace_from.size(), replace_to);
}

TEST(ConfigTest, ErrorsNameTheKeyAndTheExpectedValue) {
  EXPECT_EQ(ErrorOf("{"), "cfg.json: not valid JSON");
  EXPECT_NE(ErrorOf("[]").find("JSON object"), std::string::npos);
  EXPECT_NE(ErrorOf(With("\"vault_dir\"", "\"vault_dri\"")).find("unknown key \"vault_dri\""),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(With("/home/ann/secrets", "secrets")).find("\"vault_dir\" must be the absolute"),
      std::string::npos);
  EXPECT_NE(
      ErrorOf(With("https://vault", "http://vault")).find("\"server_url\" must be an https://"),
      std::string::npos);
  EXPECT_NE(ErrorOf(With("\"ignore\": [\"*.bak\"]", "\"settle_delay_ms\": \"2s\""))
                .find("\"settle_delay_ms\" must be an integer from 0 to 600000"),
            std::string::npos);
  EXPECT_NE(ErrorOf(With("\"ignore\": [\"*.bak\"]", "\"low_priority\": \"no\""))
                .find("\"low_priority\" must be true or false"),
            std::string::npos);
  EXPECT_NE(ErrorOf(With("\"ignore\": [\"*.bak\"]", "\"ignore\": [1]"))
                .find("\"ignore\" must be an array of strings"),
            std::string::npos);
  EXPECT_NE(ErrorOf(With("AB:CD", "ZZ:CD")).find("\"server_fingerprint\" must be"),
            std::string::npos);
  EXPECT_NE(ErrorOf(With("\"server_fingerprint\"",
                         "\"server_ca_file\": \"/ca.pem\", "
                         "\"server_fingerprint\""))
                .find("exactly one"),
            std::string::npos);
  EXPECT_NE(ErrorOf(With("\"key_label\"", "\"pin\": \"1234\", \"key_label\""))
                .find("unknown key \"card.pin\""),
            std::string::npos);
  EXPECT_NE(ErrorOf(With("\"key_label\"", "\"key_id\": \"xyz\", \"key_label\""))
                .find("\"card.key_id\" must be hex"),
            std::string::npos);
}

TEST(ConfigTest, PathPrecedenceAndMissingFile) {
  ::setenv("XDG_CONFIG_HOME", "/xdg", 1);
  ::unsetenv("CARDVAULT_CONFIG");
  EXPECT_EQ(ConfigPath(""), "/xdg/cardvault/config.json");
  ::setenv("CARDVAULT_CONFIG", "/env.json", 1);
  EXPECT_EQ(ConfigPath(""), "/env.json");
  EXPECT_EQ(ConfigPath("/flag.json"), "/flag.json");
  ::unsetenv("CARDVAULT_CONFIG");
  ::unsetenv("XDG_CONFIG_HOME");
  auto c = AgentConfig::Load(*Env::Default(), "/nonexistent/cardvault.json");
  EXPECT_EQ(c.status().reason(), "config_missing");
  EXPECT_NE(c.status().message().find("cardvault init"), std::string::npos);
}

}  // namespace
}  // namespace cardvault
