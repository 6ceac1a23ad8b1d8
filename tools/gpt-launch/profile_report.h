// gpt-launch --profile FILE: one self-contained HTML page (inline CSS, JS
// and SVG; no network fetch) from the nodes' ProfileReports: a timeline per
// node and thread of waits by kind, the most waited-on objects and pages
// with their call sites, and each node's counters. The data is embedded as
// JSON in <script type="application/json" id="gpt-profile">.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gpt::launch {

// Opens (creates or truncates) the report file now, so that a bad path
// fails before the job runs; false and `error` set if it cannot.
[[nodiscard]] bool check_profile_path(const std::string& path, std::string& error);

// Writes the page; `node_json` holds each node's report ("" for a node
// that sent none). Code addresses are named with addr2line on `program`
// when it is installed. Returns false and sets `error` on failure.
[[nodiscard]] bool write_profile_report(const std::string& path, const std::string& program,
                                        const std::vector<std::string>& node_json, std::string& error);

}  // namespace gpt::launch
