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
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "<!@(node scripts/find-libtorch.cjs --cxxflags)"],
      "libraries": [
        "-L<!(node scripts/find-libtorch.cjs --libdir)",
        "<!@(node scripts/find-libtorch.cjs --libs)",
        "<!@(node scripts/find-libtorch.cjs --rpath)"
      ]
    }
  ]
}
