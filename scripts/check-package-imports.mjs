// Check that every package declares what its built code imports: each bare import in <package>/dist/**/*.js must
// name the package itself, a Node built-in, or one of its dependencies / peerDependencies. Run after `npm run build`;
// `node scripts/check-package-imports.mjs [DIR…]` checks the package directories given (default packages/*).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { builtinModules } from "node:module"
import { dirname, join } from "node:path"
import ts from "typescript"

const root = new URL("../", import.meta.url).pathname
const builtins = new Set(builtinModules)
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : path.endsWith(".js") ? [path] : []
  })
/** The manifest of dependency `name` as Node would resolve it from `dir`: the nearest node_modules that holds it. */
const manifestOf = (name, dir) => {
  for (let at = dir; ; at = dirname(at)) {
    const path = join(at, "node_modules", name, "package.json")
    if (existsSync(path)) return JSON.parse(readFileSync(path, "utf8"))
    if (dirname(at) === at) return undefined
  }
}
const packageOf = (specifier) => (specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0])

/** Every module specifier of a file, read from its syntax tree: imports, re-exports, import() and require() calls. */
const specifiers = (file) => {
  const found = []
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text)
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require")) &&
      node.arguments.length > 0 &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push(node.arguments[0].text)
    }
    ts.forEachChild(node, visit)
  }
  visit(ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false, ts.ScriptKind.JS))
  return found
}

const dirs = process.argv.length > 2 ? process.argv.slice(2) : readdirSync(join(root, "packages")).map((name) => join(root, "packages", name))

let problems = 0
for (const dir of dirs) {
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
  const declared = new Set([manifest.name, ...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})])
  const used = new Map()
  for (const file of walk(join(dir, "dist"))) {
    for (const fileName of specifiers(file)) {
      if (fileName.startsWith(".") || fileName.startsWith("node:") || builtins.has(fileName)) continue
      const name = packageOf(fileName)
      if (!used.has(name)) used.set(name, file.slice(dir.length + 1))
    }
  }
  const missing = [...used].filter(([name]) => !declared.has(name))
  // A dependency no file imports may still be used: it provides an (optional) peer of another dependency, as the
  // server provides sqlite3 to core.
  const peersOfDependencies = new Set(Object.keys(manifest.dependencies ?? {}).flatMap((name) => Object.keys(manifestOf(name, dir)?.peerDependencies ?? {})))
  const unused = Object.keys(manifest.dependencies ?? {}).filter((name) => !used.has(name) && !peersOfDependencies.has(name))
  console.log(`${manifest.name}: imports ${[...used.keys()].sort().join(", ")}`)
  for (const [name, file] of missing) console.log(`  MISSING ${name} (imported by ${file})`)
  for (const name of unused) console.log(`  unused dependency ${name}`)
  problems += missing.length
}
if (problems > 0) {
  console.error(`\n${problems} undeclared import(s)`)
  process.exitCode = 1
}
