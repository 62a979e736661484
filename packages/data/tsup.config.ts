import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // resolved where the package runs (package.json "imports"): csv-parse's Node build there,
  // its browser build (which carries its own Buffer) in a bundle for a page
  external: ['#csv-parse'],
});
