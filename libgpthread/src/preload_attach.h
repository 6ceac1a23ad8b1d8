// A program started with gpt-launch --preload: what the runtime does at
// attach, before the global space is mapped (docs/user-guide.md, "Running a
// binary you did not build").
#pragma once

namespace gpt::rt::preload {

// Reads GPT_PRELOAD_SHARE (the executable's pages to share, decided by
// gpt-launch) and hands them to the memory floor, then takes the preload
// settings out of the environment, so that programs this one starts do not
// load the runtime too. Nothing happens without GPT_PRELOAD_SHARE.
void attach();

}  // namespace gpt::rt::preload
