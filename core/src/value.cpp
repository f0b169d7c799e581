#include "pz/value.h"

#include <algorithm>

#include "pz/sort.h"
#include "pz/text.h"

namespace pz {
namespace {

// Recently freed heap blocks of each kind, kept per thread for the next Value of that kind: an
// event parsed and the previous one freed per ingest cost as much in malloc/free as in the rest
// of the parse. Bounded (kSlots blocks a kind). The slots and the `dead` flag are trivially
// destructible, so they stay usable while a thread's other thread_locals and (on the main
// thread) the static objects are destroyed; the drainer gives the blocks back first, and from
// then on blocks go straight to operator delete.
constexpr int kSlots = 64;
constexpr int kKinds = 3;  // string, array, object
struct Slots {
  void* block[kKinds][kSlots];
  int count[kKinds];
};
thread_local Slots t_slots;  // zero-initialized
thread_local bool t_dead = false;
struct Drainer {
  bool armed = false;
  ~Drainer() {
    for (int k = 0; k < kKinds; ++k) {
      while (t_slots.count[k] > 0) ::operator delete(t_slots.block[k][--t_slots.count[k]]);
    }
    t_dead = true;
  }
};
thread_local Drainer t_drainer;

void* take_block(int kind, size_t size) {
  int& n = t_slots.count[kind];
  return n > 0 ? t_slots.block[kind][--n] : ::operator new(size);
}
void give_block(int kind, void* p) {
  int& n = t_slots.count[kind];
  if (t_dead || n == kSlots) {
    ::operator delete(p);
    return;
  }
  if (!t_drainer.armed) t_drainer.armed = true;  // constructs it: its destructor is registered
  t_slots.block[kind][n++] = p;
}

// Blocks of one kind have one size, so a kept block fits the next Value of its kind.
template <int Kind>
struct Pooled {
  static void* operator new(size_t size) { return take_block(Kind, size); }
  static void operator delete(void* p) { give_block(Kind, p); }
};

struct StringHeap : detail::Heap, Pooled<0> {
  std::string text;
};
struct ArrayHeap : detail::Heap, Pooled<1> {
  Array items;
};
struct ObjectHeap : detail::Heap, Pooled<2> {
  std::vector<Member> members;
};

}  // namespace

Value Value::String(std::string s) {
  Value v;
  auto* heap = new StringHeap();
  heap->text = std::move(s);
  v.kind_ = Kind::kString;
  v.u_.heap = heap;
  return v;
}

Value Value::MakeArray(Array items) {
  Value v;
  auto* heap = new ArrayHeap();
  heap->items = std::move(items);
  v.kind_ = Kind::kArray;
  v.u_.heap = heap;
  return v;
}

Value Value::MakeObject(std::vector<Member> members) {
  auto* heap = new ObjectHeap();
  // The common case, no repeated key and no array-index key: the members as they are.
  bool plain = true;
  for (size_t i = 0; plain && i < members.size(); ++i) {
    uint32_t index;
    const std::string& key = members[i].first;
    if (!key.empty() && key[0] >= '0' && key[0] <= '9' && parse_array_index(key, index)) {
      plain = false;
    }
    for (size_t j = 0; plain && j < i; ++j) plain = members[j].first != members[i].first;
  }
  if (plain) {
    heap->members = std::move(members);
    Value v;
    v.kind_ = Kind::kObject;
    v.u_.heap = heap;
    return v;
  }
  std::vector<Member>& out = heap->members;
  out.reserve(members.size());
  bool has_index_key = false;
  for (Member& m : members) {
    uint32_t index;
    if (!has_index_key && parse_array_index(m.first, index)) has_index_key = true;
    auto it =
        std::find_if(out.begin(), out.end(), [&](const Member& e) { return e.first == m.first; });
    if (it != out.end()) {
      it->second = std::move(m.second);
    } else {
      out.push_back(std::move(m));
    }
  }
  if (has_index_key) {
    // JavaScript orders integer-like keys first, ascending; the rest keep insertion order.
    pz::stable_sort(out.begin(), out.end(), [](const Member& a, const Member& b) {
      uint32_t ia = 0, ib = 0;
      const bool a_index = parse_array_index(a.first, ia);
      const bool b_index = parse_array_index(b.first, ib);
      return a_index && (!b_index || ia < ib);
    });
  }
  Value v;
  v.kind_ = Kind::kObject;
  v.u_.heap = heap;
  return v;
}

const std::string& Value::as_string() const { return static_cast<StringHeap*>(u_.heap)->text; }
const Array& Value::as_array() const { return static_cast<ArrayHeap*>(u_.heap)->items; }
const std::vector<Member>& Value::as_object() const {
  return static_cast<ObjectHeap*>(u_.heap)->members;
}

const Value* Value::find(std::string_view key) const {
  for (const Member& m : as_object()) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

void Value::destroy() {
  switch (kind_) {
    case Kind::kString:
      delete static_cast<StringHeap*>(u_.heap);
      break;
    case Kind::kArray:
      delete static_cast<ArrayHeap*>(u_.heap);
      break;
    case Kind::kObject:
      delete static_cast<ObjectHeap*>(u_.heap);
      break;
    default:
      break;
  }
}

}  // namespace pz
