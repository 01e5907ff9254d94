// Print the licence text of every npm package that esbuild put into the bundle (read from its metafile), so
// the vendored file ships with the notices its licences require.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const meta = JSON.parse(readFileSync(process.argv[2], "utf8"));
const pkgs = new Set();
for (const input of Object.keys(meta.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) pkgs.add(m[1]);
}
const out = ["Third-party software bundled in graph.min.js (built by scripts/vendor-js.sh from scripts/js/package-lock.json)", ""];
for (const name of [...pkgs].sort()) {
  const dir = join("node_modules", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  out.push("=".repeat(78), `${pkg.name} ${pkg.version} (${pkg.license})`, "=".repeat(78));
  if (!file || !existsSync(join(dir, file))) {
    console.error(`no licence file in ${dir}`);
    process.exit(1);
  }
  out.push(readFileSync(join(dir, file), "utf8").trim(), "");
}
process.stdout.write(out.join("\n") + "\n");
