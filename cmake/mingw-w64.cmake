# Cross toolchain for Windows x86-64 with Debian's MinGW-w64 GCC (POSIX threads), used by
# `scripts/build.sh windows` (docs/windows.md). Executables are linked statically: they need
# no MinGW runtime DLL, only Windows' own.
#
# CARDVAULT_WIN_DEPS: the prefix scripts/windows-deps.sh prints (OpenSSL, SQLite, GoogleTest
# and the header-only libraries built for Windows); searched instead of the host's libraries.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

if(CARDVAULT_WIN_DEPS)
  list(APPEND CMAKE_FIND_ROOT_PATH ${CARDVAULT_WIN_DEPS})
endif()
list(APPEND CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Passed on to try_compile projects (CMake's own checks).
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CARDVAULT_WIN_DEPS)
