/* dlopen, dlsym and dlclose across nodes (docs/user-guide.md, "Plug-ins"):
 * a library opened on node 0 is used by threads on every node through the
 * same handle, its functions and data at the same addresses; opened first
 * on the last node, it is the same for node 0; the last dlclose anywhere
 * closes it for the job. A node none of whose threads called a dl function
 * loads it when a thread first uses a pointer into it. Its writable globals
 * and constructors are per node, its __thread variables per thread. A static (musl) program cannot
 * dlopen at all: it says so. */
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

typedef int (*add_fn)(int, int);
typedef int *(*address_fn)(void);
typedef int (*count_fn)(void);
typedef int (*bump_fn)(int);

static const char *g_path;
static void *g_handle;
static void *g_add, *g_counter;

static void *sym(void *h, const char *name) {
  void *p = dlsym(h, name);
  CHECK(p, "node %d: dlsym %s: %s", gpt_self_node(), name, dlerror());
  return p;
}

/* On every node: the handle works, names the same addresses, the code runs. */
static void *use_handle(void *arg) {
  (void)arg;
  const int node = gpt_self_node();
  CHECK(sym(g_handle, "plugin_add") == g_add, "node %d: plugin_add at another address", node);
  CHECK(sym(g_handle, "plugin_counter") == g_counter, "node %d: plugin_counter at another address", node);
  CHECK(((add_fn)g_add)(1, 2) == 10, "node %d: plugin_add(1, 2)", node);
  CHECK(((address_fn)sym(g_handle, "plugin_counter_address"))() == g_counter, "node %d: &plugin_counter",
        node);
  CHECK(((count_fn)sym(g_handle, "plugin_constructed"))() == 1, "node %d: constructor ran %d times", node,
        ((count_fn)sym(g_handle, "plugin_constructed"))());
  /* A fresh thread starts with the initial value of the __thread variable. */
  bump_fn bump = (bump_fn)sym(g_handle, "plugin_tls_bump");
  CHECK(bump(1) == 6 && bump(2) == 8, "node %d: __thread variable", node);
  CHECK(dlsym(g_handle, "no_such_symbol") == NULL && dlerror() != NULL, "node %d: missing symbol", node);
  /* dlopen of the same file here: the same handle, one more reference. */
  void *again = dlopen(g_path, RTLD_NOW);
  CHECK(again == g_handle, "node %d: dlopen again gave %p, not %p", node, again, g_handle);
  CHECK(dlclose(again) == 0, "node %d: dlclose", node);
  return NULL;
}

/* On a node none of whose threads called a dl function: a function pointer
 * and a data pointer from dlsym elsewhere work (the node loads the library
 * on the first fault in its range). arg: 1 reads the data first, 0 calls
 * the function first. */
/* A load from p between instructions that hold values in registers the
 * loader's code would clobber (a general and a vector one): they are intact
 * after the load, which faults on a node without the library. */
static int load_amid_work(const int *p) {
  const long gp = 0x5eed1234L * (gpt_self_node() + 1);
  const double fp = 2.25 * (gpt_self_node() + 1);
  long gp_after;
  double fp_after;
  int value;
  __asm__ volatile(
      "movq %[gp], %%r11\n\t"
      "movsd %[fp], %%xmm7\n\t"
      "movl (%[p]), %[value]\n\t"
      "movq %%r11, %[gp_after]\n\t"
      "movsd %%xmm7, %[fp_after]"
      : [value] "=&r"(value), [gp_after] "=&r"(gp_after), [fp_after] "=&x"(fp_after)
      : [p] "r"(p), [gp] "r"(gp), [fp] "x"(fp)
      : "r11", "xmm7", "memory");
  /* Compared with copies in memory: a register holding the originals
   * would be lost with the ones tested. */
  volatile long gp_expected = 0x5eed1234L * (gpt_self_node() + 1);
  volatile double fp_expected = 2.25 * (gpt_self_node() + 1);
  CHECK(gp_after == gp_expected && fp_after == fp_expected, "node %d: registers changed across a faulting load",
        gpt_self_node());
  return value;
}

static void *use_pointers(void *data_first) {
  const int node = gpt_self_node();
  if (data_first) CHECK(load_amid_work(g_counter) == 7, "node %d: *plugin_counter", node);
  CHECK(((add_fn)g_add)(1, 2) == 10, "node %d: plugin_add(1, 2) through a pointer", node);
  CHECK(*(volatile int *)g_counter == 7, "node %d: *plugin_counter after the call", node);
  return NULL;
}

/* Two threads at once on each node but `skip`, all started before any is
 * joined: faults on several nodes, and two on one node, at the same time. */
static void use_pointers_on(int skip, void *data_first) {
  enum { kPerNode = 2, kMaxThreads = 64 };
  pthread_t threads[kMaxThreads];
  int started = 0;
  for (int n = 0; n < gpt_node_count(); ++n) {
    if (n == skip) continue;
    for (int k = 0; k < kPerNode && started < kMaxThreads; ++k) {
      pthread_attr_t a;
      pthread_attr_init(&a);
      gpt_attr_setnode(&a, n);
      CHECK(pthread_create(&threads[started], &a, use_pointers, data_first) == 0, "pthread_create on node %d",
            n);
      pthread_attr_destroy(&a);
      ++started;
    }
  }
  for (int i = 0; i < started; ++i) pthread_join(threads[i], NULL);
}

/* The closed-plug-in case (argv[2] "closed"): a pointer into a library the
 * job closed, used on the last node, which never loaded it, is a crash
 * report naming the address as in a closed plug-in's range. */
static int call_closed(void) {
  g_handle = dlopen(g_path, RTLD_NOW);
  CHECK(g_handle, "dlopen on node 0: %s", dlerror());
  g_add = sym(g_handle, "plugin_add");
  CHECK(dlclose(g_handle) == 0, "dlclose on node 0");
  printf("about to crash\n");
  fflush(stdout);
  run_on_node(gpt_node_count() - 1, use_pointers, NULL);
  return 0;
}

/* Writable globals are one copy per node: a write here, seen here only. */
static void *write_counter(void *arg) {
  *(int *)g_counter = (int)(intptr_t)arg;
  CHECK(((add_fn)g_add)(0, 0) == (int)(intptr_t)arg, "node %d: own write", gpt_self_node());
  return NULL;
}
static void *read_counter(void *arg) {
  (void)arg;
  (void)sym(g_handle, "plugin_add");
  return (void *)(intptr_t)((add_fn)g_add)(0, 0);
}

static void *open_here(void *arg) {
  (void)arg;
  void *h = dlopen(g_path, RTLD_NOW);
  CHECK(h, "node %d: dlopen: %s", gpt_self_node(), dlerror());
  return h;
}

static void *close_here(void *h) {
  CHECK(dlclose(h) == 0, "node %d: dlclose", gpt_self_node());
  return NULL;
}

static void each_node(void *(*fn)(void *)) {
  for (int n = 0; n < gpt_node_count(); ++n) run_on_node(n, fn, NULL);
}

int main(int argc, char **argv) {
  CHECK(argc == 2 || argc == 3, "usage: dl_plugin PLUGIN.so [closed]");
  g_path = argv[1];
  if (argc == 3) return call_closed();
  const int nodes = gpt_node_count(), last = nodes - 1;
  g_handle = dlopen(g_path, RTLD_NOW);
#ifndef __GLIBC__
  CHECK(g_handle == NULL, "a static program loaded a library");
  printf("dlopen: not supported in static programs\n");
  return 0;
#endif
  CHECK(g_handle, "dlopen on node 0: %s", dlerror());
  g_add = sym(g_handle, "plugin_add");
  g_counter = sym(g_handle, "plugin_counter");
  /* Several nodes: placed in the job's range of library slots (16 TiB up). */
  CHECK(nodes == 1 || ((uintptr_t)g_add >> 40) == 16, "plugin_add at %p, not in the job's slots", g_add);
  use_pointers_on(0, (void *)1);
  each_node(use_handle);

  run_on_node(last, write_counter, (void *)(intptr_t)100);
  const int seen = (int)(intptr_t)run_on_node(0, read_counter, NULL);
  CHECK(seen == (nodes == 1 ? 100 : 7), "node 0 sees plugin_counter %d after node %d wrote 100", seen, last);

  CHECK(dlclose(g_handle) == 0, "dlclose on node 0");

  /* Opened first on the last node: node 0 and every other node use it. */
  g_handle = run_on_node(last, open_here, NULL);
  g_add = sym(g_handle, "plugin_add");
  g_counter = sym(g_handle, "plugin_counter");
  use_pointers_on(last, NULL);
  CHECK(((count_fn)sym(g_handle, "plugin_constructed"))() == 1, "constructor after reopening");
  each_node(use_handle);
  /* The last reference goes on the last node. */
  run_on_node(last, close_here, g_handle);
  printf("dlopen: a plug-in is at the same address on %d nodes\n", nodes);
  return 0;
}
