// Precompiled header of the node-gyp build (binding.gyp): both layers' heavy headers in one,
// since node-gyp compiles every source of the target with the same flags. Compiled as
// the main file of the precompiling command, so no include guard.
#include "core/pch.h"
#include "napi/pch.h"
