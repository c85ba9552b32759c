# CLI11 for the Windows cross build: header-only, in the cached Windows libraries
# (scripts/windows-deps.sh copies Debian's libcli11-dev headers there).
find_path(CARDVAULT_CLI11_INCLUDE CLI/CLI.hpp REQUIRED)
if(NOT TARGET CLI11::CLI11)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  set_target_properties(CLI11::CLI11 PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES ${CARDVAULT_CLI11_INCLUDE})
endif()
