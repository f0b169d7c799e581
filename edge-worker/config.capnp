# workerd configuration of the pz edge worker for local runs:
#
#   node_modules/@cloudflare/workerd-linux-64/bin/workerd serve edge-worker/config.capnp
#
# It listens on 127.0.0.1:8787 and proxies the site at PZ_ORIGIN (here the demo site served by
# `pz-server --static demo-site` on 8080, which is also the reference server). Override the
# listening address with `--socket-addr http=127.0.0.1:PORT`. The modules are the files of this
# repository under their paths from its root, so that the worker's relative imports resolve as
# they do for wrangler. tests/edge/harness.mjs derives the test configurations from this file.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "pz-edge", worker = .edgeWorker),
    # The worker's fetch() goes out through this network: the origin and the server run on
    # loopback in development.
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "pz-edge")],
);

const edgeWorker :Workerd.Worker = (
  modules = [
    (name = "edge-worker/worker.mjs", esModule = embed "worker.mjs"),
    (name = "edge-worker/slots.mjs", esModule = embed "slots.mjs"),
    (name = "edge-worker/visitor.mjs", esModule = embed "visitor.mjs"),
    (name = "js/src/host.mjs", esModule = embed "../js/src/host.mjs"),
    (name = "js/src/cli.mjs", esModule = embed "../js/src/cli.mjs"),
    (name = "js/src/signature.mjs", esModule = embed "../js/src/signature.mjs"),
    (name = "js/src/runtime/dom.mjs", esModule = embed "../js/src/runtime/dom.mjs"),
    # Imported statically: edge runtimes do not compile wasm at run time.
    (name = "build-wasm/pz_core.wasm", wasm = embed "../build-wasm/pz_core.wasm"),
  ],
  compatibilityDate = "2025-11-01",
  globalOutbound = "net",
  bindings = [
    (name = "PZ_ORIGIN", text = "http://127.0.0.1:8080"),
    (name = "PZ_SERVER", text = "http://127.0.0.1:8080"),
    (name = "PZ_WRITE_KEY", text = "pk_demo"),
    (name = "PZ_CONSENT_COOKIE", text = "pz_consent"),
    (name = "PZ_ID_COOKIE", text = "pz_id"),
    (name = "PZ_BUDGET_MS", text = "150"),
    (name = "PZ_CACHE_TTL_MS", text = "5000"),
    (name = "PZ_BUNDLE_TTL_MS", text = "60000"),
    (name = "PZ_SLOTS", text = "hero,offer_bar,recs,banner"),
  ],
);
