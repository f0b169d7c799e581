// pz: the native command-line host. All protocol logic lives in the core (pz/cli.h) so that
// `node js/bin/pz.mjs` prints the same bytes; this file only does files and stdio.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "pz/cli.h"
#include "pz/json.h"
#include "signature.h"

namespace {

const char kUsage[] =
    "usage: pz <command> [args]\n"
    "  eval                                stdin JSONL {\"rule\",\"data\"} -> stdout JSONL "
    "results\n"
    "  simulate --bundle FILE [--id ID]    one visitor: stdin JSONL events/controls -> decisions\n"
    "  explain --bundle FILE [--id ID]     as simulate, printing why each slot got its content\n"
    "  validate FILE                       check a bundle; exit 1 with every error\n"
    "  tcf STRING | tcf -                  decode an IAB TCF v2.2 TC string (- : one per stdin "
    "line)\n"
    "  keygen                              a new Ed25519 key pair for signed bundles (JSON)\n"
    "  sign --key FILE BUNDLE [-o SIG]     sign a bundle: writes BUNDLE.sig (-o -: stdout only)\n"
    "  verify --pubkey KEY BUNDLE [SIG]    check a bundle's signature (SIG default: BUNDLE.sig)\n";

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

int run_eval() {
  pz::JsonParser parser;
  std::string line, out;
  size_t line_no = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out = pz::cli::eval_line(line, line_no, parser);
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

int run_simulate(int argc, char** argv, bool explain) {
  std::string bundle_path, id = "sim";
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--bundle") == 0 && i + 1 < argc) {
      bundle_path = argv[++i];
    } else if (std::strcmp(argv[i], "--id") == 0 && i + 1 < argc) {
      id = argv[++i];
    } else {
      std::fprintf(stderr, "pz simulate: unexpected argument %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (bundle_path.empty()) {
    std::fprintf(stderr, "pz simulate: --bundle FILE is required\n");
    return 2;
  }
  std::string bundle;
  if (!read_file(bundle_path, bundle)) {
    std::fprintf(stderr, "pz simulate: cannot read %s\n", bundle_path.c_str());
    return 2;
  }
  pz::cli::Simulator sim;
  sim.set_explain(explain);
  pz::Status st = sim.init(bundle, id);
  if (!st.ok()) {
    std::fprintf(stderr, "pz simulate: %s: invalid bundle\n%s", bundle_path.c_str(),
                 st.message().c_str());
    return 1;
  }
  std::string line, out;
  size_t line_no = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (sim.feed(line, line_no, out)) {
      out += '\n';
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
  }
  return 0;
}

int run_validate(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: pz validate FILE\n");
    return 2;
  }
  std::string bundle;
  if (!read_file(argv[2], bundle)) {
    std::fprintf(stderr, "pz validate: cannot read %s\n", argv[2]);
    return 2;
  }
  std::string out;
  int code = pz::cli::validate(bundle, argv[2], out);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return code;
}

// ---- signed bundles (docs/bundle.md "Signed bundles"); native only: libsodium

std::string trimmed(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

// A key argument: the text itself, or a file holding it or `pz keygen`'s JSON (`field`).
bool key_text(const std::string& arg, const char* field, std::string& out, std::string& error) {
  std::string text = arg;
  (void)read_file(arg, text);  // else the argument is the key itself
  text = trimmed(text);
  if (!text.empty() && text[0] == '{') {
    pz::Result<pz::Value> doc = pz::parse_json(text);
    const pz::Value* v = doc.ok() && doc.value().is_object() ? doc.value().find(field) : nullptr;
    if (v == nullptr || !v->is_string()) {
      error = arg + ": a JSON key file needs a \"" + field + "\" string (pz keygen's output)";
      return false;
    }
    out = v->as_string();
    return true;
  }
  out = text;
  return true;
}

int run_keygen(int argc) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pz keygen\n");
    return 2;
  }
  pz::Result<pz::server::KeyPair> kp = pz::server::generate_key_pair();
  if (!kp.ok()) {
    std::fprintf(stderr, "pz keygen: %s\n", kp.status().message().c_str());
    return 1;
  }
  std::printf("{\"key_id\":\"%s\",\"public_key\":\"%s\",\"secret_key\":\"%s\"}\n",
              kp.value().key_id.c_str(), kp.value().public_key.c_str(),
              kp.value().secret_key.c_str());
  return 0;
}

int run_sign(int argc, char** argv) {
  std::string key_file, bundle_path, out_path;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
      key_file = argv[++i];
    } else if (std::strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      out_path = argv[++i];
    } else if (bundle_path.empty() && argv[i][0] != '-') {
      bundle_path = argv[i];
    } else {
      std::fprintf(stderr, "pz sign: unexpected argument %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (key_file.empty() || bundle_path.empty()) {
    std::fprintf(stderr, "usage: pz sign --key FILE BUNDLE [-o SIG]\n");
    return 2;
  }
  std::string key_json, secret, error, bundle;
  if (!read_file(key_file, key_json)) {
    std::fprintf(stderr, "pz sign: cannot read the key file %s\n", key_file.c_str());
    return 2;
  }
  if (!key_text(key_file, "secret_key", secret, error)) {
    std::fprintf(stderr, "pz sign: %s\n", error.c_str());
    return 2;
  }
  if (!read_file(bundle_path, bundle)) {
    std::fprintf(stderr, "pz sign: cannot read %s\n", bundle_path.c_str());
    return 2;
  }
  pz::Result<std::string> sig = pz::server::sign_bundle(bundle, secret);
  if (!sig.ok()) {
    std::fprintf(stderr, "pz sign: %s: %s\n", key_file.c_str(), sig.status().message().c_str());
    return 1;
  }
  const std::string line = sig.value() + "\n";
  if (out_path.empty()) out_path = bundle_path + ".sig";
  if (out_path != "-") {
    std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
    if (!out || !out.write(line.data(), static_cast<std::streamsize>(line.size())) ||
        !out.flush()) {
      std::fprintf(stderr, "pz sign: cannot write %s\n", out_path.c_str());
      return 1;
    }
  }
  std::fwrite(line.data(), 1, line.size(), stdout);
  return 0;
}

int run_verify(int argc, char** argv) {
  std::vector<std::string> keys;
  std::string bundle_path, sig_path;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--pubkey") == 0 && i + 1 < argc) {
      std::string key, error;
      if (!key_text(argv[++i], "public_key", key, error)) {
        std::fprintf(stderr, "pz verify: %s\n", error.c_str());
        return 2;
      }
      keys.push_back(key);
    } else if (argv[i][0] != '-' && bundle_path.empty()) {
      bundle_path = argv[i];
    } else if (argv[i][0] != '-' && sig_path.empty()) {
      sig_path = argv[i];
    } else {
      std::fprintf(stderr, "pz verify: unexpected argument %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (keys.empty() || bundle_path.empty()) {
    std::fprintf(stderr, "usage: pz verify --pubkey KEY [--pubkey KEY...] BUNDLE [SIG]\n");
    return 2;
  }
  pz::Result<pz::server::BundleVerifier> verifier = pz::server::BundleVerifier::create(keys);
  if (!verifier.ok()) {
    std::fprintf(stderr, "pz verify: --pubkey%s (the key, or a file holding it)\n",
                 verifier.status().message().c_str());
    return 2;
  }
  if (sig_path.empty()) sig_path = bundle_path + ".sig";
  std::string bundle, sig;
  if (!read_file(bundle_path, bundle)) {
    std::fprintf(stderr, "pz verify: cannot read %s\n", bundle_path.c_str());
    return 2;
  }
  if (!read_file(sig_path, sig)) {
    std::fprintf(stderr, "pz verify: %s: signature missing (cannot read %s)\n", bundle_path.c_str(),
                 sig_path.c_str());
    return 1;
  }
  pz::Status st = verifier.value().verify(bundle, sig);
  if (!st.ok()) {
    std::fprintf(stderr, "pz verify: %s: %s\n", bundle_path.c_str(), st.message().c_str());
    return 1;
  }
  std::printf("%s: signature ok (key %s)\n", bundle_path.c_str(),
              pz::server::parse_signature(sig).value().key_id.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "eval") return run_eval();
  if (cmd == "simulate") return run_simulate(argc, argv, false);
  if (cmd == "explain") return run_simulate(argc, argv, true);
  if (cmd == "validate") return run_validate(argc, argv);
  if (cmd == "keygen") return run_keygen(argc);
  if (cmd == "sign") return run_sign(argc, argv);
  if (cmd == "verify") return run_verify(argc, argv);
  if (cmd == "tcf") {
    if (argc != 3) {
      std::fprintf(stderr, "usage: pz tcf STRING\n");
      return 2;
    }
    std::string out;
    if (std::strcmp(argv[2], "-") == 0) {  // batch: one TC string per stdin line
      std::string line;
      while (std::getline(std::cin, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        pz::cli::tcf(line, out);
        out += '\n';
        std::fwrite(out.data(), 1, out.size(), stdout);
      }
      return 0;
    }
    int code = pz::cli::tcf(argv[2], out);
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
    return code;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "pz: unknown command %s\n%s", cmd.c_str(), kUsage);
  return 2;
}
