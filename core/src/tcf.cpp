#include "pz/tcf.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pz/json.h"
#include "pz/sort.h"
#include "pz/value.h"

namespace pz {
namespace {

constexpr int kMaxVendorIdBits = 16;
constexpr int kNumEntriesBits = 12;

Status Invalid(std::string message) {
  return Status(Code::kInvalidArgument, "tcf: " + std::move(message));
}

std::string Num(uint64_t n) { return std::to_string(n); }

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// 'x' for printable ASCII, else "byte 0xNN".
std::string DescribeChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "byte 0x";
  s += kHex[u >> 4];
  s += kHex[u & 15];
  return s;
}

// One segment's characters (padding removed) and where they start in the whole string.
struct SegmentText {
  std::string_view chars;
  size_t offset = 0;
};

// Reads big-endian bit fields from one base64url segment; bit 0 is the top bit of the first
// character.
class BitReader {
 public:
  BitReader(std::string_view chars, const char* segment_name) : segment_name_(segment_name) {
    sextets_.reserve(chars.size());
    for (const char c : chars) sextets_.push_back(static_cast<uint8_t>(Base64UrlValue(c)));
  }

  size_t size() const { return sextets_.size() * 6; }
  size_t pos() const { return pos_; }
  size_t remaining() const { return size() - pos_; }
  bool BitAt(size_t i) const { return ((sextets_[i / 6] >> (5 - i % 6)) & 1) != 0; }

  // REQUIRES: remaining() >= n, n <= 64.
  uint64_t Take(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 1) | (BitAt(pos_++) ? 1 : 0);
    return v;
  }

  Status PastEnd(std::string_view what, size_t end_bit) const {
    return Invalid(std::string(what) + " ends at bit " + Num(end_bit) + " past the end of the " +
                   segment_name_ + " (" + Num(size()) + " bits)");
  }

  // Reads an n-bit unsigned field named `what`.
  Status Field(size_t n, std::string_view what, uint64_t& out) {
    if (remaining() < n) return PastEnd(what, pos_ + n);
    out = Take(n);
    return Status::Ok();
  }

  // Reads an n-bit field where bit i (from 0) set means id i + 1; appends the ids to `out`.
  Status IdBits(size_t n, std::string_view what, std::vector<int>& out) {
    if (remaining() < n) return PastEnd(what, pos_ + n);
    for (size_t i = 0; i < n; ++i) {
      if (BitAt(pos_ + i)) out.push_back(static_cast<int>(i + 1));
    }
    pos_ += n;
    return Status::Ok();
  }

 private:
  std::vector<uint8_t> sextets_;
  size_t pos_ = 0;
  const char* segment_name_;
};

// Reads one range entry, IsARange(1) StartOrOnlyVendorId(16) [EndVendorId(16)]. `max_id` < 0 means
// no MaxVendorId bound (publisher restrictions). `what` is the path of the list, e.g.
// "vendorConsents"; `index` counts from 1.
Status RangeEntry(BitReader& r, std::string_view what, uint64_t index, int64_t max_id,
                  TcfVendorRange& out) {
  auto name = [&] { return std::string(what) + ": range entry " + Num(index); };
  const size_t start = r.pos();
  if (r.remaining() < 1) return r.PastEnd(name(), start + 1 + kMaxVendorIdBits);
  const bool is_range = r.BitAt(start);
  const size_t len = is_range ? 1 + 2 * kMaxVendorIdBits : 1 + kMaxVendorIdBits;
  if (r.remaining() < len) return r.PastEnd(name(), start + len);
  r.Take(1);
  const auto first = static_cast<int64_t>(r.Take(kMaxVendorIdBits));
  const auto last = is_range ? static_cast<int64_t>(r.Take(kMaxVendorIdBits)) : first;
  if (first == 0) return Invalid(name() + ": vendor id 0 is not valid (vendor ids start at 1)");
  if (last < first) {
    return Invalid(name() + ": end vendor id " + Num(last) + " is less than start vendor id " +
                   Num(first));
  }
  if (max_id >= 0 && last > max_id) {
    return Invalid(name() + ": vendor id " + Num(last) + " is greater than maxVendorId " +
                   Num(max_id));
  }
  out.first = static_cast<int>(first);
  out.last = static_cast<int>(last);
  return Status::Ok();
}

// Sorts and merges overlapping or adjacent ranges in place.
void MergeRanges(std::vector<TcfVendorRange>& ranges) {
  if (ranges.empty()) return;
  pz::stable_sort(ranges.begin(), ranges.end(),
                  [](const TcfVendorRange& a, const TcfVendorRange& b) {
                    return a.first != b.first ? a.first < b.first : a.last < b.last;
                  });
  size_t out = 0;
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first <= ranges[out].last + 1) {
      ranges[out].last = std::max(ranges[out].last, ranges[i].last);
    } else {
      ranges[++out] = ranges[i];
    }
  }
  ranges.resize(out + 1);
}

// Range entries of one list: NumEntries(12) then the entries. Appends them to `ranges` (unmerged).
Status RangeSection(BitReader& r, std::string_view what, int64_t max_id,
                    std::vector<TcfVendorRange>& ranges) {
  uint64_t num_entries = 0;
  PZ_TRY(r.Field(kNumEntriesBits, std::string(what) + ": numEntries", num_entries));
  for (uint64_t k = 1; k <= num_entries; ++k) {
    TcfVendorRange range;
    PZ_TRY(RangeEntry(r, what, k, max_id, range));
    ranges.push_back(range);
  }
  return Status::Ok();
}

// A vendor section: MaxVendorId(16) IsRangeEncoding(1), then a bitfield or a range section.
Status VendorSection(BitReader& r, std::string_view what, std::vector<int>& ids) {
  const std::string name(what);
  uint64_t max_id = 0;
  PZ_TRY(r.Field(kMaxVendorIdBits, name + ": maxVendorId", max_id));
  uint64_t is_range = 0;
  PZ_TRY(r.Field(1, name + ": isRangeEncoding", is_range));
  if (is_range == 0) {
    return r.IdBits(max_id, name + ": bitfield (maxVendorId " + Num(max_id) + ")", ids);
  }
  std::vector<TcfVendorRange> ranges;
  PZ_TRY(RangeSection(r, what, static_cast<int64_t>(max_id), ranges));
  MergeRanges(ranges);  // disjoint and sorted: at most max_id ids in total
  for (const TcfVendorRange& range : ranges) {
    for (int id = range.first; id <= range.last; ++id) ids.push_back(id);
  }
  return Status::Ok();
}

// Two 6-bit letters, 0 = 'A'.
Status Letters(BitReader& r, std::string_view what, std::string& out) {
  uint64_t bits = 0;
  PZ_TRY(r.Field(12, what, bits));
  const uint64_t letters[2] = {bits >> 6, bits & 63};
  out.clear();
  for (int i = 0; i < 2; ++i) {
    if (letters[i] > 25) {
      return Invalid(std::string(what) + ": letter " + Num(i + 1) + " has value " +
                     Num(letters[i]) + ", not a letter (0-25 = A-Z)");
    }
    out += static_cast<char>('A' + letters[i]);
  }
  return Status::Ok();
}

Status PublisherRestrictions(BitReader& r, std::vector<TcfPublisherRestriction>& out) {
  uint64_t num = 0;
  PZ_TRY(r.Field(12, "publisherRestrictions: numPubRestrictions", num));
  // slot[purpose][type] = 1 + index in `out`, 0 when absent.
  int slot[64][3] = {};
  for (uint64_t k = 1; k <= num; ++k) {
    const std::string name = "publisherRestrictions: restriction " + Num(k);
    uint64_t purpose = 0;
    uint64_t type = 0;
    PZ_TRY(r.Field(6, name + ": purposeId", purpose));
    PZ_TRY(r.Field(2, name + ": restrictionType", type));
    if (purpose == 0) return Invalid(name + ": purposeId 0 is not valid (purpose ids start at 1)");
    if (type == 3) return Invalid(name + ": restrictionType 3 is undefined");
    int& s = slot[purpose][type];
    if (s == 0) {
      TcfPublisherRestriction restriction;
      restriction.purpose_id = static_cast<int>(purpose);
      restriction.restriction_type = static_cast<int>(type);
      out.push_back(std::move(restriction));
      s = static_cast<int>(out.size());
    }
    PZ_TRY(RangeSection(r, name, -1, out[static_cast<size_t>(s - 1)].vendors));
  }
  for (TcfPublisherRestriction& restriction : out) MergeRanges(restriction.vendors);
  pz::stable_sort(out.begin(), out.end(),
                  [](const TcfPublisherRestriction& a, const TcfPublisherRestriction& b) {
                    return a.purpose_id != b.purpose_id ? a.purpose_id < b.purpose_id
                                                        : a.restriction_type < b.restriction_type;
                  });
  return Status::Ok();
}

Status CoreSegment(std::string_view chars, TcfString& tc) {
  BitReader r(chars, "core segment");
  uint64_t v = 0;
  PZ_TRY(r.Field(6, "version", v));
  if (v != 2) {
    return Invalid("version: expected 2, got " + Num(v) +
                   (v == 1 ? " (TCF v1 strings are not supported)" : ""));
  }
  tc.version = 2;
  PZ_TRY(r.Field(36, "created", v));
  tc.created_ds = static_cast<int64_t>(v);
  PZ_TRY(r.Field(36, "lastUpdated", v));
  tc.last_updated_ds = static_cast<int64_t>(v);
  PZ_TRY(r.Field(12, "cmpId", v));
  tc.cmp_id = static_cast<int>(v);
  PZ_TRY(r.Field(12, "cmpVersion", v));
  tc.cmp_version = static_cast<int>(v);
  PZ_TRY(r.Field(6, "consentScreen", v));
  tc.consent_screen = static_cast<int>(v);
  PZ_TRY(Letters(r, "consentLanguage", tc.consent_language));
  PZ_TRY(r.Field(12, "vendorListVersion", v));
  tc.vendor_list_version = static_cast<int>(v);
  PZ_TRY(r.Field(6, "policyVersion", v));
  tc.policy_version = static_cast<int>(v);
  PZ_TRY(r.Field(1, "isServiceSpecific", v));
  tc.is_service_specific = v != 0;
  PZ_TRY(r.Field(1, "useNonStandardTexts", v));
  tc.use_non_standard_texts = v != 0;
  PZ_TRY(r.IdBits(12, "specialFeatureOptins", tc.special_feature_optins));
  PZ_TRY(r.IdBits(24, "purposeConsents", tc.purpose_consents));
  PZ_TRY(r.IdBits(24, "purposeLegitimateInterests", tc.purpose_legitimate_interests));
  PZ_TRY(r.Field(1, "purposeOneTreatment", v));
  tc.purpose_one_treatment = v != 0;
  PZ_TRY(Letters(r, "publisherCC", tc.publisher_cc));
  PZ_TRY(VendorSection(r, "vendorConsents", tc.vendor_consents));
  PZ_TRY(VendorSection(r, "vendorLegitimateInterests", tc.vendor_legitimate_interests));
  return PublisherRestrictions(r, tc.publisher_restrictions);
}

Status PublisherTcSegment(BitReader& r, TcfPublisherTc& out) {
  PZ_TRY(r.IdBits(24, "publisherTC: purposeConsents", out.purpose_consents));
  PZ_TRY(r.IdBits(24, "publisherTC: purposeLegitimateInterests", out.purpose_legitimate_interests));
  uint64_t n = 0;
  PZ_TRY(r.Field(6, "publisherTC: numCustomPurposes", n));
  out.num_custom_purposes = static_cast<int>(n);
  PZ_TRY(r.IdBits(n, "publisherTC: customPurposeConsents", out.custom_purpose_consents));
  return r.IdBits(n, "publisherTC: customPurposeLegitimateInterests",
                  out.custom_purpose_legitimate_interests);
}

// Splits into segments and checks every character (and the padding) before decoding anything.
Status SplitSegments(std::string_view s, std::vector<SegmentText>& out) {
  size_t begin = 0;
  while (true) {
    size_t end = s.find('.', begin);
    if (end == std::string_view::npos) end = s.size();
    const size_t index = out.size() + 1;
    size_t data_end = end;
    while (data_end > begin && s[data_end - 1] == '=') --data_end;
    for (size_t i = begin; i < data_end; ++i) {
      if (Base64UrlValue(s[i]) < 0) {
        return Invalid("invalid base64url character " + DescribeChar(s[i]) + " at offset " +
                       Num(i));
      }
    }
    if (end == begin)
      return Invalid("segment " + Num(index) + " is empty (offset " + Num(begin) + ")");
    const size_t pad = end - data_end;
    if (pad > 0 && (pad > 2 || data_end == begin || (end - begin) % 4 != 0)) {
      return Invalid("segment " + Num(index) + ": bad base64url padding '=' at offset " +
                     Num(data_end));
    }
    out.push_back(SegmentText{s.substr(begin, data_end - begin), begin});
    if (end == s.size()) return Status::Ok();
    begin = end + 1;
  }
}

Value IdArray(const std::vector<int>& ids) {
  Array items;
  items.reserve(ids.size());
  for (const int id : ids) items.push_back(Value::Number(id));
  return Value::MakeArray(std::move(items));
}

}  // namespace

Result<TcfString> decode_tcf(std::string_view tc_string) {
  if (tc_string.empty()) return Invalid("empty TC string");
  if (tc_string.size() > kTcfMaxStringLength) {
    return Status(Code::kLimitExceeded, "tcf: TC string is " + Num(tc_string.size()) +
                                            " characters long, more than the limit of " +
                                            Num(kTcfMaxStringLength));
  }
  std::vector<SegmentText> segments;
  PZ_TRY(SplitSegments(tc_string, segments));
  TcfString tc;
  PZ_TRY(CoreSegment(segments[0].chars, tc));
  for (size_t i = 1; i < segments.size(); ++i) {
    const std::string name = "segment " + Num(i + 1);
    const int type = Base64UrlValue(segments[i].chars[0]) >> 3;
    switch (type) {
      case 1: {
        if (tc.has_disclosed_vendors) return Invalid(name + ": duplicate disclosedVendors segment");
        tc.has_disclosed_vendors = true;
        BitReader r(segments[i].chars, "disclosedVendors segment");
        r.Take(3);
        PZ_TRY(VendorSection(r, "disclosedVendors", tc.disclosed_vendors));
        break;
      }
      case 2: {
        if (tc.has_allowed_vendors) return Invalid(name + ": duplicate allowedVendors segment");
        tc.has_allowed_vendors = true;
        BitReader r(segments[i].chars, "allowedVendors segment");
        r.Take(3);
        PZ_TRY(VendorSection(r, "allowedVendors", tc.allowed_vendors));
        break;
      }
      case 3: {
        if (tc.has_publisher_tc) return Invalid(name + ": duplicate publisherTC segment");
        tc.has_publisher_tc = true;
        BitReader r(segments[i].chars, "publisherTC segment");
        r.Take(3);
        PZ_TRY(PublisherTcSegment(r, tc.publisher_tc));
        break;
      }
      case 0:
        return Invalid(name + ": segment type 0 (core) is only allowed as the first segment");
      default:
        return Invalid(name + ": unknown segment type " + Num(static_cast<uint64_t>(type)));
    }
  }
  return tc;
}

std::string tcf_to_json(const TcfString& tc) {
  std::vector<Member> m;
  m.reserve(24);
  m.emplace_back("version", Value::Number(tc.version));
  m.emplace_back("cmpId", Value::Number(tc.cmp_id));
  m.emplace_back("cmpVersion", Value::Number(tc.cmp_version));
  m.emplace_back("consentScreen", Value::Number(tc.consent_screen));
  m.emplace_back("consentLanguage", Value::String(tc.consent_language));
  m.emplace_back("vendorListVersion", Value::Number(tc.vendor_list_version));
  m.emplace_back("policyVersion", Value::Number(tc.policy_version));
  m.emplace_back("isServiceSpecific", Value::Bool(tc.is_service_specific));
  m.emplace_back("purposeConsents", IdArray(tc.purpose_consents));
  m.emplace_back("purposeLegitimateInterests", IdArray(tc.purpose_legitimate_interests));
  m.emplace_back("specialFeatureOptins", IdArray(tc.special_feature_optins));
  m.emplace_back("vendorConsents", IdArray(tc.vendor_consents));
  m.emplace_back("vendorLegitimateInterests", IdArray(tc.vendor_legitimate_interests));
  m.emplace_back("created", Value::Number(static_cast<double>(tc.created_ds) * 100.0));
  m.emplace_back("lastUpdated", Value::Number(static_cast<double>(tc.last_updated_ds) * 100.0));
  m.emplace_back("useNonStandardTexts", Value::Bool(tc.use_non_standard_texts));
  m.emplace_back("purposeOneTreatment", Value::Bool(tc.purpose_one_treatment));
  m.emplace_back("publisherCC", Value::String(tc.publisher_cc));
  Array restrictions;
  restrictions.reserve(tc.publisher_restrictions.size());
  for (const TcfPublisherRestriction& pr : tc.publisher_restrictions) {
    Array ranges;
    ranges.reserve(pr.vendors.size());
    for (const TcfVendorRange& range : pr.vendors) {
      ranges.push_back(Value::MakeArray({Value::Number(range.first), Value::Number(range.last)}));
    }
    restrictions.push_back(Value::MakeObject({
        {"purposeId", Value::Number(pr.purpose_id)},
        {"restrictionType", Value::Number(pr.restriction_type)},
        {"vendors", Value::MakeArray(std::move(ranges))},
    }));
  }
  m.emplace_back("publisherRestrictions", Value::MakeArray(std::move(restrictions)));
  m.emplace_back("disclosedVendors",
                 tc.has_disclosed_vendors ? IdArray(tc.disclosed_vendors) : Value::Null());
  m.emplace_back("allowedVendors",
                 tc.has_allowed_vendors ? IdArray(tc.allowed_vendors) : Value::Null());
  if (tc.has_publisher_tc) {
    const TcfPublisherTc& p = tc.publisher_tc;
    m.emplace_back(
        "publisherTC",
        Value::MakeObject({
            {"purposeConsents", IdArray(p.purpose_consents)},
            {"purposeLegitimateInterests", IdArray(p.purpose_legitimate_interests)},
            {"numCustomPurposes", Value::Number(p.num_custom_purposes)},
            {"customPurposeConsents", IdArray(p.custom_purpose_consents)},
            {"customPurposeLegitimateInterests", IdArray(p.custom_purpose_legitimate_interests)},
        }));
  } else {
    m.emplace_back("publisherTC", Value::Null());
  }
  std::string out;
  append_json(out, Value::MakeObject(std::move(m)));
  return out;
}

}  // namespace pz
