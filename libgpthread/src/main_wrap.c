/* Linked into every program by gpt-cc (with -Wl,--wrap=main): main runs on
 * a stack in the global space, so pointers to main's locals (a common way
 * to pass arguments to threads) are valid on every node. */
int __real_main(int argc, char** argv, char** envp);
int gpt_run_main(int (*main_fn)(int, char**, char**), int argc, char** argv, char** envp);

int __wrap_main(int argc, char** argv, char** envp) {
  return gpt_run_main(__real_main, argc, argv, envp);
}
