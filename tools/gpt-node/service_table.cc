#include "service_table.h"

#include <cerrno>
#include <stdexcept>
#include <string>

namespace gpt::node {
namespace {

// Puts `service` at `index`, growing the table; refuses a second owner.
void route(std::vector<Service*>& table, std::size_t index, Service& service, const char* what) {
  if (index >= table.size()) table.resize(index + 1, nullptr);
  if (table[index] && table[index] != &service)
    throw std::logic_error(std::string(what) + " " + std::to_string(index) + " is served twice");
  table[index] = &service;
}

Service* find(const std::vector<Service*>& table, std::size_t index) {
  return index < table.size() ? table[index] : nullptr;
}

}  // namespace

void ServiceTable::add(Service& service) {
  for (channel::Op op : service.ops()) route(by_op_, static_cast<std::size_t>(op), service, "channel op");
  for (wire::Type type : service.messages())
    route(by_type_, static_cast<std::size_t>(type), service, "message type");
  services_.push_back(&service);
}

std::optional<Reply> ServiceTable::serve(std::uint32_t slot, channel::Op op,
                                         std::span<const unsigned char> request,
                                         std::span<unsigned char> reply) {
  if (auto r = serve_builtin(op, request, reply)) return r;
  if (Service* s = find(by_op_, static_cast<std::size_t>(op))) return s->on_request(slot, op, request, reply);
  return Reply{-ENOSYS, 0};
}

bool ServiceTable::deliver(const wire::Envelope& env) {
  Service* s = find(by_type_, static_cast<std::size_t>(wire::type_of(env.body)));
  if (!s) return false;
  s->on_message(env);
  return true;
}

bool ServiceTable::withdraw(std::uint32_t slot) {
  for (Service* s : services_)
    if (s->withdraw(slot)) return true;
  return false;
}

std::optional<Clock::time_point> ServiceTable::next_deadline() const {
  std::optional<Clock::time_point> first;
  for (const Service* s : services_)
    if (auto d = s->next_deadline(); d && (!first || *d < *first)) first = d;
  return first;
}

void ServiceTable::expire(Clock::time_point now) {
  for (Service* s : services_) s->expire(now);
}

void ServiceTable::poll() {
  for (Service* s : services_) s->poll();
}

void ServiceTable::report(Stats& stats) const {
  for (const Service* s : services_) s->report(stats);
}

}  // namespace gpt::node
