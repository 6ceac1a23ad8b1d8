// The public node-identity calls of gpthread.h.
#include "gpthread.h"

#include "runtime.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

GPT_API int gpt_node_id(void) { return gpt::rt::state().node_id; }
GPT_API int gpt_node_count(void) { return gpt::rt::state().node_count; }
