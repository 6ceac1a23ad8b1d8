#include "node_context.h"

#include <string>

#include "log.h"

namespace gpt::node {

void NodeContext::send(wire::NodeId to, const wire::Message& m) const {
  if (!gate.send(to, m))
    util::log_line("cannot send " + std::string(wire::name_of(wire::type_of(m))) + " to node " +
                   std::to_string(to));
}

}  // namespace gpt::node
