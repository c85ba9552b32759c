// install-autostart and remove-autostart (agent/cli/autostart_commands.h). Compiled only for
// Windows (agent/CMakeLists.txt).
#define WIN32_LEAN_AND_MEAN
#define NOMINMAX
#include <windows.h>

#include <iostream>

#include "agent/cli/autostart_commands.h"
#include "agent/sync/config.h"
#include "core/env.h"
#include "core/windows_util.h"

namespace cardvault {
namespace {

constexpr wchar_t kRunKey[] = L"Software\\Microsoft\\Windows\\CurrentVersion\\Run";
constexpr wchar_t kValueName[] = L"cardvault";
constexpr char kRunKeyText[] =
    "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run, value \"cardvault\"";

int Fail(const Status& s) {
  std::cerr << "cardvault: error: " << s.message();
  if (!s.reason().empty()) std::cerr << " [" << s.reason() << "]";
  std::cerr << "\n";
  return 1;
}

std::wstring ThisProgram() {
  std::wstring path(32768, L'\0');
  const DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
  path.resize(n);
  return path;
}

// `"C:\...\cardvault.exe" [--config "PATH"] run --hide-console`; --config only when the
// config is not at its default place.
StatusOr<std::wstring> AutostartCommand(const std::string& config_path) {
  std::wstring command = L"\"" + ThisProgram() + L"\"";
  if (config_path != DefaultConfigPath()) {
    CV_ASSIGN_OR_RETURN(std::wstring config, WidePath(config_path));
    command += L" --config \"" + config + L"\"";
  }
  return command + L" run --hide-console";
}

Status Install(const std::string& config_path) {
  if (!Env::Default()->Stat(config_path).ok()) {
    return NotFoundError(config_path + " does not exist: run 'cardvault init' first", "no_config");
  }
  CV_ASSIGN_OR_RETURN(std::wstring command, AutostartCommand(config_path));
  const DWORD bytes = static_cast<DWORD>((command.size() + 1) * sizeof(wchar_t));
  const LSTATUS r =
      ::RegSetKeyValueW(HKEY_CURRENT_USER, kRunKey, kValueName, REG_SZ, command.c_str(), bytes);
  if (r != ERROR_SUCCESS) {
    return WindowsErrorToStatus(static_cast<unsigned long>(r), "write", kRunKeyText);
  }
  std::cout << "cardvault: the agent starts at logon: " << kRunKeyText << " = "
            << Utf8FromWide(command) << "\n";
  return Status::Ok();
}

Status Remove() {
  const LSTATUS r = ::RegDeleteKeyValueW(HKEY_CURRENT_USER, kRunKey, kValueName);
  if (r == ERROR_FILE_NOT_FOUND) {
    std::cout << "cardvault: no autostart entry to remove (" << kRunKeyText << ")\n";
    return Status::Ok();
  }
  if (r != ERROR_SUCCESS) {
    return WindowsErrorToStatus(static_cast<unsigned long>(r), "delete", kRunKeyText);
  }
  std::cout << "cardvault: removed the autostart entry (" << kRunKeyText
            << "); a running agent keeps running\n";
  return Status::Ok();
}

}  // namespace

void AddAutostartCommands(CLI::App& app, const std::string& config_flag, int& exit_code) {
  auto* install = app.add_subcommand("install-autostart",
                                     "Start the agent (cardvault run) when you log on to Windows.");
  install->footer(
      "Writes the value \"cardvault\" under HKCU\\Software\\Microsoft\\Windows\\CurrentVersion"
      "\\Run:\n  \"<this cardvault.exe>\" [--config <file>] run --hide-console\n"
      "(--config only when the config is not at %APPDATA%\\cardvault\\config.json). For your "
      "account only;\nno administrator rights. Running it again rewrites the same value. The "
      "agent then logs to\n%LOCALAPPDATA%\\cardvault\\agent.log. Undo with 'cardvault "
      "remove-autostart', or switch it\noff in Task Manager's Startup tab. Run 'cardvault init' "
      "first.");
  install->callback([&exit_code, &config_flag] {
    Status s = Install(ConfigPath(config_flag));
    exit_code = s.ok() ? 0 : Fail(s);
  });
  auto* remove = app.add_subcommand("remove-autostart",
                                    "Stop starting the agent at logon (undoes install-autostart).");
  remove->footer(
      "Deletes the value \"cardvault\" under HKCU\\Software\\Microsoft\\Windows\\CurrentVersion"
      "\\Run;\nwithout one, says so and succeeds. A running agent keeps running: stop it with "
      "Ctrl+C\nin its console, or at logoff.");
  remove->callback([&exit_code] {
    Status s = Remove();
    exit_code = s.ok() ? 0 : Fail(s);
  });
}

}  // namespace cardvault
