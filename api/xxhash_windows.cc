// xxhash's implementation for the Windows build, which has xxhash as a header only (the
// cached Windows libraries, scripts/windows-deps.sh); Linux links Debian's libxxhash.
#define XXH_STATIC_LINKING_ONLY
#define XXH_IMPLEMENTATION
#include <xxhash.h>
