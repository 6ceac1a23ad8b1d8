#include "backtrace.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "diag.h"
#include "local_memory.h"

namespace gpt::rt {

thread_local bool t_local_mappings_only __attribute__((tls_model("initial-exec"))) = false;

void print_backtrace(void* ucontext) {
  // libunwind maps its caches and the ELF files it reads: memory of its own.
  LocalMappingsOnly local;
  unw_cursor_t cursor;
  // musl's signal trampoline has no unwind info: start from the signal
  // frame's registers instead of unwinding through the handler.
  if (unw_init_local2(&cursor, static_cast<unw_context_t*>(ucontext), UNW_INIT_SIGNAL_FRAME) != 0) {
    diag().text("(no backtrace: cannot unwind)").emit();
    return;
  }
  for (int frame = 0; frame < 32; ++frame) {
    unw_word_t ip = 0, offset = 0;
    unw_get_reg(&cursor, UNW_REG_IP, &ip);
    char name[128];
    DiagLine line = diag();
    line.text("  #").num(frame).text(" ").hex(ip);
    if (unw_get_proc_name(&cursor, name, sizeof name, &offset) == 0)
      line.text(" ").text(name).text("+").hex(offset);
    line.emit();
    if (unw_step(&cursor) <= 0) break;
  }
}

}  // namespace gpt::rt
