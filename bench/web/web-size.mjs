// Page weight of the web app next to TensorFlow.js 4.22, both built by the same Vite:
// the Digits page of apps/web as built, and the same page (same HTML, same UI code, same
// preprocessing) with its model module written with TF.js (tfjs-digits-model.ts). Prints,
// per page, the JavaScript the page loads (its module scripts and modulepreloads) raw and
// gzipped. Run after building apps/web:  pnpm --filter @ml/bench web-size
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, '../../apps/web');
const ours = join(web, 'dist');
const theirs = join(here, 'dist', 'tfjs');
if (!existsSync(join(ours, 'digits.html'))) throw new Error('build the web app first: pnpm --filter @ml/web... build');

await build({
  configFile: false,
  root: web,
  base: './',
  logLevel: 'warn',
  plugins: [
    {
      name: 'digits-model-with-tfjs',
      enforce: 'pre',
      resolveId(source, importer) {
        if (source === './model.js' && importer?.replace(/\\/g, '/').endsWith('src/digits/main.ts')) return join(here, 'tfjs-digits-model.ts');
        return null;
      },
    },
  ],
  build: { target: 'es2022', outDir: theirs, emptyOutDir: true, chunkSizeWarningLimit: 5000, rolldownOptions: { input: { digits: join(web, 'digits.html') } } },
});

/** The JavaScript a built page loads: its module scripts and modulepreload links. */
function pageScripts(dir, html) {
  const text = readFileSync(join(dir, html), 'utf8');
  const refs = [...text.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g), ...text.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => m[1]);
  return [...new Set(refs)].map((r) => join(dir, r.replace(/^\.\//, '')));
}

function weigh(dir, html) {
  let raw = 0;
  let gz = 0;
  const files = pageScripts(dir, html);
  for (const f of files) {
    const b = readFileSync(f);
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  return { files: files.length, raw, gz };
}

const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
const a = weigh(ours, 'digits.html');
const b = weigh(theirs, 'digits.html');
const vite = JSON.parse(readFileSync(join(web, 'node_modules/vite/package.json'), 'utf8')).version;
console.log(`Digits page JavaScript (Vite ${vite}, minified; gzip level 9)`);
console.log('| page | files | raw | gzip |');
console.log('|---|---:|---:|---:|');
console.log(`| @ml (apps/web) | ${a.files} | ${kb(a.raw)} | ${kb(a.gz)} |`);
console.log(`| TensorFlow.js 4.22 (same page, model module in TF.js) | ${b.files} | ${kb(b.raw)} | ${kb(b.gz)} |`);
console.log(`@ml ÷ TF.js (gzip): ${(a.gz / b.gz).toFixed(2)}×`);
