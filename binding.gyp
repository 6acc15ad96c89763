{
  # The node-gyp build of the same addon CMakeLists.txt builds (prebuildify uses this one).
  # scripts/find-libtorch.cjs chooses libtorch for both.
  "targets": [
    {
      "target_name": "mtl_torch",
      "sources": ["<!@(node scripts/native-sources.cjs)"],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.cjs --include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17"],
      # The precompiled header: the action compiles native/gyp_pch.h with this target's own flags
      # (make's DEFS/INCS/CFLAGS variables of the target) before any source; every source then
      # includes it first, and gcc reads the .gch instead of parsing libtorch's headers again.
      "actions": [{
        "action_name": "precompiled_header",
        "inputs": ["native/gyp_pch.h", "native/core/pch.h", "native/napi/pch.h"],
        "outputs": ["<(INTERMEDIATE_DIR)/pch/gyp_pch.h.gch"],
        "action": ["sh", "-c", "cd $(builddir)/.. && mkdir -p <(INTERMEDIATE_DIR)/pch && cp <(module_root_dir)/native/gyp_pch.h <(INTERMEDIATE_DIR)/pch/gyp_pch.h && $(CXX) $(DEFS_$(BUILDTYPE)) $(INCS_$(BUILDTYPE)) $(CFLAGS_$(BUILDTYPE)) $(filter-out -include %/gyp_pch.h,$(CFLAGS_CC_$(BUILDTYPE))) -x c++-header <(INTERMEDIATE_DIR)/pch/gyp_pch.h -o <(INTERMEDIATE_DIR)/pch/gyp_pch.h.gch"]
      }],
      "cflags_cc": ["-include", "<(INTERMEDIATE_DIR)/pch/gyp_pch.h", "-Winvalid-pch", "-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "<!@(node scripts/find-libtorch.cjs --cxxflags)"],
      "libraries": [
        "-L<!(node scripts/find-libtorch.cjs --libdir)",
        "<!@(node scripts/find-libtorch.cjs --libs)",
        "<!@(node scripts/find-libtorch.cjs --rpath)"
      ]
    }
  ]
}
