#include "profile_report.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "gpt/profile.h"

namespace gpt::launch {
namespace {

// A number field of a node's report ("name":N), 0 when absent.
unsigned long long number_field(const std::string& json, const std::string& name) {
  const auto at = json.find("\"" + name + "\":");
  return at == std::string::npos ? 0 : std::strtoull(json.c_str() + at + name.size() + 3, nullptr, 10);
}

// The distinct code addresses of a node's report ("sites":[...]), each
// with the executable's link-time address for it (the node's load bias
// taken off: a position-independent program runs elsewhere than linked).
void collect_sites(const std::string& json, std::map<unsigned long long, unsigned long long>& sites) {
  const auto at = json.find("\"sites\":[");
  if (at == std::string::npos) return;
  const unsigned long long bias = number_field(json, "load_bias");
  const char* p = json.c_str() + at + 9;
  while (*p && *p != ']') {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(p, &end, 10);
    if (end == p) break;
    sites.emplace(v, v >= bias ? v - bias : v);
    p = end;
    if (*p == ',') ++p;
  }
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (c == '<') out += "\\u003c";  // never closes the script element
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out + "\"";
}

// addr -> "function at file:line", from addr2line if it is installed.
std::string symbols_json(const std::string& program, const std::map<unsigned long long, unsigned long long>& sites) {
  std::string out = "{";
  if (sites.empty() || std::system("command -v addr2line >/dev/null 2>&1") != 0) return out + "}";
  std::string command = "addr2line -f -C -e '" + program + "'";
  for (const auto& [site, linked] : sites) {
    char hex[32];
    std::snprintf(hex, sizeof hex, " 0x%llx", linked);
    command += hex;
  }
  command += " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out + "}";
  char function[4096], place[4096];
  bool first = true;
  for (const auto& [s, linked] : sites) {
    if (!std::fgets(function, sizeof function, pipe) || !std::fgets(place, sizeof place, pipe)) break;
    function[std::strcspn(function, "\n")] = 0;
    place[std::strcspn(place, "\n")] = 0;
    if (std::strcmp(function, "??") == 0) continue;
    std::string name = function;
    if (std::strncmp(place, "??", 2) != 0) name += std::string(" at ") + place;
    out += (first ? "\"" : ",\"") + std::to_string(s) + "\":" + json_string(name);
    first = false;
  }
  pclose(pipe);
  return out + "}";
}

constexpr const char* kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gpthread profile</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.note{color:#666;font-size:12px}
table{border-collapse:collapse;background:#fff;font-size:12px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#eee}
td.l,th.l{text-align:left;font-family:ui-monospace,monospace}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
svg{background:#fff;border:1px solid #ddd}
</style></head><body>
<h1>gpthread profile</h1><div class="note" id="summary"></div>
<h2>Where threads waited: timeline per node and thread</h2>
<div class="legend" id="legend"></div><div id="timeline"></div>
<h2>Time waited by kind, per node</h2><div id="kinds"></div>
<h2>Most waited-on locks, conditions, barriers, semaphores, joins</h2><div id="objects"></div>
<h2>Pages that moved most (faults per page)</h2><div id="pages"></div>
<h2>Forwarded system calls and migrations</h2><div id="calls"></div>
<h2>Counters</h2><div id="counters"></div>
<script type="application/json" id="gpt-profile">@DATA@</script>
<script>
(function(){
const D=JSON.parse(document.getElementById('gpt-profile').textContent);
const K=D.kinds,C=["","#4e79a7","#e15759","#f28e2b","#b07aa1","#59a14f","#edc948","#76b7b2","#ff9da7","#9c755f","#bab0ac"];
const el=id=>document.getElementById(id);
const esc=s=>String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
const hex=v=>'0x'+Number(v).toString(16);
const site=v=>v&&v!=="0"?(D.symbols[v]||hex(v)):'';
const ms=v=>(v/1000).toFixed(3);
function table(head,rows){let h='<table><tr>'+head.map(c=>'<th class="'+(c[1]||'')+'">'+c[0]+'</th>').join('')+'</tr>';
 for(const r of rows)h+='<tr>'+r.map((v,i)=>'<td class="'+(head[i][1]||'')+'">'+esc(v)+'</td>').join('')+'</tr>';
 return h+'</table>';}
const nodes=D.nodes.filter(n=>n);
let offered=0,dropped=0,odrop=0,end=0;
for(const n of nodes){offered+=n.events_offered;dropped+=n.events_dropped;odrop+=n.objects_dropped;
 for(const e of n.events)end=Math.max(end,e[0]+e[1]);}
el('summary').textContent=D.program+' on '+D.node_count+' nodes; '+offered+' waits recorded, '+dropped+
 ' not drawn on the timeline (past the '+D.events_per_node+' kept per node; all are in the totals); '+odrop+
 ' not in the totals (table full)'+(D.missing.length?'; no report from node '+D.missing.join(', '):'');
el('legend').innerHTML=K.map((k,i)=>i?'<span><i style="background:'+C[i]+'"></i>'+k+'</span>':'').join('');
const W=1100,L=150,RH=14;let rows=[];
for(const n of nodes){const th=[...new Set(n.events.map(e=>e[3]))].sort((a,b)=>a-b);
 for(const t of th)rows.push({n:n.node,t,ev:n.events.filter(e=>e[3]===t)});}
const H=rows.length*RH+30,sx=v=>L+(W-L-10)*v/Math.max(end,1);
let s='<svg width="'+W+'" height="'+H+'" xmlns="http://www.w3.org/2000/svg" font-size="10">';
for(let i=0;i<=10;i++){const x=sx(end*i/10);s+='<line x1="'+x+'" x2="'+x+'" y1="0" y2="'+(H-20)+'" stroke="#eee"/><text x="'+x+'" y="'+(H-6)+'" text-anchor="middle">'+ms(end*i/10)+' ms</text>';}
rows.forEach((r,i)=>{const y=i*RH;s+='<text x="4" y="'+(y+10)+'">node '+r.n+' thread '+r.t+'</text>';
 for(const e of r.ev){const x=sx(e[0]),w=Math.max(sx(e[0]+e[1])-x,1);
  s+='<rect x="'+x.toFixed(1)+'" y="'+(y+2)+'" width="'+w.toFixed(1)+'" height="'+(RH-4)+'" fill="'+C[e[2]]+'"><title>'+esc(K[e[2]]+' '+(e[2]>=9?e[4]:hex(e[4]))+', '+ms(e[1])+' ms at '+ms(e[0])+' ms '+site(e[5]))+'</title></rect>';}});
el('timeline').innerHTML=s+'</svg>';
const kr=[];for(const n of nodes){const tot={};for(const o of n.objects){tot[o[0]]=tot[o[0]]||[0,0];tot[o[0]][0]+=o[2];tot[o[0]][1]+=o[3];}
 for(const k in tot)kr.push([n.node,K[k],tot[k][0],ms(tot[k][1])]);}
el('kinds').innerHTML=table([['node'],['kind','l'],['waits'],['total ms']],kr);
const all=[];for(const n of nodes)for(const o of n.objects)all.push([n.node].concat(o));
const top=(f,m)=>all.filter(f).sort((a,b)=>b[4]-a[4]||b[3]-a[3]).slice(0,m);
const sync=[3,4,5,6,7,8];
el('objects').innerHTML=table([['node'],['kind','l'],['object','l'],['waits'],['total ms'],['max ms'],['threads'],['site','l']],
 top(o=>sync.includes(o[1]),30).map(o=>[o[0],K[o[1]],hex(o[2]),o[3],ms(o[4]),ms(o[5]),o[7],site(o[6])]));
const pg={};for(const o of all)if(o[1]<=2){const p=pg[o[2]]=pg[o[2]]||{r:0,w:0,t:0,n:new Set(),s:o[6]};
 if(o[1]==1)p.r+=o[3];else p.w+=o[3];p.t+=o[4];p.n.add(o[0]);}
el('pages').innerHTML=table([['page','l'],['read faults'],['write faults'],['total ms'],['nodes'],['first site','l']],
 Object.entries(pg).sort((a,b)=>(b[1].r+b[1].w)-(a[1].r+a[1].w)).slice(0,30).map(([a,p])=>[hex(a),p.r,p.w,ms(p.t),[...p.n].join(' '),site(p.s)]));
el('calls').innerHTML=table([['node'],['kind','l'],['number / node','l'],['count'],['total ms'],['max ms']],
 top(o=>o[1]>=9,30).map(o=>[o[0],K[o[1]],o[2],o[3],ms(o[4]),ms(o[5])]));
const names=[...new Set(nodes.flatMap(n=>Object.keys(n.counters)))];
el('counters').innerHTML=table([['counter','l']].concat(nodes.map(n=>['node '+n.node])),
 names.map(c=>[c].concat(nodes.map(n=>n.counters[c]??''))));
})();
</script></body></html>
)HTML";

}  // namespace

bool check_profile_path(const std::string& path, std::string& error) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) {
    error = "--profile: cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool write_profile_report(const std::string& path, const std::string& program,
                          const std::vector<std::string>& node_json, std::string& error) {
  std::map<unsigned long long, unsigned long long> sites;  // run-time -> link-time address
  std::string nodes = "[", missing = "[";
  for (std::size_t n = 0; n < node_json.size(); ++n) {
    collect_sites(node_json[n], sites);
    nodes += (n ? "," : "") + (node_json[n].empty() ? std::string("null") : node_json[n]);
    if (node_json[n].empty()) missing += (missing.size() > 1 ? "," : "") + std::to_string(n);
  }
  std::string kinds = "[\"\"";
  for (std::uint32_t k = 1; k < profile::kKindCount; ++k)
    kinds += std::string(",\"") + profile::kind_name(static_cast<profile::Kind>(k)) + "\"";
  const std::string data = "{\"program\":" + json_string(program) + ",\"node_count\":" +
                           std::to_string(node_json.size()) + ",\"events_per_node\":" + std::to_string(profile::kProfileEvents) + ",\"kinds\":" + kinds +
                           "],\"missing\":" + missing + "],\"symbols\":" + symbols_json(program, sites) +
                           ",\"nodes\":" + nodes + "]}";
  std::string page = kPage;
  page.replace(page.find("@DATA@"), 6, data);
  std::ofstream out(path, std::ios::trunc);
  out << page;
  if (!out.flush()) {
    error = "--profile: cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace gpt::launch
