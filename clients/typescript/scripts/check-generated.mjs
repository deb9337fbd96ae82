// Fails when src/schema.d.ts is not what `npm run generate` makes from ../../openapi.yaml:
// runs the generate script's own command with a temporary output file, then compares.
import { execSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = "src/schema.d.ts";
const generate = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts.generate;
if (!generate.includes(`-o ${target}`)) throw new Error(`the generate script does not write ${target}: ${generate}`);

const dir = mkdtempSync(join(tmpdir(), "schema-check-"));
try {
  const fresh = join(dir, "schema.d.ts");
  execSync(generate.replace(`-o ${target}`, `-o ${JSON.stringify(fresh)}`), {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}${delimiter}${process.env.PATH}` },
  });
  const committed = join(root, target);
  if (!existsSync(committed) || readFileSync(fresh, "utf8") !== readFileSync(committed, "utf8")) {
    console.error(`${target} is stale: run npm run generate`);
    process.exitCode = 1;
  } else {
    console.log(`${target} is up to date`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
