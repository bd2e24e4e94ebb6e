{
  "targets": [
    {
      "target_name": "fastlayer",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/addon_errors.cc",
        "native/addon/addon_input.cc",
        "native/addon/addon_members.cc",
        "native/addon/addon_output.cc",
        "native/addon/addon_pipeline.cc",
        "native/addon/addon_sha256.cc",
        "native/addon/addon_view.cc",
        "native/addon/addon_worker.cc",
        "native/core/block_pool.cc",
        "native/core/deflate.cc",
        "native/core/deflate_isal.cc",
        "native/core/deflate_zlib.cc",
        "native/core/hash_stage.cc",
        "native/core/members.cc",
        "native/core/pipeline.cc",
        "native/core/sha256.cc",
        "native/core/sha256_shani.cc",
        "native/core/stored.cc",
        "native/core/unit_window.cc",
        "native/core/zstd_frames.cc",
        "native/core/zstd_stream.cc"
      ],
      "conditions": [
        ["target_arch=='arm64'", { "sources": ["native/core/sha256_armv8.cc"] }],
        # dladdr/dlopen (addon.cc keeps the library loaded); part of libc since glibc 2.34.
        ["OS=='linux'", { "libraries": ["-ldl"] }]
      ],
      # The Node-API boundary (native/addon/) includes the core's headers (native/core/, no Node) by name.
      "include_dirs": [
        "native/core",
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      # SWALLOW_UNTHROWABLE: an error raised while the environment shuts down (a terminated worker)
      # is dropped instead of escaping a Node-API callback (std::terminate, the whole process).
      # CPP_EXCEPTIONS_ALL: any other C++ exception reaching an entry point becomes a JS Error.
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "FASTLAYER_FINGERPRINT=\"<!(node scripts/find-libs.cjs fingerprint)\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20", "-O2"],
      "cflags": ["-O3", "-fvisibility=hidden"],
      "cflags_cc": [
        "-std=c++17",
        "-O3",
        "-fexceptions",
        "-fvisibility=hidden",
        "-fvisibility-inlines-hidden",
        "<!@(node scripts/find-libs.cjs cflags)"
      ],
      "libraries": ["<!@(node scripts/find-libs.cjs libs)"],
      "ldflags": ["-Wl,--as-needed"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES"
      }
    }
  ]
}
