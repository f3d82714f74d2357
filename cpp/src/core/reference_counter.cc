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

void ReferenceCounter::AddLent(const std::vector<std::string>& oids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& oid : oids) {
    auto it = refs_.find(oid);
    if (it != refs_.end() && it->second.owned) it->second.lent++;
  }
}

void ReferenceCounter::UpdateBorrowers(const std::string& borrower, const std::vector<std::string>& added,
                                       const std::vector<std::string>& removed) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& oid : added) {
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) {
        it->second.borrowers.insert(borrower);
        if (it->second.lent > 0) it->second.lent--;
      }
    }
    for (const auto& oid : removed) {
      auto it = refs_.find(oid);
      if (it != refs_.end() && it->second.owned) {
        it->second.borrowers.erase(borrower);
        Release(oid, actions);
      }
    }
  }
  Run(actions);
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
