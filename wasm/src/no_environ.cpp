// The module has no environment. simdjson references getenv (SIMDJSON_FORCE_IMPLEMENTATION);
// with link-time optimization the linker sees that reference before dead code is removed and
// would link libc's getenv, whose constructor imports WASI environ_get/environ_sizes_get. This
// definition takes precedence over libc's and keeps those imports out (wasm/allowed-imports.txt).
extern "C" char* getenv(const char*) { return nullptr; }
