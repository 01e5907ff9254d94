// echoscope explorer: draws a cluster's network with sigma.js + graphology (vendor/graph.min.js).
// Data arrive as JSON from this server; labels are drawn on a canvas and every text set through textContent,
// so nothing from the data is ever parsed as HTML.
(function () {
  "use strict";
  var box = document.getElementById("graph");
  if (!box || !window.EchoscopeVendor) return;
  var V = window.EchoscopeVendor;
  var status = document.getElementById("graph-status");
  function say(text) { if (status) status.textContent = text; }

  function colour(n) {
    if (n.status === "suspended" || n.status === "deleted") return "#b3261e";
    if (n.high_risk) return "#e07b00";
    return "#1f5fa8";
  }

  fetch(box.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(function (data) {
      var graph = new V.Graph({ type: "undirected", multi: false });
      var maxS = 0;
      data.nodes.forEach(function (n) { maxS = Math.max(maxS, n.strength || n.degree || 1); });
      data.nodes.forEach(function (n) {
        var s = n.strength || n.degree || 1;
        graph.addNode(n.account_id, {
          label: n.handle ? "@" + n.handle : String(n.account_id),
          size: 4 + 14 * Math.sqrt(s / (maxS || 1)),
          color: colour(n)
        });
      });
      var maxW = 0;
      data.edges.forEach(function (e) { maxW = Math.max(maxW, e.weight || 1); });
      data.edges.forEach(function (e) {
        if (!graph.hasNode(e.account_a) || !graph.hasNode(e.account_b) || graph.hasEdge(e.account_a, e.account_b)) return;
        graph.addEdge(e.account_a, e.account_b, {
          size: 0.5 + 2.5 * ((e.weight || 1) / (maxW || 1)),
          color: e.significant ? "#8a94a6" : "#d3d8e0"
        });
      });
      V.circular.assign(graph);
      if (graph.order > 1) {
        var settings = V.forceAtlas2.inferSettings(graph);
        settings.barnesHutOptimize = graph.order > 200;
        V.forceAtlas2.assign(graph, { iterations: 150, settings: settings });
      }
      var renderer = new V.Sigma(graph, box, {
        renderLabels: true,
        labelRenderedSizeThreshold: graph.order > 80 ? 9 : 0,
        labelDensity: 0.5,
        minCameraRatio: 0.05,
        maxCameraRatio: 10
      });
      var hovered = null;
      renderer.on("enterNode", function (ev) { hovered = ev.node; box.classList.add("pointer"); renderer.refresh(); });
      renderer.on("leaveNode", function () { hovered = null; box.classList.remove("pointer"); renderer.refresh(); });
      renderer.setSetting("nodeReducer", function (node, attrs) {
        if (!hovered || node === hovered || graph.areNeighbors(node, hovered)) {
          return node === hovered ? Object.assign({}, attrs, { highlighted: true, forceLabel: true }) : attrs;
        }
        return Object.assign({}, attrs, { color: "#e4e7ec", label: "" });
      });
      renderer.on("clickNode", function (ev) {
        window.location.href = "/account?ref=" + encodeURIComponent(ev.node);
      });
      var cam = renderer.getCamera();
      function on(id, fn) { var b = document.getElementById(id); if (b) b.addEventListener("click", fn); }
      on("zoom-in", function () { cam.animatedZoom({ duration: 300 }); });
      on("zoom-out", function () { cam.animatedUnzoom({ duration: 300 }); });
      on("zoom-reset", function () { cam.animatedReset({ duration: 300 }); });
      say("drawn: " + graph.order + " of " + data.members_total + " members, " + graph.size + " edges" +
          (data.truncated ? " (the strongest members and heaviest edges only)" : "") +
          ". Scroll to zoom, drag to move, click an account to open it.");
      // for tests and the curious: the graph and its renderer
      window.echoscopeGraph = { graph: graph, renderer: renderer };
      box.setAttribute("data-ready", "1");
    })
    .catch(function (err) { say("the network could not be drawn: " + err.message); });
})();
