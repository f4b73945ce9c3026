#!/usr/bin/env node
/**
 * Packaging checks on the built package (run `npx tsup` first):
 *
 *   exports  package.json `exports` and the tsup `entries` in tsup.config.ts agree, and the
 *            condition objects have the expected shape (types first)
 *   dist     every file that package.json points at exists in dist/
 *   dtsImports  the type declarations import only what a user has: node builtins, flowproof's own
 *            files, dependencies and peer dependencies (a bundled devDependency's types must be
 *            inlined, or a user's tsc fails to resolve them)
 *   publint  `publint --strict`, failing on any message, suggestions included
 *   attw     `attw --pack . --profile strict` (are the types wrong? node10 resolution included)
 *   typesVersions  one `typesVersions` entry per subpath export, for node10 resolution
 *   engines  every package in package-lock.json runs on the oldest supported Node line
 *   readme   the README's relative links point at files the package ships
 *   smoke    the packed tarball, installed in a fresh project, can be imported and required
 *            through every subpath, and its ESM and CommonJS builds loaded together in one
 *            process share the flow context, error classes and warn-once flags
 *
 * `node scripts/check-package.mjs [check...]` runs only the named checks; no names runs all.
 * Prints one line per check, and exits non-zero when any failed.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

let failures = 0;
function pass(message) {
  console.log(`ok    ${message}`);
}
function fail(message, details) {
  failures++;
  console.log(`FAIL  ${message}`);
  if (details?.trim()) console.log(indent(details.trim()));
}
function indent(text) {
  return text
    .split('\n')
    .map((line) => `      ${line}`)
    .join('\n');
}

/** Runs a command without a shell, capturing its output. */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`;
  return { ok: !result.error && result.status === 0, status: result.status, output };
}

// ---------------------------------------------------------------------------------------------
// exports <-> tsup entries

/**
 * The keys and values of `export const entries = { ... }` in tsup.config.ts. Importing the file
 * would need a TypeScript loader, so it is parsed as text: one `key: 'value',` per line.
 */
function readTsupEntries() {
  const text = readFileSync(join(root, 'tsup.config.ts'), 'utf8');
  const block = /export const entries\s*=\s*\{([^}]*)\}/.exec(text);
  if (!block) throw new Error('tsup.config.ts: no `export const entries = { ... }` found');
  const entries = new Map();
  for (const raw of block[1].split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('//')) continue;
    const match =
      /^(?:'([^']+)'|"([^"]+)"|([A-Za-z_$][\w$]*))\s*:\s*(?:'([^']+)'|"([^"]+)")\s*,?\s*(?:\/\/.*)?$/.exec(
        line,
      );
    if (!match) throw new Error(`tsup.config.ts: cannot parse entries line: ${line}`);
    entries.set(match[1] ?? match[2] ?? match[3], match[4] ?? match[5]);
  }
  if (entries.size === 0) throw new Error('tsup.config.ts: `entries` is empty');
  return entries;
}

/** The subpath that an entry is exported as: `index` is `.`, `x/index` and `x` are `./x`. */
function subpathForEntry(entry) {
  return entry === 'index' ? '.' : `./${entry.replace(/\/index$/, '')}`;
}

function checkExports() {
  let entries;
  try {
    entries = readTsupEntries();
  } catch (error) {
    fail('exports: read tsup entries', error.message);
    return;
  }
  const exportsMap = pkg.exports;
  if (typeof exportsMap !== 'object' || exportsMap === null || Array.isArray(exportsMap)) {
    fail('exports: package.json has an `exports` object');
    return;
  }

  const exportedEntries = new Set();
  for (const [subpath, value] of Object.entries(exportsMap)) {
    if (subpath === './package.json') {
      if (value === './package.json') pass('exports: ./package.json');
      else fail('exports: ./package.json', `maps to ${JSON.stringify(value)}`);
      continue;
    }
    const problems = [];
    const entry = /^\.\/dist\/(.+)\.js$/.exec(value?.import?.default ?? '')?.[1];
    if (!entry) {
      fail(`exports: ${subpath}`, 'import.default is not ./dist/<entry>.js');
      continue;
    }
    const expected = {
      import: { types: `./dist/${entry}.d.ts`, default: `./dist/${entry}.js` },
      require: { types: `./dist/${entry}.d.cts`, default: `./dist/${entry}.cjs` },
    };
    if (!entries.has(entry)) problems.push(`dist/${entry} is not a tsup entry`);
    if (subpathForEntry(entry) !== subpath) {
      problems.push(`entry ${entry} should be exported as ${subpathForEntry(entry)}`);
    }
    if (exportedEntries.has(entry)) problems.push(`entry ${entry} is exported more than once`);
    exportedEntries.add(entry);
    const conditions = Object.keys(value);
    if (conditions.join() !== 'import,require') {
      problems.push(`conditions are [${conditions}], expected [import,require]`);
    }
    for (const [condition, want] of Object.entries(expected)) {
      const got = value[condition];
      if (typeof got !== 'object' || got === null) {
        problems.push(`${condition} is not an object`);
        continue;
      }
      if (Object.keys(got).join() !== 'types,default') {
        problems.push(`${condition} has keys [${Object.keys(got)}], expected [types,default]`);
      }
      for (const [key, path] of Object.entries(want)) {
        if (got[key] !== path) {
          problems.push(`${condition}.${key} is ${JSON.stringify(got[key])}, expected ${path}`);
        }
      }
    }
    if (problems.length === 0) pass(`exports: ${subpath} -> dist/${entry}`);
    else fail(`exports: ${subpath}`, problems.join('\n'));
  }

  for (const [entry, source] of entries) {
    if (!exportedEntries.has(entry)) fail(`exports: tsup entry ${entry} has no export`);
    if (!existsSync(join(root, source))) fail(`exports: tsup entry ${entry}: ${source} is missing`);
  }

  // The legacy top-level fields must agree with the root export.
  const rootExport = exportsMap['.'];
  const legacy = {
    main: rootExport?.require?.default,
    module: rootExport?.import?.default,
    types: rootExport?.import?.types,
  };
  for (const [field, want] of Object.entries(legacy)) {
    if (pkg[field] === undefined) continue;
    if (pkg[field] === want) pass(`exports: package.json "${field}" matches exports["."]`);
    else fail(`exports: package.json "${field}" is ${pkg[field]}, exports["."] says ${want}`);
  }
}

function checkDist() {
  const files = new Set(['main', 'module', 'types'].map((field) => pkg[field]).filter(Boolean));
  const collect = (value) => {
    if (typeof value === 'string') files.add(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(collect);
  };
  collect(pkg.exports);
  const missing = [...files].filter((file) => !existsSync(join(root, file)));
  if (missing.length === 0) pass(`dist: all ${files.size} files that package.json names exist`);
  else
    fail(`dist: ${missing.length} files that package.json names are missing`, missing.join('\n'));
}

function checkDtsImports() {
  const allowed = new Set([
    pkg.name,
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
  ]);
  const declarations = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.d\.c?ts$/.test(entry.name)) declarations.push(path);
    }
  };
  walk(join(root, 'dist'));
  const specifier = /(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g;
  const foreign = [];
  for (const file of declarations) {
    // Examples in TSDoc comments import things too: only code counts.
    const code = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    for (const [, name] of code.matchAll(specifier)) {
      if (name.startsWith('.') || name.startsWith('node:')) continue;
      const pkgName = name.startsWith('@')
        ? name.split('/').slice(0, 2).join('/')
        : name.split('/')[0];
      if (!allowed.has(pkgName)) foreign.push(`${file.slice(root.length + 1)}: ${name}`);
    }
  }
  if (foreign.length === 0) {
    pass(`dtsImports: ${declarations.length} declaration files import only dependencies and peers`);
  } else {
    fail('dtsImports: declarations import packages a user does not install', foreign.join('\n'));
  }
}

// ---------------------------------------------------------------------------------------------
// publint, attw

function checkPublint() {
  // --strict turns warnings into errors (non-zero exit); suggestions never fail the CLI, so any
  // message at all, which replaces the "All good!" line, fails the check too.
  const result = run('npx', ['publint', '--strict', '--level', 'suggestion']);
  if (result.ok && result.output.includes('All good!')) pass('publint --strict: no messages');
  else fail('publint --strict', result.output);
}

function checkAttw() {
  // The strict profile checks node10 (`moduleResolution: node`) too, besides node16 (CJS and ESM)
  // and bundler: node10 ignores `exports`, so the subpaths resolve through `typesVersions`.
  const result = run('npx', [
    'attw',
    '--pack',
    '.',
    '--profile',
    'strict',
    '--no-emoji',
    '--no-color',
  ]);
  if (result.ok) pass('attw --profile strict (node10, node16, bundler): no problems');
  else fail('attw --profile strict', result.output);
}

/**
 * `typesVersions` lists every subpath export (node10 finds their types nowhere else), and points
 * at the same declaration file as the export's `import.types`.
 */
function checkTypesVersions() {
  const mapped = pkg.typesVersions?.['*'] ?? {};
  const problems = [];
  for (const [subpath, value] of Object.entries(pkg.exports ?? {})) {
    if (subpath === '.' || subpath === './package.json') continue;
    const want = value?.import?.types;
    const got = mapped[subpath.slice(2)];
    if (!Array.isArray(got) || got.length !== 1 || got[0] !== want) {
      problems.push(`${subpath}: typesVersions has ${JSON.stringify(got)}, expected ["${want}"]`);
    }
  }
  for (const key of Object.keys(mapped)) {
    if (!(`./${key}` in (pkg.exports ?? {}))) problems.push(`typesVersions.${key} is no export`);
  }
  if (problems.length === 0) pass('typesVersions: one entry per subpath export');
  else fail('typesVersions', problems.join('\n'));
}

/**
 * Every package in package-lock.json runs on the oldest Node the package supports, so `npm ci`
 * on it prints no EBADENGINE warning (a devDependency's dependency counts too).
 */
function checkEngines() {
  const require = createRequire(import.meta.url);
  const semver = require('semver');
  const oldest = semver.minVersion(pkg.engines.node).version;
  // vitest and other tools need a recent Node 20 release; the supported line is Node 20.
  const line = `${semver.major(oldest)}.${LATEST_MINOR[semver.major(oldest)] ?? 0}.0`;
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const refused = Object.entries(lock.packages ?? {})
    .filter(([, entry]) => entry.engines?.node && !entry.optional)
    .filter(([, entry]) => !semver.satisfies(line, entry.engines.node))
    .map(([path, entry]) => `${path}@${entry.version} requires node ${entry.engines.node}`);
  if (refused.length === 0) pass(`engines: every locked package runs on Node ${line}`);
  else fail(`engines: packages that refuse Node ${line}`, refused.join('\n'));
}
/** The Node release each supported major line is checked at (the last minor of the line). */
const LATEST_MINOR = { 20: 19 };

/**
 * The README's relative links (to docs/ and the changelog) point at files the package ships, so
 * they work for a reader of the installed package and of the package page.
 */
function checkReadmeLinks() {
  const packed = run('npm', ['pack', '--dry-run', '--json']);
  let files;
  try {
    files = new Set(
      JSON.parse(packed.output.slice(packed.output.indexOf('[')))[0].files.map((f) => f.path),
    );
  } catch {
    fail('readme: npm pack --dry-run', packed.output);
    return;
  }
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const targets = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
    .map((match) => match[1])
    .filter((target) => !/^[a-z]+:/i.test(target));
  const missing = targets.filter((target) => !files.has(target.replace(/^\.\//, '')));
  if (targets.length > 0 && missing.length === 0) {
    pass(`readme: all ${targets.length} relative links point at files in the package`);
  } else {
    fail('readme: relative links to files the package does not ship', missing.join('\n'));
  }
}

// ---------------------------------------------------------------------------------------------
// smoke test of the packed tarball

function checkSmoke() {
  const work = mkdtempSync(join(tmpdir(), 'flowproof-smoke-'));
  try {
    const packed = run('npm', ['pack', '--json', '--pack-destination', work]);
    let tarball;
    try {
      tarball = join(work, JSON.parse(packed.output.slice(packed.output.indexOf('[')))[0].filename);
    } catch {
      // the output does not start with the JSON when npm pack failed
    }
    if (!packed.ok || !tarball || !existsSync(tarball)) {
      fail('smoke: npm pack', packed.output);
      return;
    }
    pass(`smoke: npm pack -> ${tarball.slice(work.length + 1)}`);

    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), '{"name":"smoke","private":true}\n');
    const installed = run(
      'npm',
      ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'],
      { cwd: project },
    );
    if (!installed.ok) {
      fail('smoke: npm install <tarball>', installed.output);
      return;
    }
    pass('smoke: npm install <tarball> in a fresh project');

    for (const subpath of Object.keys(pkg.exports ?? {})) {
      if (subpath === './package.json') continue;
      const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
      const quoted = JSON.stringify(specifier);
      // A reserved entry (a module not implemented yet) is `export {};`: it must load, but it may
      // be empty. Every other entry must export something at run time.
      const minimum = isReservedEntry(subpath) ? 0 : 1;
      const imported = run(
        'node',
        [
          '--input-type=module',
          '-e',
          `import(${quoted}).then((m) => { if (Object.keys(m).length < ${minimum}) process.exit(3); })`,
        ],
        { cwd: project },
      );
      report(`smoke: import(${quoted})`, imported);
      const required = run(
        'node',
        [
          '-e',
          `const m = require(${quoted}); if (Object.keys(m).length < ${minimum}) process.exit(3);`,
        ],
        { cwd: project },
      );
      report(`smoke: require(${quoted})`, required);
    }
    checkCrossEntry(project);
    checkDualBuild(project);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * A machine defined through `flowproof/state-machine` is persisted through
 * `flowproof/state-machine/entities` and drawn through `flowproof/state-machine/mermaid`, and the
 * error it raises is a `FlowproofError` of the root entry: the entries share one copy of the code
 * they have in common (machine internals, the error class), in ESM and in CommonJS.
 */
const CROSS_ENTRY = `
const { FlowproofError } = await load('flowproof');
const { defineMachine } = await load('flowproof/state-machine');
const { createEntities } = await load('flowproof/state-machine/entities');
const { toMermaid } = await load('flowproof/state-machine/mermaid');
const { createMemoryBackend, createMemoryEntityStore } = await load('flowproof/adapters/memory');
const door = defineMachine({
  id: 'door',
  initial: 'closed',
  events: { open: null, close: null },
  states: { closed: { on: { open: 'open' } }, open: { on: { close: 'closed' } } },
});
const store = createMemoryEntityStore({ backend: createMemoryBackend() });
await store.migrate();
const doors = createEntities({ machine: door, store });
await doors.create('d1');
const { entity } = await doors.apply('d1', { type: 'open' });
if (entity.state !== 'open') throw new Error('apply did not persist the transition');
const denied = await doors.apply('d1', { type: 'open' }).catch((error) => error);
if (!(denied instanceof FlowproofError) || denied.code !== 'STATE_TRANSITION_DENIED') {
  throw new Error('the denial is not a FlowproofError of the root entry: ' + denied);
}
if (!toMermaid(door).includes('closed --> open : open')) throw new Error('no diagram');
`;

function checkCrossEntry(project) {
  const esm = run(
    'node',
    ['--input-type=module', '-e', `const load = (s) => import(s);\n${CROSS_ENTRY}`],
    { cwd: project },
  );
  report('smoke: state-machine entries work together (import)', esm);
  const cjs = run(
    'node',
    [
      '-e',
      `const load = async (s) => require(s);\n(async () => {${CROSS_ENTRY}})().catch((e) => { console.error(e); process.exit(1); });`,
    ],
    { cwd: project },
  );
  report('smoke: state-machine entries work together (require)', cjs);
}

/**
 * The ESM and the CommonJS build loaded in one process behave as one library: one flow context,
 * `instanceof` across builds, one warn-once (test/package/dual-build.check.mjs says what is checked).
 */
function checkDualBuild(project) {
  const script = join(project, 'dual-build.check.mjs');
  copyFileSync(join(root, 'test/package/dual-build.check.mjs'), script);
  report(
    'smoke: ESM and CommonJS builds in one process share one state',
    run('node', [script], { cwd: project }),
  );
}

function isReservedEntry(subpath) {
  const file = subpath === '.' ? 'src/index.ts' : `src/${subpath.slice(2)}/index.ts`;
  const code = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .trim();
  return code === 'export {};';
}

function report(label, result) {
  if (result.ok) pass(label);
  else if (result.status === 3) fail(`${label}: the module has no exports`, result.output);
  else fail(label, result.output);
}

// ---------------------------------------------------------------------------------------------

const checks = {
  exports: checkExports,
  dist: checkDist,
  dtsImports: checkDtsImports,
  publint: checkPublint,
  attw: checkAttw,
  typesVersions: checkTypesVersions,
  engines: checkEngines,
  readme: checkReadmeLinks,
  smoke: checkSmoke,
};
const selected = process.argv.slice(2);
for (const name of selected) {
  if (!(name in checks)) {
    console.error(`unknown check ${name}; known: ${Object.keys(checks).join(', ')}`);
    process.exit(2);
  }
}
for (const [name, check] of Object.entries(checks)) {
  if (selected.length === 0 || selected.includes(name)) check();
}

if (failures > 0) {
  console.log(`\npackage checks: ${failures} failed`);
  process.exit(1);
}
console.log('\npackage checks: all passed');
