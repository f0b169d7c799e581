// pz: the native command-line host. All protocol logic lives in the core (pz/cli.h) so that
// `node js/bin/pz.mjs` prints the same bytes; this file only does files and stdio.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "pz/cli.h"

namespace {

const char kUsage[] =
    "usage: pz <command> [args]\n"
    "  eval                                stdin JSONL {\"rule\",\"data\"} -> stdout JSONL "
    "results\n"
    "  simulate --bundle FILE [--id ID]    one visitor: stdin JSONL events/controls -> decisions\n"
    "  explain --bundle FILE [--id ID]     as simulate, printing why each slot got its content\n"
    "  validate FILE                       check a bundle; exit 1 with every error\n"
    "  tcf STRING | tcf -                  decode an IAB TCF v2.2 TC string (- : one per stdin "
    "line)\n";

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
