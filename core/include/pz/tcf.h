// IAB Europe Transparency & Consent Framework (TCF) v2.2 TC string decoder.
//
// Layout (IAB Tech Lab "Consent string and vendor list formats v2"): segments joined by '.', each
// base64url (RFC 4648 §5) of a big-endian, left-to-right bit string.
//   * Core segment, always first: Version(6)=2 Created(36) LastUpdated(36) CmpId(12) CmpVersion(12)
//     ConsentScreen(6) ConsentLanguage(12) VendorListVersion(12) TcfPolicyVersion(6)
//     IsServiceSpecific(1) UseNonStandardTexts(1) SpecialFeatureOptIns(12) PurposesConsent(24)
//     PurposesLITransparency(24) PurposeOneTreatment(1) PublisherCC(12), then the vendor consent
//     section, the vendor legitimate interest section and the publisher restrictions section.
//     Created/LastUpdated are epoch deciseconds; the two-letter codes are two 6-bit letters, A=0.
//   * A vendor section: MaxVendorId(16) IsRangeEncoding(1), then either a bitfield of MaxVendorId
//     bits (vendor 1 first) or NumEntries(12) range entries IsARange(1) StartOrOnlyVendorId(16)
//     [EndVendorId(16) when IsARange].
//   * Publisher restrictions: NumPubRestrictions(12), each PurposeId(6) RestrictionType(2)
//     NumEntries(12) and that many range entries (as above, without a MaxVendorId).
//   * Optional segments, in any order after the core, each starting with SegmentType(3):
//     1 DisclosedVendors and 2 AllowedVendors (a vendor section each), 3 PublisherTC
//     (PubPurposesConsent(24) PubPurposesLITransparency(24) NumCustomPurposes(6)
//     CustomPurposesConsent(N) CustomPurposesLITransparency(N)).
//
// Strictness (every error is kInvalidArgument with a message starting "tcf: ", except the length
// cap below):
//   * Base64url without padding; trailing '=' padding is tolerated (at most 2, and only when it
//     makes the segment a multiple of 4 characters). A segment of n characters holds exactly 6n
//     bits; bits after the last field of a segment are padding and ignored. Any other character
//     is an error naming it and its 0-based character offset in the whole string:
//       tcf: invalid base64url character '%' at offset 17
//     An empty string or an empty segment ("a..b", a trailing '.') is an error.
//   * Version must be 2: `tcf: version: expected 2, got 1 (TCF v1 strings are not supported)`.
//   * A field that does not fit is an error naming the field and the bit where it would end
//     (exclusive, counted from the start of its segment), and the segment's size:
// tcf: cmpId ends at bit 90 past the end of the core segment (84 bits)
// tcf: vendorConsents: range entry 3 ends at bit 309 past the end of the core segment (282 bits)
//     A range entry is 17 bits, or 33 when its IsARange bit is 1; when the segment ends right
//     before an entry, its end is reported as start + 17. Field paths: "version", "created", ...,
//     "publisherCC" (the JSON names below; "useNonStandardTexts" for the 1-bit flag), then
//     vendorConsents|vendorLegitimateInterests|disclosedVendors|allowedVendors followed by
//     ": maxVendorId" / ": isRangeEncoding" / ": bitfield (maxVendorId N)" / ": numEntries" /
//     ": range entry K" (K counts from 1); "publisherRestrictions: numPubRestrictions",
//     "publisherRestrictions: restriction K: purposeId|restrictionType|numEntries|range entry J";
//     "publisherTC: purposeConsents|purposeLegitimateInterests|numCustomPurposes|
//     customPurposeConsents|customPurposeLegitimateInterests". Segment names: "core segment",
//     "disclosedVendors segment", "allowedVendors segment", "publisherTC segment".
//   * Range entries: vendor id 0, EndVendorId < StartOrOnlyVendorId, and (in vendor sections) an
//     id greater than the section's MaxVendorId are errors. Overlapping or unordered entries are
//     accepted (the union is taken).
//   * Letters of consentLanguage / publisherCC must be 0..25; publisher restriction purposeId
//     must be >= 1 and restrictionType 0..2 (3 is "undefined" in the specification).
//   * The core segment must come first; optional segments must have SegmentType 1..3, each at
//     most once.
//
// Caps (hostile input): the TC string may be at most kTcfMaxStringLength characters
// (kLimitExceeded otherwise). Ids are 16-bit, so each decoded vendor list has at most 65535
// entries; range entries are sorted and merged before expansion, so the work is
// O(entries log entries + 65535) per vendor section whatever the overlap. Publisher restrictions
// are kept as merged ranges (never expanded), so memory stays linear in the input length.
//
// Implemented in core/src/tcf.cpp (needs pz/json.h's serializer for tcf_to_json).
#ifndef PZ_TCF_H_
#define PZ_TCF_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pz/status.h"

namespace pz {

inline constexpr size_t kTcfMaxStringLength = size_t{1} << 20;  // characters

// An inclusive range of vendor ids, 1 <= first <= last <= 65535.
struct TcfVendorRange {
  int first = 0;
  int last = 0;
};

// One publisher restriction. Entries of the string with the same (purpose_id, restriction_type)
// are merged into one; `vendors` is sorted, with overlapping and adjacent ranges merged (it may
// be empty when the string lists the restriction with NumEntries 0).
struct TcfPublisherRestriction {
  int purpose_id = 0;        // 1..63
  int restriction_type = 0;  // 0 not allowed, 1 require consent, 2 require legitimate interest
  std::vector<TcfVendorRange> vendors;
};

// The PublisherTC segment (SegmentType 3).
struct TcfPublisherTc {
  std::vector<int> purpose_consents;              // purpose ids 1..24
  std::vector<int> purpose_legitimate_interests;  // purpose ids 1..24
  int num_custom_purposes = 0;                    // 0..63
  std::vector<int> custom_purpose_consents;       // custom purpose ids 1..num_custom_purposes
  std::vector<int> custom_purpose_legitimate_interests;
};

// A decoded TC string. Every id list is sorted ascending without duplicates.
struct TcfString {
  int version = 0;
  int64_t created_ds = 0;  // epoch deciseconds
  int64_t last_updated_ds = 0;
  int cmp_id = 0;
  int cmp_version = 0;
  int consent_screen = 0;
  std::string consent_language;  // two upper-case letters, e.g. "EN"
  int vendor_list_version = 0;
  int policy_version = 0;
  bool is_service_specific = false;
  bool use_non_standard_texts = false;  // "UseNonStandardStacks" before TCF v2.2
  bool purpose_one_treatment = false;
  std::string publisher_cc;                       // two upper-case letters
  std::vector<int> special_feature_optins;        // 1..12
  std::vector<int> purpose_consents;              // 1..24
  std::vector<int> purpose_legitimate_interests;  // 1..24
  std::vector<int> vendor_consents;
  std::vector<int> vendor_legitimate_interests;
  // Sorted by purpose_id, then restriction_type.
  std::vector<TcfPublisherRestriction> publisher_restrictions;
  bool has_disclosed_vendors = false;  // a DisclosedVendors segment was present
  std::vector<int> disclosed_vendors;
  bool has_allowed_vendors = false;  // an AllowedVendors segment was present
  std::vector<int> allowed_vendors;
  bool has_publisher_tc = false;  // a PublisherTC segment was present
  TcfPublisherTc publisher_tc;
};

// Decodes a TC string (rules above).
Result<TcfString> decode_tcf(std::string_view tc_string);

// The JSON that `pz tcf STRING` prints (no newline), keys in this order:
//   "version", "cmpId", "cmpVersion", "consentScreen", "consentLanguage", "vendorListVersion",
//   "policyVersion", "isServiceSpecific", "purposeConsents", "purposeLegitimateInterests",
//   "specialFeatureOptins", "vendorConsents", "vendorLegitimateInterests"  (ids as sorted arrays)
// followed by
//   "created", "lastUpdated"       epoch milliseconds (deciseconds * 100), as JavaScript's
//                                  Date.getTime() of @iabtcf/core's decoded dates
//   "useNonStandardTexts", "purposeOneTreatment"  booleans
//   "publisherCC"                  two letters
//   "publisherRestrictions"        [{"purposeId":2,"restrictionType":0,"vendors":[[1,5],[9,9]]}]
//                                  (inclusive ranges, as in TcfPublisherRestriction)
//   "disclosedVendors", "allowedVendors"  id arrays, or null when the segment is absent
//   "publisherTC"                  null when absent, else {"purposeConsents":[…],
//                                  "purposeLegitimateInterests":[…],"numCustomPurposes":n,
//                                  "customPurposeConsents":[…],
//                                  "customPurposeLegitimateInterests":[…]}
std::string tcf_to_json(const TcfString& tc);

}  // namespace pz

#endif  // PZ_TCF_H_
