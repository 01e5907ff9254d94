// The explorer's network view needs these four packages; scripts/vendor-js.sh bundles them into one file.
import Graph from "graphology";
import { circular } from "graphology-layout";
import forceAtlas2 from "graphology-layout-forceatlas2";
import Sigma from "sigma";

window.EchoscopeVendor = { Graph, Sigma, forceAtlas2, circular };
