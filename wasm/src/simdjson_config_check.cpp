// Compile-time check of the simdjson configuration the wasm build relies on (no code generated).
#include "simdjson.h"

static_assert(SIMDJSON_BUILTIN_IMPLEMENTATION_IS(fallback),
              "wasm32 must use simdjson's portable 'fallback' kernel");
static_assert(SIMDJSON_IMPLEMENTATION_FALLBACK == 1, "the fallback kernel must be compiled in");
static_assert(SIMDJSON_EXCEPTIONS == 0, "the core is built with -fno-exceptions");
#ifdef SIMDJSON_THREADS_ENABLED
#error "simdjson must not use threads in the wasm build"
#endif
