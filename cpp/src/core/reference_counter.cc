// ReferenceCounter of reference_counter.h.
#include "core/reference_counter.h"

#include <algorithm>

namespace polyray::core {

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
      it->second.contains.push_back(c);
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
  auto& copies = it->second.copies;
  if (std::find(copies.begin(), copies.end(), node_id) == copies.end()) copies.push_back(node_id);
}

std::vector<std::string> ReferenceCounter::Locations(const std::string& oid) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  auto it = refs_.find(oid);
  if (it == refs_.end()) return out;
  if (!it->second.in_store_node.empty()) out.push_back(it->second.in_store_node);
  for (const auto& n : it->second.copies) {
    if (n != it->second.in_store_node) out.push_back(n);
  }
  return out;
}

bool ReferenceCounter::IsOwned(const std::string& oid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_.find(oid);
  return it != refs_.end() && it->second.owned;
}

void ReferenceCounter::AddLocal(const std::string& oid, const rpc::Address* owner) {
  bool do_register = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = refs_.find(oid);
    if (it == refs_.end()) {
      Ref r;
      r.owned = owner == nullptr;
      if (owner) r.owner = *owner;
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
      if (it != refs_.end() && it->second.owned) Lend(it->second, caller, caller_address, actions);
    }
  }
  Run(actions);
}

void ReferenceCounter::Lend(Ref& r, const std::string& caller, const rpc::Address* address, Actions& actions) {
  if (r.lent[caller]++ == 0 && !caller.empty()) Hold(caller, address, actions);
}

void ReferenceCounter::Unlend(Ref& r, const std::string& caller) {
  auto it = r.lent.find(caller);
  if (it == r.lent.end()) return;
  if (--it->second == 0) {
    r.lent.erase(it);
    if (!caller.empty()) Unhold(caller);
  }
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
      bool h = r.borrowers.erase(borrower) > 0;
      h = r.lent.erase(borrower) > 0 || h;
      if (h) hit.push_back(oid);
    }
    for (const auto& oid : hit) Release(oid, actions);
  }
  Run(actions);
}

void ReferenceCounter::UpdateBorrowers(const std::string& borrower, const std::vector<std::string>& added,
                                       const std::vector<std::string>& removed, const std::vector<std::string>& lent,
                                       const std::vector<std::string>& lent_received,
                                       const rpc::Address* borrower_address) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& oid : added) {
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) {
        if (it->second.borrowers.insert(borrower).second) Hold(borrower, borrower_address, actions);
        Unlend(it->second, "");
      }
    }
    for (const auto& oid : lent) {
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) Lend(it->second, borrower, borrower_address, actions);
    }
    for (const auto& oid : removed) {
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) {
        if (it->second.borrowers.erase(borrower) > 0) Unhold(borrower);
        Release(oid, actions);
      }
    }
    for (const auto& oid : lent_received) {
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) {
        Unlend(it->second, borrower);
        Release(oid, actions);
      }
    }
  }
  Run(actions);
}

void ReferenceCounter::AckReturned(const google::protobuf::RepeatedPtrField<rpc::ObjectRef>& nested,
                                   const std::string& self_id) {
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
  if (!mine.empty()) UpdateBorrowers(self_id, {}, {}, {}, mine);
  if (listener_.lent_received) {
    for (auto& [owner, oids] : others) listener_.lent_received(owner, std::move(oids));
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
      for (auto& n : r.copies) {
        if (n != r.in_store_node) nodes.push_back(std::move(n));
      }
      actions.push_back([this, oid, nodes = std::move(nodes)] { listener_.free(oid, nodes); });
    }
    for (const auto& c : r.contains) {
      auto inner = refs_.find(c);
      if (inner != refs_.end()) {
        inner->second.contained_in--;
        Release(c, actions);
      }
    }
  } else if (r.registered && listener_.borrow_changed) {
    actions.push_back([this, oid, owner = r.owner] { listener_.borrow_changed(owner, {}, {oid}); });
  }
}

std::vector<std::pair<std::string, std::string>> ReferenceCounter::OwnedInStore() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [oid, r] : refs_) {
    if (!r.owned) continue;
    if (!r.in_store_node.empty()) out.emplace_back(oid, r.in_store_node);
    for (const auto& n : r.copies) {
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
