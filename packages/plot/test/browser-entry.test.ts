import { describe, expect, it } from 'vitest';
import * as browser from '../src/index.js';
import * as node from '../src/node.js';

describe('the browser-safe entry', () => {
  it('leaves out writing files and PNG rasterising; the Node entry adds them under the same names', () => {
    for (const name of ['saveSvg', 'toPng', 'savePng']) {
      expect(name in browser, name).toBe(false);
      expect(typeof (node as Record<string, unknown>)[name], name).toBe('function');
    }
  });

  it('renders SVG and HTML, with the same functions as the Node entry', () => {
    expect(browser.toSvg).toBe(node.toSvg);
    expect(browser.toHtml).toBe(node.toHtml);
    expect(browser.lossCurves).toBe(node.lossCurves);
  });
});
