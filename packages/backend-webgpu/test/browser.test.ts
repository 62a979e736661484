// The backend in a real browser: Debian's Chromium (through playwright-core) with WebGPU
// on SwiftShader, its software Vulkan — navigator.gpu, not Dawn from npm.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, hasChromium, launchChromium, servePage, type Browser, type PageServer } from '@ml/browser-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Tensor from '@ml/tensor';
import type * as Gpu from '../src/index.js';

interface Ml {
  gpu: typeof Gpu;
  T: typeof Tensor;
}

const here = dirname(fileURLToPath(import.meta.url));
const ROOTS: Record<string, string> = {
  '/webgpu/': join(here, '../dist'),
  '/tensor/': join(here, '../node_modules/@ml/tensor/dist'),
  '/autograd/': join(here, '../node_modules/@ml/autograd/dist'),
};

const PAGE = `<!doctype html>
<script type="importmap">{ "imports": { "@ml/tensor": "/tensor/index.js", "@ml/tensor/backend": "/tensor/backend.js", "@ml/autograd": "/autograd/index.js" } }</script>
<script type="module">
  import * as gpu from '/webgpu/index.js';
  import * as T from '@ml/tensor';
  import '@ml/autograd';
  window.ml = { gpu, T };
</script>`;

describe.skipIf(!hasChromium())(`in Chromium (${CHROMIUM}), WebGPU on SwiftShader`, () => {
  let browser: Browser;
  let server: PageServer;
  let base: string;
  beforeAll(async () => {
    server = await servePage(PAGE, ROOTS);
    base = server.base;
    // WebGPU on SwiftShader's Vulkan (no GPU needed); without --disable-gpu
    browser = await launchChromium(['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader']);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('navigator.gpu gives a device; a product, a padded convolution and its input gradient equal the cpu backend in the page', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.waitForFunction(() => 'ml' in window);
    const r = await page.evaluate(async () => {
      const { gpu, T } = (window as unknown as { ml: Ml }).ml;
      const b = await gpu.registerWebGpuBackend();
      const outputs = async (name: string) => {
        T.setBackend(name);
        T.manualSeed(5);
        const y = T.matmul(T.randn([70, 90]), T.randn([90, 50])).relu();
        const x = T.randn([2, 3, 9, 9], { requiresGrad: true });
        const z = T.conv2d(x, T.randn([4, 3, 3, 3]), null, { padding: 1 });
        z.square().sum().backward();
        return [y, z, x.grad!].map((t) => t.data().then((d) => Array.from(d)));
      };
      const [g, c] = [await Promise.all(await outputs('webgpu')), await Promise.all(await outputs('cpu'))];
      let worst = 0;
      g.forEach((xs, i) => xs.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - c[i][j]) / Math.max(1, Math.abs(c[i][j]))))));
      return { source: gpu.webgpuInfo(b)?.source, sizes: g.map((xs) => xs.length), worst, kernels: b.stats.kernels };
    });
    expect(r.source).toBe('navigator.gpu');
    expect(r.sizes).toEqual([70 * 50, 2 * 4 * 9 * 9, 2 * 3 * 9 * 9]);
    expect(r.kernels).toBeGreaterThan(5);
    expect(r.worst).toBeLessThan(1e-4);
  });
});
