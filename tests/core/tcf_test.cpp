// Tests for pz/tcf.h, the IAB TCF v2.2 TC string decoder.
//
// Most strings are built bit by bit with the BitWriter below, following the field table of the
// IAB "Consent string and vendor list formats v2" specification; the expected values are the ones
// written. The writer also records where each field starts and ends, which drives the truncation
// test (every 6-bit cut of a full string must name the first field that no longer fits).
// The IAB examples were decoded by hand from their bits (see the comments); the differential test
// tests/js/tcf_diff.test.mjs compares against @iabtcf/core on random strings.
#include "pz/tcf.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pz {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Writes big-endian bit fields and base64url-encodes them; remembers each named field's span.
class BitWriter {
 public:
  struct Field {
    std::string name;
    size_t start = 0;
    size_t end = 0;
    // The end the decoder reports when the cut is exactly at `start`: a range entry is only known
    // to need 17 bits (IsARange + StartOrOnlyVendorId) until its IsARange bit is read.
    size_t end_if_cut_at_start = 0;
  };

  void Put(uint64_t value, int width, std::string name = "") {
    const size_t start = bits_.size();
    for (int i = width - 1; i >= 0; --i) bits_.push_back(((value >> i) & 1) != 0);
    Record(std::move(name), start, bits_.size());
  }
  void Bits(std::string_view ones_zeros, std::string name = "") {
    const size_t start = bits_.size();
    for (const char c : ones_zeros) bits_.push_back(c == '1');
    Record(std::move(name), start, bits_.size());
  }
  void Letters(std::string_view two, std::string name) {
    Put(static_cast<uint64_t>((two[0] - 'A') << 6 | (two[1] - 'A')), 12, std::move(name));
  }
  // A range entry: IsARange(1) StartOrOnlyVendorId(16) [EndVendorId(16)], a single when
  // first == last.
  void Entry(int first, int last, std::string name) {
    const size_t start = bits_.size();
    const bool range = first != last;
    Put(range ? 1 : 0, 1);
    Put(static_cast<uint64_t>(first), 16);
    if (range) Put(static_cast<uint64_t>(last), 16);
    Record(std::move(name), start, bits_.size());
    fields_.back().end_if_cut_at_start = start + 17;
  }
  // Vendor section, bitfield encoding; `ones_zeros` has MaxVendorId characters.
  void VendorBitfield(const std::string& what, std::string_view ones_zeros) {
    Put(ones_zeros.size(), 16, what + ": maxVendorId");
    Put(0, 1, what + ": isRangeEncoding");
    Bits(ones_zeros, what + ": bitfield (maxVendorId " + std::to_string(ones_zeros.size()) + ")");
  }
  // Vendor section, range encoding.
  void VendorRanges(const std::string& what, int max_id,
                    const std::vector<std::pair<int, int>>& ranges) {
    Put(static_cast<uint64_t>(max_id), 16, what + ": maxVendorId");
    Put(1, 1, what + ": isRangeEncoding");
    Entries(what, ranges);
  }
  void Entries(const std::string& what, const std::vector<std::pair<int, int>>& ranges) {
    Put(ranges.size(), 12, what + ": numEntries");
    for (size_t i = 0; i < ranges.size(); ++i) {
      Entry(ranges[i].first, ranges[i].second, what + ": range entry " + std::to_string(i + 1));
    }
  }

  size_t size() const { return bits_.size(); }
  const std::vector<Field>& fields() const { return fields_; }

  // base64url of the first `n` bits (default all), zero-padded to a multiple of 6.
  std::string Base64(size_t n = SIZE_MAX) const {
    if (n > bits_.size()) n = bits_.size();
    std::string out;
    for (size_t i = 0; i < n; i += 6) {
      int v = 0;
      for (size_t j = i; j < i + 6; ++j) v = v << 1 | (j < n && bits_[j] ? 1 : 0);
      out += kB64[v];
    }
    return out;
  }

 private:
  void Record(std::string name, size_t start, size_t end) {
    if (!name.empty()) fields_.push_back(Field{std::move(name), start, end, end});
  }
  std::vector<bool> bits_;
  std::vector<Field> fields_;
};

// The fixed core fields (213 bits), with distinctive values.
struct CoreHeader {
  int version = 2;
  int64_t created = 16000000000;  // deciseconds: 2020-09-13T12:26:40Z
  int64_t last_updated = 17000000001;
  int cmp_id = 300;
  int cmp_version = 4095;
  int consent_screen = 63;
  std::string language = "FR";
  int vendor_list_version = 151;
  int policy_version = 5;
  bool service_specific = true;
  bool non_standard_texts = false;
  std::string special_features = "010000000001";         // 2, 12
  std::string purposes = "100000000000000000000001";     // 1, 24
  std::string purposes_li = "011000000000000000000000";  // 2, 3
  bool purpose_one_treatment = true;
  std::string publisher_cc = "DE";
};

void WriteHeader(BitWriter& w, const CoreHeader& h) {
  w.Put(static_cast<uint64_t>(h.version), 6, "version");
  w.Put(static_cast<uint64_t>(h.created), 36, "created");
  w.Put(static_cast<uint64_t>(h.last_updated), 36, "lastUpdated");
  w.Put(static_cast<uint64_t>(h.cmp_id), 12, "cmpId");
  w.Put(static_cast<uint64_t>(h.cmp_version), 12, "cmpVersion");
  w.Put(static_cast<uint64_t>(h.consent_screen), 6, "consentScreen");
  w.Letters(h.language, "consentLanguage");
  w.Put(static_cast<uint64_t>(h.vendor_list_version), 12, "vendorListVersion");
  w.Put(static_cast<uint64_t>(h.policy_version), 6, "policyVersion");
  w.Put(h.service_specific ? 1 : 0, 1, "isServiceSpecific");
  w.Put(h.non_standard_texts ? 1 : 0, 1, "useNonStandardTexts");
  w.Bits(h.special_features, "specialFeatureOptins");
  w.Bits(h.purposes, "purposeConsents");
  w.Bits(h.purposes_li, "purposeLegitimateInterests");
  w.Put(h.purpose_one_treatment ? 1 : 0, 1, "purposeOneTreatment");
  w.Letters(h.publisher_cc, "publisherCC");
}

// A core segment with both vendor encodings and publisher restrictions:
//   vendorConsents: bitfield "0100000011" (MaxVendorId 10) -> 2, 9, 10
//   vendorLegitimateInterests: ranges, MaxVendorId 700: 5, 10-12, 600-700
//   publisherRestrictions: (purpose 2, type 0: 1-3, 7), (purpose 7, type 1: 100)
BitWriter FullCore() {
  BitWriter w;
  WriteHeader(w, CoreHeader{});
  w.VendorBitfield("vendorConsents", "0100000011");
  w.VendorRanges("vendorLegitimateInterests", 700, {{5, 5}, {10, 12}, {600, 700}});
  w.Put(2, 12, "publisherRestrictions: numPubRestrictions");
  w.Put(2, 6, "publisherRestrictions: restriction 1: purposeId");
  w.Put(0, 2, "publisherRestrictions: restriction 1: restrictionType");
  w.Entries("publisherRestrictions: restriction 1", {{1, 3}, {7, 7}});
  w.Put(7, 6, "publisherRestrictions: restriction 2: purposeId");
  w.Put(1, 2, "publisherRestrictions: restriction 2: restrictionType");
  w.Entries("publisherRestrictions: restriction 2", {{100, 100}});
  return w;
}

std::vector<int> Range(int first, int last) {
  std::vector<int> out;
  for (int i = first; i <= last; ++i) out.push_back(i);
  return out;
}

std::vector<int> Concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TcfString Decode(std::string_view s) {
  Result<TcfString> r = decode_tcf(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().message();
  return r.ok() ? r.take() : TcfString{};
}

std::string Error(std::string_view s) {
  Result<TcfString> r = decode_tcf(s);
  if (r.ok()) return "decoded: " + tcf_to_json(r.value());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().message();
  return r.status().message();
}

using Ranges = std::vector<std::pair<int, int>>;

Ranges ToPairs(const std::vector<TcfVendorRange>& v) {
  Ranges out;
  for (const TcfVendorRange& r : v) out.emplace_back(r.first, r.last);
  return out;
}

TEST(TcfTest, FixedLayoutIs213BitsBeforeTheVendorSection) {
  BitWriter w;
  WriteHeader(w, CoreHeader{});
  EXPECT_EQ(w.size(), 213u);
}

TEST(TcfTest, DecodesEveryCoreField) {
  const BitWriter w = FullCore();
  const TcfString tc = Decode(w.Base64());
  EXPECT_EQ(tc.version, 2);
  EXPECT_EQ(tc.created_ds, 16000000000);
  EXPECT_EQ(tc.last_updated_ds, 17000000001);
  EXPECT_EQ(tc.cmp_id, 300);
  EXPECT_EQ(tc.cmp_version, 4095);
  EXPECT_EQ(tc.consent_screen, 63);
  EXPECT_EQ(tc.consent_language, "FR");
  EXPECT_EQ(tc.vendor_list_version, 151);
  EXPECT_EQ(tc.policy_version, 5);
  EXPECT_TRUE(tc.is_service_specific);
  EXPECT_FALSE(tc.use_non_standard_texts);
  EXPECT_EQ(tc.special_feature_optins, (std::vector<int>{2, 12}));
  EXPECT_EQ(tc.purpose_consents, (std::vector<int>{1, 24}));
  EXPECT_EQ(tc.purpose_legitimate_interests, (std::vector<int>{2, 3}));
  EXPECT_TRUE(tc.purpose_one_treatment);
  EXPECT_EQ(tc.publisher_cc, "DE");
  EXPECT_EQ(tc.vendor_consents, (std::vector<int>{2, 9, 10}));
  EXPECT_EQ(tc.vendor_legitimate_interests, Concat(Concat({5}, Range(10, 12)), Range(600, 700)));
  ASSERT_EQ(tc.publisher_restrictions.size(), 2u);
  EXPECT_EQ(tc.publisher_restrictions[0].purpose_id, 2);
  EXPECT_EQ(tc.publisher_restrictions[0].restriction_type, 0);
  EXPECT_EQ(ToPairs(tc.publisher_restrictions[0].vendors), (Ranges{{1, 3}, {7, 7}}));
  EXPECT_EQ(tc.publisher_restrictions[1].purpose_id, 7);
  EXPECT_EQ(tc.publisher_restrictions[1].restriction_type, 1);
  EXPECT_EQ(ToPairs(tc.publisher_restrictions[1].vendors), (Ranges{{100, 100}}));
  EXPECT_FALSE(tc.has_disclosed_vendors);
  EXPECT_FALSE(tc.has_allowed_vendors);
  EXPECT_FALSE(tc.has_publisher_tc);
}

TEST(TcfTest, OtherFlagValuesAndEmptySections) {
  CoreHeader h;
  h.service_specific = false;
  h.non_standard_texts = true;
  h.purpose_one_treatment = false;
  h.language = "ZA";  // letters 25 and 0, the extremes
  h.special_features = "000000000000";
  h.purposes = "111111111111111111111111";
  h.purposes_li = "000000000000000000000000";
  h.created = (int64_t{1} << 36) - 1;  // the largest 36-bit value
  h.last_updated = 0;
  BitWriter w;
  WriteHeader(w, h);
  w.VendorBitfield("vendorConsents", "");  // MaxVendorId 0: no bits
  w.VendorRanges("vendorLegitimateInterests", 0, {});
  w.Put(0, 12);
  const TcfString tc = Decode(w.Base64());
  EXPECT_FALSE(tc.is_service_specific);
  EXPECT_TRUE(tc.use_non_standard_texts);
  EXPECT_FALSE(tc.purpose_one_treatment);
  EXPECT_EQ(tc.consent_language, "ZA");
  EXPECT_TRUE(tc.special_feature_optins.empty());
  EXPECT_EQ(tc.purpose_consents, Range(1, 24));
  EXPECT_TRUE(tc.purpose_legitimate_interests.empty());
  EXPECT_EQ(tc.created_ds, 68719476735);
  EXPECT_EQ(tc.last_updated_ds, 0);
  EXPECT_TRUE(tc.vendor_consents.empty());
  EXPECT_TRUE(tc.vendor_legitimate_interests.empty());
  EXPECT_TRUE(tc.publisher_restrictions.empty());
}

TEST(TcfTest, RangeEncodingTakesTheUnionOfUnorderedAndOverlappingEntries) {
  BitWriter w;
  WriteHeader(w, CoreHeader{});
  // Entries out of order and overlapping; a range entry with start == end; the largest id.
  w.VendorRanges("vendorConsents", 65535, {{20, 25}, {3, 3}, {22, 30}, {65535, 65535}});
  w.Put(40, 16);  // vendorLegitimateInterests MaxVendorId 40
  w.Put(1, 1);    // range encoding
  w.Put(1, 12);   // one entry
  w.Put(1, 1);    // IsARange with start == end: the single vendor 40
  w.Put(40, 16);
  w.Put(40, 16);
  w.Put(0, 12);
  const TcfString tc = Decode(w.Base64());
  EXPECT_EQ(tc.vendor_consents, Concat(Concat({3}, Range(20, 30)), {65535}));
  EXPECT_EQ(tc.vendor_legitimate_interests, (std::vector<int>{40}));
}

TEST(TcfTest, PublisherRestrictionsAreMergedPerPurposeAndType) {
  BitWriter w;
  WriteHeader(w, CoreHeader{});
  w.VendorBitfield("vendorConsents", "1");
  w.VendorBitfield("vendorLegitimateInterests", "");
  w.Put(5, 12);  // five restriction entries:
  w.Put(9, 6);   // purpose 9, require LI, vendors 500-600
  w.Put(2, 2);
  w.Entries("r1", {{500, 600}});
  w.Put(2, 6);  // purpose 2, not allowed, vendors 4-5 and 1-3 -> merged 1-5
  w.Put(0, 2);
  w.Entries("r2", {{4, 5}, {1, 3}});
  w.Put(2, 6);  // purpose 2, require consent (a different type), vendor 8
  w.Put(1, 2);
  w.Entries("r3", {{8, 8}});
  w.Put(2, 6);  // purpose 2, not allowed again: 7 and 10-12 join the first one
  w.Put(0, 2);
  w.Entries("r4", {{10, 12}, {7, 7}});
  w.Put(63, 6);  // purpose 63, require LI, no vendors
  w.Put(2, 2);
  w.Put(0, 12);
  const TcfString tc = Decode(w.Base64());
  ASSERT_EQ(tc.publisher_restrictions.size(), 4u);
  const auto& r = tc.publisher_restrictions;
  EXPECT_EQ(r[0].purpose_id, 2);
  EXPECT_EQ(r[0].restriction_type, 0);
  EXPECT_EQ(ToPairs(r[0].vendors), (Ranges{{1, 5}, {7, 7}, {10, 12}}));
  EXPECT_EQ(r[1].purpose_id, 2);
  EXPECT_EQ(r[1].restriction_type, 1);
  EXPECT_EQ(ToPairs(r[1].vendors), (Ranges{{8, 8}}));
  EXPECT_EQ(r[2].purpose_id, 9);
  EXPECT_EQ(r[2].restriction_type, 2);
  EXPECT_EQ(ToPairs(r[2].vendors), (Ranges{{500, 600}}));
  EXPECT_EQ(r[3].purpose_id, 63);
  EXPECT_EQ(r[3].restriction_type, 2);
  EXPECT_TRUE(r[3].vendors.empty());
  // Restriction vendors have no MaxVendorId bound (the vendor sections' MaxVendorIds are 1, 0).
}

// Optional segments, written after FullCore() in the order publisherTC, disclosed, allowed.
struct Segments {
  BitWriter publisher_tc, disclosed, allowed;
};

Segments OptionalSegments() {
  Segments s;
  BitWriter& p = s.publisher_tc;
  p.Put(3, 3);                                                                    // SegmentType 3
  p.Bits("110000000000000000000010", "publisherTC: purposeConsents");             // 1, 2, 23
  p.Bits("000000000000000000000001", "publisherTC: purposeLegitimateInterests");  // 24
  p.Put(5, 6, "publisherTC: numCustomPurposes");
  p.Bits("10001", "publisherTC: customPurposeConsents");             // 1, 5
  p.Bits("01000", "publisherTC: customPurposeLegitimateInterests");  // 2
  BitWriter& d = s.disclosed;
  d.Put(1, 3);  // SegmentType 1
  d.VendorRanges("disclosedVendors", 404, {{1, 5}, {100, 100}, {404, 404}});
  BitWriter& a = s.allowed;
  a.Put(2, 3);  // SegmentType 2
  a.VendorBitfield("allowedVendors", "001");
  return s;
}

TEST(TcfTest, DecodesOptionalSegmentsInAnyOrder) {
  const Segments s = OptionalSegments();
  const std::string core = FullCore().Base64();
  const std::string p = s.publisher_tc.Base64();
  const std::string d = s.disclosed.Base64();
  const std::string a = s.allowed.Base64();
  for (const std::string& str :
       {core + "." + p + "." + d + "." + a, core + "." + a + "." + d + "." + p}) {
    const TcfString tc = Decode(str);
    EXPECT_TRUE(tc.has_publisher_tc);
    EXPECT_EQ(tc.publisher_tc.purpose_consents, (std::vector<int>{1, 2, 23}));
    EXPECT_EQ(tc.publisher_tc.purpose_legitimate_interests, (std::vector<int>{24}));
    EXPECT_EQ(tc.publisher_tc.num_custom_purposes, 5);
    EXPECT_EQ(tc.publisher_tc.custom_purpose_consents, (std::vector<int>{1, 5}));
    EXPECT_EQ(tc.publisher_tc.custom_purpose_legitimate_interests, (std::vector<int>{2}));
    EXPECT_TRUE(tc.has_disclosed_vendors);
    EXPECT_EQ(tc.disclosed_vendors, (std::vector<int>{1, 2, 3, 4, 5, 100, 404}));
    EXPECT_TRUE(tc.has_allowed_vendors);
    EXPECT_EQ(tc.allowed_vendors, (std::vector<int>{3}));
    EXPECT_EQ(tc.vendor_consents, (std::vector<int>{2, 9, 10}));  // the core is unaffected
  }
  // A PublisherTC segment without custom purposes stops after NumCustomPurposes.
  BitWriter q;
  q.Put(3, 3);
  q.Bits("000000000000000000000000");
  q.Bits("100000000000000000000000");
  q.Put(0, 6);
  const TcfString tc = Decode(core + "." + q.Base64());
  EXPECT_TRUE(tc.has_publisher_tc);
  EXPECT_TRUE(tc.publisher_tc.purpose_consents.empty());
  EXPECT_EQ(tc.publisher_tc.purpose_legitimate_interests, (std::vector<int>{1}));
  EXPECT_EQ(tc.publisher_tc.num_custom_purposes, 0);
}

// IAB example (TCF v2 spec, "How does a URL-based service process the TC string"), decoded by
// hand. Core "CQSbk4AQSbk4ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA" (44 chars, 264 bits):
//   000010 version 2 | 010000010010011011100100111000000000 created 17489088000 ds
//   (2025-06-03T00:00:00Z) | same lastUpdated | 001101110000 cmpId 880 | 000000000000 cmpVersion 0
//   | 000000 screen 0 | 000100 001101 "EN" | 000000110000 vendorListVersion 48 | 000010 policy 2
//   | 1 service-specific | 0 | 12 zero bits | 24 zero bits | 24 zero bits | 0 | 000011 000100 "DE"
//   | 0000000000000100 MaxVendorId 4, 0 bitfield, 1111 vendors 1-4 | 16 zero bits MaxVendorId 0,
//   0 bitfield | 000000000000 no restrictions | 1 padding bit.
// Segment "IDKQA4AAgAKAGQAygAAA": 001 DisclosedVendors | 0000000110010100 MaxVendorId 404 | 1 range
//   | 000000000011 three entries | 1 0000000000000001 0000000000000101 (1-5) |
//   0 0000000001100100 (100) | 0 0000000110010100 (404) | zero padding.
TEST(TcfTest, IabExampleString) {
  const TcfString tc = Decode("CQSbk4AQSbk4ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA.IDKQA4AAgAKAGQAygAAA");
  EXPECT_EQ(tc.created_ds, 17489088000);
  EXPECT_EQ(tc.last_updated_ds, 17489088000);
  EXPECT_EQ(tc.cmp_id, 880);
  EXPECT_EQ(tc.cmp_version, 0);
  EXPECT_EQ(tc.consent_language, "EN");
  EXPECT_EQ(tc.vendor_list_version, 48);
  EXPECT_EQ(tc.policy_version, 2);
  EXPECT_TRUE(tc.is_service_specific);
  EXPECT_EQ(tc.publisher_cc, "DE");
  EXPECT_EQ(tc.vendor_consents, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_TRUE(tc.vendor_legitimate_interests.empty());
  EXPECT_TRUE(tc.publisher_restrictions.empty());
  EXPECT_TRUE(tc.has_disclosed_vendors);
  EXPECT_EQ(tc.disclosed_vendors, (std::vector<int>{1, 2, 3, 4, 5, 100, 404}));
  EXPECT_EQ(tcf_to_json(tc),
            R"({"version":2,"cmpId":880,"cmpVersion":0,"consentScreen":0,"consentLanguage":"EN",)"
            R"("vendorListVersion":48,"policyVersion":2,"isServiceSpecific":true,)"
            R"("purposeConsents":[],"purposeLegitimateInterests":[],"specialFeatureOptins":[],)"
            R"("vendorConsents":[1,2,3,4],"vendorLegitimateInterests":[],)"
            R"("created":1748908800000,"lastUpdated":1748908800000,"useNonStandardTexts":false,)"
            R"("purposeOneTreatment":false,"publisherCC":"DE","publisherRestrictions":[],)"
            R"("disclosedVendors":[1,2,3,4,5,100,404],"allowedVendors":null,"publisherTC":null})");
}

// IAB example with all four segments (spec, "TC String Format"). Hand-checked fields: the core
// "COw4XqLOw4XqLAAAAAENAXCAAAAAAAAAAAAAAAAAAAAA" has cmpId 000000000000 (0), cmpVersion 0,
// language 000100 001101 "EN", vendorListVersion 000000010111 (23), policy 000010 (2), and both
// vendor sections are MaxVendorId 0; the last segment "YAAA..." starts 011 (PublisherTC) with
// all-zero purposes and NumCustomPurposes 0; "IFuk..." starts 001 (disclosed) and "QFuk..." 010
// (allowed) with identical bodies.
TEST(TcfTest, IabExampleWithAllFourSegments) {
  const TcfString tc = Decode(
      "COw4XqLOw4XqLAAAAAENAXCAAAAAAAAAAAAAAAAAAAAA."
      "IFukWSQgAIQwgI0QEByFAAAAeIAACAIgSAAQAIAgEQACEABA"
      "AAgAQFAEAIAAAGBAAgAAAAQAIFAAMCQAAgAAQiRAEQAAAAANAAIAAggAIYQFAAARmggBC3ZCYzU2yIA."
      "QFukWSQgAIQwgI0"
      "QEByFAAAAeIAACAIgSAAQAIAgEQACEABAAAgAQFAEAIAAAGBAAgAAAAQAIFAAMCQAAgAAQiRAEQAAAAANAAIAAggAIYQ"
      "FAA"
      "ARmggBC3ZCYzU2yIA.YAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(tc.cmp_id, 0);
  EXPECT_EQ(tc.consent_language, "EN");
  EXPECT_EQ(tc.vendor_list_version, 23);
  EXPECT_EQ(tc.policy_version, 2);
  EXPECT_TRUE(tc.vendor_consents.empty());
  EXPECT_TRUE(tc.has_disclosed_vendors);
  EXPECT_TRUE(tc.has_allowed_vendors);
  EXPECT_FALSE(tc.disclosed_vendors.empty());
  EXPECT_EQ(tc.disclosed_vendors, tc.allowed_vendors);
  EXPECT_TRUE(tc.has_publisher_tc);
  EXPECT_EQ(tc.publisher_tc.num_custom_purposes, 0);
  EXPECT_TRUE(tc.publisher_tc.purpose_consents.empty());
}

TEST(TcfTest, JsonOfAConstructedString) {
  const Segments s = OptionalSegments();
  const std::string str =
      FullCore().Base64() + "." + s.disclosed.Base64() + "." + s.publisher_tc.Base64();
  // created 16000000000 ds = 1600000000000 ms; lastUpdated 17000000001 ds = 1700000000100 ms.
  EXPECT_EQ(
      tcf_to_json(Decode(str)),
      R"({"version":2,"cmpId":300,"cmpVersion":4095,"consentScreen":63,)"
      R"("consentLanguage":"FR","vendorListVersion":151,"policyVersion":5,)"
      R"("isServiceSpecific":true,"purposeConsents":[1,24],)"
      R"("purposeLegitimateInterests":[2,3],"specialFeatureOptins":[2,12],)"
      R"("vendorConsents":[2,9,10],"vendorLegitimateInterests":[5,10,11,12,)" +
          [] {
            std::string ids;
            for (int i = 600; i <= 700; ++i) ids += std::to_string(i) + (i < 700 ? "," : "");
            return ids;
          }() +
          R"(],"created":1600000000000,"lastUpdated":1700000000100,)"
          R"("useNonStandardTexts":false,"purposeOneTreatment":true,"publisherCC":"DE",)"
          R"("publisherRestrictions":[{"purposeId":2,"restrictionType":0,)"
          R"("vendors":[[1,3],[7,7]]},{"purposeId":7,"restrictionType":1,)"
          R"("vendors":[[100,100]]}],"disclosedVendors":[1,2,3,4,5,100,404],)"
          R"("allowedVendors":null,"publisherTC":{"purposeConsents":[1,2,23],)"
          R"("purposeLegitimateInterests":[24],"numCustomPurposes":5,)"
          R"("customPurposeConsents":[1,5],"customPurposeLegitimateInterests":[2]}})");
}

TEST(TcfTest, ToleratesBase64Padding) {
  const std::string core = FullCore().Base64();  // 471 bits: 79 characters, 79 % 4 == 3
  ASSERT_EQ(core.size(), 79u);
  BitWriter a;  // 3 + 16 + 1 + 14 = 34 bits: 6 characters, 6 % 4 == 2
  a.Put(2, 3);
  a.VendorBitfield("allowedVendors", "00000000000001");
  const std::string allowed = a.Base64();
  ASSERT_EQ(allowed.size(), 6u);
  const TcfString tc = Decode(core + "=." + allowed + "==");
  EXPECT_EQ(tc.allowed_vendors, (std::vector<int>{14}));
  EXPECT_EQ(tcf_to_json(tc), tcf_to_json(Decode(core + "." + allowed)));
  // '=' is only padding: at most two, only at the end, only up to a multiple of 4 characters.
  EXPECT_EQ(Error(core + "==." + allowed),
            "tcf: segment 1: bad base64url padding '=' at offset 79");
  EXPECT_EQ(Error(core + "." + allowed + "="),
            "tcf: segment 2: bad base64url padding '=' at offset 86");
  EXPECT_EQ(Error(core + "." + allowed + "==="),
            "tcf: segment 2: bad base64url padding '=' at offset 86");
  EXPECT_EQ(Error("C=AA"), "tcf: invalid base64url character '=' at offset 1");
  EXPECT_EQ(Error("CAAAA==="), "tcf: segment 1: bad base64url padding '=' at offset 5");
  EXPECT_EQ(Error("===="), "tcf: segment 1: bad base64url padding '=' at offset 0");
}

TEST(TcfTest, ErrorsOnEmptyInputAndBadCharacters) {
  EXPECT_EQ(Error(""), "tcf: empty TC string");
  EXPECT_EQ(Error("CP%A"), "tcf: invalid base64url character '%' at offset 2");
  EXPECT_EQ(Error("CPA+"), "tcf: invalid base64url character '+' at offset 3");  // not base64url
  EXPECT_EQ(Error("CP/A"), "tcf: invalid base64url character '/' at offset 2");
  EXPECT_EQ(Error(" CPA"), "tcf: invalid base64url character ' ' at offset 0");
  EXPECT_EQ(Error(std::string("CP\0A", 4)),
            "tcf: invalid base64url character byte 0x00 at offset 2");
  EXPECT_EQ(Error("CP\xc3\xa9"), "tcf: invalid base64url character byte 0xc3 at offset 2");
  // The offset counts from the start of the whole string, across segments; characters are
  // checked before any field is decoded.
  EXPECT_EQ(Error("CPAA.IAA!"), "tcf: invalid base64url character '!' at offset 8");
  EXPECT_EQ(Error("CPAA..IAAA"), "tcf: segment 2 is empty (offset 5)");
  EXPECT_EQ(Error("CPAA."), "tcf: segment 2 is empty (offset 5)");
  EXPECT_EQ(Error(".CPAA"), "tcf: segment 1 is empty (offset 0)");
}

TEST(TcfTest, ErrorsOnOtherVersions) {
  // IAB TCF v1.1 example consent string: 000001 = version 1.
  EXPECT_EQ(Error("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"),
            "tcf: version: expected 2, got 1 (TCF v1 strings are not supported)");
  EXPECT_EQ(Error("DAAA"), "tcf: version: expected 2, got 3");  // D = 000011
  EXPECT_EQ(Error("AAAA"), "tcf: version: expected 2, got 0");
  // A string that starts with an optional segment: I = 001000, version 8.
  EXPECT_EQ(Error("IDKQA4AAgAKAGQAygAAA"), "tcf: version: expected 2, got 8");
}

// Every cut of a full string at a multiple of 6 bits must report the first field that no longer
// fits, where it would end, and the segment's size.
void ExpectEveryTruncation(const BitWriter& w, const std::string& prefix,
                           const std::string& segment) {
  size_t checked = 0;
  for (size_t cut = 6; cut < w.size(); cut += 6) {
    const BitWriter::Field* first = nullptr;
    for (const BitWriter::Field& f : w.fields()) {
      if (f.end > cut) {
        first = &f;
        break;
      }
    }
    ASSERT_NE(first, nullptr);
    const size_t end = cut == first->start ? first->end_if_cut_at_start : first->end;
    EXPECT_EQ(Error(prefix + w.Base64(cut)), "tcf: " + first->name + " ends at bit " +
                                                 std::to_string(end) + " past the end of the " +
                                                 segment + " (" + std::to_string(cut) + " bits)")
        << "cut at bit " << cut;
    ++checked;
  }
  EXPECT_GE(checked, w.size() / 6 - 1);
}

TEST(TcfTest, EveryTruncationOfTheCoreNamesTheField) {
  const BitWriter w = FullCore();
  ASSERT_EQ(w.size(), 213u + (16 + 1 + 10) + (16 + 1 + 12 + 17 + 33 + 33) +
                          (12 + (6 + 2 + 12 + 33 + 17) + (6 + 2 + 12 + 17)));
  ExpectEveryTruncation(w, "", "core segment");
  // And the full string decodes.
  EXPECT_TRUE(decode_tcf(w.Base64()).ok());
}

TEST(TcfTest, EveryTruncationOfOptionalSegmentsNamesTheField) {
  const std::string core = FullCore().Base64() + ".";
  const Segments s = OptionalSegments();
  ExpectEveryTruncation(s.publisher_tc, core, "publisherTC segment");
  ExpectEveryTruncation(s.disclosed, core, "disclosedVendors segment");
  ExpectEveryTruncation(s.allowed, core, "allowedVendors segment");
}

TEST(TcfTest, TruncatedRangeEntryMessage) {
  // Fields before the vendor consents take 213 bits; MaxVendorId, IsRangeEncoding and NumEntries
  // end at 242; entries: single (17 bits, to 259), single (to 276), then a range that needs 33
  // bits, to 309. Cut at 282 bits (47 characters).
  BitWriter w;
  WriteHeader(w, CoreHeader{});
  w.VendorRanges("vendorConsents", 900, {{1, 1}, {2, 2}, {10, 900}});
  EXPECT_EQ(Error(w.Base64(282)),
            "tcf: vendorConsents: range entry 3 ends at bit 309 past the end of the core segment "
            "(282 bits)");
  // Cut exactly where the third entry starts (276 = 46 characters): only its minimum size
  // (IsARange + one id = 17 bits) is known.
  EXPECT_EQ(Error(w.Base64(276)),
            "tcf: vendorConsents: range entry 3 ends at bit 293 past the end of the core segment "
            "(276 bits)");
}

TEST(TcfTest, ErrorsOnBadRanges) {
  auto core_with = [](int max_id, const Ranges& ranges) {
    BitWriter w;
    WriteHeader(w, CoreHeader{});
    w.VendorRanges("vendorConsents", max_id, ranges);
    w.VendorBitfield("vendorLegitimateInterests", "");
    w.Put(0, 12);
    return w.Base64();
  };
  EXPECT_EQ(Error(core_with(100, {{1, 1}, {50, 40}})),
            "tcf: vendorConsents: range entry 2: end vendor id 40 is less than start vendor id 50");
  EXPECT_EQ(Error(core_with(100, {{101, 101}})),
            "tcf: vendorConsents: range entry 1: vendor id 101 is greater than maxVendorId 100");
  EXPECT_EQ(Error(core_with(100, {{5, 7}, {90, 101}})),
            "tcf: vendorConsents: range entry 2: vendor id 101 is greater than maxVendorId 100");
  EXPECT_EQ(Error(core_with(0, {{1, 1}})),
            "tcf: vendorConsents: range entry 1: vendor id 1 is greater than maxVendorId 0");
  EXPECT_EQ(Error(core_with(100, {{0, 0}})),
            "tcf: vendorConsents: range entry 1: vendor id 0 is not valid (vendor ids start at 1)");
  EXPECT_EQ(Error(core_with(100, {{0, 5}})),
            "tcf: vendorConsents: range entry 1: vendor id 0 is not valid (vendor ids start at 1)");
  EXPECT_TRUE(decode_tcf(core_with(100, {{100, 100}, {1, 100}})).ok());

  // The same checks in the vendor LI section, a disclosed segment and a publisher restriction.
  BitWriter w;
  WriteHeader(w, CoreHeader{});
  w.VendorBitfield("vendorConsents", "");
  w.VendorRanges("vendorLegitimateInterests", 10, {{3, 11}});
  EXPECT_EQ(Error(w.Base64()),
            "tcf: vendorLegitimateInterests: range entry 1: vendor id 11 is greater than "
            "maxVendorId 10");
  BitWriter d;
  d.Put(1, 3);
  d.VendorRanges("disclosedVendors", 10, {{2, 1}});
  EXPECT_EQ(Error(FullCore().Base64() + "." + d.Base64()),
            "tcf: disclosedVendors: range entry 1: end vendor id 1 is less than start vendor id 2");
  BitWriter r;
  WriteHeader(r, CoreHeader{});
  r.VendorBitfield("vendorConsents", "");
  r.VendorBitfield("vendorLegitimateInterests", "");
  r.Put(2, 12);
  r.Put(1, 6);
  r.Put(0, 2);
  r.Entries("", {{65535, 65535}});  // no MaxVendorId bound in restrictions
  r.Put(1, 6);
  r.Put(0, 2);
  r.Entries("", {{9, 8}});
  EXPECT_EQ(
      Error(r.Base64()),
      "tcf: publisherRestrictions: restriction 2: range entry 1: end vendor id 8 is less than "
      "start vendor id 9");
}

TEST(TcfTest, ErrorsOnBadRestrictionHeadersAndLetters) {
  auto restriction = [](int purpose, int type) {
    BitWriter w;
    WriteHeader(w, CoreHeader{});
    w.VendorBitfield("vendorConsents", "");
    w.VendorBitfield("vendorLegitimateInterests", "");
    w.Put(1, 12);
    w.Put(static_cast<uint64_t>(purpose), 6);
    w.Put(static_cast<uint64_t>(type), 2);
    w.Entries("", {{1, 1}});
    return w.Base64();
  };
  EXPECT_EQ(
      Error(restriction(0, 0)),
      "tcf: publisherRestrictions: restriction 1: purposeId 0 is not valid (purpose ids start "
      "at 1)");
  EXPECT_EQ(Error(restriction(4, 3)),
            "tcf: publisherRestrictions: restriction 1: restrictionType 3 is undefined");
  EXPECT_TRUE(decode_tcf(restriction(63, 2)).ok());

  // Header fields up to ConsentLanguage, whose second letter is 26.
  BitWriter w;
  w.Put(2, 6);
  w.Put(0, 36);
  w.Put(0, 36);
  w.Put(0, 12);
  w.Put(0, 12);
  w.Put(0, 6);
  w.Put(4 << 6 | 26, 12);  // "E" then 26
  EXPECT_EQ(Error(w.Base64()),
            "tcf: consentLanguage: letter 2 has value 26, not a letter (0-25 = A-Z)");
  // Header fields up to PurposeOneTreatment (201 bits), then PublisherCC 111111 000000.
  BitWriter x;
  CoreHeader hx;
  x.Put(2, 6);
  x.Put(static_cast<uint64_t>(hx.created), 36);
  x.Put(static_cast<uint64_t>(hx.last_updated), 36);
  x.Put(1, 12);
  x.Put(1, 12);
  x.Put(1, 6);
  x.Letters("EN", "");
  x.Put(1, 12);
  x.Put(1, 6);
  x.Put(0, 2);
  x.Bits(std::string(12 + 24 + 24, '0'));
  x.Put(0, 1);
  x.Put(63 << 6, 12);
  EXPECT_EQ(Error(x.Base64()),
            "tcf: publisherCC: letter 1 has value 63, not a letter (0-25 = A-Z)");
}

TEST(TcfTest, ErrorsOnSegmentTypes) {
  const std::string core = FullCore().Base64();
  const Segments s = OptionalSegments();
  const std::string d = s.disclosed.Base64();
  EXPECT_EQ(Error(core + "." + d + "." + d), "tcf: segment 3: duplicate disclosedVendors segment");
  EXPECT_EQ(Error(core + "." + s.allowed.Base64() + "." + s.allowed.Base64()),
            "tcf: segment 3: duplicate allowedVendors segment");
  EXPECT_EQ(Error(core + "." + s.publisher_tc.Base64() + "." + s.publisher_tc.Base64()),
            "tcf: segment 3: duplicate publisherTC segment");
  EXPECT_EQ(Error(core + "." + core),
            "tcf: segment 2: segment type 0 (core) is only allowed as the first segment");
  // First characters 'g' (100000), 'o' (101000), 'w' (110000), '4' (111000): types 4 to 7.
  EXPECT_EQ(Error(core + ".gAAA"), "tcf: segment 2: unknown segment type 4");
  EXPECT_EQ(Error(core + ".oAAA"), "tcf: segment 2: unknown segment type 5");
  EXPECT_EQ(Error(core + ".wAAA"), "tcf: segment 2: unknown segment type 6");
  EXPECT_EQ(Error(core + "." + d + ".4AAA"), "tcf: segment 3: unknown segment type 7");
}

TEST(TcfTest, LengthCap) {
  const std::string big(kTcfMaxStringLength + 1, 'A');
  Result<TcfString> r = decode_tcf(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kLimitExceeded);
  EXPECT_EQ(r.status().message(),
            "tcf: TC string is 1048577 characters long, more than the limit "
            "of 1048576");
}

// Hostile but valid input: 4095 range entries that each cover every vendor id, in both vendor
// sections, and 4095 restrictions with 20 full-range entries each. The decoder merges ranges
// before expanding, so this stays fast and small.
TEST(TcfTest, OverlappingFullRangesStayCheap) {
  BitWriter w;
  WriteHeader(w, CoreHeader{});
  for (int section = 0; section < 2; ++section) {
    w.Put(65535, 16);
    w.Put(1, 1);
    w.Put(4095, 12);
    for (int i = 0; i < 4095; ++i) {
      w.Put(1, 1);
      w.Put(1, 16);
      w.Put(65535, 16);
    }
  }
  w.Put(4095, 12);
  for (int i = 0; i < 4095; ++i) {
    w.Put(static_cast<uint64_t>(1 + i % 63), 6);
    w.Put(static_cast<uint64_t>(i / 63 % 3), 2);  // every (purpose, type) pair
    w.Put(20, 12);
    for (int k = 0; k < 20; ++k) {
      w.Put(1, 1);
      w.Put(1, 16);
      w.Put(65535, 16);
    }
  }
  const std::string s = w.Base64();
  ASSERT_LE(s.size(), kTcfMaxStringLength);
  const TcfString tc = Decode(s);
  EXPECT_EQ(tc.vendor_consents, Range(1, 65535));
  EXPECT_EQ(tc.vendor_legitimate_interests, Range(1, 65535));
  ASSERT_EQ(tc.publisher_restrictions.size(), 63u * 3u);  // merged per (purpose, type)
  for (const TcfPublisherRestriction& r : tc.publisher_restrictions) {
    EXPECT_EQ(ToPairs(r.vendors), (Ranges{{1, 65535}}));
  }
}

// Random truncations, bit flips, deletions and insertions of valid strings: always a decode or an
// error starting with "tcf: " (run under -fsanitize=address,undefined to catch the rest).
TEST(TcfTest, MutationsNeverCrash) {
  const Segments s = OptionalSegments();
  const std::string seeds[] = {
      FullCore().Base64() + "." + s.disclosed.Base64() + "." + s.allowed.Base64() + "." +
          s.publisher_tc.Base64(),
      "CQSbk4AQSbk4ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA.IDKQA4AAgAKAGQAygAAA",
      "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA."
      "argAC0gAAAAAAAAAAAA",
  };
  uint32_t state = 12345;
  auto next = [&state](uint32_t n) {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % n;
  };
  int decoded = 0;
  int errors = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string m = seeds[next(3)];
    const int edits = 1 + static_cast<int>(next(3));
    for (int e = 0; e < edits && !m.empty(); ++e) {
      const size_t pos = next(static_cast<uint32_t>(m.size()));
      switch (next(5)) {
        case 0:
          m.resize(pos);
          break;
        case 1: {
          const char* p = std::char_traits<char>::find(kB64, 64, m[pos]);
          if (p != nullptr) m[pos] = kB64[(p - kB64) ^ (1 << next(6))];
          break;
        }
        case 2:
          m.erase(pos, 1);
          break;
        case 3:
          m.insert(pos, 1, "A_.=%\x80"[next(6)]);
          break;
        default:
          m[pos] = kB64[next(64)];
          break;
      }
    }
    Result<TcfString> r = decode_tcf(m);
    if (r.ok()) {
      ++decoded;
      EXPECT_EQ(tcf_to_json(r.value()).front(), '{');
    } else {
      ++errors;
      EXPECT_EQ(r.status().message().rfind("tcf: ", 0), 0u) << r.status().message();
    }
  }
  EXPECT_GT(decoded, 100);
  EXPECT_GT(errors, 100);
}

}  // namespace
}  // namespace pz
