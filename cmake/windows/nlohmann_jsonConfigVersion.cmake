# The version of the nlohmann-json headers in the cached Windows libraries, from the header.
find_path(CARDVAULT_NLOHMANN_JSON_INCLUDE nlohmann/json.hpp REQUIRED)
file(STRINGS ${CARDVAULT_NLOHMANN_JSON_INCLUDE}/nlohmann/detail/abi_macros.hpp _cv_json_version
     REGEX "#define NLOHMANN_JSON_VERSION_(MAJOR|MINOR|PATCH) +[0-9]+")
string(REGEX REPLACE ".*MAJOR +([0-9]+).*MINOR +([0-9]+).*PATCH +([0-9]+).*" "\\1.\\2.\\3"
       PACKAGE_VERSION "${_cv_json_version}")
if(PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
