#include "service.h"

#include <cerrno>

#include "log.h"

namespace gpt::node {

void Stats::add(std::string_view name, std::uint64_t value) {
  if (!line_.empty()) line_ += ' ';
  line_ += name;
  line_ += '=';
  line_ += std::to_string(value);
}

// The table routes only what a service registered: reaching these means a
// service listed an op or a type without serving it.
std::optional<Reply> Service::on_request(std::uint32_t, channel::Op op, std::span<const unsigned char>,
                                         std::span<unsigned char>) {
  util::log_line("channel op " + std::to_string(static_cast<std::uint32_t>(op)) +
                 " reached a service that does not serve it");
  return Reply{-ENOSYS, 0};
}

void Service::on_message(const wire::Envelope& env) {
  util::log_line(std::string("a ") + std::string(wire::name_of(wire::type_of(env.body))) +
                 " reached a service that does not handle it");
}

}  // namespace gpt::node
