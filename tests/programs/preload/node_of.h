/* Which node the calling thread runs on, for programs built with plain gcc
 * (never linked against gpthread): the runtime gpt-launch --preload loads
 * answers gpt_self_node; without it (run directly) everything is node 0. */
#pragma once
#include <dlfcn.h>

static inline int node_of_this_thread(void) {
  int (*self_node)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "gpt_self_node");
  return self_node ? self_node() : 0;
}
