# nlohmann-json for the Windows cross build: header-only, in the cached Windows libraries
# (scripts/windows-deps.sh copies Debian's nlohmann-json3-dev headers there).
find_path(CARDVAULT_NLOHMANN_JSON_INCLUDE nlohmann/json.hpp REQUIRED)
if(NOT TARGET nlohmann_json::nlohmann_json)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES ${CARDVAULT_NLOHMANN_JSON_INCLUDE})
endif()
