// ReferenceCounter of reference_counter.h.
#include "core/reference_counter.h"

#include <algorithm>

namespace polyray::core {

const ReferenceCounter::Extra& ReferenceCounter::ExtraOf(const Ref& r) {
  static const Extra none;  // what a ref without its rarely needed containers reads as (lean refs)
  return r.extra ? *r.extra : none;
}

void ReferenceCounter::Run(Actions& actions) {
  for (auto& a : actions) a();
}

void ReferenceCounter::AddOwned(const std::string& oid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& r = refs_[oid];
  r.owned = true;
}

void ReferenceCounter::SetContains(const std::string& oid, const std::vector<std::string>& contains) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(oid);
  if (it == refs_.end()) return;
  for (const auto& c : contains) {
    auto inner = refs_.find(c);
    if (inner != refs_.end() && inner->second.owned) {
      inner->second.contained_in++;
      it->second.More().contains.push_back(c);
    }
  }
}

void ReferenceCounter::SetInStore(const std::string& oid, const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(oid);
  if (it != refs_.end()) it->second.in_store_node = node_id;
}

void ReferenceCounter::AddLocation(const std::string& oid, const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(oid);
  if (it == refs_.end() || !it->second.owned || node_id.empty() || node_id == it->second.in_store_node) return;
  auto& copies = it->second.More().copies;
  if (std::find(copies.begin(), copies.end(), node_id) == copies.end()) copies.push_back(node_id);
}

std::vector<std::string> ReferenceCounter::Locations(const std::string& oid) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  auto it = refs_.find(oid);
  if (it == refs_.end()) return out;
  if (!it->second.in_store_node.empty()) out.push_back(it->second.in_store_node);
  for (const auto& n : ExtraOf(it->second).copies) {
    if (n != it->second.in_store_node) out.push_back(n);
  }
  return out;
}

size_t ReferenceCounter::Listing(const std::string& after, size_t limit, std::vector<RefRow>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const std::string*> ids;
  for (const auto& [oid, r] : refs_) {
    if (oid > after) ids.push_back(&oid);
  }
  size_t n = std::min(limit, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(),
                    [](const std::string* a, const std::string* b) { return *a < *b; });
  for (size_t i = 0; i < n; ++i) {
    const Ref& r = refs_.at(*ids[i]);
    const Extra& x = ExtraOf(r);
    RefRow row;
    row.oid = *ids[i];
    row.owned = r.owned;
    if (!r.owned) row.owner = x.owner;
    row.local = r.local;
    row.submitted = r.submitted;
    row.borrowers.assign(x.borrowers.begin(), x.borrowers.end());
    std::sort(row.borrowers.begin(), row.borrowers.end());
    row.contained_in = r.contained_in;
    for (const auto& l : x.lent) row.lent += l.n;
    if (!r.in_store_node.empty()) row.locations.push_back(r.in_store_node);
    for (const auto& node : x.copies) {
      if (node != r.in_store_node) row.locations.push_back(node);
    }
    out->push_back(std::move(row));
  }
  return refs_.size();
}

bool ReferenceCounter::IsOwned(const std::string& oid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(oid);
  return it != refs_.end() && it->second.owned;
}

bool ReferenceCounter::IsBorrowRegistered(const std::string& oid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(oid);
  return it != refs_.end() && !it->second.owned && it->second.registered && it->second.Alive();
}

void ReferenceCounter::AddLocal(const std::string& oid, const rpc::Address* owner) {
  bool do_register = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = refs_.find(oid);
    if (it == refs_.end()) {
      Ref r;
      r.owned = owner == nullptr;
      if (owner) r.More().owner = *owner;
      it = refs_.emplace(oid, std::move(r)).first;
    }
    Ref& r = it->second;
    if (!r.owned && !r.registered) {
      r.registered = true;
      do_register = true;
    }
    r.local++;
  }
  if (do_register && listener_.borrow_changed) listener_.borrow_changed(*owner, {oid}, {});
}

void ReferenceCounter::RemoveLocal(const std::string& oid) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = refs_.find(oid);
    if (it != refs_.end()) {
      it->second.local--;
      Release(oid, actions);
    }
  }
  Run(actions);
}

void ReferenceCounter::AddSubmitted(const std::vector<std::string>& oids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& oid : oids) {
    auto it = refs_.find(oid);
    if (it != refs_.end()) it->second.submitted++;
  }
}

void ReferenceCounter::RemoveSubmitted(const std::vector<std::string>& oids) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& oid : oids) {
      auto it = refs_.find(oid);
      if (it != refs_.end()) {
        it->second.submitted--;
        Release(oid, actions);
      }
    }
  }
  Run(actions);
}

void ReferenceCounter::AddLent(const std::vector<std::string>& oids, const std::string& caller,
                               const rpc::Address* caller_address) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& oid : oids) {
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) AddLend(it->second, caller, caller_address, nullptr, actions);
    }
  }
  Run(actions);
}

void ReferenceCounter::AddLend(Ref& r, const std::string& caller, const rpc::Address* address,
                               const rpc::Address* lender, Actions& actions) {
  const std::string& lender_id = lender != nullptr ? lender->worker_id() : std::string();
  auto& lent = r.More().lent;
  for (auto& l : lent) {
    if (l.caller == caller && l.lender == lender_id) {
      l.n++;
      return;
    }
  }
  lent.push_back(Lend{caller, lender_id, 1});
  if (!caller.empty()) Hold(caller, address, actions);
  if (!lender_id.empty()) Hold(lender_id, lender, actions);
}

void ReferenceCounter::Unlend(Ref& r, size_t i) {
  auto& lent = r.extra->lent;  // an index into it was found: it exists
  if (--lent[i].n > 0) return;
  Lend gone = std::move(lent[i]);
  lent.erase(lent.begin() + static_cast<std::ptrdiff_t>(i));
  UnholdPair(gone, "");
}

void ReferenceCounter::UnholdPair(const Lend& l, const std::string& gone) {
  if (!l.caller.empty() && l.caller != gone) Unhold(l.caller);
  if (!l.lender.empty() && l.lender != gone) Unhold(l.lender);
}

int ReferenceCounter::AckIndex(const Ref& r, const std::string& caller, const std::string& lender) {
  // That lender's lend; else one made without naming a lender (the owner's
  // own, an older executor's); for an acknowledgement naming no lender, any
  // of the caller's.
  int unnamed = -1;
  int any = -1;
  const auto& lent = ExtraOf(r).lent;
  for (size_t i = 0; i < lent.size(); ++i) {
    const Lend& l = lent[i];
    if (l.caller != caller) continue;
    if (l.lender == lender) return static_cast<int>(i);
    if (l.lender.empty() && unnamed < 0) unnamed = static_cast<int>(i);
    if (any < 0) any = static_cast<int>(i);
  }
  if (unnamed >= 0) return unnamed;
  return lender.empty() ? any : -1;
}

void ReferenceCounter::Hold(const std::string& holder, const rpc::Address* address, Actions& actions) {
  bool first = holders_.empty();
  auto [it, inserted] = holders_.try_emplace(holder);
  Holder& h = it->second;
  h.records++;
  if (h.address.worker_id().empty()) {
    if (address != nullptr) {
      h.address.set_worker_id(address->worker_id());
      h.address.set_node_id(address->node_id());
    }
    if (h.address.worker_id().empty()) h.address.set_worker_id(holder);
  }
  if (inserted && first && listener_.first_holder) actions.push_back([this] { listener_.first_holder(); });
}

void ReferenceCounter::Unhold(const std::string& holder) {
  auto it = holders_.find(holder);
  if (it != holders_.end() && --it->second.records <= 0) holders_.erase(it);
}

std::vector<rpc::Address> ReferenceCounter::Holders() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<rpc::Address> out;
  out.reserve(holders_.size());
  for (const auto& [id, h] : holders_) out.push_back(h.address);
  return out;
}

void ReferenceCounter::DropBorrower(const std::string& borrower) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    holders_.erase(borrower);
    std::vector<std::string> hit;
    for (auto& [oid, r] : refs_) {
      if (!r.extra) continue;
      auto& lent = r.extra->lent;
      bool h = r.extra->borrowers.erase(borrower) > 0;
      for (size_t i = lent.size(); i-- > 0;) {
        const Lend& l = lent[i];
        if (l.caller != borrower && l.lender != borrower) continue;
        UnholdPair(l, borrower);
        lent.erase(lent.begin() + static_cast<std::ptrdiff_t>(i));
        h = true;
      }
      if (h) hit.push_back(oid);
    }
    for (const auto& oid : hit) Release(oid, actions);
  }
  Run(actions);
}

void ReferenceCounter::UpdateBorrowers(const std::string& borrower, const std::vector<std::string>& added,
                                       const std::vector<std::string>& removed, const std::vector<std::string>& lent,
                                       const std::vector<std::string>& lent_received,
                                       const rpc::Address* borrower_address, const rpc::Address* lender,
                                       const std::vector<std::string>& lent_received_lenders) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& oid : added) {
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) {
        if (it->second.More().borrowers.insert(borrower).second) Hold(borrower, borrower_address, actions);
        int i = AckIndex(it->second, "", "");  // a caller that does not acknowledge: its first "added"
        if (i >= 0) Unlend(it->second, static_cast<size_t>(i));
      }
    }
    for (const auto& oid : lent) {
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) AddLend(it->second, borrower, borrower_address, lender, actions);
    }
    for (const auto& oid : removed) {
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) {
        if (it->second.extra && it->second.extra->borrowers.erase(borrower) > 0) Unhold(borrower);
        Release(oid, actions);
      }
    }
    for (size_t k = 0; k < lent_received.size(); ++k) {
      const std::string& oid = lent_received[k];
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) {
        int i = AckIndex(it->second, borrower, k < lent_received_lenders.size() ? lent_received_lenders[k] : "");
        if (i < 0) continue;
        Unlend(it->second, static_cast<size_t>(i));
        Release(oid, actions);
      }
    }
  }
  Run(actions);
}

void ReferenceCounter::AckReturned(const google::protobuf::RepeatedPtrField<rpc::ObjectRef>& nested,
                                   const std::string& self_id, const std::string& lender) {
  std::vector<std::string> mine;
  std::vector<std::pair<rpc::Address, std::vector<std::string>>> others;  // few owners: a list
  for (const auto& r : nested) {
    if (r.owner().worker_id() == self_id) {
      mine.push_back(r.object_id());
      continue;
    }
    auto it = std::find_if(others.begin(), others.end(),
                           [&r](const auto& o) { return o.first.worker_id() == r.owner().worker_id(); });
    if (it == others.end()) {
      others.emplace_back(r.owner(), std::vector<std::string>{});
      it = others.end() - 1;
    }
    it->second.push_back(r.object_id());
  }
  if (!mine.empty()) {
    UpdateBorrowers(self_id, {}, {}, {}, mine, nullptr, nullptr, std::vector<std::string>(mine.size(), lender));
  }
  if (listener_.lent_received) {
    for (auto& [owner, oids] : others) listener_.lent_received(owner, std::move(oids), lender);
  }
}

void ReferenceCounter::Release(const std::string& oid, Actions& actions) {
  auto it = refs_.find(oid);
  if (it == refs_.end() || it->second.Alive()) return;
  Ref r = std::move(it->second);
  refs_.erase(it);
  if (r.owned) {
    if (listener_.free) {
      std::vector<std::string> nodes;
      if (!r.in_store_node.empty()) nodes.push_back(r.in_store_node);
      for (auto& n : ExtraOf(r).copies) {
        if (n != r.in_store_node) nodes.push_back(n);
      }
      actions.push_back([this, oid, nodes = std::move(nodes)] { listener_.free(oid, nodes); });
    }
    for (const auto& c : ExtraOf(r).contains) {
      auto inner = refs_.find(c);
      if (inner != refs_.end()) {
        inner->second.contained_in--;
        Release(c, actions);
      }
    }
  } else if (r.registered && listener_.borrow_changed) {
    actions.push_back([this, oid, owner = ExtraOf(r).owner] { listener_.borrow_changed(owner, {}, {oid}); });
  }
}

std::vector<std::pair<std::string, std::string>> ReferenceCounter::OwnedInStore() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [oid, r] : refs_) {
    if (!r.owned) continue;
    if (!r.in_store_node.empty()) out.emplace_back(oid, r.in_store_node);
    for (const auto& n : ExtraOf(r).copies) {
      if (n != r.in_store_node) out.emplace_back(oid, n);
    }
  }
  return out;
}

size_t ReferenceCounter::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refs_.size();
}

std::string ReferenceCounter::WhyNotExit() const {
  size_t owned = 0;
  size_t total = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    total = refs_.size();
    for (const auto& [oid, r] : refs_) owned += r.owned ? 1 : 0;
  }
  std::string why;
  if (owned > 0) why = "owns " + std::to_string(owned) + " object(s) still referenced";
  if (total > owned) {
    why += (why.empty() ? "" : " and ") + std::string("borrows ") + std::to_string(total - owned) + " object(s)";
  }
  return why;
}

}  // namespace polyray::core
