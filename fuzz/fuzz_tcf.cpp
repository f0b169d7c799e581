// libFuzzer target: the IAB TCF v2.2 TC string decoder (pz::decode_tcf, pz::tcf_to_json, as
// `pz tcf STRING` and consent {"tcf": …} use it).
// Two input modes: text (the bytes are the TC string), or, when the first byte is 0x00, binary:
// the rest is a list of segments, each a 2-byte big-endian length and that many bytes, which are
// base64url-encoded and joined with '.' — so that most inputs reach the bit-level decoder.
// Invariants: no crash/leak/UB/hang; an error is kInvalidArgument with a message starting
// "tcf: " (kLimitExceeded for an over-long string) and `pz tcf` prints it as {"error":…} with
// exit code 1; consent {"tcf": …} fails the same way and changes nothing. A decoded string:
// decoding again gives the same JSON (deterministic); the JSON is canonical (parse + to_json
// gives the same bytes) and is what `pz tcf` prints; the decoded fields keep the header's
// promises (version 2, two-letter codes, id lists sorted, unique and in range, restriction
// ranges sorted and merged); and an independent encoder here re-encodes the decoded string in
// two ways (vendor bitfields, and vendor ranges with the optional segments in reverse order),
// both of which decode to the same JSON.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "pz/cli.h"
#include "pz/consent.h"
#include "pz/json.h"
#include "pz/tcf.h"

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url_bytes(std::string_view bytes) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

// Binary mode: [len_hi len_lo bytes...]* -> "seg.seg...".
std::string from_binary(std::string_view in) {
  std::string out;
  bool first = true;
  while (!in.empty()) {
    size_t len = static_cast<unsigned char>(in[0]) << 8;
    if (in.size() > 1) len |= static_cast<unsigned char>(in[1]);
    in.remove_prefix(std::min<size_t>(2, in.size()));
    len = std::min(len, in.size());
    if (!first) out += '.';
    first = false;
    out += base64url_bytes(in.substr(0, len));
    in.remove_prefix(len);
  }
  return out;
}

// ---- an independent encoder (the layout in pz/tcf.h)

class BitWriter {
 public:
  void put(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) bits_.push_back(((v >> i) & 1) != 0);
  }
  // Bit i set means id i + 1, for ids 1..n.
  void ids(const std::vector<int>& ids, int n) {
    const size_t at = bits_.size();
    bits_.resize(at + static_cast<size_t>(n), false);
    for (int id : ids) {
      if (id < 1 || id > n) pz_fuzz::fail("id out of its field's range");
      bits_[at + static_cast<size_t>(id - 1)] = true;
    }
  }
  std::string base64url() const {
    std::string out;
    for (size_t i = 0; i < bits_.size(); i += 6) {
      int v = 0;
      for (size_t j = 0; j < 6; ++j) v = (v << 1) | (i + j < bits_.size() && bits_[i + j] ? 1 : 0);
      out += kAlphabet[v];
    }
    return out;
  }

 private:
  std::vector<bool> bits_;
};

std::vector<pz::TcfVendorRange> to_ranges(const std::vector<int>& ids) {
  std::vector<pz::TcfVendorRange> out;
  for (int id : ids) {
    if (!out.empty() && out.back().last + 1 == id) {
      out.back().last = id;
    } else {
      out.push_back({id, id});
    }
  }
  return out;
}

void range_entries(BitWriter& w, const std::vector<pz::TcfVendorRange>& ranges) {
  w.put(ranges.size(), 12);
  for (const pz::TcfVendorRange& r : ranges) {
    const bool is_range = r.first != r.last;
    w.put(is_range ? 1 : 0, 1);
    w.put(static_cast<uint64_t>(r.first), 16);
    if (is_range) w.put(static_cast<uint64_t>(r.last), 16);
  }
}

// False when the section cannot be written in this encoding (more than 4095 range entries).
bool vendor_section(BitWriter& w, const std::vector<int>& ids, bool ranges) {
  const int max_id = ids.empty() ? 0 : ids.back();
  w.put(static_cast<uint64_t>(max_id), 16);
  w.put(ranges ? 1 : 0, 1);
  if (!ranges) {
    w.ids(ids, max_id);
    return true;
  }
  std::vector<pz::TcfVendorRange> r = to_ranges(ids);
  if (r.size() > 4095) return false;
  range_entries(w, r);
  return true;
}

void letters(BitWriter& w, const std::string& two) {
  PZ_FUZZ_CHECK(two.size() == 2 && two[0] >= 'A' && two[0] <= 'Z' && two[1] >= 'A' && two[1] <= 'Z',
                two);
  w.put(static_cast<uint64_t>(two[0] - 'A'), 6);
  w.put(static_cast<uint64_t>(two[1] - 'A'), 6);
}

// The TC string of `tc`, or "" when this encoding cannot hold it.
std::string encode(const pz::TcfString& tc, bool ranges) {
  BitWriter w;
  w.put(static_cast<uint64_t>(tc.version), 6);
  w.put(static_cast<uint64_t>(tc.created_ds), 36);
  w.put(static_cast<uint64_t>(tc.last_updated_ds), 36);
  w.put(static_cast<uint64_t>(tc.cmp_id), 12);
  w.put(static_cast<uint64_t>(tc.cmp_version), 12);
  w.put(static_cast<uint64_t>(tc.consent_screen), 6);
  letters(w, tc.consent_language);
  w.put(static_cast<uint64_t>(tc.vendor_list_version), 12);
  w.put(static_cast<uint64_t>(tc.policy_version), 6);
  w.put(tc.is_service_specific ? 1 : 0, 1);
  w.put(tc.use_non_standard_texts ? 1 : 0, 1);
  w.ids(tc.special_feature_optins, 12);
  w.ids(tc.purpose_consents, 24);
  w.ids(tc.purpose_legitimate_interests, 24);
  w.put(tc.purpose_one_treatment ? 1 : 0, 1);
  letters(w, tc.publisher_cc);
  if (!vendor_section(w, tc.vendor_consents, ranges)) return "";
  if (!vendor_section(w, tc.vendor_legitimate_interests, ranges)) return "";
  // Publisher restrictions: one entry per (purpose, type), split when over 4095 ranges (the
  // decoder merges entries of the same purpose and type).
  std::vector<std::pair<const pz::TcfPublisherRestriction*, size_t>> chunks;
  for (const pz::TcfPublisherRestriction& r : tc.publisher_restrictions) {
    size_t n = (r.vendors.size() + 4094) / 4095;
    for (size_t k = 0; k < std::max<size_t>(n, 1); ++k) chunks.emplace_back(&r, k);
  }
  if (chunks.size() > 4095) return "";
  w.put(chunks.size(), 12);
  for (const auto& [r, k] : chunks) {
    w.put(static_cast<uint64_t>(r->purpose_id), 6);
    w.put(static_cast<uint64_t>(r->restriction_type), 2);
    const size_t from = k * 4095;
    const size_t to = std::min(r->vendors.size(), from + 4095);
    range_entries(
        w, std::vector<pz::TcfVendorRange>(r->vendors.begin() + from, r->vendors.begin() + to));
  }
  std::vector<std::string> segments = {w.base64url()};
  if (tc.has_disclosed_vendors || tc.has_allowed_vendors) {
    for (int type : {1, 2}) {
      if (!(type == 1 ? tc.has_disclosed_vendors : tc.has_allowed_vendors)) continue;
      BitWriter s;
      s.put(static_cast<uint64_t>(type), 3);
      if (!vendor_section(s, type == 1 ? tc.disclosed_vendors : tc.allowed_vendors, ranges)) {
        return "";
      }
      segments.push_back(s.base64url());
    }
  }
  if (tc.has_publisher_tc) {
    const pz::TcfPublisherTc& p = tc.publisher_tc;
    BitWriter s;
    s.put(3, 3);
    s.ids(p.purpose_consents, 24);
    s.ids(p.purpose_legitimate_interests, 24);
    s.put(static_cast<uint64_t>(p.num_custom_purposes), 6);
    s.ids(p.custom_purpose_consents, p.num_custom_purposes);
    s.ids(p.custom_purpose_legitimate_interests, p.num_custom_purposes);
    segments.push_back(s.base64url());
  }
  // Optional segments may come in any order: the range encoding writes them reversed.
  if (ranges) std::reverse(segments.begin() + 1, segments.end());
  std::string out;
  for (const std::string& s : segments) out += (out.empty() ? "" : ".") + s;
  return out;
}

// ---- the decoded string keeps the promises of pz/tcf.h

void check_ids(const std::vector<int>& ids, int max, const char* what) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 1 || ids[i] > max) pz_fuzz::fail(what, "id out of range");
    if (i > 0 && ids[i] <= ids[i - 1]) pz_fuzz::fail(what, "ids not sorted and unique");
  }
}

void check_ranges(const std::vector<pz::TcfVendorRange>& ranges) {
  for (size_t i = 0; i < ranges.size(); ++i) {
    PZ_FUZZ_CHECK(ranges[i].first >= 1 && ranges[i].first <= ranges[i].last &&
                  ranges[i].last <= 65535);
    // Sorted, overlapping and adjacent ranges merged.
    if (i > 0) PZ_FUZZ_CHECK(ranges[i].first > ranges[i - 1].last + 1);
  }
}

void check_decoded(const pz::TcfString& tc) {
  PZ_FUZZ_CHECK(tc.version == 2);
  PZ_FUZZ_CHECK(tc.created_ds >= 0 && tc.created_ds < (int64_t{1} << 36));
  PZ_FUZZ_CHECK(tc.last_updated_ds >= 0 && tc.last_updated_ds < (int64_t{1} << 36));
  check_ids(tc.special_feature_optins, 12, "specialFeatureOptins");
  check_ids(tc.purpose_consents, 24, "purposeConsents");
  check_ids(tc.purpose_legitimate_interests, 24, "purposeLegitimateInterests");
  check_ids(tc.vendor_consents, 65535, "vendorConsents");
  check_ids(tc.vendor_legitimate_interests, 65535, "vendorLegitimateInterests");
  check_ids(tc.disclosed_vendors, 65535, "disclosedVendors");
  check_ids(tc.allowed_vendors, 65535, "allowedVendors");
  PZ_FUZZ_CHECK(tc.has_disclosed_vendors || tc.disclosed_vendors.empty());
  PZ_FUZZ_CHECK(tc.has_allowed_vendors || tc.allowed_vendors.empty());
  for (size_t i = 0; i < tc.publisher_restrictions.size(); ++i) {
    const pz::TcfPublisherRestriction& r = tc.publisher_restrictions[i];
    PZ_FUZZ_CHECK(r.purpose_id >= 1 && r.purpose_id <= 63);
    PZ_FUZZ_CHECK(r.restriction_type >= 0 && r.restriction_type <= 2);
    if (i > 0) {
      const pz::TcfPublisherRestriction& p = tc.publisher_restrictions[i - 1];
      PZ_FUZZ_CHECK(p.purpose_id < r.purpose_id ||
                    (p.purpose_id == r.purpose_id && p.restriction_type < r.restriction_type));
    }
    check_ranges(r.vendors);
  }
  const pz::TcfPublisherTc& p = tc.publisher_tc;
  PZ_FUZZ_CHECK(tc.has_publisher_tc || (p.purpose_consents.empty() && p.num_custom_purposes == 0));
  check_ids(p.purpose_consents, 24, "publisherTC.purposeConsents");
  check_ids(p.purpose_legitimate_interests, 24, "publisherTC.purposeLegitimateInterests");
  PZ_FUZZ_CHECK(p.num_custom_purposes >= 0 && p.num_custom_purposes <= 63);
  check_ids(p.custom_purpose_consents, p.num_custom_purposes, "customPurposeConsents");
  check_ids(p.custom_purpose_legitimate_interests, p.num_custom_purposes,
            "customPurposeLegitimateInterests");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw = pz_fuzz::bytes(data, size);
  const std::string input =
      !raw.empty() && raw[0] == '\0' ? from_binary(raw.substr(1)) : std::string(raw);

  pz::Result<pz::TcfString> tc = pz::decode_tcf(input);
  std::string cli_out;
  const int cli_code = pz::cli::tcf(input, cli_out);
  pz::ConsentState consent = pz::initial_consent(pz::ConsentPolicy());
  const pz::ConsentState before = consent;
  pz::Status applied = pz::apply_consent(pz::Value::MakeObject({{"tcf", pz::Value::String(input)}}),
                                         pz::ConsentPolicy(), consent);

  if (!tc.ok()) {
    const std::string& message = tc.status().message();
    PZ_FUZZ_CHECK(message.rfind("tcf: ", 0) == 0 && message.size() > 5, message);
    PZ_FUZZ_CHECK(tc.status().code() == pz::Code::kInvalidArgument ||
                      (tc.status().code() == pz::Code::kLimitExceeded &&
                       input.size() > pz::kTcfMaxStringLength),
                  message);
    PZ_FUZZ_CHECK(cli_code == 1, cli_out);
    pz_fuzz::check_serialized(cli_out);
    pz::Result<pz::Value> line = pz::parse_json(cli_out);
    PZ_FUZZ_CHECK(line.ok() && line.value().is_object(), cli_out);
    const pz::Value* error = line.value().find("error");
    PZ_FUZZ_CHECK(error != nullptr && error->is_string() && !error->as_string().empty(), cli_out);
    PZ_FUZZ_CHECK(!applied.ok() && applied.message().find(message) != std::string::npos,
                  applied.message(), message);
    PZ_FUZZ_CHECK(consent.analytics == before.analytics &&
                  consent.personalization == before.personalization &&
                  consent.marketing == before.marketing && consent.given == before.given);
    return 0;
  }

  const std::string json = pz::tcf_to_json(tc.value());
  pz_fuzz::check_serialized(json);
  PZ_FUZZ_CHECK(cli_code == 0 && cli_out == json, cli_out, json);
  PZ_FUZZ_CHECK(applied.ok(), applied.message());
  check_decoded(tc.value());

  // Deterministic: the same string decodes to the same JSON.
  pz::Result<pz::TcfString> again = pz::decode_tcf(input);
  PZ_FUZZ_CHECK(again.ok(), again.status().message());
  PZ_FUZZ_CHECK(pz::tcf_to_json(again.value()) == json, json, pz::tcf_to_json(again.value()));

  // Re-encoded (two ways) it decodes to the same JSON.
  for (bool ranges : {false, true}) {
    const std::string encoded = encode(tc.value(), ranges);
    if (encoded.empty()) continue;
    pz::Result<pz::TcfString> round = pz::decode_tcf(encoded);
    if (!round.ok()) pz_fuzz::fail("re-encoded string does not decode", encoded, input);
    const std::string round_json = pz::tcf_to_json(round.value());
    if (round_json != json)
      pz_fuzz::fail("re-encoded string decodes differently", json, round_json);
  }
  return 0;
}
