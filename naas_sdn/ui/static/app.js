// The topology page: what the caller's token shows through the public API, drawn with
// Cytoscape.js and read again every few seconds; two ports clicked are traced.
"use strict";

const API = "/v2.0/";
const INTERVAL = Number(new URLSearchParams(location.search).get("interval") || 2000);
const TOKEN_KEY = "naas-sdn-token";

// What the page shows, for tests and the curious: the graph, how many reads, the last trace.
window.naas = { cy: null, loads: 0, lastTrace: null };

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(path, options = {}) {
  const response = await fetch(API + path, {
    ...options,
    headers: { "X-Auth-Token": token(), "Content-Type": "application/json",
      Accept: "application/json" },
  });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error((body && body.NeutronError && body.NeutronError.message)
      || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// A collection, or nothing when its plugin is not loaded (501) or policy hides it.
async function optional(path, key) {
  try {
    return (await api(path))[key];
  } catch (error) {
    if (error.status === 401) throw error;
    return [];
  }
}

async function read() {
  const [networks, subnets, routers, ports, groups] = await Promise.all([
    api("networks").then((b) => b.networks),
    api("subnets").then((b) => b.subnets),
    optional("routers", "routers"),
    api("ports").then((b) => b.ports),
    optional("security-groups", "security_groups"),
  ]);
  const [portStats, networkStats, vifs, gateways, connections, switches, links] =
    await Promise.all([
      optional("port-statistics", "port_statistics"),
      optional("network-statistics", "network_statistics"),
      optional("vif-statistics", "vif_statistics"),
      optional("l2-remote-gateways", "l2_remote_gateways"),
      optional("l2-remote-gateway-connections", "l2_remote_gateway_connections"),
      optional("fabric-switches", "fabric_switches"),
      optional("fabric-links", "fabric_links"),
    ]);
  return { networks, subnets, routers, ports, groups, portStats, networkStats, vifs, gateways,
    connections, switches, links };
}

function byId(items) {
  return new Map(items.map((item) => [item.id, item]));
}

function traffic(stats) {
  return stats ? `↓${stats.rx_packets} ↑${stats.tx_packets} pkts` : "";
}

function shortId(id) {
  return id.slice(0, 8);
}

// The graph's elements from what the API answered: nodes and edges with stable ids.
function elements(d) {
  const out = [];
  const node = (id, classes, data) => out.push({ group: "nodes", classes, data: { id, ...data } });
  const edge = (id, source, target, classes, data = {}) =>
    out.push({ group: "edges", classes, data: { id, source, target, ...data } });
  const networks = byId(d.networks);
  const groups = byId(d.groups);
  const portStats = byId(d.portStats);
  const networkStats = byId(d.networkStats);
  const switchOfBridge = new Map(d.switches.map((s) => [s.bridge, s.id]));
  const vifSwitch = new Map(d.vifs.map((v) => [v.port_id, v.switch_id]));
  for (const network of d.networks) {
    const cidrs = d.subnets.filter((s) => s.network_id === network.id).map((s) => s.cidr);
    node(`network:${network.id}`, "network", {
      label: [network.name || shortId(network.id), ...cidrs,
        traffic(networkStats.get(network.id))].filter(Boolean).join("\n"),
      kind: "network", resource: network,
    });
  }
  for (const router of d.routers) {
    node(`router:${router.id}`, "router", {
      label: router.name || shortId(router.id), kind: "router", resource: router,
    });
  }
  for (const port of d.ports) {
    if (!networks.has(port.network_id)) continue;
    const address = (port.fixed_ips || []).map((ip) => ip.ip_address).join(", ");
    if (port.device_owner === "network:router_interface"
        || port.device_owner === "network:router_gateway") {
      const router = `router:${port.device_id}`;
      if (d.routers.some((r) => r.id === port.device_id)) {
        edge(`interface:${port.id}`, router, `network:${port.network_id}`, "interface",
          { label: address });
      }
      continue;
    }
    if (port.device_owner && port.device_owner.startsWith("network:")) continue;
    const names = (port.security_groups || [])
      .map((g) => (groups.get(g) || {}).name || shortId(g)).sort();
    const down = port.status !== "ACTIVE";
    node(`port:${port.id}`, down ? "port down" : "port", {
      label: [port.name || shortId(port.id), address, port.status,
        names.length ? `groups: ${names.join(", ")}` : "",
        traffic(portStats.get(port.id))].filter(Boolean).join("\n"),
      kind: "port", status: port.status, resource: port,
    });
    edge(`attached:${port.id}`, `port:${port.id}`, `network:${port.network_id}`, "attached");
    const where = vifSwitch.get(port.id) || switchOfBridge.get(port["binding:host_id"]);
    if (where && d.switches.some((s) => s.id === where)) {
      edge(`bound:${port.id}`, `port:${port.id}`, `switch:${where}`, "bound");
    }
  }
  const gateways = byId(d.gateways);
  for (const connection of d.connections) {
    const gateway = gateways.get(connection.l2_remote_gateway_id);
    const site = `site:${connection.l2_remote_gateway_id}`;
    if (!out.some((e) => e.data.id === site)) {
      node(site, connection.status === "ACTIVE" ? "site" : "site down", {
        label: gateway ? `${gateway.name || "site"}\n${gateway.remote_ip}` : "remote site",
        kind: "remote site", resource: gateway || connection,
      });
    }
    if (networks.has(connection.network_id)) {
      edge(`extended:${connection.id}`, site, `network:${connection.network_id}`, "extended",
        { label: `VNI ${connection.segmentation_id}` });
    }
  }
  for (const sw of d.switches) {
    node(`switch:${sw.id}`, "switch", {
      label: `${sw.bridge || "switch"}\n${sw.id}`, kind: "switch", resource: sw,
    });
  }
  for (const link of d.links) {
    edge(`cable:${link.id}`, `switch:${link.switch_a}`, `switch:${link.switch_b}`, "cable");
  }
  return out;
}

const STYLE = [
  { selector: "node", style: { label: "data(label)", "text-wrap": "wrap", "font-size": 10,
    "text-valign": "bottom", "text-margin-y": 4, width: 28, height: 28 } },
  { selector: "node.network", style: { shape: "round-rectangle", width: 60, height: 22,
    "background-color": "#2f6fb3" } },
  { selector: "node.router", style: { shape: "diamond", "background-color": "#8a4fb8" } },
  { selector: "node.port", style: { shape: "ellipse", "background-color": "#2e9d4f" } },
  { selector: "node.port.down", style: { "background-color": "#c5cad1", "border-width": 2,
    "border-color": "#b3261e", "border-style": "dashed" } },
  { selector: "node.site", style: { shape: "tag", "background-color": "#c7831c" } },
  { selector: "node.site.down", style: { "background-color": "#c5cad1" } },
  { selector: "node.switch", style: { shape: "rectangle", "background-color": "#4a5563" } },
  { selector: "edge", style: { width: 2, "line-color": "#9aa4b1", "curve-style": "bezier",
    label: "data(label)", "font-size": 8 } },
  { selector: "edge.bound", style: { "line-style": "dotted", "line-color": "#c5cad1" } },
  { selector: "edge.cable", style: { width: 4, "line-color": "#4a5563" } },
  { selector: "edge.extended", style: { "line-style": "dashed", "line-color": "#c7831c" } },
  { selector: ".source", style: { "border-width": 4, "border-color": "#1d2430" } },
  { selector: ".destination", style: { "border-width": 4, "border-color": "#1d2430",
    "border-style": "double" } },
  { selector: ".on-path", style: { "line-color": "#f2a900", "background-color": "#f2a900",
    width: 5 } },
  { selector: ".dropped-here", style: { "border-width": 6, "border-color": "#b3261e" } },
];

let graph = null;
let source = null;

function render(data) {
  const wanted = elements(data);
  const ids = new Set(wanted.map((e) => e.data.id));
  let changed = false;
  graph.batch(() => {
    graph.elements().forEach((element) => {
      if (!ids.has(element.id())) {
        element.remove();
        changed = true;
      }
    });
    for (const item of wanted.filter((e) => e.group === "nodes")
      .concat(wanted.filter((e) => e.group === "edges"))) {
      const found = graph.getElementById(item.data.id);
      if (found.empty()) {
        graph.add(item);
        changed = true;
      } else {
        found.data(item.data);
        const keep = found.classes().filter((c) => ["source", "destination", "on-path",
          "dropped-here"].includes(c));
        found.classes([...item.classes.split(" "), ...keep]);
      }
    }
  });
  if (changed) {
    graph.layout({ name: "cose", animate: false, randomize: false, nodeRepulsion: 9000,
      nodeDimensionsIncludeLabels: true,
      idealEdgeLength: 90 }).run();
  }
  const ports = data.ports.filter((p) => !(p.device_owner || "").startsWith("network:"));
  document.getElementById("status").textContent =
    `${data.networks.length} networks, ${ports.length} ports, ${data.routers.length} routers`
    + (data.switches.length ? `, ${data.switches.length} switches` : "")
    + ` · read ${new Date().toLocaleTimeString()}`;
}

function show(element) {
  const details = document.getElementById("details");
  details.replaceChildren();
  const resource = element.data("resource") || {};
  const add = (name, value) => {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = typeof value === "object" ? JSON.stringify(value) : String(value);
    details.append(dt, dd);
  };
  add("kind", element.data("kind") || element.classes().join(" "));
  for (const [name, value] of Object.entries(resource)) {
    if (value !== null && value !== "" && !(Array.isArray(value) && !value.length)) {
      add(name, value);
    }
  }
}

function clearTrace() {
  graph.elements().removeClass("source destination on-path dropped-here");
}

async function trace(from, to) {
  const result = document.getElementById("trace-result");
  const hops = document.getElementById("trace-hops");
  result.className = "";
  result.textContent = "tracing…";
  hops.replaceChildren();
  let answer;
  try {
    answer = (await api("traces", { method: "POST", body: JSON.stringify({ trace: {
      source_port_id: from.data("resource").id,
      destination_port_id: to.data("resource").id } }) })).trace;
  } catch (error) {
    result.textContent = `refused: ${error.message}`;
    window.naas.lastTrace = { error: error.message };
    return;
  }
  window.naas.lastTrace = answer;
  const path = graph.collection().union(from).union(to);
  for (const hop of answer.hops) {
    const item = document.createElement("li");
    item.textContent = `${hop.switch} ${hop.table} ${hop.priority}: ${hop.action}`
      + (hop.resource_type ? ` (${hop.resource_type})` : "");
    hops.append(item);
    path.merge(graph.getElementById(`switch:${hop.switch}`));
    if (hop.resource_id && ["router", "network"].includes(hop.resource_type)) {
      path.merge(graph.getElementById(`${hop.resource_type}:${hop.resource_id}`));
    }
  }
  const nodes = path.filter((e) => e.nonempty() && e.isNode());
  nodes.addClass("on-path");
  nodes.edgesWith(nodes).addClass("on-path");
  from.addClass("source");
  to.addClass("destination");
  if (answer.reachable) {
    result.className = "reachable";
    result.textContent = "reachable";
  } else {
    const drop = answer.dropped_by || {};
    result.className = "dropped";
    result.textContent = `dropped by ${drop.resource_type || "?"}: ${drop.reason || ""}`;
    if (hops.lastChild) hops.lastChild.className = "drop";
    const where = drop.resource_id && graph.getElementById(
      `${drop.resource_type}:${drop.resource_id}`);
    (where && where.nonempty() ? where : to).addClass("dropped-here");
  }
}

function tapped(event) {
  const element = event.target;
  show(element);
  if (!element.hasClass("port")) return;
  if (source === null || source === element) {
    clearTrace();
    source = element;
    element.addClass("source");
    document.getElementById("trace-result").textContent =
      "now click the port to send the packet to";
    return;
  }
  const from = source;
  source = null;
  clearTrace();
  trace(from, element);
}

async function refresh() {
  try {
    render(await read());
    window.naas.loads += 1;
  } catch (error) {
    document.getElementById("status").textContent = `not read: ${error.message}`;
    if (error.status === 401) return signOut("the token was refused");
  }
  window.naas.timer = setTimeout(refresh, INTERVAL);
}

function signOut(reason = "") {
  clearTimeout(window.naas.timer);
  sessionStorage.removeItem(TOKEN_KEY);
  if (graph) graph.destroy();
  graph = window.naas.cy = null;
  document.getElementById("topology").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = reason;
}

function start() {
  document.getElementById("login").hidden = true;
  document.getElementById("topology").hidden = false;
  graph = window.naas.cy = cytoscape({
    container: document.getElementById("graph"), style: STYLE, wheelSensitivity: 0.3 });
  graph.on("tap", "node", tapped);
  refresh();
}

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
  try {
    await api("networks?limit=1");
  } catch (error) {
    return signOut(error.status === 401 ? "the token was refused" : error.message);
  }
  start();
});
document.getElementById("sign-out").addEventListener("click", () => signOut());
if (token()) start();
