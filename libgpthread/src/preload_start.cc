// main of a program run with gpt-launch --preload. gpt-cc links every
// program with --wrap=main (main_wrap.c) so that main runs through
// gpt_run_main: on node 0 only (other nodes serve from the runtime's
// constructor and never get here), on a stack in the global space. A
// program that was not linked so gets the same by way of the function its
// start-up code hands main to: glibc's __libc_start_main, which the
// preloaded runtime replaces, like pthread_create, by coming first in the
// lookup order. Programs linked by gpt-cc bind to this one too (the runtime
// is one of their libraries): for them it only passes the call on.
#include <dlfcn.h>

#include "diag.h"
#include "exe_windows.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

extern "C" int gpt_run_main(int (*main_fn)(int, char**, char**), int argc, char** argv, char** envp);

namespace {

using MainFn = int (*)(int, char**, char**);
using StartMainFn = int (*)(MainFn, int, char**, void (*)(), void (*)(), void (*)(), void*);

MainFn g_program_main = nullptr;  // the runtime's own .bss: per node

int preloaded_main(int argc, char** argv, char** envp) { return gpt_run_main(g_program_main, argc, argv, envp); }

StartMainFn libc_start_main() {
  // dlvsym: the runtime replaces dlsym, not dlvsym. 2.34 is the version
  // programs built since link against; older ones name 2.2.5, the same code.
  void* f = dlvsym(RTLD_NEXT, "__libc_start_main", "GLIBC_2.34");
  if (!f) f = dlvsym(RTLD_NEXT, "__libc_start_main", "GLIBC_2.2.5");
  if (!f) gpt::rt::die("cannot find the libc's __libc_start_main", 127);
  return reinterpret_cast<StartMainFn>(f);
}

}  // namespace

GPT_API int __libc_start_main(MainFn main_fn, int argc, char** argv, void (*init)(), void (*fini)(),
                              void (*rtld_fini)(), void* stack_end) {
  const StartMainFn real = libc_start_main();
  if (!gpt::galloc::exe_windows::requested()) return real(main_fn, argc, argv, init, fini, rtld_fini, stack_end);
  g_program_main = main_fn;
  return real(preloaded_main, argc, argv, init, fini, rtld_fini, stack_end);
}
